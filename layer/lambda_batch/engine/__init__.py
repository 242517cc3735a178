"""The one batching engine, composed: a dispatcher (dispatcher.py) holds a buffer (packing.py),
a delivery loop (delivery.py) and a ledger (ledger.py), and ordered workers (workers.py) when it
sends concurrently. The dispatchers, the SQS actions and the S3 object deletes use it.
"""

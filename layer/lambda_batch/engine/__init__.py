"""The one batching engine: packing, the delivery loop, per-entry results, halting,
ordered workers, bookkeeping. The dispatchers and the SQS and S3 batch actions use it.
"""

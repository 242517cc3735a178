"""Partial batch processing: the record engine, event specs (data), record objects,
ordering, the SQS batch actions, and the two fronts (report failures, delete successes).
"""

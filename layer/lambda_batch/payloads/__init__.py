"""What both halves share about payloads: the KPL aggregation format, the S3 pointer of
a large payload, and the deletes of its S3 objects.
"""

"""A table with a sort key: two items of one partition key, told apart by the sort key."""

from lambda_batch import DynamoBatchDispatcher

dy = DynamoBatchDispatcher("MySortedTable", partition_key="myId", sort_key="createdDatetime")

dy.submit_payload({"myId": "abc123", "createdDatetime": "2024-01-01T10:00:00", "status": "new"})
dy.submit_payload({"myId": "abc123", "createdDatetime": "2024-01-02T09:30:00", "status": "paid"})

unprocessed_records = dy.flush_payloads()

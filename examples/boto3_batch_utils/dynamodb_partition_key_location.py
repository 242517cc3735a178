"""The partition key taken from another attribute of the item; that attribute stays in it.

The stored item is {"myId": "abc123", "id": "abc123", "something": "in", "my": "message"}.
"""

from lambda_batch import DynamoBatchDispatcher

dy = DynamoBatchDispatcher("MyExampleTableByMyId", partition_key="myId")

dy.submit_payload({"id": "abc123", "something": "in", "my": "message"}, partition_key_location="id")

unprocessed_records = dy.flush_payloads()

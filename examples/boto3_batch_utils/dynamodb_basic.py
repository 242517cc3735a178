"""Items written to a table whose partition key is ``id``."""

from lambda_batch import DynamoBatchDispatcher

dy = DynamoBatchDispatcher("MyExampleDynamoTable", partition_key="id")

dy.submit_payload({"id": "abc123", "something": "in", "my": "message"})

unprocessed_records = dy.flush_payloads()

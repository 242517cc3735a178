"""A numeric partition key: the value found by partition_key_location is cast with int."""

from lambda_batch import DynamoBatchDispatcher

dy = DynamoBatchDispatcher("MyNumericKeyTable", partition_key="myId", partition_key_data_type=int)

dy.submit_payload({"order": "42", "item": "teapot"}, partition_key_location="order")

unprocessed_records = dy.flush_payloads()

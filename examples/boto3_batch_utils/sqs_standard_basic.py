"""A dict sent to a standard queue as JSON."""

from lambda_batch import SQSBatchDispatcher

sqs = SQSBatchDispatcher("aQueueWithAName")

payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload)

unprocessed_records = sqs.flush_payloads()

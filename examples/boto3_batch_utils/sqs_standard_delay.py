"""A message that stays invisible for 45 seconds after it is sent (0 to 900 s; standard queues only)."""

from lambda_batch import SQSBatchDispatcher

sqs = SQSBatchDispatcher("aQueueWithAName")
payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload, delay_seconds=45)

unprocessed_records = sqs.flush_payloads()

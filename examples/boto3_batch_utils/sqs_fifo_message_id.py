"""FIFO messages named by your own ids."""

from lambda_batch import SQSFifoBatchDispatcher

sqs = SQSFifoBatchDispatcher("aQueueWithAName.fifo")
payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload, message_id="abc123")
sqs.submit_payload(payload, message_id=payload["myId"])

unprocessed_records = sqs.flush_payloads()

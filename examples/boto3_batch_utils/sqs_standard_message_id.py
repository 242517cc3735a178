"""Messages named by your own ids (they name the message in logs and in unprocessed details)."""

from lambda_batch import SQSBatchDispatcher

sqs = SQSBatchDispatcher("aQueueWithAName")
payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload, message_id="abc123")
sqs.submit_payload(payload, message_id=payload["myId"])

unprocessed_records = sqs.flush_payloads()

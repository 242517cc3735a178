"""Your own deduplication ids: SQS stores a message once per id within five minutes."""

from lambda_batch import SQSFifoBatchDispatcher

sqs = SQSFifoBatchDispatcher("aQueueWithAName.fifo")
payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload, message_id="abc123", message_deduplication_id="cde123")
sqs.submit_payload(payload, message_id="abc123", message_deduplication_id=payload["myId"])

unprocessed_records = sqs.flush_payloads()

"""A FIFO message in the message group of your choice."""

from lambda_batch import SQSFifoBatchDispatcher

sqs = SQSFifoBatchDispatcher("aQueueWithAName.fifo")
payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload, message_id="abc123", message_group_id="mg1A")

unprocessed_records = sqs.flush_payloads()

"""A dict sent to a FIFO queue; without a group id it goes to the group "unset"."""

from lambda_batch import SQSFifoBatchDispatcher

sqs = SQSFifoBatchDispatcher("aQueueWithAName.fifo")

payload = {"myId": "abc123", "something": "in", "my": "message"}

sqs.submit_payload(payload)

unprocessed_records = sqs.flush_payloads()

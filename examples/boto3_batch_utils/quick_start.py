"""Initialise, submit, flush: the three steps every dispatcher shares."""

from lambda_batch import SQSBatchDispatcher

sqs_client = SQSBatchDispatcher("MySqsQueue")
sqs_client.submit_payload({"test": "message"})
unprocessed_items = sqs_client.flush_payloads()  # [] when everything was sent

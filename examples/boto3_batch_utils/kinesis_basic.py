"""Records put on a stream; each gets a random partition key, spreading them
over the shards."""

from lambda_batch import KinesisBatchDispatcher

kn = KinesisBatchDispatcher("MyExampleStreamName")

kn.submit_payload({"something": "in", "my": "message"})
kn.submit_payload({"tells": "me", "this": "is", "easy": True})

unprocessed_records = kn.flush_payloads()

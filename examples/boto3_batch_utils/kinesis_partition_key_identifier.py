"""The partition key read from a top-level field of each record (here ``id``)."""

from lambda_batch import KinesisBatchDispatcher

kn_client = KinesisBatchDispatcher("MyExampleStreamName", partition_key_identifier="id")

kn_client.submit_payload(
    {
        "id": "a4f315f8ef6b40d9bfdc3837fa6c0d64",
        "type": "furniture",
        "name": "table",
        "legs": {"count": 4, "material": "wood"},
    }
)

unprocessed_records = kn_client.flush_payloads()

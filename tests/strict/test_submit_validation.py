"""Values the services refuse are refused at submit, with PayloadError (issue 15 point 3).

Each case is checked twice: the strict emulator itself refuses the value (sent directly,
without the dispatcher: the value really is invalid), and the dispatcher refuses it at
``submit_payload``, before any call, so the rest of the batch goes in the fewest calls
instead of being found by halving. Values at the limit are accepted by both.
"""

from __future__ import annotations

import decimal

import pytest

from lambda_batch import DynamoBatchDispatcher, KinesisBatchDispatcher, PayloadError
from tests.strict.resources import (
    REGION,
    create_stream,
    create_table,
    no_wait_policy,
    read_all_shards,
    scan_all,
)

pytestmark = pytest.mark.integration

D = decimal.Decimal
NEGATIVE_38_DIGITS = "-9." + "9" * 37  # 22 bytes as DynamoDB counts it (dynalite's formula)

#: name -> (payload for the dispatcher, the item as DynamoDB JSON for the emulator). Table key: pk S, sk N.
DYNAMODB_REFUSED = {
    "empty string set": ({"pk": "a", "sk": 1, "tags": set()}, {"tags": {"SS": []}}),
    "empty number set": ({"pk": "a", "sk": 1, "scores": frozenset()}, {"scores": {"NS": []}}),
    "empty set in a map": ({"pk": "a", "sk": 1, "m": {"s": set()}}, {"m": {"M": {"s": {"SS": []}}}}),
    "empty partition key": ({"pk": "", "sk": 1}, {"pk": {"S": ""}}),
    "partition key of 2,049 bytes": ({"pk": "a" * 2049, "sk": 1}, {"pk": {"S": "a" * 2049}}),
    "partition key of 2,050 UTF-8 bytes": ({"pk": "é" * 1025, "sk": 1}, {"pk": {"S": "é" * 1025}}),
    "number 1E+126": ({"pk": "a", "sk": 1, "n": D("1E+126")}, {"n": {"N": "1E+126"}}),
    "number -1E+126": ({"pk": "a", "sk": 1, "n": D("-1E+126")}, {"n": {"N": "-1E+126"}}),
    "number 1E-131": ({"pk": "a", "sk": 1, "n": D("1E-131")}, {"n": {"N": "1E-131"}}),
    "number -1E-131": ({"pk": "a", "sk": 1, "n": D("-1E-131")}, {"n": {"N": "-1E-131"}}),
    "number of 39 digits": ({"pk": "a", "sk": 1, "n": D("1" * 39)}, {"n": {"N": "1" * 39}}),
    "integer of 39 digits": ({"pk": "a", "sk": 1, "n": 10**38 + 1}, {"n": {"N": str(10**38 + 1)}}),
    "number in a number set out of range": (
        {"pk": "a", "sk": 1, "ns": {D("1E+126")}},
        {"ns": {"NS": ["1E+126"]}},
    ),
    "sort key 1E+126": ({"pk": "a", "sk": D("1E+126")}, {"sk": {"N": "1E+126"}}),
    "string for a number sort key": ({"pk": "a", "sk": "one"}, {"sk": {"S": "one"}}),
    "binary for a number sort key": ({"pk": "a", "sk": b"\x01"}, {"sk": {"B": b"\x01"}}),
    "item over 400 KB with a 38-digit negative number counted at 22 bytes": (
        # 409,601 bytes as DynamoDB counts them; 409,600 if such a number is counted 21 bytes
        {"pk": "p", "sk": 1, "n": D(NEGATIVE_38_DIGITS), "pad": "x" * (409_600 - 33 + 1)},
        {"pk": {"S": "p"}, "n": {"N": NEGATIVE_38_DIGITS}, "pad": {"S": "x" * (409_600 - 33 + 1)}},
    ),
}

#: Cases AWS refuses (its documented rules) where the emulator is lenient: not checked on it.
EMULATOR_LENIENT = {
    # dynalite measures key lengths in UTF-16 units; DynamoDB limits keys to 2,048 bytes (UTF-8)
    "partition key of 2,050 UTF-8 bytes",
    # kinesalite's pattern check is unanchored on the right; Kinesis's is 0|([1-9]\d{0,38})
    "explicit hash key with a fraction",
}

DYNAMODB_ACCEPTED = {
    "partition key of 2,048 bytes": {"pk": "é" * 1024, "sk": 1},
    "number 9.99E+125": {"pk": "a", "sk": 1, "n": D("9.99E+125")},
    "number 1E-130": {"pk": "a", "sk": 2, "n": D("1E-130")},
    "38 digits": {"pk": "a", "sk": 3, "n": D("-" + "9" * 38)},
    "item of 400 KB less a little, with a 38-digit negative number": {
        "pk": "p",
        "sk": 1,
        "n": D(NEGATIVE_38_DIGITS),
        "pad": "x" * (409_600 - 33 - 32),
    },
}


def dynamo_item(raw):
    """A whole item as DynamoDB JSON: the key, then the case's attributes."""
    return {"pk": {"S": "a"}, "sk": {"N": "1"}, **raw}


@pytest.fixture()
def pk_sk_table(dynamodb_direct, unique_name):
    return create_table(dynamodb_direct, unique_name("refuse"), {"pk": "S", "sk": "N"})


def dynamo_dispatcher(boto3_session, proxy, table, **options):
    options.setdefault("sort_key", "sk")
    return DynamoBatchDispatcher(
        table,
        partition_key="pk",
        boto3_session=boto3_session,
        endpoint_url=proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
        **options,
    )


def test_dynamodb_refuses_each_value_itself(dynamodb_direct, pk_sk_table):
    from botocore.exceptions import ClientError

    for name, (_payload, raw) in DYNAMODB_REFUSED.items():
        if name in EMULATOR_LENIENT:
            continue
        with pytest.raises(ClientError) as raised:
            dynamodb_direct.batch_write_item(
                RequestItems={pk_sk_table: [{"PutRequest": {"Item": dynamo_item(raw)}}]}
            )
        assert raised.value.response["Error"]["Code"] == "ValidationException", name
    assert scan_all(dynamodb_direct, pk_sk_table) == []


@pytest.mark.parametrize("name", sorted(DYNAMODB_REFUSED))
def test_dynamodb_value_is_refused_at_submit(boto3_session, dynamo_proxy, pk_sk_table, name):
    payload, _raw = DYNAMODB_REFUSED[name]
    dispatcher = dynamo_dispatcher(boto3_session, dynamo_proxy, pk_sk_table)
    with pytest.raises(PayloadError):
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == []
    assert dynamo_proxy.count("BatchWriteItem") == 0


def test_dynamodb_values_at_the_limits_are_accepted(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name
):
    stored = 0
    for name, payload in DYNAMODB_ACCEPTED.items():
        table = create_table(dynamodb_direct, unique_name("accept"), {"pk": "S", "sk": "N"})
        dispatcher = dynamo_dispatcher(boto3_session, dynamo_proxy, table)
        dispatcher.submit_payload(payload)
        assert dispatcher.flush_payloads() == [], (name, [d.code for d in dispatcher.unprocessed_details])
        stored += len(scan_all(dynamodb_direct, table))
    assert stored == len(DYNAMODB_ACCEPTED)


def test_dynamodb_string_sort_key_over_1024_bytes_is_refused(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name
):
    from botocore.exceptions import ClientError

    table = create_table(dynamodb_direct, unique_name("refuse"), {"pk": "S", "sk": "S"})
    with pytest.raises(ClientError):  # dynalite counts UTF-16 units: an ASCII key shows its limit
        dynamodb_direct.batch_write_item(
            RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": "a" * 1025}}}}]}
        )
    dispatcher = dynamo_dispatcher(boto3_session, dynamo_proxy, table)
    for too_long in ("a" * 1025, "中" * 342):  # 1,025 and 1,026 bytes
        with pytest.raises(PayloadError):
            dispatcher.submit_payload({"pk": "a", "sk": too_long})
    dispatcher.submit_payload({"pk": "a", "sk": "é" * 512})  # 1,024 bytes: accepted
    assert dispatcher.flush_payloads() == []
    assert len(scan_all(dynamodb_direct, table)) == 1


def test_refused_values_cost_no_calls_the_rest_goes_in_the_fewest(
    boto3_session, dynamo_proxy, dynamodb_direct, pk_sk_table
):
    """The issue's case: 30 items among which bad values hid took up to 2n-1 calls to find them."""
    dispatcher = dynamo_dispatcher(boto3_session, dynamo_proxy, pk_sk_table)
    refused = 0
    for index in range(30):
        dispatcher.submit_payload({"pk": "good", "sk": index, "v": index})
        if index % 3 == 0:
            payload, _raw = list(DYNAMODB_REFUSED.values())[index // 3]
            with pytest.raises(PayloadError):
                dispatcher.submit_payload(payload)
            refused += 1
    assert dispatcher.flush_payloads() == []
    assert len(scan_all(dynamodb_direct, pk_sk_table)) == 30
    assert dynamo_proxy.count("BatchWriteItem") == 2 and refused == 10


# -- Kinesis ----------------------------------------------------------------------------------

#: name -> (partition key, explicit hash key)
KINESIS_REFUSED = {
    "explicit hash key not a number": ("k", "abc"),
    "explicit hash key with a fraction": ("k", "1.5"),
    "explicit hash key negative": ("k", "-1"),
    "explicit hash key 2^128": ("k", str(2**128)),
    "explicit hash key 2^128 as an int": ("k", 2**128),
    "explicit hash key empty": ("k", ""),
    "partition key of 129 emoji (258 UTF-16 units)": ("\U0001f600" * 129, None),
    "partition key of 257 characters": ("a" * 257, None),
    "partition key empty": ("", None),
}
KINESIS_ACCEPTED = {
    "explicit hash key 0": ("k", "0"),
    "explicit hash key 2^128-1": ("k", str(2**128 - 1)),
    "partition key of 128 emoji (256 UTF-16 units)": ("\U0001f600" * 128, None),
    "partition key of 256 two-byte characters": ("é" * 256, None),
}


def kinesis_entry(partition_key, explicit_hash_key):
    entry = {"Data": b"x", "PartitionKey": partition_key}
    if explicit_hash_key is not None:
        entry["ExplicitHashKey"] = str(explicit_hash_key)
    return entry


@pytest.fixture()
def stream(kinesis_direct, unique_name):
    return create_stream(kinesis_direct, unique_name("refuse"), 1)


def kinesis_dispatcher(boto3_session, proxy, stream):
    return KinesisBatchDispatcher(
        stream,
        boto3_session=boto3_session,
        endpoint_url=proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
    )


def test_kinesis_refuses_each_value_itself(kinesis_direct, stream):
    from botocore.exceptions import ClientError, ParamValidationError

    for name, (key, hash_key) in KINESIS_REFUSED.items():
        if name in EMULATOR_LENIENT:
            continue
        with pytest.raises((ClientError, ParamValidationError)) as raised:  # botocore checks the empty ones
            kinesis_direct.put_records(StreamName=stream, Records=[kinesis_entry(key, hash_key)])
        if isinstance(raised.value, ClientError):
            code = raised.value.response["Error"]["Code"]
            assert code in ("ValidationException", "InvalidArgumentException"), name
    for name, (key, hash_key) in KINESIS_ACCEPTED.items():
        response = kinesis_direct.put_records(StreamName=stream, Records=[kinesis_entry(key, hash_key)])
        assert response["FailedRecordCount"] == 0, name


@pytest.mark.parametrize("name", sorted(KINESIS_REFUSED))
def test_kinesis_value_is_refused_at_submit(boto3_session, kinesis_proxy, stream, name):
    key, hash_key = KINESIS_REFUSED[name]
    dispatcher = kinesis_dispatcher(boto3_session, kinesis_proxy, stream)
    with pytest.raises(PayloadError):
        dispatcher.submit_payload({"n": 1}, partition_key=key, explicit_hash_key=hash_key)
    assert dispatcher.flush_payloads() == []
    assert kinesis_proxy.count("PutRecords") == 0


def test_kinesis_values_at_the_limits_are_accepted(boto3_session, kinesis_proxy, kinesis_direct, stream):
    dispatcher = kinesis_dispatcher(boto3_session, kinesis_proxy, stream)
    for key, hash_key in KINESIS_ACCEPTED.values():
        dispatcher.submit_payload({"n": 1}, partition_key=key, explicit_hash_key=hash_key)
    assert dispatcher.flush_payloads() == [], [d.code for d in dispatcher.unprocessed_details]
    stored = [r["PartitionKey"] for shard in read_all_shards(kinesis_direct, stream).values() for r in shard]
    assert stored == [key for key, _ in KINESIS_ACCEPTED.values()]

"""DynamoDB dispatcher against the moto server: the table is scanned after writing."""

from __future__ import annotations

import copy
import decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_batch import DynamoBatchDispatcher, PayloadError
from tests.faults import OK, Fault, FaultInjector, fast_policy
from tests.sessions import fresh_session

pytestmark = pytest.mark.integration


@pytest.fixture()
def dynamodb(aws_client):
    return aws_client("dynamodb")


def create_table(dynamodb, name, sort_key=None, pk_type="S"):
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": pk_type}]
    if sort_key:
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": sort_key, "AttributeType": "N"})
    dynamodb.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
    )
    return name


@pytest.fixture()
def table(dynamodb, unique_name):
    name = create_table(dynamodb, unique_name("users"))
    yield name
    dynamodb.delete_table(TableName=name)


def make(boto3_session, endpoint_url, table, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    kwargs.setdefault("partition_key", "pk")
    return DynamoBatchDispatcher(
        table, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def scan(boto3_session, endpoint_url, table):
    resource = boto3_session.resource("dynamodb", endpoint_url=endpoint_url)
    items, page = [], {}
    while True:  # every page: a scan returns 1 MB at most
        response = resource.Table(table).scan(**page)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            return sorted(items, key=lambda item: item["pk"])
        page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}


def test_items_are_written_in_batches_of_25(boto3_session, endpoint_url, table):
    injector = FaultInjector(boto3_session, "dynamodb", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, table)
    items = [
        {"pk": f"u{i:03d}", "score": 1.5 * i, "tags": {"a", "b"}, "nested": {"l": [1, 2.25]}}
        for i in range(60)
    ]
    originals = copy.deepcopy(items)
    for item in items:
        dispatcher.submit_payload(item)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [25, 25, 10]
    assert items == originals  # the caller's dicts are untouched (floats stay floats)
    stored = scan(boto3_session, endpoint_url, table)
    assert len(stored) == 60
    assert stored[3]["score"] == decimal.Decimal("4.5")
    assert stored[3]["nested"] == {"l": [1, decimal.Decimal("2.25")]}


def test_a_later_write_of_the_same_key_wins_and_the_earlier_is_superseded(boto3_session, endpoint_url, table):
    dispatcher = make(boto3_session, endpoint_url, table)
    first = {"pk": "same", "v": 1}
    dispatcher.submit_payload(first)
    dispatcher.submit_payload({"pk": "other", "v": 0})
    dispatcher.submit_payload({"pk": "same", "v": 2})
    assert dispatcher.flush_payloads() == []
    assert first == {"pk": "same", "v": 1}
    assert dispatcher.stats.superseded == 1
    assert dispatcher.stats.entries_sent == 2
    assert [(i["pk"], i["v"]) for i in scan(boto3_session, endpoint_url, table)] == [
        ("other", 0),
        ("same", 2),
    ]


def test_deletes_and_composite_keys(boto3_session, endpoint_url, dynamodb, unique_name):
    name = create_table(dynamodb, unique_name("versions"), sort_key="version")
    dispatcher = make(boto3_session, endpoint_url, name, sort_key="version")
    for version in range(3):
        dispatcher.submit_payload({"pk": "doc", "version": version, "body": "x"})
    dispatcher.flush_payloads()
    dispatcher.submit_delete({"pk": "doc", "version": 1})
    assert dispatcher.flush_payloads() == []
    assert sorted(int(i["version"]) for i in scan(boto3_session, endpoint_url, name)) == [0, 2]


def test_partition_key_location_and_data_type(boto3_session, endpoint_url, dynamodb, unique_name):
    # boto3-batch-utils 5.x: the key is cast from the named attribute, which stays in the item.
    name = create_table(dynamodb, unique_name("numeric"), pk_type="N")
    dispatcher = make(boto3_session, endpoint_url, name, partition_key_data_type=int)
    payload = {"user_id": "42", "name": "Ada"}
    dispatcher.submit_payload(payload, partition_key_location="user_id")
    assert dispatcher.flush_payloads() == []
    assert payload == {"user_id": "42", "name": "Ada"}
    assert scan(boto3_session, endpoint_url, name) == [{"pk": 42, "user_id": "42", "name": "Ada"}]


def test_unprocessed_items_are_retried(boto3_session, endpoint_url, table):
    plan = {0: Fault("partial", {0: True, 5: True, 24: True}), 1: Fault("partial", {1: True})}
    injector = FaultInjector(boto3_session, "dynamodb", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, table)
    for i in range(25):
        dispatcher.submit_payload({"pk": f"k{i:02d}"})
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [25, 3, 1]
    assert len(scan(boto3_session, endpoint_url, table)) == 25


def test_always_unprocessed_items_come_back_after_five_attempts(boto3_session, endpoint_url, table):
    FaultInjector(boto3_session, "dynamodb", lambda call, n: Fault("partial", {0: True}))
    dispatcher = make(boto3_session, endpoint_url, table)
    stuck = {"pk": "stuck"}
    dispatcher.submit_payload(stuck)
    dispatcher.submit_payload({"pk": "fine"})
    failed = dispatcher.flush_payloads()
    assert failed == [stuck] and failed[0] is stuck
    assert dispatcher.unprocessed_details[0].attempts == 5
    assert [i["pk"] for i in scan(boto3_session, endpoint_url, table)] == ["fine"]


def test_bad_items_are_refused_at_submit(boto3_session, endpoint_url, table):
    dispatcher = make(boto3_session, endpoint_url, table)
    dispatcher.submit_payload({"pk": "good"})
    with pytest.raises(PayloadError, match="partition key attribute 'pk'"):
        dispatcher.submit_payload({"id": "no key"})
    with pytest.raises(PayloadError, match="400 KB"):
        dispatcher.submit_payload({"pk": "big", "blob": "x" * 410_000})
    with pytest.raises(PayloadError, match="cannot store nan"):
        dispatcher.submit_payload({"pk": "nan", "v": float("nan")})
    assert dispatcher.flush_payloads() == []
    assert [i["pk"] for i in scan(boto3_session, endpoint_url, table)] == ["good"]


def test_a_validation_failure_is_isolated_by_splitting_the_batch(boto3_session, endpoint_url, table):
    # Values the dispatcher knows DynamoDB refuses never reach a call; for one it cannot know
    # (here: a hook that refuses, as the service does, every call that holds the item), the whole
    # call fails with ValidationException and halving the batch isolates the item.
    from tests.faults import _http

    def inspect(params, context, **_):
        ((_, requests),) = params["RequestItems"].items()
        context["refuse"] = any(r["PutRequest"]["Item"]["pk"] == {"S": "bad"} for r in requests)

    def refuse(context, **_):
        if not context.get("refuse"):
            return None
        return _http(400), {
            "Error": {"Code": "ValidationException", "Message": "One or more parameter values were invalid"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
        }

    boto3_session.events.register("before-parameter-build.dynamodb.BatchWriteItem", inspect)
    boto3_session.events.register("before-call.dynamodb.BatchWriteItem", refuse)
    dispatcher = make(boto3_session, endpoint_url, table)
    for i in range(8):
        dispatcher.submit_payload({"pk": f"k{i}"})
    bad = {"pk": "bad"}
    dispatcher.submit_payload(bad)
    failed = dispatcher.flush_payloads()
    assert failed == [bad] and failed[0] is bad
    assert dispatcher.unprocessed_details[0].code == "ValidationException"
    assert dispatcher.stats.splits >= 1
    assert len(scan(boto3_session, endpoint_url, table)) == 8


# -- the table's real key (issue 8 defect 2, issue 15 point 5) ---------------------------------


def deny(boto3_session, operation):
    """Answer every ``operation`` call with AccessDeniedException (403), as a role without the action."""

    def answer(**_):
        from tests.faults import _http

        return _http(403), {
            "Error": {"Code": "AccessDeniedException", "Message": "not authorized"},
            "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}},
        }

    boto3_session.events.register(f"before-call.dynamodb.{operation}", answer)


def five_versions_of_one_pk(boto3_session, endpoint_url, dynamodb, unique_name, **kwargs):
    name = create_table(dynamodb, unique_name("versions"), sort_key="sk")
    injector = FaultInjector(boto3_session, "dynamodb", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, **kwargs)  # told only partition_key="pk"
    for sk in range(5):
        dispatcher.submit_payload({"pk": "doc", "sk": sk, "body": f"v{sk}"})
    failed = dispatcher.flush_payloads()
    stored = sorted((item["pk"], int(item["sk"])) for item in scan(boto3_session, endpoint_url, name))
    return dispatcher, injector, failed, stored


def test_a_pk_sk_table_told_only_its_partition_key_keeps_every_item(
    boto3_session, endpoint_url, dynamodb, unique_name
):
    dispatcher, injector, failed, stored = five_versions_of_one_pk(
        boto3_session, endpoint_url, dynamodb, unique_name
    )
    assert failed == []
    assert stored == [("doc", sk) for sk in range(5)]
    assert dispatcher.key_schema == (("pk", "S"), ("sk", "N"))
    assert dispatcher.stats.superseded == 0
    assert [c.entries for c in injector.calls] == [5]  # distinct full keys share one call


def test_without_describe_table_nothing_is_de_duplicated_and_nothing_is_lost(
    boto3_session, endpoint_url, dynamodb, unique_name
):
    deny(boto3_session, "DescribeTable")
    dispatcher, injector, failed, stored = five_versions_of_one_pk(
        boto3_session, endpoint_url, dynamodb, unique_name
    )
    assert failed == []
    assert stored == [("doc", sk) for sk in range(5)]
    assert dispatcher.key_schema is None
    assert dispatcher.stats.superseded == 0
    # the key it was told may be part of the real key only: repeats go in separate calls
    assert [c.entries for c in injector.calls] == [1, 1, 1, 1, 1]


def test_the_key_schema_is_read_once_per_process(boto3_session, endpoint_url, dynamodb, unique_name):
    name = create_table(dynamodb, unique_name("once"), sort_key="sk")
    described = []
    boto3_session.events.register("before-call.dynamodb.DescribeTable", lambda **_: described.append(1))
    for _ in range(3):  # a function that makes its dispatcher per invocation
        dispatcher = make(boto3_session, endpoint_url, name)
        dispatcher.submit_payload({"pk": "a", "sk": 1})
        assert dispatcher.flush_payloads() == []
    assert len(described) == 1


def test_deduplicate_false_sends_every_write_in_order(boto3_session, endpoint_url, table):
    injector = FaultInjector(boto3_session, "dynamodb", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, table, deduplicate=False)
    for v in range(3):
        dispatcher.submit_payload({"pk": "same", "v": v})
    dispatcher.submit_payload({"pk": "other", "v": 9})
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [1, 1, 2]
    assert dispatcher.stats.superseded == 0
    assert [(i["pk"], i["v"]) for i in scan(boto3_session, endpoint_url, table)] == [
        ("other", 9),
        ("same", 2),
    ]


def test_unprocessed_writes_of_a_table_without_describe_come_back(boto3_session, endpoint_url, table):
    deny(boto3_session, "DescribeTable")
    FaultInjector(boto3_session, "dynamodb", lambda call, n: Fault("partial", {0: True}))
    dispatcher = make(boto3_session, endpoint_url, table, retry_policy=fast_policy(2))
    first, second = {"pk": "k", "v": 1}, {"pk": "k", "v": 2}
    dispatcher.submit_payload(first)
    dispatcher.submit_payload(second)
    failed = dispatcher.flush_payloads()
    assert failed == [first, second] and failed[0] is first and failed[1] is second


# -- boto3-batch-utils 5.x: keys keep their type ---------------------------------------------


def test_a_numeric_key_stays_a_number(boto3_session, endpoint_url, dynamodb, unique_name):
    name = create_table(dynamodb, unique_name("numeric"), pk_type="N")
    dispatcher = make(boto3_session, endpoint_url, name)  # partition_key_data_type defaults to str
    dispatcher.submit_payload({"pk": 7, "name": "Ada"})
    dispatcher.submit_payload({"pk": decimal.Decimal("8.5"), "name": "Bo"})
    assert dispatcher.flush_payloads() == []
    assert scan(boto3_session, endpoint_url, name) == [
        {"pk": 7, "name": "Ada"},
        {"pk": decimal.Decimal("8.5"), "name": "Bo"},
    ]
    dispatcher.submit_delete({"pk": 7})
    assert dispatcher.flush_payloads() == []
    assert [i["pk"] for i in scan(boto3_session, endpoint_url, name)] == [decimal.Decimal("8.5")]


# -- sizes on the wire (issue 15 point 2) -----------------------------------------------------


def test_non_ascii_items_fill_calls_by_their_size_on_the_wire(boto3_session, endpoint_url, table):
    bodies = []
    boto3_session.events.register(
        "before-send.dynamodb.BatchWriteItem", lambda request, **_: bodies.append(len(request.body))
    )
    dispatcher = make(boto3_session, endpoint_url, table)
    text = "漢字かな" * 33_500  # 134,000 characters: 402,000 bytes as DynamoDB counts, 804,000 escaped
    for i in range(25):
        dispatcher.submit_payload({"pk": f"k{i:02d}", "text": text})
    assert dispatcher.flush_payloads() == []
    assert max(bodies) <= 16 * 1024 * 1024
    # 20 such writes fit in 16 MiB on the wire, so 25 take two calls (one call would be 20.1 MB).
    assert len(bodies) == 2
    assert len(scan(boto3_session, endpoint_url, table)) == 25


def test_the_item_limit_counts_utf8_bytes_not_escapes(boto3_session, endpoint_url, table):
    dispatcher = make(boto3_session, endpoint_url, table)
    # 400,000 UTF-8 bytes (moto refuses more than 405,000), 1.2 MB escaped on the wire
    dispatcher.submit_payload({"pk": "fits", "text": "é" * 200_000})
    with pytest.raises(PayloadError, match="400 KB"):
        dispatcher.submit_payload({"pk": "over", "text": "é" * 205_000})  # 410,000 bytes
    assert dispatcher.flush_payloads() == []
    assert [i["pk"] for i in scan(boto3_session, endpoint_url, table)] == ["fits"]


# -- values DynamoDB refuses, refused at submit (issue 15 point 3) --------------------------------

SECRET = "s3cr3t-value"


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"pk": "a", "tags": set()}, r"attribute 'tags': DynamoDB cannot store an empty set"),
        (
            {"pk": "a", "m": {"inner": frozenset()}},
            r"attribute 'm'\.inner: DynamoDB cannot store an empty set",
        ),
        ({"pk": ""}, r"attribute 'pk' \(partition key\) is empty"),
        ({"pk": "x" * 2049}, r"attribute 'pk' \(partition key\) is 2049 bytes, over DynamoDB's 2048-byte"),
        ({"pk": "a", "n": decimal.Decimal("1E+126")}, r"attribute 'n': number too large"),
        ({"pk": "a", "n": decimal.Decimal("-1E+126")}, r"attribute 'n': number too large"),
        ({"pk": "a", "n": decimal.Decimal("1E-131")}, r"attribute 'n': number too small"),
        (
            {"pk": "a", "n": [1, 10**38 + 1]},
            r"attribute 'n'\[1\]: number has more than 38 significant digits",
        ),
        (
            {"pk": "a", "ns": {1, decimal.Decimal("1E-131")}},
            r"attribute 'ns' \(an element\): number too small",
        ),
        (
            {"pk": 5},
            r"attribute 'pk' \(partition key\) is a number, but the table's partition key is a string",
        ),
        ({"pk": b"bytes"}, r"attribute 'pk' \(partition key\) is a binary, but the table's partition key"),
        ({"pk": ["a"]}, r"attribute 'pk' \(partition key\) must be a string, number or binary, not a list"),
        ({"pk": "a", "x": object()}, r"attribute 'x': DynamoDB cannot store a value of type object"),
    ],
)
def test_values_dynamodb_refuses_are_refused_at_submit(boto3_session, endpoint_url, table, item, problem):
    injector = FaultInjector(boto3_session, "dynamodb", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, table)
    dispatcher.submit_payload({"pk": "good"})
    with pytest.raises(PayloadError, match=problem) as raised:
        dispatcher.submit_payload({**item, "secret": SECRET})
    assert SECRET not in str(raised.value)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [1]  # no halving to find it
    assert [i["pk"] for i in scan(boto3_session, endpoint_url, table)] == ["good"]


def test_keys_and_numbers_at_the_edges_are_stored(boto3_session, endpoint_url, dynamodb, unique_name):
    name = create_table(dynamodb, unique_name("edges"), sort_key="sk", pk_type="S")
    dispatcher = make(boto3_session, endpoint_url, name)
    with pytest.raises(PayloadError, match=r"attribute 'pk' \(partition key\) is a number"):
        dispatcher.submit_delete({"pk": 1, "sk": 1})
    big = decimal.Decimal("9.9999999999999999999999999999999999999E+125")
    small = decimal.Decimal("1E-130")
    dispatcher.submit_payload({"pk": "edge", "sk": 1, "big": big, "small": -small, "digits": -(10**37 + 1)})
    dispatcher.submit_payload({"pk": "k" * 2048, "sk": 2})
    assert dispatcher.flush_payloads() == []
    stored = {i["pk"]: i for i in scan(boto3_session, endpoint_url, name)}
    assert stored["edge"]["big"] == big and stored["edge"]["small"] == -small
    assert len(stored) == 2


# -- the table ends as the writes say, whatever is known of its key ---------------------------------

writes = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3), st.booleans()), min_size=1, max_size=40
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes, st.booleans(), st.booleans(), st.sampled_from([1, 3]))
def test_the_table_holds_the_last_write_of_every_key(
    boto3_session, endpoint_url, dynamodb, unique_name, ops, describe, deduplicate, workers
):
    """Puts and deletes of repeated keys: nothing dropped that was not overwritten, order kept."""
    name = create_table(dynamodb, unique_name("last"), sort_key="sk")
    session = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    if not describe:
        deny(session, "DescribeTable")
    dispatcher = make(session, endpoint_url, name, deduplicate=deduplicate, max_workers=workers)
    expected = {}
    for n, (pk, sk, put) in enumerate(ops):
        if put:
            dispatcher.submit_payload({"pk": pk, "sk": sk, "n": n})
            expected[pk, sk] = n
        else:
            dispatcher.submit_delete({"pk": pk, "sk": sk})
            expected.pop((pk, sk), None)
    assert dispatcher.flush_payloads() == []
    dispatcher.close()
    stored = {(i["pk"], int(i["sk"])): int(i["n"]) for i in scan(boto3_session, endpoint_url, name)}
    assert stored == expected
    if not (describe and deduplicate):
        assert dispatcher.stats.superseded == 0
        assert dispatcher.stats.entries_sent == len(ops)
    dynamodb.delete_table(TableName=name)

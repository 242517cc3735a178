"""The features' hooks: what a feature such as batch idempotency needs, without a core change.

A feature reads the whole batch before any record runs and decides some records' outcomes
(already succeeded, or failed) without running them; it acts around each record's call, before
the response and after the batch.
"""

from __future__ import annotations

from lambda_batch import BatchProcessor, EventType, PartialSQSProcessor, process_partial_response
from lambda_batch.processing.features.hooks import Feature
from tests.processing_events import sqs_record


class Ledger(Feature):
    """Records 0 and 1 were seen before: 0 succeeded (its result kept), 1 failed."""

    def __init__(self):
        self.events = []

    def start(self, batch, outcome):
        self.events.append(("start", [record["messageId"] for record in batch.records]))
        outcome.preset[0] = (True, "done before")
        try:
            raise ValueError("failed before")
        except ValueError as exc:
            outcome.preset[1] = (False, (type(exc), exc, exc.__traceback__))

    def wrap(self, call):
        def around(record):
            self.events.append(("call", record["messageId"]))
            return call(record)

        return around

    def before_response(self, batch, outcome):
        self.events.append(("before_response", list(outcome.failed_positions())))

    def after_batch(self, batch, outcome):
        self.events.append(("after_batch", len(outcome.results)))


def test_a_feature_presets_outcomes_and_sees_every_step():
    handled = []

    def handler(record):
        handled.append(record["messageId"])
        if record["messageId"] == "m-3":
            raise ValueError("declined")
        return record["messageId"]

    ledger = Ledger()
    processor = BatchProcessor(EventType.SQS)
    processor.features.append(ledger)
    records = [sqs_record(n) for n in range(4)]
    response = process_partial_response({"Records": records}, handler, processor)

    assert handled == ["m-2", "m-3"]  # the preset records never reach the handler
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}
    assert [entry[1] for entry in processor._outcome.results[:3]] == [
        "done before",
        "ValueError:failed before",
        "m-2",
    ]
    assert ledger.events == [
        ("start", ["m-0", "m-1", "m-2", "m-3"]),
        ("call", "m-2"),
        ("call", "m-3"),
        ("before_response", [1, 3]),
        ("after_batch", 4),
    ]


class Seen(Feature):
    """Record 0 succeeded in an earlier delivery: not run again."""

    def __init__(self):
        self.events = []

    def start(self, batch, outcome):
        outcome.preset[0] = (True, None)
        self.events.append("start")

    def before_response(self, batch, outcome):
        self.events.append(("before_response", list(outcome.failed_positions())))

    def after_batch(self, batch, outcome):
        self.events.append(("after_batch", outcome.deleted))


def test_a_feature_runs_in_delete_mode_too_and_no_hook_runs_without_features():
    seen = Seen()
    processor = PartialSQSProcessor()
    processor.features.append(seen)
    handled = []
    with processor(
        [sqs_record(n) for n in range(2)], lambda record: handled.append(record["messageId"])
    ) as proc:
        proc.process()
    assert handled == ["m-1"]
    # every record succeeded: no delete call (Lambda deletes the batch), and the feature knows it
    assert seen.events == ["start", ("before_response", []), ("after_batch", [0, 1])]
    assert processor.delete_failures == []
    assert BatchProcessor(EventType.SQS).features == []

"""Processors: a FIFO message group id (the sender's, often personal data) is named only on request.

With ``skip_group_on_error=True`` the later records of a failed group fail with a reason naming
the record that failed; the group id joins it only with ``log_exception_messages=True``.
"""

from __future__ import annotations

import logging

import pytest

from lambda_batch import SQSBatchProcessingError, SqsFifoPartialProcessor, process_partial_response
from tests.processing_events import sqs_record

EMAIL = "grace.hopper@example.com"


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "opt-in"])
def test_a_message_group_id_is_logged_only_with_the_opt_in(caplog, reveal):
    records = [sqs_record(n, queue="jobs.fifo", group=EMAIL if n < 2 else "other") for n in range(3)]

    def handler(record):
        if record["messageId"] == "m-0":
            raise ValueError("bad")

    processor = SqsFifoPartialProcessor(skip_group_on_error=True, log_exception_messages=reveal)
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
        response = process_partial_response({"Records": records}, handler, processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    skipped = str(processor.exceptions[1][1])
    assert "record m-0" in skipped  # still names what held it back
    error = SQSBatchProcessingError(
        "some failed", processor.exceptions, record_ids=["m-0", "m-1"], exception_messages=reveal
    )  # as the processor raises it when every record fails
    texts = caplog.text + skipped + str(error)
    assert (EMAIL in texts) == reveal

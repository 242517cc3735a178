"""Why a record was returned without being handled.

A record the processor chose not to start is reported exactly like a failure (it goes
back to its queue or stream and is delivered again); its exception says why.
"""

from __future__ import annotations

from ..errors import LambdaBatchError


class RecordSkippedError(LambdaBatchError):
    """A record was not handled, so that it is delivered again."""


class PreviousRecordFailedError(RecordSkippedError):
    """An earlier record of the same FIFO message group (or of the batch) failed; order comes first.

    Example::

        processor = BatchProcessor(EventType.SQS)   # a FIFO queue: stops at the first failure
        # later records come back as ("fail", "PreviousRecordFailedError:...", record)
    """


class DeadlineReachedError(RecordSkippedError):
    """The record was not started: too little of the invocation's time was left.

    Example::

        processor = BatchProcessor(EventType.SQS, deadline_margin=2.0)
        process_partial_response(event, record_handler, processor, context)
    """

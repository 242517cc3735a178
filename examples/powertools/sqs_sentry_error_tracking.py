"""SQS: send every record failure to Sentry from a processor subclass.

Powertools documentation: "Integrating exception handling with Sentry.io". ``failure_handler``
runs while the record's exception is being handled, so ``capture_exception()`` with no
argument reports it. ``sentry_sdk.init(dsn=...)`` is called once, where the function starts.
"""

from sentry_sdk import capture_exception

from lambda_batch import BatchProcessor, EventType, FailureResponse, process_partial_response


class SentryReportingProcessor(BatchProcessor):
    def failure_handler(self, record, exception) -> FailureResponse:
        capture_exception()  # the exception being handled goes to Sentry
        return super().failure_handler(record, exception)


processor = SentryReportingProcessor(event_type=EventType.SQS)


def record_handler(record):
    quantity = int(record.body)  # a body that is not a number fails, and is reported
    return quantity


def lambda_handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )

"""SQS FIFO: after a failure, hold back only the rest of that message group; other groups go on.

Powertools documentation: "FIFO queues", ``skip_group_on_error=True``.
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import SqsFifoPartialProcessor, process_partial_response

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord):
    step: dict = record.json_body  # a step that is not JSON fails, and holds back its group only
    logger.info(step)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )

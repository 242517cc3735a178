"""Dimensions built with cloudwatch_dimension: one, or a list of several."""

from lambda_batch import CloudwatchBatchDispatcher
from lambda_batch import cloudwatch_dimension as cd

cw = CloudwatchBatchDispatcher("TestService")

cw.submit_metric(
    "DoingACountMetric",
    value=1234,
    dimensions=cd("dimA", "12345"),
)
cw.submit_metric(
    "DoingASecondsMetric",
    value=978,
    dimensions=[cd("timeA", "11"), cd("timeB", "4")],
)

unprocessed_records = cw.flush_payloads()

"""Two custom metrics of one namespace, sent in one PutMetricData call."""

from lambda_batch import CloudwatchBatchDispatcher

cw = CloudwatchBatchDispatcher("TestService")

# the unit defaults to Count, the timestamp to now
cw.submit_metric("DoingACountMetric", value=555)
cw.submit_metric("DoingACountMetric", value=4, unit="Seconds")

unprocessed_records = cw.flush_payloads()

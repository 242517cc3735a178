"""Two custom metrics of one namespace, sent in one PutMetricData call."""

from lambda_batch import CloudwatchBatchDispatcher

cw = CloudwatchBatchDispatcher("TestService")

cw.submit_metric("DoingACountMetric", value=555)  # unit defaults to Count, timestamp to now
cw.submit_metric("DoingACountMetric", value=4, unit="Seconds")

unprocessed_records = cw.flush_payloads()

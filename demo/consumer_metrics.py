"""The consumer's per-batch metrics, read back from its output: the EMF documents lambda_batch printed.

The consumer is built with ``metrics_namespace="<MetricsNamespace>/Batches"``: one CloudWatch EMF
document per batch on stdout (records succeeded, failed, skipped; the batch's duration; its delete
and visibility calls). The demo sums them over the run and shows the sums beside the ledger's counts.

Example::

    batch_metric_documents(result.logs)     # [{"RecordsSucceeded": 9.0, "RecordsFailed": 1.0, ...}]
"""

from __future__ import annotations

from typing import Dict, List


def batch_metric_documents(logs: str) -> List[Dict[str, float]]:
    """The metrics of the EMF documents lambda_batch printed in an invocation's output (its
    ``metrics_namespace`` ends in ``/Batches``; Powertools' own documents are left out)."""
    import json

    found = []
    for line in logs.splitlines():
        start = line.find('{"_aws"')
        if start < 0:
            continue
        try:
            document = json.loads(line[start:])
            directive = document["_aws"]["CloudWatchMetrics"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            continue
        if str(directive.get("Namespace", "")).endswith("/Batches"):
            names = [metric["Name"] for metric in directive.get("Metrics", [])]
            found.append({name: float(document[name]) for name in names if name in document})
    return found

"""Choosing how much the library logs: lambda-batch logs under the logger "lambda_batch"."""

import logging

from lambda_batch import SQSBatchDispatcher  # noqa: F401 - the import this example's peer has

logging.getLogger("lambda_batch").setLevel("WARNING")

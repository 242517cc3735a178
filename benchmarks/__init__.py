"""Benchmarks that compare lambda_batch with the alternatives in the same run (`make bench`)."""

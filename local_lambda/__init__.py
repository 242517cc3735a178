"""Local Lambda tooling: run built functions as Lambda would (``invoker``), feed them from SQS
as an event source mapping would (``event_source``), and ``python -m local_lambda invoke``."""

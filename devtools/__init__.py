"""What the local tooling shares (emulator/, local_lambda/, demo/, tools/, benchmarks/, tests).

A neutral place below all of them: it imports none of the tooling folders, and each of them
may import it (``tools/`` never imports ``emulator/``). Standard library and boto3 only.

* :mod:`devtools.lambda_context`: the one Lambda context object (a real deadline);
* :mod:`devtools.lambda_sqs`: Lambda's SQS event source rules: records built from received
  messages, and which records Lambda deletes after an invocation;
* :mod:`devtools.aws_session`: credentials and boto3 sessions for an emulator or AWS;
* :mod:`devtools.sam_files`: the template file and the zipped build folders.
"""

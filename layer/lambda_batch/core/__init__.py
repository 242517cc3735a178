"""The core both halves share: the retry policy, the error rules and limits (data),
clients, the deadline, ARNs. It imports neither half nor the engine.
"""

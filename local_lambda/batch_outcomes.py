"""What one invocation by the SQS event source mapping did, and the mapping's running totals.

Example::

    outcome = mapping.poll_once()
    outcome.outcome in (SUCCESS, PARTIAL, ERROR, TIMEOUT, INVALID_RESPONSE), outcome.deleted, outcome.left
    mapping.stats.redeliveries
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

# Outcomes of one invocation.
SUCCESS = "success"
PARTIAL = "partial"
ERROR = "error"
TIMEOUT = "timeout"
INVALID_RESPONSE = "invalid-response"


@dataclass
class BatchOutcome:
    """What one invocation did: the batch, how it ended, and what was deleted or left to retry."""

    message_ids: List[str]
    outcome: str
    deleted: List[str] = field(default_factory=list)
    left: List[str] = field(default_factory=list)
    delete_failed: List[str] = field(default_factory=list)
    error: Optional[str] = None
    duration: float = 0.0
    receive_counts: Dict[str, int] = field(default_factory=dict)


@dataclass
class MappingStats:
    """Running totals of an :class:`SQSEventSourceMapping`."""

    receive_calls: int = 0
    delete_calls: int = 0
    invocations: int = 0
    messages_delivered: int = 0
    redeliveries: int = 0
    deleted: int = 0
    left_for_retry: int = 0
    delete_failures: int = 0
    errors: int = 0
    timeouts: int = 0
    invalid_responses: int = 0
    partial_responses: int = 0
    idle_polls: int = 0
    handler_seconds: float = 0.0
    receive_seconds: float = 0.0
    delete_seconds: float = 0.0

    def add(self, outcome: BatchOutcome) -> None:
        """Count one invocation's outcome."""
        self.deleted += len(outcome.deleted)
        self.left_for_retry += len(outcome.left)
        self.delete_failures += len(outcome.delete_failed)
        if outcome.outcome == ERROR:
            self.errors += 1
        elif outcome.outcome == TIMEOUT:
            self.timeouts += 1
        elif outcome.outcome == INVALID_RESPONSE:
            self.invalid_responses += 1
        elif outcome.outcome == PARTIAL:
            self.partial_responses += 1

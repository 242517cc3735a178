"""An SNS dispatcher's topic: its MaximumMessageSize, read once per topic and process.

A topic takes messages up to its ``MaximumMessageSize`` attribute (1,024 to 1,048,576 bytes;
262,144 by default), and PublishBatch takes a batch whose messages together stay within it
(the Amazon SNS Developer Guide's "Publishing large messages with Amazon SNS" and the
PublishBatch API reference, read on 3 December 2026). The dispatcher reads the attribute with
GetTopicAttributes at the first submit (or, if that call failed retryably, before the first
send), once per topic for the life of the process, as the SQS dispatcher reads its queue's.
Without ``sns:GetTopicAttributes`` (or with a value out of range) the default, 256 KiB, applies
and publishing still works.

Example:
    ```python
    from lambda_batch.dispatchers.sns_topic import topic_message_size

    topic_message_size({"MaximumMessageSize": "1048576"})   # 1048576
    ```
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from ..core.deadline import Deadline
from ..core.limits import SNS_DEFAULT_MESSAGE_SIZE, SNS_MIN_MESSAGE_SIZE
from ..core.retry import RetryPolicy, classify_exception

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.packing import Packing

logger = logging.getLogger("lambda_batch.dispatchers.sns")

#: What each topic's MaximumMessageSize was, by topic ARN, for the life of the process: a
#: function that makes its dispatcher on every invocation reads it once per execution
#: environment. ``None`` records that it could not be read: the default applies, and the call
#: is not repeated.
_topic_sizes: Dict[str, Optional[int]] = {}
_topic_sizes_lock = threading.Lock()


def topic_message_size(attributes: Mapping[str, Any], ceiling: int = 1024 * 1024) -> Optional[int]:
    """The topic's MaximumMessageSize from its attributes, or None when absent or out of range.

    Example:
        ```python
        topic_message_size({"MaximumMessageSize": "2048"})  # 2048
        topic_message_size({}) is None  # True
        ```
    """
    value = attributes.get("MaximumMessageSize")
    try:
        size = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    if size is None or not SNS_MIN_MESSAGE_SIZE <= size <= ceiling:
        return None  # a value SNS cannot hold: the default applies
    return size


class TopicSettings:
    """The topic of an SNS dispatcher: its message size, resolved lazily and once."""

    topic_arn: str
    target_description: str
    retry_policy: RetryPolicy
    max_batch_bytes: int
    _buffer: Packing

    if TYPE_CHECKING:  # provided by the dispatcher

        @property
        def client(self) -> Any: ...
        @property
        def deadline(self) -> Deadline: ...
        def _limits_changed(self) -> None: ...

    def _init_topic(self) -> None:
        """Call after the dispatcher's limits are set: until the topic is read, the default applies."""
        #: The batch total asked for (``max_batch_bytes=``, or the most PublishBatch takes).
        self._batch_bytes_setting = self.max_batch_bytes
        self._topic_message_size: Optional[int] = None
        self._topic_read = False
        self._topic_probed = False
        self._apply_topic_size(None)

    def _apply_topic_size(self, size: Optional[int]) -> None:
        with self._buffer.lock:
            self._topic_message_size = size
            self.max_batch_bytes = min(self._batch_bytes_setting, size or SNS_DEFAULT_MESSAGE_SIZE)
            self._limits_changed()

    def _resolve_topic(self) -> None:
        if self._topic_read:
            return
        with _topic_sizes_lock:
            known = self._topic_read or self.topic_arn in _topic_sizes
        if not known:
            size = self._read_topic_size()  # raises when retryable: tried again before the send
            with _topic_sizes_lock:
                _topic_sizes.setdefault(self.topic_arn, size)
        self._apply_topic_size(_topic_sizes[self.topic_arn])
        self._topic_read = True

    def _read_topic_size(self) -> Optional[int]:
        try:
            response = self.client.get_topic_attributes(TopicArn=self.topic_arn)
        except Exception as exc:
            error = classify_exception(exc)
            if error.retryable:
                raise
            logger.info(
                "%s: cannot read MaximumMessageSize (%s); messages are limited to %d bytes",
                self.target_description,
                error.code,
                SNS_DEFAULT_MESSAGE_SIZE,
            )
            return None
        return topic_message_size(response.get("Attributes") or {})

    def _probe_topic(self) -> None:
        """At the first submit, read the topic's size (once; a retryable failure waits for the send).

        Not while the deadline is within the retry policy's margin: no call starts then.
        """
        if self._topic_probed or self.deadline.expired(self.retry_policy.deadline_margin):
            return
        self._topic_probed = True
        try:
            self._resolve_topic()
        except Exception as exc:
            logger.debug("%s: topic not read yet (%s)", self.target_description, type(exc).__name__)

    def _prepare(self) -> None:
        self._resolve_topic()


__all__ = ["TopicSettings", "topic_message_size"]

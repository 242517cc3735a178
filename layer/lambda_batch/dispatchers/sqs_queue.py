"""An SQS dispatcher's queue: its URL and region from the name, URL or ARN given, and its settings.

The URL is resolved once (GetQueueUrl for a bare name); MaximumMessageSize (the largest
message the queue takes) and ContentBasedDeduplication (FIFO) are read once per queue and
process (GetQueueAttributes), at the first submit or, failing that, the first send. Without
``sqs:GetQueueAttributes`` the service limits apply and sends still work.

Example::

    url, region, name = queue_target("arn:aws:sqs:eu-west-1:123456789012:jobs")
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ..core.arns import parse_arn, sqs_queue_url
from ..core.deadline import Deadline
from ..core.retry import RetryPolicy, classify_exception
from ..errors import ConfigurationError

logger = logging.getLogger("lambda_batch.dispatchers.sqs")

_URL_REGION = re.compile(r"^https?://(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.(?:queue\.)?amazonaws")
_QUEUE_ATTRIBUTES = ["MaximumMessageSize", "FifoQueue", "ContentBasedDeduplication"]

#: What each queue's attributes said (MaximumMessageSize, ContentBasedDeduplication), by queue
#: URL, for the life of the process: a function that makes its dispatcher on every invocation
#: reads them once per execution environment. ``(None, None)`` records that they could not be
#: read (no sqs:GetQueueAttributes): the service limits apply, and the call is not repeated.
_queue_settings: Dict[str, Tuple[Optional[int], Optional[bool]]] = {}


def queue_target(queue_name: str) -> Tuple[Optional[str], Optional[str], str]:
    """``(url or None, region or None, name)`` of a queue given by name, URL or ARN.

    >>> queue_target("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs")
    ('https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', 'eu-west-1', 'jobs')
    """
    if queue_name.startswith("arn:"):
        try:
            arn = parse_arn(queue_name)
            url = sqs_queue_url(queue_name)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        return url, arn.region, arn.resource
    if "://" in queue_name:
        match = _URL_REGION.match(queue_name)
        return queue_name, match.group(1) if match else None, queue_name.rstrip("/").rsplit("/", 1)[-1]
    return None, None, queue_name


class QueueSettings:
    """The queue of an SQS dispatcher, resolved lazily and once."""

    queue_name: str
    target_description: str
    retry_policy: RetryPolicy
    _queue_url: Optional[str]

    def _init_queue(self) -> None:
        self._max_message_size: Optional[int] = None
        self._content_based_dedup: Optional[bool] = None
        self._attributes_read = False
        self._probed = False
        self._queue_lock = threading.Lock()

    if TYPE_CHECKING:  # provided by the dispatcher

        @property
        def client(self) -> Any: ...
        @property
        def deadline(self) -> Deadline: ...

    @property
    def queue_url(self) -> Optional[str]:
        """The queue's URL (``None`` until resolved from its name at first use)."""
        return self._queue_url

    def _prepare(self) -> None:
        if self._queue_url is None or not self._attributes_read:
            self._resolve()

    def _resolve(self) -> None:
        with self._queue_lock:
            client = self.client
            if self._queue_url is None:
                self._queue_url = str(client.get_queue_url(QueueName=self.queue_name)["QueueUrl"])
            if not self._attributes_read:
                known = _queue_settings.get(self._queue_url)
                if known is None:
                    known = _queue_settings[self._queue_url] = self._read_attributes(client)
                max_message_size, content_based_dedup = known
                if max_message_size is not None:
                    self._max_message_size = max_message_size
                if content_based_dedup is not None:
                    self._content_based_dedup = content_based_dedup
                self._attributes_read = True

    def _read_attributes(self, client: Any) -> Tuple[Optional[int], Optional[bool]]:
        """The queue's MaximumMessageSize and ContentBasedDeduplication (None: not known)."""
        try:
            response = client.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=_QUEUE_ATTRIBUTES)
        except Exception as exc:
            error = classify_exception(exc)
            if error.retryable:
                raise
            # Without sqs:GetQueueAttributes the service limits apply; sends still work.
            logger.info(
                "%s: cannot read queue attributes (%s); using the service limits",
                self.target_description,
                error.code,
            )
            return None, None
        attributes = response.get("Attributes", {})
        size = attributes.get("MaximumMessageSize")
        dedup = attributes.get("ContentBasedDeduplication")
        return (int(size) if size is not None else None, None if dedup is None else dedup == "true")

    def _probe(self) -> None:
        """At the first submit, learn the queue's settings (once; failures wait for the first send).

        Not while the deadline is within the retry policy's margin: no call starts then.
        """
        if self.deadline.expired(self.retry_policy.deadline_margin):
            return
        self._probed = True
        try:
            self._resolve()
        except Exception as exc:
            logger.debug("%s: queue not resolved yet (%s)", self.target_description, type(exc).__name__)


__all__ = ["QueueSettings", "queue_target"]

"""SQS: SendMessageBatch, 10 messages and 1 MiB per call, for standard and FIFO queues.

The queue is given by name, URL or ARN. Its URL is resolved once (GetQueueUrl for a bare
name); MaximumMessageSize (the largest message the queue takes) and ContentBasedDeduplication
(FIFO) are read once per queue and process (GetQueueAttributes), at the first submit or,
failing that, the first send. Without ``sqs:GetQueueAttributes`` the service limits apply and
sends still work. Large payloads go through S3 with ``large_payload_bucket`` (``large_payloads``,
loaded only then).

Example:
    ```python
    url, region, name = queue_target("arn:aws:sqs:eu-west-1:123456789012:jobs")
    ```
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.arns import parse_arn, sqs_queue_url
from ..core.deadline import NO_DEADLINE
from ..core.limits import SERVICE_LIMITS, SQS_MAX_DELAY_SECONDS
from ..core.retry import ErrorInfo, classify_exception, id_results
from ..engine.dispatcher import BaseDispatcher
from ..errors import ConfigurationError, PayloadError
from .serialization import JSON, check_encoding, payload_to_text, utf8_len

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.packing import Entry
    from .large_payloads import PayloadOffloader

logger = logging.getLogger("lambda_batch.dispatchers.sqs")

# The characters SQS accepts: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
_INVALID_SQS_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
#: The message group of a FIFO message submitted without one (boto3-batch-utils 5.x's default).
DEFAULT_FIFO_GROUP = "unset"
_URL_REGION = re.compile(r"^https?://(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.(?:queue\.)?amazonaws")
_QUEUE_ATTRIBUTES = ["MaximumMessageSize", "FifoQueue", "ContentBasedDeduplication"]

#: What each queue's attributes said (MaximumMessageSize, ContentBasedDeduplication), by queue
#: URL, for the life of the process: a function that makes its dispatcher on every invocation
#: reads them once per execution environment. ``(None, None)`` records that they could not be
#: read (no sqs:GetQueueAttributes): the service limits apply, and the call is not repeated.
_queue_settings: Dict[str, Tuple[Optional[int], Optional[bool]]] = {}


def queue_target(queue_name: str) -> Tuple[Optional[str], Optional[str], str]:
    """``(url or None, region or None, name)`` of a queue given by name, URL or ARN.

    Example:
        ```python
        queue_target("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs")
        # ('https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', 'eu-west-1', 'jobs')
        ```
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


class _SQSDispatcherBase(BaseDispatcher):
    _fifo = False

    def __init__(
        self,
        queue_name: str,
        max_batch_size: int = 10,
        *,
        large_payload_bucket: Optional[str] = None,
        large_payload_threshold: Optional[int] = None,
        large_payload_prefix: str = "",
        payload_encoding: str = JSON,
        **kwargs: Any,
    ) -> None:
        #: How a payload becomes the body: ``"json"`` (boto3-batch-utils' ``json.dumps``) or ``"raw"``.
        self.payload_encoding = check_encoding(payload_encoding)
        if not isinstance(queue_name, str) or not queue_name:
            raise ConfigurationError("queue_name must be a queue name, URL or ARN")
        self.queue_name = queue_name
        self._queue_owner: Optional[str] = None
        self._queue_url, region, name = queue_target(queue_name)
        if name.endswith(".fifo") != self._fifo:
            other = "SQSFifoBatchDispatcher" if not self._fifo else "SQSBatchDispatcher"
            kind = "a FIFO" if not self._fifo else "a standard"
            raise ConfigurationError(f"{queue_name!r} names {kind} queue: use {other}")
        self.target_description = f"SQS queue {name}"
        self._max_message_size: Optional[int] = None
        self._content_based_dedup: Optional[bool] = None
        self._attributes_read = False
        self._probed = False
        self._queue_lock = threading.Lock()
        super().__init__(
            "sqs",
            SERVICE_LIMITS["sqs"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", region),
            **kwargs,
        )
        self._offloader: Optional[PayloadOffloader] = None
        if large_payload_bucket is not None or large_payload_threshold is not None or large_payload_prefix:
            from .large_payloads import offloader_option  # loaded only with large payloads on

            self._offloader = offloader_option(
                self, large_payload_bucket, large_payload_threshold, large_payload_prefix, kwargs
            )

    def _item_limit(self) -> int:
        limit = min(self.limits.max_item_bytes, self.max_batch_bytes)
        if self._max_message_size is not None:
            limit = min(limit, self._max_message_size)
        return limit

    # -- the queue: its URL and settings, resolved lazily and once ------------------------

    @property
    def queue_url(self) -> Optional[str]:
        """The queue's URL (``None`` until resolved from its name at first use)."""
        return self._queue_url

    def _prepare(self) -> None:
        if self._queue_url is None or not self._attributes_read:
            self._resolve()

    def _resolve(self) -> None:
        """Resolve the queue's URL and read its MaximumMessageSize and ContentBasedDeduplication
        (once per queue and process; without that permission the service limits apply)."""
        with self._queue_lock:
            client = self.client
            if self._queue_url is None:
                self._queue_url = str(client.get_queue_url(QueueName=self.queue_name)["QueueUrl"])
            if self._attributes_read:
                return
            known = _queue_settings.get(self._queue_url)
            if known is None:
                try:
                    response = client.get_queue_attributes(
                        QueueUrl=self._queue_url, AttributeNames=_QUEUE_ATTRIBUTES
                    )
                except Exception as exc:
                    error = classify_exception(exc)
                    if error.retryable:
                        raise
                    logger.info(
                        "%s: cannot read queue attributes (%s); using the service limits",
                        self.target_description,
                        error.code,
                    )
                    known = (None, None)
                else:
                    attributes = response.get("Attributes", {})
                    size, dedup = (
                        attributes.get("MaximumMessageSize"),
                        attributes.get("ContentBasedDeduplication"),
                    )
                    known = (
                        int(size) if size is not None else None,
                        None if dedup is None else dedup == "true",
                    )
                _queue_settings[self._queue_url] = known
            max_message_size, content_based_dedup = known
            if max_message_size is not None:
                self._max_message_size = max_message_size
                buffer = self._buffer  # the queue may take less than the service: the new largest item
                buffer.item_limit = min(buffer.item_limit, max_message_size)
            if content_based_dedup is not None:
                self._content_based_dedup = content_based_dedup
            self._attributes_read = True

    def _probe(self) -> None:
        """At the first submit, learn the queue's settings (once; failures wait for the first send).

        Not while the deadline is within the retry policy's margin: no call starts then.
        """
        deadline = self._deadline
        if deadline is not NO_DEADLINE and deadline.expired(self.retry_policy.deadline_margin):
            return
        self._probed = True
        try:
            self._resolve()
        except Exception as exc:
            logger.debug("%s: queue not resolved yet (%s)", self.target_description, type(exc).__name__)

    # -- building and sending -----------------------------------------------------------

    def _build(
        self,
        payload: Any,
        message_id: Optional[str],
        message_attributes: Optional[Mapping[str, Any]],
    ) -> Tuple[Dict[str, Any], int, Optional[str]]:
        if not self._probed:
            self._probe()
        body = payload_to_text(payload, self.payload_encoding)
        record_id = None if message_id is None else _record_id(message_id)
        label = record_id or "message"
        if not body:
            raise PayloadError(f"{label}: an SQS message body must not be empty")
        attributes: Optional[Dict[str, Any]] = None
        attributes_size = 0
        if message_attributes:
            from .message_attributes import normalise_message_attributes

            attributes, attributes_size = normalise_message_attributes(message_attributes)
        offloader = self._offloader
        if offloader is not None:
            offloader.check_attributes(attributes, label)
            if offloader.should_offload(utf8_len(body) + attributes_size, self._item_limit()):
                offloaded, size = offloader.pointer_request(
                    {}, "MessageBody", body, attributes, attributes_size, label=label
                )
                return offloaded, size, record_id
        bad = _INVALID_SQS_CHARS.search(body)
        if bad is not None:
            raise PayloadError(
                f"{label}: character U+{ord(bad.group()):04X} at position {bad.start()} is not allowed in an "
                "SQS message"
            )
        request: Dict[str, Any] = {"MessageBody": body}
        if attributes:
            request["MessageAttributes"] = attributes
        return request, utf8_len(body) + attributes_size, record_id

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        if self._offloader is not None:
            from .large_payloads import send_offloaded

            return send_offloaded(self, self._offloader, entries, self._call, _batch_results)
        batch = [dict(entry.request, Id=str(index)) for index, entry in enumerate(entries)]
        return id_results(len(entries), client.send_message_batch(QueueUrl=self._queue_url, Entries=batch))

    def _call(self, client: Any, batch: List[Dict[str, Any]]) -> Any:
        return client.send_message_batch(QueueUrl=self._queue_url, Entries=batch)


class SQSBatchDispatcher(_SQSDispatcherBase):
    """Sends to a standard SQS queue with SendMessageBatch: 10 messages and 1 MiB per call.

    ``queue_name`` is the queue's name, URL or ARN; a name is resolved with GetQueueUrl at
    first use, and the queue's MaximumMessageSize is read once (GetQueueAttributes; without
    that permission the service's 1 MiB applies). Messages are sized as SQS sizes them: body
    plus attributes.

    Fair queues: ``message_group_id=`` (or ``default_message_group_id`` given here) is sent as
    ``MessageGroupId``, with which SQS shares consumers fairly among groups (tenants) of a
    standard queue. It sets no order: messages of a group may arrive in any order, as on any
    standard queue. A message sent through S3 keeps its group.

    Example:
        ```python
        sqs = SQSBatchDispatcher("jobs")
        for job in jobs:
            sqs.submit_payload(job, message_group_id=job["tenant"])
        not_sent = sqs.flush_payloads()     # the very dicts submitted, if any failed
        ```
    """

    def __init__(
        self,
        queue_name: str,
        max_batch_size: int = 10,
        *,
        default_message_group_id: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        if default_message_group_id is not None and not _valid_group(default_message_group_id):
            raise ConfigurationError(f"default_message_group_id: {_GROUP_RULE}")
        super().__init__(queue_name, max_batch_size, **kwargs)
        self.default_message_group_id = default_message_group_id

    def submit_payload(
        self,
        payload: Any,
        message_id: Optional[str] = None,
        delay_seconds: Optional[int] = None,
        message_attributes: Optional[Mapping[str, Any]] = None,
        *,
        message_group_id: Optional[str] = None,
    ) -> None:
        """Buffer one message: ``payload`` is JSON-able (a ``str`` included) or UTF-8 ``bytes`` (sent as is).

        The body is ``json.dumps(payload)``, as boto3-batch-utils sends it; with
        ``payload_encoding="raw"`` a ``str`` is sent as it is and other payloads as compact JSON.

        ``message_id`` names the message in logs and in `unprocessed_details` (batch entry
        ids are assigned internally, so they never clash); ``delay_seconds`` is 0 to 900;
        ``message_group_id`` is the message's fair-queue group (its tenant), 1 to 128 characters.
        Raises `PayloadError` for a payload that cannot be sent.
        """
        group = message_group_id if message_group_id is not None else self.default_message_group_id
        if group is not None and not _valid_group(group):
            raise PayloadError(f"{message_id or 'message'}: message_group_id: {_GROUP_RULE}")
        request, size, record_id = self._build(payload, message_id, message_attributes)
        label = record_id or "message"
        if group is not None:
            request["MessageGroupId"] = group
        if delay_seconds is not None:
            if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int):
                raise PayloadError(f"{label}: delay_seconds must be an integer")
            if not 0 <= delay_seconds <= SQS_MAX_DELAY_SECONDS:
                raise PayloadError(f"{label}: delay_seconds must be 0 to {SQS_MAX_DELAY_SECONDS}")
            request["DelaySeconds"] = delay_seconds
        self._add(payload, request, size, record_id=record_id)


class SQSFifoBatchDispatcher(_SQSDispatcherBase):
    """Sends to a FIFO SQS queue; order is kept per message group, even with ``max_workers`` > 1.

    A message's group is ``message_group_id=``, else ``default_message_group_id`` given here,
    which is ``"unset"`` unless told otherwise (boto3-batch-utils' documented default: every
    message in one group, so in one strict order).

    Deduplication: a message given no ``message_deduplication_id`` gets one of its own, made
    when it is submitted and kept across its retries (a retry after a timeout is not stored
    twice; two identical payloads are two messages). When the queue does content-based
    deduplication, no id is sent and SQS hashes the body itself; with
    ``deduplicate_by_content=True`` the id is the SHA-256 of the body, so identical bodies
    within SQS's 5-minute window are stored once. Resubmitting an item handed back by
    `flush_payloads` makes a new message unless you give it your own id.

    A message that cannot be delivered (refused by SQS, retries exhausted, or the deadline)
    halts its group until the next `flush_payloads`: the group's later messages are not
    sent but returned by it, as submitted and in order, with code ``FifoGroupHalted`` and a
    message naming the ``message_id`` (or ``item #n``) that failed. Other groups go on. Only
    messages of the same group carried by the very call that failed may already have been
    accepted by SQS; a failed message is then returned, never sent again behind them.

    Example:
        ```python
        fifo = SQSFifoBatchDispatcher("orders.fifo")
        fifo.submit_payload({"order": 7}, message_group_id="customer-42")
        fifo.flush_payloads()
        ```
    """

    _fifo = True
    _halts_groups = True

    def __init__(
        self,
        queue_name: str,
        max_batch_size: int = 10,
        *,
        default_message_group_id: Optional[str] = DEFAULT_FIFO_GROUP,
        deduplicate_by_content: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(deduplicate_by_content, bool):
            raise ConfigurationError("deduplicate_by_content must be True or False")
        super().__init__(queue_name, max_batch_size, **kwargs)
        self.default_message_group_id = default_message_group_id
        self.deduplicate_by_content = deduplicate_by_content

    def submit_payload(
        self,
        payload: Any,
        message_id: Optional[str] = None,
        message_group_id: Optional[str] = None,
        message_deduplication_id: Optional[str] = None,
        message_attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Buffer one message of group ``message_group_id``; see `SQSBatchDispatcher`."""
        request, size, record_id = self._build(payload, message_id, message_attributes)
        label = record_id or "message"
        group = message_group_id if message_group_id is not None else self.default_message_group_id
        if not isinstance(group, str) or not 1 <= len(group) <= 128:
            raise PayloadError(f"{label}: a FIFO message needs a message_group_id of 1 to 128 characters")
        request["MessageGroupId"] = group
        if message_deduplication_id is not None:
            if not isinstance(message_deduplication_id, str) or not 1 <= len(message_deduplication_id) <= 128:
                raise PayloadError(f"{label}: message_deduplication_id must be 1 to 128 characters")
            request["MessageDeduplicationId"] = message_deduplication_id
        elif self._offloader is not None and (data := self._offloader.offloaded(request)) is not None:
            # the pointer's key is random: hash the payload
            request["MessageDeduplicationId"] = deduplication_id(
                data, self.deduplicate_by_content or self._content_based_dedup is True
            )
        elif self._content_based_dedup is not True:  # the queue hashes bodies itself when it is True
            request["MessageDeduplicationId"] = deduplication_id(
                request["MessageBody"], self.deduplicate_by_content
            )
        self._add(payload, request, size, record_id=record_id, order_key=group)


_GROUP_RULE = "must be 1 to 128 characters, letters, digits or ASCII punctuation"
_GROUP_PATTERN = re.compile(r"[!-~]{1,128}")


def _valid_group(group: Any) -> bool:
    """A MessageGroupId SQS takes: 1 to 128 of the ASCII characters ``!`` to ``~``."""
    return isinstance(group, str) and _GROUP_PATTERN.fullmatch(group) is not None


def deduplication_id(body: str, by_content: bool) -> str:
    """A FIFO message's deduplication id: the SHA-256 of ``body`` when ``by_content``, else one
    of its own (random), made once at submit so that its retries keep it."""
    if by_content:
        return hashlib.sha256(body.encode("utf-8")).hexdigest()
    return uuid.uuid4().hex


def _record_id(message_id: Optional[str]) -> Optional[str]:
    if message_id is None:
        return None
    if not isinstance(message_id, str) or not _ID_PATTERN.match(message_id):
        raise PayloadError(f"message_id {message_id!r} must be 1 to 80 letters, digits, '-' or '_'")
    return message_id


def _batch_results(count: int, response: Mapping[str, Any]) -> List[Optional[ErrorInfo]]:
    """Per-entry results of SendMessageBatch / PublishBatch (entries have ids "0", "1", ...)."""
    return id_results(count, dict(response))

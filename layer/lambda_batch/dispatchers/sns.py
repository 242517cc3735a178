"""SNS: PublishBatch, 10 messages per call, within the topic's MaximumMessageSize (256 KiB by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.arns import parse_arn
from ..core.limits import SERVICE_LIMITS, SNS_DEFAULT_MESSAGE_SIZE
from ..core.retry import ErrorInfo
from ..engine.dispatcher import BaseDispatcher
from ..errors import ConfigurationError, PayloadError
from .message_attributes import normalise_message_attributes
from .serialization import RAW, check_encoding, payload_to_text, utf8_len
from .sns_topic import TopicSettings
from .sqs import _batch_results, _record_id, deduplication_id

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.packing import Entry
    from .large_payloads import PayloadOffloader


class SNSBatchDispatcher(TopicSettings, BaseDispatcher):
    """Publishes to an SNS topic with PublishBatch: 10 messages per call, within the topic's size.

    The topic's ``MaximumMessageSize`` (up to 1 MiB; 256 KiB by default) is read once per topic
    and process with GetTopicAttributes, at the first submit: it is the largest message, and
    the most a batch's messages take together. Without ``sns:GetTopicAttributes`` 256 KiB
    applies and publishing still works.

    The payload is the message (a ``str`` as is, anything else as JSON). ``topic_arn`` is the
    topic's ARN. For a FIFO topic (``.fifo``) every message needs a group id and order is kept
    per group; a message given no deduplication id gets one of its own, made at submit and kept
    across its retries (``deduplicate_by_content=True``: the SHA-256 of the message instead).
    A FIFO message that cannot be published halts its group until the next
    `flush_payloads`, as with `SQSFifoBatchDispatcher`: the group's later messages
    come back unsent with code ``FifoGroupHalted``.

    Example:
        ```python
        sns = SNSBatchDispatcher("arn:aws:sns:eu-west-1:123456789012:alerts")
        sns.submit_payload(
            {"alert": "disk full"},
            subject="disk",
            message_attributes={"severity": "high"},
        )
        sns.flush_payloads()
        ```
    """

    def __init__(
        self,
        topic_arn: str,
        max_batch_size: int = 10,
        *,
        default_message_group_id: Optional[str] = None,
        deduplicate_by_content: bool = False,
        large_payload_bucket: Optional[str] = None,
        large_payload_threshold: Optional[int] = None,
        large_payload_prefix: str = "",
        payload_encoding: str = RAW,
        **kwargs: Any,
    ) -> None:
        #: How a payload becomes the message: ``"raw"`` (a ``str`` as is) or ``"json"`` (``json.dumps``).
        self.payload_encoding = check_encoding(payload_encoding)
        if not isinstance(deduplicate_by_content, bool):
            raise ConfigurationError("deduplicate_by_content must be True or False")
        self.deduplicate_by_content = deduplicate_by_content
        try:
            arn = parse_arn(topic_arn)
        except ValueError as exc:
            raise ConfigurationError(f"topic_arn must be an SNS topic ARN: {exc}") from None
        if arn.service != "sns":
            raise ConfigurationError(f"not an SNS topic ARN: {topic_arn!r}")
        self.topic_arn = topic_arn
        self.fifo = arn.resource.endswith(".fifo")
        self._halts_groups = self.fifo
        self.default_message_group_id = default_message_group_id
        self.target_description = f"SNS topic {arn.resource}"
        super().__init__(
            "sns",
            SERVICE_LIMITS["sns"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", arn.region or None),
            **kwargs,
        )
        self._init_topic()
        self._offloader: Optional[PayloadOffloader] = None
        if large_payload_bucket is not None or large_payload_threshold is not None or large_payload_prefix:
            from .large_payloads import offloader_option  # loaded only with large payloads on

            self._offloader = offloader_option(
                self, large_payload_bucket, large_payload_threshold, large_payload_prefix, kwargs
            )

    def _item_limit(self) -> int:
        return min(self.limits.max_item_bytes_ceiling, self.max_batch_bytes)

    def _check_size(self, size: int, record_id: str) -> None:
        limit = self._item_limit()
        if size <= limit:
            return
        if self._batch_bytes_setting < (self._topic_message_size or SNS_DEFAULT_MESSAGE_SIZE):
            name = f"max_batch_bytes setting ({limit} bytes)"
        else:
            name = f"{self.limits.item_limit_name}: {limit} bytes"
        raise PayloadError(f"{record_id} is {size} bytes, over the {name}")

    def submit_payload(
        self,
        payload: Any,
        message_id: Optional[str] = None,
        *,
        subject: Optional[str] = None,
        message_attributes: Optional[Mapping[str, Any]] = None,
        message_structure: Optional[str] = None,
        message_group_id: Optional[str] = None,
        message_deduplication_id: Optional[str] = None,
    ) -> None:
        """Buffer one message; raise PayloadError for one that cannot be published.

        ``message_id`` names it in logs and in `unprocessed_details`; ``message_structure``
        may be ``"json"`` (then the payload maps protocols to messages).
        """
        record_id = _record_id(message_id)
        label = record_id or "message"
        message = payload_to_text(payload, self.payload_encoding)
        if not message:
            raise PayloadError(f"{label}: an SNS message must not be empty")
        self._probe_topic()
        attributes, attributes_size = normalise_message_attributes(message_attributes)
        size = attributes_size + utf8_len(message)
        request: Dict[str, Any] = {"Message": message}
        if attributes:
            request["MessageAttributes"] = attributes
        if subject is not None:
            if not isinstance(subject, str) or not 1 <= len(subject) <= 100:
                raise PayloadError(f"{label}: subject must be 1 to 100 characters")
            request["Subject"] = subject
            size += utf8_len(subject)
        if message_structure is not None:
            request["MessageStructure"] = message_structure
        if self._offloader is not None:
            request, size = self._offload(
                request, message, attributes, size, message_structure=message_structure, label=label
            )
        group = message_group_id if message_group_id is not None else self.default_message_group_id
        self._group_fields(request, group, message_deduplication_id, message, label)
        self._add(payload, request, size, record_id=record_id, order_key=group if self.fifo else None)

    def _offload(
        self,
        request: Dict[str, Any],
        message: str,
        attributes: Any,
        size: int,
        *,
        message_structure: Optional[str],
        label: str,
    ) -> Tuple[Dict[str, Any], int]:
        """``large_payload_bucket``: the request with the message in S3 when it is over the threshold."""
        offloader = self._offloader
        assert offloader is not None  # called only with one
        offloader.check_attributes(attributes, label)
        if not offloader.should_offload(size, self._item_limit()):
            return request, size
        if message_structure is not None:
            raise PayloadError(
                f"{label}: a message with message_structure cannot be sent through S3 (it is "
                f"{size} bytes, over the large payload threshold)"
            )
        others = size - utf8_len(message)  # the attributes and the subject
        return offloader.pointer_request(request, "Message", message, attributes, others, label=label)

    def _group_fields(
        self,
        request: Dict[str, Any],
        group: Optional[str],
        message_deduplication_id: Optional[str],
        message: str,
        label: str,
    ) -> None:
        """Set MessageGroupId and MessageDeduplicationId (FIFO topics), refusing what does not fit."""
        if not self.fifo:
            if group is not None:
                request["MessageGroupId"] = group
            if message_deduplication_id is not None:
                raise PayloadError(f"{label}: message_deduplication_id is for FIFO topics only")
            return
        if not isinstance(group, str) or not 1 <= len(group) <= 128:
            raise PayloadError(
                f"{label}: a FIFO topic message needs a message_group_id of 1 to 128 characters"
            )
        request["MessageGroupId"] = group
        if message_deduplication_id is None:  # an offloaded pointer's key is random: hash the payload
            request["MessageDeduplicationId"] = deduplication_id(message, self.deduplicate_by_content)
            return
        if not isinstance(message_deduplication_id, str) or not 1 <= len(message_deduplication_id) <= 128:
            raise PayloadError(f"{label}: message_deduplication_id must be 1 to 128 characters")
        request["MessageDeduplicationId"] = message_deduplication_id

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        if self._offloader is not None:
            from .large_payloads import send_offloaded

            return send_offloaded(self, self._offloader, entries, self._call, _batch_results)
        return _batch_results(
            len(entries), self._call(client, [dict(e.request, Id=str(i)) for i, e in enumerate(entries)])
        )

    def _call(self, client: Any, batch: List[Dict[str, Any]]) -> Any:
        return client.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=batch)

"""Errors raised by slhf_client.

Every error derives from :class:`SlhfClientError`. Reasons are the strings the service
uses for its dead-letter counter (``slhf_ingest_dead_lettered_total{reason}``), so a
rejection here and there can be compared by name.
"""

from __future__ import annotations


class SlhfClientError(Exception):
    """SlhfClientError is the base class of every error this package raises."""


class ValidationError(SlhfClientError, ValueError):
    """ValidationError says a record batch breaks its schema's rules.

    Attributes:
        reason: the service's name for the fault, e.g. ``"empty_text"``,
            ``"preference_out_of_range"``, ``"wrong_type"``.
        field: the column at fault, or ``""`` when the fault is not a column's.
        row: index of the first failing row within the batch or table, or ``None``
            when the fault is the schema's.
    """

    def __init__(self, reason: str, field: str = "", row: int | None = None, detail: str = ""):
        self.reason = reason
        self.field = field
        self.row = row
        self.detail = detail
        where = f" in {field!r}" if field else ""
        at = f" at row {row}" if row is not None else ""
        more = f": {detail}" if detail else ""
        super().__init__(f"{reason}{where}{at}{more}")


class DecodeError(ValidationError):
    """DecodeError says a message value is not a valid slhf Arrow IPC stream.

    It carries a reason as :class:`ValidationError` does; besides the row-level reasons,
    ``"empty_message"``, ``"oversized_message"``, ``"corrupt_ipc"``, ``"wrong_schema"``,
    ``"unknown_version"`` and ``"missing_field"`` name faults of the message as a whole.
    """


class MessageTooLargeError(SlhfClientError):
    """MessageTooLargeError says one row alone does not fit the message size limit.

    Attributes:
        row: index of the row in the input.
        size: bytes of the one-row message.
        limit: the limit in bytes.
    """

    def __init__(self, row: int, size: int, limit: int):
        self.row, self.size, self.limit = row, size, limit
        super().__init__(f"row {row} alone encodes to {size} bytes > limit {limit}")


class DeliveryError(SlhfClientError):
    """DeliveryError says the broker did not acknowledge one or more messages.

    Attributes:
        failures: list of ``(message index, KafkaError or str)`` pairs, in send order.
    """

    def __init__(self, failures: list[tuple[int, object]]):
        self.failures = failures
        first = failures[0] if failures else (None, "unknown")
        super().__init__(
            f"{len(failures)} message(s) not delivered; first: message {first[0]}: {first[1]}"
        )

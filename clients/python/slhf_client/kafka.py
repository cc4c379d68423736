"""Kafka I/O with confluent-kafka: send record batches, read refined.v1 back.

Both classes own one librdkafka client each; neither is safe for concurrent use from
several threads without outside locking. Use them as context managers, or call close().
confluent_kafka is imported on first use, so the rest of the package works without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from slhf_client import ipc
from slhf_client import schemas as sc
from slhf_client.errors import DecodeError, DeliveryError
from slhf_client.records import DEFAULT_LIMITS, Limits

CONTENT_TYPE = "application/vnd.apache.arrow.stream"
"""CONTENT_TYPE is the value of the content-type header on every message sent."""


class FeedbackProducer:
    """FeedbackProducer sends preference.v1 and response.v1 batches to Kafka.

    Every send waits for the broker's acknowledgement of every message (acks=all,
    idempotent producer) and raises DeliveryError if any was refused or timed out, so
    a returned send means the rows are durably in the topic.

    Args:
        brokers: bootstrap servers, e.g. ``"127.0.0.1:9092"``.
        max_message_bytes: upper bound of one message value (default
            ipc.DEFAULT_MAX_MESSAGE_BYTES); batches are split to stay under it.
        compression: Arrow IPC body compression, None (default), "lz4" or "zstd".
        limits: row rules to check before sending (default: the service's defaults).
        config: extra librdkafka settings; they override the defaults above.
    """

    def __init__(
        self,
        brokers: str,
        *,
        max_message_bytes: int = ipc.DEFAULT_MAX_MESSAGE_BYTES,
        compression: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
        config: Mapping[str, Any] | None = None,
    ):
        from confluent_kafka import Producer

        conf = {
            "bootstrap.servers": brokers,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 30000,
            "client.id": "slhf-client-python",
        }
        conf.update(config or {})
        self._producer = Producer(conf)
        self._max = max_message_bytes
        self._limits = limits
        self._compression = compression
        self._closed = False

    def send(
        self,
        topic: str,
        data: pa.RecordBatch | pa.Table,
        *,
        key: bytes | str | None = None,
        timeout: float = 30.0,
    ) -> int:
        """send validates data, splits it into messages and delivers them to topic.

        The kind comes from the schema metadata; refined.v1 is accepted too (for test
        fixtures). key, if given, is set on every message (one partition, in order).
        Waits at most timeout seconds for acknowledgements. Returns the number of
        messages sent (0 for no rows). Raises ValidationError, MessageTooLargeError,
        DeliveryError.
        """
        from slhf_client.records import validate

        # validate first: a batch split into several messages is accepted whole or not sent.
        validate(data, limits=self._limits)
        msgs = ipc.split_messages(data, self._max, compression=self._compression)
        return self.send_raw(topic, msgs, key=key, timeout=timeout)

    def send_raw(
        self,
        topic: str,
        values: list[bytes],
        *,
        key: bytes | str | None = None,
        timeout: float = 30.0,
    ) -> int:
        """send_raw delivers already-encoded message values, unchecked (for tests of the
        service's dead-letter path). Raises DeliveryError as send does."""
        failures: list[tuple[int, object]] = []
        for i, v in enumerate(values):
            self._produce(topic, v, key, i, failures)
        left = self._producer.flush(timeout)
        if left:
            failures.append((-1, f"{left} message(s) unacknowledged after {timeout}s"))
        if failures:
            raise DeliveryError(sorted(failures, key=lambda f: f[0]))
        return len(values)

    def _produce(self, topic: str, value: bytes, key: Any, i: int, failures: list) -> None:
        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append((i, err))

        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, on_delivery=on_delivery,
                    headers=[("content-type", CONTENT_TYPE)],
                )
                break
            except BufferError:
                # The local queue is full: serve delivery reports, then retry.
                self._producer.poll(0.1)
            except Exception as e:  # KafkaException: e.g. message over the limit
                failures.append((i, e))
                break
        self._producer.poll(0)

    def close(self, timeout: float = 10.0) -> None:
        """close flushes outstanding messages for up to timeout seconds; idempotent."""
        if not self._closed:
            self._closed = True
            self._producer.flush(timeout)

    def __enter__(self) -> FeedbackProducer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RefinedConsumer:
    """RefinedConsumer reads and validates refined.v1 messages from a topic.

    It joins consumer group group_id and starts from the earliest offset when the group
    has none. Offsets are committed after a message was decoded and handed out (at
    least once). A message that fails validation raises DecodeError with its topic,
    partition and offset in ``detail``; with ``skip_invalid=True`` it is counted in
    ``invalid`` and skipped instead.

    Args:
        brokers: bootstrap servers.
        topic: the refined topic.
        group_id: consumer group.
        skip_invalid: skip (and count) invalid messages instead of raising.
        limits: the decoder's limits (default: the service's defaults).
        config: extra librdkafka settings.
    """

    def __init__(
        self,
        brokers: str,
        topic: str,
        group_id: str,
        *,
        skip_invalid: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        config: Mapping[str, Any] | None = None,
    ):
        from confluent_kafka import Consumer

        conf = {
            "bootstrap.servers": brokers,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "client.id": "slhf-client-python",
        }
        conf.update(config or {})
        self._consumer = Consumer(conf)
        self._consumer.subscribe([topic])
        self._skip = skip_invalid
        self._limits = limits
        self.invalid = 0
        self._closed = False

    def tables(self, timeout: float = 10.0, idle: float = 2.0) -> Iterator[pa.Table]:
        """tables yields one validated table per message until timeout seconds pass in
        total or no message arrives for idle seconds (after the first one)."""
        import time

        deadline = time.monotonic() + timeout
        last = None  # time of the last message, None before the first
        while (now := time.monotonic()) < deadline:
            if last is not None and now - last >= idle:
                return
            msg = self._consumer.poll(min(deadline - now, 1.0))
            if msg is None:
                continue
            last = time.monotonic()
            table = self._decode(msg)
            if table is not None:
                yield table
            self._consumer.commit(message=msg, asynchronous=False)

    def read(self, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """read returns the first n refined rows (or fewer if timeout seconds pass)."""
        import time

        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(rows) < n and (left := deadline - time.monotonic()) > 0:
            msg = self._consumer.poll(min(left, 1.0))
            if msg is None:
                continue
            table = self._decode(msg)
            if table is not None:
                rows.extend(table.to_pylist())
            self._consumer.commit(message=msg, asynchronous=False)
        return rows

    def _decode(self, msg: Any) -> pa.Table | None:
        from confluent_kafka import KafkaError, KafkaException

        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                return None
            raise KafkaException(msg.error())
        try:
            return ipc.decode_message(msg.value() or b"", sc.REFINED, self._limits)
        except DecodeError as e:
            if not self._skip:
                e.detail = f"{msg.topic()}/{msg.partition()}@{msg.offset()}: {e.detail}"
                raise
            self.invalid += 1
            return None

    def close(self) -> None:
        """close leaves the group and releases the client; idempotent."""
        if not self._closed:
            self._closed = True
            self._consumer.close()

    def __enter__(self) -> RefinedConsumer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

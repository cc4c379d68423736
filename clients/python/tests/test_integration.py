"""Integration tests against a real Kafka broker named by SLHF_KAFKA_BROKERS.

Start one with ``scripts/kafka/broker.sh start 4.4.0 19092 /tmp/k`` and export
``SLHF_KAFKA_BROKERS=127.0.0.1:19092``. Each test creates its own topics.
"""

import os
import uuid

import pytest

import slhf_client as c
from conftest import preference_row, refined_row

BROKERS = os.environ.get("SLHF_KAFKA_BROKERS", "")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not BROKERS, reason="SLHF_KAFKA_BROKERS not set; no broker to test"),
]


@pytest.fixture
def topic():
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"slhf-py-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": BROKERS})
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


def _consume_all(topic, n_msgs, timeout=30.0):
    import time

    from confluent_kafka import Consumer

    cons = Consumer({"bootstrap.servers": BROKERS, "group.id": f"g-{uuid.uuid4().hex}",
                     "auto.offset.reset": "earliest"})
    cons.subscribe([topic])
    out, deadline = [], time.monotonic() + timeout
    try:
        while len(out) < n_msgs and time.monotonic() < deadline:
            m = cons.poll(1.0)
            if m is not None and m.error() is None:
                out.append(m)
    finally:
        cons.close()
    return out


def test_preferences_split_sent_and_read_back(topic):
    rows = [preference_row(i, response_a=f"{i} " + "long answer " * 400) for i in range(1200)]
    batch = c.build_preferences(rows)
    with c.FeedbackProducer(BROKERS) as p:
        sent = p.send(topic, batch, key="prompt-1")
    assert sent >= 5  # ~5.8 MB of rows under a 960 kB limit
    msgs = _consume_all(topic, sent)
    assert len(msgs) == sent
    assert len({m.partition() for m in msgs}) == 1  # one key, one partition, in order
    assert all(len(m.value()) <= c.ipc.DEFAULT_MAX_MESSAGE_BYTES for m in msgs)
    assert dict(msgs[0].headers())["content-type"] == c.kafka.CONTENT_TYPE.encode()
    ids = [r["event_id"] for m in msgs for r in
           c.decode_message(m.value(), "preference").to_pylist()]
    assert ids == [f"ev-{i}" for i in range(1200)]


def test_refined_consumer_reads_and_validates(topic):
    batch = c.build_refined([refined_row(i) for i in range(10)])
    with c.FeedbackProducer(BROKERS) as p:
        p.send(topic, batch)
        p.send_raw(topic, [b"not arrow"])
    with c.RefinedConsumer(BROKERS, topic, f"g-{uuid.uuid4().hex}", skip_invalid=True) as rc:
        rows = rc.read(10, timeout=30)
        assert sorted(r["request_id"] for r in rows) == sorted(f"req-{i}" for i in range(10))
        assert rows[0]["follower_prob"] == 0.625
        # The garbage message lands in some partition; drain until it is counted.
        list(rc.tables(timeout=10, idle=3))
        assert rc.invalid == 1


def test_refined_consumer_raises_on_invalid(topic):
    with c.FeedbackProducer(BROKERS) as p:
        p.send_raw(topic, [c.encode_stream(c.build_preferences([preference_row()]))])
    with c.RefinedConsumer(BROKERS, topic, f"g-{uuid.uuid4().hex}") as rc:
        with pytest.raises(c.DecodeError) as ei:
            rc.read(1, timeout=20)
    assert ei.value.reason == "wrong_schema" and topic in ei.value.detail


def test_broker_rejects_too_large_message(topic):
    # Let the client pass 1.1 MB so the broker's own 1 MiB limit is what refuses it.
    with c.FeedbackProducer(BROKERS, config={"message.max.bytes": 2_000_000}) as p:
        with pytest.raises(c.DeliveryError) as ei:
            p.send_raw(topic, [b"x" * 1_100_000], timeout=20)
    err = ei.value.failures[0][1]
    assert getattr(err, "name", lambda: str(err))() == "MSG_SIZE_TOO_LARGE", err


def test_unknown_topic_is_an_error():
    from confluent_kafka.admin import AdminClient

    name = f"slhf-py-missing-{uuid.uuid4().hex[:8]}"
    with c.FeedbackProducer(BROKERS, config={"message.timeout.ms": 5000}) as p:
        try:
            p.send(name, c.build_preferences([preference_row()]), timeout=15)
        except c.DeliveryError as e:
            # librdkafka waits for the topic to appear, then times the message out.
            assert any(s in str(e.failures[0][1]) for s in ("UNKNOWN_TOPIC", "_MSG_TIMED_OUT")), e
            return
    topics = AdminClient({"bootstrap.servers": BROKERS}).list_topics(timeout=10).topics
    if name in topics:
        pytest.skip("broker auto-creates topics; nothing to assert")
    pytest.fail("send to a missing topic reported success")

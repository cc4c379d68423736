"""Unit tests of IPC encoding, splitting and strict decoding; no Kafka needed."""

import pathlib
import random

import pyarrow as pa
import pytest

import slhf_client as c
from conftest import preference_row, refined_row

TESTDATA = pathlib.Path(__file__).parent / "testdata"


def _big_rows(n, text_bytes):
    return [preference_row(i, response_a=f"{i}:" + "x" * text_bytes) for i in range(n)]


@pytest.mark.parametrize(
    "n,text_bytes,max_bytes,max_rows",
    [
        (400, 3000, 100_000, 10_000),  # bytes bound
        (50, 10, 1_000_000, 7),  # rows bound
        (300, 0, c.ipc.DEFAULT_MAX_MESSAGE_BYTES, 10_000),  # fits in one
    ],
)
def test_split_respects_limits_and_order(n, text_bytes, max_bytes, max_rows):
    batch = c.build_preferences(_big_rows(n, text_bytes))
    msgs = c.split_messages(batch, max_bytes=max_bytes, max_rows=max_rows)
    assert all(len(m) <= max_bytes for m in msgs)
    tables = [c.decode_message(m, "preference") for m in msgs]
    assert all(t.num_rows <= max_rows for t in tables)
    ids = [r["event_id"] for t in tables for r in t.to_pylist()]
    assert ids == [f"ev-{i}" for i in range(n)]
    whole = len(c.encode_stream(batch))
    # No piece is needlessly small: the count is near the lower bound.
    assert len(msgs) <= max(2 * whole // max_bytes + 1, -(-n // max_rows))


def test_split_uneven_rows():
    rows = _big_rows(60, 10) + _big_rows(5, 60_000) + _big_rows(60, 10)
    msgs = c.split_messages(c.build_preferences(rows), max_bytes=150_000)
    assert all(len(m) <= 150_000 for m in msgs)
    assert sum(c.decode_message(m, "preference").num_rows for m in msgs) == 125


def test_split_single_row_too_large():
    batch = c.build_preferences(_big_rows(3, 60_000))
    with pytest.raises(c.MessageTooLargeError) as ei:
        c.split_messages(batch, max_bytes=50_000)
    assert ei.value.row == 0 and ei.value.size > 50_000


def test_split_empty_gives_nothing():
    assert c.split_messages(c.build_preferences([])) == []


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_compressed_stream_round_trip(compression):
    batch = c.build_preferences(_big_rows(100, 2000))
    msgs = c.split_messages(batch, compression=compression)
    assert len(msgs) == 1 and len(msgs[0]) < len(c.encode_stream(batch)) // 5
    assert c.decode_message(msgs[0], "preference").num_rows == 100


def _good():
    return c.encode_stream(c.build_preferences([preference_row(0), preference_row(1)]))


BAD_MESSAGES = [
    (lambda g: b"", "preference", "empty_message"),
    (lambda g: g[:-8], "preference", "truncated_ipc"),
    (lambda g: g[: len(g) // 2], "preference", "truncated_ipc"),
    (lambda g: g + b"\x01\x02", "preference", "corrupt_ipc"),
    (lambda g: b"\x00" * 64, "preference", "corrupt_ipc"),
    (lambda g: g, "response", "wrong_schema"),
    (lambda g: g, "refined", "wrong_schema"),
    (lambda g: b"x" * (1 << 20 + 1), "preference", "oversized_message"),
    (lambda g: c.encode_stream(c.build_preferences([])), "preference", "empty_message"),
]


@pytest.mark.parametrize("mutate,kind,reason", BAD_MESSAGES)
def test_decode_rejects(mutate, kind, reason):
    with pytest.raises(c.DecodeError) as ei:
        c.decode_message(mutate(_good()), kind)
    assert ei.value.reason == reason


def test_decode_rejects_extra_column_and_nullable_required_with_null():
    batch = c.build_refined([refined_row(0)])
    extra = batch.append_column("colour", pa.array(["blue"]))
    with pytest.raises(c.DecodeError) as ei:
        c.decode_message(c.encode_stream(extra), "refined")
    assert (ei.value.reason, ei.value.field) == ("wrong_schema", "colour")
    # A required column declared nullable (pyarrow's default) is fine without nulls...
    loose = pa.RecordBatch.from_pylist([refined_row(0)], schema=pa.schema(
        [pa.field(f.name, f.type) for f in batch.schema], metadata=batch.schema.metadata))
    assert c.decode_message(c.encode_stream(loose), "refined").num_rows == 1
    # ...but not with one.
    holed = pa.RecordBatch.from_pylist([refined_row(0, reason=None)], schema=loose.schema)
    with pytest.raises(c.DecodeError) as ei:
        c.decode_message(c.encode_stream(holed), "refined")
    assert (ei.value.reason, ei.value.field, ei.value.row) == ("missing_field", "reason", 0)


def test_decode_byte_corruption_only_raises_decode_error():
    """Fuzz-style: single-byte corruptions give a DecodeError or a valid table, never
    another exception (seeded, bounded)."""
    good = _good()
    rnd = random.Random(20260101)
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(400):
        b = bytearray(good)
        b[rnd.randrange(len(b))] = rnd.randrange(256)
        try:
            c.decode_message(bytes(b), "preference")
            outcomes["ok"] += 1
        except c.DecodeError:
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0


def _fixtures():
    return sorted(TESTDATA.glob("*.arrow"))


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.name)
def test_own_fixtures(path):
    kind, verdict, rest = path.stem.split("_", 2)
    if verdict == "good":
        assert c.decode_message(path.read_bytes(), kind).num_rows > 0
    else:
        with pytest.raises(c.DecodeError) as ei:
            c.decode_message(path.read_bytes(), kind)
        assert ei.value.reason == rest


def test_fixtures_exist():
    names = {p.name for p in _fixtures()}
    assert {"preference_good_full.arrow", "refined_good_full.arrow"} <= names
    assert len(names) >= 16

"""Unit tests of schemas, builders and validation; no Kafka needed."""

import datetime as dt
import math

import pyarrow as pa
import pytest

import slhf_client as c
from conftest import TS_MS, preference_row, refined_row, response_row

# The service's schema (schemas/schema.go), spelled as pyarrow prints types.
WANT_TYPES = {
    "preference": [
        ("event_id", "string", False), ("ts", "timestamp[ms, tz=UTC]", False),
        ("prompt", "string", False), ("response_a", "string", False),
        ("response_b", "string", False), ("preference", "float", False),
        ("prompt_id", "string", True), ("model_a", "string", True),
        ("model_b", "string", True), ("role_a", "string", True), ("role_b", "string", True),
        ("prob_a", "float", True), ("prob_b", "float", True),
        ("policy_version", "int64", True), ("weight", "float", True),
        ("annotator", "string", True),
        ("prompt_embedding", "fixed_size_list<item: float>[4]", True),
        ("embedding_a", "fixed_size_list<item: float>[4]", True),
        ("embedding_b", "fixed_size_list<item: float>[4]", True),
    ],
    "response": [
        ("request_id", "string", False), ("ts", "timestamp[ms, tz=UTC]", False),
        ("prompt", "string", False), ("response", "string", False),
        ("candidates", "list<item: string>", True), ("model", "string", True),
        ("prompt_embedding", "fixed_size_list<item: float>[4]", True),
        ("response_embedding", "fixed_size_list<item: float>[4]", True),
    ],
    "refined": [
        ("request_id", "string", False), ("ts", "timestamp[ms, tz=UTC]", False),
        ("prompt", "string", False), ("original", "string", False),
        ("refined", "string", False), ("rounds", "int32", False),
        ("changed", "bool", False), ("follower_prob", "float", False),
        ("model_version", "int64", False), ("latency_us", "int64", False),
        ("reason", "string", False),
    ],
}


@pytest.mark.parametrize("kind", ["preference", "response", "refined"])
def test_schema_matches_service(kind):
    s = c.schemas.schema(kind, 4 if kind != "refined" else 0)
    got = [(f.name, str(f.type), f.nullable) for f in s]
    assert got == WANT_TYPES[kind]
    assert s.metadata == {b"slhf.schema": kind.encode(), b"slhf.version": b"1"}


def test_schema_without_dim_has_no_embeddings():
    names = c.preference_schema().names
    assert "embedding_a" not in names and len(names) == 16


def test_build_preferences_round_trip():
    emb = {"prompt_embedding": [0.1, 0.2, 0.3], "embedding_a": [1, 2, 3], "embedding_b": None}
    rows = [preference_row(0, **emb), preference_row(1, prob_a=None, role_b=None)]
    batch = c.build_preferences(rows)
    assert batch.schema.field("embedding_a").type == pa.list_(pa.float32(), 3)
    back = c.decode_message(c.encode_stream(batch), "preference").to_pylist()
    assert back[0]["ts"] == rows[0]["ts"]
    assert back[0]["embedding_a"] == [1.0, 2.0, 3.0]
    assert back[0]["embedding_b"] is None
    assert math.isclose(back[0]["prompt_embedding"][1], 0.2, rel_tol=1e-6)
    assert back[1]["prob_a"] is None and back[1]["role_b"] is None
    assert back[1]["policy_version"] == 7 and back[1]["preference"] == 0.75


@pytest.mark.parametrize(
    "ts",
    [
        TS_MS,
        dt.datetime(2024, 5, 17, 12, 30, 0, 123000),  # naive: taken as UTC
        dt.datetime(2024, 5, 17, 14, 30, 0, 123456,
                    tzinfo=dt.timezone(dt.timedelta(hours=2))),  # floors to ms
        "2024-05-17T12:30:00.123Z",
    ],
)
def test_timestamp_inputs(ts):
    batch = c.build_preferences([preference_row(ts=ts)])
    assert batch.column("ts").cast(pa.int64())[0].as_py() == TS_MS


BAD_PREFERENCES = [
    # (override, reason, field)
    ({"event_id": ""}, "empty_event_id", "event_id"),
    ({"event_id": None}, "missing_field", "event_id"),
    ({"prompt": ""}, "empty_text", "prompt"),
    ({"response_b": ""}, "empty_text", "response_b"),
    ({"response_a": "x" * (64 * 1024 + 1)}, "oversized_text", "response_a"),
    ({"model_a": "é" * (32 * 1024 + 1)}, "oversized_text", "model_a"),
    ({"preference": float("nan")}, "nan_preference", "preference"),
    ({"preference": 1.5}, "preference_out_of_range", "preference"),
    ({"preference": -0.01}, "preference_out_of_range", "preference"),
    ({"preference": float("inf")}, "preference_out_of_range", "preference"),
    ({"preference": "high"}, "wrong_type", "preference"),
    ({"ts": 0}, "invalid_timestamp", "ts"),
    ({"ts": dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)}, "invalid_timestamp", "ts"),
    ({"ts": "yesterday"}, "wrong_type", "ts"),
    ({"role_a": "boss"}, "invalid_value", "role_a"),
    ({"prob_b": 1.01}, "invalid_value", "prob_b"),
    ({"prob_a": float("nan")}, "invalid_value", "prob_a"),
    ({"policy_version": -1}, "invalid_value", "policy_version"),
    ({"weight": -0.5}, "invalid_value", "weight"),
    ({"weight": float("inf")}, "invalid_value", "weight"),
    ({"embedding_a": [1.0, float("nan")]}, "invalid_embedding", "embedding_a"),
    ({"colour": "blue"}, "wrong_schema", "colour"),
]


@pytest.mark.parametrize("over,reason,field", BAD_PREFERENCES)
def test_bad_preference_rows(over, reason, field):
    rows = [preference_row(0), preference_row(1, **over)]
    with pytest.raises(c.ValidationError) as ei:
        c.build_preferences(rows)
    assert (ei.value.reason, ei.value.field) == (reason, field)
    if reason not in ("wrong_type",):
        assert ei.value.row == 1


def test_mixed_embedding_dimensions_rejected():
    rows = [preference_row(0, embedding_a=[1, 2]), preference_row(1, embedding_b=[1, 2, 3])]
    with pytest.raises(c.ValidationError) as ei:
        c.build_preferences(rows)
    assert (ei.value.reason, ei.value.row) == ("invalid_embedding", 1)


BAD_RESPONSES = [
    ({"request_id": ""}, "empty_event_id", "request_id"),
    ({"response": ""}, "empty_text", "response"),
    ({"candidates": ["ok", ""]}, "empty_text", "candidates"),
    ({"candidates": ["c"] * 65}, "too_many_candidates", "candidates"),
    ({"candidates": ["ok", None]}, "missing_field", "candidates"),
]


@pytest.mark.parametrize("over,reason,field", BAD_RESPONSES)
def test_bad_response_rows(over, reason, field):
    with pytest.raises(c.ValidationError) as ei:
        c.build_responses([response_row(0), response_row(1, **over)])
    assert (ei.value.reason, ei.value.field, ei.value.row) == (reason, field, 1)


BAD_REFINED = [
    ({"rounds": -1}, "invalid_value", "rounds"),
    ({"follower_prob": 1.5}, "invalid_value", "follower_prob"),
    ({"latency_us": -3}, "invalid_value", "latency_us"),
    ({"reason": ""}, "empty_text", "reason"),
    ({"changed": None}, "missing_field", "changed"),
]


@pytest.mark.parametrize("over,reason,field", BAD_REFINED)
def test_bad_refined_rows(over, reason, field):
    with pytest.raises(c.ValidationError) as ei:
        c.build_refined([refined_row(0), refined_row(1, **over)])
    assert (ei.value.reason, ei.value.field, ei.value.row) == (reason, field, 1)


def test_response_with_candidates_and_embeddings():
    rows = [response_row(0, prompt_embedding=[0.5] * 8, response_embedding=[0.25] * 8),
            response_row(1, candidates=None)]
    batch = c.build_responses(rows)
    back = c.to_rows(batch)
    assert back[0]["candidates"] == ["Two.", "Seven is prime."]
    assert back[1]["candidates"] is None
    assert batch.schema.field("response_embedding").type.list_size == 8


def test_dataframe_input():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    df = pd.DataFrame([preference_row(0), preference_row(1)])
    df.loc[1, "prob_a"] = np.nan  # pandas' missing marker becomes null
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df["embedding_a"] = [np.array([1.0, 2.0], dtype=np.float32), np.array([3.0, 4.0])]
    rows = c.to_rows(c.build_preferences(df))
    assert rows[0]["prob_a"] == 0.25 and rows[1]["prob_a"] is None
    assert rows[1]["embedding_a"] == [3.0, 4.0]
    assert rows[0]["ts"].timestamp() * 1000 == TS_MS


def test_dataframe_nan_preference_still_rejected():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame([preference_row(0, preference=float("nan"))])
    with pytest.raises(c.ValidationError) as ei:
        c.build_preferences(df)
    # NaN in a required column reads as "missing" in pandas; it must not pass.
    assert ei.value.reason in ("missing_field", "nan_preference")

"""Build and validate slhf record batches.

The builders take a list of dicts (one per row, keys are column names) or a pandas
DataFrame, and return a validated :class:`pyarrow.RecordBatch` whose schema is exactly
the service's (:mod:`slhf_client.schemas`). Validation applies the service decoder's
rules with its default limits, so a batch that passes here is not dead-lettered there:

* keys: ``event_id``/``request_id`` non-empty (``empty_event_id``);
* ``ts``: in [2000-01-01, 2100-01-01) UTC (``invalid_timestamp``);
* required text non-empty (``empty_text``), any text at most 64 KiB of UTF-8
  (``oversized_text``);
* ``preference`` in [0, 1] (``nan_preference``, ``preference_out_of_range``);
* probabilities in [0, 1], weights finite and >= 0, versions, rounds and latencies
  >= 0, roles in {leader, follower, external} (``invalid_value``);
* at most 64 candidates, each non-empty (``too_many_candidates``, ``empty_text``);
* embeddings finite, all of one dimension D in [1, 8192] (``invalid_embedding``).

Timestamps may be given as timezone-aware datetimes, naive datetimes (taken as UTC),
pandas Timestamps, ISO-8601 strings, or integers (milliseconds since the Unix epoch).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from slhf_client import schemas as sc
from slhf_client.errors import ValidationError

MAX_TEXT_BYTES = 64 << 10
"""MAX_TEXT_BYTES is the longest accepted text value, in bytes of UTF-8 (64 KiB, the
service's ingest.max_text_bytes default; its schemas package alone allows 256 KiB)."""

MAX_CANDIDATES = 64
"""MAX_CANDIDATES is the longest accepted candidates list."""

MAX_EMBEDDING_DIM = 8192
"""MAX_EMBEDDING_DIM is the largest accepted embedding dimension D."""

MAX_ROWS = 10_000
"""MAX_ROWS is the most rows the service accepts in one message (ingest.max_rows
default; its schemas package alone allows 16,384)."""

MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z

Rows = Iterable[Mapping[str, Any]]


@dataclass(frozen=True)
class Limits:
    """Limits bound one message as the service's decoder does; the defaults are the
    service's configured defaults (config ingest.*). A service configured otherwise
    needs matching Limits.

    Attributes:
        max_message_bytes: longest message value, bytes (1 MiB).
        max_rows: most rows in one message (10,000).
        max_text_bytes: longest text value, bytes of UTF-8 (64 KiB).
        max_embedding_dim: largest embedding dimension D (8,192).
        max_candidates: longest candidates list (64).
        allocation_factor, min_allocation: a decoded message may take at most
            max(allocation_factor * message bytes, min_allocation) bytes of Arrow
            buffers (64 and 8 MiB); past that it is ``oversized_allocation``.
    """

    max_message_bytes: int = 1 << 20
    max_rows: int = MAX_ROWS
    max_text_bytes: int = MAX_TEXT_BYTES
    max_embedding_dim: int = MAX_EMBEDDING_DIM
    max_candidates: int = MAX_CANDIDATES
    allocation_factor: int = 64
    min_allocation: int = 8 << 20


DEFAULT_LIMITS = Limits()
"""DEFAULT_LIMITS are the service decoder's default limits."""


def build_preferences(rows: Any, *, dim: int | None = None) -> pa.RecordBatch:
    """build_preferences returns a validated preference.v1 batch of rows.

    rows is a list of dicts or a pandas DataFrame. dim fixes the embedding size D; by
    default it is taken from the first embedding given, and no embedding columns are
    written when there is none. Raises ValidationError naming the reason, column and row.
    """
    return build(sc.PREFERENCE, rows, dim=dim)


def build_responses(rows: Any, *, dim: int | None = None) -> pa.RecordBatch:
    """build_responses returns a validated response.v1 batch, as build_preferences."""
    return build(sc.RESPONSE, rows, dim=dim)


def build_refined(rows: Any) -> pa.RecordBatch:
    """build_refined returns a validated refined.v1 batch (used for tests and tools)."""
    return build(sc.REFINED, rows)


def build(kind: str, rows: Any, *, dim: int | None = None) -> pa.RecordBatch:
    """build returns a validated batch of kind from a list of dicts or a DataFrame."""
    records = _records(rows)
    fields = sc.FIELDS[kind]
    _check_keys(records, fields)
    d = dim if dim is not None else _infer_dim(records, fields)
    schema = sc.schema(kind, d)
    arrays = [_column(f, records, d) for f in fields if f.kind != "embedding" or d > 0]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    validate(batch, kind)
    return batch


def _records(rows: Any) -> list[Mapping[str, Any]]:
    """_records turns a DataFrame into dicts, with pandas' missing markers as None."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return [{k: _unpandas(v) for k, v in r.items()} for r in rows.to_dict("records")]
    return list(rows)


def _unpandas(v: Any) -> Any:
    if v is None or isinstance(v, (str, bytes, list, tuple, dict)):
        return v
    if hasattr(v, "tolist") and getattr(v, "ndim", 0) > 0:
        return v.tolist()
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    return v


def _check_keys(records: list[Mapping[str, Any]], fields: tuple[sc.Field, ...]) -> None:
    known = {f.name for f in fields}
    for i, r in enumerate(records):
        for k in r:
            if k not in known:
                raise ValidationError("wrong_schema", k, i, "unknown column")


def _infer_dim(records: list[Mapping[str, Any]], fields: tuple[sc.Field, ...]) -> int:
    for f in fields:
        if f.kind != "embedding":
            continue
        for r in records:
            v = r.get(f.name)
            if v is not None:
                return len(v)
    return 0


def _column(f: sc.Field, records: list[Mapping[str, Any]], dim: int) -> pa.Array:
    values = [r.get(f.name) for r in records]
    if f.kind == "ts":
        values = [_to_ms(v, f.name, i) for i, v in enumerate(values)]
    for i, v in enumerate(values):
        if v is None and f.required:
            raise ValidationError("missing_field", f.name, i)
        if f.kind == "embedding" and v is not None and len(v) != dim:
            raise ValidationError("invalid_embedding", f.name, i, f"dimension {len(v)} != {dim}")
    try:
        return pa.array(values, type=f.arrow_type(dim))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
        raise ValidationError("wrong_type", f.name, None, str(e)) from e


def _to_ms(v: Any, field: str, row: int) -> int | None:
    """_to_ms converts one timestamp value to milliseconds since the epoch, UTC."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValidationError("wrong_type", field, row, "bool is not a timestamp")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            v = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError as e:
            raise ValidationError("wrong_type", field, row, str(e)) from e
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return int(v.timestamp() * 1000) if v.microsecond % 1000 == 0 else _floor_ms(v)
    raise ValidationError("wrong_type", field, row, f"{type(v).__name__} is not a timestamp")


def _floor_ms(v: dt.datetime) -> int:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (v - epoch) // dt.timedelta(milliseconds=1)


def to_rows(data: pa.RecordBatch | pa.Table) -> list[dict[str, Any]]:
    """to_rows returns the rows of a batch or table as dicts (ts as aware datetimes)."""
    return data.to_pylist()


def validate(
    data: pa.RecordBatch | pa.Table, kind: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> None:
    """validate checks a batch or table against kind's schema and row rules.

    kind defaults to the ``slhf.schema`` metadata value. Raises ValidationError with
    the first fault: schema faults first (row None), then the first failing row.
    """
    kind, dim = validate_schema(data.schema, kind, limits)
    validate_rows(data, kind, dim, limits)


def validate_schema(
    schema: pa.Schema, kind: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[str, int]:
    """validate_schema checks metadata, column names, types and required columns, and
    returns the kind and the embedding dimension (0 without embeddings)."""
    kind = _check_metadata(schema, kind)
    return kind, _check_columns(schema, kind, limits)


def validate_rows(
    data: pa.RecordBatch | pa.Table, kind: str, dim: int, limits: Limits = DEFAULT_LIMITS
) -> None:
    """validate_rows checks every row of data, whose schema validate_schema accepted."""
    if data.num_rows > limits.max_rows:
        raise ValidationError("too_many_rows", "", None, f"{data.num_rows} > {limits.max_rows}")
    cols = {name: _pylist(data.column(name)) for name in data.schema.names}
    for f in sc.FIELDS[kind]:
        _check_nulls(f, cols.get(f.name))
    check = _ROW_CHECKS[kind]
    for i in range(data.num_rows):
        check({k: v[i] for k, v in cols.items()}, i, limits)


def _pylist(col: pa.Array | pa.ChunkedArray) -> list[Any]:
    """_pylist returns a column's values; timestamps as int ms, which never overflow."""
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.int64())
    return col.to_pylist()


def _check_metadata(schema: pa.Schema, kind: str | None) -> str:
    md = {k.decode(errors="replace"): v.decode(errors="replace")
          for k, v in (schema.metadata or {}).items()}
    got = md.get(sc.META_SCHEMA_NAME)
    want = kind if kind is not None else got
    if got is None or got != want or want not in sc.FIELDS:
        raise ValidationError("wrong_schema", "", None, f"schema {got!r}, want {want!r}")
    if md.get(sc.META_SCHEMA_VERSION) != sc.VERSION:
        version = md.get(sc.META_SCHEMA_VERSION)
        raise ValidationError("unknown_version", "", None, f"version {version!r}")
    return want


def _check_columns(schema: pa.Schema, kind: str, limits: Limits) -> int:
    """_check_columns compares names and types and returns the embedding size D (0)."""
    defs = {f.name: f for f in sc.FIELDS[kind]}
    dim, seen = 0, set()
    for field in schema:
        f = defs.get(field.name)
        if f is None or field.name in seen:
            raise ValidationError("wrong_schema", field.name, None, "unknown or duplicate")
        seen.add(field.name)
        if not _type_matches(f, field.type):
            raise ValidationError("wrong_type", field.name, None, f"type {field.type}")
        if f.kind == "embedding":
            d = field.type.list_size
            if d <= 0 or d > limits.max_embedding_dim or (dim and d != dim):
                raise ValidationError("invalid_embedding", field.name, None, f"dimension {d}")
            dim = d
    for f in sc.FIELDS[kind]:
        if f.required and f.name not in seen:
            raise ValidationError("missing_field", f.name)
    return dim


def _type_matches(f: sc.Field, t: pa.DataType) -> bool:
    if f.kind == "ts":
        return pa.types.is_timestamp(t) and t.unit == "ms" and t.tz in ("UTC", "Etc/UTC", "Z", "+00:00")
    if f.kind == "embedding":
        return pa.types.is_fixed_size_list(t) and t.value_type == pa.float32()
    if f.kind == "text_list":
        return pa.types.is_list(t) and t.value_type == pa.string()
    return t == f.arrow_type()


def _check_nulls(f: sc.Field, values: list[Any] | None) -> None:
    if values is None:
        return
    for i, v in enumerate(values):
        if v is None and f.required:
            raise ValidationError("missing_field", f.name, i)
        if v is not None and f.kind == "text_list" and any(s is None for s in v):
            raise ValidationError("missing_field", f.name, i, "null candidate")
        if v is not None and f.kind == "embedding" and any(x is None for x in v):
            raise ValidationError("invalid_embedding", f.name, i, "null item")


def _key(row: dict, name: str, i: int, lim: Limits) -> None:
    if row[name] == "":
        raise ValidationError("empty_event_id", name, i)
    _opt_text(row, name, i, lim)


def _text(row: dict, name: str, i: int, lim: Limits) -> None:
    if row.get(name) == "":
        raise ValidationError("empty_text", name, i)
    _opt_text(row, name, i, lim)


def _opt_text(row: dict, name: str, i: int, lim: Limits) -> None:
    v = row.get(name)
    if v is not None and _utf8_len(v) > lim.max_text_bytes:
        raise ValidationError("oversized_text", name, i, f"> {lim.max_text_bytes} bytes")


def _utf8_len(v: str) -> int:
    return len(v.encode("utf-8", "surrogatepass"))


def _ts(row: dict, i: int) -> None:
    ms = row["ts"]
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise ValidationError("invalid_timestamp", "ts", i, f"{ms} ms since the epoch")


def _prob(row: dict, name: str, i: int) -> None:
    v = row.get(name)
    if v is not None and not 0 <= v <= 1:  # NaN fails too
        raise ValidationError("invalid_value", name, i, f"{v} not in [0, 1]")


def _non_negative(row: dict, name: str, i: int) -> None:
    v = row.get(name)
    if v is not None and v < 0:
        raise ValidationError("invalid_value", name, i, f"{v} < 0")


def _embedding(row: dict, name: str, i: int) -> None:
    v = row.get(name)
    if v is not None and not all(math.isfinite(x) for x in v):
        raise ValidationError("invalid_embedding", name, i, "NaN or Inf")


def _check_preference(row: dict, i: int, lim: Limits) -> None:
    _key(row, "event_id", i, lim)
    _ts(row, i)
    for name in ("prompt", "response_a", "response_b"):
        _text(row, name, i, lim)
    p = row["preference"]
    if math.isnan(p):
        raise ValidationError("nan_preference", "preference", i)
    if not 0 <= p <= 1:
        raise ValidationError("preference_out_of_range", "preference", i, f"{p}")
    for name in ("prompt_id", "model_a", "model_b", "annotator"):
        _opt_text(row, name, i, lim)
    for name in ("role_a", "role_b"):
        if row.get(name) is not None and row[name] not in sc.ROLES:
            raise ValidationError("invalid_value", name, i, f"role {row[name]!r}")
    _prob(row, "prob_a", i)
    _prob(row, "prob_b", i)
    _non_negative(row, "policy_version", i)
    w = row.get("weight")
    if w is not None and not (0 <= w and math.isfinite(w)):
        raise ValidationError("invalid_value", "weight", i, f"{w}")
    for name in ("prompt_embedding", "embedding_a", "embedding_b"):
        _embedding(row, name, i)


def _check_response(row: dict, i: int, lim: Limits) -> None:
    _key(row, "request_id", i, lim)
    _ts(row, i)
    _text(row, "prompt", i, lim)
    _text(row, "response", i, lim)
    _opt_text(row, "model", i, lim)
    cands = row.get("candidates") or []
    if len(cands) > lim.max_candidates:
        raise ValidationError("too_many_candidates", "candidates", i, f"{len(cands)}")
    for c in cands:
        if c == "":
            raise ValidationError("empty_text", "candidates", i)
        if _utf8_len(c) > lim.max_text_bytes:
            raise ValidationError("oversized_text", "candidates", i)
    for name in ("prompt_embedding", "response_embedding"):
        _embedding(row, name, i)


def _check_refined(row: dict, i: int, lim: Limits) -> None:
    _key(row, "request_id", i, lim)
    _ts(row, i)
    for name in ("prompt", "original", "refined", "reason"):
        _text(row, name, i, lim)
    for name in ("rounds", "model_version", "latency_us"):
        _non_negative(row, name, i)
    _prob(row, "follower_prob", i)


_ROW_CHECKS = {
    sc.PREFERENCE: _check_preference,
    sc.RESPONSE: _check_response,
    sc.REFINED: _check_refined,
}

"""Arrow schemas of slhf's records, mirroring the service's ``schemas`` package.

Each kind is a list of :class:`Field` in the service's column order. Required columns
are non-nullable and must be present; optional ones are nullable and may be absent.
Embedding columns (``fixed_size_list<float32>[D]``) are present only when D > 0, and
all embeddings of one message share D.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

META_SCHEMA_NAME = "slhf.schema"
"""META_SCHEMA_NAME is the schema metadata key holding the record kind."""

META_SCHEMA_VERSION = "slhf.version"
"""META_SCHEMA_VERSION is the schema metadata key holding the version."""

VERSION = "1"
"""VERSION is the only schema version this client writes and reads."""

PREFERENCE = "preference"
"""PREFERENCE names the preference.v1 record kind."""

RESPONSE = "response"
"""RESPONSE names the response.v1 record kind."""

REFINED = "refined"
"""REFINED names the refined.v1 record kind."""

ROLES = frozenset({"leader", "follower", "external"})
"""ROLES are the allowed values of role_a and role_b (null means unknown)."""

TEXT = pa.string()
TS = pa.timestamp("ms", tz="UTC")
TEXT_LIST = pa.list_(pa.string())


@dataclass(frozen=True)
class Field:
    """Field describes one column of a record kind.

    ``kind`` is one of ``"text"``, ``"ts"``, ``"float32"``, ``"int32"``, ``"int64"``,
    ``"bool"``, ``"text_list"``, ``"embedding"``.
    """

    name: str
    kind: str
    required: bool

    def arrow_type(self, dim: int = 0) -> pa.DataType:
        """arrow_type returns the column's Arrow type; dim is the embedding size D."""
        if self.kind == "embedding":
            if dim <= 0:
                raise ValueError(f"embedding column {self.name} needs dim > 0")
            return pa.list_(pa.float32(), dim)
        return _SIMPLE_TYPES[self.kind]


_SIMPLE_TYPES = {
    "text": TEXT,
    "ts": TS,
    "float32": pa.float32(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "text_list": TEXT_LIST,
}

PREFERENCE_FIELDS = (
    Field("event_id", "text", True),
    Field("ts", "ts", True),
    Field("prompt", "text", True),
    Field("response_a", "text", True),
    Field("response_b", "text", True),
    Field("preference", "float32", True),
    Field("prompt_id", "text", False),
    Field("model_a", "text", False),
    Field("model_b", "text", False),
    Field("role_a", "text", False),
    Field("role_b", "text", False),
    Field("prob_a", "float32", False),
    Field("prob_b", "float32", False),
    Field("policy_version", "int64", False),
    Field("weight", "float32", False),
    Field("annotator", "text", False),
    Field("prompt_embedding", "embedding", False),
    Field("embedding_a", "embedding", False),
    Field("embedding_b", "embedding", False),
)

RESPONSE_FIELDS = (
    Field("request_id", "text", True),
    Field("ts", "ts", True),
    Field("prompt", "text", True),
    Field("response", "text", True),
    Field("candidates", "text_list", False),
    Field("model", "text", False),
    Field("prompt_embedding", "embedding", False),
    Field("response_embedding", "embedding", False),
)

REFINED_FIELDS = (
    Field("request_id", "text", True),
    Field("ts", "ts", True),
    Field("prompt", "text", True),
    Field("original", "text", True),
    Field("refined", "text", True),
    Field("rounds", "int32", True),
    Field("changed", "bool", True),
    Field("follower_prob", "float32", True),
    Field("model_version", "int64", True),
    Field("latency_us", "int64", True),
    Field("reason", "text", True),
)

FIELDS = {PREFERENCE: PREFERENCE_FIELDS, RESPONSE: RESPONSE_FIELDS, REFINED: REFINED_FIELDS}
"""FIELDS maps each record kind to its columns, in the service's order."""


def schema(kind: str, dim: int = 0) -> pa.Schema:
    """schema returns the Arrow schema of kind; embedding columns only when dim > 0.

    Raises KeyError for an unknown kind.
    """
    fields = [
        pa.field(f.name, f.arrow_type(dim), nullable=not f.required)
        for f in FIELDS[kind]
        if f.kind != "embedding" or dim > 0
    ]
    return pa.schema(fields, metadata={META_SCHEMA_NAME: kind, META_SCHEMA_VERSION: VERSION})


def preference_schema(dim: int = 0) -> pa.Schema:
    """preference_schema returns the preference.v1 schema (embeddings when dim > 0)."""
    return schema(PREFERENCE, dim)


def response_schema(dim: int = 0) -> pa.Schema:
    """response_schema returns the response.v1 schema (embeddings when dim > 0)."""
    return schema(RESPONSE, dim)


def refined_schema() -> pa.Schema:
    """refined_schema returns the refined.v1 schema; every column is required."""
    return schema(REFINED)

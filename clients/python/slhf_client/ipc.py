"""Arrow IPC stream encoding, size-bounded splitting, and strict decoding.

One Kafka message value is one Arrow IPC *stream* (schema message, record batches,
end-of-stream marker), not the IPC file format.
"""

from __future__ import annotations

import pyarrow as pa

from slhf_client import records as rec
from slhf_client.errors import DecodeError, MessageTooLargeError, ValidationError

DEFAULT_MAX_MESSAGE_BYTES = 960_000
"""DEFAULT_MAX_MESSAGE_BYTES bounds one message value, in bytes.

librdkafka refuses records over its message.max.bytes (1,000,000 by default) and the
broker's default limit is 1 MiB; 960,000 leaves room for the key, headers and the
record batch framing.
"""

SERVICE_MAX_MESSAGE_BYTES = 1 << 20
"""SERVICE_MAX_MESSAGE_BYTES is the service decoder's default limit (1 MiB)."""


def encode_stream(data: pa.RecordBatch | pa.Table, compression: str | None = None) -> bytes:
    """encode_stream serialises data as one Arrow IPC stream and returns its bytes.

    compression is None (default), ``"lz4"`` or ``"zstd"`` (IPC body compression).
    Does not validate; use the builders or :func:`slhf_client.validate` first.
    """
    sink = pa.BufferOutputStream()
    opts = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, data.schema, options=opts) as w:
        if isinstance(data, pa.Table):
            w.write_table(data)
        else:
            w.write_batch(data)
    return sink.getvalue().to_pybytes()


def split_messages(
    data: pa.RecordBatch | pa.Table,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_rows: int = rec.MAX_ROWS,
    compression: str | None = None,
) -> list[bytes]:
    """split_messages encodes data as IPC streams of at most max_bytes and max_rows each.

    Rows keep their order across messages. Each piece is first sized by the average
    bytes per row and halved until it fits, so a few uneven rows cost a few re-encodes,
    not a search. An empty input gives no message. Raises MessageTooLargeError when a
    single row does not fit.
    """
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    table = table.combine_chunks()
    out: list[bytes] = []
    start, n = 0, table.num_rows
    while start < n:
        step = min(max_rows, n - start, _guess_rows(table, start, max_bytes, compression))
        msg, step = _fit(table, start, step, max_bytes, compression)
        out.append(msg)
        start += step
    return out


def _guess_rows(table: pa.Table, start: int, max_bytes: int, compression: str | None) -> int:
    sample = table.slice(start, min(256, table.num_rows - start))
    per_row = len(encode_stream(sample, compression)) / max(sample.num_rows, 1)
    return max(1, int(0.9 * max_bytes / per_row))


def _fit(
    table: pa.Table, start: int, step: int, max_bytes: int, compression: str | None
) -> tuple[bytes, int]:
    while True:
        msg = encode_stream(table.slice(start, step), compression)
        if len(msg) <= max_bytes:
            return msg, step
        if step == 1:
            raise MessageTooLargeError(start, len(msg), max_bytes)
        step //= 2


def decode_message(
    value: bytes, kind: str, limits: rec.Limits = rec.DEFAULT_LIMITS
) -> pa.Table:
    """decode_message reads one message value as an IPC stream of kind and validates it.

    It applies the service decoder's checks in its order: size; stream framing (an
    end-of-stream marker with nothing after it); at least one row and at most
    limits.max_rows; an allocation budget; schema metadata, column names and types;
    Arrow's full validation (UTF-8 included); then every row rule. Returns the table;
    raises DecodeError (a ValidationError) with the service's reason name.

    Unlike the service, the whole stream is decompressed before the allocation check,
    so only decode messages from producers you trust to this extent.
    """
    if not value:
        raise DecodeError("empty_message")
    if len(value) > limits.max_message_bytes:
        raise DecodeError("oversized_message", "", None,
                          f"{len(value)} > {limits.max_message_bytes}")
    table = _read_stream(value)
    try:
        _check_shape(table, len(value), limits)
        kind, dim = rec.validate_schema(table.schema, kind, limits)
        _validate_full(table)
        rec.validate_rows(table, kind, dim, limits)
    except DecodeError:
        raise
    except ValidationError as e:
        raise DecodeError(e.reason, e.field, e.row, e.detail) from e
    except UnicodeDecodeError as e:  # a column name that is not UTF-8
        raise DecodeError("wrong_schema", "", None, str(e)) from e
    return table


def _check_shape(table: pa.Table, size: int, limits: rec.Limits) -> None:
    if table.num_rows == 0:
        raise DecodeError("empty_message", "", None, "no rows")
    if table.num_rows > limits.max_rows:
        raise DecodeError("too_many_rows", "", None, f"{table.num_rows} > {limits.max_rows}")
    budget = max(limits.allocation_factor * size, limits.min_allocation)
    if table.nbytes > budget:
        raise DecodeError("oversized_allocation", "", None, f"{table.nbytes} > {budget}")


def _validate_full(table: pa.Table) -> None:
    try:
        table.validate(full=True)
    except pa.ArrowException as e:
        reason = "invalid_utf8" if "utf8" in str(e).lower() or "utf-8" in str(e).lower() \
            else "corrupt_ipc"
        raise DecodeError(reason, "", None, str(e)) from e


_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # continuation marker, zero length


def _read_stream(value: bytes) -> pa.Table:
    """_read_stream reads the whole stream; like the service it insists on an
    end-of-stream marker with nothing after it, which pyarrow alone does not."""
    src = pa.BufferReader(pa.py_buffer(value))
    try:
        table = pa.ipc.open_stream(src).read_all()
        table.validate()
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise DecodeError(_stream_reason(value, e), "", None, str(e)) from e
    if src.tell() != len(value):
        raise DecodeError("corrupt_ipc", "", None, "bytes after the end-of-stream marker")
    if not value.endswith(_EOS):
        raise DecodeError("truncated_ipc", "", None, "no end-of-stream marker")
    return table


def _stream_reason(value: bytes, e: Exception) -> str:
    """_stream_reason tells a cut stream (a length that runs past the end) from
    garbage: bytes that do not even open with the continuation marker are corrupt."""
    if not value.startswith(_EOS[:4]):
        return "corrupt_ipc"
    msg = str(e).lower()
    if "expected to read" in msg or "expected to be able to read" in msg:
        return "truncated_ipc"
    return "corrupt_ipc"

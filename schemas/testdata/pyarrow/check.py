"""Cross-client check of slhf's Arrow records with pyarrow.

read FILE KIND ROWS  -- open FILE (written by Go) with pa.ipc.open_stream,
                        check kind, version, row count and types, print a
                        summary line.
write FILE           -- write a preference.v1 stream the way a Python
                        producer would (pyarrow defaults: nullable fields).
"""
import sys

import pyarrow as pa


def read(path, kind, rows):
    with open(path, "rb") as f:
        reader = pa.ipc.open_stream(f)
        table = reader.read_all()
    md = table.schema.metadata
    assert md[b"slhf.schema"] == kind.encode(), md
    assert md[b"slhf.version"] == b"1", md
    assert table.num_rows == int(rows), table.num_rows
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert not table.schema.field("ts").nullable
    first = table.slice(0, 1).to_pylist()[0]
    print(f"ok {kind} rows={table.num_rows} columns={table.num_columns} "
          f"first_ts={first['ts'].isoformat()}")


def write(path):
    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("ts", pa.timestamp("ms", tz="UTC")),
            ("prompt", pa.string()),
            ("response_a", pa.string()),
            ("response_b", pa.string()),
            ("preference", pa.float32()),
            ("model_a", pa.string()),
            ("prob_a", pa.float32()),
            ("embedding_a", pa.list_(pa.float32(), 3)),
        ],
        metadata={"slhf.schema": "preference", "slhf.version": "1"},
    )
    batch = pa.record_batch(
        [
            ["py-1", "py-2"],
            pa.array([1767225600000, 1767225601000], pa.timestamp("ms", tz="UTC")),
            ["Human: hi\n\nAssistant:", "Human: name a colour\n\nAssistant:"],
            ["Hello! How can I help?", "Blue."],
            ["hi", "Ultramarine, a deep blue."],
            pa.array([0.75, 0.5], pa.float32()),
            ["model-x", None],
            pa.array([0.25, None], pa.float32()),
            pa.array([[0.1, 0.2, 0.3], None], pa.list_(pa.float32(), 3)),
        ],
        schema=schema,
    )
    with pa.OSFile(path, "wb") as sink:
        with pa.ipc.new_stream(sink, schema) as w:
            w.write_batch(batch)
    print("wrote", path)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(*sys.argv[2:5])
    else:
        write(sys.argv[2])

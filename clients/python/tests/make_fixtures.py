"""make_fixtures writes the Arrow IPC fixtures in tests/testdata.

Run from clients/python: ``python tests/make_fixtures.py``. Each file is one Kafka
message value. ``<kind>_good_*.arrow`` must be accepted by every reader (this client
and the Go service); ``<kind>_bad_<reason>.arrow`` must be rejected with that reason.
The Go side can read them to prove that Python-written messages decode there.
"""

import pathlib
import sys

import pyarrow as pa

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import slhf_client as c  # noqa: E402
from conftest import preference_row, refined_row, response_row  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "testdata"


def _unchecked(kind, rows, dim=0, **types):
    """_unchecked builds a batch of the service schema without validating rows."""
    schema = c.schemas.schema(kind, dim)
    for name, t in types.items():
        i = schema.get_field_index(name)
        schema = schema.set(i, pa.field(name, t, nullable=schema.field(i).nullable))
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    if "ts" in cols:
        cols["ts"] = [r["ts"] if isinstance(r["ts"], int) else int(r["ts"].timestamp() * 1000)
                      for r in rows]
    return pa.RecordBatch.from_arrays(
        [pa.array(cols[f.name], type=f.type) for f in schema], schema=schema)


def fixtures():
    emb = {"prompt_embedding": [0.5, -0.5, 0.25, 1.0], "embedding_a": [1.0, 0.0, 0.0, 0.0],
           "embedding_b": [0.0, 1.0, 0.0, 0.0]}
    good_pref = c.build_preferences([preference_row(i) for i in range(3)])
    minimal = {k: v for k, v in preference_row(9).items()
               if k in ("event_id", "ts", "prompt", "response_a", "response_b", "preference")}
    yield "preference_good_full.arrow", c.encode_stream(good_pref)
    yield "preference_good_minimal_columns.arrow", c.encode_stream(
        pa.RecordBatch.from_pylist([minimal], schema=pa.schema(
            [c.preference_schema().field(k) for k in minimal],
            metadata=c.preference_schema().metadata)))
    yield "preference_good_embeddings.arrow", c.encode_stream(
        c.build_preferences([preference_row(0, **emb), preference_row(1)]))
    yield "preference_good_two_batches.arrow", c.encode_stream(
        pa.Table.from_batches([good_pref, good_pref.slice(1, 1)]))
    yield "response_good_full.arrow", c.encode_stream(c.build_responses(
        [response_row(0), response_row(1, candidates=None, model=None)]))
    yield "refined_good_full.arrow", c.encode_stream(c.build_refined(
        [refined_row(0), refined_row(1, changed=False, rounds=0, refined="Four.")]))

    yield "preference_bad_nan_preference.arrow", c.encode_stream(
        _unchecked("preference", [preference_row(0, preference=float("nan"))]))
    yield "preference_bad_preference_out_of_range.arrow", c.encode_stream(
        _unchecked("preference", [preference_row(0, preference=2.0)]))
    yield "preference_bad_empty_text.arrow", c.encode_stream(
        _unchecked("preference", [preference_row(0, response_a="")]))
    yield "preference_bad_empty_event_id.arrow", c.encode_stream(
        _unchecked("preference", [preference_row(0, event_id="")]))
    yield "preference_bad_wrong_type.arrow", c.encode_stream(
        _unchecked("preference", [preference_row(0)], preference=pa.float64()))
    yield "preference_bad_invalid_timestamp.arrow", c.encode_stream(
        _unchecked("preference", [preference_row(0, ts=5)]))
    yield "preference_bad_wrong_schema.arrow", c.encode_stream(good_pref.replace_schema_metadata(
        {"slhf.schema": "response", "slhf.version": "1"}))
    yield "preference_bad_unknown_version.arrow", c.encode_stream(
        good_pref.replace_schema_metadata({"slhf.schema": "preference", "slhf.version": "2"}))
    full = c.encode_stream(good_pref)
    yield "preference_bad_truncated_ipc.arrow", full[: len(full) - 8]
    yield "preference_bad_corrupt_ipc.arrow", full + b"\x00garbage"


def main():
    OUT.mkdir(exist_ok=True)
    for name, data in fixtures():
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()

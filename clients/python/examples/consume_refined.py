"""consume_refined.py reads refined.v1 records from a topic and checks their schema.

It joins a fresh consumer group, reads from the earliest offset until --expect distinct
request ids were seen (or --timeout seconds pass), and decodes every message with
slhf_client's strict decoder (the service's rules). Each message's schema must equal
slhf_client.refined_schema(): same column names, types and nullability, and the
slhf.schema/slhf.version metadata "refined"/"1". It prints one JSON object:

    rows, messages, distinct, invalid (messages the decoder refused),
    schema_mismatches, request_ids (sorted), changed (rows whose answer changed)

and exits 0 even when the counts disappoint: the caller judges them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pyarrow as pa

import slhf_client as c


def schema_matches(got: pa.Schema) -> bool:
    """schema_matches compares got with refined.v1, metadata included."""
    want = c.refined_schema()
    if [(f.name, f.type, f.nullable) for f in got] != \
            [(f.name, f.type, f.nullable) for f in want]:
        return False
    meta = got.metadata or {}
    return (meta.get(c.META_SCHEMA_NAME.encode()) == c.REFINED.encode()
            and meta.get(c.META_SCHEMA_VERSION.encode()) == c.VERSION.encode())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True, help="a consumer group no one else uses")
    ap.add_argument("--expect", type=int, required=True, help="distinct request ids to wait for")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds")
    args = ap.parse_args()

    ids: set[str] = set()
    rows = messages = mismatches = changed = 0
    deadline = time.monotonic() + args.timeout
    with c.RefinedConsumer(args.brokers, args.topic, args.group, skip_invalid=True) as rc:
        while len(ids) < args.expect and (left := deadline - time.monotonic()) > 0:
            for table in rc.tables(timeout=min(left, 5.0), idle=5.0):
                messages += 1
                if not schema_matches(table.schema):
                    mismatches += 1
                for row in table.to_pylist():
                    rows += 1
                    ids.add(row["request_id"])
                    changed += bool(row["changed"])
        invalid = rc.invalid
    json.dump({"rows": rows, "messages": messages, "distinct": len(ids), "invalid": invalid,
               "schema_mismatches": mismatches, "changed": changed,
               "request_ids": sorted(ids)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

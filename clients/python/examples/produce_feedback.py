"""produce_feedback.py sends records from a JSON-lines file to a Kafka topic.

Each input line is one row, a JSON object whose keys are column names of the chosen
record kind (preference.v1 by default, or response.v1); "ts" may be milliseconds since
the Unix epoch or an ISO-8601 string. Rows are built and validated with slhf_client,
split into messages of at most --rows-per-message rows (and under the size limit), and
sent with acks=all. With --key-by-first-id each message is keyed by the id of its first
row (event_id or request_id), which spreads messages over partitions by key; without it
messages are unkeyed and librdkafka's sticky partitioner may fill few partitions. On
success it prints one JSON object: the rows and messages sent.

    python produce_feedback.py --brokers 127.0.0.1:19092 --topic slhf.feedback rows.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys

import slhf_client as c

BUILDERS = {"preference": c.build_preferences, "response": c.build_responses}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True, help="bootstrap servers, host:port")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--kind", choices=sorted(BUILDERS), default="preference")
    ap.add_argument("--rows-per-message", type=int, default=32)
    ap.add_argument("--key-by-first-id", action="store_true",
                    help="key each message by its first row's id")
    ap.add_argument("rows", help="JSON-lines file, one row per line")
    args = ap.parse_args()

    with open(args.rows, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    build = BUILDERS[args.kind]
    messages = 0
    with c.FeedbackProducer(args.brokers) as producer:
        for start in range(0, len(rows), args.rows_per_message):
            chunk = rows[start:start + args.rows_per_message]
            key = None
            if args.key_by_first_id:
                key = chunk[0].get("event_id") or chunk[0].get("request_id")
            messages += producer.send(args.topic, build(chunk), key=key)
    json.dump({"kind": args.kind, "rows": len(rows), "messages": messages}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

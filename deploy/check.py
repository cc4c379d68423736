#!/usr/bin/env python3
"""check.py validates the deploy files without Docker or a cluster.

It parses every YAML and JSON file under deploy/, checks that the Grafana dashboard
queries only the metric names the service exports (METRICS below, kept in step with the
Go code), that every exported metric appears on the dashboard, and that the compose and
Kubernetes files agree on the metrics port. Needs PyYAML. Exit 0 when all is well.

Usage: python3 deploy/check.py
"""

import json
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
PORT = 9464

METRICS = {
    "slhf_ingest_consumed_total", "slhf_ingest_dead_lettered_total",
    "slhf_ingest_decode_seconds", "slhf_ingest_consumer_lag", "slhf_learner_events_total",
    "slhf_learner_step_seconds", "slhf_learner_pref_accuracy", "slhf_learner_pref_logloss",
    "slhf_learner_leader_entropy", "slhf_learner_follower_entropy", "slhf_learner_leader_kl",
    "slhf_learner_follower_kl", "slhf_learner_model_version",
    "slhf_checkpoint_duration_seconds", "slhf_checkpoint_age_seconds",
    "slhf_refine_latency_seconds", "slhf_refine_rounds", "slhf_refine_responses_total",
    "slhf_refine_response_length_chars", "slhf_refine_model_version",
}
SUFFIXES = ("_bucket", "_sum", "_count")


def base_name(m: str) -> str:
    for s in SUFFIXES:
        if m.endswith(s) and m[: -len(s)] in METRICS:
            return m[: -len(s)]
    return m


def check_yaml(errors: list[str]) -> list[dict]:
    docs = []
    for p in sorted(HERE.rglob("*.y*ml")):
        try:
            docs += [(p, d) for d in yaml.safe_load_all(p.read_text()) if d is not None]
        except yaml.YAMLError as e:
            errors.append(f"{p.relative_to(HERE)}: {e}")
    return docs


def check_dashboard(errors: list[str]) -> None:
    p = HERE / "grafana" / "slhf-dashboard.json"
    dash = json.loads(p.read_text())
    used = set()
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            for m in re.findall(r"\bslhf_[a-z0-9_]+", t["expr"]):
                used.add(base_name(m))
    if unknown := used - METRICS:
        errors.append(f"dashboard queries unknown metrics: {sorted(unknown)}")
    if missing := METRICS - used:
        errors.append(f"dashboard lacks metrics: {sorted(missing)}")
    ids = [pn["id"] for pn in dash["panels"]]
    if len(ids) != len(set(ids)):
        errors.append("dashboard panel ids are not unique")


def check_ports(docs: list, errors: list[str]) -> None:
    prom = yaml.safe_load((HERE / "prometheus" / "prometheus.yml").read_text())
    targets = [t for sc in prom["scrape_configs"] for s in sc["static_configs"] for t in s["targets"]]
    if f"slhf:{PORT}" not in targets:
        errors.append(f"prometheus.yml does not scrape slhf:{PORT}")
    for p, d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            ports = [cp["containerPort"] for c in d["spec"]["template"]["spec"]["containers"]
                     for cp in c.get("ports", [])]
            if PORT not in ports:
                errors.append(f"{p.name}: {d['kind']} does not expose {PORT}")


def main() -> int:
    errors: list[str] = []
    docs = check_yaml(errors)
    for p in sorted(HERE.rglob("*.json")):
        try:
            json.loads(p.read_text())
        except json.JSONDecodeError as e:
            errors.append(f"{p.relative_to(HERE)}: {e}")
    check_dashboard(errors)
    check_ports(docs, errors)
    for e in errors:
        print("deploy/check.py:", e, file=sys.stderr)
    print(f"deploy/check.py: {len(docs)} YAML documents, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

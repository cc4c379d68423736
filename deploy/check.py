#!/usr/bin/env python3
"""check.py validates the deploy files without Docker or a cluster.

It parses every YAML and JSON file under deploy/, checks that the Grafana dashboard
queries only the metric names the service exports (METRICS below, compared with the Go
source when the repository is at hand), with their own labels, histograms only through
_bucket/_sum/_count and counters only through rate() or increase(); that every exported
metric appears on the dashboard; and that Prometheus, compose and Kubernetes agree on the
metrics port. With --slhf BIN it also runs `BIN config` with each workload's arguments,
SLHF_* environment and config file, so that an unknown key fails here rather than at
start, and checks that all refiners share the learner's config fingerprint.
Needs PyYAML. Exit 0 when all is well.

Usage: python3 deploy/check.py [--slhf /path/to/slhf]
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

HERE = pathlib.Path(__file__).resolve().parent
PORT = 9464

# Every metric the service exports, as registered in the Go code (non-test files):
# ingest/gate.go, ingest/reader.go, learner/metrics.go, stream/refine.go,
# stream/reload.go, stream/learn.go, sinks/metrics.go, sinks/deadletter.go,
# sinks/checkpoint.go, schemas/metrics.go. check_go_source compares this list with the
# source when the repository is at hand.
METRICS = {
    # ingest
    "slhf_ingest_consumed_total", "slhf_ingest_dead_lettered_total",
    "slhf_ingest_decode_seconds", "slhf_ingest_consumer_lag",
    "slhf_ingest_kafka_errors_total", "slhf_service_ready",
    # learner
    "slhf_learner_events_total", "slhf_learner_gda_steps_total",
    "slhf_learner_step_duration_seconds", "slhf_learner_preference_accuracy_ratio",
    "slhf_learner_preference_log_loss_nats", "slhf_learner_objective",
    "slhf_learner_leader_survival_ratio", "slhf_learner_policy_entropy_nats",
    "slhf_learner_policy_kl_nats", "slhf_learner_model_version", "slhf_learner_contexts",
    # refine
    "slhf_refine_latency_seconds", "slhf_refine_rounds", "slhf_refine_responses_total",
    "slhf_refine_response_length_chars", "slhf_refine_model_version",
    "slhf_refine_model_age_seconds", "slhf_refine_checkpoints_refused_total",
    # checkpoints
    "slhf_checkpoint_age_seconds", "slhf_checkpoint_duration_seconds",
    "slhf_checkpoint_bytes", "slhf_checkpoint_last_step",
    "slhf_checkpoint_last_unix_seconds", "slhf_checkpoint_corrupt_total",
    # sinks
    "slhf_sink_written_total", "slhf_sink_write_errors_total", "slhf_sink_write_seconds",
    "slhf_sink_dead_letter_written_total",
    # schemas
    "slhf_schemas_decoded_messages_total", "slhf_schemas_decoded_rows_total",
    "slhf_schemas_rejected_messages_total",
}
SUFFIXES = ("_bucket", "_sum", "_count")
HISTOGRAMS = {
    "slhf_ingest_decode_seconds", "slhf_learner_step_duration_seconds",
    "slhf_refine_latency_seconds", "slhf_refine_rounds", "slhf_refine_response_length_chars",
    "slhf_checkpoint_duration_seconds", "slhf_sink_write_seconds",
}
COUNTERS = {m for m in METRICS if m.endswith("_total")}
# Labels of each labelled metric, from its Go registration.
LABELS = {
    "slhf_ingest_consumed_total": {"topic"}, "slhf_ingest_dead_lettered_total": {"reason"},
    "slhf_ingest_decode_seconds": {"topic"}, "slhf_ingest_consumer_lag": {"topic", "partition"},
    "slhf_learner_policy_entropy_nats": {"player"}, "slhf_learner_policy_kl_nats": {"player"},
    "slhf_refine_responses_total": {"changed"}, "slhf_refine_response_length_chars": {"kind"},
    "slhf_checkpoint_duration_seconds": {"op"}, "slhf_sink_written_total": {"sink"},
    "slhf_sink_write_errors_total": {"sink"}, "slhf_sink_write_seconds": {"sink"},
    "slhf_sink_dead_letter_written_total": {"reason"},
    "slhf_schemas_decoded_messages_total": {"kind"}, "slhf_schemas_decoded_rows_total": {"kind"},
    "slhf_schemas_rejected_messages_total": {"kind", "reason"},
}
TARGET_LABELS = {"instance", "job", "role"}  # added by Prometheus and prometheus.yml


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
            names = [base_name(m) for m in re.findall(r"\bslhf_[a-z0-9_]+", t["expr"])]
            used.update(names)
            where = f"panel {panel['id']} ({panel['title']}) {t['refId']}"
            check_types(t["expr"], where, errors)
            check_labels(t, names, where, errors)
    if unknown := used - METRICS:
        errors.append(f"dashboard queries unknown metrics: {sorted(unknown)}")
    if missing := METRICS - used:
        errors.append(f"dashboard lacks metrics: {sorted(missing)}")
    ids = [pn["id"] for pn in dash["panels"]]
    if len(ids) != len(set(ids)):
        errors.append("dashboard panel ids are not unique")


def check_types(expr: str, where: str, errors: list[str]) -> None:
    """check_types wants histograms through their series and counters inside rate()."""
    for m in re.finditer(r"\bslhf_[a-z0-9_]+", expr):
        name, before = m.group(0), expr[: m.start()].rstrip()
        if name in HISTOGRAMS:
            errors.append(f"{where}: histogram {name} used without _bucket/_sum/_count")
        if base_name(name) in COUNTERS and not re.search(r"\b(rate|increase)\($", before):
            errors.append(f"{where}: counter {name} used outside rate()/increase()")
        if name.endswith("_bucket") and "histogram_quantile" not in expr:
            errors.append(f"{where}: {name} used outside histogram_quantile")


def check_labels(target: dict, names: list[str], where: str, errors: list[str]) -> None:
    """check_labels wants every grouping, matcher and legend label to exist."""
    expr = target["expr"]
    have = set(TARGET_LABELS)
    for n in names:
        have |= LABELS.get(n, set())
        if n in HISTOGRAMS:
            have.add("le")
    used = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        used |= {g.strip() for g in group.split(",") if g.strip()}
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        used |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    used |= set(re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}",
                           target.get("legendFormat", "")))
    if unknown := used - have:
        errors.append(f"{where}: labels {sorted(unknown)} not on {sorted(set(names))}")


def check_go_source(errors: list[str]) -> None:
    """check_go_source compares METRICS with the names registered in the Go code."""
    root = HERE.parent
    found = set()
    for p in root.rglob("*.go"):
        if p.name.endswith("_test.go") or "deploy" in p.relative_to(root).parts:
            continue
        found |= set(re.findall(r'"(slhf_[a-z_]+)"', p.read_text(errors="replace")))
    if not found:
        return  # deploy/ copied out of the repository: nothing to compare
    if extra := found - METRICS:
        errors.append(f"Go code exports metrics missing from METRICS: {sorted(extra)}")
    if stale := METRICS - found:
        errors.append(f"METRICS names absent from the Go code: {sorted(stale)}")


def check_ports(docs: list, errors: list[str]) -> None:
    prom = yaml.safe_load((HERE / "prometheus" / "prometheus.yml").read_text())
    targets = [t for sc in prom["scrape_configs"] for s in sc.get("static_configs", [])
               for t in s["targets"]]
    targets += [f"{n}:{s.get('port')}" for sc in prom["scrape_configs"]
                for s in sc.get("dns_sd_configs", []) for n in s["names"]]
    compose = yaml.safe_load((HERE / "compose.yaml").read_text())
    for name, svc in slhf_services(compose).items():
        if f"{name}:{PORT}" not in targets:
            errors.append(f"prometheus.yml does not scrape compose service {name}:{PORT}")
        listen = str(svc.get("environment", {}).get("SLHF_METRICS_LISTEN", ""))
        if listen != f"0.0.0.0:{PORT}":
            errors.append(f"compose.yaml: {name}: SLHF_METRICS_LISTEN is {listen!r}")
    for p, d in docs:
        if d.get("kind") == "ConfigMap" and "slhf.yaml" in d.get("data", {}):
            cfg = yaml.safe_load(d["data"]["slhf.yaml"])
            if cfg.get("metrics", {}).get("listen") != f"0.0.0.0:{PORT}":
                errors.append(f"{p.name}: metrics.listen is not 0.0.0.0:{PORT}")
    for p, d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet"):
            ports = [cp["containerPort"] for c in d["spec"]["template"]["spec"]["containers"]
                     for cp in c.get("ports", [])]
            if PORT not in ports:
                errors.append(f"{p.name}: {d['kind']} does not expose {PORT}")


def slhf_services(compose: dict) -> dict:
    """slhf_services returns the compose services that run the slhf image."""
    return {n: s for n, s in compose["services"].items()
            if "build" in s or str(s.get("image", "")).startswith("slhf:")}


def workloads(docs: list) -> list[tuple[str, list[str], dict, str | None]]:
    """workloads lists (name, args, SLHF_* env, config file text) of every slhf process."""
    image_env = dict(re.findall(r"^ENV\s+(SLHF_[A-Z0-9_]+)=(\S*)",
                                (HERE / "Dockerfile").read_text(), re.M))
    out = []
    compose = yaml.safe_load((HERE / "compose.yaml").read_text())
    for name, svc in slhf_services(compose).items():
        env = image_env | {k: str(v) for k, v in svc.get("environment", {}).items()}
        out.append((f"compose {name}", svc.get("command", ["run"]), env, None))
    cfgfile = None
    for _, d in docs:
        if d.get("kind") == "ConfigMap" and "slhf.yaml" in d.get("data", {}):
            cfgfile = d["data"]["slhf.yaml"]
    for p, d in docs:
        if d.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            env = image_env | {e["name"]: str(e["value"]) for e in c.get("env", [])}
            out.append((f"{p.name} {d['kind']}", c.get("args", ["run"]), env, cfgfile))
    return out


def check_config(slhf: str, docs: list, errors: list[str]) -> None:
    """check_config runs `slhf config` as each workload would be configured."""
    prints: dict[str, set[str]] = {"compose": set(), "k8s": set()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args, env, cfgtext in workloads(docs):
            argv = [a for a in args if a not in ("--bundled",)]
            argv = ["config" if a == "run" else a for a in argv]
            if cfgtext is not None:
                path = os.path.join(tmp, "slhf.yaml")
                pathlib.Path(path).write_text(cfgtext)
                argv = [path if a.startswith("/etc/slhf/") else a for a in argv]
            unknown = [k for k in env if not k.startswith("SLHF_")]
            if unknown:
                errors.append(f"{name}: unexpected variables {unknown}")
            run = subprocess.run([slhf, *argv], capture_output=True, text=True, cwd=tmp,
                                 env={"PATH": "/usr/bin:/bin", "HOME": tmp} | env)
            if run.returncode != 0:
                errors.append(f"{name}: slhf {' '.join(argv)}: {run.stderr.strip()}")
                continue
            fp = re.search(r"^fingerprint: (\S+)", run.stdout, re.M)
            prints["compose" if name.startswith("compose") else "k8s"].add(fp and fp.group(1))
            print(f"deploy/check.py: {name}: ok, {fp and fp.group(0)}")
    for where, fps in prints.items():
        if len(fps) > 1:
            errors.append(f"{where}: workloads differ in config fingerprint {sorted(fps)}: "
                          "refiners would refuse the learner's checkpoints")


def main() -> int:
    ap = argparse.ArgumentParser(description="Validate the deploy files.")
    ap.add_argument("--slhf", help="slhf binary: also check each workload's configuration")
    opts = ap.parse_args()
    errors: list[str] = []
    docs = check_yaml(errors)
    for p in sorted(HERE.rglob("*.json")):
        try:
            json.loads(p.read_text())
        except json.JSONDecodeError as e:
            errors.append(f"{p.relative_to(HERE)}: {e}")
    check_dashboard(errors)
    check_go_source(errors)
    check_ports(docs, errors)
    if opts.slhf:
        check_config(opts.slhf, docs, errors)
    for e in errors:
        print("deploy/check.py:", e, file=sys.stderr)
    print(f"deploy/check.py: {len(docs)} YAML documents, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

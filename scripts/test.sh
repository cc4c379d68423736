#!/usr/bin/env bash
# test.sh runs every test slhf has, installing and starting what they need:
#
#   1. tools: kcat (Debian) and a Python venv with pyarrow, confluent-kafka,
#      pytest and the client in clients/python (PyPI);
#   2. static checks: gofmt, go mod tidy, go vet, the deploy files;
#   3. Go unit and end-to-end tests under the race detector (the embedded
#      broker; integration tests skip themselves here);
#   4. for each Kafka release (newest 4.x and a 3.9.x): a real single-node
#      KRaft broker on 127.0.0.1 from Maven Central jars, the Go integration
#      tests and the Python client's tests against it, then the broker stops,
#      also when a test fails.
#
# Environment (optional): KAFKA_VERSIONS (default "4.4.0 3.9.2"), KAFKA_PORT (first
# broker's port, default 19092; each next version adds 100, its controller +1),
# SKIP_INTEGRATION=1, SLHF_PY_CACHE and SLHF_KAFKA_CACHE (caches, see the scripts
# they belong to).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
versions="${KAFKA_VERSIONS:-4.4.0 3.9.2}"
work="$(mktemp -d "${TMPDIR:-/tmp}/slhf-test.XXXXXX")"
brokers_started=()

step() { printf '\n== %s\n' "$*"; }

cleanup() {
	local dir
	for dir in "${brokers_started[@]}"; do
		bash scripts/kafka/broker.sh stop "$dir" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT

# ensure_debian_packages installs what the tests need from Debian: kcat
# (cross-client test), a C compiler (the race detector needs cgo) and
# python3-venv (the Python client's virtualenv).
ensure_debian_packages() {
	local missing=()
	command -v kcat >/dev/null || missing+=(kcat)
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
	[[ ${#missing[@]} -eq 0 ]] && return
	step "installing ${missing[*]} (Debian)"
	if [[ $(id -u) -ne 0 ]]; then
		echo "missing ${missing[*]} and this is not root: sudo apt-get install -y ${missing[*]}" >&2
		return 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_python() {
	step "python venv for the client and cross-client tests (PyPI)"
	# run_tests.sh creates the venv and installs the client with its test
	# extras; --collect-only keeps this step to the install.
	bash clients/python/run_tests.sh --collect-only -q >/dev/null
	export SLHF_PYTHON="${SLHF_PY_CACHE:-$HOME/.cache/slhf-python}/venv/bin/python"
	"$SLHF_PYTHON" -c 'import pyarrow, confluent_kafka, yaml' 2>/dev/null ||
		"$SLHF_PYTHON" -m pip install -q pyyaml
}

static_checks() {
	step "static checks"
	local unformatted
	unformatted="$(gofmt -l $(git ls-files '*.go'))"
	if [[ -n "$unformatted" ]]; then
		echo "gofmt would change: $unformatted" >&2
		return 1
	fi
	go mod tidy -diff
	go vet ./...
	"$SLHF_PYTHON" deploy/check.py
}

integration() {
	local version="$1" port="$2"
	local dir="$work/kafka-$version"
	step "Kafka $version on 127.0.0.1:$port"
	brokers_started+=("$dir")
	bash scripts/kafka/broker.sh start "$version" "$port" "$dir"
	export SLHF_KAFKA_BROKERS="127.0.0.1:$port" SLHF_KAFKA_DATA_DIR="$dir"
	export SLHF_KAFKA_LOG="$dir/broker.log" SLHF_KAFKA_VERSION="$version"
	step "Go integration tests against Kafka $version (broker log: $dir/broker.log)"
	# Verbose into a file: the log below shows each test ran (not skipped)
	# with its figures; a failure prints the whole output's tail.
	local log="$work/integration-$version.log"
	if ! go test -race -count=1 -timeout 20m -v ./integration/ >"$log" 2>&1; then
		tail -n 300 "$log"
		echo "integration tests failed against Kafka $version; broker log: $dir/broker.log" >&2
		return 1
	fi
	grep -E '^(--- |ok|PASS)|FIGURE|SKIP' "$log"
	step "Python client tests against Kafka $version"
	bash clients/python/run_tests.sh
	bash scripts/kafka/broker.sh stop "$dir"
	unset SLHF_KAFKA_BROKERS SLHF_KAFKA_DATA_DIR SLHF_KAFKA_LOG SLHF_KAFKA_VERSION
}

ensure_debian_packages
ensure_python
static_checks

step "Go unit and end-to-end tests (race detector)"
go test -race -count=1 -timeout 30m ./...

if [[ "${SKIP_INTEGRATION:-}" == 1 ]]; then
	step "integration tests skipped (SKIP_INTEGRATION=1)"
	exit 0
fi
port="${KAFKA_PORT:-19092}"
for v in $versions; do
	integration "$v" "$port"
	port=$((port + 100))
done
step "all tests passed"

#!/usr/bin/env bash
# run_tests.sh creates (once) a virtualenv for the Python client, installs it with
# its test extras, and runs pytest. Extra arguments go to pytest.
#
# Environment:
#   SLHF_PY_CACHE       where the venv lives; default $HOME/.cache/slhf-python
#   PYTHON              interpreter for the venv; default python3 (3.10 or later)
#   SLHF_KAFKA_BROKERS  if set (e.g. 127.0.0.1:19092), integration tests run against it
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${SLHF_PY_CACHE:-${HOME}/.cache/slhf-python}"
venv="${cache}/venv"
stamp="${venv}/.slhf-installed"

# Reinstall when the project's metadata changed since the last install.
want="$(sha256sum "${here}/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -x "${venv}/bin/python" ]]; then
	mkdir -p "${cache}"
	"${PYTHON:-python3}" -m venv "${venv}"
fi
if [[ "$(cat "${stamp}" 2>/dev/null)" != "${want}" ]] ||
	! (cd / && "${venv}/bin/python" -c "import slhf_client, confluent_kafka, pytest") 2>/dev/null; then
	"${venv}/bin/python" -m pip install -q --upgrade pip
	"${venv}/bin/python" -m pip install -q -e "${here}[test]"
	echo "${want}" >"${stamp}"
fi

cd "${here}"
exec "${venv}/bin/python" -m pytest -q -rs "$@"

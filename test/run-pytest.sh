#!/usr/bin/env bash
# The Python model code tests (scripts/, scripts-dev/) on Debian's CPU torch. Extra args go to pytest,
# e.g. bash test/run-pytest.sh -k inference -x
set -euo pipefail
cd "$(dirname "$0")/.."
# /usr/bin/python3 on purpose: Debian's python3-torch lives there, not in a pyenv/venv python.
exec /usr/bin/python3 -m pytest -q test/python "$@"

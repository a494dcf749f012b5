#!/usr/bin/env bash
# The whole test suite: type check, TypeScript unit and end-to-end tests (vitest, against moto),
# then the Python model code tests (pytest on Debian's CPU torch).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
npx vitest run
if [ -f test/run-pytest.sh ]; then bash test/run-pytest.sh; fi

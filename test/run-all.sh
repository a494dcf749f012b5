#!/usr/bin/env bash
# The whole test suite: type check, TypeScript unit and end-to-end tests (vitest, against moto),
# the Python model code tests (pytest on Debian's CPU torch), then the demo from a fresh build,
# which proves the pipeline end to end as a user runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== type check" >&2
npx tsc -p tsconfig.json
echo "== vitest" >&2
npx vitest run
echo "== pytest (scripts/)" >&2
bash test/run-pytest.sh
echo "== demo (npm run demo)" >&2
npm run --silent demo

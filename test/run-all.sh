#!/usr/bin/env bash
# The whole test suite: type check, lint, TypeScript unit and end-to-end tests (vitest, against moto),
# the demo from a fresh build (the pipeline end to end as a user runs it), then the Python model
# code tests (pytest on Debian's CPU torch).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== type check" >&2
npx tsc -p tsconfig.json
echo "== lint (format, eslint, import direction, unused exports)" >&2
npm run --silent lint
echo "== vitest" >&2
npx vitest run
echo "== demo (npm run demo)" >&2
npm run --silent demo
echo "== pytest (scripts/)" >&2
bash test/run-pytest.sh

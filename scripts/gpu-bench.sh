#!/usr/bin/env bash
# One command on a GPU machine (issue 17 item 6): is training limited by the GPU or by the loader?
#
#   bash scripts/gpu-bench.sh
#
# 1. bench_train.py's speed-feature ladder, ResNet50, 224 px, batch 64, on ready tensors, so each
#    row is what the GPU alone can train (images/s) with that configuration;
# 2. bench_train.py --loader-only with this machine's CPU count as workers, on photo-like JPEGs it
#    generates itself: train.py's input pipeline against the seed-style ImageFolder loader;
# 3. one summary table, and which of the two is the bottleneck.
#
# Needs only bash, Python, torch and torchvision. Environment knobs:
#   PYTHON=python3            interpreter with torch
#   GPU_BENCH_SMOKE=1         tiny sizes on CPU (a test anywhere, seconds; numbers mean nothing)
#   GPU_BENCH_IMAGES=256      JPEGs to generate;  GPU_BENCH_EPOCHS=5  loader passes
#   GPU_BENCH_WORKERS=<nproc> loader workers;     GPU_BENCH_DATA=tensor  ladder input (or jpeg)
#   GPU_BENCH_OUT=<tmp dir>   where the data and the JSON results go
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
out="${GPU_BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/gpu-bench.XXXXXX")}"
mkdir -p "$out"
workers="${GPU_BENCH_WORKERS:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)}"
data="${GPU_BENCH_DATA:-tensor}"

if [[ "${GPU_BENCH_SMOKE:-0}" == "1" ]]; then
  device=cpu
  ladder=(--arch resnet18 --image-size 32 --batch-size 4 --steps 2 --warmup 1 --num-images 8 --source-size 48)
  loader=(--image-size 32 --batch-size 4 --epochs "${GPU_BENCH_EPOCHS:-1}" --make-data "${GPU_BENCH_IMAGES:-8}"
          --photo-size 96x72)
  workers="${GPU_BENCH_WORKERS:-1}"
else
  if ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "error: no CUDA device visible to $python (GPU_BENCH_SMOKE=1 runs a CPU smoke test)" >&2
    exit 2
  fi
  device=cuda
  ladder=(--arch resnet50 --image-size 224 --batch-size 64)
  loader=(--image-size 224 --batch-size 64 --epochs "${GPU_BENCH_EPOCHS:-5}" --make-data "${GPU_BENCH_IMAGES:-256}")
fi

echo "== speed-feature ladder ($device, data=$data)" >&2
"$python" "$here/bench_train.py" --device "$device" --data "$data" "${ladder[@]}" --json "$out/ladder.json" >&2
echo "== loader ($workers workers)" >&2
"$python" "$here/bench_train.py" --loader-only --device "$device" --workers "$workers" \
  --data-dir "$out/photos" "${loader[@]}" --json "$out/loader.json" >&2

"$python" - "$out/ladder.json" "$out/loader.json" <<'PY'
import json
import sys

with open(sys.argv[1]) as fh:
    ladder = json.load(fh)
with open(sys.argv[2]) as fh:
    loader = json.load(fh)
setup = ladder["setup"]
print("gpu-bench: {} {} {} px batch {}, torch {}, {} CPUs".format(
    setup["device"], setup["arch"], setup["image_size"], setup["batch_size"], setup["torch"], setup["cpus"]))
print("{:<34} {:>12}".format("configuration", "images/s"))
for row in ladder["results"]:
    print("{:<34} {:>12.1f}".format("train " + row["config"] + " (data=" + setup["data"] + ")", row["images_per_sec"]))
base, new = loader["baseline"]["images_per_sec"], loader["pipeline"]["images_per_sec"]
print("{:<34} {:>12.1f}".format("loader seed-style ({} workers)".format(loader["workers"]), base))
print("{:<34} {:>12.1f}".format("loader train.py ({} workers)".format(loader["workers"]), new))
gpu = max(row["images_per_sec"] for row in ladder["results"])
who = "loader (CPU)" if new < gpu else "GPU"
print("bottleneck={} gpu_images_per_sec={:.1f} loader_images_per_sec={:.1f} loader_speedup={:.2f}x".format(
    who.split()[0], gpu, new, new / base))
PY

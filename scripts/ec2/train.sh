#!/bin/bash
# The box-side runner of `mlops train-ec2` (SSM Run Command runs it as root under bash).
#
# It downloads the content-addressed code package and the data channels, runs the one training
# script the way SageMaker does (torchrun across the GPUs of a multi-GPU box), packs and uploads
# model.tar.gz and output.tar.gz, and prints the artifact marker line the CLI looks for. Any failed
# step ends it with a non-zero exit code and a line naming the step.
#
# Inputs are data, never code: named options, each value one argument, then `--` and the training
# script's own arguments, passed through unchanged. Nothing here evaluates a value, so no value
# (quotes, newlines, `$(...)`, anything) can change what runs.
#
#   train.sh --run-name NAME --region REGION --code-uri s3://.../sourcedir.tar.gz \
#            --channel train=s3://... --channel valid=s3://... [--channel test=s3://...] \
#            --entry-point train.py --python /opt/pytorch/bin/python --distribution auto \
#            --model-uri s3://.../model.tar.gz --output-uri s3://.../output.tar.gz \
#            [--work-root /opt/mlops] -- [--key value ...]
set -euo pipefail

STEP='read the parameters'
log() { printf 'mlops: %s\n' "$*"; }
# Says which step failed, so the CLI's error names it even when the output is cut short.
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then log "step \"$STEP\" failed with exit code $rc"; fi
}
trap on_exit EXIT
die() {
  log "$1"
  exit "${2:-2}"
}

RUN_NAME='' REGION='' CODE_URI='' ENTRY='' PY='' DISTRIBUTION='' MODEL_URI='' OUTPUT_URI='' WORK_ROOT=/opt/mlops
CHANNEL_NAMES=()
CHANNEL_URIS=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --run-name | --region | --code-uri | --channel | --entry-point | --python | --distribution | --model-uri | --output-uri | --work-root)
      [ "$#" -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --run-name) RUN_NAME=$2 ;;
        --region) REGION=$2 ;;
        --code-uri) CODE_URI=$2 ;;
        --channel)
          # name=uri; the name becomes a folder, so only the three SageMaker channels are allowed.
          case "${2%%=*}" in train | valid | test) ;; *) die "unknown channel in --channel $2" ;; esac
          CHANNEL_NAMES+=("${2%%=*}")
          CHANNEL_URIS+=("${2#*=}")
          ;;
        --entry-point) ENTRY=$2 ;;
        --python) PY=$2 ;;
        --distribution) DISTRIBUTION=$2 ;;
        --model-uri) MODEL_URI=$2 ;;
        --output-uri) OUTPUT_URI=$2 ;;
        --work-root) WORK_ROOT=$2 ;;
      esac
      shift 2
      ;;
    *) die "unknown option: $1 (the training script's arguments go after --)" ;;
  esac
done
# What is left in "$@" is the training script's arguments (--key value, sorted by the CLI).

for pair in RUN_NAME:run-name REGION:region CODE_URI:code-uri ENTRY:entry-point PY:python DISTRIBUTION:distribution MODEL_URI:model-uri OUTPUT_URI:output-uri; do
  var=${pair%%:*}
  [ -n "${!var}" ] || die "missing --${pair#*:}"
done
# The run name is a folder name; the entry point must be a file inside the package, not an option.
[[ "$RUN_NAME" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--run-name must be letters, digits, dots, hyphens or underscores"
case "$ENTRY" in -* | /* | *..*) die "--entry-point must be a relative path inside the code package" ;; esac
case "$PY" in /*) ;; *) die "--python must be an absolute path" ;; esac
case "$DISTRIBUTION" in auto | torch_distributed | native | none) ;; *) die "--distribution must be auto, torch_distributed, native or none" ;; esac
case "$WORK_ROOT" in /*) ;; *) die "--work-root must be an absolute path" ;; esac
have_channel() {
  local n
  for n in "${CHANNEL_NAMES[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}
have_channel train || die "missing --channel train=s3://..."
have_channel valid || die "missing --channel valid=s3://..."

# The agent's environment is minimal (no HOME, a short PATH): set what the AWS CLI and Python need.
export HOME=/root
PATH="$(dirname -- "$PY"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"
export PYTHONUNBUFFERED=1
WORK="${WORK_ROOT%/}/$RUN_NAME"

STEP='check the PyTorch environment'
[ -x "$PY" ] || die "$PY is missing: use a PyTorch Deep Learning AMI or set ec2.pythonPath" 3
command -v aws >/dev/null || die "the AWS CLI is missing on this AMI" 3
rm -rf "$WORK"
mkdir -p "$WORK/code" "$WORK/data" "$WORK/model" "$WORK/checkpoints" "$WORK/output/data"

STEP='download the code'
log "downloading $CODE_URI"
aws s3 cp --only-show-errors "$CODE_URI" "$WORK/sourcedir.tar.gz"
tar -xzf "$WORK/sourcedir.tar.gz" -C "$WORK/code"

STEP='download the data'
for i in "${!CHANNEL_NAMES[@]}"; do
  name=${CHANNEL_NAMES[$i]}
  uri=${CHANNEL_URIS[$i]%/}/
  log "syncing ${uri%/}"
  mkdir -p "$WORK/data/$name"
  aws s3 sync --only-show-errors "$uri" "$WORK/data/$name"
done
channel_uri() {
  local i
  for i in "${!CHANNEL_NAMES[@]}"; do [ "${CHANNEL_NAMES[$i]}" = "$1" ] && printf '%s' "${CHANNEL_URIS[$i]}"; done
}
[ -n "$(ls -A "$WORK/data/train")" ] || die "no training data under $(channel_uri train): run mlops upload-data" 4
[ -n "$(ls -A "$WORK/data/valid")" ] || die "no validation data under $(channel_uri valid): run mlops upload-data" 4

STEP='train'
ARGS=(--train "$WORK/data/train" --valid "$WORK/data/valid")
if [ -d "$WORK/data/test" ] && [ -n "$(ls -A "$WORK/data/test")" ]; then ARGS+=(--test "$WORK/data/test"); fi
ARGS+=(--model-dir "$WORK/model" --checkpoint-dir "$WORK/checkpoints" --output-data-dir "$WORK/output/data" "$@")
# `grep -c` prints 0 and exits 1 without GPUs; `|| true` keeps set -e and pipefail quiet.
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
NGPU=${NGPU:-0}
cd "$WORK/code"
if [ "$NGPU" -gt 1 ] && { [ "$DISTRIBUTION" = auto ] || [ "$DISTRIBUTION" = torch_distributed ]; }; then
  log "training on $NGPU GPUs with torchrun"
  "$PY" -m torch.distributed.run --standalone --nproc_per_node "$NGPU" "$ENTRY" "${ARGS[@]}"
else
  log "training on $NGPU GPU(s)"
  "$PY" "$ENTRY" "${ARGS[@]}"
fi

STEP='package the model'
shopt -s dotglob nullglob
cd "$WORK/model"
FILES=(*)
[ "${#FILES[@]}" -gt 0 ] || die "$ENTRY wrote nothing to the model dir" 5
# Entries at the archive root (model.pth, classes.json, ...), like SageMaker's model.tar.gz.
tar -czf "$WORK/model.tar.gz" -- "${FILES[@]}"

STEP='upload the model'
aws s3 cp --only-show-errors "$WORK/model.tar.gz" "$MODEL_URI"
cd "$WORK/output/data"
FILES=(*)
if [ "${#FILES[@]}" -gt 0 ]; then
  tar -czf "$WORK/output.tar.gz" -- "${FILES[@]}"
  aws s3 cp --only-show-errors "$WORK/output.tar.gz" "$OUTPUT_URI"
fi

STEP='done'
printf 'MLOPS_MODEL_ARTIFACT=%s\n' "$MODEL_URI"

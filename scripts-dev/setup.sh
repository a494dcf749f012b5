#!/usr/bin/env bash
# One-time setup for a fresh machine of this kind: Debian packages the tests and demo need,
# a check that moto is present, and the npm dependencies. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-starlette: the predictor (scripts/deployment.py) answers Starlette requests, as under Ray Serve;
# python3-yaml: the model archive test reads config.yaml; chromium: the report test opens the HTML in a headless browser.
DEBIAN_PACKAGES=(python3-torch python3-torchvision python3-pil python3-pytest python3-starlette python3-yaml awscli shellcheck chromium)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# moto is the AWS emulator every end-to-end test and the demo run against.
if ! python3 -c 'import moto.server, flask' 2>/dev/null; then
  echo "setup: FATAL: moto (with its server extra) is not importable by $(command -v python3)." >&2
  echo "setup: this machine kind ships moto 5.2.1 in the pyenv Python; install it with: python3 -m pip install 'moto[server]==5.2.1'" >&2
  exit 1
fi
if ! /usr/bin/python3 -c 'import torch, torchvision, PIL, starlette' 2>/dev/null; then
  echo "setup: FATAL: Debian's python3 cannot import torch/torchvision/PIL/starlette after install." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: ok" >&2

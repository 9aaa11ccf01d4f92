#!/usr/bin/env bash
# Installs every build, test and benchmark dependency ladle needs from Debian's archive.
# Idempotent and quiet when everything is already there. Needs root (or sudo).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
  libevent-dev libjansson-dev libyaml-dev libsqlite3-dev libpq-dev
  python3 python3-numpy python3-pytest python3-requests python3-onnx
  postgresql sqlite3 python3-sklearn curl
)
# Heavier extras: torch for golden-model generation and benchmarks. Opt in with LADLE_SETUP_EXTRAS=1.
EXTRAS=(python3-torch python3-torchvision python3-xgboost python3-pandas python3-fastapi python3-uvicorn
        wrk nginx-light)

want=("${PKGS[@]}")
if [ "${LADLE_SETUP_EXTRAS:-0}" = 1 ]; then want+=("${EXTRAS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

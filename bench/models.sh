#!/usr/bin/env bash
# Makes the models the benchmark uses: the full-size golden fixtures under tests/fixtures/large/
# (resnet18, mobilenet_v2, efficientnet_b0, vit_small, text_encoder, ... ; about 700 MB with
# vit_b_16) from torchvision with random, calibrated weights. Needs Debian's python3-torch and
# python3-torchvision (scripts/setup.sh with LADLE_SETUP_EXTRAS=1). Existing fixtures are kept.
#
#   bench/models.sh                 every large model
#   bench/models.sh resnet18,mlp    just these
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
  exec /usr/bin/python3 tools/export_golden.py --only "$1"
fi
exec /usr/bin/python3 tools/export_golden.py --large

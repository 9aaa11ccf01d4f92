#!/usr/bin/env bash
# Sets up, builds, and starts `ladle serve` on the bundled example models (examples/models:
# mlp, iris, breast_cancer) on port 8000 (LADLE_PORT to change). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
port=${LADLE_PORT:-8000}
cat >&2 <<MSG
ladle: serving examples/models on http://localhost:$port  (Ctrl-C stops it). Try:
  curl localhost:$port/v2/health/ready -i
  curl localhost:$port/v2/models/mlp
  curl localhost:$port/v2/models/iris/infer -d '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}'
  curl localhost:$port/metrics
MSG
exec build/ladle serve --model-repository examples/models --http-port "$port"

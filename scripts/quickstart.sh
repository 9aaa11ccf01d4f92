#!/usr/bin/env bash
# Sets up, builds, and runs ladle on the bundled example model (examples/models/mlp): prints what
# the model takes and gives, predicts on the example input, and times it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
model=examples/models/mlp/1/model.onnx
build/ladle inspect "$model"
build/ladle predict --model "$model" --input examples/models/mlp/example_input.npy --output-dir /tmp/ladle-quickstart
/usr/bin/python3 -c "import numpy as np, glob; [print(f, np.load(f)) for f in sorted(glob.glob('/tmp/ladle-quickstart/*.npy'))]"
build/ladle bench --model "$model" --batch 1 --iterations 2000

"""The seeds' canonical Python model server, for comparison with `ladle serve`: FastAPI + uvicorn
+ torch doing the same prediction (the same MLP, weights read from the same ONNX file) behind the
same V2 JSON request and response.

    /usr/bin/python3 bench/http/fastapi_app.py MODEL.onnx PORT
"""

import sys

import numpy as np
import onnx
import torch
import uvicorn
from fastapi import FastAPI, Request
from onnx import numpy_helper


def mlp_from_onnx(path):
    """Rebuilds the fixture's Gemm/Relu chain as a torch module with the ONNX file's weights."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    layers = []
    for node in m.graph.node:
        if node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            w, b = inits[node.input[1]], inits[node.input[2]]
            if not attrs.get("transB", 0):
                w = w.T
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data = torch.from_numpy(np.ascontiguousarray(w))
            lin.bias.data = torch.from_numpy(b)
            layers.append(lin)
        elif node.op_type == "Relu":
            layers.append(torch.nn.ReLU())
        else:
            raise SystemExit(f"unexpected op {node.op_type}")
    return torch.nn.Sequential(*layers).eval()


torch.set_num_threads(1)
model = mlp_from_onnx(sys.argv[1])
app = FastAPI()


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


@app.post("/v2/models/mlp/infer")
async def infer(request: Request):
    body = await request.json()
    inp = body["inputs"][0]
    x = torch.tensor(inp["data"], dtype=torch.float32).reshape(inp["shape"])
    with torch.no_grad():
        y = model(x)
    return {"model_name": "mlp", "model_version": "1",
            "outputs": [{"name": "logits", "datatype": "FP32", "shape": list(y.shape),
                         "data": y.flatten().tolist()}]}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)

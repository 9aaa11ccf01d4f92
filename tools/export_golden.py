#!/usr/bin/python3
"""Export golden ONNX models with torch's own outputs, for ladle's end-to-end tests and benchmarks.

Every model is built with a fixed seed and random weights (no downloads), calibrated so that its
activations keep healthy magnitudes, exported with torch.onnx.export (dynamic batch axis) and saved
as one fixture directory:

    <out>/<name>_op<opset>/
        model.onnx
        inputs/<input name>.npy        C order; float32 (images, features) or int64 (ids)
        expected/<output name>.npy     torch's output for those inputs (float32)
        meta.json                      family, opset, inputs/outputs (names, shapes, dtypes,
                                       dynamic axes), tolerance (max|diff| / max|ref|), stats

Small models (each well under 2 MB) go to tests/fixtures/ and are committed; the full-size ones
(resnet18, vit_b_16, ...) are generated on demand into tests/fixtures/large/ with --large.

    /usr/bin/python3 tools/export_golden.py                 # all small fixtures
    /usr/bin/python3 tools/export_golden.py --large         # full-size models (slow, ~1 GB)
    /usr/bin/python3 tools/export_golden.py --only vit_tiny,mlp --list
"""

import argparse
import json
import os
import re
import shutil
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torchvision
import importlib
from torchvision.models import mobilenetv3, efficientnet, regnet, squeezenet, resnet
from torchvision.models import densenet, shufflenetv2, mnasnet, mobilenetv2, vision_transformer
googlenet = importlib.import_module("torchvision.models.googlenet")  # the attribute is the function

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_DIR = os.path.join(REPO, "tests", "fixtures")
LARGE_DIR = os.path.join(REPO, "tests", "fixtures", "large")
DEFAULT_TOLERANCE = 1e-4
GOLDEN_BATCH = 2


def safe_name(name):
    """The file name ladle predict uses for a tensor name (the CLI contract)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# --------------------------------------------------------------------------------------------
# Input descriptions. shape[0] is the batch dimension (dynamic); `dynamic` names other dynamic
# axes {axis: symbol}. kind is "image" / "normal" (float32 N(0,1)), "ids" (int64 in [lo, hi)),
# or "tokens" (int64 ids with trailing padding 0, at least one real token per row).
# --------------------------------------------------------------------------------------------
class Input:
    def __init__(self, name, shape, kind="normal", lo=0, hi=0, dynamic=None):
        self.name, self.shape, self.kind, self.lo, self.hi = name, tuple(shape), kind, lo, hi
        self.dynamic = dict(dynamic or {})

    def make(self, rng, batch):
        shape = (batch,) + self.shape[1:]
        if self.kind in ("image", "normal"):
            return rng.standard_normal(shape).astype(np.float32)
        if self.kind == "ids":
            return rng.integers(self.lo, self.hi, size=shape, dtype=np.int64)
        if self.kind == "tokens":
            ids = rng.integers(max(self.lo, 1), self.hi, size=shape, dtype=np.int64)
            seq = shape[1]
            for row in range(shape[0]):
                keep = int(rng.integers(max(1, seq // 3), seq + 1))
                ids[row, keep:] = 0
            ids[0, :] = np.where(ids[0, :] == 0, 1, ids[0, :])  # one row with no padding at all
            return ids
        raise ValueError(self.kind)

    @property
    def dtype(self):
        return "float32" if self.kind in ("image", "normal") else "int64"


class Spec:
    def __init__(self, name, family, build, inputs, outputs, opsets=(17,), large=False,
                 tolerance=DEFAULT_TOLERANCE, calib_batch=8, calib_steps=4, seed=0, note=""):
        self.name, self.family, self.build = name, family, build
        self.inputs, self.outputs, self.opsets = inputs, outputs, tuple(opsets)
        self.large, self.tolerance = large, tolerance
        self.calib_batch, self.calib_steps, self.seed, self.note = calib_batch, calib_steps, seed, note


SPECS = []


def spec(*args, **kwargs):
    SPECS.append(Spec(*args, **kwargs))


def image(c=3, h=64, w=64):
    return [Input("input", (GOLDEN_BATCH, c, h, w), "image")]


# --------------------------------------------------------------------------------------------
# Small models: each family's characteristic ops at a size that commits cheaply.
# --------------------------------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 2))

    def forward(self, x):
        return self.net(x)


class ResNetTiny(nn.Module):
    """torchvision's BasicBlock and Bottleneck at a few channels: stem, identity and projection
    shortcuts, stride 2, max pool, global average pool, fc."""

    def __init__(self, num_classes=10):
        super().__init__()
        bn = nn.BatchNorm2d
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), bn(8), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        self.layer1 = resnet.BasicBlock(8, 8)
        self.layer2 = resnet.BasicBlock(8, 16, stride=2, downsample=nn.Sequential(
            resnet.conv1x1(8, 16, 2), bn(16)))
        self.layer3 = resnet.Bottleneck(16, 8, stride=2, downsample=nn.Sequential(
            resnet.conv1x1(16, 32, 2), bn(32)))
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class SqueezeNetTiny(nn.Module):
    """SqueezeNet 1.1's layout (Fire modules, ceil-mode max pools, conv classifier) at a few channels."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            squeezenet.Fire(16, 4, 8, 8), squeezenet.Fire(16, 4, 8, 8),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            squeezenet.Fire(16, 8, 16, 16))
        final = nn.Conv2d(32, num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(0.5), final, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight)
                nn.init.constant_(m.bias, 0.01)

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class GoogLeNetTiny(nn.Module):
    """GoogLeNet's parts (transform_input, BasicConv2d, Inception with its ceil-mode pool branch)
    at a few channels; the real one is 26 MB."""

    def __init__(self, num_classes=10):
        super().__init__()
        C, I = googlenet.BasicConv2d, googlenet.Inception
        self.conv1 = C(3, 8, kernel_size=7, stride=2, padding=3)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = C(8, 8, kernel_size=1)
        self.conv3 = C(8, 16, kernel_size=3, padding=1)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inc3a = I(16, 8, 8, 12, 4, 6, 6)        # -> 32
        self.inc3b = I(32, 12, 12, 16, 4, 8, 8)      # -> 44
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inc4a = I(44, 16, 8, 16, 4, 8, 8)       # -> 48
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(48, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01 * 10, a=-0.2, b=0.2)

    def forward(self, x):
        x0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        x = torch.cat((x0, x1, x2), 1)
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv3(self.conv2(x)))
        x = self.pool3(self.inc3b(self.inc3a(x)))
        x = self.inc4a(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


class TextEncoder(nn.Module):
    """Token ids -> nn.Embedding + learned positions -> nn.TransformerEncoder (batch_first, key
    padding mask from id 0) -> mean over real tokens -> Linear."""

    def __init__(self, vocab=100, d=32, heads=4, ff=64, layers=2, max_len=64, classes=3,
                 norm_first=False):
        super().__init__()
        self.embed = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(1, max_len, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.1, batch_first=True,
                                           norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, ids):
        pad = ids == 0
        x = self.embed(ids) + self.pos[:, : ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.head(pooled)


class Recommender(nn.Module):
    """Two-tower-ish recommender: user/item embeddings, their dot product, and an MLP tower over
    [user, item, dense features] -> click probability. Two outputs, one with a ':' in its name."""

    def __init__(self, users=1000, items=500, d=16, dense=8, hidden=32):
        super().__init__()
        self.user = nn.Embedding(users, d)
        self.item = nn.Embedding(items, d)
        self.tower = nn.Sequential(nn.Linear(2 * d + dense, hidden), nn.ReLU(),
                                   nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, user_id, item_id, dense):
        u, i = self.user(user_id), self.item(item_id)
        dot = (u * i).sum(dim=-1, keepdim=True)
        logit = self.tower(torch.cat([u, i, dense], dim=-1)) + dot
        return torch.sigmoid(logit), dot.squeeze(-1)


def mobilenet_v3_tiny():
    setting, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.25)
    # keep the stem block (SE, ReLU), a plain RE block and two HS blocks (one with SE, stride 2)
    return mobilenetv3.MobileNetV3(setting[:5], last, num_classes=10)


def efficientnet_tiny():
    setting, _ = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.34)
    return efficientnet.EfficientNet(setting[:4], dropout=0.2, num_classes=10, last_channel=128)


def mobilenet_v2_tiny():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]]
    return mobilenetv2.MobileNetV2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting)


def shufflenet_tiny():
    return shufflenetv2.ShuffleNetV2([2, 1, 1], [8, 16, 32, 64, 128], num_classes=10)


def regnet_tiny(se):
    params = regnet.BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8,
                                                 se_ratio=0.25 if se else None)
    return regnet.RegNet(params, num_classes=10, stem_width=8)


def densenet_tiny():
    return densenet.DenseNet(growth_rate=8, block_config=(2, 2, 2), num_init_features=16, bn_size=2,
                             num_classes=10)


def mnasnet_tiny():
    return mnasnet.MNASNet(0.1, num_classes=10)


def vit(**kwargs):
    """torchvision's VisionTransformer; its head starts at zero, which would make every logit 0."""
    model = kwargs.pop("ctor", vision_transformer.VisionTransformer)(**kwargs)
    nn.init.normal_(model.heads.head.weight, std=0.02)
    nn.init.normal_(model.heads.head.bias, std=0.02)
    return model


def vit_tiny():
    return vit(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
               num_classes=10)


spec("mlp", "mlp", MLP, [Input("x", (GOLDEN_BATCH, 30))], ["logits"], opsets=(13, 17))
spec("resnet_tiny", "resnet", ResNetTiny, image(3, 64, 48), ["logits"], opsets=(13, 17))
spec("mobilenet_v2_tiny", "mobilenet_v2", mobilenet_v2_tiny, image(), ["logits"])
spec("mobilenet_v3_tiny", "mobilenet_v3", mobilenet_v3_tiny, image(), ["logits"], opsets=(13, 17))
spec("efficientnet_tiny", "efficientnet", efficientnet_tiny, image(), ["logits"])
spec("squeezenet_tiny", "squeezenet", SqueezeNetTiny, image(), ["logits"])
spec("shufflenet_tiny", "shufflenet_v2", shufflenet_tiny, image(), ["logits"])
spec("regnet_x_tiny", "regnet", lambda: regnet_tiny(False), image(), ["logits"])
spec("regnet_y_tiny", "regnet", lambda: regnet_tiny(True), image(), ["logits"])
spec("densenet_tiny", "densenet", densenet_tiny, image(), ["logits"])
spec("googlenet_tiny", "googlenet", GoogLeNetTiny, image(), ["logits"])
spec("mnasnet_tiny", "mnasnet", mnasnet_tiny, image(), ["logits"])
spec("vit_tiny", "vit", vit_tiny, image(3, 32, 32), ["logits"], opsets=(13, 17))
spec("text_encoder_tiny", "text_transformer", TextEncoder,
     [Input("ids", (GOLDEN_BATCH, 12), "tokens", 1, 100, dynamic={1: "seq"})], ["logits"],
     opsets=(13, 17), note="key padding mask from id 0; dynamic batch and sequence length")
spec("text_encoder_prenorm_tiny", "text_transformer", lambda: TextEncoder(norm_first=True),
     [Input("ids", (GOLDEN_BATCH, 10), "tokens", 1, 100)], ["logits"])
spec("recommender", "recommender", Recommender,
     [Input("user_id", (GOLDEN_BATCH,), "ids", 0, 1000), Input("item_id", (GOLDEN_BATCH,), "ids", 0, 500),
      Input("dense", (GOLDEN_BATCH, 8))], ["score:0", "dot"], opsets=(13, 17))

# --------------------------------------------------------------------------------------------
# Full-size models (on demand, --large): torchvision's constructors with random weights.
# --------------------------------------------------------------------------------------------
M = torchvision.models
IMG = image(3, 224, 224)
spec("resnet18", "resnet", lambda: M.resnet18(), IMG, ["logits"], large=True, opsets=(13, 17))
spec("mobilenet_v2", "mobilenet_v2", lambda: M.mobilenet_v2(), IMG, ["logits"], large=True)
spec("mobilenet_v3_small", "mobilenet_v3", lambda: M.mobilenet_v3_small(), IMG, ["logits"], large=True)
spec("squeezenet1_1", "squeezenet", lambda: M.squeezenet1_1(), IMG, ["logits"], large=True)
spec("shufflenet_v2_x0_5", "shufflenet_v2", lambda: M.shufflenet_v2_x0_5(), IMG, ["logits"], large=True)
spec("efficientnet_b0", "efficientnet", lambda: M.efficientnet_b0(), IMG, ["logits"], large=True)
spec("densenet121", "densenet", lambda: M.densenet121(), IMG, ["logits"], large=True, calib_batch=4)
spec("googlenet", "googlenet",
     lambda: M.googlenet(aux_logits=False, transform_input=True, init_weights=True), IMG, ["logits"],
     large=True)
spec("regnet_x_400mf", "regnet", lambda: M.regnet_x_400mf(), IMG, ["logits"], large=True)
spec("regnet_y_400mf", "regnet", lambda: M.regnet_y_400mf(), IMG, ["logits"], large=True)
spec("mnasnet0_5", "mnasnet", lambda: M.mnasnet0_5(), IMG, ["logits"], large=True)
spec("vit_b_16", "vit", lambda: vit(ctor=M.vit_b_16), IMG, ["logits"], large=True, calib_steps=0)
spec("vit_small", "vit",
     lambda: vit(image_size=224, patch_size=16, num_layers=6, num_heads=6, hidden_dim=384, mlp_dim=1536,
                 num_classes=1000),
     IMG, ["logits"], large=True, calib_steps=0, note="ViT-S/16 widths, 6 layers")
spec("text_encoder", "text_transformer",
     lambda: TextEncoder(vocab=8000, d=256, heads=4, ff=1024, layers=4, max_len=128, classes=2),
     [Input("ids", (GOLDEN_BATCH, 128), "tokens", 1, 8000)], ["logits"], large=True,
     note="BERT-mini-like: 4 layers, d=256, sequence 128 (fixed), dynamic batch")
spec("recommender_large", "recommender",
     lambda: Recommender(users=100000, items=20000, d=64, dense=16, hidden=256),
     [Input("user_id", (GOLDEN_BATCH,), "ids", 0, 100000), Input("item_id", (GOLDEN_BATCH,), "ids", 0, 20000),
      Input("dense", (GOLDEN_BATCH, 16))], ["score:0", "dot"], large=True)


# --------------------------------------------------------------------------------------------
def calibrate(model, sp, rng):
    """Random weights leave BatchNorm at mean 0 / var 1, so deep nets' activations drift to zero or
    blow up. Recompute the running statistics from a few random batches (cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or sp.calib_steps == 0:
        return 0
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(sp.calib_steps):
            args = [torch.from_numpy(i.make(rng, sp.calib_batch)) for i in sp.inputs]
            model(*args)
    model.eval()
    return len(bns)


def rescale_head(model, ref):
    """Classifier heads initialised with std 0.01 give logits of a few thousandths; scale the last
    Linear so that a single output has a standard deviation near 1 (it is the last op: exact)."""
    if not isinstance(ref, torch.Tensor) or ref.numel() < 2:
        return False
    std = float(ref.std())
    last = [m for m in model.modules() if len(list(m.children())) == 0 and not isinstance(m, nn.Dropout)]
    if std >= 0.1 or std == 0.0 or not last or not isinstance(last[-1], nn.Linear):
        return False
    last[-1].weight.mul_(1.0 / std)
    if last[-1].bias is not None:
        last[-1].bias.mul_(1.0 / std)
    return True


def find_spec(name):
    for s in SPECS:
        if s.name == name:
            return s
    raise KeyError(f"no model named {name!r} (see --list)")


def build_model(name):
    """The model `name` exactly as it is exported: seeded weights, calibrated, head rescaled,
    eval mode. Returns (model, spec). For benchmarks (bench/torch_bench.py)."""
    sp = find_spec(name)
    torch.manual_seed(sp.seed)
    rng = np.random.default_rng(1234 + sp.seed)
    model = sp.build()
    model.eval()
    calibrate(model, sp, rng)
    feeds = [i.make(rng, GOLDEN_BATCH) for i in sp.inputs]
    with torch.no_grad():
        rescale_head(model, model(*[torch.from_numpy(f) for f in feeds]))
    return model, sp


def export_one(sp, opset, out_root, force=False):
    name = f"{sp.name}_op{opset}"
    out = os.path.join(out_root, name)
    if os.path.exists(os.path.join(out, "meta.json")) and not force:
        print(f"{name}: exists (use --force to rebuild)")
        return out
    t0 = time.time()
    torch.manual_seed(sp.seed)
    rng = np.random.default_rng(1234 + sp.seed)
    model = sp.build()
    model.eval()
    nbn = calibrate(model, sp, rng)
    # Parameters keep requires_grad and grad stays enabled: that keeps torch 1.13's fused
    # TransformerEncoder / MultiheadAttention fast paths (which have no ONNX export) out of both the
    # reference run and the export, so the golden comes from the same graph that is exported.
    feeds = [i.make(rng, GOLDEN_BATCH) for i in sp.inputs]
    args = tuple(torch.from_numpy(f) for f in feeds)
    ref = model(*args)
    with torch.no_grad():
        rescaled = rescale_head(model, ref)
    if rescaled:
        ref = model(*args)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    refs = [r.detach().numpy().copy() for r in refs]
    assert len(refs) == len(sp.outputs), (name, len(refs))

    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "inputs"))
    os.makedirs(os.path.join(tmp, "expected"))
    dyn = {}
    for i in sp.inputs:
        dyn[i.name] = {0: "batch", **i.dynamic}
    for o in sp.outputs:
        dyn[o] = {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, os.path.join(tmp, "model.onnx"), opset_version=opset,
                          input_names=[i.name for i in sp.inputs], output_names=list(sp.outputs),
                          dynamic_axes=dyn, do_constant_folding=True)

    import onnx
    m = onnx.load(os.path.join(tmp, "model.onnx"))
    onnx.checker.check_model(m)
    ops = sorted({(n.domain or "") + ("." if n.domain else "") + n.op_type for n in m.graph.node})
    # torch's output names survive export as given; check that they did
    graph_outputs = [o.name for o in m.graph.output]
    assert graph_outputs == list(sp.outputs), (graph_outputs, sp.outputs)

    meta = {
        "name": name,
        "model": sp.name,
        "family": sp.family,
        "opset": opset,
        "large": sp.large,
        "tolerance": sp.tolerance,
        "tolerance_kind": "relative: max|out - ref| / max|ref| per output",
        "golden_batch": GOLDEN_BATCH,
        "seed": sp.seed,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "calibrated_batchnorms": nbn,
        "ops": ops,
        "nodes": len(m.graph.node),
        "note": sp.note,
        "inputs": [],
        "outputs": [],
    }
    for i, f in zip(sp.inputs, feeds):
        fn = f"inputs/{safe_name(i.name)}.npy"
        np.save(os.path.join(tmp, fn), np.ascontiguousarray(f))
        meta["inputs"].append({"name": i.name, "file": fn, "dtype": str(f.dtype), "shape": list(f.shape),
                               "dynamic_axes": {str(k): v for k, v in dyn[i.name].items()},
                               "kind": i.kind, **({"range": [i.lo, i.hi]} if i.dtype == "int64" else {})})
    for oname, r in zip(sp.outputs, refs):
        fn = f"expected/{safe_name(oname)}.npy"
        r = np.ascontiguousarray(r.astype(np.float32) if r.dtype == np.float64 else r)
        np.save(os.path.join(tmp, fn), r)
        std = float(r.std()) if r.size > 1 else float(abs(r).max())
        meta["outputs"].append({"name": oname, "file": fn, "dtype": str(r.dtype), "shape": list(r.shape),
                                "std": std, "max_abs": float(np.abs(r).max())})
        if not np.isfinite(r).all() or std < 1e-4:
            raise RuntimeError(f"{name}: output {oname} is degenerate (std {std:g})")
    with open(os.path.join(tmp, "meta.json"), "w") as fp:
        json.dump(meta, fp, indent=1)
        fp.write("\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    stds = ", ".join(f"{o['name']} std {o['std']:.3g}" for o in meta["outputs"])
    print(f"{name}: {size / 1e6:.2f} MB, {len(m.graph.node)} nodes, {nbn} BN, {stds}, "
          f"{time.time() - t0:.1f}s")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--large", action="store_true", help="export the full-size models into tests/fixtures/large")
    ap.add_argument("--all", action="store_true", help="small and large")
    ap.add_argument("--only", default="", help="comma-separated model names (e.g. resnet18,mlp)")
    ap.add_argument("--opset", type=int, default=0, help="export only at this opset")
    ap.add_argument("--out", default="", help="output root (default tests/fixtures or tests/fixtures/large)")
    ap.add_argument("--force", action="store_true", help="rebuild fixtures that already exist")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    only = {s for s in a.only.split(",") if s}
    unknown = only - {s.name for s in SPECS}
    if unknown:
        sys.exit(f"export_golden: unknown model(s): {', '.join(sorted(unknown))}")
    if only:
        chosen = [s for s in SPECS if s.name in only]
    else:
        chosen = [s for s in SPECS if a.all or s.large == a.large]
    if a.list:
        for s in chosen:
            print(f"{s.name:28s} {s.family:16s} {'large' if s.large else 'small'} opsets {list(s.opsets)}")
        return
    for s in chosen:
        root = a.out or (LARGE_DIR if s.large else SMALL_DIR)
        for opset in s.opsets:
            if a.opset and opset != a.opset:
                continue
            export_one(s, opset, root, a.force)


if __name__ == "__main__":
    main()

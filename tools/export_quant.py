#!/usr/bin/python3
"""Export INT8-quantized golden models for ladle's end-to-end tests, with expected outputs from a
numpy reference of the same integer arithmetic (not torch: torch 1.13 here cannot export
quantized models to ONNX, and ONNX Runtime's quantization tooling is not packaged).

Two models, in the two layouts ONNX Runtime's quantizer produces:

  quant_cnn_op13       static quantization, QOperator format: QuantizeLinear -> QLinearConv
                       (int8 per-channel weights, uint8 activations, int32 bias, ReLU folded into
                       the output range) -> depthwise QLinearConv (stride 2) -> 1x1 QLinearConv ->
                       Flatten -> QLinearMatMul -> DequantizeLinear.
  quant_mlp_dyn_op13   dynamic quantization: DynamicQuantizeLinear -> MatMulInteger (int8 weights,
                       per-tensor then per-column scales) -> Cast -> Mul(scale) -> Add(bias) -> Relu,
                       twice.

Weights are float32 numpy draws (fixed seed) quantized here: symmetric int8 (zero point 0) per
output channel or per tensor; activation ranges are calibrated on a separate random batch.
The reference follows the ONNX spec operation by operation in float32 / int32, in the same
order ladle computes (x / scale, round half to even, saturate; requantization multiplier
(x_scale * w_scale) / y_scale applied to the int32 accumulator), so ladle must match it exactly;
the fixtures' tolerance (1e-6 relative) leaves room for nothing but float printing.

    /usr/bin/python3 tools/export_quant.py             # writes tests/fixtures/quant_*
    /usr/bin/python3 tools/export_quant.py --large     # also a bigger CNN under tests/fixtures/large
"""

import argparse
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_DIR = os.path.join(REPO, "tests", "fixtures")
LARGE_DIR = os.path.join(REPO, "tests", "fixtures", "large")
GOLDEN_BATCH = 2
F32 = np.float32


# ---------------------------------------------------------------------------------------------
# The integer reference (ONNX semantics, float32 where the spec computes in float)
# ---------------------------------------------------------------------------------------------
def saturate(v, dtype):
    info = np.iinfo(dtype)
    return np.clip(v, info.min, info.max).astype(dtype)


def quantize(x, scale, zp):
    """QuantizeLinear, per tensor: saturate(rint(x / scale) + zp)."""
    q = np.rint(x.astype(F32) / F32(scale)).astype(np.float32) + F32(zp)
    return saturate(q, np.asarray(zp).dtype)


def dequantize(q, scale, zp):
    return (q.astype(np.int32) - np.int32(zp)).astype(F32) * F32(scale)


def dynamic_quantize(x):
    """DynamicQuantizeLinear: uint8 over [min(0, x), max(0, x)]."""
    mn = F32(min(F32(0), x.min()))
    mx = F32(max(F32(0), x.max()))
    scale = F32((mx - mn) / F32(255))
    zp = np.uint8(np.clip(np.rint(F32(0) - mn / scale), 0, 255)) if scale > 0 else np.uint8(0)
    return quantize(x, scale, zp), scale, zp


def requantize(acc, mult, zp):
    """int32 accumulator -> saturate(rint(float(acc) * mult) + zp); mult float32 (per row or scalar)."""
    f = acc.astype(F32) * mult.astype(F32)
    return saturate(np.rint(f) + F32(zp), np.asarray(zp).dtype)


def conv_int(xq, xzp, wq, wzp, stride, pad, group):
    """sum (x - xzp)(w - wzp) over the window, int64, NCHW; padding holds xzp."""
    n, c, h, w = xq.shape
    m, cg, kh, kw = wq.shape
    x = np.pad(xq.astype(np.int64) - np.int64(xzp), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    wt = wq.astype(np.int64) - np.asarray(wzp, dtype=np.int64).reshape(-1, 1, 1, 1)
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (w + 2 * pad - kw) // stride + 1
    mg = m // group
    out = np.zeros((n, m, oh, ow), dtype=np.int64)
    for g in range(group):
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]  # n, cg, oh, ow
                out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wt[g * mg:(g + 1) * mg, :, i, j])
    return out


def qlinear_conv(xq, xs, xzp, wq, ws, wzp, ys, yzp, bias, stride, pad, group):
    acc = conv_int(xq, xzp, wq, wzp, stride, pad, group)
    if bias is not None:
        acc = acc + bias.reshape(1, -1, 1, 1)
    acc = acc.astype(np.int32)
    mult = ((F32(xs) * ws.astype(F32)).astype(F32) / F32(ys)).astype(F32)
    return requantize(acc, mult.reshape(1, -1, 1, 1), yzp)


def matmul_int(aq, azp, bq, bzp):
    return ((aq.astype(np.int64) - np.int64(azp)) @ (bq.astype(np.int64) - np.asarray(bzp, dtype=np.int64))).astype(np.int32)


def qlinear_matmul(aq, as_, azp, bq, bs, bzp, ys, yzp):
    acc = matmul_int(aq, azp, bq, bzp)
    mult = np.asarray(F32(F32(as_) * F32(bs)) / F32(ys), dtype=F32)
    return requantize(acc, mult, yzp)


def requant_table(q, fn, sx, zx, sy, zy):
    """Every stored value through quantize(fn(dequantize(v))) (ORT's lookup-table ops)."""
    x = (q.astype(np.int32) - np.int32(zx)).astype(F32) * F32(sx)
    return quantize(fn(x).astype(F32), sy, zy)


def qlinear_add(a, sa, za, b, sb, zb, sc, zc):
    va = (a.astype(np.int32) - np.int32(za)).astype(F32)
    vb = (b.astype(np.int32) - np.int32(zb)).astype(F32)
    f = (va * F32(F32(sa) / F32(sc))).astype(F32) + (vb * F32(F32(sb) / F32(sc))).astype(F32)
    return saturate(np.rint(f) + F32(zc), np.asarray(zc).dtype)


def qlinear_gap(q, sx, zx, sy, zy):
    n = q.shape[2] * q.shape[3]
    s = q.astype(np.int64).sum(axis=(2, 3), keepdims=True) - np.int64(zx) * n
    scale = F32(F32(sx) / F32(F32(sy) * F32(n)))
    return saturate(np.rint(s.astype(F32) * scale) + F32(zy), np.asarray(zy).dtype)


def maxpool2(q):
    n, c, h, w = q.shape
    return q[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


# ---------------------------------------------------------------------------------------------
# Quantizing weights and calibrating activations
# ---------------------------------------------------------------------------------------------
def quant_weight_per_channel(w):
    """Symmetric int8, one scale per output channel (axis 0)."""
    amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = (np.maximum(amax, 1e-8) / 127.0).astype(F32)
    q = saturate(np.rint(w / scale.reshape((-1,) + (1,) * (w.ndim - 1))), np.int8)
    return q, scale


def quant_weight_per_tensor(w):
    scale = F32(max(float(np.abs(w).max()), 1e-8) / 127.0)
    return saturate(np.rint(w / scale), np.int8), scale


def out_range(real, relu):
    """uint8 scale / zero point covering the calibrated real values (from 0 when ReLU follows)."""
    lo = 0.0 if relu else min(0.0, float(real.min()))
    hi = max(float(real.max()), lo + 1e-6)
    scale = F32((hi - lo) / 255.0)
    zp = np.uint8(np.clip(np.rint(-lo / scale), 0, 255))
    return scale, zp


# ---------------------------------------------------------------------------------------------
# quant_cnn: static QOperator CNN
# ---------------------------------------------------------------------------------------------
def build_cnn(rng, c0=3, hw=16, c1=8, c2=16, classes=10, extra=0):
    """Returns (model, run(x) -> logits, input shapes, whether batch rows are independent), with
    weights quantized and ranges calibrated. `extra` adds c2 -> c2 3x3 convolutions at the end."""
    layers = [  # name, out, in/group, k, stride, pad, group, relu
        ("conv1", c1, c0, 3, 1, 1, 1, True),
        ("dw2", c1, 1, 3, 2, 1, c1, True),
        ("pw3", c2, c1, 1, 1, 0, 1, True),
    ] + [(f"conv{4 + i}", c2, c2, 3, 1, 1, 1, True) for i in range(extra)]
    params = {}
    for name, m, cg, k, s, p, g, relu in layers:
        w = (rng.standard_normal((m, cg, k, k)) * np.sqrt(2.0 / (cg * k * k))).astype(F32)
        b = (rng.standard_normal(m) * 0.1).astype(F32)
        wq, ws = quant_weight_per_channel(w)
        params[name] = dict(wq=wq, ws=ws, wzp=np.zeros(m, dtype=np.int8), bf=b, s=s, p=p, g=g, relu=relu)
    feat = c2 * (hw // 2) * (hw // 2)
    wfc = (rng.standard_normal((feat, classes)) / np.sqrt(feat)).astype(F32)
    wfcq, wfcs = quant_weight_per_tensor(wfc)

    # calibration: input range from a calibration batch, then layer by layer
    calib = rng.standard_normal((8, c0, hw, hw)).astype(F32)
    in_s, in_zp = out_range(calib, relu=False)
    q, s, zp = quantize(calib, in_s, in_zp), in_s, in_zp
    for name, *_ in layers:
        L = params[name]
        L["bias"] = np.rint(L["bf"] / (F32(s) * L["ws"])).astype(np.int32)  # bias scale = x_s * w_s
        acc = conv_int(q, zp, L["wq"], L["wzp"], L["s"], L["p"], L["g"]) + L["bias"].reshape(1, -1, 1, 1)
        real = acc.astype(F32) * (F32(s) * L["ws"]).reshape(1, -1, 1, 1)
        L["ys"], L["yzp"] = out_range(real, L["relu"])
        L["xs"], L["xzp"] = s, zp
        q = qlinear_conv(q, s, zp, L["wq"], L["ws"], L["wzp"], L["ys"], L["yzp"], L["bias"], L["s"], L["p"], L["g"])
        s, zp = L["ys"], L["yzp"]
    flat = q.reshape(q.shape[0], -1)
    real = matmul_int(flat, zp, wfcq, np.int8(0)).astype(F32) * F32(F32(s) * wfcs)
    out_s, out_zp = out_range(real, relu=False)
    fc = dict(as_=s, azp=zp, bq=wfcq, bs=wfcs, bzp=np.int8(0), ys=out_s, yzp=out_zp)

    def run(x):
        q = quantize(x, in_s, in_zp)
        for name, *_ in layers:
            L = params[name]
            q = qlinear_conv(q, L["xs"], L["xzp"], L["wq"], L["ws"], L["wzp"], L["ys"], L["yzp"], L["bias"],
                             L["s"], L["p"], L["g"])
        flat = q.reshape(q.shape[0], -1)
        yq = qlinear_matmul(flat, fc["as_"], fc["azp"], fc["bq"], fc["bs"], fc["bzp"], fc["ys"], fc["yzp"])
        return {"logits": dequantize(yq, fc["ys"], fc["yzp"])}

    # the graph
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    const("in_scale", np.asarray(in_s, dtype=F32))
    const("in_zp", np.asarray(in_zp, dtype=np.uint8))
    nodes.append(helper.make_node("QuantizeLinear", ["input", "in_scale", "in_zp"], ["x_q"], name="quant_in"))
    cur, cur_s, cur_zp = "x_q", "in_scale", "in_zp"
    for name, *_ in layers:
        L = params[name]
        ins = [cur, cur_s, cur_zp,
               const(f"{name}_w", L["wq"]), const(f"{name}_w_scale", L["ws"]), const(f"{name}_w_zp", L["wzp"]),
               const(f"{name}_y_scale", np.asarray(L["ys"], dtype=F32)),
               const(f"{name}_y_zp", np.asarray(L["yzp"], dtype=np.uint8)),
               const(f"{name}_bias", L["bias"])]
        k = L["wq"].shape[2]
        nodes.append(helper.make_node("QLinearConv", ins, [f"{name}_q"], name=name, kernel_shape=[k, k],
                                      strides=[L["s"], L["s"]], pads=[L["p"]] * 4, group=L["g"]))
        cur, cur_s, cur_zp = f"{name}_q", f"{name}_y_scale", f"{name}_y_zp"
    nodes.append(helper.make_node("Flatten", [cur], ["flat_q"], name="flatten", axis=1))
    nodes.append(helper.make_node("QLinearMatMul",
                                  ["flat_q", cur_s, cur_zp, const("fc_w", wfcq),
                                   const("fc_w_scale", np.asarray(wfcs, dtype=F32)), const("fc_w_zp", np.int8(0)),
                                   const("fc_y_scale", np.asarray(out_s, dtype=F32)),
                                   const("fc_y_zp", np.asarray(out_zp, dtype=np.uint8))],
                                  ["logits_q"], name="fc"))
    nodes.append(helper.make_node("DequantizeLinear", ["logits_q", "fc_y_scale", "fc_y_zp"], ["logits"], name="dequant_out"))
    graph = helper.make_graph(
        nodes, "quant_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", c0, hw, hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ladle export_quant.py")
    return model, run, {"input": (c0, hw, hw)}, True


# ---------------------------------------------------------------------------------------------
# quant_mlp_dyn: dynamic quantization (MatMulInteger)
# ---------------------------------------------------------------------------------------------
def build_mlp_dyn(rng, d_in=64, hidden=32, d_out=4):
    w1 = (rng.standard_normal((d_in, hidden)) / np.sqrt(d_in)).astype(F32)
    b1 = (rng.standard_normal(hidden) * 0.1).astype(F32)
    w2 = (rng.standard_normal((hidden, d_out)) / np.sqrt(hidden)).astype(F32)
    b2 = (rng.standard_normal(d_out) * 0.1).astype(F32)
    w1q, w1s = quant_weight_per_tensor(w1)
    w2q, w2s = quant_weight_per_channel(w2.T)  # one scale per output column
    w2q = np.ascontiguousarray(w2q.T)

    def layer(x, wq, ws, b, relu):
        xq, xs, xzp = dynamic_quantize(x)
        acc = matmul_int(xq, xzp, wq, np.int8(0))
        scale = (F32(xs) * np.asarray(ws, dtype=F32)).astype(F32)
        y = (acc.astype(F32) * scale).astype(F32) + b
        return np.maximum(y, F32(0)) if relu else y

    def run(x):
        return {"y": layer(layer(x, w1q, w1s, b1, True), w2q, w2s, b2, False).astype(F32)}

    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def emit(i, x, wq, ws, b, relu, out):
        p = f"l{i}"
        nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [f"{p}_xq", f"{p}_xs", f"{p}_xzp"], name=f"{p}_dq"))
        nodes.append(helper.make_node("MatMulInteger", [f"{p}_xq", const(f"{p}_w", wq), f"{p}_xzp", const(f"{p}_w_zp", np.int8(0))],
                                      [f"{p}_acc"], name=f"{p}_mm"))
        nodes.append(helper.make_node("Cast", [f"{p}_acc"], [f"{p}_accf"], to=TensorProto.FLOAT, name=f"{p}_cast"))
        nodes.append(helper.make_node("Mul", [f"{p}_xs", const(f"{p}_w_scale", np.asarray(ws, dtype=F32))], [f"{p}_scale"],
                                      name=f"{p}_scale"))
        nodes.append(helper.make_node("Mul", [f"{p}_accf", f"{p}_scale"], [f"{p}_mul"], name=f"{p}_mul"))
        nodes.append(helper.make_node("Add", [f"{p}_mul", const(f"{p}_b", b)], [f"{p}_add" if relu else out], name=f"{p}_add"))
        if relu:
            nodes.append(helper.make_node("Relu", [f"{p}_add"], [out], name=f"{p}_relu"))

    emit(1, "x", w1q, w1s, b1, True, "h")
    emit(2, "h", w2q, w2s, b2, False, "y")
    graph = helper.make_graph(
        nodes, "quant_mlp_dyn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ladle export_quant.py")
    # DynamicQuantizeLinear takes its range over the whole batch: rows are not independent
    return model, run, {"x": (d_in,)}, False


# ---------------------------------------------------------------------------------------------
# quant_resblock: QOperator with ONNX Runtime's com.microsoft quantized ops
# ---------------------------------------------------------------------------------------------
def build_resblock(rng, c0=8, hw=12, c1=16, classes=5):
    """conv3x3 -> conv3x3 plus a 1x1 shortcut, QLinearAdd, uint8 MaxPool, QLinearLeakyRelu,
    QLinearConcat with a QLinearSigmoid branch, QLinearGlobalAveragePool, QLinearMatMul."""
    convs = {"a": (c1, c0, 3, 1, True), "b": (c1, c1, 3, 1, False), "s": (c1, c0, 1, 0, False)}
    P = {}
    for name, (m, cin, k, p, relu) in convs.items():
        w = (rng.standard_normal((m, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(F32)
        wq, ws = quant_weight_per_channel(w)
        P[name] = dict(wq=wq, ws=ws, wzp=np.zeros(m, dtype=np.int8), bf=(rng.standard_normal(m) * 0.1).astype(F32),
                       p=p, relu=relu)
    wfc = (rng.standard_normal((2 * c1, classes)) / np.sqrt(2 * c1)).astype(F32)
    wfcq, wfcs = quant_weight_per_tensor(wfc)
    alpha = 0.1

    calib = rng.standard_normal((8, c0, hw, hw)).astype(F32)
    in_s, in_zp = out_range(calib, relu=False)

    def conv(name, q, s, zp, calibrate):
        L = P[name]
        if calibrate:
            L["bias"] = np.rint(L["bf"] / (F32(s) * L["ws"])).astype(np.int32)
            acc = conv_int(q, zp, L["wq"], L["wzp"], 1, L["p"], 1) + L["bias"].reshape(1, -1, 1, 1)
            L["ys"], L["yzp"] = out_range(acc.astype(F32) * (F32(s) * L["ws"]).reshape(1, -1, 1, 1), L["relu"])
        return qlinear_conv(q, s, zp, L["wq"], L["ws"], L["wzp"], L["ys"], L["yzp"], L["bias"], 1, L["p"], 1)

    R = {}

    def forward(x, calibrate=False):
        q = quantize(x, in_s, in_zp)
        a = conv("a", q, in_s, in_zp, calibrate)
        b = conv("b", a, P["a"]["ys"], P["a"]["yzp"], calibrate)
        sc = conv("s", q, in_s, in_zp, calibrate)
        if calibrate:
            real = dequantize(b, P["b"]["ys"], P["b"]["yzp"]) + dequantize(sc, P["s"]["ys"], P["s"]["yzp"])
            R["add"] = out_range(real, relu=False)
        add = qlinear_add(b, P["b"]["ys"], P["b"]["yzp"], sc, P["s"]["ys"], P["s"]["yzp"], *R["add"])
        mp = maxpool2(add)
        lrelu = lambda v: np.where(v >= 0, v, v * F32(alpha)).astype(F32)
        if calibrate:
            R["lrelu"] = out_range(lrelu(dequantize(mp, *R["add"])), relu=False)
        lr = requant_table(mp, lrelu, *R["add"], *R["lrelu"])
        sig = lambda v: (F32(1) / (F32(1) + np.exp(-v))).astype(F32)
        if calibrate:
            R["sig"] = (F32(1.0 / 255.0), np.uint8(0))
            real = np.concatenate([dequantize(lr, *R["lrelu"]), sig(dequantize(lr, *R["lrelu"]))], axis=1)
            R["cat"] = out_range(real, relu=False)
        sg = requant_table(lr, sig, *R["lrelu"], *R["sig"])
        cat = np.concatenate([requant_table(lr, lambda v: v, *R["lrelu"], *R["cat"]),
                              requant_table(sg, lambda v: v, *R["sig"], *R["cat"])], axis=1)
        if calibrate:
            R["gap"] = out_range(dequantize(cat, *R["cat"]).mean(axis=(2, 3)), relu=False)
        gap = qlinear_gap(cat, *R["cat"], *R["gap"])
        flat = gap.reshape(gap.shape[0], -1)
        if calibrate:
            real = matmul_int(flat, R["gap"][1], wfcq, np.int8(0)).astype(F32) * F32(F32(R["gap"][0]) * wfcs)
            R["fc"] = out_range(real, relu=False)
        yq = qlinear_matmul(flat, R["gap"][0], R["gap"][1], wfcq, wfcs, np.int8(0), *R["fc"])
        return {"logits": dequantize(yq, *R["fc"])}

    forward(calib, calibrate=True)

    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def sz(prefix, scale, zp):
        return [const(prefix + "_scale", np.asarray(scale, dtype=F32)), const(prefix + "_zp", np.asarray(zp, dtype=np.uint8))]

    nodes.append(helper.make_node("QuantizeLinear", ["input"] + sz("in", in_s, in_zp), ["x_q"], name="quant_in"))
    for name, src, src_sz in (("a", "x_q", ("in_scale", "in_zp")), ("b", "a_q", ("a_y_scale", "a_y_zp")),
                              ("s", "x_q", ("in_scale", "in_zp"))):
        L = P[name]
        ins = [src, *src_sz, const(f"{name}_w", L["wq"]), const(f"{name}_w_scale", L["ws"]),
               const(f"{name}_w_zp", L["wzp"]), *sz(f"{name}_y", L["ys"], L["yzp"]), const(f"{name}_bias", L["bias"])]
        k = L["wq"].shape[2]
        nodes.append(helper.make_node("QLinearConv", ins, [f"{name}_q"], name=f"conv_{name}", kernel_shape=[k, k],
                                      pads=[L["p"]] * 4))
    ms = "com.microsoft"
    nodes.append(helper.make_node("QLinearAdd", ["b_q", "b_y_scale", "b_y_zp", "s_q", "s_y_scale", "s_y_zp",
                                                 *sz("add", *R["add"])], ["add_q"], name="add", domain=ms))
    nodes.append(helper.make_node("MaxPool", ["add_q"], ["mp_q"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("QLinearLeakyRelu", ["mp_q", "add_scale", "add_zp", *sz("lrelu", *R["lrelu"])],
                                  ["lr_q"], name="lrelu", domain=ms, alpha=alpha))
    nodes.append(helper.make_node("QLinearSigmoid", ["lr_q", "lrelu_scale", "lrelu_zp", *sz("sig", *R["sig"])],
                                  ["sig_q"], name="sigmoid", domain=ms))
    nodes.append(helper.make_node("QLinearConcat", [*sz("cat", *R["cat"]), "lr_q", "lrelu_scale", "lrelu_zp",
                                                    "sig_q", "sig_scale", "sig_zp"], ["cat_q"], name="concat",
                                  domain=ms, axis=1))
    nodes.append(helper.make_node("QLinearGlobalAveragePool", ["cat_q", "cat_scale", "cat_zp", *sz("gap", *R["gap"])],
                                  ["gap_q"], name="gap", domain=ms, channels_last=0))
    nodes.append(helper.make_node("Flatten", ["gap_q"], ["flat_q"], name="flatten", axis=1))
    nodes.append(helper.make_node("QLinearMatMul", ["flat_q", "gap_scale", "gap_zp", const("fc_w", wfcq),
                                                    const("fc_w_scale", np.asarray(wfcs, dtype=F32)),
                                                    const("fc_w_zp", np.int8(0)), *sz("fc_y", *R["fc"])],
                                  ["logits_q"], name="fc"))
    nodes.append(helper.make_node("DequantizeLinear", ["logits_q", "fc_y_scale", "fc_y_zp"], ["logits"], name="dequant_out"))
    graph = helper.make_graph(
        nodes, "quant_resblock",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", c0, hw, hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(ms, 1)],
                              producer_name="ladle export_quant.py")
    return model, forward, {"input": (c0, hw, hw)}, True


# ---------------------------------------------------------------------------------------------
# Writing a fixture
# ---------------------------------------------------------------------------------------------
def write_fixture(out_dir, name, family, build, seed, large=False, note=""):
    rng = np.random.default_rng(seed)
    model, run, in_shapes, batch_rows = build(rng)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        onnx.checker.check_model(model)  # the checker knows no com.microsoft schemas
    inputs = {n: rng.standard_normal((GOLDEN_BATCH,) + s).astype(F32) for n, s in in_shapes.items()}
    outs = run(*inputs.values())
    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "expected"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    meta = {
        "name": name, "model": family, "family": family, "opset": 13, "large": large,
        "tolerance": 1e-6, "tolerance_kind": "relative: max|out - ref| / max|ref| per output",
        "golden_batch": GOLDEN_BATCH, "seed": seed,
        "reference": "numpy integer reference of the ONNX quantized ops (tools/export_quant.py), not torch",
        "ops": sorted({n.op_type for n in model.graph.node}), "nodes": len(model.graph.node),
        "note": note, "inputs": [], "outputs": [],
    }
    for n, a in inputs.items():
        fn = f"inputs/{n}.npy"
        np.save(os.path.join(d, fn), a)
        meta["inputs"].append({"name": n, "file": fn, "dtype": str(a.dtype), "shape": list(a.shape),
                               "dynamic_axes": {"0": "batch"} if batch_rows else {}, "kind": "normal"})
    for n, a in outs.items():
        fn = f"expected/{n}.npy"
        np.save(os.path.join(d, fn), a)
        meta["outputs"].append({"name": n, "file": fn, "dtype": str(a.dtype), "shape": list(a.shape),
                                "std": float(a.std()), "max_abs": float(np.abs(a).max())})
    with open(os.path.join(d, "meta.json"), "w") as fp:
        json.dump(meta, fp, indent=1)
        fp.write("\n")
    print(f"{name}: {meta['nodes']} nodes ({', '.join(meta['ops'])}), "
          f"{os.path.getsize(os.path.join(d, 'model.onnx'))} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=SMALL_DIR, help="directory for the small fixtures")
    ap.add_argument("--large", action="store_true", help="also a bigger CNN under tests/fixtures/large")
    args = ap.parse_args()
    write_fixture(args.out, "quant_cnn_op13", "quant_cnn", build_cnn, seed=0,
                  note="static INT8 (QOperator): uint8 activations, int8 per-channel weights")
    write_fixture(args.out, "quant_mlp_dyn_op13", "quant_mlp_dyn", build_mlp_dyn, seed=1,
                  note="dynamic INT8 (MatMulInteger); per-batch activation range, so rows are not independent")
    write_fixture(args.out, "quant_resblock_op13", "quant_resblock", build_resblock, seed=3,
                  note="static INT8 (QOperator) with ONNX Runtime's com.microsoft ops: QLinearAdd, QLinearLeakyRelu, "
                  "QLinearSigmoid, QLinearConcat, QLinearGlobalAveragePool; uint8 MaxPool")
    if args.large:
        os.makedirs(LARGE_DIR, exist_ok=True)
        write_fixture(LARGE_DIR, "quant_cnn_large_op13", "quant_cnn",
                      lambda rng: build_cnn(rng, c0=3, hw=56, c1=64, c2=128, classes=10, extra=2), seed=2,
                      large=True, note="static INT8 (QOperator), 56x56 input, 64/128 channels, two 128->128 "
                      "3x3 convolutions at 28x28 (about 0.26 GMAC per image): for timing")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Export small recurrent models (torch nn.LSTM / nn.GRU / nn.RNN) with torch's own outputs, as
golden fixtures for ladle's end-to-end tests (tests/e2e/test_golden.py runs every one).

Each model is built with a fixed seed, exported with torch.onnx.export at opsets 13 and 14, and
saved in the same layout as tools/export_golden.py:

    tests/fixtures/rnn_<name>_op<opset>/
        model.onnx
        inputs/<input name>.npy        float32 sequences or int64 token ids
        expected/<output name>.npy     torch's outputs for those inputs
        meta.json                      inputs/outputs (names, shapes, dtypes, dynamic axes),
                                       tolerance 1e-4 (max|diff| / max|ref|)

Every model input and output has the batch on axis 0 (the golden test also runs the last batch
row on its own): sequence-first modules are wrapped so that the transposes live inside the
model, and states are passed as [batch, layers * directions, hidden].

    /usr/bin/python3 tools/export_rnn.py              # all fixtures (skips existing ones)
    /usr/bin/python3 tools/export_rnn.py --force --only gru_bidir
"""

import argparse
import json
import os
import re
import shutil
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "tests", "fixtures")
TOLERANCE = 1e-4
BATCH = 3
SEQ = 7
FEATURES = 8
MAX_BYTES = 500_000


def safe_name(name):
    """The file name ladle predict uses for a tensor name (the CLI contract)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# --------------------------------------------------------------------------------------------
# Models. forward() takes and returns batch-first tensors only.
# --------------------------------------------------------------------------------------------
class SeqFirst(nn.Module):
    """A sequence-first recurrent module (batch_first=False) behind batch-first inputs/outputs:
    y [batch, seq, dirs*hidden] and the final states as [batch, layers*dirs, hidden]."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        y, state = self.rnn(x.transpose(0, 1))
        if isinstance(state, tuple):
            return (y.transpose(0, 1),) + tuple(s.transpose(0, 1) for s in state)
        return y.transpose(0, 1), state.transpose(0, 1)


class BatchFirst(nn.Module):
    """A batch_first recurrent module; final states returned as [batch, layers*dirs, hidden]."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        y, state = self.rnn(x)
        if isinstance(state, tuple):
            return (y,) + tuple(s.transpose(0, 1) for s in state)
        return y, state.transpose(0, 1)


class LSTMWithState(nn.Module):
    """batch_first LSTM given initial h0 and c0 as [batch, layers*dirs, hidden] inputs."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(FEATURES, 10, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, x, h0, c0):
        y, (h, c) = self.rnn(x, (h0.transpose(0, 1).contiguous(), c0.transpose(0, 1).contiguous()))
        return y, h.transpose(0, 1), c.transpose(0, 1)


class GRUWithState(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(FEATURES, 12, num_layers=1, batch_first=True)

    def forward(self, x, h0):
        y, h = self.rnn(x, h0.transpose(0, 1).contiguous())
        return y, h.transpose(0, 1)


class TextClassifier(nn.Module):
    """Token ids -> Embedding -> LSTM (batch_first) -> Linear on the last hidden state."""

    def __init__(self, vocab=100, emb=16, hidden=24, classes=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, ids):
        _, (h, _) = self.lstm(self.emb(ids))
        return self.fc(h[-1])


class TextClassifierBiGRU(nn.Module):
    """Token ids -> Embedding -> 2-layer bidirectional GRU -> mean over time -> Linear."""

    def __init__(self, vocab=100, emb=16, hidden=16, classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.gru = nn.GRU(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, ids):
        y, _ = self.gru(self.emb(ids))
        return self.fc(y.mean(dim=1))


class PackedLSTM(nn.Module):
    """pack_padded_sequence with per-row lengths: the export carries sequence_lens."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, 12, batch_first=True, bidirectional=True)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        # explicit zero states sized from x: torch's own would bake the export batch into the graph
        h0 = torch.zeros(2, x.shape[0], 12, dtype=x.dtype)
        y, (h, c) = self.lstm(packed, (h0, h0))
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return y, h.transpose(0, 1)


def seq_input(name="x", features=FEATURES):
    return {"name": name, "kind": "normal", "shape": (BATCH, SEQ, features), "dynamic": {1: "seq"}}


def state_input(name, slots, hidden):
    return {"name": name, "kind": "normal", "shape": (BATCH, slots, hidden), "dynamic": {}}


def token_input(name="ids"):
    return {"name": name, "kind": "ids", "shape": (BATCH, SEQ), "dynamic": {1: "seq"}, "range": [0, 100]}


def lengths_input(name="lengths"):
    return {"name": name, "kind": "lengths", "shape": (BATCH,), "dynamic": {}}


# name -> (builder, inputs, outputs, note)
SPECS = {
    "lstm": (lambda: SeqFirst(nn.LSTM(FEATURES, 16)), [seq_input()], ["y", "h", "c"],
             "one layer, sequence-first"),
    "lstm_2layer": (lambda: SeqFirst(nn.LSTM(FEATURES, 16, num_layers=2)), [seq_input()],
                    ["y", "h", "c"], "two layers, sequence-first"),
    "lstm_bidir": (lambda: BatchFirst(nn.LSTM(FEATURES, 12, batch_first=True, bidirectional=True)),
                   [seq_input()], ["y", "h", "c"], "bidirectional, batch_first"),
    "lstm_2layer_bidir": (lambda: BatchFirst(nn.LSTM(FEATURES, 10, num_layers=2, batch_first=True,
                                                     bidirectional=True)),
                          [seq_input()], ["y", "h", "c"], "two bidirectional layers, batch_first"),
    "lstm_state": (LSTMWithState, [seq_input(), state_input("h0", 4, 10), state_input("c0", 4, 10)],
                   ["y", "h", "c"], "initial states as inputs, two bidirectional layers"),
    "gru": (lambda: SeqFirst(nn.GRU(FEATURES, 16)), [seq_input()], ["y", "h"],
            "one layer, sequence-first"),
    "gru_bidir": (lambda: BatchFirst(nn.GRU(FEATURES, 12, batch_first=True, bidirectional=True)),
                  [seq_input()], ["y", "h"], "bidirectional, batch_first"),
    "gru_2layer": (lambda: BatchFirst(nn.GRU(FEATURES, 12, num_layers=2, batch_first=True)),
                   [seq_input()], ["y", "h"], "two layers, batch_first"),
    "gru_state": (GRUWithState, [seq_input(), state_input("h0", 1, 12)], ["y", "h"],
                  "initial state as input"),
    "rnn_tanh": (lambda: SeqFirst(nn.RNN(FEATURES, 16, num_layers=2)), [seq_input()], ["y", "h"],
                 "Elman RNN, tanh, two layers"),
    "rnn_relu_bidir": (lambda: BatchFirst(nn.RNN(FEATURES, 12, nonlinearity="relu", batch_first=True,
                                                 bidirectional=True)),
                       [seq_input()], ["y", "h"], "Elman RNN, relu, bidirectional"),
    "text_lstm": (TextClassifier, [token_input()], ["logits"],
                  "Embedding + LSTM + Linear text classifier"),
    "text_bigru": (TextClassifierBiGRU, [token_input()], ["logits"],
                   "Embedding + 2-layer bidirectional GRU + mean + Linear"),
    "lstm_packed": (PackedLSTM, [seq_input(), lengths_input()], ["y", "h"],
                    "pack_padded_sequence: per-row lengths (sequence_lens)"),
}
OPSETS = (13, 14)


def make_input(spec, rng):
    if spec["kind"] == "normal":
        return rng.standard_normal(spec["shape"]).astype(np.float32)
    if spec["kind"] == "ids":
        lo, hi = spec["range"]
        return rng.integers(lo, hi, size=spec["shape"], dtype=np.int64)
    if spec["kind"] == "lengths":  # distinct lengths, the full one included, not sorted
        n = spec["shape"][0]
        lens = [SEQ] + [int(v) for v in rng.integers(1, SEQ, size=n - 1)]
        return np.array(lens[1:] + lens[:1], dtype=np.int64)
    raise ValueError(spec["kind"])


def export_one(name, opset, force=False):
    build, inputs, outputs, note = SPECS[name]
    fixture = f"rnn_{name}_op{opset}"
    out = os.path.join(OUT_DIR, fixture)
    if os.path.exists(os.path.join(out, "meta.json")) and not force:
        print(f"{fixture}: exists (use --force to rebuild)")
        return
    seed = sorted(SPECS).index(name)
    torch.manual_seed(seed)
    rng = np.random.default_rng(4321 + seed)
    model = build().eval()
    feeds = [make_input(i, rng) for i in inputs]
    args = tuple(torch.from_numpy(f) for f in feeds)
    with torch.no_grad():
        ref = model(*args)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    refs = [r.numpy().copy() for r in refs]
    assert len(refs) == len(outputs), (fixture, len(refs))

    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "inputs"))
    os.makedirs(os.path.join(tmp, "expected"))
    dyn = {i["name"]: {0: "batch", **i["dynamic"]} for i in inputs}
    for o in outputs:
        dyn[o] = {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, os.path.join(tmp, "model.onnx"), opset_version=opset,
                          input_names=[i["name"] for i in inputs], output_names=outputs,
                          dynamic_axes=dyn, do_constant_folding=True)

    import onnx
    m = onnx.load(os.path.join(tmp, "model.onnx"))
    onnx.checker.check_model(m)
    ops = sorted({(n.domain or "") + ("." if n.domain else "") + n.op_type for n in m.graph.node})
    assert [o.name for o in m.graph.output] == outputs, [o.name for o in m.graph.output]
    assert any(op in ops for op in ("LSTM", "GRU", "RNN")), (fixture, ops)

    meta = {
        "name": fixture,
        "model": f"rnn_{name}",
        "family": "rnn",
        "opset": opset,
        "large": False,
        "tolerance": TOLERANCE,
        "tolerance_kind": "relative: max|out - ref| / max|ref| per output",
        "golden_batch": BATCH,
        "seed": seed,
        "torch": torch.__version__,
        "ops": ops,
        "nodes": len(m.graph.node),
        "note": note,
        "inputs": [],
        "outputs": [],
    }
    for i, f in zip(inputs, feeds):
        fn = f"inputs/{safe_name(i['name'])}.npy"
        np.save(os.path.join(tmp, fn), np.ascontiguousarray(f))
        entry = {"name": i["name"], "file": fn, "dtype": str(f.dtype), "shape": list(f.shape),
                 "dynamic_axes": {str(k): v for k, v in dyn[i["name"]].items()}, "kind": i["kind"]}
        if "range" in i:
            entry["range"] = i["range"]
        meta["inputs"].append(entry)
    for oname, r in zip(outputs, refs):
        fn = f"expected/{safe_name(oname)}.npy"
        r = np.ascontiguousarray(r)
        np.save(os.path.join(tmp, fn), r)
        std = float(r.std()) if r.size > 1 else float(abs(r).max())
        meta["outputs"].append({"name": oname, "file": fn, "dtype": str(r.dtype), "shape": list(r.shape),
                                "std": std, "max_abs": float(np.abs(r).max())})
        if not np.isfinite(r).all() or std < 1e-4:
            raise RuntimeError(f"{fixture}: output {oname} is degenerate (std {std:g})")
    with open(os.path.join(tmp, "meta.json"), "w") as fp:
        json.dump(meta, fp, indent=1)
        fp.write("\n")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmp) for f in fs)
    if size > MAX_BYTES:
        shutil.rmtree(tmp)
        raise RuntimeError(f"{fixture}: {size} bytes, over the {MAX_BYTES}-byte budget")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    rnn_nodes = sum(1 for n in m.graph.node if n.op_type in ("LSTM", "GRU", "RNN"))
    print(f"{fixture}: {size / 1e3:.0f} kB, {len(m.graph.node)} nodes ({rnn_nodes} recurrent), "
          f"ops {', '.join(ops)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--opset", type=int, default=0, help="export only at this opset")
    ap.add_argument("--force", action="store_true", help="rebuild fixtures that already exist")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    a = ap.parse_args()
    torch.set_num_threads(1)
    only = [s for s in a.only.split(",") if s]
    unknown = set(only) - set(SPECS)
    if unknown:
        sys.exit(f"export_rnn: unknown model(s): {', '.join(sorted(unknown))}")
    names = only or list(SPECS)
    if a.list:
        for n in names:
            print(f"{n:20s} {SPECS[n][3]}")
        return
    for n in names:
        for opset in OPSETS:
            if a.opset and opset != a.opset:
                continue
            export_one(n, opset, a.force)


if __name__ == "__main__":
    main()

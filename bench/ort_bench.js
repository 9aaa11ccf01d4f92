#!/usr/bin/env node
// ONNX Runtime side of ladle's benchmark harness (bench/run.py), and an independent check of the
// golden fixtures (torch's outputs) against a second ONNX implementation.
//
//   node bench/ort_bench.js bench --model M.onnx --inputs '[{"name":"x","dtype":"float32","shape":[8,30]}]'
//        [--threads T] [--iterations K] [--warmup W] [--seed S]
//     prints ONE JSON line: {"model", "batch", "threads", "iterations", "median_ms", "p90_ms",
//     "p99_ms", "mean_ms", "min_ms", "runtime": "onnxruntime-node x.y.z"}
//     An input may carry "lo"/"hi" (int64 ids are drawn from [lo, hi); default [0, 2)).
//
//   node bench/ort_bench.js check DIR [DIR ...]
//     runs each fixture directory (model.onnx, inputs/, expected/, meta.json) and prints one JSON
//     line per fixture with the relative error max|out - ref| / max|ref| of every output.
//
// Sessions use intraOpNumThreads=T, interOpNumThreads=1, sequential execution, all graph
// optimisations: ORT as a user would run it.
"use strict";

const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");

// ---- .npy (version 1/2/3, little endian, C order) --------------------------------------------
const NPY_TYPES = {
  "<f4": ["float32", Float32Array], "<f8": ["float64", Float64Array],
  "<i8": ["int64", BigInt64Array], "<i4": ["int32", Int32Array], "<i2": ["int16", Int16Array],
  "|i1": ["int8", Int8Array], "|u1": ["uint8", Uint8Array], "|b1": ["bool", Uint8Array],
  "<u8": ["uint64", BigUint64Array], "<u4": ["uint32", Uint32Array], "<u2": ["uint16", Uint16Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString("latin1", 0, 6) !== "\x93NUMPY") throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shape) throw new Error(`${file}: bad .npy header`);
  if (order[1] === "True") throw new Error(`${file}: Fortran-order arrays are not supported`);
  const t = NPY_TYPES[descr[1]];
  if (!t) throw new Error(`${file}: unsupported dtype ${descr[1]}`);
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  const bytes = buf.subarray(off, off + count * t[1].BYTES_PER_ELEMENT);
  const data = new t[1](bytes.length / t[1].BYTES_PER_ELEMENT);
  new Uint8Array(data.buffer).set(bytes);
  return { dtype: t[0], dims, data };
}

// ---- seeded random inputs (xorshift64*; Box-Muller for normals) ------------------------------
function makeRng(seed) {
  let s = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 0x2545f4914f6cdd1dn) || 1n;
  const next = () => {
    s ^= s >> 12n; s ^= BigInt.asUintN(64, s << 25n); s ^= s >> 27n;
    return Number(BigInt.asUintN(64, s * 0x2545f4914f6cdd1dn) >> 11n) / 9007199254740992;
  };
  return {
    uniform: next,
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

function makeTensor(spec, rng) {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  switch (spec.dtype) {
    case "float32": {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = rng.uniform() * 2 - 1;
      return new ort.Tensor("float32", d, spec.shape);
    }
    case "int64": case "int32": {
      const lo = spec.lo ?? 0, hi = spec.hi ?? 2;
      const big = spec.dtype === "int64";
      const d = big ? new BigInt64Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = lo + Math.floor(rng.uniform() * (hi - lo));
        d[i] = big ? BigInt(v) : v;
      }
      return new ort.Tensor(spec.dtype, d, spec.shape);
    }
    case "bool": {
      const d = new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = rng.uniform() < 0.5 ? 1 : 0;
      return new ort.Tensor("bool", d, spec.shape);
    }
    default:
      throw new Error(`input ${spec.name}: dtype ${spec.dtype} not supported by the harness`);
  }
}

function parseArgs(argv) {
  const a = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) a[argv[i].slice(2)] = argv[++i];
    else a._.push(argv[i]);
  }
  return a;
}

function sessionOptions(threads) {
  return {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: "all", executionProviders: ["cpu"],
  };
}

function percentile(sorted, p) {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

function ortVersion() {
  try {
    return require("onnxruntime-node/package.json").version;
  } catch (e) {
    return "?";
  }
}

async function bench(a) {
  const threads = Number(a.threads ?? 1), iterations = Number(a.iterations ?? 20);
  const warmup = Number(a.warmup ?? 3), seed = Number(a.seed ?? 1);
  const specs = JSON.parse(a.inputs);
  const session = await ort.InferenceSession.create(a.model, sessionOptions(threads));
  const rng = makeRng(seed);
  const feeds = {};
  for (const s of specs) feeds[s.name] = makeTensor(s, rng);
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...times].sort((x, y) => x - y);
  const r = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    model: a.model, batch: specs.length ? specs[0].shape[0] : 0, threads, iterations,
    median_ms: r(percentile(sorted, 50)), p90_ms: r(percentile(sorted, 90)), p99_ms: r(percentile(sorted, 99)),
    mean_ms: r(times.reduce((x, y) => x + y, 0) / times.length), min_ms: r(sorted[0]),
    runtime: `onnxruntime-node ${ortVersion()}`,
  }));
}

async function check(dirs, threads) {
  let bad = 0;
  for (const dir of dirs) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8"));
    const result = { fixture: meta.name, ok: true, outputs: {} };
    try {
      const session = await ort.InferenceSession.create(path.join(dir, "model.onnx"), sessionOptions(threads));
      const feeds = {};
      for (const i of meta.inputs) {
        const t = readNpy(path.join(dir, i.file));
        feeds[i.name] = new ort.Tensor(t.dtype, t.data, t.dims);
      }
      const outs = await session.run(feeds);
      for (const o of meta.outputs) {
        const ref = readNpy(path.join(dir, o.file));
        const got = outs[o.name];
        let maxDiff = 0, maxRef = 0;
        const same = got && JSON.stringify(Array.from(got.dims)) === JSON.stringify(ref.dims);
        if (same) {
          for (let k = 0; k < ref.data.length; k++) {
            maxDiff = Math.max(maxDiff, Math.abs(Number(got.data[k]) - Number(ref.data[k])));
            maxRef = Math.max(maxRef, Math.abs(Number(ref.data[k])));
          }
        }
        const rel = same ? maxDiff / (maxRef || 1) : Infinity;
        const ok = same && rel <= meta.tolerance;
        result.outputs[o.name] = { rel_err: rel, shape_ok: !!same };
        if (!ok) result.ok = false;
      }
    } catch (e) {
      result.ok = false;
      result.error = String(e.message || e).split("\n")[0];
    }
    if (!result.ok) bad++;
    console.log(JSON.stringify(result));
  }
  return bad;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const cmd = a._[0];
  if (cmd === "bench") {
    await bench(a);
  } else if (cmd === "check") {
    const bad = await check(a._.slice(1), Number(a.threads ?? 1));
    process.exitCode = bad ? 1 : 0;
  } else {
    console.error("usage: ort_bench.js bench --model M --inputs JSON [--threads T --iterations K --warmup W --seed S]\n" +
                  "       ort_bench.js check FIXTURE_DIR...");
    process.exitCode = 2;
  }
}

main().catch((e) => {
  console.error(`ort_bench: ${String(e.message || e).split("\n")[0]}`);
  process.exitCode = 1;
});

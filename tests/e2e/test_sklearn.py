"""End-to-end tests of scikit-learn and XGBoost models (ai.onnx.ml ops) through `ladle predict`.

The fixtures under tests/fixtures/sklearn/ were made by tests/fixtures/sklearn/make_fixtures.py:
models trained on sklearn's bundled datasets (iris, breast_cancer, wine, diabetes, digits),
converted with tools/sklearn2onnx.py, with sklearn's own predictions saved next to them. Every
row of the dataset must get sklearn's label, and the probabilities / decision scores /
regression values must agree within the fixture's tolerance (max|out - ref| / max|ref|).

When scikit-learn is installed (python3-sklearn, an opt-in extra of scripts/setup.sh) a few
models are also trained, converted and checked afresh, so the converter itself is tested.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

FIX = os.path.join(REPO, "tests", "fixtures", "sklearn")
DATA = os.path.join(FIX, "data")


def fixture_names():
    if not os.path.isdir(FIX):
        return []
    return sorted(n for n in os.listdir(FIX) if os.path.isfile(os.path.join(FIX, n, "meta.json")))


def load_meta(name):
    with open(os.path.join(FIX, name, "meta.json")) as fp:
        return json.load(fp)


def input_file(meta):
    suffix = "_f64" if meta.get("input_dtype") == "float64" else ""
    return os.path.join(DATA, meta["dataset"] + suffix + ".npy")


def predict(ladle, model, x_path, out_dir, threads=1):
    proc = ladle.run("predict", "--model", model, "--input", f"input={x_path}", "--output-dir",
                     out_dir, "--threads", threads)
    assert proc.returncode == 0, f"ladle predict failed: {proc.stderr.strip()[-2000:]}"
    return proc


def rel_err(out, ref):
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    scale = float(np.abs(ref.astype(np.float64)).max()) or 1.0
    return float(diff.max()) / scale if diff.size else 0.0


def check(meta, out_dir, label_ref, scores_ref, what):
    if meta["kind"] == "classifier":
        got = np.load(os.path.join(out_dir, meta["label_output"] + ".npy"), allow_pickle=False)
        assert got.shape == label_ref.shape, f"{what}: label shape {got.shape}, expected {label_ref.shape}"
        bad = np.nonzero(got.astype(str) != label_ref.astype(str))[0]
        assert bad.size == 0, (f"{what}: {bad.size} of {len(label_ref)} labels differ from sklearn, "
                               f"first rows {bad[:5].tolist()}: got {got[bad[:5]].tolist()}, "
                               f"expected {label_ref[bad[:5]].tolist()}")
    got = np.load(os.path.join(out_dir, meta["scores_output"] + ".npy"), allow_pickle=False)
    assert got.dtype == np.float32, f"{what}: scores dtype {got.dtype}"
    assert got.shape == scores_ref.shape, f"{what}: scores shape {got.shape}, expected {scores_ref.shape}"
    assert np.isfinite(got).all(), f"{what}: scores hold NaN/Inf"
    err = rel_err(got, scores_ref)
    assert err <= meta["tolerance"], f"{what}: scores relative error {err:.3g} > {meta['tolerance']:g}"


NAMES = fixture_names()


def test_fixtures_present():
    for family in ("iris_logreg", "bc_rf", "bc_gb", "bc_xgb", "wine_minmax_svc", "diabetes_rf",
                   "diabetes_ridge", "digits_rf", "iris_zipmap_logreg"):
        assert family in NAMES, f"sklearn fixture {family} missing"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_matches_sklearn(ladle, name, threads, tmp_path):
    meta = load_meta(name)
    d = os.path.join(FIX, name)
    predict(ladle, os.path.join(d, "model.onnx"), input_file(meta), str(tmp_path), threads)
    label_ref = None
    if meta["kind"] == "classifier":
        label_ref = np.load(os.path.join(d, "expected_label.npy"), allow_pickle=False)
    scores_ref = np.load(os.path.join(d, "expected_scores.npy"), allow_pickle=False)
    check(meta, str(tmp_path), label_ref, scores_ref, f"{name} (threads {threads})")


def test_zipmap_model_inspects(ladle):
    """A model whose output is a ZipMap (sequence of maps) loads, inspects and predicts: over the
    wire the probabilities come back as the [N, classes] tensor, the labels as their own output."""
    model = os.path.join(FIX, "iris_zipmap_logreg", "model.onnx")
    proc = ladle.run("inspect", model)
    assert proc.returncode == 0, proc.stderr
    assert "output_probability" in proc.stdout and "ZipMap" in proc.stdout


def test_single_row(ladle, tmp_path):
    """A batch of one row through a tree model."""
    meta = load_meta("bc_rf")
    x = np.load(input_file(meta))[:1]
    p = tmp_path / "x.npy"
    np.save(p, x)
    out = tmp_path / "out"
    predict(ladle, os.path.join(FIX, "bc_rf", "model.onnx"), str(p), str(out))
    lab = np.load(out / "label.npy")
    ref = np.load(os.path.join(FIX, "bc_rf", "expected_label.npy"))[:1]
    assert lab.tolist() == ref.tolist()


# ---------------------------------------------------------------------------------------------
# The converter itself (scripts/setup.sh installs python3-sklearn: this test never skips)
# ---------------------------------------------------------------------------------------------
def test_converter_fresh(ladle, tmp_path):
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import onnx
    import sklearn2onnx
    from sklearn import datasets, ensemble, linear_model, pipeline, preprocessing

    X, y = datasets.load_breast_cancer(return_X_y=True)
    cases = {
        "gb": ensemble.GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=5),
        "et": ensemble.ExtraTreesClassifier(n_estimators=7, max_depth=5, random_state=5),
        "lr": pipeline.make_pipeline(preprocessing.MinMaxScaler(),
                                     linear_model.LogisticRegression(max_iter=500)),
    }
    x_path = tmp_path / "x.npy"
    np.save(x_path, X.astype(np.float32))
    for name, est in cases.items():
        est.fit(X, y)
        model = tmp_path / f"{name}.onnx"
        onnx.save(sklearn2onnx.convert(est, X.shape[1]), str(model))
        out = tmp_path / f"out_{name}"
        predict(ladle, str(model), str(x_path), str(out), threads=2)
        meta = {"kind": "classifier", "label_output": "label", "scores_output": "probabilities",
                "tolerance": 1e-4}
        check(meta, str(out), est.predict(X), est.predict_proba(X).astype(np.float32), name)

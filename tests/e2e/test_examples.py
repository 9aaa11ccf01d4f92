"""The bundled examples a new user serves first (examples/models) load and answer correctly:
the digits CNN reads held-out digits, the text classifier the four example tickets, and the MLP
reproduces torch's outputs for its example input (it is the mlp_op13 golden fixture)."""

import os
import subprocess

import numpy as np

from conftest import FIXTURES, REPO, ladle_path

EX = os.path.join(REPO, "examples", "models")


def predict(model, inputs, tmp_path):
    out = tmp_path / "out"
    args = [ladle_path(), "predict", "--model", os.path.join(EX, model, "1", "model.onnx"), "--output-dir", str(out)]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return {f[:-4]: np.load(out / f) for f in os.listdir(out)}


def test_every_example_has_a_model_and_a_readme():
    names = sorted(os.listdir(EX))
    assert {"mlp", "iris", "breast_cancer", "digits_cnn", "text_classifier"} <= set(names)
    for n in names:
        assert os.path.isfile(os.path.join(EX, n, "1", "model.onnx")), n
        assert os.path.isfile(os.path.join(EX, n, "README.md")), n


def test_digits_cnn_reads_held_out_digits(tmp_path):
    out = predict("digits_cnn", {"image": os.path.join(EX, "digits_cnn", "example_input.npy")}, tmp_path)
    labels = np.load(os.path.join(EX, "digits_cnn", "example_labels.npy"))
    assert (out["logits"].argmax(1) == labels).all()


def test_text_classifier_topics(tmp_path):
    out = predict("text_classifier", {"tokens": os.path.join(EX, "text_classifier", "example_input.npy")}, tmp_path)
    labels = open(os.path.join(EX, "text_classifier", "labels.txt")).read().split()
    assert [labels[i] for i in out["logits"].argmax(1)] == ["billing", "technical", "account", "other"]


def test_mlp_example_matches_torch(tmp_path):
    out = predict("mlp", {"x": os.path.join(EX, "mlp", "example_input.npy")}, tmp_path)
    ref = np.load(os.path.join(FIXTURES, "mlp_op13", "expected", "logits.npy"))
    assert np.abs(out["logits"] - ref).max() <= 1e-4 * np.abs(ref).max()

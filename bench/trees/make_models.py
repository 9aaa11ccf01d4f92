#!/usr/bin/python3
"""Builds the tree and linear models of ladle's tree benchmark (bench/trees/run.py) into
bench/out/trees/ (not committed): scikit-learn models trained on a synthetic 30-feature problem
with fixed seeds and converted with tools/sklearn2onnx.py.

    /usr/bin/python3 bench/trees/make_models.py [--out DIR]
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import onnx  # noqa: E402
import sklearn2onnx  # noqa: E402
from sklearn import datasets, ensemble, linear_model  # noqa: E402

# name -> (factory, task)
MODELS = {
    # the judged configuration: 100 trees of depth 8, binary classification
    "rf_100x8_cls": (lambda: ensemble.RandomForestClassifier(n_estimators=100, max_depth=8, n_jobs=2, random_state=0), "binary"),
    "rf_100x8_reg": (lambda: ensemble.RandomForestRegressor(n_estimators=100, max_depth=8, n_jobs=2, random_state=0), "regression"),
    "rf_100x8_cls5": (lambda: ensemble.RandomForestClassifier(n_estimators=100, max_depth=8, n_jobs=2, random_state=0), "multiclass"),
    "gb_200x4_cls": (lambda: ensemble.GradientBoostingClassifier(n_estimators=200, max_depth=4, random_state=0), "binary"),
    "logreg_cls5": (lambda: linear_model.LogisticRegression(max_iter=500), "multiclass"),
    "linear_reg": (lambda: linear_model.LinearRegression(), "regression"),
}


def data(task, n=20000):
    if task == "regression":
        return datasets.make_regression(n_samples=n, n_features=30, n_informative=20, noise=5.0,
                                        random_state=0)
    k = 5 if task == "multiclass" else 2
    return datasets.make_classification(n_samples=n, n_features=30, n_informative=20,
                                        n_classes=k, random_state=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "trees"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (factory, task) in MODELS.items():
        path = os.path.join(args.out, name + ".onnx")
        if os.path.exists(path):
            continue
        X, y = data(task)
        t = time.time()
        est = factory().fit(X, y)
        onnx.save(sklearn2onnx.convert(est, X.shape[1]), path)
        print(f"{name}: trained and converted in {time.time() - t:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()

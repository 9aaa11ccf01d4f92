#!/usr/bin/python3
"""Convert scikit-learn and XGBoost models into ONNX-ML graphs (ai.onnx.ml domain), the way
skl2onnx / onnxmltools lay them out, with nothing but numpy and onnx.helper (skl2onnx is not
packaged for Debian).

    /usr/bin/python3 tools/sklearn2onnx.py MODEL.pkl OUT.onnx --n-features 30 [--zipmap] [--double]

MODEL.pkl is a pickle (or joblib file) of a fitted estimator. From Python:

    sys.path.insert(0, "tools"); import sklearn2onnx
    onnx_model = sklearn2onnx.convert(estimator, n_features=30)

Supported: LogisticRegression (binary, multinomial, one-vs-rest), LinearRegression, Ridge,
Lasso/ElasticNet (any linear_model regressor with coef_/intercept_), DecisionTree, RandomForest,
ExtraTrees and GradientBoosting (classifier and regressor), SVC, NuSVC, SVR, NuSVR, OneClassSVM,
LinearSVC/LinearSVR, StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler and Normalizer
steps inside a Pipeline, and XGBoost (XGBClassifier, XGBRegressor, Booster with
binary:logistic, multi:softprob/softmax, reg:squarederror and similar identity objectives).

Graph interface (skl2onnx's names): input "input" [N, n_features] float32 (double with
--double); a classifier gives "label" [N] (int64, or strings when the classes are strings) and
"probabilities" [N, n_classes] float32 (for SVC without probability=True: its decision
scores); a regressor gives "variable" [N, n_targets]. With --zipmap the probabilities go through
ZipMap into "output_probability" (a sequence of maps) and the label is "output_label", as
skl2onnx's defaults name them.

Split thresholds: scikit-learn compares float32(x) <= float64 threshold, so each threshold is
stored as the largest float32 not above it; a plain float32 cast would round some up and send
rows lying exactly on them down the wrong branch.
"""

import argparse
import json
import pickle
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

ML = "ai.onnx.ml"
ML_OPSET = 3
ONNX_OPSET = 15


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def f32_floor(t):
    """Largest float32 not above the float64 value t."""
    f = np.float32(t)
    if float(f) > float(t):
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def f32_boundary_f64(t):
    """Largest float64 x with float32(x) <= t: the double threshold that makes `x <= it` agree
    with scikit-learn's `float32(x) <= t` for double inputs."""
    lo = np.float32(f32_floor(t))
    hi = np.nextafter(lo, np.float32(np.inf))
    if not np.isfinite(hi):
        return float(lo) if not np.isfinite(lo) else float(np.finfo(np.float64).max)
    m = (float(lo) + float(hi)) / 2.0  # exact in float64
    return m if np.float32(m) == lo else float(np.nextafter(m, -np.inf))


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


class Graph:
    """Accumulates nodes; every node output gets a fresh name unless named."""

    def __init__(self, n_features, double=False):
        self.nodes = []
        self.n = 0
        self.double = double
        self.input_type = TensorProto.DOUBLE if double else TensorProto.FLOAT
        self.inputs = [helper.make_tensor_value_info("input", self.input_type, [None, n_features])]
        self.outputs = []

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def node(self, op, inputs, outputs, domain=ML, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, domain=domain,
                                           name=self.name(op), **attrs))
        return outputs

    def rename(self, old, new):
        for nd in self.nodes:
            for lst in (nd.input, nd.output):
                for i, v in enumerate(lst):
                    if v == old:
                        lst[i] = new

    def model(self, doc):
        g = helper.make_graph(self.nodes, "sklearn2onnx", self.inputs, self.outputs)
        m = helper.make_model(g, producer_name="ladle-sklearn2onnx", doc_string=doc,
                              opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                             helper.make_opsetid(ML, ML_OPSET)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def class_label_attrs(classes, ints="classlabels_int64s"):
    """The label attribute (int64 list named `ints`, or strings) and the label tensor type."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return {ints: [int(c) for c in classes]}, TensorProto.INT64
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return {ints: [int(c) for c in classes]}, TensorProto.INT64
    return {"classlabels_strings": [str(c) for c in classes]}, TensorProto.STRING


# ------------------------------------------------------------------------------------------------
# preprocessing steps: each maps tensor name -> tensor name (float32)
# ------------------------------------------------------------------------------------------------
def convert_transformer(g, step, x):
    cls = type(step).__name__
    if cls == "StandardScaler":
        n = step.n_features_in_
        offset = step.mean_ if step.mean_ is not None else np.zeros(n)
        scale = 1.0 / step.scale_ if step.scale_ is not None else np.ones(n)
        return g.node("Scaler", [x], [g.name("scaled")], offset=floats(offset), scale=floats(scale))[0]
    if cls == "MinMaxScaler":
        # X * scale_ + min_  ==  (X - (-min_ / scale_)) * scale_
        return g.node("Scaler", [x], [g.name("scaled")], offset=floats(-step.min_ / step.scale_),
                      scale=floats(step.scale_))[0]
    if cls == "MaxAbsScaler":
        return g.node("Scaler", [x], [g.name("scaled")], offset=floats(np.zeros_like(step.scale_)),
                      scale=floats(1.0 / step.scale_))[0]
    if cls == "RobustScaler":
        n = step.n_features_in_
        offset = step.center_ if step.center_ is not None else np.zeros(n)
        scale = 1.0 / step.scale_ if step.scale_ is not None else np.ones(n)
        return g.node("Scaler", [x], [g.name("scaled")], offset=floats(offset), scale=floats(scale))[0]
    if cls == "Normalizer":
        return g.node("Normalizer", [x], [g.name("normalized")], norm=step.norm.upper())[0]
    raise ValueError(f"unsupported pipeline step {cls}")


# ------------------------------------------------------------------------------------------------
# linear models
# ------------------------------------------------------------------------------------------------
def convert_linear_classifier(g, est, x):
    coef = np.asarray(est.coef_, dtype=np.float64)
    icpt = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), (coef.shape[0],))
    classes = est.classes_
    labels, ltype = class_label_attrs(classes, "classlabels_ints")
    name = type(est).__name__
    if name == "LogisticRegression":
        multi = getattr(est, "multi_class", "auto")
        if multi == "auto":
            multi = "ovr" if (est.solver == "liblinear" or len(classes) == 2) else "multinomial"
    else:
        multi = "ovr"
    if len(classes) == 2:
        coef = np.vstack([-coef, coef])
        icpt = np.concatenate([-icpt, icpt])
    probabilistic = name == "LogisticRegression"
    post = "NONE"
    if probabilistic:
        post = "SOFTMAX" if multi == "multinomial" and len(classes) > 2 else "LOGISTIC"
    label, scores = g.name("label"), g.name("scores")
    g.node("LinearClassifier", [x], [label, scores], coefficients=floats(coef),
           intercepts=floats(icpt), post_transform=post, multi_class=0 if multi == "ovr" else 1,
           **labels)
    if probabilistic and post == "LOGISTIC" and len(classes) > 2:
        scores = g.node("Normalizer", [scores], [g.name("probabilities")], norm="L1")[0]
    return label, scores, ltype, len(classes)


def convert_linear_regressor(g, est, x):
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    icpt = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), (coef.shape[0],))
    y = g.node("LinearRegressor", [x], [g.name("variable")], coefficients=floats(coef),
               intercepts=floats(icpt), targets=int(coef.shape[0]))[0]
    return y, coef.shape[0]


# ------------------------------------------------------------------------------------------------
# trees
# ------------------------------------------------------------------------------------------------
class TreeAttrs:
    def __init__(self, prefix, double=False):
        self.prefix = prefix
        self.double = double  # double input: thresholds as a double tensor
        self.a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids",
                                  "nodes_modes", "nodes_values", "nodes_truenodeids",
                                  "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                                  "nodes_hitrates")}
        self.w = {f"{prefix}_treeids": [], f"{prefix}_nodeids": [], f"{prefix}_ids": [],
                  f"{prefix}_weights": []}

    def node(self, tree, nid, feat, mode, value, t, f, missing_true=0):
        a = self.a
        a["nodes_treeids"].append(int(tree))
        a["nodes_nodeids"].append(int(nid))
        a["nodes_featureids"].append(int(feat))
        a["nodes_modes"].append(mode)
        a["nodes_values"].append(float(value))
        a["nodes_truenodeids"].append(int(t))
        a["nodes_falsenodeids"].append(int(f))
        a["nodes_missing_value_tracks_true"].append(int(missing_true))
        a["nodes_hitrates"].append(1.0)

    def weight(self, tree, nid, cls, w):
        p = self.prefix
        self.w[f"{p}_treeids"].append(int(tree))
        self.w[f"{p}_nodeids"].append(int(nid))
        self.w[f"{p}_ids"].append(int(cls))
        self.w[f"{p}_weights"].append(float(w))

    def attrs(self, double_thresholds=False):
        out = dict(self.a)
        if double_thresholds:
            vals = out.pop("nodes_values")
            out["nodes_values_as_tensor"] = helper.make_tensor(
                "nodes_values", TensorProto.DOUBLE, [len(vals)], vals)
        if not any(out["nodes_missing_value_tracks_true"]):
            del out["nodes_missing_value_tracks_true"]
        out.update(self.w)
        return out


def add_sklearn_tree(ta, tree_id, tree, leaf_fn):
    """tree: a fitted sklearn Tree (est.tree_). leaf_fn(ta, tree_id, node_id, value) adds weights."""
    left, right = tree.children_left, tree.children_right
    for i in range(tree.node_count):
        if left[i] == -1:
            ta.node(tree_id, i, 0, "LEAF", 0.0, 0, 0)
            leaf_fn(ta, tree_id, i, tree.value[i])
        else:
            t = tree.threshold[i]
            ta.node(tree_id, i, tree.feature[i], "BRANCH_LEQ",
                    f32_boundary_f64(t) if ta.double else f32_floor(t), left[i], right[i])


def forest_parts(est):
    """(list of (tree, weight) pairs) for a single tree or a bagged forest."""
    if hasattr(est, "estimators_") and not hasattr(est, "tree_"):
        n = len(est.estimators_)
        return [(e.tree_, 1.0 / n) for e in est.estimators_]
    return [(est.tree_, 1.0)]


def convert_tree_classifier(g, est, x):
    classes = est.classes_
    if isinstance(classes, list):
        raise ValueError("multi-output classifiers are not supported")
    labels, ltype = class_label_attrs(classes)
    k = len(classes)
    ta = TreeAttrs("class", g.double)
    for t, (tree, tw) in enumerate(forest_parts(est)):
        def leaf(ta, tid, nid, value, tw=tw):
            v = np.asarray(value, dtype=np.float64)[0]
            p = v / v.sum() if v.sum() > 0 else v
            if k == 2:
                ta.weight(tid, nid, 0, p[1] * tw)
            else:
                for c in range(k):
                    ta.weight(tid, nid, c, p[c] * tw)
        add_sklearn_tree(ta, t, tree, leaf)
    label, proba = g.name("label"), g.name("probabilities")
    g.node("TreeEnsembleClassifier", [x], [label, proba], post_transform="NONE",
           **ta.attrs(ta.double), **labels)
    return label, proba, ltype, k


def convert_tree_regressor(g, est, x):
    n_targets = int(getattr(est, "n_outputs_", 1))
    ta = TreeAttrs("target", g.double)
    for t, (tree, tw) in enumerate(forest_parts(est)):
        def leaf(ta, tid, nid, value, tw=tw):
            v = np.asarray(value, dtype=np.float64)
            for j in range(n_targets):
                ta.weight(tid, nid, j, v[j, 0] * tw)
        add_sklearn_tree(ta, t, tree, leaf)
    y = g.node("TreeEnsembleRegressor", [x], [g.name("variable")], n_targets=n_targets,
               aggregate_function="SUM", post_transform="NONE", **ta.attrs(ta.double))[0]
    return y, n_targets


def gb_init_raw(est):
    """The constant raw score a GradientBoosting model starts from, one per output column."""
    probe = np.zeros((1, est.n_features_in_))
    raw = est._raw_predict_init(probe)
    return np.asarray(raw, dtype=np.float64).ravel()


def convert_gb_classifier(g, est, x):
    classes = est.classes_
    labels, ltype = class_label_attrs(classes)
    k = len(classes)
    lr = est.learning_rate
    ta = TreeAttrs("class", g.double)
    tid = 0
    for stage in est.estimators_:
        for c, tree_est in enumerate(stage):
            def leaf(ta, t, nid, value, c=c):
                ta.weight(t, nid, c, float(np.asarray(value).ravel()[0]) * lr)
            add_sklearn_tree(ta, tid, tree_est.tree_, leaf)
            tid += 1
    base = gb_init_raw(est)
    post = "LOGISTIC" if k == 2 else "SOFTMAX"
    label, proba = g.name("label"), g.name("probabilities")
    g.node("TreeEnsembleClassifier", [x], [label, proba], post_transform=post,
           base_values=floats(base), **ta.attrs(ta.double), **labels)
    return label, proba, ltype, k


def convert_gb_regressor(g, est, x):
    lr = est.learning_rate
    ta = TreeAttrs("target", g.double)
    for tid, stage in enumerate(est.estimators_):
        def leaf(ta, t, nid, value):
            ta.weight(t, nid, 0, float(np.asarray(value).ravel()[0]) * lr)
        add_sklearn_tree(ta, tid, stage[0].tree_, leaf)
    base = gb_init_raw(est)
    y = g.node("TreeEnsembleRegressor", [x], [g.name("variable")], n_targets=1,
               aggregate_function="SUM", post_transform="NONE", base_values=floats(base[:1]),
               **ta.attrs(ta.double))[0]
    return y, 1


# ------------------------------------------------------------------------------------------------
# XGBoost (from the booster's JSON model: float32 split values, exactly)
# ------------------------------------------------------------------------------------------------
def xgb_model(obj):
    booster = obj.get_booster() if hasattr(obj, "get_booster") else obj
    raw = booster.save_raw(raw_format="json")
    model = json.loads(bytes(raw).decode())
    config = json.loads(booster.save_config())
    return booster, model, config


def add_xgb_trees(ta, model, n_groups):
    gb = model["learner"]["gradient_booster"]
    if gb.get("name") not in (None, "gbtree", "dart"):
        raise ValueError(f"unsupported XGBoost booster {gb.get('name')}")
    trees = gb["model"]["trees"] if "model" in gb else gb["gbtree"]["model"]["trees"]
    tree_info = gb["model"].get("tree_info") if "model" in gb else gb["gbtree"]["model"]["tree_info"]
    weights = None
    if gb.get("name") == "dart":
        weights = gb.get("weight_drop")
    for t, tree in enumerate(trees):
        left, right = tree["left_children"], tree["right_children"]
        cond, feat = tree["split_conditions"], tree["split_indices"]
        dleft = tree["default_left"]
        cls = int(tree_info[t]) if n_groups > 1 else 0
        w = float(weights[t]) if weights else 1.0
        for i in range(len(left)):
            if left[i] == -1:
                ta.node(t, i, 0, "LEAF", 0.0, 0, 0)
                ta.weight(t, i, cls, float(np.float32(cond[i])) * w)
            else:
                c = np.float32(cond[i])
                if ta.double:  # float32(x) < c  <=>  x <= the last double rounding below c
                    below = np.nextafter(c, np.float32(-np.inf))
                    ta.node(t, i, feat[i], "BRANCH_LEQ", f32_boundary_f64(below), left[i], right[i],
                            missing_true=1 if dleft[i] else 0)
                else:
                    ta.node(t, i, feat[i], "BRANCH_LT", float(c), left[i], right[i],
                            missing_true=1 if dleft[i] else 0)


def convert_xgb(g, obj, x):
    booster, model, config = xgb_model(obj)
    objective = config["learner"]["objective"]["name"]
    base_score = float(config["learner"]["learner_model_param"]["base_score"])
    n_class = int(config["learner"]["learner_model_param"].get("num_class", "0") or 0)
    if objective in ("binary:logistic", "binary:logitraw"):
        ta = TreeAttrs("class", g.double)
        add_xgb_trees(ta, model, 1)
        margin = float(np.log(base_score / (1 - base_score))) if objective == "binary:logistic" else base_score
        classes = getattr(obj, "classes_", np.array([0, 1]))
        labels, ltype = class_label_attrs(classes)
        label, proba = g.name("label"), g.name("probabilities")
        g.node("TreeEnsembleClassifier", [x], [label, proba],
               post_transform="LOGISTIC" if objective == "binary:logistic" else "NONE",
               base_values=[margin], **ta.attrs(ta.double), **labels)
        return ("classifier", label, proba, ltype, 2)
    if objective in ("multi:softprob", "multi:softmax"):
        ta = TreeAttrs("class", g.double)
        add_xgb_trees(ta, model, n_class)
        classes = getattr(obj, "classes_", np.arange(n_class))
        labels, ltype = class_label_attrs(classes)
        label, proba = g.name("label"), g.name("probabilities")
        g.node("TreeEnsembleClassifier", [x], [label, proba], post_transform="SOFTMAX",
               base_values=[base_score] * n_class, **ta.attrs(ta.double), **labels)
        return ("classifier", label, proba, ltype, n_class)
    if objective.startswith("reg:") or objective in ("count:poisson",):
        ta = TreeAttrs("target", g.double)
        add_xgb_trees(ta, model, 1)
        if objective not in ("reg:squarederror", "reg:linear", "reg:squaredlogerror",
                             "reg:pseudohubererror", "reg:absoluteerror"):
            raise ValueError(f"unsupported XGBoost objective {objective} (needs a link function)")
        y = g.node("TreeEnsembleRegressor", [x], [g.name("variable")], n_targets=1,
                   aggregate_function="SUM", post_transform="NONE", base_values=[base_score],
                   **ta.attrs(ta.double))[0]
        return ("regressor", y, 1)
    raise ValueError(f"unsupported XGBoost objective {objective}")


# ------------------------------------------------------------------------------------------------
# SVMs
# ------------------------------------------------------------------------------------------------
def svm_kernel_attrs(est):
    kernel = est.kernel
    if callable(kernel) or kernel == "precomputed":
        raise ValueError("callable and precomputed SVM kernels are not supported")
    gamma = float(getattr(est, "_gamma", est.gamma if not isinstance(est.gamma, str) else 0.0))
    return {"kernel_type": kernel.upper(),
            "kernel_params": [gamma, float(est.coef0), float(est.degree)]}


def convert_svc(g, est, x):
    classes = est.classes_
    labels, ltype = class_label_attrs(classes, "classlabels_ints")
    attrs = svm_kernel_attrs(est)
    attrs.update(support_vectors=floats(est.support_vectors_),
                 vectors_per_class=[int(v) for v in est.n_support_],
                 coefficients=floats(est._dual_coef_), rho=floats(est._intercept_),
                 post_transform="NONE", **labels)
    if getattr(est, "probability", False):
        attrs.update(prob_a=floats(est.probA_), prob_b=floats(est.probB_))
    label, proba = g.name("label"), g.name("probabilities")
    g.node("SVMClassifier", [x], [label, proba], **attrs)
    k = len(classes)
    return label, proba, ltype, (k if getattr(est, "probability", False) else
                                 (2 if k == 2 else k * (k - 1) // 2))


def convert_svr(g, est, x, one_class=False):
    attrs = svm_kernel_attrs(est)
    attrs.update(support_vectors=floats(est.support_vectors_), n_supports=len(est.support_vectors_),
                 coefficients=floats(est._dual_coef_), rho=floats(est._intercept_),
                 post_transform="NONE", one_class=1 if one_class else 0)
    y = g.node("SVMRegressor", [x], [g.name("variable")], **attrs)[0]
    return y, 1


def convert_linear_svm(g, est, x):
    name = type(est).__name__
    if name == "LinearSVR":
        return convert_linear_regressor(g, est, x)
    return convert_linear_classifier(g, est, x)


# ------------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------------
CLASSIFIER_TREES = ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier",
                    "ExtraTreeClassifier")
REGRESSOR_TREES = ("DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor",
                   "ExtraTreeRegressor")


def convert_estimator(g, est, x):
    """Returns ("classifier", label, scores, label_type, n_columns) or ("regressor", y, n_targets)."""
    name = type(est).__name__
    module = type(est).__module__
    if module.startswith("xgboost"):
        return convert_xgb(g, est, x)
    if name in CLASSIFIER_TREES:
        return ("classifier",) + convert_tree_classifier(g, est, x)
    if name in REGRESSOR_TREES:
        return ("regressor",) + convert_tree_regressor(g, est, x)
    if name == "GradientBoostingClassifier":
        return ("classifier",) + convert_gb_classifier(g, est, x)
    if name == "GradientBoostingRegressor":
        return ("regressor",) + convert_gb_regressor(g, est, x)
    if name in ("SVC", "NuSVC"):
        return ("classifier",) + convert_svc(g, est, x)
    if name in ("SVR", "NuSVR"):
        return ("regressor",) + convert_svr(g, est, x)
    if name == "OneClassSVM":
        return ("regressor",) + convert_svr(g, est, x, one_class=True)
    if name in ("LinearSVC",):
        return ("classifier",) + convert_linear_classifier(g, est, x)
    if name in ("LinearSVR",):
        return ("regressor",) + convert_linear_regressor(g, est, x)
    if name in ("LogisticRegression", "RidgeClassifier", "SGDClassifier", "Perceptron"):
        return ("classifier",) + convert_linear_classifier(g, est, x)
    if hasattr(est, "coef_") and hasattr(est, "intercept_") and not hasattr(est, "classes_"):
        return ("regressor",) + convert_linear_regressor(g, est, x)
    raise ValueError(f"unsupported estimator {module}.{name}")


def convert(model, n_features=None, zipmap=False, double=False, doc=""):
    """Returns an onnx.ModelProto for a fitted estimator or Pipeline."""
    steps = [s for _, s in model.steps] if type(model).__name__ == "Pipeline" else [model]
    steps = [s for s in steps if s is not None and s != "passthrough"]
    if n_features is None:
        n_features = getattr(steps[0], "n_features_in_", None)
        if n_features is None and hasattr(steps[0], "get_booster"):
            n_features = steps[0].get_booster().num_features()
    if n_features is None:
        raise ValueError("the number of features is unknown: pass n_features")
    g = Graph(int(n_features), double)
    x = "input"
    for s in steps[:-1]:
        x = convert_transformer(g, s, x)
    res = convert_estimator(g, steps[-1], x)
    if res[0] == "classifier":
        _, label, scores, ltype, ncols = res
        out_label = "output_label" if zipmap else "label"
        g.rename(label, out_label)
        g.outputs.append(helper.make_tensor_value_info(out_label, ltype, [None]))
        if zipmap:
            est = steps[-1]
            labels, _ = class_label_attrs(est.classes_)
            key = TensorProto.STRING if "classlabels_strings" in labels else TensorProto.INT64
            g.node("ZipMap", [scores], ["output_probability"], **labels)
            mp = onnx.TypeProto()  # onnx 1.12 has no helper.make_map_type_proto
            mp.map_type.key_type = key
            mp.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
            seq = helper.make_sequence_type_proto(mp)
            g.outputs.append(helper.make_value_info("output_probability", seq))
        else:
            g.rename(scores, "probabilities")
            g.outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                                           [None, ncols]))
    else:
        _, y, nt = res
        g.rename(y, "variable")
        g.outputs.append(helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, nt]))
    return g.model(doc or f"converted from {type(model).__module__}.{type(model).__name__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="pickled (or joblib) fitted estimator")
    ap.add_argument("out", help="ONNX file to write")
    ap.add_argument("--n-features", type=int, help="number of input features (default: from the model)")
    ap.add_argument("--zipmap", action="store_true", help="probabilities through ZipMap (skl2onnx's default)")
    ap.add_argument("--double", action="store_true", help="double input instead of float")
    args = ap.parse_args()
    try:
        with open(args.model, "rb") as fp:
            model = pickle.load(fp)
    except Exception:
        import joblib
        model = joblib.load(args.model)
    m = convert(model, args.n_features, zipmap=args.zipmap, double=args.double)
    onnx.save(m, args.out)
    print(f"wrote {args.out}: {len(m.graph.node)} nodes", file=sys.stderr)


if __name__ == "__main__":
    main()

/* ml_tree.c — ai.onnx.ml tree ensembles: TreeEnsembleClassifier, TreeEnsembleRegressor. */
#include "runtime/op.h"

const op_def ops_ml_tree[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

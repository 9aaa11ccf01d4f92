/* ml_linear.c — ai.onnx.ml linear models: LinearClassifier, LinearRegressor, SVMClassifier, SVMRegressor. */
#include "runtime/op.h"

const op_def ops_ml_linear[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

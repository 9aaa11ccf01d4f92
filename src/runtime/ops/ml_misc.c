/* ml_misc.c — ai.onnx.ml preprocessing and plumbing: Scaler, Normalizer, Binarizer, Imputer, OneHotEncoder, LabelEncoder, CategoryMapper, ArrayFeatureExtractor, FeatureVectorizer, ZipMap. */
#include "runtime/op.h"

const op_def ops_ml_misc[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

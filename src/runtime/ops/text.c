/* text.c — string ops: StringNormalizer, TfIdfVectorizer. */
#include "runtime/op.h"

const op_def ops_text[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

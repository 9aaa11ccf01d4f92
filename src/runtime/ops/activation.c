/* activation.c — ops of the activation family. */
#include "runtime/op.h"

const op_def ops_activation[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* gather.c — ops of the gather family. */
#include "runtime/op.h"

const op_def ops_gather[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

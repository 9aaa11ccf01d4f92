/* reduce.c — ops of the reduce family. */
#include "runtime/op.h"

const op_def ops_reduce[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

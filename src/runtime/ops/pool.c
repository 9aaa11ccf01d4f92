/* pool.c — ops of the pool family. */
#include "runtime/op.h"

const op_def ops_pool[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* logic.c — ops of the logic family. */
#include "runtime/op.h"

const op_def ops_logic[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

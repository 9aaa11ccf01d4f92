/* control.c — control flow: If, Loop, Scan. */
#include "runtime/op.h"

const op_def ops_control[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* resize.c — Resize and Upsample: nearest, linear and cubic modes, coordinate transformations. */
#include "runtime/op.h"

const op_def ops_resize[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

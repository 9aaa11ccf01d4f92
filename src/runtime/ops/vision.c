/* vision.c — detection and sampling ops: NonMaxSuppression, RoiAlign, GridSample, MaxUnpool. */
#include "runtime/op.h"

const op_def ops_vision[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

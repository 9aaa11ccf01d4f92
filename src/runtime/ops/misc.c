/* misc.c — the rest: Unique, ReverseSequence, Det, random ops. */
#include "runtime/op.h"

const op_def ops_misc[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

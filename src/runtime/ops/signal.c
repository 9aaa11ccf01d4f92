/* signal.c — signal ops: window functions, MelWeightMatrix, DFT, STFT. */
#include "runtime/op.h"

const op_def ops_signal[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

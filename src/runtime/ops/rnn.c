/* rnn.c — recurrent ops: LSTM, GRU, RNN. */
#include "runtime/op.h"

const op_def ops_rnn[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* quant.c — quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv. */
#include "runtime/op.h"

const op_def ops_quant[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* dtype.c — element types and tensor sizes of the public API (include/ladle/ladle.h). */
#include <stdint.h>

#include "ladle/ladle.h"

int64_t ladle_tensor_numel(const ladle_tensor *t) {
  /* An empty tensor has 0 elements whatever its other dims, in any order (checked first, so
   * [0, 2^40, 2^40] and [2^40, 2^40, 0] agree). Negative dims are invalid. */
  for (int i = 0; i < t->ndim; i++)
    if (t->dims[i] < 0) return -1;
  for (int i = 0; i < t->ndim; i++)
    if (t->dims[i] == 0) return 0;
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    /* a multiply with an overflow flag, not a division per dim: this runs for every output */
    if (__builtin_mul_overflow(n, t->dims[i], &n) || n > (INT64_C(1) << 62)) return -1;
  return n;
}

size_t ladle_dtype_size(int dt) {
  switch (dt) {
    case LADLE_FLOAT: return 4;
    case LADLE_UINT8: return 1;
    case LADLE_INT8: return 1;
    case LADLE_UINT16: return 2;
    case LADLE_INT16: return 2;
    case LADLE_INT32: return 4;
    case LADLE_INT64: return 8;
    case LADLE_STRING: return sizeof(char *);
    case LADLE_BOOL: return 1;
    case LADLE_FLOAT16: return 2;
    case LADLE_DOUBLE: return 8;
    case LADLE_UINT32: return 4;
    case LADLE_UINT64: return 8;
    case LADLE_BFLOAT16: return 2;
    default: return 0;
  }
}

const char *ladle_dtype_name(int dt) {
  switch (dt) {
    case LADLE_FLOAT: return "float32";
    case LADLE_UINT8: return "uint8";
    case LADLE_INT8: return "int8";
    case LADLE_UINT16: return "uint16";
    case LADLE_INT16: return "int16";
    case LADLE_INT32: return "int32";
    case LADLE_INT64: return "int64";
    case LADLE_STRING: return "string";
    case LADLE_BOOL: return "bool";
    case LADLE_FLOAT16: return "float16";
    case LADLE_DOUBLE: return "float64";
    case LADLE_UINT32: return "uint32";
    case LADLE_UINT64: return "uint64";
    case LADLE_BFLOAT16: return "bfloat16";
    default: return "undefined";
  }
}


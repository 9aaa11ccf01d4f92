#include "runtime/tensor.h"

#include <math.h>
#include <stdio.h>

int64_t shape_numel(int ndim, const int64_t *dims) {
  /* An empty tensor has 0 elements whatever its other dims, in any order (checked first, so
   * [0, 2^40, 2^40] and [2^40, 2^40, 0] agree). Negative dims are invalid. */
  for (int i = 0; i < ndim; i++)
    if (dims[i] < 0) return -1;
  for (int i = 0; i < ndim; i++)
    if (dims[i] == 0) return 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    /* a multiply with an overflow flag, not a division per dim: this runs for every output */
    if (__builtin_mul_overflow(n, dims[i], &n) || n > (INT64_C(1) << 62)) return -1;
  return n;
}

bool shape_equal(int na, const int64_t *a, int nb, const int64_t *b) {
  if (na != nb) return false;
  for (int i = 0; i < na; i++)
    if (a[i] != b[i]) return false;
  return true;
}

bool shape_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out) {
  int n = na > nb ? na : nb;
  if (n > LADLE_MAX_DIMS) return false;
  int64_t tmp[LADLE_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    int ia = i - (n - na), ib = i - (n - nb);
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da == db || db == 1)
      tmp[i] = da;
    else if (da == 1)
      tmp[i] = db;
    else
      return false;
  }
  memcpy(out, tmp, sizeof(int64_t) * (size_t)n);
  *nout = n;
  return true;
}

char *shape_str(int ndim, const int64_t *dims, char *buf, size_t len) {
  size_t off = 0;
  if (len == 0) return buf;
  buf[0] = '\0';
  if (ndim < 0) {
    snprintf(buf, len, "(any)");
    return buf;
  }
  off += (size_t)snprintf(buf + off, len - off, "[");
  for (int i = 0; i < ndim && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, i ? ",%lld" : "%lld", (long long)dims[i]);
  if (off < len) snprintf(buf + off, len - off, "]");
  return buf;
}

void shape_strides(int ndim, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

void shape_broadcast_strides(int nin, const int64_t *din, int nout, const int64_t *dout,
                             int64_t *strides) {
  int64_t s = 1;
  for (int i = nout - 1; i >= 0; i--) {
    int j = i - (nout - nin);
    if (j < 0 || din[j] == 1) {
      strides[i] = 0;
    } else {
      strides[i] = s;
    }
    if (j >= 0) s *= din[j];
    (void)dout;
  }
}

bool dtype_is_float(int dt) {
  return dt == LADLE_FLOAT || dt == LADLE_DOUBLE || dt == LADLE_FLOAT16 || dt == LADLE_BFLOAT16;
}

bool dtype_is_integer(int dt) {
  switch (dt) {
    case LADLE_UINT8: case LADLE_INT8: case LADLE_UINT16: case LADLE_INT16: case LADLE_INT32:
    case LADLE_INT64: case LADLE_UINT32: case LADLE_UINT64:
      return true;
    default:
      return false;
  }
}

bool dtype_valid(int dt) { return ladle_dtype_size(dt) != 0; }

size_t tensor_nbytes(const ladle_tensor *t) {
  int64_t n = ladle_tensor_numel(t);
  return n < 0 ? 0 : (size_t)n * ladle_dtype_size(t->dtype);
}

int64_t tensor_get_i64(const ladle_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case LADLE_INT64: return ((const int64_t *)p)[i];
    case LADLE_INT32: return ((const int32_t *)p)[i];
    case LADLE_INT16: return ((const int16_t *)p)[i];
    case LADLE_INT8: return ((const int8_t *)p)[i];
    case LADLE_UINT8: return ((const uint8_t *)p)[i];
    case LADLE_UINT16: return ((const uint16_t *)p)[i];
    case LADLE_UINT32: return ((const uint32_t *)p)[i];
    case LADLE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case LADLE_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: {
      double d = tensor_get_f64(t, i);
      if (!(d == d)) return 0;
      if (d >= 9.2e18) return INT64_MAX;
      if (d <= -9.2e18) return INT64_MIN;
      return (int64_t)d;
    }
  }
}

double tensor_get_f64(const ladle_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
    case LADLE_FLOAT: return ((const float *)p)[i];
    case LADLE_DOUBLE: return ((const double *)p)[i];
    case LADLE_FLOAT16: return half_to_float(((const uint16_t *)p)[i]);
    case LADLE_BFLOAT16: return bfloat16_to_float(((const uint16_t *)p)[i]);
    case LADLE_UINT64: return (double)((const uint64_t *)p)[i];
    case LADLE_STRING: return 0;
    default: return (double)tensor_get_i64(t, i);
  }
}

/* Converts to an integer type with saturation (NaN -> 0): an out-of-range double converted
 * directly is undefined behaviour in C. */
static double sat(double v, double lo, double hi) {
  if (!(v == v)) return 0;
  return v < lo ? lo : (v > hi ? hi : v);
}

void tensor_set_f64(ladle_tensor *t, int64_t i, double v) {
  void *p = t->data;
  switch (t->dtype) {
    case LADLE_FLOAT: ((float *)p)[i] = (float)v; break;
    case LADLE_DOUBLE: ((double *)p)[i] = v; break;
    case LADLE_FLOAT16: ((uint16_t *)p)[i] = float_to_half((float)v); break;
    case LADLE_BFLOAT16: ((uint16_t *)p)[i] = float_to_bfloat16((float)v); break;
    case LADLE_INT64: ((int64_t *)p)[i] = (int64_t)sat(v, -9223372036854775808.0, 9223372036854774784.0); break;
    case LADLE_INT32: ((int32_t *)p)[i] = (int32_t)sat(v, INT32_MIN, INT32_MAX); break;
    case LADLE_INT16: ((int16_t *)p)[i] = (int16_t)sat(v, INT16_MIN, INT16_MAX); break;
    case LADLE_INT8: ((int8_t *)p)[i] = (int8_t)sat(v, INT8_MIN, INT8_MAX); break;
    case LADLE_UINT8: ((uint8_t *)p)[i] = (uint8_t)sat(v, 0, UINT8_MAX); break;
    case LADLE_UINT16: ((uint16_t *)p)[i] = (uint16_t)sat(v, 0, UINT16_MAX); break;
    case LADLE_UINT32: ((uint32_t *)p)[i] = (uint32_t)sat(v, 0, UINT32_MAX); break;
    case LADLE_UINT64: ((uint64_t *)p)[i] = (uint64_t)sat(v, 0, 18446744073709549568.0); break;
    case LADLE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
  }
}

float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* Round to nearest even, with overflow to infinity and gradual underflow. */
uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds past 65504 */
  if (absx < 0x38800000u) {                                    /* below the smallest normal */
    if (absx < 0x33000000u) return (uint16_t)sign;
    uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* value / 2^-24 = m * 2^(e-126) */
    uint32_t half = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t h = ((absx - 0x38000000u) >> 13);
  uint32_t rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

float bfloat16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return (uint16_t)((x + rounding) >> 16);
}

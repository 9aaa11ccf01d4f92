/* generate.c — ops that make tensors from shapes and scalars: ConstantOfShape, Range,
 * EyeLike; and CumSum, the running sum along an axis. */
#include <math.h>
#include <string.h>

#include "runtime/ops/shape_common.h"

/* --- ConstantOfShape ---------------------------------------------------------------------- */

static ladle_status run_constant_of_shape(op_ctx *c) {
  const ladle_tensor *s;
  int64_t dims[LADLE_MAX_DIMS];
  int n;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &s))) return st;
  if ((st = shape_read_ints(c, s, "shape", LADLE_MAX_DIMS, dims, &n))) return st;
  for (int i = 0; i < n; i++)
    if (dims[i] < 0) return op_fail(c, LADLE_ERR_SHAPE, "negative dimension %lld", (long long)dims[i]);
  if (shape_numel(n, dims) < 0) return op_fail(c, LADLE_ERR_LIMIT, "shape is too large");
  const attr *a = node_attr(op_node(c), "value");
  uint64_t zero = 0;
  const void *val = &zero;
  int dtype = LADLE_FLOAT;
  if (a) {
    if (a->type != ATTR_TENSOR || !a->t || ladle_tensor_numel(a->t) != 1)
      return op_fail(c, LADLE_ERR_INVALID, "attribute 'value' must be a one-element tensor");
    dtype = a->t->dtype;
    val = a->t->data;
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, dtype, n, dims, &y))) return st;
  shape_fill(y->data, val, ladle_tensor_numel(y), ladle_dtype_size(dtype));
  return shape_own_strings(c, y);
}

/* --- Range -------------------------------------------------------------------------------- */

/* Element count of an integer range: ceil((limit - start) / delta), at least 0. */
static int64_t int_range_count(int64_t start, int64_t limit, int64_t delta) {
  uint64_t diff, step;
  if (delta > 0 && limit > start) {
    diff = (uint64_t)limit - (uint64_t)start;
    step = (uint64_t)delta;
  } else if (delta < 0 && limit < start) {
    diff = (uint64_t)start - (uint64_t)limit;
    step = (uint64_t)0 - (uint64_t)delta;
  } else {
    return 0;
  }
  uint64_t n = diff / step + (diff % step != 0);
  return n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

static ladle_status run_range(op_ctx *c) {
  const ladle_tensor *ts, *tl, *td;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &ts)) || (st = shape_need_input(c, 1, &tl)) || (st = shape_need_input(c, 2, &td))) return st;
  int dt = ts->dtype;
  if (tl->dtype != dt || td->dtype != dt)
    return op_fail(c, LADLE_ERR_DTYPE, "start, limit and delta must have the same type");
  if (ladle_tensor_numel(ts) != 1 || ladle_tensor_numel(tl) != 1 || ladle_tensor_numel(td) != 1)
    return op_fail(c, LADLE_ERR_SHAPE, "start, limit and delta must be scalars");
  int64_t n;
  ladle_tensor *y;
  if (dt == LADLE_FLOAT || dt == LADLE_DOUBLE) {
    double s = tensor_get_f64(ts, 0), l = tensor_get_f64(tl, 0), d = tensor_get_f64(td, 0);
    if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
      return op_fail(c, LADLE_ERR_INVALID, "range needs finite start, limit and a non-zero delta");
    /* the count is computed in the tensor's own type, as ONNX's definition does */
    double cnt = dt == LADLE_FLOAT ? (double)ceilf(((float)l - (float)s) / (float)d) : ceil((l - s) / d);
    if (cnt > 1e15) return op_fail(c, LADLE_ERR_LIMIT, "range of %.0f elements is too large", cnt);
    n = cnt > 0 ? (int64_t)cnt : 0;
    if ((st = op_out(c, 0, dt, 1, &n, &y))) return st;
    if (dt == LADLE_FLOAT) {
      float fs = (float)s, fd = (float)d, *p = y->data;
      for (int64_t i = 0; i < n; i++) p[i] = fs + (float)i * fd;
    } else {
      double *p = y->data;
      for (int64_t i = 0; i < n; i++) p[i] = s + (double)i * d;
    }
    return LADLE_OK;
  }
  if (dt != LADLE_INT16 && dt != LADLE_INT32 && dt != LADLE_INT64)
    return op_fail(c, LADLE_ERR_DTYPE, "Range does not support %s", ladle_dtype_name(dt));
  int64_t s = tensor_get_i64(ts, 0), l = tensor_get_i64(tl, 0), d = tensor_get_i64(td, 0);
  if (d == 0) return op_fail(c, LADLE_ERR_INVALID, "delta must not be 0");
  n = int_range_count(s, l, d);
  if (n > (INT64_C(1) << 40))
    return op_fail(c, LADLE_ERR_LIMIT, "range of %lld elements exceeds the tensor limit", (long long)n);
  if ((st = op_out(c, 0, dt, 1, &n, &y))) return st;
  /* every value lies between start and limit, so it fits the type; step unsigned to stay defined */
  uint64_t v = (uint64_t)s;
  for (int64_t i = 0; i < n; i++, v += (uint64_t)d) {
    switch (dt) {
      case LADLE_INT16: ((int16_t *)y->data)[i] = (int16_t)(int64_t)v; break;
      case LADLE_INT32: ((int32_t *)y->data)[i] = (int32_t)(int64_t)v; break;
      default: ((int64_t *)y->data)[i] = (int64_t)v; break;
    }
  }
  return LADLE_OK;
}

/* --- EyeLike ------------------------------------------------------------------------------ */

static ladle_status run_eyelike(op_ctx *c) {
  const ladle_tensor *x;
  ladle_tensor *y;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  if (x->ndim != 2) return op_fail(c, LADLE_ERR_SHAPE, "input must be 2-D, got rank %d", x->ndim);
  int64_t dt = node_attr_int(op_node(c), "dtype", x->dtype), k = node_attr_int(op_node(c), "k", 0);
  if (dt == LADLE_STRING || dt > INT32_MAX || !dtype_valid((int)dt))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported dtype %lld", (long long)dt);
  if ((st = op_out(c, 0, (int)dt, 2, x->dims, &y))) return st;
  memset(y->data, 0, tensor_nbytes(y));
  int64_t m = x->dims[0], n = x->dims[1];
  for (int64_t i = 0; i < m; i++) {
    if (k >= n || k <= -m) break; /* no diagonal inside the matrix */
    int64_t j = i + k;
    if (j >= 0 && j < n) tensor_set_f64(y, i * n + j, 1.0);
  }
  return LADLE_OK;
}

/* --- CumSum ------------------------------------------------------------------------------- */

/* y[a] = y[a - 1] + x[a] (or x[a - 1] when exclusive) along an axis of length len with element
 * stride inner; reversed runs from the end. Integer sums wrap (computed unsigned). */
#define CUMSUM_T(T, A, LOAD, STORE)                                                 \
  {                                                                                 \
    const T *xp = x->data;                                                          \
    T *yp = y->data;                                                                \
    for (int64_t o = 0; o < outer; o++) {                                           \
      for (int64_t i = 0; i < inner; i++) {                                         \
        const T *xs = xp + o * len * inner + i;                                     \
        T *ys = yp + o * len * inner + i;                                           \
        A acc = 0;                                                                  \
        for (int64_t t = 0; t < len; t++) {                                         \
          int64_t a = (reverse ? len - 1 - t : t) * inner;                          \
          A v = LOAD(xs[a]);                                                        \
          if (exclusive) {                                                          \
            ys[a] = STORE(acc);                                                     \
            acc += v;                                                               \
          } else {                                                                  \
            acc += v;                                                               \
            ys[a] = STORE(acc);                                                     \
          }                                                                         \
        }                                                                           \
      }                                                                             \
    }                                                                               \
  }
#define ID(v) (v)

static ladle_status run_cumsum(op_ctx *c) {
  const ladle_tensor *x, *ta;
  ladle_tensor *y;
  int axis;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ta))) return st;
  if (!dtype_is_integer(ta->dtype) || ladle_tensor_numel(ta) != 1)
    return op_fail(c, LADLE_ERR_INVALID, "axis must be one integer");
  int64_t ax = tensor_get_i64(ta, 0);
  if (!shape_axis(ax, x->ndim, &axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  bool exclusive = node_attr_int(op_node(c), "exclusive", 0) != 0;
  bool reverse = node_attr_int(op_node(c), "reverse", 0) != 0;
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  int64_t outer = shape_numel(axis, x->dims), len = x->dims[axis];
  int64_t inner = shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
  switch (x->dtype) {
    case LADLE_FLOAT: CUMSUM_T(float, float, ID, ID) break;
    case LADLE_DOUBLE: CUMSUM_T(double, double, ID, ID) break;
    case LADLE_INT32: CUMSUM_T(int32_t, uint32_t, (uint32_t), (int32_t)) break;
    case LADLE_UINT32: CUMSUM_T(uint32_t, uint32_t, ID, ID) break;
    case LADLE_INT64: CUMSUM_T(int64_t, uint64_t, (uint64_t), (int64_t)) break;
    case LADLE_UINT64: CUMSUM_T(uint64_t, uint64_t, ID, ID) break;
    case LADLE_FLOAT16: CUMSUM_T(uint16_t, float, half_to_float, float_to_half) break;
    case LADLE_BFLOAT16: CUMSUM_T(uint16_t, float, bfloat16_to_float, float_to_bfloat16) break;
    default:
      return op_fail(c, LADLE_ERR_DTYPE, "CumSum does not support %s", ladle_dtype_name(x->dtype));
  }
  return LADLE_OK;
}

const op_def ops_generate[] = {
    {"", "ConstantOfShape", 9, 99, run_constant_of_shape, NULL, NULL},
    {"", "Range", 11, 99, run_range, NULL, NULL},
    {"", "EyeLike", 9, 99, run_eyelike, NULL, NULL},
    {"", "CumSum", 11, 99, run_cumsum, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

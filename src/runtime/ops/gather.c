/* gather.c — indexed reads and writes: Gather, GatherElements, GatherND, ScatterND,
 * ScatterElements (and the old Scatter), OneHot, NonZero, Compress.
 *
 * Every index read from a tensor is checked against its axis before use (negative indices
 * count from the end where ONNX allows them); an out-of-range index fails the op with its
 * position. Elements move as esz-byte units and strings as pointers duplicated at the end
 * (shape_own_strings), as in shape.c. */
#include <stddef.h>
#include <string.h>

#include "runtime/ops/shape_common.h"

static ladle_status need_index_dtype(op_ctx *c, const ladle_tensor *t) {
  if (t->dtype != LADLE_INT64 && t->dtype != LADLE_INT32)
    return op_fail(c, LADLE_ERR_DTYPE, "indices must be int32 or int64, got %s", ladle_dtype_name(t->dtype));
  return LADLE_OK;
}

/* Index i of t checked against [-dim, dim) and made non-negative; false when out of range. */
static bool index_at(const ladle_tensor *t, int64_t i, int64_t dim, int64_t *out) {
  int64_t v = t->dtype == LADLE_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
  if (v < -dim || v >= dim) return false;
  *out = v < 0 ? v + dim : v;
  return true;
}

static ladle_status bad_index(op_ctx *c, const ladle_tensor *t, int64_t i, int64_t dim) {
  int64_t v = t->dtype == LADLE_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
  return op_fail(c, LADLE_ERR_INVALID, "index %lld (element %lld of indices) out of range for a dimension of %lld",
                 (long long)v, (long long)i, (long long)dim);
}

/* --- reductions for the scatters ---------------------------------------------------------- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction_of(const char *s) {
  if (!strcmp(s, "none")) return RED_NONE;
  if (!strcmp(s, "add")) return RED_ADD;
  if (!strcmp(s, "mul")) return RED_MUL;
  if (!strcmp(s, "max")) return RED_MAX;
  if (!strcmp(s, "min")) return RED_MIN;
  return -1;
}

static bool reduction_ok(int dtype, int red) {
  if (red == RED_NONE) return true;
  return dtype_is_float(dtype) || dtype_is_integer(dtype);
}

/* dst[i] = dst[i] (red) src[i] for i < n. Integer add and mul wrap (computed unsigned). */
static void reduce_into(int dtype, int red, void *dst, const void *src, int64_t n, size_t esz) {
#define RLOOP(T, EXPR)                         \
  {                                            \
    T *d = dst;                                \
    const T *s = src;                          \
    for (int64_t i = 0; i < n; i++) {          \
      T a = d[i], b = s[i];                    \
      d[i] = (EXPR);                           \
    }                                          \
  }
#define RNUM(T, U)                                       \
  switch (red) {                                         \
    case RED_ADD: RLOOP(T, (T)((U)a + (U)b)) break;      \
    case RED_MUL: RLOOP(T, (T)((U)a * (U)b)) break;      \
    case RED_MAX: RLOOP(T, a > b ? a : b) break;         \
    default: RLOOP(T, a < b ? a : b) break;              \
  }
#define RHALF(TO, FROM)                                                      \
  {                                                                          \
    uint16_t *d = dst;                                                       \
    const uint16_t *s = src;                                                 \
    for (int64_t i = 0; i < n; i++) {                                        \
      float a = TO(d[i]), b = TO(s[i]);                                      \
      float r = red == RED_ADD ? a + b : red == RED_MUL ? a * b              \
              : red == RED_MAX ? (a > b ? a : b) : (a < b ? a : b);          \
      d[i] = FROM(r);                                                        \
    }                                                                        \
  }
  if (red == RED_NONE) {
    memcpy(dst, src, (size_t)n * esz);
    return;
  }
  switch (dtype) {
    case LADLE_FLOAT: RNUM(float, float) break;
    case LADLE_DOUBLE: RNUM(double, double) break;
    case LADLE_INT8: RNUM(int8_t, unsigned) break;
    case LADLE_UINT8: RNUM(uint8_t, unsigned) break;
    case LADLE_INT16: RNUM(int16_t, unsigned) break;
    case LADLE_UINT16: RNUM(uint16_t, unsigned) break;
    case LADLE_INT32: RNUM(int32_t, uint32_t) break;
    case LADLE_UINT32: RNUM(uint32_t, uint32_t) break;
    case LADLE_INT64: RNUM(int64_t, uint64_t) break;
    case LADLE_UINT64: RNUM(uint64_t, uint64_t) break;
    case LADLE_FLOAT16: RHALF(half_to_float, float_to_half) break;
    case LADLE_BFLOAT16: RHALF(bfloat16_to_float, float_to_bfloat16) break;
    default: break;
  }
#undef RLOOP
#undef RNUM
#undef RHALF
}

/* --- Gather ------------------------------------------------------------------------------- */

static ladle_status run_gather(op_ctx *c) {
  const ladle_tensor *x, *ind;
  int64_t dims[LADLE_MAX_DIMS];
  int axis;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ind)) || (st = need_index_dtype(c, ind)))
    return st;
  int64_t ax = node_attr_int(op_node(c), "axis", 0);
  if (!shape_axis(ax, x->ndim, &axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  int r = x->ndim - 1 + ind->ndim;
  if (r > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, LADLE_MAX_DIMS);
  int n = 0;
  for (int i = 0; i < axis; i++) dims[n++] = x->dims[i];
  for (int i = 0; i < ind->ndim; i++) dims[n++] = ind->dims[i];
  for (int i = axis + 1; i < x->ndim; i++) dims[n++] = x->dims[i];

  int64_t k = x->dims[axis], ni = ladle_tensor_numel(ind);
  int64_t *idx = op_scratch(c, 0, sizeof(int64_t) * (size_t)(ni ? ni : 1));
  if (!idx) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for indices");
  for (int64_t i = 0; i < ni; i++)
    if (!index_at(ind, i, k, &idx[i])) return bad_index(c, ind, i, k);

  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, r, dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK; /* otherwise x is not empty either */
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t outer = shape_numel(axis, x->dims), inner = shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
  size_t row = (size_t)inner * esz;
  char *d = y->data;
  const char *s = x->data;
  if (inner == 1 && esz == 4) { /* e.g. picking positions out of a float / int32 vector */
    uint32_t *d4 = y->data;
    const uint32_t *s4 = x->data;
    for (int64_t o = 0; o < outer; o++, s4 += k)
      for (int64_t i = 0; i < ni; i++) *d4++ = s4[idx[i]];
  } else if (inner == 1 && esz == 8) {
    uint64_t *d8 = y->data;
    const uint64_t *s8 = x->data;
    for (int64_t o = 0; o < outer; o++, s8 += k)
      for (int64_t i = 0; i < ni; i++) *d8++ = s8[idx[i]];
  } else if (row > 0) {
    for (int64_t o = 0; o < outer; o++, s += (size_t)k * row)
      for (int64_t i = 0; i < ni; i++, d += row) memcpy(d, s + (size_t)idx[i] * row, row);
  }
  return shape_own_strings(c, y);
}

/* --- GatherElements, ScatterElements ------------------------------------------------------ */

/* Checks the shared shape rules of GatherElements / ScatterElements: indices of x's rank, no
 * larger than x on the other axes. */
static ladle_status elements_check(op_ctx *c, const ladle_tensor *x, const ladle_tensor *ind, int *axis) {
  char a[128], b[128];
  int64_t ax = node_attr_int(op_node(c), "axis", 0);
  if (!shape_axis(ax, x->ndim, axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  bool ok = ind->ndim == x->ndim;
  for (int i = 0; ok && i < x->ndim; i++) ok = i == *axis || ind->dims[i] <= x->dims[i];
  if (!ok)
    return op_fail(c, LADLE_ERR_SHAPE, "indices shape %s does not fit data shape %s",
                   shape_str(ind->ndim, ind->dims, a, sizeof a), shape_str(x->ndim, x->dims, b, sizeof b));
  return LADLE_OK;
}

/* Calls the body for every element of indices with `pos` (its flat position in indices) and
 * `off` (the flat offset in a tensor of x's shape of the element it names). */
#define FOR_ELEMENT_INDEX(ind, xdims, axis, BODY)                                   \
  {                                                                                 \
    int64_t xst_[LADLE_MAX_DIMS], id_[LADLE_MAX_DIMS] = {0}, base_ = 0;             \
    int r_ = (ind)->ndim;                                                           \
    shape_strides(r_, (xdims), xst_);                                               \
    int64_t n_ = ladle_tensor_numel(ind), k_ = (xdims)[axis];                       \
    for (int64_t pos = 0; pos < n_; pos++) {                                        \
      int64_t j_;                                                                   \
      if (!index_at((ind), pos, k_, &j_)) return bad_index(c, (ind), pos, k_);      \
      int64_t off = base_ + j_ * xst_[axis];                                        \
      BODY;                                                                         \
      for (int q_ = r_ - 1; q_ >= 0; q_--) {                                        \
        if (q_ != (axis)) base_ += xst_[q_];                                        \
        if (++id_[q_] < (ind)->dims[q_]) break;                                     \
        if (q_ != (axis)) base_ -= xst_[q_] * (ind)->dims[q_];                      \
        id_[q_] = 0;                                                                \
      }                                                                             \
    }                                                                               \
  }

static ladle_status run_gather_elements(op_ctx *c) {
  const ladle_tensor *x, *ind;
  ladle_tensor *y;
  int axis;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ind)) || (st = need_index_dtype(c, ind)) ||
      (st = elements_check(c, x, ind, &axis)))
    return st;
  if ((st = op_out(c, 0, x->dtype, ind->ndim, ind->dims, &y))) return st;
  size_t esz = ladle_dtype_size(x->dtype);
  char *d = y->data;
  const char *s = x->data;
  if (ladle_tensor_numel(ind) == 0) return LADLE_OK;
  if (ladle_tensor_numel(x) == 0) return op_fail(c, LADLE_ERR_INVALID, "cannot gather from an empty tensor");
  if (esz == 4) {
    FOR_ELEMENT_INDEX(ind, x->dims, axis, ((uint32_t *)d)[pos] = ((const uint32_t *)s)[off]);
  } else {
    FOR_ELEMENT_INDEX(ind, x->dims, axis, memcpy(d + (size_t)pos * esz, s + (size_t)off * esz, esz));
  }
  return shape_own_strings(c, y);
}

/* ScatterElements (opset 11+) and Scatter (9-10): a copy of data with updates written at the
 * positions indices name along axis. */
static ladle_status run_scatter_elements(op_ctx *c) {
  const ladle_tensor *x, *ind, *upd;
  ladle_tensor *y;
  char a[128], b[128];
  int axis;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ind)) || (st = shape_need_input(c, 2, &upd)) ||
      (st = need_index_dtype(c, ind)) || (st = elements_check(c, x, ind, &axis)))
    return st;
  if (upd->dtype != x->dtype || !shape_equal(upd->ndim, upd->dims, ind->ndim, ind->dims))
    return op_fail(c, LADLE_ERR_SHAPE, "updates (%s %s) must match indices' shape %s and data's type %s",
                   ladle_dtype_name(upd->dtype), shape_str(upd->ndim, upd->dims, a, sizeof a),
                   shape_str(ind->ndim, ind->dims, b, sizeof b), ladle_dtype_name(x->dtype));
  int red = reduction_of(node_attr_str(op_node(c), "reduction", "none"));
  if (red < 0 || !reduction_ok(x->dtype, red))
    return op_fail(c, LADLE_ERR_INVALID, "reduction '%s' is not supported for %s",
                   node_attr_str(op_node(c), "reduction", ""), ladle_dtype_name(x->dtype));
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (ladle_tensor_numel(ind) == 0) return LADLE_OK; /* output == data (and empty or copied) */
  if (ladle_tensor_numel(x) == 0) return op_fail(c, LADLE_ERR_INVALID, "cannot scatter into an empty tensor");
  size_t esz = ladle_dtype_size(x->dtype);
  memcpy(y->data, x->data, tensor_nbytes(x));
  char *d = y->data;
  const char *s = upd->data;
  FOR_ELEMENT_INDEX(ind, x->dims, axis,
                    reduce_into(x->dtype, red, d + (size_t)off * esz, s + (size_t)pos * esz, 1, esz));
  return shape_own_strings(c, y);
}

/* --- GatherND, ScatterND ------------------------------------------------------------------ */

/* Offset, in slices of x's trailing shape, of the index tuple at ind[t * k .. t * k + k) within
 * batch `bt`; -1 (with the op failed) when an entry is out of range. */
static int64_t nd_offset(op_ctx *c, const ladle_tensor *x, const ladle_tensor *ind, int bd, int k,
                         int64_t t, int64_t bt) {
  int64_t off = 0;
  for (int j = 0; j < k; j++) {
    int64_t dim = x->dims[bd + j], v;
    if (!index_at(ind, t * k + j, dim, &v)) {
      bad_index(c, ind, t * k + j, dim);
      return -1;
    }
    off = off * dim + v;
  }
  return bt + off;
}

static ladle_status run_gather_nd(op_ctx *c) {
  const ladle_tensor *x, *ind;
  int64_t dims[LADLE_MAX_DIMS];
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ind)) || (st = need_index_dtype(c, ind)))
    return st;
  int64_t bd64 = node_attr_int(op_node(c), "batch_dims", 0);
  int q = ind->ndim, r = x->ndim;
  if (q < 1) return op_fail(c, LADLE_ERR_SHAPE, "indices must have rank >= 1");
  if (bd64 < 0 || bd64 >= q || bd64 >= r)
    return op_fail(c, LADLE_ERR_INVALID, "batch_dims %lld invalid for ranks %d and %d", (long long)bd64, r, q);
  int bd = (int)bd64;
  int64_t k64 = ind->dims[q - 1];
  if (k64 < 1 || k64 > r - bd)
    return op_fail(c, LADLE_ERR_SHAPE, "index tuples of length %lld invalid for data rank %d", (long long)k64, r);
  int k = (int)k64, n = 0;
  for (int i = 0; i < bd; i++)
    if (ind->dims[i] != x->dims[i])
      return op_fail(c, LADLE_ERR_SHAPE, "batch dimension %d differs between data and indices", i);
  if (q - 1 + r - bd - k > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "output rank too large");
  for (int i = 0; i < q - 1; i++) dims[n++] = ind->dims[i];
  for (int i = bd + k; i < r; i++) dims[n++] = x->dims[i];
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, n, dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  if (ladle_tensor_numel(x) == 0) return op_fail(c, LADLE_ERR_INVALID, "cannot gather from an empty tensor");
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t batches = shape_numel(bd, x->dims), per = shape_numel(q - 1 - bd, ind->dims + bd);
  int64_t slice = shape_numel(r - bd - k, x->dims + bd + k), inb = shape_numel(k, x->dims + bd);
  size_t row = (size_t)slice * esz;
  char *d = y->data;
  for (int64_t b = 0; b < batches; b++)
    for (int64_t t = 0; t < per; t++, d += row) {
      int64_t off = nd_offset(c, x, ind, bd, k, b * per + t, b * inb);
      if (off < 0) return LADLE_ERR_INVALID;
      memcpy(d, (const char *)x->data + (size_t)off * row, row);
    }
  return shape_own_strings(c, y);
}

static ladle_status run_scatter_nd(op_ctx *c) {
  const ladle_tensor *x, *ind, *upd;
  int64_t want[LADLE_MAX_DIMS];
  char a[128], b[128];
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ind)) || (st = shape_need_input(c, 2, &upd)) ||
      (st = need_index_dtype(c, ind)))
    return st;
  int q = ind->ndim, r = x->ndim, n = 0;
  if (q < 1) return op_fail(c, LADLE_ERR_SHAPE, "indices must have rank >= 1");
  int64_t k64 = ind->dims[q - 1];
  if (k64 < 1 || k64 > r)
    return op_fail(c, LADLE_ERR_SHAPE, "index tuples of length %lld invalid for data rank %d", (long long)k64, r);
  int k = (int)k64;
  if (q - 1 + r - k > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "updates rank too large");
  for (int i = 0; i < q - 1; i++) want[n++] = ind->dims[i];
  for (int i = k; i < r; i++) want[n++] = x->dims[i];
  if (upd->dtype != x->dtype || !shape_equal(upd->ndim, upd->dims, n, want))
    return op_fail(c, LADLE_ERR_SHAPE, "updates are %s %s, expected %s %s", ladle_dtype_name(upd->dtype),
                   shape_str(upd->ndim, upd->dims, a, sizeof a), ladle_dtype_name(x->dtype),
                   shape_str(n, want, b, sizeof b));
  int red = reduction_of(node_attr_str(op_node(c), "reduction", "none"));
  if (red < 0 || !reduction_ok(x->dtype, red))
    return op_fail(c, LADLE_ERR_INVALID, "reduction '%s' is not supported for %s",
                   node_attr_str(op_node(c), "reduction", ""), ladle_dtype_name(x->dtype));
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, r, x->dims, &y))) return st;
  if (ladle_tensor_numel(x) == 0) return LADLE_OK; /* updates are empty too, or index an empty axis */
  memcpy(y->data, x->data, tensor_nbytes(x));
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t tuples = shape_numel(q - 1, ind->dims), slice = shape_numel(r - k, x->dims + k);
  size_t row = (size_t)slice * esz;
  for (int64_t t = 0; t < tuples; t++) {
    int64_t off = nd_offset(c, x, ind, 0, k, t, 0);
    if (off < 0) return LADLE_ERR_INVALID;
    reduce_into(x->dtype, red, (char *)y->data + (size_t)off * row, (const char *)upd->data + (size_t)t * row,
                slice, esz);
  }
  return shape_own_strings(c, y);
}

/* --- OneHot ------------------------------------------------------------------------------- */

static ladle_status run_onehot(op_ctx *c) {
  const ladle_tensor *ind, *dep, *val;
  int64_t dims[LADLE_MAX_DIMS];
  int axis;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &ind)) || (st = shape_need_input(c, 1, &dep)) || (st = shape_need_input(c, 2, &val)))
    return st;
  if (ind->dtype == LADLE_STRING || dep->dtype == LADLE_STRING || ladle_tensor_numel(dep) != 1)
    return op_fail(c, LADLE_ERR_INVALID, "indices must be numeric and depth one number");
  if (ladle_tensor_numel(val) != 2)
    return op_fail(c, LADLE_ERR_SHAPE, "values must hold two elements [off, on]");
  int64_t depth = tensor_get_i64(dep, 0);
  if (depth < 1) return op_fail(c, LADLE_ERR_INVALID, "depth %lld must be positive", (long long)depth);
  int r = ind->ndim + 1;
  if (r > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, LADLE_MAX_DIMS);
  int64_t ax = node_attr_int(op_node(c), "axis", -1);
  if (!shape_axis(ax, r, &axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for output rank %d", (long long)ax, r);
  for (int i = 0, k = 0; i < r; i++) dims[i] = i == axis ? depth : ind->dims[k++];
  ladle_tensor *y;
  if ((st = op_out(c, 0, val->dtype, r, dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  size_t esz = ladle_dtype_size(val->dtype);
  const char *off = val->data, *on = off + esz;
  shape_fill(y->data, off, ladle_tensor_numel(y), esz);
  int64_t outer = shape_numel(axis, ind->dims), inner = shape_numel(ind->ndim - axis, ind->dims + axis);
  char *d = y->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t v = tensor_get_i64(ind, o * inner + i);
      if (v < 0) v += depth;
      if (v >= 0 && v < depth) memcpy(d + (size_t)((o * depth + v) * inner + i) * esz, on, esz);
    }
  return shape_own_strings(c, y);
}

/* --- NonZero, Compress -------------------------------------------------------------------- */

/* mask[i] = element i of x is not zero (strings: not empty); returns the count. */
static int64_t nonzero_mask(const ladle_tensor *x, uint8_t *mask) {
  typedef const char *cstr; /* one token, so NZ's `const T *` stays valid C */
  int64_t n = ladle_tensor_numel(x), cnt = 0;
#define NZ(T, TEST)                        \
  {                                        \
    const T *p = x->data;                  \
    for (int64_t i = 0; i < n; i++) {      \
      T v = p[i];                          \
      mask[i] = (TEST);                    \
      cnt += mask[i];                      \
    }                                      \
  }
  switch (x->dtype) {
    case LADLE_FLOAT: NZ(float, v != 0.0f) break;
    case LADLE_DOUBLE: NZ(double, v != 0.0) break;
    case LADLE_FLOAT16: case LADLE_BFLOAT16: NZ(uint16_t, (v & 0x7fff) != 0) break;
    case LADLE_STRING: NZ(cstr, v && v[0]) break;
    default:
      switch (ladle_dtype_size(x->dtype)) {
        case 1: NZ(uint8_t, v != 0) break;
        case 2: NZ(uint16_t, v != 0) break;
        case 4: NZ(uint32_t, v != 0) break;
        default: NZ(uint64_t, v != 0) break;
      }
  }
#undef NZ
  return cnt;
}

static ladle_status run_nonzero(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t n = ladle_tensor_numel(x);
  uint8_t *mask = op_scratch(c, 0, (size_t)(n ? n : 1));
  if (!mask) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the mask");
  int64_t cnt = nonzero_mask(x, mask);
  int r = x->ndim ? x->ndim : 1; /* a scalar reads as one element of a vector */
  int64_t dims[2] = {r, cnt}, idx[LADLE_MAX_DIMS] = {0}, at = 0;
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_INT64, 2, dims, &y))) return st;
  int64_t *out = y->data;
  for (int64_t i = 0; i < n; i++) {
    if (mask[i]) {
      for (int d = 0; d < x->ndim; d++) out[d * cnt + at] = idx[d];
      if (x->ndim == 0) out[at] = 0;
      at++;
    }
    for (int d = x->ndim - 1; d >= 0; d--) {
      if (++idx[d] < x->dims[d]) break;
      idx[d] = 0;
    }
  }
  return LADLE_OK;
}

static ladle_status run_compress(op_ctx *c) {
  const ladle_tensor *x, *cond;
  int64_t dims[LADLE_MAX_DIMS];
  int axis = -1, r;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &cond))) return st;
  if (cond->dtype != LADLE_BOOL || cond->ndim != 1)
    return op_fail(c, LADLE_ERR_INVALID, "condition must be a 1-D bool tensor");
  const attr *at = node_attr(op_node(c), "axis");
  if (at && !shape_axis(at->i, x->ndim, &axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)at->i, x->ndim);
  int64_t len = at ? x->dims[axis] : ladle_tensor_numel(x), cl = cond->dims[0], cnt = 0;
  const uint8_t *cv = cond->data;
  for (int64_t i = 0; i < cl; i++) {
    if (!cv[i]) continue;
    if (i >= len)
      return op_fail(c, LADLE_ERR_SHAPE, "condition selects index %lld past the length %lld",
                     (long long)i, (long long)len);
    cnt++;
  }
  if (at) {
    r = x->ndim;
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = cnt;
  } else {
    r = 1;
    dims[0] = cnt;
    axis = 0;
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, r, dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t outer = at ? shape_numel(axis, x->dims) : 1;
  int64_t inner = at ? shape_numel(x->ndim - axis - 1, x->dims + axis + 1) : 1;
  size_t row = (size_t)inner * esz;
  char *d = y->data;
  const char *s = x->data;
  if (cl > len) cl = len;
  for (int64_t o = 0; o < outer; o++, s += (size_t)len * row)
    for (int64_t i = 0; i < cl; i++)
      if (cv[i]) {
        memcpy(d, s + (size_t)i * row, row);
        d += row;
      }
  return shape_own_strings(c, y);
}

const op_def ops_gather[] = {
    {"", "Gather", 1, 99, run_gather, NULL, NULL},
    {"", "GatherElements", 11, 99, run_gather_elements, NULL, NULL},
    {"", "GatherND", 11, 99, run_gather_nd, NULL, NULL},
    {"", "ScatterND", 11, 99, run_scatter_nd, NULL, NULL},
    {"", "ScatterElements", 11, 99, run_scatter_elements, NULL, NULL},
    {"", "Scatter", 9, 10, run_scatter_elements, NULL, NULL},
    {"", "OneHot", 9, 99, run_onehot, NULL, NULL},
    {"", "NonZero", 9, 99, run_nonzero, NULL, NULL},
    {"", "Compress", 9, 99, run_compress, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

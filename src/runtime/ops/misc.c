/* misc.c — the rest: Unique, ReverseSequence, Det, and the random generators (RandomUniform,
 * RandomNormal, RandomUniformLike, RandomNormalLike, Bernoulli).
 *
 * The random ops draw from a splitmix64/xoshiro256** stream. With a `seed` attribute the stream
 * starts from that seed on every run (the same output each time); without one each run starts
 * from a fresh seed (a process-wide counter mixed with the clock). ONNX does not specify the
 * generator, so no implementation's numbers match another's; only shapes and dtypes do. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/ops/shape_common.h"

static ladle_status need(op_ctx *c, int i, const char *what, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d (%s) is required", i, what);
  return LADLE_OK;
}

/* --- Unique --------------------------------------------------------------------------------- */

/* Slices being compared: slice i is the outer × inner elements at (o*n + i)*inner + t. */
typedef struct uniq_view {
  const ladle_tensor *x;
  int64_t n, outer, inner;
} uniq_view;

static int cmp_elem(const ladle_tensor *x, int64_t a, int64_t b) {
  const void *p = x->data;
#define CMPT(T)                                                 \
  {                                                             \
    T va = ((const T *)p)[a], vb = ((const T *)p)[b];           \
    return va < vb ? -1 : va > vb ? 1 : 0;                      \
  }
#define CMPF(va, vb) /* NaN after every number and equal to NaN: a total order */ \
  return isnan(va) ? !isnan(vb) : isnan(vb) ? -1 : (va) < (vb) ? -1 : (va) > (vb)
  switch (x->dtype) {
    case LADLE_FLOAT: {
      float va = ((const float *)p)[a], vb = ((const float *)p)[b];
      CMPF(va, vb);
    }
    case LADLE_DOUBLE: {
      double va = ((const double *)p)[a], vb = ((const double *)p)[b];
      CMPF(va, vb);
    }
    case LADLE_INT8: CMPT(int8_t)
    case LADLE_UINT8: CMPT(uint8_t)
    case LADLE_BOOL: CMPT(uint8_t)
    case LADLE_INT16: CMPT(int16_t)
    case LADLE_UINT16: CMPT(uint16_t)
    case LADLE_INT32: CMPT(int32_t)
    case LADLE_UINT32: CMPT(uint32_t)
    case LADLE_INT64: CMPT(int64_t)
    case LADLE_UINT64: CMPT(uint64_t)
    case LADLE_FLOAT16: {
      float va = half_to_float(((const uint16_t *)p)[a]), vb = half_to_float(((const uint16_t *)p)[b]);
      CMPF(va, vb);
    }
    case LADLE_BFLOAT16: {
      float va = bfloat16_to_float(((const uint16_t *)p)[a]), vb = bfloat16_to_float(((const uint16_t *)p)[b]);
      CMPF(va, vb);
    }
    case LADLE_STRING: {
      const char *sa = ((char *const *)p)[a], *sb = ((char *const *)p)[b];
      int r = strcmp(sa ? sa : "", sb ? sb : "");
      return r < 0 ? -1 : r > 0;
    }
    default: return 0;
  }
#undef CMPT
#undef CMPF
}

static int cmp_slices(const uniq_view *v, int64_t a, int64_t b) {
  for (int64_t o = 0; o < v->outer; o++)
    for (int64_t t = 0; t < v->inner; t++) {
      int r = cmp_elem(v->x, (o * v->n + a) * v->inner + t, (o * v->n + b) * v->inner + t);
      if (r) return r;
    }
  return 0;
}

/* Slice order, ties broken by position so that each run of equal slices starts at the first. */
static int cmp_perm(const void *pa, const void *pb, void *ud) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  int r = cmp_slices(ud, a, b);
  if (r) return r;
  return a < b ? -1 : a > b;
}

/* Groups by their first occurrence. */
static int cmp_first(const void *pa, const void *pb, void *ud) {
  const int64_t *first = ud;
  int64_t a = first[*(const int64_t *)pa], b = first[*(const int64_t *)pb];
  return a < b ? -1 : a > b;
}

static ladle_status run_unique(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = need(c, 0, "X", &x))) return st;
  const node *nd = op_node(c);
  bool sorted = node_attr_int(nd, "sorted", 1) != 0;
  const attr *ax = node_attr(nd, "axis");
  uniq_view v = {x, ladle_tensor_numel(x), 1, 1};
  int axis = -1;
  if (ax) {
    if (!shape_axis(ax->i, x->ndim, &axis))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax->i, x->ndim);
    v.n = x->dims[axis];
    v.outer = shape_numel(axis, x->dims);
    v.inner = shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
  }
  int64_t n = v.n;
  size_t nb = sizeof(int64_t) * (size_t)(n ? n : 1);
  int64_t *perm = op_scratch(c, 0, nb), *grp = op_scratch(c, 1, nb), *first = op_scratch(c, 2, 2 * nb);
  int64_t *count = first ? first + n : NULL, *order = op_scratch(c, 3, 2 * nb);
  int64_t *rank = order ? order + n : NULL;
  if (!perm || !grp || !first || !order) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for Unique");
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  if (v.outer * v.inner > 0) qsort_r(perm, (size_t)n, sizeof *perm, cmp_perm, &v);
  int64_t u = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || (v.outer * v.inner > 0 && cmp_slices(&v, perm[i - 1], perm[i]) != 0)) {
      first[u] = perm[i];
      count[u] = 0;
      u++;
    }
    grp[perm[i]] = u - 1;
    count[u - 1]++;
  }
  for (int64_t g = 0; g < u; g++) order[g] = g;
  if (!sorted) qsort_r(order, (size_t)u, sizeof *order, cmp_first, first);
  for (int64_t k = 0; k < u; k++) rank[order[k]] = k;

  int64_t ydims[LADLE_MAX_DIMS];
  int yn = 1;
  if (axis >= 0) {
    yn = x->ndim;
    memcpy(ydims, x->dims, sizeof(int64_t) * (size_t)yn);
    ydims[axis] = u;
  } else {
    ydims[0] = u;
  }
  ladle_tensor *y, *yi, *yinv, *yc;
  if ((st = op_out(c, 0, x->dtype, yn, ydims, &y)) || (st = op_out(c, 1, LADLE_INT64, 1, &u, &yi)) ||
      (st = op_out(c, 2, LADLE_INT64, 1, &n, &yinv)) || (st = op_out(c, 3, LADLE_INT64, 1, &u, &yc)))
    return st;
  size_t esz = ladle_dtype_size(x->dtype);
  size_t row = (size_t)v.inner * esz;
  for (int64_t k = 0; k < u; k++) {
    int64_t g = order[k], src = first[g];
    ((int64_t *)yi->data)[k] = src;
    ((int64_t *)yc->data)[k] = count[g];
    for (int64_t o = 0; o < v.outer; o++)
      memcpy((char *)y->data + (size_t)(o * u + k) * row, (const char *)x->data + (size_t)(o * n + src) * row, row);
  }
  for (int64_t i = 0; i < n; i++) ((int64_t *)yinv->data)[i] = rank[grp[i]];
  return shape_own_strings(c, y);
}

/* --- ReverseSequence ------------------------------------------------------------------------ */

static ladle_status run_reverse_sequence(op_ctx *c) {
  const ladle_tensor *x, *lens;
  ladle_status st;
  if ((st = need(c, 0, "input", &x)) || (st = need(c, 1, "sequence_lens", &lens))) return st;
  if (x->ndim < 2) return op_fail(c, LADLE_ERR_SHAPE, "input must have rank >= 2, got %d", x->ndim);
  const node *nd = op_node(c);
  int64_t ba = node_attr_int(nd, "batch_axis", 1), ta = node_attr_int(nd, "time_axis", 0);
  if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
    return op_fail(c, LADLE_ERR_INVALID, "batch_axis %lld and time_axis %lld must be 0 and 1 in some order",
                   (long long)ba, (long long)ta);
  if (lens->dtype != LADLE_INT64 || lens->ndim != 1 || lens->dims[0] != x->dims[ba])
    return op_fail(c, LADLE_ERR_SHAPE, "sequence_lens must be an int64 vector of the batch size %lld",
                   (long long)x->dims[ba]);
  int64_t B = x->dims[ba], T = x->dims[ta], inner = shape_numel(x->ndim - 2, x->dims + 2);
  const int64_t *L = lens->data;
  for (int64_t b = 0; b < B; b++)
    if (L[b] < 0 || L[b] > T)
      return op_fail(c, LADLE_ERR_INVALID, "sequence_lens[%lld] = %lld outside [0, %lld]", (long long)b,
                     (long long)L[b], (long long)T);
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  size_t row = (size_t)inner * ladle_dtype_size(x->dtype);
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      int64_t src = t < L[b] ? L[b] - 1 - t : t;
      int64_t di = ba == 0 ? b * T + t : t * B + b, si = ba == 0 ? b * T + src : src * B + b;
      memcpy((char *)y->data + (size_t)di * row, (const char *)x->data + (size_t)si * row, row);
    }
  return shape_own_strings(c, y);
}

/* --- Det ------------------------------------------------------------------------------------ */

/* Determinant of the n×n matrix in a (overwritten) by LU with partial pivoting. */
static double det_lu(double *a, int64_t n) {
  double det = 1.0;
  for (int64_t k = 0; k < n; k++) {
    int64_t p = k;
    for (int64_t i = k + 1; i < n; i++)
      if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
    if (a[p * n + k] == 0.0) return 0.0;
    if (p != k) {
      for (int64_t j = 0; j < n; j++) {
        double t = a[k * n + j];
        a[k * n + j] = a[p * n + j];
        a[p * n + j] = t;
      }
      det = -det;
    }
    double piv = a[k * n + k];
    det *= piv;
    for (int64_t i = k + 1; i < n; i++) {
      double f = a[i * n + k] / piv;
      if (f == 0.0) continue;
      for (int64_t j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return det;
}

static ladle_status run_det(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = need(c, 0, "X", &x))) return st;
  if (!dtype_is_float(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "X must be a float type, got %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 2 || x->dims[x->ndim - 1] != x->dims[x->ndim - 2])
    return op_fail(c, LADLE_ERR_SHAPE, "X must be a batch of square matrices");
  int64_t n = x->dims[x->ndim - 1], batch = shape_numel(x->ndim - 2, x->dims);
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim - 2, x->dims, &y))) return st;
  double *a = op_scratch(c, 0, sizeof(double) * (size_t)(n * n > 0 ? n * n : 1));
  if (!a) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for Det");
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t i = 0; i < n * n; i++) a[i] = tensor_get_f64(x, b * n * n + i);
    tensor_set_f64(y, b, det_lu(a, n));
  }
  return LADLE_OK;
}

/* --- random generators ---------------------------------------------------------------------- */

typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
  uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static double rng_normal(rng *r) { /* Box-Muller */
  double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The seed attribute (a float) when present; otherwise a fresh one per call. */
static void rng_for(const node *nd, rng *r) {
  static _Atomic uint64_t calls;
  const attr *a = node_attr(nd, "seed");
  if (a) {
    double s = a->f;
    uint64_t bits;
    memcpy(&bits, &s, sizeof bits);
    rng_seed(r, bits);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  rng_seed(r, ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ (atomic_fetch_add(&calls, 1) << 40));
}

static bool random_dtype_ok(int dt) {
  return dt == LADLE_FLOAT || dt == LADLE_DOUBLE || dt == LADLE_FLOAT16 || dt == LADLE_BFLOAT16;
}

/* Output shape and dtype of RandomUniform / RandomNormal (attributes) or their *Like forms (the
 * input's shape, dtype attribute or the input's dtype). */
static ladle_status random_out(op_ctx *c, bool like, ladle_tensor **y) {
  const node *nd = op_node(c);
  int64_t dims[LADLE_MAX_DIMS];
  int ndim, dt;
  if (like) {
    const ladle_tensor *x;
    ladle_status st;
    if ((st = need(c, 0, "input", &x))) return st;
    ndim = x->ndim;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)ndim);
    dt = (int)node_attr_int(nd, "dtype", x->dtype);
  } else {
    const int64_t *sh;
    int64_t n = node_attr_ints(nd, "shape", &sh);
    if (n < 0) return op_fail(c, LADLE_ERR_INVALID, "the shape attribute is required");
    if (n > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "rank %lld exceeds %d", (long long)n, LADLE_MAX_DIMS);
    for (int64_t i = 0; i < n; i++) {
      if (sh[i] < 0) return op_fail(c, LADLE_ERR_INVALID, "shape[%lld] = %lld is negative", (long long)i, (long long)sh[i]);
      dims[i] = sh[i];
    }
    ndim = (int)n;
    dt = (int)node_attr_int(nd, "dtype", LADLE_FLOAT);
  }
  if (!random_dtype_ok(dt)) return op_fail(c, LADLE_ERR_DTYPE, "dtype %d is not a float type", dt);
  return op_out(c, 0, dt, ndim, dims, y);
}

static ladle_status run_random(op_ctx *c, bool like, bool normal) {
  ladle_tensor *y;
  ladle_status st;
  if ((st = random_out(c, like, &y))) return st;
  const node *nd = op_node(c);
  rng r;
  rng_for(nd, &r);
  int64_t n = ladle_tensor_numel(y);
  if (normal) {
    double mean = node_attr_float(nd, "mean", 0.0f), scale = node_attr_float(nd, "scale", 1.0f);
    for (int64_t i = 0; i < n; i++) tensor_set_f64(y, i, mean + scale * rng_normal(&r));
  } else {
    double lo = node_attr_float(nd, "low", 0.0f), hi = node_attr_float(nd, "high", 1.0f);
    if (!(hi >= lo)) return op_fail(c, LADLE_ERR_INVALID, "high %g is below low %g", hi, lo);
    for (int64_t i = 0; i < n; i++) tensor_set_f64(y, i, lo + (hi - lo) * rng_unit(&r));
  }
  return LADLE_OK;
}

static ladle_status run_random_uniform(op_ctx *c) { return run_random(c, false, false); }
static ladle_status run_random_normal(op_ctx *c) { return run_random(c, false, true); }
static ladle_status run_random_uniform_like(op_ctx *c) { return run_random(c, true, false); }
static ladle_status run_random_normal_like(op_ctx *c) { return run_random(c, true, true); }

/* y = 1 with probability x (clamped to [0, 1]), in dtype (default: x's). */
static ladle_status run_bernoulli(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = need(c, 0, "input", &x))) return st;
  if (!random_dtype_ok(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "input must be a float type, got %s", ladle_dtype_name(x->dtype));
  const node *nd = op_node(c);
  int dt = (int)node_attr_int(nd, "dtype", x->dtype);
  if (!dtype_valid(dt) || dt == LADLE_STRING || (!dtype_is_float(dt) && !dtype_is_integer(dt) && dt != LADLE_BOOL))
    return op_fail(c, LADLE_ERR_DTYPE, "dtype %d is not a numeric type", dt);
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, x->ndim, x->dims, &y))) return st;
  rng r;
  rng_for(nd, &r);
  int64_t n = ladle_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) tensor_set_f64(y, i, rng_unit(&r) < tensor_get_f64(x, i) ? 1.0 : 0.0);
  return LADLE_OK;
}

const op_def ops_misc[] = {
    {"", "Unique", 11, 99, run_unique, NULL, NULL},
    {"", "ReverseSequence", 10, 99, run_reverse_sequence, NULL, NULL},
    {"", "Det", 11, 99, run_det, NULL, NULL},
    {"", "RandomUniform", 1, 99, run_random_uniform, NULL, NULL},
    {"", "RandomNormal", 1, 99, run_random_normal, NULL, NULL},
    {"", "RandomUniformLike", 1, 99, run_random_uniform_like, NULL, NULL},
    {"", "RandomNormalLike", 1, 99, run_random_normal_like, NULL, NULL},
    {"", "Bernoulli", 15, 99, run_bernoulli, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

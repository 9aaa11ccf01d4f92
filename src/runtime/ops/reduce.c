/* reduce.c — ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax/ArgMin, TopK.
 *
 * A reduction first drops the size-1 dims and merges neighbouring dims that are both kept or
 * both reduced, so [N,C,H,W] over (H,W) becomes [K=N*C, R=H*W]. float32 then has two fast
 * paths: contiguous rows ([R] or [K,R]: vector lanes per row) and column sweeps ([R,K] or
 * [K,R,K]: the kept inner dim is the vector dim). Every other layout and dtype goes through the
 * generic walk, which accumulates floats in double and integers in (wrapping) int64.
 *
 * Axes: an attribute up to opset 12 (ReduceSum) or 17 (the others), then an optional int64
 * input with noop_with_empty_axes. Reducing an empty set gives the op's identity (0 for the
 * sums, 1 for Prod, -inf/+inf or the type's min/max for Max/Min, -inf for the logs, NaN for
 * the float Mean). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/op.h"
#include "runtime/ops/reduce_common.h"

typedef enum {
  RK_SUM,
  RK_MEAN,
  RK_MAX,
  RK_MIN,
  RK_PROD,
  RK_L1,
  RK_L2,
  RK_LOGSUM,
  RK_LOGSUMEXP,
  RK_SUMSQ,
} rkind;

#define COL_BLOCK 256 /* columns per task in the column sweep (stack accumulators) */

/* The canonical layout: m dims, each kept or reduced, contiguous in the input. */
typedef struct rlayout {
  int m;
  int64_t d[LADLE_MAX_DIMS];
  bool red[LADLE_MAX_DIMS];
  /* split into kept and reduced dims with their input strides */
  int nk, nr;
  int64_t kd[LADLE_MAX_DIMS], ks[LADLE_MAX_DIMS], rd[LADLE_MAX_DIMS], rs[LADLE_MAX_DIMS];
} rlayout;

static bool reduce_dtype_ok(int dt) {
  return dtype_valid(dt) && dt != LADLE_STRING && dt != LADLE_BOOL && dt != LADLE_UNDEFINED;
}

/* --- storing results ------------------------------------------------------------------------ */

static void store_int(ladle_tensor *y, int64_t i, int64_t v) {
  void *p = y->data;
  switch (y->dtype) {
    case LADLE_INT64: ((int64_t *)p)[i] = v; break;
    case LADLE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case LADLE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case LADLE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case LADLE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case LADLE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case LADLE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case LADLE_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
  }
}

/* A double result for an integer output: NaN becomes 0, out-of-range values saturate. */
static int64_t sat_i64(double v) {
  if (!(v == v)) return 0;
  if (v >= 9.2e18) return INT64_MAX;
  if (v <= -9.2e18) return INT64_MIN;
  return (int64_t)v;
}

static void int_range(int dt, int64_t *lo, int64_t *hi) {
  switch (dt) {
    case LADLE_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case LADLE_INT16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case LADLE_INT8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case LADLE_UINT8: *lo = 0, *hi = UINT8_MAX; break;
    case LADLE_UINT16: *lo = 0, *hi = UINT16_MAX; break;
    case LADLE_UINT32: *lo = 0, *hi = UINT32_MAX; break;
    case LADLE_UINT64: *lo = 0, *hi = -1; break; /* all ones once stored */
    default: *lo = INT64_MIN, *hi = INT64_MAX; break;
  }
}

/* Fills y with the reduction of an empty set. */
static void fill_empty(ladle_tensor *y, rkind k, int64_t n) {
  if (dtype_is_float(y->dtype)) {
    double v = 0;
    switch (k) {
      case RK_MEAN: v = NAN; break;
      case RK_MAX: case RK_LOGSUM: case RK_LOGSUMEXP: v = -INFINITY; break;
      case RK_MIN: v = INFINITY; break;
      case RK_PROD: v = 1; break;
      default: v = 0; break;
    }
    for (int64_t i = 0; i < n; i++) tensor_set_f64(y, i, v);
    return;
  }
  int64_t lo, hi, v = 0;
  int_range(y->dtype, &lo, &hi);
  switch (k) {
    case RK_MAX: case RK_LOGSUM: case RK_LOGSUMEXP: v = lo; break;
    case RK_MIN: v = hi; break;
    case RK_PROD: v = 1; break;
    default: v = 0; break;
  }
  for (int64_t i = 0; i < n; i++) store_int(y, i, v);
}

/* --- generic walk --------------------------------------------------------------------------- */

/* Runs BODY with `off` set to the input offset of every element reduced into the output element
 * whose first input element is at `base`. */
#define FOR_REDUCED(L, base, off, BODY)                                                   \
  do {                                                                                    \
    int64_t ri_[LADLE_MAX_DIMS] = {0}, ob_ = (base);                                      \
    int nr_ = (L)->nr;                                                                    \
    int64_t len_ = nr_ ? (L)->rd[nr_ - 1] : 1, st_ = nr_ ? (L)->rs[nr_ - 1] : 0;          \
    for (;;) {                                                                            \
      for (int64_t t_ = 0; t_ < len_; t_++) {                                             \
        int64_t off = ob_ + t_ * st_;                                                     \
        BODY;                                                                             \
      }                                                                                   \
      int d_ = nr_ - 2;                                                                   \
      for (; d_ >= 0; d_--) {                                                             \
        ob_ += (L)->rs[d_];                                                               \
        if (++ri_[d_] < (L)->rd[d_]) break;                                               \
        ob_ -= (L)->rs[d_] * (L)->rd[d_];                                                 \
        ri_[d_] = 0;                                                                      \
      }                                                                                   \
      if (d_ < 0) break;                                                                  \
    }                                                                                     \
  } while (0)

static double reduce_at_f64(const ladle_tensor *x, const rlayout *L, int64_t base, rkind k,
                            int64_t count) {
  double acc = 0, mx = -INFINITY;
  switch (k) {
    case RK_MAX: acc = -INFINITY; break;
    case RK_MIN: acc = INFINITY; break;
    case RK_PROD: acc = 1; break;
    default: break;
  }
  if (k == RK_LOGSUMEXP) {
    FOR_REDUCED(L, base, off, {
      double v = tensor_get_f64(x, off);
      if (v > mx || v != v) mx = v;
    });
    if (isinf(mx) || mx != mx) return mx;
  }
  FOR_REDUCED(L, base, off, {
    double v = tensor_get_f64(x, off);
    switch (k) {
      case RK_SUM: case RK_MEAN: case RK_LOGSUM: acc += v; break;
      case RK_MAX: if (v > acc || v != v) acc = v; break;
      case RK_MIN: if (v < acc || v != v) acc = v; break;
      case RK_PROD: acc *= v; break;
      case RK_L1: acc += fabs(v); break;
      case RK_L2: case RK_SUMSQ: acc += v * v; break;
      case RK_LOGSUMEXP: acc += exp(v - mx); break;
    }
  });
  switch (k) {
    case RK_MEAN: return acc / (double)count;
    case RK_L2: return sqrt(acc);
    case RK_LOGSUM: return log(acc);
    case RK_LOGSUMEXP: return mx + log(acc);
    default: return acc;
  }
}

/* Integer reductions in wrapping 64-bit arithmetic (the output type wraps the same way). */
static int64_t reduce_at_i64(const ladle_tensor *x, const rlayout *L, int64_t base, rkind k,
                             int64_t count) {
  uint64_t acc = k == RK_PROD ? 1 : 0;
  int64_t best = 0;
  bool first = true;
  FOR_REDUCED(L, base, off, {
    int64_t v = tensor_get_i64(x, off);
    switch (k) {
      case RK_MAX: if (first || v > best) best = v; break;
      case RK_MIN: if (first || v < best) best = v; break;
      case RK_PROD: acc *= (uint64_t)v; break;
      case RK_L1: acc += v < 0 ? 0 - (uint64_t)v : (uint64_t)v; break;
      case RK_SUMSQ: acc += (uint64_t)v * (uint64_t)v; break;
      default: acc += (uint64_t)v; break;
    }
    first = false;
  });
  if (k == RK_MAX || k == RK_MIN) return best;
  if (k == RK_MEAN) return (int64_t)acc / count; /* count >= 1 */
  return (int64_t)acc;
}

static void reduce_generic(const ladle_tensor *x, ladle_tensor *y, const rlayout *L, rkind k,
                           int64_t outn, int64_t count) {
  bool is_float = dtype_is_float(x->dtype);
  bool via_f64 = is_float || k == RK_L2 || k == RK_LOGSUM || k == RK_LOGSUMEXP;
  int64_t ki[LADLE_MAX_DIMS] = {0}, base = 0;
  for (int64_t o = 0; o < outn; o++) {
    if (!via_f64)
      store_int(y, o, reduce_at_i64(x, L, base, k, count));
    else if (is_float)
      tensor_set_f64(y, o, reduce_at_f64(x, L, base, k, count));
    else
      store_int(y, o, sat_i64(reduce_at_f64(x, L, base, k, count)));
    for (int d = L->nk - 1; d >= 0; d--) {
      base += L->ks[d];
      if (++ki[d] < L->kd[d]) break;
      base -= L->ks[d] * L->kd[d];
      ki[d] = 0;
    }
  }
}

/* --- float32 fast paths --------------------------------------------------------------------- */

static float row_reduce_f32(rkind k, const float *x, int64_t n) {
  switch (k) {
    case RK_SUM: return (float)rc_sum_f32(x, n);
    case RK_MEAN: return (float)(rc_sum_f32(x, n) / (double)n);
    case RK_MAX: return rc_max_f32(x, n);
    case RK_MIN: return rc_min_f32(x, n);
    case RK_L1: return (float)rc_sum_abs_f32(x, n);
    case RK_L2: return (float)sqrt(rc_sum_sqdev_f32(x, n, 0.0f));
    case RK_SUMSQ: return (float)rc_sum_sqdev_f32(x, n, 0.0f);
    case RK_LOGSUM: return (float)log(rc_sum_f32(x, n));
    case RK_LOGSUMEXP: {
      float m = rc_max_f32(x, n);
      if (isinf(m) || m != m) return m;
      return (float)((double)m + log(rc_sum_exp_f32(x, n, m)));
    }
    case RK_PROD: {
      double p = 1;
      for (int64_t i = 0; i < n; i++) p *= x[i];
      return (float)p;
    }
  }
  return 0;
}

typedef struct fjob {
  rkind k;
  const float *x;
  float *y;
  int64_t k0, r, k1; /* rows: k0 rows of r; columns: [k0, r, k1] */
  int64_t nblocks;   /* columns: column blocks per k0 */
} fjob;

static void rows_f32(void *arg, int64_t r0, int64_t r1) {
  const fjob *j = arg;
  for (int64_t r = r0; r < r1; r++) j->y[r] = row_reduce_f32(j->k, j->x + r * j->r, j->r);
}

/* One task of the column sweep: output columns [c0, c0+w) of outer index o. */
static void cols_block_f32(const fjob *j, int64_t o, int64_t c0, int64_t w) {
  const float *x = j->x + o * j->r * j->k1 + c0;
  float *y = j->y + o * j->k1 + c0;
  int64_t R = j->r, K = j->k1;
  double acc[COL_BLOCK];
  float mx[COL_BLOCK];
  if (j->k == RK_MAX || j->k == RK_MIN || j->k == RK_LOGSUMEXP) {
    for (int64_t c = 0; c < w; c++) mx[c] = x[c];
    for (int64_t r = 1; r < R; r++) {
      const float *xr = x + r * K;
      if (j->k == RK_MIN)
        for (int64_t c = 0; c < w; c++) mx[c] = xr[c] < mx[c] ? xr[c] : mx[c];
      else
        for (int64_t c = 0; c < w; c++) mx[c] = xr[c] > mx[c] ? xr[c] : mx[c];
    }
    if (j->k != RK_LOGSUMEXP) {
      memcpy(y, mx, sizeof(float) * (size_t)w);
      return;
    }
  }
  double init = j->k == RK_PROD ? 1.0 : 0.0;
  for (int64_t c = 0; c < w; c++) acc[c] = init;
  for (int64_t r = 0; r < R; r++) {
    const float *xr = x + r * K;
    switch (j->k) {
      case RK_L1:
        for (int64_t c = 0; c < w; c++) acc[c] += fabsf(xr[c]);
        break;
      case RK_L2: case RK_SUMSQ:
        for (int64_t c = 0; c < w; c++) acc[c] += (double)xr[c] * xr[c];
        break;
      case RK_PROD:
        for (int64_t c = 0; c < w; c++) acc[c] *= xr[c];
        break;
      case RK_LOGSUMEXP:
        for (int64_t c = 0; c < w; c++) acc[c] += rc_expf(xr[c] - mx[c]);
        break;
      default:
        for (int64_t c = 0; c < w; c++) acc[c] += xr[c];
        break;
    }
  }
  for (int64_t c = 0; c < w; c++) {
    double v = acc[c];
    switch (j->k) {
      case RK_MEAN: v /= (double)R; break;
      case RK_L2: v = sqrt(v); break;
      case RK_LOGSUM: v = log(v); break;
      case RK_LOGSUMEXP: v = isinf(mx[c]) || mx[c] != mx[c] ? mx[c] : mx[c] + log(v); break;
      default: break;
    }
    y[c] = (float)v;
  }
}

static void cols_f32(void *arg, int64_t t0, int64_t t1) {
  const fjob *j = arg;
  for (int64_t t = t0; t < t1; t++) {
    int64_t o = t / j->nblocks, c0 = t % j->nblocks * COL_BLOCK;
    int64_t w = j->k1 - c0 < COL_BLOCK ? j->k1 - c0 : COL_BLOCK;
    cols_block_f32(j, o, c0, w);
  }
}

/* Runs a float32 fast path when the layout has one; false otherwise. */
static bool reduce_fast_f32(op_ctx *c, const ladle_tensor *x, ladle_tensor *y, const rlayout *L,
                            rkind k) {
  fjob j = {k, x->data, y->data, 1, 1, 1, 1};
  const int64_t *d = L->d;
  const bool *red = L->red;
  if (L->m == 0 || (L->m == 1 && !red[0])) { /* nothing left to reduce: one element each */
    j.k0 = L->m ? d[0] : 1;
    rc_parallel(c, j.k0, 1, rows_f32, &j);
    return true;
  }
  if ((L->m == 1 && red[0]) || (L->m == 2 && !red[0] && red[1])) {
    j.k0 = L->m == 2 ? d[0] : 1;
    j.r = d[L->m - 1];
    rc_parallel(c, j.k0, j.r, rows_f32, &j);
    return true;
  }
  if ((L->m == 2 && red[0] && !red[1]) || (L->m == 3 && !red[0] && red[1] && !red[2])) {
    j.k0 = L->m == 3 ? d[0] : 1;
    j.r = d[L->m - 2];
    j.k1 = d[L->m - 1];
    j.nblocks = (j.k1 + COL_BLOCK - 1) / COL_BLOCK;
    rc_parallel(c, j.k0 * j.nblocks, j.r * (j.k1 < COL_BLOCK ? j.k1 : COL_BLOCK), cols_f32, &j);
    return true;
  }
  return false;
}

/* --- the op --------------------------------------------------------------------------------- */

/* Marks red[] from the axes attribute or input; an empty list means all axes, or none with
 * noop_with_empty_axes (input form only). */
static ladle_status reduce_axes(op_ctx *c, int rank, bool from_input, bool *red) {
  const node *n = op_node(c);
  int64_t na = 0;
  const int64_t *av = NULL;
  const ladle_tensor *at = NULL;
  if (from_input) {
    at = op_in(c, 1);
    if (at) {
      if (!dtype_is_integer(at->dtype) || at->ndim > 1)
        return op_fail(c, LADLE_ERR_INVALID, "axes must be a 1-D integer tensor");
      na = ladle_tensor_numel(at);
    }
  } else {
    na = node_attr_ints(n, "axes", &av);
    if (na < 0) na = 0;
  }
  for (int i = 0; i < rank; i++) red[i] = false;
  if (na == 0) {
    bool noop = from_input && node_attr_int(n, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < rank; i++) red[i] = !noop;
    return LADLE_OK;
  }
  for (int64_t i = 0; i < na; i++) {
    int64_t a = at ? tensor_get_i64(at, i) : av[i];
    int ax;
    if (!rc_axis(a, rank, false, &ax))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)a,
                     rank);
    if (red[ax]) return op_fail(c, LADLE_ERR_INVALID, "axis %lld repeated", (long long)a);
    red[ax] = true;
  }
  return LADLE_OK;
}

/* Splits the canonical dims into kept and reduced lists, outermost first, with input strides. */
static void layout_split(rlayout *L) {
  int64_t st[LADLE_MAX_DIMS], s = 1;
  for (int i = L->m - 1; i >= 0; i--) {
    st[i] = s;
    s *= L->d[i];
  }
  for (int i = 0; i < L->m; i++) {
    if (L->red[i]) {
      L->rd[L->nr] = L->d[i];
      L->rs[L->nr++] = st[i];
    } else {
      L->kd[L->nk] = L->d[i];
      L->ks[L->nk++] = st[i];
    }
  }
}

static ladle_status reduce_run(op_ctx *c, rkind k, bool axes_input) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  bool red[LADLE_MAX_DIMS];
  int64_t odims[LADLE_MAX_DIMS];
  rlayout L = {0};
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'data'");
  if (!reduce_dtype_ok(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  int r = x->ndim;
  if ((st = reduce_axes(c, r, axes_input, red))) return st;
  bool keep = node_attr_int(op_node(c), "keepdims", 1) != 0;
  int on = 0;
  int64_t count = 1;
  for (int i = 0; i < r; i++) {
    if (red[i]) count *= x->dims[i];
    if (!red[i]) odims[on++] = x->dims[i];
    else if (keep) odims[on++] = 1;
  }
  if ((st = op_out(c, 0, x->dtype, on, odims, &y))) return st;
  int64_t outn = shape_numel(on, odims);
  if (outn == 0) return LADLE_OK;
  if (count == 0) {
    fill_empty(y, k, outn);
    return LADLE_OK;
  }
  for (int i = 0; i < r; i++) {
    if (x->dims[i] == 1) continue;
    if (L.m > 0 && L.red[L.m - 1] == red[i]) {
      L.d[L.m - 1] *= x->dims[i];
    } else {
      L.d[L.m] = x->dims[i];
      L.red[L.m++] = red[i];
    }
  }
  if (x->dtype == LADLE_FLOAT && reduce_fast_f32(c, x, y, &L, k)) return LADLE_OK;
  layout_split(&L);
  reduce_generic(x, y, &L, k, outn, count);
  return LADLE_OK;
}

#define REDUCE_RUNNERS(name, kind)                                                     \
  static ladle_status run_##name##_attr(op_ctx *c) { return reduce_run(c, kind, false); } \
  static ladle_status run_##name##_input(op_ctx *c) { return reduce_run(c, kind, true); }

REDUCE_RUNNERS(sum, RK_SUM)
REDUCE_RUNNERS(mean, RK_MEAN)
REDUCE_RUNNERS(max, RK_MAX)
REDUCE_RUNNERS(min, RK_MIN)
REDUCE_RUNNERS(prod, RK_PROD)
REDUCE_RUNNERS(l1, RK_L1)
REDUCE_RUNNERS(l2, RK_L2)
REDUCE_RUNNERS(logsum, RK_LOGSUM)
REDUCE_RUNNERS(logsumexp, RK_LOGSUMEXP)
REDUCE_RUNNERS(sumsq, RK_SUMSQ)

/* --- ArgMax / ArgMin ------------------------------------------------------------------------ */

/* y[o*inner + j] = index along the middle axis of the best x[o, i, j]. Ties keep the first index,
 * or the last with select_last_index; a NaN wins over every number (numpy's argmax). */
#define ARG_IMPL(suffix, T, LOAD)                                                          \
  static void arg_##suffix(const void *xv, int64_t *y, int64_t outer, int64_t n,          \
                           int64_t inner, bool is_max, bool last) {                       \
    const T *x = xv;                                                                      \
    for (int64_t o = 0; o < outer; o++)                                                   \
      for (int64_t jj = 0; jj < inner; jj++) {                                            \
        const T *p = x + o * n * inner + jj;                                              \
        double best = (double)LOAD(p, 0);                                                 \
        int64_t bi = 0;                                                                   \
        bool nan = best != best;                                                          \
        for (int64_t i = 1; i < n && !nan; i++) {                                         \
          double v = (double)LOAD(p, i * inner);                                          \
          bool better = is_max ? (last ? v >= best : v > best)                            \
                               : (last ? v <= best : v < best);                           \
          if (v != v) nan = true;                                                         \
          if (better || v != v) best = v, bi = i;                                         \
        }                                                                                 \
        y[o * inner + jj] = bi;                                                           \
      }                                                                                   \
  }

#define LOAD_PLAIN(p, i) ((p)[i])
#define LOAD_HALF(p, i) half_to_float((p)[i])
#define LOAD_BF16(p, i) bfloat16_to_float((p)[i])
ARG_IMPL(f32, float, LOAD_PLAIN)
ARG_IMPL(f64, double, LOAD_PLAIN)
ARG_IMPL(f16, uint16_t, LOAD_HALF)
ARG_IMPL(bf16, uint16_t, LOAD_BF16)
ARG_IMPL(i8, int8_t, LOAD_PLAIN)
ARG_IMPL(u8, uint8_t, LOAD_PLAIN)
ARG_IMPL(i16, int16_t, LOAD_PLAIN)
ARG_IMPL(u16, uint16_t, LOAD_PLAIN)
ARG_IMPL(i32, int32_t, LOAD_PLAIN)
ARG_IMPL(u32, uint32_t, LOAD_PLAIN)

/* 64-bit integers compare exactly, not through double. */
#define ARG_IMPL_INT(suffix, T)                                                            \
  static void arg_##suffix(const void *xv, int64_t *y, int64_t outer, int64_t n,          \
                           int64_t inner, bool is_max, bool last) {                       \
    const T *x = xv;                                                                      \
    for (int64_t o = 0; o < outer; o++)                                                   \
      for (int64_t jj = 0; jj < inner; jj++) {                                            \
        const T *p = x + o * n * inner + jj;                                              \
        T best = p[0];                                                                    \
        int64_t bi = 0;                                                                   \
        for (int64_t i = 1; i < n; i++) {                                                 \
          T v = p[i * inner];                                                             \
          bool better = is_max ? (last ? v >= best : v > best)                            \
                               : (last ? v <= best : v < best);                           \
          if (better) best = v, bi = i;                                                   \
        }                                                                                 \
        y[o * inner + jj] = bi;                                                           \
      }                                                                                   \
  }
ARG_IMPL_INT(i64, int64_t)
ARG_IMPL_INT(u64, uint64_t)

static ladle_status arg_run(op_ctx *c, bool is_max) {
  const ladle_tensor *x = op_in(c, 0);
  const node *nd = op_node(c);
  ladle_tensor *y = NULL;
  int64_t odims[LADLE_MAX_DIMS];
  ladle_status st;
  int ax;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'data'");
  int r = x->ndim;
  int64_t axis = node_attr_int(nd, "axis", 0);
  if (r == 0 || !rc_axis(axis, r, false, &ax))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, r);
  bool keep = node_attr_int(nd, "keepdims", 1) != 0;
  bool last = node_attr_int(nd, "select_last_index", 0) != 0;
  void (*fn)(const void *, int64_t *, int64_t, int64_t, int64_t, bool, bool) = NULL;
  switch (x->dtype) {
    case LADLE_FLOAT: fn = arg_f32; break;
    case LADLE_DOUBLE: fn = arg_f64; break;
    case LADLE_FLOAT16: fn = arg_f16; break;
    case LADLE_BFLOAT16: fn = arg_bf16; break;
    case LADLE_INT8: fn = arg_i8; break;
    case LADLE_UINT8: fn = arg_u8; break;
    case LADLE_INT16: fn = arg_i16; break;
    case LADLE_UINT16: fn = arg_u16; break;
    case LADLE_INT32: fn = arg_i32; break;
    case LADLE_UINT32: fn = arg_u32; break;
    case LADLE_INT64: fn = arg_i64; break;
    case LADLE_UINT64: fn = arg_u64; break;
    default:
      return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  }
  int on = 0;
  for (int i = 0; i < r; i++) {
    if (i != ax) odims[on++] = x->dims[i];
    else if (keep) odims[on++] = 1;
  }
  int64_t outer = rc_span(x->dims, 0, ax), n = x->dims[ax], inner = rc_span(x->dims, ax + 1, r);
  if (n == 0 && outer * inner > 0)
    return op_fail(c, LADLE_ERR_SHAPE, "cannot take the %s of an empty axis",
                   is_max ? "ArgMax" : "ArgMin");
  if ((st = op_out(c, 0, LADLE_INT64, on, odims, &y))) return st;
  fn(x->data, y->data, outer, n, inner, is_max, last);
  return LADLE_OK;
}

static ladle_status run_argmax(op_ctx *c) { return arg_run(c, true); }
static ladle_status run_argmin(op_ctx *c) { return arg_run(c, false); }

/* --- TopK ----------------------------------------------------------------------------------- */

/* The slice being ranked: keys as double (exact for every type but 64-bit integers) or int64. */
typedef struct tk_keys {
  const double *kd;
  const int64_t *ki;
  bool largest;
} tk_keys;

/* Whether element a ranks before element b: the larger (smaller) value first, a NaN above every
 * number, equal values by index. A strict total order, so any order of comparisons agrees. */
static bool tk_before(const tk_keys *t, int64_t a, int64_t b) {
  int cmp;
  if (t->kd) {
    double x = t->kd[a], y = t->kd[b];
    bool xn = x != x, yn = y != y;
    if (xn || yn) cmp = xn && yn ? 0 : (xn ? 1 : -1);
    else cmp = x > y ? 1 : (x < y ? -1 : 0);
  } else {
    int64_t x = t->ki[a], y = t->ki[b];
    cmp = x > y ? 1 : (x < y ? -1 : 0);
  }
  if (!t->largest) cmp = -cmp;
  return cmp > 0 || (cmp == 0 && a < b);
}

/* Heap of k candidates with the one ranked last on top. */
static void tk_sift(const tk_keys *t, int64_t *h, int64_t k, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < k && tk_before(t, h[w], h[l])) w = l;
    if (r < k && tk_before(t, h[w], h[r])) w = r;
    if (w == i) return;
    int64_t tmp = h[i];
    h[i] = h[w];
    h[w] = tmp;
    i = w;
  }
}

/* h[0..k) = the indices of the k best of n, best first. */
static void tk_select(const tk_keys *t, int64_t *h, int64_t n, int64_t k) {
  for (int64_t i = 0; i < k; i++) h[i] = i;
  for (int64_t i = k / 2 - 1; i >= 0; i--) tk_sift(t, h, k, i);
  for (int64_t i = k; i < n; i++) {
    if (tk_before(t, i, h[0])) {
      h[0] = i;
      tk_sift(t, h, k, 0);
    }
  }
  for (int64_t end = k - 1; end > 0; end--) {
    int64_t tmp = h[0];
    h[0] = h[end];
    h[end] = tmp;
    tk_sift(t, h, end, 0);
  }
}

static ladle_status topk_run(op_ctx *c, int version) {
  const ladle_tensor *x = op_in(c, 0);
  const node *nd = op_node(c);
  ladle_tensor *yv = NULL, *yi = NULL;
  int64_t odims[LADLE_MAX_DIMS];
  ladle_status st;
  int ax;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'X'");
  if (op_n_out(c) < 2) return op_fail(c, LADLE_ERR_INVALID, "TopK has outputs Values and Indices");
  if (!reduce_dtype_ok(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  int r = x->ndim;
  int64_t axis = node_attr_int(nd, "axis", -1), k;
  if (r == 0 || !rc_axis(axis, r, false, &ax))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, r);
  if (version < 10) {
    if (!node_attr(nd, "k")) return op_fail(c, LADLE_ERR_INVALID, "attribute 'k' is required");
    k = node_attr_int(nd, "k", 0);
  } else {
    const ladle_tensor *kt = op_in(c, 1);
    if (!kt || !dtype_is_integer(kt->dtype) || ladle_tensor_numel(kt) != 1 || kt->ndim > 1)
      return op_fail(c, LADLE_ERR_INVALID, "input 'K' must be a 1-element integer tensor");
    k = tensor_get_i64(kt, 0);
  }
  bool largest = version < 11 || node_attr_int(nd, "largest", 1) != 0;
  int64_t n = x->dims[ax];
  if (k < 0 || k > n)
    return op_fail(c, LADLE_ERR_INVALID, "k = %lld outside [0, %lld] for axis %d", (long long)k,
                   (long long)n, ax);
  memcpy(odims, x->dims, sizeof(int64_t) * (size_t)r);
  odims[ax] = k;
  if ((st = op_out(c, 0, x->dtype, r, odims, &yv))) return st;
  if ((st = op_out(c, 1, LADLE_INT64, r, odims, &yi))) return st;
  int64_t outer = rc_span(x->dims, 0, ax), inner = rc_span(x->dims, ax + 1, r);
  if (k == 0 || outer * inner == 0) return LADLE_OK;
  bool wide = x->dtype == LADLE_INT64 || x->dtype == LADLE_UINT64;
  int64_t *heap = op_scratch(c, 0, sizeof(int64_t) * (size_t)k);
  void *keys = op_scratch(c, 1, 8 * (size_t)n);
  if (!heap || !keys) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for TopK scratch");
  tk_keys t = {wide ? NULL : keys, wide ? keys : NULL, largest};
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t *idx = yi->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * n * inner + j;
      for (int64_t i = 0; i < n; i++) {
        if (wide) ((int64_t *)keys)[i] = tensor_get_i64(x, base + i * inner);
        else ((double *)keys)[i] = tensor_get_f64(x, base + i * inner);
      }
      tk_select(&t, heap, n, k);
      for (int64_t i = 0; i < k; i++) {
        int64_t out = o * k * inner + i * inner + j;
        idx[out] = heap[i];
        memcpy((char *)yv->data + (size_t)out * esz,
               (const char *)x->data + (size_t)(base + heap[i] * inner) * esz, esz);
      }
    }
  return LADLE_OK;
}

static ladle_status run_topk_v1(op_ctx *c) { return topk_run(c, 1); }
static ladle_status run_topk_v10(op_ctx *c) { return topk_run(c, 10); }
static ladle_status run_topk_v11(op_ctx *c) { return topk_run(c, 11); }

#define REDUCE_ROWS(op, name, last_attr)                                  \
  {"", op, 1, last_attr, run_##name##_attr, NULL, NULL},                  \
  {"", op, last_attr + 1, 99, run_##name##_input, NULL, NULL}

const op_def ops_reduce[] = {
    REDUCE_ROWS("ReduceSum", sum, 12),
    REDUCE_ROWS("ReduceMean", mean, 17),
    REDUCE_ROWS("ReduceMax", max, 17),
    REDUCE_ROWS("ReduceMin", min, 17),
    REDUCE_ROWS("ReduceProd", prod, 17),
    REDUCE_ROWS("ReduceL1", l1, 17),
    REDUCE_ROWS("ReduceL2", l2, 17),
    REDUCE_ROWS("ReduceLogSum", logsum, 17),
    REDUCE_ROWS("ReduceLogSumExp", logsumexp, 17),
    REDUCE_ROWS("ReduceSumSquare", sumsq, 17),
    {"", "ArgMax", 1, 99, run_argmax, NULL, NULL},
    {"", "ArgMin", 1, 99, run_argmin, NULL, NULL},
    {"", "TopK", 1, 9, run_topk_v1, NULL, NULL},
    {"", "TopK", 10, 10, run_topk_v10, NULL, NULL},
    {"", "TopK", 11, 99, run_topk_v11, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

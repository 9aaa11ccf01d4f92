/* norm.c — BatchNormalization, LayerNormalization, InstanceNormalization, LpNormalization,
 * MeanVarianceNormalization, LRN.
 *
 * The hot ones (BatchNormalization per channel, LayerNormalization and InstanceNormalization per
 * contiguous row) have float32 loops the compiler vectorises and split rows over the pool for
 * large tensors; their other float types, and the three cold ops for every type, compute in
 * double through scratch copies of the data. Statistics are population statistics (divide by
 * the count) and, for float32 rows, come from two passes: mean, then squared deviations. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/op.h"
#include "runtime/ops/reduce_common.h"

static bool is_float_type(int dt) {
  return dt == LADLE_FLOAT || dt == LADLE_DOUBLE || dt == LADLE_FLOAT16 || dt == LADLE_BFLOAT16;
}

/* Copies t (any float type) into a double scratch slot; NULL on allocation failure. */
static double *load_f64(op_ctx *c, int slot, const ladle_tensor *t, int64_t n) {
  double *d = op_scratch(c, slot, sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!d) return NULL;
  if (t->dtype == LADLE_DOUBLE) memcpy(d, t->data, sizeof(double) * (size_t)n);
  else if (t->dtype == LADLE_FLOAT)
    for (int64_t i = 0; i < n; i++) d[i] = ((const float *)t->data)[i];
  else
    for (int64_t i = 0; i < n; i++) d[i] = tensor_get_f64(t, i);
  return d;
}

static void store_f64(ladle_tensor *t, const double *d, int64_t n) {
  if (t->dtype == LADLE_DOUBLE) memcpy(t->data, d, sizeof(double) * (size_t)n);
  else if (t->dtype == LADLE_FLOAT)
    for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] = (float)d[i];
  else
    for (int64_t i = 0; i < n; i++) tensor_set_f64(t, i, d[i]);
}

/* Normalises one contiguous float row: y = (x - mean) * inv * s + b, with s/b per element when
 * given, else the scalars s0/b0. Returns mean and inv through the pointers. */
static void norm_row_f32(const float *x, float *y, int64_t n, float eps, const float *s,
                         const float *b, float s0, float b0, float *mean_out, float *inv_out) {
  float mean = (float)(rc_sum_f32(x, n) / (double)n);
  double var = rc_sum_sqdev_f32(x, n, mean) / (double)n;
  float inv = (float)(1.0 / sqrt(var + eps));
  if (s && b)
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * s[i] + b[i];
  else if (s)
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * s[i];
  else {
    float a = inv * s0;
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * a + b0;
  }
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

/* The same in double, for the other float types. */
static void norm_row_f64(const double *x, double *y, int64_t n, double eps, const double *s,
                         const double *b, double s0, double b0, double *mean_out,
                         double *inv_out) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; i++) mean += x[i];
  mean /= (double)n;
  for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  double inv = 1.0 / sqrt(var / (double)n + eps);
  for (int64_t i = 0; i < n; i++)
    y[i] = (x[i] - mean) * inv * (s ? s[i] : s0) + (b ? b[i] : b0);
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

/* --- BatchNormalization --------------------------------------------------------------------- */

typedef struct bnjob {
  const float *x;
  float *y;
  const float *m, *a, *b; /* y = (x - m) * a + b, per channel or per channel element */
  int64_t C, S;
  bool per_elem;
} bnjob;

static void bn_rows(void *arg, int64_t r0, int64_t r1) {
  const bnjob *j = arg;
  int64_t S = j->S;
  for (int64_t r = r0; r < r1; r++) {
    int64_t ch = r % j->C;
    const float *x = j->x + r * S;
    float *y = j->y + r * S;
    if (j->per_elem) {
      const float *m = j->m + ch * S, *a = j->a + ch * S, *b = j->b + ch * S;
      for (int64_t i = 0; i < S; i++) y[i] = (x[i] - m[i]) * a[i] + b[i];
    } else {
      float m = j->m[ch], a = j->a[ch], b = j->b[ch];
      for (int64_t i = 0; i < S; i++) y[i] = (x[i] - m) * a + b;
    }
  }
}

/* Batch statistics per channel (training mode), in double. */
static void bn_batch_stats(const ladle_tensor *x, int64_t N, int64_t C, int64_t S, double *bm,
                           double *bv) {
  double cnt = (double)(N * S);
  for (int64_t ch = 0; ch < C; ch++) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; n++) {
      int64_t base = (n * C + ch) * S;
      if (x->dtype == LADLE_FLOAT) s += rc_sum_f32((const float *)x->data + base, S);
      else for (int64_t i = 0; i < S; i++) s += tensor_get_f64(x, base + i);
    }
    double mean = cnt > 0 ? s / cnt : 0;
    for (int64_t n = 0; n < N; n++) {
      int64_t base = (n * C + ch) * S;
      if (x->dtype == LADLE_FLOAT) q += rc_sum_sqdev_f32((const float *)x->data + base, S, (float)mean);
      else for (int64_t i = 0; i < S; i++) q += (tensor_get_f64(x, base + i) - mean) * (tensor_get_f64(x, base + i) - mean);
    }
    bm[ch] = mean;
    bv[ch] = cnt > 0 ? q / cnt : 0;
  }
}

static ladle_status run_batchnorm(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *x = op_in(c, 0), *p[4] = {op_in(c, 1), op_in(c, 2), op_in(c, 3), op_in(c, 4)};
  static const char *pname[4] = {"scale", "B", "input_mean", "input_var"};
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'X'");
  if (!is_float_type(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 2)
    return op_fail(c, LADLE_ERR_SHAPE, "input 'X' must have rank >= 2, got %d", x->ndim);
  int64_t N = x->dims[0], C = x->dims[1], S = rc_span(x->dims, 2, x->ndim);
  bool spatial = node_attr_int(nd, "spatial", 1) != 0;
  bool training = node_attr_int(nd, "training_mode", 0) != 0;
  double eps = node_attr_float(nd, "epsilon", 1e-5f);
  double momentum = node_attr_float(nd, "momentum", 0.9f);
  int64_t P = ladle_tensor_numel(p[0] ? p[0] : x);
  bool per_elem = !spatial && P == C * S && P != C;
  if (!spatial && !per_elem && P != C)
    return op_fail(c, LADLE_ERR_SHAPE, "non-spatial BatchNormalization wants %lld parameters",
                   (long long)(C * S));
  if (!per_elem) P = C;
  for (int i = 0; i < 4; i++) {
    if (!p[i]) return op_fail(c, LADLE_ERR_INVALID, "missing input '%s'", pname[i]);
    if (!is_float_type(p[i]->dtype))
      return op_fail(c, LADLE_ERR_DTYPE, "input '%s' has unsupported type %s", pname[i],
                     ladle_dtype_name(p[i]->dtype));
    if (ladle_tensor_numel(p[i]) != P)
      return op_fail(c, LADLE_ERR_SHAPE, "input '%s' has %lld elements, expected %lld",
                     pname[i], (long long)ladle_tensor_numel(p[i]), (long long)P);
  }
  if (training && per_elem)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "training mode with spatial=0 is not supported");
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  /* scratch: batch mean, batch var (training), then m, a, b as double and as float */
  double *d = op_scratch(c, 0, sizeof(double) * 5 * (size_t)(P ? P : 1));
  float *f = op_scratch(c, 1, sizeof(float) * 3 * (size_t)(P ? P : 1));
  if (!d || !f) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for BatchNormalization scratch");
  double *bm = d, *bv = d + P, *dm = d + 2 * P, *da = d + 3 * P, *db = d + 4 * P;
  if (training) bn_batch_stats(x, N, C, S, bm, bv);
  for (int64_t i = 0; i < P; i++) {
    double mean = training ? bm[i] : tensor_get_f64(p[2], i);
    double var = training ? bv[i] : tensor_get_f64(p[3], i);
    dm[i] = mean;
    da[i] = tensor_get_f64(p[0], i) / sqrt(var + eps);
    db[i] = tensor_get_f64(p[1], i);
    f[i] = (float)dm[i];
    f[P + i] = (float)da[i];
    f[2 * P + i] = (float)db[i];
  }
  int64_t total = N * C * S;
  if (x->dtype == LADLE_FLOAT) {
    bnjob j = {x->data, y->data, f, f + P, f + 2 * P, C, S, per_elem};
    int64_t rows = N * C;
    if (S == 1) { /* [N, C]: one row of C per sample, parameters per element */
      j.C = 1, j.S = C, j.per_elem = true;
      rows = N;
    }
    rc_parallel(c, rows, j.S, bn_rows, &j);
  } else {
    for (int64_t i = 0; i < total; i++) {
      int64_t ch = i / S % (C ? C : 1), k = per_elem ? ch * S + i % S : ch;
      tensor_set_f64(y, i, (tensor_get_f64(x, i) - dm[k]) * da[k] + db[k]);
    }
  }
  /* Optional outputs. Training (opset 14+): running_mean, running_var. Older opsets list
   * mean, var, saved_mean, saved_var, which inference leaves as the inputs' statistics. */
  for (int o = 1; o < 5; o++) {
    if (!op_out_wanted(c, o)) continue;
    const ladle_tensor *src = p[o == 1 || o == 3 ? 2 : 3];
    ladle_tensor *t = NULL;
    if (training && o > 2)
      return op_fail(c, LADLE_ERR_UNSUPPORTED, "BatchNormalization has no output %d", o);
    if ((st = op_out(c, o, src->dtype, src->ndim, src->dims, &t))) return st;
    for (int64_t i = 0; i < P; i++) {
      double v = tensor_get_f64(src, i);
      if (training) v = v * momentum + (o == 1 ? bm[i] : bv[i]) * (1 - momentum);
      tensor_set_f64(t, i, v);
    }
  }
  return LADLE_OK;
}

/* --- LayerNormalization --------------------------------------------------------------------- */

typedef struct lnjob {
  const float *x, *s, *b;
  float *y, *mean, *inv;
  int64_t n;
  float eps;
} lnjob;

static void ln_rows(void *arg, int64_t r0, int64_t r1) {
  const lnjob *j = arg;
  for (int64_t r = r0; r < r1; r++)
    norm_row_f32(j->x + r * j->n, j->y + r * j->n, j->n, j->eps, j->s, j->b, 1.0f, 0.0f,
                 j->mean ? j->mean + r : NULL, j->inv ? j->inv + r : NULL);
}

/* Expands a parameter that broadcasts (unidirectionally) to dims[0..nd) into n doubles. */
static bool ln_expand(const ladle_tensor *t, int nd, const int64_t *dims, int64_t n, double *out) {
  int64_t st[LADLE_MAX_DIMS];
  if (t->ndim > nd) return false;
  for (int i = 0; i < t->ndim; i++) {
    int64_t td = t->dims[t->ndim - 1 - i], xd = dims[nd - 1 - i];
    if (td != xd && td != 1) return false;
  }
  shape_broadcast_strides(t->ndim, t->dims, nd, dims, st);
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, off = 0;
    for (int d = nd - 1; d >= 0; d--) {
      off += rem % dims[d] * st[d];
      rem /= dims[d];
    }
    out[i] = tensor_get_f64(t, off);
  }
  return true;
}

static ladle_status run_layernorm(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *x = op_in(c, 0), *sc = op_in(c, 1), *bi = op_in(c, 2);
  ladle_tensor *y = NULL, *ym = NULL, *yi = NULL;
  int64_t sdims[LADLE_MAX_DIMS];
  ladle_status st;
  int ax;
  if (!x || !sc) return op_fail(c, LADLE_ERR_INVALID, "missing input 'X' or 'Scale'");
  if (!is_float_type(x->dtype) || !is_float_type(sc->dtype) || (bi && !is_float_type(bi->dtype)))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  int r = x->ndim;
  int64_t axis = node_attr_int(nd, "axis", -1);
  if (r == 0 || !rc_axis(axis, r, false, &ax))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, r);
  double eps = node_attr_float(nd, "epsilon", 1e-5f);
  int64_t outer = rc_span(x->dims, 0, ax), n = rc_span(x->dims, ax, r);
  /* scale and bias expanded to n values: float for the fast path, double for the others */
  double *ds = op_scratch(c, 0, sizeof(double) * 2 * (size_t)(n ? n : 1));
  float *fs = op_scratch(c, 1, sizeof(float) * 2 * (size_t)(n ? n : 1));
  if (!ds || !fs) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for LayerNormalization");
  if (!ln_expand(sc, r - ax, x->dims + ax, n, ds) || (bi && !ln_expand(bi, r - ax, x->dims + ax, n, ds + n)))
    return op_fail(c, LADLE_ERR_SHAPE, "Scale/B do not broadcast to the normalised shape");
  if (!bi)
    for (int64_t i = 0; i < n; i++) ds[n + i] = 0;
  for (int i = 0; i < r; i++) sdims[i] = i < ax ? x->dims[i] : 1;
  if ((st = op_out(c, 0, x->dtype, r, x->dims, &y))) return st;
  if (op_out_wanted(c, 1) && (st = op_out(c, 1, LADLE_FLOAT, r, sdims, &ym))) return st;
  if (op_out_wanted(c, 2) && (st = op_out(c, 2, LADLE_FLOAT, r, sdims, &yi))) return st;
  if (outer * n == 0) return LADLE_OK;
  if (x->dtype == LADLE_FLOAT) {
    for (int64_t i = 0; i < 2 * n; i++) fs[i] = (float)ds[i];
    lnjob j = {x->data, fs, fs + n, y->data, ym ? ym->data : NULL, yi ? yi->data : NULL, n,
               (float)eps};
    rc_parallel(c, outer, n, ln_rows, &j);
    return LADLE_OK;
  }
  double *dx = load_f64(c, 2, x, outer * n), *dy = op_scratch(c, 3, sizeof(double) * (size_t)(outer * n));
  if (!dx || !dy) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for LayerNormalization");
  for (int64_t o = 0; o < outer; o++) {
    double m, inv;
    norm_row_f64(dx + o * n, dy + o * n, n, eps, ds, ds + n, 1, 0, &m, &inv);
    if (ym) ((float *)ym->data)[o] = (float)m;
    if (yi) ((float *)yi->data)[o] = (float)inv;
  }
  store_f64(y, dy, outer * n);
  return LADLE_OK;
}

/* --- InstanceNormalization ------------------------------------------------------------------ */

typedef struct injob {
  const float *x, *s, *b;
  float *y;
  int64_t C, S;
  float eps;
} injob;

static void in_rows(void *arg, int64_t r0, int64_t r1) {
  const injob *j = arg;
  for (int64_t r = r0; r < r1; r++) {
    int64_t ch = r % j->C;
    norm_row_f32(j->x + r * j->S, j->y + r * j->S, j->S, j->eps, NULL, NULL, j->s[ch], j->b[ch],
                 NULL, NULL);
  }
}

static ladle_status run_instancenorm(op_ctx *c) {
  const ladle_tensor *x = op_in(c, 0), *sc = op_in(c, 1), *bi = op_in(c, 2);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x || !sc || !bi) return op_fail(c, LADLE_ERR_INVALID, "missing input 'input', 'scale' or 'B'");
  if (!is_float_type(x->dtype) || !is_float_type(sc->dtype) || !is_float_type(bi->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 2)
    return op_fail(c, LADLE_ERR_SHAPE, "input must have rank >= 2, got %d", x->ndim);
  int64_t N = x->dims[0], C = x->dims[1], S = rc_span(x->dims, 2, x->ndim);
  if (ladle_tensor_numel(sc) != C || ladle_tensor_numel(bi) != C)
    return op_fail(c, LADLE_ERR_SHAPE, "scale and B must have %lld elements", (long long)C);
  double eps = node_attr_float(op_node(c), "epsilon", 1e-5f);
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (N * C * S == 0) return LADLE_OK;
  double *ds = load_f64(c, 0, sc, C), *db = load_f64(c, 1, bi, C);
  if (!ds || !db) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for InstanceNormalization");
  if (x->dtype == LADLE_FLOAT) {
    /* the float copies live after the doubles in their own slot */
    float *fs = op_scratch(c, 2, sizeof(float) * 2 * (size_t)C);
    if (!fs) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for InstanceNormalization");
    for (int64_t i = 0; i < C; i++) fs[i] = (float)ds[i], fs[C + i] = (float)db[i];
    injob j = {x->data, fs, fs + C, y->data, C, S, (float)eps};
    rc_parallel(c, N * C, S, in_rows, &j);
    return LADLE_OK;
  }
  double *dx = load_f64(c, 2, x, N * C * S), *dy = op_scratch(c, 3, sizeof(double) * (size_t)(N * C * S));
  if (!dx || !dy) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for InstanceNormalization");
  for (int64_t r = 0; r < N * C; r++)
    norm_row_f64(dx + r * S, dy + r * S, S, eps, NULL, NULL, ds[r % C], db[r % C], NULL, NULL);
  store_f64(y, dy, N * C * S);
  return LADLE_OK;
}

/* --- LpNormalization ------------------------------------------------------------------------ */

static ladle_status run_lpnorm(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  int ax;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'input'");
  if (!is_float_type(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  int64_t axis = node_attr_int(nd, "axis", -1), p = node_attr_int(nd, "p", 2);
  if (p != 1 && p != 2) return op_fail(c, LADLE_ERR_INVALID, "p must be 1 or 2, got %lld", (long long)p);
  if (x->ndim == 0 || !rc_axis(axis, x->ndim, false, &ax))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis,
                   x->ndim);
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  int64_t outer = rc_span(x->dims, 0, ax), n = x->dims[ax], inner = rc_span(x->dims, ax + 1, x->ndim);
  int64_t total = outer * n * inner;
  if (total == 0) return LADLE_OK;
  double *d = load_f64(c, 0, x, total);
  if (!d) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for LpNormalization");
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      double *l = d + o * n * inner + j, s = 0;
      for (int64_t i = 0; i < n; i++) s += p == 1 ? fabs(l[i * inner]) : l[i * inner] * l[i * inner];
      if (p == 2) s = sqrt(s);
      for (int64_t i = 0; i < n; i++) l[i * inner] = s != 0 ? l[i * inner] / s : 0;
    }
  store_f64(y, d, total);
  return LADLE_OK;
}

/* --- MeanVarianceNormalization -------------------------------------------------------------- */

/* y = (x - mean) / (sqrt(var) + 1e-9), statistics over `axes` (default 0, 2, 3), as the ONNX
 * function body computes them. */
static ladle_status run_mvn(op_ctx *c) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  bool red[LADLE_MAX_DIMS] = {false};
  int64_t gstride[LADLE_MAX_DIMS];
  static const int64_t dflt[3] = {0, 2, 3};
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'X'");
  if (!is_float_type(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  int r = x->ndim;
  const int64_t *av = NULL;
  int64_t na = node_attr_ints(op_node(c), "axes", &av);
  if (na < 0) na = 3, av = dflt;
  for (int64_t i = 0; i < na; i++) {
    int ax;
    if (!rc_axis(av[i], r, false, &ax) || red[ax])
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld invalid or repeated for rank %d",
                     (long long)av[i], r);
    red[ax] = true;
  }
  if ((st = op_out(c, 0, x->dtype, r, x->dims, &y))) return st;
  int64_t total = ladle_tensor_numel(x), groups = 1;
  for (int i = r - 1; i >= 0; i--) {
    gstride[i] = red[i] ? 0 : groups;
    if (!red[i]) groups *= x->dims[i];
  }
  if (total == 0) return LADLE_OK;
  double *d = load_f64(c, 0, x, total);
  double *acc = op_scratch(c, 1, sizeof(double) * 3 * (size_t)groups);
  if (!d || !acc) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for MeanVarianceNormalization");
  double *sum = acc, *sq = acc + groups, *cnt = acc + 2 * groups;
  memset(acc, 0, sizeof(double) * 3 * (size_t)groups);
  int64_t idx[LADLE_MAX_DIMS] = {0}, g = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int64_t i = 0; i < total; i++) {
      if (pass == 0) {
        sum[g] += d[i];
        sq[g] += d[i] * d[i];
        cnt[g] += 1;
      } else {
        double mean = sum[g] / cnt[g], var = sq[g] / cnt[g] - mean * mean;
        d[i] = (d[i] - mean) / (sqrt(var > 0 ? var : 0) + 1e-9);
      }
      for (int k = r - 1; k >= 0; k--) {
        g += gstride[k];
        if (++idx[k] < x->dims[k]) break;
        g -= gstride[k] * x->dims[k];
        idx[k] = 0;
      }
    }
  }
  store_f64(y, d, total);
  return LADLE_OK;
}

/* --- LRN ------------------------------------------------------------------------------------ */

/* y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta; the window is
 * [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to the channels. */
static ladle_status run_lrn(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'X'");
  if (!is_float_type(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 2) return op_fail(c, LADLE_ERR_SHAPE, "input must have rank >= 2, got %d", x->ndim);
  int64_t size = node_attr_int(nd, "size", 0);
  if (size < 1) return op_fail(c, LADLE_ERR_INVALID, "attribute 'size' must be >= 1");
  double alpha = node_attr_float(nd, "alpha", 1e-4f), beta = node_attr_float(nd, "beta", 0.75f);
  double bias = node_attr_float(nd, "bias", 1.0f);
  int64_t N = x->dims[0], C = x->dims[1], S = rc_span(x->dims, 2, x->ndim), total = N * C * S;
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (total == 0) return LADLE_OK;
  double *d = load_f64(c, 0, x, total), *o = op_scratch(c, 1, sizeof(double) * (size_t)total);
  if (!d || !o) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for LRN");
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  for (int64_t n = 0; n < N; n++)
    for (int64_t ch = 0; ch < C; ch++) {
      int64_t c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi > C - 1 ? C - 1 : ch + hi;
      const double *xp = d + (n * C + ch) * S;
      double *yp = o + (n * C + ch) * S;
      for (int64_t i = 0; i < S; i++) yp[i] = 0;
      for (int64_t k = c0; k <= c1; k++) {
        const double *w = d + (n * C + k) * S;
        for (int64_t i = 0; i < S; i++) yp[i] += w[i] * w[i];
      }
      for (int64_t i = 0; i < S; i++) yp[i] = xp[i] / pow(bias + alpha / (double)size * yp[i], beta);
    }
  store_f64(y, o, total);
  return LADLE_OK;
}

const op_def ops_norm[] = {
    {"", "BatchNormalization", 1, 99, run_batchnorm, NULL, NULL},
    {"", "LayerNormalization", 17, 99, run_layernorm, NULL, NULL},
    {"", "InstanceNormalization", 1, 99, run_instancenorm, NULL, NULL},
    {"", "LpNormalization", 1, 99, run_lpnorm, NULL, NULL},
    {"", "MeanVarianceNormalization", 9, 99, run_mvn, NULL, NULL},
    {"", "LRN", 1, 99, run_lrn, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* pool.c — ops of the pool family: MaxPool, AveragePool, LpPool and their Global forms.
 *
 * All of them slide a window over the spatial dims of an N×C×D1×…×Dn tensor. The geometry
 * (strides, dilations, pads, auto_pad, ceil_mode) comes from win_geom_init (gemm_common.h).
 * One generic N-d loop serves every dtype and rank; 2-D float windows, the case CNNs spend
 * their pooling time in, get a loop with a branch-free interior. Planes (n, c) are split over
 * the session's threads. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "runtime/ops/gemm_common.h"

typedef enum { POOL_MAX, POOL_AVG, POOL_LP } pool_kind;

typedef struct pool_job {
  pool_kind kind;
  win_geom g;
  int dtype;
  const void *x;
  void *y;
  int64_t *ind;          /* MaxPool's Indices output, or NULL */
  bool col_major;        /* storage_order 1 for Indices */
  bool include_pad;      /* AveragePool count_include_pad */
  double p;              /* LpPool */
  int64_t in_plane, out_plane, c; /* elements per (n, c) plane; channels */
} pool_job;

/* --- element access ------------------------------------------------------------------------ */

static double load(int dtype, const void *x, int64_t i) {
  switch (dtype) {
    case LADLE_FLOAT: return ((const float *)x)[i];
    case LADLE_DOUBLE: return ((const double *)x)[i];
    case LADLE_FLOAT16: return half_to_float(((const uint16_t *)x)[i]);
    case LADLE_BFLOAT16: return bfloat16_to_float(((const uint16_t *)x)[i]);
    case LADLE_INT8: return ((const int8_t *)x)[i];
    case LADLE_UINT8: return ((const uint8_t *)x)[i];
    default: return 0;
  }
}

static void store(int dtype, void *y, int64_t i, double v) {
  switch (dtype) {
    case LADLE_FLOAT: ((float *)y)[i] = (float)v; break;
    case LADLE_DOUBLE: ((double *)y)[i] = v; break;
    case LADLE_FLOAT16: ((uint16_t *)y)[i] = float_to_half((float)v); break;
    case LADLE_BFLOAT16: ((uint16_t *)y)[i] = float_to_bfloat16((float)v); break;
    case LADLE_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
    case LADLE_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
    default: break;
  }
}

/* --- generic N-d window loop ----------------------------------------------------------------- */

/* Flattened Indices value of spatial position pos in plane `plane` (ONNX: index into the
 * whole input, column-major spatial order for storage_order 1). */
static int64_t flat_index(const pool_job *j, int64_t plane, const int64_t *pos) {
  int64_t idx = 0;
  if (!j->col_major) {
    for (int d = 0; d < j->g.nsp; d++) idx = idx * j->g.in[d] + pos[d];
  } else {
    for (int d = j->g.nsp - 1; d >= 0; d--) idx = idx * j->g.in[d] + pos[d];
  }
  return plane * j->in_plane + idx;
}

static void pool_plane_generic(const pool_job *j, int64_t plane) {
  const win_geom *g = &j->g;
  int nsp = g->nsp;
  int64_t o[WIN_MAX_SP] = {0}, kk[WIN_MAX_SP], pos[WIN_MAX_SP], best_pos[WIN_MAX_SP] = {0};
  int64_t xoff = plane * j->in_plane, yoff = plane * j->out_plane;
  int64_t kn = 1;
  for (int d = 0; d < nsp; d++) kn *= g->k[d];
  for (int64_t oi = 0; oi < j->out_plane; oi++) {
    double acc = j->kind == POOL_MAX ? -INFINITY : 0;
    int64_t count = 0, padded = 0;
    bool have = false;
    memset(kk, 0, sizeof kk);
    for (int64_t t = 0; t < kn; t++) {
      bool inside = true, in_padded = true;
      int64_t lin = 0;
      for (int d = 0; d < nsp; d++) {
        pos[d] = o[d] * g->s[d] - g->pb[d] + kk[d] * g->d[d];
        if (pos[d] < 0 || pos[d] >= g->in[d]) inside = false;
        if (pos[d] < -g->pb[d] || pos[d] >= g->in[d] + g->pe[d]) in_padded = false;
        lin = lin * g->in[d] + pos[d];
      }
      if (in_padded) padded++;
      if (inside) {
        double v = load(j->dtype, j->x, xoff + lin);
        count++;
        if (j->kind == POOL_MAX) {
          if (!have || v > acc) {
            acc = v;
            memcpy(best_pos, pos, sizeof(int64_t) * (size_t)nsp);
          }
          have = true;
        } else if (j->kind == POOL_AVG) {
          acc += v;
        } else {
          acc += pow(fabs(v), j->p);
        }
      }
      for (int d = nsp - 1; d >= 0; d--) { /* next kernel offset */
        if (++kk[d] < g->k[d]) break;
        kk[d] = 0;
      }
    }
    double out;
    if (j->kind == POOL_MAX) {
      out = acc;
      if (j->ind) j->ind[yoff + oi] = have ? flat_index(j, plane, best_pos) : 0;
    } else if (j->kind == POOL_AVG) {
      int64_t div = j->include_pad ? padded : count;
      out = div ? acc / (double)div : 0;
    } else {
      out = pow(acc, 1.0 / j->p);
    }
    store(j->dtype, j->y, yoff + oi, out);
    for (int d = nsp - 1; d >= 0; d--) { /* next output position */
      if (++o[d] < g->out[d]) break;
      o[d] = 0;
    }
  }
}

/* --- 2-D float fast path ------------------------------------------------------------------- */

/* First and one-past-last kernel tap t with 0 <= base + t*dil < n. */
static void tap_range(int64_t base, int64_t dil, int64_t k, int64_t n, int64_t *t0, int64_t *t1) {
  int64_t lo = 0, hi = k;
  if (base < 0) lo = (-base + dil - 1) / dil;
  if (base + (k - 1) * dil >= n) hi = (n - 1 - base) / dil + 1;
  if (hi < lo) hi = lo;
  *t0 = lo;
  *t1 = hi;
}

#define ROW_MAX 4096 /* widest padded row the 2-D path handles (stack buffers) */

/* Padded row length the 2-D path reads: the last window's end. */
static int64_t row_extent(const win_geom *g) {
  return (g->out[1] - 1) * g->s[1] + (g->k[1] - 1) * g->d[1] + 1;
}

/* One output row at a time: reduce the window's input rows into a padded row buffer
 * (contiguous, vectorises), then reduce along the row with the stride. */
static void pool_plane_2d(const pool_job *j, int64_t plane) {
  const win_geom *g = &j->g;
  const float *x = (const float *)j->x + plane * j->in_plane;
  float *y = (float *)j->y + plane * j->out_plane;
  int64_t H = g->in[0], W = g->in[1], OH = g->out[0], OW = g->out[1];
  int64_t kh = g->k[0], kw = g->k[1], sh = g->s[0], sw = g->s[1], dh = g->d[0], dw = g->d[1];
  int64_t pw = g->pb[1], L = row_extent(g);
  bool is_max = j->kind == POOL_MAX;
  float fill = is_max ? -INFINITY : 0.0f;
  float rp[ROW_MAX], hcnt[ROW_MAX];
  for (int64_t i = 0; i < L; i++) rp[i] = fill;
  if (!is_max) /* taps per output column that count towards the divisor */
    for (int64_t ow = 0; ow < OW; ow++) {
      int64_t cnt = 0;
      for (int64_t t = 0; t < kw; t++) {
        int64_t p = ow * sw - pw + t * dw;
        cnt += j->include_pad ? (p >= -pw && p < W + g->pe[1]) : (p >= 0 && p < W);
      }
      hcnt[ow] = (float)cnt;
    }
  int64_t wlo = pw, whi = pw + W < L ? pw + W : L; /* where the input lands in rp */
  for (int64_t oh = 0; oh < OH; oh++) {
    int64_t h0 = oh * sh - g->pb[0], a0, a1;
    tap_range(h0, dh, kh, H, &a0, &a1);
    float *r = rp + wlo;
    int64_t n = whi - wlo;
    if (a0 >= a1) { /* the window covers only padding (dilated windows can) */
      for (int64_t i = 0; i < n; i++) r[i] = fill;
    } else {
      const float *x0 = x + (h0 + a0 * dh) * W;
      for (int64_t i = 0; i < n; i++) r[i] = x0[i];
    }
    for (int64_t a = a0 + 1; a < a1; a++) {
      const float *xr = x + (h0 + a * dh) * W;
      if (is_max)
        for (int64_t i = 0; i < n; i++) r[i] = xr[i] > r[i] ? xr[i] : r[i];
      else
        for (int64_t i = 0; i < n; i++) r[i] += xr[i];
    }
    float *yr = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ow++) yr[ow] = rp[ow * sw];
    for (int64_t t = 1; t < kw; t++) {
      const float *src = rp + t * dw;
      if (is_max)
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = src[ow * sw] > yr[ow] ? src[ow * sw] : yr[ow];
      else
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] += src[ow * sw];
    }
    if (!is_max) {
      float vc;
      if (j->include_pad) {
        int64_t cnt = 0;
        for (int64_t t = 0; t < kh; t++) {
          int64_t p = h0 + t * dh;
          cnt += p >= -g->pb[0] && p < H + g->pe[0];
        }
        vc = (float)cnt;
      } else {
        vc = (float)(a1 - a0);
      }
      for (int64_t ow = 0; ow < OW; ow++) yr[ow] = vc * hcnt[ow] > 0 ? yr[ow] / (vc * hcnt[ow]) : 0.0f;
    }
  }
}

static void pool_task(void *arg, int64_t plane) {
  const pool_job *j = arg;
  if (j->g.nsp == 2 && j->dtype == LADLE_FLOAT && !j->ind && j->kind != POOL_LP &&
      row_extent(&j->g) <= ROW_MAX && j->g.pb[1] + j->g.in[1] <= ROW_MAX)
    pool_plane_2d(j, plane);
  else
    pool_plane_generic(j, plane);
}

/* --- ops ----------------------------------------------------------------------------------- */

static bool dtype_ok(pool_kind kind, int dt) {
  if (dt == LADLE_FLOAT || dt == LADLE_DOUBLE || dt == LADLE_FLOAT16 || dt == LADLE_BFLOAT16)
    return true;
  return kind == POOL_MAX && (dt == LADLE_INT8 || dt == LADLE_UINT8);
}

/* Reads LpPool's p: a float attribute at opset 1, an int since opset 2. */
static double lp_order(const node *n) {
  const attr *a = node_attr(n, "p");
  if (!a) return 2.0;
  return a->type == ATTR_FLOAT ? (double)a->f : (double)a->i;
}

static ladle_status run_pool(op_ctx *c, pool_kind kind, bool global) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL, *ind = NULL;
  pool_job j;
  char why[160];
  memset(&j, 0, sizeof j);
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input X");
  if (!dtype_ok(kind, x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported data type %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 3)
    return op_fail(c, LADLE_ERR_SHAPE, "input must be N x C x D1 x ..., got rank %d", x->ndim);
  j.kind = kind;
  j.g.nsp = x->ndim - 2;
  for (int d = 0; d < j.g.nsp; d++) j.g.in[d] = x->dims[d + 2];
  if (global) {
    for (int d = 0; d < j.g.nsp; d++) {
      j.g.k[d] = j.g.in[d];
      j.g.s[d] = j.g.d[d] = 1;
      j.g.out[d] = j.g.in[d] > 0 ? 1 : 0;
    }
  } else {
    const int64_t *ks = NULL;
    if (node_attr_ints(n, "kernel_shape", &ks) != j.g.nsp)
      return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", j.g.nsp);
    for (int d = 0; d < j.g.nsp; d++) {
      if (ks[d] < 1) return op_fail(c, LADLE_ERR_INVALID, "kernel_shape[%d] = %lld", d, (long long)ks[d]);
      j.g.k[d] = ks[d];
    }
    bool ceil_mode = node_attr_int(n, "ceil_mode", 0) != 0;
    if (!win_geom_init(&j.g, n, ceil_mode, why, sizeof why))
      return op_fail(c, LADLE_ERR_INVALID, "%s", why);
    for (int d = 0; d < j.g.nsp; d++) {
      int64_t keff = (j.g.k[d] - 1) * j.g.d[d] + 1;
      if (j.g.pb[d] >= keff || j.g.pe[d] >= keff)
        return op_fail(c, LADLE_ERR_INVALID, "pad %lld,%lld on axis %d is not smaller than the kernel %lld",
                       (long long)j.g.pb[d], (long long)j.g.pe[d], d + 2, (long long)keff);
    }
  }
  int64_t dims[LADLE_MAX_DIMS];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (int d = 0; d < j.g.nsp; d++) dims[d + 2] = j.g.out[d];
  ladle_status st = op_out(c, 0, x->dtype, x->ndim, dims, &y);
  if (st) return st;
  if (kind == POOL_MAX && op_out_wanted(c, 1)) {
    if ((st = op_out(c, 1, LADLE_INT64, x->ndim, dims, &ind))) return st;
    j.ind = ind->data;
    j.col_major = node_attr_int(n, "storage_order", 0) != 0;
  }
  j.dtype = x->dtype;
  j.x = x->data;
  j.y = y->data;
  j.include_pad = node_attr_int(n, "count_include_pad", 0) != 0;
  j.p = kind == POOL_LP ? lp_order(n) : 0;
  if (kind == POOL_LP && !(j.p > 0))
    return op_fail(c, LADLE_ERR_INVALID, "p must be positive, got %g", j.p);
  j.in_plane = shape_numel(j.g.nsp, j.g.in);
  j.out_plane = shape_numel(j.g.nsp, j.g.out);
  int64_t planes = x->dims[0] * x->dims[1];
  if (planes == 0 || j.out_plane == 0) return LADLE_OK;
  if (global && x->dtype == LADLE_FLOAT && kind != POOL_LP) {
    const float *xs = x->data;
    float *ys = y->data;
    for (int64_t p = 0; p < planes; p++) {
      const float *xp = xs + p * j.in_plane;
      float acc = kind == POOL_MAX ? -INFINITY : 0;
      /* 16 independent lanes so the loop vectorises (and sums more accurately) */
      float part[16];
      for (int l = 0; l < 16; l++) part[l] = acc;
      int64_t i = 0;
      if (kind == POOL_MAX) {
        for (; i + 16 <= j.in_plane; i += 16)
          for (int l = 0; l < 16; l++) part[l] = xp[i + l] > part[l] ? xp[i + l] : part[l];
        for (; i < j.in_plane; i++) part[0] = xp[i] > part[0] ? xp[i] : part[0];
        for (int l = 1; l < 16; l++) acc = part[l] > acc ? part[l] : acc;
        acc = part[0] > acc ? part[0] : acc;
      } else {
        for (; i + 16 <= j.in_plane; i += 16)
          for (int l = 0; l < 16; l++) part[l] += xp[i + l];
        for (; i < j.in_plane; i++) part[0] += xp[i];
        acc = 0;
        for (int l = 0; l < 16; l++) acc += part[l];
        acc /= (float)j.in_plane;
      }
      ys[p] = acc;
    }
    return LADLE_OK;
  }
  int64_t work = planes * j.out_plane;
  if (work >= 16384 && planes > 1)
    tpool_run(op_pool(c), planes, pool_task, &j);
  else
    for (int64_t p = 0; p < planes; p++) pool_task(&j, p);
  return LADLE_OK;
}

static ladle_status run_maxpool(op_ctx *c) { return run_pool(c, POOL_MAX, false); }
static ladle_status run_avgpool(op_ctx *c) { return run_pool(c, POOL_AVG, false); }
static ladle_status run_lppool(op_ctx *c) { return run_pool(c, POOL_LP, false); }
static ladle_status run_gmaxpool(op_ctx *c) { return run_pool(c, POOL_MAX, true); }
static ladle_status run_gavgpool(op_ctx *c) { return run_pool(c, POOL_AVG, true); }
static ladle_status run_glppool(op_ctx *c) { return run_pool(c, POOL_LP, true); }

const op_def ops_pool[] = {
    {"", "MaxPool", 1, 99, run_maxpool, NULL, NULL},
    {"", "AveragePool", 1, 99, run_avgpool, NULL, NULL},
    {"", "LpPool", 1, 99, run_lppool, NULL, NULL},
    {"", "GlobalMaxPool", 1, 99, run_gmaxpool, NULL, NULL},
    {"", "GlobalAveragePool", 1, 99, run_gavgpool, NULL, NULL},
    {"", "GlobalLpPool", 1, 99, run_glppool, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

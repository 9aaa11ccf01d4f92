/* quant.c — quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv.
 *
 * Rounding is round-half-to-even (nearbyintf in the default rounding mode) and every store into
 * an 8-bit type saturates, as the spec says. Integer products accumulate in int32.
 *
 * The four integer products share one engine. Every product is brought to the form the AVX-512
 * VNNI instruction wants, unsigned bytes (A) times signed bytes (B), by flipping the top bit:
 * an int8 A becomes a + 128 and its zero point moves by +128, a uint8 B becomes b - 128 and its
 * zero point by -128; (a - za)(b - zb) is unchanged. The engine then computes the raw sums
 * A'·B' and corrects them with the row sums of A' and the column sums of B':
 *
 *   sum_k (a'-za)(b'-zb) = A'B' - zb·rowsum(A') - za·colsum(B') + K·za·zb
 *
 * A' is m rows of kp bytes (K rounded up to 4, zero padded); B' is packed in panels of 16
 * columns, each holding kp/4 groups of 16×4 bytes (one 512-bit vector per group). Conv weights
 * (A) and constant MatMul weights (B) are prepared once at init. The arithmetic wraps (the spec
 * leaves int32 overflow undefined; here it is computed modulo 2^32, never as C UB). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/gemm_common.h"

#define QK 4   /* k values per VNNI group */
#define QNR 16 /* columns per panel */
#define QMR 8  /* rows per micro-tile */
#define QCB 64 /* columns per task block (multiple of 2 panels) */

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

static bool is_q8(int dt) { return dt == LADLE_UINT8 || dt == LADLE_INT8; }

static int32_t q_lo(int dt) { return dt == LADLE_UINT8 ? 0 : -128; }
static int32_t q_hi(int dt) { return dt == LADLE_UINT8 ? 255 : 127; }

/* Element i of a uint8 / int8 / int32 tensor. */
static int32_t qget(const ladle_tensor *t, int64_t i) {
  switch (t->dtype) {
    case LADLE_UINT8: return ((const uint8_t *)t->data)[i];
    case LADLE_INT8: return ((const int8_t *)t->data)[i];
    default: return ((const int32_t *)t->data)[i];
  }
}

/* round(v) + zp saturated to [lo, hi]; NaN saturates to hi (no UB on the conversion). */
static inline int32_t q_round(float v, float zp, float lo, float hi) {
  float r = nearbyintf(v) + zp;
  return (int32_t)fmaxf(fminf(r, hi), lo);
}

static inline void q_store8(void *y, int dt, int64_t i, int32_t v) {
  if (dt == LADLE_UINT8)
    ((uint8_t *)y)[i] = (uint8_t)v;
  else
    ((int8_t *)y)[i] = (int8_t)v;
}

static ladle_status need(op_ctx *c, int i, const char *what, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d (%s) is required", i, what);
  return LADLE_OK;
}

/* A scale input: float, with 1 value or (per_n > 0) per_n values in a 1-D tensor. */
static ladle_status check_scale(op_ctx *c, const ladle_tensor *s, const char *what, int64_t per_n) {
  if (s->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be float, got %s", what, ladle_dtype_name(s->dtype));
  int64_t n = ladle_tensor_numel(s);
  if (n == 1 && s->ndim <= 1) return LADLE_OK;
  if (per_n > 0 && s->ndim == 1 && n == per_n) return LADLE_OK;
  if (per_n > 0)
    return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar or have %lld values, got %lld", what,
                   (long long)per_n, (long long)n);
  return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar, got %lld values", what, (long long)n);
}

/* A zero point input (NULL: absent): dtype dt, 1 value or per_n values in a 1-D tensor. */
static ladle_status check_zp(op_ctx *c, const ladle_tensor *z, int dt, const char *what, int64_t per_n) {
  if (!z) return LADLE_OK;
  if (z->dtype != dt)
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be %s like its data, got %s", what, ladle_dtype_name(dt),
                   ladle_dtype_name(z->dtype));
  int64_t n = ladle_tensor_numel(z);
  if (n == 1 && z->ndim <= 1) return LADLE_OK;
  if (per_n > 0 && z->ndim == 1 && n == per_n) return LADLE_OK;
  return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar%s, got %lld values", what,
                 per_n > 0 ? " or one value per channel" : "", (long long)n);
}

/* --- QuantizeLinear / DequantizeLinear ------------------------------------------------------ */

/* Splits x around the quantization axis: outer × ch × inner; ch = 1 for per-tensor parameters.
 * Opsets before 13 have no axis and take scalars only. */
static ladle_status q_layout(op_ctx *c, const ladle_tensor *x, const ladle_tensor *scale,
                             const ladle_tensor *zp, int zp_dt, int64_t *outer, int64_t *ch,
                             int64_t *inner) {
  ladle_status st;
  int64_t ns = ladle_tensor_numel(scale);
  if (ns == 1 && scale->ndim <= 1) {
    if ((st = check_scale(c, scale, "scale", 0)) || (st = check_zp(c, zp, zp_dt, "zero_point", 0))) return st;
    *outer = 1;
    *ch = 1;
    *inner = ladle_tensor_numel(x);
    return LADLE_OK;
  }
  if (op_node(c)->opset < 13)
    return op_fail(c, LADLE_ERR_SHAPE, "scale must be a scalar before opset 13, got %lld values", (long long)ns);
  int64_t ax = node_attr_int(op_node(c), "axis", 1);
  if (ax < -x->ndim || ax >= x->ndim)
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  int a = (int)(ax < 0 ? ax + x->ndim : ax);
  if ((st = check_scale(c, scale, "scale", x->dims[a])) || (st = check_zp(c, zp, zp_dt, "zero_point", x->dims[a])))
    return st;
  if (zp && ladle_tensor_numel(zp) != x->dims[a])
    return op_fail(c, LADLE_ERR_SHAPE, "zero_point must have as many values as scale");
  *outer = shape_numel(a, x->dims);
  *ch = x->dims[a];
  *inner = shape_numel(x->ndim - a - 1, x->dims + a + 1);
  return LADLE_OK;
}

static float x_at(const ladle_tensor *x, int64_t i) {
  switch (x->dtype) {
    case LADLE_FLOAT: return ((const float *)x->data)[i];
    case LADLE_FLOAT16: return half_to_float(((const uint16_t *)x->data)[i]);
    default: return (float)((const int32_t *)x->data)[i];
  }
}

static ladle_status run_quantize(op_ctx *c) {
  const ladle_tensor *x, *scale, *zp = op_in(c, 2);
  ladle_status st;
  if ((st = need(c, 0, "x", &x)) || (st = need(c, 1, "y_scale", &scale))) return st;
  if (x->dtype != LADLE_FLOAT && x->dtype != LADLE_INT32 && x->dtype != LADLE_FLOAT16)
    return op_fail(c, LADLE_ERR_DTYPE, "x must be float, float16 or int32, got %s", ladle_dtype_name(x->dtype));
  int dt = zp ? zp->dtype : LADLE_UINT8;
  if (!is_q8(dt))
    return op_fail(c, LADLE_ERR_DTYPE, "y_zero_point must be uint8 or int8, got %s", ladle_dtype_name(dt));
  int64_t outer, ch, inner;
  if ((st = q_layout(c, x, scale, zp, dt, &outer, &ch, &inner))) return st;
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, x->ndim, x->dims, &y))) return st;
  const float *s = scale->data;
  float lo = (float)q_lo(dt), hi = (float)q_hi(dt);
  for (int64_t k = 0; k < ch; k++)
    if (!(s[k] != 0.0f) || !isfinite(s[k]))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale[%lld] = %g is not a finite non-zero value", (long long)k,
                     (double)s[k]);
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t k = 0; k < ch; k++) {
      float sk = s[k], z = zp ? (float)qget(zp, k) : 0.0f;
      int64_t base = (o * ch + k) * inner;
      if (x->dtype == LADLE_FLOAT && dt == LADLE_UINT8) { /* the common case, vectorised */
        const float *xp = (const float *)x->data + base;
        uint8_t *yp = (uint8_t *)y->data + base;
        for (int64_t i = 0; i < inner; i++) yp[i] = (uint8_t)q_round(xp[i] / sk, z, lo, hi);
      } else if (x->dtype == LADLE_FLOAT) {
        const float *xp = (const float *)x->data + base;
        int8_t *yp = (int8_t *)y->data + base;
        for (int64_t i = 0; i < inner; i++) yp[i] = (int8_t)q_round(xp[i] / sk, z, lo, hi);
      } else {
        for (int64_t i = 0; i < inner; i++) q_store8(y->data, dt, base + i, q_round(x_at(x, base + i) / sk, z, lo, hi));
      }
    }
  }
  return LADLE_OK;
}

static ladle_status run_dequantize(op_ctx *c) {
  const ladle_tensor *x, *scale, *zp = op_in(c, 2);
  ladle_status st;
  if ((st = need(c, 0, "x", &x)) || (st = need(c, 1, "x_scale", &scale))) return st;
  if (!is_q8(x->dtype) && x->dtype != LADLE_INT32)
    return op_fail(c, LADLE_ERR_DTYPE, "x must be uint8, int8 or int32, got %s", ladle_dtype_name(x->dtype));
  int64_t outer, ch, inner;
  if ((st = q_layout(c, x, scale, zp, x->dtype, &outer, &ch, &inner))) return st;
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim, x->dims, &y))) return st;
  const float *s = scale->data;
  float *yp = y->data;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t k = 0; k < ch; k++) {
      float sk = s[k];
      int64_t base = (o * ch + k) * inner;
      if (x->dtype == LADLE_INT32) {
        int64_t z = zp ? qget(zp, k) : 0;
        const int32_t *xp = (const int32_t *)x->data + base;
        for (int64_t i = 0; i < inner; i++) yp[base + i] = (float)((int64_t)xp[i] - z) * sk;
      } else if (x->dtype == LADLE_UINT8) {
        int32_t z = zp ? qget(zp, k) : 0;
        const uint8_t *xp = (const uint8_t *)x->data + base;
        for (int64_t i = 0; i < inner; i++) yp[base + i] = (float)((int32_t)xp[i] - z) * sk;
      } else {
        int32_t z = zp ? qget(zp, k) : 0;
        const int8_t *xp = (const int8_t *)x->data + base;
        for (int64_t i = 0; i < inner; i++) yp[base + i] = (float)((int32_t)xp[i] - z) * sk;
      }
    }
  }
  return LADLE_OK;
}

/* uint8 quantization over the range of x widened to include 0 (opset 11). An all-zero x gets
 * scale 0 and zero point 0, and quantizes to 0. */
static ladle_status run_dynamic_quantize(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = need(c, 0, "x", &x))) return st;
  if (x->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "x must be float, got %s", ladle_dtype_name(x->dtype));
  int64_t n = ladle_tensor_numel(x);
  const float *xp = x->data;
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    mn = fminf(mn, xp[i]);
    mx = fmaxf(mx, xp[i]);
  }
  if (!isfinite(mn) || !isfinite(mx))
    return op_fail(c, LADLE_ERR_INVALID, "x holds infinite values: no finite quantization range");
  float scale = (mx - mn) / 255.0f;
  float zpf = scale > 0.0f ? fmaxf(fminf(nearbyintf(0.0f - mn / scale), 255.0f), 0.0f) : 0.0f;
  ladle_tensor *y, *ys, *yz;
  if ((st = op_out(c, 0, LADLE_UINT8, x->ndim, x->dims, &y)) || (st = op_out(c, 1, LADLE_FLOAT, 0, NULL, &ys)) ||
      (st = op_out(c, 2, LADLE_UINT8, 0, NULL, &yz)))
    return st;
  uint8_t *yp = y->data;
  if (scale > 0.0f) {
    for (int64_t i = 0; i < n; i++) yp[i] = (uint8_t)q_round(xp[i] / scale, zpf, 0.0f, 255.0f);
  } else {
    memset(yp, 0, (size_t)n);
  }
  *(float *)ys->data = scale;
  *(uint8_t *)yz->data = (uint8_t)zpf;
  return LADLE_OK;
}

/* --- the integer GEMM engine ---------------------------------------------------------------- */

/* Copies the m×k matrix A (element (i,p) at a[i*lda + p], uint8 or int8) into dst as A' (m rows
 * of kp bytes, uint8, zero padded) and its row sums. */
static void prep_a(const void *a, int dt, int64_t m, int64_t k, int64_t lda, uint8_t *dst, int32_t *rs) {
  int64_t kp = round_up(k, QK);
  uint8_t flip = dt == LADLE_INT8 ? 0x80 : 0;
  for (int64_t i = 0; i < m; i++) {
    const uint8_t *src = (const uint8_t *)a + i * lda;
    uint8_t *d = dst + i * kp;
    int32_t s = 0;
    for (int64_t p = 0; p < k; p++) {
      d[p] = (uint8_t)(src[p] ^ flip);
      s += d[p];
    }
    for (int64_t p = k; p < kp; p++) d[p] = 0;
    rs[i] = s;
  }
}

/* Writes k-group g of the packed panels at dst (panel of the block's column 0 first) from four
 * source rows r[t][0..w) (NULL: past K, zeros), flipping uint8 into int8 with flip = 0x80, and
 * adds the column sums into cs[0..w). Columns past w up to the panel's end are zero. */
static void pack_group(int8_t *dst, int64_t kp, int64_t g, const uint8_t *const r[QK], int64_t w, uint8_t flip,
                       int32_t *cs) {
  int64_t wp = round_up(w, QNR);
  for (int64_t j0 = 0; j0 < wp; j0 += QNR) {
    int8_t *o = dst + (j0 / QNR) * kp * QNR + g * QNR * QK;
    for (int64_t jj = 0; jj < QNR; jj++) {
      int64_t j = j0 + jj;
      int32_t sum = 0;
      for (int t = 0; t < QK; t++) {
        int8_t v = (r[t] && j < w) ? (int8_t)(r[t][j] ^ flip) : 0;
        o[jj * QK + t] = v;
        sum += v;
      }
      if (j < w) cs[j] += sum;
    }
  }
}

/* Packs columns [0, w) of a k-row matrix whose row p is b + p*ldb (uint8 or int8). */
static void pack_b_plain(int8_t *dst, const uint8_t *b, int64_t ldb, int64_t k, int64_t w, int dt, int32_t *cs) {
  int64_t kp = round_up(k, QK);
  uint8_t flip = dt == LADLE_UINT8 ? 0x80 : 0;
  for (int64_t j = 0; j < w; j++) cs[j] = 0;
  for (int64_t g = 0; g < kp / QK; g++) {
    const uint8_t *r[QK];
    for (int t = 0; t < QK; t++) r[t] = g * QK + t < k ? b + (g * QK + t) * ldb : NULL;
    pack_group(dst, kp, g, r, w, flip, cs);
  }
}

/* One product (A - za)(B - zb): everything shifted into A' (uint8) and B' (int8) terms. */
typedef struct qprod {
  const uint8_t *a;    /* A': m rows of kp bytes */
  const int32_t *rs;   /* row sums of A' */
  const int32_t *za;   /* shifted zero point(s) of A: za[0], or za[i] when za_row */
  bool za_row;
  const int32_t *zb;   /* shifted zero point(s) of B: zb[0], or zb[j] when zb_col */
  bool zb_col;
  const int8_t *bp;    /* packed B, or NULL when the task packs it into bp_dst */
  int8_t *bp_dst;
  int32_t *cs;         /* column sums of B' (written by the task when it packs) */
  const int32_t *bias; /* per row, or NULL */
  const float *mrow;   /* requantization multipliers per row / per column, or NULL */
  const float *mcol;
  void *y;             /* output (m rows of n) */
  const void *src;     /* what the pack callback reads */
} qprod;

typedef struct qjob qjob;
typedef void (*qget_fn)(const qjob *j, int64_t pi, qprod *p);
/* Packs columns [j0, j0 + w) of product p's B into dst (the block's first panel), and their
 * column sums into cs[0..w). */
typedef void (*qpack_fn)(const qjob *j, const qprod *p, int64_t j0, int64_t w, int8_t *dst, int32_t *cs);

struct qjob {
  int64_t m, n, k, kp;
  int64_t n_prod, n_cb;
  int out_dt;    /* LADLE_INT32, or the 8-bit type to requantize into */
  float mul;     /* requantization multiplier when mrow / mcol are NULL */
  int32_t yzp;   /* output zero point */
  qget_fn get;
  qpack_fn pack;
  const void *ud;
  bool vnni;
};

/* Corrects the raw sums t (mr rows of QMR*... columns, row stride ldt) of rows i0.. and columns
 * j0.. (nc of them) and stores them into the output. */
static void q_epilogue(const qjob *jb, const qprod *p, const int32_t *t, int64_t ldt, int64_t i0, int mr,
                       int64_t j0, int nc) {
  uint32_t K = (uint32_t)jb->k;
  float lo = (float)q_lo(jb->out_dt), hi = (float)q_hi(jb->out_dt), yz = (float)jb->yzp;
  for (int r = 0; r < mr; r++) {
    int64_t i = i0 + r;
    uint32_t za = (uint32_t)p->za[p->za_row ? i : 0];
    uint32_t rr = (uint32_t)p->rs[i] - K * za, bias = p->bias ? (uint32_t)p->bias[i] : 0;
    const int32_t *tr = t + r * ldt;
    const int32_t *cs = p->cs + j0;
    if (jb->out_dt == LADLE_INT32) {
      int32_t *y = (int32_t *)p->y + i * jb->n + j0;
      if (p->zb_col) {
        const int32_t *zb = p->zb + j0;
        for (int j = 0; j < nc; j++)
          y[j] = (int32_t)((uint32_t)tr[j] - (uint32_t)zb[j] * rr - za * (uint32_t)cs[j] + bias);
      } else {
        uint32_t zb = (uint32_t)p->zb[0], cst = zb * rr - bias;
        for (int j = 0; j < nc; j++) y[j] = (int32_t)((uint32_t)tr[j] - cst - za * (uint32_t)cs[j]);
      }
      continue;
    }
    float mr_ = p->mrow ? p->mrow[i] : jb->mul;
    int32_t acc[QNR * 2];
    if (p->zb_col) {
      const int32_t *zb = p->zb + j0;
      for (int j = 0; j < nc; j++)
        acc[j] = (int32_t)((uint32_t)tr[j] - (uint32_t)zb[j] * rr - za * (uint32_t)cs[j] + bias);
    } else {
      uint32_t zb = (uint32_t)p->zb[0], cst = zb * rr - bias;
      for (int j = 0; j < nc; j++) acc[j] = (int32_t)((uint32_t)tr[j] - cst - za * (uint32_t)cs[j]);
    }
    int64_t yo = i * jb->n + j0;
    if (jb->out_dt == LADLE_UINT8) {
      uint8_t *y = (uint8_t *)p->y + yo;
      if (p->mcol) {
        for (int j = 0; j < nc; j++) y[j] = (uint8_t)q_round((float)acc[j] * (mr_ * p->mcol[j0 + j]), yz, lo, hi);
      } else {
        for (int j = 0; j < nc; j++) y[j] = (uint8_t)q_round((float)acc[j] * mr_, yz, lo, hi);
      }
    } else {
      int8_t *y = (int8_t *)p->y + yo;
      if (p->mcol) {
        for (int j = 0; j < nc; j++) y[j] = (int8_t)q_round((float)acc[j] * (mr_ * p->mcol[j0 + j]), yz, lo, hi);
      } else {
        for (int j = 0; j < nc; j++) y[j] = (int8_t)q_round((float)acc[j] * mr_, yz, lo, hi);
      }
    }
  }
}

/* Plain micro-tile: raw sums of rows [0, mr) of a (row stride kp) and the nc <= 32 columns in
 * the one or two panels at b into t (row stride 32). */
static void qtile_plain(const uint8_t *a, int64_t kp, int mr, const int8_t *b, int nc, int32_t *t) {
  for (int r = 0; r < mr; r++) {
    const uint8_t *ar = a + r * kp;
    for (int j = 0; j < nc; j++) {
      const int8_t *bc = b + (j / QNR) * kp * QNR + (j % QNR) * QK;
      int32_t s = 0;
      for (int64_t g = 0; g < kp / QK; g++)
        for (int u = 0; u < QK; u++) s += (int32_t)ar[g * QK + u] * bc[g * QNR * QK + u];
      t[r * 2 * QNR + j] = s;
    }
  }
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#include <immintrin.h>

static inline __attribute__((always_inline)) void qtile_body(const uint8_t *a, int64_t kp, const int MR,
                                                            const int8_t *b0, const int8_t *b1, int32_t *t) {
  __m512i acc0[QMR], acc1[QMR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
  int64_t ng = kp / QK;
  for (int64_t g = 0; g < ng; g++) {
    __m512i v0 = _mm512_loadu_si512(b0 + g * QNR * QK), v1 = _mm512_loadu_si512(b1 + g * QNR * QK);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      int32_t w;
      memcpy(&w, a + r * kp + g * QK, sizeof w);
      __m512i av = _mm512_set1_epi32(w);
      acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, v0);
      acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, v1);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    _mm512_storeu_si512(t + r * 2 * QNR, acc0[r]);
    _mm512_storeu_si512(t + r * 2 * QNR + QNR, acc1[r]);
  }
}

/* VNNI micro-tile: like qtile_plain, always computing two panels (b1 may repeat b0). */
static void qtile_vnni(const uint8_t *a, int64_t kp, int mr, const int8_t *b0, const int8_t *b1, int32_t *t) {
  switch (mr) {
    case 8: qtile_body(a, kp, 8, b0, b1, t); break;
    case 7: qtile_body(a, kp, 7, b0, b1, t); break;
    case 6: qtile_body(a, kp, 6, b0, b1, t); break;
    case 5: qtile_body(a, kp, 5, b0, b1, t); break;
    case 4: qtile_body(a, kp, 4, b0, b1, t); break;
    case 3: qtile_body(a, kp, 3, b0, b1, t); break;
    case 2: qtile_body(a, kp, 2, b0, b1, t); break;
    default: qtile_body(a, kp, 1, b0, b1, t); break;
  }
}
#pragma GCC pop_options

static bool have_vnni(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* Task (product, column block): pack B's block when needed, then every row tile. */
static void q_task(void *arg, int64_t ti) {
  const qjob *jb = arg;
  int64_t pi = ti / jb->n_cb, cb = ti % jb->n_cb;
  qprod p;
  jb->get(jb, pi, &p);
  int64_t j0 = cb * QCB, w = jb->n - j0 < QCB ? jb->n - j0 : QCB;
  const int8_t *bp;
  if (p.bp) {
    bp = p.bp + (j0 / QNR) * jb->kp * QNR;
  } else {
    int8_t *dst = p.bp_dst + (j0 / QNR) * jb->kp * QNR;
    jb->pack(jb, &p, j0, w, dst, p.cs + j0);
    bp = dst;
  }
  int32_t t[QMR * 2 * QNR];
  for (int64_t jj = 0; jj < w; jj += 2 * QNR) {
    int nc = (int)(w - jj < 2 * QNR ? w - jj : 2 * QNR);
    const int8_t *b0 = bp + (jj / QNR) * jb->kp * QNR;
    const int8_t *b1 = nc > QNR ? b0 + jb->kp * QNR : b0;
    for (int64_t i0 = 0; i0 < jb->m; i0 += QMR) {
      int mr = (int)(jb->m - i0 < QMR ? jb->m - i0 : QMR);
      if (jb->vnni)
        qtile_vnni(p.a + i0 * jb->kp, jb->kp, mr, b0, b1, t);
      else
        qtile_plain(p.a + i0 * jb->kp, jb->kp, mr, b0, nc, t);
      q_epilogue(jb, &p, t, 2 * QNR, i0, mr, j0 + jj, nc);
    }
  }
}

static void q_run(op_ctx *c, qjob *jb) {
  jb->kp = round_up(jb->k, QK);
  jb->n_cb = (jb->n + QCB - 1) / QCB;
  jb->vnni = have_vnni();
  int64_t n_tasks = jb->n_prod * jb->n_cb;
  if (n_tasks <= 0 || jb->m <= 0) return;
  if (n_tasks == 1 || jb->m * jb->n * jb->kp < 65536)
    for (int64_t i = 0; i < n_tasks; i++) q_task(jb, i);
  else
    tpool_run(op_pool(c), n_tasks, q_task, jb);
}

/* Bytes of B' packed for n columns. */
static size_t packed_size(int64_t kp, int64_t n) { return (size_t)(kp * round_up(n, QNR)); }

/* --- MatMulInteger / QLinearMatMul ---------------------------------------------------------- */

/* B prepared at init when it is a constant 2-D matrix. */
typedef struct mm_state {
  int64_t k, n;
  int dt;
  int8_t *bp;
  int32_t *cs;
} mm_state;

static void mm_state_free(void *s) {
  mm_state *ms = s;
  if (!ms) return;
  free(ms->bp);
  free(ms->cs);
  free(ms);
}

static ladle_status mm_init_b(const graph *g, node *n, int bi) {
  const ladle_tensor *b = op_const_input(g, n, bi);
  if (!b || b->ndim != 2 || !is_q8(b->dtype) || b->dims[0] <= 0 || b->dims[1] <= 0) return LADLE_OK;
  mm_state *ms = calloc(1, sizeof *ms);
  if (!ms) return LADLE_OK; /* packed per run instead */
  ms->k = b->dims[0];
  ms->n = b->dims[1];
  ms->dt = b->dtype;
  int64_t kp = round_up(ms->k, QK);
  ms->bp = aligned_alloc(64, round_up((int64_t)packed_size(kp, ms->n), 64));
  ms->cs = malloc(sizeof(int32_t) * (size_t)round_up(ms->n, QNR));
  if (!ms->bp || !ms->cs) {
    mm_state_free(ms);
    return LADLE_OK;
  }
  pack_b_plain(ms->bp, b->data, ms->n, ms->k, ms->n, ms->dt, ms->cs);
  n->state = ms;
  return LADLE_OK;
}

static ladle_status matmulinteger_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return mm_init_b(g, n, 1);
}

static ladle_status qlinearmatmul_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return mm_init_b(g, n, 3);
}

/* Shapes of a batched MatMul (numpy rules, 1-D operands promoted and their axis dropped). */
typedef struct mm_dims {
  int64_t m, k, n;
  int nb;                      /* batch rank of the output */
  int64_t bdims[LADLE_MAX_DIMS];
  int64_t n_batch;
  int64_t sa[LADLE_MAX_DIMS], sb[LADLE_MAX_DIMS]; /* batch strides (in matrices) of A and B */
  int yrank;
  int64_t ydims[LADLE_MAX_DIMS];
  int64_t a_mats, b_mats;      /* matrices in A and B */
} mm_dims;

static ladle_status mm_shape(op_ctx *c, const ladle_tensor *a, const ladle_tensor *b, mm_dims *d) {
  if (a->ndim < 1 || b->ndim < 1) return op_fail(c, LADLE_ERR_SHAPE, "MatMul operands must have rank >= 1");
  int64_t ad[LADLE_MAX_DIMS], bd[LADLE_MAX_DIMS];
  int an = a->ndim, bn = b->ndim;
  memcpy(ad, a->dims, sizeof(int64_t) * (size_t)an);
  memcpy(bd, b->dims, sizeof(int64_t) * (size_t)bn);
  if (an == 1) {
    ad[1] = ad[0];
    ad[0] = 1;
    an = 2;
  }
  if (bn == 1) {
    bd[1] = 1;
    bn = 2;
  }
  d->m = ad[an - 2];
  d->k = ad[an - 1];
  d->n = bd[bn - 1];
  if (bd[bn - 2] != d->k)
    return op_fail(c, LADLE_ERR_SHAPE, "inner dimensions differ: A has %lld columns, B has %lld rows",
                   (long long)d->k, (long long)bd[bn - 2]);
  if (!shape_broadcast(an - 2, ad, bn - 2, bd, &d->nb, d->bdims))
    return op_fail(c, LADLE_ERR_SHAPE, "batch dimensions of A and B do not broadcast");
  if (d->nb + 2 > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "rank too large");
  shape_broadcast_strides(an - 2, ad, d->nb, d->bdims, d->sa);
  shape_broadcast_strides(bn - 2, bd, d->nb, d->bdims, d->sb);
  d->n_batch = shape_numel(d->nb, d->bdims);
  d->a_mats = shape_numel(an - 2, ad);
  d->b_mats = shape_numel(bn - 2, bd);
  d->yrank = 0;
  for (int i = 0; i < d->nb; i++) d->ydims[d->yrank++] = d->bdims[i];
  if (a->ndim > 1) d->ydims[d->yrank++] = d->m;
  if (b->ndim > 1) d->ydims[d->yrank++] = d->n;
  return LADLE_OK;
}

/* Matrix index in A (or B) of output batch bi, from broadcast strides. */
static int64_t mm_src(const mm_dims *d, const int64_t *st, int64_t bi) {
  int64_t off = 0;
  for (int i = d->nb - 1; i >= 0; i--) {
    off += (bi % d->bdims[i]) * st[i];
    bi /= d->bdims[i];
  }
  return off;
}

typedef struct mm_ctx {
  const mm_dims *d;
  const uint8_t *a;      /* A' for every matrix of A */
  const int32_t *rs;
  const int32_t *za;     /* shifted zero points: one, m (za_row) or a_mats × m (za_batch) */
  bool za_row, za_batch;
  const int32_t *zb;
  bool zb_col, zb_batch;
  int8_t *bp;            /* packed B matrices (b_mats of them, or the one packed at init) */
  int32_t *cs;           /* their column sums, n16 apart */
  bool packed;           /* bp is filled before the job; otherwise the tasks pack their block */
  const uint8_t *b;      /* B as given */
  int b_dt;
  const float *mrow, *mcol;
  void *y;
  size_t y_esz;
} mm_ctx;

static void mm_get(const qjob *jb, int64_t pi, qprod *p) {
  const mm_ctx *x = jb->ud;
  const mm_dims *d = x->d;
  int64_t ia = mm_src(d, d->sa, pi), ib = mm_src(d, d->sb, pi);
  memset(p, 0, sizeof *p);
  p->a = x->a + ia * d->m * jb->kp;
  p->rs = x->rs + ia * d->m;
  p->za = x->za + (x->za_batch ? ia * d->m : 0);
  p->za_row = x->za_row;
  p->zb = x->zb + (x->zb_batch ? ib * d->n : 0);
  p->zb_col = x->zb_col;
  int8_t *bp = x->bp + ib * (int64_t)packed_size(jb->kp, d->n);
  if (x->packed)
    p->bp = bp;
  else
    p->bp_dst = bp;
  p->cs = x->cs + ib * round_up(d->n, QNR);
  p->src = x->b + ib * d->k * d->n;
  p->mrow = x->mrow;
  p->mcol = x->mcol;
  p->y = (char *)x->y + (size_t)(pi * d->m * d->n) * x->y_esz;
}

static void mm_pack(const qjob *jb, const qprod *p, int64_t j0, int64_t w, int8_t *dst, int32_t *cs) {
  const mm_ctx *x = jb->ud;
  pack_b_plain(dst, (const uint8_t *)p->src + j0, x->d->n, x->d->k, w, x->b_dt, cs);
}

/* A zero point of MatMulInteger: a scalar, one per row of A (m values, or [..., m, 1] with A's
 * batch dims) or one per column of B (n values, or [..., 1, n]). Fills out (shifted by `shift`)
 * and says whether it is per row/column and per batch. */
static ladle_status mm_zero_point(op_ctx *c, const ladle_tensor *z, int dt, int64_t per, int64_t mats,
                                  int32_t shift, const char *what, int32_t *out, bool *per_axis, bool *per_batch) {
  *per_axis = *per_batch = false;
  if (!z) {
    out[0] = shift;
    return LADLE_OK;
  }
  if (z->dtype != dt)
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be %s like its matrix, got %s", what, ladle_dtype_name(dt),
                   ladle_dtype_name(z->dtype));
  int64_t n = ladle_tensor_numel(z);
  if (n == 1) {
    out[0] = qget(z, 0) + shift;
    return LADLE_OK;
  }
  if (n == per) {
    *per_axis = true;
  } else if (n == per * mats) {
    *per_axis = *per_batch = true;
  } else {
    return op_fail(c, LADLE_ERR_SHAPE, "%s has %lld values: expected 1, %lld or %lld", what, (long long)n,
                   (long long)per, (long long)(per * mats));
  }
  for (int64_t i = 0; i < n; i++) out[i] = qget(z, i) + shift;
  return LADLE_OK;
}

/* MatMulInteger (qlinear = false) and QLinearMatMul (true). */
static ladle_status run_mm(op_ctx *c, bool qlinear) {
  const ladle_tensor *a, *b, *az, *bz, *as = NULL, *bs = NULL, *ys = NULL, *yz = NULL;
  ladle_status st;
  int ia = 0, ib = qlinear ? 3 : 1;
  if ((st = need(c, ia, "A", &a)) || (st = need(c, ib, "B", &b))) return st;
  az = op_in(c, 2);
  bz = op_in(c, qlinear ? 5 : 3);
  if (qlinear) {
    if ((st = need(c, 1, "a_scale", &as)) || (st = need(c, 4, "b_scale", &bs)) || (st = need(c, 6, "y_scale", &ys)) ||
        (st = need(c, 7, "y_zero_point", &yz)))
      return st;
  }
  if (!is_q8(a->dtype) || !is_q8(b->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "A and B must be uint8 or int8, got %s and %s", ladle_dtype_name(a->dtype),
                   ladle_dtype_name(b->dtype));
  mm_dims d;
  if ((st = mm_shape(c, a, b, &d))) return st;
  int out_dt = LADLE_INT32;
  if (qlinear) {
    if ((st = check_scale(c, as, "a_scale", d.m)) || (st = check_scale(c, bs, "b_scale", d.n)) ||
        (st = check_scale(c, ys, "y_scale", 0)) || (st = check_zp(c, yz, yz->dtype, "y_zero_point", 0)))
      return st;
    if (!is_q8(yz->dtype))
      return op_fail(c, LADLE_ERR_DTYPE, "y_zero_point must be uint8 or int8, got %s", ladle_dtype_name(yz->dtype));
    if (az && ladle_tensor_numel(az) != 1 && ladle_tensor_numel(az) != d.m)
      return op_fail(c, LADLE_ERR_SHAPE, "a_zero_point must be a scalar or have one value per row");
    if (bz && ladle_tensor_numel(bz) != 1 && ladle_tensor_numel(bz) != d.n)
      return op_fail(c, LADLE_ERR_SHAPE, "b_zero_point must be a scalar or have one value per column");
    out_dt = yz->dtype;
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, out_dt, d.yrank, d.ydims, &y))) return st;
  if (d.n_batch == 0 || d.m == 0 || d.n == 0) return LADLE_OK;

  int64_t kp = round_up(d.k, QK), n16 = round_up(d.n, QNR);
  const mm_state *ms = op_node(c)->state;
  if (ms && (ms->k != d.k || ms->n != d.n || ms->dt != b->dtype || d.b_mats != 1)) ms = NULL;
  /* scratch 0: A', row sums, zero points, multipliers; 1: packed B and its column sums */
  size_t sz_a = (size_t)(d.a_mats * d.m * kp), sz_rs = sizeof(int32_t) * (size_t)(d.a_mats * d.m);
  size_t sz_za = sizeof(int32_t) * (size_t)(d.a_mats * d.m + 1), sz_zb = sizeof(int32_t) * (size_t)(d.b_mats * d.n + 1);
  size_t sz_mr = sizeof(float) * (size_t)(d.m + 1), sz_mc = sizeof(float) * (size_t)(d.n + 1);
  size_t off_rs = round_up((int64_t)sz_a, 64), off_za = off_rs + round_up((int64_t)sz_rs, 64);
  size_t off_zb = off_za + round_up((int64_t)sz_za, 64), off_mr = off_zb + round_up((int64_t)sz_zb, 64);
  size_t off_mc = off_mr + round_up((int64_t)sz_mr, 64), total0 = off_mc + sz_mc;
  char *s0 = op_scratch(c, 0, total0);
  size_t sz_bp = ms ? 0 : packed_size(kp, d.n) * (size_t)d.b_mats;
  size_t sz_cs = ms ? 0 : sizeof(int32_t) * (size_t)(d.b_mats * n16);
  char *s1 = ms ? NULL : op_scratch(c, 1, round_up((int64_t)sz_bp, 64) + sz_cs);
  if (!s0 || (!ms && !s1)) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the integer product");

  mm_ctx x = {0};
  x.d = &d;
  x.a = (const uint8_t *)s0;
  x.rs = (const int32_t *)(s0 + off_rs);
  int32_t *za = (int32_t *)(s0 + off_za), *zb = (int32_t *)(s0 + off_zb);
  if ((st = mm_zero_point(c, az, a->dtype, d.m, d.a_mats, a->dtype == LADLE_INT8 ? 128 : 0,
                          "a_zero_point", za, &x.za_row, &x.za_batch)) ||
      (st = mm_zero_point(c, bz, b->dtype, d.n, d.b_mats, b->dtype == LADLE_UINT8 ? -128 : 0, "b_zero_point", zb,
                          &x.zb_col, &x.zb_batch)))
    return st;
  x.za = za;
  x.zb = zb;
  for (int64_t i = 0; i < d.a_mats; i++)
    prep_a((const uint8_t *)a->data + i * d.m * d.k, a->dtype, d.m, d.k, d.k, (uint8_t *)s0 + i * d.m * kp,
           (int32_t *)(s0 + off_rs) + i * d.m);
  x.b = b->data;
  x.b_dt = b->dtype;
  if (ms) {
    x.bp = ms->bp;
    x.cs = ms->cs;
    x.packed = true;
  } else {
    x.bp = (int8_t *)s1;
    x.cs = (int32_t *)(s1 + round_up((int64_t)sz_bp, 64));
    /* a B broadcast over several products is packed once, before the job: their tasks would
     * race packing it */
    x.packed = d.n_batch > d.b_mats;
    if (x.packed)
      for (int64_t i = 0; i < d.b_mats; i++)
        pack_b_plain(x.bp + i * (int64_t)packed_size(kp, d.n), x.b + i * d.k * d.n, d.n, d.k, d.n, b->dtype,
                     x.cs + i * n16);
  }
  qjob jb = {0};
  jb.m = d.m;
  jb.n = d.n;
  jb.k = d.k;
  jb.n_prod = d.n_batch;
  jb.out_dt = out_dt;
  jb.get = mm_get;
  jb.pack = mm_pack;
  jb.ud = &x;
  if (qlinear) {
    const float *asv = as->data, *bsv = bs->data, ysv = *(const float *)ys->data;
    if (!(ysv != 0.0f) || !isfinite(ysv))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale = %g is not a finite non-zero value", (double)ysv);
    int64_t nas = ladle_tensor_numel(as), nbs = ladle_tensor_numel(bs);
    jb.yzp = qget(yz, 0);
    if (nas == 1 && nbs == 1) {
      jb.mul = asv[0] * bsv[0] / ysv;
    } else {
      float *mr = (float *)(s0 + off_mr), *mc = (float *)(s0 + off_mc);
      for (int64_t i = 0; i < d.m; i++) mr[i] = nas == 1 ? asv[0] : asv[i];
      if (nbs == 1) {
        for (int64_t i = 0; i < d.m; i++) mr[i] = mr[i] * bsv[0] / ysv;
      } else {
        for (int64_t j = 0; j < d.n; j++) mc[j] = bsv[j] / ysv;
        x.mcol = mc;
      }
      x.mrow = mr;
    }
  }
  x.y = y->data;
  x.y_esz = ladle_dtype_size(out_dt);
  q_run(c, &jb);
  return LADLE_OK;
}

static ladle_status run_matmulinteger(op_ctx *c) { return run_mm(c, false); }
static ladle_status run_qlinearmatmul(op_ctx *c) { return run_mm(c, true); }

/* --- ConvInteger / QLinearConv -------------------------------------------------------------- */

/* Weights prepared at init when W is a constant: A' (M rows of kp) and row sums. */
typedef struct qconv_state {
  int64_t m, k;
  int dt;
  uint8_t *a;
  int32_t *rs;
} qconv_state;

static void qconv_state_free(void *s) {
  qconv_state *qs = s;
  if (!qs) return;
  free(qs->a);
  free(qs->rs);
  free(qs);
}

static ladle_status qconv_init_w(const graph *g, node *n, int wi) {
  const ladle_tensor *w = op_const_input(g, n, wi);
  if (!w || w->ndim < 3 || !is_q8(w->dtype)) return LADLE_OK;
  int64_t m = w->dims[0], k = shape_numel(w->ndim - 1, w->dims + 1);
  if (m <= 0 || k <= 0) return LADLE_OK;
  qconv_state *qs = calloc(1, sizeof *qs);
  if (!qs) return LADLE_OK;
  qs->m = m;
  qs->k = k;
  qs->dt = w->dtype;
  qs->a = malloc((size_t)(m * round_up(k, QK)));
  qs->rs = malloc(sizeof(int32_t) * (size_t)m);
  if (!qs->a || !qs->rs) {
    qconv_state_free(qs);
    return LADLE_OK;
  }
  prep_a(w->data, w->dtype, m, k, k, qs->a, qs->rs);
  n->state = qs;
  return LADLE_OK;
}

static ladle_status convinteger_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return qconv_init_w(g, n, 1);
}

static ladle_status qlinearconv_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return qconv_init_w(g, n, 3);
}

typedef struct qconv_ctx {
  win_geom g;
  int64_t N, C, M, G, Cg, Mg, ksp; /* ksp: kernel taps per channel */
  int64_t in_sp, out_sp;           /* spatial sizes */
  const uint8_t *x;
  int x_dt;
  uint8_t xpad;                    /* x's zero point as stored: the value of the padding */
  const uint8_t *a;                /* A' of all M rows */
  const int32_t *rs;
  const int32_t *za;               /* shifted weight zero points: one, or M */
  bool za_row;
  const int32_t *zb;               /* shifted x zero point */
  const int32_t *bias;
  const float *mrow;
  int8_t *bp;                      /* per (image, group) packed B */
  int32_t *cs;
  void *y;
  size_t y_esz;
  bool direct;                     /* 1×1, stride 1, no pads: B rows are the input's planes */
} qconv_ctx;

static void qconv_get(const qjob *jb, int64_t pi, qprod *p) {
  const qconv_ctx *x = jb->ud;
  int64_t img = pi / x->G, grp = pi % x->G;
  memset(p, 0, sizeof *p);
  p->a = x->a + grp * x->Mg * jb->kp;
  p->rs = x->rs + grp * x->Mg;
  p->za = x->za + (x->za_row ? grp * x->Mg : 0);
  p->za_row = x->za_row;
  p->zb = x->zb;
  p->bp_dst = x->bp + pi * (int64_t)packed_size(jb->kp, jb->n);
  p->cs = x->cs + pi * round_up(jb->n, QNR);
  p->bias = x->bias ? x->bias + grp * x->Mg : NULL;
  p->mrow = x->mrow ? x->mrow + grp * x->Mg : NULL;
  p->y = (char *)x->y + (size_t)((img * x->M + grp * x->Mg) * x->out_sp) * x->y_esz;
  p->src = x->x + (img * x->C + grp * x->Cg) * x->in_sp;
}

/* Row k (channel, kernel tap) of the im2col matrix over output positions [j0, j0 + w). */
static void im2col_row(const qconv_ctx *x, const uint8_t *xg, int64_t k, int64_t j0, int64_t w, uint8_t *out) {
  const win_geom *g = &x->g;
  int nsp = g->nsp, last = nsp - 1;
  int64_t ch = k / x->ksp, tap = k % x->ksp;
  int64_t ko[WIN_MAX_SP], o[WIN_MAX_SP];
  for (int d = last; d >= 0; d--) {
    ko[d] = tap % g->k[d];
    tap /= g->k[d];
  }
  int64_t j = j0;
  for (int d = last; d >= 0; d--) {
    o[d] = j % g->out[d];
    j /= g->out[d];
  }
  const uint8_t *plane = xg + ch * x->in_sp;
  int64_t done = 0;
  while (done < w) {
    bool ok = true;
    int64_t off = 0;
    for (int d = 0; d < last; d++) {
      int64_t ic = o[d] * g->s[d] + ko[d] * g->d[d] - g->pb[d];
      if (ic < 0 || ic >= g->in[d]) ok = false;
      off = off * g->in[d] + ic;
    }
    int64_t run = g->out[last] - o[last];
    if (run > w - done) run = w - done;
    if (!ok) {
      memset(out + done, x->xpad, (size_t)run);
    } else {
      const uint8_t *row = plane + off * g->in[last];
      int64_t s = g->s[last], iw = o[last] * s + ko[last] * g->d[last] - g->pb[last], in = g->in[last];
      for (int64_t t = 0; t < run; t++, iw += s) out[done + t] = (iw >= 0 && iw < in) ? row[iw] : x->xpad;
    }
    done += run;
    o[last] += run;
    for (int d = last; d > 0 && o[d] == g->out[d]; d--) {
      o[d] = 0;
      o[d - 1]++;
    }
  }
}

static void qconv_pack(const qjob *jb, const qprod *p, int64_t j0, int64_t w, int8_t *dst, int32_t *cs) {
  const qconv_ctx *x = jb->ud;
  const uint8_t *xg = p->src;
  uint8_t flip = x->x_dt == LADLE_UINT8 ? 0x80 : 0;
  uint8_t tmp[QK][QCB];
  for (int64_t j = 0; j < w; j++) cs[j] = 0;
  for (int64_t g = 0; g < jb->kp / QK; g++) {
    const uint8_t *r[QK];
    for (int t = 0; t < QK; t++) {
      int64_t k = g * QK + t;
      if (k >= jb->k) {
        r[t] = NULL;
      } else if (x->direct) {
        r[t] = xg + k * x->in_sp + j0;
      } else {
        im2col_row(x, xg, k, j0, w, tmp[t]);
        r[t] = tmp[t];
      }
    }
    pack_group(dst, jb->kp, g, r, w, flip, cs);
  }
}

/* ConvInteger (qlinear = false) and QLinearConv (true). */
static ladle_status run_qconv(op_ctx *c, bool qlinear) {
  const ladle_tensor *xt, *w, *xz, *wz, *xs = NULL, *ws = NULL, *ys = NULL, *yz = NULL, *bias = NULL;
  ladle_status st;
  int wi = qlinear ? 3 : 1;
  const node *nd = op_node(c);
  if ((st = need(c, 0, "x", &xt)) || (st = need(c, wi, "w", &w))) return st;
  xz = op_in(c, 2);
  wz = op_in(c, qlinear ? 5 : 3);
  if (qlinear) {
    if ((st = need(c, 1, "x_scale", &xs)) || (st = need(c, 4, "w_scale", &ws)) || (st = need(c, 6, "y_scale", &ys)) ||
        (st = need(c, 7, "y_zero_point", &yz)))
      return st;
    bias = op_in(c, 8);
  }
  if (!is_q8(xt->dtype) || !is_q8(w->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "x and w must be uint8 or int8, got %s and %s", ladle_dtype_name(xt->dtype),
                   ladle_dtype_name(w->dtype));
  if (xt->ndim < 3 || w->ndim != xt->ndim)
    return op_fail(c, LADLE_ERR_SHAPE, "x and w must have the same rank >= 3, got %d and %d", xt->ndim, w->ndim);
  qconv_ctx x;
  memset(&x, 0, sizeof x);
  x.N = xt->dims[0];
  x.C = xt->dims[1];
  x.M = w->dims[0];
  x.G = node_attr_int(nd, "group", 1);
  if (x.G < 1 || x.C % x.G != 0 || x.M % x.G != 0 || w->dims[1] != x.C / x.G)
    return op_fail(c, LADLE_ERR_SHAPE, "group %lld does not fit %lld input channels, %lld filters of %lld channels",
                   (long long)x.G, (long long)x.C, (long long)x.M, (long long)w->dims[1]);
  x.Cg = x.C / x.G;
  x.Mg = x.M / x.G;
  x.g.nsp = xt->ndim - 2;
  const int64_t *ks = NULL;
  int64_t nks = node_attr_ints(nd, "kernel_shape", &ks);
  if (nks >= 0 && nks != x.g.nsp) return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", x.g.nsp);
  for (int d = 0; d < x.g.nsp; d++) {
    x.g.in[d] = xt->dims[d + 2];
    x.g.k[d] = w->dims[d + 2];
    if (nks >= 0 && ks[d] != x.g.k[d])
      return op_fail(c, LADLE_ERR_SHAPE, "kernel_shape[%d] = %lld but w has %lld", d, (long long)ks[d],
                     (long long)x.g.k[d]);
  }
  char why[160];
  if (!win_geom_init(&x.g, nd, false, why, sizeof why)) return op_fail(c, LADLE_ERR_INVALID, "%s", why);
  x.ksp = shape_numel(x.g.nsp, x.g.k);
  x.in_sp = shape_numel(x.g.nsp, x.g.in);
  x.out_sp = shape_numel(x.g.nsp, x.g.out);
  int64_t K = x.Cg * x.ksp;

  int out_dt = LADLE_INT32;
  if ((st = check_zp(c, xz, xt->dtype, "x_zero_point", 0)) || (st = check_zp(c, wz, w->dtype, "w_zero_point", x.M)))
    return st;
  if (qlinear) {
    if ((st = check_scale(c, xs, "x_scale", 0)) || (st = check_scale(c, ws, "w_scale", x.M)) ||
        (st = check_scale(c, ys, "y_scale", 0)) || (st = check_zp(c, yz, yz->dtype, "y_zero_point", 0)))
      return st;
    if (!is_q8(yz->dtype))
      return op_fail(c, LADLE_ERR_DTYPE, "y_zero_point must be uint8 or int8, got %s", ladle_dtype_name(yz->dtype));
    if (bias && (bias->dtype != LADLE_INT32 || ladle_tensor_numel(bias) != x.M || bias->ndim != 1))
      return op_fail(c, LADLE_ERR_SHAPE, "B must be an int32 vector of %lld values", (long long)x.M);
    out_dt = yz->dtype;
  }
  int64_t ydims[LADLE_MAX_DIMS];
  ydims[0] = x.N;
  ydims[1] = x.M;
  for (int d = 0; d < x.g.nsp; d++) ydims[d + 2] = x.g.out[d];
  ladle_tensor *y;
  if ((st = op_out(c, 0, out_dt, xt->ndim, ydims, &y))) return st;
  if (shape_numel(xt->ndim, ydims) == 0) return LADLE_OK;

  int64_t kp = round_up(K, QK), n = x.out_sp, n16 = round_up(n, QNR), n_prod = x.N * x.G;
  const qconv_state *qs = nd->state;
  if (qs && (qs->m != x.M || qs->k != K || qs->dt != w->dtype)) qs = NULL;
  size_t sz_a = qs ? 0 : (size_t)(x.M * kp), sz_rs = qs ? 0 : sizeof(int32_t) * (size_t)x.M;
  size_t off_rs = round_up((int64_t)sz_a, 64), off_za = off_rs + round_up((int64_t)sz_rs, 64);
  size_t off_mr = off_za + round_up((int64_t)(sizeof(int32_t) * (size_t)(x.M + 2)), 64);
  size_t total0 = off_mr + sizeof(float) * (size_t)x.M;
  char *s0 = op_scratch(c, 0, total0);
  size_t sz_bp = packed_size(kp, n) * (size_t)n_prod;
  char *s1 = op_scratch(c, 1, round_up((int64_t)sz_bp, 64) + sizeof(int32_t) * (size_t)(n16 * n_prod));
  if (!s0 || !s1) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the integer convolution");
  if (qs) {
    x.a = qs->a;
    x.rs = qs->rs;
  } else {
    prep_a(w->data, w->dtype, x.M, K, K, (uint8_t *)s0, (int32_t *)(s0 + off_rs));
    x.a = (const uint8_t *)s0;
    x.rs = (const int32_t *)(s0 + off_rs);
  }
  int32_t *za = (int32_t *)(s0 + off_za), *zb = za + x.M;
  int32_t wshift = w->dtype == LADLE_INT8 ? 128 : 0;
  x.za_row = wz && ladle_tensor_numel(wz) > 1;
  if (x.za_row)
    for (int64_t i = 0; i < x.M; i++) za[i] = qget(wz, i) + wshift;
  else
    za[0] = (wz ? qget(wz, 0) : 0) + wshift;
  int32_t xzv = xz ? qget(xz, 0) : 0;
  zb[0] = xzv + (xt->dtype == LADLE_UINT8 ? -128 : 0);
  x.za = za;
  x.zb = zb;
  x.xpad = (uint8_t)xzv;
  x.x = xt->data;
  x.x_dt = xt->dtype;
  x.bias = bias ? bias->data : NULL;
  x.bp = (int8_t *)s1;
  x.cs = (int32_t *)(s1 + round_up((int64_t)sz_bp, 64));
  x.y = y->data;
  x.y_esz = ladle_dtype_size(out_dt);
  x.direct = true;
  for (int d = 0; d < x.g.nsp; d++)
    if (x.g.k[d] != 1 || x.g.s[d] != 1 || x.g.pb[d] || x.g.pe[d]) x.direct = false;
  qjob jb = {0};
  jb.m = x.Mg;
  jb.n = n;
  jb.k = K;
  jb.n_prod = n_prod;
  jb.out_dt = out_dt;
  jb.get = qconv_get;
  jb.pack = qconv_pack;
  jb.ud = &x;
  if (qlinear) {
    float xsv = *(const float *)xs->data, ysv = *(const float *)ys->data;
    const float *wsv = ws->data;
    if (!(ysv != 0.0f) || !isfinite(ysv))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale = %g is not a finite non-zero value", (double)ysv);
    float *mr = (float *)(s0 + off_mr);
    int64_t nws = ladle_tensor_numel(ws);
    for (int64_t i = 0; i < x.M; i++) mr[i] = xsv * wsv[nws == 1 ? 0 : i] / ysv;
    x.mrow = mr;
    jb.yzp = qget(yz, 0);
  }
  q_run(c, &jb);
  return LADLE_OK;
}

static ladle_status run_convinteger(op_ctx *c) { return run_qconv(c, false); }
static ladle_status run_qlinearconv(op_ctx *c) { return run_qconv(c, true); }

const op_def ops_quant[] = {
    {"", "QuantizeLinear", 10, 18, run_quantize, NULL, NULL},
    {"", "DequantizeLinear", 10, 18, run_dequantize, NULL, NULL},
    {"", "DynamicQuantizeLinear", 11, 99, run_dynamic_quantize, NULL, NULL},
    {"", "MatMulInteger", 10, 99, run_matmulinteger, matmulinteger_init, mm_state_free},
    {"", "QLinearMatMul", 10, 20, run_qlinearmatmul, qlinearmatmul_init, mm_state_free},
    {"", "ConvInteger", 10, 99, run_convinteger, convinteger_init, qconv_state_free},
    {"", "QLinearConv", 10, 99, run_qlinearconv, qlinearconv_init, qconv_state_free},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

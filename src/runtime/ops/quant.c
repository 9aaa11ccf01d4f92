/* quant.c — quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv, and the com.microsoft ops ONNX
 * Runtime's quantizer writes next to them (QGemm, QLinearAdd, QLinearMul, QLinearSigmoid,
 * QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat).
 *
 * Rounding is round-half-to-even (nearbyintf in the default rounding mode) and every store into
 * an 8-bit type saturates, as the spec says. Integer products accumulate in int32.
 *
 * The integer products share one engine. Every product is brought to the form the AVX-512
 * VNNI instruction wants, unsigned bytes (A) times signed bytes (B), by flipping the top bit:
 * an int8 A becomes a + 128 and its zero point moves by +128, a uint8 B becomes b - 128 and its
 * zero point by -128; (a - za)(b - zb) is unchanged. The engine then computes the raw sums
 * A'·B' and corrects them with the row sums of A' and the column sums of B':
 *
 *   sum_k (a'-za)(b'-zb) = A'B' - zb·rowsum(A') - za·colsum(B') + K·za·zb
 *
 * A' is m rows of kp bytes (K rounded up to 4, zero padded); B' is packed in panels of 16
 * columns, each holding kp/4 groups of 16×4 bytes (one 512-bit vector per group). Micro-tiles
 * of 8 rows × 32 columns are corrected and requantized in registers. Without VNNI a plain
 * loop over the same layout does the work. The arithmetic wraps (the spec leaves int32
 * overflow undefined; here it is computed modulo 2^32, never as C UB).
 *
 * Convolutions take one of three paths: depthwise (one input channel per group) computed
 * directly; 1-D / 2-D with at least NHWC_MIN_CG channels per group as an implicit GEMM over an
 * NHWC copy of the input (x is A, no im2col); the rest (1×1 stride 1, 3-D, few channels) through
 * im2col blocks packed by each task (w is A). Constant weights are prepared at init for the
 * path the node will take. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/gemm_common.h"

#define QK 4   /* k values per VNNI group */
#define QNR 16 /* columns per panel */
#define QMR 8  /* rows per micro-tile */
#define QCB 64 /* columns per task block (multiple of 2 panels) */
#define DW_MAX_TAPS 64 /* kernel taps the depthwise path keeps on its stack */
#define NHWC_MIN_CG 8  /* channels per group from which 2-D convolutions take the implicit path */

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

/* round(v) + zp saturated to [lo, hi]; NaN saturates to lo (no UB on the conversion). */
static inline int32_t q_round(float v, float zp, float lo, float hi) {
  float r = nearbyintf(v) + zp;
  r = r >= lo ? r : lo;
  r = r <= hi ? r : hi;
  return (int32_t)r;
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
  for (int64_t i = 0; i < n; i++) { /* NaN compares false and is skipped */
    mn = xp[i] < mn ? xp[i] : mn;
    mx = xp[i] > mx ? xp[i] : mx;
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
static void prep_a_strided(const void *a, int dt, int64_t m, int64_t k, int64_t rs_, int64_t cs_, uint8_t *dst,
                           int32_t *rs) {
  int64_t kp = round_up(k, QK);
  uint8_t flip = dt == LADLE_INT8 ? 0x80 : 0;
  for (int64_t i = 0; i < m; i++) {
    const uint8_t *src = (const uint8_t *)a + i * rs_;
    uint8_t *d = dst + i * kp;
    uint32_t s = 0; /* sums wrap modulo 2^32 like the rest of the arithmetic */
    for (int64_t p = 0; p < k; p++) {
      d[p] = (uint8_t)(src[p * cs_] ^ flip);
      s += d[p];
    }
    for (int64_t p = k; p < kp; p++) d[p] = 0;
    rs[i] = (int32_t)s;
  }
}

static void prep_a(const void *a, int dt, int64_t m, int64_t k, int64_t lda, uint8_t *dst, int32_t *rs) {
  prep_a_strided(a, dt, m, k, lda, 1, dst, rs);
}

/* Writes k-group g of the packed panels at dst (panel of the block's column 0 first) from four
 * source rows r[t][0..w) (NULL: past K, zeros), flipping uint8 into int8 with flip = 0x80, and
 * adds the column sums into cs[0..w). Columns past w up to the panel's end are zero. Panels
 * [q0, q1) only (the others are done by the vector path). */
static void pack_group_plain(int8_t *dst, int64_t kp, int64_t g, const uint8_t *const r[QK], int64_t w,
                             uint8_t flip, int32_t *cs, int64_t q0, int64_t q1) {
  for (int64_t q = q0; q < q1; q++) {
    int8_t *o = dst + q * kp * QNR + g * QNR * QK;
    for (int64_t jj = 0; jj < QNR; jj++) {
      int64_t j = q * QNR + jj;
      int32_t sum = 0;
      for (int t = 0; t < QK; t++) {
        int8_t v = (r[t] && j < w) ? (int8_t)(r[t][j] ^ flip) : 0;
        o[jj * QK + t] = v;
        sum += v;
      }
      if (j < w) cs[j] = (int32_t)((uint32_t)cs[j] + (uint32_t)sum);
    }
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
  const int32_t *bias_col; /* per column, or NULL */
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
  int out_dt;    /* LADLE_INT32, LADLE_FLOAT (acc · multiplier) or the 8-bit type to requantize into */
  float mul;     /* requantization multiplier when mrow / mcol are NULL */
  int32_t yzp;   /* output zero point */
  qget_fn get;
  qpack_fn pack;
  const void *ud;
  bool vnni;
};

/* The per-row terms of the correction: acc = raw - zb_j*rr - za*cs_j + bias. */
typedef struct qrow {
  uint32_t za, rr, bias;
  float mul; /* requantization multiplier of the row (times mcol[j] when per column) */
} qrow;

static inline qrow q_row(const qjob *jb, const qprod *p, int64_t i) {
  qrow r;
  r.za = (uint32_t)p->za[p->za_row ? i : 0];
  r.rr = (uint32_t)p->rs[i] - (uint32_t)jb->k * r.za;
  r.bias = p->bias ? (uint32_t)p->bias[i] : 0;
  r.mul = p->mrow ? p->mrow[i] : jb->mul;
  return r;
}

/* Plain epilogue: corrects the raw sums t (mr rows, row stride ldt) of rows i0.. and columns
 * j0.. (nc <= 32 of them) and stores them into the output. */
static void q_epilogue(const qjob *jb, const qprod *p, const int32_t *t, int64_t ldt, int64_t i0, int mr,
                       int64_t j0, int nc) {
  float lo = (float)q_lo(jb->out_dt), hi = (float)q_hi(jb->out_dt), yz = (float)jb->yzp;
  for (int r = 0; r < mr; r++) {
    int64_t i = i0 + r;
    qrow rw = q_row(jb, p, i);
    const int32_t *tr = t + r * ldt, *cs = p->cs + j0;
    int32_t acc[2 * QNR];
    for (int j = 0; j < nc; j++) {
      uint32_t zb = (uint32_t)p->zb[p->zb_col ? j0 + j : 0];
      uint32_t bc = p->bias_col ? (uint32_t)p->bias_col[j0 + j] : 0;
      acc[j] = (int32_t)((uint32_t)tr[j] - zb * rw.rr - rw.za * (uint32_t)cs[j] + rw.bias + bc);
    }
    int64_t yo = i * jb->n + j0;
    for (int j = 0; j < nc; j++) {
      if (jb->out_dt == LADLE_INT32) {
        ((int32_t *)p->y)[yo + j] = acc[j];
        continue;
      }
      float m = p->mcol ? rw.mul * p->mcol[j0 + j] : rw.mul;
      if (jb->out_dt == LADLE_FLOAT)
        ((float *)p->y)[yo + j] = (float)acc[j] * m;
      else
        q_store8(p->y, jb->out_dt, yo + j, q_round((float)acc[j] * m, yz, lo, hi));
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
      uint32_t s = 0;
      for (int64_t g = 0; g < kp / QK; g++)
        for (int u = 0; u < QK; u++) s += (uint32_t)((int32_t)ar[g * QK + u] * bc[g * QNR * QK + u]);
      t[r * 2 * QNR + j] = (int32_t)s;
    }
  }
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#include <immintrin.h>

/* Vector packing of k-group g for panel q (all 16 columns inside w): interleaves 16 bytes of
 * each of the four rows into 16 columns × 4 bytes, and adds the column sums with one VNNI dot
 * product against ones. */
static void pack_panel_vec(int8_t *dst, int64_t kp, int64_t g, const uint8_t *const r[QK], uint8_t flip,
                           int32_t *cs, int64_t q) {
  __m128i fl = _mm_set1_epi8((char)flip), v[QK];
  for (int t = 0; t < QK; t++)
    v[t] = r[t] ? _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r[t] + q * QNR)), fl) : _mm_setzero_si128();
  __m128i t0 = _mm_unpacklo_epi8(v[0], v[1]), t1 = _mm_unpackhi_epi8(v[0], v[1]);
  __m128i t2 = _mm_unpacklo_epi8(v[2], v[3]), t3 = _mm_unpackhi_epi8(v[2], v[3]);
  __m512i o = _mm512_castsi128_si512(_mm_unpacklo_epi16(t0, t2));
  o = _mm512_inserti32x4(o, _mm_unpackhi_epi16(t0, t2), 1);
  o = _mm512_inserti32x4(o, _mm_unpacklo_epi16(t1, t3), 2);
  o = _mm512_inserti32x4(o, _mm_unpackhi_epi16(t1, t3), 3);
  _mm512_storeu_si512(dst + q * kp * QNR + g * QNR * QK, o);
  __m512i s = _mm512_loadu_si512(cs + q * QNR);
  _mm512_storeu_si512(cs + q * QNR, _mm512_dpbusd_epi32(s, _mm512_set1_epi8(1), o));
}

/* Corrects one vector of raw sums (row i, columns j.. under mask m) and stores it. */
static inline __attribute__((always_inline)) void epi_vec(const qjob *jb, const qprod *p, const qrow *rw,
                                                          __m512i acc, int64_t i, int64_t j, __mmask16 m) {
  __m512i cs = _mm512_maskz_loadu_epi32(m, p->cs + j);
  __m512i zb = p->zb_col ? _mm512_maskz_loadu_epi32(m, p->zb + j) : _mm512_set1_epi32((int32_t)p->zb[0]);
  acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zb, _mm512_set1_epi32((int32_t)rw->rr)));
  acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(cs, _mm512_set1_epi32((int32_t)rw->za)));
  acc = _mm512_add_epi32(acc, _mm512_set1_epi32((int32_t)rw->bias));
  if (p->bias_col) acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(m, p->bias_col + j));
  int64_t yo = i * jb->n + j;
  if (jb->out_dt == LADLE_INT32) {
    _mm512_mask_storeu_epi32((int32_t *)p->y + yo, m, acc);
    return;
  }
  __m512 mul = _mm512_set1_ps(rw->mul);
  if (p->mcol) mul = _mm512_mul_ps(mul, _mm512_maskz_loadu_ps(m, p->mcol + j));
  if (jb->out_dt == LADLE_FLOAT) {
    _mm512_mask_storeu_ps((float *)p->y + yo, m, _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mul));
    return;
  }
  __m512 f = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  f = _mm512_add_ps(f, _mm512_set1_ps((float)jb->yzp));
  f = _mm512_max_ps(f, _mm512_set1_ps((float)q_lo(jb->out_dt))); /* a NaN takes the bound */
  f = _mm512_min_ps(f, _mm512_set1_ps((float)q_hi(jb->out_dt)));
  _mm512_mask_cvtepi32_storeu_epi8((int8_t *)p->y + yo, m, _mm512_cvtps_epi32(f));
}

/* VNNI micro-tile: MR rows × two panels (b1 may repeat b0), corrected and stored in place. */
static inline __attribute__((always_inline)) void qtile_body(const qjob *jb, const qprod *p, int64_t i0, const int MR,
                                                            const int8_t *b0, const int8_t *b1, int64_t j, int nc) {
  __m512i acc0[QMR], acc1[QMR];
  const uint8_t *a = p->a + i0 * jb->kp;
  int64_t kp = jb->kp, ng = kp / QK;
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
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
  __mmask16 m0 = (__mmask16)(nc >= QNR ? 0xffff : (1u << nc) - 1u);
  __mmask16 m1 = (__mmask16)(nc >= 2 * QNR ? 0xffff : nc > QNR ? (1u << (nc - QNR)) - 1u : 0);
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    qrow rw = q_row(jb, p, i0 + r);
    epi_vec(jb, p, &rw, acc0[r], i0 + r, j, m0);
    if (m1) epi_vec(jb, p, &rw, acc1[r], i0 + r, j + QNR, m1);
  }
}

static void qtile_vnni(const qjob *jb, const qprod *p, int64_t i0, int mr, const int8_t *b0, const int8_t *b1,
                       int64_t j, int nc) {
  switch (mr) {
    case 8: qtile_body(jb, p, i0, 8, b0, b1, j, nc); break;
    case 7: qtile_body(jb, p, i0, 7, b0, b1, j, nc); break;
    case 6: qtile_body(jb, p, i0, 6, b0, b1, j, nc); break;
    case 5: qtile_body(jb, p, i0, 5, b0, b1, j, nc); break;
    case 4: qtile_body(jb, p, i0, 4, b0, b1, j, nc); break;
    case 3: qtile_body(jb, p, i0, 3, b0, b1, j, nc); break;
    case 2: qtile_body(jb, p, i0, 2, b0, b1, j, nc); break;
    default: qtile_body(jb, p, i0, 1, b0, b1, j, nc); break;
  }
}
#pragma GCC pop_options

static bool have_vnni(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* k-group g of every panel covering columns [0, w): full panels by vector when vec. */
static void pack_group(int8_t *dst, int64_t kp, int64_t g, const uint8_t *const r[QK], int64_t w, uint8_t flip,
                       int32_t *cs, bool vec) {
  int64_t full = vec ? w / QNR : 0, all = (w + QNR - 1) / QNR;
  for (int64_t q = 0; q < full; q++) pack_panel_vec(dst, kp, g, r, flip, cs, q);
  pack_group_plain(dst, kp, g, r, w, flip, cs, full, all);
}

/* Packs columns [0, w) of a k-row matrix whose row p is b + p*ldb (uint8 or int8). */
static void pack_b_plain(int8_t *dst, const uint8_t *b, int64_t ldb, int64_t k, int64_t w, int dt, int32_t *cs,
                         bool vec) {
  int64_t kp = round_up(k, QK);
  uint8_t flip = dt == LADLE_UINT8 ? 0x80 : 0;
  for (int64_t j = 0; j < w; j++) cs[j] = 0;
  for (int64_t g = 0; g < kp / QK; g++) {
    const uint8_t *r[QK];
    for (int t = 0; t < QK; t++) r[t] = g * QK + t < k ? b + (g * QK + t) * ldb : NULL;
    pack_group(dst, kp, g, r, w, flip, cs, vec);
  }
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
      if (jb->vnni) {
        qtile_vnni(jb, &p, i0, mr, b0, b1, j0 + jj, nc);
      } else {
        qtile_plain(p.a + i0 * jb->kp, jb->kp, mr, b0, nc, t);
        q_epilogue(jb, &p, t, 2 * QNR, i0, mr, j0 + jj, nc);
      }
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

/* dst (cols × rows) = the transpose of src (rows × cols), bytes. */
static void transpose_u8(uint8_t *dst, const uint8_t *src, int64_t rows, int64_t cols) {
  for (int64_t r0 = 0; r0 < rows; r0 += 32)
    for (int64_t c0 = 0; c0 < cols; c0 += 32)
      for (int64_t r = r0; r < rows && r < r0 + 32; r++)
        for (int64_t c = c0; c < cols && c < c0 + 32; c++) dst[c * rows + r] = src[r * cols + c];
}

/* B input bi packed at init when constant and 2-D; trans: given as [N, K] (Gemm's transB). */
static ladle_status mm_init_b_t(const graph *g, node *n, int bi, bool trans) {
  const ladle_tensor *b = op_const_input(g, n, bi);
  if (!b || b->ndim != 2 || !is_q8(b->dtype) || b->dims[0] <= 0 || b->dims[1] <= 0) return LADLE_OK;
  mm_state *ms = calloc(1, sizeof *ms);
  uint8_t *tmp = NULL;
  if (!ms) return LADLE_OK; /* packed per run instead */
  ms->k = b->dims[trans ? 1 : 0];
  ms->n = b->dims[trans ? 0 : 1];
  ms->dt = b->dtype;
  int64_t kp = round_up(ms->k, QK);
  ms->bp = aligned_alloc(64, round_up((int64_t)packed_size(kp, ms->n), 64));
  ms->cs = malloc(sizeof(int32_t) * (size_t)round_up(ms->n, QNR));
  if (trans) tmp = malloc((size_t)(ms->k * ms->n));
  if (!ms->bp || !ms->cs || (trans && !tmp)) {
    free(tmp);
    mm_state_free(ms);
    return LADLE_OK;
  }
  if (trans) transpose_u8(tmp, b->data, ms->n, ms->k);
  pack_b_plain(ms->bp, trans ? tmp : b->data, ms->n, ms->k, ms->n, ms->dt, ms->cs, have_vnni());
  free(tmp);
  n->state = ms;
  return LADLE_OK;
}

static ladle_status mm_init_b(const graph *g, node *n, int bi) { return mm_init_b_t(g, n, bi, false); }

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
  const int32_t *bias_col;
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
  p->bias_col = x->bias_col;
  p->y = (char *)x->y + (size_t)(pi * d->m * d->n) * x->y_esz;
}

static void mm_pack(const qjob *jb, const qprod *p, int64_t j0, int64_t w, int8_t *dst, int32_t *cs) {
  const mm_ctx *x = jb->ud;
  pack_b_plain(dst, (const uint8_t *)p->src + j0, x->d->n, x->d->k, w, x->b_dt, cs, jb->vnni);
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
                     x.cs + i * n16, have_vnni());
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


/* --- QGemm (com.microsoft) -------------------------------------------------------------------
 * Y = alpha·(A - za)(B - zb)·sa·sb + C·(alpha·sa·sb) with A, B uint8/int8 (transA, transB), C an
 * int32 bias per column (or one value); Y is float, or quantized with y_scale / y_zero_point
 * when they are given (multiplier alpha·sa·sb / sy). */
static ladle_status qgemm_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return mm_init_b_t(g, n, 3, node_attr_int(n, "transB", 0) != 0);
}

static ladle_status run_qgemm(op_ctx *c) {
  const ladle_tensor *a, *b, *as, *bs, *az = op_in(c, 2), *bz = op_in(c, 5), *bias = op_in(c, 6);
  const ladle_tensor *ys = op_in(c, 7), *yz = op_in(c, 8);
  ladle_status st;
  const node *nd = op_node(c);
  if ((st = need(c, 0, "A", &a)) || (st = need(c, 1, "a_scale", &as)) || (st = need(c, 3, "B", &b)) ||
      (st = need(c, 4, "b_scale", &bs)))
    return st;
  if (!is_q8(a->dtype) || !is_q8(b->dtype) || a->ndim != 2 || b->ndim != 2)
    return op_fail(c, LADLE_ERR_DTYPE, "A and B must be uint8 or int8 matrices");
  bool ta = node_attr_int(nd, "transA", 0) != 0, tb = node_attr_int(nd, "transB", 0) != 0;
  float alpha = node_attr_float(nd, "alpha", 1.0f);
  mm_dims d;
  memset(&d, 0, sizeof d);
  d.m = a->dims[ta ? 1 : 0];
  d.k = a->dims[ta ? 0 : 1];
  d.n = b->dims[tb ? 0 : 1];
  if (b->dims[tb ? 1 : 0] != d.k)
    return op_fail(c, LADLE_ERR_SHAPE, "inner dimensions differ: %lld and %lld", (long long)d.k,
                   (long long)b->dims[tb ? 1 : 0]);
  d.n_batch = d.a_mats = d.b_mats = 1;
  d.yrank = 2;
  d.ydims[0] = d.m;
  d.ydims[1] = d.n;
  if ((st = check_scale(c, as, "a_scale", 0)) || (st = check_scale(c, bs, "b_scale", d.n)) ||
      (st = check_zp(c, az, a->dtype, "a_zero_point", 0)) || (st = check_zp(c, bz, b->dtype, "b_zero_point", d.n)))
    return st;
  int out_dt = LADLE_FLOAT;
  float ysv = 1.0f;
  if (ys) {
    if ((st = check_scale(c, ys, "y_scale", 0))) return st;
    ysv = *(const float *)ys->data;
    if (!(ysv != 0.0f) || !isfinite(ysv))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale = %g is not a finite non-zero value", (double)ysv);
    out_dt = yz ? yz->dtype : LADLE_UINT8;
    if (!is_q8(out_dt) || (st = check_zp(c, yz, out_dt, "y_zero_point", 0)))
      return st ? st : op_fail(c, LADLE_ERR_DTYPE, "y_zero_point must be uint8 or int8");
  }
  int64_t nbias = bias ? ladle_tensor_numel(bias) : 0;
  if (bias && (bias->dtype != LADLE_INT32 || (nbias != 1 && nbias != d.n)))
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "C must be int32 with one value or one per column (%lld)", (long long)d.n);
  ladle_tensor *y;
  if ((st = op_out(c, 0, out_dt, 2, d.ydims, &y))) return st;
  if (d.m == 0 || d.n == 0) return LADLE_OK;

  int64_t kp = round_up(d.k, QK), n16 = round_up(d.n, QNR);
  const mm_state *ms = nd->state;
  if (ms && (ms->k != d.k || ms->n != d.n || ms->dt != b->dtype)) ms = NULL;
  size_t off_rs = round_up(d.m * kp, 64), off_z = off_rs + round_up((int64_t)sizeof(int32_t) * d.m, 64);
  size_t off_mc = off_z + round_up((int64_t)sizeof(int32_t) * (d.n + 2), 64);
  size_t off_bc = off_mc + round_up((int64_t)sizeof(float) * (d.n + 1), 64);
  char *s0 = op_scratch(c, 0, off_bc + sizeof(int32_t) * (size_t)(d.n + 1));
  size_t sz_bp = packed_size(kp, d.n), off_cs = round_up((int64_t)sz_bp, 64), off_t = off_cs + sizeof(int32_t) * (size_t)n16;
  char *s1 = ms ? NULL : op_scratch(c, 1, off_t + (tb ? (size_t)(d.k * d.n) : 0));
  if (!s0 || (!ms && !s1)) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for QGemm");
  mm_ctx x;
  memset(&x, 0, sizeof x);
  x.d = &d;
  prep_a_strided(a->data, a->dtype, d.m, d.k, ta ? 1 : d.k, ta ? d.m : 1, (uint8_t *)s0, (int32_t *)(s0 + off_rs));
  x.a = (const uint8_t *)s0;
  x.rs = (const int32_t *)(s0 + off_rs);
  int32_t *za = (int32_t *)(s0 + off_z), *zb = za + 1;
  za[0] = (az ? qget(az, 0) : 0) + (a->dtype == LADLE_INT8 ? 128 : 0);
  x.zb_col = bz && ladle_tensor_numel(bz) > 1;
  for (int64_t j = 0; j < (x.zb_col ? d.n : 1); j++) zb[j] = (bz ? qget(bz, j) : 0) - (b->dtype == LADLE_UINT8 ? 128 : 0);
  x.za = za;
  x.zb = zb;
  if (ms) {
    x.bp = ms->bp;
    x.cs = ms->cs;
  } else {
    x.bp = (int8_t *)s1;
    x.cs = (int32_t *)(s1 + off_cs);
    const uint8_t *src = b->data;
    if (tb) {
      transpose_u8((uint8_t *)(s1 + off_t), src, d.n, d.k);
      src = (const uint8_t *)(s1 + off_t);
    }
    pack_b_plain(x.bp, src, d.n, d.k, d.n, b->dtype, x.cs, have_vnni());
  }
  x.packed = true;
  x.b = b->data;
  x.b_dt = b->dtype;
  /* multipliers: alpha·sa·sb (per column when b_scale is), over sy when quantized */
  const float *bsv = bs->data;
  float asv = *(const float *)as->data;
  int64_t nbs = ladle_tensor_numel(bs);
  float *mc = (float *)(s0 + off_mc);
  for (int64_t j = 0; j < nbs; j++) mc[j] = ys ? alpha * asv * bsv[j] / ysv : alpha * asv * bsv[j];
  if (nbs > 1) x.mcol = mc;
  int32_t *bc = (int32_t *)(s0 + off_bc);
  if (bias) {
    for (int64_t j = 0; j < d.n; j++) bc[j] = ((const int32_t *)bias->data)[nbias == 1 ? 0 : j];
    x.bias_col = bc;
  }
  x.y = y->data;
  x.y_esz = ladle_dtype_size(out_dt);
  qjob jb;
  memset(&jb, 0, sizeof jb);
  jb.m = d.m;
  jb.n = d.n;
  jb.k = d.k;
  jb.n_prod = 1;
  jb.out_dt = out_dt;
  jb.mul = nbs > 1 ? 1.0f : mc[0];
  jb.yzp = ys && yz ? qget(yz, 0) : 0;
  jb.get = mm_get;
  jb.pack = mm_pack;
  jb.ud = &x;
  q_run(c, &jb);
  return LADLE_OK;
}

static ladle_status run_matmulinteger(op_ctx *c) { return run_mm(c, false); }
static ladle_status run_qlinearmatmul(op_ctx *c) { return run_mm(c, true); }

/* --- ConvInteger / QLinearConv -------------------------------------------------------------- */

/* Weights of every group packed for the implicit path: Cgp = Cg rounded up to 4, kp = taps·Cgp. */
typedef struct nhwc_w {
  int64_t G, Mg, Cg, Cgp, taps, kp;
  int dt;
  int8_t *bp;  /* G × packed_size(kp, Mg) */
  int32_t *cs; /* G × round_up(Mg, 16) */
} nhwc_w;

static size_t nhwc_bp_size(int64_t G, int64_t kp, int64_t Mg) { return (size_t)G * packed_size(kp, Mg); }

static void pack_w_nhwc(const uint8_t *w, int dt, int64_t G, int64_t Mg, int64_t Cg, int64_t taps, int8_t *bp,
                        int32_t *cs) {
  int64_t Cgp = round_up(Cg, QK), kp = taps * Cgp, m16 = round_up(Mg, QNR), c4n = Cgp / QK;
  uint8_t flip = dt == LADLE_UINT8 ? 0x80 : 0;
  for (int64_t g = 0; g < G; g++) {
    int8_t *bg = bp + g * (int64_t)packed_size(kp, Mg);
    int32_t *cg = cs + g * m16;
    for (int64_t m = 0; m < m16; m++) cg[m] = 0;
    for (int64_t q = 0; q < m16 / QNR; q++)
      for (int64_t kg = 0; kg < kp / QK; kg++) {
        int64_t tap = kg / c4n, c4 = kg % c4n;
        int8_t *o = bg + q * kp * QNR + kg * QNR * QK;
        for (int64_t jj = 0; jj < QNR; jj++) {
          int64_t m = q * QNR + jj;
          for (int t = 0; t < QK; t++) {
            int64_t ch = c4 * QK + t;
            int8_t v = 0;
            if (m < Mg && ch < Cg) v = (int8_t)(w[((g * Mg + m) * Cg + ch) * taps + tap] ^ flip);
            o[jj * QK + t] = v;
            cg[m] = (int32_t)((uint32_t)cg[m] + (uint32_t)v);
          }
        }
      }
  }
}

/* Weights prepared at init when W is a constant: A' (M rows of kp) and row sums. */
typedef struct qconv_state {
  int64_t m, k;
  int dt;
  uint8_t *a;   /* the im2col engine's A', or NULL */
  int32_t *rs;
  nhwc_w nw;    /* the implicit path's packed weights (nw.bp NULL when not built) */
} qconv_state;

static void qconv_state_free(void *s) {
  qconv_state *qs = s;
  if (!qs) return;
  free(qs->a);
  free(qs->rs);
  free(qs->nw.bp);
  free(qs->nw.cs);
  free(qs);
}

/* Whether node n's attributes make a 1×1, stride-1, unpadded convolution (run by the im2col
 * engine straight from the input planes); the implicit path takes the other 1-D / 2-D ones. */
static bool qconv_attr_direct(const node *n, const ladle_tensor *w) {
  const int64_t *v;
  int64_t cnt;
  for (int d = 2; d < w->ndim; d++)
    if (w->dims[d] != 1) return false;
  if ((cnt = node_attr_ints(n, "strides", &v)) > 0)
    for (int64_t i = 0; i < cnt; i++)
      if (v[i] != 1) return false;
  if ((cnt = node_attr_ints(n, "pads", &v)) > 0)
    for (int64_t i = 0; i < cnt; i++)
      if (v[i] != 0) return false;
  return true;
}

/* Prepares a constant W for the path run() will take: nothing for depthwise, the implicit
 * path's packed weights for 1-D / 2-D, A' otherwise. A failed allocation only means run()
 * prepares them per run. */
static ladle_status qconv_init_w(const graph *g, node *n, int wi) {
  const ladle_tensor *w = op_const_input(g, n, wi);
  if (!w || w->ndim < 3 || !is_q8(w->dtype)) return LADLE_OK;
  int64_t m = w->dims[0], k = shape_numel(w->ndim - 1, w->dims + 1), G = node_attr_int(n, "group", 1);
  int64_t cg = w->dims[1], taps = shape_numel(w->ndim - 2, w->dims + 2);
  if (m <= 0 || k <= 0 || G < 1 || m % G != 0) return LADLE_OK;
  if (cg == 1 && w->ndim <= 4 && taps <= DW_MAX_TAPS) return LADLE_OK; /* depthwise reads W as is */
  qconv_state *qs = calloc(1, sizeof *qs);
  if (!qs) return LADLE_OK;
  qs->m = m;
  qs->k = k;
  qs->dt = w->dtype;
  if (w->ndim <= 4 && cg >= NHWC_MIN_CG && !qconv_attr_direct(n, w)) {
    nhwc_w *nw = &qs->nw;
    nw->G = G;
    nw->Mg = m / G;
    nw->Cg = cg;
    nw->Cgp = round_up(cg, QK);
    nw->taps = taps;
    nw->kp = taps * nw->Cgp;
    nw->dt = w->dtype;
    nw->bp = malloc(nhwc_bp_size(G, nw->kp, nw->Mg));
    nw->cs = malloc(sizeof(int32_t) * (size_t)(G * round_up(nw->Mg, QNR)));
    if (!nw->bp || !nw->cs) {
      qconv_state_free(qs);
      return LADLE_OK;
    }
    pack_w_nhwc(w->data, w->dtype, G, nw->Mg, cg, taps, nw->bp, nw->cs);
  } else {
    qs->a = malloc((size_t)(m * round_up(k, QK)));
    qs->rs = malloc(sizeof(int32_t) * (size_t)m);
    if (!qs->a || !qs->rs) {
      qconv_state_free(qs);
      return LADLE_OK;
    }
    prep_a(w->data, w->dtype, m, k, k, qs->a, qs->rs);
  }
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

/* Row k of the im2col matrix: the offset of its input plane and its kernel tap. */
typedef struct krow {
  int64_t plane;
  int64_t ko[WIN_MAX_SP];
} krow;

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
  const krow *krows;               /* K rows (not for direct) */
  /* the depthwise path reads the weights as given */
  const uint8_t *w;
  int w_dt;
  int32_t wshift;                  /* za[i] - wshift: the weight zero point as given */
  int out_dt;
  int32_t yzp;
  float mul;
  bool dw_vec;                     /* AVX-512BW for the depthwise rows */
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

/* Row k (channel, kernel tap) of the im2col matrix over output positions [j0, j0 + w), whose
 * coordinates o0 are given: the input row's pad, inside and pad parts as memset / memcpy. */
static void im2col_row(const qconv_ctx *x, const uint8_t *xg, const krow *kr, const int64_t *o0, int64_t w,
                       uint8_t *out) {
  const win_geom *g = &x->g;
  int last = g->nsp - 1;
  int64_t o[WIN_MAX_SP];
  memcpy(o, o0, sizeof(int64_t) * (size_t)g->nsp);
  const uint8_t *plane = xg + kr->plane;
  int64_t s = g->s[last], in = g->in[last], kbase = kr->ko[last] * g->d[last] - g->pb[last];
  int64_t done = 0;
  while (done < w) {
    bool ok = true;
    int64_t off = 0;
    for (int d = 0; d < last; d++) {
      int64_t ic = o[d] * g->s[d] + kr->ko[d] * g->d[d] - g->pb[d];
      if (ic < 0 || ic >= g->in[d]) ok = false;
      off = off * g->in[d] + ic;
    }
    int64_t run = g->out[last] - o[last];
    if (run > w - done) run = w - done;
    uint8_t *dst = out + done;
    if (!ok) {
      memset(dst, x->xpad, (size_t)run);
    } else {
      const uint8_t *row = plane + off * in;
      int64_t base = o[last] * s + kbase, lo, hi;
      if (s == 1) {
        lo = base >= 0 ? 0 : -base;
        hi = in - base;
      } else {
        lo = base >= 0 ? 0 : (-base + s - 1) / s;
        hi = base >= in ? 0 : (in - base + s - 1) / s;
      }
      lo = lo < run ? lo : run;
      hi = hi < run ? hi : run;
      hi = hi > lo ? hi : lo;
      memset(dst, x->xpad, (size_t)lo);
      if (s == 1) {
        memcpy(dst + lo, row + base + lo, (size_t)(hi - lo));
      } else {
        for (int64_t t = lo; t < hi; t++) dst[t] = row[base + t * s];
      }
      memset(dst + hi, x->xpad, (size_t)(run - hi));
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
  int64_t o0[WIN_MAX_SP], j = j0;
  for (int d = x->g.nsp - 1; d >= 0; d--) {
    o0[d] = j % x->g.out[d];
    j /= x->g.out[d];
  }
  for (int64_t c = 0; c < w; c++) cs[c] = 0;
  for (int64_t g = 0; g < jb->kp / QK; g++) {
    const uint8_t *r[QK];
    for (int t = 0; t < QK; t++) {
      int64_t k = g * QK + t;
      if (k >= jb->k) {
        r[t] = NULL;
      } else if (x->direct) {
        r[t] = xg + k * x->in_sp + j0;
      } else {
        im2col_row(x, xg, &x->krows[k], o0, w, tmp[t]);
        r[t] = tmp[t];
      }
    }
    pack_group(dst, jb->kp, g, r, w, flip, cs, jb->vnni);
  }
}

/* --- depthwise: one input channel per group --------------------------------------------------
 * A GEMM of one row per group wastes the engine; each (image, channel) is computed directly:
 * output rows in chunks of int32 accumulators, one pass per tap over the columns whose input is
 * inside the row (padding contributes (zp - zp)·w = 0 and is skipped). */
#define DW_CHUNK 256

/* acc[t] += (x[base + t*sw] - xz) * wv for t in [lo, hi): plain. */
static void dw_row_plain(int32_t *acc, const uint8_t *row, bool u8, int64_t base, int64_t lo, int64_t hi,
                         int64_t sw, int32_t xz, int32_t wv) {
  if (u8)
    for (int64_t t = lo; t < hi; t++)
      acc[t] = (int32_t)((uint32_t)acc[t] + (uint32_t)(((int32_t)row[base + t * sw] - xz) * wv));
  else
    for (int64_t t = lo; t < hi; t++)
      acc[t] = (int32_t)((uint32_t)acc[t] + (uint32_t)(((int32_t)(int8_t)row[base + t * sw] - xz) * wv));
}

/* Requantizes (or copies) cn accumulators into y[o..]: plain. */
static void dw_store_plain(const qconv_ctx *x, const int32_t *acc, int64_t cn, size_t o, float mul) {
  float lo = (float)q_lo(x->out_dt), hi = (float)q_hi(x->out_dt), yz = (float)x->yzp;
  if (x->out_dt == LADLE_INT32) {
    memcpy((int32_t *)x->y + o, acc, sizeof(int32_t) * (size_t)cn);
    return;
  }
  for (int64_t t = 0; t < cn; t++) q_store8(x->y, x->out_dt, (int64_t)o + t, q_round((float)acc[t] * mul, yz, lo, hi));
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl")

/* dw_row_plain for strides 1 and 2, 16 columns a step (masked loads never touch bytes past the
 * last one the row needs). */
static void dw_row_vec(int32_t *acc, const uint8_t *row, bool u8, int64_t base, int64_t lo, int64_t hi,
                       int64_t sw, int32_t xz, int32_t wv) {
  __m512i vz = _mm512_set1_epi32(xz), vw = _mm512_set1_epi32(wv);
  for (int64_t t = lo; t < hi; t += 16) {
    int cnt = (int)(hi - t < 16 ? hi - t : 16);
    __mmask16 m = (__mmask16)((1u << cnt) - 1u);
    __m512i v;
    if (sw == 1) {
      __m128i b = _mm_maskz_loadu_epi8(m, row + base + t);
      v = u8 ? _mm512_cvtepu8_epi32(b) : _mm512_cvtepi8_epi32(b);
    } else { /* 2*cnt - 1 bytes; the even ones are the columns */
      __mmask32 mb = (__mmask32)((1ull << (2 * cnt - 1)) - 1u);
      __m256i b = _mm256_maskz_loadu_epi8(mb, row + base + 2 * t);
      __m512i w16 = u8 ? _mm512_cvtepu8_epi16(b) : _mm512_cvtepi8_epi16(b);
      v = u8 ? _mm512_and_si512(w16, _mm512_set1_epi32(0xffff)) : _mm512_srai_epi32(_mm512_slli_epi32(w16, 16), 16);
    }
    __m512i a = _mm512_maskz_loadu_epi32(m, acc + t);
    a = _mm512_add_epi32(a, _mm512_mullo_epi32(_mm512_sub_epi32(v, vz), vw));
    _mm512_mask_storeu_epi32(acc + t, m, a);
  }
}

static void dw_store_vec(const qconv_ctx *x, const int32_t *acc, int64_t cn, size_t o, float mul) {
  if (x->out_dt == LADLE_INT32) {
    memcpy((int32_t *)x->y + o, acc, sizeof(int32_t) * (size_t)cn);
    return;
  }
  __m512 vm = _mm512_set1_ps(mul), vz = _mm512_set1_ps((float)x->yzp);
  __m512 lo = _mm512_set1_ps((float)q_lo(x->out_dt)), hi = _mm512_set1_ps((float)q_hi(x->out_dt));
  for (int64_t t = 0; t < cn; t += 16) {
    int cnt = (int)(cn - t < 16 ? cn - t : 16);
    __mmask16 m = (__mmask16)((1u << cnt) - 1u);
    __m512 f = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + t));
    f = _mm512_roundscale_ps(_mm512_mul_ps(f, vm), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(f, vz), lo), hi);
    _mm512_mask_cvtepi32_storeu_epi8((int8_t *)x->y + o + t, m, _mm512_cvtps_epi32(f));
  }
}
#pragma GCC pop_options

static bool have_avx512bw(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

static void dw_task(void *arg, int64_t nm) {
  const qconv_ctx *x = arg;
  const win_geom *g = &x->g;
  bool two = g->nsp == 2, u8 = x->x_dt == LADLE_UINT8, vec = x->dw_vec && g->s[two] <= 2;
  int64_t H = two ? g->in[0] : 1, W = g->in[two], OH = two ? g->out[0] : 1, OW = g->out[two];
  int64_t KH = two ? g->k[0] : 1, KW = g->k[two], sh = two ? g->s[0] : 1, sw = g->s[two];
  int64_t dh = two ? g->d[0] : 1, dwl = g->d[two], ph = two ? g->pb[0] : 0, pw = g->pb[two];
  int64_t n = nm / x->M, m = nm % x->M, ci = m / x->Mg;
  const uint8_t *xc = x->x + (n * x->C + ci) * H * W;
  int32_t wv_all[DW_MAX_TAPS];
  int64_t lo[DW_MAX_TAPS], hi[DW_MAX_TAPS], base[DW_MAX_TAPS];
  int32_t wz = x->za[x->za_row ? m : 0] - x->wshift, xz = x->zb[0] + (u8 ? 128 : 0);
  for (int64_t t = 0; t < KH * KW; t++)
    wv_all[t] = (x->w_dt == LADLE_UINT8 ? (int32_t)x->w[m * KH * KW + t] : (int32_t)(int8_t)x->w[m * KH * KW + t]) - wz;
  int32_t bias = x->bias ? x->bias[m] : 0;
  float mul = x->mrow ? x->mrow[m] : x->mul;
  size_t yo = (size_t)((n * x->M + m) * OH * OW);
  int32_t acc[DW_CHUNK];
  for (int64_t c0 = 0; c0 < OW; c0 += DW_CHUNK) {
    int64_t cn = OW - c0 < DW_CHUNK ? OW - c0 : DW_CHUNK;
    for (int64_t kw = 0; kw < KW; kw++) { /* column c0 + t reads iw = base + t*sw; keep 0 <= iw < W */
      base[kw] = c0 * sw + kw * dwl - pw;
      lo[kw] = base[kw] >= 0 ? 0 : (-base[kw] + sw - 1) / sw;
      hi[kw] = base[kw] >= W ? 0 : (W - base[kw] + sw - 1) / sw;
      hi[kw] = hi[kw] < cn ? hi[kw] : cn;
    }
    for (int64_t oh = 0; oh < OH; oh++) {
      for (int64_t t = 0; t < cn; t++) acc[t] = bias;
      for (int64_t kh = 0; kh < KH; kh++) {
        int64_t ih = oh * sh + kh * dh - ph;
        if (ih < 0 || ih >= H) continue;
        const uint8_t *row = xc + ih * W;
        for (int64_t kw = 0; kw < KW; kw++) {
          int32_t wv = wv_all[kh * KW + kw];
          if (!wv || hi[kw] <= lo[kw]) continue;
          if (vec)
            dw_row_vec(acc, row, u8, base[kw], lo[kw], hi[kw], sw, xz, wv);
          else
            dw_row_plain(acc, row, u8, base[kw], lo[kw], hi[kw], sw, xz, wv);
        }
      }
      size_t o = yo + (size_t)(oh * OW + c0);
      if (x->dw_vec)
        dw_store_vec(x, acc, cn, o, mul);
      else
        dw_store_plain(x, acc, cn, o, mul);
    }
  }
}

/* --- implicit convolution over an NHWC copy ---------------------------------------------------
 * For 2-D (and 1-D) convolutions that are not 1×1 the im2col matrix is K/C times the input; here
 * it is never built. Each (image, group) input is copied once as NHWC, padded with the zero point
 * and with channels rounded up to 4: a VNNI group of 4 k values is then 4 consecutive channels at
 * one pixel, and the A operand is the copy itself, read where it lies: row = output pixel (its
 * window's corner), k group = (tap, 4 channels) at a fixed offset from it. B is the weights
 * packed in the same (tap, channel) order, once at init. The roles are swapped compared with the
 * im2col path (x is A, w is B), so the output tile (pixels × channels) is stored transposed.
 *
 * The correction terms: za = x's zero point (scalar), zb = w's zero point per output channel,
 * colsum(B') per channel (init), rowsum(A') per output pixel = the window sum of the channel-
 * summed copy, computed only when some weight zero point is not 0 after the shift. */

typedef struct nhwc_ctx {
  const win_geom *g;
  int64_t N, G, Cg, Cgp, Mg, M, C, taps, kp;
  int64_t Hp, Wp, H, W, OH, OW, sh, sw, dh, dw, KH, KW;
  const uint8_t *x;
  uint8_t flip;       /* 0x80 for int8 x: A must be uint8 */
  uint8_t pad;        /* the shifted zero point */
  uint8_t *xp;        /* N·G copies of Hp × Wp × Cgp */
  int32_t *rs;        /* N·G × OH·OW window sums, or NULL when every zb is 0 */
  int32_t *plane;     /* N·G × Hp·Wp channel sums (scratch for rs) */
  const int64_t *koff;
  const int8_t *bp;   /* packed weights of group 0 */
  const int32_t *cs;
  int32_t za;
  const int32_t *zb;  /* per output channel (M), shifted */
  const int32_t *bias;
  const float *mcol;  /* per output channel (M), or NULL */
  int out_dt;
  int32_t yzp;
  void *y;
  bool vnni;
} nhwc_ctx;

#define NHWC_ROWS 64 /* output pixels per task */

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl")
/* Row of four channel planes (src, src + cstride, ...) into NHWC pixels (stride cgp bytes): 16
 * pixels a step, interleaved into 16 dwords and scattered. */
static void nhwc_row4(uint8_t *dst, const uint8_t *src, int64_t cstride, int64_t w, int64_t cgp, uint8_t flip) {
  __m128i fl = _mm_set1_epi8((char)flip);
  __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                   _mm512_set1_epi32((int32_t)cgp));
  for (int64_t iw = 0; iw < w; iw += 16) {
    int cnt = (int)(w - iw < 16 ? w - iw : 16);
    __mmask16 m = (__mmask16)((1u << cnt) - 1u);
    __m128i v[QK];
    for (int t = 0; t < QK; t++) v[t] = _mm_xor_si128(_mm_maskz_loadu_epi8(m, src + t * cstride + iw), fl);
    __m128i t0 = _mm_unpacklo_epi8(v[0], v[1]), t1 = _mm_unpackhi_epi8(v[0], v[1]);
    __m128i t2 = _mm_unpacklo_epi8(v[2], v[3]), t3 = _mm_unpackhi_epi8(v[2], v[3]);
    __m512i o = _mm512_castsi128_si512(_mm_unpacklo_epi16(t0, t2));
    o = _mm512_inserti32x4(o, _mm_unpackhi_epi16(t0, t2), 1);
    o = _mm512_inserti32x4(o, _mm_unpacklo_epi16(t1, t3), 2);
    o = _mm512_inserti32x4(o, _mm_unpackhi_epi16(t1, t3), 3);
    _mm512_mask_i32scatter_epi32(dst + iw * cgp, m, idx, o, 1);
  }
}
#pragma GCC pop_options

/* Copy (and channel sums) of image/group ng. */
static void nhwc_prep(void *arg, int64_t ng) {
  const nhwc_ctx *x = arg;
  int64_t n = ng / x->G, g = ng % x->G, pb0 = x->g->nsp == 2 ? x->g->pb[0] : 0, pb1 = x->g->pb[x->g->nsp - 1];
  uint8_t *xp = x->xp + ng * x->Hp * x->Wp * x->Cgp;
  for (int64_t p = 0; p < x->Hp * x->Wp; p++) {
    memset(xp + p * x->Cgp, x->pad, (size_t)x->Cg);
    memset(xp + p * x->Cgp + x->Cg, 0, (size_t)(x->Cgp - x->Cg));
  }
  const uint8_t *src = x->x + ((n * x->C) + g * x->Cg) * x->H * x->W;
  int64_t c0 = 0;
  if (x->vnni) { /* four channels at a time, 16 pixels a step */
    c0 = x->Cg / QK * QK;
    for (int64_t c = 0; c < c0; c += QK)
      for (int64_t ih = 0; ih < x->H; ih++)
        nhwc_row4(xp + ((ih + pb0) * x->Wp + pb1) * x->Cgp + c, src + (c * x->H + ih) * x->W, x->H * x->W, x->W,
                  x->Cgp, x->flip);
  }
  for (int64_t c = c0; c < x->Cg; c++) {
    for (int64_t ih = 0; ih < x->H; ih++) {
      uint8_t *d = xp + ((ih + pb0) * x->Wp + pb1) * x->Cgp + c;
      const uint8_t *s = src + (c * x->H + ih) * x->W;
      for (int64_t iw = 0; iw < x->W; iw++) d[iw * x->Cgp] = (uint8_t)(s[iw] ^ x->flip);
    }
  }
  if (!x->rs) return;
  int32_t *pl = x->plane + ng * x->Hp * x->Wp, *rs = x->rs + ng * x->OH * x->OW;
  for (int64_t p = 0; p < x->Hp * x->Wp; p++) {
    uint32_t s = 0;
    for (int64_t c = 0; c < x->Cg; c++) s += xp[p * x->Cgp + c];
    pl[p] = (int32_t)s;
  }
  for (int64_t oh = 0; oh < x->OH; oh++)
    for (int64_t ow = 0; ow < x->OW; ow++) {
      uint32_t s = 0;
      for (int64_t kh = 0; kh < x->KH; kh++)
        for (int64_t kw = 0; kw < x->KW; kw++)
          s += (uint32_t)pl[(oh * x->sh + kh * x->dh) * x->Wp + ow * x->sw + kw * x->dw];
      rs[oh * x->OW + ow] = (int32_t)s;
    }
}

/* The corrected (and requantized) value of raw sum v at pixel row i, channel column j. */
static inline int32_t nhwc_value(const nhwc_ctx *x, const int32_t *rs, int64_t g, int64_t i, int64_t j, int32_t v) {
  int64_t m = g * x->Mg + j;
  uint32_t rr = rs ? (uint32_t)rs[i] - (uint32_t)(x->taps * x->Cg) * (uint32_t)x->za : 0;
  uint32_t acc = (uint32_t)v - (uint32_t)x->zb[m] * rr - (uint32_t)x->za * (uint32_t)x->cs[g * round_up(x->Mg, QNR) + j];
  if (x->bias) acc += (uint32_t)x->bias[m];
  if (x->out_dt == LADLE_INT32) return (int32_t)acc;
  return q_round((float)(int32_t)acc * x->mcol[m], (float)x->yzp, (float)q_lo(x->out_dt), (float)q_hi(x->out_dt));
}

/* Stores tile t (mr pixel rows × nc channels, row stride 32) transposed into y. */
static void nhwc_store(const nhwc_ctx *x, int64_t ng, const int32_t *t, int64_t i0, int mr, int64_t j0, int nc) {
  int64_t n = ng / x->G, g = ng % x->G, osp = x->OH * x->OW;
  size_t base = (size_t)((n * x->M + g * x->Mg + j0) * osp + i0);
  for (int c = 0; c < nc; c++) {
    size_t o = base + (size_t)(c * osp);
    if (x->out_dt == LADLE_INT32) {
      for (int r = 0; r < mr; r++) ((int32_t *)x->y)[o + (size_t)r] = t[r * 2 * QNR + c];
    } else {
      for (int r = 0; r < mr; r++) ((uint8_t *)x->y)[o + (size_t)r] = (uint8_t)t[r * 2 * QNR + c];
    }
  }
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

/* MR output pixels (A rows at rows[r], k group g at rows[r] + koff[g]) × two panels. */
static inline __attribute__((always_inline)) void nhwc_tile_body(const nhwc_ctx *x, const uint8_t *const *rows,
                                                                const int MR, const int8_t *b0, const int8_t *b1,
                                                                __m512i *o0, __m512i *o1) {
  __m512i acc0[QMR], acc1[QMR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
  int64_t c4n = x->Cgp / QK;
  const int8_t *p0 = b0, *p1 = b1;
  for (int64_t tap = 0; tap < x->taps; tap++) {
    int64_t off = x->koff[tap];
    for (int64_t c4 = 0; c4 < c4n; c4++, p0 += QNR * QK, p1 += QNR * QK) {
      __m512i v0 = _mm512_loadu_si512(p0), v1 = _mm512_loadu_si512(p1);
#pragma GCC unroll 8
      for (int r = 0; r < MR; r++) {
        int32_t w;
        memcpy(&w, rows[r] + off + c4 * QK, sizeof w);
        __m512i av = _mm512_set1_epi32(w);
        acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, v0);
        acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, v1);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    o0[r] = acc0[r];
    o1[r] = acc1[r];
  }
}

/* Raw sums of a tile into t (row stride 32), then corrected in vectors. */
static void nhwc_tile_vnni(const nhwc_ctx *x, int64_t ng, const uint8_t *const *rows, int mr, const int8_t *b0,
                           const int8_t *b1, int64_t i0, int64_t j0, int nc, int32_t *t) {
  __m512i a0[QMR], a1[QMR];
  switch (mr) {
    case 8: nhwc_tile_body(x, rows, 8, b0, b1, a0, a1); break;
    case 7: nhwc_tile_body(x, rows, 7, b0, b1, a0, a1); break;
    case 6: nhwc_tile_body(x, rows, 6, b0, b1, a0, a1); break;
    case 5: nhwc_tile_body(x, rows, 5, b0, b1, a0, a1); break;
    case 4: nhwc_tile_body(x, rows, 4, b0, b1, a0, a1); break;
    case 3: nhwc_tile_body(x, rows, 3, b0, b1, a0, a1); break;
    case 2: nhwc_tile_body(x, rows, 2, b0, b1, a0, a1); break;
    default: nhwc_tile_body(x, rows, 1, b0, b1, a0, a1); break;
  }
  int64_t g = ng % x->G, m0 = g * x->Mg + j0, m16 = round_up(x->Mg, QNR);
  const int32_t *rs = x->rs ? x->rs + ng * x->OH * x->OW : NULL;
  __m512i zb[2], cs[2], bias[2];
  __m512 mul[2];
  for (int h = 0; h < 2; h++) {
    int cnt = nc - h * QNR;
    cnt = cnt < 0 ? 0 : cnt > QNR ? QNR : cnt;
    __mmask16 m = (__mmask16)((1u << cnt) - 1u);
    zb[h] = _mm512_maskz_loadu_epi32(m, x->zb + m0 + h * QNR);
    cs[h] = _mm512_maskz_loadu_epi32(m, x->cs + g * m16 + j0 + h * QNR);
    cs[h] = _mm512_mullo_epi32(cs[h], _mm512_set1_epi32(x->za));
    bias[h] = x->bias ? _mm512_maskz_loadu_epi32(m, x->bias + m0 + h * QNR) : _mm512_setzero_si512();
    mul[h] = x->mcol ? _mm512_maskz_loadu_ps(m, x->mcol + m0 + h * QNR) : _mm512_setzero_ps();
  }
  uint32_t kza = (uint32_t)(x->taps * x->Cg) * (uint32_t)x->za;
  bool fast = mr == QMR && nc == 2 * QNR && x->out_dt != LADLE_INT32;
  __m256i rowb[QMR];
  for (int r = 0; r < mr; r++) {
    __m512i rr = _mm512_set1_epi32(rs ? (int32_t)((uint32_t)rs[i0 + r] - kza) : 0);
    for (int h = 0; h < 2; h++) {
      __m512i acc = h ? a1[r] : a0[r];
      acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zb[h], rr));
      acc = _mm512_add_epi32(_mm512_sub_epi32(acc, cs[h]), bias[h]);
      if (x->out_dt != LADLE_INT32) {
        __m512 f = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), mul[h]),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        f = _mm512_add_ps(f, _mm512_set1_ps((float)x->yzp));
        f = _mm512_max_ps(f, _mm512_set1_ps((float)q_lo(x->out_dt)));
        f = _mm512_min_ps(f, _mm512_set1_ps((float)q_hi(x->out_dt)));
        acc = _mm512_cvtps_epi32(f);
      }
      if (fast)
        rowb[r] = h ? _mm256_inserti128_si256(rowb[r], _mm512_cvtepi32_epi8(acc), 1)
                    : _mm256_castsi128_si256(_mm512_cvtepi32_epi8(acc));
      else
        _mm512_storeu_si512(t + r * 2 * QNR + h * QNR, acc);
    }
  }
  if (!fast) return;
  /* 8 pixels × 32 channels of bytes -> 32 runs of 8 pixels: three rounds of unpacks leave channel
   * c's 8 bytes as one qword (c, c+1 in the low lane, c+16, c+17 in the high one) */
  __m256i a[8], b[8], d[8];
  for (int k = 0; k < 4; k++) {
    a[2 * k] = _mm256_unpacklo_epi8(rowb[2 * k], rowb[2 * k + 1]);
    a[2 * k + 1] = _mm256_unpackhi_epi8(rowb[2 * k], rowb[2 * k + 1]);
  }
  for (int k = 0; k < 2; k++) {
    b[4 * k] = _mm256_unpacklo_epi16(a[4 * k], a[4 * k + 2]);
    b[4 * k + 1] = _mm256_unpackhi_epi16(a[4 * k], a[4 * k + 2]);
    b[4 * k + 2] = _mm256_unpacklo_epi16(a[4 * k + 1], a[4 * k + 3]);
    b[4 * k + 3] = _mm256_unpackhi_epi16(a[4 * k + 1], a[4 * k + 3]);
  }
  for (int k = 0; k < 4; k++) {
    d[2 * k] = _mm256_unpacklo_epi32(b[k], b[k + 4]);
    d[2 * k + 1] = _mm256_unpackhi_epi32(b[k], b[k + 4]);
  }
  int64_t n = ng / x->G, osp = x->OH * x->OW;
  uint8_t *y = (uint8_t *)x->y + (n * x->M + m0) * osp + i0;
  for (int k = 0; k < 8; k++) {
    int64_t c = 2 * k;
    uint64_t q0 = (uint64_t)_mm256_extract_epi64(d[k], 0), q1 = (uint64_t)_mm256_extract_epi64(d[k], 1);
    uint64_t q2 = (uint64_t)_mm256_extract_epi64(d[k], 2), q3 = (uint64_t)_mm256_extract_epi64(d[k], 3);
    memcpy(y + c * osp, &q0, 8);
    memcpy(y + (c + 1) * osp, &q1, 8);
    memcpy(y + (c + 16) * osp, &q2, 8);
    memcpy(y + (c + 17) * osp, &q3, 8);
  }
}
#pragma GCC pop_options

/* Plain tile: raw sums, then corrected one by one. */
static void nhwc_tile_plain(const nhwc_ctx *x, int64_t ng, const uint8_t *const *rows, int mr, const int8_t *b0,
                            int64_t i0, int64_t j0, int nc, int32_t *t) {
  int64_t g = ng % x->G, c4n = x->Cgp / QK;
  const int32_t *rs = x->rs ? x->rs + ng * x->OH * x->OW : NULL;
  for (int r = 0; r < mr; r++)
    for (int c = 0; c < nc; c++) {
      const int8_t *bc = b0 + (c / QNR) * x->kp * QNR + (c % QNR) * QK;
      uint32_t s = 0;
      for (int64_t tap = 0; tap < x->taps; tap++)
        for (int64_t c4 = 0; c4 < c4n; c4++) {
          const uint8_t *a = rows[r] + x->koff[tap] + c4 * QK;
          const int8_t *b = bc + (tap * c4n + c4) * QNR * QK;
          for (int u = 0; u < QK; u++) s += (uint32_t)((int32_t)a[u] * b[u]);
        }
      t[r * 2 * QNR + c] = nhwc_value(x, rs, g, i0 + r, j0 + c, (int32_t)s);
    }
}

static void nhwc_task(void *arg, int64_t ti) {
  const nhwc_ctx *x = arg;
  int64_t osp = x->OH * x->OW, nb = (osp + NHWC_ROWS - 1) / NHWC_ROWS;
  int64_t ng = ti / nb, p0 = (ti % nb) * NHWC_ROWS, p1 = p0 + NHWC_ROWS < osp ? p0 + NHWC_ROWS : osp;
  int64_t g = ng % x->G;
  const uint8_t *xp = x->xp + ng * x->Hp * x->Wp * x->Cgp;
  const int8_t *bg = x->bp + g * (int64_t)packed_size(x->kp, x->Mg);
  int32_t t[QMR * 2 * QNR];
  for (int64_t j0 = 0; j0 < x->Mg; j0 += 2 * QNR) {
    int nc = (int)(x->Mg - j0 < 2 * QNR ? x->Mg - j0 : 2 * QNR);
    const int8_t *b0 = bg + (j0 / QNR) * x->kp * QNR, *b1 = nc > QNR ? b0 + x->kp * QNR : b0;
    for (int64_t i0 = p0; i0 < p1; i0 += QMR) {
      int mr = (int)(p1 - i0 < QMR ? p1 - i0 : QMR);
      const uint8_t *rows[QMR];
      for (int r = 0; r < mr; r++) {
        int64_t oh = (i0 + r) / x->OW, ow = (i0 + r) % x->OW;
        rows[r] = xp + ((oh * x->sh) * x->Wp + ow * x->sw) * x->Cgp;
      }
      if (x->vnni) {
        t[0] = 0;
        nhwc_tile_vnni(x, ng, rows, mr, b0, b1, i0, j0, nc, t);
        if (mr == QMR && nc == 2 * QNR && x->out_dt != LADLE_INT32) continue; /* stored */
      } else {
        nhwc_tile_plain(x, ng, rows, mr, b0, i0, j0, nc, t);
      }
      nhwc_store(x, ng, t, i0, mr, j0, nc);
    }
  }
}

/* The implicit path of run_qconv for x (geometry, zero points, multipliers already set); zbw:
 * the weight zero points shifted for w as the B operand. */
static ladle_status run_nhwc(op_ctx *c, const qconv_ctx *q, const ladle_tensor *w, const int32_t *zbw) {
  const win_geom *g = &q->g;
  bool two = g->nsp == 2;
  nhwc_ctx x;
  memset(&x, 0, sizeof x);
  x.g = g;
  x.N = q->N;
  x.G = q->G;
  x.C = q->C;
  x.M = q->M;
  x.Cg = q->Cg;
  x.Mg = q->Mg;
  x.Cgp = round_up(x.Cg, QK);
  x.taps = q->ksp;
  x.kp = x.taps * x.Cgp;
  x.H = two ? g->in[0] : 1;
  x.W = g->in[two];
  x.OH = two ? g->out[0] : 1;
  x.OW = g->out[two];
  x.KH = two ? g->k[0] : 1;
  x.KW = g->k[two];
  x.sh = two ? g->s[0] : 1;
  x.sw = g->s[two];
  x.dh = two ? g->d[0] : 1;
  x.dw = g->d[two];
  /* rows reach (OH-1)·sh + (KH-1)·dh: inside H + pads by the output-size rule */
  x.Hp = x.H + (two ? g->pb[0] + g->pe[0] : 0);
  x.Wp = x.W + g->pb[two] + g->pe[two];
  x.x = q->x;
  x.flip = q->x_dt == LADLE_INT8 ? 0x80 : 0;
  x.za = (int32_t)(q->xpad ^ x.flip) & 0xff; /* the zero point as A' stores it */
  x.pad = (uint8_t)x.za;
  x.zb = zbw;
  x.bias = q->bias;
  x.mcol = q->mrow;
  x.out_dt = q->out_dt;
  x.yzp = q->yzp;
  x.y = q->y;
  x.vnni = have_vnni();
  bool need_rs = false;
  for (int64_t m = 0; m < x.M; m++) need_rs |= zbw[m] != 0;
  int64_t ng = x.N * x.G, plane = x.Hp * x.Wp, osp = x.OH * x.OW, m16 = round_up(x.Mg, QNR);
  const qconv_state *qs = op_node(c)->state;
  const nhwc_w *nw = qs && qs->nw.bp ? &qs->nw : NULL;
  if (nw && (nw->G != x.G || nw->Mg != x.Mg || nw->Cg != x.Cg || nw->taps != x.taps || nw->dt != w->dtype)) nw = NULL;
  size_t sz_xp = (size_t)(ng * plane * x.Cgp), off_rs = round_up((int64_t)sz_xp, 64);
  size_t sz_rs = need_rs ? sizeof(int32_t) * (size_t)(ng * (osp + plane)) : 0;
  size_t off_koff = off_rs + round_up((int64_t)sz_rs, 64), total = off_koff + sizeof(int64_t) * (size_t)x.taps;
  char *s0 = op_scratch(c, 0, total);
  char *s1 = nw ? NULL : op_scratch(c, 1, round_up((int64_t)nhwc_bp_size(x.G, x.kp, x.Mg), 64) +
                                              sizeof(int32_t) * (size_t)(x.G * m16));
  if (!s0 || (!nw && !s1)) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the integer convolution");
  x.xp = (uint8_t *)s0;
  if (need_rs) {
    x.rs = (int32_t *)(s0 + off_rs);
    x.plane = x.rs + ng * osp;
  }
  int64_t *koff = (int64_t *)(s0 + off_koff);
  for (int64_t t = 0; t < x.taps; t++)
    koff[t] = ((t / x.KW) * x.dh * x.Wp + (t % x.KW) * x.dw) * x.Cgp;
  x.koff = koff;
  if (nw) {
    x.bp = nw->bp;
    x.cs = nw->cs;
  } else {
    int8_t *bp = (int8_t *)s1;
    int32_t *cs = (int32_t *)(s1 + round_up((int64_t)nhwc_bp_size(x.G, x.kp, x.Mg), 64));
    pack_w_nhwc(w->data, w->dtype, x.G, x.Mg, x.Cg, x.taps, bp, cs);
    x.bp = bp;
    x.cs = cs;
  }
  bool par = ng * plane * x.Cgp >= 65536;
  if (par && ng > 1)
    tpool_run(op_pool(c), ng, nhwc_prep, &x);
  else
    for (int64_t i = 0; i < ng; i++) nhwc_prep(&x, i);
  int64_t tasks = ng * ((osp + NHWC_ROWS - 1) / NHWC_ROWS);
  if (tasks > 1 && osp * x.kp * x.Mg * ng >= 65536)
    tpool_run(op_pool(c), tasks, nhwc_task, &x);
  else
    for (int64_t i = 0; i < tasks; i++) nhwc_task(&x, i);
  return LADLE_OK;
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

  /* shared: weight zero points shifted for the im2col engine (w is A) and for the implicit one
   * (w is B), requantization multipliers */
  int32_t wshift = w->dtype == LADLE_INT8 ? 128 : 0, xzv = xz ? qget(xz, 0) : 0;
  char *s3 = op_scratch(c, 3, (sizeof(int32_t) * 3 + sizeof(float)) * (size_t)(x.M + 2));
  if (!s3) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the integer convolution");
  int32_t *za = (int32_t *)s3, *zb = za + x.M, *zbw = zb + 2;
  float *mr = (float *)(zbw + x.M);
  x.za_row = wz && ladle_tensor_numel(wz) > 1;
  for (int64_t i = 0; i < x.M; i++) {
    int32_t v = wz ? qget(wz, x.za_row ? i : 0) : 0;
    za[i] = v + wshift;
    zbw[i] = v - (w->dtype == LADLE_UINT8 ? 128 : 0);
  }
  zb[0] = xzv + (xt->dtype == LADLE_UINT8 ? -128 : 0);
  x.za = za;
  x.zb = zb;
  x.xpad = (uint8_t)xzv;
  x.x = xt->data;
  x.x_dt = xt->dtype;
  x.bias = bias ? bias->data : NULL;
  x.y = y->data;
  x.y_esz = ladle_dtype_size(out_dt);
  x.out_dt = out_dt;
  x.mul = 1.0f;
  if (qlinear) {
    float xsv = *(const float *)xs->data, ysv = *(const float *)ys->data;
    const float *wsv = ws->data;
    if (!(ysv != 0.0f) || !isfinite(ysv))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale = %g is not a finite non-zero value", (double)ysv);
    int64_t nws = ladle_tensor_numel(ws);
    for (int64_t i = 0; i < x.M; i++) mr[i] = xsv * wsv[nws == 1 ? 0 : i] / ysv;
    x.mrow = mr;
    x.yzp = qget(yz, 0);
  }
  x.direct = true;
  for (int d = 0; d < x.g.nsp; d++)
    if (x.g.k[d] != 1 || x.g.s[d] != 1 || x.g.pb[d] || x.g.pe[d]) x.direct = false;

  if (x.Cg == 1 && x.g.nsp <= 2 && x.ksp <= DW_MAX_TAPS) { /* depthwise */
    x.w = w->data;
    x.w_dt = w->dtype;
    x.wshift = wshift;
    x.dw_vec = have_avx512bw();
    int64_t tasks = x.N * x.M;
    if (tasks > 1 && x.N * x.M * x.out_sp * x.ksp >= 65536)
      tpool_run(op_pool(c), tasks, dw_task, &x);
    else
      for (int64_t i = 0; i < tasks; i++) dw_task(&x, i);
    return LADLE_OK;
  }
  /* with few channels per group the transposed stores outweigh the im2col copy it saves */
  if (!x.direct && x.g.nsp <= 2 && x.Cg >= NHWC_MIN_CG) return run_nhwc(c, &x, w, zbw);

  int64_t kp = round_up(K, QK), n = x.out_sp, n16 = round_up(n, QNR), n_prod = x.N * x.G;
  const qconv_state *qs = nd->state;
  if (qs && (!qs->a || qs->m != x.M || qs->k != K || qs->dt != w->dtype)) qs = NULL;
  size_t sz_a = qs ? 0 : (size_t)(x.M * kp), off_rs = round_up((int64_t)sz_a, 64);
  char *s0 = op_scratch(c, 0, off_rs + sizeof(int32_t) * (size_t)x.M);
  size_t sz_bp = packed_size(kp, n) * (size_t)n_prod;
  char *s1 = op_scratch(c, 1, round_up((int64_t)sz_bp, 64) + sizeof(int32_t) * (size_t)(n16 * n_prod));
  krow *kr = op_scratch(c, 2, sizeof(krow) * (size_t)K);
  if (!s0 || !s1 || !kr) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the integer convolution");
  for (int64_t k = 0; k < K; k++) {
    int64_t tap = k % x.ksp;
    kr[k].plane = (k / x.ksp) * x.in_sp;
    for (int d = x.g.nsp - 1; d >= 0; d--) {
      kr[k].ko[d] = tap % x.g.k[d];
      tap /= x.g.k[d];
    }
  }
  x.krows = kr;
  if (qs) {
    x.a = qs->a;
    x.rs = qs->rs;
  } else {
    prep_a(w->data, w->dtype, x.M, K, K, (uint8_t *)s0, (int32_t *)(s0 + off_rs));
    x.a = (const uint8_t *)s0;
    x.rs = (const int32_t *)(s0 + off_rs);
  }
  x.bp = (int8_t *)s1;
  x.cs = (int32_t *)(s1 + round_up((int64_t)sz_bp, 64));
  qjob jb = {0};
  jb.m = x.Mg;
  jb.n = n;
  jb.k = K;
  jb.n_prod = n_prod;
  jb.out_dt = out_dt;
  jb.mul = 1.0f;
  jb.yzp = x.yzp;
  jb.get = qconv_get;
  jb.pack = qconv_pack;
  jb.ud = &x;
  q_run(c, &jb);
  return LADLE_OK;
}

static ladle_status run_convinteger(op_ctx *c) { return run_qconv(c, false); }
static ladle_status run_qlinearconv(op_ctx *c) { return run_qconv(c, true); }

/* --- com.microsoft quantized ops --------------------------------------------------------------
 * ONNX Runtime's quantizer (quantize_static, QOperator format) writes these next to QLinearConv
 * and QLinearMatMul: residual adds, multiplies, pools, concatenations and activations on
 * quantized tensors. Each follows ORT's arithmetic: scale ratios folded first, products rounded
 * half to even, saturation (QLinearAdd: round((a-za)·sa/sc + (b-zb)·sb/sc) + zc; QLinearMul:
 * round((a-za)(b-zb)·sa·sb/sc) + zc; QLinearGlobalAveragePool: round((Σx - n·zx)·sx/(sy·n)) + zy;
 * the activations and QLinearConcat map every one of the 256 input values through a table). */
#define MS_DOMAIN "com.microsoft"

/* The scale (float) and zero point (dtype dt, optional) at inputs si, si + 1 as per-tensor values. */
static ladle_status q_params(op_ctx *c, int si, int dt, const char *what, float *scale, int32_t *zp) {
  const ladle_tensor *s = op_in(c, si), *z = op_in(c, si + 1);
  ladle_status st;
  if (!s) return op_fail(c, LADLE_ERR_INVALID, "%s scale (input %d) is required", what, si);
  if ((st = check_scale(c, s, what, 0)) || (st = check_zp(c, z, dt, what, 0))) return st;
  *scale = *(const float *)s->data;
  if (!(*scale != 0.0f) || !isfinite(*scale))
    return op_fail(c, LADLE_ERR_INVALID, "%s scale %g is not a finite non-zero value", what, (double)*scale);
  *zp = z ? qget(z, 0) : 0;
  return LADLE_OK;
}

/* Element i of an 8-bit tensor. */
static inline int32_t q8_at(const void *p, int dt, int64_t i) {
  return dt == LADLE_UINT8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

/* QLinearAdd (mul = false) and QLinearMul: numpy broadcasting of A and B. */
static ladle_status run_qlinear_binary(op_ctx *c, bool mul) {
  const ladle_tensor *a, *b;
  ladle_status st;
  float sa, sb, sc;
  int32_t za, zb, zc;
  if ((st = need(c, 0, "A", &a)) || (st = need(c, 3, "B", &b))) return st;
  if (!is_q8(a->dtype) || b->dtype != a->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "A and B must both be uint8 or int8, got %s and %s", ladle_dtype_name(a->dtype),
                   ladle_dtype_name(b->dtype));
  int dt = a->dtype;
  if ((st = q_params(c, 1, dt, "A", &sa, &za)) || (st = q_params(c, 4, dt, "B", &sb, &zb)) ||
      (st = q_params(c, 6, dt, "C", &sc, &zc)))
    return st;
  int64_t dims[LADLE_MAX_DIMS], sta[LADLE_MAX_DIMS], stb[LADLE_MAX_DIMS];
  int nd;
  if (!shape_broadcast(a->ndim, a->dims, b->ndim, b->dims, &nd, dims))
    return op_fail(c, LADLE_ERR_SHAPE, "A and B do not broadcast");
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, nd, dims, &y))) return st;
  shape_broadcast_strides(a->ndim, a->dims, nd, dims, sta);
  shape_broadcast_strides(b->ndim, b->dims, nd, dims, stb);
  float ra = sa / sc, rb = sb / sc, rm = sa * sb / sc, lo = (float)q_lo(dt), hi = (float)q_hi(dt), fz = (float)zc;
  int64_t n = ladle_tensor_numel(y), idx[LADLE_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (int64_t i = 0; i < n; i++) {
    float va = (float)(q8_at(a->data, dt, ia) - za), vb = (float)(q8_at(b->data, dt, ib) - zb);
    q_store8(y->data, dt, i, q_round(mul ? va * vb * rm : va * ra + vb * rb, fz, lo, hi));
    for (int d = nd - 1; d >= 0; d--) { /* odometer over the output, offsets follow */
      ia += sta[d];
      ib += stb[d];
      if (++idx[d] < dims[d]) break;
      ia -= sta[d] * dims[d];
      ib -= stb[d] * dims[d];
      idx[d] = 0;
    }
  }
  return LADLE_OK;
}

static ladle_status run_qlinear_add(op_ctx *c) { return run_qlinear_binary(c, false); }
static ladle_status run_qlinear_mul(op_ctx *c) { return run_qlinear_binary(c, true); }

/* table[v] for every stored value v (index v + 128 for int8): quantize(f(dequantize(v))). */
static void q_table(int dt, float sx, int32_t zx, float sy, int32_t zy, int fn, float alpha, uint8_t table[256]) {
  float lo = (float)q_lo(dt), hi = (float)q_hi(dt);
  for (int i = 0; i < 256; i++) {
    int32_t q = dt == LADLE_UINT8 ? i : i - 128;
    float x = (float)(q - zx) * sx, v;
    if (fn == 1)
      v = 1.0f / (1.0f + expf(-x));
    else if (fn == 2)
      v = x >= 0 ? x : x * alpha;
    else
      v = x;
    table[i] = (uint8_t)q_round(v / sy, (float)zy, lo, hi);
  }
}

static void q_apply_table(const ladle_tensor *x, void *y, const uint8_t table[256]) {
  int64_t n = ladle_tensor_numel(x);
  const uint8_t *xp = x->data;
  uint8_t *yp = y, off = x->dtype == LADLE_UINT8 ? 0 : 0x80;
  for (int64_t i = 0; i < n; i++) yp[i] = table[(uint8_t)(xp[i] ^ off)];
}

/* QLinearSigmoid (fn 1) and QLinearLeakyRelu (fn 2): X, X_scale, X_zp, Y_scale, Y_zp. */
static ladle_status run_qlinear_unary(op_ctx *c, int fn) {
  const ladle_tensor *x;
  ladle_status st;
  float sx, sy;
  int32_t zx, zy;
  if ((st = need(c, 0, "X", &x))) return st;
  if (!is_q8(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be uint8 or int8, got %s", ladle_dtype_name(x->dtype));
  if ((st = q_params(c, 1, x->dtype, "X", &sx, &zx)) || (st = q_params(c, 3, x->dtype, "Y", &sy, &zy))) return st;
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  uint8_t table[256];
  q_table(x->dtype, sx, zx, sy, zy, fn, node_attr_float(op_node(c), "alpha", 0.01f), table);
  q_apply_table(x, y->data, table);
  return LADLE_OK;
}

static ladle_status run_qlinear_sigmoid(op_ctx *c) { return run_qlinear_unary(c, 1); }
static ladle_status run_qlinear_leakyrelu(op_ctx *c) { return run_qlinear_unary(c, 2); }

/* QLinearGlobalAveragePool: X [N, C, spatial...] (or channels_last [N, spatial..., C]). */
static ladle_status run_qlinear_gap(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  float sx, sy;
  int32_t zx, zy;
  if ((st = need(c, 0, "X", &x))) return st;
  if (!is_q8(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be uint8 or int8, got %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 3) return op_fail(c, LADLE_ERR_SHAPE, "X must have rank >= 3, got %d", x->ndim);
  if ((st = q_params(c, 1, x->dtype, "x", &sx, &zx)) || (st = q_params(c, 3, x->dtype, "y", &sy, &zy))) return st;
  bool last = node_attr_int(op_node(c), "channels_last", 0) != 0;
  int64_t dims[LADLE_MAX_DIMS], N = x->dims[0], C = last ? x->dims[x->ndim - 1] : x->dims[1];
  int64_t sp = shape_numel(x->ndim - 2, last ? x->dims + 1 : x->dims + 2);
  for (int d = 0; d < x->ndim; d++) dims[d] = 1;
  dims[0] = N;
  dims[last ? x->ndim - 1 : 1] = C;
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return st;
  if (sp == 0) return op_fail(c, LADLE_ERR_SHAPE, "X has an empty spatial extent");
  float scale = sx / (sy * (float)sp), lo = (float)q_lo(x->dtype), hi = (float)q_hi(x->dtype);
  for (int64_t n = 0; n < N; n++)
    for (int64_t ch = 0; ch < C; ch++) {
      int64_t sum = 0;
      for (int64_t p = 0; p < sp; p++)
        sum += q8_at(x->data, x->dtype, last ? (n * sp + p) * C + ch : (n * C + ch) * sp + p);
      sum -= (int64_t)zx * sp;
      q_store8(y->data, x->dtype, n * C + ch, q_round((float)sum * scale, (float)zy, lo, hi));
    }
  return LADLE_OK;
}

/* QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input; attr axis. */
static ladle_status run_qlinear_concat(op_ctx *c) {
  ladle_status st;
  int nin = op_n_in(c);
  if (nin < 5 || (nin - 2) % 3 != 0) return op_fail(c, LADLE_ERR_INVALID, "expected Y_scale, Y_zero_point and triples");
  const ladle_tensor *x0;
  if ((st = need(c, 2, "X", &x0))) return st;
  int dt = x0->dtype, r = x0->ndim;
  if (!is_q8(dt)) return op_fail(c, LADLE_ERR_DTYPE, "inputs must be uint8 or int8, got %s", ladle_dtype_name(dt));
  float sy;
  int32_t zy;
  if ((st = q_params(c, 0, dt, "Y", &sy, &zy))) return st;
  int64_t ax = node_attr_int(op_node(c), "axis", 0);
  if (ax < -r || ax >= r) return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, r);
  int axis = (int)(ax < 0 ? ax + r : ax);
  int64_t dims[LADLE_MAX_DIMS];
  memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)r);
  dims[axis] = 0;
  for (int i = 2; i < nin; i += 3) {
    const ladle_tensor *xi;
    if ((st = need(c, i, "X", &xi))) return st;
    if (xi->dtype != dt || xi->ndim != r) return op_fail(c, LADLE_ERR_SHAPE, "input %d differs in dtype or rank", i);
    for (int d = 0; d < r; d++)
      if (d != axis && xi->dims[d] != x0->dims[d]) return op_fail(c, LADLE_ERR_SHAPE, "input %d differs off the axis", i);
    dims[axis] += xi->dims[axis];
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, r, dims, &y))) return st;
  int64_t outer = shape_numel(axis, dims), inner = shape_numel(r - axis - 1, dims + axis + 1), done = 0;
  for (int i = 2; i < nin; i += 3) {
    const ladle_tensor *xi = op_in(c, i);
    float sx;
    int32_t zx;
    if ((st = q_params(c, i + 1, dt, "X", &sx, &zx))) return st;
    uint8_t table[256];
    bool same = sx == sy && zx == zy;
    if (!same) q_table(dt, sx, zx, sy, zy, 0, 0.0f, table);
    int64_t row = xi->dims[axis] * inner;
    uint8_t off = dt == LADLE_UINT8 ? 0 : 0x80;
    for (int64_t o = 0; o < outer; o++) {
      const uint8_t *s = (const uint8_t *)xi->data + o * row;
      uint8_t *d = (uint8_t *)y->data + o * dims[axis] * inner + done;
      if (same)
        memcpy(d, s, (size_t)row);
      else
        for (int64_t k = 0; k < row; k++) d[k] = table[(uint8_t)(s[k] ^ off)];
    }
    done += row;
  }
  return LADLE_OK;
}

/* QLinearAveragePool: AveragePool's attributes (count_include_pad, ceil_mode, channels_last
 * unsupported) on dequantized values, rounded into Y. */
static ladle_status run_qlinear_avgpool(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  float sx, sy;
  int32_t zx, zy;
  const node *nd = op_node(c);
  if ((st = need(c, 0, "X", &x))) return st;
  if (!is_q8(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be uint8 or int8, got %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 3) return op_fail(c, LADLE_ERR_SHAPE, "X must have rank >= 3, got %d", x->ndim);
  if (node_attr_int(nd, "channels_last", 0)) return op_fail(c, LADLE_ERR_UNSUPPORTED, "channels_last is not supported");
  if ((st = q_params(c, 1, x->dtype, "x", &sx, &zx)) || (st = q_params(c, 3, x->dtype, "y", &sy, &zy))) return st;
  win_geom g;
  g.nsp = x->ndim - 2;
  const int64_t *ks;
  if (node_attr_ints(nd, "kernel_shape", &ks) != g.nsp)
    return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", g.nsp);
  for (int d = 0; d < g.nsp; d++) {
    g.in[d] = x->dims[d + 2];
    g.k[d] = ks[d];
    if (ks[d] < 1) return op_fail(c, LADLE_ERR_INVALID, "kernel_shape[%d] = %lld", d, (long long)ks[d]);
  }
  char why[160];
  if (!win_geom_init(&g, nd, node_attr_int(nd, "ceil_mode", 0) != 0, why, sizeof why))
    return op_fail(c, LADLE_ERR_INVALID, "%s", why);
  bool incl = node_attr_int(nd, "count_include_pad", 0) != 0;
  int64_t dims[LADLE_MAX_DIMS];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (int d = 0; d < g.nsp; d++) dims[d + 2] = g.out[d];
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return st;
  int64_t planes = x->dims[0] * x->dims[1], isp = shape_numel(g.nsp, g.in), osp = shape_numel(g.nsp, g.out);
  int64_t taps = shape_numel(g.nsp, g.k);
  float lo = (float)q_lo(x->dtype), hi = (float)q_hi(x->dtype);
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t o = 0; o < osp; o++) {
      int64_t oc[WIN_MAX_SP], rem = o, sum = 0, cnt = 0, cnt_pad = 0;
      for (int d = g.nsp - 1; d >= 0; d--) {
        oc[d] = rem % g.out[d];
        rem /= g.out[d];
      }
      for (int64_t t = 0; t < taps; t++) {
        int64_t tr = t, off = 0;
        bool inside = true, in_pad = true; /* in_pad: inside input + pads (what count_include_pad counts) */
        for (int d = g.nsp - 1; d >= 0; d--) {
          int64_t kd = tr % g.k[d];
          tr /= g.k[d];
          int64_t ic = oc[d] * g.s[d] + kd * g.d[d] - g.pb[d];
          if (ic < 0 || ic >= g.in[d]) inside = false;
          if (ic < -g.pb[d] || ic >= g.in[d] + g.pe[d]) in_pad = false;
        }
        int64_t mul = 1;
        tr = t;
        for (int d = g.nsp - 1; d >= 0 && inside; d--) {
          int64_t kd = tr % g.k[d];
          tr /= g.k[d];
          off += (oc[d] * g.s[d] + kd * g.d[d] - g.pb[d]) * mul;
          mul *= g.in[d];
        }
        cnt_pad += in_pad;
        if (!inside) continue;
        sum += q8_at(x->data, x->dtype, pl * isp + off) - zx;
        cnt++;
      }
      int64_t div = incl ? cnt_pad : cnt;
      float v = div ? (float)sum * sx / (float)div : 0.0f;
      q_store8(y->data, x->dtype, pl * osp + o, q_round(v / sy, (float)zy, lo, hi));
    }
  return LADLE_OK;
}

const op_def ops_quant[] = {
    {"", "QuantizeLinear", 10, 18, run_quantize, NULL, NULL},
    {"", "DequantizeLinear", 10, 18, run_dequantize, NULL, NULL},
    {"", "DynamicQuantizeLinear", 11, 99, run_dynamic_quantize, NULL, NULL},
    {"", "MatMulInteger", 10, 99, run_matmulinteger, matmulinteger_init, mm_state_free},
    {"", "QLinearMatMul", 10, 20, run_qlinearmatmul, qlinearmatmul_init, mm_state_free},
    {"", "ConvInteger", 10, 99, run_convinteger, convinteger_init, qconv_state_free},
    {"", "QLinearConv", 10, 99, run_qlinearconv, qlinearconv_init, qconv_state_free},
    {MS_DOMAIN, "QGemm", 1, 99, run_qgemm, qgemm_init, mm_state_free},
    {MS_DOMAIN, "QLinearAdd", 1, 99, run_qlinear_add, NULL, NULL},
    {MS_DOMAIN, "QLinearMul", 1, 99, run_qlinear_mul, NULL, NULL},
    {MS_DOMAIN, "QLinearSigmoid", 1, 99, run_qlinear_sigmoid, NULL, NULL},
    {MS_DOMAIN, "QLinearLeakyRelu", 1, 99, run_qlinear_leakyrelu, NULL, NULL},
    {MS_DOMAIN, "QLinearGlobalAveragePool", 1, 99, run_qlinear_gap, NULL, NULL},
    {MS_DOMAIN, "QLinearAveragePool", 1, 99, run_qlinear_avgpool, NULL, NULL},
    {MS_DOMAIN, "QLinearConcat", 1, 99, run_qlinear_concat, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

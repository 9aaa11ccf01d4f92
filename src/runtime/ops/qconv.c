/* qconv.c — ConvInteger and QLinearConv: constant weights prepared at init, the depthwise path,
 * and the im2col path on the integer GEMM engine (qgemm.c); the implicit path is in
 * qconv_nhwc.c.
 *
 * Convolutions take one of three paths: depthwise (one input channel per group) computed
 * directly; 1-D / 2-D with at least NHWC_MIN_CG channels per group as an implicit GEMM over an
 * NHWC copy of the input (x is A, no im2col); the rest (1×1 stride 1, 3-D, few channels) through
 * im2col blocks packed by each task (w is A). Constant weights are prepared at init for the
 * path the node will take. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/quant_common.h"

#define DW_MAX_TAPS 64 /* kernel taps the depthwise path keeps on its stack */
#define NHWC_MIN_CG 8  /* channels per group from which 2-D convolutions take the implicit path */

/* --- ConvInteger / QLinearConv -------------------------------------------------------------- */

void qconv_state_free(void *s) {
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
    qconv_nhwc_pack_w(w->data, w->dtype, G, nw->Mg, cg, taps, nw->bp, nw->cs);
  } else {
    qs->a = malloc((size_t)(m * round_up(k, QK)));
    qs->rs = malloc(sizeof(int32_t) * (size_t)m);
    if (!qs->a || !qs->rs) {
      qconv_state_free(qs);
      return LADLE_OK;
    }
    qgemm_prep_a(w->data, w->dtype, m, k, k, qs->a, qs->rs);
  }
  n->state = qs;
  return LADLE_OK;
}

ladle_status qconv_convinteger_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return qconv_init_w(g, n, 1);
}

ladle_status qconv_qlinearconv_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return qconv_init_w(g, n, 3);
}

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
    qgemm_pack_group(dst, jb->kp, g, r, w, flip, cs, jb->vnni);
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
#include <immintrin.h>

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

/* ConvInteger (qlinear = false) and QLinearConv (true). */
static ladle_status run_qconv(op_ctx *c, bool qlinear) {
  const ladle_tensor *xt, *w, *xz, *wz, *xs = NULL, *ws = NULL, *ys = NULL, *yz = NULL, *bias = NULL;
  ladle_status st;
  int wi = qlinear ? 3 : 1;
  const node *nd = op_node(c);
  if ((st = quant_need(c, 0, "x", &xt)) || (st = quant_need(c, wi, "w", &w))) return st;
  xz = op_in(c, 2);
  wz = op_in(c, qlinear ? 5 : 3);
  if (qlinear) {
    if ((st = quant_need(c, 1, "x_scale", &xs)) || (st = quant_need(c, 4, "w_scale", &ws)) ||
        (st = quant_need(c, 6, "y_scale", &ys)) || (st = quant_need(c, 7, "y_zero_point", &yz)))
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
  if ((st = quant_check_zp(c, xz, xt->dtype, "x_zero_point", 0)) ||
      (st = quant_check_zp(c, wz, w->dtype, "w_zero_point", x.M)))
    return st;
  if (qlinear) {
    if ((st = quant_check_scale(c, xs, "x_scale", 0)) || (st = quant_check_scale(c, ws, "w_scale", x.M)) ||
        (st = quant_check_scale(c, ys, "y_scale", 0)) || (st = quant_check_zp(c, yz, yz->dtype, "y_zero_point", 0)))
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
  if (!x.direct && x.g.nsp <= 2 && x.Cg >= NHWC_MIN_CG) return qconv_nhwc_run(c, &x, w, zbw);

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
    qgemm_prep_a(w->data, w->dtype, x.M, K, K, (uint8_t *)s0, (int32_t *)(s0 + off_rs));
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
  qgemm_run(c, &jb);
  return LADLE_OK;
}

ladle_status qconv_run_convinteger(op_ctx *c) { return run_qconv(c, false); }
ladle_status qconv_run_qlinearconv(op_ctx *c) { return run_qconv(c, true); }


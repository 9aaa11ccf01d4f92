/* conv.c — the conv family's table ops_conv[] and its Conv op, and the window geometry shared
 * with the pools; ConvTranspose is in convtranspose.c.
 *
 * Float Conv runs as an implicit GEMM (gemm_common.h): the input is copied once into a padded,
 * stride-phase-split buffer (conv_plan.c) in which every kernel tap (ci, kd, kh, kw) is a fixed
 * offset from the output position, so row p of the im2col matrix is `buffer + offs[p]` and no
 * im2col copy is made. Rows of that buffer are ws = OW + (kw-1)*dw/sw wide; the extra columns
 * are computed and dropped when storing. Stride 1 without padding and with kw == 1 (1x1 convs)
 * reads the input itself. Convs with one input channel per group (depthwise) use a direct loop
 * over the same buffer instead: their K is a handful of taps. Weights are packed at init when
 * they are constant. Other dtypes and ranks above 3 spatial dims use the plain reference loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/conv_common.h"

/* --- geometry ------------------------------------------------------------------------------ */

bool win_geom_init(win_geom *g, const node *n, bool ceil_mode, char *why, size_t why_len) {
  const int64_t *v = NULL;
  int64_t cnt;
  int nsp = g->nsp;
  for (int d = 0; d < nsp; d++) {
    g->s[d] = 1;
    g->d[d] = 1;
    g->pb[d] = g->pe[d] = 0;
  }
  if ((cnt = node_attr_ints(n, "strides", &v)) >= 0) {
    if (cnt != nsp) return snprintf(why, why_len, "strides must have %d values", nsp), false;
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 1) return snprintf(why, why_len, "strides[%d] = %lld", d, (long long)v[d]), false;
      g->s[d] = v[d];
    }
  }
  if ((cnt = node_attr_ints(n, "dilations", &v)) >= 0) {
    if (cnt != nsp) return snprintf(why, why_len, "dilations must have %d values", nsp), false;
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 1) return snprintf(why, why_len, "dilations[%d] = %lld", d, (long long)v[d]), false;
      g->d[d] = v[d];
    }
  }
  const char *ap = node_attr_str(n, "auto_pad", "NOTSET");
  bool same_upper = strcmp(ap, "SAME_UPPER") == 0, same_lower = strcmp(ap, "SAME_LOWER") == 0;
  bool valid = strcmp(ap, "VALID") == 0;
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0 && ap[0])
    return snprintf(why, why_len, "unknown auto_pad '%s'", ap), false;
  if ((cnt = node_attr_ints(n, "pads", &v)) >= 0 && !same_upper && !same_lower && !valid) {
    if (cnt != 2 * nsp) return snprintf(why, why_len, "pads must have %d values", 2 * nsp), false;
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 0 || v[d + nsp] < 0) return snprintf(why, why_len, "negative pads"), false;
      g->pb[d] = v[d];
      g->pe[d] = v[d + nsp];
    }
  }
  for (int d = 0; d < nsp; d++) {
    int64_t keff = (g->k[d] - 1) * g->d[d] + 1, in = g->in[d], s = g->s[d];
    if (same_upper || same_lower) {
      g->out[d] = cdiv(in, s);
      int64_t total = (g->out[d] - 1) * s + keff - in;
      if (total < 0) total = 0;
      g->pb[d] = same_upper ? total / 2 : total - total / 2;
      g->pe[d] = total - g->pb[d];
    } else {
      int64_t span = in + g->pb[d] + g->pe[d] - keff;
      if (span < 0) {
        snprintf(why, why_len, "kernel %lld (dilated) is larger than the padded input %lld on axis %d",
                 (long long)keff, (long long)(in + g->pb[d] + g->pe[d]), d + 2);
        return false;
      }
      /* ceil_mode applies to explicit pads; ONNX's VALID formula rounds down */
      bool up = ceil_mode && !valid;
      g->out[d] = (up ? cdiv(span, s) : span / s) + 1;
      /* the last window must start inside the input or its leading pad */
      if (up && (g->out[d] - 1) * s >= in + g->pb[d]) g->out[d]--;
    }
    if (g->out[d] < 1 && in > 0)
      return snprintf(why, why_len, "empty output on axis %d", d + 2), false;
  }
  return true;
}

/* --- reference (any float dtype, any rank) ------------------------------------------------- */

static double act_d(const node *n, double x) {
  switch (n->act) {
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_CLIP: return x < n->act_alpha ? n->act_alpha : (x > n->act_beta ? n->act_beta : x);
    case ACT_LEAKY_RELU: return x >= 0 ? x : n->act_alpha * x;
    case ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    default: return x;
  }
}

static void conv_ref(const conv_dims *cd, int dt, const void *x, const void *w, const void *b,
                     void *y, const node *act) {
  const win_geom *g = &cd->g;
  int nsp = g->nsp;
  int64_t in_plane = shape_numel(nsp, g->in), out_plane = shape_numel(nsp, g->out);
  int64_t taps = shape_numel(nsp, g->k);
  for (int64_t n = 0; n < cd->N; n++)
    for (int64_t m = 0; m < cd->M; m++) {
      int64_t grp = m / cd->Mg;
      int64_t o[WIN_MAX_SP] = {0};
      for (int64_t oi = 0; oi < out_plane; oi++) {
        double acc = b ? conv_ld(dt, b, m) : 0;
        for (int64_t ci = 0; ci < cd->Cg; ci++) {
          int64_t xc = (n * cd->C + grp * cd->Cg + ci) * in_plane;
          int64_t wc = (m * cd->Cg + ci) * taps;
          int64_t t[WIN_MAX_SP] = {0};
          for (int64_t ti = 0; ti < taps; ti++) {
            bool inside = true;
            int64_t lin = 0;
            for (int d = 0; d < nsp; d++) {
              int64_t p = o[d] * g->s[d] - g->pb[d] + t[d] * g->d[d];
              if (p < 0 || p >= g->in[d]) inside = false;
              lin = lin * g->in[d] + p;
            }
            if (inside) acc += conv_ld(dt, x, xc + lin) * conv_ld(dt, w, wc + ti);
            for (int d = nsp - 1; d >= 0; d--) {
              if (++t[d] < g->k[d]) break;
              t[d] = 0;
            }
          }
        }
        conv_st(dt, y, (n * cd->M + m) * out_plane + oi, act ? act_d(act, acc) : acc);
        for (int d = nsp - 1; d >= 0; d--) {
          if (++o[d] < g->out[d]) break;
          o[d] = 0;
        }
      }
    }
}

/* --- Conv ---------------------------------------------------------------------------------- */

/* Weights packed at init for one of the two GEMM forms: pa (8-row panels per group) for the
 * channel-major form, or pb (W^T in 48-column panels, group 1 only) for the pixel-major form,
 * which deep layers (many channels, hence few pixels) get. */
typedef struct conv_state {
  int64_t M, K, G, Mg;
  size_t pa_size; /* floats per group */
  float *pa;
  float *pb;
} conv_state;

/* Whether a conv with these weights is expected to have few output pixels: deep layers. */
static bool prefer_pixel_major(int64_t G, int64_t M, int64_t K, int rank) {
  return G == 1 && M >= 128 && K >= 512 && rank <= 4 && gemm_have_avx512();
}

static void conv_state_free(void *s) {
  conv_state *cs = s;
  if (!cs) return;
  free(cs->pa);
  free(cs->pb);
  free(cs);
}

static ladle_status conv_init(const graph *g, node *n, errbuf *e) {
  const ladle_tensor *w = op_const_input(g, n, 1);
  (void)e;
  if (!w || w->dtype != LADLE_FLOAT || w->ndim < 3) return LADLE_OK;
  int64_t G = node_attr_int(n, "group", 1), M = w->dims[0];
  if (G < 1 || M % G != 0 || w->dims[1] == 1) return LADLE_OK; /* depthwise reads W as is */
  int64_t K = shape_numel(w->ndim - 1, w->dims + 1), Mg = M / G;
  if (K <= 0 || Mg <= 0) return LADLE_OK;
  conv_state *cs = calloc(1, sizeof *cs);
  if (!cs) return LADLE_OK;
  cs->M = M;
  cs->K = K;
  cs->G = G;
  cs->Mg = Mg;
  cs->pa_size = gemm_pack_a_size(Mg, K);
  if (prefer_pixel_major(G, M, K, w->ndim)) {
    size_t bytes = gemm_pack_b_size(K, M) * sizeof(float);
    cs->pb = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (cs->pb) gemm_pack_b(cs->pb, w->data, K, M, 1, K);
  } else {
    size_t bytes = cs->pa_size * (size_t)G * sizeof(float);
    cs->pa = aligned_alloc(64, (bytes + 63) / 64 * 64);
    for (int64_t gi = 0; cs->pa && gi < G; gi++)
      gemm_pack_a(cs->pa + gi * cs->pa_size, (const float *)w->data + gi * Mg * K, Mg, K, K, 1);
  }
  if (!cs->pa && !cs->pb) {
    conv_state_free(cs);
    return LADLE_OK; /* packed per run instead */
  }
  n->state = cs;
  return LADLE_OK;
}

typedef struct conv_job {
  const conv_plan *p;
  int64_t n0; /* first image of this batch of products */
  const float *pa;
  size_t pa_size;
  const int64_t *offs;
  const float *bias;
  float *y;
} conv_job;

/* Product (n, g, od) of the implicit GEMM. */
static void conv_get(void *ud, int64_t i, gemm_prod *gp) {
  const conv_job *j = ud;
  const conv_plan *p = j->p;
  int64_t OD = p->out[0], G = p->cd.G;
  int64_t od = i % OD, g = (i / OD) % G, n = j->n0 + i / (OD * G);
  int64_t opl = p->out[0] * p->out[1] * p->out[2];
  int64_t nb = p->zero_copy ? n : n - j->n0; /* image index within the buffer */
  memset(gp, 0, sizeof *gp);
  gp->a = j->pa + (size_t)g * j->pa_size;
  gp->b.base = p->buf + (nb * p->cd.C + g * p->cd.Cg) * p->chan + od * p->hs * p->ws;
  gp->b.offs = j->offs;
  gp->c = j->y + (n * p->cd.M + g * p->cd.Mg) * opl + od * p->out[1] * p->out[2];
  gp->bias_row = j->bias ? j->bias + g * p->cd.Mg : NULL;
}

typedef struct dw_job {
  const conv_plan *p;
  const float *w, *bias;
  const int64_t *tapoff;
  float *y;
  const node *act;
} dw_job;

/* Depthwise: output channel plane (n, m) from input channel m / Mg, one row at a time. */
static void dw_task(void *arg, int64_t nm) {
  const dw_job *j = arg;
  const conv_plan *p = j->p;
  int64_t M = p->cd.M, n = nm / M, m = nm % M, ci = m / p->cd.Mg;
  int64_t OW = p->out[2], taps = p->taps;
  const float *chan = p->buf + (n * p->cd.C + ci) * p->chan;
  const float *w = j->w + m * taps;
  float b = j->bias ? j->bias[m] : 0.0f;
  float *y = j->y + nm * p->out[0] * p->out[1] * OW;
  for (int64_t od = 0; od < p->out[0]; od++)
    for (int64_t oh = 0; oh < p->out[1]; oh++, y += OW) {
      const float *row = chan + (od * p->hs + oh) * p->ws;
      for (int64_t ow = 0; ow < OW; ow++) y[ow] = b;
      for (int64_t t = 0; t < taps; t++) {
        const float *src = row + j->tapoff[t];
        float wt = w[t];
        for (int64_t ow = 0; ow < OW; ow++) y[ow] += wt * src[ow];
      }
      if (j->act) act_apply(j->act, y, OW);
    }
}

/* Depthwise 2-D (1-D as H = 1) straight from the unpadded input, strides 1 and 2: one output
 * row at a time, 16 outputs per vector, every tap a (masked) load — no padded copy, whose cost
 * would match the arithmetic here. In the chunks at the row's ends each tap's load is masked to
 * the lanes that fall inside the input. */
typedef struct dwd_job {
  const conv_dims *cd;
  int64_t H, W, OH, OW, kh, kw, sh, sw, dh, dw, ph, pw;
  int64_t lo, hi; /* output columns whose taps are all inside the row */
  const float *x, *w, *bias;
  float *y;
  const node *act;
} dwd_job;

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#include <immintrin.h>

#define DW_MAX_TAPS 64

static void dwd_task(void *arg, int64_t nm) {
  const dwd_job *j = arg;
  const conv_dims *cd = j->cd;
  int64_t n = nm / cd->M, m = nm % cd->M, ci = m / cd->Mg;
  const float *xc = j->x + (n * cd->C + ci) * j->H * j->W;
  const float *w = j->w + m * j->kh * j->kw;
  float b = j->bias ? j->bias[m] : 0.0f;
  float *y = j->y + nm * j->OH * j->OW;
  int64_t kw = j->kw, sw = j->sw, dw = j->dw;
  act_spec act = act_of(j->act);
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  __m512 wv[DW_MAX_TAPS];
  for (int64_t t = 0; t < j->kh * kw; t++) wv[t] = _mm512_set1_ps(w[t]);
  int64_t roff[DW_MAX_TAPS]; /* per valid kernel row: offset of input column -pw */
  const __m512 *rw[DW_MAX_TAPS];
  for (int64_t oh = 0; oh < j->OH; oh++, y += j->OW) {
    int na = 0;
    for (int64_t a = 0; a < j->kh; a++) {
      int64_t ih = oh * j->sh - j->ph + a * j->dh;
      if (ih < 0 || ih >= j->H) continue;
      roff[na] = ih * j->W;
      rw[na++] = wv + a * kw;
    }
    for (int64_t o0 = 0; o0 < j->OW; o0 += 16) {
      int64_t cnt = j->OW - o0 < 16 ? j->OW - o0 : 16;
      __mmask16 mk = (__mmask16)((1u << cnt) - 1u);
      __m512 acc = _mm512_set1_ps(b);
      int64_t span = sw == 1 ? cnt : 2 * cnt - 1; /* input elements the chunk reads per tap */
      if (o0 >= j->lo && o0 + cnt <= j->hi) { /* every tap inside the row */
        __mmask16 m0 = (__mmask16)(span >= 16 ? 0xFFFFu : (1u << span) - 1u);
        __mmask16 m1 = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1u : 0u);
        for (int i = 0; i < na; i++) {
          const float *src = xc + (roff[i] + o0 * sw - j->pw);
          if (sw == 1 && kw == 3) {
            acc = _mm512_fmadd_ps(rw[i][0], _mm512_maskz_loadu_ps(mk, src), acc);
            acc = _mm512_fmadd_ps(rw[i][1], _mm512_maskz_loadu_ps(mk, src + dw), acc);
            acc = _mm512_fmadd_ps(rw[i][2], _mm512_maskz_loadu_ps(mk, src + 2 * dw), acc);
          } else if (sw == 1) {
            for (int64_t c = 0; c < kw; c++)
              acc = _mm512_fmadd_ps(rw[i][c], _mm512_maskz_loadu_ps(mk, src + c * dw), acc);
          } else {
            for (int64_t c = 0; c < kw; c++) {
              const float *sc = src + c * dw;
              __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, sc), even,
                                                _mm512_maskz_loadu_ps(m1, sc + 16));
              acc = _mm512_fmadd_ps(rw[i][c], v, acc);
            }
          }
        }
      } else { /* edge chunk: lanes whose tap falls in the padding read nothing */
        for (int64_t c = 0; c < kw; c++) {
          int64_t base = o0 * sw - j->pw + c * dw; /* input column of element 0 */
          int64_t e0 = base < 0 ? -base : 0, e1 = j->W - base < span ? j->W - base : span;
          if (e1 <= e0) continue;
          /* elements [e0, e1) of at most 31 */
          uint32_t bits = (e1 >= 32 ? ~0u : (1u << e1) - 1u) & ~((1u << e0) - 1u);
          __mmask16 m0 = (__mmask16)(bits & 0xFFFFu), m1 = (__mmask16)(bits >> 16);
          for (int i = 0; i < na; i++) {
            /* the address of element 0 may lie before the row: form it as an integer */
            const float *sc = (const float *)((uintptr_t)(xc + roff[i]) + (uintptr_t)base * sizeof(float));
            __m512 v = sw == 1 ? _mm512_maskz_loadu_ps(m0, sc)
                               : _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, sc), even,
                                                        _mm512_maskz_loadu_ps(m1, (const float *)((uintptr_t)sc + 64)));
            acc = _mm512_fmadd_ps(rw[i][c], v, acc);
          }
        }
      }
      _mm512_mask_storeu_ps(y + o0, mk, act_v(&act, acc));
    }
  }
}

/* Depthwise over the padded buffer for small planes: the plane's padded rows are one flat run
 * of OH*ws columns, every tap a fixed offset in it, so 16 outputs per vector regardless of how
 * short the rows are; the gap columns are dropped when storing (segments precomputed once). */
typedef struct dwp_seg {
  int32_t chunk, l, n;
  int64_t off; /* output offset of lane l */
} dwp_seg;

typedef struct dwp_job {
  const conv_plan *p;
  const float *w, *bias;
  const int64_t *tapoff;
  const dwp_seg *segs;
  int nseg;
  float *y;
  const node *act;
} dwp_job;

static void dwp_task(void *arg, int64_t nm) {
  const dwp_job *j = arg;
  const conv_plan *p = j->p;
  int64_t M = p->cd.M, n = nm / M, m = nm % M, ci = m / p->cd.Mg;
  int64_t cols = p->out[1] * p->ws, taps = p->taps;
  const float *chan = p->buf + (n * p->cd.C + ci) * p->chan;
  const float *w = j->w + m * taps;
  float *y = j->y + nm * p->out[1] * p->out[2];
  act_spec act = act_of(j->act);
  __m512 b = _mm512_set1_ps(j->bias ? j->bias[m] : 0.0f);
  int si = 0;
  for (int64_t j0 = 0, ch = 0; j0 < cols; j0 += 16, ch++) {
    int64_t cnt = cols - j0 < 16 ? cols - j0 : 16;
    __mmask16 mk = (__mmask16)((1u << cnt) - 1u);
    __m512 acc = b;
    for (int64_t t = 0; t < taps; t++)
      acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(mk, chan + j->tapoff[t] + j0), acc);
    acc = act_v(&act, acc);
    for (; si < j->nseg && j->segs[si].chunk == ch; si++) {
      const dwp_seg *g = &j->segs[si];
      __mmask16 sm = (__mmask16)(((1u << g->n) - 1u) << g->l);
      if (g->off >= g->l)
        _mm512_mask_storeu_ps(y + (g->off - g->l), sm, acc);
      else
        _mm512_mask_compressstoreu_ps(y + g->off, sm, acc);
    }
  }
}

#pragma GCC pop_options

/* Runs a depthwise conv directly when its shape allows it; false when it does not. */
static bool depthwise_direct(op_ctx *c, const conv_dims *cd, const float *x, const float *w,
                             const float *b, float *y, const node *act) {
  const win_geom *g = &cd->g;
  if (!gemm_have_avx512() || g->nsp > 2 || cd->Cg != 1) return false;
  if (shape_numel(g->nsp, g->k) > DW_MAX_TAPS) return false;
  dwd_job j;
  memset(&j, 0, sizeof j);
  int o = g->nsp == 2 ? 1 : 0; /* index of the W axis */
  j.cd = cd;
  j.H = g->nsp == 2 ? g->in[0] : 1;
  j.OH = g->nsp == 2 ? g->out[0] : 1;
  j.kh = g->nsp == 2 ? g->k[0] : 1;
  j.sh = g->nsp == 2 ? g->s[0] : 1;
  j.dh = g->nsp == 2 ? g->d[0] : 1;
  j.ph = g->nsp == 2 ? g->pb[0] : 0;
  j.W = g->in[o];
  j.OW = g->out[o];
  j.kw = g->k[o];
  j.sw = g->s[o];
  j.dw = g->d[o];
  j.pw = g->pb[o];
  if (j.sw > 2 || j.OW < 32) return false; /* short rows: the padded, flattened loop wins */
  /* interior columns: 0 <= ow*sw - pw and ow*sw - pw + (kw-1)*dw <= W-1 */
  j.lo = cdiv(j.pw, j.sw);
  int64_t last = j.W - 1 + j.pw - (j.kw - 1) * j.dw;
  j.hi = last < 0 ? 0 : last / j.sw + 1;
  if (j.hi > j.OW) j.hi = j.OW;
  if (j.lo > j.OW) j.lo = j.OW;
  j.x = x;
  j.w = w;
  j.bias = b;
  j.y = y;
  j.act = act;
  int64_t planes = cd->N * cd->M;
  if (op_threads(c) > 1 && planes * j.OH * j.OW * j.kh * j.kw >= 65536)
    tpool_run(op_pool(c), planes, dwd_task, &j);
  else
    for (int64_t i = 0; i < planes; i++) dwd_task(&j, i);
  return true;
}

/* --- pixel-major form ---------------------------------------------------------------------- */

typedef struct pix_panels {
  const conv_plan *p;
  int64_t per_row; /* panels per output row */
  float *y;
} pix_panels;

/* Panel i: up to 8 pixels of one output row of one image. */
static void pix_panel(void *ud, int64_t i, const float **a, int *rows, float **ydst) {
  const pix_panels *pp = ud;
  const conv_plan *p = pp->p;
  int64_t OH = p->out[1], OW = p->out[2];
  int64_t cw = i % pp->per_row, oh = i / pp->per_row % OH, n = i / (pp->per_row * OH);
  int64_t ow0 = cw * GEMM_MR;
  *rows = (int)(OW - ow0 < GEMM_MR ? OW - ow0 : GEMM_MR);
  *a = p->buf + n * p->cd.C * p->chan + oh * p->ws + ow0;
  *ydst = pp->y + n * p->cd.M * OH * OW + oh * OW + ow0;
}

/* Fraction of computed lanes that are outputs in each form (the pixel-major form wastes only
 * channel lanes past a multiple of 16). */
static double lanes_useful_direct(const conv_plan *p) {
  int64_t cols = p->out[1] * p->ws, full = cols / GEMM_NR * GEMM_NR, rest = cols - full;
  return (double)(p->out[1] * p->out[2]) / (double)(full + (rest + 15) / 16 * 16);
}

static double lanes_useful_pixel(const conv_plan *p) {
  return (double)p->cd.M / (double)((p->cd.M + 15) / 16 * 16);
}

static ladle_status conv_pixel_major(op_ctx *c, conv_plan *p, const float *x, const float *pb,
                                     const int64_t *offs, const float *bias, float *y) {
  const node *n = op_node(c);
  ladle_status s;
  if ((s = conv_plan_fill(c, p, x, 0, p->cd.N))) return s;
  pix_panels pp = {p, (p->out[2] + GEMM_MR - 1) / GEMM_MR, y};
  gemm_pix g;
  memset(&g, 0, sizeof g);
  g.panels = p->cd.N * p->out[1] * pp.per_row;
  g.k = p->K;
  g.n = p->cd.M;
  g.b = pb;
  g.aoffs = offs;
  g.bias = bias;
  g.act_node = n->act != ACT_NONE ? n : NULL;
  g.ldy = p->out[1] * p->out[2];
  g.kc = 128; /* one tile of weights (24 KB) stays in L1 while the panels stream by */
  g.panel = pix_panel;
  g.ud = &pp;
  return gemm_run_pix(c, 2, &g);
}

static ladle_status conv_read_dims(op_ctx *c, const ladle_tensor *x, const ladle_tensor *w,
                                   const ladle_tensor *b, conv_dims *cd) {
  const node *n = op_node(c);
  char why[160];
  if (x->ndim < 3 || w->ndim != x->ndim)
    return op_fail(c, LADLE_ERR_SHAPE, "X and W must have the same rank >= 3, got %d and %d",
                   x->ndim, w->ndim);
  cd->N = x->dims[0];
  cd->C = x->dims[1];
  cd->G = node_attr_int(n, "group", 1);
  if (cd->G < 1 || cd->C % cd->G != 0)
    return op_fail(c, LADLE_ERR_INVALID, "group %lld does not divide %lld channels",
                   (long long)cd->G, (long long)cd->C);
  cd->Cg = cd->C / cd->G;
  cd->g.nsp = x->ndim - 2;
  for (int d = 0; d < cd->g.nsp; d++) {
    cd->g.in[d] = x->dims[d + 2];
    cd->g.k[d] = w->dims[d + 2];
  }
  const int64_t *ks = NULL;
  int64_t nk = node_attr_ints(n, "kernel_shape", &ks);
  if (nk >= 0) {
    if (nk != cd->g.nsp) return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", cd->g.nsp);
    for (int d = 0; d < cd->g.nsp; d++)
      if (ks[d] != cd->g.k[d])
        return op_fail(c, LADLE_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld", d,
                       (long long)ks[d], (long long)cd->g.k[d]);
  }
  for (int d = 0; d < cd->g.nsp; d++)
    if (cd->g.k[d] < 1) return op_fail(c, LADLE_ERR_SHAPE, "empty kernel on axis %d", d + 2);
  if (!win_geom_init(&cd->g, n, false, why, sizeof why))
    return op_fail(c, LADLE_ERR_INVALID, "%s", why);
  return LADLE_OK;
  (void)b;
}

static ladle_status run_conv(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0), *w = op_in(c, 1), *b = op_in(c, 2);
  ladle_tensor *y = NULL;
  conv_dims cd;
  ladle_status s;
  if (!x || !w) return op_fail(c, LADLE_ERR_INVALID, "Conv needs inputs X and W");
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "X, W and B must share one data type");
  if (x->dtype != LADLE_FLOAT && x->dtype != LADLE_DOUBLE && x->dtype != LADLE_FLOAT16 &&
      x->dtype != LADLE_BFLOAT16)
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported data type %s", ladle_dtype_name(x->dtype));
  memset(&cd, 0, sizeof cd);
  if ((s = conv_read_dims(c, x, w, b, &cd))) return s;
  cd.M = w->dims[0];
  if (w->dims[1] != cd.Cg)
    return op_fail(c, LADLE_ERR_SHAPE, "W has %lld input channels per group, X gives %lld",
                   (long long)w->dims[1], (long long)cd.Cg);
  if (cd.M % cd.G != 0)
    return op_fail(c, LADLE_ERR_SHAPE, "group %lld does not divide %lld output channels",
                   (long long)cd.G, (long long)cd.M);
  cd.Mg = cd.M / cd.G;
  if (b && (b->ndim != 1 || b->dims[0] != cd.M))
    return op_fail(c, LADLE_ERR_SHAPE, "B must have %lld values", (long long)cd.M);
  int64_t dims[LADLE_MAX_DIMS];
  dims[0] = cd.N;
  dims[1] = cd.M;
  for (int d = 0; d < cd.g.nsp; d++) dims[d + 2] = cd.g.out[d];
  if ((s = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return s;
  if (shape_numel(x->ndim, dims) == 0) return LADLE_OK;
  if (x->dtype == LADLE_FLOAT && cd.Cg == 1 &&
      depthwise_direct(c, &cd, x->data, w->data, b ? b->data : NULL, y->data,
                       n->act != ACT_NONE ? n : NULL))
    return LADLE_OK;
  conv_plan p;
  if (x->dtype != LADLE_FLOAT || cd.g.nsp > 3 || shape_numel(x->ndim, x->dims) == 0 ||
      !conv_plan_init(&p, &cd)) {
    conv_ref(&cd, x->dtype, x->data, w->data, b ? b->data : NULL, y->data,
             n->act != ACT_NONE ? n : NULL);
    return LADLE_OK;
  }
  int64_t *offs = op_scratch(c, 3, (size_t)(p.K + p.taps) * sizeof(int64_t));
  if (!offs) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for tap offsets");
  int64_t *tapoff = offs + p.K;
  conv_plan_taps(&p, tapoff);
  if (cd.Cg == 1) { /* depthwise (or one input channel per group) */
    if ((s = conv_plan_fill(c, &p, x->data, 0, cd.N))) return s;
    int64_t planes = cd.N * cd.M, cols = p.out[1] * p.ws;
    if (gemm_have_avx512() && p.out[0] == 1 && cols <= 65536) {
      /* segments of each 16-column chunk that are outputs, in chunk order */
      int64_t max_seg = cols / 16 * 2 + cols / p.ws + 4;
      dwp_seg *segs = op_scratch(c, 1, sizeof(dwp_seg) * (size_t)max_seg);
      if (!segs) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for depthwise segments");
      int nseg = 0;
      int64_t oh = 0, ow = 0;
      for (int64_t jj = 0; jj < cols && nseg < max_seg;) {
        int64_t l = jj % 16, piece = 16 - l;
        if (piece > p.ws - ow) piece = p.ws - ow;
        if (piece > cols - jj) piece = cols - jj;
        int64_t valid = ow < p.out[2] ? (p.out[2] - ow < piece ? p.out[2] - ow : piece) : 0;
        if (valid > 0)
          segs[nseg++] = (dwp_seg){(int32_t)(jj / 16), (int32_t)l, (int32_t)valid, oh * p.out[2] + ow};
        jj += piece;
        ow += piece;
        if (ow == p.ws) ow = 0, oh++;
      }
      dwp_job dj = {&p, w->data, b ? b->data : NULL, tapoff, segs, nseg, y->data,
                    n->act != ACT_NONE ? n : NULL};
      if (op_threads(c) > 1 && planes * cols * p.taps >= 65536)
        tpool_run(op_pool(c), planes, dwp_task, &dj);
      else
        for (int64_t i = 0; i < planes; i++) dwp_task(&dj, i);
      return LADLE_OK;
    }
    dw_job j = {&p, w->data, b ? b->data : NULL, tapoff, y->data, n->act != ACT_NONE ? n : NULL};
    if (op_threads(c) > 1 && planes * shape_numel(cd.g.nsp, cd.g.out) * p.taps >= 65536)
      tpool_run(op_pool(c), planes, dw_task, &j);
    else
      for (int64_t i = 0; i < planes; i++) dw_task(&j, i);
    return LADLE_OK;
  }
  for (int64_t ci = 0; ci < cd.Cg; ci++)
    for (int64_t t = 0; t < p.taps; t++) offs[ci * p.taps + t] = ci * p.chan + tapoff[t];
  const conv_state *cs0 = n->state;
  bool shape_ok = cs0 && cs0->M == cd.M && cs0->K == p.K && cs0->G == cd.G;
  bool pixel = cd.G == 1 && p.out[0] == 1 && gemm_have_avx512() &&
               (shape_ok ? cs0->pb != NULL
                         : !cs0 && p.K >= 64 && lanes_useful_pixel(&p) > lanes_useful_direct(&p) + 0.04);
  if (pixel) {
    const float *pb = shape_ok ? cs0->pb : NULL;
    if (!pb) {
      float *tmp = op_scratch(c, 1, gemm_pack_b_size(p.K, cd.M) * sizeof(float));
      if (!tmp) return op_fail(c, LADLE_ERR_NOMEM, "out of memory packing weights");
      gemm_pack_b(tmp, w->data, p.K, cd.M, 1, p.K);
      pb = tmp;
    }
    return conv_pixel_major(c, &p, x->data, pb, offs, b ? b->data : NULL, y->data);
  }
  conv_job j = {&p, 0, NULL, 0, offs, b ? b->data : NULL, y->data};
  const conv_state *cs = n->state;
  if (cs && cs->M == cd.M && cs->K == p.K && cs->G == cd.G && cs->pa) {
    j.pa = cs->pa;
    j.pa_size = cs->pa_size;
  } else {
    j.pa_size = gemm_pack_a_size(cd.Mg, p.K);
    float *pa = op_scratch(c, 1, j.pa_size * (size_t)cd.G * sizeof(float));
    if (!pa) return op_fail(c, LADLE_ERR_NOMEM, "out of memory packing weights");
    for (int64_t gi = 0; gi < cd.G; gi++)
      gemm_pack_a(pa + gi * j.pa_size, (const float *)w->data + gi * cd.Mg * p.K, cd.Mg, p.K, p.K, 1);
    j.pa = pa;
  }
  gemm_shape gs = {cd.Mg, p.K, p.out[1] * p.ws, p.out[0] * p.out[1] * p.out[2], p.ws, p.out[2],
                   1.0f, false, n->act != ACT_NONE ? n : NULL, conv_kc(&p, tapoff)};
  if (p.zero_copy) {
    if ((s = conv_plan_fill(c, &p, x->data, 0, cd.N))) return s;
    return gemm_run(c, 2, &gs, cd.N * cd.G * p.out[0], conv_get, &j);
  }
  /* one image at a time: its padded copy is still in cache when the GEMM reads it */
  for (int64_t n0 = 0; n0 < cd.N; n0++) {
    if ((s = conv_plan_fill(c, &p, x->data, n0, n0 + 1))) return s;
    j.n0 = n0;
    if ((s = gemm_run(c, 2, &gs, cd.G * p.out[0], conv_get, &j))) return s;
  }
  return LADLE_OK;
}

const op_def ops_conv[] = {
    {"", "Conv", 1, 99, run_conv, conv_init, conv_state_free},
    {"", "ConvTranspose", 1, 99, conv_run_convtranspose, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

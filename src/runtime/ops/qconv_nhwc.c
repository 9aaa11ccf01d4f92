/* qconv_nhwc.c — the implicit path of ConvInteger / QLinearConv: convolution over an NHWC copy.
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
#include <string.h>

#include "runtime/ops/quant_common.h"

void qconv_nhwc_pack_w(const uint8_t *w, int dt, int64_t G, int64_t Mg, int64_t Cg, int64_t taps, int8_t *bp,
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
#include <immintrin.h>
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
ladle_status qconv_nhwc_run(op_ctx *c, const qconv_ctx *q, const ladle_tensor *w, const int32_t *zbw) {
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
  x.vnni = qgemm_have_vnni();
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
    qconv_nhwc_pack_w(w->data, w->dtype, x.G, x.Mg, x.Cg, x.taps, bp, cs);
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


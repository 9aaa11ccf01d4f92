/* qgemm.c — the integer GEMM engine, and the ops that are products on it: MatMulInteger,
 * QLinearMatMul and com.microsoft QGemm (qconv.c runs the im2col convolutions on it too).
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
 * overflow undefined; here it is computed modulo 2^32, never as C UB). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/quant_common.h"

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

void qgemm_prep_a(const void *a, int dt, int64_t m, int64_t k, int64_t lda, uint8_t *dst, int32_t *rs) {
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

bool qgemm_have_vnni(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* k-group g of every panel covering columns [0, w): full panels by vector when vec. */
void qgemm_pack_group(int8_t *dst, int64_t kp, int64_t g, const uint8_t *const r[QK], int64_t w, uint8_t flip,
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
    qgemm_pack_group(dst, kp, g, r, w, flip, cs, vec);
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

void qgemm_run(op_ctx *c, qjob *jb) {
  jb->kp = round_up(jb->k, QK);
  jb->n_cb = (jb->n + QCB - 1) / QCB;
  jb->vnni = qgemm_have_vnni();
  int64_t n_tasks = jb->n_prod * jb->n_cb;
  if (n_tasks <= 0 || jb->m <= 0) return;
  if (n_tasks == 1 || jb->m * jb->n * jb->kp < 65536)
    for (int64_t i = 0; i < n_tasks; i++) q_task(jb, i);
  else
    tpool_run(op_pool(c), n_tasks, q_task, jb);
}

/* --- MatMulInteger / QLinearMatMul ---------------------------------------------------------- */

/* B prepared at init when it is a constant 2-D matrix. */
typedef struct mm_state {
  int64_t k, n;
  int dt;
  int8_t *bp;
  int32_t *cs;
} mm_state;

void qgemm_mm_state_free(void *s) {
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
    qgemm_mm_state_free(ms);
    return LADLE_OK;
  }
  if (trans) transpose_u8(tmp, b->data, ms->n, ms->k);
  pack_b_plain(ms->bp, trans ? tmp : b->data, ms->n, ms->k, ms->n, ms->dt, ms->cs, qgemm_have_vnni());
  free(tmp);
  n->state = ms;
  return LADLE_OK;
}

static ladle_status mm_init_b(const graph *g, node *n, int bi) { return mm_init_b_t(g, n, bi, false); }

ladle_status qgemm_matmulinteger_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return mm_init_b(g, n, 1);
}

ladle_status qgemm_qlinearmatmul_init(const graph *g, node *n, errbuf *e) {
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
  if ((st = quant_need(c, ia, "A", &a)) || (st = quant_need(c, ib, "B", &b))) return st;
  az = op_in(c, 2);
  bz = op_in(c, qlinear ? 5 : 3);
  if (qlinear) {
    if ((st = quant_need(c, 1, "a_scale", &as)) || (st = quant_need(c, 4, "b_scale", &bs)) ||
        (st = quant_need(c, 6, "y_scale", &ys)) || (st = quant_need(c, 7, "y_zero_point", &yz)))
      return st;
  }
  if (!is_q8(a->dtype) || !is_q8(b->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "A and B must be uint8 or int8, got %s and %s", ladle_dtype_name(a->dtype),
                   ladle_dtype_name(b->dtype));
  mm_dims d;
  if ((st = mm_shape(c, a, b, &d))) return st;
  int out_dt = LADLE_INT32;
  if (qlinear) {
    if ((st = quant_check_scale(c, as, "a_scale", d.m)) || (st = quant_check_scale(c, bs, "b_scale", d.n)) ||
        (st = quant_check_scale(c, ys, "y_scale", 0)) || (st = quant_check_zp(c, yz, yz->dtype, "y_zero_point", 0)))
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
    qgemm_prep_a((const uint8_t *)a->data + i * d.m * d.k, a->dtype, d.m, d.k, d.k, (uint8_t *)s0 + i * d.m * kp,
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
                     x.cs + i * n16, qgemm_have_vnni());
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
  qgemm_run(c, &jb);
  return LADLE_OK;
}

/* --- QGemm (com.microsoft) -------------------------------------------------------------------
 * Y = alpha·(A - za)(B - zb)·sa·sb + C·(alpha·sa·sb) with A, B uint8/int8 (transA, transB), C an
 * int32 bias per column (or one value); Y is float, or quantized with y_scale / y_zero_point
 * when they are given (multiplier alpha·sa·sb / sy). */
ladle_status qgemm_qgemm_init(const graph *g, node *n, errbuf *e) {
  (void)e;
  return mm_init_b_t(g, n, 3, node_attr_int(n, "transB", 0) != 0);
}

ladle_status qgemm_run_qgemm(op_ctx *c) {
  const ladle_tensor *a, *b, *as, *bs, *az = op_in(c, 2), *bz = op_in(c, 5), *bias = op_in(c, 6);
  const ladle_tensor *ys = op_in(c, 7), *yz = op_in(c, 8);
  ladle_status st;
  const node *nd = op_node(c);
  if ((st = quant_need(c, 0, "A", &a)) || (st = quant_need(c, 1, "a_scale", &as)) || (st = quant_need(c, 3, "B", &b)) ||
      (st = quant_need(c, 4, "b_scale", &bs)))
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
  if ((st = quant_check_scale(c, as, "a_scale", 0)) || (st = quant_check_scale(c, bs, "b_scale", d.n)) ||
      (st = quant_check_zp(c, az, a->dtype, "a_zero_point", 0)) ||
      (st = quant_check_zp(c, bz, b->dtype, "b_zero_point", d.n)))
    return st;
  int out_dt = LADLE_FLOAT;
  float ysv = 1.0f;
  if (ys) {
    if ((st = quant_check_scale(c, ys, "y_scale", 0))) return st;
    ysv = *(const float *)ys->data;
    if (!(ysv != 0.0f) || !isfinite(ysv))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale = %g is not a finite non-zero value", (double)ysv);
    out_dt = yz ? yz->dtype : LADLE_UINT8;
    if (!is_q8(out_dt) || (st = quant_check_zp(c, yz, out_dt, "y_zero_point", 0)))
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
    pack_b_plain(x.bp, src, d.n, d.k, d.n, b->dtype, x.cs, qgemm_have_vnni());
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
  qgemm_run(c, &jb);
  return LADLE_OK;
}

ladle_status qgemm_run_matmulinteger(op_ctx *c) { return run_mm(c, false); }
ladle_status qgemm_run_qlinearmatmul(op_ctx *c) { return run_mm(c, true); }


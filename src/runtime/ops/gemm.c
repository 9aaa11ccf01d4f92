/* gemm.c — the float GEMM engine (see gemm_common.h) that Gemm and MatMul (matmul.c), Conv
 * (conv.c) and ConvTranspose (convtranspose.c) run on.
 *
 * Engine layout: a product is cut into tiles of 8 rows × 48 columns; a task owns a range of
 * row panels × column tiles of one product and walks K in blocks, accumulating each tile in a
 * private buffer. Within a K block the loop is tile outer, panel inner, so the block's B rows
 * (read in place, at scattered offsets for a Conv) stay in L1 while the packed A panels stream
 * by. The last K block applies the epilogue (alpha, previous C, biases, fused activation) and
 * stores the tile, skipping gap columns. The pixel-major form (gemm_run_pix) is the same
 * kernel shape with A read in place and B packed. Tasks go to the session's pool only when the
 * product is big enough to pay for waking the workers, in chunks sized for an even split. */
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/gemm_common.h"

#define KC 256           /* rows of B per K block */
#define TASK_TILES 8     /* column tiles per task, at most */
#define TASK_PANELS 16   /* row panels per task, at most */
#define TILE (GEMM_MR * GEMM_NR)
#define CBUF_FLOATS ((size_t)TASK_PANELS * TASK_TILES * TILE)
#define PAR_MIN_MACS (1 << 21) /* below this a product runs on the calling thread */

/* --- packing ------------------------------------------------------------------------------- */

size_t gemm_pack_a_size(int64_t m, int64_t k) {
  return (size_t)((m + GEMM_MR - 1) / GEMM_MR) * GEMM_MR * (size_t)(k > 0 ? k : 1);
}

static void pack_a_avx512(float *dst, const float *a, int64_t m, int64_t k, int64_t rs);

void gemm_pack_a(float *dst, const float *a, int64_t m, int64_t k, int64_t rs, int64_t cs) {
  if (cs == 1 && gemm_have_avx512()) {
    pack_a_avx512(dst, a, m, k, rs);
    return;
  }
  for (int64_t i0 = 0; i0 < m; i0 += GEMM_MR) {
    float *d = dst + i0 * k;
    int64_t mr = m - i0 < GEMM_MR ? m - i0 : GEMM_MR;
    for (int64_t r = 0; r < GEMM_MR; r++) {
      const float *src = a + (i0 + r) * rs;
      if (r >= mr) {
        for (int64_t p = 0; p < k; p++) d[p * GEMM_MR + r] = 0;
      } else {
        for (int64_t p = 0; p < k; p++) d[p * GEMM_MR + r] = src[p * cs];
      }
    }
  }
}

size_t gemm_pack_b_size(int64_t k, int64_t n) {
  return (size_t)((n + GEMM_NR - 1) / GEMM_NR) * GEMM_NR * (size_t)(k > 0 ? k : 1);
}

void gemm_pack_b(float *dst, const float *b, int64_t k, int64_t n, int64_t rs, int64_t cs) {
  for (int64_t j0 = 0; j0 < n; j0 += GEMM_NR) {
    float *d = dst + j0 * k;
    int64_t nr = n - j0 < GEMM_NR ? n - j0 : GEMM_NR;
    for (int64_t p = 0; p < k; p++) {
      const float *src = b + p * rs + j0 * cs;
      for (int64_t j = 0; j < nr; j++) d[p * GEMM_NR + j] = src[j * cs];
      for (int64_t j = nr; j < GEMM_NR; j++) d[p * GEMM_NR + j] = 0;
    }
  }
}

/* --- activation ---------------------------------------------------------------------------- */

static inline float act_scalar(const act_spec *a, float x) {
  switch (a->kind) {
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_CLIP: return x < a->lo ? a->lo : (x > a->hi ? a->hi : x);
    case ACT_LEAKY_RELU: return x >= 0 ? x : a->lo * x;
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    default: return x;
  }
}

/* --- micro-kernels ------------------------------------------------------------------------- */

/* A kernel multiplies kc rows: 8×kc packed A (a) by kc×(16·nv) B and leaves the MR×48 result
 * in t (adding to t when load_t). B row p is at b + offs[p] (offs) or b + p*stride; the last
 * 16-lane vector reads only `nlast` lanes. */
typedef void (*ukern_fn)(int64_t kc, const float *a, const float *b, const int64_t *offs,
                         int64_t stride, int nlast, float *t, bool load_t, bool pf);

static void ukern_c(int mr, int nv, int64_t kc, const float *a, const float *b,
                    const int64_t *offs, int64_t stride, int nlast, float *t, bool load_t) {
  float acc[GEMM_MR][GEMM_NR];
  int ncol = (nv - 1) * 16 + nlast;
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < GEMM_NR; j++) acc[r][j] = load_t ? t[r * GEMM_NR + j] : 0;
  for (int64_t p = 0; p < kc; p++) {
    const float *bp = offs ? b + offs[p] : b + p * stride;
    for (int r = 0; r < mr; r++) {
      float av = a[p * GEMM_MR + r];
      for (int j = 0; j < ncol; j++) acc[r][j] += av * bp[j];
    }
  }
  for (int r = 0; r < mr; r++) memcpy(t + r * GEMM_NR, acc[r], sizeof acc[r]);
}

/* A run of lanes of one 16-lane vector of a tile that lands in one output row: lanes
 * [l, l+n) of vector v go to C offset off (plus the row's offset). */
typedef struct tile_seg {
  int v, l, n;
  int64_t off;
} tile_seg;

/* Splits padded columns [j0, j0+ncv) at vector and padded-row boundaries, dropping gap
 * columns. One division per tile. */
static int tile_segs(const gemm_shape *s, int64_t j0, int64_t ncv, tile_seg *segs) {
  int ns = 0;
  int64_t oh = j0 / s->ws, ow = j0 % s->ws;
  for (int64_t jj = 0; jj < ncv;) {
    int64_t l = jj % 16, piece = 16 - l;
    if (piece > s->ws - ow) piece = s->ws - ow;
    if (piece > ncv - jj) piece = ncv - jj;
    int64_t valid = ow < s->ow ? (s->ow - ow < piece ? s->ow - ow : piece) : 0;
    if (valid > 0) segs[ns++] = (tile_seg){(int)(jj / 16), (int)l, (int)valid, oh * s->ow + ow};
    jj += piece;
    ow += piece;
    if (ow == s->ws) {
      ow = 0;
      oh++;
    }
  }
  return ns;
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi,bmi2")

static inline __attribute__((always_inline)) void ukern_body(const int MR, const int NV,
                                                             int64_t kc, const float *a,
                                                             const float *b, const int64_t *offs,
                                                             int64_t stride, int nlast, float *t,
                                                             bool load_t, bool pf) {
  __m512 acc[GEMM_MR][3];
  __mmask16 ml = (__mmask16)((1u << nlast) - 1u);
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      acc[r][v] = load_t ? _mm512_load_ps(t + r * GEMM_NR + v * 16) : _mm512_setzero_ps();
#define UK_STEP(BP)                                                                  \
  do {                                                                               \
    __m512 bv[3];                                                                    \
    _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) bv[v] =                     \
        v == NV - 1 ? _mm512_maskz_loadu_ps(ml, (BP) + v * 16)                       \
                    : _mm512_loadu_ps((BP) + v * 16);                                \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                           \
      __m512 av = _mm512_set1_ps(a[r]);                                              \
      _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[r][v] =               \
          _mm512_fmadd_ps(av, bv[v], acc[r][v]);                                     \
    }                                                                                \
    a += GEMM_MR;                                                                    \
  } while (0)
  if (offs && pf) { /* also fetch the next tile's rows (the 48 floats after these) into L1 */
    for (int64_t p = 0; p < kc; p++) {
      const float *bp = b + offs[p];
      _mm_prefetch((const char *)(bp + 64), _MM_HINT_T0);
      _mm_prefetch((const char *)(bp + 80), _MM_HINT_T0);
      _mm_prefetch((const char *)(bp + 95), _MM_HINT_T0);
      UK_STEP(bp);
    }
  } else if (offs) {
    for (int64_t p = 0; p < kc; p++) UK_STEP(b + offs[p]);
  } else {
    for (int64_t p = 0; p < kc; p++) UK_STEP(b + p * stride);
  }
#undef UK_STEP
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) _mm512_store_ps(t + r * GEMM_NR + v * 16, acc[r][v]);
}

#define UK_DEF(MR_, NV_)                                                                     \
  static void ukern_##MR_##_##NV_(int64_t kc, const float *a, const float *b,               \
                                  const int64_t *offs, int64_t stride, int nlast, float *t, \
                                  bool load_t, bool pf) {                                    \
    ukern_body(MR_, NV_, kc, a, b, offs, stride, nlast, t, load_t, pf);                      \
  }
#define UK_ROW(MR_) UK_DEF(MR_, 1) UK_DEF(MR_, 2) UK_DEF(MR_, 3)
UK_ROW(1) UK_ROW(2) UK_ROW(3) UK_ROW(4) UK_ROW(5) UK_ROW(6) UK_ROW(7) UK_ROW(8)
#undef UK_ROW
#undef UK_DEF

#define UK_ENT(MR_) {ukern_##MR_##_1, ukern_##MR_##_2, ukern_##MR_##_3}
static const ukern_fn ukern_tab[GEMM_MR][3] = {UK_ENT(1), UK_ENT(2), UK_ENT(3), UK_ENT(4),
                                               UK_ENT(5), UK_ENT(6), UK_ENT(7), UK_ENT(8)};
#undef UK_ENT

/* Stores rows [0, mr) of tile t (padded columns j0.., ncv of them valid) into C. */
static void finish_avx512(const float *t, int mr, int64_t row0, int64_t j0, int64_t ncv,
                          const gemm_shape *s, const gemm_prod *p, const act_spec *act,
                          const tile_seg *segs, int ns) {
  __m512 alpha = _mm512_set1_ps(s->alpha);
  if (s->ws == s->ow) {
    for (int r = 0; r < mr; r++) {
      int64_t row = row0 + r;
      float *crow = p->c + row * s->ldc;
      __m512 brow = _mm512_set1_ps(p->bias_row ? p->bias_row[row] : 0.0f);
      for (int64_t v = 0; v * 16 < ncv; v++) {
        __m512 x = _mm512_mul_ps(_mm512_load_ps(t + r * GEMM_NR + v * 16), alpha);
        int64_t col = j0 + v * 16;
        int64_t lanes = ncv - v * 16 < 16 ? ncv - v * 16 : 16;
        __mmask16 mk = (__mmask16)((1u << lanes) - 1u);
        if (s->accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, crow + col));
        x = _mm512_add_ps(x, brow);
        if (p->bias_col) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, p->bias_col + col));
        _mm512_mask_storeu_ps(crow + col, mk, act_v(act, x));
      }
    }
    return;
  }
  for (int r = 0; r < mr; r++) {
    int64_t row = row0 + r;
    __m512 brow = _mm512_set1_ps(p->bias_row ? p->bias_row[row] : 0.0f);
    for (int i = 0; i < ns; i++) {
      const tile_seg *g = &segs[i];
      __m512 x = _mm512_fmadd_ps(_mm512_load_ps(t + r * GEMM_NR + g->v * 16), alpha, brow);
      __mmask16 mk = (__mmask16)(((1u << g->n) - 1u) << g->l);
      int64_t at = row * s->ldc + g->off; /* offset of lane l from p->c */
      if (at >= g->l) { /* lane 0's address is still inside C: a plain masked store */
        float *dst = p->c + at - g->l;
        if (s->accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, dst));
        _mm512_mask_storeu_ps(dst, mk, act_v(act, x));
      } else {
        float *dst = p->c + at;
        if (s->accumulate) x = _mm512_add_ps(x, _mm512_mask_expandloadu_ps(x, mk, dst));
        _mm512_mask_compressstoreu_ps(dst, mk, act_v(act, x));
      }
    }
  }
}

#pragma GCC pop_options

static void finish_c(const float *t, int mr, int64_t row0, int64_t j0, int64_t ncv,
                     const gemm_shape *s, const gemm_prod *p, const act_spec *act,
                     const tile_seg *segs, int ns) {
  for (int r = 0; r < mr; r++) {
    int64_t row = row0 + r;
    float *crow = p->c + row * s->ldc;
    float brow = p->bias_row ? p->bias_row[row] : 0.0f;
    if (s->ws == s->ow) {
      for (int64_t jj = 0; jj < ncv; jj++) {
        float x = s->alpha * t[r * GEMM_NR + jj] + brow;
        if (s->accumulate) x += crow[j0 + jj];
        if (p->bias_col) x += p->bias_col[j0 + jj];
        crow[j0 + jj] = act_scalar(act, x);
      }
      continue;
    }
    for (int i = 0; i < ns; i++)
      for (int l = 0; l < segs[i].n; l++) {
        float *dst = crow + segs[i].off + l;
        float x = s->alpha * t[r * GEMM_NR + segs[i].v * 16 + segs[i].l + l] + brow;
        if (s->accumulate) x += *dst;
        *dst = act_scalar(act, x);
      }
  }
}

/* Asks for the lines tile rows [row0, row0+mr) will be stored to, so that the stores' reads
 * for ownership overlap the kernel's arithmetic instead of stalling the epilogue. */
static void prefetch_c(const gemm_shape *s, const gemm_prod *p, int mr, int64_t row0, int64_t j0,
                       int64_t ncv, const tile_seg *segs, int ns) {
  for (int r = 0; r < mr; r++) {
    const float *crow = p->c + (row0 + r) * s->ldc;
    if (s->ws == s->ow) {
      for (int64_t jj = 0; jj < ncv; jj += 16) __builtin_prefetch(crow + j0 + jj, 1, 3);
      __builtin_prefetch(crow + j0 + ncv - 1, 1, 3);
    } else {
      for (int i = 0; i < ns; i++) {
        __builtin_prefetch(crow + segs[i].off, 1, 3);
        __builtin_prefetch(crow + segs[i].off + segs[i].n - 1, 1, 3);
      }
    }
  }
}

bool gemm_have_avx512(void) {
  static atomic_int have = -1; /* -1: not yet known */
  int h = atomic_load_explicit(&have, memory_order_relaxed);
  if (h < 0) {
    const char *off = getenv("LADLE_DISABLE_AVX512");
    h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        !(off && off[0] && strcmp(off, "0") != 0);
    atomic_store_explicit(&have, h, memory_order_relaxed);
  }
  return h == 1;
}

/* --- the driver ---------------------------------------------------------------------------- */

/* Accumulator buffers for tasks whose K is split in blocks: one of CBUF_FLOATS per thread that
 * may run a task at once, claimed and given back by bit (a task keeps its tile sums there
 * between K blocks). */
typedef struct cbufs {
  float *buf;
  atomic_uint used; /* bit i set: buffer i in use */
} cbufs;

/* Takes scratch slot `slot` for the buffers when k is longer than one block (kc, 0: KC). */
static ladle_status cbufs_init(cbufs *cb, op_ctx *c, int slot, int64_t k, int64_t kc, bool par,
                               int threads) {
  int nslots = par ? threads : 1;
  if (nslots > 32) nslots = 32;
  cb->buf = NULL;
  atomic_init(&cb->used, 0u);
  if (k > (kc > 0 ? kc : KC)) {
    cb->buf = op_scratch(c, slot, (size_t)nslots * CBUF_FLOATS * sizeof(float));
    if (!cb->buf) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for GEMM buffers");
  }
  return LADLE_OK;
}

static float *cbufs_claim(cbufs *cb, unsigned *bit) {
  for (;;) {
    unsigned cur = atomic_load(&cb->used);
    unsigned free_bits = ~cur;
    if (!free_bits) continue; /* cannot happen: tasks never outnumber threads */
    unsigned b = (unsigned)__builtin_ctz(free_bits);
    if (atomic_compare_exchange_weak(&cb->used, &cur, cur | (1u << b))) {
      *bit = b;
      return cb->buf + (size_t)b * CBUF_FLOATS;
    }
  }
}

static void cbufs_release(cbufs *cb, unsigned bit) { atomic_fetch_and(&cb->used, ~(1u << bit)); }

/* Runs tasks 0..n of fn, on the pool when par. */
static void tasks_run(op_ctx *c, bool par, int64_t n, tpool_fn fn, void *job) {
  if (par)
    tpool_run(op_pool(c), n, fn, job);
  else
    for (int64_t t = 0; t < n; t++) fn(job, t);
}

typedef struct run_job {
  const gemm_shape *s;
  gemm_prod_fn get;
  void *ud;
  int64_t mp, nq;         /* row panels and column tiles of one product */
  int64_t mchunk, qchunk; /* per task */
  int64_t mtasks, qtasks; /* per product */
  cbufs cb;
  bool avx512;
  act_spec act;
} run_job;

static void run_task(void *arg, int64_t task) {
  run_job *j = arg;
  const gemm_shape *s = j->s;
  int64_t per_prod = j->mtasks * j->qtasks;
  int64_t prod = task / per_prod, rem = task % per_prod;
  int64_t i0 = rem / j->qtasks * j->mchunk, q0 = rem % j->qtasks * j->qchunk;
  int64_t i1 = i0 + j->mchunk < j->mp ? i0 + j->mchunk : j->mp;
  int64_t q1 = q0 + j->qchunk < j->nq ? q0 + j->qchunk : j->nq;
  int64_t k = s->k, kcb = s->kc > 0 ? s->kc : KC, nkb = k > 0 ? (k + kcb - 1) / kcb : 1;
  if (nkb > 1) kcb = (k + nkb - 1) / nkb; /* even blocks: no short tail block */
  float local[TILE] __attribute__((aligned(64)));
  float *cb = local;
  unsigned bit = 0;
  gemm_prod p;
  j->get(j->ud, prod, &p);
  if (nkb > 1) cb = cbufs_claim(&j->cb, &bit);
  for (int64_t kb = 0; kb < nkb; kb++) {
    int64_t k0 = kb * kcb, kc = k - k0 < kcb ? k - k0 : kcb;
    if (kc < 0) kc = 0;
    /* tile outer, panel inner: the tile's B rows stay in L1 while the A panels stream by */
    for (int64_t q = q0; q < q1; q++) {
      int64_t j0 = q * GEMM_NR;
      int64_t ncv = s->cols - j0 < GEMM_NR ? s->cols - j0 : GEMM_NR;
      int nv = (int)((ncv + 15) / 16), nlast = (int)(ncv - (nv - 1) * 16);
      const float *b;
      const int64_t *offs = NULL;
      int64_t stride = p.b.stride;
      if (p.b.panels) {
        b = p.b.base + q * GEMM_NR * k + k0 * GEMM_NR;
        stride = GEMM_NR;
      } else if (p.b.offs) {
        b = p.b.base + j0;
        offs = p.b.offs + k0;
      } else {
        b = p.b.base + j0 + k0 * p.b.stride;
      }
      tile_seg segs[GEMM_NR];
      int ns = 0;
      bool last = kb == nkb - 1;
      if (last && s->ws != s->ow) ns = tile_segs(s, j0, ncv, segs);
      for (int64_t ip = i0; ip < i1; ip++) {
        int mr = (int)(s->m - ip * GEMM_MR < GEMM_MR ? s->m - ip * GEMM_MR : GEMM_MR);
        const float *a = p.a + ip * GEMM_MR * k + k0 * GEMM_MR;
        float *t = nkb > 1 ? cb + ((ip - i0) * (q1 - q0) + (q - q0)) * TILE : cb;
        if (last) prefetch_c(s, &p, mr, ip * GEMM_MR, j0, ncv, segs, ns);
        if (j->avx512)
          ukern_tab[mr - 1][nv - 1](kc, a, b, offs, stride, nlast, t, kb > 0,
                                    ip == i0 && q + 1 < q1);
        else
          ukern_c(mr, nv, kc, a, b, offs, stride, nlast, t, kb > 0);
        if (last) {
          if (j->avx512)
            finish_avx512(t, mr, ip * GEMM_MR, j0, ncv, s, &p, &j->act, segs, ns);
          else
            finish_c(t, mr, ip * GEMM_MR, j0, ncv, s, &p, &j->act, segs, ns);
        }
      }
    }
  }
  if (nkb > 1) cbufs_release(&j->cb, bit);
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* How much longer than an even split the busiest thread works when the tasks (reps × row
 * chunks × column chunks, in that order; a task costs its rows times its 16-lane vectors) are
 * taken in order by whichever thread is free. 1.0 is perfect. */
static double split_imbalance(int64_t reps, int64_t rows, int64_t rchunk, int64_t vecs,
                              int64_t vchunk, int threads) {
  double load[64] = {0}, total = 0;
  if (threads > 64) threads = 64;
  for (int64_t r = 0; r < reps; r++)
    for (int64_t i = 0; i < rows; i += rchunk)
      for (int64_t v = 0; v < vecs; v += vchunk) {
        double cost = (double)(rows - i < rchunk ? rows - i : rchunk) *
                      (double)(vecs - v < vchunk ? vecs - v : vchunk);
        int best = 0;
        for (int t = 1; t < threads; t++)
          if (load[t] < load[best]) best = t;
        load[best] += cost;
        total += cost;
      }
  double worst = 0;
  for (int t = 0; t < threads; t++) worst = load[t] > worst ? load[t] : worst;
  return total > 0 ? worst * threads / total : 1.0;
}

ladle_status gemm_run(op_ctx *c, int slot, const gemm_shape *s, int64_t n_prod, gemm_prod_fn get,
                      void *ud) {
  run_job j;
  memset(&j, 0, sizeof j);
  if (s->m <= 0 || s->cols <= 0 || n_prod <= 0) return LADLE_OK;
  j.s = s;
  j.get = get;
  j.ud = ud;
  j.avx512 = gemm_have_avx512();
  j.act = act_of(s->act_node);
  j.mp = cdiv(s->m, GEMM_MR);
  j.nq = cdiv(s->cols, GEMM_NR);
  j.mchunk = j.mp < TASK_PANELS ? j.mp : TASK_PANELS;
  j.qchunk = j.nq < TASK_TILES ? j.nq : TASK_TILES;
  int threads = op_threads(c);
  double macs = (double)s->m * (double)s->k * (double)s->cols * (double)n_prod;
  bool par = threads > 1 && macs >= PAR_MIN_MACS;
  if (par && n_prod * cdiv(j.mp, j.mchunk) * cdiv(j.nq, j.qchunk) < 32 * (int64_t)threads) {
    /* few tasks: the widest chunks that still share out evenly, columns first, then rows */
    int64_t vecs = cdiv(s->cols, 16), best_m = j.mchunk, best_q = j.qchunk;
    double best = 1e9;
    for (int64_t mc = j.mchunk; mc >= 1 && best > 1.06; mc = mc > 1 ? cdiv(mc, 2) : 0)
      for (int64_t qc = j.qchunk; qc >= 1 && best > 1.06; qc--) {
        double imb = split_imbalance(n_prod, j.mp, mc, vecs, qc * 3, threads);
        if (imb < best - 1e-9) best = imb, best_m = mc, best_q = qc;
      }
    j.mchunk = best_m;
    j.qchunk = best_q;
  }
  j.mtasks = cdiv(j.mp, j.mchunk);
  j.qtasks = cdiv(j.nq, j.qchunk);
  int64_t tasks = n_prod * j.mtasks * j.qtasks;
  ladle_status st = cbufs_init(&j.cb, c, slot, s->k, s->kc, par, threads);
  if (st) return st;
  tasks_run(c, par, tasks, run_task, &j);
  return LADLE_OK;
}

/* --- pixel-major products ------------------------------------------------------------------ */

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi,bmi2")

/* Like ukern_body with A read in place (row p at a + aoffs[p], MR consecutive floats) and B a
 * 48-column panel. */
static inline __attribute__((always_inline)) void ukpix_body(const int MR, const int NV,
                                                             int64_t kc, const float *a,
                                                             const int64_t *aoffs, const float *b,
                                                             int nlast, float *t, bool load_t) {
  __m512 acc[GEMM_MR][3];
  __mmask16 ml = (__mmask16)((1u << nlast) - 1u);
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      acc[r][v] = load_t ? _mm512_load_ps(t + r * GEMM_NR + v * 16) : _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++, b += GEMM_NR) {
    const float *ap = a + aoffs[p];
    __m512 bv[3];
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(ml, b + v * 16) : _mm512_load_ps(b + v * 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      __m512 av = _mm512_set1_ps(ap[r]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) _mm512_store_ps(t + r * GEMM_NR + v * 16, acc[r][v]);
}

typedef void (*ukpix_fn)(int64_t kc, const float *a, const int64_t *aoffs, const float *b,
                         int nlast, float *t, bool load_t);

#define UKP_DEF(MR_, NV_)                                                                      \
  static void ukpix_##MR_##_##NV_(int64_t kc, const float *a, const int64_t *aoffs,           \
                                  const float *b, int nlast, float *t, bool load_t) {         \
    ukpix_body(MR_, NV_, kc, a, aoffs, b, nlast, t, load_t);                                   \
  }
#define UKP_ROW(MR_) UKP_DEF(MR_, 1) UKP_DEF(MR_, 2) UKP_DEF(MR_, 3)
UKP_ROW(1) UKP_ROW(2) UKP_ROW(3) UKP_ROW(4) UKP_ROW(5) UKP_ROW(6) UKP_ROW(7) UKP_ROW(8)
#undef UKP_ROW
#undef UKP_DEF

#define UKP_ENT(MR_) {ukpix_##MR_##_1, ukpix_##MR_##_2, ukpix_##MR_##_3}
static const ukpix_fn ukpix_tab[GEMM_MR][3] = {UKP_ENT(1), UKP_ENT(2), UKP_ENT(3), UKP_ENT(4),
                                               UKP_ENT(5), UKP_ENT(6), UKP_ENT(7), UKP_ENT(8)};
#undef UKP_ENT

/* Transposes 8 rows of 8 floats in place: r[i][j] becomes r[j][i]. */
static inline void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* gemm_pack_a for a row-major A: 8 rows × 8 columns at a time through a register transpose. */
static void pack_a_avx512(float *dst, const float *a, int64_t m, int64_t k, int64_t rs) {
  for (int64_t i0 = 0; i0 < m; i0 += GEMM_MR) {
    float *d = dst + i0 * k;
    int64_t mr = m - i0 < GEMM_MR ? m - i0 : GEMM_MR;
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++)
        r[i] = i < mr ? _mm256_loadu_ps(a + (i0 + i) * rs + p) : _mm256_setzero_ps();
      transpose8(r); /* r[j] = column p + j across the 8 rows */
      for (int j = 0; j < 8; j++) _mm256_storeu_ps(d + (p + j) * GEMM_MR, r[j]);
    }
    for (; p < k; p++)
      for (int64_t i = 0; i < GEMM_MR; i++) d[p * GEMM_MR + i] = i < mr ? a[(i0 + i) * rs + p] : 0.0f;
  }
}

/* Stores tile t (mr pixels × ncv channels from channel j0) transposed: channel c's mr values
 * are contiguous in y. Eight channels at a time go through an 8x8 register transpose. */
static void pix_finish(const float *t, int mr, int64_t j0, int64_t ncv, float *ydst, int64_t ldy,
                       const float *bias, const act_spec *act) {
  __mmask8 rows = (__mmask8)((1u << mr) - 1u);
  for (int64_t v = 0; v * 16 < ncv; v++) {
    int64_t lanes = ncv - v * 16 < 16 ? ncv - v * 16 : 16;
    __mmask16 mk = (__mmask16)((1u << lanes) - 1u);
    __m512 bv = bias ? _mm512_maskz_loadu_ps(mk, bias + j0 + v * 16) : _mm512_setzero_ps();
    __m512 x[GEMM_MR];
    for (int r = 0; r < GEMM_MR; r++) /* rows past mr are never stored */
      x[r] = r < mr ? act_v(act, _mm512_add_ps(_mm512_load_ps(t + r * GEMM_NR + v * 16), bv))
                    : _mm512_setzero_ps();
    for (int h = 0; h < 2 && h * 8 < lanes; h++) {
      __m256 q[8];
      for (int r = 0; r < 8; r++)
        q[r] = h ? _mm512_extractf32x8_ps(x[r], 1) : _mm512_castps512_ps256(x[r]);
      transpose8(q); /* q[i] = channel j0 + 16v + 8h + i across the 8 pixels */
      for (int i = 0; i < 8 && h * 8 + i < lanes; i++)
        _mm256_mask_storeu_ps(ydst + (j0 + v * 16 + h * 8 + i) * ldy, rows, q[i]);
    }
  }
}

#pragma GCC pop_options

typedef struct pix_job {
  const gemm_pix *g;
  int64_t nq;
  int64_t pchunk, qchunk, qtasks;
  cbufs cb;
  act_spec act;
} pix_job;

static void pix_task(void *arg, int64_t task) {
  pix_job *j = arg;
  const gemm_pix *g = j->g;
  int64_t i0 = task / j->qtasks * j->pchunk, q0 = task % j->qtasks * j->qchunk;
  int64_t i1 = i0 + j->pchunk < g->panels ? i0 + j->pchunk : g->panels;
  int64_t q1 = q0 + j->qchunk < j->nq ? q0 + j->qchunk : j->nq;
  int64_t k = g->k, kcb = g->kc > 0 ? g->kc : KC, nkb = k > 0 ? (k + kcb - 1) / kcb : 1;
  if (nkb > 1) kcb = (k + nkb - 1) / nkb;
  float local[TILE] __attribute__((aligned(64)));
  float *cb = local;
  unsigned bit = 0;
  if (nkb > 1) cb = cbufs_claim(&j->cb, &bit);
  const float *pa[CBUF_FLOATS / TILE]; /* the task's panels, looked up once */
  float *py[CBUF_FLOATS / TILE];
  int pr[CBUF_FLOATS / TILE];
  for (int64_t ip = i0; ip < i1; ip++) g->panel(g->ud, ip, &pa[ip - i0], &pr[ip - i0], &py[ip - i0]);
  /* tile, then K block, then panel: each tile's weights are read once, front to back (a
   * stream the prefetchers follow), and a K block of them stays in L1 while the panels'
   * pixel rows (one or two lines per k) go by */
  for (int64_t q = q0; q < q1; q++) {
    int64_t j0 = q * GEMM_NR, ncv = g->n - j0 < GEMM_NR ? g->n - j0 : GEMM_NR;
    int nv = (int)((ncv + 15) / 16), nlast = (int)(ncv - (nv - 1) * 16);
    for (int64_t kb = 0; kb < nkb; kb++) {
      int64_t k0 = kb * kcb, kc = k - k0 < kcb ? k - k0 : kcb;
      if (kc < 0) kc = 0;
      bool last = kb == nkb - 1;
      const float *bq = g->b + q * GEMM_NR * k + k0 * GEMM_NR;
      for (int64_t ip = i0; ip < i1; ip++) {
        int64_t x = ip - i0;
        float *t = nkb > 1 ? cb + x * TILE : cb;
        ukpix_tab[pr[x] - 1][nv - 1](kc, pa[x], g->aoffs + k0, bq, nlast, t, kb > 0);
        if (last) pix_finish(t, pr[x], j0, ncv, py[x], g->ldy, g->bias, &j->act);
      }
    }
  }
  if (nkb > 1) cbufs_release(&j->cb, bit);
}

ladle_status gemm_run_pix(op_ctx *c, int slot, const gemm_pix *g) {
  pix_job j;
  memset(&j, 0, sizeof j);
  if (g->panels <= 0 || g->n <= 0) return LADLE_OK;
  j.g = g;
  j.act = act_of(g->act_node);
  j.nq = cdiv(g->n, GEMM_NR);
  int threads = op_threads(c);
  double macs = (double)g->panels * GEMM_MR * (double)g->k * (double)g->n;
  bool par = threads > 1 && macs >= PAR_MIN_MACS;
  /* One tile of channels per task: a task reads its weights once whatever its panels, so
   * splitting channels is free. Panels are split (which reads the weights again per part)
   * only as the tile buffers demand or to share the work out evenly. */
  int64_t qcount = j.nq;
  int64_t pcount = cdiv(g->panels, (int64_t)(CBUF_FLOATS / TILE)); /* one tile buffer per panel */
  if (par) {
    int64_t vecs = cdiv(g->n, 16);
    int64_t cap = pcount + 16 * (int64_t)threads; /* bounds the search on huge inputs */
    while (pcount < g->panels && pcount < cap &&
           split_imbalance(1, g->panels, cdiv(g->panels, pcount), vecs, 3, threads) > 1.08)
      pcount++;
  }
  j.pchunk = cdiv(g->panels, pcount);
  j.qchunk = cdiv(j.nq, qcount);
  j.qtasks = cdiv(j.nq, j.qchunk);
  int64_t tasks = cdiv(g->panels, j.pchunk) * j.qtasks;
  ladle_status st = cbufs_init(&j.cb, c, slot, g->k, g->kc, par, threads);
  if (st) return st;
  tasks_run(c, par, tasks, pix_task, &j);
  return LADLE_OK;
}

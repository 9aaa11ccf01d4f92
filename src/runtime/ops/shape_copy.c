/* shape_copy.c — the helpers the data-movement kernels share (shape.c, pad.c, gather.c,
 * generate.c; declared in shape_common.h) and the strided-copy engine, shape_copy_strided(): a
 * strided view merged into as few axes as possible, then copied row by row (memcpy, fill,
 * gather) or, for a transpose, in cache tiles, across the pool when it is large. */
#include <stddef.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "runtime/ops/shape_common.h"

/* --- shared helpers ----------------------------------------------------------------------- */

bool shape_axis(int64_t axis, int rank, int *out) {
  if (axis < -(int64_t)rank || axis >= rank) return false;
  *out = (int)(axis < 0 ? axis + rank : axis);
  return true;
}

void shape_fill(void *dst, const void *val, int64_t n, size_t esz) {
  switch (esz) {
    case 1: memset(dst, *(const uint8_t *)val, (size_t)n); return;
#define FILL_T(T)                             \
  {                                           \
    T v, *d = dst;                            \
    memcpy(&v, val, sizeof v);                \
    for (int64_t i = 0; i < n; i++) d[i] = v; \
  }
    case 2: FILL_T(uint16_t) return;
    case 4: FILL_T(uint32_t) return;
    case 8: FILL_T(uint64_t) return;
#undef FILL_T
    default:
      for (int64_t i = 0; i < n; i++) memcpy((char *)dst + (size_t)i * esz, val, esz);
  }
}

ladle_status shape_own_strings(op_ctx *c, ladle_tensor *y) {
  if (y->dtype != LADLE_STRING) return LADLE_OK;
  char **s = y->data;
  int64_t n = ladle_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    char *copy = strdup(s[i] ? s[i] : "");
    if (!copy) {
      for (int64_t k = i; k < n; k++) s[k] = NULL;
      return op_fail(c, LADLE_ERR_NOMEM, "out of memory copying strings");
    }
    s[i] = copy;
  }
  return LADLE_OK;
}

ladle_status shape_read_ints(op_ctx *c, const ladle_tensor *t, const char *what, int64_t max,
                             int64_t *out, int *n) {
  if (!dtype_is_integer(t->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be an integer tensor, got %s", what,
                   ladle_dtype_name(t->dtype));
  if (t->ndim > 1) return op_fail(c, LADLE_ERR_SHAPE, "%s must be 1-D, got rank %d", what, t->ndim);
  int64_t len = ladle_tensor_numel(t);
  if (len > max)
    return op_fail(c, LADLE_ERR_SHAPE, "%s has %lld entries, at most %lld allowed", what,
                   (long long)len, (long long)max);
  for (int64_t i = 0; i < len; i++) out[i] = tensor_get_i64(t, i);
  *n = (int)len;
  return LADLE_OK;
}

/* --- the strided-copy engine -------------------------------------------------------------- */

enum { ROW_COPY, ROW_FILL, ROW_GATHER, ROW_TILE };

#define TILE 32
#define PAR_MIN_BYTES (1024 * 1024)

typedef struct plan {
  char *dst;
  const char *src;
  size_t esz;
  int kind;
  int n_outer; /* outer axes, iterated around the row kernel */
  int64_t odims[SHAPE_VIEW_MAX], osrc[SHAPE_VIEW_MAX], odst[SHAPE_VIEW_MAX];
  int64_t inner, inner_src; /* the last axis: length and source stride */
  int64_t rows, rows_dst;   /* ROW_TILE: the unit-stride source axis: length and dest stride */
  int64_t n_items;          /* outer items (times the TILE x TILE blocks for ROW_TILE) */
  int64_t per_task;
} plan;

static void row_gather(char *dp, const char *sp, int64_t n, int64_t is, size_t esz) {
#define GATHER_T(T)                                       \
  {                                                       \
    T *d = (T *)dp;                                       \
    const T *s = (const T *)sp;                           \
    for (int64_t b = 0; b < n; b++) d[b] = s[b * is];     \
  }
  switch (esz) {
    case 1: GATHER_T(uint8_t) break;
    case 2: GATHER_T(uint16_t) break;
    case 4: GATHER_T(uint32_t) break;
    case 8: GATHER_T(uint64_t) break;
    default:
      for (int64_t b = 0; b < n; b++)
        memcpy(dp + (size_t)b * esz, sp + (ptrdiff_t)(b * is) * (ptrdiff_t)esz, esz);
  }
#undef GATHER_T
}

#if defined(__AVX__)
/* One 8x8 block of 4-byte elements: row b of the source (8 elements along a at s + b * is)
 * becomes column b of the destination (row a at d + a * rd). Moves bits only. */
static inline void tr8x8_32(uint32_t *d, int64_t rd, const uint32_t *s, int64_t is) {
  __m256 r0 = _mm256_loadu_ps((const float *)(s + 0 * is)), r1 = _mm256_loadu_ps((const float *)(s + 1 * is));
  __m256 r2 = _mm256_loadu_ps((const float *)(s + 2 * is)), r3 = _mm256_loadu_ps((const float *)(s + 3 * is));
  __m256 r4 = _mm256_loadu_ps((const float *)(s + 4 * is)), r5 = _mm256_loadu_ps((const float *)(s + 5 * is));
  __m256 r6 = _mm256_loadu_ps((const float *)(s + 6 * is)), r7 = _mm256_loadu_ps((const float *)(s + 7 * is));
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps((float *)(d + 0 * rd), _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps((float *)(d + 1 * rd), _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps((float *)(d + 2 * rd), _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps((float *)(d + 3 * rd), _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps((float *)(d + 4 * rd), _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps((float *)(d + 5 * rd), _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps((float *)(d + 6 * rd), _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps((float *)(d + 7 * rd), _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

/* dst[a * rd + b] = src[a + b * is] for a in [a0, a1), b in [b0, b1): one cache block (8x8
 * register blocks for 4-byte elements where AVX is available). */
static void tile_transpose(char *dp, const char *sp, int64_t a0, int64_t a1, int64_t b0, int64_t b1,
                           int64_t rd, int64_t is, size_t esz) {
#define TILE_T(T, BS)                                               \
  {                                                                 \
    T *d = (T *)dp;                                                 \
    const T *s = (const T *)sp;                                     \
    for (int64_t a = a0; a < a1; a++) {                             \
      T *dr = d + a * rd;                                           \
      const T *sr = s + a;                                          \
      for (int64_t b = (BS); b < b1; b++) dr[b] = sr[b * is];       \
    }                                                               \
  }
  switch (esz) {
    case 1: TILE_T(uint8_t, b0) break;
    case 2: TILE_T(uint16_t, b0) break;
    case 4: {
      int64_t b8 = b0;
#if defined(__AVX__)
      int64_t a8 = a0 + (a1 - a0) / 8 * 8;
      b8 = b0 + (b1 - b0) / 8 * 8;
      uint32_t *d = (uint32_t *)dp;
      const uint32_t *s = (const uint32_t *)sp;
      for (int64_t bb = b0; bb < b8; bb += 8) {
        for (int64_t a = a0; a < a8; a += 8) tr8x8_32(d + a * rd + bb, rd, s + a + bb * is, is);
        for (int64_t a = a8; a < a1; a++)
          for (int64_t b = bb; b < bb + 8; b++) d[a * rd + b] = s[a + b * is];
      }
#endif
      TILE_T(uint32_t, b8) /* the columns left over (all of them without AVX) */
      break;
    }
    case 8: TILE_T(uint64_t, b0) break;
    default:
      for (int64_t a = a0; a < a1; a++)
        row_gather(dp + (size_t)(a * rd + b0) * esz, sp + (size_t)(a + b0 * is) * esz, b1 - b0, is, esz);
  }
#undef TILE_T
}

static void plan_row(const plan *p, int64_t so, int64_t dof) {
  char *d = p->dst + (ptrdiff_t)dof * (ptrdiff_t)p->esz;
  const char *s = p->src + (ptrdiff_t)so * (ptrdiff_t)p->esz;
  switch (p->kind) {
    case ROW_COPY: memcpy(d, s, (size_t)p->inner * p->esz); break;
    case ROW_FILL: shape_fill(d, s, p->inner, p->esz); break;
    default: row_gather(d, s, p->inner, p->inner_src, p->esz); break;
  }
}

/* Runs items [i0, i1) of the plan. */
static void plan_run(const plan *p, int64_t i0, int64_t i1) {
  int64_t idx[SHAPE_VIEW_MAX];
  int no = p->n_outer;
  if (p->kind == ROW_TILE) { /* items: (outer, column block, row block), row block fastest */
    int64_t nab = (p->rows + TILE - 1) / TILE, nbb = (p->inner + TILE - 1) / TILE;
    for (int64_t it = i0; it < i1; it++) {
      int64_t o = it / (nab * nbb), ab = it % nab, bb = it / nab % nbb, so = 0, dof = 0;
      for (int k = no - 1; k >= 0; k--) {
        int64_t q = o % p->odims[k];
        o /= p->odims[k];
        so += q * p->osrc[k];
        dof += q * p->odst[k];
      }
      int64_t a0 = ab * TILE, a1 = a0 + TILE < p->rows ? a0 + TILE : p->rows;
      int64_t b0 = bb * TILE, b1 = b0 + TILE < p->inner ? b0 + TILE : p->inner;
      tile_transpose(p->dst + (ptrdiff_t)dof * (ptrdiff_t)p->esz,
                     p->src + (ptrdiff_t)so * (ptrdiff_t)p->esz, a0, a1, b0, b1, p->rows_dst,
                     p->inner_src, p->esz);
    }
    return;
  }
  int64_t o = i0, so = 0, dof = 0;
  for (int k = no - 1; k >= 0; k--) {
    idx[k] = o % p->odims[k];
    o /= p->odims[k];
    so += idx[k] * p->osrc[k];
    dof += idx[k] * p->odst[k];
  }
  for (int64_t it = i0; it < i1; it++) {
    plan_row(p, so, dof);
    for (int k = no - 1; k >= 0; k--) { /* odometer */
      so += p->osrc[k];
      dof += p->odst[k];
      if (++idx[k] < p->odims[k]) break;
      so -= p->osrc[k] * p->odims[k];
      dof -= p->odst[k] * p->odims[k];
      idx[k] = 0;
    }
  }
}

static void plan_task(void *arg, int64_t t) {
  const plan *p = arg;
  int64_t i0 = t * p->per_task, i1 = i0 + p->per_task;
  plan_run(p, i0, i1 < p->n_items ? i1 : p->n_items);
}

void shape_copy_strided(tpool *pool, void *dst, const void *src, int ndim, const int64_t *dims,
                        const int64_t *strides, size_t esz) {
  int64_t d[SHAPE_VIEW_MAX], st[SHAPE_VIEW_MAX], ds[SHAPE_VIEW_MAX], total = 1;
  int nd = 0;
  for (int i = 0; i < ndim; i++)
    if (dims[i] == 0) return;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] == 1) continue;
    total *= dims[i];
    if (nd > 0 && st[nd - 1] == strides[i] * dims[i]) { /* merge with the axis before */
      d[nd - 1] *= dims[i];
      st[nd - 1] = strides[i];
    } else {
      d[nd] = dims[i];
      st[nd++] = strides[i];
    }
  }
  if (nd == 0) {
    d[0] = 1;
    st[0] = 1;
    nd = 1;
  }
  int64_t acc = 1;
  for (int i = nd - 1; i >= 0; i--) {
    ds[i] = acc;
    acc *= d[i];
  }

  plan p = {.dst = dst, .src = src, .esz = esz, .inner = d[nd - 1], .inner_src = st[nd - 1]};
  int last = nd - 1, unit = -1;
  for (int i = 0; i < last; i++)
    if (st[i] == 1) unit = i;
  if (st[last] == 1)
    p.kind = ROW_COPY;
  else if (st[last] == 0)
    p.kind = ROW_FILL;
  else if (unit >= 0 && d[unit] >= 4 && d[last] >= 4)
    p.kind = ROW_TILE;
  else
    p.kind = ROW_GATHER;
  p.n_items = 1;
  for (int i = 0; i < last; i++) {
    if (p.kind == ROW_TILE && i == unit) continue;
    p.odims[p.n_outer] = d[i];
    p.osrc[p.n_outer] = st[i];
    p.odst[p.n_outer++] = ds[i];
    p.n_items *= d[i];
  }
  if (p.kind == ROW_TILE) {
    p.rows = d[unit];
    p.rows_dst = ds[unit];
    p.n_items *= ((p.rows + TILE - 1) / TILE) * ((p.inner + TILE - 1) / TILE);
  }

  int threads = pool ? tpool_threads(pool) : 1;
  if (threads <= 1 || (uint64_t)total * esz < PAR_MIN_BYTES || p.n_items < 2) {
    plan_run(&p, 0, p.n_items);
    return;
  }
  int64_t tasks = (int64_t)threads * 4;
  if (tasks > p.n_items) tasks = p.n_items;
  p.per_task = (p.n_items + tasks - 1) / tasks;
  tpool_run(pool, (p.n_items + p.per_task - 1) / p.per_task, plan_task, &p);
}

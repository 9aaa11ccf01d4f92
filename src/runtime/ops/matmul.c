/* matmul.c — the ops of the gemm family, Gemm and MatMul, and the family's table ops_gemm[].
 * Float products run on the GEMM engine (gemm.c): A is packed per run; B is packed into panels
 * at init when it is a constant, else read where it lies (a transposed Gemm B is packed per run).
 * Other dtypes use plain loops. */
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/gemm_common.h"

/* --- Gemm ---------------------------------------------------------------------------------- */

typedef struct gemm_state {
  int64_t k, n;
  float *pb; /* B packed into panels (op(B), k×n) */
} gemm_state;

static void gemm_state_free(void *p) {
  gemm_state *st = p;
  if (!st) return;
  free(st->pb);
  free(st);
}

static ladle_status gemm_init(const graph *g, node *n, errbuf *e) {
  const ladle_tensor *b = op_const_input(g, n, 1);
  (void)e;
  if (!b || b->dtype != LADLE_FLOAT || b->ndim != 2) return LADLE_OK;
  bool tb = node_attr_int(n, "transB", 0) != 0;
  int64_t k = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
  if (k <= 0 || nn <= 0) return LADLE_OK;
  gemm_state *st = calloc(1, sizeof *st);
  size_t sz = gemm_pack_b_size(k, nn) * sizeof(float);
  if (st) st->pb = aligned_alloc(64, (sz + 63) / 64 * 64);
  if (!st || !st->pb) {
    gemm_state_free(st);
    return LADLE_OK; /* run() packs per call instead */
  }
  st->k = k;
  st->n = nn;
  if (tb)
    gemm_pack_b(st->pb, b->data, k, nn, 1, b->dims[1]);
  else
    gemm_pack_b(st->pb, b->data, k, nn, b->dims[1], 1);
  n->state = st;
  return LADLE_OK;
}

typedef struct one_prod {
  gemm_prod p;
} one_prod;

static void get_one(void *ud, int64_t i, gemm_prod *p) {
  (void)i;
  *p = ((one_prod *)ud)->p;
}

/* Y = beta*C broadcast to m×n (C: rank <= 2, unidirectional broadcast). */
static void prefill_c(float *y, const float *cd, const ladle_tensor *ct, int64_t m, int64_t n,
                      float beta) {
  int64_t cm = ct->ndim == 2 ? ct->dims[0] : 1;
  int64_t cn = ct->ndim >= 1 ? ct->dims[ct->ndim - 1] : 1;
  for (int64_t i = 0; i < m; i++)
    for (int64_t jj = 0; jj < n; jj++)
      y[i * n + jj] = beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : jj)];
}

#define GEMM_GENERIC(T, ACC)                                                                 \
  do {                                                                                       \
    const T *A = a->data, *B = b->data, *C = ct ? ct->data : NULL;                           \
    T *Y = y->data;                                                                          \
    int64_t cm = ct && ct->ndim == 2 ? ct->dims[0] : 1;                                      \
    int64_t cn = ct && ct->ndim >= 1 ? ct->dims[ct->ndim - 1] : 1;                           \
    for (int64_t i = 0; i < m; i++)                                                          \
      for (int64_t jj = 0; jj < n; jj++) {                                                   \
        ACC sum = 0;                                                                         \
        for (int64_t p = 0; p < k; p++) sum += (ACC)A[i * ars + p * acs] * (ACC)B[p * brs + jj * bcs]; \
        ACC v = (ACC)alpha * sum;                                                            \
        if (C) v += (ACC)beta * (ACC)C[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : jj)];         \
        Y[i * n + jj] = (T)v;                                                                \
      }                                                                                      \
  } while (0)

static ladle_status run_gemm(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *a = op_in(c, 0), *b = op_in(c, 1), *ct = op_in(c, 2);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!a || !b) return op_fail(c, LADLE_ERR_INVALID, "Gemm needs inputs A and B");
  if (a->ndim != 2 || b->ndim != 2)
    return op_fail(c, LADLE_ERR_SHAPE, "A and B must be 2-D, got ranks %d and %d", a->ndim, b->ndim);
  if (a->dtype != b->dtype || (ct && ct->dtype != a->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "inputs must share one data type");
  bool ta = node_attr_int(nd, "transA", 0) != 0, tb = node_attr_int(nd, "transB", 0) != 0;
  float alpha = node_attr_float(nd, "alpha", 1.0f), beta = node_attr_float(nd, "beta", 1.0f);
  int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
  int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
  if (k != kb)
    return op_fail(c, LADLE_ERR_SHAPE, "inner dimensions differ: A gives K=%lld, B gives %lld",
                   (long long)k, (long long)kb);
  if (ct) {
    if (ct->ndim > 2)
      return op_fail(c, LADLE_ERR_SHAPE, "C must have rank <= 2, got %d", ct->ndim);
    int64_t cm = ct->ndim == 2 ? ct->dims[0] : 1, cn = ct->ndim >= 1 ? ct->dims[ct->ndim - 1] : 1;
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
      return op_fail(c, LADLE_ERR_SHAPE, "C of shape [%lld,%lld] does not broadcast to [%lld,%lld]",
                     (long long)cm, (long long)cn, (long long)m, (long long)n);
  }
  int64_t ars = ta ? 1 : a->dims[1], acs = ta ? a->dims[1] : 1;
  int64_t brs = tb ? 1 : b->dims[1], bcs = tb ? b->dims[1] : 1;
  int64_t dims[2] = {m, n};
  if ((st = op_out(c, 0, a->dtype, 2, dims, &y))) return st;
  if (m == 0 || n == 0) return LADLE_OK;
  switch (a->dtype) {
    case LADLE_FLOAT: break;
    case LADLE_DOUBLE: GEMM_GENERIC(double, double); return LADLE_OK;
    case LADLE_INT32: GEMM_GENERIC(int32_t, int64_t); return LADLE_OK;
    case LADLE_INT64: GEMM_GENERIC(int64_t, int64_t); return LADLE_OK;
    case LADLE_UINT32: GEMM_GENERIC(uint32_t, uint64_t); return LADLE_OK;
    case LADLE_UINT64: GEMM_GENERIC(uint64_t, uint64_t); return LADLE_OK;
    default:
      return op_fail(c, LADLE_ERR_DTYPE, "unsupported data type %s", ladle_dtype_name(a->dtype));
  }
  float *yd = y->data;
  const float *cd = ct ? ct->data : NULL;
  int64_t cm = ct && ct->ndim == 2 ? ct->dims[0] : 1, cn = ct && ct->ndim >= 1 ? ct->dims[ct->ndim - 1] : 1;
  gemm_shape s = {m, k, n, n, n, n, alpha, false, nd, 0};
  one_prod op;
  memset(&op, 0, sizeof op);
  if (cd && beta != 0) {
    if (beta == 1 && cm == 1 && cn == n && n > 1)
      op.p.bias_col = cd;
    else if (beta == 1 && cn == 1 && cm == m && m > 1)
      op.p.bias_row = cd;
    else {
      prefill_c(yd, cd, ct, m, n, beta);
      s.accumulate = true;
    }
  }
  /* B: prepacked weights, B in place, or packed per run */
  const gemm_state *gs = nd->state;
  if (gs && gs->k == k && gs->n == n) {
    op.p.b.base = gs->pb;
    op.p.b.panels = true;
  } else if (!tb) {
    op.p.b.base = b->data;
    op.p.b.stride = n;
  } else {
    float *pb = op_scratch(c, 1, gemm_pack_b_size(k, n) * sizeof(float));
    if (!pb) return op_fail(c, LADLE_ERR_NOMEM, "out of memory packing B");
    gemm_pack_b(pb, b->data, k, n, brs, bcs);
    op.p.b.base = pb;
    op.p.b.panels = true;
  }
  float *pa = op_scratch(c, 0, gemm_pack_a_size(m, k) * sizeof(float));
  if (!pa) return op_fail(c, LADLE_ERR_NOMEM, "out of memory packing A");
  gemm_pack_a(pa, a->data, m, k, ars, acs);
  op.p.a = pa;
  op.p.c = yd;
  if (!op.p.b.panels) s.kc = GEMM_STRIDE_KC;
  return gemm_run(c, 2, &s, 1, get_one, &op);
}

/* --- MatMul -------------------------------------------------------------------------------- */

typedef struct mm_job {
  const float *pa;      /* packed A matrices, one per A batch */
  size_t pa_size;       /* floats per packed A */
  const float *b;       /* B data (row-major k×n per batch) or packed panels */
  bool b_panels;
  int64_t k, n, mn;
  float *y;
  int nb;               /* batch rank of the output */
  int64_t bdims[LADLE_MAX_DIMS], sa[LADLE_MAX_DIMS], sb[LADLE_MAX_DIMS];
} mm_job;

/* Batch index i of the output to the A and B matrix indices (broadcast strides in matrices). */
static void mm_batch(const mm_job *j, int64_t i, int64_t *ia, int64_t *ib) {
  int64_t oa = 0, ob = 0;
  for (int d = j->nb - 1; d >= 0; d--) {
    int64_t x = i % j->bdims[d];
    i /= j->bdims[d];
    oa += x * j->sa[d];
    ob += x * j->sb[d];
  }
  *ia = oa;
  *ib = ob;
}

static void mm_get(void *ud, int64_t i, gemm_prod *p) {
  const mm_job *j = ud;
  int64_t ia, ib;
  mm_batch(j, i, &ia, &ib);
  memset(p, 0, sizeof *p);
  p->a = j->pa + (size_t)ia * j->pa_size;
  if (j->b_panels) {
    p->b.base = j->b;
    p->b.panels = true;
  } else {
    p->b.base = j->b + ib * j->k * j->n;
    p->b.stride = j->n;
  }
  p->c = j->y + i * j->mn;
}

#define MATMUL_GENERIC(T, ACC)                                                               \
  do {                                                                                       \
    const T *A = a->data, *B = b->data;                                                      \
    T *Y = y->data;                                                                          \
    for (int64_t bi = 0; bi < nbatch; bi++) {                                                \
      int64_t ia, ib;                                                                        \
      mm_batch(&j, bi, &ia, &ib);                                                            \
      const T *Am = A + ia * m * k, *Bm = B + ib * k * n;                                    \
      T *Ym = Y + bi * m * n;                                                                \
      for (int64_t i = 0; i < m; i++)                                                        \
        for (int64_t jj = 0; jj < n; jj++) {                                                 \
          ACC s = 0;                                                                         \
          for (int64_t p = 0; p < k; p++) s += (ACC)Am[i * k + p] * (ACC)Bm[p * n + jj];      \
          Ym[i * n + jj] = (T)s;                                                             \
        }                                                                                    \
    }                                                                                        \
  } while (0)

static ladle_status matmul_init(const graph *g, node *n, errbuf *e) {
  const ladle_tensor *b = op_const_input(g, n, 1);
  (void)e;
  if (!b || b->dtype != LADLE_FLOAT || b->ndim != 2 || b->dims[0] <= 0 || b->dims[1] <= 0)
    return LADLE_OK;
  gemm_state *st = calloc(1, sizeof *st);
  size_t sz = gemm_pack_b_size(b->dims[0], b->dims[1]) * sizeof(float);
  if (st) st->pb = aligned_alloc(64, (sz + 63) / 64 * 64);
  if (!st || !st->pb) {
    gemm_state_free(st);
    return LADLE_OK;
  }
  st->k = b->dims[0];
  st->n = b->dims[1];
  gemm_pack_b(st->pb, b->data, st->k, st->n, st->n, 1);
  n->state = st;
  return LADLE_OK;
}

static ladle_status run_matmul(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *a = op_in(c, 0), *b = op_in(c, 1);
  ladle_tensor *y = NULL;
  ladle_status st;
  char s1[128], s2[128];
  mm_job j;
  memset(&j, 0, sizeof j);
  if (!a || !b) return op_fail(c, LADLE_ERR_INVALID, "MatMul needs inputs A and B");
  if (a->dtype != b->dtype) return op_fail(c, LADLE_ERR_DTYPE, "A and B must share one data type");
  if (a->ndim < 1 || b->ndim < 1)
    return op_fail(c, LADLE_ERR_SHAPE, "MatMul inputs must have rank >= 1");
  /* numpy semantics: 1-D A is a row, 1-D B a column; the added dim is dropped afterwards */
  int64_t m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2], k = a->dims[a->ndim - 1];
  int64_t kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
  int64_t n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
  if (k != kb)
    return op_fail(c, LADLE_ERR_SHAPE, "shapes %s and %s: inner dimensions differ",
                   shape_str(a->ndim, a->dims, s1, sizeof s1), shape_str(b->ndim, b->dims, s2, sizeof s2));
  int na = a->ndim > 2 ? a->ndim - 2 : 0, nbt = b->ndim > 2 ? b->ndim - 2 : 0;
  int nb = 0;
  int64_t bdims[LADLE_MAX_DIMS];
  if (!shape_broadcast(na, a->dims, nbt, b->dims, &nb, bdims))
    return op_fail(c, LADLE_ERR_SHAPE, "batch dims of %s and %s do not broadcast",
                   shape_str(a->ndim, a->dims, s1, sizeof s1), shape_str(b->ndim, b->dims, s2, sizeof s2));
  if (nb + 2 > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "rank too large");
  int64_t dims[LADLE_MAX_DIMS];
  int nd_out = 0;
  for (int d = 0; d < nb; d++) dims[nd_out++] = bdims[d];
  if (a->ndim > 1) dims[nd_out++] = m;
  if (b->ndim > 1) dims[nd_out++] = n;
  if ((st = op_out(c, 0, a->dtype, nd_out, dims, &y))) return st;
  int64_t nbatch = shape_numel(nb, bdims);
  if (m == 0 || n == 0 || nbatch == 0) return LADLE_OK;
  /* broadcast strides, in matrices */
  int64_t ast[LADLE_MAX_DIMS], bst[LADLE_MAX_DIMS];
  shape_broadcast_strides(na, a->dims, nb, bdims, ast);
  shape_broadcast_strides(nbt, b->dims, nb, bdims, bst);
  j.nb = nb;
  for (int d = 0; d < nb; d++) {
    j.bdims[d] = bdims[d];
    j.sa[d] = ast[d];
    j.sb[d] = bst[d];
  }
  switch (a->dtype) {
    case LADLE_FLOAT: break;
    case LADLE_DOUBLE: MATMUL_GENERIC(double, double); return LADLE_OK;
    case LADLE_INT32: MATMUL_GENERIC(int32_t, int64_t); return LADLE_OK;
    case LADLE_INT64: MATMUL_GENERIC(int64_t, int64_t); return LADLE_OK;
    case LADLE_UINT32: MATMUL_GENERIC(uint32_t, uint64_t); return LADLE_OK;
    case LADLE_UINT64: MATMUL_GENERIC(uint64_t, uint64_t); return LADLE_OK;
    default:
      return op_fail(c, LADLE_ERR_DTYPE, "unsupported data type %s", ladle_dtype_name(a->dtype));
  }
  if (nbt == 0 && nb > 0) { /* B has no batch dims: A's batches are just more rows */
    m *= nbatch;
    nbatch = 1;
    j.nb = 0;
    na = 0;
  }
  int64_t a_count = shape_numel(na, a->dims);
  j.pa_size = gemm_pack_a_size(m, k);
  float *pa = op_scratch(c, 0, (size_t)a_count * j.pa_size * sizeof(float));
  if (!pa) return op_fail(c, LADLE_ERR_NOMEM, "out of memory packing A");
  for (int64_t i = 0; i < a_count; i++)
    gemm_pack_a(pa + (size_t)i * j.pa_size, (const float *)a->data + i * m * k, m, k, k, 1);
  const gemm_state *gs = nd->state;
  j.pa = pa;
  j.k = k;
  j.n = n;
  j.mn = m * n;
  j.y = y->data;
  if (gs && gs->k == k && gs->n == n && nbt == 0) {
    j.b = gs->pb;
    j.b_panels = true;
  } else {
    j.b = b->data;
  }
  gemm_shape s = {m, k, n, n, n, n, 1.0f, false, NULL, j.b_panels ? 0 : GEMM_STRIDE_KC};
  return gemm_run(c, 2, &s, nbatch, mm_get, &j);
}

const op_def ops_gemm[] = {
    {"", "Gemm", 1, 99, run_gemm, gemm_init, gemm_state_free},
    {"", "MatMul", 1, 99, run_matmul, matmul_init, gemm_state_free},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

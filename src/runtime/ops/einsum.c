/* einsum.c — Einsum (opset 12+) as a chain of pairwise contractions.
 *
 * Each operand is a strided view with one label per axis: a label repeated within a term
 * (a diagonal, "ii->i") becomes one axis whose stride is the sum of the strides, and ellipsis
 * axes get labels of their own, broadcast with stride 0 where an operand has size 1. Operands
 * are contracted left to right. For a pair A, B the labels fall into four groups:
 *
 *   batch  in A and B and still needed (by the output or a later operand)
 *   M / N  only in A / only in B, still needed
 *   K      in A and B, needed by nobody else: summed by the GEMM
 *
 * and labels found in one operand only and needed by nobody are summed out while packing. The
 * pair becomes a batched GEMM [batch, M, K]·[batch, K, N]; an operand already laid out that
 * way (or transposed) is used in place, otherwise it is packed. A single operand, and the last
 * permutation into the output's order, go through one strided sum-and-copy loop.
 *
 * float32 computes in float (sgemm); every other type computes in double (dgemm), which is
 * exact for integers up to 2^53. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/op.h"
#include "runtime/ops/blas.h"

#define EIN_LETTERS 52
#define EIN_LABELS (EIN_LETTERS + LADLE_MAX_DIMS) /* letters, then ellipsis axes */
#define EIN_MAX_INPUTS 16
#define EIN_MAX_EQUATION 512
#define EIN_MAX_BYTES (INT64_C(4) << 30) /* any intermediate past this is refused */

/* A strided view of an operand: axis a has label[a], size dim[a], element stride stride[a]. */
typedef struct ein_view {
  int n;
  int label[EIN_LABELS];
  int64_t dim[EIN_LABELS];
  int64_t stride[EIN_LABELS];
  const void *data;
} ein_view;

typedef struct ein_eq {
  int n_in;
  int n_lab[EIN_MAX_INPUTS]; /* labels per term after expanding "..." */
  int lab[EIN_MAX_INPUTS][LADLE_MAX_DIMS];
  int n_out;
  int out[EIN_LABELS];
  int64_t size[EIN_LABELS]; /* size of every label, -1 when unused */
} ein_eq;

static int letter_id(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return 26 + (ch - 'A');
  return -1;
}

/* Parses one term ("b...ij") into letters and the position of the ellipsis (-1 if none). */
static ladle_status parse_term(const char *s, size_t len, int *ids, int *n_ids, int *ell_at,
                               errbuf *e) {
  *n_ids = 0;
  *ell_at = -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (*ell_at >= 0 || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
        return err_set(e, LADLE_ERR_INVALID, "malformed ellipsis in term '%.*s'", (int)len, s);
      *ell_at = *n_ids;
      i += 2;
      continue;
    }
    int id = letter_id(s[i]);
    if (id < 0) return err_set(e, LADLE_ERR_INVALID, "invalid character '%c' in equation", s[i]);
    if (*n_ids >= LADLE_MAX_DIMS)
      return err_set(e, LADLE_ERR_INVALID, "term '%.*s' has too many labels", (int)len, s);
    ids[(*n_ids)++] = id;
  }
  return LADLE_OK;
}

/* Parses the equation against the inputs' ranks and shapes: labels per input (ellipsis axes
 * expanded), the output's labels, and each label's size. */
static ladle_status eq_parse(const char *text, int n_in, const ladle_tensor *const *in, ein_eq *q,
                             errbuf *e) {
  char buf[EIN_MAX_EQUATION];
  size_t len = 0;
  for (const char *p = text; *p; p++) {
    if (isspace((unsigned char)*p)) continue;
    if (len + 1 >= sizeof buf) return err_set(e, LADLE_ERR_LIMIT, "equation is too long");
    buf[len++] = *p;
  }
  buf[len] = '\0';
  memset(q, 0, sizeof *q);
  for (int l = 0; l < EIN_LABELS; l++) q->size[l] = -1;
  if (n_in < 1 || n_in > EIN_MAX_INPUTS)
    return err_set(e, LADLE_ERR_UNSUPPORTED, "%d inputs (1 to %d supported)", n_in, EIN_MAX_INPUTS);
  q->n_in = n_in;

  char *arrow = strstr(buf, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - buf) : len;
  int ell_rank = 0; /* broadcast rank of all ellipses */
  int ell_rank_of[EIN_MAX_INPUTS] = {0};
  int letters[EIN_MAX_INPUTS][LADLE_MAX_DIMS], n_letters[EIN_MAX_INPUTS], ell_at[EIN_MAX_INPUTS];
  size_t start = 0;
  int term = 0;
  for (size_t i = 0; i <= lhs_len; i++) {
    if (i < lhs_len && buf[i] != ',') continue;
    if (term >= n_in)
      return err_set(e, LADLE_ERR_INVALID, "equation '%s' has more terms than the %d inputs", text,
                     n_in);
    ladle_status st = parse_term(buf + start, i - start, letters[term], &n_letters[term],
                                 &ell_at[term], e);
    if (st) return st;
    int rank = in[term]->ndim;
    if (ell_at[term] < 0 ? rank != n_letters[term] : rank < n_letters[term])
      return err_set(e, LADLE_ERR_SHAPE, "term %d '%.*s' does not match input rank %d", term,
                     (int)(i - start), buf + start, rank);
    ell_rank_of[term] = rank - n_letters[term];
    if (ell_rank_of[term] > ell_rank) ell_rank = ell_rank_of[term];
    start = i + 1;
    term++;
  }
  if (term != n_in)
    return err_set(e, LADLE_ERR_INVALID, "equation '%s' has %d terms for %d inputs", text, term,
                   n_in);

  /* labels per input, with ellipsis axes right-aligned onto labels EIN_LETTERS.. */
  int count[EIN_LABELS] = {0};
  for (int t = 0; t < n_in; t++) {
    int k = 0;
    for (int a = 0; a < in[t]->ndim; a++) {
      int lab;
      int ea = ell_at[t], er = ell_rank_of[t];
      if (ea >= 0 && a >= ea && a < ea + er) {
        lab = EIN_LETTERS + (ell_rank - er) + (a - ea);
      } else {
        lab = letters[t][k++];
      }
      q->lab[t][a] = lab;
      int64_t d = in[t]->dims[a];
      if (q->size[lab] < 0 || q->size[lab] == 1) {
        if (q->size[lab] == 1 && lab < EIN_LETTERS && d != 1)
          return err_set(e, LADLE_ERR_SHAPE, "label '%c' has sizes 1 and %lld",
                         lab < 26 ? 'a' + lab : 'A' + lab - 26, (long long)d);
        q->size[lab] = d;
      } else if (d != q->size[lab] && !(lab >= EIN_LETTERS && d == 1)) {
        if (lab >= EIN_LETTERS)
          return err_set(e, LADLE_ERR_SHAPE, "ellipsis axes do not broadcast (%lld vs %lld)",
                         (long long)q->size[lab], (long long)d);
        return err_set(e, LADLE_ERR_SHAPE, "label '%c' has sizes %lld and %lld",
                       lab < 26 ? 'a' + lab : 'A' + lab - 26, (long long)q->size[lab],
                       (long long)d);
      }
      count[lab]++;
    }
    q->n_lab[t] = in[t]->ndim;
  }

  if (arrow) {
    int ids[LADLE_MAX_DIMS], n_ids = 0, ea = -1;
    const char *rhs = arrow + 2;
    ladle_status st = parse_term(rhs, strlen(rhs), ids, &n_ids, &ea, e);
    if (st) return st;
    bool seen[EIN_LABELS] = {false};
    for (int k = 0; k <= n_ids; k++) {
      if (k == ea)
        for (int j = 0; j < ell_rank; j++) q->out[q->n_out++] = EIN_LETTERS + j;
      if (k == n_ids) break;
      int lab = ids[k];
      if (q->size[lab] < 0)
        return err_set(e, LADLE_ERR_INVALID, "output label '%c' is in no input",
                       lab < 26 ? 'a' + lab : 'A' + lab - 26);
      if (seen[lab])
        return err_set(e, LADLE_ERR_INVALID, "output label '%c' appears twice",
                       lab < 26 ? 'a' + lab : 'A' + lab - 26);
      seen[lab] = true;
      q->out[q->n_out++] = lab;
    }
  } else {
    /* implicit output: the ellipsis axes, then labels seen once, in alphabetical (ASCII) order */
    for (int j = 0; j < ell_rank; j++) q->out[q->n_out++] = EIN_LETTERS + j;
    for (int lab = 26; lab < 52; lab++)
      if (count[lab] == 1) q->out[q->n_out++] = lab;
    for (int lab = 0; lab < 26; lab++)
      if (count[lab] == 1) q->out[q->n_out++] = lab;
  }
  if (q->n_out > LADLE_MAX_DIMS)
    return err_set(e, LADLE_ERR_UNSUPPORTED, "output rank %d exceeds %d", q->n_out,
                   LADLE_MAX_DIMS);
  return LADLE_OK;
}

/* The view of input t: repeated labels fold into one diagonal axis; ellipsis axes of size 1
 * broadcast (stride 0) to the label's size. */
static void view_of_input(const ein_eq *q, int t, const ladle_tensor *x, const void *data,
                          ein_view *v) {
  int64_t strides[LADLE_MAX_DIMS];
  shape_strides(x->ndim, x->dims, strides);
  v->n = 0;
  v->data = data;
  for (int a = 0; a < x->ndim; a++) {
    int lab = q->lab[t][a];
    int64_t s = x->dims[a] == 1 ? 0 : strides[a];
    int k = 0;
    while (k < v->n && v->label[k] != lab) k++;
    if (k < v->n) {
      v->stride[k] += s;
      continue;
    }
    v->label[k] = lab;
    v->dim[k] = q->size[lab];
    v->stride[k] = s;
    v->n++;
  }
}

static int view_find(const ein_view *v, int lab) {
  for (int k = 0; k < v->n; k++)
    if (v->label[k] == lab) return k;
  return -1;
}

/* --- the strided sum-and-copy loop ------------------------------------------------------------ */

/* dst (contiguous, axes keep[0..nk) of v in that order) = sum over the axes sum[0..ns) of v. */
#define DEFINE_STRIDED_SUM(NAME, T)                                                              \
  static void NAME(const ein_view *v, int nk, const int *keep, int ns, const int *sum, T *dst) { \
    const T *src = v->data;                                                                      \
    int64_t kd[EIN_LABELS], ks[EIN_LABELS], sd[EIN_LABELS], ss[EIN_LABELS];                      \
    int64_t ki[EIN_LABELS] = {0}, si[EIN_LABELS];                                                \
    int64_t total = 1, inner = 1;                                                                \
    for (int k = 0; k < nk; k++) {                                                               \
      kd[k] = v->dim[keep[k]];                                                                   \
      ks[k] = v->stride[keep[k]];                                                                \
      total *= kd[k];                                                                            \
    }                                                                                            \
    for (int k = 0; k < ns; k++) {                                                               \
      sd[k] = v->dim[sum[k]];                                                                    \
      ss[k] = v->stride[sum[k]];                                                                 \
      inner *= sd[k];                                                                            \
    }                                                                                            \
    int64_t off = 0;                                                                             \
    for (int64_t o = 0; o < total; o++) {                                                        \
      if (ns == 0) {                                                                             \
        dst[o] = src[off];                                                                       \
      } else {                                                                                   \
        double acc = 0.0;                                                                        \
        int64_t soff = 0;                                                                        \
        memset(si, 0, sizeof(int64_t) * (size_t)ns);                                             \
        for (int64_t r = 0; r < inner; r++) {                                                    \
          acc += (double)src[off + soff];                                                        \
          for (int k = ns - 1; k >= 0; k--) {                                                    \
            soff += ss[k];                                                                       \
            if (++si[k] < sd[k]) break;                                                          \
            soff -= ss[k] * sd[k];                                                               \
            si[k] = 0;                                                                           \
          }                                                                                      \
        }                                                                                        \
        dst[o] = (T)acc;                                                                         \
      }                                                                                          \
      for (int k = nk - 1; k >= 0; k--) {                                                        \
        off += ks[k];                                                                            \
        if (++ki[k] < kd[k]) break;                                                              \
        off -= ks[k] * kd[k];                                                                    \
        ki[k] = 0;                                                                               \
      }                                                                                          \
    }                                                                                            \
  }

DEFINE_STRIDED_SUM(strided_sum_f32, float)
DEFINE_STRIDED_SUM(strided_sum_f64, double)

/* --- one run ------------------------------------------------------------------------------ */

typedef struct ein_ctx {
  op_ctx *c;
  bool dbl;    /* compute in double */
  size_t esz;  /* sizeof the compute type */
  int ping;    /* scratch slot (2 or 3) the next result goes to */
} ein_ctx;

static void strided_sum(const ein_ctx *x, const ein_view *v, int nk, const int *keep, int ns,
                        const int *sum, void *dst) {
  if (x->dbl) strided_sum_f64(v, nk, keep, ns, sum, dst);
  else strided_sum_f32(v, nk, keep, ns, sum, dst);
}

/* Whether v's axes order[0..n) are laid out row-major and contiguous (size-1 axes ignored). */
static bool view_rowmajor(const ein_view *v, const int *order, int n) {
  int64_t expect = 1;
  for (int k = n - 1; k >= 0; k--) {
    int64_t d = v->dim[order[k]];
    if (d == 1) continue;
    if (v->stride[order[k]] != expect) return false;
    expect *= d;
  }
  return true;
}

/* a·b overflow-checked against EIN_MAX_BYTES / esz; -1 past it. */
static int64_t mul_cap(int64_t a, int64_t b, size_t esz) {
  int64_t cap = EIN_MAX_BYTES / (int64_t)esz;
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > cap / a) return -1;
  return a * b;
}

/* Contracts a and b into a new contiguous view *r (labels: batch, M, N) in a scratch slot.
 * needed[l]: label l is used by the output or a later operand. */
static ladle_status contract(ein_ctx *x, const ein_view *a, const ein_view *b, const bool *needed,
                             ein_view *r) {
  int bat[EIN_LABELS], mm[EIN_LABELS], nn[EIN_LABELS], kk[EIN_LABELS], sa[EIN_LABELS],
      sb[EIN_LABELS];
  int nbat = 0, nm = 0, nn_ = 0, nk = 0, nsa = 0, nsb = 0;
  int64_t P = 1, M = 1, N = 1, K = 1;
  for (int i = 0; i < a->n; i++) {
    int lab = a->label[i], j = view_find(b, lab);
    if (j >= 0 && needed[lab]) {
      bat[nbat++] = lab;
      P = mul_cap(P, a->dim[i], x->esz);
    } else if (j >= 0) {
      kk[nk++] = lab;
      K = mul_cap(K, a->dim[i], x->esz);
    } else if (needed[lab]) {
      mm[nm++] = lab;
      M = mul_cap(M, a->dim[i], x->esz);
    } else {
      sa[nsa++] = i;
    }
    if (P < 0 || K < 0 || M < 0) goto too_big;
  }
  for (int i = 0; i < b->n; i++) {
    int lab = b->label[i];
    if (view_find(a, lab) >= 0) continue;
    if (needed[lab]) {
      nn[nn_++] = lab;
      if ((N = mul_cap(N, b->dim[i], x->esz)) < 0) goto too_big;
    } else {
      sb[nsb++] = i;
    }
  }
  int64_t pm = mul_cap(P, M, x->esz), pk = mul_cap(P, K, x->esz), pn = mul_cap(P, N, x->esz);
  int64_t am = mul_cap(pm, K, x->esz), bn = mul_cap(pk, N, x->esz), rn = mul_cap(pm, N, x->esz);
  if (pm < 0 || pk < 0 || pn < 0 || am < 0 || bn < 0 || rn < 0) goto too_big;

  /* axis positions of the groups in a and b */
  int ord_a[EIN_LABELS], ord_b[EIN_LABELS], n_oa = 0, n_ob = 0;
  int ord_at[EIN_LABELS], ord_bt[EIN_LABELS]; /* transposed orders: batch, K, M / batch, N, K */
  for (int i = 0; i < nbat; i++) ord_a[n_oa++] = view_find(a, bat[i]);
  for (int i = 0; i < nm; i++) ord_a[n_oa++] = view_find(a, mm[i]);
  for (int i = 0; i < nk; i++) ord_a[n_oa++] = view_find(a, kk[i]);
  memcpy(ord_at, ord_a, sizeof(int) * (size_t)nbat);
  for (int i = 0; i < nk; i++) ord_at[nbat + i] = view_find(a, kk[i]);
  for (int i = 0; i < nm; i++) ord_at[nbat + nk + i] = view_find(a, mm[i]);
  for (int i = 0; i < nbat; i++) ord_b[n_ob++] = view_find(b, bat[i]);
  for (int i = 0; i < nk; i++) ord_b[n_ob++] = view_find(b, kk[i]);
  for (int i = 0; i < nn_; i++) ord_b[n_ob++] = view_find(b, nn[i]);
  memcpy(ord_bt, ord_b, sizeof(int) * (size_t)nbat);
  for (int i = 0; i < nn_; i++) ord_bt[nbat + i] = view_find(b, nn[i]);
  for (int i = 0; i < nk; i++) ord_bt[nbat + nn_ + i] = view_find(b, kk[i]);

  bool ta = false, tb = false;
  bool direct_a = nsa == 0 && (view_rowmajor(a, ord_a, n_oa) ||
                               (ta = view_rowmajor(a, ord_at, n_oa)));
  bool direct_b = nsb == 0 && (view_rowmajor(b, ord_b, n_ob) ||
                               (tb = view_rowmajor(b, ord_bt, n_ob)));
  if (!direct_a) ta = false;
  if (!direct_b) tb = false;
  size_t pack_bytes = ((direct_a ? 0 : (size_t)am) + (direct_b ? 0 : (size_t)bn) + 1) * x->esz;
  char *pack = op_scratch(x->c, 1, pack_bytes);
  char *out = op_scratch(x->c, x->ping, ((size_t)rn + 1) * x->esz);
  if (!pack || !out) return op_fail(x->c, LADLE_ERR_NOMEM, "Einsum: out of memory");
  const char *pa = a->data, *pb = b->data;
  if (!direct_a) {
    strided_sum(x, a, n_oa, ord_a, nsa, sa, pack);
    pa = pack;
  }
  if (!direct_b) {
    char *dst = pack + (direct_a ? 0 : (size_t)am * x->esz);
    strided_sum(x, b, n_ob, ord_b, nsb, sb, dst);
    pb = dst;
  }

  /* out[p] (M×N) = a[p] (M×K) · b[p] (K×N) */
  if (M > 0 && N > 0) {
    if (K == 0) {
      memset(out, 0, (size_t)rn * x->esz);
    } else {
      int64_t lda = ta ? M : K, ldb = tb ? K : N;
      for (int64_t p = 0; p < P; p++) {
        if (x->dbl)
          blas_dgemm(ta, tb, M, N, K, 1.0, (const double *)pa + p * M * K, lda,
                     (const double *)pb + p * K * N, ldb, 0.0, (double *)out + p * M * N, N);
        else
          blas_sgemm(ta, tb, M, N, K, 1.0f, (const float *)pa + p * M * K, lda,
                     (const float *)pb + p * K * N, ldb, 0.0f, (float *)out + p * M * N, N);
      }
    }
  }

  r->n = 0;
  r->data = out;
  int lab_order[EIN_LABELS], n_lab = 0;
  for (int i = 0; i < nbat; i++) lab_order[n_lab++] = bat[i];
  for (int i = 0; i < nm; i++) lab_order[n_lab++] = mm[i];
  for (int i = 0; i < nn_; i++) lab_order[n_lab++] = nn[i];
  for (int i = 0; i < n_lab; i++) {
    int lab = lab_order[i];
    int j = view_find(a, lab);
    r->label[i] = lab;
    r->dim[i] = j >= 0 ? a->dim[j] : b->dim[view_find(b, lab)];
  }
  r->n = n_lab;
  int64_t s = 1;
  for (int i = n_lab - 1; i >= 0; i--) {
    r->stride[i] = s;
    s *= r->dim[i];
  }
  x->ping = x->ping == 2 ? 3 : 2;
  return LADLE_OK;
too_big:
  return op_fail(x->c, LADLE_ERR_LIMIT, "Einsum: an intermediate result exceeds %lld bytes",
                 (long long)EIN_MAX_BYTES);
}

static ladle_status run_einsum(op_ctx *c) {
  const node *nd = op_node(c);
  const ladle_tensor *in[EIN_MAX_INPUTS];
  int n_in = op_n_in(c);
  ein_eq q;
  errbuf e = {{0}};
  ladle_status st;
  const char *eq = node_attr_str(nd, "equation", NULL);
  if (!eq) return op_fail(c, LADLE_ERR_INVALID, "Einsum needs an equation");
  if (n_in < 1 || n_in > EIN_MAX_INPUTS)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "Einsum: %d inputs (1 to %d supported)", n_in,
                   EIN_MAX_INPUTS);
  for (int i = 0; i < n_in; i++) {
    in[i] = op_in(c, i);
    if (!in[i]) return op_fail(c, LADLE_ERR_INVALID, "Einsum: input %d is missing", i);
    if (in[i]->dtype != in[0]->dtype)
      return op_fail(c, LADLE_ERR_DTYPE, "Einsum: input %d is %s, input 0 is %s", i,
                     ladle_dtype_name(in[i]->dtype), ladle_dtype_name(in[0]->dtype));
  }
  int dtype = in[0]->dtype;
  if (dtype == LADLE_STRING || dtype == LADLE_BOOL || !dtype_valid(dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "Einsum does not take %s", ladle_dtype_name(dtype));
  if ((st = eq_parse(eq, n_in, in, &q, &e)))
    return op_fail(c, st, "Einsum '%s': %s", eq, e.msg);

  int64_t odims[LADLE_MAX_DIMS];
  for (int k = 0; k < q.n_out; k++) odims[k] = q.size[q.out[k]];
  ladle_tensor *y = NULL;
  if ((st = op_out(c, 0, dtype, q.n_out, odims, &y))) return st;
  int64_t out_n = shape_numel(q.n_out, odims);

  ein_ctx x = {c, dtype != LADLE_FLOAT, dtype == LADLE_FLOAT ? sizeof(float) : sizeof(double), 2};

  /* operands in the compute type: float32 and double inputs are used in place */
  const void *data[EIN_MAX_INPUTS];
  bool convert = dtype != LADLE_FLOAT && dtype != LADLE_DOUBLE;
  int64_t conv_n = 0;
  for (int i = 0; i < n_in; i++) conv_n += convert ? ladle_tensor_numel(in[i]) : 0;
  double *conv = convert ? op_scratch(c, 0, sizeof(double) * (size_t)(conv_n + 1)) : NULL;
  if (convert && !conv) return op_fail(c, LADLE_ERR_NOMEM, "Einsum: out of memory");
  int64_t at = 0;
  for (int i = 0; i < n_in; i++) {
    data[i] = in[i]->data;
    if (!convert) continue;
    int64_t n = ladle_tensor_numel(in[i]);
    for (int64_t j = 0; j < n; j++) conv[at + j] = tensor_get_f64(in[i], j);
    data[i] = conv + at;
    at += n;
  }

  ein_view cur, next, v;
  view_of_input(&q, 0, in[0], data[0], &cur);
  for (int i = 1; i < n_in; i++) {
    bool needed[EIN_LABELS] = {false};
    for (int k = 0; k < q.n_out; k++) needed[q.out[k]] = true;
    for (int t = i + 1; t < n_in; t++)
      for (int a = 0; a < q.n_lab[t]; a++) needed[q.lab[t][a]] = true;
    view_of_input(&q, i, in[i], data[i], &v);
    if ((st = contract(&x, &cur, &v, needed, &next))) return st;
    cur = next;
  }

  /* the output: permute (and sum what is left) into the output's order */
  int keep[EIN_LABELS], sum[EIN_LABELS], ns = 0;
  for (int k = 0; k < q.n_out; k++) keep[k] = view_find(&cur, q.out[k]);
  for (int k = 0; k < cur.n; k++) {
    bool in_out = false;
    for (int j = 0; j < q.n_out; j++) in_out = in_out || q.out[j] == cur.label[k];
    if (!in_out) sum[ns++] = k;
  }
  if (!convert) {
    strided_sum(&x, &cur, q.n_out, keep, ns, sum, y->data);
  } else {
    double *tmp = op_scratch(c, x.ping, sizeof(double) * (size_t)(out_n + 1));
    if (!tmp) return op_fail(c, LADLE_ERR_NOMEM, "Einsum: out of memory");
    strided_sum(&x, &cur, q.n_out, keep, ns, sum, tmp);
    for (int64_t j = 0; j < out_n; j++) tensor_set_f64(y, j, tmp[j]);
  }
  return LADLE_OK;
}

const op_def ops_einsum[] = {
    {"", "Einsum", 12, 99, run_einsum, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* control.c — control flow: If, Loop, Scan.
 *
 * Bodies run through op_run_subgraph(), which binds the inputs in order, resolves outer-scope
 * names through the calling session and hands each output back as a malloc'd copy. Values that
 * travel from one iteration to the next (loop-carried state) stay in those copies; the node's
 * own outputs are filled at the end (states) or as the iterations go (Scan's scan outputs,
 * whose total length is known up front).
 *
 * Loop's scan outputs have no length known in advance: they grow in malloc'd buffers (bounded
 * by CTL_MAX_BYTES) and are copied into the outputs once the loop ends. Like the sessions that
 * op_run_subgraph creates for each body run, this is malloc inside run(): control flow is the
 * exception to the plan-once rule.
 *
 * ONNX sequences and optionals (Loop/If from opset 13 on can carry them) are not modelled by
 * ladle: a body that produces one fails in the op that makes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/op.h"

#define CTL_MAX_ITERS (INT64_C(1) << 26) /* a Loop with no trip count and no condition stops */
#define CTL_MAX_BYTES (UINT64_C(4) << 30) /* per accumulated scan output */
#define CTL_MAX_IO 1024                  /* inputs / outputs of a body */

/* --- tensors handed back by op_run_subgraph ----------------------------------------------- */

static void owned_clear(ladle_tensor *t) {
  if (t->dtype == LADLE_STRING && t->data) {
    int64_t n = ladle_tensor_numel(t);
    char **s = t->data;
    for (int64_t i = 0; i < n; i++) free(s[i]);
  }
  free(t->data);
  t->data = NULL;
}

static void owned_clear_all(ladle_tensor *t, int n) {
  for (int i = 0; t && i < n; i++) owned_clear(&t[i]);
}

static bool has_out(op_ctx *c, int i) {
  const node *n = op_node(c);
  return i >= 0 && i < n->n_out && n->out[i] >= 0;
}

/* Copies n elements of type dtype from src to dst. Strings are moved when `move` (src's
 * pointers set to NULL), else duplicated. */
static ladle_status copy_elems(void *dst, void *src, int64_t n, int dtype, bool move) {
  if (n <= 0) return LADLE_OK;
  if (dtype != LADLE_STRING) {
    memcpy(dst, src, (size_t)n * ladle_dtype_size(dtype));
    return LADLE_OK;
  }
  char **d = dst, **s = src;
  for (int64_t i = 0; i < n; i++) {
    free(d[i]);
    if (move) {
      d[i] = s[i];
      s[i] = NULL;
    } else if (!(d[i] = strdup(s[i] ? s[i] : ""))) {
      return LADLE_ERR_NOMEM;
    }
  }
  return LADLE_OK;
}

/* Output i = t (moved from an owned tensor, or copied from an input). */
static ladle_status emit(op_ctx *c, int i, const ladle_tensor *t, bool move) {
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!has_out(c, i)) return LADLE_OK;
  if ((st = op_out(c, i, t->dtype, t->ndim, t->dims, &y))) return st;
  if ((st = copy_elems(y->data, t->data, ladle_tensor_numel(t), t->dtype, move)))
    return op_fail(c, st, "out of memory copying output %d", i);
  return LADLE_OK;
}

/* An empty output shaped after the body's declared output v, with `axis` of length 0 inserted
 * (for scan outputs of zero iterations). */
static ladle_status emit_empty(op_ctx *c, int i, const graph *body, int bo, int axis) {
  const value *v = &body->values[body->outputs[bo]];
  int64_t dims[LADLE_MAX_DIMS];
  int ndim = 1;
  dims[0] = 0;
  if (v->ndim >= 0 && v->ndim < LADLE_MAX_DIMS) {
    ndim = v->ndim + 1;
    if (axis < 0) axis += ndim;
    if (axis < 0 || axis >= ndim) axis = 0;
    for (int d = 0, k = 0; d < ndim; d++) {
      if (d == axis) {
        dims[d] = 0;
        continue;
      }
      dims[d] = v->dims[k] > 0 ? v->dims[k] : 0; /* a symbolic dim: nothing to go by */
      k++;
    }
  }
  ladle_tensor *y = NULL;
  if (!has_out(c, i)) return LADLE_OK;
  return op_out(c, i, v->dtype ? v->dtype : LADLE_FLOAT, ndim, dims, &y);
}

static const graph *graph_attr(op_ctx *c, const char *name) {
  const attr *a = node_attr(op_node(c), name);
  if (!a || a->type != ATTR_GRAPH || !a->g) return NULL;
  return a->g;
}

/* --- If --------------------------------------------------------------------------------------- */

static ladle_status run_if(op_ctx *c) {
  const ladle_tensor *cond = op_in(c, 0);
  ladle_status st;
  if (!cond || ladle_tensor_numel(cond) != 1 || cond->dtype == LADLE_STRING)
    return op_fail(c, LADLE_ERR_INVALID, "If: cond must be a single bool");
  bool take = tensor_get_i64(cond, 0) != 0;
  const graph *g = graph_attr(c, take ? "then_branch" : "else_branch");
  if (!g) return op_fail(c, LADLE_ERR_INVALID, "If: missing %s", take ? "then_branch" : "else_branch");
  int n_out = op_n_out(c);
  if (g->n_outputs != n_out || n_out > CTL_MAX_IO)
    return op_fail(c, LADLE_ERR_INVALID, "If: %s has %d outputs, the node %d",
                   take ? "then_branch" : "else_branch", g->n_outputs, n_out);
  if (g->n_inputs != 0)
    return op_fail(c, LADLE_ERR_INVALID, "If: a branch takes no inputs, this one takes %d",
                   g->n_inputs);
  ladle_tensor *outs = op_scratch(c, 0, sizeof(ladle_tensor) * (size_t)(n_out + 1));
  if (!outs) return op_fail(c, LADLE_ERR_NOMEM, "If: out of memory");
  memset(outs, 0, sizeof(ladle_tensor) * (size_t)(n_out + 1));
  if ((st = op_run_subgraph(c, g, 0, NULL, outs))) return st;
  for (int i = 0; i < n_out && !st; i++) st = emit(c, i, &outs[i], true);
  owned_clear_all(outs, n_out);
  return st;
}

/* --- Loop ------------------------------------------------------------------------------------ */

/* A growing scan output of Loop: the first iteration fixes the element shape. */
typedef struct scan_acc {
  int dtype, ndim;
  int64_t dims[LADLE_MAX_DIMS];
  int64_t elems; /* per iteration */
  char *data;
  size_t len, cap; /* bytes */
} scan_acc;

static void scan_acc_destroy(scan_acc *a) {
  if (a->dtype == LADLE_STRING && a->data) {
    char **s = (char **)a->data;
    for (size_t i = 0; i < a->len / sizeof(char *); i++) free(s[i]);
  }
  free(a->data);
  a->data = NULL;
}

static ladle_status scan_acc_push(op_ctx *c, scan_acc *a, int k, int64_t iter, ladle_tensor *t) {
  char s1[128], s2[128];
  if (iter == 0) {
    if (t->ndim + 1 > LADLE_MAX_DIMS)
      return op_fail(c, LADLE_ERR_UNSUPPORTED, "Loop: scan output %d has rank %d", k, t->ndim);
    a->dtype = t->dtype;
    a->ndim = t->ndim;
    memcpy(a->dims, t->dims, sizeof a->dims);
    a->elems = ladle_tensor_numel(t);
  } else if (t->dtype != a->dtype || !shape_equal(t->ndim, t->dims, a->ndim, a->dims)) {
    return op_fail(c, LADLE_ERR_SHAPE, "Loop: scan output %d is %s %s at iteration %lld, was %s %s",
                   k, ladle_dtype_name(t->dtype), shape_str(t->ndim, t->dims, s1, sizeof s1),
                   (long long)iter, ladle_dtype_name(a->dtype),
                   shape_str(a->ndim, a->dims, s2, sizeof s2));
  }
  size_t bytes = (size_t)a->elems * ladle_dtype_size(a->dtype);
  uint64_t limit = op_tensor_limit(c) < CTL_MAX_BYTES ? op_tensor_limit(c) : CTL_MAX_BYTES;
  if (a->len + bytes > limit)
    return op_fail(c, LADLE_ERR_LIMIT, "Loop: scan output %d exceeds %llu bytes", k,
                   (unsigned long long)limit);
  if (a->len + bytes > a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 256;
    while (cap < a->len + bytes) cap *= 2;
    char *p = realloc(a->data, cap);
    if (!p) return op_fail(c, LADLE_ERR_NOMEM, "Loop: out of memory for scan output %d", k);
    a->data = p;
    a->cap = cap;
  }
  if (a->dtype == LADLE_STRING) memset(a->data + a->len, 0, bytes);
  copy_elems(a->data + a->len, t->data, a->elems, a->dtype, true);
  a->len += bytes;
  return LADLE_OK;
}

static ladle_status run_loop(op_ctx *c) {
  const graph *body = graph_attr(c, "body");
  const ladle_tensor *m_t = op_in(c, 0), *cond_t = op_in(c, 1);
  int n_in = op_n_in(c), n_out = op_n_out(c);
  ladle_status st = LADLE_OK;
  if (!body) return op_fail(c, LADLE_ERR_INVALID, "Loop: missing body");
  int N = n_in - 2; /* loop-carried values */
  if (N < 0 || N > CTL_MAX_IO)
    return op_fail(c, LADLE_ERR_INVALID, "Loop needs inputs M and cond (possibly empty)");
  int K = body->n_outputs - 1 - N;
  if (body->n_inputs != 2 + N || K < 0)
    return op_fail(c, LADLE_ERR_INVALID,
                   "Loop: body takes %d inputs and gives %d outputs for %d loop-carried values",
                   body->n_inputs, body->n_outputs, N);
  if (n_out > N + K)
    return op_fail(c, LADLE_ERR_INVALID, "Loop: %d outputs, the body gives %d", n_out, N + K);
  for (int k = 0; k < N; k++)
    if (!op_in(c, 2 + k))
      return op_fail(c, LADLE_ERR_INVALID, "Loop: loop-carried input %d is missing", k);
  int64_t trip = CTL_MAX_ITERS;
  bool limited = false;
  if (m_t) {
    if (ladle_tensor_numel(m_t) != 1 || !dtype_is_integer(m_t->dtype))
      return op_fail(c, LADLE_ERR_INVALID, "Loop: M must be a single int64");
    trip = tensor_get_i64(m_t, 0);
    limited = true;
  }
  bool cond = true;
  if (cond_t) {
    if (ladle_tensor_numel(cond_t) != 1 || cond_t->dtype == LADLE_STRING)
      return op_fail(c, LADLE_ERR_INVALID, "Loop: cond must be a single bool");
    cond = tensor_get_i64(cond_t, 0) != 0;
  }

  /* scratch: body inputs (pointers), the current state, one run's outputs, accumulators */
  size_t sz_ptr = sizeof(const ladle_tensor *) * (size_t)(2 + N);
  size_t sz_state = sizeof(ladle_tensor) * (size_t)(N + 1);
  size_t sz_outs = sizeof(ladle_tensor) * (size_t)(1 + N + K);
  size_t sz_acc = sizeof(scan_acc) * (size_t)(K + 1);
  char *mem = op_scratch(c, 0, sz_ptr + sz_state + sz_outs + sz_acc + 64);
  if (!mem) return op_fail(c, LADLE_ERR_NOMEM, "Loop: out of memory");
  memset(mem, 0, sz_ptr + sz_state + sz_outs + sz_acc);
  const ladle_tensor **in = (const ladle_tensor **)mem;
  ladle_tensor *state = (ladle_tensor *)(mem + sz_ptr); /* owned once an iteration ran */
  ladle_tensor *outs = (ladle_tensor *)(mem + sz_ptr + sz_state);
  scan_acc *acc = (scan_acc *)(mem + sz_ptr + sz_state + sz_outs);
  bool owned = false;

  int64_t iter = 0;
  bool cond_val = cond;
  ladle_tensor iter_t = {LADLE_INT64, 0, {0}, &iter};
  ladle_tensor cond_in = {LADLE_BOOL, 0, {0}, &cond_val};
  in[0] = &iter_t;
  in[1] = &cond_in;
  for (int k = 0; k < N; k++) in[2 + k] = op_in(c, 2 + k);
  while ((!limited || iter < trip) && cond) {
    if (iter >= CTL_MAX_ITERS) {
      st = op_fail(c, LADLE_ERR_LIMIT, "Loop: more than %lld iterations",
                   (long long)CTL_MAX_ITERS);
      goto out;
    }
    cond_val = cond;
    memset(outs, 0, sz_outs);
    if ((st = op_run_subgraph(c, body, 2 + N, in, outs))) {
      memset(outs, 0, sz_outs); /* op_run_subgraph freed what it had made */
      goto out;
    }
    if (cond_t) {
      if (ladle_tensor_numel(&outs[0]) != 1 || outs[0].dtype == LADLE_STRING) {
        st = op_fail(c, LADLE_ERR_INVALID, "Loop: the body's cond output is not a single bool");
        goto out;
      }
      cond = tensor_get_i64(&outs[0], 0) != 0;
    }
    if (owned) owned_clear_all(state, N);
    for (int k = 0; k < N; k++) {
      state[k] = outs[1 + k];
      outs[1 + k].data = NULL;
      in[2 + k] = &state[k];
    }
    owned = true;
    for (int k = 0; k < K; k++)
      if ((st = scan_acc_push(c, &acc[k], k, iter, &outs[1 + N + k]))) goto out;
    owned_clear_all(outs, 1 + N + K);
    iter++;
  }

  for (int k = 0; k < N && k < n_out; k++)
    if ((st = emit(c, k, owned ? &state[k] : op_in(c, 2 + k), owned))) goto out;
  for (int k = 0; k < K && N + k < n_out; k++) {
    if (iter == 0) {
      if ((st = emit_empty(c, N + k, body, 1 + N + k, 0))) goto out;
      continue;
    }
    ladle_tensor t = {acc[k].dtype, acc[k].ndim + 1, {0}, acc[k].data};
    t.dims[0] = iter;
    memcpy(t.dims + 1, acc[k].dims, sizeof(int64_t) * (size_t)acc[k].ndim);
    if ((st = emit(c, N + k, &t, true))) goto out;
  }
out:
  owned_clear_all(outs, 1 + N + K);
  if (owned) owned_clear_all(state, N);
  for (int k = 0; k < K; k++) scan_acc_destroy(&acc[k]);
  return st;
}

/* --- Scan ------------------------------------------------------------------------------------ */

/* Copies the [outer, inner] slab between position pos of a [outer, len, inner] tensor and a
 * contiguous [outer, inner] one: to_slab = extract, else insert. */
static ladle_status slab_copy(char *big, char *slab, int64_t outer, int64_t len, int64_t inner,
                              int64_t pos, int dtype, bool to_slab, bool move) {
  size_t esz = ladle_dtype_size(dtype);
  for (int64_t o = 0; o < outer; o++) {
    char *b = big + ((o * len + pos) * inner) * (int64_t)esz;
    char *s = slab + o * inner * (int64_t)esz;
    ladle_status st = to_slab ? copy_elems(s, b, inner, dtype, false)
                              : copy_elems(b, s, inner, dtype, move);
    if (st) return st;
  }
  return LADLE_OK;
}

static int64_t prod(const int64_t *d, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= d[i];
  return p;
}

/* Reads an ints attribute of n entries into out (default fill when absent). */
static ladle_status ints_attr(op_ctx *c, const char *name, int n, int64_t *out, int64_t fill) {
  const int64_t *v = NULL;
  int64_t got = node_attr_ints(op_node(c), name, &v);
  for (int i = 0; i < n; i++) out[i] = fill;
  if (got < 0) return LADLE_OK;
  if (got != n)
    return op_fail(c, LADLE_ERR_INVALID, "Scan: %s has %lld entries, expected %d", name,
                   (long long)got, n);
  memcpy(out, v, sizeof(int64_t) * (size_t)n);
  return LADLE_OK;
}

/* One Scan step: runs body on in[0..N+M) into outs[0..N+K), then makes outs[0..N) the state
 * (owned from now on) that in[0..N) read next step; outs[N..N+K) keep the scan outputs. */
static ladle_status scan_step(op_ctx *c, const graph *body, int N, int M, int K,
                              const ladle_tensor **in, ladle_tensor *outs, ladle_tensor *state,
                              bool *owned) {
  memset(outs, 0, sizeof(ladle_tensor) * (size_t)(N + K));
  ladle_status st = op_run_subgraph(c, body, N + M, in, outs);
  if (st) {
    memset(outs, 0, sizeof(ladle_tensor) * (size_t)(N + K));
    return st;
  }
  if (*owned) owned_clear_all(state, N);
  for (int k = 0; k < N; k++) {
    state[k] = outs[k];
    outs[k].data = NULL;
    in[k] = &state[k];
  }
  *owned = true;
  return LADLE_OK;
}

/* Scan 9+: N states, M scan inputs sliced along their axes; K scan outputs stacked along
 * theirs. */
static ladle_status run_scan9(op_ctx *c) {
  const graph *body = graph_attr(c, "body");
  int n_in = op_n_in(c), n_out = op_n_out(c);
  ladle_status st = LADLE_OK;
  char s1[128], s2[128];
  if (!body) return op_fail(c, LADLE_ERR_INVALID, "Scan: missing body");
  int64_t m64 = node_attr_int(op_node(c), "num_scan_inputs", -1);
  if (m64 < 1 || m64 > n_in || n_in > CTL_MAX_IO)
    return op_fail(c, LADLE_ERR_INVALID, "Scan: num_scan_inputs %lld for %d inputs",
                   (long long)m64, n_in);
  int M = (int)m64, N = n_in - M, K = body->n_outputs - N;
  if (body->n_inputs != N + M || K < 0 || n_out > N + K)
    return op_fail(c, LADLE_ERR_INVALID, "Scan: the body takes %d inputs and gives %d outputs for "
                   "%d states and %d scan inputs", body->n_inputs, body->n_outputs, N, M);

  size_t sz_ints = sizeof(int64_t) * (size_t)(2 * M + 2 * K + 4);
  size_t sz_ptr = sizeof(const ladle_tensor *) * (size_t)(N + M + 1);
  size_t sz_tens = sizeof(ladle_tensor) * (size_t)(N + M + (N + K) + 2); /* state, slices, outs */
  char *mem = op_scratch(c, 0, sz_ints + sz_ptr + sz_tens + 64);
  if (!mem) return op_fail(c, LADLE_ERR_NOMEM, "Scan: out of memory");
  memset(mem, 0, sz_ints + sz_ptr + sz_tens);
  int64_t *in_dir = (int64_t *)mem, *in_axis = in_dir + M, *out_dir = in_axis + M,
          *out_axis = out_dir + K;
  const ladle_tensor **in = (const ladle_tensor **)(mem + sz_ints);
  ladle_tensor *state = (ladle_tensor *)(mem + sz_ints + sz_ptr);
  ladle_tensor *slice = state + N, *outs = slice + M;
  bool owned = false;
  ladle_tensor *y[CTL_MAX_IO] = {NULL};

  if ((st = ints_attr(c, "scan_input_directions", M, in_dir, 0)) ||
      (st = ints_attr(c, "scan_input_axes", M, in_axis, 0)) ||
      (st = ints_attr(c, "scan_output_directions", K, out_dir, 0)) ||
      (st = ints_attr(c, "scan_output_axes", K, out_axis, 0)))
    return st;

  /* scan inputs: common length, slices (axis 0: views into the input; else copies) */
  int64_t len = -1, slice_bytes = 0;
  for (int j = 0; j < M; j++) {
    const ladle_tensor *x = op_in(c, N + j);
    if (!x) return op_fail(c, LADLE_ERR_INVALID, "Scan: scan input %d is missing", j);
    int64_t a = in_axis[j] < 0 ? in_axis[j] + x->ndim : in_axis[j];
    if (a < 0 || a >= x->ndim)
      return op_fail(c, LADLE_ERR_INVALID, "Scan: axis %lld out of range for scan input %d of "
                     "rank %d", (long long)in_axis[j], j, x->ndim);
    in_axis[j] = a;
    if (len >= 0 && x->dims[a] != len)
      return op_fail(c, LADLE_ERR_SHAPE, "Scan: scan input %d has length %lld, others %lld", j,
                     (long long)x->dims[a], (long long)len);
    len = x->dims[a];
    if (in_dir[j] != 0 && in_dir[j] != 1)
      return op_fail(c, LADLE_ERR_INVALID, "Scan: direction %lld is not 0 or 1",
                     (long long)in_dir[j]);
    slice[j].dtype = x->dtype;
    slice[j].ndim = x->ndim - 1;
    for (int d = 0, k = 0; d < x->ndim; d++)
      if (d != a) slice[j].dims[k++] = x->dims[d];
    if (a != 0) slice_bytes += (int64_t)tensor_nbytes(&slice[j]);
  }
  for (int k = 0; k < K; k++)
    if (out_dir[k] != 0 && out_dir[k] != 1)
      return op_fail(c, LADLE_ERR_INVALID, "Scan: direction %lld is not 0 or 1",
                     (long long)out_dir[k]);
  char *slabs = op_scratch(c, 1, (size_t)slice_bytes + 64);
  if (!slabs) return op_fail(c, LADLE_ERR_NOMEM, "Scan: out of memory");
  int64_t off = 0;
  for (int j = 0; j < M; j++) {
    if (in_axis[j] == 0) continue;
    slice[j].data = slabs + off;
    if (slice[j].dtype == LADLE_STRING) memset(slice[j].data, 0, tensor_nbytes(&slice[j]));
    off += (int64_t)tensor_nbytes(&slice[j]);
  }
  for (int k = 0; k < N; k++) {
    in[k] = op_in(c, k);
    if (!in[k]) return op_fail(c, LADLE_ERR_INVALID, "Scan: state input %d is missing", k);
  }
  for (int j = 0; j < M; j++) in[N + j] = &slice[j];

  for (int64_t t = 0; t < len; t++) {
    for (int j = 0; j < M; j++) {
      const ladle_tensor *x = op_in(c, N + j);
      int64_t pos = in_dir[j] ? len - 1 - t : t, a = in_axis[j];
      int64_t inner = prod(x->dims, (int)a + 1, x->ndim);
      if (a == 0) {
        slice[j].data = (char *)x->data + pos * inner * (int64_t)ladle_dtype_size(x->dtype);
      } else if ((st = slab_copy(x->data, slice[j].data, prod(x->dims, 0, (int)a), len, inner, pos,
                                 x->dtype, true, false))) {
        st = op_fail(c, st, "Scan: out of memory");
        goto out;
      }
    }
    if ((st = scan_step(c, body, N, M, K, in, outs, state, &owned))) goto out;
    for (int k = 0; k < K; k++) {
      ladle_tensor *o = &outs[N + k];
      int r = o->ndim + 1;
      int64_t a = out_axis[k] < 0 ? out_axis[k] + r : out_axis[k];
      if (a < 0 || a >= r || r > LADLE_MAX_DIMS) {
        st = op_fail(c, LADLE_ERR_INVALID, "Scan: output axis %lld out of range for rank %d",
                     (long long)out_axis[k], r);
        goto out;
      }
      int64_t dims[LADLE_MAX_DIMS];
      for (int d = 0, i = 0; d < r; d++) dims[d] = d == a ? len : o->dims[i++];
      if (t == 0) {
        if (has_out(c, N + k) && (st = op_out(c, N + k, o->dtype, r, dims, &y[k]))) goto out;
      } else if (y[k] && (o->dtype != y[k]->dtype || !shape_equal(r, dims, y[k]->ndim, y[k]->dims))) {
        st = op_fail(c, LADLE_ERR_SHAPE, "Scan: scan output %d changed from %s to %s", k,
                     shape_str(y[k]->ndim, y[k]->dims, s1, sizeof s1),
                     shape_str(r, dims, s2, sizeof s2));
        goto out;
      }
      if (!y[k]) continue;
      int64_t pos = out_dir[k] ? len - 1 - t : t;
      slab_copy(y[k]->data, o->data, prod(dims, 0, (int)a), len, prod(dims, (int)a + 1, r), pos,
                o->dtype, false, true);
    }
    owned_clear_all(outs, N + K);
  }
  for (int k = 0; k < N && k < n_out; k++)
    if ((st = emit(c, k, owned ? &state[k] : op_in(c, k), owned))) goto out;
  if (len == 0)
    for (int k = 0; k < K && N + k < n_out; k++)
      if ((st = emit_empty(c, N + k, body, N + k, (int)out_axis[k]))) goto out;
out:
  owned_clear_all(outs, N + K);
  if (owned) owned_clear_all(state, N);
  for (int j = 0; j < M; j++)
    if (in_axis[j] != 0 && slice[j].dtype == LADLE_STRING && slice[j].data) {
      char **s = slice[j].data;
      for (int64_t i = 0; i < ladle_tensor_numel(&slice[j]); i++) {
        free(s[i]);
        s[i] = NULL;
      }
    }
  return st;
}

/* Scan 8: a batch axis 0 on every input and output, an optional sequence_lens first input, and
 * scan inputs [batch, seq, ...]. Each batch row runs the body on its own; positions past a
 * row's length are zero in the scan outputs. */
static ladle_status run_scan8(op_ctx *c) {
  const graph *body = graph_attr(c, "body");
  int n_in = op_n_in(c), n_out = op_n_out(c);
  ladle_status st = LADLE_OK;
  char s1[128], s2[128];
  if (!body) return op_fail(c, LADLE_ERR_INVALID, "Scan: missing body");
  int64_t m64 = node_attr_int(op_node(c), "num_scan_inputs", -1);
  if (m64 < 1 || m64 > n_in - 1 || n_in > CTL_MAX_IO)
    return op_fail(c, LADLE_ERR_INVALID, "Scan: num_scan_inputs %lld for %d inputs",
                   (long long)m64, n_in);
  int M = (int)m64, N = n_in - 1 - M, K = body->n_outputs - N;
  if (body->n_inputs != N + M || K < 0 || n_out > N + K)
    return op_fail(c, LADLE_ERR_INVALID, "Scan: the body takes %d inputs and gives %d outputs for "
                   "%d states and %d scan inputs", body->n_inputs, body->n_outputs, N, M);
  const int64_t *dirs = NULL;
  int64_t n_dirs = node_attr_ints(op_node(c), "directions", &dirs);
  if (n_dirs >= 0 && n_dirs != M)
    return op_fail(c, LADLE_ERR_INVALID, "Scan: %lld directions for %d scan inputs",
                   (long long)n_dirs, M);

  int64_t batch = -1, len = -1;
  for (int i = 1; i < n_in; i++) {
    const ladle_tensor *x = op_in(c, i);
    if (!x) return op_fail(c, LADLE_ERR_INVALID, "Scan: input %d is missing", i);
    int need = i > N ? 2 : 1;
    if (x->ndim < need || (batch >= 0 && x->dims[0] != batch))
      return op_fail(c, LADLE_ERR_SHAPE, "Scan: input %d has shape %s; batch %lld expected", i,
                     shape_str(x->ndim, x->dims, s1, sizeof s1), (long long)batch);
    batch = x->dims[0];
    if (i > N) {
      if (len >= 0 && x->dims[1] != len)
        return op_fail(c, LADLE_ERR_SHAPE, "Scan: scan inputs differ in length");
      len = x->dims[1];
    }
  }
  const ladle_tensor *lens = op_in(c, 0);
  if (lens && (ladle_tensor_numel(lens) != batch || !dtype_is_integer(lens->dtype)))
    return op_fail(c, LADLE_ERR_SHAPE, "Scan: sequence_lens must hold %lld integers",
                   (long long)batch);

  size_t sz_ptr = sizeof(const ladle_tensor *) * (size_t)(N + M + 1);
  size_t sz_tens = sizeof(ladle_tensor) * (size_t)(N + N + M + (N + K) + 2);
  char *mem = op_scratch(c, 0, sz_ptr + sz_tens + 64);
  if (!mem) return op_fail(c, LADLE_ERR_NOMEM, "Scan: out of memory");
  memset(mem, 0, sz_ptr + sz_tens);
  const ladle_tensor **in = (const ladle_tensor **)mem;
  ladle_tensor *state = (ladle_tensor *)(mem + sz_ptr);
  ladle_tensor *view = state + N; /* N state rows, then M scan slices */
  ladle_tensor *outs = view + N + M;
  ladle_tensor *y[CTL_MAX_IO] = {NULL}, *ys[CTL_MAX_IO] = {NULL};
  bool owned = false;

  for (int i = 0; i < N + M; i++) {
    const ladle_tensor *x = op_in(c, 1 + i);
    int skip = i < N ? 1 : 2;
    view[i].dtype = x->dtype;
    view[i].ndim = x->ndim - skip;
    memcpy(view[i].dims, x->dims + skip, sizeof(int64_t) * (size_t)view[i].ndim);
  }
  for (int64_t b = 0; b < batch; b++) {
    int64_t n_steps = lens ? tensor_get_i64(lens, b) : len;
    if (n_steps < 0 || n_steps > len) {
      st = op_fail(c, LADLE_ERR_INVALID, "Scan: sequence_lens[%lld] = %lld is outside [0, %lld]",
                   (long long)b, (long long)n_steps, (long long)len);
      goto out;
    }
    for (int k = 0; k < N; k++) {
      const ladle_tensor *x = op_in(c, 1 + k);
      int64_t row = prod(x->dims, 1, x->ndim);
      view[k].data = (char *)x->data + b * row * (int64_t)ladle_dtype_size(x->dtype);
      in[k] = &view[k];
    }
    if (owned) owned_clear_all(state, N);
    owned = false;
    for (int64_t t = 0; t < n_steps; t++) {
      for (int j = 0; j < M; j++) {
        const ladle_tensor *x = op_in(c, 1 + N + j);
        int64_t row = prod(x->dims, 2, x->ndim);
        int64_t pos = dirs && dirs[j] ? n_steps - 1 - t : t;
        view[N + j].data =
            (char *)x->data + (b * len + pos) * row * (int64_t)ladle_dtype_size(x->dtype);
        in[N + j] = &view[N + j];
      }
      if ((st = scan_step(c, body, N, M, K, in, outs, state, &owned))) goto out;
      for (int k = 0; k < K; k++) {
        ladle_tensor *o = &outs[N + k];
        int64_t dims[LADLE_MAX_DIMS];
        if (o->ndim + 2 > LADLE_MAX_DIMS) {
          st = op_fail(c, LADLE_ERR_UNSUPPORTED, "Scan: scan output %d has rank %d", k, o->ndim);
          goto out;
        }
        dims[0] = batch;
        dims[1] = len;
        memcpy(dims + 2, o->dims, sizeof(int64_t) * (size_t)o->ndim);
        if (!y[k] && has_out(c, N + k)) {
          if ((st = op_out(c, N + k, o->dtype, o->ndim + 2, dims, &y[k]))) goto out;
          if (o->dtype != LADLE_STRING) memset(y[k]->data, 0, tensor_nbytes(y[k]));
        } else if (y[k] && (o->dtype != y[k]->dtype ||
                            !shape_equal(o->ndim + 2, dims, y[k]->ndim, y[k]->dims))) {
          st = op_fail(c, LADLE_ERR_SHAPE, "Scan: scan output %d changed from %s to %s", k,
                       shape_str(y[k]->ndim, y[k]->dims, s1, sizeof s1),
                       shape_str(o->ndim + 2, dims, s2, sizeof s2));
          goto out;
        }
        if (!y[k]) continue;
        int64_t row = ladle_tensor_numel(o);
        copy_elems((char *)y[k]->data + (b * len + t) * row * (int64_t)ladle_dtype_size(o->dtype),
                   o->data, row, o->dtype, true);
      }
      owned_clear_all(outs, N + K);
    }
    /* final state rows */
    for (int k = 0; k < N && k < n_out; k++) {
      ladle_tensor *fin = owned ? &state[k] : &view[k];
      int64_t dims[LADLE_MAX_DIMS];
      if (!has_out(c, k)) continue;
      if (fin->ndim + 1 > LADLE_MAX_DIMS) {
        st = op_fail(c, LADLE_ERR_UNSUPPORTED, "Scan: state %d has rank %d", k, fin->ndim);
        goto out;
      }
      dims[0] = batch;
      memcpy(dims + 1, fin->dims, sizeof(int64_t) * (size_t)fin->ndim);
      if (b == 0) {
        if ((st = op_out(c, k, fin->dtype, fin->ndim + 1, dims, &ys[k]))) goto out;
      } else if (fin->dtype != ys[k]->dtype ||
                 !shape_equal(fin->ndim + 1, dims, ys[k]->ndim, ys[k]->dims)) {
        st = op_fail(c, LADLE_ERR_SHAPE, "Scan: state %d changed from %s to %s", k,
                     shape_str(ys[k]->ndim, ys[k]->dims, s1, sizeof s1),
                     shape_str(fin->ndim + 1, dims, s2, sizeof s2));
        goto out;
      }
      int64_t row = ladle_tensor_numel(fin);
      if ((st = copy_elems((char *)ys[k]->data + b * row * (int64_t)ladle_dtype_size(fin->dtype),
                           fin->data, row, fin->dtype, owned))) {
        st = op_fail(c, st, "Scan: out of memory");
        goto out;
      }
    }
  }
  for (int k = 0; k < K && N + k < n_out; k++) /* no body run: the body's declared shapes */
      if (!y[k] && (st = emit_empty(c, N + k, body, N + k, 1))) goto out;
  for (int k = 0; k < N && k < n_out && batch == 0; k++)
    if ((st = emit(c, k, op_in(c, 1 + k), false))) goto out;
  goto out;
out:
  owned_clear_all(outs, N + K);
  if (owned) owned_clear_all(state, N);
  return st;
}

const op_def ops_control[] = {
    {"", "If", 1, 99, run_if, NULL, NULL},
    {"", "Loop", 1, 99, run_loop, NULL, NULL},
    {"", "Scan", 8, 8, run_scan8, NULL, NULL},
    {"", "Scan", 9, 99, run_scan9, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

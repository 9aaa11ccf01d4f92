/* exec.c — sessions: binding inputs, running nodes in order, planning buffers.
 *
 * Memory plan: every intermediate value gets a buffer from the session's pool when its producer
 * runs and returns it after its last reader, so buffers are shared between values whose lifetimes
 * do not overlap. The pool hands out the smallest free buffer that fits and grows the largest
 * free one otherwise. Each value remembers the buffer it had (plan[]); a run with the shapes of
 * the previous run takes exactly those buffers again, so from the second run with a shape on,
 * a run allocates nothing (tests/unit/runtime/test_steady_state.c counts). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tpool.h"
#include "runtime/model.h"
#include "runtime/op.h"

#define DEFAULT_MAX_TENSOR_BYTES (UINT64_C(4) << 30)
#define FOLD_OUT_MAX_BYTES (UINT64_C(64) << 20) /* largest constant folding may create */
#define BUF_ALIGN 64

typedef struct buf {
  void *p;
  size_t cap;
  bool busy;
} buf;

typedef struct frame frame;

struct ladle_session {
  const struct ladle_model *m;
  const graph *g;
  frame *parent_frame; /* subgraph sessions: where outer-scope names resolve */
  ladle_tensor *vals;  /* one per value of g */
  int *buf_of;         /* value -> buffer index, -1 for none */
  int *plan;           /* value -> the buffer it had in the previous run, -1 for none */
  buf *bufs;
  int n_bufs, cap_bufs;
  void *scratch[4];
  size_t scratch_cap[4];
  unsigned scratch_live; /* slots handed to the running node (bit per slot) */
  tpool *pool;
  bool own_pool;
  int threads;
  uint64_t max_tensor_bytes; /* largest single tensor or scratch buffer */
  uint64_t max_run_bytes;    /* all pool and scratch buffers together; 0: no limit */
  uint64_t held_own;         /* bytes this session's buffers hold */
  uint64_t *held;            /* where they are counted: held_own, or the caller's for subgraphs */
  bool over_limit;           /* the last failed allocation was refused by max_run_bytes */
  errbuf err;
};

struct frame {
  struct ladle_session *s;
};

struct op_ctx {
  struct ladle_session *s;
  const node *n;
};

/* --- buffer pool -------------------------------------------------------------------------- */

static size_t round_cap(size_t bytes) {
  size_t cap = (bytes + BUF_ALIGN - 1) / BUF_ALIGN * BUF_ALIGN;
  return cap ? cap : BUF_ALIGN;
}

/* Replaces a buffer of old_cap bytes (NULL, 0 for none) by one of at least `bytes`, counting
 * the change against the session's run limit. NULL when refused or out of memory; the old
 * buffer is then untouched. The caller frees the old buffer on success. */
static void *buf_grow(struct ladle_session *s, size_t old_cap, size_t bytes, size_t *cap) {
  size_t c = round_cap(bytes);
  uint64_t after = *s->held - old_cap + c;
  s->over_limit = s->max_run_bytes && after > s->max_run_bytes;
  if (s->over_limit) return NULL;
  void *p = aligned_alloc(BUF_ALIGN, c);
  if (!p) return NULL;
  *s->held = after;
  *cap = c;
  return p;
}

/* Frees the pool's idle buffers and the scratch the running node has not asked for: what a run
 * limit needs when buffers sized for earlier shapes (or a run that failed part-way) hold the
 * memory a smaller run now wants. */
static void pool_trim(struct ladle_session *s) {
  for (int i = 0; i < 4; i++) {
    if (s->scratch_live & (1u << i)) continue;
    free(s->scratch[i]);
    *s->held -= s->scratch_cap[i];
    s->scratch[i] = NULL;
    s->scratch_cap[i] = 0;
  }
  for (int i = 0; i < s->n_bufs; i++) {
    if (s->bufs[i].busy || !s->bufs[i].p) continue;
    free(s->bufs[i].p);
    *s->held -= s->bufs[i].cap;
    s->bufs[i].p = NULL;
    s->bufs[i].cap = 0;
  }
}

/* Returns a buffer index with at least `bytes`, marked busy; -1 on allocation failure. */
static int pool_pick(struct ladle_session *s, size_t bytes) {
  int best = -1, largest = -1;
  for (int i = 0; i < s->n_bufs; i++) {
    if (s->bufs[i].busy) continue;
    if (s->bufs[i].p && s->bufs[i].cap >= bytes && (best < 0 || s->bufs[i].cap < s->bufs[best].cap)) best = i;
    if (largest < 0 || s->bufs[i].cap > s->bufs[largest].cap) largest = i;
  }
  if (best < 0 && largest >= 0) { /* grow the largest free buffer */
    size_t cap;
    void *p = buf_grow(s, s->bufs[largest].cap, bytes, &cap);
    if (!p) return -1;
    free(s->bufs[largest].p);
    s->bufs[largest].p = p;
    s->bufs[largest].cap = cap;
    best = largest;
  }
  if (best < 0) {
    if (s->n_bufs == s->cap_bufs) {
      int nc = s->cap_bufs ? s->cap_bufs * 2 : 16;
      buf *nb = realloc(s->bufs, sizeof *nb * (size_t)nc);
      if (!nb) return -1;
      s->bufs = nb;
      s->cap_bufs = nc;
    }
    size_t cap;
    void *p = buf_grow(s, 0, bytes, &cap);
    if (!p) return -1;
    s->bufs[s->n_bufs] = (buf){p, cap, false};
    best = s->n_bufs++;
  }
  s->bufs[best].busy = true;
  return best;
}

static int pool_take(struct ladle_session *s, size_t bytes) {
  int b = pool_pick(s, bytes);
  if (b < 0 && s->over_limit) {
    pool_trim(s);
    b = pool_pick(s, bytes);
  }
  return b;
}

static void release_value(struct ladle_session *s, int v) {
  int b = s->buf_of[v];
  if (b < 0) return;
  if (s->vals[v].dtype == LADLE_STRING && s->vals[v].data) {
    int64_t n = ladle_tensor_numel(&s->vals[v]);
    char **str = s->vals[v].data;
    for (int64_t i = 0; i < n; i++) {
      free(str[i]);
      str[i] = NULL;
    }
  }
  s->bufs[b].busy = false;
  s->buf_of[v] = -1;
}

/* Releases every value and frees every buffer and scratch slot (nothing is running). */
static void session_release_all(struct ladle_session *s) {
  for (int v = 0; s->buf_of && v < s->g->n_values; v++) release_value(s, v);
  s->scratch_live = 0;
  pool_trim(s);
}

/* --- the kernel's view -------------------------------------------------------------------- */

const node *op_node(const op_ctx *c) { return c->n; }
int op_n_in(const op_ctx *c) { return c->n->n_in; }
int op_n_out(const op_ctx *c) { return c->n->n_out; }
tpool *op_pool(op_ctx *c) { return c->s->pool; }
int op_threads(const op_ctx *c) { return c->s->threads; }
uint64_t op_tensor_limit(const op_ctx *c) { return c->s->max_tensor_bytes; }

/* The tensor bound to value v, following outer-scope references to enclosing sessions. */
static const ladle_tensor *lookup(const struct ladle_session *s, int v) {
  const value *val = &s->g->values[v];
  if (val->kind != VAL_OUTER) return &s->vals[v];
  for (const frame *f = s->parent_frame; f; f = f->s->parent_frame) {
    int id = graph_find_value(f->s->g, val->name);
    if (id >= 0 && f->s->g->values[id].kind != VAL_OUTER) return &f->s->vals[id];
  }
  return NULL;
}

const ladle_tensor *op_in(const op_ctx *c, int i) {
  if (i < 0 || i >= c->n->n_in || c->n->in[i] < 0) return NULL;
  return lookup(c->s, c->n->in[i]);
}

bool op_out_wanted(const op_ctx *c, int i) {
  if (i < 0 || i >= c->n->n_out || c->n->out[i] < 0) return false;
  return c->s->g->values[c->n->out[i]].name[0] != '\x01';
}

ladle_status op_fail(op_ctx *c, ladle_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_vset(&c->s->err, st, fmt, ap);
  va_end(ap);
  return st;
}

ladle_status op_out(op_ctx *c, int i, int dtype, int ndim, const int64_t *dims, ladle_tensor **y) {
  struct ladle_session *s = c->s;
  char sh[128];
  if (i < 0 || i >= c->n->n_out || c->n->out[i] < 0)
    return op_fail(c, LADLE_ERR_INTERNAL, "output %d does not exist", i);
  if (ndim < 0 || ndim > LADLE_MAX_DIMS)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "output rank %d exceeds %d", ndim, LADLE_MAX_DIMS);
  int64_t n = shape_numel(ndim, dims);
  size_t esz = ladle_dtype_size(dtype);
  if (n < 0 || esz == 0)
    return op_fail(c, LADLE_ERR_SHAPE, "invalid output shape %s", shape_str(ndim, dims, sh, sizeof sh));
  if ((uint64_t)n > s->max_tensor_bytes / esz)
    return op_fail(c, LADLE_ERR_LIMIT, "output shape %s exceeds the %llu-byte tensor limit",
                   shape_str(ndim, dims, sh, sizeof sh), (unsigned long long)s->max_tensor_bytes);
  int v = c->n->out[i];
  release_value(s, v); /* an op may shape the same output twice */
  /* A run repeats the previous run's sequence of takes and releases when the shapes are the
   * same, so the buffer this value had last time is free now and big enough: reuse it, and the
   * second run with a shape allocates nothing. Otherwise fall back to the pool's choice. */
  size_t need = (size_t)n * esz;
  int b = s->plan[v];
  if (b >= 0 && b < s->n_bufs && !s->bufs[b].busy && s->bufs[b].p && s->bufs[b].cap >= need)
    s->bufs[b].busy = true;
  else
    b = pool_take(s, need);
  if (b < 0 && s->over_limit)
    return op_fail(c, LADLE_ERR_LIMIT, "output shape %s would take the run past its %llu-byte memory limit",
                   shape_str(ndim, dims, sh, sizeof sh), (unsigned long long)s->max_run_bytes);
  if (b < 0) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for output %d", i);
  s->buf_of[v] = b;
  s->plan[v] = b;
  ladle_tensor *t = &s->vals[v];
  t->dtype = dtype;
  t->ndim = ndim;
  memset(t->dims, 0, sizeof t->dims);
  if (ndim) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
  t->data = s->bufs[b].p;
  if (dtype == LADLE_STRING) memset(t->data, 0, (size_t)n * esz);
  *y = t;
  return LADLE_OK;
}

void *op_scratch(op_ctx *c, int slot, size_t bytes) {
  struct ladle_session *s = c->s;
  if (slot < 0 || slot > 3) return NULL;
  s->scratch_live |= 1u << slot;
  if (bytes > s->max_tensor_bytes) {
    s->over_limit = true;
    return NULL;
  }
  if (!s->scratch[slot] || s->scratch_cap[slot] < bytes) {
    size_t cap;
    void *p = buf_grow(s, s->scratch_cap[slot], bytes, &cap);
    if (!p && s->over_limit) {
      pool_trim(s);
      p = buf_grow(s, s->scratch_cap[slot], bytes, &cap);
    }
    if (!p) return NULL;
    free(s->scratch[slot]);
    s->scratch[slot] = p;
    s->scratch_cap[slot] = cap;
  }
  return s->scratch[slot];
}

void act_apply(const node *n, float *y, int64_t len) {
  switch (n->act) {
    case ACT_NONE: break;
    case ACT_RELU:
      for (int64_t i = 0; i < len; i++) y[i] = y[i] > 0 ? y[i] : 0;
      break;
    case ACT_CLIP: {
      float lo = n->act_alpha, hi = n->act_beta;
      for (int64_t i = 0; i < len; i++) y[i] = y[i] < lo ? lo : (y[i] > hi ? hi : y[i]);
      break;
    }
    case ACT_LEAKY_RELU: {
      float a = n->act_alpha;
      for (int64_t i = 0; i < len; i++) y[i] = y[i] >= 0 ? y[i] : a * y[i];
      break;
    }
    case ACT_SIGMOID:
      for (int64_t i = 0; i < len; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
      break;
  }
}

/* --- sessions ----------------------------------------------------------------------------- */

static struct ladle_session *session_create(const struct ladle_model *m, const graph *g,
                                            tpool *pool, int threads) {
  struct ladle_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->m = m;
  s->g = g;
  s->threads = threads < 1 ? 1 : threads;
  s->max_tensor_bytes = DEFAULT_MAX_TENSOR_BYTES;
  s->held = &s->held_own;
  s->vals = calloc((size_t)g->n_values + 1, sizeof *s->vals);
  s->buf_of = malloc(sizeof(int) * ((size_t)g->n_values + 1));
  s->plan = malloc(sizeof(int) * ((size_t)g->n_values + 1));
  if (!s->vals || !s->buf_of || !s->plan) goto fail;
  for (int v = 0; v < g->n_values; v++) {
    s->buf_of[v] = -1;
    s->plan[v] = -1;
    if (g->values[v].kind == VAL_CONST && g->values[v].konst) s->vals[v] = *g->values[v].konst;
  }
  if (pool) {
    s->pool = pool;
  } else {
    s->pool = tpool_new(s->threads);
    s->own_pool = true;
    if (!s->pool) goto fail;
  }
  return s;
fail: /* nothing holds a buffer yet, and buf_of may be unset when an allocation failed */
  free(s->buf_of);
  s->buf_of = NULL;
  ladle_session_free(s);
  return NULL;
}

ladle_session *ladle_session_new(const ladle_model *m, int threads) {
  if (!m) return NULL;
  return session_create(m, &m->g, NULL, threads);
}

void ladle_session_free(ladle_session *s) {
  if (!s) return;
  session_release_all(s); /* counts the buffers out of the caller's total for subgraphs */
  free(s->bufs);
  free(s->vals);
  free(s->buf_of);
  free(s->plan);
  if (s->own_pool) tpool_free(s->pool);
  free(s);
}

void ladle_session_set_limits(ladle_session *s, uint64_t max_tensor_bytes, uint64_t max_run_bytes) {
  s->max_tensor_bytes = max_tensor_bytes ? max_tensor_bytes : UINT64_MAX;
  s->max_run_bytes = max_run_bytes;
}

const char *ladle_session_errmsg(const ladle_session *s) { return s ? s->err.msg : "no session"; }

int ladle_session_n_outputs(const ladle_session *s) { return s->g->n_outputs; }

const ladle_tensor *ladle_session_output(const ladle_session *s, int i) {
  if (i < 0 || i >= s->g->n_outputs) return NULL;
  return lookup(s, s->g->outputs[i]);
}

static ladle_status bind_input(struct ladle_session *s, int v, const ladle_tensor *t) {
  const value *val = &s->g->values[v];
  char a[128], b[128];
  if (t->ndim < 0 || t->ndim > LADLE_MAX_DIMS)
    return err_set(&s->err, LADLE_ERR_SHAPE, "input '%s': rank %d is not supported", val->name,
                   t->ndim);
  if (val->dtype && t->dtype != val->dtype)
    return err_set(&s->err, LADLE_ERR_DTYPE, "input '%s': expected %s, got %s", val->name,
                   ladle_dtype_name(val->dtype), ladle_dtype_name(t->dtype));
  if (!dtype_valid(t->dtype))
    return err_set(&s->err, LADLE_ERR_DTYPE, "input '%s': unsupported data type %d", val->name,
                   t->dtype);
  bool ok = val->ndim < 0 || val->ndim == t->ndim;
  for (int d = 0; ok && val->ndim >= 0 && d < t->ndim; d++)
    if (val->dims[d] >= 0 && val->dims[d] != t->dims[d]) ok = false;
  for (int d = 0; d < t->ndim; d++)
    if (t->dims[d] < 0) ok = false;
  if (!ok)
    return err_set(&s->err, LADLE_ERR_SHAPE, "input '%s': expected shape %s, got %s", val->name,
                   shape_str(val->ndim, val->dims, a, sizeof a),
                   shape_str(t->ndim, t->dims, b, sizeof b));
  if (shape_numel(t->ndim, t->dims) < 0)
    return err_set(&s->err, LADLE_ERR_SHAPE, "input '%s': shape %s is too large", val->name,
                   shape_str(t->ndim, t->dims, b, sizeof b));
  s->vals[v] = *t;
  return LADLE_OK;
}

static ladle_status run_nodes(struct ladle_session *s) {
  const graph *g = s->g;
  op_ctx c = {s, NULL};
  for (int v = 0; v < g->n_values; v++) release_value(s, v);
  for (int i = 0; i < g->n_nodes; i++) {
    const node *n = &g->nodes[i];
    c.n = n;
    for (int k = 0; k < n->n_in; k++) {
      if (n->in[k] >= 0 && !lookup(s, n->in[k]))
        return err_set(&s->err, LADLE_ERR_INTERNAL, "node '%s' (%s): input '%s' unresolved",
                       n->name, n->op_type, g->values[n->in[k]].name);
    }
    err_clear(&s->err);
    s->over_limit = false;
    s->scratch_live = 0;
    ladle_status st = n->op->run(&c);
    if (st == LADLE_ERR_NOMEM && s->over_limit) /* a scratch buffer the limits refused */
      err_set(&s->err, st = LADLE_ERR_LIMIT, "scratch memory past the memory limit (%llu bytes per tensor, %llu per run)",
              (unsigned long long)s->max_tensor_bytes, (unsigned long long)s->max_run_bytes);
    if (st) {
      if (!s->err.msg[0]) err_set(&s->err, st, "%s", ladle_status_text(st));
      err_prefix(&s->err, "node '%s' (%s)", n->name, n->op_type);
      return st;
    }
    for (int k = 0; k < n->n_out; k++) {
      int v = n->out[k];
      if (v >= 0 && s->buf_of[v] < 0 && s->vals[v].data == NULL) {
        return err_set(&s->err, LADLE_ERR_INTERNAL, "node '%s' (%s) did not produce output %d",
                       n->name, n->op_type, k);
      }
    }
    /* release what this node was the last to read (and outputs nobody reads) */
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v >= 0 && g->values[v].last_use == i && !g->values[v].is_output &&
          g->values[v].kind == VAL_INTERMEDIATE)
        release_value(s, v);
    }
    for (int k = 0; k < n->n_out; k++) {
      int v = n->out[k];
      if (v >= 0 && g->values[v].last_use == i && !g->values[v].is_output) release_value(s, v);
    }
  }
  return LADLE_OK;
}

ladle_status ladle_session_run(ladle_session *s, int n, const char *const *names,
                               const ladle_tensor *inputs) {
  const graph *g = s->g;
  ladle_status st;
  err_clear(&s->err);
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].kind == VAL_INPUT) s->vals[v].data = NULL;
  for (int i = 0; i < n; i++) {
    int v = graph_find_value(g, names[i]);
    if (v < 0 || g->values[v].kind != VAL_INPUT) {
      char known[256] = "";
      size_t off = 0;
      for (int k = 0; k < g->n_inputs && off < sizeof known; k++)
        off += (size_t)snprintf(known + off, sizeof known - off, "%s'%s'", k ? ", " : "",
                                g->values[g->inputs[k]].name);
      return err_set(&s->err, LADLE_ERR_NOT_FOUND, "unknown input '%s' (the model takes %s)",
                     names[i], known);
    }
    if (s->vals[v].data)
      return err_set(&s->err, LADLE_ERR_INVALID, "input '%s' given twice", names[i]);
    if ((st = bind_input(s, v, &inputs[i]))) return st;
    if (!s->vals[v].data) s->vals[v].data = (void *)"";
  }
  for (int k = 0; k < g->n_inputs; k++) {
    int v = g->inputs[k];
    if (!s->vals[v].data)
      return err_set(&s->err, LADLE_ERR_INVALID, "missing input '%s'", g->values[v].name);
  }
  st = run_nodes(s);
  if (st == LADLE_ERR_LIMIT) session_release_all(s); /* the next run may be smaller */
  return st;
}

/* --- constant folding and subgraphs ------------------------------------------------------- */

ladle_status exec_fold_node(const graph *g, const node *n, ladle_tensor **outs, errbuf *e) {
  ladle_status st = LADLE_OK;
  struct ladle_session *s = session_create(NULL, g, NULL, 1);
  if (!s) return LADLE_ERR_NOMEM;
  /* a fold that would make a large constant (ConstantOfShape, Tile, Expand of a small input)
   * is left to run time, where the session's limits apply */
  ladle_session_set_limits(s, FOLD_OUT_MAX_BYTES, 2 * FOLD_OUT_MAX_BYTES);
  op_ctx c = {s, n};
  for (int k = 0; k < n->n_out; k++) outs[k] = NULL;
  st = n->op->run(&c);
  if (st) {
    err_set(e, st, "%s", s->err.msg);
    goto out;
  }
  for (int k = 0; k < n->n_out; k++) {
    int v = n->out[k];
    if (v < 0 || s->buf_of[v] < 0) continue;
    if ((st = tensor_clone(&s->vals[v], &outs[k]))) goto out;
  }
out:
  if (st)
    for (int k = 0; k < n->n_out; k++) {
      tensor_free(outs[k]);
      outs[k] = NULL;
    }
  ladle_session_free(s);
  return st;
}

ladle_status op_run_subgraph(op_ctx *c, const graph *g, int n_in, const ladle_tensor *const *in,
                             ladle_tensor *outs) {
  ladle_status st = LADLE_OK;
  frame parent = {c->s};
  struct ladle_session *s = session_create(c->s->m, g, c->s->pool, c->s->threads);
  if (!s) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for a subgraph");
  s->parent_frame = &parent;
  s->max_tensor_bytes = c->s->max_tensor_bytes;
  s->max_run_bytes = c->s->max_run_bytes;
  s->held = c->s->held;
  if (n_in > g->n_inputs) n_in = g->n_inputs;
  for (int i = 0; i < n_in; i++) s->vals[g->inputs[i]] = *in[i];
  if ((st = run_nodes(s))) {
    op_fail(c, st, "subgraph '%s': %s", g->name, s->err.msg);
    goto out;
  }
  for (int i = 0; i < g->n_outputs; i++) {
    const ladle_tensor *t = lookup(s, g->outputs[i]);
    ladle_tensor *copy = NULL;
    if (!t || (st = tensor_clone(t, &copy))) {
      if (!st) st = LADLE_ERR_INTERNAL;
      op_fail(c, st, "subgraph '%s': output %d unavailable", g->name, i);
      for (int k = 0; k < i; k++) {
        ladle_tensor *tmp = malloc(sizeof *tmp);
        if (tmp) {
          *tmp = outs[k];
          tensor_free(tmp);
        }
      }
      goto out;
    }
    outs[i] = *copy;
    free(copy);
  }
out:
  ladle_session_free(s);
  return st;
}

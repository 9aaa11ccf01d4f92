/* scheduler.c — request queue, dynamic batcher and instance threads of one model version.
 *
 * Lock order: batcher.mu is a leaf lock: nothing else is locked while it is held, and done()
 * callbacks run without it. */
#include "serving/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"

typedef struct instance {
  struct batcher *s;
  int idx;
  pthread_t tid;
  bool started;
  ladle_session *sess;
  infer_request **batch; /* room for the most requests one execution can take */
  void **cat;            /* per input: concatenation buffer */
  size_t *cat_cap;
  ladle_tensor *cat_t;
  const char **names;
} instance;

struct batcher {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  infer_request *head, *tail;
  int64_t depth;
  int idle; /* instance threads waiting on cv */
  bool stopping, stopped;
  /* fixed at creation */
  const ladle_model *m;
  const model_sig *sig;
  model_stats *stats;
  int max_batch; /* rows per execution; 0: no batching */
  bool dynamic;
  int max_reqs; /* requests per execution */
  int64_t delay_ns, max_queue;
  int64_t memory_limit_mb; /* 0: none */
  int n_preferred;
  int preferred[CFG_MAX_PREFERRED];
  char label[CFG_NAME_MAX + 32];
  int n_inst;
  instance *inst;
};

/* --- queue (under mu) --------------------------------------------------------------------- */

static void unlink_after(batcher *s, infer_request *prev, infer_request *r) {
  if (prev) prev->next = r->next;
  else s->head = r->next;
  if (s->tail == r) s->tail = prev;
  r->next = NULL;
  s->depth--;
}

static bool same_shape(const infer_request *a, const infer_request *b, int n_in) {
  for (int i = 0; i < n_in; i++) {
    const ladle_tensor *x = &a->in[i], *y = &b->in[i];
    if (x->ndim != y->ndim || x->dtype != y->dtype) return false;
    for (int d = 1; d < x->ndim; d++)
      if (x->dims[d] != y->dims[d]) return false;
  }
  return true;
}

static bool is_preferred(const batcher *s, int64_t rows) {
  for (int i = 0; i < s->n_preferred; i++)
    if (s->preferred[i] == rows) return true;
  return false;
}

/* Picks the next execution from the queue into in->batch. Expired requests found on the way
 * are moved to *expired. Returns the number of requests taken (0: nothing to run now; *wait_until
 * is then the time to wake up for the delay, or 0). */
static int take_batch(batcher *s, instance *in, uint64_t now, infer_request **expired,
                      uint64_t *wait_until) {
  infer_request *prev = NULL, *r = s->head;
  *wait_until = 0;
  /* drop expired requests at the head */
  while (r && r->deadline && r->deadline <= now) {
    infer_request *next = r->next;
    unlink_after(s, NULL, r);
    r->next = *expired;
    *expired = r;
    r = next;
  }
  infer_request *h = s->head;
  if (!h) return 0;
  if (!s->dynamic || s->max_batch <= 0) {
    unlink_after(s, NULL, h);
    in->batch[0] = h;
    return 1;
  }
  /* candidates: h and compatible requests behind it, in order, up to max_batch rows */
  int n = 1;
  int64_t rows = h->rows;
  in->batch[0] = h;
  prev = h;
  for (r = h->next; r && n < s->max_reqs && rows < s->max_batch; r = r->next) {
    if (r->deadline && r->deadline <= now) continue; /* collected when it reaches the head */
    if (rows + r->rows > s->max_batch || !same_shape(h, r, s->sig->n_in)) continue;
    in->batch[n++] = r;
    rows += r->rows;
  }
  int take = n;
  bool full = rows >= s->max_batch || n >= s->max_reqs;
  if (s->n_preferred > 0 && !full) {
    /* the longest prefix whose rows are a preferred size runs now */
    int64_t acc = 0;
    int best = 0;
    for (int i = 0; i < n; i++) {
      acc += in->batch[i]->rows;
      if (is_preferred(s, acc)) best = i + 1;
    }
    if (best > 0) {
      take = best;
      full = true;
    }
  }
  if (!full && s->delay_ns > 0 && !s->stopping) {
    uint64_t until = h->t_submit + (uint64_t)s->delay_ns;
    if (until > now) {
      *wait_until = until;
      return 0;
    }
  }
  /* unlink the chosen ones (they are in queue order) */
  prev = NULL;
  r = s->head;
  for (int i = 0; i < take; i++) {
    while (r != in->batch[i]) {
      prev = r;
      r = r->next;
    }
    infer_request *next = r->next;
    unlink_after(s, prev, r);
    r = next;
  }
  return take;
}

/* --- running ------------------------------------------------------------------------------ */

static void fail_all(infer_request **reqs, int n, ladle_status st, fail_reason why, const char *msg) {
  for (int i = 0; i < n; i++) {
    infer_request *r = reqs[i];
    r->st = st;
    r->why = why;
    err_set(&r->err, st, "%s", msg);
  }
}

static bool grow_cat(instance *in, int i, size_t bytes) {
  if (in->cat_cap[i] >= bytes) return true;
  size_t cap = in->cat_cap[i] ? in->cat_cap[i] : 4096;
  while (cap < bytes) cap *= 2;
  void *p = aligned_alloc(64, (cap + 63) / 64 * 64);
  if (!p) return false;
  free(in->cat[i]);
  in->cat[i] = p;
  in->cat_cap[i] = cap;
  return true;
}

/* Copies rows [row0, row0 + rows) of y into a new arena tensor. */
static ladle_status copy_rows(const ladle_tensor *y, int64_t row0, int64_t rows, bool whole,
                              arena *mem, ladle_tensor *out) {
  int64_t per_row = 1;
  size_t esz = ladle_dtype_size(y->dtype);
  *out = *y;
  out->data = NULL;
  if (!whole) {
    for (int d = 1; d < y->ndim; d++) per_row *= y->dims[d];
    out->dims[0] = rows;
  } else {
    per_row = ladle_tensor_numel(y);
    row0 = 0;
    rows = 1;
  }
  int64_t count = per_row * rows;
  if (count < 0) return LADLE_ERR_INTERNAL;
  void *dst = arena_alloc64(mem, (size_t)count * esz);
  if (!dst) return LADLE_ERR_LIMIT;
  if (y->dtype == LADLE_STRING) {
    char **src = (char **)y->data + row0 * per_row, **d = dst;
    for (int64_t k = 0; k < count; k++) {
      const char *sv = src[k] ? src[k] : "";
      if (!(d[k] = arena_strndup(mem, sv, strlen(sv)))) return LADLE_ERR_LIMIT;
    }
  } else if (count) {
    memcpy(dst, (const char *)y->data + (size_t)(row0 * per_row) * esz, (size_t)count * esz);
  }
  out->data = dst;
  return LADLE_OK;
}

/* Runs reqs[0..n) as one execution and completes them. A merged batch that the model's memory
 * limit refuses is run again as two halves, down to single requests, so requests that fit on
 * their own are not failed by their neighbours. */
static void run_batch(batcher *s, instance *in, infer_request **reqs, int n, uint64_t t_take) {
  const model_sig *sig = s->sig;
  const ladle_tensor *inputs = reqs[0]->in;
  int64_t total = 0;
  bool merged = n > 1;
  char msg[LADLE_ERRMSG_MAX];
  for (int i = 0; i < n; i++) total += reqs[i]->rows;
  if (merged) {
    for (int k = 0; k < sig->n_in; k++) {
      const ladle_tensor *t0 = &reqs[0]->in[k];
      size_t esz = ladle_dtype_size(t0->dtype);
      int64_t per_row = 1;
      for (int d = 1; d < t0->ndim; d++) per_row *= t0->dims[d];
      if (!grow_cat(in, k, (size_t)(per_row * total) * esz + 1)) {
        fail_all(reqs, n, LADLE_ERR_NOMEM, FAIL_INTERNAL, "out of memory concatenating a batch");
        return;
      }
      char *dst = in->cat[k];
      for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)(per_row * reqs[i]->rows) * esz;
        if (bytes) memcpy(dst, reqs[i]->in[k].data, bytes);
        dst += bytes;
      }
      in->cat_t[k] = *t0;
      in->cat_t[k].dims[0] = total;
      in->cat_t[k].data = in->cat[k];
    }
    inputs = in->cat_t;
  }
  uint64_t t_in = time_now_ns();
  ladle_status st = ladle_session_run(in->sess, sig->n_in, in->names, inputs);
  uint64_t t_run = time_now_ns();
  if (st == LADLE_ERR_LIMIT && merged) {
    run_batch(s, in, reqs, n / 2, t_take);
    run_batch(s, in, reqs + n / 2, n - n / 2, t_take);
    return;
  }
  if (st == LADLE_ERR_LIMIT && s->memory_limit_mb) {
    snprintf(msg, sizeof msg, "%s (the model's memory_limit_mb is %lld)", ladle_session_errmsg(in->sess),
             (long long)s->memory_limit_mb);
    fail_all(reqs, n, st, FAIL_INTERNAL, msg);
  } else if (st) {
    fail_all(reqs, n, st, FAIL_INTERNAL, ladle_session_errmsg(in->sess));
  } else {
    for (int o = 0; o < sig->n_out && !st; o++) {
      const ladle_tensor *y = ladle_session_output(in->sess, o);
      bool wanted = false;
      for (int i = 0; i < n; i++) wanted |= reqs[i]->want[o];
      if (!wanted) continue;
      if (merged && (y->ndim < 1 || y->dims[0] != total)) {
        snprintf(msg, sizeof msg,
                 "output '%s' has %lld rows for a batch of %lld: the model does not batch along "
                 "dim 0 (set max_batch_size: 0 in its config)",
                 sig->out[o].name, (long long)(y->ndim ? y->dims[0] : 0), (long long)total);
        fail_all(reqs, n, LADLE_ERR_INTERNAL, FAIL_INTERNAL, msg);
        st = LADLE_ERR_INTERNAL;
        break;
      }
      int64_t row = 0;
      for (int i = 0; i < n; i++) {
        infer_request *r = reqs[i];
        if (r->want[o]) {
          ladle_status cs = copy_rows(y, row, r->rows, !merged, r->mem, &r->out[o]);
          if (cs) {
            r->st = cs;
            r->why = FAIL_INTERNAL;
            err_set(&r->err, cs, "output '%s' does not fit in the request's memory limit",
                    sig->out[o].name);
          }
        }
        row += r->rows;
      }
    }
  }
  uint64_t t_out = time_now_ns();
  stats_execution(s->stats, s->max_batch > 0 ? total : 1, n, t_in - t_take, t_run - t_in, t_out - t_run);
  for (int i = 0; i < n; i++) {
    infer_request *r = reqs[i];
    r->queue_ns = t_take - r->t_submit;
    r->compute_ns = t_out - t_take;
    r->batch_rows = total;
    if (r->st == LADLE_OK) stats_request_run(s->stats, r->queue_ns, r->compute_ns);
  }
  for (int i = 0; i < n; i++) reqs[i]->done(reqs[i]);
}

static void finish_expired(batcher *s, infer_request *list, uint64_t now) {
  while (list) {
    infer_request *next = list->next;
    list->next = NULL;
    list->st = LADLE_ERR_TIMEOUT;
    list->why = FAIL_TIMEOUT;
    list->queue_ns = now - list->t_submit;
    err_set(&list->err, LADLE_ERR_TIMEOUT, "%s: request timed out after %.3f ms in the queue",
            s->label, (double)(now - list->t_submit) / 1e6);
    list->done(list);
    list = next;
  }
}

static void *instance_main(void *arg) {
  instance *in = arg;
  batcher *s = in->s;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    infer_request *expired = NULL;
    uint64_t wait_until = 0, now = time_now_ns();
    int n = s->head ? take_batch(s, in, now, &expired, &wait_until) : 0;
    if (expired || n > 0) {
      pthread_mutex_unlock(&s->mu);
      finish_expired(s, expired, now);
      if (n > 0) run_batch(s, in, in->batch, n, now);
      pthread_mutex_lock(&s->mu);
      continue;
    }
    if (s->stopping && !s->head) break;
    s->idle++;
    if (wait_until) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t abs = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (wait_until - now);
      ts.tv_sec = (time_t)(abs / 1000000000u);
      ts.tv_nsec = (long)(abs % 1000000000u);
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    } else {
      pthread_cond_wait(&s->cv, &s->mu);
    }
    s->idle--;
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* --- lifecycle ---------------------------------------------------------------------------- */

static void instance_destroy(instance *in, int n_in) {
  if (in->cat)
    for (int k = 0; k < n_in; k++) free(in->cat[k]);
  free(in->cat);
  free(in->cat_cap);
  free(in->cat_t);
  free(in->names);
  free(in->batch);
  ladle_session_free(in->sess);
}

batcher *batcher_new(const ladle_model *m, const model_sig *sig, const model_config *c,
                 int64_t max_queue, model_stats *stats, const char *label, errbuf *e) {
  batcher *s = calloc(1, sizeof *s);
  pthread_condattr_t ca;
  if (!s) {
    err_set(e, LADLE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  s->m = m;
  s->sig = sig;
  s->stats = stats;
  s->max_batch = sig->max_batch_size;
  s->dynamic = sig->dynamic_batching && sig->max_batch_size > 0;
  s->max_reqs = s->dynamic ? s->max_batch : 1;
  s->delay_ns = c->max_queue_delay_us * 1000;
  s->max_queue = max_queue;
  s->n_preferred = c->n_preferred;
  s->memory_limit_mb = c->memory_limit_mb;
  memcpy(s->preferred, c->preferred, sizeof s->preferred);
  snprintf(s->label, sizeof s->label, "%s", label);
  s->n_inst = c->instance_count < 1 ? 1 : c->instance_count;
  if (!(s->inst = calloc((size_t)s->n_inst, sizeof *s->inst))) goto nomem;
  for (int i = 0; i < s->n_inst; i++) {
    instance *in = &s->inst[i];
    in->s = s;
    in->idx = i;
    in->batch = calloc((size_t)s->max_reqs, sizeof *in->batch);
    in->cat = calloc((size_t)sig->n_in + 1, sizeof *in->cat);
    in->cat_cap = calloc((size_t)sig->n_in + 1, sizeof *in->cat_cap);
    in->cat_t = calloc((size_t)sig->n_in + 1, sizeof *in->cat_t);
    in->names = calloc((size_t)sig->n_in + 1, sizeof *in->names);
    in->sess = ladle_session_new(m, c->intra_op_threads);
    if (in->sess && c->memory_limit_mb > 0) {
      uint64_t limit = (uint64_t)c->memory_limit_mb << 20;
      ladle_session_set_limits(in->sess, limit, limit);
    }
    if (!in->batch || !in->cat || !in->cat_cap || !in->cat_t || !in->names || !in->sess) goto nomem;
    for (int k = 0; k < sig->n_in; k++) in->names[k] = sig->in[k].name;
  }
  for (int i = 0; i < s->n_inst; i++) {
    if (pthread_create(&s->inst[i].tid, NULL, instance_main, &s->inst[i]) != 0) {
      err_set(e, LADLE_ERR_NOMEM, "cannot start instance thread %d of %s", i, label);
      batcher_free(s);
      return NULL;
    }
    s->inst[i].started = true;
  }
  return s;
nomem:
  err_set(e, LADLE_ERR_NOMEM, "out of memory creating the instances of %s", label);
  batcher_free(s);
  return NULL;
}

ladle_status batcher_submit(batcher *s, infer_request *r, errbuf *e) {
  ladle_status st = LADLE_OK;
  r->next = NULL;
  r->st = LADLE_OK;
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    st = err_set(e, LADLE_ERR_UNAVAILABLE, "%s is being unloaded", s->label);
  } else if (s->depth >= s->max_queue) {
    st = err_set(e, LADLE_ERR_UNAVAILABLE, "%s: the queue is full (max_queue_size %lld); retry later",
                 s->label, (long long)s->max_queue);
  } else {
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    s->depth++;
    if (s->idle > 0) pthread_cond_signal(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  return st;
}

infer_request *batcher_submit_list(batcher *s, infer_request *head, errbuf *e) {
  bool added = false;
  pthread_mutex_lock(&s->mu);
  while (head && !s->stopping && s->depth < s->max_queue) {
    infer_request *r = head;
    head = r->next;
    r->next = NULL;
    r->st = LADLE_OK;
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    s->depth++;
    added = true;
  }
  if (added && s->idle > 0) pthread_cond_signal(&s->cv);
  if (head) {
    if (s->stopping) err_set(e, LADLE_ERR_UNAVAILABLE, "%s is being unloaded", s->label);
    else
      err_set(e, LADLE_ERR_UNAVAILABLE, "%s: the queue is full (max_queue_size %lld); retry later", s->label,
              (long long)s->max_queue);
  }
  pthread_mutex_unlock(&s->mu);
  return head;
}

int64_t batcher_depth(batcher *s) {
  pthread_mutex_lock(&s->mu);
  int64_t d = s->depth;
  pthread_mutex_unlock(&s->mu);
  return d;
}

void batcher_stop(batcher *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  bool already = s->stopped;
  s->stopping = true;
  s->stopped = true;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (already) return;
  for (int i = 0; s->inst && i < s->n_inst; i++)
    if (s->inst[i].started) {
      pthread_join(s->inst[i].tid, NULL);
      s->inst[i].started = false;
    }
}

void batcher_free(batcher *s) {
  if (!s) return;
  batcher_stop(s);
  for (int i = 0; s->inst && i < s->n_inst; i++) instance_destroy(&s->inst[i], s->sig->n_in);
  free(s->inst);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

/* batch.c — the batch runner.
 *
 * Three stages overlap: reader threads fill chunks from the source (one, or one per key range
 * when the source can be split exactly: SQLite tables by rowid), `workers` inference threads
 * (one session each, all sharing the model's weights) turn chunks into predictions, and the
 * calling thread writes each finished chunk to the sink in one transaction. Chunks circulate
 * through bounded queues, so memory stays at (readers + workers + 3) chunks whatever the table
 * size.
 *
 * Lock order: each queue has its own mutex and nothing is held while taking another. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "jobs/batch.h"
#include "jobs/pgwork.h"
#include "runtime/tensor.h"

#define MAX_OUTPUTS 64

typedef struct job_chunk {
  chunk rows;
  int64_t n_good;
  ladle_tensor outs[MAX_OUTPUTS]; /* predictions of the good rows, owned */
  size_t out_cap[MAX_OUTPUTS];
  int64_t out_strs[MAX_OUTPUTS];  /* strings outs[i] owns (string outputs: copies of each) */
  bool key_is_int; /* the keys its reader has seen so far are all integers */
  struct job_chunk *next;
} job_chunk;

typedef struct queue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job_chunk *head, *tail;
  bool closed;
} queue;

static void q_init(queue *q) {
  memset(q, 0, sizeof *q);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
}

static void q_destroy(queue *q) {
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
}

static void q_push(queue *q, job_chunk *c) {
  pthread_mutex_lock(&q->mu);
  c->next = NULL;
  if (q->tail) q->tail->next = c;
  else q->head = c;
  q->tail = c;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* Blocks for a chunk; NULL once the queue is closed and empty. */
static job_chunk *q_pop(queue *q) {
  pthread_mutex_lock(&q->mu);
  while (!q->head && !q->closed) pthread_cond_wait(&q->cv, &q->mu);
  job_chunk *c = q->head;
  if (c) {
    q->head = c->next;
    if (!q->head) q->tail = NULL;
  }
  pthread_mutex_unlock(&q->mu);
  return c;
}

static void q_close(queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* --- a set of keys (for --only-missing) ----------------------------------------------------- */

typedef struct keyset {
  char **slots;
  size_t cap, n;
} keyset;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void keyset_add(void *ud, const char *key) {
  keyset *ks = ud;
  if (ks->n * 2 >= ks->cap) {
    size_t nc = ks->cap ? ks->cap * 2 : 1024;
    char **ns = calloc(nc, sizeof *ns);
    if (!ns) return;
    for (size_t i = 0; i < ks->cap; i++) {
      if (!ks->slots[i]) continue;
      size_t j = hash_str(ks->slots[i]) & (nc - 1);
      while (ns[j]) j = (j + 1) & (nc - 1);
      ns[j] = ks->slots[i];
    }
    free(ks->slots);
    ks->slots = ns;
    ks->cap = nc;
  }
  size_t j = hash_str(key) & (ks->cap - 1);
  while (ks->slots[j]) {
    if (!strcmp(ks->slots[j], key)) return;
    j = (j + 1) & (ks->cap - 1);
  }
  ks->slots[j] = strdup(key);
  if (ks->slots[j]) ks->n++;
}

static bool keyset_has(const keyset *ks, const char *key) {
  if (!ks->cap) return false;
  size_t j = hash_str(key) & (ks->cap - 1);
  while (ks->slots[j]) {
    if (!strcmp(ks->slots[j], key)) return true;
    j = (j + 1) & (ks->cap - 1);
  }
  return false;
}

static void keyset_free(keyset *ks) {
  for (size_t i = 0; i < ks->cap; i++) free(ks->slots[i]);
  free(ks->slots);
}

/* --- the job -------------------------------------------------------------------------------- */

typedef struct input_plan {
  const char *name;
  int dtype;
  int n_cols;
  int *feature_idx; /* indices into the chunk's feature columns */
  bool identity;    /* feature_idx is 0, 1, ... over all of the chunk's columns */
} input_plan;

typedef struct job {
  const batch_opts *o;
  ladle_model *model;
  source *src;
  keyset existing;
  queue free_q, infer_q, write_q;
  int n_inputs;
  input_plan inputs[BATCH_MAX_INPUTS];
  int n_out;
  pthread_mutex_t mu; /* guards failed/err and skipped */
  bool failed;
  errbuf err;
  int64_t rows_read, skipped;
  int readers_left, workers_left;
} job;

/* One reader thread and the source (or key range of it) it scans. */
typedef struct reader {
  job *j;
  source *src;
  pthread_t thread;
} reader;

static void job_fail(job *j, ladle_status st, const char *msg) {
  pthread_mutex_lock(&j->mu);
  if (!j->failed) {
    j->failed = true;
    err_set(&j->err, st, "%s", msg);
  }
  pthread_mutex_unlock(&j->mu);
}

static bool job_failed(job *j) {
  pthread_mutex_lock(&j->mu);
  bool f = j->failed;
  pthread_mutex_unlock(&j->mu);
  return f;
}

/* --only-missing: drops the rows whose key this model version already predicted; returns how
 * many. */
static int64_t drop_existing(job *j, chunk *c) {
  if (!j->existing.n || !c->n_rows) return 0;
  bool *keep = malloc(sizeof(bool) * (size_t)c->n_rows);
  int64_t dropped = 0;
  if (!keep) return 0; /* out of memory: predicting them again is harmless (upsert) */
  for (int64_t r = 0; r < c->n_rows; r++) {
    keep[r] = !keyset_has(&j->existing, c->keys[r]);
    dropped += !keep[r];
  }
  if (dropped) chunk_filter(c, keep);
  free(keep);
  return dropped;
}

static void *reader_main(void *arg) {
  reader *rd = arg;
  job *j = rd->j;
  for (;;) {
    if (job_failed(j) || (j->o->stop && *j->o->stop)) break;
    job_chunk *c = q_pop(&j->free_q);
    if (!c) break;
    errbuf e = {{0}};
    int64_t n = rd->src->vt->next(rd->src, &c->rows, j->o->chunk_size, &e);
    if (n <= 0) {
      if (n < 0) job_fail(j, LADLE_ERR_IO, e.msg);
      q_push(&j->free_q, c);
      break;
    }
    c->key_is_int = rd->src->key_is_int;
    int64_t skipped = j->o->only_missing ? drop_existing(j, &c->rows) : 0;
    pthread_mutex_lock(&j->mu);
    c->rows.first_row = j->rows_read; /* rows are numbered in the order chunks were read */
    j->rows_read += n;
    j->skipped += skipped;
    pthread_mutex_unlock(&j->mu);
    q_push(&j->infer_q, c);
  }
  pthread_mutex_lock(&j->mu);
  bool last = --j->readers_left == 0;
  pthread_mutex_unlock(&j->mu);
  if (last) q_close(&j->infer_q);
  return NULL;
}

/* Frees the strings output i of the chunk owns (a string output's copies). */
static void out_strings_free(job_chunk *c, int i) {
  for (int64_t k = 0; k < c->out_strs[i]; k++) free(((char **)c->outs[i].data)[k]);
  c->out_strs[i] = 0;
}

/* Frees the chunk's output buffers and the strings they own. */
static void outs_free(job_chunk *c) {
  for (int i = 0; i < MAX_OUTPUTS; i++) {
    out_strings_free(c, i);
    free(c->outs[i].data);
    c->outs[i].data = NULL;
    c->out_cap[i] = 0;
  }
}

/* Runs the model on the good rows of c and keeps copies of the outputs in c (strings copied
 * one by one: the session's own are overwritten by its next run). */
static ladle_status infer_chunk(job *j, ladle_session *s, job_chunk *c, ladle_tensor *in,
                                void **in_buf, size_t *in_cap, errbuf *e) {
  const chunk *rows = &c->rows;
  int64_t n_good = 0;
  for (int64_t r = 0; r < rows->n_rows; r++)
    if (!rows->row_error[r]) n_good++;
  c->n_good = n_good;
  if (n_good == 0) return LADLE_OK;
  const char *names[BATCH_MAX_INPUTS];
  for (int i = 0; i < j->n_inputs; i++) {
    const input_plan *p = &j->inputs[i];
    size_t esz = ladle_dtype_size(p->dtype);
    size_t need = (size_t)n_good * (size_t)p->n_cols * esz;
    if (need > in_cap[i]) {
      void *nb = realloc(in_buf[i], need);
      if (!nb) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
      in_buf[i] = nb;
      in_cap[i] = need;
    }
    in[i] = (ladle_tensor){p->dtype, 2, {n_good, p->n_cols}, in_buf[i]};
    names[i] = p->name;
    if (p->dtype == LADLE_FLOAT && p->identity && n_good == rows->n_rows) {
      /* every column, in order, every row good: one straight conversion */
      float *d = in_buf[i];
      const double *x = rows->x;
      for (int64_t k = 0, n = n_good * p->n_cols; k < n; k++) d[k] = (float)x[k];
      continue;
    }
    int64_t g = 0;
    for (int64_t r = 0; r < rows->n_rows; r++) {
      if (rows->row_error[r]) continue;
      const double *x = &rows->x[r * rows->n_cols];
      if (p->dtype == LADLE_FLOAT) {
        float *d = (float *)in_buf[i] + g * p->n_cols;
        for (int k = 0; k < p->n_cols; k++) d[k] = (float)x[p->feature_idx[k]];
      } else {
        for (int k = 0; k < p->n_cols; k++)
          tensor_set_f64(&in[i], g * p->n_cols + k, x[p->feature_idx[k]]);
      }
      g++;
    }
  }
  if (ladle_session_run(s, j->n_inputs, names, in) != LADLE_OK)
    return err_set(e, LADLE_ERR_INVALID, "model run failed on rows %lld..%lld: %s",
                   (long long)rows->first_row, (long long)(rows->first_row + rows->n_rows - 1),
                   ladle_session_errmsg(s));
  for (int i = 0; i < j->n_out; i++) {
    const ladle_tensor *t = ladle_session_output(s, i);
    if (t->ndim < 1 || t->dims[0] != n_good)
      return err_set(e, LADLE_ERR_SHAPE, "output '%s' does not have one row per input row",
                     ladle_model_output_name(j->model, i));
    out_strings_free(c, i);
    size_t nb = tensor_nbytes(t);
    if (nb > c->out_cap[i]) {
      void *d = realloc(c->outs[i].data, nb);
      if (!d) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
      c->outs[i].data = d;
      c->out_cap[i] = nb;
    }
    void *keep = c->outs[i].data;
    c->outs[i] = *t;
    c->outs[i].data = keep;
    if (t->dtype != LADLE_STRING) {
      memcpy(keep, t->data, nb);
      continue;
    }
    int64_t n = ladle_tensor_numel(t);
    char **dst = keep, *const *src = t->data;
    bool ok = true;
    for (int64_t k = 0; k < n; k++) ok &= (dst[k] = strdup(src[k] ? src[k] : "")) != NULL;
    c->out_strs[i] = n;
    if (!ok) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  }
  return LADLE_OK;
}

static void *worker_main(void *arg) {
  job *j = arg;
  ladle_session *s = ladle_session_new(j->model, j->o->threads);
  ladle_tensor in[BATCH_MAX_INPUTS];
  void *in_buf[BATCH_MAX_INPUTS] = {0};
  size_t in_cap[BATCH_MAX_INPUTS] = {0};
  if (!s) job_fail(j, LADLE_ERR_NOMEM, "cannot create a session");
  for (;;) {
    job_chunk *c = q_pop(&j->infer_q);
    if (!c) break;
    if (job_failed(j)) {
      q_push(&j->free_q, c);
      continue;
    }
    errbuf e = {{0}};
    ladle_status st = infer_chunk(j, s, c, in, in_buf, in_cap, &e);
    if (st) {
      job_fail(j, st, e.msg);
      q_push(&j->free_q, c);
      continue;
    }
    q_push(&j->write_q, c);
  }
  for (int i = 0; i < BATCH_MAX_INPUTS; i++) free(in_buf[i]);
  ladle_session_free(s);
  pthread_mutex_lock(&j->mu);
  bool last = --j->workers_left == 0;
  pthread_mutex_unlock(&j->mu);
  if (last) q_close(&j->write_q);
  return NULL;
}

/* Maps model inputs to feature columns: --input NAME=cols..., or the single input takes every
 * feature column in order. */
static ladle_status plan_inputs(job *j, errbuf *e) {
  const batch_opts *o = j->o;
  ladle_model *m = j->model;
  int n_model = ladle_model_n_inputs(m);
  if (o->n_inputs == 0) {
    if (n_model != 1)
      return err_set(e, LADLE_ERR_INVALID,
                     "the model has %d inputs: map columns to each with --input NAME=col,col,...",
                     n_model);
    j->n_inputs = 1;
    input_plan *p = &j->inputs[0];
    p->name = ladle_model_input_name(m, 0);
    p->n_cols = j->src->n_features;
    p->feature_idx = calloc((size_t)p->n_cols, sizeof(int));
    if (!p->feature_idx) return LADLE_ERR_NOMEM;
    for (int k = 0; k < p->n_cols; k++) p->feature_idx[k] = k;
  } else {
    j->n_inputs = o->n_inputs;
    for (int i = 0; i < o->n_inputs; i++) {
      input_plan *p = &j->inputs[i];
      p->name = o->inputs[i].name;
      p->n_cols = o->inputs[i].n_cols;
      p->feature_idx = calloc((size_t)p->n_cols + 1, sizeof(int));
      if (!p->feature_idx) return LADLE_ERR_NOMEM;
      for (int k = 0; k < p->n_cols; k++) {
        int f;
        for (f = 0; f < j->src->n_features; f++)
          if (!strcmp(j->src->col_names[j->src->feature_cols[f]], o->inputs[i].cols[k])) break;
        if (f == j->src->n_features)
          return err_set(e, LADLE_ERR_NOT_FOUND, "--input %s: no feature column '%s' in the source",
                         p->name, o->inputs[i].cols[k]);
        p->feature_idx[k] = f;
      }
    }
  }
  for (int i = 0; i < j->n_inputs; i++) {
    input_plan *p = &j->inputs[i];
    int k, ndim;
    p->identity = p->n_cols == j->src->n_features;
    for (int c = 0; c < p->n_cols && p->identity; c++) p->identity = p->feature_idx[c] == c;
    int64_t dims[LADLE_MAX_DIMS];
    for (k = 0; k < n_model && strcmp(ladle_model_input_name(m, k), p->name); k++) {}
    if (k == n_model) return err_set(e, LADLE_ERR_NOT_FOUND, "the model has no input '%s'", p->name);
    ladle_model_input_info(m, k, &p->dtype, &ndim, dims);
    if (!p->dtype) p->dtype = LADLE_FLOAT;
    if (p->dtype == LADLE_STRING)
      return err_set(e, LADLE_ERR_UNSUPPORTED, "input '%s' takes strings; batch jobs feed numbers", p->name);
    if (ndim >= 0 && ndim != 2)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s' has rank %d; batch jobs feed [rows, columns]",
                     p->name, ndim);
    if (ndim == 2 && dims[1] >= 0 && dims[1] != p->n_cols)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s' takes %lld columns, the source gives %d",
                     p->name, (long long)dims[1], p->n_cols);
  }
  return LADLE_OK;
}

static void progress_line(const job *j, int64_t done, int64_t total, double secs) {
  double rate = secs > 0 ? (double)done / secs : 0;
  if (total > 0) {
    int width = 30, filled = (int)(width * (double)done / (double)total);
    if (filled > width) filled = width;
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r[%s] %lld/%lld rows  %.0f rows/s  ETA %.0fs   ", bar, (long long)done,
            (long long)total, rate, eta > 0 ? eta : 0);
  } else {
    fprintf(stderr, "\r%lld rows  %.0f rows/s   ", (long long)done, rate);
  }
  (void)j;
}


/* --job on a PostgreSQL source: claim chunks from the work table until none is left. Each chunk
 * is read, predicted and written while its work row is locked, and marked done before the lock
 * is released. */
static ladle_status run_claimed(job *j, sink *k, batch_result *res, errbuf *e) {
  const batch_opts *o = j->o;
  ladle_status st = LADLE_OK;
  pg_work *w = NULL;
  char key_type[128], worker[128];
  job_chunk c;
  memset(&c, 0, sizeof c);
  ladle_tensor in[BATCH_MAX_INPUTS];
  void *in_buf[BATCH_MAX_INPUTS] = {0};
  size_t in_cap[BATCH_MAX_INPUTS] = {0};
  ladle_session *s = ladle_session_new(j->model, o->threads);
  bool prepared = false;
  snprintf(worker, sizeof worker, "pid %d", (int)getpid());
  if (!s) return err_set(e, LADLE_ERR_NOMEM, "cannot create a session");
  if (!o->src.key) {
    st = err_set(e, LADLE_ERR_INVALID, "--job needs --key: chunks are ranges of keys");
    goto out;
  }
  if ((st = pg_work_open(o->src.uri, o->job, o->src.query, o->src.key, o->chunk_size, &w,
                         key_type, sizeof key_type, e)))
    goto out;
  chunk_init(&c.rows, j->src->n_features);
  for (;;) {
    if (o->stop && *o->stop) break;
    int id = -1;
    char *lo = NULL, *hi = NULL;
    int got = pg_work_claim(w, &id, &lo, &hi, e);
    if (got < 0) {
      st = LADLE_ERR_IO;
      break;
    }
    if (got == 0) break;
    source *src = NULL;
    source_opts so = o->src;
    so.key_lo = lo;
    so.key_hi = hi;
    so.key_type = key_type;
    st = source_open(&so, &src, e);
    int64_t n = 0;
    while (!st) {
      c.rows.first_row = j->rows_read;
      n = src->vt->next(src, &c.rows, INT64_MAX / 4, e);
      if (n < 0) st = LADLE_ERR_IO;
      break;
    }
    if (!st && n > 0) {
      j->rows_read += n;
      if (o->only_missing) j->skipped += drop_existing(j, &c.rows);
      st = infer_chunk(j, s, &c, in, in_buf, in_cap, e);
      if (!st && !prepared) {
        for (int i = 0; i < j->n_out && c.n_good > 0; i++) {
          int64_t wd = 1;
          for (int d = 1; d < c.outs[i].ndim; d++) wd *= c.outs[i].dims[d];
          k->out[i].width = wd;
          k->out[i].dtype = c.outs[i].dtype;
        }
        k->key_is_int = src->key_is_int;
        st = k->vt->prepare(k, e);
        prepared = !st;
      }
      if (!st) st = k->vt->write(k, &c.rows, c.outs, e);
      if (!st) {
        res->predicted += c.n_good;
        res->errors += c.rows.n_rows - c.n_good;
      }
    }
    source_close(src);
    free(lo);
    free(hi);
    if (!st) st = pg_work_done(w, id, worker, e);
    else pg_work_abort(w);
    if (st) break;
    if (o->max_errors >= 0 && res->errors > o->max_errors) {
      st = err_set(e, LADLE_ERR_LIMIT, "%lld bad rows exceed --max-errors %lld",
                   (long long)res->errors, (long long)o->max_errors);
      break;
    }
  }
  if (!st && !prepared) {
    k->key_is_int = j->src->key_is_int;
    st = k->vt->prepare(k, e);
  }
  if (!st && k->vt->finish) st = k->vt->finish(k, e);
out:
  pg_work_close(w);
  chunk_destroy(&c.rows);
  outs_free(&c);
  for (int i = 0; i < BATCH_MAX_INPUTS; i++) free(in_buf[i]);
  ladle_session_free(s);
  return st;
}

int batch_default_readers(int n_features) {
  /* Reading a row costs about one SQLite column decode per feature; writing one costs about the
   * same whatever the width. Measured on two cores (bench/batch, 300k rows): with 30 features
   * reading and writing cost the same, and a second reader only adds contention (0.38 s with
   * one, 0.42 s with two); with 120 features reading dominates and two readers win (100k rows:
   * 0.35 s with one, 0.27 s with two). From four cores on, two readers cost nothing to try. */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus >= 4) return 2;
  return cpus >= 2 && n_features >= 64 ? 2 : 1;
}

ladle_status batch_run(const batch_opts *o, batch_result *res, errbuf *e) {
  ladle_status st = LADLE_OK;
  job j;
  sink *k = NULL;
  job_chunk *chunks = NULL;
  pthread_t workers[64];
  int n_workers = o->workers < 1 ? 1 : (o->workers > 64 ? 64 : o->workers), started = 0;
  reader readers[BATCH_MAX_READERS];
  char *bounds[BATCH_MAX_READERS + 1] = {0};
  int n_readers = 0, readers_started = 0, n_chunks = 0;
  char started_at[40], err[1024];
  memset(&j, 0, sizeof j);
  memset(res, 0, sizeof *res);
  res->status = "failed";
  j.o = o;
  pthread_mutex_init(&j.mu, NULL);
  q_init(&j.free_q);
  q_init(&j.infer_q);
  q_init(&j.write_q);
  jobs_now_iso(started_at, sizeof started_at);
  uint64_t t0 = time_now_ns();

  if (ladle_model_load(o->model_path, NULL, &j.model, err, sizeof err) != LADLE_OK) {
    st = err_set(e, LADLE_ERR_INVALID, "%s", err);
    goto out;
  }
  if ((st = source_open(&o->src, &j.src, e))) goto out;
  if ((st = plan_inputs(&j, e))) goto out;
  j.n_out = ladle_model_n_outputs(j.model);
  if (j.n_out > MAX_OUTPUTS) {
    st = err_set(e, LADLE_ERR_UNSUPPORTED, "the model has %d outputs (at most %d)", j.n_out, MAX_OUTPUTS);
    goto out;
  }
  sink_column cols[MAX_OUTPUTS];
  for (int i = 0; i < j.n_out; i++) {
    int ndim;
    int64_t dims[LADLE_MAX_DIMS];
    ladle_model_output_info(j.model, i, &cols[i].dtype, &ndim, dims);
    cols[i].name = (char *)ladle_model_output_name(j.model, i);
    cols[i].width = 1;
    for (int d = 1; d < ndim; d++) cols[i].width *= dims[d] > 0 ? dims[d] : 1;
  }
  sink_opts so = {o->sink_uri, o->table, o->model_name, o->model_version,
                  j.src->key_col >= 0 ? j.src->col_names[j.src->key_col] : "row",
                  true, j.n_out, cols};
  if ((st = sink_open(&so, &k, e))) goto out;
  if (o->only_missing && (st = k->vt->existing(k, keyset_add, &j.existing, e))) goto out;
  if (o->job) {
    if (strncmp(o->src.uri, "postgres", 8) != 0) {
      st = err_set(e, LADLE_ERR_INVALID, "--job splits PostgreSQL sources only");
      goto out;
    }
    st = run_claimed(&j, k, res, e);
    res->status = st ? "failed" : (o->stop && *o->stop) ? "interrupted" : "ok";
    if (!st && o->stop && *o->stop) st = err_set(e, LADLE_ERR_UNAVAILABLE, "interrupted");
    goto out;
  }

  /* Readers: one, or one per key range where the source splits exactly (SQLite by rowid). */
  int want = o->readers > 0 ? o->readers : batch_default_readers(j.src->n_features);
  if (want > BATCH_MAX_READERS) want = BATCH_MAX_READERS;
  readers[0] = (reader){&j, j.src, 0};
  n_readers = 1;
  if (want > 1 && j.src->vt->split) {
    int parts = j.src->vt->split(j.src, want, bounds, e);
    if (parts < 0) {
      st = LADLE_ERR_IO;
      goto out;
    }
    for (int i = 0; parts > 1 && i < parts; i++) {
      source_opts part = o->src;
      part.key_lo = bounds[i];
      part.key_hi = bounds[i + 1];
      readers[i] = (reader){&j, NULL, 0};
      n_readers = i + 1;
      if ((st = source_open(&part, &readers[i].src, e))) goto out;
    }
  }
  res->readers = n_readers;
  n_chunks = n_workers + n_readers + 3;
  chunks = calloc((size_t)n_chunks, sizeof *chunks);
  if (!chunks) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < n_chunks; i++) {
    chunk_init(&chunks[i].rows, j.src->n_features);
    q_push(&j.free_q, &chunks[i]);
  }
  int64_t total = o->progress ? j.src->vt->count(j.src) : -1;
  j.workers_left = n_workers;
  j.readers_left = n_readers;
  for (; readers_started < n_readers; readers_started++)
    if (pthread_create(&readers[readers_started].thread, NULL, reader_main,
                       &readers[readers_started]) != 0)
      break;
  if (readers_started < n_readers) {
    st = err_set(e, LADLE_ERR_INTERNAL, "cannot start the reader threads");
    goto out;
  }
  for (; started < n_workers; started++)
    if (pthread_create(&workers[started], NULL, worker_main, &j) != 0) break;
  if (started < n_workers) { /* the ones that did start carry on; account for the rest */
    pthread_mutex_lock(&j.mu);
    j.workers_left -= n_workers - started;
    pthread_mutex_unlock(&j.mu);
    if (started == 0) q_close(&j.write_q);
  }

  bool prepared = false;
  uint64_t last_draw = 0;
  for (;;) {
    job_chunk *c = q_pop(&j.write_q);
    if (!c) break;
    if (!job_failed(&j)) {
      errbuf we = {{0}};
      if (!prepared) {
        for (int i = 0; i < j.n_out && c->n_good > 0; i++) { /* the real widths */
          int64_t w = 1;
          for (int d = 1; d < c->outs[i].ndim; d++) w *= c->outs[i].dims[d];
          k->out[i].width = w;
          k->out[i].dtype = c->outs[i].dtype;
        }
        k->key_is_int = c->key_is_int;
        if ((st = k->vt->prepare(k, &we))) job_fail(&j, st, we.msg);
        prepared = true;
      }
      if (!job_failed(&j) && (st = k->vt->write(k, &c->rows, c->outs, &we)) != LADLE_OK)
        job_fail(&j, st, we.msg);
      if (!job_failed(&j)) {
        res->predicted += c->n_good;
        res->errors += c->rows.n_rows - c->n_good;
        if (o->max_errors >= 0 && res->errors > o->max_errors) {
          char msg[200];
          snprintf(msg, sizeof msg, "%lld bad rows exceed --max-errors %lld",
                   (long long)res->errors, (long long)o->max_errors);
          job_fail(&j, LADLE_ERR_LIMIT, msg);
        }
      }
    }
    q_push(&j.free_q, c);
    uint64_t now = time_now_ns();
    if (o->progress && now - last_draw > 200000000ull) {
      progress_line(&j, res->predicted + res->errors, total, (double)(now - t0) / 1e9);
      last_draw = now;
    }
  }
  if (job_failed(&j)) q_close(&j.free_q); /* wake the readers if they wait for a chunk */
  for (int i = 0; i < readers_started; i++) pthread_join(readers[i].thread, NULL);
  readers_started = 0;
  for (int i = 0; i < started; i++) pthread_join(workers[i], NULL);
  if (o->progress) {
    progress_line(&j, res->predicted + res->errors, total, (double)(time_now_ns() - t0) / 1e9);
    fputc('\n', stderr);
  }
  if (!prepared && !job_failed(&j)) { /* empty source: still create the table */
    errbuf we = {{0}};
    k->key_is_int = j.src->key_is_int;
    if ((st = k->vt->prepare(k, &we))) job_fail(&j, st, we.msg);
  }
  if (!job_failed(&j) && k->vt->finish) { /* what the sink held back, and its failures */
    errbuf we = {{0}};
    if ((st = k->vt->finish(k, &we))) job_fail(&j, st, we.msg);
  }
  if (job_failed(&j)) st = err_set(e, j.err.msg[0] ? LADLE_ERR_INVALID : LADLE_ERR_INTERNAL, "%s", j.err.msg);
  else st = LADLE_OK;
  res->status = st ? "failed" : (o->stop && *o->stop) ? "interrupted" : "ok";
  if (!st && o->stop && *o->stop) st = err_set(e, LADLE_ERR_UNAVAILABLE, "interrupted");
out:
  if (readers_started) { /* failed while starting threads */
    job_fail(&j, st ? st : LADLE_ERR_INTERNAL, e->msg);
    q_close(&j.free_q);
    q_close(&j.infer_q);
    for (int i = 0; i < readers_started; i++) pthread_join(readers[i].thread, NULL);
  }
  res->rows_read = j.rows_read;
  res->skipped = j.skipped;
  res->seconds = (double)(time_now_ns() - t0) / 1e9;
  if (st) snprintf(res->message, sizeof res->message, "%s", e->msg);
  if (k) {
    char ended[40];
    errbuf re = {{0}};
    jobs_now_iso(ended, sizeof ended);
    run_record rr = {started_at, ended, res->status, o->model_name, o->model_version, o->src.uri,
                     o->table, res->message, res->predicted, res->errors, res->seconds};
    if (k->vt->record_run(k, &rr, &re)) log_msg(LOG_WARN, "batch", "run record: %s", re.msg);
  }
  for (int i = 0; i < n_readers; i++)
    if (readers[i].src != j.src) source_close(readers[i].src);
  for (int i = 0; i <= BATCH_MAX_READERS; i++) free(bounds[i]);
  if (chunks) {
    for (int i = 0; i < n_chunks; i++) {
      chunk_destroy(&chunks[i].rows);
      outs_free(&chunks[i]);
    }
    free(chunks);
  }
  for (int i = 0; i < j.n_inputs; i++) free(j.inputs[i].feature_idx);
  sink_close(k);
  source_close(j.src);
  keyset_free(&j.existing);
  ladle_model_free(j.model);
  q_destroy(&j.free_q);
  q_destroy(&j.infer_q);
  q_destroy(&j.write_q);
  pthread_mutex_destroy(&j.mu);
  return st;
}

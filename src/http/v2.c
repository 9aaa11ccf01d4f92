/* v2.c — the Open Inference Protocol's model endpoints: metadata, readiness, inference, and
 * Triton's model configuration and statistics extensions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "http/codec.h"
#include "http/internal.h"
#include "serving/datatype.h"
#include "serving/json.h"

#define PLATFORM "ladle_onnx"

typedef struct infer_ctx {
  model_version *mv;
  v2_request rq;
  infer_request ir;
} infer_ctx;

void conn_count_result(conn *c, model_version *v, int code, fail_reason why) {
  uint64_t ns = time_now_ns() - c->t_start;
  stats_request_done(&v->stats, ns, code == 200, why);
}

static void put_tensor_meta(dbuf *b, const tensor_sig *t, int n) {
  dbuf_putc(b, '[');
  for (int i = 0; i < n; i++) {
    const char *dn = v2_dtype_name(t[i].dtype);
    dbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    json_put_str(b, t[i].name, strlen(t[i].name));
    dbuf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", dn ? dn : "BYTES");
    if (t[i].ndim < 0) {
      dbuf_puts(b, "-1");
    } else {
      for (int d = 0; d < t[i].ndim; d++) {
        if (d) dbuf_putc(b, ',');
        json_put_i64(b, t[i].dims[d]);
      }
    }
    dbuf_puts(b, "]}");
  }
  dbuf_putc(b, ']');
}

/* Looks a version up or answers the error; NULL when answered. */
static model_version *acquire_or_reply(conn *c, const char *model, const char *version) {
  model_version *v = NULL;
  errbuf e;
  ladle_status st = repo_acquire(c->io->srv->repo, model, version, &v, &e);
  if (st) {
    http_reply_status(c, st, e.msg);
    return NULL;
  }
  return v;
}

void handle_v2_metadata(conn *c, const char *model, const char *version) {
  model_version *v = acquire_or_reply(c, model, version);
  int64_t vers[CFG_MAX_VERSIONS];
  if (!v) return;
  int n = repo_versions(c->io->srv->repo, model, vers, CFG_MAX_VERSIONS);
  dbuf *b = &c->out;
  dbuf_puts(b, "{\"name\":");
  json_put_str(b, v->name, strlen(v->name));
  dbuf_puts(b, ",\"versions\":[");
  for (int i = 0; i < n; i++) dbuf_printf(b, "%s\"%lld\"", i ? "," : "", (long long)vers[i]);
  dbuf_puts(b, "],\"platform\":\"" PLATFORM "\",\"inputs\":");
  put_tensor_meta(b, v->sig.in, v->sig.n_in);
  dbuf_puts(b, ",\"outputs\":");
  put_tensor_meta(b, v->sig.out, v->sig.n_out);
  dbuf_putc(b, '}');
  repo_release(v);
  http_reply_json(c, 200);
}

void handle_v2_model_ready(conn *c, const char *model, const char *version) {
  model_version *v = acquire_or_reply(c, model, version);
  if (!v) return;
  dbuf_puts(&c->out, "{\"name\":");
  json_put_str(&c->out, v->name, strlen(v->name));
  dbuf_puts(&c->out, ",\"ready\":true}");
  repo_release(v);
  http_reply_json(c, 200);
}

void handle_v2_config(conn *c, const char *model, const char *version) {
  model_version *v = acquire_or_reply(c, model, version);
  if (!v) return;
  model_config_to_json(&v->cfg, &v->sig, PLATFORM, &c->out);
  repo_release(v);
  http_reply_json(c, 200);
}

/* --- inference ---------------------------------------------------------------------------- */

static void infer_done(infer_request *r) { io_post((conn *)r->ud); }

static void infer_resume(conn *c) {
  infer_ctx *x = c->ctx;
  model_version *v = x->mv;
  __atomic_sub_fetch(&v->stats.inflight, 1, __ATOMIC_RELAXED);
  if (c->dead) {
    repo_release(v);
    return;
  }
  if (x->ir.st) {
    int code = http_code_of(x->ir.st);
    conn_count_result(c, v, code, x->ir.why);
    http_reply_status(c, x->ir.st, x->ir.err.msg);
  } else {
    size_t json_len = v2_encode(&x->rq, &v->sig, x->ir.out, v->name, v->vstr, &c->out);
    conn_count_result(c, v, 200, FAIL_INVALID);
    if (x->rq.any_binary) {
      char extra[64];
      snprintf(extra, sizeof extra, "Inference-Header-Content-Length: %zu\r\n", json_len);
      http_finish(c, 200, "application/octet-stream", extra);
    } else {
      http_reply_json(c, 200);
    }
  }
  repo_release(v);
}

/* Queues a decoded request; answers at once when the queue refuses it. */
void infer_submit(conn *c, model_version *v, const ladle_tensor *in, const bool *want, int64_t rows,
                  int64_t timeout_us, conn_resume_fn resume, infer_request *ir) {
  memset(ir, 0, sizeof *ir);
  ir->sig = &v->sig;
  ir->in = (ladle_tensor *)in;
  ir->want = (bool *)want;
  ir->rows = rows;
  ir->t_submit = time_now_ns();
  int64_t t = timeout_us >= 0 && v->cfg.allow_timeout_override ? timeout_us : v->cfg.default_timeout_us;
  ir->deadline = t > 0 ? ir->t_submit + (uint64_t)t * 1000u : 0;
  ir->mem = &c->mem;
  ir->done = infer_done;
  ir->ud = c;
  ir->out = arena_calloc(&c->mem, sizeof *ir->out * (size_t)(v->sig.n_out + 1));
  if (!ir->out) {
    conn_count_result(c, v, 413, FAIL_INVALID);
    http_reply_error(c, 413, "out of request memory");
    repo_release(v);
    return;
  }
  __atomic_add_fetch(&v->stats.inflight, 1, __ATOMIC_RELAXED);
  conn_wait(c, resume, c->ctx);
  io_defer_submit(c->io, v->batcher, ir); /* queued at the end of this loop turn */
}

void handle_v2_infer(conn *c, const char *model, const char *version) {
  http_server *s = c->io->srv;
  errbuf e;
  model_version *v = acquire_or_reply(c, model, version);
  if (!v) return;
  infer_ctx *x = arena_calloc(&c->mem, sizeof *x);
  if (!x) {
    http_reply_error(c, 413, "out of request memory");
    repo_release(v);
    return;
  }
  x->mv = v;
  v2_limits lim = {s->o.max_json_depth, s->o.max_tensor_elements};
  ladle_status st = v2_decode(c->body, c->body_len, c->head.infer_header_len, &v->sig, &lim, &c->mem, &x->rq, &e);
  if (st) {
    conn_count_result(c, v, http_code_of(st), FAIL_INVALID);
    http_reply_status(c, st, e.msg);
    repo_release(v);
    return;
  }
  c->ctx = x;
  infer_submit(c, v, x->rq.in, x->rq.want, x->rq.rows, x->rq.timeout_us, infer_resume, &x->ir);
}

/* --- statistics --------------------------------------------------------------------------- */

static void put_duration(dbuf *b, const char *name, uint64_t count, uint64_t ns) {
  dbuf_printf(b, "\"%s\":{\"count\":%llu,\"ns\":%llu}", name, (unsigned long long)count, (unsigned long long)ns);
}

static void put_model_stat(dbuf *b, model_version *v) {
  model_stats *s = &v->stats;
  uint64_t fails = 0;
  for (int i = 0; i < FAIL_N; i++) fails += stats_get(&s->fail_count[i]);
  uint64_t cc = stats_get(&s->compute_count);
  dbuf_puts(b, "{\"name\":");
  json_put_str(b, v->name, strlen(v->name));
  dbuf_printf(b, ",\"version\":\"%s\",\"last_inference\":%llu,\"inference_count\":%llu,\"execution_count\":%llu,\"inference_stats\":{",
              v->vstr, (unsigned long long)stats_get(&s->last_inference_ms),
              (unsigned long long)stats_get(&s->inference_count), (unsigned long long)stats_get(&s->execution_count));
  put_duration(b, "success", stats_get(&s->success_count), stats_get(&s->success_ns));
  dbuf_putc(b, ',');
  put_duration(b, "fail", fails, stats_get(&s->fail_ns));
  dbuf_putc(b, ',');
  put_duration(b, "queue", stats_get(&s->queue_count), stats_get(&s->queue_ns));
  dbuf_putc(b, ',');
  put_duration(b, "compute_input", cc, stats_get(&s->compute_input_ns));
  dbuf_putc(b, ',');
  put_duration(b, "compute_infer", cc, stats_get(&s->compute_infer_ns));
  dbuf_putc(b, ',');
  put_duration(b, "compute_output", cc, stats_get(&s->compute_output_ns));
  dbuf_putc(b, ',');
  put_duration(b, "cache_hit", 0, 0);
  dbuf_putc(b, ',');
  put_duration(b, "cache_miss", 0, 0);
  dbuf_puts(b, "},\"response_stats\":{},\"batch_stats\":[");
  bool first = true;
  for (int k = 0; k <= s->max_batch; k++) {
    const batch_stat *bs = &s->by_size[k];
    uint64_t n = stats_get(&bs->count);
    if (!n) continue;
    if (!first) dbuf_putc(b, ',');
    first = false;
    dbuf_printf(b, "{\"batch_size\":%d,", k);
    put_duration(b, "compute_input", n, stats_get(&bs->input_ns));
    dbuf_putc(b, ',');
    put_duration(b, "compute_infer", n, stats_get(&bs->infer_ns));
    dbuf_putc(b, ',');
    put_duration(b, "compute_output", n, stats_get(&bs->output_ns));
    dbuf_putc(b, '}');
  }
  dbuf_puts(b, "],\"memory_usage\":[]}");
}

void handle_v2_stats(conn *c, const char *model, const char *version) {
  repo *r = c->io->srv->repo;
  model_version **vs = NULL;
  if (model) { /* an unknown model or version is an error, as for metadata */
    model_version *v = acquire_or_reply(c, model, version);
    if (!v) return;
    repo_release(v);
  }
  int n = repo_snapshot(r, &vs);
  dbuf *b = &c->out;
  dbuf_puts(b, "{\"model_stats\":[");
  bool first = true;
  for (int i = 0; i < n; i++) {
    model_version *v = vs[i];
    bool match = !model || (!strcmp(v->name, model) && (!version || !version[0] || !strcmp(v->vstr, version)));
    if (match) {
      if (!first) dbuf_putc(b, ',');
      first = false;
      put_model_stat(b, v);
    }
    repo_release(v);
  }
  free(vs);
  dbuf_puts(b, "]}");
  http_reply_json(c, 200);
}

/* Lists the models (KServe's GET /v2/models). */
void handle_v2_models(conn *c) {
  repo_row *rows = NULL;
  int n = repo_index(c->io->srv->repo, false, &rows);
  dbuf *b = &c->out;
  dbuf_puts(b, "{\"models\":[");
  bool first = true;
  for (int i = 0; i < n; i++) {
    if (i > 0 && !strcmp(rows[i].name, rows[i - 1].name)) continue;
    if (!first) dbuf_putc(b, ',');
    first = false;
    json_put_str(b, rows[i].name, strlen(rows[i].name));
  }
  dbuf_puts(b, "]}");
  free(rows);
  http_reply_json(c, 200);
}

/* metrics.c — GET /metrics in Prometheus' text format (names ladle_*, documented in README). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"
#include "serving/json.h"

/* Label value: escape backslash, quote and newline. */
static void put_label(dbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') {
      dbuf_putc(b, '\\');
      dbuf_putc(b, *s);
    } else if (*s == '\n') {
      dbuf_puts(b, "\\n");
    } else {
      dbuf_putc(b, *s);
    }
  }
}

static void labels(dbuf *b, const model_version *v) {
  dbuf_puts(b, "model=\"");
  put_label(b, v->name);
  dbuf_printf(b, "\",version=\"%s\"", v->vstr);
}

static void header(dbuf *b, const char *name, const char *type, const char *help) {
  dbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef enum { H_TOTAL, H_QUEUE, H_COMPUTE, H_BATCH } which_hist;

static void put_hist(dbuf *b, const char *name, model_version *v, which_hist w) {
  const hist *h = w == H_TOTAL ? &v->stats.total : w == H_QUEUE ? &v->stats.queue
                : w == H_COMPUTE ? &v->stats.compute : &v->stats.batch;
  const double *bounds = w == H_BATCH ? stats_batch_bounds : stats_lat_bounds;
  int nb = w == H_BATCH ? STATS_BATCH_BUCKETS : STATS_LAT_BUCKETS;
  uint64_t acc = 0;
  for (int i = 0; i < nb; i++) {
    acc += stats_get(&h->bucket[i]);
    dbuf_printf(b, "%s_bucket{", name);
    labels(b, v);
    dbuf_printf(b, ",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)acc);
  }
  acc += stats_get(&h->bucket[nb]);
  dbuf_printf(b, "%s_bucket{", name);
  labels(b, v);
  dbuf_printf(b, ",le=\"+Inf\"} %llu\n%s_sum{", (unsigned long long)acc, name);
  labels(b, v);
  if (w == H_BATCH) dbuf_printf(b, "} %llu\n%s_count{", (unsigned long long)stats_get(&h->sum), name);
  else dbuf_printf(b, "} %.9f\n%s_count{", (double)stats_get(&h->sum) * 1e-9, name);
  labels(b, v);
  dbuf_printf(b, "} %llu\n", (unsigned long long)stats_get(&h->count));
}

static void put_counter(dbuf *b, const char *name, model_version *v, uint64_t value) {
  dbuf_printf(b, "%s{", name);
  labels(b, v);
  dbuf_printf(b, "} %llu\n", (unsigned long long)value);
}

/* Process figures from /proc (a memory filesystem: no disk wait). */
static void put_process(dbuf *b, http_server *s) {
  char buf[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* after the command name */
    unsigned long long ut = 0, stt = 0, vsize = 0, threads = 0;
    long long rss = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %llu %*d %*u %llu %lld",
                    &ut, &stt, &threads, &vsize, &rss) == 5) {
      double tick = (double)sysconf(_SC_CLK_TCK);
      header(b, "ladle_process_cpu_seconds_total", "counter", "User and system CPU time of the server process.");
      dbuf_printf(b, "ladle_process_cpu_seconds_total %.2f\n", (double)(ut + stt) / tick);
      header(b, "ladle_process_resident_memory_bytes", "gauge", "Resident memory of the server process.");
      dbuf_printf(b, "ladle_process_resident_memory_bytes %lld\n", rss * (long long)sysconf(_SC_PAGESIZE));
      header(b, "ladle_process_virtual_memory_bytes", "gauge", "Virtual memory of the server process.");
      dbuf_printf(b, "ladle_process_virtual_memory_bytes %llu\n", vsize);
      header(b, "ladle_process_threads", "gauge", "Threads of the server process.");
      dbuf_printf(b, "ladle_process_threads %llu\n", threads);
    }
  }
  int fds = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)))
      if (de->d_name[0] != '.') fds++;
    closedir(d);
    header(b, "ladle_process_open_fds", "gauge", "Open file descriptors of the server process.");
    dbuf_printf(b, "ladle_process_open_fds %d\n", fds - 1);
  }
  header(b, "ladle_process_start_time_seconds", "gauge", "Start time of the server, seconds since the epoch.");
  dbuf_printf(b, "ladle_process_start_time_seconds %.3f\n", (double)s->start_wall_ms / 1000.0);
}

void handle_metrics(conn *c) {
  http_server *s = c->io->srv;
  dbuf *b = &c->out;
  model_version **vs = NULL;
  int n = repo_snapshot(s->repo, &vs);

  header(b, "ladle_model_ready", "gauge", "1 for each loaded, ready model version.");
  for (int i = 0; i < n; i++) put_counter(b, "ladle_model_ready", vs[i], 1);
  header(b, "ladle_request_success_total", "counter", "Inference requests answered successfully.");
  for (int i = 0; i < n; i++) put_counter(b, "ladle_request_success_total", vs[i], stats_get(&vs[i]->stats.success_count));
  header(b, "ladle_request_failure_total", "counter",
         "Inference requests that failed, by reason: invalid (a 4xx), queue_full, timeout, unavailable, internal.");
  for (int i = 0; i < n; i++)
    for (int r = 0; r < FAIL_N; r++) {
      dbuf_puts(b, "ladle_request_failure_total{");
      labels(b, vs[i]);
      dbuf_printf(b, ",reason=\"%s\"} %llu\n", fail_reason_name((fail_reason)r),
                  (unsigned long long)stats_get(&vs[i]->stats.fail_count[r]));
    }
  header(b, "ladle_inference_count_total", "counter", "Inferences performed (a batch of 8 rows counts 8).");
  for (int i = 0; i < n; i++) put_counter(b, "ladle_inference_count_total", vs[i], stats_get(&vs[i]->stats.inference_count));
  header(b, "ladle_execution_count_total", "counter",
         "Model executions (8 requests batched into one run count 1): fewer than inferences means batching.");
  for (int i = 0; i < n; i++) put_counter(b, "ladle_execution_count_total", vs[i], stats_get(&vs[i]->stats.execution_count));
  header(b, "ladle_queue_depth", "gauge", "Requests waiting in the model version's queue.");
  for (int i = 0; i < n; i++) put_counter(b, "ladle_queue_depth", vs[i], (uint64_t)batcher_depth(vs[i]->batcher));
  header(b, "ladle_inflight_requests", "gauge", "Requests accepted for the model version and not yet answered.");
  for (int i = 0; i < n; i++) {
    int64_t f = __atomic_load_n(&vs[i]->stats.inflight, __ATOMIC_RELAXED);
    put_counter(b, "ladle_inflight_requests", vs[i], (uint64_t)(f < 0 ? 0 : f));
  }
  header(b, "ladle_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer (successful inferences).");
  for (int i = 0; i < n; i++) put_hist(b, "ladle_request_duration_seconds", vs[i], H_TOTAL);
  header(b, "ladle_queue_duration_seconds", "histogram", "Time inference requests waited in the queue.");
  for (int i = 0; i < n; i++) put_hist(b, "ladle_queue_duration_seconds", vs[i], H_QUEUE);
  header(b, "ladle_compute_duration_seconds", "histogram",
         "Time of the execution a request was part of (batching, running, splitting).");
  for (int i = 0; i < n; i++) put_hist(b, "ladle_compute_duration_seconds", vs[i], H_COMPUTE);
  header(b, "ladle_batch_size", "histogram", "Rows per model execution.");
  for (int i = 0; i < n; i++) put_hist(b, "ladle_batch_size", vs[i], H_BATCH);
  for (int i = 0; i < n; i++) repo_release(vs[i]);
  free(vs);

  /* server-wide */
  uint64_t codes[6] = {0};
  int conns = 0;
  for (int i = 0; i < s->n_io; i++) {
    for (int k = 1; k < 6; k++) codes[k] += __atomic_load_n(&s->io[i].codes[k], __ATOMIC_RELAXED);
    conns += __atomic_load_n(&s->io[i].n_conns, __ATOMIC_RELAXED);
  }
  header(b, "ladle_http_responses_total", "counter", "HTTP responses by status class.");
  for (int k = 1; k < 6; k++) dbuf_printf(b, "ladle_http_responses_total{code=\"%dxx\"} %llu\n", k, (unsigned long long)codes[k]);
  header(b, "ladle_http_connections", "gauge", "Open client connections.");
  dbuf_printf(b, "ladle_http_connections %d\n", conns);
  header(b, "ladle_server_ready", "gauge", "1 when /v2/health/ready answers 200.");
  dbuf_printf(b, "ladle_server_ready %d\n", repo_ready(s->repo) && !__atomic_load_n(&s->draining, __ATOMIC_RELAXED));
  put_process(b, s);
  http_finish(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

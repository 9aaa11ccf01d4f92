/* stats.c — counters and histograms (relaxed atomics: every counter is independent). */
#include "serving/stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const double stats_lat_bounds[STATS_LAT_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0};
const double stats_batch_bounds[STATS_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};

const char *fail_reason_name(fail_reason r) {
  static const char *names[FAIL_N] = {"invalid", "queue_full", "timeout", "unavailable", "internal"};
  return (unsigned)r < FAIL_N ? names[r] : "unknown";
}

int stats_init(model_stats *s, int max_batch) {
  memset(s, 0, sizeof *s);
  s->max_batch = max_batch < 1 ? 1 : max_batch;
  s->by_size = calloc((size_t)s->max_batch + 1, sizeof *s->by_size);
  return s->by_size ? 0 : -1;
}

void stats_destroy(model_stats *s) {
  free(s->by_size);
  s->by_size = NULL;
}

void stats_add(uint64_t *c, uint64_t v) { __atomic_fetch_add(c, v, __ATOMIC_RELAXED); }
uint64_t stats_get(const uint64_t *c) { return __atomic_load_n(c, __ATOMIC_RELAXED); }

static void hist_add(hist *h, const double *bounds, int nb, double x, uint64_t sum) {
  int i = 0;
  while (i < nb && x > bounds[i]) i++;
  stats_add(&h->bucket[i], 1);
  stats_add(&h->count, 1);
  stats_add(&h->sum, sum);
}

void hist_add_ns(hist *h, uint64_t ns) { hist_add(h, stats_lat_bounds, STATS_LAT_BUCKETS, (double)ns * 1e-9, ns); }
void hist_add_rows(hist *h, uint64_t rows) { hist_add(h, stats_batch_bounds, STATS_BATCH_BUCKETS, (double)rows, rows); }

uint64_t stats_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void stats_request_done(model_stats *s, uint64_t total_ns, int ok, fail_reason why) {
  if (ok) {
    stats_add(&s->success_count, 1);
    stats_add(&s->success_ns, total_ns);
    hist_add_ns(&s->total, total_ns);
  } else {
    stats_add(&s->fail_count[(unsigned)why < FAIL_N ? why : FAIL_INTERNAL], 1);
    stats_add(&s->fail_ns, total_ns);
  }
}

void stats_execution(model_stats *s, int64_t rows, int n, uint64_t input_ns, uint64_t infer_ns,
                     uint64_t output_ns) {
  int64_t k = rows < 0 ? 0 : rows > s->max_batch ? s->max_batch : rows;
  stats_add(&s->execution_count, 1);
  stats_add(&s->inference_count, (uint64_t)(rows > 0 ? rows : n));
  stats_add(&s->by_size[k].count, 1);
  stats_add(&s->by_size[k].input_ns, input_ns);
  stats_add(&s->by_size[k].infer_ns, infer_ns);
  stats_add(&s->by_size[k].output_ns, output_ns);
  /* Triton attributes an execution's compute times to each request in it */
  stats_add(&s->compute_count, (uint64_t)n);
  stats_add(&s->compute_input_ns, input_ns * (uint64_t)n);
  stats_add(&s->compute_infer_ns, infer_ns * (uint64_t)n);
  stats_add(&s->compute_output_ns, output_ns * (uint64_t)n);
  hist_add_rows(&s->batch, (uint64_t)(rows > 0 ? rows : 1));
  __atomic_store_n(&s->last_inference_ms, stats_now_ms(), __ATOMIC_RELAXED);
}

void stats_request_run(model_stats *s, uint64_t queue_ns, uint64_t compute_ns) {
  stats_add(&s->queue_count, 1);
  stats_add(&s->queue_ns, queue_ns);
  hist_add_ns(&s->queue, queue_ns);
  hist_add_ns(&s->compute, compute_ns);
}

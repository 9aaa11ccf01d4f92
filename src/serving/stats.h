/* stats.h — per model version counters and histograms, updated with relaxed atomics from the
 * I/O threads (request outcomes) and the instance threads (queue, compute, batches). Read by the
 * statistics endpoint (Triton's format) and /metrics (Prometheus). */
#ifndef LADLE_SERVING_STATS_H
#define LADLE_SERVING_STATS_H

#include <stdint.h>

#define STATS_LAT_BUCKETS 18   /* latency histogram bounds, seconds: stats_lat_bounds */
#define STATS_BATCH_BUCKETS 12 /* batch-size histogram bounds: 1, 2, 4, ... 2048 */

extern const double stats_lat_bounds[STATS_LAT_BUCKETS];
extern const double stats_batch_bounds[STATS_BATCH_BUCKETS];

/* Why a request failed (the `reason` label of ladle_request_failure_total). */
typedef enum {
  FAIL_INVALID,     /* the request was wrong (4xx) */
  FAIL_QUEUE_FULL,  /* rejected: the queue was full (503) */
  FAIL_TIMEOUT,     /* its deadline passed in the queue */
  FAIL_UNAVAILABLE, /* the version was being unloaded */
  FAIL_INTERNAL,    /* the model failed to run */
  FAIL_N
} fail_reason;
const char *fail_reason_name(fail_reason r);

typedef struct hist {
  uint64_t bucket[STATS_LAT_BUCKETS + 1]; /* last: above every bound (+Inf) */
  uint64_t count;
  uint64_t sum; /* ns for latencies, rows for batch sizes */
} hist;

typedef struct batch_stat {
  uint64_t count, input_ns, infer_ns, output_ns;
} batch_stat;

typedef struct model_stats {
  uint64_t success_count, success_ns;
  uint64_t fail_count[FAIL_N], fail_ns;
  uint64_t queue_count, queue_ns;
  uint64_t compute_count, compute_input_ns, compute_infer_ns, compute_output_ns;
  uint64_t inference_count; /* rows served */
  uint64_t execution_count; /* model runs */
  uint64_t last_inference_ms;
  int64_t inflight; /* requests accepted and not yet answered */
  hist total, queue, compute, batch;
  int max_batch;
  batch_stat *by_size; /* [max_batch + 1]: index = rows of the execution (clamped) */
} model_stats;

int stats_init(model_stats *s, int max_batch); /* 0 or -1 (out of memory) */
void stats_destroy(model_stats *s);

void stats_add(uint64_t *counter, uint64_t v);
uint64_t stats_get(const uint64_t *counter);
void hist_add_ns(hist *h, uint64_t ns);
void hist_add_rows(hist *h, uint64_t rows);

/* Called by the I/O thread when it answers a request that reached a model version. */
void stats_request_done(model_stats *s, uint64_t total_ns, int ok, fail_reason why);
/* Called by an instance thread after one execution of `rows` rows made of n requests. */
void stats_execution(model_stats *s, int64_t rows, int n, uint64_t input_ns, uint64_t infer_ns,
                     uint64_t output_ns);
/* Called by an instance thread for each request of an execution (its queue and compute times). */
void stats_request_run(model_stats *s, uint64_t queue_ns, uint64_t compute_ns);

uint64_t stats_now_ms(void); /* wall clock, ms since the epoch */

#endif

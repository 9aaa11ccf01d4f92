/* test_batcher.c — the dynamic batcher on the MLP fixture: requests of different row counts
 * submitted from several threads merge into one execution and each gets exactly the rows a
 * lone run gives; a full queue refuses; an expired request is answered without running; stop
 * runs what is queued. Run from the repository root (the fixture path is relative). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "base/timeutil.h"
#include "serving/scheduler.h"

#define N 8

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done_count;

static void on_done(infer_request *r) {
  (void)r;
  pthread_mutex_lock(&mu);
  done_count++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void wait_done(int n) {
  pthread_mutex_lock(&mu);
  while (done_count < n) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

typedef struct req {
  infer_request ir;
  ladle_tensor in;
  bool want;
  float x[4 * 30];
  arena mem;
} req;

static void make(req *q, const model_sig *sig, int rows, int seed, uint64_t deadline) {
  memset(&q->ir, 0, sizeof q->ir);
  for (int i = 0; i < rows * 30; i++) q->x[i] = (float)((i * 7 + seed * 13) % 17) / 17.0f - 0.5f;
  q->in = (ladle_tensor){LADLE_FLOAT, 2, {rows, 30}, q->x};
  q->want = true;
  arena_init(&q->mem, 4096, 1 << 20);
  q->ir.sig = sig;
  q->ir.in = &q->in;
  q->ir.want = &q->want;
  q->ir.rows = rows;
  q->ir.t_submit = time_now_ns();
  q->ir.deadline = deadline;
  q->ir.mem = &q->mem;
  q->ir.done = on_done;
  q->ir.out = arena_calloc(&q->mem, sizeof(ladle_tensor));
}

int main(void) {
  ladle_model *m = NULL;
  char err[256];
  errbuf e;
  if (ladle_model_load("tests/fixtures/mlp_op13/model.onnx", NULL, &m, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  model_config c;
  model_sig sig;
  model_stats stats;
  model_config_init(&c, "mlp");
  c.max_queue_delay_us = 200000; /* 200 ms: everything submitted below merges */
  CHECK(model_sig_build(m, &c, 16, &sig, &e) == LADLE_OK);
  CHECK(sig.max_batch_size == 16 && sig.dynamic_batching);
  stats_init(&stats, sig.max_batch_size);
  batcher *b = batcher_new(m, &sig, &c, N, &stats, "mlp", &e);
  CHECK(b != NULL);

  req *q = calloc(N + 2, sizeof *q);
  for (int i = 0; i < N; i++) {
    make(&q[i], &sig, 1 + i % 3, i, 0);
    CHECK(batcher_submit(b, &q[i].ir, &e) == LADLE_OK);
  }
  make(&q[N], &sig, 1, 99, 0);
  CHECK(batcher_submit(b, &q[N].ir, &e) == LADLE_ERR_UNAVAILABLE && strstr(e.msg, "queue is full"));
  wait_done(N);
  CHECK(stats.execution_count == 1 && stats.inference_count == 1 + 2 + 3 + 1 + 2 + 3 + 1 + 2);
  /* each request's rows equal a lone run of its input */
  ladle_session *s = ladle_session_new(m, 1);
  const char *name = "x";
  for (int i = 0; i < N; i++) {
    CHECK(q[i].ir.st == LADLE_OK && q[i].ir.batch_rows == 15);
    CHECK(ladle_session_run(s, 1, &name, &q[i].in) == LADLE_OK);
    const ladle_tensor *y = ladle_session_output(s, 0);
    const ladle_tensor *got = &q[i].ir.out[0];
    CHECK(got->dims[0] == q[i].ir.rows && got->dims[1] == 2);
    float maxd = 0;
    for (int k = 0; k < q[i].ir.rows * 2; k++) {
      float d = ((float *)got->data)[k] - ((float *)y->data)[k];
      if (d < 0) d = -d;
      if (d > maxd) maxd = d;
    }
    CHECK(maxd < 1e-5f);
  }
  /* an expired request is answered with a timeout and never runs */
  done_count = 0;
  uint64_t exec_before = stats.execution_count;
  make(&q[N + 1], &sig, 1, 5, time_now_ns() + 1000); /* 1 us */
  CHECK(batcher_submit(b, &q[N + 1].ir, &e) == LADLE_OK);
  wait_done(1);
  CHECK(q[N + 1].ir.st == LADLE_ERR_TIMEOUT && q[N + 1].ir.why == FAIL_TIMEOUT);
  CHECK(stats.execution_count == exec_before);
  /* stop runs what is queued, then refuses */
  done_count = 0;
  arena_destroy(&q[0].mem);
  make(&q[0], &sig, 2, 1, 0);
  CHECK(batcher_submit(b, &q[0].ir, &e) == LADLE_OK);
  batcher_stop(b);
  CHECK(done_count == 1 && q[0].ir.st == LADLE_OK);
  CHECK(batcher_submit(b, &q[1].ir, &e) == LADLE_ERR_UNAVAILABLE);

  batcher_free(b);
  for (int i = 0; i < N + 2; i++) arena_destroy(&q[i].mem);
  free(q);
  ladle_session_free(s);
  stats_destroy(&stats);
  model_sig_destroy(&sig);
  model_config_destroy(&c);
  ladle_model_free(m);
  return check_done("test_batcher");
}

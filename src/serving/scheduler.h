/* scheduler.h — one model version's request queue and its instance threads.
 *
 * I/O threads submit decoded requests; each instance thread owns a session (the weights are
 * shared through the model) and takes work under the queue lock, runs without it, and hands every
 * finished request back through its `done` callback, which must only queue the request for its
 * I/O thread and wake that thread (it runs on the instance thread and must not block).
 *
 * Dynamic batching: an instance takes the oldest request and every queued request whose inputs
 * have the same shapes apart from dim 0, up to max_batch_size rows; it runs them as one batch
 * (inputs concatenated along dim 0) and splits the outputs back. With max_queue_delay it waits
 * for more up to that long after the oldest request arrived (unless a preferred batch size or
 * the maximum is reached). A request whose deadline has passed when it is taken is answered with
 * LADLE_ERR_TIMEOUT without running. */
#ifndef LADLE_SERVING_SCHEDULER_H
#define LADLE_SERVING_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "ladle/ladle.h"
#include "serving/arena.h"
#include "serving/model_config.h"
#include "serving/stats.h"

typedef struct infer_request infer_request;
typedef void (*infer_done_fn)(infer_request *r);

struct infer_request {
  /* set by the submitter */
  const model_sig *sig;
  ladle_tensor *in; /* sig->n_in tensors in the model's input order */
  bool *want;       /* sig->n_out flags: outputs to return */
  int64_t rows;     /* dim 0 when the model batches, else 1 */
  uint64_t t_submit, deadline; /* monotonic ns; deadline 0: none */
  arena *mem;                  /* the instance thread allocates outputs here */
  infer_done_fn done;
  void *ud;
  /* set by the scheduler before done() */
  ladle_status st;
  fail_reason why; /* when st != LADLE_OK */
  errbuf err;
  ladle_tensor *out; /* sig->n_out tensors; data NULL for outputs not wanted */
  uint64_t queue_ns, compute_ns;
  int64_t batch_rows; /* rows of the execution this request was part of */
  infer_request *next;
};

typedef struct batcher batcher;

/* Creates the queue and starts c->instance_count instance threads, each with a session of
 * c->intra_op_threads threads. label names the version in messages ("model 'mlp' version 1").
 * max_queue is the resolved queue bound. */
batcher *batcher_new(const ladle_model *m, const model_sig *sig, const model_config *c,
                 int64_t max_queue, model_stats *stats, const char *label, errbuf *e);
/* Queues r. LADLE_ERR_UNAVAILABLE (r untouched, message in e) when the queue is full or the
 * scheduler is stopping. */
ladle_status batcher_submit(batcher *s, infer_request *r, errbuf *e);
/* Queues the list head (linked by next, n requests) under one lock and one wake-up. What does
 * not fit is returned (still linked) with the reason in e; NULL when all were queued. */
infer_request *batcher_submit_list(batcher *s, infer_request *head, errbuf *e);
int64_t batcher_depth(batcher *s);
/* Refuses new requests, runs what is queued, joins the instance threads. */
void batcher_stop(batcher *s);
void batcher_free(batcher *s); /* stops first if needed */

#endif

/* tpool.h — a fork-join thread pool for intra-op parallelism.
 *
 * tpool_run(p, n, fn, arg) calls fn(arg, i) for every i in [0, n) across the pool's threads and
 * the calling thread, and returns when all calls are done. One tpool_run at a time per pool (a
 * session owns its pool and runs on one thread at a time). A pool of 1 thread runs inline. */
#ifndef LADLE_BASE_TPOOL_H
#define LADLE_BASE_TPOOL_H

#include <stdint.h>

typedef struct tpool tpool;
typedef void (*tpool_fn)(void *arg, int64_t i);

tpool *tpool_new(int threads); /* threads counts the caller: 1 means no extra thread */
void tpool_free(tpool *p);
int tpool_threads(const tpool *p);
void tpool_run(tpool *p, int64_t n, tpool_fn fn, void *arg);

#endif

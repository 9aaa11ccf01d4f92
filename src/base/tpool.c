#include "base/tpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Lock order: only p->lock exists. Workers sleep on p->wake between jobs; a job is published by
 * bumping p->generation under the lock; tasks are claimed with an atomic counter, so no lock is
 * held while computing. */
struct tpool {
  int threads;
  pthread_t *tids;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_cond_t done;
  uint64_t generation;
  int stop;
  tpool_fn fn;
  void *arg;
  int64_t n;
  atomic_int_fast64_t next;
  atomic_int busy; /* workers still inside the current job */
};

static void drain(tpool *p) {
  for (;;) {
    int64_t i = atomic_fetch_add(&p->next, 1);
    if (i >= p->n) break;
    p->fn(p->arg, i);
  }
}

static void *worker(void *vp) {
  tpool *p = vp;
  uint64_t seen = 0;
  for (;;) {
    pthread_mutex_lock(&p->lock);
    while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->lock);
    if (p->stop) {
      pthread_mutex_unlock(&p->lock);
      break;
    }
    seen = p->generation;
    pthread_mutex_unlock(&p->lock);
    drain(p);
    if (atomic_fetch_sub(&p->busy, 1) == 1) {
      pthread_mutex_lock(&p->lock);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->lock);
    }
  }
  return NULL;
}

tpool *tpool_new(int threads) {
  tpool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  if (threads < 1) threads = 1;
  p->threads = threads;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  if (threads > 1) {
    p->tids = calloc((size_t)threads - 1, sizeof *p->tids);
    if (!p->tids) {
      free(p);
      return NULL;
    }
    for (int i = 0; i < threads - 1; i++) {
      if (pthread_create(&p->tids[i], NULL, worker, p) != 0) {
        p->threads = i + 1; /* run with what we got */
        break;
      }
    }
  }
  return p;
}

void tpool_free(tpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->threads - 1; i++) pthread_join(p->tids[i], NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  free(p->tids);
  free(p);
}

int tpool_threads(const tpool *p) { return p ? p->threads : 1; }

void tpool_run(tpool *p, int64_t n, tpool_fn fn, void *arg) {
  if (n <= 0) return;
  if (!p || p->threads == 1 || n == 1) {
    for (int64_t i = 0; i < n; i++) fn(arg, i);
    return;
  }
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  atomic_store(&p->next, 0);
  atomic_store(&p->busy, p->threads - 1);
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  drain(p);
  pthread_mutex_lock(&p->lock);
  while (atomic_load(&p->busy) > 0) pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}

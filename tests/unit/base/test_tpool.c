/* test_tpool.c — every index runs exactly once, across pool sizes and job sizes. */
#include <stdatomic.h>
#include <stdlib.h>

#include "../check.h"
#include "base/tpool.h"

static void bump(void *arg, int64_t i) { atomic_fetch_add(&((atomic_int *)arg)[i], 1); }

int main(void) {
  for (int threads = 1; threads <= 4; threads++) {
    tpool *p = tpool_new(threads);
    CHECK(p != NULL && tpool_threads(p) == threads);
    for (int64_t n = 0; n <= 1000; n = n * 3 + 1) {
      atomic_int *hits = calloc((size_t)n + 1, sizeof *hits);
      for (int rep = 0; rep < 20; rep++) tpool_run(p, n, bump, hits);
      int ok = 1;
      for (int64_t i = 0; i < n; i++) ok &= atomic_load(&hits[i]) == 20;
      CHECK(ok);
      free(hits);
    }
    tpool_free(p);
  }
  tpool_free(NULL);
  return check_done("test_tpool");
}

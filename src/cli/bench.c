/* bench.c — `ladle bench`: latency of one model on seeded random inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "runtime/tensor.h"

#define MAX_INPUTS 64
#define MAX_SHAPES 64

static const char *help =
    "usage: ladle bench --model M.onnx [--batch N] [--threads T] [--iterations K] [--warmup W]\n"
    "                   [--shape NAME=d0,d1,...] [--seed S] [--int-max V]\n\n"
    "Fills every input with seeded random data (floats uniform in [-1,1), integers in\n"
    "[0, --int-max), default 10), the first dim of a dynamic-batch input set to N (default 1).\n"
    "Other symbolic dims need --shape. Warms up W runs (default 10), times K runs (default 100)\n"
    "and prints one JSON line: median_ms, p90_ms, p99_ms, mean_ms, min_ms.\n";

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1Dull;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, long n, double p) {
  double idx = p * (double)(n - 1);
  long lo = (long)floor(idx), hi = (long)ceil(idx);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - (double)lo);
}

int cmd_bench(int argc, char **argv) {
  const char *model_path = NULL;
  long batch = 1, threads = 1, iters = 100, warmup = 10, seed = 42, int_max = 10;
  const char *shape_specs[MAX_SHAPES];
  int n_shapes = 0, rc = 1, n_in = 0;
  ladle_model *m = NULL;
  ladle_session *s = NULL;
  ladle_tensor inputs[MAX_INPUTS];
  const char *names[MAX_INPUTS];
  double *times = NULL;
  memset(inputs, 0, sizeof inputs);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(help, stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "ladle bench: option '%s' needs a value\n%s", a, help);
      return 2;
    }
    if (!strcmp(a, "--model")) model_path = v;
    else if (!strcmp(a, "--batch")) ok = cli_int("bench", a, v, 1, 1 << 20, &batch);
    else if (!strcmp(a, "--threads")) ok = cli_int("bench", a, v, 1, 256, &threads);
    else if (!strcmp(a, "--iterations")) ok = cli_int("bench", a, v, 1, 10000000, &iters);
    else if (!strcmp(a, "--warmup")) ok = cli_int("bench", a, v, 0, 1000000, &warmup);
    else if (!strcmp(a, "--seed")) ok = cli_int("bench", a, v, 0, 0x7fffffff, &seed);
    else if (!strcmp(a, "--int-max")) ok = cli_int("bench", a, v, 1, 0x7fffffff, &int_max);
    else if (!strcmp(a, "--shape") && n_shapes < MAX_SHAPES) shape_specs[n_shapes++] = v;
    else {
      fprintf(stderr, "ladle bench: unknown option '%s'\n%s", a, help);
      return 2;
    }
    if (!ok) return 2;
    i++;
  }
  if (!model_path) {
    fprintf(stderr, "ladle bench: --model is required\n%s", help);
    return 2;
  }
  if (!(m = cli_load_model("bench", model_path))) goto out;
  n_in = ladle_model_n_inputs(m);
  if (n_in > MAX_INPUTS) {
    cli_fail("bench", "model has %d inputs; at most %d supported", n_in, MAX_INPUTS);
    n_in = 0;
    goto out;
  }
  uint64_t state = (uint64_t)seed * 2654435761u + 88172645463325252ull;
  for (int k = 0; k < n_in; k++) {
    ladle_tensor *t = &inputs[k];
    const char *name = ladle_model_input_name(m, k);
    names[k] = name;
    ladle_model_input_info(m, k, &t->dtype, &t->ndim, t->dims);
    for (int sidx = 0; sidx < n_shapes; sidx++) {
      size_t nl = strlen(name);
      if (!strncmp(shape_specs[sidx], name, nl) && shape_specs[sidx][nl] == '=') {
        t->ndim = cli_dims(shape_specs[sidx] + nl + 1, t->dims);
        if (t->ndim < 0) {
          cli_fail("bench", "--shape %s: dims are non-negative integers joined by ','", shape_specs[sidx]);
          goto out;
        }
      }
    }
    if (t->ndim < 0) {
      cli_fail("bench", "input '%s' declares no shape: give --shape %s=d0,d1,...", name, name);
      goto out;
    }
    for (int d = 0; d < t->ndim; d++) {
      if (t->dims[d] >= 0) continue;
      if (d == 0) {
        t->dims[d] = batch;
        continue;
      }
      const char *dn = ladle_model_input_dim_name(m, k, d);
      cli_fail("bench", "input '%s' dim %d (%s) is symbolic: give --shape %s=d0,d1,...", name, d,
               dn ? dn : "unnamed", name);
      goto out;
    }
    if (t->dtype == LADLE_STRING || !dtype_valid(t->dtype)) {
      cli_fail("bench", "input '%s': cannot make random %s data", name, ladle_dtype_name(t->dtype));
      goto out;
    }
    int64_t n = ladle_tensor_numel(t);
    if (n < 0 || (uint64_t)n > (UINT64_C(1) << 32)) {
      cli_fail("bench", "input '%s' is too large", name);
      goto out;
    }
    t->data = malloc((size_t)n * ladle_dtype_size(t->dtype) + 1);
    if (!t->data) {
      cli_fail("bench", "out of memory");
      goto out;
    }
    for (int64_t i = 0; i < n; i++) {
      uint64_t r = rng_next(&state);
      if (dtype_is_float(t->dtype))
        tensor_set_f64(t, i, (double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
      else if (t->dtype == LADLE_BOOL)
        tensor_set_f64(t, i, (double)(r & 1));
      else
        tensor_set_f64(t, i, (double)(r % (uint64_t)int_max));
    }
  }
  if (!(s = ladle_session_new(m, (int)threads))) {
    cli_fail("bench", "cannot create a session");
    goto out;
  }
  times = malloc(sizeof(double) * (size_t)iters);
  if (!times) goto out;
  uint64_t t0 = time_now_ns();
  if (ladle_session_run(s, n_in, names, inputs) != LADLE_OK) {
    cli_fail("bench", "%s", ladle_session_errmsg(s));
    goto out;
  }
  double first_ms = (double)(time_now_ns() - t0) / 1e6;
  for (long i = 0; i < warmup; i++) ladle_session_run(s, n_in, names, inputs);
  double sum = 0;
  for (long i = 0; i < iters; i++) {
    uint64_t a = time_now_ns();
    if (ladle_session_run(s, n_in, names, inputs) != LADLE_OK) {
      cli_fail("bench", "%s", ladle_session_errmsg(s));
      goto out;
    }
    times[i] = (double)(time_now_ns() - a) / 1e6;
    sum += times[i];
  }
  qsort(times, (size_t)iters, sizeof *times, cmp_double);
  printf("{\"model\":\"%s\",\"batch\":%ld,\"threads\":%ld,\"iterations\":%ld,"
         "\"median_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"mean_ms\":%.4f,\"min_ms\":%.4f,"
         "\"first_run_ms\":%.3f}\n",
         model_path, batch, threads, iters, percentile(times, iters, 0.5),
         percentile(times, iters, 0.9), percentile(times, iters, 0.99), sum / (double)iters,
         times[0], first_ms);
  rc = 0;
out:
  for (int k = 0; k < n_in; k++) free(inputs[k].data);
  free(times);
  ladle_session_free(s);
  ladle_model_free(m);
  return rc;
}

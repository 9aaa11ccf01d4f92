/* test_steady_state.c — after the first run with a given input shape, a session allocates
 * nothing: buffers are planned once and reused. Checked by wrapping malloc/calloc/realloc/
 * aligned_alloc at link time (-Wl,--wrap) and counting calls during repeated runs of real golden
 * models (CNN, transformer, recommender, RNN). Also: a second session shares the weights. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "base/npy.h"
#include "ladle/ladle.h"

static atomic_long g_allocs;
static atomic_int g_counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t al, size_t n);
void *__wrap_malloc(size_t n) {
  if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
  return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b) {
  if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
  return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n) {
  if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
  return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t al, size_t n) {
  if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
  return __real_aligned_alloc(al, n);
}

/* Loads tests/fixtures/NAME: the model and one inputs/<input name>.npy per input. */
static int check_model(const char *name, int threads) {
  char path[512], err[512];
  snprintf(path, sizeof path, "tests/fixtures/%s/model.onnx", name);
  ladle_model *m = NULL;
  if (ladle_model_load(path, NULL, &m, err, sizeof err) != LADLE_OK) {
    fprintf(stderr, "%s: %s\n", name, err);
    return 0;
  }
  int n = ladle_model_n_inputs(m);
  ladle_tensor in[8];
  const char *names[8];
  errbuf e;
  int ok = n <= 8;
  for (int i = 0; i < n && ok; i++) {
    names[i] = ladle_model_input_name(m, i);
    snprintf(path, sizeof path, "tests/fixtures/%s/inputs/%s.npy", name, names[i]);
    ok = npy_read_file(path, &in[i], &e) == LADLE_OK;
    if (!ok) fprintf(stderr, "%s: %s\n", name, e.msg);
  }
  ladle_session *s = ladle_session_new(m, threads), *s2 = ladle_session_new(m, 1);
  long during = -1;
  if (ok) {
    ok = ladle_session_run(s, n, names, in) == LADLE_OK; /* plans the buffers */
    if (!ok) fprintf(stderr, "%s: %s\n", name, ladle_session_errmsg(s));
    atomic_store(&g_allocs, 0);
    atomic_store(&g_counting, 1);
    for (int r = 0; r < 5 && ok; r++) ok = ladle_session_run(s, n, names, in) == LADLE_OK;
    atomic_store(&g_counting, 0);
    during = atomic_load(&g_allocs);
    if (during) fprintf(stderr, "%s (%d threads): %ld allocations in 5 steady-state runs\n", name, threads, during);
    /* a second session on the same model gives the same outputs (weights shared, not copied) */
    ok = ok && ladle_session_run(s2, n, names, in) == LADLE_OK;
    for (int k = 0; ok && k < ladle_session_n_outputs(s); k++) {
      const ladle_tensor *a = ladle_session_output(s, k), *b = ladle_session_output(s2, k);
      size_t bytes = (size_t)ladle_tensor_numel(a) * ladle_dtype_size(a->dtype);
      ok = a->dtype == b->dtype && ladle_tensor_numel(a) == ladle_tensor_numel(b) &&
           (a->dtype == LADLE_STRING || memcmp(a->data, b->data, bytes) == 0);
    }
  }
  for (int i = 0; i < n; i++) npy_tensor_free(&in[i]);
  ladle_session_free(s);
  ladle_session_free(s2);
  ladle_model_free(m);
  return ok && during == 0;
}

int main(void) {
  const char *models[] = {"mlp_op13", "resnet_tiny_op17", "mobilenet_v3_tiny_op17",
                          "vit_tiny_op17", "text_encoder_tiny_op13", "recommender_op17",
                          "shufflenet_tiny_op17", "rnn_lstm_bidir_op14"};
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", models[i]);
    DIR *d = opendir(dir);
    if (!d) {
      fprintf(stderr, "missing fixture %s\n", dir);
      CHECK(0);
      continue;
    }
    closedir(d);
    CHECK(check_model(models[i], 1));
    CHECK(check_model(models[i], 2));
  }
  return check_done("test_steady_state");
}

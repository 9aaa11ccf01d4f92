/* test_limits.c — a session's memory limits: a run that needs more than max_run_bytes (all of
 * its intermediate buffers and scratch together) or a tensor larger than max_tensor_bytes fails
 * with LADLE_ERR_LIMIT and a message naming the node, and the same session then runs normally
 * with the limits lifted, giving the outputs of a session that never had limits. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "base/npy.h"
#include "ladle/ladle.h"

typedef struct {
  ladle_model *m;
  int n;
  const char *names[8];
  ladle_tensor in[8];
} fixture;

static int fixture_load(const char *name, fixture *f) {
  char path[512], err[512];
  errbuf e;
  memset(f, 0, sizeof *f);
  snprintf(path, sizeof path, "tests/fixtures/%s/model.onnx", name);
  if (ladle_model_load(path, NULL, &f->m, err, sizeof err) != LADLE_OK) {
    fprintf(stderr, "%s: %s\n", name, err);
    return 0;
  }
  f->n = ladle_model_n_inputs(f->m);
  if (f->n > 8) return 0;
  for (int i = 0; i < f->n; i++) {
    f->names[i] = ladle_model_input_name(f->m, i);
    snprintf(path, sizeof path, "tests/fixtures/%s/inputs/%s.npy", name, f->names[i]);
    if (npy_read_file(path, &f->in[i], &e) != LADLE_OK) {
      fprintf(stderr, "%s: %s\n", name, e.msg);
      return 0;
    }
  }
  return 1;
}

static void fixture_free(fixture *f) {
  for (int i = 0; i < f->n; i++) npy_tensor_free(&f->in[i]);
  ladle_model_free(f->m);
}

static int same_outputs(const ladle_session *a, const ladle_session *b) {
  if (ladle_session_n_outputs(a) != ladle_session_n_outputs(b)) return 0;
  for (int k = 0; k < ladle_session_n_outputs(a); k++) {
    const ladle_tensor *x = ladle_session_output(a, k), *y = ladle_session_output(b, k);
    if (x->dtype != y->dtype || ladle_tensor_numel(x) != ladle_tensor_numel(y)) return 0;
    if (memcmp(x->data, y->data, (size_t)ladle_tensor_numel(x) * ladle_dtype_size(x->dtype))) return 0;
  }
  return 1;
}

static void check_model(const char *name) {
  fixture f;
  int ok = fixture_load(name, &f);
  CHECK(ok);
  if (!ok) {
    fixture_free(&f);
    return;
  }
  ladle_session *free_s = ladle_session_new(f.m, 1), *s = ladle_session_new(f.m, 1);
  CHECK(ladle_session_run(free_s, f.n, f.names, f.in) == LADLE_OK);

  /* 128 bytes for the whole run: every model here has an intermediate value larger */
  ladle_session_set_limits(s, 0, 128);
  CHECK(ladle_session_run(s, f.n, f.names, f.in) == LADLE_ERR_LIMIT);
  CHECK(strstr(ladle_session_errmsg(s), "memory limit") != NULL);
  CHECK(strstr(ladle_session_errmsg(s), "node") != NULL);

  /* one tensor of at most 64 bytes */
  ladle_session_set_limits(s, 64, 0);
  CHECK(ladle_session_run(s, f.n, f.names, f.in) == LADLE_ERR_LIMIT);
  CHECK(strstr(ladle_session_errmsg(s), "tensor limit") != NULL);

  /* the session is still usable, and its answers are the unlimited session's */
  ladle_session_set_limits(s, 0, 0);
  CHECK(ladle_session_run(s, f.n, f.names, f.in) == LADLE_OK);
  CHECK(same_outputs(s, free_s));

  /* a generous run limit is not in the way, including after the failures above */
  ladle_session_free(s);
  s = ladle_session_new(f.m, 2);
  ladle_session_set_limits(s, 1 << 20, 256 << 20);
  CHECK(ladle_session_run(s, f.n, f.names, f.in) == LADLE_OK);
  CHECK(ladle_session_run(s, f.n, f.names, f.in) == LADLE_OK);
  CHECK(same_outputs(s, free_s));
  ladle_session_free(s);
  ladle_session_free(free_s);
  fixture_free(&f);
}

int main(void) {
  check_model("mlp_op13");
  check_model("resnet_tiny_op17");
  check_model("vit_tiny_op17");
  check_model("rnn_lstm_bidir_op14");
  return check_done("test_limits");
}

/* fuzz_model_load.c — libFuzzer target for the ONNX loader: any bytes must load or fail with a
 * status, never crash, leak or touch memory out of bounds. A model that loads is also run once
 * on zero-filled inputs of its declared shapes (small ones only), under memory limits: a model
 * may legitimately ask for gigabytes (a ConvTranspose output_shape, a Tile), and the limits are
 * how a server refuses that; any allocation that escapes them is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ladle/ladle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ladle_model *m = NULL;
  char err[256];
  if (ladle_model_load_buffer(data, size, NULL, &m, err, sizeof err) != LADLE_OK) return 0;
  int n = ladle_model_n_inputs(m);
  if (n <= 8) {
    ladle_tensor in[8];
    const char *names[8];
    int ok = 1;
    memset(in, 0, sizeof in);
    for (int i = 0; i < n && ok; i++) {
      names[i] = ladle_model_input_name(m, i);
      ladle_model_input_info(m, i, &in[i].dtype, &in[i].ndim, in[i].dims);
      if (in[i].ndim < 0 || in[i].dtype == LADLE_STRING || ladle_dtype_size(in[i].dtype) == 0) ok = 0;
      for (int d = 0; ok && d < in[i].ndim; d++)
        if (in[i].dims[d] < 0) in[i].dims[d] = 1;
      int64_t cnt = ok ? ladle_tensor_numel(&in[i]) : -1;
      if (cnt < 0 || cnt > 4096) ok = 0;
      in[i].data = ok ? calloc((size_t)cnt + 1, 8) : NULL;
    }
    if (ok) {
      ladle_session *s = ladle_session_new(m, 1);
      if (s) {
        ladle_session_set_limits(s, 64u << 20, 256u << 20);
        ladle_session_run(s, n, names, in);
      }
      ladle_session_free(s);
    }
    for (int i = 0; i < n; i++) free(in[i].data);
  }
  ladle_model_free(m);
  return 0;
}

/* test_npy.c — .npy round trips and refusals. The reference bytes come from numpy's format
 * (version 1.0 header, 64-byte aligned), written out here by hand. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "base/npy.h"

/* np.save of np.arange(6, dtype='<f4').reshape(2,3) */
static void make_npy(const char *descr, const char *fortran, const char *shape, const void *data,
                     size_t data_len, unsigned char *out, size_t *len) {
  char dict[256];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                   descr, fortran, shape);
  size_t hlen = (size_t)n + 1;
  size_t pad = (64 - (10 + hlen) % 64) % 64;
  hlen += pad;
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  out[8] = (unsigned char)(hlen & 0xff);
  out[9] = (unsigned char)(hlen >> 8);
  memcpy(out + 10, dict, (size_t)n);
  memset(out + 10 + n, ' ', pad);
  out[10 + hlen - 1] = '\n';
  memcpy(out + 10 + hlen, data, data_len);
  *len = 10 + hlen + data_len;
}

int main(void) {
  unsigned char buf[1024];
  size_t len;
  errbuf e = {{0}};
  ladle_tensor t;
  float f[6] = {0, 1, 2, 3, 4, 5};

  make_npy("<f4", "False", "(2, 3)", f, sizeof f, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_OK);
  CHECK(t.dtype == LADLE_FLOAT && t.ndim == 2 && t.dims[0] == 2 && t.dims[1] == 3);
  CHECK(memcmp(t.data, f, sizeof f) == 0);

  /* write, read back: same bytes */
  void *w = NULL;
  size_t wl = 0;
  CHECK(npy_write_buffer(&t, &w, &wl, &e) == LADLE_OK);
  CHECK(wl == len && memcmp(w, buf, len) == 0);
  free(w);
  npy_tensor_free(&t);

  /* scalars and 1-D shapes: "()" and "(3,)" */
  make_npy("<i8", "False", "()", (int64_t[]){7}, 8, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_OK && t.ndim == 0 && *(int64_t *)t.data == 7);
  CHECK(npy_write_buffer(&t, &w, &wl, &e) == LADLE_OK && wl == len && memcmp(w, buf, len) == 0);
  free(w);
  npy_tensor_free(&t);
  make_npy("<i4", "False", "(3,)", (int32_t[]){1, 2, 3}, 12, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_OK && t.ndim == 1 && t.dims[0] == 3);
  CHECK(npy_write_buffer(&t, &w, &wl, &e) == LADLE_OK && wl == len && memcmp(w, buf, len) == 0);
  free(w);
  npy_tensor_free(&t);

  /* refusals, each with a message naming the problem */
  make_npy("<f4", "True", "(2, 3)", f, sizeof f, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_ERR_UNSUPPORTED && strstr(e.msg, "Fortran"));
  make_npy(">f4", "False", "(2, 3)", f, sizeof f, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_ERR_UNSUPPORTED && strstr(e.msg, "big-endian"));
  make_npy("<f4", "False", "(2, 3)", f, sizeof f - 4, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_ERR_PARSE && strstr(e.msg, "truncated"));
  make_npy("<c8", "False", "(2,)", f, 16, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_ERR_UNSUPPORTED);
  make_npy("<f4", "False", "(4611686018427387904, 4)", f, 0, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) != LADLE_OK);
  CHECK(npy_read_buffer("\x93NUMPX", 6, &t, &e) == LADLE_ERR_PARSE);
  for (size_t cut = 0; cut < 20; cut++) { /* every truncation of a valid header fails cleanly */
    make_npy("<f4", "False", "(2, 3)", f, sizeof f, buf, &len);
    CHECK(npy_read_buffer(buf, cut, &t, &e) != LADLE_OK);
  }

  /* unicode strings: '<U3' holds UTF-32 code points, read as UTF-8 */
  uint32_t u[6] = {'a', 'b', 0, 0xe9, 'x', 'y'};
  make_npy("<U3", "False", "(2,)", u, sizeof u, buf, &len);
  CHECK(npy_read_buffer(buf, len, &t, &e) == LADLE_OK && t.dtype == LADLE_STRING);
  CHECK(!strcmp(((char **)t.data)[0], "ab") && !strcmp(((char **)t.data)[1], "\xc3\xa9xy"));
  CHECK(npy_write_buffer(&t, &w, &wl, &e) == LADLE_OK && wl == len && memcmp(w, buf, len) == 0);
  free(w);
  npy_tensor_free(&t);
  return check_done("test_npy");
}

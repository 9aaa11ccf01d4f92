/* npy.h — NumPy .npy files (format versions 1, 2 and 3), C order only.
 *
 * Reads little-endian bool, (u)int8/16/32/64, float16/32/64, and byte ('|S') or unicode ('<U')
 * strings, which become LADLE_STRING tensors of UTF-8 char *. Fortran-ordered and big-endian
 * arrays are refused with a message saying so. */
#ifndef LADLE_BASE_NPY_H
#define LADLE_BASE_NPY_H

#include <stddef.h>

#include "base/status.h"
#include "ladle/ladle.h"

/* Limits what a file may declare before anything is allocated. */
#define NPY_MAX_BYTES (UINT64_C(16) << 30)

/* out->data is malloc'd (for strings, also each element); free with npy_tensor_free. */
ladle_status npy_read_buffer(const void *buf, size_t len, ladle_tensor *out, errbuf *e);
ladle_status npy_read_file(const char *path, ladle_tensor *out, errbuf *e);
ladle_status npy_write_file(const char *path, const ladle_tensor *t, errbuf *e);
/* Serialises t into a malloc'd buffer. */
ladle_status npy_write_buffer(const ladle_tensor *t, void **buf, size_t *len, errbuf *e);
void npy_tensor_free(ladle_tensor *t);

#endif

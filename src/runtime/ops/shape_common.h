/* shape_common.h — helpers shared by the data-movement kernels (shape.c, pad.c, gather.c,
 * generate.c); shape_copy.c defines them. They move elements as bytes of the dtype's size; string
 * tensors move their char * pointers like any 8-byte element and then take copies with
 * shape_own_strings(), so the session can free every output string on its own. */
#ifndef LADLE_RUNTIME_OPS_SHAPE_COMMON_H
#define LADLE_RUNTIME_OPS_SHAPE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/op.h"

/* Views built by the kernels (Tile, DepthToSpace) may have twice the tensor rank. */
#define SHAPE_VIEW_MAX (2 * LADLE_MAX_DIMS)

/* Normalises axis into [0, rank) (negative counts from the end); false when out of range. */
bool shape_axis(int64_t axis, int rank, int *out);

/* Copies the strided view of src (dims[0..ndim), strides in elements, which may be 0 for
 * broadcasting) into dst, which is contiguous in dims order. Contiguous inner rows become
 * memcpy, broadcast rows fills, and a view whose unit-stride axis is not the last one (a
 * transpose) is copied in cache tiles. Splits the work across the pool when it is large;
 * pool may be NULL. ndim <= SHAPE_VIEW_MAX. */
void shape_copy_strided(tpool *pool, void *dst, const void *src, int ndim, const int64_t *dims,
                        const int64_t *strides, size_t esz);

/* Fills n elements of esz bytes at dst with the element at val. */
void shape_fill(void *dst, const void *val, int64_t n, size_t esz);

/* For a string output whose elements were copied as pointers: replaces every pointer with a
 * copy of its string (NULL becomes ""). On allocation failure the elements not yet copied are
 * set to NULL and the op fails with LADLE_ERR_NOMEM. A no-op for other dtypes. */
ladle_status shape_own_strings(op_ctx *c, ladle_tensor *y);

/* Reads the integer tensor t (rank 0 or 1, any integer dtype) into out[0..max); *n gets its
 * length. Fails naming `what` when t is not an integer vector or longer than max. */
ladle_status shape_read_ints(op_ctx *c, const ladle_tensor *t, const char *what, int64_t max,
                             int64_t *out, int *n);

/* Input i into *t; fails when it is absent (shape.c, pad.c). */
static inline ladle_status shape_need_input(op_ctx *c, int i, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d is required", i);
  return LADLE_OK;
}

/* --- the rows of ops_shape[] that run outside shape.c ---------------------------------------- */

ladle_status pad_run_pad2(op_ctx *c);
ladle_status pad_run_pad11(op_ctx *c);

#endif

/* blas.c — row-major GEMM for the kernels outside the packed-weight engine (see blas.h).
 *
 * Blocking: op(B) is copied a tile at a time (KC rows × NB columns, zero-padded) into an aligned
 * stack buffer, then every MR-row strip of A runs over it with MR × NB accumulators held in
 * vector registers (GCC vector extensions: one AVX-512 register per vector here, split into
 * narrower ones by the compiler on CPUs without it). A C of fewer than MR rows (an RNN step at
 * batch 1) skips the copy: each element is a dot product or each row an axpy, read in place.
 * The same code serves float and double: blas_tmpl.h, included once for each. */
#include <stddef.h>
#include <string.h>

#include "runtime/ops/blas.h"

#define KC 128 /* rows of op(B) per tile */
#define MR 4   /* rows of C per strip */

#define NAME blas_sgemm
#define T float
#define LANES 16
#include "runtime/ops/blas_tmpl.h"

#define NAME blas_dgemm
#define T double
#define LANES 8
#include "runtime/ops/blas_tmpl.h"

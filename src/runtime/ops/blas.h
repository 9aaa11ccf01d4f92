/* blas.h — private to the rnn and einsum families: plain row-major GEMM in float and double.
 *
 * The AVX-512 engine in gemm_common.h serves Conv, Gemm and MatMul with weights packed at load;
 * these two routines serve the kernels whose operands change every call (an RNN's hidden state
 * times its recurrent weights each step, Einsum's permuted operands). They run on the calling
 * thread, allocate nothing (a fixed stack tile), and replace the OpenBLAS dependency ladle once
 * had for them (whose idle threads spun at every process start).
 *
 *   C[m×n] = alpha · op(A) · op(B) + beta · C
 *
 * op(A) is m×k: A[i*lda + p], or with ta A[p*lda + i]; op(B) is k×n: B[p*ldb + j], or with tb
 * B[j*ldb + p]. beta == 0 overwrites C without reading it (NaNs in C do not leak through). */
#ifndef LADLE_RUNTIME_OPS_BLAS_H
#define LADLE_RUNTIME_OPS_BLAS_H

#include <stdbool.h>
#include <stdint.h>

void blas_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
void blas_dgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc);

#endif

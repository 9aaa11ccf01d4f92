/* blas.c — row-major GEMM for the kernels outside the packed-weight engine (see blas.h).
 *
 * Blocking: op(B) is copied a tile at a time (KC rows × NB columns, zero-padded) into an aligned
 * stack buffer, then every MR-row strip of A runs over it with MR × NB accumulators held in
 * vector registers (GCC vector extensions: one AVX-512 register per vector here, split into
 * narrower ones by the compiler on CPUs without it). The same code serves float and double
 * through one macro. */
#include <stddef.h>
#include <string.h>

#include "runtime/ops/blas.h"

#define KC 128 /* rows of op(B) per tile */
#define MR 4   /* rows of C per strip */

#define DEFINE_GEMM(NAME, T, LANES)                                                              \
  typedef T NAME##_vec __attribute__((vector_size(sizeof(T) * (LANES))));                      \
  enum { NAME##_NB = 2 * (LANES) }; /* columns of C per tile: two vectors */                   \
                                                                                                 \
  void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a,            \
            int64_t lda, const T *b, int64_t ldb, T beta, T *c, int64_t ldc) {                 \
    if (m <= 0 || n <= 0) return;                                                               \
    for (int64_t i = 0; i < m; i++) {                                                           \
      T *ci = c + i * ldc;                                                                      \
      if (beta == 0) memset(ci, 0, sizeof(T) * (size_t)n);                                      \
      else if (beta != 1)                                                                       \
        for (int64_t j = 0; j < n; j++) ci[j] *= beta;                                          \
    }                                                                                           \
    if (k <= 0 || alpha == 0) return;                                                           \
    enum { NB = NAME##_NB, NV = 2 };                                                            \
    _Alignas(64) T tile[KC * NB];                                                               \
    for (int64_t j0 = 0; j0 < n; j0 += NB) {                                                    \
      int64_t nb = n - j0 < NB ? n - j0 : NB;                                                   \
      for (int64_t p0 = 0; p0 < k; p0 += KC) {                                                  \
        int64_t kc = k - p0 < KC ? k - p0 : KC;                                                 \
        for (int64_t p = 0; p < kc; p++) {                                                      \
          T *row = tile + p * NB;                                                               \
          if (tb)                                                                               \
            for (int64_t j = 0; j < nb; j++) row[j] = b[(j0 + j) * ldb + p0 + p];               \
          else                                                                                  \
            memcpy(row, b + (p0 + p) * ldb + j0, sizeof(T) * (size_t)nb);                       \
          for (int64_t j = nb; j < NB; j++) row[j] = 0;                                         \
        }                                                                                       \
        for (int64_t i0 = 0; i0 < m; i0 += MR) {                                                \
          int64_t mr = m - i0 < MR ? m - i0 : MR;                                               \
          const T *ar[MR];                                                                      \
          int64_t as = ta ? lda : 1; /* step along p */                                         \
          for (int r = 0; r < MR; r++) {                                                        \
            int64_t i = i0 + (r < mr ? r : 0); /* rows past m repeat row i0; never stored */   \
            ar[r] = ta ? a + p0 * lda + i : a + i * lda + p0;                                   \
          }                                                                                     \
          NAME##_vec acc[MR][NV];                                                               \
          memset(acc, 0, sizeof acc);                                                           \
          for (int64_t p = 0; p < kc; p++) {                                                    \
            NAME##_vec b0, b1;                                                                  \
            memcpy(&b0, tile + p * NB, sizeof b0);                                              \
            memcpy(&b1, tile + p * NB + NB / 2, sizeof b1);                                     \
            for (int r = 0; r < MR; r++) {                                                      \
              T av = ar[r][p * as];                                                             \
              acc[r][0] += av * b0;                                                             \
              acc[r][1] += av * b1;                                                             \
            }                                                                                   \
          }                                                                                     \
          for (int r = 0; r < mr; r++) {                                                        \
            T *cr = c + (i0 + r) * ldc + j0, sums[NB];                                          \
            memcpy(sums, acc[r], sizeof sums);                                                  \
            for (int64_t j = 0; j < nb; j++) cr[j] += alpha * sums[j];                          \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }

DEFINE_GEMM(blas_sgemm, float, 16)
DEFINE_GEMM(blas_dgemm, double, 8)

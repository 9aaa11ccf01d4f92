/* blas_tmpl.h — the body of blas.c's GEMM, written once for float and double: blas.c
 * includes it twice with NAME (the function), T (the element type) and LANES (elements per
 * vector register) defined, and it undefines them at the end. Not a header of its own: no
 * include guard, on purpose. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VEC CAT(NAME, _vec)
#define FEW_ROWS CAT(NAME, _few_rows)

typedef T VEC __attribute__((vector_size(sizeof(T) * (LANES))));

/* C += alpha · op(A) · op(B) without packing, for m < MR. */
static void FEW_ROWS(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a,
                     int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc) {
  int64_t as = ta ? lda : 1;
  for (int64_t i = 0; i < m; i++) {
    const T *ai = ta ? a + i : a + i * lda;
    T *ci = c + i * ldc;
    if (tb) { /* dot products of A's row with B's rows */
      int64_t j = 0;
      for (; k < (LANES) && j + 4 <= n; j += 4) { /* short: four chains side by side */
        const T *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t p = 0; p < k; p++) {
          T av = ai[p * as];
          s0 += av * b0[p];
          s1 += av * b1[p];
          s2 += av * b2[p];
          s3 += av * b3[p];
        }
        ci[j] += alpha * s0;
        ci[j + 1] += alpha * s1;
        ci[j + 2] += alpha * s2;
        ci[j + 3] += alpha * s3;
      }
      for (; j < n; j++) { /* long: LANES partial sums */
        const T *bj = b + j * ldb;
        T part[LANES] = {0}, s = 0;
        int64_t p = 0;
        if (as == 1)
          for (; p + (LANES) <= k; p += (LANES))
            for (int l = 0; l < (LANES); l++) part[l] += ai[p + l] * bj[p + l];
        for (; p < k; p++) s += ai[p * as] * bj[p];
        for (int l = 0; l < (LANES); l++) s += part[l];
        ci[j] += alpha * s;
      }
    } else { /* axpy of B's rows into C's row */
      for (int64_t p = 0; p < k; p++) {
        T av = alpha * ai[p * as];
        const T *bp = b + p * ldb;
        for (int64_t j = 0; j < n; j++) ci[j] += av * bp[j];
      }
    }
  }
}

void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a,
          int64_t lda, const T *b, int64_t ldb, T beta, T *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  for (int64_t i = 0; i < m; i++) {
    T *ci = c + i * ldc;
    if (beta == 0) memset(ci, 0, sizeof(T) * (size_t)n);
    else if (beta != 1)
      for (int64_t j = 0; j < n; j++) ci[j] *= beta;
  }
  if (k <= 0 || alpha == 0) return;
  if (m < MR) {
    FEW_ROWS(ta, tb, m, n, k, alpha, a, lda, b, ldb, c, ldc);
    return;
  }
  enum { NV = 2, NB = NV * (LANES) }; /* columns of C per tile: two vectors */
  _Alignas(64) T tile[KC * NB];
  for (int64_t j0 = 0; j0 < n; j0 += NB) {
    int64_t nb = n - j0 < NB ? n - j0 : NB;
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
      int64_t kc = k - p0 < KC ? k - p0 : KC;
      for (int64_t p = 0; p < kc; p++) {
        T *row = tile + p * NB;
        if (tb)
          for (int64_t j = 0; j < nb; j++) row[j] = b[(j0 + j) * ldb + p0 + p];
        else
          memcpy(row, b + (p0 + p) * ldb + j0, sizeof(T) * (size_t)nb);
        for (int64_t j = nb; j < NB; j++) row[j] = 0;
      }
      for (int64_t i0 = 0; i0 < m; i0 += MR) {
        int64_t mr = m - i0 < MR ? m - i0 : MR;
        const T *ar[MR];
        int64_t as = ta ? lda : 1; /* step along p */
        for (int r = 0; r < MR; r++) {
          int64_t i = i0 + (r < mr ? r : 0); /* rows past m repeat row i0; never stored */
          ar[r] = ta ? a + p0 * lda + i : a + i * lda + p0;
        }
        VEC acc[MR][NV];
        memset(acc, 0, sizeof acc);
        for (int64_t p = 0; p < kc; p++) {
          VEC b0, b1;
          memcpy(&b0, tile + p * NB, sizeof b0);
          memcpy(&b1, tile + p * NB + NB / 2, sizeof b1);
          for (int r = 0; r < MR; r++) {
            T av = ar[r][p * as];
            acc[r][0] += av * b0;
            acc[r][1] += av * b1;
          }
        }
        for (int r = 0; r < mr; r++) {
          T *cr = c + (i0 + r) * ldc + j0, sums[NB];
          memcpy(sums, acc[r], sizeof sums);
          for (int64_t j = 0; j < nb; j++) cr[j] += alpha * sums[j];
        }
      }
    }
  }
}

#undef FEW_ROWS
#undef VEC
#undef CAT
#undef CAT_
#undef NAME
#undef T
#undef LANES

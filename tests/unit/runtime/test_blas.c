/* test_blas.c — the row-major GEMM used by the RNN and Einsum kernels, against the textbook
 * triple loop in long double: every transposition, sizes around the tile edges (MR = 4 rows, 32/16
 * columns, 128-deep K blocks), alpha/beta, and beta = 0 ignoring garbage (NaN) in C. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "runtime/ops/blas.h"

static double rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return ((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

/* Largest |got - want| / (1 + |want|) over C, computing want in long double. */
static double check_case(bool dbl, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                         double beta, unsigned seed) {
  int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
  size_t na = (size_t)(ta ? k : m) * (size_t)lda + 1, nb = (size_t)(tb ? n : k) * (size_t)ldb + 1,
         nc = (size_t)m * (size_t)ldc + 1;
  double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c0 = malloc(nc * sizeof *c0);
  float *af = malloc(na * sizeof *af), *bf = malloc(nb * sizeof *bf), *cf = malloc(nc * sizeof *cf);
  double *cd = malloc(nc * sizeof *cd);
  for (size_t i = 0; i < na; i++) af[i] = (float)(a[i] = rnd(&seed));
  for (size_t i = 0; i < nb; i++) bf[i] = (float)(b[i] = rnd(&seed));
  for (size_t i = 0; i < nc; i++) c0[i] = beta == 0 ? NAN : rnd(&seed);
  for (size_t i = 0; i < nc; i++) {
    cf[i] = (float)c0[i];
    cd[i] = c0[i];
  }
  if (dbl)
    blas_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, cd, ldc);
  else
    blas_sgemm(ta, tb, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
  double worst = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      long double s = 0;
      for (int64_t p = 0; p < k; p++) {
        double x = dbl ? a[ta ? p * lda + i : i * lda + p] : af[ta ? p * lda + i : i * lda + p];
        double y = dbl ? b[tb ? j * ldb + p : p * ldb + j] : bf[tb ? j * ldb + p : p * ldb + j];
        s += (long double)x * y;
      }
      double cin = dbl ? c0[i * ldc + j] : (double)(float)c0[i * ldc + j];
      long double want = alpha * s + (beta == 0 ? 0 : beta * (long double)cin);
      double got = dbl ? cd[i * ldc + j] : cf[i * ldc + j];
      double err = fabs(got - (double)want) / (1 + fabs((double)want));
      if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
    }
  /* the padding column of C stays untouched */
  for (int64_t i = 0; i + 1 < m; i++) {
    double pad = dbl ? cd[i * ldc + n] : cf[i * ldc + n];
    double orig = dbl ? c0[i * ldc + n] : (float)c0[i * ldc + n];
    if (!(pad == orig || (isnan(pad) && isnan(orig)))) worst = INFINITY;
  }
  free(a), free(b), free(c0), free(af), free(bf), free(cf), free(cd);
  return worst;
}

int main(void) {
  const int64_t ms[] = {1, 3, 4, 5, 9}, ns[] = {1, 7, 16, 31, 32, 33, 70};
  const int64_t ks[] = {0, 1, 5, 128, 129, 300};
  const double ab[][2] = {{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}};
  unsigned seed = 1;
  double worst_f = 0, worst_d = 0;
  for (int dbl = 0; dbl < 2; dbl++)
    for (int t = 0; t < 4; t++)
      for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
          for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
            const double *x = ab[(mi + ni + ki) % 4];
            double w = check_case(dbl, t & 1, t & 2, ms[mi], ns[ni], ks[ki], x[0], x[1], seed++);
            if (dbl) worst_d = w > worst_d ? w : worst_d;
            else worst_f = w > worst_f ? w : worst_f;
          }
  fprintf(stderr, "worst relative error: float %.3g, double %.3g\n", worst_f, worst_d);
  CHECK(worst_f < 2e-5);
  CHECK(worst_d < 1e-13);
  /* m or n of zero touches nothing */
  float c = 7;
  blas_sgemm(false, false, 0, 1, 1, 1, NULL, 1, NULL, 1, 0, &c, 1);
  CHECK(c == 7);
  return check_done("test_blas");
}

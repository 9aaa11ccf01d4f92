/* reduce_common.h — float32 row primitives shared by the reduce, softmax and norm kernels.
 *
 * The row loops keep 32 independent float lanes, which the compiler turns into vector code
 * without -ffast-math (a single running sum would have to stay scalar to keep its rounding).
 * Sums go through blocks of RC_BLOCK elements whose float partial sums are added in double, so
 * a long reduction stays within about 1e-6 relative of numpy's pairwise summation.
 *
 * rc_parallel() splits `rows` rows over the session's pool only when the tensor is large
 * enough to pay for the dispatch (RC_PAR_MIN elements); the split depends on the row count and
 * size, never on the thread count, so results are the same whatever the number of threads. */
#ifndef LADLE_RUNTIME_OPS_REDUCE_COMMON_H
#define LADLE_RUNTIME_OPS_REDUCE_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/op.h"

#define RC_LANES 32 /* 4 chains of 8: enough to hide the add latency */
#define RC_BLOCK 1024
#define RC_PAR_MIN 65536       /* elements below which a kernel never dispatches threads */
#define RC_TASK_ELEMS 16384    /* about how many elements one parallel task handles */

#define RC_COMMA , /* passes ", float m" through a macro argument */

static inline double rc_fold8(const float *a8) {
  return (double)(((a8[0] + a8[4]) + (a8[2] + a8[6])) + ((a8[1] + a8[5]) + (a8[3] + a8[7])));
}

/* Adds the 32 lanes: four vector adds to 8 lanes, then a tree. */
static inline double rc_fold(const float *acc) {
  float a8[8];
  for (int j = 0; j < 8; j++) a8[j] = (acc[j] + acc[j + 8]) + (acc[j + 16] + acc[j + 24]);
  return rc_fold8(a8);
}

/* Defines double NAME(const float *x, int64_t n EXTRA): the blocked sum of TERM(x[i]). Inside a
 * block: 32 lanes, then 8, then a scalar tail, so short rows (7x7 = 49) stay mostly vector. */
#define RC_BLOCKED_SUM(NAME, EXTRA, TERM)                                       \
  static inline double NAME(const float *x, int64_t n EXTRA) {                 \
    double total = 0;                                                           \
    int64_t i = 0;                                                              \
    if (n < 2 * RC_LANES) { /* short rows: 8 lanes, a cheaper fold */           \
      float a8[8] = {0}, tail = 0;                                              \
      for (; i + 8 <= n; i += 8)                                                \
        for (int j = 0; j < 8; j++) a8[j] += TERM(x[i + j]);                    \
      for (; i < n; i++) tail += TERM(x[i]);                                    \
      return rc_fold8(a8) + tail;                                               \
    }                                                                           \
    while (i < n) {                                                             \
      int64_t end = n - i > RC_BLOCK ? i + RC_BLOCK : n;                        \
      float acc[RC_LANES] = {0};                                                \
      for (; i + RC_LANES <= end; i += RC_LANES)                                \
        for (int j = 0; j < RC_LANES; j++) acc[j] += TERM(x[i + j]);            \
      for (; i + 8 <= end; i += 8)                                              \
        for (int j = 0; j < 8; j++) acc[j] += TERM(x[i + j]);                   \
      float tail = 0;                                                           \
      for (; i < end; i++) tail += TERM(x[i]);                                  \
      total += rc_fold(acc) + tail;                                             \
    }                                                                           \
    return total;                                                               \
  }

#define RC_TERM_PLAIN(v) (v)
#define RC_TERM_ABS(v) fabsf(v)
#define RC_TERM_SQDEV(v) (((v) - m) * ((v) - m))

/* Sum of x[i]; of |x[i]|; of (x[i] - m)^2 (m = 0: the sum of squares). */
RC_BLOCKED_SUM(rc_sum_f32, , RC_TERM_PLAIN)
RC_BLOCKED_SUM(rc_sum_abs_f32, , RC_TERM_ABS)
RC_BLOCKED_SUM(rc_sum_sqdev_f32, RC_COMMA float m, RC_TERM_SQDEV)

/* Max and min keep 8-wide vector lanes written with GCC's vector extension: the compiler does
 * not turn a lane-array max into vector code by itself (it cannot prove NaN order is kept).
 * Macros rather than functions: passing these vectors by value changes the ABI without AVX. */
typedef float rc_v8f __attribute__((vector_size(32)));
typedef int32_t rc_v8i __attribute__((vector_size(32)));

/* a = per lane, u if u BETTER a else a (BETTER is > or <) */
#define RC_V8_KEEP(a, u, BETTER)                                                \
  do {                                                                          \
    rc_v8i take_ = (u)BETTER(a);                                                \
    (a) = (rc_v8f)((take_ & (rc_v8i)(u)) | (~take_ & (rc_v8i)(a)));             \
  } while (0)

#define RC_EXTREME_F32(NAME, BETTER)                                            \
  static inline float NAME(const float *x, int64_t n) {                        \
    float m = x[0];                                                             \
    int64_t i = 0;                                                              \
    if (n >= 16) {                                                              \
      rc_v8f a, b, u, v;                                                        \
      memcpy(&a, x, sizeof a);                                                  \
      memcpy(&b, x + 8, sizeof b);                                              \
      for (i = 16; i + 16 <= n; i += 16) {                                      \
        memcpy(&u, x + i, sizeof u);                                            \
        memcpy(&v, x + i + 8, sizeof v);                                        \
        RC_V8_KEEP(a, u, BETTER);                                               \
        RC_V8_KEEP(b, v, BETTER);                                               \
      }                                                                         \
      RC_V8_KEEP(a, b, BETTER);                                                 \
      for (int j = 0; j < 8; j++) m = a[j] BETTER m ? a[j] : m;                 \
    }                                                                           \
    for (; i < n; i++) m = x[i] BETTER m ? x[i] : m;                            \
    return m;                                                                   \
  }

/* Largest / smallest element of x[0..n), n >= 1 (NaNs are skipped unless x[0] is one). */
RC_EXTREME_F32(rc_max_f32, >)
RC_EXTREME_F32(rc_min_f32, <)

#ifdef __FMA__
#define RC_FMA(a, b, c) __builtin_fmaf(a, b, c)
#else
#define RC_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* e^x in float for x <= 88 (the callers pass x - max <= 0), branch-free so loops over it
 * vectorise: Cody-Waite reduction by ln 2 and Cephes' degree-6 polynomial, within 1 ulp.
 * Below -87.33 (where e^x leaves the normal floats) it returns 0; NaN stays NaN. */
static inline float rc_expf(float x) {
  float xc = x > -87.33654f ? x : -87.33654f; /* NaN takes the lower bound here */
  float n = RC_FMA(xc, 1.44269504f, 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
  float r = RC_FMA(n, -0.693359375f, xc);
  r = RC_FMA(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = RC_FMA(p, r, 1.3981999507e-3f);
  p = RC_FMA(p, r, 8.3334519073e-3f);
  p = RC_FMA(p, r, 4.1665795894e-2f);
  p = RC_FMA(p, r, 1.6666665459e-1f);
  p = RC_FMA(p, r, 5.0000001201e-1f);
  p = RC_FMA(p, r * r, r + 1.0f);
  int32_t en = ((int32_t)n + 127) << 23; /* 2^n; n is in [-126, 127] for x <= 88 */
  float scale;
  memcpy(&scale, &en, sizeof scale);
  float y = p * scale;
  y = x < -87.33654f ? 0.0f : y;
  return x != x ? x : y;
}

#define RC_TERM_EXP(v) rc_expf((v) - m)

/* Sum of e^(x[i] - m). */
RC_BLOCKED_SUM(rc_sum_exp_f32, RC_COMMA float m, RC_TERM_EXP)

/* y[i] = e^(x[i] - m); returns the sum of y, blocked like the sums above. One pass: 8 lanes
 * are enough, the exponential hides the add latency. */
static inline double rc_exp_shift_f32(const float *x, float *y, int64_t n, float m) {
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    int64_t end = n - i > RC_BLOCK ? i + RC_BLOCK : n;
    float a8[8] = {0}, tail = 0;
    for (; i + 8 <= end; i += 8)
      for (int j = 0; j < 8; j++) {
        float e = rc_expf(x[i + j] - m);
        y[i + j] = e;
        a8[j] += e;
      }
    for (; i < end; i++) {
      y[i] = rc_expf(x[i] - m);
      tail += y[i];
    }
    total += rc_fold8(a8) + tail;
  }
  return total;
}

/* --- parallel rows --------------------------------------------------------------------------- */

typedef void (*rc_rows_fn)(void *arg, int64_t row0, int64_t row1);

typedef struct rc_split {
  rc_rows_fn fn;
  void *arg;
  int64_t rows, per_task;
} rc_split;

static inline void rc_split_task(void *arg, int64_t t) {
  const rc_split *s = arg;
  int64_t r0 = t * s->per_task, r1 = r0 + s->per_task;
  if (r1 > s->rows) r1 = s->rows;
  s->fn(s->arg, r0, r1);
}

/* Calls fn(arg, r0, r1) over [0, rows) in ranges; in parallel when rows * row_elems is large. */
static inline void rc_parallel(op_ctx *c, int64_t rows, int64_t row_elems, rc_rows_fn fn,
                               void *arg) {
  if (rows <= 0) return;
  int64_t total = rows * (row_elems > 0 ? row_elems : 1);
  if (rows == 1 || total < RC_PAR_MIN || op_threads(c) <= 1) {
    fn(arg, 0, rows);
    return;
  }
  int64_t per = RC_TASK_ELEMS / (row_elems > 0 ? row_elems : 1);
  if (per < 1) per = 1;
  rc_split s = {fn, arg, rows, per};
  tpool_run(op_pool(c), (rows + per - 1) / per, rc_split_task, &s);
}

/* Normalises an axis in [-rank, rank) (or [-rank, rank] when allow_end); false if outside. */
static inline bool rc_axis(int64_t axis, int rank, bool allow_end, int *out) {
  int64_t hi = allow_end ? rank : rank - 1;
  if (axis < -rank || axis > hi) return false;
  *out = (int)(axis < 0 ? axis + rank : axis);
  return true;
}

/* Product of dims[a..b). */
static inline int64_t rc_span(const int64_t *dims, int a, int b) {
  int64_t p = 1;
  for (int i = a; i < b; i++) p *= dims[i];
  return p;
}

#endif

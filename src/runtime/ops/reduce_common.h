/* reduce_common.h — float32 row primitives shared by the reduce, softmax and norm kernels.
 *
 * The row loops keep 16 independent float lanes, which the compiler turns into vector code
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

#define RC_LANES 16
#define RC_BLOCK 1024
#define RC_PAR_MIN 65536       /* elements below which a kernel never dispatches threads */
#define RC_TASK_ELEMS 16384    /* about how many elements one parallel task handles */

/* Sum of x[0..n), blocked: float lanes inside a block, double across blocks. */
static inline double rc_sum_f32(const float *x, int64_t n) {
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    int64_t end = n - i > RC_BLOCK ? i + RC_BLOCK : n;
    float acc[RC_LANES] = {0};
    for (; i + RC_LANES <= end; i += RC_LANES)
      for (int j = 0; j < RC_LANES; j++) acc[j] += x[i + j];
    float tail = 0;
    for (; i < end; i++) tail += x[i];
    for (int j = 0; j < RC_LANES / 2; j++) acc[j] += acc[j + RC_LANES / 2];
    for (int j = 0; j < RC_LANES / 4; j++) acc[j] += acc[j + RC_LANES / 4];
    total += (double)(acc[0] + acc[1] + acc[2] + acc[3]) + tail;
  }
  return total;
}

/* Sum of |x[i]|. */
static inline double rc_sum_abs_f32(const float *x, int64_t n) {
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    int64_t end = n - i > RC_BLOCK ? i + RC_BLOCK : n;
    float acc[RC_LANES] = {0};
    for (; i + RC_LANES <= end; i += RC_LANES)
      for (int j = 0; j < RC_LANES; j++) acc[j] += fabsf(x[i + j]);
    float tail = 0;
    for (; i < end; i++) tail += fabsf(x[i]);
    for (int j = 0; j < RC_LANES / 2; j++) acc[j] += acc[j + RC_LANES / 2];
    for (int j = 0; j < RC_LANES / 4; j++) acc[j] += acc[j + RC_LANES / 4];
    total += (double)(acc[0] + acc[1] + acc[2] + acc[3]) + tail;
  }
  return total;
}

/* Sum of (x[i] - m)^2 (m = 0 gives the sum of squares). */
static inline double rc_sum_sqdev_f32(const float *x, int64_t n, float m) {
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    int64_t end = n - i > RC_BLOCK ? i + RC_BLOCK : n;
    float acc[RC_LANES] = {0};
    for (; i + RC_LANES <= end; i += RC_LANES)
      for (int j = 0; j < RC_LANES; j++) {
        float d = x[i + j] - m;
        acc[j] += d * d;
      }
    float tail = 0;
    for (; i < end; i++) tail += (x[i] - m) * (x[i] - m);
    for (int j = 0; j < RC_LANES / 2; j++) acc[j] += acc[j + RC_LANES / 2];
    for (int j = 0; j < RC_LANES / 4; j++) acc[j] += acc[j + RC_LANES / 4];
    total += (double)(acc[0] + acc[1] + acc[2] + acc[3]) + tail;
  }
  return total;
}

/* Max and min keep 8-wide vector lanes written with GCC's vector extension: the compiler does
 * not turn a lane-array max into vector code by itself (it cannot prove NaN order is kept). */
typedef float rc_v8f __attribute__((vector_size(32)));
typedef int32_t rc_v8i __attribute__((vector_size(32)));

static inline rc_v8f rc_v8_load(const float *p) {
  rc_v8f v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Per lane: a if keep_a else b. */
static inline rc_v8f rc_v8_select(rc_v8i keep_a, rc_v8f a, rc_v8f b) {
  return (rc_v8f)((keep_a & (rc_v8i)a) | (~keep_a & (rc_v8i)b));
}

/* Largest element of x[0..n), n >= 1 (NaNs are skipped unless x[0] is one). */
static inline float rc_max_f32(const float *x, int64_t n) {
  float m = x[0];
  int64_t i = 0;
  if (n >= 16) {
    rc_v8f a = rc_v8_load(x), b = rc_v8_load(x + 8);
    for (i = 16; i + 16 <= n; i += 16) {
      rc_v8f u = rc_v8_load(x + i), v = rc_v8_load(x + i + 8);
      a = rc_v8_select(u > a, u, a);
      b = rc_v8_select(v > b, v, b);
    }
    a = rc_v8_select(b > a, b, a);
    for (int j = 0; j < 8; j++) m = a[j] > m ? a[j] : m;
  }
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

/* Smallest element of x[0..n), n >= 1. */
static inline float rc_min_f32(const float *x, int64_t n) {
  float m = x[0];
  int64_t i = 0;
  if (n >= 16) {
    rc_v8f a = rc_v8_load(x), b = rc_v8_load(x + 8);
    for (i = 16; i + 16 <= n; i += 16) {
      rc_v8f u = rc_v8_load(x + i), v = rc_v8_load(x + i + 8);
      a = rc_v8_select(u < a, u, a);
      b = rc_v8_select(v < b, v, b);
    }
    a = rc_v8_select(b < a, b, a);
    for (int j = 0; j < 8; j++) m = a[j] < m ? a[j] : m;
  }
  for (; i < n; i++) m = x[i] < m ? x[i] : m;
  return m;
}

/* e^x in float, branch-free so loops over it vectorise: Cody-Waite reduction by ln 2 and
 * Cephes' degree-6 polynomial, about 1 ulp on [-87.3, 88.7]. Below that it returns 0, above
 * it +inf, and NaN stays NaN. */
static inline float rc_expf(float x) {
  float xc = x > -87.33654f ? x : -87.33654f; /* NaN takes the lower bound here */
  xc = xc < 88.72283f ? xc : 88.72283f;
  float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  /* n is in [-126, 128]; 2^128 has no exponent field, so it is built as 2^127 * 2 */
  int32_t en = n > 127.0f ? 254 << 23 : ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &en, sizeof scale);
  float y = p * scale;
  y = n > 127.0f ? y * 2.0f : y;
  y = x < -87.33654f ? 0.0f : y;
  y = x > 88.72283f ? INFINITY : y;
  return x != x ? x : y;
}

/* Sum of e^(x[i] - m), blocked like rc_sum_f32. */
static inline double rc_sum_exp_f32(const float *x, int64_t n, float m) {
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    int64_t end = n - i > RC_BLOCK ? i + RC_BLOCK : n;
    float acc[RC_LANES] = {0};
    for (; i + RC_LANES <= end; i += RC_LANES)
      for (int j = 0; j < RC_LANES; j++) acc[j] += rc_expf(x[i + j] - m);
    float tail = 0;
    for (; i < end; i++) tail += rc_expf(x[i] - m);
    for (int j = 0; j < RC_LANES / 2; j++) acc[j] += acc[j + RC_LANES / 2];
    for (int j = 0; j < RC_LANES / 4; j++) acc[j] += acc[j + RC_LANES / 4];
    total += (double)(acc[0] + acc[1] + acc[2] + acc[3]) + tail;
  }
  return total;
}

/* y[i] = e^(x[i] - m); returns the sum of y. */
static inline double rc_exp_shift_f32(const float *x, float *y, int64_t n, float m) {
  for (int64_t i = 0; i < n; i++) y[i] = rc_expf(x[i] - m);
  return rc_sum_f32(y, n);
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

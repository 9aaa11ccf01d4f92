/* ew_common.h — private to the elementwise family (elementwise.c, activation.c, logic.c,
 * cast.c): the broadcast engine, the threading rule, dtype dispatch helpers and float32 math
 * that the compiler can vectorise.
 *
 * The broadcast engine (ew_nary) reduces every input to strides over the output shape, drops
 * size-1 dims and merges neighbouring dims that are contiguous for every input. The common
 * cases then become one row loop: same shape → one row with both inputs contiguous; a scalar
 * operand → one row with stride 0; [N,C,H,W]+[C,1,1] → rows of H*W with a scalar operand;
 * [B,S,D]+[D] → rows of D with both contiguous. A row callback sees each input's inner stride
 * (0 or 1) and picks a tight loop for it. */
#ifndef LADLE_RUNTIME_OPS_EW_COMMON_H
#define LADLE_RUNTIME_OPS_EW_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/op.h"

/* Below this many output elements a kernel runs on the calling thread: waking workers costs
 * more than the work. */
#define EW_PAR_MIN 65536
/* Most inputs any elementwise op broadcasts at once (Where: 3). */
#define EW_MAX_IN 3

/* How a binary row reads its operands: both contiguous, b scalar, or a scalar. */
enum { EW_VV = 0, EW_VS = 1, EW_SV = 2 };

/* y[0..n) = a op b for one row; mode says which operand is a broadcast scalar. */
typedef void (*ew_bin_fn)(const void *a, const void *b, void *y, int64_t n, int mode);
/* One row of a k-input op: in[j] points at input j's first element of the row, stride[j] is
 * its step in elements (0 or 1), out the row's first output element. */
typedef void (*ew_row_fn)(const void *ctx, const char *const *in, const int64_t *stride,
                          char *out, int64_t n);
/* A range [lo, hi) of a flat loop. */
typedef void (*ew_range_fn)(const void *ctx, int64_t lo, int64_t hi);

/* Multidirectional broadcast of the shapes of in[0..n) (NULL entries skipped) into ndim/dims;
 * fails with a message naming both shapes. */
ladle_status ew_bcast_shape(op_ctx *c, int n, const ladle_tensor *const *in, int *ndim,
                            int64_t *dims);
/* Opset 1-6 broadcasting (attributes broadcast, axis): when broadcast=1, rewrites b's shape so
 * that its dims line up with a's at `axis` (default: at the end). */
ladle_status ew_legacy_bcast(op_ctx *c, const ladle_tensor *a, ladle_tensor *b);
/* Runs row over y (already shaped as the broadcast of in[0..k)), threaded when large. */
void ew_nary(op_ctx *c, int k, const ladle_tensor *const *in, ladle_tensor *y, ew_row_fn row,
             const void *ctx);
/* y = fn(a, b) with broadcasting; y already shaped. */
void ew_binary(op_ctx *c, const ladle_tensor *a, const ladle_tensor *b, ladle_tensor *y,
               ew_bin_fn fn);
/* Calls fn over [0, n) in ranges, across the pool when n is large. */
void ew_parallel(op_ctx *c, int64_t n, ew_range_fn fn, const void *ctx);

/* Unary float op: f32 and f64 loops (y may not alias x); float16 / bfloat16 go through f32. */
typedef void (*ew_un_f32)(const float *x, float *y, int64_t n, const float *p);
typedef void (*ew_un_f64)(const double *x, double *y, int64_t n, const float *p);
/* Shapes output 0 like input 0 and applies the loop matching its dtype; p holds up to four
 * attribute values. Fails on a dtype the op does not take. */
ladle_status ew_unary_float(op_ctx *c, ew_un_f32 f32, ew_un_f64 f64, const float *p);

/* Unary op over any dtype: one loop per input dtype (tables indexed by dtype). */
typedef void (*ew_map_fn)(const void *x, void *y, int64_t n, const float *p);
/* Applies tbl[dtype of input 0] into output 0 (of out_dtype, or the input's when 0); p holds
 * attribute values for the loop. Fails on a dtype without a loop. */
ladle_status ew_map(op_ctx *c, const ew_map_fn *tbl, int out_dtype, const float *p);

/* Copies n elements of dtype (strings duplicated); false when a string cannot be copied. */
bool ew_copy(int dtype, const void *src, void *dst, int64_t n);

/* --- dtype helpers ------------------------------------------------------------------------ */

/* Element count of a tensor the session has already validated (an input or an op_out result):
 * a plain product, without shape_numel's overflow divisions, which cost more than a small
 * kernel. */
static inline int64_t ew_numel(const ladle_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
  return n;
}

/* Table slot of a dtype (tables have EW_NTYPES entries, NULL where unsupported). */
#define EW_NTYPES 17
static inline int ew_slot(int dtype) { return dtype > 0 && dtype < EW_NTYPES ? dtype : 0; }

/* double -> integer without undefined behaviour: NaN gives 0, out-of-range values saturate. */
static inline int64_t ew_f64_to_i64(double v) {
  if (!(v == v)) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}
static inline uint64_t ew_f64_to_u64(double v) {
  if (!(v == v)) return 0;
  if (v >= 18446744073709551615.0) return UINT64_MAX;
  if (v < 0) return (uint64_t)ew_f64_to_i64(v); /* wraps, like a C cast through int64 */
  return (uint64_t)v;
}

/* --- kernel generators ------------------------------------------------------------------
 * A family file writes one expression per op and gets one loop per dtype, collected into a
 * table indexed by dtype (EW_TBL_*). */

#define EW_ID(v) (v)

/* Loops that compute more than they move (the polynomial math) run twice as many lanes with
 * 512-bit vectors where the CPU has them; GCC defaults to 256 for -march=native. */
#if defined(__AVX512F__)
#define EW_WIDE __attribute__((target("prefer-vector-width=512")))
#else
#define EW_WIDE
#endif

/* Binary row kernel: x0, x1 are the operands in the compute type CT, EXPR the result. LD / ST
 * convert the storage type T to CT and back (float16 / bfloat16 compute in float). */
#define EW_BIN_LOOP(name, T, CT, LD, ST, EXPR)                                      \
  static void name(const void *pa, const void *pb, void *py, int64_t n, int mode) { \
    const T *a = pa, *b = pb;                                                       \
    T *y = py;                                                                      \
    if (mode == EW_VV) {                                                            \
      for (int64_t i = 0; i < n; i++) {                                             \
        CT x0 = LD(a[i]), x1 = LD(b[i]);                                            \
        y[i] = ST(EXPR);                                                            \
      }                                                                             \
    } else if (mode == EW_VS) {                                                     \
      CT x1 = LD(b[0]);                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        CT x0 = LD(a[i]);                                                           \
        y[i] = ST(EXPR);                                                            \
      }                                                                             \
    } else {                                                                        \
      CT x0 = LD(a[0]);                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        CT x1 = LD(b[i]);                                                           \
        y[i] = ST(EXPR);                                                            \
      }                                                                             \
    }                                                                               \
  }

/* Unary map loop (an ew_map_fn): v is the element in compute type CT, EXPR the result. */
#define EW_MAP_LOOP(name, TI, TO, CT, LD, EXPR)                           \
  static void name(const void *px, void *py, int64_t n, const float *p) { \
    const TI *x = px;                                                     \
    TO *y = py;                                                           \
    (void)p;                                                              \
    for (int64_t i = 0; i < n; i++) {                                     \
      CT v = LD(x[i]);                                                    \
      y[i] = (EXPR);                                                      \
    }                                                                     \
  }

/* Float unary loops name_f32 / name_f64 (for ew_unary_float) from expressions of v; p[0], p[1]
 * hold the op's attributes (copied to locals so the compiler knows y does not overwrite them). */
#define EW_UNARY_LOOPS(name, E32, E64)                                                \
  EW_WIDE static void name##_f32(const float *x, float *y, int64_t n, const float *attrs) { \
    const float p[4] = {attrs ? attrs[0] : 0, attrs ? attrs[1] : 0}; /* not aliased */ \
    (void)p;                                                                          \
    for (int64_t i = 0; i < n; i++) {                                                 \
      float v = x[i];                                                                 \
      y[i] = (E32);                                                                   \
    }                                                                                 \
  }                                                                                   \
  static void name##_f64(const double *x, double *y, int64_t n, const float *attrs) { \
    const double p[4] = {attrs ? attrs[0] : 0, attrs ? attrs[1] : 0};                 \
    (void)p;                                                                          \
    for (int64_t i = 0; i < n; i++) {                                                 \
      double v = x[i];                                                                \
      y[i] = (E64);                                                                   \
    }                                                                                 \
  }

/* X(suffix, storage type, compute type, load, store) */
#define EW_FLOAT_TYPES(X)                    \
  X(f32, float, float, EW_ID, EW_ID)         \
  X(f64, double, double, EW_ID, EW_ID)       \
  X(f16, uint16_t, float, half_to_float, float_to_half) \
  X(bf16, uint16_t, float, bfloat16_to_float, float_to_bfloat16)
/* X(suffix, type, unsigned type to compute in: wide enough never to promote to int) */
#define EW_SINT_TYPES(X) \
  X(i8, int8_t, uint32_t) X(i16, int16_t, uint32_t) X(i32, int32_t, uint32_t) X(i64, int64_t, uint64_t)
#define EW_UINT_TYPES(X) \
  X(u8, uint8_t, uint32_t) X(u16, uint16_t, uint32_t) X(u32, uint32_t, uint32_t) X(u64, uint64_t, uint64_t)

#define EW_TBL_FLOAT(p) \
  [LADLE_FLOAT] = p##_f32, [LADLE_DOUBLE] = p##_f64, [LADLE_FLOAT16] = p##_f16, [LADLE_BFLOAT16] = p##_bf16
#define EW_TBL_SINT(p) \
  [LADLE_INT8] = p##_i8, [LADLE_INT16] = p##_i16, [LADLE_INT32] = p##_i32, [LADLE_INT64] = p##_i64
#define EW_TBL_UINT(p) \
  [LADLE_UINT8] = p##_u8, [LADLE_UINT16] = p##_u16, [LADLE_UINT32] = p##_u32, [LADLE_UINT64] = p##_u64
#define EW_TBL_ALL(p) EW_TBL_FLOAT(p), EW_TBL_SINT(p), EW_TBL_UINT(p)

/* --- float32 math that vectorises --------------------------------------------------------
 * Branch-free (both sides of every choice are computed and selected), fmaf for the
 * polynomials (ISO C mode does not contract a*b+c). Coefficients are minimax fits made for
 * ladle; tests/unit/runtime/test_elementwise.c checks them against libm over wide ranges. */

static inline uint32_t ew_f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float ew_u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* e^x, within 2 ulp; overflows to inf above 88.72, underflows to 0 (through subnormals). */
static inline float ew_expf(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float xc = x > 88.8f ? 88.8f : x;
  xc = xc < -104.0f ? -104.0f : xc;
  float t = fmaf(xc, 1.44269504088896341f, magic);
  float n = t - magic;
  int32_t ni = (int32_t)(ew_f2u(t) - ew_f2u(magic)); /* n as an integer, no float->int cast */
  float r = fmaf(n, -0.693145751953125f, xc);         /* ln2 split in two for exactness */
  r = fmaf(n, -1.428606765330187045e-6f, r);
  float p = 0.0013836830026596164f;
  p = fmaf(p, r, 0.008374815715110956f);
  p = fmaf(p, r, 0.041668225854694776f);
  p = fmaf(p, r, 0.16666420171184812f);
  p = fmaf(p, r, 0.49999992078550515f);
  p = fmaf(p, r, 1.0000000363228003f);
  p = fmaf(p, r, 1.0f);
  /* 2^n in two factors so that n down to -150 and up to 128 stays exact */
  int32_t n1 = ni >> 1, n2 = ni - n1;
  float s1 = ew_u2f((uint32_t)(n1 + 127) << 23), s2 = ew_u2f((uint32_t)(n2 + 127) << 23);
  float y = p * s1 * s2;
  return x != x ? x : y;
}

static inline float ew_sigmoidf(float x) { return 1.0f / (1.0f + ew_expf(-x)); }

/* tanh: odd polynomial below 0.625, 1 - 2/(e^2x + 1) above. */
static inline float ew_tanhf(float x) {
  float ax = fabsf(x);
  float u = ax * ax;
  float p = -0.005577904544835011f;
  p = fmaf(p, u, 0.02051019460735012f);
  p = fmaf(p, u, -0.05369365790276326f);
  p = fmaf(p, u, 0.1333076981855122f);
  p = fmaf(p, u, -0.33333249310997515f);
  float small = fmaf(p * u, ax, ax);
  float big = 1.0f - 2.0f / (ew_expf(2.0f * ax) + 1.0f);
  float y = ax < 0.625f ? small : big;
  return copysignf(y, x);
}

/* erf: x * P(x^2) below 1, 1 - e^(-x^2) R(x) up to 3.92, 1 above (erfc < half an ulp). */
static inline float ew_erff(float x) {
  float ax = fabsf(x);
  float u = ax * ax;
  float p = 7.854218962879197e-05f;
  p = fmaf(p, u, -0.0008010310588044904f);
  p = fmaf(p, u, 0.0051883424127414195f);
  p = fmaf(p, u, -0.026853820844842117f);
  p = fmaf(p, u, 0.11283585410848608f);
  p = fmaf(p, u, -0.37612625857299437f);
  p = fmaf(p, u, 1.1283791657385442f);
  float small = p * ax;
  float axc = ax > 3.92f ? 3.92f : (ax < 1.0f ? 1.0f : ax);
  float t = (axc - 2.46f) * (1.0f / 1.46f); /* [1, 3.92] onto [-1, 1] */
  float q = 7.529048595523491e-05f;
  q = fmaf(q, t, -0.00020907754235031725f);
  q = fmaf(q, t, 0.00034285912984685185f);
  q = fmaf(q, t, -0.0008357180896750355f);
  q = fmaf(q, t, 0.0022167612186400386f);
  q = fmaf(q, t, -0.005248362568294657f);
  q = fmaf(q, t, 0.011899632658905987f);
  q = fmaf(q, t, -0.026162019183183498f);
  q = fmaf(q, t, 0.05525594189951622f);
  q = fmaf(q, t, -0.11151717979610475f);
  q = fmaf(q, t, 0.21382068177822602f);
  float big = 1.0f - ew_expf(-axc * axc) * q;
  float y = ax < 1.0f ? small : (ax > 3.92f ? 1.0f : big);
  y = x != x ? x : y;
  return copysignf(y, x);
}

#endif

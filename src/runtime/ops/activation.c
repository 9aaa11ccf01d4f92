/* activation.c — activation functions: Relu and its variants, Sigmoid / Tanh and the smooth
 * ones, Clip, Shrink, PRelu.
 *
 * float32 loops are written so that the compiler vectorises them (Sigmoid, Tanh use the
 * polynomial math of ew_common.h); float16 / bfloat16 go through float32, double uses libm. */
#include <float.h>

#include "runtime/ops/ew_common.h"

/* An activation whose attributes name##_attrs reads into p[0..1] (NULL: none). */
#define ACT(name, E32, E64)      \
  EW_UNARY_LOOPS(name, E32, E64) \
  static ladle_status run_##name(op_ctx *c) { return act_run(c, name##_f32, name##_f64, name##_attrs); }

static ladle_status act_run(op_ctx *c, ew_un_f32 f32, ew_un_f64 f64,
                            void (*attrs)(const node *n, float *p)) {
  float p[4] = {0};
  if (attrs) attrs(op_node(c), p);
  return ew_unary_float(c, f32, f64, p);
}

static void alpha_attrs(const node *n, float *p, float alpha) { p[0] = node_attr_float(n, "alpha", alpha); }

/* --- attribute readers (defaults from the ONNX spec) -------------------------------------- */
#define relu_attrs NULL
#define sigmoid_attrs NULL
#define tanh_attrs NULL
#define softplus_attrs NULL
#define softsign_attrs NULL
#define mish_attrs NULL
static void leaky_relu_attrs(const node *n, float *p) { alpha_attrs(n, p, 0.01f); }
static void elu_attrs(const node *n, float *p) { alpha_attrs(n, p, 1.0f); }
static void celu_attrs(const node *n, float *p) { alpha_attrs(n, p, 1.0f); }
static void thresholded_relu_attrs(const node *n, float *p) { alpha_attrs(n, p, 1.0f); }
static void selu_attrs(const node *n, float *p) {
  p[0] = node_attr_float(n, "alpha", 1.67326319217681884765625f);
  p[1] = node_attr_float(n, "gamma", 1.05070102214813232421875f);
}
static void hard_sigmoid_attrs(const node *n, float *p) {
  p[0] = node_attr_float(n, "alpha", 0.2f);
  p[1] = node_attr_float(n, "beta", 0.5f);
}
static void hard_swish_attrs(const node *n, float *p) {
  (void)n;
  p[0] = 1.0f / 6.0f;
  p[1] = 0.5f;
}
static void shrink_attrs(const node *n, float *p) {
  p[0] = node_attr_float(n, "lambd", 0.5f);
  p[1] = node_attr_float(n, "bias", 0.0f);
}

/* Relu keeps NaN (NaN < 0 is false), like numpy's maximum. */
ACT(relu, v < 0.0f ? 0.0f : v, v < 0.0 ? 0.0 : v)
ACT(leaky_relu, v < 0.0f ? p[0] * v : v, v < 0.0 ? p[0] * v : v)
ACT(elu, v < 0.0f ? p[0] * expm1f(v) : v, v < 0.0 ? p[0] * expm1(v) : v)
ACT(selu, v > 0.0f ? p[1] * v : p[1] * p[0] * expm1f(v), v > 0.0 ? p[1] * v : (double)p[1] * p[0] * expm1(v))
ACT(celu, v > 0.0f ? v : p[0] * expm1f(v / p[0]), v > 0.0 ? v : p[0] * expm1(v / p[0]))
ACT(thresholded_relu, v > p[0] ? v : 0.0f, v > p[0] ? v : 0.0)
ACT(sigmoid, ew_sigmoidf(v), 1.0 / (1.0 + exp(-v)))
/* clamp01 with selects, which vectorise where fminf / fmaxf do not */
static inline float clamp01f(float t) { return t > 1.0f ? 1.0f : (t < 0.0f ? 0.0f : t); }
static inline double clamp01(double t) { return t > 1.0 ? 1.0 : (t < 0.0 ? 0.0 : t); }
ACT(hard_sigmoid, clamp01f(fmaf(p[0], v, p[1])), clamp01(p[0] * v + p[1]))
ACT(hard_swish, v * clamp01f(fmaf(p[0], v, p[1])), v * clamp01(v / 6.0 + 0.5))
ACT(tanh, ew_tanhf(v), tanh(v))
/* log(1 + e^v) without overflow: v + log1p(e^-v) for positive v */
ACT(softplus, v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v)), v > 0.0 ? v + log1p(exp(-v)) : log1p(exp(v)))
ACT(softsign, v / (1.0f + fabsf(v)), v / (1.0 + fabs(v)))
ACT(mish, v * tanhf(v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v))),
    v * tanh(v > 0.0 ? v + log1p(exp(-v)) : log1p(exp(v))))
ACT(shrink, v < -p[0] ? v + p[1] : (v > p[0] ? v - p[1] : 0.0f),
    v < -p[0] ? v + p[1] : (v > p[0] ? v - p[1] : 0.0))

/* Relu over signed integers (opset 14). */
#define RELU_S(s, T, UT) EW_MAP_LOOP(irelu_##s, T, T, T, EW_ID, v < 0 ? (T)0 : v)
EW_SINT_TYPES(RELU_S)
static const ew_map_fn irelu_fns[EW_NTYPES] = {EW_TBL_SINT(irelu)};

static ladle_status run_relu_any(op_ctx *c) {
  const ladle_tensor *x = op_in(c, 0);
  if (x && !dtype_is_float(x->dtype)) return ew_map(c, irelu_fns, 0, NULL);
  return run_relu(c);
}

/* --- Clip --------------------------------------------------------------------------------- */

typedef struct clip_job {
  const void *x;
  void *y;
  int dtype;
  double lo, hi;      /* float types */
  int64_t ilo, ihi;   /* signed integers */
  uint64_t ulo, uhi;  /* unsigned integers */
} clip_job;

/* numpy's order: min(max(v, lo), hi), so lo > hi gives hi; NaN stays NaN. */
#define CLIP_LOOP(T, LO, HI)                   \
  do {                                         \
    const T *x = (const T *)j->x + lo;         \
    T *y = (T *)j->y + lo;                     \
    T l = (T)(LO), h = (T)(HI);                \
    for (int64_t i = 0; i < hi - lo; i++) {    \
      T v = x[i] < l ? l : x[i];               \
      y[i] = v > h ? h : v;                    \
    }                                          \
  } while (0)

static void clip_range(const void *ctx, int64_t lo, int64_t hi) {
  const clip_job *j = ctx;
  switch (j->dtype) {
    case LADLE_FLOAT: CLIP_LOOP(float, j->lo, j->hi); break;
    case LADLE_DOUBLE: CLIP_LOOP(double, j->lo, j->hi); break;
    case LADLE_INT8: CLIP_LOOP(int8_t, j->ilo, j->ihi); break;
    case LADLE_INT16: CLIP_LOOP(int16_t, j->ilo, j->ihi); break;
    case LADLE_INT32: CLIP_LOOP(int32_t, j->ilo, j->ihi); break;
    case LADLE_INT64: CLIP_LOOP(int64_t, j->ilo, j->ihi); break;
    case LADLE_UINT8: CLIP_LOOP(uint8_t, j->ulo, j->uhi); break;
    case LADLE_UINT16: CLIP_LOOP(uint16_t, j->ulo, j->uhi); break;
    case LADLE_UINT32: CLIP_LOOP(uint32_t, j->ulo, j->uhi); break;
    case LADLE_UINT64: CLIP_LOOP(uint64_t, j->ulo, j->uhi); break;
    default: { /* float16 / bfloat16 */
      const uint16_t *x = (const uint16_t *)j->x + lo;
      uint16_t *y = (uint16_t *)j->y + lo;
      bool half = j->dtype == LADLE_FLOAT16;
      for (int64_t i = 0; i < hi - lo; i++) {
        float v = half ? half_to_float(x[i]) : bfloat16_to_float(x[i]);
        v = v < j->lo ? (float)j->lo : v;
        v = v > j->hi ? (float)j->hi : v;
        y[i] = half ? float_to_half(v) : float_to_bfloat16(v);
      }
    }
  }
}

/* Integer bounds of a type, for the defaults of absent min / max. */
static void int_range(int dt, int64_t *lo, int64_t *hi, uint64_t *uhi) {
  int bits = (int)ladle_dtype_size(dt) * 8;
  *uhi = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
  *hi = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
  *lo = -*hi - 1;
}

/* Reads an optional scalar bound (input i) of x's type into the job. */
static ladle_status clip_bound(op_ctx *c, int i, const ladle_tensor *x, clip_job *j) {
  const ladle_tensor *b = op_in(c, i);
  if (!b) return LADLE_OK;
  if (ew_numel(b) != 1)
    return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar, has %lld elements", i == 1 ? "min" : "max",
                   (long long)ew_numel(b));
  if (b->dtype != x->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "%s is %s, input %s", i == 1 ? "min" : "max",
                   ladle_dtype_name(b->dtype), ladle_dtype_name(x->dtype));
  if (i == 1) {
    j->lo = tensor_get_f64(b, 0);
    j->ilo = tensor_get_i64(b, 0);
    j->ulo = x->dtype == LADLE_UINT64 ? ((const uint64_t *)b->data)[0] : (uint64_t)j->ilo;
  } else {
    j->hi = tensor_get_f64(b, 0);
    j->ihi = tensor_get_i64(b, 0);
    j->uhi = x->dtype == LADLE_UINT64 ? ((const uint64_t *)b->data)[0] : (uint64_t)j->ihi;
  }
  return LADLE_OK;
}

/* Clip: opset 1-10 take min / max attributes (floats), 11+ optional scalar inputs. */
static ladle_status clip(op_ctx *c, bool attrs) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 0");
  bool is_float = dtype_is_float(x->dtype);
  if (!is_float && (attrs || !dtype_is_integer(x->dtype)))
    return op_fail(c, LADLE_ERR_DTYPE, "Clip does not take %s", ladle_dtype_name(x->dtype));
  clip_job j = {.x = x->data, .dtype = x->dtype, .lo = -INFINITY, .hi = INFINITY, .ulo = 0};
  if (!is_float) int_range(x->dtype, &j.ilo, &j.ihi, &j.uhi);
  if (attrs) {
    j.lo = node_attr_float(op_node(c), "min", -FLT_MAX);
    j.hi = node_attr_float(op_node(c), "max", FLT_MAX);
  } else if ((st = clip_bound(c, 1, x, &j)) || (st = clip_bound(c, 2, x, &j))) {
    return st;
  }
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  j.y = y->data;
  ew_parallel(c, ew_numel(x), clip_range, &j);
  return LADLE_OK;
}
static ladle_status run_clip_v6(op_ctx *c) { return clip(c, true); }
static ladle_status run_clip_v11(op_ctx *c) { return clip(c, false); }

/* --- PRelu: y = x < 0 ? slope * x : x, slope broadcast to x's shape ------------------------- */

#define PRELU_F(s, T, CT, LD, ST) EW_BIN_LOOP(prelu_##s, T, CT, LD, ST, x0 < 0 ? x0 * x1 : x0)
#define PRELU_I(s, T, UT) EW_BIN_LOOP(prelu_##s, T, T, EW_ID, EW_ID, x0 < 0 ? (T)((UT)x0 * (UT)x1) : x0)
EW_FLOAT_TYPES(PRELU_F)
EW_SINT_TYPES(PRELU_I)
static const ew_bin_fn prelu_fns[EW_NTYPES] = {EW_TBL_FLOAT(prelu), EW_TBL_SINT(prelu)};

static ladle_status prelu(op_ctx *c, bool legacy) {
  const ladle_tensor *x = op_in(c, 0), *s0 = op_in(c, 1);
  ladle_tensor *y = NULL, s;
  int nd;
  int64_t dims[LADLE_MAX_DIMS];
  ladle_status st;
  char a[128], b[128];
  if (!x || !s0) return op_fail(c, LADLE_ERR_INVALID, "needs X and slope");
  if (x->dtype != s0->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "slope is %s, X %s", ladle_dtype_name(s0->dtype),
                   ladle_dtype_name(x->dtype));
  ew_bin_fn fn = prelu_fns[ew_slot(x->dtype)];
  if (!fn) return op_fail(c, LADLE_ERR_DTYPE, "PRelu does not take %s", ladle_dtype_name(x->dtype));
  s = *s0;
  /* Opset 1-6: a slope of shape [C] is per channel of X [N,C,...]: line it up with C. */
  if (legacy && s.ndim == 1 && x->ndim >= 3 && s.dims[0] == x->dims[1]) {
    s.ndim = x->ndim - 1;
    for (int i = 1; i < s.ndim; i++) s.dims[i] = 1;
  }
  const ladle_tensor *in[2] = {x, &s};
  if ((st = ew_bcast_shape(c, 2, in, &nd, dims))) return st;
  if (!shape_equal(nd, dims, x->ndim, x->dims))
    return op_fail(c, LADLE_ERR_SHAPE, "slope %s does not broadcast to X %s",
                   shape_str(s0->ndim, s0->dims, a, sizeof a), shape_str(x->ndim, x->dims, b, sizeof b));
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  ew_binary(c, x, &s, y, fn);
  return LADLE_OK;
}

static ladle_status run_prelu_v1(op_ctx *c) { return prelu(c, true); }
static ladle_status run_prelu(op_ctx *c) { return prelu(c, false); }

const op_def ops_activation[] = {
    {"", "Relu", 1, 99, run_relu_any, NULL, NULL},
    {"", "LeakyRelu", 1, 99, run_leaky_relu, NULL, NULL},
    {"", "PRelu", 1, 6, run_prelu_v1, NULL, NULL},
    {"", "PRelu", 7, 99, run_prelu, NULL, NULL},
    {"", "Elu", 1, 99, run_elu, NULL, NULL},
    {"", "Selu", 1, 99, run_selu, NULL, NULL},
    {"", "Celu", 12, 99, run_celu, NULL, NULL},
    {"", "ThresholdedRelu", 10, 99, run_thresholded_relu, NULL, NULL},
    {"", "Sigmoid", 1, 99, run_sigmoid, NULL, NULL},
    {"", "HardSigmoid", 1, 99, run_hard_sigmoid, NULL, NULL},
    {"", "HardSwish", 14, 99, run_hard_swish, NULL, NULL},
    {"", "Tanh", 1, 99, run_tanh, NULL, NULL},
    {"", "Softplus", 1, 99, run_softplus, NULL, NULL},
    {"", "Softsign", 1, 99, run_softsign, NULL, NULL},
    {"", "Mish", 18, 99, run_mish, NULL, NULL},
    {"", "Shrink", 9, 99, run_shrink, NULL, NULL},
    {"", "Clip", 1, 10, run_clip_v6, NULL, NULL},
    {"", "Clip", 11, 99, run_clip_v11, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

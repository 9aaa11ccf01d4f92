/* quant.c — quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the
 * com.microsoft ops ONNX Runtime's quantizer writes next to the integer products (QLinearAdd,
 * QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool, QLinearAveragePool,
 * QLinearConcat); the input checks the family shares; and the family's table ops_quant[], whose
 * MatMulInteger, QLinearMatMul and QGemm rows run in qgemm.c, ConvInteger and QLinearConv in
 * qconv.c (and qconv_nhwc.c).
 *
 * Rounding is round-half-to-even (nearbyintf in the default rounding mode) and every store into
 * an 8-bit type saturates, as the spec says. Integer products accumulate in int32. */
#include <math.h>
#include <string.h>

#include "runtime/ops/quant_common.h"

ladle_status quant_need(op_ctx *c, int i, const char *what, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d (%s) is required", i, what);
  return LADLE_OK;
}

/* A scale input: float, with 1 value or (per_n > 0) per_n values in a 1-D tensor. */
ladle_status quant_check_scale(op_ctx *c, const ladle_tensor *s, const char *what, int64_t per_n) {
  if (s->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be float, got %s", what, ladle_dtype_name(s->dtype));
  int64_t n = ladle_tensor_numel(s);
  if (n == 1 && s->ndim <= 1) return LADLE_OK;
  if (per_n > 0 && s->ndim == 1 && n == per_n) return LADLE_OK;
  if (per_n > 0)
    return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar or have %lld values, got %lld", what,
                   (long long)per_n, (long long)n);
  return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar, got %lld values", what, (long long)n);
}

/* A zero point input (NULL: absent): dtype dt, 1 value or per_n values in a 1-D tensor. */
ladle_status quant_check_zp(op_ctx *c, const ladle_tensor *z, int dt, const char *what, int64_t per_n) {
  if (!z) return LADLE_OK;
  if (z->dtype != dt)
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be %s like its data, got %s", what, ladle_dtype_name(dt),
                   ladle_dtype_name(z->dtype));
  int64_t n = ladle_tensor_numel(z);
  if (n == 1 && z->ndim <= 1) return LADLE_OK;
  if (per_n > 0 && z->ndim == 1 && n == per_n) return LADLE_OK;
  return op_fail(c, LADLE_ERR_SHAPE, "%s must be a scalar%s, got %lld values", what,
                 per_n > 0 ? " or one value per channel" : "", (long long)n);
}

/* --- QuantizeLinear / DequantizeLinear ------------------------------------------------------ */

/* Splits x around the quantization axis: outer × ch × inner; ch = 1 for per-tensor parameters.
 * Opsets before 13 have no axis and take scalars only. */
static ladle_status q_layout(op_ctx *c, const ladle_tensor *x, const ladle_tensor *scale,
                             const ladle_tensor *zp, int zp_dt, int64_t *outer, int64_t *ch,
                             int64_t *inner) {
  ladle_status st;
  int64_t ns = ladle_tensor_numel(scale);
  if (ns == 1 && scale->ndim <= 1) {
    if ((st = quant_check_scale(c, scale, "scale", 0)) || (st = quant_check_zp(c, zp, zp_dt, "zero_point", 0)))
      return st;
    *outer = 1;
    *ch = 1;
    *inner = ladle_tensor_numel(x);
    return LADLE_OK;
  }
  if (op_node(c)->opset < 13)
    return op_fail(c, LADLE_ERR_SHAPE, "scale must be a scalar before opset 13, got %lld values", (long long)ns);
  int64_t ax = node_attr_int(op_node(c), "axis", 1);
  if (ax < -x->ndim || ax >= x->ndim)
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  int a = (int)(ax < 0 ? ax + x->ndim : ax);
  if ((st = quant_check_scale(c, scale, "scale", x->dims[a])) ||
      (st = quant_check_zp(c, zp, zp_dt, "zero_point", x->dims[a])))
    return st;
  if (zp && ladle_tensor_numel(zp) != x->dims[a])
    return op_fail(c, LADLE_ERR_SHAPE, "zero_point must have as many values as scale");
  *outer = shape_numel(a, x->dims);
  *ch = x->dims[a];
  *inner = shape_numel(x->ndim - a - 1, x->dims + a + 1);
  return LADLE_OK;
}

static float x_at(const ladle_tensor *x, int64_t i) {
  switch (x->dtype) {
    case LADLE_FLOAT: return ((const float *)x->data)[i];
    case LADLE_FLOAT16: return half_to_float(((const uint16_t *)x->data)[i]);
    default: return (float)((const int32_t *)x->data)[i];
  }
}

static ladle_status run_quantize(op_ctx *c) {
  const ladle_tensor *x, *scale, *zp = op_in(c, 2);
  ladle_status st;
  if ((st = quant_need(c, 0, "x", &x)) || (st = quant_need(c, 1, "y_scale", &scale))) return st;
  if (x->dtype != LADLE_FLOAT && x->dtype != LADLE_INT32 && x->dtype != LADLE_FLOAT16)
    return op_fail(c, LADLE_ERR_DTYPE, "x must be float, float16 or int32, got %s", ladle_dtype_name(x->dtype));
  int dt = zp ? zp->dtype : LADLE_UINT8;
  if (!is_q8(dt))
    return op_fail(c, LADLE_ERR_DTYPE, "y_zero_point must be uint8 or int8, got %s", ladle_dtype_name(dt));
  int64_t outer, ch, inner;
  if ((st = q_layout(c, x, scale, zp, dt, &outer, &ch, &inner))) return st;
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, x->ndim, x->dims, &y))) return st;
  const float *s = scale->data;
  float lo = (float)q_lo(dt), hi = (float)q_hi(dt);
  for (int64_t k = 0; k < ch; k++)
    if (!(s[k] != 0.0f) || !isfinite(s[k]))
      return op_fail(c, LADLE_ERR_INVALID, "y_scale[%lld] = %g is not a finite non-zero value", (long long)k,
                     (double)s[k]);
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t k = 0; k < ch; k++) {
      float sk = s[k], z = zp ? (float)qget(zp, k) : 0.0f;
      int64_t base = (o * ch + k) * inner;
      if (x->dtype == LADLE_FLOAT && dt == LADLE_UINT8) { /* the common case, vectorised */
        const float *xp = (const float *)x->data + base;
        uint8_t *yp = (uint8_t *)y->data + base;
        for (int64_t i = 0; i < inner; i++) yp[i] = (uint8_t)q_round(xp[i] / sk, z, lo, hi);
      } else if (x->dtype == LADLE_FLOAT) {
        const float *xp = (const float *)x->data + base;
        int8_t *yp = (int8_t *)y->data + base;
        for (int64_t i = 0; i < inner; i++) yp[i] = (int8_t)q_round(xp[i] / sk, z, lo, hi);
      } else {
        for (int64_t i = 0; i < inner; i++) q_store8(y->data, dt, base + i, q_round(x_at(x, base + i) / sk, z, lo, hi));
      }
    }
  }
  return LADLE_OK;
}

static ladle_status run_dequantize(op_ctx *c) {
  const ladle_tensor *x, *scale, *zp = op_in(c, 2);
  ladle_status st;
  if ((st = quant_need(c, 0, "x", &x)) || (st = quant_need(c, 1, "x_scale", &scale))) return st;
  if (!is_q8(x->dtype) && x->dtype != LADLE_INT32)
    return op_fail(c, LADLE_ERR_DTYPE, "x must be uint8, int8 or int32, got %s", ladle_dtype_name(x->dtype));
  int64_t outer, ch, inner;
  if ((st = q_layout(c, x, scale, zp, x->dtype, &outer, &ch, &inner))) return st;
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim, x->dims, &y))) return st;
  const float *s = scale->data;
  float *yp = y->data;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t k = 0; k < ch; k++) {
      float sk = s[k];
      int64_t base = (o * ch + k) * inner;
      if (x->dtype == LADLE_INT32) {
        int64_t z = zp ? qget(zp, k) : 0;
        const int32_t *xp = (const int32_t *)x->data + base;
        for (int64_t i = 0; i < inner; i++) yp[base + i] = (float)((int64_t)xp[i] - z) * sk;
      } else if (x->dtype == LADLE_UINT8) {
        int32_t z = zp ? qget(zp, k) : 0;
        const uint8_t *xp = (const uint8_t *)x->data + base;
        for (int64_t i = 0; i < inner; i++) yp[base + i] = (float)((int32_t)xp[i] - z) * sk;
      } else {
        int32_t z = zp ? qget(zp, k) : 0;
        const int8_t *xp = (const int8_t *)x->data + base;
        for (int64_t i = 0; i < inner; i++) yp[base + i] = (float)((int32_t)xp[i] - z) * sk;
      }
    }
  }
  return LADLE_OK;
}

/* uint8 quantization over the range of x widened to include 0 (opset 11). An all-zero x gets
 * scale 0 and zero point 0, and quantizes to 0. */
static ladle_status run_dynamic_quantize(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = quant_need(c, 0, "x", &x))) return st;
  if (x->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "x must be float, got %s", ladle_dtype_name(x->dtype));
  int64_t n = ladle_tensor_numel(x);
  const float *xp = x->data;
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < n; i++) { /* NaN compares false and is skipped */
    mn = xp[i] < mn ? xp[i] : mn;
    mx = xp[i] > mx ? xp[i] : mx;
  }
  if (!isfinite(mn) || !isfinite(mx))
    return op_fail(c, LADLE_ERR_INVALID, "x holds infinite values: no finite quantization range");
  float scale = (mx - mn) / 255.0f;
  float zpf = scale > 0.0f ? fmaxf(fminf(nearbyintf(0.0f - mn / scale), 255.0f), 0.0f) : 0.0f;
  ladle_tensor *y, *ys, *yz;
  if ((st = op_out(c, 0, LADLE_UINT8, x->ndim, x->dims, &y)) || (st = op_out(c, 1, LADLE_FLOAT, 0, NULL, &ys)) ||
      (st = op_out(c, 2, LADLE_UINT8, 0, NULL, &yz)))
    return st;
  uint8_t *yp = y->data;
  if (scale > 0.0f) {
    for (int64_t i = 0; i < n; i++) yp[i] = (uint8_t)q_round(xp[i] / scale, zpf, 0.0f, 255.0f);
  } else {
    memset(yp, 0, (size_t)n);
  }
  *(float *)ys->data = scale;
  *(uint8_t *)yz->data = (uint8_t)zpf;
  return LADLE_OK;
}

/* --- com.microsoft quantized ops --------------------------------------------------------------
 * ONNX Runtime's quantizer (quantize_static, QOperator format) writes these next to QLinearConv
 * and QLinearMatMul: residual adds, multiplies, pools, concatenations and activations on
 * quantized tensors. Each follows ORT's arithmetic: scale ratios folded first, products rounded
 * half to even, saturation (QLinearAdd: round((a-za)·sa/sc + (b-zb)·sb/sc) + zc; QLinearMul:
 * round((a-za)(b-zb)·sa·sb/sc) + zc; QLinearGlobalAveragePool: round((Σx - n·zx)·sx/(sy·n)) + zy;
 * the activations and QLinearConcat map every one of the 256 input values through a table). */
#define MS_DOMAIN "com.microsoft"

/* The scale (float) and zero point (dtype dt, optional) at inputs si, si + 1 as per-tensor values. */
static ladle_status q_params(op_ctx *c, int si, int dt, const char *what, float *scale, int32_t *zp) {
  const ladle_tensor *s = op_in(c, si), *z = op_in(c, si + 1);
  ladle_status st;
  if (!s) return op_fail(c, LADLE_ERR_INVALID, "%s scale (input %d) is required", what, si);
  if ((st = quant_check_scale(c, s, what, 0)) || (st = quant_check_zp(c, z, dt, what, 0))) return st;
  *scale = *(const float *)s->data;
  if (!(*scale != 0.0f) || !isfinite(*scale))
    return op_fail(c, LADLE_ERR_INVALID, "%s scale %g is not a finite non-zero value", what, (double)*scale);
  *zp = z ? qget(z, 0) : 0;
  return LADLE_OK;
}

/* Element i of an 8-bit tensor. */
static inline int32_t q8_at(const void *p, int dt, int64_t i) {
  return dt == LADLE_UINT8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

/* QLinearAdd (mul = false) and QLinearMul: numpy broadcasting of A and B. */
static ladle_status run_qlinear_binary(op_ctx *c, bool mul) {
  const ladle_tensor *a, *b;
  ladle_status st;
  float sa, sb, sc;
  int32_t za, zb, zc;
  if ((st = quant_need(c, 0, "A", &a)) || (st = quant_need(c, 3, "B", &b))) return st;
  if (!is_q8(a->dtype) || b->dtype != a->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "A and B must both be uint8 or int8, got %s and %s", ladle_dtype_name(a->dtype),
                   ladle_dtype_name(b->dtype));
  int dt = a->dtype;
  if ((st = q_params(c, 1, dt, "A", &sa, &za)) || (st = q_params(c, 4, dt, "B", &sb, &zb)) ||
      (st = q_params(c, 6, dt, "C", &sc, &zc)))
    return st;
  int64_t dims[LADLE_MAX_DIMS], sta[LADLE_MAX_DIMS], stb[LADLE_MAX_DIMS];
  int nd;
  if (!shape_broadcast(a->ndim, a->dims, b->ndim, b->dims, &nd, dims))
    return op_fail(c, LADLE_ERR_SHAPE, "A and B do not broadcast");
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, nd, dims, &y))) return st;
  shape_broadcast_strides(a->ndim, a->dims, nd, dims, sta);
  shape_broadcast_strides(b->ndim, b->dims, nd, dims, stb);
  float ra = sa / sc, rb = sb / sc, rm = sa * sb / sc, lo = (float)q_lo(dt), hi = (float)q_hi(dt), fz = (float)zc;
  int64_t n = ladle_tensor_numel(y), idx[LADLE_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (int64_t i = 0; i < n; i++) {
    float va = (float)(q8_at(a->data, dt, ia) - za), vb = (float)(q8_at(b->data, dt, ib) - zb);
    q_store8(y->data, dt, i, q_round(mul ? va * vb * rm : va * ra + vb * rb, fz, lo, hi));
    for (int d = nd - 1; d >= 0; d--) { /* odometer over the output, offsets follow */
      ia += sta[d];
      ib += stb[d];
      if (++idx[d] < dims[d]) break;
      ia -= sta[d] * dims[d];
      ib -= stb[d] * dims[d];
      idx[d] = 0;
    }
  }
  return LADLE_OK;
}

static ladle_status run_qlinear_add(op_ctx *c) { return run_qlinear_binary(c, false); }
static ladle_status run_qlinear_mul(op_ctx *c) { return run_qlinear_binary(c, true); }

/* table[v] for every stored value v (index v + 128 for int8): quantize(f(dequantize(v))). */
static void q_table(int dt, float sx, int32_t zx, float sy, int32_t zy, int fn, float alpha, uint8_t table[256]) {
  float lo = (float)q_lo(dt), hi = (float)q_hi(dt);
  for (int i = 0; i < 256; i++) {
    int32_t q = dt == LADLE_UINT8 ? i : i - 128;
    float x = (float)(q - zx) * sx, v;
    if (fn == 1)
      v = 1.0f / (1.0f + expf(-x));
    else if (fn == 2)
      v = x >= 0 ? x : x * alpha;
    else
      v = x;
    table[i] = (uint8_t)q_round(v / sy, (float)zy, lo, hi);
  }
}

static void q_apply_table(const ladle_tensor *x, void *y, const uint8_t table[256]) {
  int64_t n = ladle_tensor_numel(x);
  const uint8_t *xp = x->data;
  uint8_t *yp = y, off = x->dtype == LADLE_UINT8 ? 0 : 0x80;
  for (int64_t i = 0; i < n; i++) yp[i] = table[(uint8_t)(xp[i] ^ off)];
}

/* QLinearSigmoid (fn 1) and QLinearLeakyRelu (fn 2): X, X_scale, X_zp, Y_scale, Y_zp. */
static ladle_status run_qlinear_unary(op_ctx *c, int fn) {
  const ladle_tensor *x;
  ladle_status st;
  float sx, sy;
  int32_t zx, zy;
  if ((st = quant_need(c, 0, "X", &x))) return st;
  if (!is_q8(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be uint8 or int8, got %s", ladle_dtype_name(x->dtype));
  if ((st = q_params(c, 1, x->dtype, "X", &sx, &zx)) || (st = q_params(c, 3, x->dtype, "Y", &sy, &zy))) return st;
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  uint8_t table[256];
  q_table(x->dtype, sx, zx, sy, zy, fn, node_attr_float(op_node(c), "alpha", 0.01f), table);
  q_apply_table(x, y->data, table);
  return LADLE_OK;
}

static ladle_status run_qlinear_sigmoid(op_ctx *c) { return run_qlinear_unary(c, 1); }
static ladle_status run_qlinear_leakyrelu(op_ctx *c) { return run_qlinear_unary(c, 2); }

/* QLinearGlobalAveragePool: X [N, C, spatial...] (or channels_last [N, spatial..., C]). */
static ladle_status run_qlinear_gap(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  float sx, sy;
  int32_t zx, zy;
  if ((st = quant_need(c, 0, "X", &x))) return st;
  if (!is_q8(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be uint8 or int8, got %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 3) return op_fail(c, LADLE_ERR_SHAPE, "X must have rank >= 3, got %d", x->ndim);
  if ((st = q_params(c, 1, x->dtype, "x", &sx, &zx)) || (st = q_params(c, 3, x->dtype, "y", &sy, &zy))) return st;
  bool last = node_attr_int(op_node(c), "channels_last", 0) != 0;
  int64_t dims[LADLE_MAX_DIMS], N = x->dims[0], C = last ? x->dims[x->ndim - 1] : x->dims[1];
  int64_t sp = shape_numel(x->ndim - 2, last ? x->dims + 1 : x->dims + 2);
  for (int d = 0; d < x->ndim; d++) dims[d] = 1;
  dims[0] = N;
  dims[last ? x->ndim - 1 : 1] = C;
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return st;
  if (sp == 0) return op_fail(c, LADLE_ERR_SHAPE, "X has an empty spatial extent");
  float scale = sx / (sy * (float)sp), lo = (float)q_lo(x->dtype), hi = (float)q_hi(x->dtype);
  for (int64_t n = 0; n < N; n++)
    for (int64_t ch = 0; ch < C; ch++) {
      int64_t sum = 0;
      for (int64_t p = 0; p < sp; p++)
        sum += q8_at(x->data, x->dtype, last ? (n * sp + p) * C + ch : (n * C + ch) * sp + p);
      sum -= (int64_t)zx * sp;
      q_store8(y->data, x->dtype, n * C + ch, q_round((float)sum * scale, (float)zy, lo, hi));
    }
  return LADLE_OK;
}

/* QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input; attr axis. */
static ladle_status run_qlinear_concat(op_ctx *c) {
  ladle_status st;
  int nin = op_n_in(c);
  if (nin < 5 || (nin - 2) % 3 != 0) return op_fail(c, LADLE_ERR_INVALID, "expected Y_scale, Y_zero_point and triples");
  const ladle_tensor *x0;
  if ((st = quant_need(c, 2, "X", &x0))) return st;
  int dt = x0->dtype, r = x0->ndim;
  if (!is_q8(dt)) return op_fail(c, LADLE_ERR_DTYPE, "inputs must be uint8 or int8, got %s", ladle_dtype_name(dt));
  float sy;
  int32_t zy;
  if ((st = q_params(c, 0, dt, "Y", &sy, &zy))) return st;
  int64_t ax = node_attr_int(op_node(c), "axis", 0);
  if (ax < -r || ax >= r) return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, r);
  int axis = (int)(ax < 0 ? ax + r : ax);
  int64_t dims[LADLE_MAX_DIMS];
  memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)r);
  dims[axis] = 0;
  for (int i = 2; i < nin; i += 3) {
    const ladle_tensor *xi;
    if ((st = quant_need(c, i, "X", &xi))) return st;
    if (xi->dtype != dt || xi->ndim != r) return op_fail(c, LADLE_ERR_SHAPE, "input %d differs in dtype or rank", i);
    for (int d = 0; d < r; d++)
      if (d != axis && xi->dims[d] != x0->dims[d]) return op_fail(c, LADLE_ERR_SHAPE, "input %d differs off the axis", i);
    dims[axis] += xi->dims[axis];
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, r, dims, &y))) return st;
  int64_t outer = shape_numel(axis, dims), inner = shape_numel(r - axis - 1, dims + axis + 1), done = 0;
  for (int i = 2; i < nin; i += 3) {
    const ladle_tensor *xi = op_in(c, i);
    float sx;
    int32_t zx;
    if ((st = q_params(c, i + 1, dt, "X", &sx, &zx))) return st;
    uint8_t table[256];
    bool same = sx == sy && zx == zy;
    if (!same) q_table(dt, sx, zx, sy, zy, 0, 0.0f, table);
    int64_t row = xi->dims[axis] * inner;
    uint8_t off = dt == LADLE_UINT8 ? 0 : 0x80;
    for (int64_t o = 0; o < outer; o++) {
      const uint8_t *s = (const uint8_t *)xi->data + o * row;
      uint8_t *d = (uint8_t *)y->data + o * dims[axis] * inner + done;
      if (same)
        memcpy(d, s, (size_t)row);
      else
        for (int64_t k = 0; k < row; k++) d[k] = table[(uint8_t)(s[k] ^ off)];
    }
    done += row;
  }
  return LADLE_OK;
}

/* QLinearAveragePool: AveragePool's attributes (count_include_pad, ceil_mode, channels_last
 * unsupported) on dequantized values, rounded into Y. */
static ladle_status run_qlinear_avgpool(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  float sx, sy;
  int32_t zx, zy;
  const node *nd = op_node(c);
  if ((st = quant_need(c, 0, "X", &x))) return st;
  if (!is_q8(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be uint8 or int8, got %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 3) return op_fail(c, LADLE_ERR_SHAPE, "X must have rank >= 3, got %d", x->ndim);
  if (node_attr_int(nd, "channels_last", 0)) return op_fail(c, LADLE_ERR_UNSUPPORTED, "channels_last is not supported");
  if ((st = q_params(c, 1, x->dtype, "x", &sx, &zx)) || (st = q_params(c, 3, x->dtype, "y", &sy, &zy))) return st;
  win_geom g;
  g.nsp = x->ndim - 2;
  const int64_t *ks;
  if (node_attr_ints(nd, "kernel_shape", &ks) != g.nsp)
    return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", g.nsp);
  for (int d = 0; d < g.nsp; d++) {
    g.in[d] = x->dims[d + 2];
    g.k[d] = ks[d];
    if (ks[d] < 1) return op_fail(c, LADLE_ERR_INVALID, "kernel_shape[%d] = %lld", d, (long long)ks[d]);
  }
  char why[160];
  if (!win_geom_init(&g, nd, node_attr_int(nd, "ceil_mode", 0) != 0, why, sizeof why))
    return op_fail(c, LADLE_ERR_INVALID, "%s", why);
  bool incl = node_attr_int(nd, "count_include_pad", 0) != 0;
  int64_t dims[LADLE_MAX_DIMS];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (int d = 0; d < g.nsp; d++) dims[d + 2] = g.out[d];
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return st;
  int64_t planes = x->dims[0] * x->dims[1], isp = shape_numel(g.nsp, g.in), osp = shape_numel(g.nsp, g.out);
  int64_t taps = shape_numel(g.nsp, g.k);
  float lo = (float)q_lo(x->dtype), hi = (float)q_hi(x->dtype);
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t o = 0; o < osp; o++) {
      int64_t oc[WIN_MAX_SP], rem = o, sum = 0, cnt = 0, cnt_pad = 0;
      for (int d = g.nsp - 1; d >= 0; d--) {
        oc[d] = rem % g.out[d];
        rem /= g.out[d];
      }
      for (int64_t t = 0; t < taps; t++) {
        int64_t tr = t, off = 0;
        bool inside = true, in_pad = true; /* in_pad: inside input + pads (what count_include_pad counts) */
        for (int d = g.nsp - 1; d >= 0; d--) {
          int64_t kd = tr % g.k[d];
          tr /= g.k[d];
          int64_t ic = oc[d] * g.s[d] + kd * g.d[d] - g.pb[d];
          if (ic < 0 || ic >= g.in[d]) inside = false;
          if (ic < -g.pb[d] || ic >= g.in[d] + g.pe[d]) in_pad = false;
        }
        int64_t mul = 1;
        tr = t;
        for (int d = g.nsp - 1; d >= 0 && inside; d--) {
          int64_t kd = tr % g.k[d];
          tr /= g.k[d];
          off += (oc[d] * g.s[d] + kd * g.d[d] - g.pb[d]) * mul;
          mul *= g.in[d];
        }
        cnt_pad += in_pad;
        if (!inside) continue;
        sum += q8_at(x->data, x->dtype, pl * isp + off) - zx;
        cnt++;
      }
      int64_t div = incl ? cnt_pad : cnt;
      float v = div ? (float)sum * sx / (float)div : 0.0f;
      q_store8(y->data, x->dtype, pl * osp + o, q_round(v / sy, (float)zy, lo, hi));
    }
  return LADLE_OK;
}

const op_def ops_quant[] = {
    {"", "QuantizeLinear", 10, 18, run_quantize, NULL, NULL},
    {"", "DequantizeLinear", 10, 18, run_dequantize, NULL, NULL},
    {"", "DynamicQuantizeLinear", 11, 99, run_dynamic_quantize, NULL, NULL},
    {"", "MatMulInteger", 10, 99, qgemm_run_matmulinteger, qgemm_matmulinteger_init, qgemm_mm_state_free},
    {"", "QLinearMatMul", 10, 20, qgemm_run_qlinearmatmul, qgemm_qlinearmatmul_init, qgemm_mm_state_free},
    {"", "ConvInteger", 10, 99, qconv_run_convinteger, qconv_convinteger_init, qconv_state_free},
    {"", "QLinearConv", 10, 99, qconv_run_qlinearconv, qconv_qlinearconv_init, qconv_state_free},
    {MS_DOMAIN, "QGemm", 1, 99, qgemm_run_qgemm, qgemm_qgemm_init, qgemm_mm_state_free},
    {MS_DOMAIN, "QLinearAdd", 1, 99, run_qlinear_add, NULL, NULL},
    {MS_DOMAIN, "QLinearMul", 1, 99, run_qlinear_mul, NULL, NULL},
    {MS_DOMAIN, "QLinearSigmoid", 1, 99, run_qlinear_sigmoid, NULL, NULL},
    {MS_DOMAIN, "QLinearLeakyRelu", 1, 99, run_qlinear_leakyrelu, NULL, NULL},
    {MS_DOMAIN, "QLinearGlobalAveragePool", 1, 99, run_qlinear_gap, NULL, NULL},
    {MS_DOMAIN, "QLinearAveragePool", 1, 99, run_qlinear_avgpool, NULL, NULL},
    {MS_DOMAIN, "QLinearConcat", 1, 99, run_qlinear_concat, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

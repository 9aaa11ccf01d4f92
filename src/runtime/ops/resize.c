/* resize.c — Resize (opsets 10, 11, 13) and Upsample (7, 9): nearest, linear and cubic modes,
 * every coordinate transformation of opset 13.
 *
 * Resizing is separable: each axis whose size or mapping changes is one pass over the tensor,
 * viewed as [outer, n_in, inner] -> [outer, n_out, inner]. For every output coordinate of the
 * axis a pass has up to four taps (input index, weight), computed once per run: nearest has
 * one, linear two, cubic four. Indices past the edges are clamped (the reference pads with the
 * edge values). tf_crop_and_resize marks coordinates that fall outside the input, which take
 * extrapolation_value; any later pass mixes only such values there, so the order of the passes
 * does not matter and downsampling axes go first to keep the intermediates small.
 *
 * Coordinates are computed in double, as ONNX's reference does. Nearest works on any element
 * type (it only copies); linear and cubic take float32, float16, bfloat16 and double (computed
 * in float). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/op.h"

#define RS_MAX_TAPS 4
#define RS_MAX_BYTES (INT64_C(4) << 30) /* an intermediate past this is refused */

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } rs_mode;
typedef enum {
  CT_HALF_PIXEL,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_HALF_PIXEL_FOR_NN,
  CT_TF_CROP_AND_RESIZE,
} rs_coord;
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_LEGACY } rs_nearest;

typedef struct rs_cfg {
  const char *op;
  rs_mode mode;
  rs_coord coord;
  rs_nearest nearest;
  double cubic_a;
  bool exclude_outside;
  float extrapolation;
} rs_cfg;

/* The taps of one axis: output coordinate x reads idx[x·T + t] with weight w[x·T + t];
 * outside[x] marks tf_crop_and_resize coordinates that take the extrapolation value. */
typedef struct rs_axis {
  int axis;
  int64_t n_in, n_out;
  int taps;
  int64_t *idx;
  float *w;
  unsigned char *outside;
  bool identity;
} rs_axis;

static ladle_status parse_cfg(const node *n, int version, const char *op, rs_cfg *cfg,
                              errbuf *e) {
  memset(cfg, 0, sizeof *cfg);
  cfg->op = op;
  const char *mode = node_attr_str(n, "mode", "nearest");
  if (strcmp(mode, "nearest") == 0) cfg->mode = MODE_NEAREST;
  else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0) cfg->mode = MODE_LINEAR;
  else if (strcmp(mode, "cubic") == 0 && version >= 11) cfg->mode = MODE_CUBIC;
  else return err_set(e, LADLE_ERR_UNSUPPORTED, "mode '%s' is not supported", mode);

  if (version < 11) { /* Upsample and Resize-10: asymmetric, and the legacy nearest rounding */
    cfg->coord = CT_ASYMMETRIC;
    cfg->nearest = NM_LEGACY;
    return LADLE_OK;
  }
  static const struct {
    const char *name;
    rs_coord v;
  } coords[] = {
      {"half_pixel", CT_HALF_PIXEL},
      {"pytorch_half_pixel", CT_PYTORCH_HALF_PIXEL},
      {"align_corners", CT_ALIGN_CORNERS},
      {"asymmetric", CT_ASYMMETRIC},
      {"tf_half_pixel_for_nn", CT_TF_HALF_PIXEL_FOR_NN},
      {"tf_crop_and_resize", CT_TF_CROP_AND_RESIZE},
  };
  static const struct {
    const char *name;
    rs_nearest v;
  } nearests[] = {
      {"round_prefer_floor", NM_ROUND_PREFER_FLOOR},
      {"round_prefer_ceil", NM_ROUND_PREFER_CEIL},
      {"floor", NM_FLOOR},
      {"ceil", NM_CEIL},
  };
  const char *ct = node_attr_str(n, "coordinate_transformation_mode", "half_pixel");
  size_t k;
  for (k = 0; k < sizeof coords / sizeof coords[0]; k++)
    if (strcmp(ct, coords[k].name) == 0) break;
  if (k == sizeof coords / sizeof coords[0])
    return err_set(e, LADLE_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported",
                   ct);
  cfg->coord = coords[k].v;
  const char *nm = node_attr_str(n, "nearest_mode", "round_prefer_floor");
  for (k = 0; k < sizeof nearests / sizeof nearests[0]; k++)
    if (strcmp(nm, nearests[k].name) == 0) break;
  if (k == sizeof nearests / sizeof nearests[0])
    return err_set(e, LADLE_ERR_UNSUPPORTED, "nearest_mode '%s' is not supported", nm);
  cfg->nearest = nearests[k].v;
  cfg->cubic_a = node_attr_float(n, "cubic_coeff_a", -0.75f);
  cfg->exclude_outside = node_attr_int(n, "exclude_outside", 0) != 0;
  cfg->extrapolation = node_attr_float(n, "extrapolation_value", 0.0f);
  if (node_attr_int(n, "antialias", 0) != 0)
    return err_set(e, LADLE_ERR_UNSUPPORTED, "antialias is not supported");
  return LADLE_OK;
}

/* The input coordinate that output coordinate x maps to. */
static double map_coord(const rs_cfg *cfg, int64_t x, double scale, int64_t in, int64_t out,
                        double roi_lo, double roi_hi) {
  double xr = (double)x;
  switch (cfg->coord) {
    case CT_HALF_PIXEL: return (xr + 0.5) / scale - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out > 1 ? xr * (double)(in - 1) / (double)(out - 1) : 0.0;
    case CT_ASYMMETRIC: return xr / scale;
    case CT_TF_HALF_PIXEL_FOR_NN: return (xr + 0.5) / scale;
    case CT_TF_CROP_AND_RESIZE:
      if (out > 1) return roi_lo * (double)(in - 1) + xr * (roi_hi - roi_lo) * (double)(in - 1) /
                                                          (double)(out - 1);
      return 0.5 * (roi_lo + roi_hi) * (double)(in - 1);
  }
  return 0.0;
}

static int64_t clamp_idx(int64_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

static int64_t nearest_idx(const rs_cfg *cfg, double xo, double scale) {
  double f = floor(xo), r = xo - f;
  switch (cfg->nearest) {
    case NM_ROUND_PREFER_FLOOR: return (int64_t)(r > 0.5 ? f + 1 : f);
    case NM_ROUND_PREFER_CEIL: return (int64_t)(r >= 0.5 ? f + 1 : f);
    case NM_FLOOR: return (int64_t)f;
    case NM_CEIL: return (int64_t)ceil(xo);
    case NM_LEGACY: return scale < 1.0 ? (int64_t)ceil(xo) : (int64_t)xo;
  }
  return (int64_t)f;
}

static void cubic_coeffs(double t, double a, double c[4]) {
  double s = t + 1, u = 1 - t, v = 2 - t;
  c[0] = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
  c[3] = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a;
}

/* Fills the taps of one axis (arrays already sized n_out·taps). */
static void axis_taps(const rs_cfg *cfg, rs_axis *ax, double scale, double roi_lo, double roi_hi) {
  int64_t in = ax->n_in, out = ax->n_out;
  int T = ax->taps;
  ax->identity = in == out;
  for (int64_t x = 0; x < out; x++) {
    double xo = map_coord(cfg, x, scale, in, out, roi_lo, roi_hi);
    int64_t *idx = ax->idx + x * T;
    float *w = ax->w + x * T;
    ax->outside[x] = cfg->coord == CT_TF_CROP_AND_RESIZE && (xo < 0.0 || xo > (double)(in - 1));
    if (ax->outside[x]) ax->identity = false;
    if (cfg->mode == MODE_NEAREST) {
      idx[0] = clamp_idx(nearest_idx(cfg, xo, scale), in);
      w[0] = 1.0f;
    } else if (cfg->mode == MODE_LINEAR) {
      double f = floor(xo), r = xo - f;
      idx[0] = clamp_idx((int64_t)f, in);
      idx[1] = clamp_idx((int64_t)f + 1, in);
      w[0] = (float)(1.0 - r);
      w[1] = (float)r;
    } else {
      double f = floor(xo), c[4], sum = 0.0;
      cubic_coeffs(xo - f, cfg->cubic_a, c);
      for (int t = 0; t < 4; t++) {
        int64_t i = (int64_t)f - 1 + t;
        if (cfg->exclude_outside && (i < 0 || i >= in)) c[t] = 0.0;
        sum += c[t];
        idx[t] = clamp_idx(i, in);
      }
      for (int t = 0; t < 4; t++) w[t] = (float)(cfg->exclude_outside && sum != 0.0 ? c[t] / sum : c[t]);
    }
    for (int t = 0; t < T; t++)
      if (w[t] != 0.0f && (idx[t] != x || w[t] != 1.0f)) ax->identity = false;
  }
}

/* --- passes ------------------------------------------------------------------------------- */

typedef struct rs_pass {
  const rs_axis *ax;
  const void *src;
  void *dst;
  int64_t outer, inner;
  size_t esz;
  float extrapolation;
  bool copy; /* nearest: copy elements of any type */
} rs_pass;

/* Output rows (o, x) in [i·chunk, (i+1)·chunk). */
#define RS_CHUNK 64
static void pass_chunk(void *arg, int64_t chunk) {
  const rs_pass *p = arg;
  const rs_axis *ax = p->ax;
  int64_t rows = p->outer * ax->n_out, inner = p->inner;
  int64_t lo = chunk * RS_CHUNK, hi = lo + RS_CHUNK < rows ? lo + RS_CHUNK : rows;
  for (int64_t row = lo; row < hi; row++) {
    int64_t o = row / ax->n_out, x = row % ax->n_out;
    const int64_t *idx = ax->idx + x * ax->taps;
    const float *w = ax->w + x * ax->taps;
    if (p->copy) {
      const char *s = (const char *)p->src + (o * ax->n_in + idx[0]) * inner * p->esz;
      memcpy((char *)p->dst + row * inner * p->esz, s, (size_t)inner * p->esz);
      continue;
    }
    float *d = (float *)p->dst + row * inner;
    if (ax->outside[x]) {
      for (int64_t i = 0; i < inner; i++) d[i] = p->extrapolation;
      continue;
    }
    const float *s0 = (const float *)p->src + (o * ax->n_in + idx[0]) * inner;
    for (int64_t i = 0; i < inner; i++) d[i] = w[0] * s0[i];
    for (int t = 1; t < ax->taps; t++) {
      if (w[t] == 0.0f) continue;
      const float *s = (const float *)p->src + (o * ax->n_in + idx[t]) * inner;
      for (int64_t i = 0; i < inner; i++) d[i] += w[t] * s[i];
    }
  }
}

/* --- the kernel ---------------------------------------------------------------------------- */

typedef struct rs_args {
  const ladle_tensor *x, *roi, *scales, *sizes;
  const float *attr_scales; /* Upsample-7 */
  int64_t n_attr_scales;
} rs_args;

static ladle_status resize_run(op_ctx *c, const rs_cfg *cfg, const rs_args *a) {
  const ladle_tensor *x = a->x;
  int r = x->ndim;
  int64_t odims[LADLE_MAX_DIMS];
  double scale[LADLE_MAX_DIMS], roi_lo[LADLE_MAX_DIMS], roi_hi[LADLE_MAX_DIMS];
  const char *op = cfg->op;
  ladle_status st;
  if (r < 1) return op_fail(c, LADLE_ERR_SHAPE, "%s: X must have rank >= 1", op);

  const ladle_tensor *scales = a->scales && ladle_tensor_numel(a->scales) > 0 ? a->scales : NULL;
  const ladle_tensor *sizes = a->sizes && ladle_tensor_numel(a->sizes) > 0 ? a->sizes : NULL;
  if (scales && sizes)
    return op_fail(c, LADLE_ERR_INVALID, "%s: give scales or sizes, not both", op);
  for (int d = 0; d < r; d++) {
    roi_lo[d] = 0.0;
    roi_hi[d] = 1.0;
  }
  if (cfg->coord == CT_TF_CROP_AND_RESIZE && a->roi && ladle_tensor_numel(a->roi) > 0) {
    if (!dtype_is_float(a->roi->dtype) || ladle_tensor_numel(a->roi) != 2 * (int64_t)r)
      return op_fail(c, LADLE_ERR_SHAPE, "%s: roi must hold %d floats", op, 2 * r);
    for (int d = 0; d < r; d++) {
      roi_lo[d] = tensor_get_f64(a->roi, d);
      roi_hi[d] = tensor_get_f64(a->roi, r + d);
    }
  }
  if (sizes) {
    if (sizes->dtype != LADLE_INT64 || ladle_tensor_numel(sizes) != r)
      return op_fail(c, LADLE_ERR_SHAPE, "%s: sizes must hold %d int64 values", op, r);
    for (int d = 0; d < r; d++) {
      odims[d] = tensor_get_i64(sizes, d);
      if (odims[d] <= 0)
        return op_fail(c, LADLE_ERR_INVALID, "%s: sizes[%d] = %lld must be positive", op, d,
                       (long long)odims[d]);
      scale[d] = x->dims[d] ? (double)odims[d] / (double)x->dims[d] : 1.0;
    }
  } else {
    int64_t n = scales ? ladle_tensor_numel(scales) : a->n_attr_scales;
    if (!scales && !a->attr_scales)
      return op_fail(c, LADLE_ERR_INVALID, "%s: neither scales nor sizes given", op);
    if (scales && !dtype_is_float(scales->dtype))
      return op_fail(c, LADLE_ERR_DTYPE, "%s: scales must be float, got %s", op,
                     ladle_dtype_name(scales->dtype));
    if (n != r)
      return op_fail(c, LADLE_ERR_SHAPE, "%s: %lld scales for an input of rank %d", op,
                     (long long)n, r);
    for (int d = 0; d < r; d++) {
      scale[d] = scales ? tensor_get_f64(scales, d) : (double)a->attr_scales[d];
      if (!(scale[d] > 0.0) || scale[d] > 1e6)
        return op_fail(c, LADLE_ERR_INVALID, "%s: scale %g on axis %d is out of range", op,
                       scale[d], d);
      double len = (double)x->dims[d] * scale[d];
      if (cfg->coord == CT_TF_CROP_AND_RESIZE) len *= roi_hi[d] - roi_lo[d];
      if (!(len >= 0.0) || len > 4e18)
        return op_fail(c, LADLE_ERR_LIMIT, "%s: output axis %d is too long", op, d);
      odims[d] = (int64_t)floor(len);
    }
  }

  int dtype = x->dtype;
  bool copy = cfg->mode == MODE_NEAREST && !(cfg->coord == CT_TF_CROP_AND_RESIZE);
  if (!copy && dtype != LADLE_FLOAT && dtype != LADLE_FLOAT16 && dtype != LADLE_BFLOAT16 &&
      dtype != LADLE_DOUBLE)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "%s: %s interpolation of %s is not supported", op,
                   cfg->mode == MODE_NEAREST ? "tf_crop_and_resize" : "linear/cubic",
                   ladle_dtype_name(dtype));
  if (dtype == LADLE_STRING) return op_fail(c, LADLE_ERR_DTYPE, "%s does not take strings", op);
  ladle_tensor *y = NULL;
  if ((st = op_out(c, 0, dtype, r, odims, &y))) return st;
  int64_t n_out = ladle_tensor_numel(y), n_in = ladle_tensor_numel(x);
  if (n_out == 0) return LADLE_OK;
  if (n_in == 0)
    return op_fail(c, LADLE_ERR_SHAPE, "%s: cannot resize an empty input to a non-empty output",
                   op);

  /* taps for every axis, in one scratch block */
  int T = cfg->mode == MODE_NEAREST ? 1 : cfg->mode == MODE_LINEAR ? 2 : RS_MAX_TAPS;
  int64_t tap_rows = 0;
  for (int d = 0; d < r; d++) tap_rows += odims[d];
  size_t tap_bytes = (size_t)tap_rows * (size_t)T * (sizeof(int64_t) + sizeof(float)) +
                     (size_t)tap_rows + 64;
  char *tb = op_scratch(c, 2, tap_bytes);
  if (!tb) return op_fail(c, LADLE_ERR_NOMEM, "%s: out of memory", op);
  rs_axis axes[LADLE_MAX_DIMS];
  int n_pass = 0;
  int64_t *ip = (int64_t *)tb;
  float *wp = (float *)(ip + tap_rows * T);
  unsigned char *op_ = (unsigned char *)(wp + tap_rows * T);
  for (int d = 0; d < r; d++) {
    rs_axis *ax = &axes[n_pass];
    *ax = (rs_axis){d, x->dims[d], odims[d], T, ip, wp, op_, false};
    ip += odims[d] * T;
    wp += odims[d] * T;
    op_ += odims[d];
    axis_taps(cfg, ax, scale[d], roi_lo[d], roi_hi[d]);
    if (!ax->identity) n_pass++;
  }
  /* downsampling axes first (smaller intermediates) */
  for (int i = 1; i < n_pass; i++)
    for (int j = i; j > 0; j--) {
      double rj = (double)axes[j].n_out / (double)axes[j].n_in;
      double rp = (double)axes[j - 1].n_out / (double)axes[j - 1].n_in;
      if (rj >= rp) break;
      rs_axis t = axes[j];
      axes[j] = axes[j - 1];
      axes[j - 1] = t;
    }

  /* compute buffers: float for interpolation (converted in and out when x is not float32),
   * the element type itself for copies */
  bool conv = !copy && dtype != LADLE_FLOAT;
  size_t esz = copy ? ladle_dtype_size(dtype) : sizeof(float);
  const void *src = x->data;
  if (conv) {
    float *xf = op_scratch(c, 3, sizeof(float) * (size_t)n_in);
    if (!xf) return op_fail(c, LADLE_ERR_NOMEM, "%s: out of memory", op);
    for (int64_t i = 0; i < n_in; i++) xf[i] = (float)tensor_get_f64(x, i);
    src = xf;
  }
  int64_t cur[LADLE_MAX_DIMS];
  memcpy(cur, x->dims, sizeof(int64_t) * (size_t)r);
  if (n_pass == 0) {
    if (conv)
      for (int64_t i = 0; i < n_out; i++) tensor_set_f64(y, i, ((const float *)src)[i]);
    else
      memcpy(y->data, src, (size_t)n_out * esz);
    return LADLE_OK;
  }
  for (int p = 0; p < n_pass; p++) {
    const rs_axis *ax = &axes[p];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax->axis; d++) outer *= cur[d];
    for (int d = ax->axis + 1; d < r; d++) inner *= cur[d];
    cur[ax->axis] = ax->n_out;
    int64_t n_next = shape_numel(r, cur);
    if (n_next < 0 || n_next > RS_MAX_BYTES / (int64_t)esz)
      return op_fail(c, LADLE_ERR_LIMIT, "%s: an intermediate result exceeds %lld bytes", op,
                     (long long)RS_MAX_BYTES);
    void *dst;
    if (p == n_pass - 1 && !conv) dst = y->data;
    else if (!(dst = op_scratch(c, p % 2, (size_t)n_next * esz + 64)))
      return op_fail(c, LADLE_ERR_NOMEM, "%s: out of memory", op);
    rs_pass pass = {ax, src, dst, outer, inner, esz, cfg->extrapolation, copy};
    int64_t rows = outer * ax->n_out, chunks = (rows + RS_CHUNK - 1) / RS_CHUNK;
    if (rows * inner * T < 32768) {
      for (int64_t k = 0; k < chunks; k++) pass_chunk(&pass, k);
    } else {
      tpool_run(op_pool(c), chunks, pass_chunk, &pass);
    }
    src = dst;
  }
  if (conv)
    for (int64_t i = 0; i < n_out; i++) tensor_set_f64(y, i, ((const float *)src)[i]);
  return LADLE_OK;
}

static ladle_status run_version(op_ctx *c, int version, const char *op) {
  rs_cfg cfg;
  errbuf e = {{0}};
  ladle_status st = parse_cfg(op_node(c), version, op, &cfg, &e);
  if (st) return op_fail(c, st, "%s: %s", op, e.msg);
  rs_args a = {.x = op_in(c, 0)};
  if (!a.x) return op_fail(c, LADLE_ERR_INVALID, "%s needs an input X", op);
  if (version >= 11) {
    a.roi = op_in(c, 1);
    a.scales = op_in(c, 2);
    a.sizes = op_in(c, 3);
  } else if (version >= 9) {
    a.scales = op_in(c, 1);
  } else {
    a.n_attr_scales = node_attr_floats(op_node(c), "scales", &a.attr_scales);
    if (a.n_attr_scales < 0) return op_fail(c, LADLE_ERR_INVALID, "%s needs a scales attribute", op);
  }
  return resize_run(c, &cfg, &a);
}

static ladle_status run_upsample7(op_ctx *c) { return run_version(c, 7, "Upsample"); }
static ladle_status run_upsample9(op_ctx *c) { return run_version(c, 9, "Upsample"); }
static ladle_status run_resize10(op_ctx *c) { return run_version(c, 10, "Resize"); }
static ladle_status run_resize11(op_ctx *c) { return run_version(c, 11, "Resize"); }

static ladle_status init_common(const node *n, int version, const char *op, errbuf *e) {
  rs_cfg cfg;
  ladle_status st = parse_cfg(n, version, op, &cfg, e);
  if (st) err_prefix(e, "%s", op);
  return st;
}
static ladle_status init_upsample7(const graph *g, node *n, errbuf *e) {
  (void)g;
  return init_common(n, 7, "Upsample", e);
}
static ladle_status init_resize10(const graph *g, node *n, errbuf *e) {
  (void)g;
  return init_common(n, 10, "Resize", e);
}
static ladle_status init_resize11(const graph *g, node *n, errbuf *e) {
  (void)g;
  return init_common(n, 11, "Resize", e);
}

/* Resize 11 and 13 differ only in which inputs may be omitted; 18 adds antialias, axes and
 * keep_aspect_ratio_policy. */
const op_def ops_resize[] = {
    {"", "Upsample", 7, 8, run_upsample7, init_upsample7, NULL},
    {"", "Upsample", 9, 9, run_upsample9, init_upsample7, NULL},
    {"", "Resize", 10, 10, run_resize10, init_resize10, NULL},
    {"", "Resize", 11, 17, run_resize11, init_resize11, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

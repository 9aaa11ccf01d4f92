/* pad.c — Pad (Pad-1/2 with attributes, Pad-11 and later with inputs): constant, reflect, edge
 * and wrap modes, negative pads cropping; its rows are in shape.c's table ops_shape[]. */
#include <string.h>

#include "runtime/ops/shape_common.h"

/* --- Pad ---------------------------------------------------------------------------------- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

/* Source index along an axis of length d for output position o (i = o - pad_begin), or -1
 * for the constant. */
static int64_t pad_map(int mode, int64_t i, int64_t d) {
  if (i >= 0 && i < d) return i;
  switch (mode) {
    case PAD_EDGE: return i < 0 ? 0 : d - 1;
    case PAD_WRAP: return ((i % d) + d) % d;
    case PAD_REFLECT: {
      if (d == 1) return 0;
      int64_t period = 2 * (d - 1), m = ((i % period) + period) % period;
      return m < d ? m : period - m;
    }
    default: return -1;
  }
}

/* pads: begin values for every axis, then end values (negative pads crop). */
static ladle_status pad(op_ctx *c, const ladle_tensor *x, int mode, const int64_t *pads,
                        const void *cval) {
  int r = x->ndim;
  int64_t dims[LADLE_MAX_DIMS], xst[LADLE_MAX_DIMS], total = 0;
  ladle_status st;
  for (int i = 0; i < r; i++) {
    int64_t pb = pads[i], pe = pads[r + i], d = x->dims[i];
    if (pb > INT64_C(1) << 40 || pe > INT64_C(1) << 40 || pb < -d || pe < -d)
      return op_fail(c, LADLE_ERR_INVALID, "pads %lld,%lld invalid for axis %d of size %lld",
                     (long long)pb, (long long)pe, i, (long long)d);
    if (pb + pe > 0 && d > INT64_MAX - (pb + pe))
      return op_fail(c, LADLE_ERR_LIMIT, "padded axis %d is too large", i);
    if (d + pb + pe < 0)
      return op_fail(c, LADLE_ERR_INVALID, "pads %lld,%lld crop more than axis %d of size %lld",
                     (long long)pb, (long long)pe, i, (long long)d);
    dims[i] = d + pb + pe;
    if (dims[i] > 0 && d == 0 && mode != PAD_CONSTANT)
      return op_fail(c, LADLE_ERR_INVALID, "cannot pad an empty axis %d in this mode", i);
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, r, dims, &y))) return st;
  int64_t n = ladle_tensor_numel(y);
  if (n == 0) return LADLE_OK;
  for (int i = 0; i < r; i++) total += dims[i]; /* each dim <= n now */
  /* map[off[i] + o]: source index along axis i for output position o, -1 for the constant */
  int64_t *map = op_scratch(c, 0, sizeof(int64_t) * (size_t)(total + 1)), off[LADLE_MAX_DIMS];
  if (!map) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for pad tables");
  size_t esz = ladle_dtype_size(x->dtype);
  if (ladle_tensor_numel(x) == 0) { /* nothing to copy: all constant */
    shape_fill(y->data, cval, n, esz);
    return shape_own_strings(c, y);
  }
  for (int64_t i = 0, at = 0; i < r; i++) {
    off[i] = at;
    for (int64_t o = 0; o < dims[i]; o++) map[at++] = pad_map(mode, o - pads[i], x->dims[i]);
  }
  shape_strides(r, x->dims, xst);
  if (r == 0) {
    memcpy(y->data, x->data, esz);
    return shape_own_strings(c, y);
  }
  int last = r - 1;
  int64_t w = dims[last], xd = x->dims[last], pb = pads[last];
  int64_t lo = pb > 0 ? pb : 0, hi = pb + xd < w ? pb + xd : w; /* interior [lo, hi) */
  int64_t rows = n / w, idx[LADLE_MAX_DIMS] = {0};
  char *d = y->data;
  const char *sx = x->data;
  for (int64_t row = 0; row < rows; row++, d += (size_t)w * esz) {
    int64_t so = 0;
    bool fill = false;
    for (int i = 0; i < last; i++) {
      int64_t m = map[off[i] + idx[i]];
      if (m < 0) fill = true;
      so += m * xst[i];
    }
    if (fill) {
      shape_fill(d, cval, w, esz);
    } else {
      const char *s = sx + (size_t)so * esz;
      for (int64_t o = 0; o < lo; o++) {
        int64_t m = map[off[last] + o];
        memcpy(d + (size_t)o * esz, m < 0 ? cval : s + (size_t)m * esz, esz);
      }
      if (hi > lo) memcpy(d + (size_t)lo * esz, s + (size_t)(lo - pb) * esz, (size_t)(hi - lo) * esz);
      for (int64_t o = hi > lo ? hi : lo; o < w; o++) {
        int64_t m = map[off[last] + o];
        memcpy(d + (size_t)o * esz, m < 0 ? cval : s + (size_t)m * esz, esz);
      }
    }
    for (int i = last - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return shape_own_strings(c, y);
}

static int pad_mode(const char *m) {
  if (!strcmp(m, "constant")) return PAD_CONSTANT;
  if (!strcmp(m, "reflect")) return PAD_REFLECT;
  if (!strcmp(m, "edge")) return PAD_EDGE;
  if (!strcmp(m, "wrap")) return PAD_WRAP;
  return -1;
}

/* Pad-1 ('paddings') and Pad-2 ('pads'): attributes, constant 'value' as a float. */
ladle_status pad_run_pad2(op_ctx *c) {
  const ladle_tensor *x;
  const node *nd = op_node(c);
  const int64_t *p;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int mode = pad_mode(node_attr_str(nd, "mode", "constant"));
  if (mode < 0 || mode == PAD_WRAP)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "pad mode '%s' is not supported", node_attr_str(nd, "mode", ""));
  int64_t np = node_attr_ints(nd, nd->opset < 2 ? "paddings" : "pads", &p);
  if (np != 2 * (int64_t)x->ndim)
    return op_fail(c, LADLE_ERR_INVALID, "pads has %lld entries for rank %d", (long long)np, x->ndim);
  uint64_t cval = 0;
  ladle_tensor cv = {x->dtype, 0, {0}, &cval};
  if (x->dtype != LADLE_STRING) tensor_set_f64(&cv, 0, node_attr_float(nd, "value", 0.0f));
  return pad(c, x, mode, p, &cval);
}

ladle_status pad_run_pad11(op_ctx *c) {
  const ladle_tensor *x, *tp, *tv = op_in(c, 2), *ta = op_in(c, 3);
  const node *nd = op_node(c);
  int64_t raw[2 * LADLE_MAX_DIMS], pads[2 * LADLE_MAX_DIMS] = {0}, axes[LADLE_MAX_DIMS];
  int np, na;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &tp))) return st;
  int r = x->ndim, mode = pad_mode(node_attr_str(nd, "mode", "constant"));
  if (mode < 0)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "pad mode '%s' is not supported", node_attr_str(nd, "mode", ""));
  if ((st = shape_read_ints(c, tp, "pads", 2 * LADLE_MAX_DIMS, raw, &np))) return st;
  if (ta) {
    if ((st = shape_read_ints(c, ta, "axes", LADLE_MAX_DIMS, axes, &na))) return st;
  } else {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  if (np != 2 * na) return op_fail(c, LADLE_ERR_INVALID, "pads has %d entries for %d axes", np, na);
  for (int i = 0; i < na; i++) {
    int a;
    if (!shape_axis(axes[i], r, &a))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axes[i], r);
    pads[a] = raw[i];
    pads[r + a] = raw[na + i];
  }
  uint64_t cval = 0;
  if (tv && ladle_tensor_numel(tv) > 0) {
    if (tv->dtype != x->dtype)
      return op_fail(c, LADLE_ERR_DTYPE, "constant_value is %s, data is %s",
                     ladle_dtype_name(tv->dtype), ladle_dtype_name(x->dtype));
    memcpy(&cval, tv->data, ladle_dtype_size(x->dtype));
  }
  return pad(c, x, mode, pads, &cval);
}

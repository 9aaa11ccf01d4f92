/* shape.c — ops that rearrange a tensor's elements without computing on them: Reshape,
 * Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Shape, Size, Expand, Tile, Slice,
 * DepthToSpace, SpaceToDepth, Trilu; and the family's table ops_shape[], whose Pad rows run in
 * pad.c. The strided-copy engine they share with gather.c and generate.c is in shape_copy.c
 * (shape_common.h).
 *
 * Every op here is dtype-generic: elements move as esz-byte units, strings as pointers that
 * shape_own_strings() then duplicates. Most ops reduce to one strided view of the input
 * (Transpose, Expand, Tile, Slice, DepthToSpace are all "dims + source strides") copied by
 * shape_copy_strided(), which merges contiguous axes first so the inner loop is as long as
 * possible. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/shape_common.h"

/* --- small shared pieces of the kernels --------------------------------------------------- */

/* Row-major strides of x, or zeros for an empty x: an empty tensor's dims may multiply past
 * int64 (the strides are never used then, since every view of it is empty too). */
static void strides_of(const ladle_tensor *x, int64_t *st) {
  if (ladle_tensor_numel(x) == 0)
    memset(st, 0, sizeof(int64_t) * (size_t)x->ndim);
  else
    shape_strides(x->ndim, x->dims, st);
}

/* Copies x into a new output 0 of shape (ndim, dims) (same element count). */
static ladle_status copy_reshaped(op_ctx *c, const ladle_tensor *x, int ndim, const int64_t *dims) {
  ladle_tensor *y;
  ladle_status st = op_out(c, 0, x->dtype, ndim, dims, &y);
  if (st) return st;
  memcpy(y->data, x->data, tensor_nbytes(x));
  return shape_own_strings(c, y);
}

/* Writes a strided view of x as output `out`. */
static ladle_status emit_view(op_ctx *c, int out, const ladle_tensor *x, int vnd,
                              const int64_t *vdims, const int64_t *vstrides, int ond,
                              const int64_t *odims) {
  ladle_tensor *y;
  ladle_status st = op_out(c, out, x->dtype, ond, odims, &y);
  if (st) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  shape_copy_strided(op_pool(c), y->data, x->data, vnd, vdims, vstrides, ladle_dtype_size(x->dtype));
  return shape_own_strings(c, y);
}

/* --- Reshape, Flatten, Squeeze, Unsqueeze ------------------------------------------------- */

static ladle_status reshape_to(op_ctx *c, const ladle_tensor *x, int n, const int64_t *req,
                               bool allowzero) {
  int64_t dims[LADLE_MAX_DIMS], known = 1;
  int infer = -1;
  char sh[128], sh2[128];
  if (n > LADLE_MAX_DIMS)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "target rank %d exceeds %d", n, LADLE_MAX_DIMS);
  for (int i = 0; i < n; i++) {
    int64_t v = req[i];
    if (v == 0 && !allowzero) {
      if (i >= x->ndim)
        return op_fail(c, LADLE_ERR_SHAPE, "shape entry %d is 0 (copy) but the input has rank %d",
                       i, x->ndim);
      v = x->dims[i];
    }
    if (v == -1) {
      if (infer >= 0) return op_fail(c, LADLE_ERR_SHAPE, "more than one -1 in the target shape");
      infer = i;
      dims[i] = 1;
      continue;
    }
    if (v < 0) return op_fail(c, LADLE_ERR_SHAPE, "invalid target dimension %lld", (long long)v);
    dims[i] = v;
    if (v != 0 && known > (INT64_C(1) << 62) / v)
      return op_fail(c, LADLE_ERR_SHAPE, "target shape %s is too large", shape_str(n, req, sh, sizeof sh));
    known *= v;
  }
  int64_t numel = ladle_tensor_numel(x);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      return op_fail(c, LADLE_ERR_SHAPE, "cannot reshape %s into %s",
                     shape_str(x->ndim, x->dims, sh, sizeof sh), shape_str(n, req, sh2, sizeof sh2));
    dims[infer] = numel / known;
  } else if (known != numel) {
    return op_fail(c, LADLE_ERR_SHAPE, "cannot reshape %s into %s",
                   shape_str(x->ndim, x->dims, sh, sizeof sh), shape_str(n, req, sh2, sizeof sh2));
  }
  return copy_reshaped(c, x, n, dims);
}

static ladle_status run_reshape(op_ctx *c) {
  const ladle_tensor *x, *s;
  int64_t req[LADLE_MAX_DIMS + 1];
  int n;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &s))) return st;
  if ((st = shape_read_ints(c, s, "shape", LADLE_MAX_DIMS + 1, req, &n))) return st;
  return reshape_to(c, x, n, req, node_attr_int(op_node(c), "allowzero", 0) != 0);
}

static ladle_status run_reshape1(op_ctx *c) {
  const ladle_tensor *x;
  const int64_t *req;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t n = node_attr_ints(op_node(c), "shape", &req);
  if (n < 0) return op_fail(c, LADLE_ERR_INVALID, "attribute 'shape' is required");
  if (n > LADLE_MAX_DIMS)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "target rank %lld exceeds %d", (long long)n, LADLE_MAX_DIMS);
  return reshape_to(c, x, (int)n, req, false);
}

static ladle_status run_flatten(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t axis = node_attr_int(op_node(c), "axis", 1);
  if (axis < -(int64_t)x->ndim || axis > x->ndim)
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, x->ndim);
  if (axis < 0) axis += x->ndim;
  int64_t dims[2] = {shape_numel((int)axis, x->dims), shape_numel(x->ndim - (int)axis, x->dims + axis)};
  return copy_reshaped(c, x, 2, dims);
}

/* Squeeze with the axes in ax[0..na); no axes (na <= 0, as ONNX Runtime reads an empty list
 * too) removes every dim of size 1. */
static ladle_status squeeze(op_ctx *c, const ladle_tensor *x, int na, const int64_t *ax) {
  if (na == 0) na = -1;
  bool drop[LADLE_MAX_DIMS] = {false};
  int64_t dims[LADLE_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < na; i++) {
    int a;
    if (!shape_axis(ax[i], x->ndim, &a))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax[i], x->ndim);
    if (x->dims[a] != 1)
      return op_fail(c, LADLE_ERR_SHAPE, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
    if (drop[a]) return op_fail(c, LADLE_ERR_INVALID, "axis %d given twice", a);
    drop[a] = true;
  }
  for (int i = 0; i < x->ndim; i++)
    if (!(na < 0 ? x->dims[i] == 1 : drop[i])) dims[n++] = x->dims[i];
  return copy_reshaped(c, x, n, dims);
}

static ladle_status unsqueeze(op_ctx *c, const ladle_tensor *x, int na, const int64_t *ax) {
  bool ins[LADLE_MAX_DIMS] = {false};
  int64_t dims[LADLE_MAX_DIMS];
  int r = x->ndim + na;
  if (na < 0) return op_fail(c, LADLE_ERR_INVALID, "axes are required");
  if (r > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, LADLE_MAX_DIMS);
  for (int i = 0; i < na; i++) {
    int a;
    if (!shape_axis(ax[i], r, &a))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for output rank %d", (long long)ax[i], r);
    if (ins[a]) return op_fail(c, LADLE_ERR_INVALID, "axis %d given twice", a);
    ins[a] = true;
  }
  for (int i = 0, k = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[k++];
  return copy_reshaped(c, x, r, dims);
}

/* Squeeze and Unsqueeze read their axes from an attribute before opset 13 and from input 1
 * after; na is -1 when none are given (Squeeze: every size-1 axis; Unsqueeze refuses). */
typedef ladle_status (*axes_fn)(op_ctx *c, const ladle_tensor *x, int na, const int64_t *ax);

static ladle_status with_attr_axes(op_ctx *c, axes_fn fn) {
  const ladle_tensor *x;
  const int64_t *ax = NULL;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t na = node_attr_ints(op_node(c), "axes", &ax);
  if (na > LADLE_MAX_DIMS) return op_fail(c, LADLE_ERR_INVALID, "too many axes (%lld)", (long long)na);
  return fn(c, x, (int)na, ax);
}

static ladle_status with_input_axes(op_ctx *c, axes_fn fn) {
  const ladle_tensor *x, *a = op_in(c, 1);
  int64_t ax[LADLE_MAX_DIMS];
  int na = -1;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  if (a && (st = shape_read_ints(c, a, "axes", LADLE_MAX_DIMS, ax, &na))) return st;
  return fn(c, x, na, ax);
}

static ladle_status run_squeeze1(op_ctx *c) { return with_attr_axes(c, squeeze); }
static ladle_status run_squeeze13(op_ctx *c) { return with_input_axes(c, squeeze); }
static ladle_status run_unsqueeze1(op_ctx *c) { return with_attr_axes(c, unsqueeze); }
static ladle_status run_unsqueeze13(op_ctx *c) { return with_input_axes(c, unsqueeze); }

/* --- Transpose ---------------------------------------------------------------------------- */

static ladle_status run_transpose(op_ctx *c) {
  const ladle_tensor *x;
  const int64_t *perm = NULL;
  int64_t dims[LADLE_MAX_DIMS], vst[LADLE_MAX_DIMS], xst[LADLE_MAX_DIMS];
  bool seen[LADLE_MAX_DIMS] = {false};
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int r = x->ndim;
  int64_t np = node_attr_ints(op_node(c), "perm", &perm);
  if (np >= 0 && np != r)
    return op_fail(c, LADLE_ERR_INVALID, "perm has %lld entries for rank %d", (long long)np, r);
  strides_of(x, xst);
  for (int i = 0; i < r; i++) {
    int64_t p = np >= 0 ? perm[i] : r - 1 - i;
    if (p < 0 || p >= r || seen[p])
      return op_fail(c, LADLE_ERR_INVALID, "perm is not a permutation of 0..%d", r - 1);
    seen[p] = true;
    dims[i] = x->dims[p];
    vst[i] = xst[p];
  }
  return emit_view(c, 0, x, r, dims, vst, r, dims);
}

/* --- Concat, Split ------------------------------------------------------------------------ */

static ladle_status run_concat(op_ctx *c) {
  const ladle_tensor *x0;
  int64_t dims[LADLE_MAX_DIMS];
  char a[128], b[128];
  ladle_status st;
  int n = op_n_in(c), axis;
  if ((st = shape_need_input(c, 0, &x0))) return st;
  const node *nd = op_node(c);
  if (!node_attr(nd, "axis") && nd->opset >= 4)
    return op_fail(c, LADLE_ERR_INVALID, "attribute 'axis' is required");
  int64_t ax = node_attr_int(nd, "axis", 1);
  if (!shape_axis(ax, x0->ndim, &axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x0->ndim);
  memcpy(dims, x0->dims, sizeof dims);
  dims[axis] = 0;
  for (int i = 0; i < n; i++) {
    const ladle_tensor *x;
    if ((st = shape_need_input(c, i, &x))) return st;
    if (x->dtype != x0->dtype)
      return op_fail(c, LADLE_ERR_DTYPE, "input %d is %s, input 0 is %s", i,
                     ladle_dtype_name(x->dtype), ladle_dtype_name(x0->dtype));
    bool ok = x->ndim == x0->ndim;
    for (int d = 0; ok && d < x->ndim; d++) ok = d == axis || x->dims[d] == x0->dims[d];
    if (!ok)
      return op_fail(c, LADLE_ERR_SHAPE, "input %d has shape %s, input 0 has %s (axis %d)", i,
                     shape_str(x->ndim, x->dims, a, sizeof a), shape_str(x0->ndim, x0->dims, b, sizeof b), axis);
    if (x->dims[axis] > INT64_MAX - dims[axis]) /* possible when another dim is 0 */
      return op_fail(c, LADLE_ERR_LIMIT, "concatenated axis %d is too large", axis);
    dims[axis] += x->dims[axis];
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, x0->dtype, x0->ndim, dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  size_t esz = ladle_dtype_size(x0->dtype);
  int64_t outer = shape_numel(axis, dims), inner = shape_numel(x0->ndim - axis - 1, dims + axis + 1);
  size_t orow = (size_t)(dims[axis] * inner) * esz, off = 0;
  for (int i = 0; i < n; i++) {
    const ladle_tensor *x = op_in(c, i);
    size_t row = (size_t)(x->dims[axis] * inner) * esz;
    char *d = (char *)y->data + off;
    const char *s = x->data;
    if (row)
      for (int64_t o = 0; o < outer; o++) memcpy(d + (size_t)o * orow, s + (size_t)o * row, row);
    off += row;
  }
  return shape_own_strings(c, y);
}

/* Splits input 0 along `axis` into the node's outputs with sizes split[0..ns) (ns < 0: equal
 * parts; with num_outputs > 0, ceil-sized parts as Split-18 defines them). */
static ladle_status split(op_ctx *c, int ns, const int64_t *split, int64_t num_outputs) {
  const ladle_tensor *x;
  int64_t sizes[256], dims[LADLE_MAX_DIMS];
  int nout = op_n_out(c), axis;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t ax = node_attr_int(op_node(c), "axis", 0);
  if (!shape_axis(ax, x->ndim, &axis))
    return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, x->ndim);
  if (nout < 1 || nout > 256) return op_fail(c, LADLE_ERR_UNSUPPORTED, "%d outputs is not supported", nout);
  int64_t dim = x->dims[axis], sum = 0;
  if (ns >= 0) {
    if (ns != nout)
      return op_fail(c, LADLE_ERR_INVALID, "split has %d entries for %d outputs", ns, nout);
    for (int i = 0; i < ns; i++) {
      if (split[i] < 0 || split[i] > dim - sum)
        return op_fail(c, LADLE_ERR_SHAPE, "split sizes do not add up to dimension %lld", (long long)dim);
      sizes[i] = split[i];
      sum += split[i];
    }
    if (sum != dim)
      return op_fail(c, LADLE_ERR_SHAPE, "split sizes add up to %lld, dimension is %lld",
                     (long long)sum, (long long)dim);
  } else {
    if (num_outputs > 0 && num_outputs != nout)
      return op_fail(c, LADLE_ERR_INVALID, "num_outputs is %lld but the node has %d outputs",
                     (long long)num_outputs, nout);
    int64_t part = dim / nout + (dim % nout != 0);
    if (dim % nout != 0 && num_outputs <= 0)
      return op_fail(c, LADLE_ERR_SHAPE, "dimension %lld does not split into %d equal parts",
                     (long long)dim, nout);
    for (int i = 0; i < nout; i++) {
      sizes[i] = part < dim - sum ? part : dim - sum;
      sum += sizes[i];
    }
  }
  size_t esz = ladle_dtype_size(x->dtype), irow = 0, off = 0;
  bool empty = ladle_tensor_numel(x) == 0; /* then every output is empty too */
  int64_t outer = 0, inner = 0;
  if (!empty) {
    outer = shape_numel(axis, x->dims);
    inner = shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
    irow = (size_t)(dim * inner) * esz;
  }
  memcpy(dims, x->dims, sizeof dims);
  for (int i = 0; i < nout; i++) {
    ladle_tensor *y;
    dims[axis] = sizes[i];
    if ((st = op_out(c, i, x->dtype, x->ndim, dims, &y))) return st;
    if (empty) continue;
    size_t row = (size_t)(sizes[i] * inner) * esz;
    if (row)
      for (int64_t o = 0; o < outer; o++)
        memcpy((char *)y->data + (size_t)o * row, (const char *)x->data + (size_t)o * irow + off, row);
    off += row;
    if ((st = shape_own_strings(c, y))) return st;
  }
  return LADLE_OK;
}

static ladle_status run_split1(op_ctx *c) {
  const int64_t *s = NULL;
  const ladle_tensor *t = op_in(c, 1); /* Split-1 also took the sizes as an input */
  if (t) {
    int64_t buf[256];
    int n;
    ladle_status st = shape_read_ints(c, t, "split", 256, buf, &n);
    return st ? st : split(c, n, buf, 0);
  }
  int64_t n = node_attr_ints(op_node(c), "split", &s);
  if (n > 256) return op_fail(c, LADLE_ERR_UNSUPPORTED, "%lld split sizes is not supported", (long long)n);
  return split(c, (int)n, s, 0);
}

static ladle_status run_split13(op_ctx *c) {
  const ladle_tensor *t = op_in(c, 1);
  int64_t buf[256];
  int n = -1;
  ladle_status st;
  if (t && (st = shape_read_ints(c, t, "split", 256, buf, &n))) return st;
  return split(c, n, buf, node_attr_int(op_node(c), "num_outputs", 0));
}

/* --- Shape, Size -------------------------------------------------------------------------- */

static ladle_status run_shape(op_ctx *c) {
  const ladle_tensor *x;
  ladle_tensor *y;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t r = x->ndim, start = node_attr_int(op_node(c), "start", 0), end = node_attr_int(op_node(c), "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : (start > r ? r : start);
  end = end < 0 ? 0 : (end > r ? r : end);
  int64_t n = end > start ? end - start : 0;
  if ((st = op_out(c, 0, LADLE_INT64, 1, &n, &y))) return st;
  for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = x->dims[start + i];
  return LADLE_OK;
}

static ladle_status run_size(op_ctx *c) {
  const ladle_tensor *x;
  ladle_tensor *y;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  if ((st = op_out(c, 0, LADLE_INT64, 0, NULL, &y))) return st;
  *(int64_t *)y->data = ladle_tensor_numel(x);
  return LADLE_OK;
}

/* --- Expand, Tile ------------------------------------------------------------------------- */

static ladle_status run_expand(op_ctx *c) {
  const ladle_tensor *x, *s;
  int64_t req[LADLE_MAX_DIMS], dims[LADLE_MAX_DIMS], vst[LADLE_MAX_DIMS];
  char a[128], b[128];
  int n, nd;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &s))) return st;
  if ((st = shape_read_ints(c, s, "shape", LADLE_MAX_DIMS, req, &n))) return st;
  for (int i = 0; i < n; i++)
    if (req[i] < 0) return op_fail(c, LADLE_ERR_SHAPE, "negative dimension %lld in shape", (long long)req[i]);
  if (!shape_broadcast(x->ndim, x->dims, n, req, &nd, dims))
    return op_fail(c, LADLE_ERR_SHAPE, "cannot expand %s to %s", shape_str(x->ndim, x->dims, a, sizeof a),
                   shape_str(n, req, b, sizeof b));
  if (ladle_tensor_numel(x) == 0)
    memset(vst, 0, sizeof vst);
  else
    shape_broadcast_strides(x->ndim, x->dims, nd, dims, vst);
  return emit_view(c, 0, x, nd, dims, vst, nd, dims);
}

static ladle_status run_tile(op_ctx *c) {
  const ladle_tensor *x, *rt;
  int64_t rep[LADLE_MAX_DIMS], dims[LADLE_MAX_DIMS], xst[LADLE_MAX_DIMS];
  int64_t vd[SHAPE_VIEW_MAX], vs[SHAPE_VIEW_MAX];
  int n;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &rt))) return st;
  if ((st = shape_read_ints(c, rt, "repeats", LADLE_MAX_DIMS, rep, &n))) return st;
  if (n != x->ndim)
    return op_fail(c, LADLE_ERR_SHAPE, "repeats has %d entries for rank %d", n, x->ndim);
  strides_of(x, xst);
  for (int i = 0; i < n; i++) {
    if (rep[i] < 0) return op_fail(c, LADLE_ERR_INVALID, "negative repeat %lld", (long long)rep[i]);
    if (x->dims[i] && rep[i] > INT64_MAX / x->dims[i])
      return op_fail(c, LADLE_ERR_LIMIT, "repeat %lld makes axis %d too large", (long long)rep[i], i);
    dims[i] = x->dims[i] * rep[i];
    vd[2 * i] = rep[i]; /* the output as [rep0, d0, rep1, d1, ...] over the input */
    vs[2 * i] = 0;
    vd[2 * i + 1] = x->dims[i];
    vs[2 * i + 1] = xst[i];
  }
  if (shape_numel(n, dims) < 0) return op_fail(c, LADLE_ERR_LIMIT, "tiled output is too large");
  return emit_view(c, 0, x, 2 * n, vd, vs, n, dims);
}

/* --- Slice -------------------------------------------------------------------------------- */

static ladle_status slice(op_ctx *c, const ladle_tensor *x, int n, const int64_t *starts,
                          const int64_t *ends, const int64_t *axes, const int64_t *steps) {
  int64_t xst[LADLE_MAX_DIMS], dims[LADLE_MAX_DIMS], vst[LADLE_MAX_DIMS], begin[LADLE_MAX_DIMS];
  bool seen[LADLE_MAX_DIMS] = {false};
  int r = x->ndim;
  strides_of(x, xst);
  for (int i = 0; i < r; i++) {
    dims[i] = x->dims[i];
    vst[i] = xst[i];
    begin[i] = 0;
  }
  for (int i = 0; i < n; i++) {
    int a;
    int64_t ax = axes ? axes[i] : i;
    if (!shape_axis(ax, r, &a))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d", (long long)ax, r);
    if (seen[a]) return op_fail(c, LADLE_ERR_INVALID, "axis %d given twice", a);
    seen[a] = true;
    int64_t d = x->dims[a], step = steps ? steps[i] : 1, s = starts[i], e = ends[i], cnt;
    if (step == 0) return op_fail(c, LADLE_ERR_INVALID, "step 0 on axis %d", a);
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
      s = s < 0 ? 0 : (s > d ? d : s);
      e = e < 0 ? 0 : (e > d ? d : e);
      if (step > d) step = d > 0 ? d : 1; /* same count, and step * stride cannot overflow */
      cnt = e > s ? (e - s) / step + ((e - s) % step != 0) : 0;
    } else {
      s = s < 0 ? 0 : (s > d - 1 ? d - 1 : s);
      e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
      if (step < -d) step = d > 0 ? -d : -1;
      cnt = s > e ? (s - e) / -step + ((s - e) % -step != 0) : 0;
    }
    dims[a] = cnt;
    begin[a] = cnt > 0 ? s : 0;
    vst[a] = xst[a] * step;
  }
  ladle_tensor *y;
  ladle_status st = op_out(c, 0, x->dtype, r, dims, &y);
  if (st) return st;
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t off = 0;
  for (int i = 0; i < r; i++) off += begin[i] * xst[i];
  if (ladle_tensor_numel(y) > 0)
    shape_copy_strided(op_pool(c), y->data, (const char *)x->data + (size_t)off * esz, r, dims, vst, esz);
  return shape_own_strings(c, y);
}

static ladle_status run_slice1(op_ctx *c) {
  const ladle_tensor *x;
  const int64_t *s, *e, *a = NULL;
  const node *nd = op_node(c);
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  int64_t ns = node_attr_ints(nd, "starts", &s), ne = node_attr_ints(nd, "ends", &e);
  int64_t na = node_attr_ints(nd, "axes", &a);
  if (ns < 0 || ne != ns || (na >= 0 && na != ns) || ns > x->ndim)
    return op_fail(c, LADLE_ERR_INVALID, "starts, ends and axes must have the same length (at most the rank)");
  return slice(c, x, (int)ns, s, e, na >= 0 ? a : NULL, NULL);
}

static ladle_status run_slice10(op_ctx *c) {
  const ladle_tensor *x, *ts, *te, *ta = op_in(c, 3), *tp = op_in(c, 4);
  int64_t s[LADLE_MAX_DIMS], e[LADLE_MAX_DIMS], a[LADLE_MAX_DIMS], p[LADLE_MAX_DIMS];
  int ns, ne, na, np;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x)) || (st = shape_need_input(c, 1, &ts)) || (st = shape_need_input(c, 2, &te)))
    return st;
  if ((st = shape_read_ints(c, ts, "starts", x->ndim, s, &ns)) ||
      (st = shape_read_ints(c, te, "ends", x->ndim, e, &ne)))
    return st;
  if (ta && (st = shape_read_ints(c, ta, "axes", x->ndim, a, &na))) return st;
  if (tp && (st = shape_read_ints(c, tp, "steps", x->ndim, p, &np))) return st;
  if (ne != ns || (ta && na != ns) || (tp && np != ns))
    return op_fail(c, LADLE_ERR_INVALID, "starts, ends, axes and steps must have the same length");
  return slice(c, x, ns, s, e, ta ? a : NULL, tp ? p : NULL);
}

/* --- DepthToSpace, SpaceToDepth ----------------------------------------------------------- */

/* Writes x viewed as the 6-D shape src6 (contiguous), permuted by perm, as output [out4]. */
static ladle_status permute6(op_ctx *c, const ladle_tensor *x, const int64_t *src6, const int *perm,
                             const int64_t *out4) {
  int64_t st6[6], vd[6], vs[6];
  if (ladle_tensor_numel(x) == 0)
    memset(st6, 0, sizeof st6);
  else
    shape_strides(6, src6, st6);
  for (int i = 0; i < 6; i++) {
    vd[i] = src6[perm[i]];
    vs[i] = st6[perm[i]];
  }
  return emit_view(c, 0, x, 6, vd, vs, 4, out4);
}

static ladle_status block_input(op_ctx *c, const ladle_tensor **x, int64_t *b) {
  ladle_status st;
  if ((st = shape_need_input(c, 0, x))) return st;
  if ((*x)->ndim != 4) return op_fail(c, LADLE_ERR_SHAPE, "input must be 4-D, got rank %d", (*x)->ndim);
  *b = node_attr_int(op_node(c), "blocksize", 0);
  if (*b <= 0 || *b > (INT64_C(1) << 20))
    return op_fail(c, LADLE_ERR_INVALID, "invalid blocksize %lld", (long long)*b);
  return LADLE_OK;
}

static ladle_status run_depth_to_space(op_ctx *c) {
  const ladle_tensor *x;
  int64_t b = 0;
  ladle_status st;
  if ((st = block_input(c, &x, &b))) return st;
  const int64_t *d = x->dims;
  if (d[1] % (b * b) != 0)
    return op_fail(c, LADLE_ERR_SHAPE, "channels %lld not divisible by blocksize^2", (long long)d[1]);
  int64_t cc = d[1] / (b * b), out[4] = {d[0], cc, d[2] * b, d[3] * b};
  if (d[2] > INT64_MAX / b || d[3] > INT64_MAX / b)
    return op_fail(c, LADLE_ERR_LIMIT, "output too large");
  const char *mode = node_attr_str(op_node(c), "mode", "DCR");
  if (!strcmp(mode, "DCR")) {
    static const int perm[6] = {0, 3, 4, 1, 5, 2};
    int64_t src[6] = {d[0], b, b, cc, d[2], d[3]};
    return permute6(c, x, src, perm, out);
  }
  if (!strcmp(mode, "CRD")) {
    static const int perm[6] = {0, 1, 4, 2, 5, 3};
    int64_t src[6] = {d[0], cc, b, b, d[2], d[3]};
    return permute6(c, x, src, perm, out);
  }
  return op_fail(c, LADLE_ERR_INVALID, "unknown mode '%s'", mode);
}

static ladle_status run_space_to_depth(op_ctx *c) {
  const ladle_tensor *x;
  int64_t b = 0;
  ladle_status st;
  if ((st = block_input(c, &x, &b))) return st;
  const int64_t *d = x->dims;
  if (d[2] % b != 0 || d[3] % b != 0)
    return op_fail(c, LADLE_ERR_SHAPE, "spatial dims %lldx%lld not divisible by blocksize %lld",
                   (long long)d[2], (long long)d[3], (long long)b);
  if (d[1] > INT64_MAX / (b * b)) return op_fail(c, LADLE_ERR_LIMIT, "output too large");
  static const int perm[6] = {0, 3, 5, 1, 2, 4};
  int64_t src[6] = {d[0], d[1], d[2] / b, b, d[3] / b, b};
  int64_t out[4] = {d[0], d[1] * b * b, d[2] / b, d[3] / b};
  return permute6(c, x, src, perm, out);
}

/* --- Trilu -------------------------------------------------------------------------------- */

static ladle_status run_trilu(op_ctx *c) {
  const ladle_tensor *x, *tk = op_in(c, 1);
  ladle_tensor *y;
  ladle_status st;
  if ((st = shape_need_input(c, 0, &x))) return st;
  if (x->ndim < 2) return op_fail(c, LADLE_ERR_SHAPE, "input must have rank >= 2, got %d", x->ndim);
  int64_t k = 0;
  if (tk) {
    if (!dtype_is_integer(tk->dtype) || ladle_tensor_numel(tk) != 1)
      return op_fail(c, LADLE_ERR_INVALID, "k must be one integer");
    k = tensor_get_i64(tk, 0);
  }
  bool upper = node_attr_int(op_node(c), "upper", 1) != 0;
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  int64_t m = x->dims[x->ndim - 2], n = x->dims[x->ndim - 1];
  int64_t mats = shape_numel(x->ndim - 2, x->dims);
  size_t esz = ladle_dtype_size(x->dtype), rowb = (size_t)n * esz;
  if (k > n + 1) k = n + 1; /* clamp so i + k cannot overflow; same result */
  if (k < -m - 1) k = -m - 1;
  memcpy(y->data, x->data, tensor_nbytes(x));
  char *p = y->data;
  for (int64_t t = 0; t < mats; t++) {
    for (int64_t i = 0; i < m; i++, p += rowb) {
      int64_t j = i + k; /* upper keeps columns >= j; lower keeps columns <= j */
      if (upper) {
        int64_t z = j < 0 ? 0 : (j > n ? n : j);
        memset(p, 0, (size_t)z * esz);
      } else {
        int64_t z = j + 1 < 0 ? 0 : (j + 1 > n ? n : j + 1);
        memset(p + (size_t)z * esz, 0, (size_t)(n - z) * esz);
      }
    }
  }
  return shape_own_strings(c, y);
}

const op_def ops_shape[] = {
    {"", "Reshape", 1, 4, run_reshape1, NULL, NULL},
    {"", "Reshape", 5, 99, run_reshape, NULL, NULL},
    {"", "Flatten", 1, 99, run_flatten, NULL, NULL},
    {"", "Squeeze", 1, 12, run_squeeze1, NULL, NULL},
    {"", "Squeeze", 13, 99, run_squeeze13, NULL, NULL},
    {"", "Unsqueeze", 1, 12, run_unsqueeze1, NULL, NULL},
    {"", "Unsqueeze", 13, 99, run_unsqueeze13, NULL, NULL},
    {"", "Transpose", 1, 99, run_transpose, NULL, NULL},
    {"", "Concat", 1, 99, run_concat, NULL, NULL},
    {"", "Split", 1, 12, run_split1, NULL, NULL},
    {"", "Split", 13, 99, run_split13, NULL, NULL},
    {"", "Shape", 1, 99, run_shape, NULL, NULL},
    {"", "Size", 1, 99, run_size, NULL, NULL},
    {"", "Expand", 8, 99, run_expand, NULL, NULL},
    {"", "Tile", 6, 99, run_tile, NULL, NULL},
    {"", "Slice", 1, 9, run_slice1, NULL, NULL},
    {"", "Slice", 10, 99, run_slice10, NULL, NULL},
    {"", "Pad", 1, 10, pad_run_pad2, NULL, NULL},
    {"", "Pad", 11, 99, pad_run_pad11, NULL, NULL},
    {"", "DepthToSpace", 1, 99, run_depth_to_space, NULL, NULL},
    {"", "SpaceToDepth", 1, 99, run_space_to_depth, NULL, NULL},
    {"", "Trilu", 14, 99, run_trilu, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

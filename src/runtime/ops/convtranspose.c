/* convtranspose.c — the ConvTranspose op of the conv family (its row is in conv.c's ops_conv[]):
 * float as a GEMM on the engine (gemm.c) followed by col2im, other dtypes by the direct loop. */
#include <string.h>

#include "runtime/ops/conv_common.h"

/* y (N, M, out...) from x (N, C, in...) and w (C, M/G, k...): every input element scatters
 * x * w into the outputs its window covers. Float runs col = W_g^T · X_g as a GEMM and adds
 * the columns into y (col2im); other dtypes use the direct loop. */
typedef struct convt_geom {
  int nsp;
  int64_t in[WIN_MAX_SP], out[WIN_MAX_SP], k[WIN_MAX_SP], s[WIN_MAX_SP], d[WIN_MAX_SP],
      pb[WIN_MAX_SP];
} convt_geom;

/* Where input position ii, through kernel tap t, lands in the output: its flat index in *lin;
 * false when it falls in the cropped padding. */
static inline bool convt_target(const convt_geom *g, const int64_t *ii, const int64_t *t, int64_t *lin) {
  bool inside = true;
  *lin = 0;
  for (int d = 0; d < g->nsp; d++) {
    int64_t o = ii[d] * g->s[d] - g->pb[d] + t[d] * g->d[d];
    if (o < 0 || o >= g->out[d]) inside = false;
    *lin = *lin * g->out[d] + o;
  }
  return inside;
}

/* Advances a row-major multi-index idx[0..n) within lim (wrapping to all zeros at the end). */
static inline void odometer_step(int64_t *idx, const int64_t *lim, int n) {
  for (int d = n - 1; d >= 0; d--) {
    if (++idx[d] < lim[d]) break;
    idx[d] = 0;
  }
}

static ladle_status convt_geometry(op_ctx *c, convt_geom *g) {
  const node *n = op_node(c);
  const int64_t *v = NULL;
  int64_t cnt, nsp = g->nsp;
  int64_t op[WIN_MAX_SP] = {0}, pe[WIN_MAX_SP] = {0}, oshape[WIN_MAX_SP];
  bool have_oshape = false;
  for (int d = 0; d < nsp; d++) {
    g->s[d] = g->d[d] = 1;
    g->pb[d] = 0;
  }
  if ((cnt = node_attr_ints(n, "strides", &v)) >= 0) {
    if (cnt != nsp) return op_fail(c, LADLE_ERR_INVALID, "strides must have %lld values", (long long)nsp);
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 1) return op_fail(c, LADLE_ERR_INVALID, "strides[%d] = %lld", d, (long long)v[d]);
      g->s[d] = v[d];
    }
  }
  if ((cnt = node_attr_ints(n, "dilations", &v)) >= 0) {
    if (cnt != nsp) return op_fail(c, LADLE_ERR_INVALID, "dilations must have %lld values", (long long)nsp);
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 1) return op_fail(c, LADLE_ERR_INVALID, "dilations[%d] = %lld", d, (long long)v[d]);
      g->d[d] = v[d];
    }
  }
  if ((cnt = node_attr_ints(n, "output_padding", &v)) >= 0) {
    if (cnt != nsp) return op_fail(c, LADLE_ERR_INVALID, "output_padding must have %lld values", (long long)nsp);
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 0) return op_fail(c, LADLE_ERR_INVALID, "negative output_padding");
      op[d] = v[d];
    }
  }
  if ((cnt = node_attr_ints(n, "output_shape", &v)) >= 0) {
    /* either the spatial dims or the full shape */
    if (cnt != nsp && cnt != nsp + 2)
      return op_fail(c, LADLE_ERR_INVALID, "output_shape must have %lld values", (long long)nsp);
    for (int d = 0; d < nsp; d++) oshape[d] = v[cnt - nsp + d];
    have_oshape = true;
  }
  const char *ap = node_attr_str(n, "auto_pad", "NOTSET");
  bool same_upper = strcmp(ap, "SAME_UPPER") == 0, same_lower = strcmp(ap, "SAME_LOWER") == 0;
  bool valid = strcmp(ap, "VALID") == 0;
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0 && ap[0])
    return op_fail(c, LADLE_ERR_INVALID, "unknown auto_pad '%s'", ap);
  if ((cnt = node_attr_ints(n, "pads", &v)) >= 0 && !same_upper && !same_lower && !valid &&
      !have_oshape) {
    if (cnt != 2 * nsp) return op_fail(c, LADLE_ERR_INVALID, "pads must have %lld values", 2 * (long long)nsp);
    for (int d = 0; d < nsp; d++) {
      if (v[d] < 0 || v[d + nsp] < 0) return op_fail(c, LADLE_ERR_INVALID, "negative pads");
      g->pb[d] = v[d];
      pe[d] = v[d + nsp];
    }
  }
  for (int d = 0; d < nsp; d++) {
    int64_t keff = (g->k[d] - 1) * g->d[d] + 1;
    int64_t full = g->s[d] * (g->in[d] - 1) + op[d] + keff;
    if (have_oshape || same_upper || same_lower) {
      int64_t want = have_oshape ? oshape[d] : g->in[d] * g->s[d];
      int64_t total = full - want;
      if (total < 0) total = 0; /* the tail beyond the computed extent stays bias-only */
      /* ONNX: SAME_UPPER puts the odd pad at the end of the input, i.e. the start here */
      if (same_upper) {
        g->pb[d] = total / 2;
      } else {
        g->pb[d] = total - total / 2;
      }
      g->out[d] = want;
    } else {
      g->out[d] = full - g->pb[d] - pe[d];
    }
    if (g->out[d] < 1) return op_fail(c, LADLE_ERR_SHAPE, "empty output on axis %d", d + 2);
  }
  return LADLE_OK;
}

typedef struct convt_dims {
  int64_t N, C, M, G, Cg, Mg, taps, in_plane, out_plane;
} convt_dims;

/* 2-D col2im: per kernel tap, the valid input columns form one range, so each input row adds
 * into one output row with a fixed stride. */
static void col2im_2d(const convt_geom *g, const convt_dims *cd, const float *col, float *y) {
  int64_t H = g->in[0], W = g->in[1], OH = g->out[0], OW = g->out[1];
  for (int64_t m = 0; m < cd->Mg; m++)
    for (int64_t a = 0; a < g->k[0]; a++)
      for (int64_t b = 0; b < g->k[1]; b++) {
        const float *row = col + ((m * g->k[0] + a) * g->k[1] + b) * cd->in_plane;
        float *ym = y + m * cd->out_plane;
        int64_t cw = b * g->d[1] - g->pb[1]; /* ow = iw*sw + cw */
        int64_t lo = cw >= 0 ? 0 : (-cw + g->s[1] - 1) / g->s[1];
        int64_t hi = OW - 1 - cw >= 0 ? (OW - 1 - cw) / g->s[1] + 1 : 0;
        if (hi > W) hi = W;
        for (int64_t ih = 0; ih < H; ih++) {
          int64_t oh = ih * g->s[0] - g->pb[0] + a * g->d[0];
          if (oh < 0 || oh >= OH) continue;
          const float *src = row + ih * W;
          float *yr = ym + oh * OW; /* yr[cw + iw*sw] for iw in [lo, hi) stays in the row */
          int64_t sw = g->s[1];
          for (int64_t iw = lo; iw < hi; iw++) yr[cw + iw * sw] += src[iw];
        }
      }
}

/* Adds the window contributions of col (Mg*taps rows × in_plane) into y (Mg × out_plane). */
static void col2im(const convt_geom *g, const convt_dims *cd, const float *col, float *y) {
  int nsp = g->nsp;
  if (nsp == 2) {
    col2im_2d(g, cd, col, y);
    return;
  }
  for (int64_t m = 0; m < cd->Mg; m++) {
    int64_t t[WIN_MAX_SP] = {0};
    for (int64_t ti = 0; ti < cd->taps; ti++) {
      const float *row = col + (m * cd->taps + ti) * cd->in_plane;
      float *ym = y + m * cd->out_plane;
      int64_t ii[WIN_MAX_SP] = {0};
      for (int64_t i = 0; i < cd->in_plane; i++) {
        int64_t lin;
        if (convt_target(g, ii, t, &lin)) ym[lin] += row[i];
        odometer_step(ii, g->in, nsp);
      }
      odometer_step(t, g->k, nsp);
    }
  }
}

/* acc: scratch of N * M * out_plane doubles. */
static void convt_ref(const convt_geom *g, const convt_dims *cd, int dt, const void *x,
                      const void *w, const void *b, void *y, double *acc) {
  int nsp = g->nsp;
  int64_t total = cd->N * cd->M * cd->out_plane;
  memset(acc, 0, sizeof(double) * (size_t)total);
  for (int64_t n = 0; n < cd->N; n++)
    for (int64_t ci = 0; ci < cd->C; ci++) {
      int64_t grp = ci / cd->Cg;
      int64_t ii[WIN_MAX_SP] = {0};
      for (int64_t i = 0; i < cd->in_plane; i++) {
        double xv = conv_ld(dt, x, (n * cd->C + ci) * cd->in_plane + i);
        for (int64_t mo = 0; mo < cd->Mg; mo++) {
          int64_t m = grp * cd->Mg + mo;
          int64_t t[WIN_MAX_SP] = {0};
          for (int64_t ti = 0; ti < cd->taps; ti++) {
            int64_t lin;
            if (convt_target(g, ii, t, &lin))
              acc[(n * cd->M + m) * cd->out_plane + lin] +=
                  xv * conv_ld(dt, w, (ci * cd->Mg + mo) * cd->taps + ti);
            odometer_step(t, g->k, nsp);
          }
        }
        odometer_step(ii, g->in, nsp);
      }
    }
  for (int64_t i = 0; i < total; i++) {
    int64_t m = i / cd->out_plane % cd->M;
    conv_st(dt, y, i, acc[i] + (b ? conv_ld(dt, b, m) : 0));
  }
}

typedef struct one_col {
  gemm_prod p;
} one_col;

static void get_col(void *ud, int64_t i, gemm_prod *p) {
  (void)i;
  *p = ((const one_col *)ud)->p;
}

ladle_status conv_run_convtranspose(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0), *w = op_in(c, 1), *b = op_in(c, 2);
  ladle_tensor *y = NULL;
  ladle_status s;
  convt_geom g;
  convt_dims cd;
  memset(&g, 0, sizeof g);
  memset(&cd, 0, sizeof cd);
  if (!x || !w) return op_fail(c, LADLE_ERR_INVALID, "ConvTranspose needs inputs X and W");
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "X, W and B must share one data type");
  if (x->dtype != LADLE_FLOAT && x->dtype != LADLE_DOUBLE && x->dtype != LADLE_FLOAT16 &&
      x->dtype != LADLE_BFLOAT16)
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported data type %s", ladle_dtype_name(x->dtype));
  if (x->ndim < 3 || w->ndim != x->ndim || x->ndim - 2 > WIN_MAX_SP)
    return op_fail(c, LADLE_ERR_SHAPE, "X and W must have the same rank >= 3, got %d and %d",
                   x->ndim, w->ndim);
  cd.N = x->dims[0];
  cd.C = x->dims[1];
  cd.G = node_attr_int(n, "group", 1);
  if (cd.G < 1 || cd.C % cd.G != 0 || w->dims[0] != cd.C)
    return op_fail(c, LADLE_ERR_SHAPE, "W has %lld input channels, X has %lld (group %lld)",
                   (long long)w->dims[0], (long long)cd.C, (long long)cd.G);
  cd.Cg = cd.C / cd.G;
  cd.Mg = w->dims[1];
  cd.M = cd.Mg * cd.G;
  g.nsp = x->ndim - 2;
  for (int d = 0; d < g.nsp; d++) {
    g.in[d] = x->dims[d + 2];
    g.k[d] = w->dims[d + 2];
    if (g.k[d] < 1) return op_fail(c, LADLE_ERR_SHAPE, "empty kernel on axis %d", d + 2);
  }
  const int64_t *ks = NULL;
  int64_t nk = node_attr_ints(n, "kernel_shape", &ks);
  if (nk >= 0) {
    if (nk != g.nsp) return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", g.nsp);
    for (int d = 0; d < g.nsp; d++)
      if (ks[d] != g.k[d])
        return op_fail(c, LADLE_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld", d,
                       (long long)ks[d], (long long)g.k[d]);
  }
  if (b && (b->ndim != 1 || b->dims[0] != cd.M))
    return op_fail(c, LADLE_ERR_SHAPE, "B must have %lld values", (long long)cd.M);
  if ((s = convt_geometry(c, &g))) return s;
  int64_t dims[LADLE_MAX_DIMS];
  dims[0] = cd.N;
  dims[1] = cd.M;
  for (int d = 0; d < g.nsp; d++) dims[d + 2] = g.out[d];
  if ((s = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return s;
  cd.taps = shape_numel(g.nsp, g.k);
  cd.in_plane = shape_numel(g.nsp, g.in);
  cd.out_plane = shape_numel(g.nsp, g.out);
  if (shape_numel(x->ndim, dims) == 0) return LADLE_OK;
  if (x->dtype != LADLE_FLOAT) {
    double *acc = op_scratch(c, 0, sizeof(double) * (size_t)shape_numel(x->ndim, dims));
    if (!acc) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the accumulator");
    convt_ref(&g, &cd, x->dtype, x->data, w->data, b ? b->data : NULL, y->data, acc);
    return LADLE_OK;
  }
  float *yd = y->data;
  const float *bd = b ? b->data : NULL;
  for (int64_t i = 0; i < cd.N * cd.M; i++) {
    float bv = bd ? bd[i % cd.M] : 0.0f;
    for (int64_t o = 0; o < cd.out_plane; o++) yd[i * cd.out_plane + o] = bv;
  }
  if (cd.in_plane == 0) goto act;
  int64_t rows = cd.Mg * cd.taps;
  size_t pa_size = gemm_pack_a_size(rows, cd.Cg);
  float *pa = op_scratch(c, 1, pa_size * sizeof(float));
  float *col = op_scratch(c, 0, (size_t)(rows * cd.in_plane) * sizeof(float));
  if (!pa || !col) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for ConvTranspose buffers");
  for (int64_t n0 = 0; n0 < cd.N; n0++)
    for (int64_t gi = 0; gi < cd.G; gi++) {
      /* A = W_g^T: row (m, tap), column ci */
      gemm_pack_a(pa, (const float *)w->data + gi * cd.Cg * rows, rows, cd.Cg, 1, rows);
      gemm_prod prod;
      memset(&prod, 0, sizeof prod);
      prod.a = pa;
      prod.b.base = (const float *)x->data + (n0 * cd.C + gi * cd.Cg) * cd.in_plane;
      prod.b.stride = cd.in_plane;
      prod.c = col;
      gemm_shape gs = {rows, cd.Cg, cd.in_plane, cd.in_plane, cd.in_plane, cd.in_plane, 1.0f, false, NULL, GEMM_STRIDE_KC};
      one_col oc = {prod};
      if ((s = gemm_run(c, 2, &gs, 1, get_col, &oc))) return s;
      col2im(&g, &cd, col, yd + (n0 * cd.M + gi * cd.Mg) * cd.out_plane);
    }
act:
  if (n->act != ACT_NONE) act_apply(n, yd, shape_numel(x->ndim, dims));
  return LADLE_OK;
}

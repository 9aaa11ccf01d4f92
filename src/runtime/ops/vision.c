/* vision.c — detection and sampling ops: NonMaxSuppression, RoiAlign, GridSample, MaxUnpool.
 *
 * Where the spec leaves details open these kernels follow ONNX Runtime, whose behaviour the
 * conformance data records: NonMaxSuppression keeps boxes whose score is strictly above
 * score_threshold and suppresses on IoU strictly above iou_threshold (a box of zero area never
 * suppresses another); RoiAlign's bilinear sampling clamps points within one pixel of the
 * border and drops the rest, and its max mode takes the largest weighted corner; GridSample
 * reflects coordinates about the half-pixel (or corner) borders and fetches bicubic taps with
 * the same padding rule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/op.h"

static ladle_status need(op_ctx *c, int i, const char *what, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d (%s) is required", i, what);
  return LADLE_OK;
}

static ladle_status need_float(op_ctx *c, const ladle_tensor *t, const char *what) {
  if (t->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "%s must be float32, got %s", what, ladle_dtype_name(t->dtype));
  return LADLE_OK;
}

/* --- NonMaxSuppression ---------------------------------------------------------------------- */

typedef struct nms_box {
  float y1, x1, y2, x2; /* corners, y1 <= y2 and x1 <= x2 */
} nms_box;

static nms_box nms_read(const float *b, bool center) {
  nms_box r;
  if (center) {
    float xc = b[0], yc = b[1], w = b[2], h = b[3];
    r.x1 = xc - w / 2;
    r.x2 = xc + w / 2;
    r.y1 = yc - h / 2;
    r.y2 = yc + h / 2;
  } else {
    r.y1 = fminf(b[0], b[2]);
    r.y2 = fmaxf(b[0], b[2]);
    r.x1 = fminf(b[1], b[3]);
    r.x2 = fmaxf(b[1], b[3]);
  }
  return r;
}

/* Whether a and b overlap by more than thr (intersection over union). */
static bool nms_suppress(const nms_box *a, const nms_box *b, float thr) {
  float ix1 = fmaxf(a->x1, b->x1), iy1 = fmaxf(a->y1, b->y1);
  float ix2 = fminf(a->x2, b->x2), iy2 = fminf(a->y2, b->y2);
  float iw = ix2 - ix1, ih = iy2 - iy1;
  if (!(iw > 0) || !(ih > 0)) return false;
  float area_a = (a->x2 - a->x1) * (a->y2 - a->y1), area_b = (b->x2 - b->x1) * (b->y2 - b->y1);
  if (!(area_a > 0) || !(area_b > 0)) return false;
  float inter = iw * ih;
  return inter / (area_a + area_b - inter) > thr;
}

/* Candidates by score, highest first (NaN last); equal scores by box index. */
static int nms_cmp(const void *pa, const void *pb, void *ud) {
  const float *s = ud;
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  bool na = isnan(s[a]), nb = isnan(s[b]);
  if (na != nb) return na ? 1 : -1;
  if (!na && s[a] != s[b]) return s[a] > s[b] ? -1 : 1;
  return a < b ? -1 : a > b;
}

static ladle_status run_nms(op_ctx *c) {
  const ladle_tensor *boxes, *scores, *mo = op_in(c, 2), *it = op_in(c, 3), *stt = op_in(c, 4);
  ladle_status st;
  if ((st = need(c, 0, "boxes", &boxes)) || (st = need(c, 1, "scores", &scores)) ||
      (st = need_float(c, boxes, "boxes")) || (st = need_float(c, scores, "scores")))
    return st;
  if (boxes->ndim != 3 || boxes->dims[2] != 4)
    return op_fail(c, LADLE_ERR_SHAPE, "boxes must be [batches, boxes, 4]");
  if (scores->ndim != 3 || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
    return op_fail(c, LADLE_ERR_SHAPE, "scores must be [batches, classes, boxes] matching boxes");
  int64_t max_out = 0;
  float iou = 0.0f, sthr = 0.0f;
  bool have_sthr = false;
  if (mo && ladle_tensor_numel(mo) > 0) {
    if (mo->dtype != LADLE_INT64) return op_fail(c, LADLE_ERR_DTYPE, "max_output_boxes_per_class must be int64");
    max_out = ((const int64_t *)mo->data)[0];
  }
  if (it && ladle_tensor_numel(it) > 0) {
    if ((st = need_float(c, it, "iou_threshold"))) return st;
    iou = ((const float *)it->data)[0];
    if (!(iou >= 0.0f && iou <= 1.0f)) return op_fail(c, LADLE_ERR_INVALID, "iou_threshold %g outside [0, 1]", (double)iou);
  }
  if (stt && ladle_tensor_numel(stt) > 0) {
    if ((st = need_float(c, stt, "score_threshold"))) return st;
    sthr = ((const float *)stt->data)[0];
    have_sthr = true;
  }
  int64_t cpb = node_attr_int(op_node(c), "center_point_box", 0);
  if (cpb != 0 && cpb != 1) return op_fail(c, LADLE_ERR_INVALID, "center_point_box must be 0 or 1");
  int64_t B = boxes->dims[0], N = boxes->dims[1], C = scores->dims[1];
  if (max_out < 0) max_out = 0;
  int64_t per = max_out < N ? max_out : N;
  int64_t *sel = op_scratch(c, 0, sizeof(int64_t) * 3 * (size_t)(B * C * per + 1));
  int64_t *cand = op_scratch(c, 1, sizeof(int64_t) * (size_t)(N + 1));
  nms_box *kept = op_scratch(c, 2, sizeof(nms_box) * (size_t)(per + 1));
  if (!sel || !cand || !kept) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for NonMaxSuppression");
  int64_t n_sel = 0;
  for (int64_t b = 0; b < B && per > 0; b++) {
    const float *bx = (const float *)boxes->data + b * N * 4;
    for (int64_t cl = 0; cl < C; cl++) {
      const float *sc = (const float *)scores->data + (b * C + cl) * N;
      int64_t nc = 0;
      for (int64_t i = 0; i < N; i++)
        if (!have_sthr || sc[i] > sthr) cand[nc++] = i;
      qsort_r(cand, (size_t)nc, sizeof *cand, nms_cmp, (void *)sc);
      int64_t nk = 0;
      for (int64_t i = 0; i < nc && nk < per; i++) {
        nms_box cb = nms_read(bx + cand[i] * 4, cpb == 1);
        bool drop = false;
        for (int64_t k = 0; k < nk && !drop; k++) drop = nms_suppress(&kept[k], &cb, iou);
        if (drop) continue;
        kept[nk++] = cb;
        sel[3 * n_sel] = b;
        sel[3 * n_sel + 1] = cl;
        sel[3 * n_sel + 2] = cand[i];
        n_sel++;
      }
    }
  }
  ladle_tensor *y;
  int64_t dims[2] = {n_sel, 3};
  if ((st = op_out(c, 0, LADLE_INT64, 2, dims, &y))) return st;
  memcpy(y->data, sel, sizeof(int64_t) * 3 * (size_t)n_sel);
  return LADLE_OK;
}

/* --- RoiAlign ------------------------------------------------------------------------------- */

/* One bilinear sample at (y, x) of an h×w plane: the four corners and their weights (all zero
 * when the point is more than one pixel outside). */
typedef struct roi_sample {
  int64_t o[4];
  float w[4];
} roi_sample;

static roi_sample roi_point(float y, float x, int64_t h, int64_t w) {
  roi_sample s;
  memset(&s, 0, sizeof s);
  if (!(y >= -1.0f && y <= (float)h && x >= -1.0f && x <= (float)w)) return s; /* NaN too */
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
  if (yl >= h - 1) {
    yh = yl = h - 1;
    y = (float)yl;
  } else {
    yh = yl + 1;
  }
  if (xl >= w - 1) {
    xh = xl = w - 1;
    x = (float)xl;
  } else {
    xh = xl + 1;
  }
  float ly = y - (float)yl, lx = x - (float)xl, hy = 1.0f - ly, hx = 1.0f - lx;
  s.o[0] = yl * w + xl;
  s.o[1] = yl * w + xh;
  s.o[2] = yh * w + xl;
  s.o[3] = yh * w + xh;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

static ladle_status run_roialign(op_ctx *c) {
  const ladle_tensor *x, *rois, *bi;
  ladle_status st;
  if ((st = need(c, 0, "X", &x)) || (st = need(c, 1, "rois", &rois)) || (st = need(c, 2, "batch_indices", &bi)) ||
      (st = need_float(c, x, "X")) || (st = need_float(c, rois, "rois")))
    return st;
  if (x->ndim != 4) return op_fail(c, LADLE_ERR_SHAPE, "X must be [N, C, H, W]");
  if (rois->ndim != 2 || rois->dims[1] != 4) return op_fail(c, LADLE_ERR_SHAPE, "rois must be [num_rois, 4]");
  if ((bi->dtype != LADLE_INT64 && bi->dtype != LADLE_INT32) || bi->ndim != 1 || bi->dims[0] != rois->dims[0])
    return op_fail(c, LADLE_ERR_SHAPE, "batch_indices must be an integer vector of num_rois values");
  const node *nd = op_node(c);
  const char *mode = node_attr_str(nd, "mode", "avg");
  bool maxm = strcmp(mode, "max") == 0;
  if (!maxm && strcmp(mode, "avg") != 0) return op_fail(c, LADLE_ERR_INVALID, "unknown mode '%s'", mode);
  int64_t oh = node_attr_int(nd, "output_height", 1), ow = node_attr_int(nd, "output_width", 1);
  int64_t sr = node_attr_int(nd, "sampling_ratio", 0);
  float scale = node_attr_float(nd, "spatial_scale", 1.0f);
  const char *ctm = node_attr_str(nd, "coordinate_transformation_mode", nd->opset >= 16 ? "half_pixel" : "output_half_pixel");
  bool half = strcmp(ctm, "half_pixel") == 0;
  if (!half && strcmp(ctm, "output_half_pixel") != 0)
    return op_fail(c, LADLE_ERR_INVALID, "unknown coordinate_transformation_mode '%s'", ctm);
  if (oh < 1 || ow < 1 || sr < 0)
    return op_fail(c, LADLE_ERR_INVALID, "output_height, output_width must be >= 1 and sampling_ratio >= 0");
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
  if ((H <= 0 || W <= 0) && R > 0) return op_fail(c, LADLE_ERR_SHAPE, "X has an empty plane");
  int64_t dims[4] = {R, C, oh, ow};
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_FLOAT, 4, dims, &y))) return st;
  float off = half ? 0.5f : 0.0f;
  float *yp = y->data;
  for (int64_t r = 0; r < R; r++) {
    int64_t b = bi->dtype == LADLE_INT64 ? ((const int64_t *)bi->data)[r] : ((const int32_t *)bi->data)[r];
    if (b < 0 || b >= N)
      return op_fail(c, LADLE_ERR_INVALID, "batch_indices[%lld] = %lld outside [0, %lld)", (long long)r, (long long)b,
                     (long long)N);
    const float *roi = (const float *)rois->data + r * 4;
    for (int k = 0; k < 4; k++)
      if (!isfinite(roi[k] * scale))
        return op_fail(c, LADLE_ERR_INVALID, "roi %lld has a coordinate that is not finite", (long long)r);
    float sw = roi[0] * scale - off, sh = roi[1] * scale - off;
    float rw = roi[2] * scale - off - sw, rh = roi[3] * scale - off - sh;
    if (!half) {
      rw = fmaxf(rw, 1.0f);
      rh = fmaxf(rh, 1.0f);
    }
    float bh = rh / (float)oh, bw = rw / (float)ow;
    float fgh = sr > 0 ? (float)sr : ceilf(rh / (float)oh), fgw = sr > 0 ? (float)sr : ceilf(rw / (float)ow);
    if (!(fgh <= 1024.0f && fgw <= 1024.0f)) /* before the casts: also catches NaN */
      return op_fail(c, LADLE_ERR_LIMIT, "roi %lld needs a %lldx%lld sampling grid per bin", (long long)r,
                     (long long)fgh, (long long)fgw);
    int64_t gh = fgh > 0 ? (int64_t)fgh : 0, gw = fgw > 0 ? (int64_t)fgw : 0;
    float count = (float)(gh * gw > 1 ? gh * gw : 1);
    for (int64_t ch = 0; ch < C; ch++) {
      const float *plane = (const float *)x->data + (b * C + ch) * H * W;
      for (int64_t py = 0; py < oh; py++)
        for (int64_t px = 0; px < ow; px++) {
          float acc = 0.0f;
          bool first = true;
          for (int64_t iy = 0; iy < gh; iy++) {
            float yy = sh + (float)py * bh + ((float)iy + 0.5f) * bh / (float)gh;
            for (int64_t ix = 0; ix < gw; ix++) {
              float xx = sw + (float)px * bw + ((float)ix + 0.5f) * bw / (float)gw;
              roi_sample s = roi_point(yy, xx, H, W);
              if (maxm) {
                float v = s.w[0] * plane[s.o[0]];
                for (int k = 1; k < 4; k++) v = fmaxf(v, s.w[k] * plane[s.o[k]]);
                acc = first ? v : fmaxf(acc, v);
                first = false;
              } else {
                for (int k = 0; k < 4; k++) acc += s.w[k] * plane[s.o[k]];
              }
            }
          }
          *yp++ = maxm ? acc : acc / count;
        }
    }
  }
  return LADLE_OK;
}

/* --- GridSample ----------------------------------------------------------------------------- */

enum { GS_ZEROS, GS_BORDER, GS_REFLECT };

typedef struct gs_geom {
  int64_t h, w;
  int pad;
  float lo_x, hi_x, lo_y, hi_y; /* the borders reflection folds about */
} gs_geom;

/* Folds v into [lo, hi] by reflecting about the nearer border until it lands inside. */
static float gs_reflect(float v, float lo, float hi) {
  float range = hi - lo;
  if (!(range > 0)) return lo;
  if (v < lo) {
    float d = lo - v;
    float n = floorf(d / range), r = d - n * range;
    return fmodf(n, 2.0f) == 0.0f ? lo + r : hi - r;
  }
  if (v > hi) {
    float d = v - hi;
    float n = floorf(d / range), r = d - n * range;
    return fmodf(n, 2.0f) == 0.0f ? hi - r : lo + r;
  }
  return v;
}

/* Pixel (r, col) of the plane under the padding mode. */
static float gs_pixel(const gs_geom *g, const float *plane, int64_t r, int64_t col) {
  if (g->pad == GS_ZEROS) {
    if (r < 0 || r >= g->h || col < 0 || col >= g->w) return 0.0f;
  } else if (g->pad == GS_BORDER) {
    r = r < 0 ? 0 : r >= g->h ? g->h - 1 : r;
    col = col < 0 ? 0 : col >= g->w ? g->w - 1 : col;
  } else {
    col = (int64_t)gs_reflect((float)col, g->lo_x, g->hi_x);
    r = (int64_t)gs_reflect((float)r, g->lo_y, g->hi_y);
    r = r < 0 ? 0 : r >= g->h ? g->h - 1 : r;
    col = col < 0 ? 0 : col >= g->w ? g->w - 1 : col;
  }
  return plane[r * g->w + col];
}

/* Keys' cubic convolution weights (a = -0.75) for the four taps around fraction t. */
static void gs_cubic(float t, float k[4]) {
  const float a = -0.75f;
  float x;
  x = t + 1.0f;
  k[0] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  x = t;
  k[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  x = 1.0f - t;
  k[2] = ((a + 2) * x - (a + 3)) * x * x + 1;
  x = 2.0f - t;
  k[3] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

static ladle_status run_gridsample(op_ctx *c) {
  const ladle_tensor *x, *grid;
  ladle_status st;
  if ((st = need(c, 0, "X", &x)) || (st = need(c, 1, "grid", &grid)) || (st = need_float(c, x, "X")) ||
      (st = need_float(c, grid, "grid")))
    return st;
  if (x->ndim != 4) return op_fail(c, LADLE_ERR_UNSUPPORTED, "X must be [N, C, H, W] (rank %d given)", x->ndim);
  if (grid->ndim != 4 || grid->dims[0] != x->dims[0] || grid->dims[3] != 2)
    return op_fail(c, LADLE_ERR_SHAPE, "grid must be [N, H_out, W_out, 2] with X's batch");
  const node *nd = op_node(c);
  const char *mode = node_attr_str(nd, "mode", "bilinear"), *pm = node_attr_str(nd, "padding_mode", "zeros");
  bool align = node_attr_int(nd, "align_corners", 0) != 0;
  int m = strcmp(mode, "bilinear") == 0 ? 0 : strcmp(mode, "nearest") == 0 ? 1 : strcmp(mode, "bicubic") == 0 ? 2 : -1;
  if (m < 0) return op_fail(c, LADLE_ERR_INVALID, "unknown mode '%s'", mode);
  gs_geom g;
  g.pad = strcmp(pm, "zeros") == 0 ? GS_ZEROS : strcmp(pm, "border") == 0 ? GS_BORDER
        : strcmp(pm, "reflection") == 0 ? GS_REFLECT : -1;
  if (g.pad < 0) return op_fail(c, LADLE_ERR_INVALID, "unknown padding_mode '%s'", pm);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], Ho = grid->dims[1], Wo = grid->dims[2];
  g.h = H;
  g.w = W;
  g.lo_x = align ? 0.0f : -0.5f;
  g.hi_x = align ? (float)W - 1.0f : (float)W - 0.5f;
  g.lo_y = align ? 0.0f : -0.5f;
  g.hi_y = align ? (float)H - 1.0f : (float)H - 0.5f;
  int64_t dims[4] = {N, C, Ho, Wo};
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_FLOAT, 4, dims, &y))) return st;
  if (ladle_tensor_numel(y) == 0) return LADLE_OK;
  if (H <= 0 || W <= 0) return op_fail(c, LADLE_ERR_SHAPE, "X has an empty plane");
  for (int64_t n = 0; n < N; n++) {
    const float *gp = (const float *)grid->data + n * Ho * Wo * 2;
    for (int64_t p = 0; p < Ho * Wo; p++) {
      float gx = gp[2 * p], gy = gp[2 * p + 1];
      float fx = align ? (gx + 1) / 2 * (float)(W - 1) : ((gx + 1) * (float)W - 1) / 2;
      float fy = align ? (gy + 1) / 2 * (float)(H - 1) : ((gy + 1) * (float)H - 1) / 2;
      if (!isfinite(fx) || !isfinite(fy)) {
        for (int64_t ch = 0; ch < C; ch++) ((float *)y->data)[((n * C + ch) * Ho * Wo) + p] = NAN;
        continue;
      }
      if (m == 1) {
        fx = nearbyintf(fx);
        fy = nearbyintf(fy);
      }
      if (fx < g.lo_x || fx > g.hi_x || fy < g.lo_y || fy > g.hi_y) {
        if (g.pad == GS_BORDER) {
          fx = fminf(fmaxf(fx, 0.0f), (float)(W - 1));
          fy = fminf(fmaxf(fy, 0.0f), (float)(H - 1));
        } else if (g.pad == GS_REFLECT) {
          fx = gs_reflect(fx, g.lo_x, g.hi_x);
          fy = gs_reflect(fy, g.lo_y, g.hi_y);
        } else if (fx < -4.0f - (float)W || fx > 4.0f + 2.0f * (float)W || fy < -4.0f - (float)H ||
                   fy > 4.0f + 2.0f * (float)H) {
          /* far outside: every tap is padding (and the casts below stay in range) */
          for (int64_t ch = 0; ch < C; ch++) ((float *)y->data)[((n * C + ch) * Ho * Wo) + p] = 0.0f;
          continue;
        }
      }
      for (int64_t ch = 0; ch < C; ch++) {
        const float *plane = (const float *)x->data + (n * C + ch) * H * W;
        float v;
        if (m == 1) {
          v = gs_pixel(&g, plane, (int64_t)fy, (int64_t)fx);
        } else if (m == 0) {
          int64_t x1 = (int64_t)floorf(fx), y1 = (int64_t)floorf(fy);
          float dx1 = fx - (float)x1, dx2 = 1.0f - dx1, dy1 = fy - (float)y1, dy2 = 1.0f - dy1;
          v = dy2 * (dx2 * gs_pixel(&g, plane, y1, x1) + dx1 * gs_pixel(&g, plane, y1, x1 + 1)) +
              dy1 * (dx2 * gs_pixel(&g, plane, y1 + 1, x1) + dx1 * gs_pixel(&g, plane, y1 + 1, x1 + 1));
        } else {
          int64_t x0 = (int64_t)floorf(fx) - 1, y0 = (int64_t)floorf(fy) - 1;
          float kx[4], ky[4], rows[4];
          gs_cubic(fx - (float)x0 - 1, kx);
          gs_cubic(fy - (float)y0 - 1, ky);
          for (int i = 0; i < 4; i++) {
            rows[i] = 0;
            for (int j = 0; j < 4; j++) rows[i] += kx[j] * gs_pixel(&g, plane, y0 + i, x0 + j);
          }
          v = ky[0] * rows[0] + ky[1] * rows[1] + ky[2] * rows[2] + ky[3] * rows[3];
        }
        ((float *)y->data)[((n * C + ch) * Ho * Wo) + p] = v;
      }
    }
  }
  return LADLE_OK;
}

/* --- MaxUnpool ------------------------------------------------------------------------------ */

/* Scatters X into a zero tensor at the flat positions in I (MaxPool's Indices over the whole
 * output). The output shape is output_shape when given, else MaxPool's input shape recovered from
 * kernel_shape, strides and pads. */
static ladle_status run_maxunpool(op_ctx *c) {
  const ladle_tensor *x, *ind, *osh = op_in(c, 2);
  ladle_status st;
  if ((st = need(c, 0, "X", &x)) || (st = need(c, 1, "I", &ind))) return st;
  if (!dtype_is_float(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "X must be a float type");
  if (ind->dtype != LADLE_INT64 || !shape_equal(ind->ndim, ind->dims, x->ndim, x->dims))
    return op_fail(c, LADLE_ERR_SHAPE, "I must be int64 with X's shape");
  if (x->ndim < 3) return op_fail(c, LADLE_ERR_SHAPE, "X must have rank >= 3");
  const node *nd = op_node(c);
  int nsp = x->ndim - 2;
  const int64_t *ks, *ss = NULL, *ps = NULL;
  if (node_attr_ints(nd, "kernel_shape", &ks) != nsp)
    return op_fail(c, LADLE_ERR_INVALID, "kernel_shape must have %d values", nsp);
  int64_t nss = node_attr_ints(nd, "strides", &ss), nps = node_attr_ints(nd, "pads", &ps);
  if ((nss >= 0 && nss != nsp) || (nps >= 0 && nps != 2 * nsp))
    return op_fail(c, LADLE_ERR_INVALID, "strides / pads do not match %d spatial axes", nsp);
  int64_t dims[LADLE_MAX_DIMS];
  dims[0] = x->dims[0];
  dims[1] = x->dims[1];
  for (int d = 0; d < nsp; d++) {
    int64_t s = nss >= 0 ? ss[d] : 1, pb = nps >= 0 ? ps[d] : 0, pe = nps >= 0 ? ps[d + nsp] : 0;
    if (s < 1 || ks[d] < 1 || pb < 0 || pe < 0) return op_fail(c, LADLE_ERR_INVALID, "invalid kernel, stride or pad");
    dims[d + 2] = (x->dims[d + 2] - 1) * s - pb - pe + ks[d];
  }
  if (osh) {
    if (osh->dtype != LADLE_INT64 || ladle_tensor_numel(osh) != x->ndim)
      return op_fail(c, LADLE_ERR_SHAPE, "output_shape must be %d int64 values", x->ndim);
    for (int d = 0; d < x->ndim; d++) {
      int64_t v = ((const int64_t *)osh->data)[d];
      if (d < 2 ? v != x->dims[d] : v < 0)
        return op_fail(c, LADLE_ERR_SHAPE, "output_shape[%d] = %lld does not fit X", d, (long long)v);
      dims[d] = v;
    }
  }
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, x->ndim, dims, &y))) return st;
  size_t esz = ladle_dtype_size(x->dtype);
  int64_t ny = ladle_tensor_numel(y), nx = ladle_tensor_numel(x);
  memset(y->data, 0, (size_t)ny * esz);
  const int64_t *ip = ind->data;
  for (int64_t i = 0; i < nx; i++) {
    if (ip[i] < 0 || ip[i] >= ny)
      return op_fail(c, LADLE_ERR_INVALID, "index %lld (element %lld of I) outside the output's %lld elements",
                     (long long)ip[i], (long long)i, (long long)ny);
    memcpy((char *)y->data + (size_t)ip[i] * esz, (const char *)x->data + (size_t)i * esz, esz);
  }
  return LADLE_OK;
}

const op_def ops_vision[] = {
    {"", "NonMaxSuppression", 10, 99, run_nms, NULL, NULL},
    {"", "RoiAlign", 10, 99, run_roialign, NULL, NULL},
    {"", "GridSample", 16, 19, run_gridsample, NULL, NULL},
    {"", "MaxUnpool", 9, 99, run_maxunpool, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

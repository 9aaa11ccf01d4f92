/* softmax.c — Softmax, LogSoftmax and Hardmax (both semantic generations), and the two losses
 * built on log-probabilities: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
 *
 * Up to opset 12 the input is coerced to 2-D at `axis` (default 1) and each row of
 * prod(dims[axis:]) elements is normalised; from opset 13 only the one axis (default -1) is.
 * Either way the work is [outer, n, inner] with n the normalised length: inner == 1 is a
 * contiguous row (vector lanes, the attention-scores case), inner > 1 sweeps columns of n
 * strided elements. Rows subtract their max before exponentiating. float32 is the fast path;
 * double runs in double; float16 and bfloat16 go through float32 scratch. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "runtime/op.h"
#include "runtime/ops/reduce_common.h"

typedef enum { SM_SOFT, SM_LOG, SM_HARD } smkind;

#define SM_COLS 256 /* columns per task in the strided sweep */

typedef struct smjob {
  smkind k;
  const float *x;
  float *y;
  int64_t n, inner, nblocks;
} smjob;

/* Index of the first largest element (the first NaN if any). */
static int64_t first_max(const float *x, int64_t n, int64_t stride) {
  int64_t bi = 0;
  float best = x[0];
  for (int64_t i = 1; i < n && best == best; i++) {
    float v = x[i * stride];
    if (v > best || v != v) best = v, bi = i;
  }
  return bi;
}

static void row_f32(smkind k, const float *x, float *y, int64_t n) {
  if (k == SM_HARD) {
    int64_t bi = first_max(x, n, 1);
    memset(y, 0, sizeof(float) * (size_t)n);
    y[bi] = 1.0f;
    return;
  }
  float m = rc_max_f32(x, n);
  if (k == SM_LOG) {
    float ls = (float)log(rc_sum_exp_f32(x, n, m));
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - ls;
    return;
  }
  float inv = (float)(1.0 / rc_exp_shift_f32(x, y, n, m));
  for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

static void rows_f32(void *arg, int64_t r0, int64_t r1) {
  const smjob *j = arg;
  for (int64_t r = r0; r < r1; r++) row_f32(j->k, j->x + r * j->n, j->y + r * j->n, j->n);
}

/* Columns [c0, c0+w) of outer block o: n rows of `inner` floats. */
static void cols_block_f32(const smjob *j, int64_t o, int64_t c0, int64_t w) {
  const float *x = j->x + o * j->n * j->inner + c0;
  float *y = j->y + o * j->n * j->inner + c0;
  int64_t n = j->n, K = j->inner;
  float mx[SM_COLS], sum[SM_COLS];
  if (j->k == SM_HARD) {
    for (int64_t c = 0; c < w; c++) {
      int64_t bi = first_max(x + c, n, K);
      for (int64_t i = 0; i < n; i++) y[i * K + c] = i == bi ? 1.0f : 0.0f;
    }
    return;
  }
  memcpy(mx, x, sizeof(float) * (size_t)w);
  for (int64_t i = 1; i < n; i++)
    for (int64_t c = 0; c < w; c++) mx[c] = x[i * K + c] > mx[c] ? x[i * K + c] : mx[c];
  for (int64_t c = 0; c < w; c++) sum[c] = 0;
  if (j->k == SM_LOG) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t c = 0; c < w; c++) sum[c] += rc_expf(x[i * K + c] - mx[c]);
    for (int64_t c = 0; c < w; c++) sum[c] = logf(sum[c]);
    for (int64_t i = 0; i < n; i++)
      for (int64_t c = 0; c < w; c++) y[i * K + c] = (x[i * K + c] - mx[c]) - sum[c];
    return;
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t c = 0; c < w; c++) {
      float e = rc_expf(x[i * K + c] - mx[c]);
      y[i * K + c] = e;
      sum[c] += e;
    }
  for (int64_t c = 0; c < w; c++) sum[c] = 1.0f / sum[c];
  for (int64_t i = 0; i < n; i++)
    for (int64_t c = 0; c < w; c++) y[i * K + c] *= sum[c];
}

static void cols_f32(void *arg, int64_t t0, int64_t t1) {
  const smjob *j = arg;
  for (int64_t t = t0; t < t1; t++) {
    int64_t o = t / j->nblocks, c0 = t % j->nblocks * SM_COLS;
    int64_t w = j->inner - c0 < SM_COLS ? j->inner - c0 : SM_COLS;
    cols_block_f32(j, o, c0, w);
  }
}

static void sm_f32(op_ctx *c, smkind k, const float *x, float *y, int64_t outer, int64_t n,
                   int64_t inner) {
  smjob j = {k, x, y, n, inner, (inner + SM_COLS - 1) / SM_COLS};
  if (inner == 1)
    rc_parallel(c, outer, n, rows_f32, &j);
  else
    rc_parallel(c, outer * j.nblocks, n * (inner < SM_COLS ? inner : SM_COLS), cols_f32, &j);
}

/* double: one strided line at a time, plain loops. */
static void sm_f64(smkind k, const double *x, double *y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < inner; c++) {
      const double *xl = x + o * n * inner + c;
      double *yl = y + o * n * inner + c;
      double m = xl[0];
      int64_t bi = 0;
      for (int64_t i = 1; i < n && m == m; i++)
        if (xl[i * inner] > m || xl[i * inner] != xl[i * inner]) m = xl[i * inner], bi = i;
      if (k == SM_HARD) {
        for (int64_t i = 0; i < n; i++) yl[i * inner] = i == bi ? 1.0 : 0.0;
        continue;
      }
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += exp(xl[i * inner] - m);
      if (k == SM_LOG) {
        double ls = log(s);
        for (int64_t i = 0; i < n; i++) yl[i * inner] = (xl[i * inner] - m) - ls;
      } else {
        for (int64_t i = 0; i < n; i++) yl[i * inner] = exp(xl[i * inner] - m) / s;
      }
    }
}

static ladle_status sm_run(op_ctx *c, smkind k, bool v13) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 'input'");
  int dt = x->dtype, r = x->ndim, ax = 0;
  if (dt != LADLE_FLOAT && dt != LADLE_DOUBLE && dt != LADLE_FLOAT16 && dt != LADLE_BFLOAT16)
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name(dt));
  int64_t axis = node_attr_int(op_node(c), "axis", v13 ? -1 : 1);
  int64_t outer = 1, n = 1, inner = 1;
  if (r > 0) {
    /* coercion to 2-D accepts axis == rank (rows of one element) */
    if (!rc_axis(axis, r, !v13, &ax))
      return op_fail(c, LADLE_ERR_INVALID, "axis %lld out of range for rank %d",
                     (long long)axis, r);
    outer = rc_span(x->dims, 0, ax);
    n = v13 ? x->dims[ax] : rc_span(x->dims, ax, r);
    inner = v13 ? rc_span(x->dims, ax + 1, r) : 1;
  } else if (v13) {
    return op_fail(c, LADLE_ERR_INVALID, "input must have rank >= 1");
  }
  if ((st = op_out(c, 0, dt, r, x->dims, &y))) return st;
  int64_t total = outer * n * inner;
  if (total == 0) return LADLE_OK;
  switch (dt) {
    case LADLE_FLOAT: sm_f32(c, k, x->data, y->data, outer, n, inner); break;
    case LADLE_DOUBLE: sm_f64(k, x->data, y->data, outer, n, inner); break;
    default: {
      float *tx = op_scratch(c, 0, sizeof(float) * (size_t)total);
      float *ty = op_scratch(c, 1, sizeof(float) * (size_t)total);
      if (!tx || !ty) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for softmax scratch");
      const uint16_t *hx = x->data;
      uint16_t *hy = y->data;
      bool half = dt == LADLE_FLOAT16;
      for (int64_t i = 0; i < total; i++)
        tx[i] = half ? half_to_float(hx[i]) : bfloat16_to_float(hx[i]);
      sm_f32(c, k, tx, ty, outer, n, inner);
      for (int64_t i = 0; i < total; i++)
        hy[i] = half ? float_to_half(ty[i]) : float_to_bfloat16(ty[i]);
      break;
    }
  }
  return LADLE_OK;
}

static ladle_status run_softmax_v1(op_ctx *c) { return sm_run(c, SM_SOFT, false); }
static ladle_status run_softmax_v13(op_ctx *c) { return sm_run(c, SM_SOFT, true); }
static ladle_status run_logsoftmax_v1(op_ctx *c) { return sm_run(c, SM_LOG, false); }
static ladle_status run_logsoftmax_v13(op_ctx *c) { return sm_run(c, SM_LOG, true); }
static ladle_status run_hardmax_v1(op_ctx *c) { return sm_run(c, SM_HARD, false); }
static ladle_status run_hardmax_v13(op_ctx *c) { return sm_run(c, SM_HARD, true); }

/* --- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ------------------------------------- */

/* The loss shared by both ops, over log-probabilities lp laid out [N, C, D] (double):
 * loss[n, d] = -lp[n, t, d] * w[t] with t = target[n, d], w the optional class weights; a target
 * equal to ignore_index contributes nothing and weighs 0. reduction "none" keeps [N, d1..dk],
 * "sum" adds, "mean" divides the sum by the total weight (ONNX's reference). */
static ladle_status loss_run(op_ctx *c, const ladle_tensor *x, const double *lp,
                             const ladle_tensor *target, const ladle_tensor *weight) {
  const node *nd = op_node(c);
  ladle_tensor *y = NULL;
  ladle_status st;
  int r = x->ndim;
  int64_t N = x->dims[0], C = x->dims[1], D = rc_span(x->dims, 2, r);
  const char *red = node_attr_str(nd, "reduction", "mean");
  bool has_ii = node_attr(nd, "ignore_index") != NULL;
  int64_t ii = node_attr_int(nd, "ignore_index", 0);
  int mode = !strcmp(red, "none") ? 0 : !strcmp(red, "sum") ? 1 : !strcmp(red, "mean") ? 2 : -1;
  if (mode < 0) return op_fail(c, LADLE_ERR_INVALID, "unknown reduction '%s'", red);
  if (!dtype_is_integer(target->dtype) || target->ndim != r - 1 || target->dims[0] != N ||
      !shape_equal(r - 2, target->dims + 1, r - 2, x->dims + 2)) {
    char a[96], b[96];
    return op_fail(c, LADLE_ERR_SHAPE, "target %s %s does not match input %s",
                   ladle_dtype_name(target->dtype), shape_str(target->ndim, target->dims, a, sizeof a),
                   shape_str(r, x->dims, b, sizeof b));
  }
  if (weight && (!dtype_is_float(weight->dtype) || ladle_tensor_numel(weight) != C))
    return op_fail(c, LADLE_ERR_SHAPE, "weight must hold %lld floats", (long long)C);
  if ((st = op_out(c, 0, x->dtype, mode == 0 ? r - 1 : 0, target->dims, &y))) return st;
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t d = 0; d < D; d++) {
      int64_t t = tensor_get_i64(target, n * D + d);
      double loss = 0, w = 0;
      if (!has_ii || t != ii) {
        if (t < 0 || t >= C)
          return op_fail(c, LADLE_ERR_INVALID, "target %lld outside [0, %lld)", (long long)t,
                         (long long)C);
        w = weight ? tensor_get_f64(weight, t) : 1.0;
        loss = -lp[(n * C + t) * D + d] * w;
      }
      if (mode == 0) tensor_set_f64(y, n * D + d, loss);
      sum += loss;
      wsum += w;
    }
  if (mode == 1) tensor_set_f64(y, 0, sum);
  if (mode == 2) tensor_set_f64(y, 0, sum / wsum);
  return LADLE_OK;
}

static ladle_status loss_inputs(op_ctx *c, const ladle_tensor **x, const ladle_tensor **t) {
  *x = op_in(c, 0);
  *t = op_in(c, 1);
  if (!*x || !*t) return op_fail(c, LADLE_ERR_INVALID, "missing input 'input' or 'target'");
  if (!dtype_is_float((*x)->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "unsupported input type %s", ladle_dtype_name((*x)->dtype));
  if ((*x)->ndim < 2)
    return op_fail(c, LADLE_ERR_SHAPE, "input must have rank >= 2, got %d", (*x)->ndim);
  return LADLE_OK;
}

static ladle_status run_nllloss(op_ctx *c) {
  const ladle_tensor *x, *t;
  ladle_status st = loss_inputs(c, &x, &t);
  if (st) return st;
  int64_t total = ladle_tensor_numel(x);
  double *lp = op_scratch(c, 0, sizeof(double) * (size_t)(total ? total : 1));
  if (!lp) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for NegativeLogLikelihoodLoss");
  for (int64_t i = 0; i < total; i++) lp[i] = tensor_get_f64(x, i);
  return loss_run(c, x, lp, t, op_in(c, 2));
}

/* Log-softmax over the class axis (1), in double, then the loss; output 1 is the log-softmax. */
static ladle_status run_sceloss(op_ctx *c) {
  const ladle_tensor *x, *t;
  ladle_tensor *lpo = NULL;
  ladle_status st = loss_inputs(c, &x, &t);
  if (st) return st;
  int64_t total = ladle_tensor_numel(x), N = x->dims[0], C = x->dims[1],
          D = rc_span(x->dims, 2, x->ndim);
  double *lp = op_scratch(c, 0, sizeof(double) * (size_t)(total ? total : 1));
  if (!lp) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for SoftmaxCrossEntropyLoss");
  for (int64_t i = 0; i < total; i++) lp[i] = tensor_get_f64(x, i);
  if (C > 0)
    for (int64_t n = 0; n < N; n++)
      for (int64_t d = 0; d < D; d++) {
        double *l = lp + n * C * D + d, m = l[0], s = 0;
        for (int64_t k = 1; k < C; k++) m = l[k * D] > m ? l[k * D] : m;
        for (int64_t k = 0; k < C; k++) s += exp(l[k * D] - m);
        double ls = log(s);
        for (int64_t k = 0; k < C; k++) l[k * D] = (l[k * D] - m) - ls;
      }
  if ((st = loss_run(c, x, lp, t, op_in(c, 2)))) return st;
  if (op_out_wanted(c, 1)) {
    if ((st = op_out(c, 1, x->dtype, x->ndim, x->dims, &lpo))) return st;
    for (int64_t i = 0; i < total; i++) tensor_set_f64(lpo, i, lp[i]);
  }
  return LADLE_OK;
}

const op_def ops_softmax[] = {
    {"", "Softmax", 1, 12, run_softmax_v1, NULL, NULL},
    {"", "Softmax", 13, 99, run_softmax_v13, NULL, NULL},
    {"", "LogSoftmax", 1, 12, run_logsoftmax_v1, NULL, NULL},
    {"", "LogSoftmax", 13, 99, run_logsoftmax_v13, NULL, NULL},
    {"", "Hardmax", 1, 12, run_hardmax_v1, NULL, NULL},
    {"", "Hardmax", 13, 99, run_hardmax_v13, NULL, NULL},
    {"", "NegativeLogLikelihoodLoss", 12, 99, run_nllloss, NULL, NULL},
    {"", "SoftmaxCrossEntropyLoss", 12, 99, run_sceloss, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

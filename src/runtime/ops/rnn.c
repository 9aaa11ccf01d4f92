/* rnn.c — recurrent ops: LSTM, GRU, RNN (forward, reverse, bidirectional).
 *
 * One kernel serves the three ops. The input projection X·Wᵀ + bias for every time step and
 * every direction is one GEMM before the recurrence (W of all directions is one
 * [dirs·G·H, input] matrix); each step then adds H_{t-1}·Rᵀ (one small GEMM per direction and
 * step) and applies the gate arithmetic row by row.
 *
 * sequence_lens: row b runs for its own length L_b. Forward directions take t = 0..L_b-1, reverse
 * directions t = L_b-1..0; outputs past L_b stay zero and the final states (Y_h, Y_c) are the
 * states at each row's own end. Rows that have finished still go through the GEMM with the
 * others (simpler than compacting the batch); their results are discarded.
 *
 * Gate orders follow the spec: LSTM W/R rows are i,o,f,c and P is i,o,f; GRU rows are z,r,h.
 * layout 0: X [seq, batch, in], Y [seq, dirs, batch, H], states [dirs, batch, H];
 * layout 1: X [batch, seq, in], Y [batch, seq, dirs, H], states [batch, dirs, H]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/op.h"
#include "runtime/ops/blas.h"

/* Scratch cap for the projected inputs: past this a model is refused, not swapped to death. */
#define RNN_MAX_SCRATCH_BYTES (INT64_C(8) << 30)

typedef enum { RNN_LSTM, RNN_GRU, RNN_RNN } rnn_kind;

typedef enum {
  F_SIGMOID,
  F_TANH,
  F_RELU,
  F_HARD_SIGMOID,
  F_LEAKY_RELU,
  F_THRESHOLDED_RELU,
  F_SCALED_TANH,
  F_AFFINE,
  F_ELU,
  F_SOFTSIGN,
  F_SOFTPLUS,
} act_fn;

typedef struct rnn_act {
  act_fn fn;
  float alpha, beta;
} rnn_act;

/* The activations the spec allows, which of alpha / beta each takes, and their defaults (those
 * of the ONNX operators of the same name). */
static const struct {
  const char *name;
  act_fn fn;
  bool takes_alpha, takes_beta;
  float alpha, beta;
} act_table[] = {
    {"Sigmoid", F_SIGMOID, false, false, 0.0f, 0.0f},
    {"Tanh", F_TANH, false, false, 0.0f, 0.0f},
    {"Relu", F_RELU, false, false, 0.0f, 0.0f},
    {"HardSigmoid", F_HARD_SIGMOID, true, true, 0.2f, 0.5f},
    {"LeakyRelu", F_LEAKY_RELU, true, false, 0.01f, 0.0f},
    {"ThresholdedRelu", F_THRESHOLDED_RELU, true, false, 1.0f, 0.0f},
    {"ScaledTanh", F_SCALED_TANH, true, true, 1.0f, 1.0f},
    {"Affine", F_AFFINE, true, true, 1.0f, 0.0f},
    {"Elu", F_ELU, true, false, 1.0f, 0.0f},
    {"Softsign", F_SOFTSIGN, false, false, 0.0f, 0.0f},
    {"Softplus", F_SOFTPLUS, false, false, 0.0f, 0.0f},
};

/* Everything the attributes say, parsed once per run (and once at load, to refuse bad models
 * early). */
typedef struct rnn_cfg {
  rnn_kind kind;
  const char *op;
  int gates;  /* G: 4 (LSTM), 3 (GRU), 1 (RNN) */
  int n_act;  /* activations per direction: 3, 2, 1 */
  int dirs;   /* 1 or 2 */
  bool reverse; /* the only direction runs backwards */
  int64_t hidden; /* hidden_size, -1 when absent */
  bool has_clip;
  float clip;
  bool input_forget;
  bool lbr; /* GRU linear_before_reset */
  int layout;
  rnn_act act[2][3];
} rnn_cfg;

static ladle_status parse_act(const char *name, rnn_act *a, bool *takes_alpha, bool *takes_beta,
                              errbuf *e) {
  for (size_t k = 0; k < sizeof act_table / sizeof act_table[0]; k++) {
    if (strcasecmp(name, act_table[k].name) != 0) continue;
    a->fn = act_table[k].fn;
    a->alpha = act_table[k].alpha;
    a->beta = act_table[k].beta;
    *takes_alpha = act_table[k].takes_alpha;
    *takes_beta = act_table[k].takes_beta;
    return LADLE_OK;
  }
  return err_set(e, LADLE_ERR_UNSUPPORTED, "unsupported activation '%s'", name);
}

static ladle_status cfg_parse(const node *n, rnn_kind kind, rnn_cfg *cfg, errbuf *e) {
  static const char *const defaults[3][3] = {
      {"Sigmoid", "Tanh", "Tanh"}, /* LSTM: f, g, h */
      {"Sigmoid", "Tanh", NULL},   /* GRU: f, g */
      {"Tanh", NULL, NULL},        /* RNN: f */
  };
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  cfg->op = kind == RNN_LSTM ? "LSTM" : kind == RNN_GRU ? "GRU" : "RNN";
  cfg->gates = kind == RNN_LSTM ? 4 : kind == RNN_GRU ? 3 : 1;
  cfg->n_act = kind == RNN_LSTM ? 3 : kind == RNN_GRU ? 2 : 1;

  const char *dir = node_attr_str(n, "direction", "forward");
  if (strcmp(dir, "forward") == 0) {
    cfg->dirs = 1;
  } else if (strcmp(dir, "reverse") == 0) {
    cfg->dirs = 1;
    cfg->reverse = true;
  } else if (strcmp(dir, "bidirectional") == 0) {
    cfg->dirs = 2;
  } else {
    return err_set(e, LADLE_ERR_INVALID, "direction '%s' is not forward, reverse or bidirectional",
                   dir);
  }
  cfg->hidden = node_attr_int(n, "hidden_size", -1);
  if (node_attr(n, "hidden_size") && cfg->hidden <= 0)
    return err_set(e, LADLE_ERR_INVALID, "hidden_size %lld must be positive",
                   (long long)cfg->hidden);
  const attr *clip = node_attr(n, "clip");
  if (clip) {
    cfg->has_clip = true;
    cfg->clip = node_attr_float(n, "clip", 0.0f);
    if (!(cfg->clip >= 0.0f))
      return err_set(e, LADLE_ERR_INVALID, "clip %g must be non-negative", (double)cfg->clip);
  }
  cfg->input_forget = node_attr_int(n, "input_forget", 0) != 0;
  cfg->lbr = node_attr_int(n, "linear_before_reset", 0) != 0;
  int64_t layout = node_attr_int(n, "layout", 0);
  if (layout != 0 && layout != 1)
    return err_set(e, LADLE_ERR_INVALID, "layout %lld is not 0 or 1", (long long)layout);
  cfg->layout = (int)layout;

  /* activations: n_act per direction; a bidirectional op given one direction's list uses it
   * for both (as ONNX Runtime does). */
  const attr *acts = node_attr(n, "activations");
  int64_t n_names = acts ? acts->n : 0;
  if (acts && acts->type != ATTR_STRINGS)
    return err_set(e, LADLE_ERR_INVALID, "activations must be a list of strings");
  if (n_names != 0 && n_names != cfg->n_act && n_names != (int64_t)cfg->n_act * cfg->dirs)
    return err_set(e, LADLE_ERR_INVALID, "%lld activations given, expected %d per direction",
                   (long long)n_names, cfg->n_act);
  const float *alphas = NULL, *betas = NULL;
  int64_t n_alpha = node_attr_floats(n, "activation_alpha", &alphas);
  int64_t n_beta = node_attr_floats(n, "activation_beta", &betas);
  int64_t ia = 0, ib = 0;
  for (int d = 0; d < cfg->dirs; d++) {
    for (int k = 0; k < cfg->n_act; k++) {
      const char *name = defaults[kind][k];
      if (n_names) name = acts->strings[(n_names == cfg->n_act ? 0 : d * cfg->n_act) + k];
      bool ta = false, tb = false;
      ladle_status st = parse_act(name ? name : "", &cfg->act[d][k], &ta, &tb, e);
      if (st) return st;
      if (ta && ia < n_alpha) cfg->act[d][k].alpha = alphas[ia++];
      if (tb && ib < n_beta) cfg->act[d][k].beta = betas[ib++];
    }
  }
  return LADLE_OK;
}

/* --- activations and gate arithmetic ------------------------------------------------------- */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* x[0..n) = act(x), applied in place. */
static void act_span(const rnn_act *a, float *x, int64_t n) {
  float al = a->alpha, be = a->beta;
  switch (a->fn) {
    case F_SIGMOID:
      for (int64_t i = 0; i < n; i++) x[i] = sigmoidf(x[i]);
      break;
    case F_TANH:
      for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
      break;
    case F_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case F_HARD_SIGMOID:
      for (int64_t i = 0; i < n; i++) {
        float v = al * x[i] + be;
        x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
      }
      break;
    case F_LEAKY_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0.0f ? x[i] : al * x[i];
      break;
    case F_THRESHOLDED_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > al ? x[i] : 0.0f;
      break;
    case F_SCALED_TANH:
      for (int64_t i = 0; i < n; i++) x[i] = al * tanhf(be * x[i]);
      break;
    case F_AFFINE:
      for (int64_t i = 0; i < n; i++) x[i] = al * x[i] + be;
      break;
    case F_ELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0.0f ? x[i] : al * (expf(x[i]) - 1.0f);
      break;
    case F_SOFTSIGN:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + fabsf(x[i]));
      break;
    case F_SOFTPLUS:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > 20.0f ? x[i] : log1pf(expf(x[i]));
      break;
  }
}

static void clip_span(const rnn_cfg *cfg, float *x, int64_t n) {
  if (!cfg->has_clip) return;
  float c = cfg->clip;
  for (int64_t i = 0; i < n; i++) x[i] = x[i] < -c ? -c : (x[i] > c ? c : x[i]);
}

/* y = a·bᵀ (+ y when accumulate): a is m×k (row stride lda), b is n×k (row stride ldb). */
static void gemm_abt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                     int64_t ldb, bool accumulate, float *y, int64_t ldy) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; i++) memset(y + i * ldy, 0, sizeof(float) * (size_t)n);
    return;
  }
  blas_sgemm(false, true, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, y, ldy);
}

/* --- the kernel ------------------------------------------------------------------------------ */

/* One run's geometry and buffers. */
typedef struct rnn_run {
  const rnn_cfg *cfg;
  int64_t seq, batch, in, H, GH;
  const float *r;       /* R [dirs, GH, H] */
  const float *bias;    /* B [dirs, 2·GH] or NULL */
  const float *peep;    /* P [dirs, 3H] or NULL */
  const int64_t *lens;  /* per batch row, in scratch */
  const float *h0, *c0; /* initial states or NULL */
  const float *xproj;   /* [seq·batch rows in X's order, dirs·GH] */
  float *y, *yh, *yc;   /* outputs (NULL when absent) */
  float *gates;         /* [batch, GH] */
  float *rec;           /* [batch, GH]: GRU's recurrent part */
  float *h, *c;         /* states [batch, H] */
} rnn_run;

static int64_t state_off(const rnn_run *r, int d, int64_t b) {
  return r->cfg->layout == 0 ? ((int64_t)d * r->batch + b) * r->H
                             : (b * r->cfg->dirs + d) * r->H;
}

static int64_t xrow(const rnn_run *r, int64_t t, int64_t b) {
  return r->cfg->layout == 0 ? t * r->batch + b : b * r->seq + t;
}

static int64_t y_off(const rnn_run *r, int d, int64_t t, int64_t b) {
  int dirs = r->cfg->dirs;
  return r->cfg->layout == 0 ? ((t * dirs + d) * r->batch + b) * r->H
                             : ((b * r->seq + t) * dirs + d) * r->H;
}

static void lstm_row(const rnn_run *r, int d, float *g, float *c, float *h) {
  const rnn_cfg *cfg = r->cfg;
  int64_t H = r->H;
  float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
  const float *pi = r->peep ? r->peep + (int64_t)d * 3 * H : NULL;
  const float *po = pi ? pi + H : NULL, *pf = pi ? pi + 2 * H : NULL;
  if (pi)
    for (int64_t j = 0; j < H; j++) {
      gi[j] += pi[j] * c[j];
      gf[j] += pf[j] * c[j];
    }
  clip_span(cfg, gi, H);
  act_span(&cfg->act[d][0], gi, H);
  if (cfg->input_forget) {
    for (int64_t j = 0; j < H; j++) gf[j] = 1.0f - gi[j];
  } else {
    clip_span(cfg, gf, H);
    act_span(&cfg->act[d][0], gf, H);
  }
  clip_span(cfg, gc, H);
  act_span(&cfg->act[d][1], gc, H);
  for (int64_t j = 0; j < H; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
  if (po)
    for (int64_t j = 0; j < H; j++) go[j] += po[j] * c[j];
  clip_span(cfg, go, H);
  act_span(&cfg->act[d][0], go, H);
  memcpy(h, c, sizeof(float) * (size_t)H);
  act_span(&cfg->act[d][2], h, H);
  for (int64_t j = 0; j < H; j++) h[j] *= go[j];
}

/* Runs direction d over the whole sequence. */
static void run_direction(rnn_run *r, int d) {
  const rnn_cfg *cfg = r->cfg;
  int64_t H = r->H, GH = r->GH, batch = r->batch, ld_x = (int64_t)cfg->dirs * GH;
  bool backwards = cfg->reverse || d == 1;
  const float *rw = r->r + (int64_t)d * GH * H;
  const float *rbh = NULL; /* GRU linear_before_reset: Rb of the h gate */
  if (cfg->kind == RNN_GRU && cfg->lbr && r->bias)
    rbh = r->bias + (int64_t)d * 2 * GH + GH + 2 * H;

  for (int64_t b = 0; b < batch; b++) {
    float *h = r->h + b * H, *c = r->c + b * H;
    if (r->h0) memcpy(h, r->h0 + state_off(r, d, b), sizeof(float) * (size_t)H);
    else memset(h, 0, sizeof(float) * (size_t)H);
    if (cfg->kind == RNN_LSTM) {
      if (r->c0) memcpy(c, r->c0 + state_off(r, d, b), sizeof(float) * (size_t)H);
      else memset(c, 0, sizeof(float) * (size_t)H);
    }
  }

  for (int64_t step = 0; step < r->seq; step++) {
    /* gates = x projection of each row's own time step */
    for (int64_t b = 0; b < batch; b++) {
      int64_t len = r->lens[b];
      float *g = r->gates + b * GH;
      if (step >= len) {
        memset(g, 0, sizeof(float) * (size_t)GH);
        continue;
      }
      int64_t t = backwards ? len - 1 - step : step;
      memcpy(g, r->xproj + xrow(r, t, b) * ld_x + (int64_t)d * GH, sizeof(float) * (size_t)GH);
    }

    if (cfg->kind == RNN_GRU) {
      /* z and r: gates[:, 0:2H] += h·[Rz;Rr]ᵀ */
      gemm_abt(batch, 2 * H, H, r->h, H, rw, H, true, r->gates, GH);
      if (cfg->lbr) gemm_abt(batch, H, H, r->h, H, rw + 2 * H * H, H, false, r->rec, H);
      for (int64_t b = 0; b < batch; b++) {
        float *g = r->gates + b * GH, *h = r->h + b * H, *rh = r->rec + b * H;
        if (step >= r->lens[b]) {
          if (!cfg->lbr) memset(rh, 0, sizeof(float) * (size_t)H);
          continue;
        }
        clip_span(cfg, g, 2 * H);
        act_span(&cfg->act[d][0], g, 2 * H);
        const float *rg = g + H;
        if (cfg->lbr) {
          for (int64_t j = 0; j < H; j++) g[2 * H + j] += rg[j] * (rh[j] + (rbh ? rbh[j] : 0.0f));
        } else {
          for (int64_t j = 0; j < H; j++) rh[j] = rg[j] * h[j];
        }
      }
      if (!cfg->lbr) /* h gate: gates[:, 2H:3H] += (r ⊙ h)·Rhᵀ */
        gemm_abt(batch, H, H, r->rec, H, rw + 2 * H * H, H, true, r->gates + 2 * H, GH);
    } else {
      gemm_abt(batch, GH, H, r->h, H, rw, H, true, r->gates, GH);
    }

    for (int64_t b = 0; b < batch; b++) {
      int64_t len = r->lens[b];
      if (step >= len) continue;
      int64_t t = backwards ? len - 1 - step : step;
      float *g = r->gates + b * GH, *h = r->h + b * H;
      switch (cfg->kind) {
        case RNN_LSTM:
          lstm_row(r, d, g, r->c + b * H, h);
          break;
        case RNN_GRU: {
          float *z = g, *hh = g + 2 * H;
          clip_span(cfg, hh, H);
          act_span(&cfg->act[d][1], hh, H);
          for (int64_t j = 0; j < H; j++) h[j] = (1.0f - z[j]) * hh[j] + z[j] * h[j];
          break;
        }
        case RNN_RNN:
          clip_span(cfg, g, H);
          act_span(&cfg->act[d][0], g, H);
          memcpy(h, g, sizeof(float) * (size_t)H);
          break;
      }
      if (r->y) memcpy(r->y + y_off(r, d, t, b), h, sizeof(float) * (size_t)H);
    }
  }

  for (int64_t b = 0; b < batch; b++) {
    if (r->yh) memcpy(r->yh + state_off(r, d, b), r->h + b * H, sizeof(float) * (size_t)H);
    if (r->yc) memcpy(r->yc + state_off(r, d, b), r->c + b * H, sizeof(float) * (size_t)H);
  }
}

/* Checks that input i (when present) is a float tensor of exactly the given shape. */
static ladle_status check_input(op_ctx *c, const rnn_cfg *cfg, int i, const char *what, int ndim,
                                const int64_t *dims) {
  const ladle_tensor *t = op_in(c, i);
  char a[128], b[128];
  if (!t) return LADLE_OK;
  if (t->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "%s: %s must be float32, got %s", cfg->op, what,
                   ladle_dtype_name(t->dtype));
  if (!shape_equal(t->ndim, t->dims, ndim, dims))
    return op_fail(c, LADLE_ERR_SHAPE, "%s: %s has shape %s, expected %s", cfg->op, what,
                   shape_str(t->ndim, t->dims, a, sizeof a), shape_str(ndim, dims, b, sizeof b));
  return LADLE_OK;
}

static bool has_out(op_ctx *c, int i) {
  const node *n = op_node(c);
  return i < n->n_out && n->out[i] >= 0;
}

static ladle_status rnn_run_op(op_ctx *c, rnn_kind kind) {
  rnn_cfg cfg;
  errbuf e = {{0}};
  ladle_status st = cfg_parse(op_node(c), kind, &cfg, &e);
  if (st) return op_fail(c, st, "%s: %s", cfg.op, e.msg);
  const ladle_tensor *x = op_in(c, 0), *w = op_in(c, 1), *rt = op_in(c, 2);
  const ladle_tensor *lens_t = op_in(c, 4);
  if (!x || !w || !rt) return op_fail(c, LADLE_ERR_INVALID, "%s needs inputs X, W and R", cfg.op);
  if (x->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "%s: only float32 is supported, X is %s", cfg.op,
                   ladle_dtype_name(x->dtype));
  if (x->ndim != 3)
    return op_fail(c, LADLE_ERR_SHAPE, "%s: X must have rank 3, got %d", cfg.op, x->ndim);
  if (rt->ndim != 3)
    return op_fail(c, LADLE_ERR_SHAPE, "%s: R must have rank 3, got %d", cfg.op, rt->ndim);

  rnn_run r = {.cfg = &cfg};
  int dirs = cfg.dirs, G = cfg.gates;
  r.seq = cfg.layout == 0 ? x->dims[0] : x->dims[1];
  r.batch = cfg.layout == 0 ? x->dims[1] : x->dims[0];
  r.in = x->dims[2];
  r.H = cfg.hidden >= 0 ? cfg.hidden : rt->dims[2];
  if (r.H <= 0 || r.H > (INT64_C(1) << 24))
    return op_fail(c, LADLE_ERR_SHAPE, "%s: hidden size %lld is out of range", cfg.op,
                   (long long)r.H);
  r.GH = G * r.H;
  int64_t wd[3] = {dirs, r.GH, r.in}, rd[3] = {dirs, r.GH, r.H}, bd[2] = {dirs, 2 * r.GH};
  int64_t pd[2] = {dirs, 3 * r.H};
  int64_t sd[3] = {dirs, r.batch, r.H};
  if (cfg.layout == 1) {
    sd[0] = r.batch;
    sd[1] = dirs;
  }
  if ((st = check_input(c, &cfg, 1, "W", 3, wd)) || (st = check_input(c, &cfg, 2, "R", 3, rd)) ||
      (st = check_input(c, &cfg, 3, "B", 2, bd)) ||
      (st = check_input(c, &cfg, 5, "initial_h", 3, sd)))
    return st;
  if (kind == RNN_LSTM &&
      ((st = check_input(c, &cfg, 6, "initial_c", 3, sd)) ||
       (st = check_input(c, &cfg, 7, "P", 2, pd))))
    return st;

  /* sizes: Y passes the session's tensor limit in op_out; the projection is G times Y */
  int64_t xp_dims[4] = {r.seq, r.batch, dirs, r.GH};
  int64_t xp_n = shape_numel(4, xp_dims);
  if (xp_n < 0 || xp_n > RNN_MAX_SCRATCH_BYTES / (int64_t)sizeof(float))
    return op_fail(c, LADLE_ERR_LIMIT, "%s: %lld x %lld x %d x %lld projected inputs are too many",
                   cfg.op, (long long)r.seq, (long long)r.batch, dirs, (long long)r.GH);

  int64_t *lens = op_scratch(c, 0, sizeof(int64_t) * (size_t)(r.batch + 1));
  if (!lens) return op_fail(c, LADLE_ERR_NOMEM, "%s: out of memory", cfg.op);
  for (int64_t b = 0; b < r.batch; b++) lens[b] = r.seq;
  if (lens_t) {
    if (lens_t->dtype != LADLE_INT32 && lens_t->dtype != LADLE_INT64)
      return op_fail(c, LADLE_ERR_DTYPE, "%s: sequence_lens must be int32, got %s", cfg.op,
                     ladle_dtype_name(lens_t->dtype));
    if (lens_t->ndim != 1 || lens_t->dims[0] != r.batch)
      return op_fail(c, LADLE_ERR_SHAPE, "%s: sequence_lens must have shape [%lld]", cfg.op,
                     (long long)r.batch);
    for (int64_t b = 0; b < r.batch; b++) {
      lens[b] = tensor_get_i64(lens_t, b);
      if (lens[b] < 0 || lens[b] > r.seq)
        return op_fail(c, LADLE_ERR_INVALID, "%s: sequence_lens[%lld] = %lld is outside [0, %lld]",
                       cfg.op, (long long)b, (long long)lens[b], (long long)r.seq);
    }
  }
  r.lens = lens;

  /* outputs */
  ladle_tensor *y = NULL, *yh = NULL, *yc = NULL;
  int64_t ydims[4] = {r.seq, dirs, r.batch, r.H};
  if (cfg.layout == 1) {
    ydims[0] = r.batch;
    ydims[1] = r.seq;
    ydims[2] = dirs;
  }
  if (has_out(c, 0) && (st = op_out(c, 0, LADLE_FLOAT, 4, ydims, &y))) return st;
  if (has_out(c, 1) && (st = op_out(c, 1, LADLE_FLOAT, 3, sd, &yh))) return st;
  if (kind == RNN_LSTM && has_out(c, 2) && (st = op_out(c, 2, LADLE_FLOAT, 3, sd, &yc)))
    return st;
  r.y = y ? y->data : NULL;
  r.yh = yh ? yh->data : NULL;
  r.yc = yc ? yc->data : NULL;
  if (r.y && lens_t) memset(r.y, 0, sizeof(float) * (size_t)shape_numel(4, ydims));

  /* scratch: projection, then gates, recurrent part and states */
  float *xproj = op_scratch(c, 1, sizeof(float) * (size_t)(xp_n + 1));
  float *work = op_scratch(c, 2, sizeof(float) * (size_t)(r.batch * (2 * r.GH + 2 * r.H) + 1));
  if (!xproj || !work) return op_fail(c, LADLE_ERR_NOMEM, "%s: out of memory", cfg.op);
  r.gates = work;
  r.rec = work + r.batch * r.GH;
  r.h = r.rec + r.batch * r.GH;
  r.c = r.h + r.batch * r.H;
  r.r = rt->data;
  r.bias = op_in(c, 3) ? op_in(c, 3)->data : NULL;
  r.h0 = op_in(c, 5) ? op_in(c, 5)->data : NULL;
  if (kind == RNN_LSTM) {
    r.c0 = op_in(c, 6) ? op_in(c, 6)->data : NULL;
    r.peep = op_in(c, 7) ? op_in(c, 7)->data : NULL;
  }

  /* projection: every row starts as Wb + Rb (GRU with linear_before_reset keeps Rb of the h
   * gate for the recurrence), then += X·Wᵀ for all directions at once */
  int64_t rows = r.seq * r.batch, ld_x = (int64_t)dirs * r.GH;
  if (r.bias) {
    float *row0 = xproj;
    for (int d = 0; d < dirs; d++) {
      const float *wb = r.bias + (int64_t)d * 2 * r.GH, *rb = wb + r.GH;
      for (int64_t j = 0; j < r.GH; j++) {
        bool keep_rb = !(kind == RNN_GRU && cfg.lbr && j >= 2 * r.H);
        row0[(int64_t)d * r.GH + j] = wb[j] + (keep_rb ? rb[j] : 0.0f);
      }
    }
    for (int64_t i = 1; i < rows; i++)
      memcpy(xproj + i * ld_x, row0, sizeof(float) * (size_t)ld_x);
  }
  if (rows > 0)
    gemm_abt(rows, ld_x, r.in, x->data, r.in, w->data, r.in, r.bias != NULL, xproj, ld_x);
  r.xproj = xproj;

  for (int d = 0; d < dirs; d++) run_direction(&r, d);
  return LADLE_OK;
}

static ladle_status run_lstm(op_ctx *c) { return rnn_run_op(c, RNN_LSTM); }
static ladle_status run_gru(op_ctx *c) { return rnn_run_op(c, RNN_GRU); }
static ladle_status run_rnn(op_ctx *c) { return rnn_run_op(c, RNN_RNN); }

/* Load-time check of the attributes, so a bad model is refused when it is loaded. */
static ladle_status init_kind(node *n, rnn_kind kind, errbuf *e) {
  rnn_cfg cfg;
  ladle_status st = cfg_parse(n, kind, &cfg, e);
  if (st) err_prefix(e, "%s", cfg.op);
  return st;
}

static ladle_status init_lstm(const graph *g, node *n, errbuf *e) {
  (void)g;
  return init_kind(n, RNN_LSTM, e);
}
static ladle_status init_gru(const graph *g, node *n, errbuf *e) {
  (void)g;
  return init_kind(n, RNN_GRU, e);
}
static ladle_status init_rnn(const graph *g, node *n, errbuf *e) {
  (void)g;
  return init_kind(n, RNN_RNN, e);
}

/* LSTM-1 only adds output_sequence (ignored: the outputs wanted are the ones named); layout
 * arrives at 14 with a default of 0, which is what earlier versions mean. */
const op_def ops_rnn[] = {
    {"", "LSTM", 1, 99, run_lstm, init_lstm, NULL},
    {"", "GRU", 1, 99, run_gru, init_gru, NULL},
    {"", "RNN", 1, 99, run_rnn, init_rnn, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

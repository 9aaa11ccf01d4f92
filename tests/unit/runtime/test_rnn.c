/* test_rnn.c — what the ONNX conformance data does not cover for LSTM, GRU, RNN and Einsum:
 *   - random recurrent configurations (every direction, layout 0 and 1, sequence_lens, initial
 *     states, peepholes, clip, input_forget, linear_before_reset, every activation with
 *     alpha/beta) against a plain double-precision reference written step by step;
 *   - Einsum equations (diagonals, traces, outer products, broadcast ellipses, implicit output,
 *     three operands, integer types) against a loop over every label assignment;
 *   - hostile attributes and shapes, refused with a status.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "onnx_build.h"
#include "xorshift.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) { return xorshift64(&rng_state); }
static int rndi(int n) { return (int)(rnd() % (uint64_t)n); }
static float rndf(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* --- one-node models (onnx_build.h) -------------------------------------------------------- */

#define MAX_ATTR 12

/* Builds op at opset with inputs named in_names (an empty name is an omitted input; the others
 * are graph inputs of the given dtypes) and outputs out_names; loads it. NULL on failure, with
 * the loader's message in err. */
static ladle_model *build(const char *op, int opset, int n_in, const char *const *in_names,
                          const int *dtypes, int n_out, const char *const *out_names, int n_attr,
                          const attr_spec *attrs, char *err, size_t err_len) {
  model_builder b;
  ladle_model *m = NULL;
  mb_init(&b, opset);
  mb_io(&b, n_in, in_names, dtypes, n_out, out_names, NULL);
  mb_node(&b, op, NULL, "n", n_in, in_names, n_out, out_names, n_attr, attrs);
  return mb_load(&b, &m, err, err_len) ? NULL : m;
}

/* --- recurrent reference ------------------------------------------------------------------- */

enum { K_LSTM, K_GRU, K_RNN };

static const char *const act_names[] = {"Sigmoid", "Tanh", "Relu", "HardSigmoid", "LeakyRelu",
                                        "ThresholdedRelu", "ScaledTanh", "Affine", "Elu",
                                        "Softsign", "Softplus"};
static const bool act_alpha[] = {false, false, false, true, true, true, true, true, true, false, false};
static const bool act_beta[] = {false, false, false, true, false, false, true, true, false, false, false};

static double ref_act(int fn, double x, double a, double b) {
  switch (fn) {
    case 0: return 1.0 / (1.0 + exp(-x));
    case 1: return tanh(x);
    case 2: return x > 0 ? x : 0;
    case 3: return fmax(0.0, fmin(1.0, a * x + b));
    case 4: return x >= 0 ? x : a * x;
    case 5: return x > a ? x : 0;
    case 6: return a * tanh(b * x);
    case 7: return a * x + b;
    case 8: return x >= 0 ? x : a * (exp(x) - 1);
    case 9: return x / (1 + fabs(x));
    default: return log(1 + exp(x));
  }
}

typedef struct rcase {
  int kind, dirs, layout, seq, batch, in, H;
  bool reverse, has_b, has_lens, has_h0, has_c0, has_p, input_forget, lbr, has_clip;
  float clip;
  int n_act;      /* per direction */
  int act[2][3];  /* indices into act_names */
  double alpha[2][3], beta[2][3];
  bool set_acts;  /* pass the activations attribute */
} rcase;

typedef struct rdata {
  float *x, *w, *r, *b, *h0, *c0, *p;
  int32_t *lens;
} rdata;

static double clipd(const rcase *k, double v) {
  if (!k->has_clip) return v;
  return v < -k->clip ? -k->clip : (v > k->clip ? k->clip : v);
}

/* y [layout-dependent], yh, yc: double outputs of the reference. */
static void reference(const rcase *k, const rdata *d, double *y, double *yh, double *yc) {
  int G = k->kind == K_LSTM ? 4 : k->kind == K_GRU ? 3 : 1, H = k->H, GH = G * H;
  int64_t ny = (int64_t)k->seq * k->dirs * k->batch * H;
  memset(y, 0, sizeof(double) * (size_t)ny);
  double *h = malloc(sizeof(double) * (size_t)H), *c = malloc(sizeof(double) * (size_t)H);
  double *g = malloc(sizeof(double) * (size_t)GH), *hn = malloc(sizeof(double) * (size_t)H);
  for (int dir = 0; dir < k->dirs; dir++) {
    bool back = k->reverse || dir == 1;
    const float *W = d->w + (int64_t)dir * GH * k->in, *R = d->r + (int64_t)dir * GH * H;
    const float *Wb = k->has_b ? d->b + (int64_t)dir * 2 * GH : NULL, *Rb = Wb ? Wb + GH : NULL;
    const float *P = k->has_p ? d->p + (int64_t)dir * 3 * H : NULL;
    const double *al = k->alpha[dir], *be = k->beta[dir];
    const int *fn = k->act[dir];
    for (int b = 0; b < k->batch; b++) {
      int st_off = k->layout == 0 ? (dir * k->batch + b) * H : (b * k->dirs + dir) * H;
      for (int j = 0; j < H; j++) {
        h[j] = k->has_h0 ? d->h0[st_off + j] : 0.0;
        c[j] = k->has_c0 ? d->c0[st_off + j] : 0.0;
      }
      int L = k->has_lens ? d->lens[b] : k->seq;
      for (int s = 0; s < L; s++) {
        int t = back ? L - 1 - s : s;
        const float *xt = d->x + (k->layout == 0 ? ((int64_t)t * k->batch + b) * k->in
                                                 : ((int64_t)b * k->seq + t) * k->in);
        for (int row = 0; row < GH; row++) { /* x·Wᵀ + Wb (+ Rb) */
          double v = Wb ? Wb[row] : 0.0;
          for (int i = 0; i < k->in; i++) v += (double)xt[i] * W[(int64_t)row * k->in + i];
          g[row] = v;
        }
        if (k->kind == K_LSTM) {
          for (int row = 0; row < GH; row++) {
            double v = Rb ? Rb[row] : 0.0;
            for (int i = 0; i < H; i++) v += h[i] * R[(int64_t)row * H + i];
            g[row] += v;
          }
          for (int j = 0; j < H; j++) {
            double gi = g[j], go = g[H + j], gf = g[2 * H + j], gc = g[3 * H + j];
            double ig = ref_act(fn[0], clipd(k, gi + (P ? P[j] * c[j] : 0)), al[0], be[0]);
            double fg = k->input_forget
                            ? 1.0 - ig
                            : ref_act(fn[0], clipd(k, gf + (P ? P[2 * H + j] * c[j] : 0)), al[0], be[0]);
            double cc = ref_act(fn[1], clipd(k, gc), al[1], be[1]);
            c[j] = fg * c[j] + ig * cc;
            double og = ref_act(fn[0], clipd(k, go + (P ? P[H + j] * c[j] : 0)), al[0], be[0]);
            hn[j] = og * ref_act(fn[2], c[j], al[2], be[2]);
          }
        } else if (k->kind == K_GRU) {
          for (int j = 0; j < H; j++) {
            double z = g[j], r = g[H + j];
            for (int i = 0; i < H; i++) {
              z += h[i] * R[(int64_t)j * H + i];
              r += h[i] * R[(int64_t)(H + j) * H + i];
            }
            z += Rb ? Rb[j] : 0.0;
            r += Rb ? Rb[H + j] : 0.0;
            z = ref_act(fn[0], clipd(k, z), al[0], be[0]);
            r = ref_act(fn[0], clipd(k, r), al[0], be[0]);
            double hr = 0.0;
            if (k->lbr) {
              for (int i = 0; i < H; i++) hr += h[i] * R[(int64_t)(2 * H + j) * H + i];
              hr = r * (hr + (Rb ? Rb[2 * H + j] : 0.0));
            } else {
              for (int i = 0; i < H; i++) {
                /* r of row i is needed: recompute it */
                double ri = g[H + i];
                for (int q = 0; q < H; q++) ri += h[q] * R[(int64_t)(H + i) * H + q];
                ri = ref_act(fn[0], clipd(k, ri + (Rb ? Rb[H + i] : 0.0)), al[0], be[0]);
                hr += ri * h[i] * R[(int64_t)(2 * H + j) * H + i];
              }
              hr += Rb ? Rb[2 * H + j] : 0.0;
            }
            double hh = ref_act(fn[1], clipd(k, g[2 * H + j] + hr), al[1], be[1]);
            hn[j] = (1 - z) * hh + z * h[j];
          }
        } else {
          for (int j = 0; j < H; j++) {
            double v = g[j] + (Rb ? Rb[j] : 0.0);
            for (int i = 0; i < H; i++) v += h[i] * R[(int64_t)j * H + i];
            hn[j] = ref_act(fn[0], clipd(k, v), al[0], be[0]);
          }
        }
        memcpy(h, hn, sizeof(double) * (size_t)H);
        int64_t yo = k->layout == 0 ? (((int64_t)t * k->dirs + dir) * k->batch + b) * H
                                    : (((int64_t)b * k->seq + t) * k->dirs + dir) * H;
        for (int j = 0; j < H; j++) y[yo + j] = h[j];
      }
      for (int j = 0; j < H; j++) {
        yh[st_off + j] = h[j];
        yc[st_off + j] = c[j];
      }
    }
  }
  free(h);
  free(c);
  free(g);
  free(hn);
}

static float *rand_floats(int64_t n, float scale) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = rndf() * scale;
  return p;
}

static bool close_enough(const float *got, const double *want, int64_t n, const char *what) {
  double maxref = 0.0, maxerr = 0.0;
  for (int64_t i = 0; i < n; i++) {
    maxref = fmax(maxref, fabs(want[i]));
    maxerr = fmax(maxerr, fabs(got[i] - want[i]));
    if (!isfinite(got[i])) maxerr = INFINITY;
  }
  bool ok = maxerr <= 1e-5 * fmax(maxref, 1.0);
  if (!ok) fprintf(stderr, "  %s: max error %g (max |ref| %g)\n", what, maxerr, maxref);
  return ok;
}

static void describe(const rcase *k) {
  static const char *kinds[] = {"LSTM", "GRU", "RNN"};
  fprintf(stderr, "  case: %s dirs %d%s layout %d seq %d batch %d in %d H %d b%d lens%d h0%d c0%d "
          "p%d if%d lbr%d clip%d acts%d [%s %s %s]\n", kinds[k->kind], k->dirs,
          k->reverse ? " reverse" : "", k->layout, k->seq, k->batch, k->in, k->H, k->has_b,
          k->has_lens, k->has_h0, k->has_c0, k->has_p, k->input_forget, k->lbr, k->has_clip,
          k->set_acts, act_names[k->act[0][0]], k->n_act > 1 ? act_names[k->act[0][1]] : "",
          k->n_act > 2 ? act_names[k->act[0][2]] : "");
}

static void random_case(rcase *k) {
  memset(k, 0, sizeof *k);
  k->kind = rndi(3);
  k->dirs = 1 + rndi(2);
  k->reverse = k->dirs == 1 && rndi(2);
  k->layout = rndi(2);
  k->seq = 1 + rndi(6);
  k->batch = 1 + rndi(4);
  k->in = 1 + rndi(5);
  k->H = 1 + rndi(6);
  k->has_b = rndi(4) != 0;
  k->has_lens = rndi(2);
  k->has_h0 = rndi(2);
  k->has_c0 = k->kind == K_LSTM && rndi(2);
  k->has_p = k->kind == K_LSTM && rndi(2);
  k->input_forget = k->kind == K_LSTM && rndi(4) == 0;
  k->lbr = k->kind == K_GRU && rndi(2);
  k->has_clip = rndi(4) == 0;
  k->clip = 0.5f + (float)rndi(3);
  k->n_act = k->kind == K_LSTM ? 3 : k->kind == K_GRU ? 2 : 1;
  k->set_acts = rndi(2);
  static const int dflt[3][3] = {{0, 1, 1}, {0, 1, 0}, {1, 0, 0}};
  static const double adef[] = {0, 0, 0, 0.2, 0.01, 1.0, 1.0, 1.0, 1.0, 0, 0};
  static const double bdef[] = {0, 0, 0, 0.5, 0, 0, 1.0, 0, 0, 0, 0};
  for (int d = 0; d < 2; d++)
    for (int j = 0; j < 3; j++) {
      int fn = k->set_acts ? rndi(11) : dflt[k->kind][j];
      k->act[d][j] = fn;
      k->alpha[d][j] = adef[fn];
      k->beta[d][j] = bdef[fn];
    }
}

/* Runs one configuration through ladle and the reference. */
static void rnn_case(const rcase *k) {
  static const char *ops[] = {"LSTM", "GRU", "RNN"};
  int G = k->kind == K_LSTM ? 4 : k->kind == K_GRU ? 3 : 1, H = k->H, GH = G * H;
  rdata d = {0};
  int64_t nx = (int64_t)k->seq * k->batch * k->in, nst = (int64_t)k->dirs * k->batch * H;
  d.x = rand_floats(nx, 1.0f);
  d.w = rand_floats((int64_t)k->dirs * GH * k->in, 0.6f);
  d.r = rand_floats((int64_t)k->dirs * GH * H, 0.6f);
  d.b = rand_floats((int64_t)k->dirs * 2 * GH, 0.3f);
  d.h0 = rand_floats(nst, 0.5f);
  d.c0 = rand_floats(nst, 0.5f);
  d.p = rand_floats((int64_t)k->dirs * 3 * H, 0.5f);
  d.lens = malloc(sizeof(int32_t) * (size_t)k->batch);
  for (int b = 0; b < k->batch; b++) d.lens[b] = 1 + rndi(k->seq);

  /* attributes; alpha/beta lists are consumed in activation order by those that take them */
  attr_spec attrs[MAX_ATTR];
  int na = 0;
  const char *names[6];
  float alphas[6], betas[6];
  int n_alpha = 0, n_beta = 0;
  attrs[na++] = (attr_spec){"hidden_size", A_INT, .i = H};
  const char *dir = k->dirs == 2 ? "bidirectional" : k->reverse ? "reverse" : "forward";
  attrs[na++] = (attr_spec){"direction", A_STR, .s = dir};
  if (k->layout) attrs[na++] = (attr_spec){"layout", A_INT, .i = 1};
  if (k->has_clip) attrs[na++] = (attr_spec){"clip", A_FLOAT, .f = k->clip};
  if (k->input_forget) attrs[na++] = (attr_spec){"input_forget", A_INT, .i = 1};
  if (k->kind == K_GRU) attrs[na++] = (attr_spec){"linear_before_reset", A_INT, .i = k->lbr};
  rcase kk = *k;
  if (k->set_acts) {
    /* a prefix of the alpha (beta) takers get explicit values, the rest keep their defaults */
    int give_alpha = rndi(4) ? 6 : rndi(3), give_beta = rndi(4) ? 6 : rndi(3);
    for (int dd = 0; dd < k->dirs; dd++)
      for (int j = 0; j < k->n_act; j++) {
        int fn = k->act[dd][j];
        names[dd * k->n_act + j] = act_names[fn];
        if (act_alpha[fn] && n_alpha < give_alpha) {
          alphas[n_alpha++] = 0.3f + 0.1f * (float)rndi(5);
          kk.alpha[dd][j] = alphas[n_alpha - 1];
        }
        if (act_beta[fn] && n_beta < give_beta) {
          betas[n_beta++] = 0.2f * (float)(1 + rndi(4));
          kk.beta[dd][j] = betas[n_beta - 1];
        }
      }
    attrs[na++] = (attr_spec){"activations", A_STRS, .strs = names, .n = k->dirs * k->n_act};
    if (n_alpha)
      attrs[na++] = (attr_spec){"activation_alpha", A_FLOATS, .fs = alphas, .n = n_alpha};
    if (n_beta) attrs[na++] = (attr_spec){"activation_beta", A_FLOATS, .fs = betas, .n = n_beta};
  }
  if (k->dirs == 1)
    for (int j = 0; j < 3; j++) { /* the reference reads direction 0 or 1 */
      kk.act[1][j] = kk.act[0][j];
      kk.alpha[1][j] = kk.alpha[0][j];
      kk.beta[1][j] = kk.beta[0][j];
    }
  if (!k->has_b) kk.has_b = false;

  const char *in_names[8] = {"X", "W", "R", k->has_b ? "B" : "", k->has_lens ? "sequence_lens" : "",
                             k->has_h0 ? "initial_h" : "", k->has_c0 ? "initial_c" : "",
                             k->has_p ? "P" : ""};
  int dtypes[8] = {1, 1, 1, 1, LADLE_INT32, 1, 1, 1};
  const char *out_names[3] = {"Y", "Y_h", "Y_c"};
  int n_in = k->kind == K_LSTM ? 8 : 6, n_out = k->kind == K_LSTM ? 3 : 2;
  while (n_in > 3 && !in_names[n_in - 1][0]) n_in--;
  char err[512];
  ladle_model *m = build(ops[k->kind], k->layout ? 14 : 7 + rndi(8), n_in, in_names, dtypes, n_out,
                         out_names, na, attrs, err, sizeof err);
  CHECK(m != NULL);
  if (!m) {
    fprintf(stderr, "  load: %s\n", err);
    describe(k);
    goto out;
  }
  ladle_session *s = ladle_session_new(m, 2);
  int64_t xd[3] = {k->seq, k->batch, k->in};
  if (k->layout) {
    xd[0] = k->batch;
    xd[1] = k->seq;
  }
  int64_t sd[3] = {k->dirs, k->batch, H};
  if (k->layout) {
    sd[0] = k->batch;
    sd[1] = k->dirs;
  }
  ladle_tensor t[8] = {
      {LADLE_FLOAT, 3, {xd[0], xd[1], xd[2]}, d.x},
      {LADLE_FLOAT, 3, {k->dirs, GH, k->in}, d.w},
      {LADLE_FLOAT, 3, {k->dirs, GH, H}, d.r},
      {LADLE_FLOAT, 2, {k->dirs, 2 * GH}, d.b},
      {LADLE_INT32, 1, {k->batch}, d.lens},
      {LADLE_FLOAT, 3, {sd[0], sd[1], sd[2]}, d.h0},
      {LADLE_FLOAT, 3, {sd[0], sd[1], sd[2]}, d.c0},
      {LADLE_FLOAT, 2, {k->dirs, 3 * H}, d.p},
  };
  const char *feed_names[8];
  ladle_tensor feeds[8];
  int nf = 0;
  for (int i = 0; i < n_in; i++)
    if (in_names[i][0]) {
      feed_names[nf] = in_names[i];
      feeds[nf++] = t[i];
    }
  ladle_status st = ladle_session_run(s, nf, feed_names, feeds);
  CHECK(st == LADLE_OK);
  if (st) {
    fprintf(stderr, "  run: %s\n", ladle_session_errmsg(s));
    describe(k);
  } else {
    int64_t ny = (int64_t)k->seq * k->dirs * k->batch * H;
    double *y = malloc(sizeof(double) * (size_t)ny), *yh = malloc(sizeof(double) * (size_t)nst),
           *yc = malloc(sizeof(double) * (size_t)nst);
    reference(&kk, &d, y, yh, yc);
    bool ok = close_enough(ladle_session_output(s, 0)->data, y, ny, "Y") &&
              close_enough(ladle_session_output(s, 1)->data, yh, nst, "Y_h") &&
              (k->kind != K_LSTM || close_enough(ladle_session_output(s, 2)->data, yc, nst, "Y_c"));
    CHECK(ok);
    if (!ok) describe(k);
    free(y);
    free(yh);
    free(yc);
  }
  ladle_session_free(s);
  ladle_model_free(m);
out:
  free(d.x);
  free(d.w);
  free(d.r);
  free(d.b);
  free(d.h0);
  free(d.c0);
  free(d.p);
  free(d.lens);
}

static void test_rnn_random(void) {
  rcase k;
  for (int i = 0; i < 300; i++) {
    random_case(&k);
    rnn_case(&k);
  }
}

/* Refusals: each model or input is wrong in one way and must fail with a status. */
static void test_rnn_refusals(void) {
  const char *in_names[5] = {"X", "W", "R", "", "sequence_lens"};
  int dtypes[5] = {1, 1, 1, 1, LADLE_INT32};
  const char *out_names[2] = {"Y", "Y_h"};
  char err[512];
  attr_spec bad_dir[] = {{"direction", A_STR, .s = "sideways"}};
  CHECK(build("RNN", 14, 3, in_names, dtypes, 2, out_names, 1, bad_dir, err, sizeof err) == NULL);
  const char *acts[] = {"Frobnicate"};
  attr_spec bad_act[] = {{"activations", A_STRS, .strs = acts, .n = 1}};
  CHECK(build("RNN", 14, 3, in_names, dtypes, 2, out_names, 1, bad_act, err, sizeof err) == NULL);
  attr_spec bad_layout[] = {{"layout", A_INT, .i = 2}};
  CHECK(build("GRU", 14, 3, in_names, dtypes, 2, out_names, 1, bad_layout, err, sizeof err) == NULL);

  /* run-time: shapes that do not fit, and sequence lengths out of range */
  float x[2 * 3 * 4] = {0}, w[1 * 4 * 4] = {0}, r[1 * 4 * 4] = {0};
  int32_t lens[3] = {1, 5, 2};
  attr_spec hs[] = {{"hidden_size", A_INT, .i = 4}};
  ladle_model *m = build("RNN", 14, 5, in_names, dtypes, 2, out_names, 1, hs, err, sizeof err);
  CHECK(m != NULL);
  if (!m) return;
  ladle_session *s = ladle_session_new(m, 1);
  const char *names[4] = {"X", "W", "R", "sequence_lens"};
  ladle_tensor good[4] = {{LADLE_FLOAT, 3, {2, 3, 4}, x},
                          {LADLE_FLOAT, 3, {1, 4, 4}, w},
                          {LADLE_FLOAT, 3, {1, 4, 4}, r},
                          {LADLE_INT32, 1, {3}, lens}};
  ladle_status st = ladle_session_run(s, 4, names, good);
  CHECK(st != LADLE_OK && strstr(ladle_session_errmsg(s), "sequence_lens"));
  lens[1] = 2;
  CHECK(ladle_session_run(s, 4, names, good) == LADLE_OK);
  ladle_tensor bad_w[4] = {good[0], {LADLE_FLOAT, 3, {1, 4, 3}, w}, good[2], good[3]};
  CHECK(ladle_session_run(s, 4, names, bad_w) != LADLE_OK && strstr(ladle_session_errmsg(s), "W"));
  ladle_tensor bad_r[4] = {good[0], good[1], {LADLE_FLOAT, 3, {2, 4, 4}, r}, good[3]};
  CHECK(ladle_session_run(s, 4, names, bad_r) != LADLE_OK);
  ladle_tensor bad_x[4] = {{LADLE_FLOAT, 2, {6, 4}, x}, good[1], good[2], good[3]};
  CHECK(ladle_session_run(s, 4, names, bad_x) != LADLE_OK);
  ladle_tensor bad_lens[4] = {good[0], good[1], good[2], {LADLE_INT32, 1, {2}, lens}};
  CHECK(ladle_session_run(s, 4, names, bad_lens) != LADLE_OK);
  ladle_session_free(s);
  ladle_model_free(m);
}

/* --- Einsum -------------------------------------------------------------------------------- */

/* A case: the equation given to Einsum, the same with every axis named by a letter (ellipses
 * written out) for the reference, and the input shapes. */
typedef struct ecase {
  const char *eq, *explicit_eq;
  int n_in;
  int ndim[3];
  int64_t dims[3][6];
} ecase;

static const ecase ecases[] = {
    {"ij,jk->ik", "ij,jk->ik", 2, {2, 2}, {{3, 4}, {4, 5}}},
    {"ij,kj->ik", "ij,kj->ik", 2, {2, 2}, {{7, 9}, {6, 9}}},
    {"ji,jk->ik", "ji,jk->ik", 2, {2, 2}, {{9, 7}, {9, 6}}},
    {"bij,bjk->bik", "bij,bjk->bik", 2, {3, 3}, {{2, 3, 4}, {2, 4, 5}}},
    {"bhqd,bhkd->bhqk", "bhqd,bhkd->bhqk", 2, {4, 4}, {{2, 3, 5, 4}, {2, 3, 6, 4}}},
    {"bhqk,bhkd->bqhd", "bhqk,bhkd->bqhd", 2, {4, 4}, {{2, 3, 5, 6}, {2, 3, 6, 4}}},
    {"ij->ji", "ij->ji", 1, {2}, {{3, 4}}},
    {"ii->i", "ii->i", 1, {2}, {{5, 5}}},
    {"ii", "ii->", 1, {2}, {{4, 4}}},
    {"ij->", "ij->", 1, {2}, {{3, 4}}},
    {"ijk->kij", "ijk->kij", 1, {3}, {{2, 3, 4}}},
    {"i,j->ij", "i,j->ij", 2, {1, 1}, {{3}, {4}}},
    {"i,i", "i,i->", 2, {1, 1}, {{6}, {6}}},
    {"ij,jk", "ij,jk->ik", 2, {2, 2}, {{2, 3}, {3, 4}}},
    {"ba,ca", "ba,ca->bc", 2, {2, 2}, {{2, 3}, {4, 3}}},
    {"...ij,...jk->...ik", "abij,bjk->abik", 2, {4, 3}, {{2, 3, 4, 5}, {3, 5, 2}}},
    {"...ij,...jk->...ik", "abij,abjk->abik", 2, {4, 4}, {{2, 1, 4, 5}, {1, 3, 5, 2}}},
    {"...ii->...i", "aii->ai", 1, {3}, {{3, 4, 4}}},
    {"i...->...", "iab->ab", 1, {3}, {{3, 2, 4}}},
    {"ij,jk,kl->il", "ij,jk,kl->il", 3, {2, 2, 2}, {{2, 3}, {3, 4}, {4, 5}}},
    {"ab,bc,cd", "ab,bc,cd->ad", 3, {2, 2, 2}, {{3, 2}, {2, 4}, {4, 2}}},
    {"iij,jk->ik", "iij,jk->ik", 2, {3, 2}, {{3, 3, 4}, {4, 2}}},
    {"ij,ij->ij", "ij,ij->ij", 2, {2, 2}, {{3, 4}, {3, 4}}},
    {"bn,anm,bm->ba", "bn,anm,bm->ba", 3, {2, 3, 2}, {{2, 3}, {4, 3, 5}, {2, 5}}},
    {"ij,k->", "ij,k->", 2, {2, 1}, {{2, 3}, {4}}},
    {" ij , jk -> ik ", "ij,jk->ik", 2, {2, 2}, {{2, 2}, {2, 2}}},
    {"ij,jk->ik", "ij,jk->ik", 2, {2, 2}, {{3, 0}, {0, 2}}},
};

static int lab_of(char ch) { return ch >= 'a' && ch <= 'z' ? ch - 'a' : 26 + ch - 'A'; }

/* The reference: loops over every assignment of every label. Size-1 axes broadcast. */
static void einsum_ref(const ecase *e, double *const *x, double *y, int64_t *ny) {
  int64_t size[52];
  for (int l = 0; l < 52; l++) size[l] = -1;
  const char *p = e->explicit_eq;
  int term = 0, axis = 0;
  const char *arrow = strstr(p, "->");
  for (const char *q = p; q < arrow; q++) {
    if (*q == ',') {
      term++;
      axis = 0;
      continue;
    }
    int64_t d = e->dims[term][axis++];
    int l = lab_of(*q);
    if (size[l] < 0 || size[l] == 1) size[l] = d;
  }
  int labs[52], nl = 0;
  for (int l = 0; l < 52; l++)
    if (size[l] >= 0) labs[nl++] = l;
  const char *out = arrow + 2;
  int no = (int)strlen(out);
  *ny = 1;
  for (int k = 0; k < no; k++) *ny *= size[lab_of(out[k])];
  for (int64_t i = 0; i < *ny; i++) y[i] = 0.0;
  int64_t idx[52] = {0}, total = 1;
  for (int k = 0; k < nl; k++) total *= size[labs[k]];
  for (int64_t it = 0; it < total; it++) {
    double prod = 1.0;
    const char *q = p;
    for (int t = 0; t < e->n_in; t++) {
      int64_t off = 0;
      for (int a = 0; a < e->ndim[t]; a++, q++) {
        int64_t d = e->dims[t][a];
        off = off * d + (d == 1 ? 0 : idx[lab_of(*q)]);
      }
      q++; /* ',' or '-' */
      prod *= x[t][off];
    }
    int64_t yo = 0;
    for (int k = 0; k < no; k++) yo = yo * size[lab_of(out[k])] + idx[lab_of(out[k])];
    y[yo] += prod;
    for (int k = nl - 1; k >= 0; k--) {
      if (++idx[labs[k]] < size[labs[k]]) break;
      idx[labs[k]] = 0;
    }
  }
}

static void einsum_case(const ecase *e, int dtype) {
  const char *in_names[3] = {"a", "b", "c"}, *out_names[1] = {"y"};
  int dtypes[3] = {dtype, dtype, dtype};
  attr_spec eq[] = {{"equation", A_STR, .s = e->eq}};
  char err[512];
  ladle_model *m = build("Einsum", 12, e->n_in, in_names, dtypes, 1, out_names, 1, eq, err, sizeof err);
  CHECK(m != NULL);
  if (!m) {
    fprintf(stderr, "  einsum '%s': %s\n", e->eq, err);
    return;
  }
  ladle_session *s = ladle_session_new(m, 1);
  double *xd[3];
  void *xt[3];
  ladle_tensor t[3];
  for (int i = 0; i < e->n_in; i++) {
    int64_t n = 1;
    for (int a = 0; a < e->ndim[i]; a++) n *= e->dims[i][a];
    xd[i] = malloc(sizeof(double) * (size_t)(n + 1));
    xt[i] = malloc(8 * (size_t)(n + 1));
    for (int64_t j = 0; j < n; j++) {
      int v = rndi(7) - 3;
      xd[i][j] = dtype == LADLE_INT64 ? v : rndf();
      if (dtype == LADLE_FLOAT) ((float *)xt[i])[j] = (float)xd[i][j];
      else if (dtype == LADLE_DOUBLE) ((double *)xt[i])[j] = xd[i][j];
      else ((int64_t *)xt[i])[j] = v;
    }
    t[i] = (ladle_tensor){dtype, e->ndim[i], {0}, xt[i]};
    memcpy(t[i].dims, e->dims[i], sizeof(int64_t) * (size_t)e->ndim[i]);
  }
  double *y = malloc(sizeof(double) * 4096);
  int64_t ny = 0;
  einsum_ref(e, xd, y, &ny);
  ladle_status st = ladle_session_run(s, e->n_in, in_names, t);
  CHECK(st == LADLE_OK);
  if (st) {
    fprintf(stderr, "  einsum '%s': %s\n", e->eq, ladle_session_errmsg(s));
  } else {
    const ladle_tensor *o = ladle_session_output(s, 0);
    bool ok = o->dtype == dtype && ladle_tensor_numel(o) == ny;
    for (int64_t i = 0; ok && i < ny; i++) {
      double g = dtype == LADLE_FLOAT ? ((float *)o->data)[i]
                 : dtype == LADLE_DOUBLE ? ((double *)o->data)[i]
                                         : (double)((int64_t *)o->data)[i];
      ok = fabs(g - y[i]) <= (dtype == LADLE_FLOAT ? 1e-4 : 1e-9) * (1 + fabs(y[i]));
    }
    CHECK(ok);
    if (!ok) fprintf(stderr, "  einsum '%s' (%s) differs from the reference\n", e->eq,
                     ladle_dtype_name(dtype));
  }
  for (int i = 0; i < e->n_in; i++) {
    free(xd[i]);
    free(xt[i]);
  }
  free(y);
  ladle_session_free(s);
  ladle_model_free(m);
}

static void test_einsum(void) {
  for (size_t i = 0; i < sizeof ecases / sizeof ecases[0]; i++) {
    einsum_case(&ecases[i], LADLE_FLOAT);
    einsum_case(&ecases[i], LADLE_DOUBLE);
    einsum_case(&ecases[i], LADLE_INT64);
  }
}

static void test_einsum_refusals(void) {
  static const char *bad[] = {"ij,jk->il", "ij->ii", "i.j->i", "ij,jk,kl->il", "ij->i->j",
                              "i$->i", "ij,jk->ik,", "....->", "ijk->i"};
  const char *in_names[2] = {"a", "b"}, *out_names[1] = {"y"};
  int dtypes[2] = {LADLE_FLOAT, LADLE_FLOAT};
  float a[6] = {0}, b[6] = {0};
  ladle_tensor t[2] = {{LADLE_FLOAT, 2, {2, 3}, a}, {LADLE_FLOAT, 2, {3, 2}, b}};
  char err[512];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    attr_spec eq[] = {{"equation", A_STR, .s = bad[i]}};
    ladle_model *m = build("Einsum", 12, 2, in_names, dtypes, 1, out_names, 1, eq, err, sizeof err);
    if (!m) {
      CHECK(true);
      continue;
    }
    ladle_session *s = ladle_session_new(m, 1);
    ladle_status st = ladle_session_run(s, 2, in_names, t);
    CHECK(st != LADLE_OK);
    if (st == LADLE_OK) fprintf(stderr, "  einsum '%s' was accepted\n", bad[i]);
    ladle_session_free(s);
    ladle_model_free(m);
  }
  /* sizes that disagree */
  attr_spec eq[] = {{"equation", A_STR, .s = "ij,ij->ij"}};
  ladle_model *m = build("Einsum", 12, 2, in_names, dtypes, 1, out_names, 1, eq, err, sizeof err);
  CHECK(m != NULL);
  if (m) {
    ladle_session *s = ladle_session_new(m, 1);
    CHECK(ladle_session_run(s, 2, in_names, t) != LADLE_OK);
    ladle_session_free(s);
    ladle_model_free(m);
  }
}

int main(void) {
  test_rnn_random();
  test_rnn_refusals();
  test_einsum();
  test_einsum_refusals();
  return check_done("test_rnn");
}

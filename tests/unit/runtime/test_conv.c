/* test_conv.c — what the ONNX conformance data does not cover for the conv and pool families
 * (conv.c, conv_plan.c, convtranspose.c, pool.c and the GEMM engine under them):
 *   - Conv's fast paths (implicit GEMM over the padded / stride-phase-split input, the zero-copy
 *     1x1 path, depthwise, K blocking, gap columns, threads) against a plain reference, on random
 *     shapes: odd sizes, groups, dilations, asymmetric pads, strides, auto_pad, 1-D/2-D/3-D;
 *   - weights packed at init (initializers) and per run (graph inputs);
 *   - the activations the optimiser fuses into Conv (Relu, Clip, LeakyRelu);
 *   - ConvTranspose on random shapes, and MaxPool / AveragePool (2-D fast path and N-d loop,
 *     Indices) against references;
 *   - invalid attributes refused with a status.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "nn_build.h"

/* --- geometry (ONNX's rules, written out independently of conv.c) --------------------------- */

typedef struct geom {
  int nsp;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} geom;

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };
static const char *pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

static bool geom_out(geom *g, int autopad) {
  for (int d = 0; d < g->nsp; d++) {
    int64_t keff = (g->k[d] - 1) * g->d[d] + 1;
    if (autopad == PAD_SAME_UPPER || autopad == PAD_SAME_LOWER) {
      g->out[d] = (g->in[d] + g->s[d] - 1) / g->s[d];
      int64_t total = (g->out[d] - 1) * g->s[d] + keff - g->in[d];
      if (total < 0) total = 0;
      g->pb[d] = autopad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
      g->pe[d] = total - g->pb[d];
    } else {
      if (autopad == PAD_VALID) g->pb[d] = g->pe[d] = 0;
      int64_t span = g->in[d] + g->pb[d] + g->pe[d] - keff;
      if (span < 0) return false;
      g->out[d] = span / g->s[d] + 1;
    }
  }
  return true;
}

/* --- Conv ----------------------------------------------------------------------------------- */

typedef struct conv_case {
  int64_t N, C, M, G;
  geom g;
  int autopad;
  bool bias, w_init;
  const act_case *act;
} conv_case;

static void conv_ref(const conv_case *c, const float *x, const float *w, const float *b,
                     double *y, double *mag) {
  const geom *g = &c->g;
  int64_t Cg = c->C / c->G, Mg = c->M / c->G;
  int64_t in_pl = 1, out_pl = 1, taps = 1;
  for (int d = 0; d < g->nsp; d++) in_pl *= g->in[d], out_pl *= g->out[d], taps *= g->k[d];
  for (int64_t n = 0; n < c->N; n++)
    for (int64_t m = 0; m < c->M; m++)
      for (int64_t o = 0; o < out_pl; o++) {
        int64_t oc[3], rem = o;
        for (int d = g->nsp - 1; d >= 0; d--) oc[d] = rem % g->out[d], rem /= g->out[d];
        double acc = b ? b[m] : 0, am = b ? fabs(b[m]) : 0;
        for (int64_t ci = 0; ci < Cg; ci++)
          for (int64_t t = 0; t < taps; t++) {
            int64_t tc[3], tr = t, lin = 0;
            bool inside = true;
            for (int d = g->nsp - 1; d >= 0; d--) tc[d] = tr % g->k[d], tr /= g->k[d];
            for (int d = 0; d < g->nsp; d++) {
              int64_t p = oc[d] * g->s[d] - g->pb[d] + tc[d] * g->d[d];
              if (p < 0 || p >= g->in[d]) inside = false;
              lin = lin * g->in[d] + p;
            }
            if (!inside) continue;
            double v = (double)x[(n * c->C + m / Mg * Cg + ci) * in_pl + lin] * w[(m * Cg + ci) * taps + t];
            acc += v;
            am += fabs(v);
          }
        y[(n * c->M + m) * out_pl + o] = act_ref(c->act, acc);
        mag[(n * c->M + m) * out_pl + o] = am;
      }
}

/* Builds, runs with 1 and 2 threads and checks one conv case. Returns false on a mismatch. */
static bool conv_check(const conv_case *c, const char *label) {
  const geom *g = &c->g;
  int nd = g->nsp + 2;
  tin ins[3];
  memset(ins, 0, sizeof ins);
  ins[0] = (tin){"x", LADLE_FLOAT, nd, {c->N, c->C}, NULL, false};
  ins[1] = (tin){"w", LADLE_FLOAT, nd, {c->M, c->C / c->G}, NULL, c->w_init};
  ins[2] = (tin){c->bias ? "b" : "", LADLE_FLOAT, 1, {c->M}, NULL, c->w_init};
  int64_t xn = c->N * c->C, wn = c->M * (c->C / c->G), yn = c->N * c->M;
  for (int d = 0; d < g->nsp; d++) {
    ins[0].dims[d + 2] = g->in[d];
    ins[1].dims[d + 2] = g->k[d];
    xn *= g->in[d];
    wn *= g->k[d];
    yn *= g->out[d];
  }
  float *data[3] = {rand_buf(xn), rand_buf(wn), rand_buf(c->M)};
  ins[1].data = data[1];
  ins[2].data = data[2];
  int64_t ks[3], st[3], dl[3], pads[6];
  for (int d = 0; d < g->nsp; d++) {
    ks[d] = g->k[d];
    st[d] = g->s[d];
    dl[d] = g->d[d];
    pads[d] = g->pb[d];
    pads[d + g->nsp] = g->pe[d];
  }
  attr_spec at[6] = {
      {"kernel_shape", A_INTS, .ints = ks, .n = g->nsp},
      {"strides", A_INTS, .ints = st, .n = g->nsp},
      {"dilations", A_INTS, .ints = dl, .n = g->nsp},
      {"group", A_INT, .i = c->G},
      {"auto_pad", A_STR, .s = pad_names[c->autopad]},
      {"pads", A_INTS, .ints = pads, .n = 2 * g->nsp},
  };
  int n_attr = c->autopad == PAD_NOTSET ? 6 : 5;
  double *want = malloc(sizeof(double) * (size_t)yn), *mag = malloc(sizeof(double) * (size_t)yn);
  conv_ref(c, data[0], data[1], c->bias ? data[2] : NULL, want, mag);
  ladle_model *m = build("Conv", 3, ins, n_attr, at, c->act->op, c->act->a, c->act->b, 1);
  bool ok = m != NULL;
  for (int threads = 1; ok && threads <= 2; threads++) {
    ladle_session *s = NULL;
    ok = run(m, threads, 3, ins, data, &s) == LADLE_OK;
    const ladle_tensor *y = ok ? ladle_session_output(s, 0) : NULL;
    ok = ok && ladle_tensor_numel(y) == yn;
    for (int64_t i = 0; ok && i < yn; i++) {
      double got = ((const float *)y->data)[i];
      if (!close_to(got, want[i], mag[i])) {
        fprintf(stderr, "%s: element %lld: got %.7g, want %.7g (threads %d)\n", label,
                (long long)i, got, want[i], threads);
        ok = false;
      }
    }
    ladle_session_free(s);
  }
  if (!ok)
    fprintf(stderr,
            "  case: N=%lld C=%lld M=%lld G=%lld nsp=%d in=[%lld,%lld,%lld] k=[%lld,%lld,%lld] "
            "s=[%lld,%lld,%lld] d=[%lld,%lld,%lld] pads=[%lld,%lld,%lld|%lld,%lld,%lld] auto_pad=%s "
            "bias=%d w_init=%d act=%s\n",
            (long long)c->N, (long long)c->C, (long long)c->M, (long long)c->G, g->nsp,
            (long long)g->in[0], (long long)g->in[1], (long long)g->in[2], (long long)g->k[0],
            (long long)g->k[1], (long long)g->k[2], (long long)g->s[0], (long long)g->s[1],
            (long long)g->s[2], (long long)g->d[0], (long long)g->d[1], (long long)g->d[2],
            (long long)g->pb[0], (long long)g->pb[1], (long long)g->pb[2], (long long)g->pe[0],
            (long long)g->pe[1], (long long)g->pe[2], pad_names[c->autopad], c->bias, c->w_init,
            c->act->op ? c->act->op : "none");
  ladle_model_free(m);
  free(want);
  free(mag);
  for (int i = 0; i < 3; i++) free(data[i]);
  return ok;
}

/* A random case; kind picks the family: 0 general, 1 depthwise, 2 1x1, 3 big (threads, K
 * blocking). */
static bool random_conv(conv_case *c, int kind) {
  memset(c, 0, sizeof *c);
  geom *g = &c->g;
  g->nsp = kind == 0 ? (int)rint_in(1, 3) : 2;
  c->N = rint_in(1, 2);
  c->G = 1;
  if (kind == 0) {
    c->G = rint_in(1, 3);
    c->C = c->G * rint_in(1, 5);
    c->M = c->G * rint_in(1, 11);
  } else if (kind == 1) {
    c->C = rint_in(1, 24);
    c->G = c->C;
    c->M = c->C * rint_in(1, 2);
  } else if (kind == 2) {
    c->C = rint_in(1, 70);
    c->M = rint_in(1, 40);
  } else {
    c->C = rint_in(40, 300);
    c->M = rint_in(9, 70);
  }
  for (int d = 0; d < g->nsp; d++) {
    int64_t big = g->nsp == 3 ? 7 : (g->nsp == 1 ? 40 : 19);
    g->in[d] = kind == 3 ? rint_in(6, 18) : rint_in(1, big);
    g->k[d] = kind == 2 ? 1 : rint_in(1, 4);
    g->s[d] = rint_in(1, 3);
    g->d[d] = kind == 2 ? 1 : rint_in(1, 2);
    int64_t keff = (g->k[d] - 1) * g->d[d] + 1;
    g->pb[d] = rint_in(0, keff - 1 < 3 ? keff - 1 : 3);
    g->pe[d] = rint_in(0, keff - 1 < 3 ? keff - 1 : 3);
    if (kind == 2 && rnd() % 2) g->s[d] = 1, g->pb[d] = g->pe[d] = 0; /* the zero-copy path */
  }
  c->autopad = rnd() % 4 == 0 ? (int)rint_in(1, 3) : PAD_NOTSET;
  c->bias = rnd() % 3 != 0;
  c->w_init = rnd() % 2 == 0;
  c->act = &acts[rnd() % 4];
  return geom_out(g, c->autopad);
}

static void test_conv_random(void) {
  static const char *labels[] = {"conv general", "conv depthwise", "conv 1x1", "conv big"};
  static const int trials[] = {120, 40, 40, 12};
  for (int kind = 0; kind < 4; kind++) {
    int ran = 0, bad = 0;
    for (int t = 0; ran < trials[kind]; t++) {
      conv_case c;
      if (!random_conv(&c, kind)) continue;
      ran++;
      if (!conv_check(&c, labels[kind])) bad++;
    }
    printf("  %-16s %d cases, %d mismatched\n", labels[kind], ran, bad);
    CHECK(bad == 0);
  }
}

/* resnet-like layers: every fast path at realistic sizes */
static void test_conv_layers(void) {
  static const int64_t L[][7] = {
      /* C, H, M, k, s, p, G */
      {3, 32, 16, 7, 2, 3, 1},   {16, 20, 16, 3, 1, 1, 1},  {16, 20, 32, 3, 2, 1, 1},
      {32, 9, 64, 3, 1, 1, 1},   {64, 7, 40, 1, 1, 0, 1},   {64, 8, 32, 1, 2, 0, 1},
      {32, 15, 32, 3, 1, 1, 32}, {32, 15, 32, 3, 2, 1, 32}, {24, 11, 24, 5, 1, 2, 24},
      {300, 5, 20, 3, 1, 1, 1},  {48, 10, 48, 3, 1, 1, 4},
      /* deep layers: the pixel-major form (weights packed at init when w_init) */
      {128, 7, 128, 3, 1, 1, 1}, {128, 7, 128, 3, 1, 1, 1}, {64, 9, 144, 3, 2, 1, 1},
      {130, 6, 160, 3, 1, 1, 1}, {64, 11, 256, 3, 1, 1, 1}, {520, 3, 128, 1, 1, 0, 1},
      /* patchify (kernel = stride, as ViT's stem) and other large strides */
      {3, 32, 24, 8, 8, 0, 1},   {3, 48, 192, 16, 16, 0, 1}, {4, 23, 16, 5, 5, 1, 1},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
    conv_case c;
    memset(&c, 0, sizeof c);
    c.N = 2;
    c.C = L[i][0];
    c.M = L[i][2];
    c.G = L[i][6];
    c.g.nsp = 2;
    for (int d = 0; d < 2; d++) {
      c.g.in[d] = L[i][1];
      c.g.k[d] = L[i][3];
      c.g.s[d] = L[i][4];
      c.g.d[d] = 1;
      c.g.pb[d] = c.g.pe[d] = L[i][5];
    }
    c.bias = true;
    c.w_init = i % 2 == 0;
    c.act = &acts[1 + i % 3];
    geom_out(&c.g, PAD_NOTSET);
    if (!conv_check(&c, "conv layer")) bad++;
  }
  printf("  %-16s %zu cases, %d mismatched\n", "conv layers", sizeof L / sizeof L[0], bad);
  CHECK(bad == 0);
}

static void test_conv_errors(void) {
  float x[2 * 3 * 4 * 4] = {0}, w[4 * 3 * 3 * 3] = {0};
  tin ins[2] = {{"x", LADLE_FLOAT, 4, {2, 3, 4, 4}, NULL, false},
                {"w", LADLE_FLOAT, 4, {4, 3, 3, 3}, NULL, false}};
  float *data[2] = {x, w};
  int64_t bad_k[2] = {5, 5}, st0[2] = {0, 1};
  attr_spec a_group = {"group", A_INT, .i = 2};
  attr_spec a_k = {"kernel_shape", A_INTS, .ints = bad_k, .n = 2};
  attr_spec a_s = {"strides", A_INTS, .ints = st0, .n = 2};
  attr_spec a_pad = {"auto_pad", A_STR, .s = "SIDEWAYS"};
  const attr_spec *cases[] = {&a_group, &a_k, &a_s, &a_pad};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ladle_model *m = build("Conv", 2, ins, 1, cases[i], NULL, 0, 0, 1);
    ladle_session *s = NULL;
    CHECK(m != NULL);
    if (!m) continue;
    ladle_status st = run(m, 1, 2, ins, data, &s);
    CHECK(st != LADLE_OK);
    ladle_session_free(s);
    ladle_model_free(m);
  }
  /* a kernel larger than the input */
  tin big[2] = {{"x", LADLE_FLOAT, 4, {1, 3, 2, 2}, NULL, false},
                {"w", LADLE_FLOAT, 4, {4, 3, 3, 3}, NULL, false}};
  ladle_model *m = build("Conv", 2, big, 0, NULL, NULL, 0, 0, 1);
  ladle_session *s = NULL;
  CHECK(m && run(m, 1, 2, big, data, &s) != LADLE_OK);
  ladle_session_free(s);
  ladle_model_free(m);
}

/* --- ConvTranspose -------------------------------------------------------------------------- */

static void test_convtranspose_random(void) {
  int bad = 0, ran = 0;
  for (int t = 0; t < 60; t++) {
    int nsp = (int)rint_in(1, 3);
    int64_t N = rint_in(1, 2), G = rint_in(1, 2), C = G * rint_in(1, 4), Mg = rint_in(1, 4);
    int64_t M = Mg * G;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3], out[3];
    int64_t xn = N * C, wn = C * Mg, yn = N * M, in_pl = 1, out_pl = 1, taps = 1;
    bool ok = true;
    for (int i = 0; i < nsp; i++) {
      in[i] = rint_in(1, nsp == 3 ? 5 : 9);
      k[i] = rint_in(1, 4);
      s[i] = rint_in(1, 3);
      d[i] = rint_in(1, 2);
      op[i] = rint_in(0, s[i] - 1);
      pb[i] = rint_in(0, 2);
      pe[i] = rint_in(0, 2);
      out[i] = s[i] * (in[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - pb[i] - pe[i];
      if (out[i] < 1) ok = false;
      xn *= in[i];
      wn *= k[i];
      yn *= out[i];
      in_pl *= in[i];
      out_pl *= out[i];
      taps *= k[i];
    }
    if (!ok) continue;
    ran++;
    tin ins[3] = {{"x", LADLE_FLOAT, nsp + 2, {N, C}, NULL, false},
                  {"w", LADLE_FLOAT, nsp + 2, {C, Mg}, NULL, rnd() % 2 == 0},
                  {"b", LADLE_FLOAT, 1, {M}, NULL, false}};
    for (int i = 0; i < nsp; i++) ins[0].dims[i + 2] = in[i], ins[1].dims[i + 2] = k[i];
    float *data[3] = {rand_buf(xn), rand_buf(wn), rand_buf(M)};
    ins[1].data = data[1];
    int64_t pads[6];
    for (int i = 0; i < nsp; i++) pads[i] = pb[i], pads[i + nsp] = pe[i];
    attr_spec at[5] = {
        {"strides", A_INTS, .ints = s, .n = nsp},
        {"dilations", A_INTS, .ints = d, .n = nsp},
        {"group", A_INT, .i = G},
        {"output_padding", A_INTS, .ints = op, .n = nsp},
        {"pads", A_INTS, .ints = pads, .n = 2 * nsp},
    };
    double *want = calloc((size_t)yn, sizeof(double)), *mag = calloc((size_t)yn, sizeof(double));
    for (int64_t n = 0; n < N; n++)
      for (int64_t ci = 0; ci < C; ci++)
        for (int64_t i = 0; i < in_pl; i++)
          for (int64_t mo = 0; mo < Mg; mo++)
            for (int64_t tp = 0; tp < taps; tp++) {
              int64_t ic[3], tc[3], r = i, q = tp, lin = 0;
              bool inside = true;
              for (int a = nsp - 1; a >= 0; a--) ic[a] = r % in[a], r /= in[a], tc[a] = q % k[a], q /= k[a];
              for (int a = 0; a < nsp; a++) {
                int64_t o = ic[a] * s[a] - pb[a] + tc[a] * d[a];
                if (o < 0 || o >= out[a]) inside = false;
                lin = lin * out[a] + o;
              }
              if (!inside) continue;
              int64_t m = ci / (C / G) * Mg + mo;
              double v = (double)data[0][(n * C + ci) * in_pl + i] * data[1][(ci * Mg + mo) * taps + tp];
              want[(n * M + m) * out_pl + lin] += v;
              mag[(n * M + m) * out_pl + lin] += fabs(v);
            }
    for (int64_t i = 0; i < yn; i++) want[i] += data[2][i / out_pl % M], mag[i] += fabs(data[2][i / out_pl % M]);
    ladle_model *m = build("ConvTranspose", 3, ins, 5, at, NULL, 0, 0, 1);
    ok = m != NULL;
    for (int threads = 1; ok && threads <= 2; threads++) {
      ladle_session *ss = NULL;
      ok = run(m, threads, 3, ins, data, &ss) == LADLE_OK;
      const ladle_tensor *y = ok ? ladle_session_output(ss, 0) : NULL;
      ok = ok && ladle_tensor_numel(y) == yn;
      for (int64_t i = 0; ok && i < yn; i++)
        if (!close_to(((const float *)y->data)[i], want[i], mag[i])) {
          fprintf(stderr, "convtranspose: element %lld: got %.7g want %.7g\n", (long long)i,
                  ((const float *)y->data)[i], want[i]);
          ok = false;
        }
      ladle_session_free(ss);
    }
    /* the same case in float64: the direct loop other dtypes take, accumulating in double */
    if (ok) {
      int64_t cnt[3] = {xn, wn, M};
      double *dd[3];
      ladle_tensor din[3];
      for (int i = 0; i < 3; i++) {
        dd[i] = malloc(sizeof(double) * (size_t)cnt[i]);
        for (int64_t e = 0; e < cnt[i]; e++) dd[i][e] = data[i][e];
        din[i] = tensor(LADLE_DOUBLE, ins[i].nd, ins[i].dims, dd[i]);
      }
      ladle_model *dm = NULL;
      ladle_session *ds = NULL;
      ok = run_op(&dm, &ds, "ConvTranspose", 11, 3, din, 1, 5, at, 1) == LADLE_OK;
      const ladle_tensor *y = ok ? ladle_session_output(ds, 0) : NULL;
      ok = ok && y->dtype == LADLE_DOUBLE && ladle_tensor_numel(y) == yn;
      for (int64_t i = 0; ok && i < yn; i++)
        if (fabs(((const double *)y->data)[i] - want[i]) > 1e-12 * mag[i] + 1e-12) {
          fprintf(stderr, "convtranspose f64: element %lld: got %.15g want %.15g\n", (long long)i,
                  ((const double *)y->data)[i], want[i]);
          ok = false;
        }
      done(dm, ds);
      for (int i = 0; i < 3; i++) free(dd[i]);
    }
    if (!ok) bad++;
    ladle_model_free(m);
    free(want);
    free(mag);
    for (int i = 0; i < 3; i++) free(data[i]);
  }
  printf("  %-16s %d cases (float32 and float64), %d mismatched\n", "convtranspose", ran, bad);
  CHECK(bad == 0);
}

/* --- pools ---------------------------------------------------------------------------------- */

static void test_pool_random(void) {
  int bad = 0, ran = 0;
  for (int t = 0; t < 150; t++) {
    bool is_max = rnd() % 2;
    int nsp = rnd() % 3 ? 2 : (int)rint_in(1, 3);
    bool ceil_mode = rnd() % 3 == 0, incl = rnd() % 2, want_ind = is_max && rnd() % 3 == 0;
    bool col_major = rnd() % 2;
    geom g;
    memset(&g, 0, sizeof g);
    g.nsp = nsp;
    int64_t N = rint_in(1, 2), C = rint_in(1, 5);
    for (int d = 0; d < nsp; d++) {
      g.in[d] = rint_in(1, nsp == 3 ? 7 : 20);
      g.k[d] = rint_in(1, 4);
      g.s[d] = rint_in(1, 3);
      g.d[d] = rint_in(1, 2);
      int64_t keff = (g.k[d] - 1) * g.d[d] + 1;
      g.pb[d] = rint_in(0, keff - 1);
      g.pe[d] = rint_in(0, keff - 1);
    }
    int autopad = rnd() % 5 == 0 ? (int)rint_in(1, 3) : PAD_NOTSET;
    if (!geom_out(&g, autopad)) continue;
    if (ceil_mode && autopad == PAD_NOTSET)
      for (int d = 0; d < nsp; d++) {
        int64_t keff = (g.k[d] - 1) * g.d[d] + 1, span = g.in[d] + g.pb[d] + g.pe[d] - keff;
        g.out[d] = (span + g.s[d] - 1) / g.s[d] + 1;
        if ((g.out[d] - 1) * g.s[d] >= g.in[d] + g.pb[d]) g.out[d]--;
      }
    bool skip = false; /* windows that see only padding are outside what ONNX defines */
    for (int d = 0; d < nsp; d++) {
      int64_t keff = (g.k[d] - 1) * g.d[d] + 1;
      if (g.pb[d] >= keff || g.pe[d] >= keff) skip = true;
      for (int64_t o = 0; o < g.out[d] && !skip; o++) {
        bool any = false;
        for (int64_t k = 0; k < g.k[d]; k++) {
          int64_t p = o * g.s[d] - g.pb[d] + k * g.d[d];
          any |= p >= 0 && p < g.in[d];
        }
        if (!any) skip = true;
      }
    }
    if (skip) continue;
    ran++;
    int64_t in_pl = 1, out_pl = 1, taps = 1;
    for (int d = 0; d < nsp; d++) in_pl *= g.in[d], out_pl *= g.out[d], taps *= g.k[d];
    tin ins[1] = {{"x", LADLE_FLOAT, nsp + 2, {N, C}, NULL, false}};
    for (int d = 0; d < nsp; d++) ins[0].dims[d + 2] = g.in[d];
    float *x = rand_buf(N * C * in_pl);
    float *data[1] = {x};
    int64_t ks[3], st[3], dl[3], pads[6];
    for (int d = 0; d < nsp; d++) ks[d] = g.k[d], st[d] = g.s[d], dl[d] = g.d[d], pads[d] = g.pb[d], pads[d + nsp] = g.pe[d];
    attr_spec at[8] = {
        {"kernel_shape", A_INTS, .ints = ks, .n = nsp},
        {"strides", A_INTS, .ints = st, .n = nsp},
        {"dilations", A_INTS, .ints = dl, .n = nsp},
        {"ceil_mode", A_INT, .i = ceil_mode},
        {is_max ? "storage_order" : "count_include_pad", A_INT, .i = is_max ? col_major : incl},
        {"auto_pad", A_STR, .s = pad_names[autopad]},
        {"pads", A_INTS, .ints = pads, .n = 2 * nsp},
    };
    int n_attr = autopad == PAD_NOTSET ? 7 : 6;
    int64_t yn = N * C * out_pl;
    double *want = malloc(sizeof(double) * (size_t)yn);
    int64_t *ind_ref = malloc(sizeof(int64_t) * (size_t)yn);
    for (int64_t p = 0; p < N * C; p++)
      for (int64_t o = 0; o < out_pl; o++) {
        int64_t oc[3], r = o;
        for (int d = nsp - 1; d >= 0; d--) oc[d] = r % g.out[d], r /= g.out[d];
        double acc = is_max ? -INFINITY : 0;
        int64_t cnt = 0, padded = 0, best = 0;
        for (int64_t tp = 0; tp < taps; tp++) {
          int64_t tc[3], q = tp, pos[3];
          bool inside = true, in_pad = true;
          for (int d = nsp - 1; d >= 0; d--) tc[d] = q % g.k[d], q /= g.k[d];
          for (int d = 0; d < nsp; d++) {
            pos[d] = oc[d] * g.s[d] - g.pb[d] + tc[d] * g.d[d];
            inside &= pos[d] >= 0 && pos[d] < g.in[d];
            in_pad &= pos[d] >= -g.pb[d] && pos[d] < g.in[d] + g.pe[d];
          }
          padded += in_pad;
          if (!inside) continue;
          int64_t lin = 0, cm = 0;
          for (int d = 0; d < nsp; d++) lin = lin * g.in[d] + pos[d];
          for (int d = nsp - 1; d >= 0; d--) cm = cm * g.in[d] + pos[d];
          double v = x[p * in_pl + lin];
          cnt++;
          if (is_max) {
            if (v > acc) acc = v, best = p * in_pl + (col_major ? cm : lin);
          } else {
            acc += v;
          }
        }
        want[p * out_pl + o] = is_max ? acc : acc / (double)(incl ? padded : cnt);
        ind_ref[p * out_pl + o] = best;
      }
    ladle_model *m = build(is_max ? "MaxPool" : "AveragePool", 1, ins, n_attr, at, NULL, 0, 0,
                           want_ind ? 2 : 1);
    bool ok = m != NULL;
    for (int threads = 1; ok && threads <= 2; threads++) {
      ladle_session *ss = NULL;
      ok = run(m, threads, 1, ins, data, &ss) == LADLE_OK;
      const ladle_tensor *y = ok ? ladle_session_output(ss, 0) : NULL;
      ok = ok && ladle_tensor_numel(y) == yn;
      for (int64_t i = 0; ok && i < yn; i++)
        if (!close_to(((const float *)y->data)[i], want[i], 4)) {
          fprintf(stderr, "%s: element %lld: got %.7g want %.7g\n", is_max ? "maxpool" : "avgpool",
                  (long long)i, ((const float *)y->data)[i], want[i]);
          ok = false;
        }
      if (ok && want_ind) {
        const ladle_tensor *ind = ladle_session_output(ss, 1);
        for (int64_t i = 0; ok && i < yn; i++)
          if (((const int64_t *)ind->data)[i] != ind_ref[i]) {
            fprintf(stderr, "maxpool indices: element %lld: got %lld want %lld\n", (long long)i,
                    (long long)((const int64_t *)ind->data)[i], (long long)ind_ref[i]);
            ok = false;
          }
      }
      ladle_session_free(ss);
    }
    if (!ok) {
      bad++;
      fprintf(stderr, "  pool case: %s nsp=%d N=%lld C=%lld in=[%lld,%lld,%lld] k=[%lld,%lld,%lld] "
              "s=[%lld,%lld,%lld] d=[%lld,%lld,%lld] pads=[%lld,%lld,%lld|%lld,%lld,%lld] out=[%lld,%lld,%lld] "
              "ceil=%d auto_pad=%s incl=%d indices=%d\n", is_max ? "max" : "avg", nsp, (long long)N,
              (long long)C, (long long)g.in[0], (long long)g.in[1], (long long)g.in[2],
              (long long)g.k[0], (long long)g.k[1], (long long)g.k[2], (long long)g.s[0],
              (long long)g.s[1], (long long)g.s[2], (long long)g.d[0], (long long)g.d[1],
              (long long)g.d[2], (long long)g.pb[0], (long long)g.pb[1], (long long)g.pb[2],
              (long long)g.pe[0], (long long)g.pe[1], (long long)g.pe[2], (long long)g.out[0],
              (long long)g.out[1], (long long)g.out[2], ceil_mode, pad_names[autopad], incl, want_ind);
    }
    ladle_model_free(m);
    free(want);
    free(ind_ref);
    free(x);
  }
  printf("  %-16s %d cases, %d mismatched\n", "pools", ran, bad);
  CHECK(bad == 0);
}

/* LpPool (no conformance data in ONNX 1.12) and GlobalLpPool against a direct formula. */
static void test_lppool(void) {
  int bad = 0;
  for (int t = 0; t < 20; t++) {
    bool global = t % 4 == 3;
    int64_t p_ord = rint_in(1, 3), N = rint_in(1, 2), C = rint_in(1, 3), H = rint_in(2, 9), W = rint_in(2, 9);
    int64_t k[2] = {rint_in(1, H < 3 ? H : 3), rint_in(1, W < 3 ? W : 3)}, st[2] = {rint_in(1, 2), rint_in(1, 2)};
    int64_t pads[4] = {rint_in(0, k[0] - 1), rint_in(0, k[1] - 1), rint_in(0, k[0] - 1), rint_in(0, k[1] - 1)};
    if (global) k[0] = H, k[1] = W, st[0] = st[1] = 1, pads[0] = pads[1] = pads[2] = pads[3] = 0;
    int64_t OH = (H + pads[0] + pads[2] - k[0]) / st[0] + 1, OW = (W + pads[1] + pads[3] - k[1]) / st[1] + 1;
    tin ins[1] = {{"x", LADLE_FLOAT, 4, {N, C, H, W}, NULL, false}};
    float *x = rand_buf(N * C * H * W);
    float *data[1] = {x};
    attr_spec at[4] = {
        {"p", A_INT, .i = p_ord},
        {"kernel_shape", A_INTS, .ints = k, .n = 2},
        {"strides", A_INTS, .ints = st, .n = 2},
        {"pads", A_INTS, .ints = pads, .n = 4},
    };
    ladle_model *m = build(global ? "GlobalLpPool" : "LpPool", 1, ins, global ? 1 : 4, at, NULL, 0, 0, 1);
    ladle_session *ss = NULL;
    bool ok = m && run(m, 1, 1, ins, data, &ss) == LADLE_OK;
    const ladle_tensor *y = ok ? ladle_session_output(ss, 0) : NULL;
    ok = ok && ladle_tensor_numel(y) == N * C * OH * OW;
    for (int64_t pl = 0; ok && pl < N * C; pl++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          double acc = 0;
          for (int64_t a = 0; a < k[0]; a++)
            for (int64_t b = 0; b < k[1]; b++) {
              int64_t ih = oh * st[0] - pads[0] + a, iw = ow * st[1] - pads[1] + b;
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += pow(fabs(x[(pl * H + ih) * W + iw]), (double)p_ord);
            }
          double want = pow(acc, 1.0 / (double)p_ord), got = ((const float *)y->data)[(pl * OH + oh) * OW + ow];
          if (fabs(got - want) > 1e-5 * (1 + fabs(want))) {
            fprintf(stderr, "lppool: got %.7g want %.7g (p=%lld)\n", got, want, (long long)p_ord);
            ok = false;
          }
        }
    if (!ok) bad++;
    ladle_session_free(ss);
    ladle_model_free(m);
    free(x);
  }
  printf("  %-16s %d cases, %d mismatched\n", "lppool", 20, bad);
  CHECK(bad == 0);
}

int main(void) {
  test_conv_random();
  test_conv_layers();
  test_conv_errors();
  test_convtranspose_random();
  test_pool_random();
  test_lppool();
  return check_done("test_conv");
}

/* test_reduce.c — the reduce, softmax and norm kernels against plain double references, on
 * layouts the ONNX node tests do not reach: every float fast path (contiguous rows, column
 * sweeps) and the generic walk, tensors big enough to be split over threads (1 and 2 threads
 * must agree bit for bit), ties in TopK/ArgMax, integer and empty reductions, bad attributes.
 * Each case builds a one-node model with protobuf-c and runs it through the public API. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "onnx_build.h"
#include "runtime/ops/reduce_common.h"
#include "xorshift.h"

/* --- one-node models (onnx_build.h's node_model) ------------------------------------------- */

/* Runs m with `threads`; copies output k's data into out (numel elements of esz bytes) and its
 * shape into dims. Returns the status. */
static ladle_status run_model(ladle_model *m, int threads, int n_in, const ladle_tensor *in,
                              int k, void *out, size_t cap, ladle_tensor *shape) {
  ladle_session *s = ladle_session_new(m, threads);
  ladle_status st = ladle_session_run(s, n_in, node_in_names, in);
  if (st == LADLE_OK) {
    const ladle_tensor *y = ladle_session_output(s, k);
    size_t bytes = (size_t)ladle_tensor_numel(y) * ladle_dtype_size(y->dtype);
    if (shape) *shape = *y;
    if (out) memcpy(out, y->data, bytes < cap ? bytes : cap);
  } else if (getenv("TEST_VERBOSE")) {
    fprintf(stderr, "run: %s\n", ladle_session_errmsg(s));
  }
  ladle_session_free(s);
  return st;
}

/* --- helpers ------------------------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static double urand(void) { /* [-1, 1) */
  return (double)(xorshift64(&rng) >> 11) / (double)(1ull << 52) - 1.0;
}

static int64_t numel(int nd, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= d[i];
  return n;
}

static bool close_enough(double got, double want, double tol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= tol * (1 + fabs(want));
}

/* --- reductions ---------------------------------------------------------------------------- */

static const char *reduce_ops[10] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                     "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                                     "ReduceLogSumExp", "ReduceSumSquare"};

/* Double reference: ref[o] for every output element (output laid out over the kept dims). */
static void reduce_ref(int kind, int nd, const int64_t *dims, const bool *red, const float *x,
                       double *ref, double *aux, int64_t outn) {
  int64_t n = numel(nd, dims), idx[8] = {0};
  for (int64_t o = 0; o < outn; o++) {
    ref[o] = kind == 4 ? 1 : (kind == 2 ? -INFINITY : (kind == 3 ? INFINITY : 0));
    aux[o] = -INFINITY;
  }
  for (int pass = 0; pass < 2; pass++) {
    memset(idx, 0, sizeof idx);
    for (int64_t i = 0; i < n; i++) {
      int64_t o = 0;
      for (int d = 0; d < nd; d++)
        if (!red[d]) o = o * dims[d] + idx[d];
      double v = x[i];
      if (pass == 0) {
        switch (kind) {
          case 0: case 1: case 7: ref[o] += v; break;
          case 2: ref[o] = v > ref[o] ? v : ref[o]; break;
          case 3: ref[o] = v < ref[o] ? v : ref[o]; break;
          case 4: ref[o] *= v; break;
          case 5: ref[o] += fabs(v); break;
          case 6: case 9: ref[o] += v * v; break;
          case 8: aux[o] = v > aux[o] ? v : aux[o]; break;
        }
      } else if (kind == 8) {
        ref[o] += exp(v - aux[o]);
      }
      for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
  }
  int64_t count = 1;
  for (int d = 0; d < nd; d++)
    if (red[d]) count *= dims[d];
  for (int64_t o = 0; o < outn; o++) {
    if (kind == 1) ref[o] /= (double)count;
    if (kind == 6) ref[o] = sqrt(ref[o]);
    if (kind == 7) ref[o] = log(ref[o]);
    if (kind == 8) ref[o] = aux[o] + log(ref[o]);
  }
}

/* One reduction case: every kind over dims/axes, opset 13 (ReduceSum takes an axes input). */
static void reduce_case(int nd, const int64_t *dims, int na, const int64_t *axes, int keep) {
  int64_t n = numel(nd, dims), outn = 1;
  bool red[8] = {false};
  for (int i = 0; i < na; i++) red[axes[i] < 0 ? axes[i] + nd : axes[i]] = true;
  if (na == 0)
    for (int d = 0; d < nd; d++) red[d] = true;
  for (int d = 0; d < nd; d++)
    if (!red[d]) outn *= dims[d];
  float *x = malloc(sizeof(float) * (size_t)n), *y1 = malloc(sizeof(float) * (size_t)outn),
        *y2 = malloc(sizeof(float) * (size_t)outn);
  double *ref = malloc(sizeof(double) * (size_t)outn), *aux = malloc(sizeof(double) * (size_t)outn);
  for (int kind = 0; kind < 10; kind++) {
    /* Prod and LogSum want values near 1 and positive sums */
    for (int64_t i = 0; i < n; i++)
      x[i] = (float)(kind == 4 ? 1 + 0.01 * urand() : (kind == 7 ? 1.5 + urand() : 3 * urand()));
    reduce_ref(kind, nd, dims, red, x, ref, aux, outn);
    int types[2] = {LADLE_FLOAT, LADLE_INT64};
    attr_spec at[2] = {{"keepdims", A_INT, .i = keep}, {"axes", A_INTS, .ints = axes, .n = na}};
    bool input_axes = kind == 0;
    ladle_model *m = node_model(reduce_ops[kind], 13, input_axes && na ? 2 : 1, types, 1, types,
                                input_axes || na == 0 ? 1 : 2, at);
    CHECK(m != NULL);
    if (!m) continue;
    ladle_tensor in[2] = {{LADLE_FLOAT, nd, {0}, x}, {LADLE_INT64, 1, {na}, (void *)axes}};
    memcpy(in[0].dims, dims, sizeof(int64_t) * (size_t)nd);
    ladle_tensor sh;
    CHECK(run_model(m, 1, input_axes && na ? 2 : 1, in, 0, y1, sizeof(float) * (size_t)outn, &sh) == LADLE_OK);
    CHECK(run_model(m, 2, input_axes && na ? 2 : 1, in, 0, y2, sizeof(float) * (size_t)outn, NULL) == LADLE_OK);
    CHECK(numel(sh.ndim, sh.dims) == outn && sh.ndim == (keep ? nd : nd - (na ? na : nd)));
    CHECK(memcmp(y1, y2, sizeof(float) * (size_t)outn) == 0);
    int bad = 0;
    for (int64_t o = 0; o < outn; o++)
      if (!close_enough(y1[o], ref[o], 2e-6 * (kind == 0 || kind == 1 ? 10 : 1) + 1e-6)) {
        if (bad++ < 3)
          fprintf(stderr, "%s nd=%d o=%lld got %.9g want %.9g\n", reduce_ops[kind], nd,
                  (long long)o, y1[o], ref[o]);
      }
    CHECK(bad == 0);
    ladle_model_free(m);
  }
  free(x), free(y1), free(y2), free(ref), free(aux);
}

static void test_reductions(void) {
  /* rows: [K,R]; columns: [R,K], [K,R,K]; generic: [R,K,R]; full; big enough to split */
  int64_t d1[4] = {2, 3, 5, 7}, a_last[1] = {-1}, a_hw[2] = {2, 3}, a_first[1] = {0},
          a_mid[1] = {1}, a_outer[2] = {0, 2}, a_13[2] = {1, 3};
  reduce_case(4, d1, 1, a_last, 1);
  reduce_case(4, d1, 2, a_hw, 0);
  reduce_case(4, d1, 1, a_first, 1);
  reduce_case(4, d1, 1, a_mid, 0);
  reduce_case(4, d1, 2, a_outer, 1);
  reduce_case(4, d1, 2, a_13, 0);
  reduce_case(4, d1, 0, NULL, 1);
  int64_t big_rows[3] = {64, 12, 300}, big_cols[3] = {40, 700, 9}, big_se[4] = {2, 96, 28, 28};
  reduce_case(3, big_rows, 1, a_last, 1);   /* 230K elements in rows of 300 */
  reduce_case(3, big_cols, 1, a_mid, 1);    /* column sweep over 700 rows of 9 */
  reduce_case(4, big_se, 2, a_hw, 1);       /* squeeze-excitation mean over H,W */
  int64_t wide[2] = {3, 5000}, a1[1] = {1};
  reduce_case(2, wide, 1, a_first, 0);      /* [R,K] with K over several column blocks */
  reduce_case(2, wide, 1, a1, 0);           /* long rows: blocked float sums */
  int64_t one[1] = {100000};
  reduce_case(1, one, 0, NULL, 0);          /* a long full reduction */
}

/* Integer sums are exact, empty sets give identities, noop keeps the input, errors are clean. */
static void test_reduce_edges(void) {
  int t64[2] = {LADLE_INT64, LADLE_INT64}, tf[2] = {LADLE_FLOAT, LADLE_INT64};
  int64_t big[4] = {(1ll << 60) + 1, 3, -5, 2}, y[4];
  int64_t ax1[1] = {1};
  attr_spec keep0[1] = {{"keepdims", A_INT, .i = 0}};
  ladle_model *m = node_model("ReduceSum", 13, 2, t64, 1, t64, 1, keep0);
  ladle_tensor in[2] = {{LADLE_INT64, 2, {2, 2}, big}, {LADLE_INT64, 1, {1}, ax1}};
  CHECK(m && run_model(m, 1, 2, in, 0, y, sizeof y, NULL) == LADLE_OK);
  CHECK(y[0] == (1ll << 60) + 4 && y[1] == -3);
  ladle_model_free(m);

  attr_spec prod_at[2] = {{"keepdims", A_INT, .i = 0}, {"axes", A_INTS, .ints = ax1, .n = 1}};
  m = node_model("ReduceProd", 11, 1, t64, 1, t64, 2, prod_at);
  CHECK(m && run_model(m, 1, 1, in, 0, y, sizeof y, NULL) == LADLE_OK);
  CHECK(y[0] == 3 * ((1ll << 60) + 1) && y[1] == -10);
  ladle_model_free(m);

  /* ReduceMax / ReduceSum over an empty axis */
  float xf[1] = {0}, yf[4];
  ladle_tensor e = {LADLE_FLOAT, 2, {2, 0}, xf};
  m = node_model("ReduceMax", 13, 1, tf, 1, tf, 2, prod_at);
  ladle_tensor sh;
  CHECK(m && run_model(m, 1, 1, &e, 0, yf, sizeof yf, &sh) == LADLE_OK);
  CHECK(sh.ndim == 1 && sh.dims[0] == 2 && isinf(yf[0]) && yf[0] < 0);
  ladle_model_free(m);

  /* noop_with_empty_axes: empty axes leaves the data alone */
  float xs[6] = {1, 2, 3, 4, 5, 6};
  attr_spec noop[1] = {{"noop_with_empty_axes", A_INT, .i = 1}};
  m = node_model("ReduceSum", 13, 2, tf, 1, tf, 1, noop);
  ladle_tensor nin[2] = {{LADLE_FLOAT, 2, {2, 3}, xs}, {LADLE_INT64, 1, {0}, ax1}};
  CHECK(m && run_model(m, 1, 2, nin, 0, yf, sizeof yf, &sh) == LADLE_OK);
  CHECK(sh.ndim == 2 && yf[0] == 1 && yf[3] == 4);
  ladle_model_free(m);

  /* repeated and out-of-range axes fail with a status */
  int64_t rep[2] = {1, -1}, far[1] = {2};
  attr_spec bad1[1] = {{"axes", A_INTS, .ints = rep, .n = 2}};
  attr_spec bad2[1] = {{"axes", A_INTS, .ints = far, .n = 1}};
  m = node_model("ReduceMean", 13, 1, tf, 1, tf, 1, bad1);
  CHECK(m && run_model(m, 1, 1, nin, 0, NULL, 0, NULL) == LADLE_ERR_INVALID);
  ladle_model_free(m);
  m = node_model("ReduceMean", 13, 1, tf, 1, tf, 1, bad2);
  CHECK(m && run_model(m, 1, 1, nin, 0, NULL, 0, NULL) == LADLE_ERR_INVALID);
  ladle_model_free(m);
}

/* --- softmax ------------------------------------------------------------------------------- */

static void softmax_case(const char *op, int opset, int nd, const int64_t *dims, int64_t axis) {
  int64_t n = numel(nd, dims);
  int ax = (int)(axis < 0 ? axis + nd : axis);
  int64_t outer = 1, len = 1, inner = 1;
  for (int d = 0; d < nd; d++) {
    if (d < ax) outer *= dims[d];
    else if (d == ax || opset < 13) len *= dims[d];
    else inner *= dims[d];
  }
  float *x = malloc(sizeof(float) * (size_t)n), *y1 = malloc(sizeof(float) * (size_t)n),
        *y2 = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = (float)(8 * urand());
  int tf[1] = {LADLE_FLOAT};
  attr_spec at[1] = {{"axis", A_INT, .i = axis}};
  ladle_model *m = node_model(op, opset, 1, tf, 1, tf, 1, at);
  ladle_tensor in = {LADLE_FLOAT, nd, {0}, x};
  memcpy(in.dims, dims, sizeof(int64_t) * (size_t)nd);
  CHECK(m && run_model(m, 1, 1, &in, 0, y1, sizeof(float) * (size_t)n, NULL) == LADLE_OK);
  CHECK(m && run_model(m, 2, 1, &in, 0, y2, sizeof(float) * (size_t)n, NULL) == LADLE_OK);
  CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0);
  int bad = 0;
  bool is_log = !strcmp(op, "LogSoftmax");
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      double mx = -INFINITY, s = 0;
      for (int64_t i = 0; i < len; i++) mx = fmax(mx, x[(o * len + i) * inner + j]);
      for (int64_t i = 0; i < len; i++) s += exp(x[(o * len + i) * inner + j] - mx);
      for (int64_t i = 0; i < len; i++) {
        int64_t k = (o * len + i) * inner + j;
        double want = is_log ? x[k] - mx - log(s) : exp(x[k] - mx) / s;
        if (!close_enough(y1[k], want, 2e-6) && bad++ < 3)
          fprintf(stderr, "%s %lld: got %.9g want %.9g\n", op, (long long)k, y1[k], want);
      }
    }
  CHECK(bad == 0);
  ladle_model_free(m);
  free(x), free(y1), free(y2);
}

static void test_softmax(void) {
  int64_t att[4] = {2, 4, 96, 96}, small[3] = {3, 4, 5};
  softmax_case("Softmax", 13, 4, att, -1);   /* attention scores: 73K elements, rows */
  softmax_case("LogSoftmax", 13, 4, att, -1);
  softmax_case("Softmax", 13, 4, att, 1);    /* strided sweep, inner 9216 */
  softmax_case("LogSoftmax", 13, 3, small, 0);
  softmax_case("Softmax", 11, 3, small, 1);  /* coerced to 2-D: rows of 20 */
  softmax_case("LogSoftmax", 11, 4, att, 2);
}

/* float16 goes through float32 scratch and back. */
static void test_softmax_half(void) {
  uint16_t xh[12], yh[12];
  float xf[12];
  for (int i = 0; i < 12; i++) xf[i] = half_to_float(xh[i] = float_to_half((float)(4 * urand())));
  int th[1] = {LADLE_FLOAT16};
  attr_spec at[1] = {{"axis", A_INT, .i = -1}};
  ladle_model *m = node_model("Softmax", 13, 1, th, 1, th, 1, at);
  ladle_tensor in = {LADLE_FLOAT16, 2, {3, 4}, xh};
  CHECK(m && run_model(m, 1, 1, &in, 0, yh, sizeof yh, NULL) == LADLE_OK);
  int bad = 0;
  for (int r = 0; r < 3; r++) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < 4; i++) mx = fmax(mx, xf[r * 4 + i]);
    for (int i = 0; i < 4; i++) s += exp(xf[r * 4 + i] - mx);
    for (int i = 0; i < 4; i++)
      if (!close_enough(half_to_float(yh[r * 4 + i]), exp(xf[r * 4 + i] - mx) / s, 1e-3)) bad++;
  }
  CHECK(bad == 0);
  ladle_model_free(m);
}

/* rc_expf against exp over the range it handles (x <= 88). */
static void test_expf(void) {
  double worst = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = -87.0f + 175.0f * (float)i / 200000.0f;
    double want = exp((double)x), got = rc_expf(x);
    double rel = fabs(got - want) / want;
    if (rel > worst) worst = rel;
  }
  CHECK(worst < 2e-7);
  CHECK(rc_expf(-1000.0f) == 0.0f && isnan(rc_expf(NAN)));
  CHECK(rc_expf(0.0f) == 1.0f);
}

/* --- ties ---------------------------------------------------------------------------------- */

static void test_ties(void) {
  float x[8] = {1, 3, 3, 0, 3, 2, 2, 1};
  int64_t idx[8], k = 4;
  float vals[8];
  int tk_in[2] = {LADLE_FLOAT, LADLE_INT64}, tk_out[2] = {LADLE_FLOAT, LADLE_INT64};
  attr_spec at[1] = {{"largest", A_INT, .i = 1}};
  ladle_model *m = node_model("TopK", 11, 2, tk_in, 2, tk_out, 1, at);
  ladle_tensor in[2] = {{LADLE_FLOAT, 1, {8}, x}, {LADLE_INT64, 1, {1}, &k}};
  CHECK(m && run_model(m, 1, 2, in, 1, idx, sizeof idx, NULL) == LADLE_OK);
  CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 4 && idx[3] == 5);
  CHECK(m && run_model(m, 1, 2, in, 0, vals, sizeof vals, NULL) == LADLE_OK);
  CHECK(vals[0] == 3 && vals[3] == 2);
  ladle_model_free(m);
  attr_spec sm[1] = {{"largest", A_INT, .i = 0}};
  m = node_model("TopK", 11, 2, tk_in, 2, tk_out, 1, sm);
  CHECK(m && run_model(m, 1, 2, in, 1, idx, sizeof idx, NULL) == LADLE_OK);
  CHECK(idx[0] == 3 && idx[1] == 0 && idx[2] == 7 && idx[3] == 5);
  k = 9; /* more than the axis holds */
  CHECK(run_model(m, 1, 2, in, 1, idx, sizeof idx, NULL) == LADLE_ERR_INVALID);
  ladle_model_free(m);

  int ti[1] = {LADLE_FLOAT}, to[1] = {LADLE_INT64};
  attr_spec last[2] = {{"select_last_index", A_INT, .i = 1}, {"keepdims", A_INT, .i = 0}};
  m = node_model("ArgMax", 13, 1, ti, 1, to, 2, last);
  CHECK(m && run_model(m, 1, 1, in, 0, idx, sizeof idx, NULL) == LADLE_OK && idx[0] == 4);
  ladle_model_free(m);
  m = node_model("ArgMin", 13, 1, ti, 1, to, 1, last + 1);
  CHECK(m && run_model(m, 1, 1, in, 0, idx, sizeof idx, NULL) == LADLE_OK && idx[0] == 3);
  ladle_model_free(m);
}

/* --- norms --------------------------------------------------------------------------------- */

static void test_layernorm(void) {
  int64_t n = 8 * 64 * 768, D = 768, rows = 8 * 64;
  float *x = malloc(sizeof(float) * (size_t)n), *y1 = malloc(sizeof(float) * (size_t)n),
        *y2 = malloc(sizeof(float) * (size_t)n), s[768], b[768], inv[512];
  for (int64_t i = 0; i < n; i++) x[i] = (float)(5 + 2 * urand());
  for (int i = 0; i < D; i++) s[i] = (float)urand(), b[i] = (float)urand();
  int tin[3] = {LADLE_FLOAT, LADLE_FLOAT, LADLE_FLOAT};
  ladle_model *m = node_model("LayerNormalization", 17, 3, tin, 3, tin, 0, NULL);
  ladle_tensor in[3] = {{LADLE_FLOAT, 3, {8, 64, 768}, x}, {LADLE_FLOAT, 1, {768}, s},
                        {LADLE_FLOAT, 1, {768}, b}};
  CHECK(m && run_model(m, 1, 3, in, 0, y1, sizeof(float) * (size_t)n, NULL) == LADLE_OK);
  CHECK(m && run_model(m, 2, 3, in, 0, y2, sizeof(float) * (size_t)n, NULL) == LADLE_OK);
  CHECK(m && run_model(m, 1, 3, in, 2, inv, sizeof inv, NULL) == LADLE_OK);
  CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0);
  int bad = 0;
  for (int64_t r = 0; r < rows; r++) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < D; i++) mean += x[r * D + i];
    mean /= (double)D;
    for (int64_t i = 0; i < D; i++) var += (x[r * D + i] - mean) * (x[r * D + i] - mean);
    double is = 1 / sqrt(var / (double)D + 1e-5);
    if (!close_enough(inv[r], is, 1e-6)) bad++;
    for (int64_t i = 0; i < D; i++) {
      double want = (x[r * D + i] - mean) * is * s[i] + b[i];
      if (!close_enough(y1[r * D + i], want, 5e-6) && bad++ < 3)
        fprintf(stderr, "LayerNorm %lld: got %.9g want %.9g\n", (long long)(r * D + i),
                y1[r * D + i], want);
    }
  }
  CHECK(bad == 0);
  ladle_model_free(m);
  free(x), free(y1), free(y2);
}

static void test_batchnorm(void) {
  int64_t N = 2, C = 32, S = 56 * 56, n = N * C * S;
  float *x = malloc(sizeof(float) * (size_t)n), *y1 = malloc(sizeof(float) * (size_t)n),
        *y2 = malloc(sizeof(float) * (size_t)n), p[4][32];
  for (int64_t i = 0; i < n; i++) x[i] = (float)(3 * urand());
  for (int c = 0; c < C; c++)
    p[0][c] = (float)urand(), p[1][c] = (float)urand(), p[2][c] = (float)urand(),
    p[3][c] = (float)(1.5 + urand());
  int t[5] = {LADLE_FLOAT, LADLE_FLOAT, LADLE_FLOAT, LADLE_FLOAT, LADLE_FLOAT};
  ladle_model *m = node_model("BatchNormalization", 15, 5, t, 1, t, 0, NULL);
  ladle_tensor in[5] = {{LADLE_FLOAT, 4, {2, 32, 56, 56}, x}, {LADLE_FLOAT, 1, {32}, p[0]},
                        {LADLE_FLOAT, 1, {32}, p[1]}, {LADLE_FLOAT, 1, {32}, p[2]},
                        {LADLE_FLOAT, 1, {32}, p[3]}};
  CHECK(m && run_model(m, 1, 5, in, 0, y1, sizeof(float) * (size_t)n, NULL) == LADLE_OK);
  CHECK(m && run_model(m, 2, 5, in, 0, y2, sizeof(float) * (size_t)n, NULL) == LADLE_OK);
  CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = i / S % C;
    double want = (x[i] - p[2][c]) / sqrt(p[3][c] + 1e-5) * p[0][c] + p[1][c];
    if (!close_enough(y1[i], want, 2e-6)) bad++;
  }
  CHECK(bad == 0);
  /* [N, C] input: the per-element row path */
  ladle_tensor in2[5] = {{LADLE_FLOAT, 2, {64, 32}, x}, {LADLE_FLOAT, 1, {32}, p[0]},
                         {LADLE_FLOAT, 1, {32}, p[1]}, {LADLE_FLOAT, 1, {32}, p[2]},
                         {LADLE_FLOAT, 1, {32}, p[3]}};
  CHECK(m && run_model(m, 1, 5, in2, 0, y1, sizeof(float) * 64 * 32, NULL) == LADLE_OK);
  bad = 0;
  for (int64_t i = 0; i < 64 * 32; i++) {
    int64_t c = i % C;
    double want = (x[i] - p[2][c]) / sqrt(p[3][c] + 1e-5) * p[0][c] + p[1][c];
    if (!close_enough(y1[i], want, 2e-6)) bad++;
  }
  CHECK(bad == 0);
  ladle_model_free(m);
  free(x), free(y1), free(y2);
}

int main(void) {
  test_expf();
  test_reductions();
  test_reduce_edges();
  test_softmax();
  test_softmax_half();
  test_ties();
  test_layernorm();
  test_batchnorm();
  return check_done("test_reduce");
}

/* test_quant.c — what the ONNX conformance data (a few 2×3 matrices and one 1×1 conv) does not
 * cover for the quantization family (quant.c, qgemm.c, qconv.c, qconv_nhwc.c):
 *   - the integer GEMM engine (VNNI micro-tiles, panel edges, column blocks, threads) against a
 *     plain int64 reference on random shapes: MatMulInteger with scalar / per-row / per-column
 *     zero points, batches and broadcast B; QLinearMatMul with uint8 / int8 operands and outputs
 *     and per-column b scales;
 *   - ConvInteger and QLinearConv on random geometry (groups, depthwise, strides, dilations,
 *     pads, auto_pad, 1-D/2-D/3-D, 1×1 direct path), per-channel weight scales / zero points,
 *     bias, weights as initializers (prepared at init) and as graph inputs;
 *   - QGemm (com.microsoft): transA / transB, per-column scales and zero points, int32 bias,
 *     float and quantized outputs, B as initializer (packed at init) or input;
 *   - QuantizeLinear's round-half-to-even and saturation, int8 outputs;
 *   - refusals: wrong dtypes and shapes come back as statuses.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "onnx_build.h"
#include "xorshift.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void) { return (uint32_t)(xorshift64(&rng) >> 16); }

static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }

/* --- one-node models over typed tensors ----------------------------------------------------- */

static size_t esize(int dt) { return ladle_dtype_size(dt); }

static int64_t numel(const tin *t) {
  int64_t n = 1;
  for (int d = 0; d < t->nd; d++) n *= t->dims[d];
  return n;
}

/* op(ins...) -> y of out_dt; an "ms:" prefix puts op in the com.microsoft domain. Returns NULL
 * on a load failure (the message printed with TEST_VERBOSE). */
static ladle_model *build(const char *op, int opset, int n_in, const tin *ins, int n_attr,
                          const attr_spec *attrs, int out_dt) {
  static const char *const out_names[1] = {"y"};
  const char *in_names[TIN_MAX];
  bool ms = strncmp(op, "ms:", 3) == 0; /* "ms:QGemm": an op of the com.microsoft domain */
  model_builder b;
  mb_init(&b, opset);
  mb_import(&b, "com.microsoft", 1);
  mb_tins(&b, n_in, ins, in_names, true);
  mb_output(&b, "y", out_dt);
  mb_node(&b, ms ? op + 3 : op, ms ? "com.microsoft" : "", "op", n_in, in_names, 1, out_names,
          n_attr, attrs);
  ladle_model *m = NULL;
  char err[512];
  if (mb_load(&b, &m, err, sizeof err) != LADLE_OK) {
    if (getenv("TEST_VERBOSE")) fprintf(stderr, "load %s: %s\n", op, err);
    m = NULL;
  }
  return m;
}

/* Builds, runs and returns the output copied into *y (caller frees); false on any failure. */
static bool eval(const char *op, int opset, int n_in, const tin *ins, int n_attr, const attr_spec *attrs, int out_dt,
                 int threads, void **y, int64_t *ny) {
  ladle_model *m = build(op, opset, n_in, ins, n_attr, attrs, out_dt);
  if (!m) return false;
  ladle_session *s = NULL;
  bool ok = run_tins(m, threads, n_in, ins, &s) == LADLE_OK;
  if (ok) {
    const ladle_tensor *o = ladle_session_output(s, 0);
    ok = o && o->dtype == out_dt;
    if (ok) {
      *ny = ladle_tensor_numel(o);
      *y = malloc((size_t)(*ny ? *ny : 1) * esize(out_dt));
      memcpy(*y, o->data, (size_t)*ny * esize(out_dt));
    }
  }
  ladle_session_free(s);
  ladle_model_free(m);
  return ok;
}

/* Random bytes of an 8-bit dtype. */
static void *rand_q8(int64_t n) {
  uint8_t *p = malloc((size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
  return p;
}

static int32_t q8(int dt, const void *p, int64_t i) {
  return dt == LADLE_UINT8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static int32_t requant(int64_t acc, float mul, int32_t zp, int dt) {
  float r = nearbyintf((float)(int32_t)acc * mul) + (float)zp;
  float lo = dt == LADLE_UINT8 ? 0.0f : -128.0f, hi = dt == LADLE_UINT8 ? 255.0f : 127.0f;
  return (int32_t)fmaxf(fminf(r, hi), lo);
}

/* --- MatMulInteger / QLinearMatMul ---------------------------------------------------------- */

static int dt8(void) { return rnd() % 2 ? LADLE_UINT8 : LADLE_INT8; }

static void test_matmulinteger(int iter) {
  int64_t m = rint_in(1, 40), k = rint_in(1, 300), n = rint_in(1, 150);
  int adt = dt8(), bdt = dt8();
  int mode = iter % 4; /* 0: 2-D; 1: batched A, 2-D B; 2: both batched; 3: broadcast B batch */
  int64_t batch = mode ? rint_in(2, 3) : 1;
  bool b_init = rnd() % 2, a_row = rnd() % 2, b_col = rnd() % 2;
  if (mode == 2 || mode == 3) b_init = false;
  tin in[4] = {{"A", adt, 2, {m, k}, NULL, false}, {"B", bdt, 2, {k, n}, NULL, b_init},
               {"a_zero_point", adt, 1, {a_row ? m : 1}, NULL, false}, {"b_zero_point", bdt, 1, {b_col ? n : 1}, NULL, false}};
  if (mode) in[0] = (tin){"A", adt, 3, {batch, m, k}, NULL, false};
  if (mode == 2) in[1] = (tin){"B", bdt, 3, {batch, k, n}, NULL, false};
  if (mode == 3) {
    in[0] = (tin){"A", adt, 4, {batch, 2, m, k}, NULL, false};
    in[1] = (tin){"B", bdt, 4, {batch, 1, k, n}, NULL, false};
  }
  void *a = rand_q8(numel(&in[0])), *b = rand_q8(numel(&in[1])), *za = rand_q8(numel(&in[2])), *zb = rand_q8(numel(&in[3]));
  in[0].data = a;
  in[1].data = b;
  in[2].data = za;
  in[3].data = zb;
  void *y = NULL;
  int64_t ny = 0;
  bool ok = eval("MatMulInteger", 10, 4, in, 0, NULL, LADLE_INT32, 1 + iter % 2, &y, &ny);
  CHECK(ok);
  int64_t mats = mode == 3 ? batch * 2 : batch;
  if (ok) {
    CHECK(ny == mats * m * n);
    int bad = 0;
    for (int64_t bi = 0; bi < mats && ok; bi++) {
      int64_t ai = bi, bj = mode == 2 ? bi : mode == 3 ? bi / 2 : 0;
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          int64_t s = 0;
          int32_t zav = q8(adt, za, a_row ? i : 0), zbv = q8(bdt, zb, b_col ? j : 0);
          for (int64_t p = 0; p < k; p++)
            s += (int64_t)(q8(adt, a, (ai * m + i) * k + p) - zav) * (q8(bdt, b, (bj * k + p) * n + j) - zbv);
          if (((int32_t *)y)[(bi * m + i) * n + j] != (int32_t)s) bad++;
        }
    }
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "MatMulInteger m=%lld k=%lld n=%lld mode %d: %d wrong\n", (long long)m, (long long)k,
                     (long long)n, mode, bad);
  }
  free(a), free(b), free(za), free(zb), free(y);
}

static void test_qlinearmatmul(int iter) {
  int64_t m = rint_in(1, 70), k = rint_in(1, 200), n = rint_in(1, 200);
  int adt = dt8(), bdt = dt8(), ydt = dt8();
  bool b_col = iter % 3 == 0, b_init = rnd() % 2;
  float as = 0.01f + (float)(rnd() % 100) / 1000.0f, ys = 0.5f + (float)(rnd() % 100) / 50.0f;
  float bs[256];
  for (int64_t j = 0; j < n; j++) bs[j] = 0.01f + (float)(rnd() % 100) / 1000.0f;
  void *a = rand_q8(m * k), *b = rand_q8(k * n), *za = rand_q8(1), *zb = rand_q8(b_col ? n : 1), *zy = rand_q8(1);
  tin in[8] = {{"a", adt, 2, {m, k}, a, false},
               {"a_scale", LADLE_FLOAT, 0, {0}, &as, false},
               {"a_zero_point", adt, 0, {0}, za, false},
               {"b", bdt, 2, {k, n}, b, b_init},
               {"b_scale", LADLE_FLOAT, b_col ? 1 : 0, {n}, bs, false},
               {"b_zero_point", bdt, b_col ? 1 : 0, {n}, zb, false},
               {"y_scale", LADLE_FLOAT, 0, {0}, &ys, false},
               {"y_zero_point", ydt, 0, {0}, zy, false}};
  void *y = NULL;
  int64_t ny = 0;
  bool ok = eval("QLinearMatMul", 10, 8, in, 0, NULL, ydt, 2, &y, &ny);
  CHECK(ok);
  if (ok) {
    int bad = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        int64_t s = 0;
        int32_t zbv = q8(bdt, zb, b_col ? j : 0);
        for (int64_t p = 0; p < k; p++) s += (int64_t)(q8(adt, a, i * k + p) - q8(adt, za, 0)) * (q8(bdt, b, p * n + j) - zbv);
        float mul = b_col ? as * (bs[j] / ys) : as * bs[0] / ys;
        if (q8(ydt, y, i * n + j) != requant(s, mul, q8(ydt, zy, 0), ydt)) bad++;
      }
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "QLinearMatMul m=%lld k=%lld n=%lld: %d wrong\n", (long long)m, (long long)k, (long long)n, bad);
  }
  free(a), free(b), free(za), free(zb), free(zy), free(y);
}

/* --- ConvInteger / QLinearConv -------------------------------------------------------------- */

typedef struct qconv_case {
  int nsp;
  int64_t N, C, M, G;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
  int autopad; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
} qconv_case;

static bool qconv_geom(qconv_case *c) {
  for (int d = 0; d < c->nsp; d++) {
    int64_t keff = (c->k[d] - 1) * c->d[d] + 1;
    if (c->autopad == 1 || c->autopad == 2) {
      c->out[d] = (c->in[d] + c->s[d] - 1) / c->s[d];
      int64_t total = (c->out[d] - 1) * c->s[d] + keff - c->in[d];
      if (total < 0) total = 0;
      c->pb[d] = c->autopad == 1 ? total / 2 : total - total / 2;
      c->pe[d] = total - c->pb[d];
    } else {
      if (c->autopad == 3) c->pb[d] = c->pe[d] = 0;
      int64_t span = c->in[d] + c->pb[d] + c->pe[d] - keff;
      if (span < 0) return false;
      c->out[d] = span / c->s[d] + 1;
    }
  }
  return true;
}

static void test_qconv(int iter, bool qlinear) {
  qconv_case c;
  memset(&c, 0, sizeof c);
  c.nsp = iter % 5 == 0 ? 1 : iter % 7 == 0 ? 3 : 2;
  c.N = rint_in(1, 2);
  c.G = rnd() % 3 == 0 ? rint_in(2, 3) : 1;
  c.C = c.G * rint_in(1, 5);
  c.M = c.G * rint_in(1, 6);
  if (iter % 10 == 9) { /* wide: whole 8-pixel × 32-channel tiles of the implicit path */
    c.C = c.G * rint_in(4, 40);
    c.M = c.G * rint_in(30, 70);
  }
  if (iter % 6 == 1) { /* depthwise */
    c.G = c.C = rint_in(2, 8);
    c.M = c.C;
  }
  c.autopad = rnd() % 4 == 0 ? (int)rint_in(1, 3) : 0;
  for (int d = 0; d < c.nsp; d++) {
    c.in[d] = rint_in(1, c.nsp == 3 ? 6 : 12);
    c.k[d] = rint_in(1, 3);
    c.s[d] = rint_in(1, 2);
    c.d[d] = rint_in(1, 2);
    c.pb[d] = rint_in(0, 2);
    c.pe[d] = rint_in(0, 2);
  }
  if (iter % 8 == 3) /* the direct 1×1 path */
    for (int d = 0; d < c.nsp; d++) c.k[d] = c.s[d] = 1, c.pb[d] = c.pe[d] = 0, c.autopad = 0;
  if (!qconv_geom(&c)) return;
  int xdt = dt8(), wdt = dt8(), ydt = dt8();
  bool w_init = rnd() % 2, w_per = rnd() % 2, bias = qlinear && rnd() % 2;
  int64_t Cg = c.C / c.G, Mg = c.M / c.G, taps = 1, in_pl = 1, out_pl = 1;
  for (int d = 0; d < c.nsp; d++) taps *= c.k[d], in_pl *= c.in[d], out_pl *= c.out[d];
  int64_t xn = c.N * c.C * in_pl, wn = c.M * Cg * taps;
  void *x = rand_q8(xn), *w = rand_q8(wn), *xz = rand_q8(1), *wz = rand_q8(c.M), *yz = rand_q8(1);
  int32_t *b = malloc(sizeof(int32_t) * (size_t)c.M);
  float ws[256], xs = 0.02f, ys = 0.3f + (float)(rnd() % 100) / 100.0f;
  for (int64_t i = 0; i < c.M; i++) {
    ws[i] = 0.005f + (float)(rnd() % 100) / 2000.0f;
    b[i] = (int32_t)rint_in(-5000, 5000);
  }
  tin xin = {"x", xdt, c.nsp + 2, {c.N, c.C}, x, false}, win = {"w", wdt, c.nsp + 2, {c.M, Cg}, w, w_init};
  for (int d = 0; d < c.nsp; d++) xin.dims[d + 2] = c.in[d], win.dims[d + 2] = c.k[d];
  tin xzin = {"x_zero_point", xdt, 0, {0}, xz, false}, wzin = {"w_zero_point", wdt, w_per ? 1 : 0, {c.M}, wz, w_init};
  tin in[9];
  int n_in;
  if (qlinear) {
    in[0] = xin;
    in[1] = (tin){"x_scale", LADLE_FLOAT, 0, {0}, &xs, false};
    in[2] = xzin;
    in[3] = win;
    in[4] = (tin){"w_scale", LADLE_FLOAT, w_per ? 1 : 0, {c.M}, ws, w_init};
    in[5] = wzin;
    in[6] = (tin){"y_scale", LADLE_FLOAT, 0, {0}, &ys, false};
    in[7] = (tin){"y_zero_point", ydt, 0, {0}, yz, false};
    in[8] = (tin){"B", LADLE_INT32, 1, {c.M}, b, w_init};
    n_in = bias ? 9 : 8;
  } else {
    in[0] = xin;
    in[1] = win;
    in[2] = xzin;
    in[3] = wzin;
    n_in = 4;
  }
  int64_t strides[3], dil[3], pads[6];
  for (int d = 0; d < c.nsp; d++) strides[d] = c.s[d], dil[d] = c.d[d], pads[d] = c.pb[d], pads[d + c.nsp] = c.pe[d];
  static const char *apn[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  attr_spec at[5] = {{"group", A_INT, .i = c.G},
                     {"strides", A_INTS, .ints = strides, .n = c.nsp},
                     {"dilations", A_INTS, .ints = dil, .n = c.nsp},
                     {"pads", A_INTS, .ints = pads, .n = 2 * c.nsp},
                     {"auto_pad", A_STR, .s = apn[c.autopad]}};
  int n_attr = c.autopad ? 5 : 4;
  if (c.autopad) at[3] = at[4];
  int out_dt = qlinear ? ydt : LADLE_INT32;
  void *y = NULL;
  int64_t ny = 0;
  bool ok = eval(qlinear ? "QLinearConv" : "ConvInteger", 10, n_in, in, n_attr, at, out_dt, 1 + iter % 2, &y, &ny);
  CHECK(ok);
  if (ok) {
    CHECK(ny == c.N * c.M * out_pl);
    int bad = 0;
    for (int64_t nn = 0; nn < c.N; nn++)
      for (int64_t mm = 0; mm < c.M; mm++)
        for (int64_t o = 0; o < out_pl; o++) {
          int64_t oc[3], rem = o;
          for (int d = c.nsp - 1; d >= 0; d--) oc[d] = rem % c.out[d], rem /= c.out[d];
          int64_t acc = 0, g = mm / Mg;
          int32_t zw = q8(wdt, wz, w_per ? mm : 0), zx = q8(xdt, xz, 0);
          for (int64_t ci = 0; ci < Cg; ci++)
            for (int64_t t = 0; t < taps; t++) {
              int64_t tc[3], tr = t, off = 0;
              bool inside = true;
              for (int d = c.nsp - 1; d >= 0; d--) tc[d] = tr % c.k[d], tr /= c.k[d];
              for (int d = 0; d < c.nsp; d++) {
                int64_t ic = oc[d] * c.s[d] + tc[d] * c.d[d] - c.pb[d];
                if (ic < 0 || ic >= c.in[d]) inside = false;
                off = off * c.in[d] + ic;
              }
              int32_t xv = inside ? q8(xdt, x, (nn * c.C + g * Cg + ci) * in_pl + off) : zx;
              acc += (int64_t)(xv - zx) * (q8(wdt, w, (mm * Cg + ci) * taps + t) - zw);
            }
          int64_t yi = (nn * c.M + mm) * out_pl + o;
          if (qlinear) {
            if (bias) acc += b[mm];
            float mul = xs * ws[w_per ? mm : 0] / ys;
            if (q8(ydt, y, yi) != requant(acc, mul, q8(ydt, yz, 0), ydt)) bad++;
          } else if (((int32_t *)y)[yi] != (int32_t)acc) {
            bad++;
          }
        }
    CHECK(bad == 0);
    if (bad)
      fprintf(stderr, "%s nsp=%d N=%lld C=%lld M=%lld G=%lld: %d wrong\n", qlinear ? "QLinearConv" : "ConvInteger",
              c.nsp, (long long)c.N, (long long)c.C, (long long)c.M, (long long)c.G, bad);
  } else if (getenv("TEST_VERBOSE")) {
    fprintf(stderr, "case nsp=%d G=%lld autopad=%d\n", c.nsp, (long long)c.G, c.autopad);
  }
  free(x), free(w), free(xz), free(wz), free(yz), free(b), free(y);
}

/* --- QGemm (com.microsoft) ------------------------------------------------------------------ */

static void test_qgemm(int iter) {
  int64_t m = rint_in(1, 40), k = rint_in(1, 150), n = rint_in(1, 80);
  int adt = dt8(), bdt = dt8();
  bool ta = rnd() % 2, tb = rnd() % 2, percol = rnd() % 2, quant = iter % 2, b_init = rnd() % 2, has_c = rnd() % 2;
  float alpha = 0.5f + (float)(rnd() % 4) / 4.0f, as = 0.02f, ys = 0.9f;
  float bs[128];
  int32_t cb[128];
  for (int64_t j = 0; j < n; j++) {
    bs[j] = 0.002f + (float)(rnd() % 100) / 5000.0f;
    cb[j] = (int32_t)rint_in(-4000, 4000);
  }
  void *a = rand_q8(m * k), *b = rand_q8(k * n), *za = rand_q8(1), *zb = rand_q8(n), *zy = rand_q8(1);
  tin in[9] = {{"A", adt, 2, {ta ? k : m, ta ? m : k}, a, false},
               {"a_scale", LADLE_FLOAT, 0, {0}, &as, false},
               {"a_zero_point", adt, 0, {0}, za, false},
               {"B", bdt, 2, {tb ? n : k, tb ? k : n}, b, b_init},
               {"b_scale", LADLE_FLOAT, percol ? 1 : 0, {n}, bs, false},
               {"b_zero_point", bdt, percol ? 1 : 0, {n}, zb, false},
               {has_c ? "C" : "", LADLE_INT32, 1, {n}, cb, false},
               {"y_scale", LADLE_FLOAT, 0, {0}, &ys, false},
               {"y_zero_point", LADLE_UINT8, 0, {0}, zy, false}};
  int64_t tr[2] = {ta, tb};
  attr_spec at[3] = {{"transA", A_INT, .i = tr[0]},
                     {"transB", A_INT, .i = tr[1]},
                     {"alpha", A_FLOAT, .f = 0}};
  at[2].f = alpha;
  int out_dt = quant ? LADLE_UINT8 : LADLE_FLOAT;
  void *y = NULL;
  int64_t ny = 0;
  bool ok = eval("ms:QGemm", 13, quant ? 9 : 7, in, 3, at, out_dt, 1 + iter % 2, &y, &ny);
  CHECK(ok);
  if (ok) {
    int bad = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        int64_t s = has_c ? cb[j] : 0;
        int32_t zbv = q8(bdt, zb, percol ? j : 0);
        for (int64_t p = 0; p < k; p++)
          s += (int64_t)(q8(adt, a, ta ? p * m + i : i * k + p) - q8(adt, za, 0)) *
               (q8(bdt, b, tb ? j * k + p : p * n + j) - zbv);
        float bsj = bs[percol ? j : 0];
        if (quant) {
          float mul = alpha * as * bsj / ys;
          if (((uint8_t *)y)[i * n + j] != (uint8_t)requant(s, mul, ((uint8_t *)zy)[0], LADLE_UINT8)) bad++;
        } else {
          float want = (float)(int32_t)s * (alpha * as * bsj);
          if (((float *)y)[i * n + j] != want) bad++;
        }
      }
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "QGemm m=%lld k=%lld n=%lld ta=%d tb=%d: %d wrong\n", (long long)m, (long long)k,
                     (long long)n, ta, tb, bad);
  }
  free(a), free(b), free(za), free(zb), free(zy), free(y);
}

/* --- QuantizeLinear ------------------------------------------------------------------------- */

static void test_quantize_rounding(void) {
  float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.0f, -1000.0f, 3.49f}, s = 1.0f;
  int8_t zp = 0;
  tin in[3] = {{"x", LADLE_FLOAT, 1, {8}, x, false}, {"s", LADLE_FLOAT, 0, {0}, &s, false}, {"z", LADLE_INT8, 0, {0}, &zp, false}};
  void *y = NULL;
  int64_t ny = 0;
  bool ok = eval("QuantizeLinear", 13, 3, in, 0, NULL, LADLE_INT8, 1, &y, &ny);
  CHECK(ok);
  if (ok) {
    static const int8_t want[8] = {0, 2, 2, 0, -2, 127, -128, 3};
    CHECK(ny == 8 && memcmp(y, want, 8) == 0);
  }
  free(y);
}

static void test_refusals(void) {
  float s = 1.0f, x[4] = {0};
  int32_t zi = 0;
  /* int32 zero point for QuantizeLinear */
  tin q[3] = {{"x", LADLE_FLOAT, 1, {4}, x, false}, {"s", LADLE_FLOAT, 0, {0}, &s, false}, {"z", LADLE_INT32, 0, {0}, &zi, false}};
  void *y = NULL;
  int64_t ny;
  CHECK(!eval("QuantizeLinear", 13, 3, q, 0, NULL, LADLE_INT32, 1, &y, &ny));
  /* MatMulInteger with mismatched inner dimensions */
  uint8_t a[6] = {0}, b[6] = {0};
  tin mm[2] = {{"A", LADLE_UINT8, 2, {2, 3}, a, false}, {"B", LADLE_UINT8, 2, {2, 3}, b, false}};
  CHECK(!eval("MatMulInteger", 10, 2, mm, 0, NULL, LADLE_INT32, 1, &y, &ny));
  /* float A */
  tin mf[2] = {{"A", LADLE_FLOAT, 1, {4}, x, false}, {"B", LADLE_UINT8, 2, {4, 1}, b, false}};
  CHECK(!eval("MatMulInteger", 10, 2, mf, 0, NULL, LADLE_INT32, 1, &y, &ny));
  /* per-axis scale whose length does not match the axis */
  float sc[3] = {1, 1, 1};
  tin qa[2] = {{"x", LADLE_FLOAT, 2, {2, 2}, x, false}, {"s", LADLE_FLOAT, 1, {3}, sc, false}};
  CHECK(!eval("QuantizeLinear", 13, 2, qa, 0, NULL, LADLE_UINT8, 1, &y, &ny));
  /* conv with a group that does not divide the channels */
  uint8_t cx[18] = {0}, cw[8] = {0};
  tin cv[2] = {{"x", LADLE_UINT8, 4, {1, 2, 3, 3}, cx, false}, {"w", LADLE_UINT8, 4, {2, 2, 2, 1}, cw, false}};
  attr_spec g3 = {"group", A_INT, .i = 3};
  CHECK(!eval("ConvInteger", 10, 2, cv, 1, &g3, LADLE_INT32, 1, &y, &ny));
}

int main(void) {
  for (int i = 0; i < 40; i++) test_matmulinteger(i);
  for (int i = 0; i < 40; i++) test_qlinearmatmul(i);
  for (int i = 0; i < 60; i++) test_qconv(i, false);
  for (int i = 0; i < 60; i++) test_qconv(i, true);
  for (int i = 0; i < 30; i++) test_qgemm(i);
  test_quantize_rounding();
  test_refusals();
  return check_done("test_quant");
}

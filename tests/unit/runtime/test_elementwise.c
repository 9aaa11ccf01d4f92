/* test_elementwise.c — what the ONNX conformance data does not cover for the elementwise family
 * (elementwise.c, activation.c, logic.c, cast.c):
 *   - the vectorisable float32 exp / sigmoid / tanh / erf against double-precision libm over
 *     wide sweeps (the golden models need 1e-6 relative);
 *   - the broadcast engine's fast paths (same shape, scalar, per-channel, row vector) and its
 *     general N-d walk, single- and multi-threaded, against a plain reference;
 *   - integer corner cases that are undefined in C (division by zero, INT_MIN / -1, shifts past
 *     the width, float → int out of range): defined results, and clean under UBSan;
 *   - Cast's number ↔ string formats, and hostile inputs refused with a status.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "onnx_build.h"
#include "runtime/ops/ew_common.h"
#include "xorshift.h"

/* --- float32 math ------------------------------------------------------------------------- */

/* Max relative error of f against ref over [lo, hi] in `steps` points; values of ref below
 * `floor` in magnitude are compared absolutely against floor. */
static double sweep(float (*f)(float), double (*ref)(double), double lo, double hi, int steps,
                    double floor_) {
  double worst = 0;
  for (int i = 0; i <= steps; i++) {
    float x = (float)(lo + (hi - lo) * i / steps);
    double want = ref(x), got = f(x);
    double err = fabs(got - want) / fmax(fabs(want), floor_);
    if (err > worst) worst = err;
  }
  return worst;
}

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static void test_math(void) {
  double e;
  e = sweep(ew_expf, exp, -87, 88.7, 2000003, 0);
  printf("  expf     max rel err %.3g\n", e);
  CHECK(e < 3e-7);
  e = sweep(ew_expf, exp, -104, -87, 100003, FLT_MIN);
  CHECK(e < 3e-7); /* subnormal results: within an ulp of the smallest normal */
  CHECK(isinf(ew_expf(89.0f)) && ew_expf(-200.0f) == 0.0f && isnan(ew_expf(NAN)));
  CHECK(ew_expf(0.0f) == 1.0f);

  e = sweep(ew_tanhf, tanh, -12, 12, 2000003, 0);
  printf("  tanhf    max rel err %.3g\n", e);
  CHECK(e < 1e-6);
  e = sweep(ew_tanhf, tanh, -1e-3, 1e-3, 200003, 1e-30);
  CHECK(e < 1e-6);
  CHECK(ew_tanhf(100.0f) == 1.0f && ew_tanhf(-100.0f) == -1.0f && isnan(ew_tanhf(NAN)));

  e = sweep(ew_sigmoidf, ref_sigmoid, -80, 30, 2000003, 0);
  printf("  sigmoidf max rel err %.3g\n", e);
  CHECK(e < 1e-6);
  CHECK(ew_sigmoidf(-200.0f) == 0.0f && ew_sigmoidf(200.0f) == 1.0f);

  e = sweep(ew_erff, erf, -6, 6, 2000003, 0);
  printf("  erff     max rel err %.3g\n", e);
  CHECK(e < 1e-6);
  e = sweep(ew_erff, erf, -1e-3, 1e-3, 200003, 1e-30);
  CHECK(e < 1e-6);
  CHECK(ew_erff(10.0f) == 1.0f && ew_erff(-10.0f) == -1.0f && isnan(ew_erff(NAN)));
}

/* --- broadcast engine --------------------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand(void) {
  return (float)((xorshift64(&rng) >> 11) % 2000001) / 1000000.0f - 1.0f;
}

/* Reference broadcast binary op over out shape (rank nd). */
static void ref_binary(char op, const float *a, int na, const int64_t *da, const float *b, int nb,
                       const int64_t *db, float *y, int nd, const int64_t *dy) {
  int64_t sa[8], sb[8], idx[8] = {0}, n = 1;
  shape_broadcast_strides(na, da, nd, dy, sa);
  shape_broadcast_strides(nb, db, nd, dy, sb);
  for (int i = 0; i < nd; i++) n *= dy[i];
  for (int64_t e = 0; e < n; e++) {
    int64_t oa = 0, ob = 0;
    for (int i = 0; i < nd; i++) {
      oa += idx[i] * sa[i];
      ob += idx[i] * sb[i];
    }
    float x0 = a[oa], x1 = b[ob];
    y[e] = op == '+' ? x0 + x1 : op == '-' ? x0 - x1 : op == '*' ? x0 * x1 : x0 / x1;
    for (int i = nd - 1; i >= 0; i--) {
      if (++idx[i] < dy[i]) break;
      idx[i] = 0;
    }
  }
}

static void binary_case(const char *op, char sym, int na, const int64_t *da, int nb,
                        const int64_t *db, int threads) {
  int nd;
  int64_t dy[8];
  CHECK(shape_broadcast(na, da, nb, db, &nd, dy));
  int64_t n_a = shape_numel(na, da), n_b = shape_numel(nb, db), n_y = shape_numel(nd, dy);
  float *a = malloc(sizeof(float) * (size_t)n_a), *b = malloc(sizeof(float) * (size_t)n_b),
        *want = malloc(sizeof(float) * (size_t)n_y);
  for (int64_t i = 0; i < n_a; i++) a[i] = frand();
  for (int64_t i = 0; i < n_b; i++) b[i] = frand() + (sym == '/' ? 3.0f : 0.0f);
  ref_binary(sym, a, na, da, b, nb, db, want, nd, dy);
  ladle_tensor in[2] = {tensor(LADLE_FLOAT, na, da, a), tensor(LADLE_FLOAT, nb, db, b)};
  ladle_model *m;
  ladle_session *s;
  ladle_status st = run_op(&m, &s, op, 14, 2, in, 1, 0, NULL, threads);
  CHECK(st == LADLE_OK);
  if (st == LADLE_OK) {
    const ladle_tensor *y = ladle_session_output(s, 0);
    bool same = shape_equal(y->ndim, y->dims, nd, dy) && memcmp(y->data, want, sizeof(float) * (size_t)n_y) == 0;
    if (!same) {
      char s1[64], s2[64];
      fprintf(stderr, "%s %s x %s (threads %d) differs from the reference\n", op,
              shape_str(na, da, s1, sizeof s1), shape_str(nb, db, s2, sizeof s2), threads);
    }
    CHECK(same);
  }
  done(m, s);
  free(a);
  free(b);
  free(want);
}

static void test_broadcast(void) {
  static const struct {
    int na;
    int64_t da[5];
    int nb;
    int64_t db[5];
  } cases[] = {
      {2, {3, 4}, 2, {3, 4}},                /* same shape */
      {3, {2, 3, 5}, 0, {0}},                /* scalar operand */
      {1, {1}, 3, {2, 3, 5}},                /* scalar first */
      {4, {2, 8, 5, 5}, 3, {8, 1, 1}},       /* per channel */
      {3, {2, 7, 16}, 1, {16}},              /* row vector */
      {3, {4, 1, 5}, 2, {3, 1}},             /* both broadcast */
      {4, {2, 3, 1, 5}, 4, {1, 3, 4, 1}},    /* general */
      {5, {2, 1, 3, 1, 2}, 3, {3, 4, 1}},    /* general, rank 5 */
      {2, {0, 3}, 1, {3}},                   /* empty */
      {4, {2, 64, 40, 40}, 3, {64, 1, 1}},   /* per channel, threaded */
      {3, {4, 128, 768}, 1, {768}},          /* transformer bias, threaded */
      {1, {300001}, 1, {300001}},            /* same shape, odd length, threaded */
      {2, {517, 300}, 2, {517, 1}},          /* per row, threaded */
  };
  const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
  const char syms[4] = {'+', '-', '*', '/'};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int o = 0; o < 4; o++)
      for (int t = 1; t <= 3; t += 2) {
        binary_case(ops[o], syms[o], cases[c].na, cases[c].da, cases[c].nb, cases[c].db, t);
        binary_case(ops[o], syms[o], cases[c].nb, cases[c].db, cases[c].na, cases[c].da, t);
      }
}

/* Where with three different broadcasts, int64 and strings (each output string owned). */
static void test_where(void) {
  uint8_t cond[4] = {1, 0, 0, 1};
  int64_t x[3] = {10, 20, 30}, y[2] = {-1, -2};
  int64_t dc[2] = {2, 2}, dx[3] = {3, 1, 1}, dy[2] = {2, 1};
  ladle_tensor in[3] = {tensor(LADLE_BOOL, 2, dc, cond), tensor(LADLE_INT64, 3, dx, x),
                        tensor(LADLE_INT64, 2, dy, y)};
  ladle_model *m;
  ladle_session *s;
  CHECK(run_op(&m, &s, "Where", 16, 3, in, 1, 0, NULL, 1) == LADLE_OK);
  const ladle_tensor *o = ladle_session_output(s, 0);
  CHECK(o->ndim == 3 && o->dims[0] == 3 && o->dims[1] == 2 && o->dims[2] == 2);
  const int64_t *v = o->data;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++)
      for (int k = 0; k < 2; k++) CHECK(v[i * 4 + j * 2 + k] == (cond[j * 2 + k] ? x[i] : y[j]));
  done(m, s);

  char *sx[2] = {"yes", "oui"}, *sy[1] = {"no"};
  int64_t d2[1] = {2}, d1[1] = {1};
  ladle_tensor sin[3] = {tensor(LADLE_BOOL, 1, d2, cond), tensor(LADLE_STRING, 1, d2, sx),
                         tensor(LADLE_STRING, 1, d1, sy)};
  cond[1] = 0;
  CHECK(run_op(&m, &s, "Where", 16, 3, sin, 1, 0, NULL, 1) == LADLE_OK);
  char **so = ladle_session_output(s, 0)->data;
  CHECK(strcmp(so[0], "yes") == 0 && strcmp(so[1], "no") == 0 && so[1] != sy[0]);
  done(m, s);
}

/* --- integer corner cases ----------------------------------------------------------------- */

static void int_binary(const char *op, int dtype, const void *a, const void *b, int64_t n,
                       int n_attr, const attr_spec *attrs, void *out) {
  ladle_tensor in[2] = {tensor(dtype, 1, &n, (void *)a), tensor(dtype, 1, &n, (void *)b)};
  ladle_model *m;
  ladle_session *s;
  CHECK(run_op(&m, &s, op, 13, 2, in, 1, n_attr, attrs, 1) == LADLE_OK);
  const ladle_tensor *y = ladle_session_output(s, 0);
  if (y) memcpy(out, y->data, (size_t)n * ladle_dtype_size(y->dtype));
  done(m, s);
}

static void test_integers(void) {
  int32_t a[6] = {7, -7, INT32_MIN, INT32_MAX, 5, -9}, b[6] = {0, 2, -1, 1, -1, 4}, y[6];
  int_binary("Div", LADLE_INT32, a, b, 6, 0, NULL, y);
  CHECK(y[0] == 0 && y[1] == -3 && y[2] == INT32_MIN && y[3] == INT32_MAX && y[4] == -5 && y[5] == -2);
  int_binary("Add", LADLE_INT32, a, a, 6, 0, NULL, y); /* wraps */
  CHECK(y[2] == 0 && y[3] == -2);
  int_binary("Mul", LADLE_INT32, a, a, 6, 0, NULL, y);
  CHECK(y[0] == 49 && y[3] == 1);
  int_binary("Mod", LADLE_INT32, a, b, 6, 0, NULL, y); /* numpy's mod: sign of the divisor */
  CHECK(y[0] == 0 && y[1] == 1 && y[2] == 0 && y[5] == 3);
  attr_spec fm = {"fmod", A_INT, .i = 1};
  int_binary("Mod", LADLE_INT32, a, b, 6, 1, &fm, y); /* C's remainder */
  CHECK(y[1] == -1 && y[5] == -1);

  uint16_t ua[3] = {65535, 1, 3}, ub[3] = {65535, 16, 1}, uy[3];
  int_binary("Mul", LADLE_UINT16, ua, ua, 3, 0, NULL, uy);
  CHECK(uy[0] == 1 && uy[2] == 9);
  attr_spec left = {"direction", A_STR, .s = "LEFT"};
  int_binary("BitShift", LADLE_UINT16, ua, ub, 3, 1, &left, uy);
  CHECK(uy[0] == 0 && uy[1] == 0 && uy[2] == 6);

  int64_t pa[4] = {2, 3, -2, 5}, pb[4] = {10, 0, 3, -1}, py[4];
  int_binary("Pow", LADLE_INT64, pa, pb, 4, 0, NULL, py);
  CHECK(py[0] == 1024 && py[1] == 1 && py[2] == -8 && py[3] == 0);
}

/* --- Cast --------------------------------------------------------------------------------- */

static ladle_model *cm;
static ladle_session *cs;

static const ladle_tensor *cast(int from, int to, int64_t n, void *data) {
  attr_spec to_attr = {"to", A_INT, .i = to};
  ladle_tensor in = tensor(from, 1, &n, data);
  if (run_op(&cm, &cs, "Cast", 13, 1, &in, 1, 1, &to_attr, 1) != LADLE_OK) return NULL;
  return ladle_session_output(cs, 0);
}

static void test_cast(void) {
  float f[10] = {1.0f, 100.0f, 1.5e-5f, 1e-4f, 123456789.0f, -0.0f, NAN, -INFINITY, 0.1f, 3.4028235e38f};
  const char *want[10] = {"1.0", "100.0", "1.5e-05", "1e-04", "123456790.0", "-0.0", "nan", "-inf", "0.1",
                          "3.4028235e+38"};
  const ladle_tensor *t = cast(LADLE_FLOAT, LADLE_STRING, 10, f);
  CHECK(t != NULL);
  for (int i = 0; t && i < 10; i++) {
    const char *got = ((char *const *)t->data)[i];
    if (strcmp(got, want[i]) != 0) fprintf(stderr, "Cast to string: '%s', expected '%s'\n", got, want[i]);
    CHECK(strcmp(got, want[i]) == 0);
  }
  done(cm, cs);

  double d[2] = {1.0 / 3.0, 1e22};
  t = cast(LADLE_DOUBLE, LADLE_STRING, 2, d);
  CHECK(t && strcmp(((char *const *)t->data)[0], "0.3333333333333333") == 0 &&
        strcmp(((char *const *)t->data)[1], "1e+22") == 0);
  done(cm, cs);

  char *s[5] = {"42", " -7", "1e3", "9223372036854775807", "+INF"};
  t = cast(LADLE_STRING, LADLE_INT64, 4, s);
  CHECK(t && ((int64_t *)t->data)[0] == 42 && ((int64_t *)t->data)[1] == -7 &&
        ((int64_t *)t->data)[2] == 1000 && ((int64_t *)t->data)[3] == INT64_MAX);
  done(cm, cs);
  t = cast(LADLE_STRING, LADLE_FLOAT, 5, s);
  CHECK(t && ((float *)t->data)[2] == 1000.0f && isinf(((float *)t->data)[4]));
  done(cm, cs);
  char *bad[1] = {"12abc"};
  CHECK(cast(LADLE_STRING, LADLE_FLOAT, 1, bad) == NULL);
  done(cm, cs);

  float g[5] = {NAN, 3e9f, -3e9f, 1e30f, -2.7f};
  t = cast(LADLE_FLOAT, LADLE_INT32, 5, g); /* defined: NaN 0, saturate through int64, wrap */
  CHECK(t && ((int32_t *)t->data)[0] == 0 && ((int32_t *)t->data)[1] == (int32_t)3000000000u &&
        ((int32_t *)t->data)[4] == -2);
  done(cm, cs);
  t = cast(LADLE_FLOAT, LADLE_INT64, 5, g);
  CHECK(t && ((int64_t *)t->data)[3] == INT64_MAX && ((int64_t *)t->data)[2] == -3000000000LL);
  done(cm, cs);
  t = cast(LADLE_FLOAT, LADLE_BOOL, 5, g);
  CHECK(t && ((uint8_t *)t->data)[0] == 1 && ((uint8_t *)t->data)[4] == 1);
  done(cm, cs);

  uint64_t u[2] = {UINT64_MAX, 1};
  t = cast(LADLE_UINT64, LADLE_DOUBLE, 2, u);
  CHECK(t && ((double *)t->data)[0] == 18446744073709551615.0);
  done(cm, cs);
  t = cast(LADLE_UINT64, LADLE_INT8, 2, u);
  CHECK(t && ((int8_t *)t->data)[0] == -1 && ((int8_t *)t->data)[1] == 1);
  done(cm, cs);

  uint16_t h16[2] = {0x2e66, 0x3c00}; /* float16 0.1 and 1: numpy prints '0.1', '1.0' */
  t = cast(LADLE_FLOAT16, LADLE_STRING, 2, h16);
  CHECK(t && strcmp(((char *const *)t->data)[0], "0.1") == 0 && strcmp(((char *const *)t->data)[1], "1.0") == 0);
  done(cm, cs);

  float h[3] = {1.0f / 3.0f, 65504.0f, 1e6f};
  t = cast(LADLE_FLOAT, LADLE_FLOAT16, 3, h);
  CHECK(t && ((uint16_t *)t->data)[1] == 0x7bff && ((uint16_t *)t->data)[2] == 0x7c00);
  done(cm, cs);
}

/* --- refused inputs ----------------------------------------------------------------------- */

static void expect_fail(const char *op, int opset, int n_in, const ladle_tensor *in, int n_attr,
                        const attr_spec *attrs, ladle_status want) {
  ladle_model *m;
  ladle_session *s;
  ladle_status st = run_op(&m, &s, op, opset, n_in, in, 1, n_attr, attrs, 1);
  if (st != want) fprintf(stderr, "%s: status %d (%s), expected %d\n", op, st, s ? ladle_session_errmsg(s) : "", want);
  CHECK(st == want);
  done(m, s);
}

static void test_refused(void) {
  float f[6] = {0};
  int32_t i[6] = {0};
  int64_t d3[1] = {3}, d2[1] = {2}, d23[2] = {2, 3};
  ladle_tensor mixed[2] = {tensor(LADLE_FLOAT, 1, d3, f), tensor(LADLE_INT32, 1, d3, i)};
  expect_fail("Add", 14, 2, mixed, 0, NULL, LADLE_ERR_DTYPE);
  ladle_tensor nobc[2] = {tensor(LADLE_FLOAT, 1, d3, f), tensor(LADLE_FLOAT, 1, d2, f)};
  expect_fail("Mul", 14, 2, nobc, 0, NULL, LADLE_ERR_SHAPE);
  ladle_tensor clip[3] = {tensor(LADLE_FLOAT, 1, d3, f), tensor(LADLE_FLOAT, 1, d2, f),
                          tensor(LADLE_FLOAT, 0, NULL, f)};
  expect_fail("Clip", 13, 3, clip, 0, NULL, LADLE_ERR_SHAPE);
  ladle_tensor one = tensor(LADLE_FLOAT, 2, d23, f);
  attr_spec to = {"to", A_INT, .i = 999};
  expect_fail("Cast", 13, 1, &one, 1, &to, LADLE_ERR_UNSUPPORTED);
  attr_spec dir = {"direction", A_STR, .s = "UP"};
  ladle_tensor sh[2] = {tensor(LADLE_UINT8, 1, d3, i), tensor(LADLE_UINT8, 1, d3, i)};
  expect_fail("BitShift", 13, 2, sh, 1, &dir, LADLE_ERR_INVALID);
  expect_fail("Sqrt", 13, 1, &mixed[1], 0, NULL, LADLE_ERR_DTYPE);
  expect_fail("Mod", 13, 2, nobc, 0, NULL, LADLE_ERR_INVALID); /* floats need fmod=1 */
}

int main(void) {
  test_math();
  test_broadcast();
  test_where();
  test_integers();
  test_cast();
  test_refused();
  return check_done("test_elementwise");
}

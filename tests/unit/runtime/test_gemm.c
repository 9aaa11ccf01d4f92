/* test_gemm.c — what the ONNX conformance data does not cover for the gemm family (Gemm and
 * MatMul in matmul.c, the GEMM engine in gemm.c):
 *   - Gemm on random shapes (row panels of 8 and column tiles of 48 with their remainders, K
 *     blocks, threads) with transA/transB, alpha, beta and every C broadcast, B as an
 *     initializer (packed at init) or a graph input, against a plain reference;
 *   - the activations the optimiser fuses into Gemm (Relu, Clip, LeakyRelu);
 *   - MatMul with N-d batch broadcasting and 1-D operands, B packed at init or read in place;
 *   - mismatched shapes refused with a status.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "nn_build.h"

/* --- Gemm ----------------------------------------------------------------------------------- */

/* c_kind: 0 none, 1 scalar [], 2 [1], 3 [N], 4 [1,N], 5 [M,1], 6 [M,N] */
static bool gemm_case(int64_t M, int64_t N, int64_t K, bool ta, bool tb, float alpha, float beta,
                      int c_kind, bool b_init, const act_case *act) {
  tin ins[3];
  memset(ins, 0, sizeof ins);
  ins[0] = ta ? (tin){"a", LADLE_FLOAT, 2, {K, M}, NULL, false}
              : (tin){"a", LADLE_FLOAT, 2, {M, K}, NULL, false};
  ins[1] = tb ? (tin){"b", LADLE_FLOAT, 2, {N, K}, NULL, b_init}
              : (tin){"b", LADLE_FLOAT, 2, {K, N}, NULL, b_init};
  int64_t cm = 1, cn = 1;
  switch (c_kind) {
    case 1: ins[2] = (tin){"c", LADLE_FLOAT, 0, {0}, NULL, false}; break;
    case 2: ins[2] = (tin){"c", LADLE_FLOAT, 1, {1}, NULL, false}; break;
    case 3: ins[2] = (tin){"c", LADLE_FLOAT, 1, {N}, NULL, false}, cn = N; break;
    case 4: ins[2] = (tin){"c", LADLE_FLOAT, 2, {1, N}, NULL, false}, cn = N; break;
    case 5: ins[2] = (tin){"c", LADLE_FLOAT, 2, {M, 1}, NULL, false}, cm = M; break;
    case 6: ins[2] = (tin){"c", LADLE_FLOAT, 2, {M, N}, NULL, false}, cm = M, cn = N; break;
    default: break;
  }
  float *data[3] = {rand_buf(M * K), rand_buf(K * N), rand_buf(cm * cn)};
  ins[1].data = data[1];
  attr_spec at[4] = {
      {"transA", A_INT, .i = ta},
      {"transB", A_INT, .i = tb},
      {"alpha", A_FLOAT, .f = alpha},
      {"beta", A_FLOAT, .f = beta},
  };
  double *want = malloc(sizeof(double) * (size_t)(M * N)), *mag = malloc(sizeof(double) * (size_t)(M * N));
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0, am = 0;
      for (int64_t p = 0; p < K; p++) {
        double v = (double)data[0][ta ? p * M + i : i * K + p] * data[1][tb ? j * K + p : p * N + j];
        s += v;
        am += fabs(v);
      }
      s *= alpha;
      am *= fabs(alpha);
      if (c_kind) {
        double cv = data[2][(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        s += beta * cv;
        am += fabs(beta * cv);
      }
      want[i * N + j] = act_ref(act, s);
      mag[i * N + j] = am;
    }
  ladle_model *m = build("Gemm", c_kind ? 3 : 2, ins, 4, at, act->op, act->a, act->b, 1);
  bool ok = m != NULL;
  for (int threads = 1; ok && threads <= 2; threads++) {
    ladle_session *s = NULL;
    ok = run(m, threads, c_kind ? 3 : 2, ins, data, &s) == LADLE_OK;
    const ladle_tensor *y = ok ? ladle_session_output(s, 0) : NULL;
    ok = ok && y->ndim == 2 && y->dims[0] == M && y->dims[1] == N;
    for (int64_t i = 0; ok && i < M * N; i++)
      if (!close_to(((const float *)y->data)[i], want[i], mag[i])) {
        fprintf(stderr, "gemm: element %lld: got %.7g want %.7g (threads %d)\n", (long long)i,
                ((const float *)y->data)[i], want[i], threads);
        ok = false;
      }
    ladle_session_free(s);
  }
  if (!ok)
    fprintf(stderr, "  gemm case: M=%lld N=%lld K=%lld transA=%d transB=%d alpha=%g beta=%g C=%d "
            "b_init=%d act=%s\n", (long long)M, (long long)N, (long long)K, ta, tb, alpha, beta,
            c_kind, b_init, act->op ? act->op : "none");
  ladle_model_free(m);
  free(want);
  free(mag);
  for (int i = 0; i < 3; i++) free(data[i]);
  return ok;
}

static void test_gemm_random(void) {
  static const float alphas[] = {1.0f, 0.5f, -2.0f}, betas[] = {1.0f, 0.0f, 0.25f};
  int bad = 0, ran = 0;
  for (int t = 0; t < 150; t++) {
    bool big = t % 10 == 0;
    int64_t M = big ? rint_in(60, 150) : rint_in(1, 20);
    int64_t N = big ? rint_in(90, 230) : rint_in(1, 110);
    int64_t K = big ? rint_in(200, 700) : rint_in(1, 70);
    ran++;
    if (!gemm_case(M, N, K, rnd() % 2, rnd() % 2, alphas[rnd() % 3], betas[rnd() % 3],
                   (int)rint_in(0, 6), rnd() % 2, &acts[rnd() % 4]))
      bad++;
  }
  /* shapes that matter: the MLP, a classifier head, an empty K */
  if (!gemm_case(1, 64, 30, false, true, 1, 1, 3, true, &acts[1])) bad++;
  if (!gemm_case(1, 2, 64, false, true, 1, 1, 3, true, &acts[0])) bad++;
  if (!gemm_case(8, 1000, 512, false, true, 1, 1, 3, true, &acts[0])) bad++;
  if (!gemm_case(3, 5, 0, false, false, 1, 1, 6, false, &acts[2])) bad++;
  ran += 4;
  printf("  %-16s %d cases, %d mismatched\n", "gemm", ran, bad);
  CHECK(bad == 0);
}

/* --- MatMul --------------------------------------------------------------------------------- */

static bool matmul_case(int na, const int64_t *ad, int nb, const int64_t *bd, bool b_init) {
  tin ins[2];
  memset(ins, 0, sizeof ins);
  ins[0] = (tin){"a", LADLE_FLOAT, na, {0}, NULL, false};
  ins[1] = (tin){"b", LADLE_FLOAT, nb, {0}, NULL, b_init};
  memcpy(ins[0].dims, ad, sizeof(int64_t) * (size_t)na);
  memcpy(ins[1].dims, bd, sizeof(int64_t) * (size_t)nb);
  int64_t M = na == 1 ? 1 : ad[na - 2], K = ad[na - 1], N = nb == 1 ? 1 : bd[nb - 1];
  int abn = na > 2 ? na - 2 : 0, bbn = nb > 2 ? nb - 2 : 0, obn = abn > bbn ? abn : bbn;
  int64_t ob[8], an = M * K, bn = K * N;
  for (int d = 0; d < abn; d++) an *= ad[d];
  for (int d = 0; d < bbn; d++) bn *= bd[d];
  for (int d = 0; d < obn; d++) { /* numpy broadcast, aligned right */
    int ia = d - (obn - abn), ib = d - (obn - bbn);
    int64_t x = ia >= 0 ? ad[ia] : 1, y = ib >= 0 ? bd[ib] : 1;
    ob[d] = x == 1 ? y : x;
  }
  int64_t nbat = 1;
  for (int d = 0; d < obn; d++) nbat *= ob[d];
  float *data[2] = {rand_buf(an), rand_buf(bn)};
  ins[1].data = data[1];
  int64_t yn = nbat * M * N;
  double *want = malloc(sizeof(double) * (size_t)(yn ? yn : 1)), *mag = malloc(sizeof(double) * (size_t)(yn ? yn : 1));
  for (int64_t bi = 0; bi < nbat; bi++) {
    int64_t oa = 0, obb = 0, r = bi, sa = 1, sb = 1;
    for (int d = obn - 1; d >= 0; d--) {
      int64_t x = r % ob[d];
      r /= ob[d];
      int ia = d - (obn - abn), ib = d - (obn - bbn);
      if (ia >= 0) {
        oa += (ad[ia] == 1 ? 0 : x) * sa;
        sa *= ad[ia];
      }
      if (ib >= 0) {
        obb += (bd[ib] == 1 ? 0 : x) * sb;
        sb *= bd[ib];
      }
    }
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0, am = 0;
        for (int64_t p = 0; p < K; p++) {
          double v = (double)data[0][oa * M * K + i * K + p] * data[1][obb * K * N + p * N + j];
          s += v;
          am += fabs(v);
        }
        want[(bi * M + i) * N + j] = s;
        mag[(bi * M + i) * N + j] = am;
      }
  }
  ladle_model *m = build("MatMul", 2, ins, 0, NULL, NULL, 0, 0, 1);
  bool ok = m != NULL;
  int want_rank = obn + (na > 1) + (nb > 1);
  for (int threads = 1; ok && threads <= 2; threads++) {
    ladle_session *s = NULL;
    ok = run(m, threads, 2, ins, data, &s) == LADLE_OK;
    const ladle_tensor *y = ok ? ladle_session_output(s, 0) : NULL;
    ok = ok && y->ndim == want_rank && ladle_tensor_numel(y) == yn;
    for (int64_t i = 0; ok && i < yn; i++)
      if (!close_to(((const float *)y->data)[i], want[i], mag[i])) {
        fprintf(stderr, "matmul: element %lld: got %.7g want %.7g (threads %d)\n", (long long)i,
                ((const float *)y->data)[i], want[i], threads);
        ok = false;
      }
    ladle_session_free(s);
  }
  if (!ok) {
    fprintf(stderr, "  matmul case: A [");
    for (int d = 0; d < na; d++) fprintf(stderr, "%s%lld", d ? "," : "", (long long)ad[d]);
    fprintf(stderr, "] B [");
    for (int d = 0; d < nb; d++) fprintf(stderr, "%s%lld", d ? "," : "", (long long)bd[d]);
    fprintf(stderr, "] b_init=%d\n", b_init);
  }
  ladle_model_free(m);
  free(want);
  free(mag);
  free(data[0]);
  free(data[1]);
  return ok;
}

static void test_matmul_random(void) {
  int bad = 0, ran = 0;
  for (int t = 0; t < 120; t++) {
    int na = (int)rint_in(1, 4), nb = (int)rint_in(1, 4);
    int64_t ad[4], bd[4];
    bool big = t % 12 == 0;
    int64_t M = big ? rint_in(40, 120) : rint_in(1, 20), K = big ? rint_in(100, 400) : rint_in(1, 40);
    int64_t N = big ? rint_in(50, 200) : rint_in(1, 70);
    int abn = na > 2 ? na - 2 : 0, bbn = nb > 2 ? nb - 2 : 0, obn = abn > bbn ? abn : bbn;
    int64_t bat[2];
    for (int d = 0; d < obn; d++) bat[d] = rint_in(1, 3);
    for (int d = 0; d < abn; d++) ad[d] = rnd() % 3 == 0 ? 1 : bat[d + obn - abn];
    for (int d = 0; d < bbn; d++) bd[d] = rnd() % 3 == 0 ? 1 : bat[d + obn - bbn];
    if (na == 1) ad[0] = K;
    else ad[na - 2] = M, ad[na - 1] = K;
    if (nb == 1) bd[0] = K;
    else bd[nb - 2] = K, bd[nb - 1] = N;
    ran++;
    if (!matmul_case(na, ad, nb, bd, nb == 2 && rnd() % 2 == 0)) bad++;
  }
  printf("  %-16s %d cases, %d mismatched\n", "matmul", ran, bad);
  CHECK(bad == 0);
}

static void test_errors(void) {
  float a[12] = {0}, b[12] = {0};
  float *data[2] = {a, b};
  tin g_ins[2] = {{"a", LADLE_FLOAT, 2, {3, 4}, NULL, false},
                  {"b", LADLE_FLOAT, 2, {3, 4}, NULL, false}};
  ladle_model *m = build("Gemm", 2, g_ins, 0, NULL, NULL, 0, 0, 1);
  ladle_session *s = NULL;
  CHECK(m && run(m, 1, 2, g_ins, data, &s) == LADLE_ERR_SHAPE);
  ladle_session_free(s);
  ladle_model_free(m);
  tin m_ins[2] = {{"a", LADLE_FLOAT, 3, {2, 2, 3}, NULL, false},
                  {"b", LADLE_FLOAT, 3, {3, 2, 2}, NULL, false}};
  m = build("MatMul", 2, m_ins, 0, NULL, NULL, 0, 0, 1);
  s = NULL;
  CHECK(m && run(m, 1, 2, m_ins, data, &s) == LADLE_ERR_SHAPE); /* batch 2 vs 3 */
  ladle_session_free(s);
  ladle_model_free(m);
}

int main(void) {
  test_gemm_random();
  test_matmul_random();
  test_errors();
  return check_done("test_gemm");
}

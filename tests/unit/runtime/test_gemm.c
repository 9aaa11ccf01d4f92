/* test_gemm.c — what the ONNX conformance data does not cover for the gemm family (gemm.c and
 * the GEMM engine in it):
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
#include "onnx.pb-c.h"

/* --- random numbers ------------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rfloat(void) { return (float)((int32_t)(rnd() % 20001) - 10000) / 10000.0f; }

static float *rand_buf(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = rfloat();
  return p;
}

/* --- building one-node models (with an optional fused activation) -------------------------- */

typedef struct attr_spec {
  const char *name;
  int type; /* ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__* */
  int64_t i;
  float f;
  const char *s;
  int n;
  const int64_t *ints;
} attr_spec;

typedef struct tin {
  const char *name;
  int nd;
  int64_t dims[8];
  const float *data; /* for initializers */
  bool init;         /* an initializer rather than a graph input */
} tin;

#define MAXT 8

/* op(ins...) -> y0 [, y1]; with act ("Relu", "Clip", "LeakyRelu") the graph output y is
 * act(y0). Returns NULL on load failure (message printed). */
static ladle_model *build(const char *op, int n_in, const tin *ins, int n_attr,
                          const attr_spec *attrs, const char *act, float a0, float a1, int n_out) {
  Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
  Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = {&opset};
  Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
  Onnx__NodeProto nodes[2] = {ONNX__NODE_PROTO__INIT, ONNX__NODE_PROTO__INIT};
  Onnx__NodeProto *nodep[2] = {&nodes[0], &nodes[1]};
  Onnx__AttributeProto at[16], *atp[16], aat, *aatp[1] = {&aat};
  Onnx__TensorProto inits[MAXT + 2], *initp[MAXT + 2];
  Onnx__ValueInfoProto vi[MAXT + 2], *vin[MAXT + 2], *vout[2];
  Onnx__TypeProto ty[MAXT + 2];
  Onnx__TypeProto__Tensor tt[MAXT + 2];
  Onnx__TensorShapeProto sh[MAXT + 2];
  Onnx__TensorShapeProto__Dimension dim[MAXT + 2][8], *dimp[MAXT + 2][8];
  const char *in_names[MAXT], *op_out[2] = {"y0", "y1"}, *act_in[3] = {"y0", "clip_lo", "clip_hi"};
  const char *final_out[2] = {"y", "y1"};
  float lohi[2] = {a0, a1};
  int n_init = 0, n_vin = 0;
  model.has_ir_version = 1;
  model.ir_version = 8;
  opset.domain = "";
  opset.has_version = 1;
  opset.version = 13;
  model.n_opset_import = 1;
  model.opset_import = opsets;
  model.graph = &graph;
  graph.name = "g";
  for (int i = 0; i < n_in; i++) {
    in_names[i] = ins[i].name;
    if (!ins[i].name[0]) continue; /* an omitted optional input */
    if (ins[i].init) {
      Onnx__TensorProto *t = &inits[n_init];
      onnx__tensor_proto__init(t);
      t->name = (char *)ins[i].name;
      t->has_data_type = 1;
      t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
      t->n_dims = (size_t)ins[i].nd;
      t->dims = (int64_t *)ins[i].dims;
      int64_t n = 1;
      for (int d = 0; d < ins[i].nd; d++) n *= ins[i].dims[d];
      t->n_float_data = (size_t)n;
      t->float_data = (float *)ins[i].data;
      initp[n_init] = t;
      n_init++;
      continue;
    }
    int v = n_vin;
    onnx__tensor_shape_proto__init(&sh[v]);
    for (int d = 0; d < ins[i].nd; d++) {
      onnx__tensor_shape_proto__dimension__init(&dim[v][d]);
      dim[v][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim[v][d].dim_value = ins[i].dims[d];
      dimp[v][d] = &dim[v][d];
    }
    sh[v].n_dim = (size_t)ins[i].nd;
    sh[v].dim = dimp[v];
    onnx__type_proto__tensor__init(&tt[v]);
    tt[v].has_elem_type = 1;
    tt[v].elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt[v].shape = &sh[v];
    onnx__type_proto__init(&ty[v]);
    ty[v].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty[v].tensor_type = &tt[v];
    onnx__value_info_proto__init(&vi[v]);
    vi[v].name = (char *)ins[i].name;
    vi[v].type = &ty[v];
    vin[v] = &vi[v];
    n_vin++;
  }
  bool clip = act && strcmp(act, "Clip") == 0;
  int64_t scalar_dims[1] = {0};
  if (clip) { /* Clip-13 reads min and max from constant inputs */
    for (int k = 0; k < 2; k++) {
      Onnx__TensorProto *t = &inits[n_init];
      onnx__tensor_proto__init(t);
      t->name = (char *)act_in[1 + k];
      t->has_data_type = 1;
      t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
      t->n_dims = 0;
      t->dims = scalar_dims;
      t->n_float_data = 1;
      t->float_data = &lohi[k];
      initp[n_init++] = t;
    }
  }
  for (int k = 0; k < n_out; k++) { /* outputs: type only */
    int v = MAXT + k;
    onnx__type_proto__tensor__init(&tt[v]);
    tt[v].has_elem_type = 1;
    tt[v].elem_type = k == 0 ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    onnx__type_proto__init(&ty[v]);
    ty[v].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty[v].tensor_type = &tt[v];
    onnx__value_info_proto__init(&vi[v]);
    vi[v].name = (char *)(act || k ? final_out[k] : op_out[k]);
    vi[v].type = &ty[v];
    vout[k] = &vi[v];
  }
  graph.n_input = (size_t)n_vin;
  graph.input = vin;
  graph.n_output = (size_t)n_out;
  graph.output = vout;
  graph.n_initializer = (size_t)n_init;
  graph.initializer = initp;
  for (int i = 0; i < n_attr; i++) {
    onnx__attribute_proto__init(&at[i]);
    at[i].name = (char *)attrs[i].name;
    at[i].has_type = 1;
    at[i].type = attrs[i].type;
    switch (attrs[i].type) {
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: at[i].has_i = 1, at[i].i = attrs[i].i; break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: at[i].has_f = 1, at[i].f = attrs[i].f; break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        at[i].has_s = 1;
        at[i].s.data = (uint8_t *)attrs[i].s;
        at[i].s.len = strlen(attrs[i].s);
        break;
      case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        at[i].n_ints = (size_t)attrs[i].n;
        at[i].ints = (int64_t *)attrs[i].ints;
        break;
      default: break;
    }
    atp[i] = &at[i];
  }
  nodes[0].op_type = (char *)op;
  nodes[0].name = "op";
  nodes[0].n_input = (size_t)n_in;
  nodes[0].input = (char **)in_names;
  nodes[0].n_output = (size_t)n_out;
  nodes[0].output = (char **)op_out;
  nodes[0].n_attribute = (size_t)n_attr;
  nodes[0].attribute = atp;
  graph.n_node = 1;
  graph.node = nodep;
  if (act) {
    nodes[1].op_type = (char *)act;
    nodes[1].name = "act";
    nodes[1].n_input = clip ? 3 : 1;
    nodes[1].input = (char **)act_in;
    nodes[1].n_output = 1;
    nodes[1].output = (char **)final_out;
    if (strcmp(act, "LeakyRelu") == 0) {
      onnx__attribute_proto__init(&aat);
      aat.name = "alpha";
      aat.has_type = 1;
      aat.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
      aat.has_f = 1;
      aat.f = a0;
      nodes[1].n_attribute = 1;
      nodes[1].attribute = aatp;
    }
    graph.n_node = 2;
  }
  size_t len = onnx__model_proto__get_packed_size(&model);
  unsigned char *buf = malloc(len);
  ladle_model *m = NULL;
  char err[512];
  onnx__model_proto__pack(&model, buf);
  if (ladle_model_load_buffer(buf, len, NULL, &m, err, sizeof err) != LADLE_OK) {
    fprintf(stderr, "load %s: %s\n", op, err);
    m = NULL;
  }
  free(buf);
  return m;
}

/* Runs m on its graph inputs (in order of ins, initializers skipped). Returns the status; the
 * session is returned in *out_s for reading outputs (caller frees). */
static ladle_status run(ladle_model *m, int threads, int n_in, const tin *ins, float **data,
                        ladle_session **out_s) {
  ladle_tensor t[MAXT];
  const char *names[MAXT];
  int n = 0;
  for (int i = 0; i < n_in; i++) {
    if (ins[i].init || !ins[i].name[0]) continue;
    memset(&t[n], 0, sizeof t[n]);
    t[n].dtype = LADLE_FLOAT;
    t[n].ndim = ins[i].nd;
    memcpy(t[n].dims, ins[i].dims, sizeof(int64_t) * (size_t)ins[i].nd);
    t[n].data = data[i];
    names[n] = ins[i].name;
    n++;
  }
  ladle_session *s = ladle_session_new(m, threads);
  ladle_status st = ladle_session_run(s, n, names, t);
  if (st && getenv("TEST_VERBOSE")) fprintf(stderr, "run: %s\n", ladle_session_errmsg(s));
  *out_s = s;
  return st;
}

/* --- activations ---------------------------------------------------------------------------- */

typedef struct act_case {
  const char *op;
  float a, b;
} act_case;

static const act_case acts[] = {{NULL, 0, 0}, {"Relu", 0, 0}, {"Clip", -0.3f, 0.4f}, {"LeakyRelu", 0.1f, 0}};

static double act_ref(const act_case *a, double x) {
  if (!a->op) return x;
  if (!strcmp(a->op, "Relu")) return x > 0 ? x : 0;
  if (!strcmp(a->op, "Clip")) return x < a->a ? a->a : (x > a->b ? a->b : x);
  return x >= 0 ? x : a->a * x;
}

/* |got - want| within what float accumulation of terms summing to `mag` allows. */
static bool close_to(double got, double want, double mag) {
  return fabs(got - want) <= 2e-6 * mag + 1e-6 || (isnan(got) && isnan(want));
}

/* --- Gemm ----------------------------------------------------------------------------------- */

/* c_kind: 0 none, 1 scalar [], 2 [1], 3 [N], 4 [1,N], 5 [M,1], 6 [M,N] */
static bool gemm_case(int64_t M, int64_t N, int64_t K, bool ta, bool tb, float alpha, float beta,
                      int c_kind, bool b_init, const act_case *act) {
  tin ins[3];
  memset(ins, 0, sizeof ins);
  ins[0] = ta ? (tin){"a", 2, {K, M}, NULL, false} : (tin){"a", 2, {M, K}, NULL, false};
  ins[1] = tb ? (tin){"b", 2, {N, K}, NULL, b_init} : (tin){"b", 2, {K, N}, NULL, b_init};
  int64_t cm = 1, cn = 1;
  switch (c_kind) {
    case 1: ins[2] = (tin){"c", 0, {0}, NULL, false}; break;
    case 2: ins[2] = (tin){"c", 1, {1}, NULL, false}; break;
    case 3: ins[2] = (tin){"c", 1, {N}, NULL, false}, cn = N; break;
    case 4: ins[2] = (tin){"c", 2, {1, N}, NULL, false}, cn = N; break;
    case 5: ins[2] = (tin){"c", 2, {M, 1}, NULL, false}, cm = M; break;
    case 6: ins[2] = (tin){"c", 2, {M, N}, NULL, false}, cm = M, cn = N; break;
    default: break;
  }
  float *data[3] = {rand_buf(M * K), rand_buf(K * N), rand_buf(cm * cn)};
  ins[1].data = data[1];
  attr_spec at[4] = {
      {"transA", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, ta, 0, NULL, 0, NULL},
      {"transB", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, tb, 0, NULL, 0, NULL},
      {"alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, 0, alpha, NULL, 0, NULL},
      {"beta", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, 0, beta, NULL, 0, NULL},
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
  ins[0] = (tin){"a", na, {0}, NULL, false};
  ins[1] = (tin){"b", nb, {0}, NULL, b_init};
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
  tin g_ins[2] = {{"a", 2, {3, 4}, NULL, false}, {"b", 2, {3, 4}, NULL, false}};
  ladle_model *m = build("Gemm", 2, g_ins, 0, NULL, NULL, 0, 0, 1);
  ladle_session *s = NULL;
  CHECK(m && run(m, 1, 2, g_ins, data, &s) == LADLE_ERR_SHAPE);
  ladle_session_free(s);
  ladle_model_free(m);
  tin m_ins[2] = {{"a", 3, {2, 2, 3}, NULL, false}, {"b", 3, {3, 2, 2}, NULL, false}};
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

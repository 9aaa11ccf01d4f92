/* nn_build.h — shared by the gemm and conv unit tests: a seeded random-number source and
 * helpers that build one-node ONNX models in memory with the generated protobuf-c code, load
 * them and run them. Included by one test file each (static helpers, one copy per test). */
#ifndef LADLE_TESTS_NN_BUILD_H
#define LADLE_TESTS_NN_BUILD_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladle/ladle.h"
#include "onnx.pb-c.h"

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

#endif

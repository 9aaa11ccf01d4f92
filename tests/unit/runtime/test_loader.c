/* test_loader.c — the loader and session refuse bad models and bad inputs with clear messages.
 * Models are built here with the generated protobuf-c code for onnx.proto, so each case is
 * exactly the malformation it names. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "onnx.pb-c.h"

typedef struct fixture {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset, *opsets[1];
  Onnx__ValueInfoProto in, out, *ins[1], *outs[1];
  Onnx__TypeProto in_type, out_type;
  Onnx__TypeProto__Tensor in_tt, out_tt;
  Onnx__TensorShapeProto shape;
  Onnx__TensorShapeProto__Dimension d0, d1, *dims[2];
  Onnx__NodeProto node, *nodes[1];
  char *node_in[1], *node_out[1];
  Onnx__TensorProto init, *inits[1];
  Onnx__StringStringEntryProto ext[2], *exts[2];
  float weights[6];
} fixture;

/* y = OP(x) over x: float[2,3]; with op NULL, the graph output is the input itself. */
static void build(fixture *f, const char *op, const char *output) {
  memset(f, 0, sizeof *f);
  onnx__model_proto__init(&f->model);
  onnx__graph_proto__init(&f->graph);
  onnx__operator_set_id_proto__init(&f->opset);
  f->opset.domain = "";
  f->opset.has_version = 1;
  f->opset.version = 13;
  f->opsets[0] = &f->opset;
  f->model.has_ir_version = 1;
  f->model.ir_version = 7;
  f->model.n_opset_import = 1;
  f->model.opset_import = f->opsets;
  f->model.graph = &f->graph;
  f->graph.name = "g";
  onnx__tensor_shape_proto__dimension__init(&f->d0);
  onnx__tensor_shape_proto__dimension__init(&f->d1);
  f->d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  f->d0.dim_value = 2;
  f->d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  f->d1.dim_value = 3;
  f->dims[0] = &f->d0;
  f->dims[1] = &f->d1;
  onnx__tensor_shape_proto__init(&f->shape);
  f->shape.n_dim = 2;
  f->shape.dim = f->dims;
  onnx__type_proto__tensor__init(&f->in_tt);
  f->in_tt.has_elem_type = 1;
  f->in_tt.elem_type = 1;
  f->in_tt.shape = &f->shape;
  onnx__type_proto__init(&f->in_type);
  f->in_type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  f->in_type.tensor_type = &f->in_tt;
  onnx__value_info_proto__init(&f->in);
  f->in.name = "x";
  f->in.type = &f->in_type;
  f->ins[0] = &f->in;
  f->graph.n_input = 1;
  f->graph.input = f->ins;
  f->out_tt = f->in_tt;
  f->out_type = f->in_type;
  f->out_type.tensor_type = &f->out_tt;
  onnx__value_info_proto__init(&f->out);
  f->out.name = (char *)output;
  f->out.type = &f->out_type;
  f->outs[0] = &f->out;
  f->graph.n_output = 1;
  f->graph.output = f->outs;
  if (op) {
    onnx__node_proto__init(&f->node);
    f->node.op_type = (char *)op;
    f->node.name = "the_node";
    f->node_in[0] = "x";
    f->node_out[0] = (char *)output;
    f->node.n_input = 1;
    f->node.input = f->node_in;
    f->node.n_output = 1;
    f->node.output = f->node_out;
    f->nodes[0] = &f->node;
    f->graph.n_node = 1;
    f->graph.node = f->nodes;
  }
}

/* Adds initializer "w" float[2,3] stored externally at `location`. */
static void add_external(fixture *f, const char *location) {
  onnx__tensor_proto__init(&f->init);
  f->init.name = "w";
  f->init.has_data_type = 1;
  f->init.data_type = 1;
  static int64_t dims[2] = {2, 3};
  f->init.n_dims = 2;
  f->init.dims = dims;
  f->init.has_data_location = 1;
  f->init.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  onnx__string_string_entry_proto__init(&f->ext[0]);
  f->ext[0].key = "location";
  f->ext[0].value = (char *)location;
  f->exts[0] = &f->ext[0];
  f->init.n_external_data = 1;
  f->init.external_data = f->exts;
  f->inits[0] = &f->init;
  f->graph.n_initializer = 1;
  f->graph.initializer = f->inits;
}

static ladle_status load(fixture *f, const char *dir, char *err, size_t len, ladle_model **m) {
  size_t n = onnx__model_proto__get_packed_size(&f->model);
  unsigned char *buf = malloc(n);
  onnx__model_proto__pack(&f->model, buf);
  char path[512];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  FILE *fp = fopen(path, "wb");
  fwrite(buf, 1, n, fp);
  fclose(fp);
  free(buf);
  *m = NULL;
  return ladle_model_load(path, NULL, m, err, len);
}

int main(void) {
  char dir[] = "/tmp/ladle-test-loader-XXXXXX", err[1024], path[600];
  fixture f;
  ladle_model *m = NULL;
  CHECK(mkdtemp(dir) != NULL);

  /* unsupported op: the message names op, domain, opset and node */
  build(&f, "NoSuchOp", "y");
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_UNSUPPORTED);
  CHECK(strstr(err, "NoSuchOp") && strstr(err, "ai.onnx") && strstr(err, "13") &&
        strstr(err, "the_node"));

  /* external data escaping the model folder, three ways */
  build(&f, NULL, "w");
  add_external(&f, "../secret.bin");
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_INVALID && strstr(err, "escapes"));
  add_external(&f, "/etc/passwd");
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_INVALID && strstr(err, "escapes"));
  snprintf(path, sizeof path, "%s/link.bin", dir);
  CHECK(symlink("/etc/passwd", path) == 0);
  add_external(&f, "link.bin");
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_INVALID && strstr(err, "escapes"));

  /* external data inside the folder loads, and a graph output can be the initializer itself */
  float w[6] = {1, 2, 3, 4, 5, 6};
  snprintf(path, sizeof path, "%s/w.bin", dir);
  FILE *fp = fopen(path, "wb");
  fwrite(w, 1, sizeof w, fp);
  fclose(fp);
  add_external(&f, "w.bin");
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_OK);
  if (m) {
    ladle_session *s = ladle_session_new(m, 1);
    ladle_tensor x = {LADLE_FLOAT, 2, {2, 3}, w};
    const char *name = "x";
    CHECK(ladle_session_run(s, 1, &name, &x) == LADLE_OK);
    const ladle_tensor *y = ladle_session_output(s, 0);
    CHECK(y && y->ndim == 2 && memcmp(y->data, w, sizeof w) == 0);
    ladle_session_free(s);
    ladle_model_free(m);
  }
  /* shorter file than the tensor */
  fp = fopen(path, "wb");
  fwrite(w, 1, 8, fp);
  fclose(fp);
  CHECK(load(&f, dir, err, sizeof err, &m) != LADLE_OK && strstr(err, "shorter"));

  /* run-time input checks on y = x */
  build(&f, NULL, "x");
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_OK);
  if (m) {
    ladle_session *s = ladle_session_new(m, 1);
    float data[8] = {0};
    const char *good = "x", *bad = "z";
    ladle_tensor x = {LADLE_FLOAT, 2, {2, 3}, data};
    CHECK(ladle_session_run(s, 1, &bad, &x) == LADLE_ERR_NOT_FOUND);
    CHECK(strstr(ladle_session_errmsg(s), "'z'") && strstr(ladle_session_errmsg(s), "'x'"));
    ladle_tensor xi = {LADLE_INT64, 2, {2, 3}, data};
    CHECK(ladle_session_run(s, 1, &good, &xi) == LADLE_ERR_DTYPE);
    CHECK(strstr(ladle_session_errmsg(s), "expected float32, got int64") != NULL);
    ladle_tensor xs = {LADLE_FLOAT, 2, {2, 4}, data};
    CHECK(ladle_session_run(s, 1, &good, &xs) == LADLE_ERR_SHAPE);
    CHECK(strstr(ladle_session_errmsg(s), "expected shape [2,3], got [2,4]") != NULL);
    CHECK(ladle_session_run(s, 0, NULL, NULL) == LADLE_ERR_INVALID);
    CHECK(strstr(ladle_session_errmsg(s), "missing input 'x'") != NULL);
    CHECK(ladle_session_run(s, 1, &good, &x) == LADLE_OK);
    ladle_session_free(s);
    ladle_model_free(m);
  }

  /* every truncation of a valid model fails cleanly (or, rarely, still parses) */
  size_t n = onnx__model_proto__get_packed_size(&f.model);
  unsigned char *buf = malloc(n);
  onnx__model_proto__pack(&f.model, buf);
  for (size_t cut = 0; cut < n; cut++) {
    m = NULL;
    ladle_status st = ladle_model_load_buffer(buf, cut, NULL, &m, err, sizeof err);
    CHECK(st == LADLE_OK ? m != NULL : m == NULL);
    ladle_model_free(m);
  }
  free(buf);

  /* an initializer whose dims claim ~4 TB with no data behind them: refused before allocating */
  build(&f, NULL, "w");
  onnx__tensor_proto__init(&f.init);
  static int64_t huge_dims[2] = {1000000, 1000000};
  f.init.name = "w";
  f.init.has_data_type = 1;
  f.init.data_type = 1;
  f.init.n_dims = 2;
  f.init.dims = huge_dims;
  f.inits[0] = &f.init;
  f.graph.n_initializer = 1;
  f.graph.initializer = f.inits;
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_PARSE && strstr(err, "0 values"));
  f.init.has_raw_data = 1;
  f.init.raw_data.len = 8;
  f.init.raw_data.data = (uint8_t *)"12345678";
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_PARSE && strstr(err, "raw_data has 8 bytes"));

  /* a value declared twice with symbolic dims (graph input that is also the output): its dim
   * names are replaced, not leaked (LeakSanitizer checks this in the ASan build; found by fuzzing) */
  build(&f, NULL, "x");
  f.d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  f.d0.dim_param = "batch";
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_OK);
  CHECK(m && ladle_model_input_dim_name(m, 0, 0) && !strcmp(ladle_model_input_dim_name(m, 0, 0), "batch"));
  ladle_model_free(m);

  /* unsupported IR version */
  build(&f, NULL, "x");
  f.model.ir_version = 2;
  CHECK(load(&f, dir, err, sizeof err, &m) == LADLE_ERR_UNSUPPORTED && strstr(err, "IR version 2"));

  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return check_done("test_loader");
}

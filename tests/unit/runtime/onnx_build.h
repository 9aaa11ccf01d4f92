/* onnx_build.h — the runtime unit tests build their small ONNX models in memory with the
 * generated protobuf-c code (onnx.pb-c.h) and load them through ladle's public API. This header
 * is that one piece of code, shared instead of copied into each test:
 *   - attr_spec: a node attribute of any kind the tests use (A_INT ... A_TENSOR);
 *   - model_builder: a model assembled from graph inputs, outputs, initializers and up to two
 *     nodes, then packed and loaded (mb_init ... mb_load);
 *   - tin: a node input (graph input or initializer) to build with (mb_tins) and feed
 *     (run_tins);
 *   - node_model / run_op / done: the common case of one node with inputs i0.. and outputs o0...
 * Included by one test file each, so the helpers are static; they are also inline because not
 * every test uses every helper (-Wunused-function stays quiet). */
#ifndef LADLE_TESTS_ONNX_BUILD_H
#define LADLE_TESTS_ONNX_BUILD_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladle/ladle.h"
#include "onnx.pb-c.h"

/* --- attributes ----------------------------------------------------------------------------- */

/* Short names for the attribute kinds (the ONNX enum values themselves, so a spec can name its
 * kind either way). */
enum {
  A_INT = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT,
  A_FLOAT = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT,
  A_STR = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING,
  A_TENSOR = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR,
  A_INTS = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS,
  A_FLOATS = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS,
  A_STRS = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS,
};

/* One attribute: its name, kind and the field that kind reads, written
 * {"axis", A_INT, .i = 1} or {"perm", A_INTS, .ints = perm, .n = 4}. A_TENSOR is a 1-D double
 * tensor of n values when ds is set, else a scalar int64 tensor holding i. */
typedef struct attr_spec {
  const char *name;
  int type; /* A_* */
  int64_t i;
  float f;
  const char *s;
  int n; /* how many values A_INTS / A_FLOATS / A_STRS / a double A_TENSOR hold */
  const int64_t *ints;
  const float *fs;
  const char *const *strs;
  const double *ds;
} attr_spec;

/* --- a model built piece by piece ----------------------------------------------------------- */

#define MB_MAX_OPSETS 2
#define MB_MAX_NODES 2
#define MB_MAX_VALUES 24 /* graph inputs and outputs together */
#define MB_MAX_INITS 12
#define MB_MAX_ATTRS 32 /* over all nodes */
#define MB_MAX_DIMS 8

/* The protobuf messages of one model. Every repeated field keeps the order its pieces were added
 * in, so a model is serialized byte for byte as the calls describe it. The builder points at the
 * caller's names, dims and data: they must stay valid until mb_load. */
typedef struct model_builder {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset[MB_MAX_OPSETS], *opsetp[MB_MAX_OPSETS];
  Onnx__NodeProto node[MB_MAX_NODES], *nodep[MB_MAX_NODES];
  Onnx__AttributeProto attr[MB_MAX_ATTRS], *attrp[MB_MAX_ATTRS];
  Onnx__TensorProto attr_tensor[MB_MAX_ATTRS];
  int64_t attr_value[MB_MAX_ATTRS], attr_dim[MB_MAX_ATTRS];
  ProtobufCBinaryData *attr_strs[MB_MAX_ATTRS]; /* heap: freed by mb_load */
  Onnx__TensorProto init[MB_MAX_INITS], *initp[MB_MAX_INITS];
  Onnx__ValueInfoProto vi[MB_MAX_VALUES], *inp[MB_MAX_VALUES], *outp[MB_MAX_VALUES];
  Onnx__TypeProto ty[MB_MAX_VALUES];
  Onnx__TypeProto__Tensor tt[MB_MAX_VALUES];
  Onnx__TensorShapeProto sh[MB_MAX_VALUES];
  Onnx__TensorShapeProto__Dimension dim[MB_MAX_VALUES][MB_MAX_DIMS];
  Onnx__TensorShapeProto__Dimension *dimp[MB_MAX_VALUES][MB_MAX_DIMS];
  int n_vi, n_attr;
} model_builder;

/* Imports `domain` at `version` (after the default domain, which mb_init imports). */
static inline void mb_import(model_builder *b, const char *domain, int version) {
  size_t k = b->model.n_opset_import++;
  assert(k < MB_MAX_OPSETS);
  onnx__operator_set_id_proto__init(&b->opset[k]);
  b->opset[k].domain = (char *)domain;
  b->opset[k].has_version = 1;
  b->opset[k].version = version;
  b->opsetp[k] = &b->opset[k];
}

/* Starts an IR 8 model with graph "g" importing the default domain at `opset`. */
static inline void mb_init(model_builder *b, int opset) {
  memset(b, 0, sizeof *b);
  onnx__model_proto__init(&b->model);
  onnx__graph_proto__init(&b->graph);
  b->model.has_ir_version = 1;
  b->model.ir_version = 8;
  b->model.opset_import = b->opsetp;
  b->model.graph = &b->graph;
  b->graph.name = "g";
  b->graph.node = b->nodep;
  b->graph.input = b->inp;
  b->graph.output = b->outp;
  b->graph.initializer = b->initp;
  mb_import(b, "", opset);
}

/* A value info of tensor type elem_type; with nd >= 0 the type carries that shape (an empty
 * one for a scalar), with nd < 0 the shape is left open. */
static inline Onnx__ValueInfoProto *mb_value(model_builder *b, const char *name, int elem_type,
                                             int nd, const int64_t *dims) {
  int v = b->n_vi++;
  assert(v < MB_MAX_VALUES && nd <= MB_MAX_DIMS);
  if (nd >= 0) {
    onnx__tensor_shape_proto__init(&b->sh[v]);
    for (int d = 0; d < nd; d++) {
      onnx__tensor_shape_proto__dimension__init(&b->dim[v][d]);
      b->dim[v][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      b->dim[v][d].dim_value = dims[d];
      b->dimp[v][d] = &b->dim[v][d];
    }
    b->sh[v].n_dim = (size_t)nd;
    b->sh[v].dim = b->dimp[v];
  }
  onnx__type_proto__tensor__init(&b->tt[v]);
  b->tt[v].has_elem_type = 1;
  b->tt[v].elem_type = elem_type;
  b->tt[v].shape = nd >= 0 ? &b->sh[v] : NULL;
  onnx__type_proto__init(&b->ty[v]);
  b->ty[v].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  b->ty[v].tensor_type = &b->tt[v];
  onnx__value_info_proto__init(&b->vi[v]);
  b->vi[v].name = (char *)name;
  b->vi[v].type = &b->ty[v];
  return &b->vi[v];
}

/* A graph input of tensor type elem_type (shape as in mb_value). */
static inline void mb_input(model_builder *b, const char *name, int elem_type, int nd,
                            const int64_t *dims) {
  b->inp[b->graph.n_input++] = mb_value(b, name, elem_type, nd, dims);
}

/* A graph output: of tensor type elem_type without a shape, or with no type at all when
 * elem_type is 0 (the loader infers it). */
static inline void mb_output(model_builder *b, const char *name, int elem_type) {
  Onnx__ValueInfoProto *vi;
  if (elem_type) {
    vi = mb_value(b, name, elem_type, -1, NULL);
  } else {
    int v = b->n_vi++;
    assert(v < MB_MAX_VALUES);
    vi = &b->vi[v];
    onnx__value_info_proto__init(vi);
    vi->name = (char *)name;
  }
  b->outp[b->graph.n_output++] = vi;
}

/* Graph inputs in_names of in_types (shapes left open) and outputs out_names of out_types
 * (untyped when out_types is NULL). An empty name is an omitted optional value: it stays in the
 * node's lists but is no graph input or output. */
static inline void mb_io(model_builder *b, int n_in, const char *const *in_names,
                         const int *in_types, int n_out, const char *const *out_names,
                         const int *out_types) {
  for (int i = 0; i < n_in; i++)
    if (in_names[i][0]) mb_input(b, in_names[i], in_types[i], -1, NULL);
  for (int i = 0; i < n_out; i++)
    if (out_names[i][0]) mb_output(b, out_names[i], out_types ? out_types[i] : 0);
}

/* An initializer's header (name, dtype, dims); the two below add its data. */
static inline Onnx__TensorProto *mb_initializer(model_builder *b, const char *name, int dtype,
                                                int nd, const int64_t *dims) {
  size_t k = b->graph.n_initializer++;
  assert(k < MB_MAX_INITS);
  Onnx__TensorProto *t = &b->init[k];
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1;
  t->data_type = dtype;
  t->n_dims = (size_t)nd;
  t->dims = (int64_t *)dims;
  b->initp[k] = t;
  return t;
}

static inline int64_t mb_numel(int nd, const int64_t *dims) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= dims[d];
  return n;
}

/* A float initializer stored in float_data. */
static inline void mb_initializer_floats(model_builder *b, const char *name, int nd,
                                         const int64_t *dims, const float *data) {
  Onnx__TensorProto *t = mb_initializer(b, name, LADLE_FLOAT, nd, dims);
  t->n_float_data = (size_t)mb_numel(nd, dims);
  t->float_data = (float *)data;
}

/* An initializer of any fixed-size dtype stored as raw_data. */
static inline void mb_initializer_raw(model_builder *b, const char *name, int dtype, int nd,
                                      const int64_t *dims, const void *data) {
  Onnx__TensorProto *t = mb_initializer(b, name, dtype, nd, dims);
  t->has_raw_data = 1;
  t->raw_data.len = (size_t)mb_numel(nd, dims) * ladle_dtype_size(dtype);
  t->raw_data.data = (uint8_t *)data;
}

/* The next attribute of the node mb_node is adding. */
static inline void mb_attr(model_builder *b, const attr_spec *s) {
  int k = b->n_attr++;
  assert(k < MB_MAX_ATTRS);
  Onnx__AttributeProto *a = &b->attr[k];
  onnx__attribute_proto__init(a);
  a->name = (char *)s->name;
  a->has_type = 1;
  a->type = s->type;
  switch (s->type) {
    case A_INT:
      a->has_i = 1;
      a->i = s->i;
      break;
    case A_FLOAT:
      a->has_f = 1;
      a->f = s->f;
      break;
    case A_STR:
      a->has_s = 1;
      a->s.data = (uint8_t *)s->s;
      a->s.len = strlen(s->s);
      break;
    case A_INTS:
      a->n_ints = (size_t)s->n;
      a->ints = (int64_t *)s->ints;
      break;
    case A_FLOATS:
      a->n_floats = (size_t)s->n;
      a->floats = (float *)s->fs;
      break;
    case A_STRS:
      b->attr_strs[k] = calloc((size_t)s->n + 1, sizeof *b->attr_strs[k]);
      for (int j = 0; j < s->n; j++) {
        b->attr_strs[k][j].data = (uint8_t *)s->strs[j];
        b->attr_strs[k][j].len = strlen(s->strs[j]);
      }
      a->n_strings = (size_t)s->n;
      a->strings = b->attr_strs[k];
      break;
    case A_TENSOR: {
      Onnx__TensorProto *t = &b->attr_tensor[k];
      onnx__tensor_proto__init(t);
      t->has_data_type = 1;
      if (s->ds) {
        t->data_type = LADLE_DOUBLE;
        b->attr_dim[k] = s->n;
        t->n_dims = 1;
        t->dims = &b->attr_dim[k];
        t->n_double_data = (size_t)s->n;
        t->double_data = (double *)s->ds;
      } else {
        t->data_type = LADLE_INT64;
        b->attr_value[k] = s->i;
        t->n_int64_data = 1;
        t->int64_data = &b->attr_value[k];
      }
      a->t = t;
      break;
    }
    default: /* no test sets another kind: the type alone */
      break;
  }
  b->attrp[k] = a;
}

/* Appends a node `op` of `domain` (NULL: the default domain, left unset) named `name`. */
static inline void mb_node(model_builder *b, const char *op, const char *domain, const char *name,
                           int n_in, const char *const *in, int n_out, const char *const *out,
                           int n_attr, const attr_spec *attrs) {
  size_t k = b->graph.n_node++;
  assert(k < MB_MAX_NODES);
  Onnx__NodeProto *node = &b->node[k];
  onnx__node_proto__init(node);
  node->op_type = (char *)op;
  node->domain = (char *)domain;
  node->name = (char *)name;
  node->n_input = (size_t)n_in;
  node->input = (char **)in;
  node->n_output = (size_t)n_out;
  node->output = (char **)out;
  node->n_attribute = (size_t)n_attr;
  node->attribute = &b->attrp[b->n_attr];
  for (int i = 0; i < n_attr; i++) mb_attr(b, &attrs[i]);
  b->nodep[k] = node;
}

/* Packs the model and loads it into *m; the status comes back, the loader's message in err.
 * Ends the builder (what it allocated is freed). */
static inline ladle_status mb_load(model_builder *b, ladle_model **m, char *err, size_t err_len) {
  size_t len = onnx__model_proto__get_packed_size(&b->model);
  unsigned char *buf = malloc(len);
  onnx__model_proto__pack(&b->model, buf);
  for (int k = 0; k < b->n_attr; k++) free(b->attr_strs[k]);
  *m = NULL;
  ladle_status st = ladle_model_load_buffer(buf, len, NULL, m, err, err_len);
  free(buf);
  return st;
}

/* --- inputs described once, for building and for running ------------------------------------ */

#define TIN_MAX 10

/* One input of a node: a graph input (with its shape) or an initializer. */
typedef struct tin {
  const char *name; /* "" for an omitted optional input */
  int dtype;
  int nd;
  int64_t dims[MB_MAX_DIMS];
  const void *data; /* an initializer's values; a graph input's when fed by run_tins */
  bool init;        /* an initializer rather than a graph input */
} tin;

/* Adds ins as graph inputs or initializers, and their names (omitted ones included) to
 * in_names for the node. Initializers are stored in raw_data, or with raw false in float_data
 * (float tensors only). */
static inline void mb_tins(model_builder *b, int n_in, const tin *ins, const char **in_names,
                           bool raw) {
  for (int i = 0; i < n_in; i++) {
    const tin *t = &ins[i];
    in_names[i] = t->name;
    if (!t->name[0]) continue; /* an omitted optional input */
    if (!t->init)
      mb_input(b, t->name, t->dtype, t->nd, t->dims);
    else if (raw)
      mb_initializer_raw(b, t->name, t->dtype, t->nd, t->dims, t->data);
    else
      mb_initializer_floats(b, t->name, t->nd, t->dims, t->data);
  }
}

/* A tensor over the caller's data (dims beyond ndim zero). */
static inline ladle_tensor tensor(int dtype, int ndim, const int64_t *dims, void *data) {
  ladle_tensor t = {.dtype = dtype, .ndim = ndim, .data = data};
  if (ndim) memcpy(t.dims, dims, sizeof(int64_t) * (size_t)ndim);
  return t;
}

/* Opens a session on m with `threads` and runs it on the graph inputs among ins, in their order
 * (initializers and omitted inputs are not fed). Returns the status, the session in *out_s
 * (caller frees); TEST_VERBOSE prints a failure's message. */
static inline ladle_status run_tins(ladle_model *m, int threads, int n_in, const tin *ins,
                                    ladle_session **out_s) {
  ladle_tensor t[TIN_MAX];
  const char *names[TIN_MAX];
  int n = 0;
  for (int i = 0; i < n_in; i++) {
    if (ins[i].init || !ins[i].name[0]) continue;
    names[n] = ins[i].name;
    t[n++] = tensor(ins[i].dtype, ins[i].nd, ins[i].dims, (void *)ins[i].data);
  }
  ladle_session *s = ladle_session_new(m, threads);
  ladle_status st = ladle_session_run(s, n, names, t);
  if (st && getenv("TEST_VERBOSE")) fprintf(stderr, "run: %s\n", ladle_session_errmsg(s));
  *out_s = s;
  return st;
}

/* --- one node, inputs i0.. and outputs o0.. ------------------------------------------------- */

#define NODE_MAX_IO 8

static const char *const node_in_names[NODE_MAX_IO] = {"i0", "i1", "i2", "i3",
                                                       "i4", "i5", "i6", "i7"};
static const char *const node_out_names[NODE_MAX_IO] = {"o0", "o1", "o2", "o3",
                                                        "o4", "o5", "o6", "o7"};

/* A model of one `op` node named "n" at `opset`: inputs i0.. of in_types with their shapes left
 * open, outputs o0.. of out_types (untyped when NULL). NULL on a load failure, with the loader's
 * message on stderr. */
static inline ladle_model *node_model(const char *op, int opset, int n_in, const int *in_types,
                                      int n_out, const int *out_types, int n_attr,
                                      const attr_spec *attrs) {
  model_builder b;
  ladle_model *m = NULL;
  char err[512];
  assert(n_in <= NODE_MAX_IO && n_out <= NODE_MAX_IO);
  mb_init(&b, opset);
  mb_io(&b, n_in, node_in_names, in_types, n_out, node_out_names, out_types);
  mb_node(&b, op, NULL, "n", n_in, node_in_names, n_out, node_out_names, n_attr, attrs);
  if (mb_load(&b, &m, err, sizeof err) != LADLE_OK) {
    fprintf(stderr, "load %s: %s\n", op, err);
    return NULL;
  }
  return m;
}

/* Runs op once on `in` (fed as i0..) with `threads`; returns the status, with the model in *m
 * and the session in *s (outputs and message readable) until done(). */
static inline ladle_status run_op(ladle_model **m, ladle_session **s, const char *op, int opset,
                                  int n_in, const ladle_tensor *in, int n_out, int n_attr,
                                  const attr_spec *attrs, int threads) {
  int dtypes[NODE_MAX_IO];
  for (int i = 0; i < n_in; i++) dtypes[i] = in[i].dtype;
  *m = node_model(op, opset, n_in, dtypes, n_out, NULL, n_attr, attrs);
  *s = *m ? ladle_session_new(*m, threads) : NULL;
  if (!*s) return LADLE_ERR_INTERNAL;
  return ladle_session_run(*s, n_in, node_in_names, in);
}

static inline void done(ladle_model *m, ladle_session *s) {
  ladle_session_free(s);
  ladle_model_free(m);
}

#endif

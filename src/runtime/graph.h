/* graph.h — a loaded ONNX graph: values (every named tensor), nodes in topological order with
 * their attributes, and the constants (initializers, Constant nodes, folded results).
 *
 * A model owns one graph; subgraphs of If/Loop/Scan live in ATTR_GRAPH attributes and name
 * outer-scope values through `parent`. Everything here is immutable once the model is loaded, so
 * any number of sessions may read it at once. */
#ifndef LADLE_RUNTIME_GRAPH_H
#define LADLE_RUNTIME_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "ladle/ladle.h"

/* ONNX AttributeProto.AttributeType values. */
typedef enum {
  ATTR_UNDEFINED = 0,
  ATTR_FLOAT = 1,
  ATTR_INT = 2,
  ATTR_STRING = 3,
  ATTR_TENSOR = 4,
  ATTR_GRAPH = 5,
  ATTR_FLOATS = 6,
  ATTR_INTS = 7,
  ATTR_STRINGS = 8,
  ATTR_TENSORS = 9,
  ATTR_GRAPHS = 10,
  ATTR_SPARSE_TENSOR = 11,
  ATTR_SPARSE_TENSORS = 12,
  ATTR_TYPE_PROTO = 13,
  ATTR_TYPE_PROTOS = 14,
} attr_type;

struct graph;

typedef struct attr {
  char *name;
  int type;
  float f;
  int64_t i;
  char *s; /* NUL-terminated; s_len excludes the NUL (strings may hold NULs) */
  size_t s_len;
  int64_t n; /* element count of floats / ints / strings / tensors / graphs */
  float *floats;
  int64_t *ints;
  char **strings;
  ladle_tensor *t;
  ladle_tensor **tensors;
  struct graph *g;
  struct graph **graphs;
} attr;

typedef enum { VAL_INTERMEDIATE = 0, VAL_INPUT = 1, VAL_CONST = 2, VAL_OUTER = 3 } value_kind;

typedef struct value {
  char *name;
  value_kind kind;
  int dtype;                     /* declared; LADLE_UNDEFINED when unknown */
  int ndim;                      /* declared; -1 when unknown */
  int64_t dims[LADLE_MAX_DIMS];  /* -1 for a symbolic or unknown dim */
  char *dim_names[LADLE_MAX_DIMS];
  ladle_tensor *konst;           /* VAL_CONST: the data */
  bool konst_mapped;             /* konst->data points into an external-data mapping */
  bool konst_alias;              /* konst is another value's tensor (Identity of a constant) */
  int producer;                  /* node index, -1 for inputs and constants */
  int last_use;                  /* index of the last node that reads it, -1 if none */
  bool is_output;
} value;

/* Activations fused into the op that produces them (Conv+Relu, Gemm+Relu, ...). */
typedef enum { ACT_NONE = 0, ACT_RELU, ACT_CLIP, ACT_SIGMOID, ACT_LEAKY_RELU } act_kind;

typedef struct node {
  char *name;
  char *op_type;
  char *domain; /* "" for the default ONNX domain */
  int opset;    /* the model's opset for this node's domain */
  int n_in, n_out;
  int *in;  /* value ids; -1 for an omitted optional input */
  int *out; /* value ids; -1 for an omitted optional output */
  int n_attr;
  attr *attrs;
  const struct op_def *op;
  void *state; /* op-private, built by op->init at load (e.g. packed weights) */
  act_kind act;
  float act_alpha, act_beta; /* ACT_CLIP: min, max; ACT_LEAKY_RELU: alpha */
} node;

typedef struct graph {
  char *name;
  int n_values, cap_values;
  value *values;
  int n_nodes, cap_nodes;
  node *nodes; /* topological order after graph_sort */
  int n_inputs;
  int *inputs; /* real inputs (not initializers) */
  int n_outputs;
  int *outputs;
  struct graph *parent;
} graph;

const attr *node_attr(const node *n, const char *name);
int64_t node_attr_int(const node *n, const char *name, int64_t dflt);
float node_attr_float(const node *n, const char *name, float dflt);
const char *node_attr_str(const node *n, const char *name, const char *dflt);
/* Number of ints (and *v pointing at them), or -1 when the attribute is absent. */
int64_t node_attr_ints(const node *n, const char *name, const int64_t **v);
int64_t node_attr_floats(const node *n, const char *name, const float **v);

/* Value id by name in g (not its parents), or -1. */
int graph_find_value(const graph *g, const char *name);

#endif

/* model.h — the loaded model (runtime-internal view of ladle_model) and the loader's pieces. */
#ifndef LADLE_RUNTIME_MODEL_H
#define LADLE_RUNTIME_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "runtime/graph.h"

typedef struct opset_import {
  char *domain; /* "" for the default domain */
  int64_t version;
} opset_import;

typedef struct mapping {
  void *addr;
  size_t len;
} mapping;

struct ladle_model {
  graph g;
  int64_t ir_version;
  int n_opsets;
  opset_import *opsets;
  char *producer_name, *producer_version;
  char *dir; /* the model's folder, for external data; NULL for in-memory models */
  int n_maps, cap_maps;
  mapping *maps; /* external data files, unmapped at free */
};

/* Opset of a domain in this model ("" and "ai.onnx" are the same); 0 when not imported. */
int64_t model_opset(const struct ladle_model *m, const char *domain);

/* Parses a serialized TensorProto (the conformance tests' input_N.pb) into a malloc'd tensor. */
ladle_status tensor_from_pb(const void *buf, size_t len, ladle_tensor **out, char **name,
                            errbuf *e);
/* Frees a tensor made by the loader: its data (strings included) and the struct. */
void tensor_free(ladle_tensor *t);
/* A deep copy (strings included). */
ladle_status tensor_clone(const ladle_tensor *src, ladle_tensor **out);

/* Graph bookkeeping used by the loader and the optimiser. */
int graph_add_value(graph *g, const char *name);
void graph_free(graph *g);
void graph_node_destroy(node *n); /* frees what a node owns (not the node itself) */
/* Sorts nodes topologically and fills producer / last_use; fails on cycles or undefined inputs. */
ladle_status graph_sort(graph *g, errbuf *e);
/* Runs constant folding and fusions (optimize.c). */
ladle_status graph_optimize(graph *g, errbuf *e);
/* Runs op->init for every node (after optimisation). */
ladle_status graph_init_ops(graph *g, errbuf *e);

/* Runs one node whose inputs are all constants and returns its outputs as new malloc'd tensors
 * (exec.c; used by constant folding). */
ladle_status exec_fold_node(const graph *g, const node *n, ladle_tensor **outs, errbuf *e);

#endif

/* graph.c — attribute lookup, topological sort and op initialisation. */
#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"
#include "runtime/op.h"

#define MAX_OUTER_REFS 4096

const attr *node_attr(const node *n, const char *name) {
  for (int i = 0; i < n->n_attr; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t node_attr_int(const node *n, const char *name, int64_t dflt) {
  const attr *a = node_attr(n, name);
  return a && a->type == ATTR_INT ? a->i : dflt;
}

float node_attr_float(const node *n, const char *name, float dflt) {
  const attr *a = node_attr(n, name);
  if (a && a->type == ATTR_FLOAT) return a->f;
  if (a && a->type == ATTR_INT) return (float)a->i;
  return dflt;
}

const char *node_attr_str(const node *n, const char *name, const char *dflt) {
  const attr *a = node_attr(n, name);
  return a && a->type == ATTR_STRING ? a->s : dflt;
}

int64_t node_attr_ints(const node *n, const char *name, const int64_t **v) {
  const attr *a = node_attr(n, name);
  if (!a || a->type != ATTR_INTS) return -1;
  *v = a->ints;
  return a->n;
}

int64_t node_attr_floats(const node *n, const char *name, const float **v) {
  const attr *a = node_attr(n, name);
  if (!a || a->type != ATTR_FLOATS) return -1;
  *v = a->floats;
  return a->n;
}

/* Adds to ids[] (deduplicated, up to cap) the values of g that node n's subgraphs read by name,
 * at any depth: a Loop body's If branch may read a value of the main graph. Returns the count. */
static int collect_outer(const graph *g, const graph *sub, int *ids, int n, int cap) {
  for (int v = 0; v < sub->n_values; v++) {
    if (sub->values[v].kind != VAL_OUTER) continue;
    int id = graph_find_value(g, sub->values[v].name);
    if (id < 0) continue;
    bool seen = false;
    for (int k = 0; k < n && !seen; k++) seen = ids[k] == id;
    if (!seen && n < cap) ids[n++] = id;
  }
  for (int i = 0; i < sub->n_nodes; i++) {
    const node *sn = &sub->nodes[i];
    for (int a = 0; a < sn->n_attr; a++) {
      if (sn->attrs[a].g) n = collect_outer(g, sn->attrs[a].g, ids, n, cap);
      for (int64_t k = 0; sn->attrs[a].graphs && k < sn->attrs[a].n; k++)
        n = collect_outer(g, sn->attrs[a].graphs[k], ids, n, cap);
    }
  }
  return n;
}

static int node_outer_refs(const graph *g, const node *n, int *ids, int cap) {
  int count = 0;
  for (int a = 0; a < n->n_attr; a++) {
    if (n->attrs[a].g) count = collect_outer(g, n->attrs[a].g, ids, count, cap);
    for (int64_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n; k++)
      count = collect_outer(g, n->attrs[a].graphs[k], ids, count, cap);
  }
  return count;
}

/* Kahn's algorithm over value producers. Also fills value.producer and value.last_use. */
ladle_status graph_sort(graph *g, errbuf *e) {
  ladle_status st = LADLE_OK;
  int *order = calloc((size_t)g->n_nodes + 1, sizeof(int));
  int *refs = malloc(sizeof(int) * MAX_OUTER_REFS);
  int *ready = calloc((size_t)g->n_values + 1, sizeof(int));
  node *sorted = NULL;
  if (!order || !ready || !refs) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  for (int v = 0; v < g->n_values; v++) {
    g->values[v].producer = -1;
    ready[v] = g->values[v].kind != VAL_INTERMEDIATE;
  }
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].kind == VAL_INTERMEDIATE && g->values[v].producer < 0) {
      /* read by a node but produced by none and not an input */
      for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
          if (g->nodes[i].in[k] == v) {
            st = err_set(e, LADLE_ERR_PARSE, "node '%s' (%s): input '%s' is never produced",
                         g->nodes[i].name, g->nodes[i].op_type, g->values[v].name);
            goto out;
          }
      if (g->values[v].is_output) {
        st = err_set(e, LADLE_ERR_PARSE, "graph output '%s' is never produced", g->values[v].name);
        goto out;
      }
    }
  /* Simple repeated scan: fine for the graph sizes ONNX files hold (O(n * passes)). */
  int done = 0;
  char *placed = calloc((size_t)g->n_nodes + 1, 1);
  if (!placed) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  bool progress = true;
  while (done < g->n_nodes && progress) {
    progress = false;
    for (int i = 0; i < g->n_nodes; i++) {
      if (placed[i]) continue;
      bool ok = true;
      for (int k = 0; k < g->nodes[i].n_in && ok; k++) {
        int v = g->nodes[i].in[k];
        if (v >= 0 && !ready[v]) ok = false;
      }
      /* values its subgraphs read must exist before the node runs */
      int nrefs = ok ? node_outer_refs(g, &g->nodes[i], refs, MAX_OUTER_REFS) : 0;
      for (int k = 0; k < nrefs && ok; k++)
        if (!ready[refs[k]]) ok = false;
      if (!ok) continue;
      placed[i] = 1;
      order[done++] = i;
      progress = true;
      for (int k = 0; k < g->nodes[i].n_out; k++)
        if (g->nodes[i].out[k] >= 0) ready[g->nodes[i].out[k]] = 1;
    }
  }
  free(placed);
  if (done < g->n_nodes) {
    st = err_set(e, LADLE_ERR_PARSE, "graph '%s' has a cycle", g->name ? g->name : "");
    goto out;
  }
  sorted = calloc((size_t)g->cap_nodes + 1, sizeof(node));
  if (!sorted) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  for (int i = 0; i < g->n_nodes; i++) sorted[i] = g->nodes[order[i]];
  free(g->nodes);
  g->nodes = sorted;
  for (int v = 0; v < g->n_values; v++) {
    g->values[v].producer = -1;
    g->values[v].last_use = -1;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    for (int k = 0; k < g->nodes[i].n_out; k++)
      if (g->nodes[i].out[k] >= 0) {
        g->values[g->nodes[i].out[k]].producer = i;
        g->values[g->nodes[i].out[k]].last_use = i; /* read by none: free right after */
      }
  }
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] >= 0) g->values[g->nodes[i].in[k]].last_use = i;
  /* Values read by a subgraph (outer-scope references, at any depth) must live until the node
   * owning the subgraph has run: their last use is at least that node. */
  for (int i = 0; i < g->n_nodes; i++) {
    int nrefs = node_outer_refs(g, &g->nodes[i], refs, MAX_OUTER_REFS);
    for (int k = 0; k < nrefs; k++)
      if (g->values[refs[k]].last_use < i) g->values[refs[k]].last_use = i;
  }
out:
  free(refs);
  free(order);
  free(ready);
  return st;
}

static ladle_status init_graph(graph *g, errbuf *e) {
  ladle_status st;
  for (int i = 0; i < g->n_nodes; i++) {
    node *n = &g->nodes[i];
    for (int a = 0; a < n->n_attr; a++) {
      if (n->attrs[a].g && (st = init_graph(n->attrs[a].g, e))) return st;
      for (int64_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n; k++)
        if ((st = init_graph(n->attrs[a].graphs[k], e))) return st;
    }
    if (n->op && n->op->init && !n->state) {
      if ((st = n->op->init(g, n, e))) {
        err_prefix(e, "node '%s' (%s)", n->name, n->op_type);
        return st;
      }
    }
  }
  return LADLE_OK;
}

ladle_status graph_init_ops(graph *g, errbuf *e) { return init_graph(g, e); }

const ladle_tensor *op_const_input(const graph *g, const node *n, int i) {
  if (i < 0 || i >= n->n_in || n->in[i] < 0) return NULL;
  const value *v = &g->values[n->in[i]];
  return v->kind == VAL_CONST ? v->konst : NULL;
}

/* --- public model facts ------------------------------------------------------------------- */

int ladle_model_n_inputs(const ladle_model *m) { return m->g.n_inputs; }
int ladle_model_n_outputs(const ladle_model *m) { return m->g.n_outputs; }
const char *ladle_model_input_name(const ladle_model *m, int i) {
  return i >= 0 && i < m->g.n_inputs ? m->g.values[m->g.inputs[i]].name : NULL;
}
const char *ladle_model_output_name(const ladle_model *m, int i) {
  return i >= 0 && i < m->g.n_outputs ? m->g.values[m->g.outputs[i]].name : NULL;
}

static void value_info(const value *v, int *dtype, int *ndim, int64_t *dims) {
  if (dtype) *dtype = v->dtype;
  if (ndim) *ndim = v->ndim;
  if (dims && v->ndim > 0) memcpy(dims, v->dims, sizeof(int64_t) * (size_t)v->ndim);
}

void ladle_model_input_info(const ladle_model *m, int i, int *dtype, int *ndim, int64_t *dims) {
  value_info(&m->g.values[m->g.inputs[i]], dtype, ndim, dims);
}
void ladle_model_output_info(const ladle_model *m, int i, int *dtype, int *ndim, int64_t *dims) {
  value_info(&m->g.values[m->g.outputs[i]], dtype, ndim, dims);
}
const char *ladle_model_input_dim_name(const ladle_model *m, int i, int d) {
  if (i < 0 || i >= m->g.n_inputs || d < 0 || d >= LADLE_MAX_DIMS) return NULL;
  return m->g.values[m->g.inputs[i]].dim_names[d];
}
const char *ladle_model_output_dim_name(const ladle_model *m, int i, int d) {
  if (i < 0 || i >= m->g.n_outputs || d < 0 || d >= LADLE_MAX_DIMS) return NULL;
  return m->g.values[m->g.outputs[i]].dim_names[d];
}

/* optimize.c — graph rewrites at load: constant folding (which also resolves Identity over
 * initializers) and activation fusion into the op that produces its input.
 *
 * Folding runs a node whose inputs are all constants once, with the node's own kernel, and keeps
 * the result as a constant; the node disappears. Fusion rewrites Conv/Gemm followed by
 * Relu/Clip/LeakyRelu into one node whose kernel applies the activation on its output
 * (node.act, see act_apply) while the data is still in cache. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "runtime/model.h"
#include "runtime/op.h"

#define FOLD_MAX_BYTES (64u << 20)

static bool nondeterministic(const node *n) {
  static const char *ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                              "RandomUniformLike", "Multinomial", "Bernoulli", NULL};
  for (int i = 0; ops[i]; i++)
    if (strcmp(n->op_type, ops[i]) == 0) return true;
  return false;
}

static bool has_subgraph(const node *n) {
  for (int a = 0; a < n->n_attr; a++)
    if (n->attrs[a].g || n->attrs[a].graphs) return true;
  return false;
}

static bool foldable(const graph *g, const node *n) {
  int present = 0;
  size_t bytes = 0;
  if (!n->op || n->domain[0] || nondeterministic(n) || has_subgraph(n)) return false;
  for (int k = 0; k < n->n_in; k++) {
    if (n->in[k] < 0) continue;
    const value *v = &g->values[n->in[k]];
    if (v->kind != VAL_CONST || !v->konst) return false;
    bytes += tensor_nbytes(v->konst);
    present++;
  }
  return present > 0 && bytes <= FOLD_MAX_BYTES;
}

/* Number of nodes reading value v (and whether a subgraph reads it by name). */
static int readers(const graph *g, int v, int *only) {
  int count = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const node *n = &g->nodes[i];
    if (!n->op) continue;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] == v) {
        count++;
        *only = i;
      }
    if (has_subgraph(n)) count += 2; /* be conservative: outer-scope reads are by name */
  }
  return count;
}

static void drop_node(node *n) {
  graph_node_destroy(n);
  memset(n, 0, sizeof *n);
}

static ladle_status fold_constants(graph *g, errbuf *e, int *folded) {
  for (int i = 0; i < g->n_nodes; i++) {
    node *n = &g->nodes[i];
    if (!foldable(g, n)) continue;
    if (strcmp(n->op_type, "Identity") == 0 && n->n_out == 1 && n->out[0] >= 0) {
      value *dst = &g->values[n->out[0]];
      dst->kind = VAL_CONST;
      dst->konst = g->values[n->in[0]].konst;
      dst->konst_alias = true;
      dst->dtype = dst->konst->dtype;
      drop_node(n);
      (*folded)++;
      continue;
    }
    ladle_tensor *outs[16] = {0};
    if (n->n_out > 16) continue;
    errbuf fe = {{0}};
    if (exec_fold_node(g, n, outs, &fe) != LADLE_OK) {
      /* Not fatal: the node will run (and fail with its message) at run time. */
      log_msg(LOG_DEBUG, "runtime", "not folding node '%s' (%s): %s", n->name, n->op_type, fe.msg);
      continue;
    }
    bool all = true;
    for (int k = 0; k < n->n_out; k++)
      if (n->out[k] >= 0 && !outs[k]) all = false;
    if (!all) {
      for (int k = 0; k < n->n_out; k++) tensor_free(outs[k]);
      continue;
    }
    for (int k = 0; k < n->n_out; k++) {
      if (n->out[k] < 0) continue;
      value *v = &g->values[n->out[k]];
      v->kind = VAL_CONST;
      v->konst = outs[k];
      v->dtype = outs[k]->dtype;
    }
    drop_node(n);
    (*folded)++;
  }
  (void)e;
  return LADLE_OK;
}

static bool fusable_producer(const node *n) {
  return n->op && n->act == ACT_NONE && n->domain[0] == '\0' && n->n_out == 1 &&
         (strcmp(n->op_type, "Conv") == 0 || strcmp(n->op_type, "Gemm") == 0);
}

/* Reads a scalar float constant input (Clip's min/max), or returns dflt when absent. */
static bool const_scalar(const graph *g, const node *n, int i, float dflt, float *out) {
  if (i >= n->n_in || n->in[i] < 0) {
    *out = dflt;
    return true;
  }
  const value *v = &g->values[n->in[i]];
  if (v->kind != VAL_CONST || !v->konst || v->konst->dtype != LADLE_FLOAT ||
      ladle_tensor_numel(v->konst) != 1)
    return false;
  *out = *(const float *)v->konst->data;
  return true;
}

static void fuse_activations(graph *g, int *fused) {
  for (int i = 0; i < g->n_nodes; i++) {
    node *p = &g->nodes[i];
    if (!fusable_producer(p) || p->out[0] < 0 || g->values[p->out[0]].is_output) continue;
    int r = -1;
    if (readers(g, p->out[0], &r) != 1) continue;
    node *a = &g->nodes[r];
    if (a->domain[0] || a->n_out != 1 || a->out[0] < 0) continue;
    act_kind kind = ACT_NONE;
    float lo = 0, hi = 0;
    if (strcmp(a->op_type, "Relu") == 0) {
      kind = ACT_RELU;
    } else if (strcmp(a->op_type, "LeakyRelu") == 0) {
      kind = ACT_LEAKY_RELU;
      lo = node_attr_float(a, "alpha", 0.01f);
    } else if (strcmp(a->op_type, "Clip") == 0) {
      if (a->opset < 11) {
        lo = node_attr_float(a, "min", -3.402823466e+38f);
        hi = node_attr_float(a, "max", 3.402823466e+38f);
      } else if (!const_scalar(g, a, 1, -3.402823466e+38f, &lo) ||
                 !const_scalar(g, a, 2, 3.402823466e+38f, &hi)) {
        continue;
      }
      kind = ACT_CLIP;
    } else {
      continue;
    }
    p->act = kind;
    p->act_alpha = lo;
    p->act_beta = hi;
    p->out[0] = a->out[0];
    drop_node(a);
    (*fused)++;
  }
}

static void compact(graph *g) {
  int w = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op) g->nodes[w++] = g->nodes[i];
  g->n_nodes = w;
}

ladle_status graph_optimize(graph *g, errbuf *e) {
  int folded = 0, fused = 0;
  ladle_status st;
  /* Ops must be resolved (fold runs kernels) but not yet initialised. */
  if ((st = fold_constants(g, e, &folded))) return st;
  compact(g);
  fuse_activations(g, &fused);
  compact(g);
  if (folded || fused)
    log_msg(LOG_DEBUG, "runtime", "optimised graph: %d nodes folded, %d activations fused",
            folded, fused);
  return graph_sort(g, e);
}

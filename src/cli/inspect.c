/* inspect.c — `ladle inspect`: what a model takes, gives and contains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

static const char *help =
    "usage: ladle inspect [--json] M.onnx\n\n"
    "Prints the model's inputs and outputs (name, element type, shape; symbolic dims by name),\n"
    "its IR version, producer, opset imports, weights, and how many nodes of each op it has.\n";

typedef struct opcount {
  const char *domain, *op;
  int n;
} opcount;

static int cmp_count(const void *a, const void *b) {
  const opcount *x = a, *y = b;
  if (x->n != y->n) return y->n - x->n;
  return strcmp(x->op, y->op);
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* "[batch,3,224,224]" with symbolic names, or "[?]" when undeclared. */
static void print_shape(const value *v, bool json) {
  if (v->ndim < 0) {
    printf(json ? "null" : "unknown");
    return;
  }
  putchar('[');
  for (int d = 0; d < v->ndim; d++) {
    if (d) putchar(json ? ',' : ',');
    if (v->dims[d] >= 0) printf("%lld", (long long)v->dims[d]);
    else if (v->dim_names[d] && json) json_str(v->dim_names[d]);
    else if (v->dim_names[d]) printf("%s", v->dim_names[d]);
    else printf(json ? "-1" : "?");
  }
  putchar(']');
}

static void print_values(const graph *g, const int *ids, int n, bool json) {
  for (int i = 0; i < n; i++) {
    const value *v = &g->values[ids[i]];
    if (json) {
      printf("%s{\"name\":", i ? "," : "");
      json_str(v->name);
      printf(",\"datatype\":\"%s\",\"shape\":", ladle_dtype_name(v->dtype));
      print_shape(v, true);
      putchar('}');
    } else {
      printf("  %-24s %-8s ", v->name, ladle_dtype_name(v->dtype));
      print_shape(v, false);
      putchar('\n');
    }
  }
}

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(help, stdout);
      return 0;
    } else if (!strcmp(argv[i], "--json")) {
      json = true;
    } else if (argv[i][0] != '-' && !path) {
      path = argv[i];
    } else {
      fprintf(stderr, "ladle inspect: unexpected argument '%s'\n%s", argv[i], help);
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "ladle inspect: which model?\n%s", help);
    return 2;
  }
  /* Unoptimised, so the op counts are the file's own. */
  ladle_load_options opt = {.optimize = 0, .inspect_only = 1};
  char err[1024];
  ladle_model *m = NULL;
  if (ladle_model_load(path, &opt, &m, err, sizeof err) != LADLE_OK)
    return cli_fail("inspect", "%s", err);
  const graph *g = &m->g;
  opcount *counts = calloc((size_t)g->n_nodes + 1, sizeof *counts);
  int nc = 0;
  int64_t n_weights = 0, weight_bytes = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    int k;
    for (k = 0; k < nc; k++)
      if (!strcmp(counts[k].op, g->nodes[i].op_type) && !strcmp(counts[k].domain, g->nodes[i].domain))
        break;
    if (k == nc) counts[nc++] = (opcount){g->nodes[i].domain, g->nodes[i].op_type, 0};
    counts[k].n++;
  }
  qsort(counts, (size_t)nc, sizeof *counts, cmp_count);
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].kind == VAL_CONST && g->values[v].konst) {
      n_weights++;
      weight_bytes += (int64_t)tensor_nbytes(g->values[v].konst);
    }

  if (json) {
    printf("{\"model\":");
    json_str(path);
    printf(",\"ir_version\":%lld,\"producer\":", (long long)m->ir_version);
    json_str(m->producer_name);
    printf(",\"opsets\":{");
    for (int i = 0; i < m->n_opsets; i++) {
      printf("%s", i ? "," : "");
      json_str(m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx");
      printf(":%lld", (long long)m->opsets[i].version);
    }
    printf("},\"inputs\":[");
    print_values(g, g->inputs, g->n_inputs, true);
    printf("],\"outputs\":[");
    print_values(g, g->outputs, g->n_outputs, true);
    printf("],\"nodes\":%d,\"constants\":%lld,\"constant_bytes\":%lld,\"ops\":{", g->n_nodes,
           (long long)n_weights, (long long)weight_bytes);
    for (int k = 0; k < nc; k++) {
      char key[256];
      snprintf(key, sizeof key, "%s%s%s", counts[k].domain, counts[k].domain[0] ? "." : "",
               counts[k].op);
      printf("%s", k ? "," : "");
      json_str(key);
      printf(":%d", counts[k].n);
    }
    printf("}}\n");
  } else {
    printf("model:     %s\n", path);
    printf("format:    ONNX IR %lld, produced by %s %s\n", (long long)m->ir_version,
           m->producer_name[0] ? m->producer_name : "(unknown)", m->producer_version);
    printf("opsets:   ");
    for (int i = 0; i < m->n_opsets; i++)
      printf(" %s %lld", m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx",
             (long long)m->opsets[i].version);
    printf("\ninputs:\n");
    print_values(g, g->inputs, g->n_inputs, false);
    printf("outputs:\n");
    print_values(g, g->outputs, g->n_outputs, false);
    printf("weights:   %lld tensors, %.2f MB\n", (long long)n_weights, (double)weight_bytes / 1e6);
    printf("nodes:     %d\n", g->n_nodes);
    for (int k = 0; k < nc; k++)
      printf("  %-28s %d\n", counts[k].op, counts[k].n);
  }
  free(counts);
  ladle_model_free(m);
  return 0;
}

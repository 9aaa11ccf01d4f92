/* onnx_load.c — ONNX protobuf (protobuf-c over Debian's onnx.proto) to ladle's graph.
 *
 * Everything read from the file is checked here and turned into a status: sizes against dims,
 * value references, attribute types, external-data paths. Constant nodes become constants;
 * initializers may be raw, typed or external (memory-mapped, confined to the model's folder). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include "onnx.pb-c.h"
#include "runtime/model.h"
#include "runtime/op.h"

#define MAX_NODES 1000000
#define MAX_GRAPH_DEPTH 16

typedef struct loader {
  struct ladle_model *m;
  errbuf *e;
  int depth;
} loader;

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

/* --- tensors ------------------------------------------------------------------------------ */

void tensor_free(ladle_tensor *t) {
  if (!t) return;
  if (t->dtype == LADLE_STRING && t->data) {
    int64_t n = ladle_tensor_numel(t);
    char **s = t->data;
    for (int64_t i = 0; i < n; i++) free(s[i]);
  }
  free(t->data);
  free(t);
}

ladle_status tensor_clone(const ladle_tensor *src, ladle_tensor **out) {
  ladle_tensor *t = calloc(1, sizeof *t);
  size_t nb = tensor_nbytes(src);
  if (!t) return LADLE_ERR_NOMEM;
  *t = *src;
  t->data = malloc(nb ? nb : 1);
  if (!t->data) {
    free(t);
    return LADLE_ERR_NOMEM;
  }
  if (src->dtype == LADLE_STRING) {
    int64_t n = ladle_tensor_numel(src);
    char **d = t->data, *const *s = src->data;
    for (int64_t i = 0; i < n; i++) {
      d[i] = strdup(s[i] ? s[i] : "");
      if (!d[i]) {
        t->dtype = LADLE_STRING;
        for (int64_t j = i; j < n; j++) d[j] = NULL;
        tensor_free(t);
        return LADLE_ERR_NOMEM;
      }
    }
  } else if (nb) {
    memcpy(t->data, src->data, nb);
  }
  *out = t;
  return LADLE_OK;
}

/* Resolves an external-data location against the model folder, refusing anything that escapes
 * it (absolute paths, "..", symlinks pointing outside). */
static ladle_status external_path(const char *dir, const char *loc, char *out, size_t len,
                                  errbuf *e) {
  char joined[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
  if (!dir) return err_set(e, LADLE_ERR_INVALID, "external data '%s' needs a model file", loc);
  if (loc[0] == '/' || strstr(loc, "..") || !loc[0])
    return err_set(e, LADLE_ERR_INVALID,
                   "external data location '%s' escapes the model's folder", loc);
  if ((size_t)snprintf(joined, sizeof joined, "%s/%s", dir, loc) >= sizeof joined)
    return err_set(e, LADLE_ERR_INVALID, "external data path too long");
  if (!realpath(dir, real_dir))
    return err_set(e, LADLE_ERR_IO, "model folder '%s': %s", dir, strerror(errno));
  if (!realpath(joined, real_file))
    return err_set(e, LADLE_ERR_IO, "external data '%s': %s", loc, strerror(errno));
  size_t dl = strlen(real_dir);
  if (strncmp(real_file, real_dir, dl) != 0 || real_file[dl] != '/')
    return err_set(e, LADLE_ERR_INVALID,
                   "external data location '%s' escapes the model's folder", loc);
  snprintf(out, len, "%s", real_file);
  return LADLE_OK;
}

/* Maps the tensor's bytes. Aligned data is used in place (*mapped = true: the mapping owns it,
 * and it lives as long as the model); misaligned data is copied so kernels can load it. */
static ladle_status map_external(loader *L, const Onnx__TensorProto *tp, size_t need,
                                 void **data, bool *mapped) {
  const char *loc = NULL;
  long long offset = 0, length = -1;
  char path[PATH_MAX];
  ladle_status st;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
    if (!k || !v) continue;
    if (strcmp(k, "location") == 0) loc = v;
    if (strcmp(k, "offset") == 0) offset = atoll(v);
    if (strcmp(k, "length") == 0) length = atoll(v);
  }
  if (!loc) return err_set(L->e, LADLE_ERR_PARSE, "external tensor without a location");
  if ((st = external_path(L->m ? L->m->dir : NULL, loc, path, sizeof path, L->e))) return st;
  if (offset < 0) return err_set(L->e, LADLE_ERR_PARSE, "external data: negative offset");
  if (length >= 0 && (size_t)length != need)
    return err_set(L->e, LADLE_ERR_PARSE, "external data '%s': length %lld, tensor needs %zu",
                   loc, length, need);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return err_set(L->e, LADLE_ERR_IO, "external data '%s': %s", loc, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || (unsigned long long)sb.st_size < (unsigned long long)offset + need) {
    close(fd);
    return err_set(L->e, LADLE_ERR_PARSE, "external data '%s' is shorter than the tensor", loc);
  }
  if (need == 0) {
    close(fd);
    *data = malloc(1);
    return *data ? LADLE_OK : LADLE_ERR_NOMEM;
  }
  long page = sysconf(_SC_PAGESIZE);
  long long base = offset - offset % page;
  size_t maplen = need + (size_t)(offset - base);
  void *addr = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, base);
  close(fd);
  if (addr == MAP_FAILED) return err_set(L->e, LADLE_ERR_IO, "mmap '%s': %s", loc, strerror(errno));
  struct ladle_model *m = L->m;
  if (m->n_maps == m->cap_maps) {
    int nc = m->cap_maps ? m->cap_maps * 2 : 8;
    mapping *nm = realloc(m->maps, sizeof *nm * (size_t)nc);
    if (!nm) {
      munmap(addr, maplen);
      return LADLE_ERR_NOMEM;
    }
    m->maps = nm;
    m->cap_maps = nc;
  }
  m->maps[m->n_maps++] = (mapping){addr, maplen};
  char *p = (char *)addr + (offset - base);
  if (mapped && ((uintptr_t)p % 64) == 0) {
    *data = p;
    *mapped = true;
    return LADLE_OK;
  }
  *data = malloc(need);
  if (!*data) return LADLE_ERR_NOMEM;
  memcpy(*data, p, need);
  return LADLE_OK;
}

/* mapped: where external data may stay memory-mapped (initializers); NULL to always copy. */
static ladle_status tensor_from_proto(loader *L, const Onnx__TensorProto *tp, ladle_tensor **out,
                                      bool *mapped) {
  ladle_tensor *t = NULL;
  ladle_status st = LADLE_OK;
  int dt = tp->has_data_type ? tp->data_type : 0;
  const char *nm = tp->name ? tp->name : "";
  if (!dtype_valid(dt))
    return err_set(L->e, LADLE_ERR_UNSUPPORTED, "tensor '%s': unsupported data type %d", nm, dt);
  if (tp->n_dims > LADLE_MAX_DIMS)
    return err_set(L->e, LADLE_ERR_UNSUPPORTED, "tensor '%s': rank %zu exceeds %d", nm,
                   tp->n_dims, LADLE_MAX_DIMS);
  t = calloc(1, sizeof *t);
  if (!t) return LADLE_ERR_NOMEM;
  t->dtype = dt;
  t->ndim = (int)tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++) t->dims[i] = tp->dims[i];
  int64_t n = ladle_tensor_numel(t);
  size_t esz = ladle_dtype_size(dt);
  if (n < 0 || (uint64_t)n > (SIZE_MAX / 2) / esz) {
    st = err_set(L->e, LADLE_ERR_PARSE, "tensor '%s': invalid dims", nm);
    goto out;
  }
  size_t need = (size_t)n * esz;
  bool external = tp->has_data_location &&
                  tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (dt == LADLE_STRING) {
    if (tp->n_string_data != (size_t)n) {
      st = err_set(L->e, LADLE_ERR_PARSE, "tensor '%s': %zu strings for %lld elements", nm,
                   tp->n_string_data, (long long)n);
      goto out;
    }
    char **s = calloc((size_t)n ? (size_t)n : 1, sizeof *s);
    t->data = s;
    if (!s) {
      st = LADLE_ERR_NOMEM;
      goto out;
    }
    for (int64_t i = 0; i < n; i++) {
      s[i] = malloc(tp->string_data[i].len + 1);
      if (!s[i]) {
        st = LADLE_ERR_NOMEM;
        goto out;
      }
      if (tp->string_data[i].len) memcpy(s[i], tp->string_data[i].data, tp->string_data[i].len);
      s[i][tp->string_data[i].len] = '\0';
    }
    goto out;
  }
  if (external) {
    st = map_external(L, tp, need, &t->data, mapped);
    goto out;
  }
  /* The bytes must be there before anything is allocated: dims alone may claim terabytes. */
  if (tp->has_raw_data) {
    if (tp->raw_data.len != need) {
      st = err_set(L->e, LADLE_ERR_PARSE, "tensor '%s': raw_data has %zu bytes, dims need %zu",
                   nm, tp->raw_data.len, need);
      goto out;
    }
    t->data = malloc(need ? need : 1);
    if (!t->data) {
      st = LADLE_ERR_NOMEM;
      goto out;
    }
    if (need) memcpy(t->data, tp->raw_data.data, need);
    goto out;
  }
  size_t have = 0;
  switch (dt) {
    case LADLE_FLOAT: have = tp->n_float_data; break;
    case LADLE_DOUBLE: have = tp->n_double_data; break;
    case LADLE_INT64: have = tp->n_int64_data; break;
    case LADLE_UINT32: case LADLE_UINT64: have = tp->n_uint64_data; break;
    default: have = tp->n_int32_data; break;
  }
  if (have != (size_t)n) {
    st = err_set(L->e, LADLE_ERR_PARSE, "tensor '%s': %zu values for %lld elements", nm, have,
                 (long long)n);
    goto out;
  }
  t->data = malloc(need ? need : 1);
  if (!t->data) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
      case LADLE_FLOAT: ((float *)t->data)[i] = tp->float_data[i]; break;
      case LADLE_DOUBLE: ((double *)t->data)[i] = tp->double_data[i]; break;
      case LADLE_INT64: ((int64_t *)t->data)[i] = tp->int64_data[i]; break;
      case LADLE_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i]; break;
      case LADLE_UINT64: ((uint64_t *)t->data)[i] = tp->uint64_data[i]; break;
      case LADLE_INT32: ((int32_t *)t->data)[i] = tp->int32_data[i]; break;
      case LADLE_INT16: ((int16_t *)t->data)[i] = (int16_t)tp->int32_data[i]; break;
      case LADLE_INT8: ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i]; break;
      case LADLE_UINT16: case LADLE_FLOAT16: case LADLE_BFLOAT16:
        ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i];
        break;
      case LADLE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i]; break;
      case LADLE_BOOL: ((uint8_t *)t->data)[i] = tp->int32_data[i] != 0; break;
      default: break;
    }
  }
out:
  if (st) {
    if (mapped && *mapped && t) t->data = NULL;
    tensor_free(t);
    return st;
  }
  *out = t;
  return LADLE_OK;
}

ladle_status tensor_from_pb(const void *buf, size_t len, ladle_tensor **out, char **name,
                            errbuf *e) {
  loader L = {NULL, e, 0};
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
  if (!tp) return err_set(e, LADLE_ERR_PARSE, "not a serialized TensorProto");
  ladle_status st = tensor_from_proto(&L, tp, out, NULL);
  if (!st && name) *name = xstrdup(tp->name);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return st;
}

/* --- graphs ------------------------------------------------------------------------------- */

int graph_find_value(const graph *g, const char *name) {
  for (int i = 0; i < g->n_values; i++)
    if (strcmp(g->values[i].name, name) == 0) return i;
  return -1;
}

int graph_add_value(graph *g, const char *name) {
  if (g->n_values == g->cap_values) {
    int nc = g->cap_values ? g->cap_values * 2 : 64;
    value *nv = realloc(g->values, sizeof *nv * (size_t)nc);
    if (!nv) return -1;
    g->values = nv;
    g->cap_values = nc;
  }
  value *v = &g->values[g->n_values];
  memset(v, 0, sizeof *v);
  v->name = xstrdup(name);
  if (!v->name) return -1;
  v->ndim = -1;
  v->producer = -1;
  v->last_use = -1;
  return g->n_values++;
}

static void attr_destroy(attr *a) {
  free(a->name);
  free(a->s);
  free(a->floats);
  free(a->ints);
  if (a->strings)
    for (int64_t i = 0; i < a->n; i++) free(a->strings[i]);
  free(a->strings);
  tensor_free(a->t);
  if (a->tensors)
    for (int64_t i = 0; i < a->n; i++) tensor_free(a->tensors[i]);
  free(a->tensors);
  if (a->g) {
    graph_free(a->g);
    free(a->g);
  }
  if (a->graphs)
    for (int64_t i = 0; i < a->n; i++) {
      graph_free(a->graphs[i]);
      free(a->graphs[i]);
    }
  free(a->graphs);
}

void graph_node_destroy(node *n) {
  if (n->op && n->op->free_state && n->state) n->op->free_state(n->state);
  free(n->name);
  free(n->op_type);
  free(n->domain);
  free(n->in);
  free(n->out);
  for (int i = 0; i < n->n_attr; i++) attr_destroy(&n->attrs[i]);
  free(n->attrs);
}

void graph_free(graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_nodes; i++) graph_node_destroy(&g->nodes[i]);
  free(g->nodes);
  for (int i = 0; i < g->n_values; i++) {
    value *v = &g->values[i];
    free(v->name);
    for (int d = 0; d < LADLE_MAX_DIMS; d++) free(v->dim_names[d]);
    if (v->konst && v->konst_mapped) v->konst->data = NULL; /* the model's mapping owns it */
    if (!v->konst_alias) tensor_free(v->konst);
  }
  free(g->values);
  free(g->inputs);
  free(g->outputs);
  free(g->name);
  memset(g, 0, sizeof *g);
}

static ladle_status load_graph(loader *L, const Onnx__GraphProto *gp, graph *g, graph *parent);

static ladle_status attr_from_proto(loader *L, const Onnx__AttributeProto *ap, attr *a,
                                    graph *owner) {
  ladle_status st;
  a->name = xstrdup(ap->name);
  if (!a->name) return LADLE_ERR_NOMEM;
  a->type = ap->has_type ? (int)ap->type : ATTR_UNDEFINED;
  if (a->type == ATTR_UNDEFINED) { /* IR < 3 left the type out: infer it */
    if (ap->has_f) a->type = ATTR_FLOAT;
    else if (ap->has_i) a->type = ATTR_INT;
    else if (ap->has_s) a->type = ATTR_STRING;
    else if (ap->t) a->type = ATTR_TENSOR;
    else if (ap->g) a->type = ATTR_GRAPH;
    else if (ap->n_floats) a->type = ATTR_FLOATS;
    else if (ap->n_ints) a->type = ATTR_INTS;
    else if (ap->n_strings) a->type = ATTR_STRINGS;
  }
  if (ap->ref_attr_name)
    return err_set(L->e, LADLE_ERR_UNSUPPORTED, "attribute '%s' refers to a function attribute",
                   a->name);
  switch (a->type) {
    case ATTR_FLOAT: a->f = ap->f; break;
    case ATTR_INT: a->i = ap->i; break;
    case ATTR_STRING:
      a->s = malloc(ap->s.len + 1);
      if (!a->s) return LADLE_ERR_NOMEM;
      if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
      a->s[ap->s.len] = '\0';
      a->s_len = ap->s.len;
      break;
    case ATTR_TENSOR:
      if (!ap->t) return err_set(L->e, LADLE_ERR_PARSE, "attribute '%s': no tensor", a->name);
      return tensor_from_proto(L, ap->t, &a->t, NULL);
    case ATTR_GRAPH:
      if (!ap->g) return err_set(L->e, LADLE_ERR_PARSE, "attribute '%s': no graph", a->name);
      a->g = calloc(1, sizeof *a->g);
      if (!a->g) return LADLE_ERR_NOMEM;
      return load_graph(L, ap->g, a->g, owner);
    case ATTR_FLOATS:
      a->n = (int64_t)ap->n_floats;
      a->floats = malloc(sizeof(float) * (ap->n_floats + 1));
      if (!a->floats) return LADLE_ERR_NOMEM;
      if (ap->n_floats) memcpy(a->floats, ap->floats, sizeof(float) * ap->n_floats);
      break;
    case ATTR_INTS:
      a->n = (int64_t)ap->n_ints;
      a->ints = malloc(sizeof(int64_t) * (ap->n_ints + 1));
      if (!a->ints) return LADLE_ERR_NOMEM;
      if (ap->n_ints) memcpy(a->ints, ap->ints, sizeof(int64_t) * ap->n_ints);
      break;
    case ATTR_STRINGS:
      a->strings = calloc(ap->n_strings + 1, sizeof(char *));
      if (!a->strings) return LADLE_ERR_NOMEM;
      a->n = (int64_t)ap->n_strings;
      for (size_t i = 0; i < ap->n_strings; i++) {
        a->strings[i] = malloc(ap->strings[i].len + 1);
        if (!a->strings[i]) return LADLE_ERR_NOMEM;
        if (ap->strings[i].len) memcpy(a->strings[i], ap->strings[i].data, ap->strings[i].len);
        a->strings[i][ap->strings[i].len] = '\0';
      }
      break;
    case ATTR_TENSORS:
      a->tensors = calloc(ap->n_tensors + 1, sizeof(ladle_tensor *));
      if (!a->tensors) return LADLE_ERR_NOMEM;
      a->n = (int64_t)ap->n_tensors;
      for (size_t i = 0; i < ap->n_tensors; i++)
        if ((st = tensor_from_proto(L, ap->tensors[i], &a->tensors[i], NULL))) return st;
      break;
    case ATTR_GRAPHS:
      a->graphs = calloc(ap->n_graphs + 1, sizeof(graph *));
      if (!a->graphs) return LADLE_ERR_NOMEM;
      a->n = (int64_t)ap->n_graphs;
      for (size_t i = 0; i < ap->n_graphs; i++) {
        a->graphs[i] = calloc(1, sizeof(graph));
        if (!a->graphs[i]) return LADLE_ERR_NOMEM;
        if ((st = load_graph(L, ap->graphs[i], a->graphs[i], owner))) return st;
      }
      break;
    default:
      break; /* sparse tensors, type protos: kept as undefined; ops that need them refuse */
  }
  return LADLE_OK;
}

static void read_type(value *v, const Onnx__TypeProto *tp) {
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) return;
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (tt->has_elem_type) v->dtype = tt->elem_type;
  if (!tt->shape) return;
  if (tt->shape->n_dim > LADLE_MAX_DIMS) return;
  v->ndim = (int)tt->shape->n_dim;
  for (size_t d = 0; d < tt->shape->n_dim; d++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
    v->dims[d] = -1;
    free(v->dim_names[d]); /* a value may be declared twice (input and output, value_info) */
    v->dim_names[d] = NULL;
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
        dim->dim_value >= 0)
      v->dims[d] = dim->dim_value;
    else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
             dim->dim_param)
      v->dim_names[d] = strdup(dim->dim_param);
  }
}

/* The value id for a name used as a node input: local, else an outer-scope reference for a
 * subgraph, else -2 (undefined). */
static int resolve_input(graph *g, const char *name) {
  int id = graph_find_value(g, name);
  if (id >= 0) return id;
  for (const graph *p = g->parent; p; p = p->parent) {
    if (graph_find_value(p, name) >= 0) {
      id = graph_add_value(g, name);
      if (id >= 0) g->values[id].kind = VAL_OUTER;
      return id;
    }
  }
  return -2;
}

/* Turns a Constant node into a constant value. */
static ladle_status constant_value(loader *L, const Onnx__NodeProto *np, ladle_tensor **out) {
  ladle_tensor *t = NULL;
  if (np->n_attribute != 1)
    return err_set(L->e, LADLE_ERR_PARSE, "Constant node '%s' needs exactly one attribute",
                   np->name ? np->name : "");
  const Onnx__AttributeProto *ap = np->attribute[0];
  const char *an = ap->name ? ap->name : "";
  if (strcmp(an, "value") == 0 && ap->t) return tensor_from_proto(L, ap->t, out, NULL);
  t = calloc(1, sizeof *t);
  if (!t) return LADLE_ERR_NOMEM;
  if (strcmp(an, "value_float") == 0 || strcmp(an, "value_int") == 0) {
    t->ndim = 0;
    t->dtype = an[6] == 'f' ? LADLE_FLOAT : LADLE_INT64;
    t->data = malloc(8);
    if (!t->data) goto nomem;
    if (t->dtype == LADLE_FLOAT) *(float *)t->data = ap->f;
    else *(int64_t *)t->data = ap->i;
  } else if (strcmp(an, "value_floats") == 0 || strcmp(an, "value_ints") == 0) {
    bool f = an[6] == 'f';
    size_t n = f ? ap->n_floats : ap->n_ints;
    t->ndim = 1;
    t->dims[0] = (int64_t)n;
    t->dtype = f ? LADLE_FLOAT : LADLE_INT64;
    t->data = malloc(8 * (n + 1));
    if (!t->data) goto nomem;
    if (n) memcpy(t->data, f ? (void *)ap->floats : (void *)ap->ints, (f ? 4 : 8) * n);
  } else if (strcmp(an, "value_string") == 0 || strcmp(an, "value_strings") == 0) {
    bool one = an[12] == '\0';
    size_t n = one ? 1 : ap->n_strings;
    t->ndim = one ? 0 : 1;
    t->dims[0] = (int64_t)n;
    t->dtype = LADLE_STRING;
    char **s = calloc(n + 1, sizeof *s);
    t->data = s;
    if (!s) goto nomem;
    for (size_t i = 0; i < n; i++) {
      const ProtobufCBinaryData *b = one ? &ap->s : &ap->strings[i];
      s[i] = malloc(b->len + 1);
      if (!s[i]) goto nomem;
      if (b->len) memcpy(s[i], b->data, b->len);
      s[i][b->len] = '\0';
    }
  } else {
    tensor_free(t);
    return err_set(L->e, LADLE_ERR_UNSUPPORTED, "Constant node '%s': attribute '%s' unsupported",
                   np->name ? np->name : "", an);
  }
  *out = t;
  return LADLE_OK;
nomem:
  tensor_free(t);
  return LADLE_ERR_NOMEM;
}

static ladle_status load_graph(loader *L, const Onnx__GraphProto *gp, graph *g, graph *parent) {
  ladle_status st = LADLE_OK;
  int id;
  if (++L->depth > MAX_GRAPH_DEPTH) return err_set(L->e, LADLE_ERR_LIMIT, "subgraphs nested too deep");
  if (gp->n_node > MAX_NODES) return err_set(L->e, LADLE_ERR_LIMIT, "too many nodes");
  g->parent = parent;
  g->name = xstrdup(gp->name);
  if (!g->name) return LADLE_ERR_NOMEM;

  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    const char *nm = tp->name ? tp->name : "";
    if (graph_find_value(g, nm) >= 0)
      return err_set(L->e, LADLE_ERR_PARSE, "initializer '%s' defined twice", nm);
    if ((id = graph_add_value(g, nm)) < 0) return LADLE_ERR_NOMEM;
    g->values[id].kind = VAL_CONST;
    if ((st = tensor_from_proto(L, tp, &g->values[id].konst, &g->values[id].konst_mapped))) {
      err_prefix(L->e, "initializer '%s'", nm);
      return st;
    }
    g->values[id].dtype = g->values[id].konst->dtype;
    g->values[id].ndim = g->values[id].konst->ndim;
    memcpy(g->values[id].dims, g->values[id].konst->dims, sizeof g->values[id].dims);
  }
  g->inputs = calloc(gp->n_input + 1, sizeof(int));
  g->outputs = calloc(gp->n_output + 1, sizeof(int));
  if (!g->inputs || !g->outputs) return LADLE_ERR_NOMEM;
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *nm = gp->input[i]->name ? gp->input[i]->name : "";
    id = graph_find_value(g, nm);
    if (id >= 0 && g->values[id].kind == VAL_CONST) continue; /* IR<4: initializer listed */
    if (id >= 0) return err_set(L->e, LADLE_ERR_PARSE, "graph input '%s' listed twice", nm);
    if ((id = graph_add_value(g, nm)) < 0) return LADLE_ERR_NOMEM;
    g->values[id].kind = VAL_INPUT;
    read_type(&g->values[id], gp->input[i]->type);
    g->inputs[g->n_inputs++] = id;
  }

  g->nodes = calloc(gp->n_node + 1, sizeof(node));
  if (!g->nodes) return LADLE_ERR_NOMEM;
  g->cap_nodes = (int)gp->n_node + 1;
  /* Values produced by nodes are created first, so inputs can refer to later nodes (the order
   * in the file need not be topological). */
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    for (size_t o = 0; o < np->n_output; o++) {
      const char *nm = np->output[o] ? np->output[o] : "";
      if (!nm[0]) continue;
      if (graph_find_value(g, nm) >= 0)
        return err_set(L->e, LADLE_ERR_PARSE, "value '%s' produced twice (node '%s')", nm,
                       np->name ? np->name : "");
      if ((id = graph_add_value(g, nm)) < 0) return LADLE_ERR_NOMEM;
    }
  }
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char *op_type = np->op_type ? np->op_type : "";
    const char *domain = np->domain ? np->domain : "";
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    if (strcmp(op_type, "Constant") == 0 && domain[0] == '\0' && np->n_output == 1) {
      id = graph_find_value(g, np->output[0]);
      if (id < 0) return err_set(L->e, LADLE_ERR_PARSE, "Constant node without an output");
      if ((st = constant_value(L, np, &g->values[id].konst))) return st;
      g->values[id].kind = VAL_CONST;
      g->values[id].dtype = g->values[id].konst->dtype;
      continue;
    }
    node *n = &g->nodes[g->n_nodes++];
    n->name = xstrdup(np->name);
    n->op_type = xstrdup(op_type);
    n->domain = xstrdup(domain);
    n->in = calloc(np->n_input + 1, sizeof(int));
    n->out = calloc(np->n_output + 1, sizeof(int));
    n->attrs = calloc(np->n_attribute + 1, sizeof(attr));
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out || !n->attrs)
      return LADLE_ERR_NOMEM;
    n->opset = (int)model_opset(L->m, domain);
    n->n_in = (int)np->n_input;
    n->n_out = (int)np->n_output;
    for (size_t k = 0; k < np->n_input; k++) {
      const char *nm = np->input[k] ? np->input[k] : "";
      if (!nm[0]) {
        n->in[k] = -1;
        continue;
      }
      n->in[k] = resolve_input(g, nm);
      if (n->in[k] == -2)
        return err_set(L->e, LADLE_ERR_PARSE, "node '%s' (%s): input '%s' is never defined",
                       n->name, n->op_type, nm);
      if (n->in[k] < 0) return LADLE_ERR_NOMEM;
    }
    for (size_t k = 0; k < np->n_output; k++) {
      const char *nm = np->output[k] ? np->output[k] : "";
      char anon[64];
      if (!nm[0]) { /* omitted optional output: an anonymous value nobody reads */
        snprintf(anon, sizeof anon, "\x01unused:%zu:%zu", i, k);
        nm = anon;
        if ((id = graph_add_value(g, nm)) < 0) return LADLE_ERR_NOMEM;
        n->out[k] = id;
        continue;
      }
      n->out[k] = graph_find_value(g, nm);
    }
    for (size_t k = 0; k < np->n_attribute; k++) {
      if ((st = attr_from_proto(L, np->attribute[k], &n->attrs[n->n_attr++], g))) {
        err_prefix(L->e, "node '%s' (%s)", n->name, n->op_type);
        return st;
      }
    }
  }
  for (size_t i = 0; i < gp->n_value_info; i++) {
    id = graph_find_value(g, gp->value_info[i]->name ? gp->value_info[i]->name : "");
    if (id >= 0 && g->values[id].kind == VAL_INTERMEDIATE)
      read_type(&g->values[id], gp->value_info[i]->type);
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *nm = gp->output[i]->name ? gp->output[i]->name : "";
    id = resolve_input(g, nm);
    if (id < 0) return err_set(L->e, LADLE_ERR_PARSE, "graph output '%s' is never defined", nm);
    value *v = &g->values[id];
    v->is_output = true;
    int declared_dt = v->dtype, declared_nd = v->ndim;
    read_type(v, gp->output[i]->type);
    if (v->kind == VAL_CONST && v->konst) { /* keep the constant's own facts */
      v->dtype = declared_dt ? declared_dt : v->konst->dtype;
      v->ndim = declared_nd;
    }
    g->outputs[g->n_outputs++] = id;
  }
  L->depth--;
  return graph_sort(g, L->e);
}

int64_t model_opset(const struct ladle_model *m, const char *domain) {
  if (!m) return 0;
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (int i = 0; i < m->n_opsets; i++)
    if (strcmp(m->opsets[i].domain, domain) == 0) return m->opsets[i].version;
  return 0;
}

/* Resolves the kernel of every node, recursing into subgraphs. */
static ladle_status resolve_ops(graph *g, errbuf *e) {
  for (int i = 0; i < g->n_nodes; i++) {
    node *n = &g->nodes[i];
    bool known = false;
    n->op = op_find(n->domain, n->op_type, n->opset, &known);
    if (!n->op) {
      const char *dom = n->domain[0] ? n->domain : "ai.onnx";
      char label[300];
      if (n->name[0])
        snprintf(label, sizeof label, "node '%s'", n->name);
      else /* unnamed nodes are known by their first output */
        snprintf(label, sizeof label, "node #%d (output '%s')", i,
                 n->n_out && n->out[0] >= 0 ? g->values[n->out[0]].name : "");
      if (known)
        return err_set(e, LADLE_ERR_UNSUPPORTED,
                       "op %s (domain %s) is supported, but not at opset %d (%s)", n->op_type,
                       dom, n->opset, label);
      return err_set(e, LADLE_ERR_UNSUPPORTED, "unsupported op %s (domain %s, opset %d) at %s",
                     n->op_type, dom, n->opset, label);
    }
    for (int a = 0; a < n->n_attr; a++) {
      ladle_status st;
      if (n->attrs[a].g && (st = resolve_ops(n->attrs[a].g, e))) return st;
      for (int64_t k = 0; k < n->attrs[a].n && n->attrs[a].graphs; k++)
        if ((st = resolve_ops(n->attrs[a].graphs[k], e))) return st;
    }
  }
  return LADLE_OK;
}

static ladle_status load_proto(struct ladle_model *m, const void *buf, size_t len,
                               const ladle_load_options *opt, errbuf *e) {
  ladle_status st = LADLE_OK;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  if (!mp) return err_set(e, LADLE_ERR_PARSE, "not an ONNX model (protobuf parse failed)");
  loader L = {m, e, 0};
  m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
  if (m->ir_version < 3 || m->ir_version > 8) {
    st = err_set(e, LADLE_ERR_UNSUPPORTED, "ONNX IR version %lld is not supported (3 to 8 are)",
                 (long long)m->ir_version);
    goto out;
  }
  if (!mp->graph) {
    st = err_set(e, LADLE_ERR_PARSE, "model has no graph");
    goto out;
  }
  m->producer_name = xstrdup(mp->producer_name);
  m->producer_version = xstrdup(mp->producer_version);
  m->opsets = calloc(mp->n_opset_import + 1, sizeof *m->opsets);
  if (!m->opsets || !m->producer_name || !m->producer_version) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const char *d = mp->opset_import[i]->domain ? mp->opset_import[i]->domain : "";
    if (strcmp(d, "ai.onnx") == 0) d = "";
    m->opsets[m->n_opsets].domain = xstrdup(d);
    if (!m->opsets[m->n_opsets].domain) {
      st = LADLE_ERR_NOMEM;
      goto out;
    }
    m->opsets[m->n_opsets++].version = mp->opset_import[i]->version;
  }
  if (mp->n_opset_import == 0) { /* IR 3 without imports: opset 1 of the default domain */
    m->opsets[0].domain = xstrdup("");
    m->opsets[0].version = 1;
    m->n_opsets = 1;
  }
  if ((st = load_graph(&L, mp->graph, &m->g, NULL))) goto out;
  if (opt && opt->inspect_only) goto out;
  if ((st = resolve_ops(&m->g, e))) goto out;
  if (!opt || opt->optimize) {
    if ((st = graph_optimize(&m->g, e))) goto out;
  }
  st = graph_init_ops(&m->g, e);
out:
  onnx__model_proto__free_unpacked(mp, NULL);
  return st;
}

void ladle_model_free(ladle_model *m) {
  if (!m) return;
  graph_free(&m->g);
  for (int i = 0; i < m->n_opsets; i++) free(m->opsets[i].domain);
  free(m->opsets);
  free(m->producer_name);
  free(m->producer_version);
  free(m->dir);
  for (int i = 0; i < m->n_maps; i++) munmap(m->maps[i].addr, m->maps[i].len);
  free(m->maps);
  free(m);
}

ladle_status ladle_model_load_buffer(const void *buf, size_t len, const ladle_load_options *opt,
                                     ladle_model **out, char *err, size_t err_len) {
  errbuf e = {{0}};
  struct ladle_model *m = calloc(1, sizeof *m);
  ladle_status st = m ? load_proto(m, buf, len, opt, &e) : LADLE_ERR_NOMEM;
  if (st) {
    if (err && err_len) snprintf(err, err_len, "%s", e.msg[0] ? e.msg : ladle_status_text(st));
    ladle_model_free(m);
    return st;
  }
  *out = m;
  return LADLE_OK;
}

ladle_status ladle_model_load(const char *path, const ladle_load_options *opt, ladle_model **out,
                              char *err, size_t err_len) {
  errbuf e = {{0}};
  ladle_status st = LADLE_OK;
  struct ladle_model *m = NULL;
  void *addr = MAP_FAILED;
  size_t len = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    st = err_set(&e, LADLE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    goto out;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = err_set(&e, LADLE_ERR_IO, "'%s' is not a regular file", path);
    goto out;
  }
  len = (size_t)sb.st_size;
  if (len == 0) {
    st = err_set(&e, LADLE_ERR_PARSE, "'%s' is empty", path);
    goto out;
  }
  addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) {
    st = err_set(&e, LADLE_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    goto out;
  }
  m = calloc(1, sizeof *m);
  if (!m) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  const char *slash = strrchr(path, '/');
  m->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
  if (!m->dir) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  st = load_proto(m, addr, len, opt, &e);
out:
  if (addr != MAP_FAILED) munmap(addr, len);
  if (fd >= 0) close(fd);
  if (st) {
    if (err && err_len)
      snprintf(err, err_len, "%s: %s", path, e.msg[0] ? e.msg : ladle_status_text(st));
    ladle_model_free(m);
    return st;
  }
  *out = m;
  return LADLE_OK;
}

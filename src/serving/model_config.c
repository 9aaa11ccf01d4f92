/* model_config.c — config.yaml keys (Triton's names), defaults from the ONNX file, and the
 * configuration rendered back as Triton's JSON. */
#include "serving/model_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tensor.h"
#include "serving/datatype.h"

#define MAX_DECLS 256

void model_config_init(model_config *c, const char *name) {
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name ? name : "");
  c->max_batch_size = -1;
  c->dynamic_batching = -1;
  c->allow_timeout_override = true;
  c->instance_count = 1;
  c->intra_op_threads = 1;
  c->version_policy = VP_LATEST;
  c->num_versions = 1;
  snprintf(c->default_model_filename, sizeof c->default_model_filename, "model.onnx");
}

void model_config_destroy(model_config *c) {
  free(c->decl_in);
  free(c->decl_out);
  c->decl_in = c->decl_out = NULL;
  c->n_decl_in = c->n_decl_out = 0;
}

ladle_status model_config_copy(model_config *dst, const model_config *src) {
  *dst = *src;
  dst->decl_in = dst->decl_out = NULL;
  if (src->n_decl_in) {
    if (!(dst->decl_in = malloc(sizeof *dst->decl_in * (size_t)src->n_decl_in))) return LADLE_ERR_NOMEM;
    memcpy(dst->decl_in, src->decl_in, sizeof *dst->decl_in * (size_t)src->n_decl_in);
  }
  if (src->n_decl_out) {
    if (!(dst->decl_out = malloc(sizeof *dst->decl_out * (size_t)src->n_decl_out))) {
      free(dst->decl_in);
      dst->decl_in = NULL;
      return LADLE_ERR_NOMEM;
    }
    memcpy(dst->decl_out, src->decl_out, sizeof *dst->decl_out * (size_t)src->n_decl_out);
  }
  return LADLE_OK;
}

/* --- reading values ----------------------------------------------------------------------- */

static const char *key_of(const json *m, char *buf, size_t len) {
  size_t n = m->keylen < len - 1 ? m->keylen : len - 1;
  memcpy(buf, m->key, n);
  buf[n] = '\0';
  return buf;
}

/* Integers may be JSON numbers or strings (protobuf's JSON writes int64 as strings). */
static ladle_status get_int(const json *v, const char *what, int64_t lo, int64_t hi, int64_t *out,
                            errbuf *e) {
  int64_t x = 0;
  bool ok = false;
  if (v->type == JSON_NUMBER) ok = json_num_i64(v->s, v->len, &x);
  else if (v->type == JSON_STRING) ok = json_num_i64(v->s, v->len, &x);
  if (!ok || x < lo || x > hi)
    return err_set(e, LADLE_ERR_INVALID, "%s: expected an integer from %lld to %lld, got %s%.*s%s",
                   what, (long long)lo, (long long)hi, v->type == JSON_STRING ? "'" : "",
                   (v->type == JSON_NUMBER || v->type == JSON_STRING) ? (int)(v->len > 40 ? 40 : v->len) : 0,
                   (v->type == JSON_NUMBER || v->type == JSON_STRING) ? v->s : "",
                   v->type == JSON_STRING ? "'" : (v->type == JSON_NUMBER ? "" : json_type_name(v->type)));
  *out = x;
  return LADLE_OK;
}

static ladle_status get_bool(const json *v, const char *what, bool *out, errbuf *e) {
  if (v->type == JSON_TRUE || v->type == JSON_FALSE) {
    *out = v->type == JSON_TRUE;
    return LADLE_OK;
  }
  if (v->type == JSON_STRING && (!strcmp(v->s, "true") || !strcmp(v->s, "false"))) {
    *out = !strcmp(v->s, "true");
    return LADLE_OK;
  }
  return err_set(e, LADLE_ERR_INVALID, "%s: expected true or false, got %s", what,
                 json_type_name(v->type));
}

static ladle_status get_str(const json *v, const char *what, char *out, size_t len, errbuf *e) {
  if (v->type != JSON_STRING)
    return err_set(e, LADLE_ERR_INVALID, "%s: expected a string, got %s", what, json_type_name(v->type));
  if (v->len >= len) return err_set(e, LADLE_ERR_INVALID, "%s: longer than %zu bytes", what, len - 1);
  memcpy(out, v->s, v->len + 1);
  return LADLE_OK;
}

/* Fails on members of obj not in known (a NULL-terminated list). */
static ladle_status check_keys(const json *obj, const char *where, const char *const *known,
                               errbuf *e) {
  char k[64], list[512];
  for (const json *m = obj->child; m; m = m->next) {
    bool found = false;
    for (int i = 0; known[i]; i++)
      if (json_key_is(m, known[i])) found = true;
    if (found) continue;
    size_t off = 0;
    list[0] = '\0';
    for (int i = 0; known[i] && off < sizeof list; i++)
      off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", known[i]);
    return err_set(e, LADLE_ERR_INVALID, "%s: unknown key '%s' (known: %s)", where,
                   key_of(m, k, sizeof k), list);
  }
  return LADLE_OK;
}

static ladle_status want_object(const json *v, const char *what, errbuf *e) {
  if (v->type == JSON_OBJECT) return LADLE_OK;
  return err_set(e, LADLE_ERR_INVALID, "%s: expected a mapping, got %s", what, json_type_name(v->type));
}

/* --- sections ----------------------------------------------------------------------------- */

static ladle_status apply_queue_policy(model_config *c, const json *q, errbuf *e) {
  static const char *const known[] = {"max_queue_size", "default_timeout_microseconds",
                                      "allow_timeout_override", "timeout_action", NULL};
  ladle_status st;
  int64_t x = 0;
  if ((st = want_object(q, "dynamic_batching.default_queue_policy", e))) return st;
  if ((st = check_keys(q, "dynamic_batching.default_queue_policy", known, e))) return st;
  for (const json *m = q->child; m; m = m->next) {
    if (json_key_is(m, "max_queue_size")) {
      if ((st = get_int(m, "max_queue_size", 0, 1 << 24, &x, e))) return st;
      c->max_queue_size = x;
    } else if (json_key_is(m, "default_timeout_microseconds")) {
      if ((st = get_int(m, "default_timeout_microseconds", 0, INT64_C(1) << 40, &x, e))) return st;
      c->default_timeout_us = x;
    } else if (json_key_is(m, "allow_timeout_override")) {
      if ((st = get_bool(m, "allow_timeout_override", &c->allow_timeout_override, e))) return st;
    } else if (json_key_is(m, "timeout_action")) {
      if (m->type != JSON_STRING || strcmp(m->s, "REJECT"))
        return err_set(e, LADLE_ERR_INVALID, "timeout_action: only REJECT is supported");
    }
  }
  return LADLE_OK;
}

static ladle_status apply_batching(model_config *c, const json *d, errbuf *e) {
  static const char *const known[] = {"max_queue_delay_microseconds", "preferred_batch_size",
                                      "max_queue_size", "default_timeout_microseconds",
                                      "allow_timeout_override", "default_queue_policy",
                                      "preserve_ordering", NULL};
  ladle_status st;
  int64_t x = 0;
  if (d->type == JSON_TRUE || d->type == JSON_FALSE) {
    c->dynamic_batching = d->type == JSON_TRUE;
    return LADLE_OK;
  }
  c->dynamic_batching = 1;
  if (d->type == JSON_NULL) return LADLE_OK;
  if ((st = want_object(d, "dynamic_batching", e))) return st;
  if ((st = check_keys(d, "dynamic_batching", known, e))) return st;
  for (const json *m = d->child; m; m = m->next) {
    if (json_key_is(m, "max_queue_delay_microseconds")) {
      if ((st = get_int(m, "max_queue_delay_microseconds", 0, 60 * INT64_C(1000000), &x, e))) return st;
      c->max_queue_delay_us = x;
    } else if (json_key_is(m, "preferred_batch_size")) {
      c->n_preferred = 0;
      if (m->type == JSON_ARRAY) {
        for (const json *p = m->child; p; p = p->next) {
          if (c->n_preferred == CFG_MAX_PREFERRED)
            return err_set(e, LADLE_ERR_INVALID, "preferred_batch_size: at most %d sizes", CFG_MAX_PREFERRED);
          if ((st = get_int(p, "preferred_batch_size", 1, 1 << 20, &x, e))) return st;
          c->preferred[c->n_preferred++] = (int)x;
        }
      } else {
        if ((st = get_int(m, "preferred_batch_size", 1, 1 << 20, &x, e))) return st;
        c->preferred[c->n_preferred++] = (int)x;
      }
    } else if (json_key_is(m, "default_queue_policy")) {
      if ((st = apply_queue_policy(c, m, e))) return st;
    } else if (json_key_is(m, "preserve_ordering")) {
      bool b;
      if ((st = get_bool(m, "preserve_ordering", &b, e))) return st;
    } else {
      /* max_queue_size, default_timeout_microseconds, allow_timeout_override: the queue policy's
       * keys, accepted one level up as a shorthand */
      json one = *m;
      one.next = NULL;
      json wrap = {.type = JSON_OBJECT, .len = 1, .child = &one};
      if ((st = apply_queue_policy(c, &wrap, e))) return st;
    }
  }
  return LADLE_OK;
}

static ladle_status apply_instances(model_config *c, const json *g, errbuf *e) {
  static const char *const known[] = {"count", "kind", "name", "gpus", NULL};
  ladle_status st;
  int64_t x, total = 0;
  const json *one = g;
  if (g->type == JSON_ARRAY) {
    if (!g->child) return err_set(e, LADLE_ERR_INVALID, "instance_group: empty list");
    one = g->child;
  }
  for (; one; one = g->type == JSON_ARRAY ? one->next : NULL) {
    if ((st = want_object(one, "instance_group", e))) return st;
    if ((st = check_keys(one, "instance_group", known, e))) return st;
    int64_t count = 1;
    for (const json *m = one->child; m; m = m->next) {
      if (json_key_is(m, "count")) {
        if ((st = get_int(m, "instance_group.count", 1, 64, &x, e))) return st;
        count = x;
      } else if (json_key_is(m, "kind")) {
        if (m->type != JSON_STRING || (strcmp(m->s, "KIND_CPU") && strcmp(m->s, "KIND_AUTO")))
          return err_set(e, LADLE_ERR_INVALID, "instance_group.kind: only KIND_CPU (or KIND_AUTO) is supported");
      } else if (json_key_is(m, "gpus")) {
        return err_set(e, LADLE_ERR_INVALID, "instance_group.gpus: ladle runs on CPUs only");
      }
    }
    total += count;
  }
  if (total > 64) return err_set(e, LADLE_ERR_INVALID, "instance_group: at most 64 instances in all");
  c->instance_count = (int)total;
  return LADLE_OK;
}

static ladle_status apply_policy(model_config *c, const json *p, errbuf *e) {
  static const char *const known[] = {"latest", "all", "specific", NULL};
  ladle_status st;
  int64_t x = 0;
  if ((st = want_object(p, "version_policy", e))) return st;
  if ((st = check_keys(p, "version_policy", known, e))) return st;
  if (p->len != 1) return err_set(e, LADLE_ERR_INVALID, "version_policy: give one of latest, all, specific");
  const json *m = p->child;
  if (json_key_is(m, "all")) {
    c->version_policy = VP_ALL;
  } else if (json_key_is(m, "latest")) {
    c->version_policy = VP_LATEST;
    c->num_versions = 1;
    const json *n = json_get(m, "num_versions");
    if (m->type != JSON_OBJECT && m->type != JSON_NULL)
      return err_set(e, LADLE_ERR_INVALID, "version_policy.latest: expected a mapping");
    if (n) {
      if ((st = get_int(n, "version_policy.latest.num_versions", 1, CFG_MAX_VERSIONS, &x, e))) return st;
      c->num_versions = (int)x;
    }
  } else {
    const json *v = json_get(m, "versions");
    c->version_policy = VP_SPECIFIC;
    c->n_versions = 0;
    if (!v || v->type != JSON_ARRAY || !v->child)
      return err_set(e, LADLE_ERR_INVALID, "version_policy.specific.versions: expected a list of versions");
    for (const json *k = v->child; k; k = k->next) {
      if (c->n_versions == CFG_MAX_VERSIONS)
        return err_set(e, LADLE_ERR_INVALID, "version_policy.specific: at most %d versions", CFG_MAX_VERSIONS);
      if ((st = get_int(k, "version_policy.specific.versions", 1, INT64_MAX, &x, e))) return st;
      c->versions[c->n_versions++] = x;
    }
  }
  return LADLE_OK;
}

static ladle_status apply_decls(const json *list, const char *what, tensor_decl **out, int *n,
                                errbuf *e) {
  static const char *const known[] = {"name", "data_type", "dims", "format", "reshape",
                                      "optional", "is_shape_tensor", NULL};
  ladle_status st;
  int64_t x = 0;
  if (list->type != JSON_ARRAY)
    return err_set(e, LADLE_ERR_INVALID, "%s: expected a list of tensors", what);
  if (list->len > MAX_DECLS) return err_set(e, LADLE_ERR_INVALID, "%s: at most %d tensors", what, MAX_DECLS);
  free(*out);
  *n = 0;
  if (!(*out = calloc(list->len ? list->len : 1, sizeof **out))) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  for (const json *t = list->child; t; t = t->next) {
    tensor_decl *d = &(*out)[(*n)++];
    d->ndim = -1;
    if ((st = want_object(t, what, e))) return st;
    if ((st = check_keys(t, what, known, e))) return st;
    const json *name = json_get(t, "name");
    if (!name) return err_set(e, LADLE_ERR_INVALID, "%s: every tensor needs a name", what);
    if ((st = get_str(name, what, d->name, sizeof d->name, e))) return st;
    for (const json *m = t->child; m; m = m->next) {
      if (json_key_is(m, "data_type")) {
        if (m->type != JSON_STRING || !(d->dtype = config_dtype_parse(m->s, m->len)))
          return err_set(e, LADLE_ERR_INVALID, "%s '%s': unknown data_type (TYPE_FP32, TYPE_INT64, ...)", what, d->name);
      } else if (json_key_is(m, "dims")) {
        if (m->type != JSON_ARRAY || m->len > LADLE_MAX_DIMS)
          return err_set(e, LADLE_ERR_INVALID, "%s '%s': dims must be a list of at most %d sizes", what, d->name, LADLE_MAX_DIMS);
        d->ndim = 0;
        for (const json *k = m->child; k; k = k->next) {
          if ((st = get_int(k, "dims", -1, INT64_C(1) << 40, &x, e))) return st;
          d->dims[d->ndim++] = x;
        }
      } else if (json_key_is(m, "reshape")) {
        return err_set(e, LADLE_ERR_INVALID, "%s '%s': reshape is not supported", what, d->name);
      }
    }
  }
  return LADLE_OK;
}

/* parameters.<key>: a number, or Triton's form {string_value: "2"}, within [lo, hi]. Leaves
 * *out as it is when the key is absent. */
static ladle_status get_param(const json *p, const char *key, int64_t lo, int64_t hi, int64_t *out,
                              errbuf *e) {
  const json *t = json_get(p, key);
  if (!t) return LADLE_OK;
  const json *sv = json_get(t, "string_value");
  char what[64];
  snprintf(what, sizeof what, "parameters.%s", key);
  return get_int(sv ? sv : t, what, lo, hi, out, e);
}

static ladle_status apply_parameters(model_config *c, const json *p, errbuf *e) {
  static const char *const known[] = {"intra_op_thread_count", "memory_limit_mb", NULL};
  ladle_status st;
  int64_t threads = c->intra_op_threads;
  if ((st = want_object(p, "parameters", e))) return st;
  if ((st = check_keys(p, "parameters", known, e))) return st;
  if ((st = get_param(p, "intra_op_thread_count", 1, 256, &threads, e))) return st;
  if ((st = get_param(p, "memory_limit_mb", 1, INT64_C(1) << 24, &c->memory_limit_mb, e))) return st;
  c->intra_op_threads = (int)threads;
  return LADLE_OK;
}

ladle_status model_config_apply(model_config *c, const json *root, errbuf *e) {
  static const char *const known[] = {
      "name", "platform", "backend", "max_batch_size", "dynamic_batching", "instance_group",
      "version_policy", "default_model_filename", "input", "output", "parameters", NULL};
  ladle_status st;
  int64_t x = 0;
  char tmp[CFG_NAME_MAX];
  if ((st = want_object(root, "config", e))) return st;
  if ((st = check_keys(root, "config", known, e))) return st;
  for (const json *m = root->child; m; m = m->next) {
    if (json_key_is(m, "name")) {
      if ((st = get_str(m, "name", tmp, sizeof tmp, e))) return st;
      if (c->name[0] && strcmp(tmp, c->name))
        return err_set(e, LADLE_ERR_INVALID, "name: '%s' differs from the model's folder '%s'", tmp, c->name);
    } else if (json_key_is(m, "platform") || json_key_is(m, "backend")) {
      if ((st = get_str(m, "platform", tmp, sizeof tmp, e))) return st;
      if (strcmp(tmp, "onnxruntime_onnx") && strcmp(tmp, "onnxruntime") && strcmp(tmp, "ladle") &&
          strcmp(tmp, "ladle_onnx") && strcmp(tmp, "onnx"))
        return err_set(e, LADLE_ERR_INVALID, "platform/backend '%s': ladle serves ONNX models only", tmp);
    } else if (json_key_is(m, "max_batch_size")) {
      if ((st = get_int(m, "max_batch_size", 0, 1 << 20, &x, e))) return st;
      c->max_batch_size = (int)x;
    } else if (json_key_is(m, "dynamic_batching")) {
      if ((st = apply_batching(c, m, e))) return st;
    } else if (json_key_is(m, "instance_group")) {
      if ((st = apply_instances(c, m, e))) return st;
    } else if (json_key_is(m, "version_policy")) {
      if ((st = apply_policy(c, m, e))) return st;
    } else if (json_key_is(m, "default_model_filename")) {
      if ((st = get_str(m, "default_model_filename", c->default_model_filename,
                        sizeof c->default_model_filename, e)))
        return st;
      if (strchr(c->default_model_filename, '/') || !strcmp(c->default_model_filename, "..") ||
          !c->default_model_filename[0])
        return err_set(e, LADLE_ERR_INVALID, "default_model_filename: must be a plain file name");
    } else if (json_key_is(m, "input")) {
      if ((st = apply_decls(m, "input", &c->decl_in, &c->n_decl_in, e))) return st;
    } else if (json_key_is(m, "output")) {
      if ((st = apply_decls(m, "output", &c->decl_out, &c->n_decl_out, e))) return st;
    } else if (json_key_is(m, "parameters")) {
      if ((st = apply_parameters(c, m, e))) return st;
    }
  }
  return LADLE_OK;
}

/* --- signature ---------------------------------------------------------------------------- */

void model_sig_destroy(model_sig *s) {
  for (int i = 0; s->in && i < s->n_in; i++) free(s->in[i].name);
  for (int i = 0; s->out && i < s->n_out; i++) free(s->out[i].name);
  free(s->in);
  free(s->out);
  memset(s, 0, sizeof *s);
}

static ladle_status check_decls(const tensor_decl *decl, int n, const tensor_sig *ts, int nts,
                                int batch, const char *what, errbuf *e) {
  char a[128], b[128];
  for (int i = 0; i < n; i++) {
    const tensor_decl *d = &decl[i];
    const tensor_sig *t = NULL;
    for (int k = 0; k < nts; k++)
      if (!strcmp(ts[k].name, d->name)) t = &ts[k];
    if (!t)
      return err_set(e, LADLE_ERR_INVALID, "config declares %s '%s', which the model does not have",
                     what, d->name);
    if (d->dtype && d->dtype != t->dtype)
      return err_set(e, LADLE_ERR_INVALID, "config declares %s '%s' as %s, the model has %s", what,
                     d->name, config_dtype_name(d->dtype), config_dtype_name(t->dtype));
    if (d->ndim < 0 || t->ndim < 0) continue;
    int skip = batch ? 1 : 0;
    bool ok = t->ndim - skip == d->ndim;
    for (int k = 0; ok && k < d->ndim; k++)
      if (d->dims[k] >= 0 && t->dims[k + skip] >= 0 && d->dims[k] != t->dims[k + skip]) ok = false;
    if (!ok)
      return err_set(e, LADLE_ERR_INVALID, "config declares %s '%s' with dims %s, the model has %s%s",
                     what, d->name, shape_str(d->ndim, d->dims, a, sizeof a),
                     shape_str(t->ndim - skip, t->dims + skip, b, sizeof b),
                     batch ? " (without the batch dimension)" : "");
  }
  return LADLE_OK;
}

ladle_status model_sig_build(const ladle_model *m, model_config *c, int default_max_batch,
                             model_sig *sig, errbuf *e) {
  ladle_status st = LADLE_OK;
  char a[128];
  memset(sig, 0, sizeof *sig);
  sig->n_in = ladle_model_n_inputs(m);
  sig->n_out = ladle_model_n_outputs(m);
  sig->in = calloc((size_t)sig->n_in + 1, sizeof *sig->in);
  sig->out = calloc((size_t)sig->n_out + 1, sizeof *sig->out);
  if (!sig->in || !sig->out) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < sig->n_in; i++) {
    tensor_sig *t = &sig->in[i];
    ladle_model_input_info(m, i, &t->dtype, &t->ndim, t->dims);
    if (!(t->name = strdup(ladle_model_input_name(m, i)))) {
      st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
      goto out;
    }
    if (!v2_dtype_name(t->dtype)) {
      st = err_set(e, LADLE_ERR_UNSUPPORTED, "input '%s' has element type %s, which the protocol cannot carry",
                   t->name, ladle_dtype_name(t->dtype));
      goto out;
    }
  }
  for (int i = 0; i < sig->n_out; i++) {
    tensor_sig *t = &sig->out[i];
    ladle_model_output_info(m, i, &t->dtype, &t->ndim, t->dims);
    if (!(t->name = strdup(ladle_model_output_name(m, i)))) {
      st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
      goto out;
    }
  }
  /* batching: every input needs a variable first dim; outputs too, where they declare one */
  const char *why = NULL;
  for (int i = 0; i < sig->n_in && !why; i++)
    if (sig->in[i].ndim == 0 || (sig->in[i].ndim > 0 && sig->in[i].dims[0] >= 0)) why = sig->in[i].name;
  for (int i = 0; i < sig->n_out && !why; i++)
    if (sig->out[i].ndim == 0 || (sig->out[i].ndim > 0 && sig->out[i].dims[0] >= 0)) why = sig->out[i].name;
  if (sig->n_in == 0) why = "(no inputs)";
  bool auto_batch = c->max_batch_size < 0;
  if (auto_batch) {
    bool unknown_rank = false;
    for (int i = 0; i < sig->n_in; i++) unknown_rank |= sig->in[i].ndim < 0;
    for (int i = 0; i < sig->n_out; i++) unknown_rank |= sig->out[i].ndim < 0;
    c->max_batch_size = (why || unknown_rank) ? 0 : default_max_batch;
  } else if (c->max_batch_size > 0 && why) {
    int k = -1;
    for (int i = 0; i < sig->n_in; i++)
      if (!strcmp(sig->in[i].name, why)) k = i;
    const tensor_sig *t = k >= 0 ? &sig->in[k] : NULL;
    for (int i = 0; !t && i < sig->n_out; i++)
      if (!strcmp(sig->out[i].name, why)) t = &sig->out[i];
    st = err_set(e, LADLE_ERR_INVALID,
                 "max_batch_size %d needs a variable first dimension on every input and output, "
                 "but '%s' has shape %s",
                 c->max_batch_size, why, t ? shape_str(t->ndim, t->dims, a, sizeof a) : "[]");
    goto out;
  }
  if (c->dynamic_batching < 0) c->dynamic_batching = auto_batch && c->max_batch_size > 0;
  if (c->max_batch_size == 0) c->dynamic_batching = 0;
  for (int i = 0; i < c->n_preferred; i++)
    if (c->preferred[i] > c->max_batch_size) {
      st = err_set(e, LADLE_ERR_INVALID, "preferred_batch_size %d is larger than max_batch_size %d",
                   c->preferred[i], c->max_batch_size);
      goto out;
    }
  sig->max_batch_size = c->max_batch_size;
  sig->dynamic_batching = c->dynamic_batching > 0;
  if (sig->max_batch_size > 0) {
    for (int i = 0; i < sig->n_in; i++)
      if (sig->in[i].ndim > 0) sig->in[i].dims[0] = -1;
    for (int i = 0; i < sig->n_out; i++)
      if (sig->out[i].ndim > 0) sig->out[i].dims[0] = -1;
  }
  if ((st = check_decls(c->decl_in, c->n_decl_in, sig->in, sig->n_in, sig->max_batch_size > 0, "input", e)))
    goto out;
  if ((st = check_decls(c->decl_out, c->n_decl_out, sig->out, sig->n_out, sig->max_batch_size > 0, "output", e)))
    goto out;
out:
  if (st) model_sig_destroy(sig);
  return st;
}

/* --- rendering ---------------------------------------------------------------------------- */

static void put_tensors(dbuf *b, const tensor_sig *t, int n, bool batch) {
  dbuf_putc(b, '[');
  for (int i = 0; i < n; i++) {
    dbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    json_put_str(b, t[i].name, strlen(t[i].name));
    dbuf_printf(b, ",\"data_type\":\"%s\",\"format\":\"FORMAT_NONE\",\"dims\":[", config_dtype_name(t[i].dtype));
    if (t[i].ndim < 0) {
      dbuf_puts(b, "-1");
    } else {
      for (int d = batch ? 1 : 0; d < t[i].ndim; d++) {
        if (d > (batch ? 1 : 0)) dbuf_putc(b, ',');
        json_put_i64(b, t[i].dims[d]);
      }
    }
    dbuf_puts(b, "]}");
  }
  dbuf_putc(b, ']');
}

void model_config_to_json(const model_config *c, const model_sig *sig, const char *platform,
                          dbuf *b) {
  dbuf_puts(b, "{\"name\":");
  json_put_str(b, c->name, strlen(c->name));
  dbuf_printf(b, ",\"platform\":\"%s\",\"backend\":\"ladle\",\"version_policy\":", platform);
  if (c->version_policy == VP_ALL) {
    dbuf_puts(b, "{\"all\":{}}");
  } else if (c->version_policy == VP_LATEST) {
    dbuf_printf(b, "{\"latest\":{\"num_versions\":%d}}", c->num_versions);
  } else {
    dbuf_puts(b, "{\"specific\":{\"versions\":[");
    for (int i = 0; i < c->n_versions; i++) dbuf_printf(b, "%s%lld", i ? "," : "", (long long)c->versions[i]);
    dbuf_puts(b, "]}}");
  }
  dbuf_printf(b, ",\"max_batch_size\":%d,\"input\":", sig->max_batch_size);
  put_tensors(b, sig->in, sig->n_in, sig->max_batch_size > 0);
  dbuf_puts(b, ",\"output\":");
  put_tensors(b, sig->out, sig->n_out, sig->max_batch_size > 0);
  dbuf_puts(b, ",\"instance_group\":[{\"name\":");
  char gname[CFG_NAME_MAX + 8];
  snprintf(gname, sizeof gname, "%s_0", c->name);
  json_put_str(b, gname, strlen(gname));
  dbuf_printf(b, ",\"kind\":\"KIND_CPU\",\"count\":%d}]", c->instance_count);
  if (sig->dynamic_batching) {
    dbuf_puts(b, ",\"dynamic_batching\":{\"preferred_batch_size\":[");
    for (int i = 0; i < c->n_preferred; i++) dbuf_printf(b, "%s%d", i ? "," : "", c->preferred[i]);
    dbuf_printf(b,
                "],\"max_queue_delay_microseconds\":%lld,\"default_queue_policy\":{"
                "\"timeout_action\":\"REJECT\",\"default_timeout_microseconds\":%lld,"
                "\"allow_timeout_override\":%s,\"max_queue_size\":%lld}}",
                (long long)c->max_queue_delay_us, (long long)c->default_timeout_us,
                c->allow_timeout_override ? "true" : "false", (long long)c->max_queue_size);
  }
  dbuf_printf(b, ",\"parameters\":{\"intra_op_thread_count\":{\"string_value\":\"%d\"}",
              c->intra_op_threads);
  if (c->memory_limit_mb)
    dbuf_printf(b, ",\"memory_limit_mb\":{\"string_value\":\"%lld\"}", (long long)c->memory_limit_mb);
  dbuf_putc(b, '}');
  dbuf_puts(b, ",\"default_model_filename\":");
  json_put_str(b, c->default_model_filename, strlen(c->default_model_filename));
  dbuf_putc(b, '}');
}

/* v1.c — V1 prediction as TF Serving and KServe V1 clients send it:
 *   POST /v1/models/M[/versions/V]:predict  {"instances": [...]} -> {"predictions": [...]}
 *                                           {"inputs": ...}      -> {"outputs": ...}
 *   GET  /v1/models/M[/versions/V]          TF Serving's version status (plus KServe's name/ready)
 * Tensors are nested JSON arrays; BYTES elements may be {"b64": "..."}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/codec.h"
#include "http/internal.h"
#include "runtime/tensor.h"
#include "serving/datatype.h"
#include "serving/json.h"

typedef struct v1_ctx {
  model_version *mv;
  bool rows_form; /* "instances" (answer "predictions") or "inputs" (answer "outputs") */
  ladle_tensor *in;
  bool *want;
  infer_request ir;
} v1_ctx;

/* --- base64 ------------------------------------------------------------------------------- */

static int b64v(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

static char *b64_decode(arena *a, const char *s, size_t n) {
  char *out = arena_alloc(a, n / 4 * 3 + 4);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '=') break;
    int v = b64v(s[i]);
    if (v < 0) return NULL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xFF);
    }
  }
  out[o] = '\0';
  return out;
}

/* --- decoding ----------------------------------------------------------------------------- */

/* Shape of a nested array value, following first elements. */
static void value_shape(const json *v, ladle_tensor *t) {
  t->ndim = 0;
  while (v && v->type == JSON_ARRAY && t->ndim < LADLE_MAX_DIMS) {
    t->dims[t->ndim++] = v->len;
    v = v->child;
  }
}

static ladle_status put_leaf(ladle_tensor *t, int64_t k, const json *v, arena *a, const char *name, errbuf *e) {
  int dt = t->dtype;
  if (dt == LADLE_STRING) {
    const char *s = NULL;
    if (v->type == JSON_STRING) {
      s = v->s;
    } else if (v->type == JSON_OBJECT) {
      const json *b = json_get(v, "b64");
      if (b && b->type == JSON_STRING && !(s = b64_decode(a, b->s, b->len)))
        return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld has invalid base64", name, (long long)k);
    }
    if (!s) return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld must be a string or {\"b64\": ...}", name, (long long)k);
    ((const char **)t->data)[k] = s;
    return LADLE_OK;
  }
  if (dt == LADLE_BOOL) {
    if (v->type != JSON_TRUE && v->type != JSON_FALSE)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld is %s, BOOL needs true or false", name,
                     (long long)k, json_type_name(v->type));
    ((uint8_t *)t->data)[k] = v->type == JSON_TRUE;
    return LADLE_OK;
  }
  if (v->type != JSON_NUMBER)
    return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld is %s, %s needs numbers", name, (long long)k,
                   json_type_name(v->type), v2_dtype_name(dt));
  bool ok = true;
  int64_t x = 0;
  double d = 0;
  switch (dt) {
    case LADLE_FLOAT: ok = json_num_f32(v->s, v->len, &((float *)t->data)[k]); break;
    case LADLE_DOUBLE: ok = json_num_f64(v->s, v->len, &((double *)t->data)[k]); break;
    case LADLE_FLOAT16: ok = json_num_f64(v->s, v->len, &d); ((uint16_t *)t->data)[k] = float_to_half((float)d); break;
    case LADLE_BFLOAT16: ok = json_num_f64(v->s, v->len, &d); ((uint16_t *)t->data)[k] = float_to_bfloat16((float)d); break;
    case LADLE_UINT64: ok = json_num_u64(v->s, v->len, &((uint64_t *)t->data)[k]); break;
    default:
      ok = json_num_i64(v->s, v->len, &x);
#define CASE(DT, T, LO, HI) \
  case DT: ok = ok && x >= (LO) && x <= (HI); ((T *)t->data)[k] = (T)x; break;
      switch (dt) {
        CASE(LADLE_INT8, int8_t, INT8_MIN, INT8_MAX)
        CASE(LADLE_INT16, int16_t, INT16_MIN, INT16_MAX)
        CASE(LADLE_INT32, int32_t, INT32_MIN, INT32_MAX)
        CASE(LADLE_INT64, int64_t, INT64_MIN, INT64_MAX)
        CASE(LADLE_UINT8, uint8_t, 0, UINT8_MAX)
        CASE(LADLE_UINT16, uint16_t, 0, UINT16_MAX)
        CASE(LADLE_UINT32, uint32_t, 0, (int64_t)UINT32_MAX)
        default: ok = false;
      }
#undef CASE
  }
  if (!ok)
    return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld (%.*s) is not a valid %s value", name,
                   (long long)k, (int)(v->len > 40 ? 40 : v->len), v->s, v2_dtype_name(dt));
  return LADLE_OK;
}

/* Writes value v (nested to depth t->ndim - d) at flat offset *k, checking it is rectangular. */
static ladle_status put_nested(ladle_tensor *t, int d, const json *v, int64_t *k, arena *a, const char *name,
                               errbuf *e) {
  if (d == t->ndim) {
    if (v->type == JSON_ARRAY)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s': the nested arrays are not rectangular (deeper than %d levels somewhere)",
                     name, t->ndim);
    return put_leaf(t, (*k)++, v, a, name, e);
  }
  if (v->type != JSON_ARRAY || (int64_t)v->len != t->dims[d])
    return err_set(e, LADLE_ERR_SHAPE, "input '%s': the nested arrays are not rectangular (dimension %d should have %lld elements)",
                   name, d, (long long)t->dims[d]);
  for (const json *c = v->child; c; c = c->next) {
    ladle_status st = put_nested(t, d + 1, c, k, a, name, e);
    if (st) return st;
  }
  return LADLE_OK;
}

static ladle_status check_against(const model_sig *sig, int i, const ladle_tensor *t, int64_t max_elements,
                                  errbuf *e) {
  const tensor_sig *ts = &sig->in[i];
  char a[128], b[128];
  int64_t n = ladle_tensor_numel(t);
  if (n < 0 || n > max_elements)
    return err_set(e, LADLE_ERR_LIMIT, "input '%s': more than %lld elements (--max-tensor-elements)", ts->name,
                   (long long)max_elements);
  bool ok = ts->ndim < 0 || ts->ndim == t->ndim;
  for (int d = 0; ok && ts->ndim >= 0 && d < t->ndim; d++)
    if (ts->dims[d] >= 0 && ts->dims[d] != t->dims[d]) ok = false;
  if (!ok)
    return err_set(e, LADLE_ERR_SHAPE, "input '%s': expected shape %s, got %s", ts->name,
                   shape_str(ts->ndim, ts->dims, a, sizeof a), shape_str(t->ndim, t->dims, b, sizeof b));
  if (sig->max_batch_size > 0 && (t->dims[0] > sig->max_batch_size || t->dims[0] < 1))
    return err_set(e, LADLE_ERR_INVALID, "input '%s': batch size %lld is outside 1..max_batch_size %d", ts->name,
                   (long long)t->dims[0], sig->max_batch_size);
  return LADLE_OK;
}

/* Fills input i from `n` row values (instances) or one whole value. */
static ladle_status fill_input(const model_sig *sig, int i, const json *const *vals, int n, bool rows,
                               int64_t max_elements, arena *a, ladle_tensor *t, errbuf *e) {
  const char *name = sig->in[i].name;
  ladle_tensor row;
  memset(&row, 0, sizeof row);
  value_shape(vals[0], &row);
  t->dtype = sig->in[i].dtype;
  if (rows) {
    if (row.ndim + 1 > LADLE_MAX_DIMS) return err_set(e, LADLE_ERR_SHAPE, "input '%s': too many dimensions", name);
    t->ndim = row.ndim + 1;
    t->dims[0] = n;
    memcpy(t->dims + 1, row.dims, sizeof(int64_t) * (size_t)row.ndim);
  } else {
    *t = row;
    t->dtype = sig->in[i].dtype;
  }
  ladle_status st = check_against(sig, i, t, max_elements, e);
  if (st) return st;
  int64_t count = ladle_tensor_numel(t);
  size_t bytes = (size_t)count * ladle_dtype_size(t->dtype);
  if (!(t->data = arena_calloc(a, bytes ? bytes : 1)))
    return err_set(e, LADLE_ERR_LIMIT, "input '%s': out of request memory", name);
  int64_t k = 0;
  ladle_tensor sub = *t;
  if (rows) { /* each row checked against the first row's shape */
    sub.ndim = t->ndim - 1;
    memcpy(sub.dims, t->dims + 1, sizeof(int64_t) * (size_t)sub.ndim);
    for (int r = 0; r < n; r++) {
      sub.data = t->data;
      if ((st = put_nested(&sub, 0, vals[r], &k, a, name, e))) return st;
    }
  } else if ((st = put_nested(t, 0, vals[0], &k, a, name, e))) {
    return st;
  }
  return LADLE_OK;
}

/* --- encoding ----------------------------------------------------------------------------- */

static void put_nested_out(dbuf *b, const ladle_tensor *t, int d, int64_t *k) {
  if (d == t->ndim) {
    json_put_elements(b, t, (*k)++, 1);
    return;
  }
  dbuf_putc(b, '[');
  for (int64_t i = 0; i < t->dims[d]; i++) {
    if (i) dbuf_putc(b, ',');
    put_nested_out(b, t, d + 1, k);
    if (b->failed) return;
  }
  dbuf_putc(b, ']');
}

static void v1_resume(conn *c) {
  v1_ctx *x = c->ctx;
  model_version *v = x->mv;
  __atomic_sub_fetch(&v->stats.inflight, 1, __ATOMIC_RELAXED);
  if (c->dead) {
    repo_release(v);
    return;
  }
  if (x->ir.st) {
    conn_count_result(c, v, http_code_of(x->ir.st), x->ir.why);
    http_reply_status(c, x->ir.st, x->ir.err.msg);
    repo_release(v);
    return;
  }
  const model_sig *sig = &v->sig;
  dbuf *b = &c->out;
  if (x->rows_form) {
    /* rows: output dim 0 */
    int64_t n = sig->n_out ? (x->ir.out[0].ndim ? x->ir.out[0].dims[0] : 1) : 0;
    dbuf_puts(b, "{\"predictions\":[");
    for (int64_t r = 0; r < n; r++) {
      if (r) dbuf_putc(b, ',');
      if (sig->n_out > 1) dbuf_putc(b, '{');
      for (int o = 0; o < sig->n_out; o++) {
        const ladle_tensor *t = &x->ir.out[o];
        if (sig->n_out > 1) {
          if (o) dbuf_putc(b, ',');
          json_put_str(b, sig->out[o].name, strlen(sig->out[o].name));
          dbuf_putc(b, ':');
        }
        ladle_tensor sub = *t;
        int64_t per = 1, k = 0;
        if (t->ndim >= 1 && t->dims[0] == n) {
          sub.ndim = t->ndim - 1;
          memmove(sub.dims, t->dims + 1, sizeof(int64_t) * (size_t)sub.ndim);
          for (int d = 0; d < sub.ndim; d++) per *= sub.dims[d];
          sub.data = (char *)t->data + (size_t)(r * per) * ladle_dtype_size(t->dtype);
        } /* an output without the batch dimension repeats whole in every row */
        put_nested_out(b, &sub, 0, &k);
      }
      if (sig->n_out > 1) dbuf_putc(b, '}');
    }
    dbuf_puts(b, "]}");
  } else {
    dbuf_puts(b, "{\"outputs\":");
    if (sig->n_out > 1) dbuf_putc(b, '{');
    for (int o = 0; o < sig->n_out; o++) {
      int64_t k = 0;
      if (sig->n_out > 1) {
        if (o) dbuf_putc(b, ',');
        json_put_str(b, sig->out[o].name, strlen(sig->out[o].name));
        dbuf_putc(b, ':');
      }
      put_nested_out(b, &x->ir.out[o], 0, &k);
    }
    if (sig->n_out > 1) dbuf_putc(b, '}');
    dbuf_putc(b, '}');
  }
  conn_count_result(c, v, 200, FAIL_INVALID);
  http_reply_json(c, 200);
  repo_release(v);
}

static ladle_status v1_decode(conn *c, model_version *v, v1_ctx *x, errbuf *e) {
  const http_options *o = &c->io->srv->o;
  const model_sig *sig = &v->sig;
  json *root = NULL;
  json_opts jo = {o->max_json_depth, NULL};
  ladle_status st = json_parse(c->body, c->body_len, &c->mem, &jo, &root, e);
  if (st) return st;
  if (root->type != JSON_OBJECT) return err_set(e, LADLE_ERR_INVALID, "the request must be a JSON object");
  const json *inst = json_get(root, "instances"), *cols = json_get(root, "inputs");
  if (!!inst == !!cols) return err_set(e, LADLE_ERR_INVALID, "give exactly one of 'instances' (rows) or 'inputs' (columns)");
  x->in = arena_calloc(&c->mem, sizeof *x->in * (size_t)(sig->n_in + 1));
  x->want = arena_calloc(&c->mem, (size_t)sig->n_out + 1);
  if (!x->in || !x->want) return err_set(e, LADLE_ERR_LIMIT, "out of request memory");
  for (int k = 0; k < sig->n_out; k++) x->want[k] = true;
  x->rows_form = inst != NULL;
  if (inst) {
    if (inst->type != JSON_ARRAY || inst->len == 0)
      return err_set(e, LADLE_ERR_INVALID, "'instances' must be a non-empty list of rows");
    const json **vals = arena_alloc(&c->mem, sizeof *vals * inst->len);
    if (!vals) return err_set(e, LADLE_ERR_LIMIT, "out of request memory");
    for (int i = 0; i < sig->n_in; i++) {
      int n = 0;
      for (const json *r = inst->child; r; r = r->next) {
        const json *val = r;
        bool named = r->type == JSON_OBJECT && !(sig->in[i].dtype == LADLE_STRING && json_get(r, "b64"));
        if (named) {
          val = json_get(r, sig->in[i].name);
          if (!val) return err_set(e, LADLE_ERR_INVALID, "instance %d has no input '%s'", n, sig->in[i].name);
        } else if (sig->n_in > 1) {
          return err_set(e, LADLE_ERR_INVALID, "the model has %d inputs: each instance must be an object naming them", sig->n_in);
        }
        vals[n++] = val;
      }
      if ((st = fill_input(sig, i, vals, n, true, o->max_tensor_elements, &c->mem, &x->in[i], e))) return st;
    }
  } else {
    for (int i = 0; i < sig->n_in; i++) {
      const json *val = cols;
      if (cols->type == JSON_OBJECT) {
        val = json_get(cols, sig->in[i].name);
        if (!val) return err_set(e, LADLE_ERR_INVALID, "'inputs' has no input '%s'", sig->in[i].name);
      } else if (sig->n_in > 1) {
        return err_set(e, LADLE_ERR_INVALID, "the model has %d inputs: 'inputs' must be an object naming them", sig->n_in);
      }
      if ((st = fill_input(sig, i, &val, 1, false, o->max_tensor_elements, &c->mem, &x->in[i], e))) return st;
    }
  }
  if (sig->max_batch_size > 0)
    for (int i = 1; i < sig->n_in; i++)
      if (x->in[i].dims[0] != x->in[0].dims[0])
        return err_set(e, LADLE_ERR_SHAPE, "inputs disagree on the batch size: '%s' has %lld, '%s' has %lld",
                       sig->in[0].name, (long long)x->in[0].dims[0], sig->in[i].name, (long long)x->in[i].dims[0]);
  return LADLE_OK;
}

void handle_v1_predict(conn *c, const char *model, const char *version) {
  model_version *v = NULL;
  errbuf e;
  ladle_status st = repo_acquire(c->io->srv->repo, model, version, &v, &e);
  if (st) {
    http_reply_status(c, st, e.msg);
    return;
  }
  v1_ctx *x = arena_calloc(&c->mem, sizeof *x);
  if (!x) {
    http_reply_error(c, 413, "out of request memory");
    repo_release(v);
    return;
  }
  x->mv = v;
  if ((st = v1_decode(c, v, x, &e))) {
    conn_count_result(c, v, http_code_of(st), FAIL_INVALID);
    http_reply_status(c, st, e.msg);
    repo_release(v);
    return;
  }
  c->ctx = x;
  int64_t rows = v->sig.max_batch_size > 0 ? x->in[0].dims[0] : 1;
  infer_submit(c, v, x->in, x->want, rows, -1, v1_resume, &x->ir);
}

void handle_v1_status(conn *c, const char *model, const char *version) {
  model_version *v = NULL;
  errbuf e;
  ladle_status st = repo_acquire(c->io->srv->repo, model, version, &v, &e);
  if (st) {
    http_reply_status(c, st, e.msg);
    return;
  }
  dbuf *b = &c->out;
  dbuf_printf(b, "{\"model_version_status\":[{\"version\":\"%s\",\"state\":\"AVAILABLE\",\"status\":{\"error_code\":\"OK\",\"error_message\":\"\"}}],\"name\":",
              v->vstr);
  json_put_str(b, v->name, strlen(v->name));
  dbuf_puts(b, ",\"ready\":true}");
  repo_release(v);
  http_reply_json(c, 200);
}

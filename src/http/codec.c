/* codec.c — V2 inference requests (JSON + binary extension) in, responses out. */
#include "http/codec.h"

#include <stdio.h>
#include <string.h>

#include "runtime/tensor.h"
#include "serving/datatype.h"
#include "serving/json.h"

#define DTYPE_LIST "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES"

static int find_name(const tensor_sig *ts, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ts[i].name, name)) return i;
  return -1;
}

static void name_list(const tensor_sig *ts, int n, char *buf, size_t len) {
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, "%s'%s'", i ? ", " : "", ts[i].name);
}

/* --- elements ----------------------------------------------------------------------------- */

static const char *kind_text(json_type k) {
  switch (k) {
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "an object";
  }
}

/* Stores element k of t from one JSON token. raw_string: tok is a quoted string token. */
static ladle_status put_elem(ladle_tensor *t, int64_t k, json_type kind, const char *tok, size_t n,
                             bool raw_string, arena *a, const char *name, errbuf *e) {
  int dt = t->dtype;
  const char *want = dt == LADLE_BOOL ? "true or false" : dt == LADLE_STRING ? "strings" : "numbers";
  if (dt == LADLE_STRING) {
    if (kind != JSON_STRING) goto type;
    char *s = raw_string ? json_raw_string(a, tok, n, NULL) : arena_strndup(a, tok, n);
    if (!s) return err_set(e, LADLE_ERR_LIMIT, "input '%s': out of request memory", name);
    ((char **)t->data)[k] = s;
    return LADLE_OK;
  }
  if (dt == LADLE_BOOL) {
    if (kind != JSON_TRUE && kind != JSON_FALSE) goto type;
    ((uint8_t *)t->data)[k] = kind == JSON_TRUE;
    return LADLE_OK;
  }
  if (kind != JSON_NUMBER) goto type;
  switch (dt) {
    case LADLE_FLOAT:
      if (!json_num_f32(tok, n, &((float *)t->data)[k])) goto bad;
      return LADLE_OK;
    case LADLE_DOUBLE:
      if (!json_num_f64(tok, n, &((double *)t->data)[k])) goto bad;
      return LADLE_OK;
    case LADLE_FLOAT16:
    case LADLE_BFLOAT16: {
      float f;
      if (!json_num_f32(tok, n, &f)) goto bad;
      ((uint16_t *)t->data)[k] = dt == LADLE_FLOAT16 ? float_to_half(f) : float_to_bfloat16(f);
      return LADLE_OK;
    }
    case LADLE_UINT64: {
      uint64_t u;
      if (!json_num_u64(tok, n, &u)) goto notint;
      ((uint64_t *)t->data)[k] = u;
      return LADLE_OK;
    }
    default: break;
  }
  int64_t v;
  if (!json_num_i64(tok, n, &v)) goto notint;
  switch (dt) {
#define INT_CASE(DT, T, LO, HI)        \
  case DT:                             \
    if (v < (LO) || v > (HI)) goto range; \
    ((T *)t->data)[k] = (T)v;          \
    return LADLE_OK;
    INT_CASE(LADLE_INT8, int8_t, INT8_MIN, INT8_MAX)
    INT_CASE(LADLE_INT16, int16_t, INT16_MIN, INT16_MAX)
    INT_CASE(LADLE_INT32, int32_t, INT32_MIN, INT32_MAX)
    INT_CASE(LADLE_INT64, int64_t, INT64_MIN, INT64_MAX)
    INT_CASE(LADLE_UINT8, uint8_t, 0, UINT8_MAX)
    INT_CASE(LADLE_UINT16, uint16_t, 0, UINT16_MAX)
    INT_CASE(LADLE_UINT32, uint32_t, 0, (int64_t)UINT32_MAX)
#undef INT_CASE
    default: break;
  }
  return err_set(e, LADLE_ERR_UNSUPPORTED, "input '%s': datatype %s cannot be sent as JSON", name,
                 v2_dtype_name(dt));
type:
  return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld of 'data' is %s; %s needs %s", name,
                 (long long)k, kind_text(kind), v2_dtype_name(dt), want);
bad:
  return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld of 'data' (%.*s) is not a valid %s value",
                 name, (long long)k, (int)(n > 40 ? 40 : n), tok, v2_dtype_name(dt));
notint:
  return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld of 'data' (%.*s) is not an integer (%s)",
                 name, (long long)k, (int)(n > 40 ? 40 : n), tok, v2_dtype_name(dt));
range:
  return err_set(e, LADLE_ERR_INVALID, "input '%s': element %lld of 'data' (%.*s) is out of range for %s",
                 name, (long long)k, (int)(n > 40 ? 40 : n), tok, v2_dtype_name(dt));
}

static ladle_status count_error(const char *name, const ladle_tensor *t, int64_t count, bool more,
                                int64_t got, errbuf *e) {
  char sh[128];
  shape_str(t->ndim, t->dims, sh, sizeof sh);
  if (more)
    return err_set(e, LADLE_ERR_SHAPE, "input '%s': shape %s needs %lld values, 'data' has more",
                   name, sh, (long long)count);
  return err_set(e, LADLE_ERR_SHAPE, "input '%s': shape %s needs %lld values, 'data' has %lld", name,
                 sh, (long long)count, (long long)got);
}

/* Fills t (count elements) from the `data` member. */
static ladle_status fill_json(ladle_tensor *t, int64_t count, const json *data, int max_depth,
                              arena *a, const char *name, errbuf *e) {
  ladle_status st;
  if (data->type != JSON_RAW) {
    if (data->type == JSON_OBJECT || data->type == JSON_ARRAY)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': 'data' must be an array of values", name);
    if (count != 1) return count_error(name, t, count, false, 1, e);
    return put_elem(t, 0, data->type, data->s, data->len, false, a, name, e);
  }
  json_walk w;
  size_t tn;
  const char *tok;
  json_type kind;
  int64_t k = 0;
  int r;
  json_walk_init(&w, data->s, data->len, max_depth);
  if (t->dtype == LADLE_FLOAT) { /* the common case: one pass from text to floats */
    float *d = t->data;
    for (;;) {
      if (json_walk_f32(&w, d, count, &k, e) == 0) {
        r = 0;
        break;
      }
      /* something else is next: an extra element, another type, a number for the slow path */
      if ((r = json_walk_next(&w, &kind, &tok, &tn, e)) <= 0) break;
      if (k >= count) return count_error(name, t, count, true, 0, e);
      if ((st = put_elem(t, k, kind, tok, tn, true, a, name, e))) return st;
      k++;
    }
  } else {
    while ((r = json_walk_next(&w, &kind, &tok, &tn, e)) > 0) {
      if (k >= count) return count_error(name, t, count, true, 0, e);
      if ((st = put_elem(t, k, kind, tok, tn, true, a, name, e))) return st;
      k++;
    }
  }
  if (r < 0) {
    err_prefix(e, "input '%s': 'data'", name);
    return LADLE_ERR_PARSE;
  }
  if (k != count) return count_error(name, t, count, false, k, e);
  return LADLE_OK;
}

/* Fills t from binary bytes p[0, n). */
static ladle_status fill_binary(ladle_tensor *t, int64_t count, const char *p, size_t n, arena *a,
                                const char *name, errbuf *e) {
  char sh[128];
  if (t->dtype != LADLE_STRING) {
    size_t esz = v2_dtype_size(t->dtype);
    if ((uint64_t)count * esz != n)
      return err_set(e, LADLE_ERR_SHAPE,
                     "input '%s': binary_data_size is %zu bytes, but shape %s of %s needs %llu",
                     name, n, shape_str(t->ndim, t->dims, sh, sizeof sh), v2_dtype_name(t->dtype),
                     (unsigned long long)((uint64_t)count * esz));
    if (((uintptr_t)p % 64) == 0) {
      t->data = (void *)p; /* aligned: use it where it lies */
    } else {
      if (!(t->data = arena_alloc64(a, n ? n : 1)))
        return err_set(e, LADLE_ERR_LIMIT, "input '%s': out of request memory", name);
      if (n) memcpy(t->data, p, n);
    }
    if (t->dtype == LADLE_BOOL)
      for (size_t i = 0; i < n; i++)
        if (((uint8_t *)t->data)[i] > 1)
          return err_set(e, LADLE_ERR_INVALID, "input '%s': BOOL element %zu is %u, not 0 or 1", name, i,
                         ((uint8_t *)t->data)[i]);
    return LADLE_OK;
  }
  /* BYTES: 4-byte little-endian length, then the bytes, per element */
  size_t off = 0;
  char **d = t->data;
  for (int64_t k = 0; k < count; k++) {
    if (n - off < 4)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s': binary BYTES data ends after %lld of %lld elements",
                     name, (long long)k, (long long)count);
    const unsigned char *u = (const unsigned char *)p + off;
    uint32_t l = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    off += 4;
    if (l > n - off)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s': BYTES element %lld says %u bytes, only %zu remain",
                     name, (long long)k, l, n - off);
    if (!(d[k] = arena_strndup(a, p + off, l)))
      return err_set(e, LADLE_ERR_LIMIT, "input '%s': out of request memory", name);
    off += l;
  }
  if (off != n)
    return err_set(e, LADLE_ERR_SHAPE, "input '%s': %zu bytes of binary data are left after %lld BYTES elements",
                   name, n - off, (long long)count);
  return LADLE_OK;
}

/* --- request ------------------------------------------------------------------------------ */

static ladle_status get_bool_param(const json *v, const char *what, bool *out, errbuf *e) {
  if (v->type == JSON_TRUE || v->type == JSON_FALSE) {
    *out = v->type == JSON_TRUE;
    return LADLE_OK;
  }
  return err_set(e, LADLE_ERR_INVALID, "parameter '%s' must be true or false, got %s", what,
                 json_type_name(v->type));
}

static ladle_status get_count_param(const json *v, const char *what, int64_t *out, errbuf *e) {
  int64_t x;
  if (!json_int(v, &x) || x < 0)
    return err_set(e, LADLE_ERR_INVALID, "parameter '%s' must be a non-negative integer, got %s", what,
                   v->type == JSON_NUMBER ? "a negative or fractional number" : json_type_name(v->type));
  *out = x;
  return LADLE_OK;
}

/* Shape from JSON, checked against the model. */
static ladle_status read_shape(const json *shape, const tensor_sig *ts, const model_sig *sig,
                               const v2_limits *lim, ladle_tensor *t, int64_t *count, errbuf *e) {
  char a[128], b[128];
  const char *name = ts->name;
  if (!shape) return err_set(e, LADLE_ERR_INVALID, "input '%s': 'shape' is missing", name);
  if (shape->type != JSON_ARRAY)
    return err_set(e, LADLE_ERR_INVALID, "input '%s': 'shape' must be an array of sizes, got %s", name,
                   json_type_name(shape->type));
  if (shape->len > LADLE_MAX_DIMS)
    return err_set(e, LADLE_ERR_SHAPE, "input '%s': shape has %u dimensions, at most %d are supported",
                   name, shape->len, LADLE_MAX_DIMS);
  t->ndim = 0;
  for (const json *d = shape->child; d; d = d->next) {
    int64_t x;
    if (!json_int(d, &x))
      return err_set(e, LADLE_ERR_INVALID, "input '%s': shape dimension %d is %s, not an integer", name,
                     t->ndim, d->type == JSON_NUMBER ? "a fraction or too large" : json_type_name(d->type));
    if (x < 0)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s': shape dimension %d is %lld; sizes cannot be negative",
                     name, t->ndim, (long long)x);
    t->dims[t->ndim++] = x;
  }
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (t->dims[i] != 0 && n > lim->max_elements / t->dims[i] + 1) {
      n = lim->max_elements + 1;
      break;
    }
    n *= t->dims[i];
  }
  for (int i = 0; i < t->ndim && n != 0; i++)
    if (t->dims[i] == 0) n = 0;
  if (n > lim->max_elements)
    return err_set(e, LADLE_ERR_LIMIT, "input '%s': shape %s has more than %lld elements (--max-tensor-elements)",
                   name, shape_str(t->ndim, t->dims, a, sizeof a), (long long)lim->max_elements);
  bool ok = ts->ndim < 0 || ts->ndim == t->ndim;
  for (int i = 0; ok && ts->ndim >= 0 && i < t->ndim; i++)
    if (ts->dims[i] >= 0 && ts->dims[i] != t->dims[i]) ok = false;
  if (!ok)
    return err_set(e, LADLE_ERR_SHAPE, "input '%s': expected shape %s, got %s", name,
                   shape_str(ts->ndim, ts->dims, a, sizeof a), shape_str(t->ndim, t->dims, b, sizeof b));
  if (sig->max_batch_size > 0) {
    if (t->ndim < 1)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s': the model batches, so the shape needs a batch dimension first",
                     name);
    if (t->dims[0] > sig->max_batch_size)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': batch size %lld is larger than the model's max_batch_size %d",
                     name, (long long)t->dims[0], sig->max_batch_size);
    if (t->dims[0] == 0)
      return err_set(e, LADLE_ERR_SHAPE, "input '%s': the batch dimension is 0", name);
  }
  *count = n;
  return LADLE_OK;
}

static ladle_status alloc_tensor(ladle_tensor *t, int64_t count, arena *a, const char *name, errbuf *e) {
  size_t esz = ladle_dtype_size(t->dtype);
  size_t bytes = (size_t)count * esz;
  if (!(t->data = arena_alloc64(a, bytes ? bytes : 1)))
    return err_set(e, LADLE_ERR_LIMIT, "input '%s': %lld elements do not fit in a request's memory (--max-request-memory)",
                   name, (long long)count);
  if (t->dtype == LADLE_STRING) memset(t->data, 0, bytes);
  return LADLE_OK;
}

static ladle_status decode_raw_binary(const char *body, size_t len, const model_sig *sig,
                                      const v2_limits *lim, arena *a, v2_request *rq, errbuf *e) {
  char sh[128];
  if (sig->n_in != 1)
    return err_set(e, LADLE_ERR_INVALID,
                   "a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; this one has %d",
                   sig->n_in);
  const tensor_sig *ts = &sig->in[0];
  ladle_tensor *t = &rq->in[0];
  int batch = sig->max_batch_size > 0 ? 1 : 0;
  t->dtype = ts->dtype;
  int64_t count = 0;
  if (ts->dtype == LADLE_STRING) {
    t->ndim = batch + 1;
    t->dims[0] = 1;
    t->dims[batch] = 1;
    count = 1;
  } else {
    size_t esz = v2_dtype_size(ts->dtype);
    if (ts->ndim < 0) {
      t->ndim = 1;
      t->dims[0] = (int64_t)(len / esz);
    } else {
      int var = -1;
      int64_t known = 1;
      t->ndim = ts->ndim;
      for (int i = 0; i < ts->ndim; i++) {
        t->dims[i] = ts->dims[i];
        if (i < batch) {
          t->dims[i] = 1;
        } else if (ts->dims[i] < 0) {
          if (var >= 0)
            return err_set(e, LADLE_ERR_INVALID,
                           "a raw binary request needs at most one variable dimension; input '%s' has shape %s",
                           ts->name, shape_str(ts->ndim, ts->dims, sh, sizeof sh));
          var = i;
        } else {
          known *= ts->dims[i];
        }
      }
      if (var >= 0) t->dims[var] = known ? (int64_t)(len / esz) / known : 0;
    }
    count = 1;
    for (int i = 0; i < t->ndim; i++) count *= t->dims[i];
    if (count > lim->max_elements)
      return err_set(e, LADLE_ERR_LIMIT, "input '%s': more than %lld elements (--max-tensor-elements)", ts->name,
                     (long long)lim->max_elements);
  }
  if (t->dtype == LADLE_STRING) {
    ladle_status st = alloc_tensor(t, count, a, ts->name, e);
    if (st) return st;
  }
  ladle_status st = fill_binary(t, count, body, len, a, ts->name, e);
  if (st) return st;
  rq->rows = 1;
  for (int o = 0; o < sig->n_out; o++) {
    rq->want[o] = rq->binary[o] = true;
    rq->order[rq->n_order++] = o;
  }
  rq->any_binary = true;
  return LADLE_OK;
}

ladle_status v2_decode(const char *body, size_t len, int64_t header_len, const model_sig *sig,
                       const v2_limits *lim, arena *a, v2_request *rq, errbuf *e) {
  ladle_status st;
  json *root = NULL;
  char list[256];
  memset(rq, 0, sizeof *rq);
  rq->timeout_us = -1;
  rq->in = arena_calloc(a, sizeof *rq->in * (size_t)(sig->n_in + 1));
  rq->want = arena_calloc(a, (size_t)sig->n_out + 1);
  rq->binary = arena_calloc(a, (size_t)sig->n_out + 1);
  rq->order = arena_calloc(a, sizeof(int) * (size_t)(sig->n_out + 1));
  if (!rq->in || !rq->want || !rq->binary || !rq->order)
    return err_set(e, LADLE_ERR_LIMIT, "out of request memory");
  if (header_len > (int64_t)len)
    return err_set(e, LADLE_ERR_INVALID, "Inference-Header-Content-Length %lld is larger than the body (%zu bytes)",
                   (long long)header_len, len);
  if (header_len == 0) return decode_raw_binary(body, len, sig, lim, a, rq, e);
  size_t jlen = header_len > 0 ? (size_t)header_len : len;
  const char *bin = body + jlen;
  size_t bin_len = len - jlen, bin_used = 0;

  json_opts jo = {lim->max_depth, "data"};
  if ((st = json_parse(body, jlen, a, &jo, &root, e))) return st;
  if (root->type != JSON_OBJECT)
    return err_set(e, LADLE_ERR_INVALID, "the request must be a JSON object, got %s", json_type_name(root->type));
  bool binary_default = false;
  const json *inputs = NULL, *outputs = NULL;
  for (const json *m = root->child; m; m = m->next) {
    if (json_key_is(m, "id")) {
      if (m->type != JSON_STRING)
        return err_set(e, LADLE_ERR_INVALID, "'id' must be a string, got %s", json_type_name(m->type));
      rq->id = m->s;
      rq->id_len = m->len;
    } else if (json_key_is(m, "inputs")) {
      inputs = m;
    } else if (json_key_is(m, "outputs")) {
      outputs = m;
    } else if (json_key_is(m, "parameters")) {
      if (m->type != JSON_OBJECT)
        return err_set(e, LADLE_ERR_INVALID, "'parameters' must be an object, got %s", json_type_name(m->type));
      for (const json *p = m->child; p; p = p->next) {
        if (json_key_is(p, "binary_data_output")) {
          if ((st = get_bool_param(p, "binary_data_output", &binary_default, e))) return st;
        } else if (json_key_is(p, "timeout")) {
          if ((st = get_count_param(p, "timeout", &rq->timeout_us, e))) return st;
        } else if (json_key_is(p, "priority")) {
          int64_t pr;
          if ((st = get_count_param(p, "priority", &pr, e))) return st;
        } else if (json_key_is(p, "sequence_id")) {
          int64_t sid = 0;
          if (p->type == JSON_STRING ? p->len > 0 : (!json_int(p, &sid) || sid != 0))
            return err_set(e, LADLE_ERR_UNSUPPORTED, "sequence batching (parameter 'sequence_id') is not supported");
        }
      }
    }
  }
  if (!inputs) return err_set(e, LADLE_ERR_INVALID, "the request has no 'inputs'");
  if (inputs->type != JSON_ARRAY)
    return err_set(e, LADLE_ERR_INVALID, "'inputs' must be an array, got %s", json_type_name(inputs->type));

  int64_t rows = -1;
  const char *rows_from = NULL;
  for (const json *in = inputs->child; in; in = in->next) {
    if (in->type != JSON_OBJECT)
      return err_set(e, LADLE_ERR_INVALID, "each element of 'inputs' must be an object, got %s", json_type_name(in->type));
    const json *name = json_get(in, "name"), *shape = json_get(in, "shape"), *dt = json_get(in, "datatype"),
               *data = json_get(in, "data"), *params = json_get(in, "parameters");
    if (!name || name->type != JSON_STRING)
      return err_set(e, LADLE_ERR_INVALID, "an input has no 'name' string");
    int k = find_name(sig->in, sig->n_in, name->s);
    if (k < 0) {
      name_list(sig->in, sig->n_in, list, sizeof list);
      return err_set(e, LADLE_ERR_INVALID,
                     "unknown input '%.64s': the model's inputs are %s", name->s, list);
    }
    const tensor_sig *ts = &sig->in[k];
    ladle_tensor *t = &rq->in[k];
    if (t->ndim || t->dtype)
      return err_set(e, LADLE_ERR_INVALID, "input '%s' is given twice", ts->name);
    if (!dt || dt->type != JSON_STRING)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': 'datatype' is missing (one of %s)", ts->name, DTYPE_LIST);
    int dtype = v2_dtype_parse(dt->s, dt->len);
    if (!dtype)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': unknown datatype '%.32s' (one of %s)", ts->name, dt->s, DTYPE_LIST);
    if (dtype != ts->dtype)
      return err_set(e, LADLE_ERR_DTYPE, "input '%s': expected datatype %s, got %s", ts->name,
                     v2_dtype_name(ts->dtype), v2_dtype_name(dtype));
    t->dtype = dtype;
    int64_t count = 0;
    if ((st = read_shape(shape, ts, sig, lim, t, &count, e))) return st;
    int64_t bsize = -1;
    if (params) {
      if (params->type != JSON_OBJECT)
        return err_set(e, LADLE_ERR_INVALID, "input '%s': 'parameters' must be an object", ts->name);
      for (const json *p = params->child; p; p = p->next) {
        if (json_key_is(p, "binary_data_size")) {
          if ((st = get_count_param(p, "binary_data_size", &bsize, e))) return st;
        } else if (json_key_is(p, "shared_memory_region")) {
          return err_set(e, LADLE_ERR_UNSUPPORTED, "input '%s': shared memory is not supported", ts->name);
        }
      }
    }
    if (bsize >= 0 && data)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': give either 'data' or binary_data_size, not both", ts->name);
    if (bsize < 0 && !data)
      return err_set(e, LADLE_ERR_INVALID, "input '%s': 'data' is missing", ts->name);
    if (bsize >= 0) {
      if (header_len < 0)
        return err_set(e, LADLE_ERR_INVALID,
                       "input '%s' has binary_data_size but the request has no Inference-Header-Content-Length header",
                       ts->name);
      if ((uint64_t)bsize > bin_len - bin_used)
        return err_set(e, LADLE_ERR_INVALID,
                       "input '%s': binary_data_size %lld goes past the end of the body (%zu bytes of binary data, %zu already used)",
                       ts->name, (long long)bsize, bin_len, bin_used);
      if (t->dtype == LADLE_STRING && (st = alloc_tensor(t, count, a, ts->name, e))) return st;
      if ((st = fill_binary(t, count, bin + bin_used, (size_t)bsize, a, ts->name, e))) return st;
      bin_used += (size_t)bsize;
    } else {
      if ((st = alloc_tensor(t, count, a, ts->name, e))) return st;
      if ((st = fill_json(t, count, data, lim->max_depth, a, ts->name, e))) return st;
    }
    if (sig->max_batch_size > 0) {
      if (rows >= 0 && t->dims[0] != rows)
        return err_set(e, LADLE_ERR_SHAPE, "inputs disagree on the batch size: '%s' has %lld, '%s' has %lld",
                       rows_from, (long long)rows, ts->name, (long long)t->dims[0]);
      rows = t->dims[0];
      rows_from = ts->name;
    }
  }
  for (int k = 0; k < sig->n_in; k++)
    if (!rq->in[k].data) {
      name_list(sig->in, sig->n_in, list, sizeof list);
      return err_set(e, LADLE_ERR_INVALID, "missing input '%s' (the model's inputs are %s)", sig->in[k].name, list);
    }
  if (bin_used != bin_len)
    return err_set(e, LADLE_ERR_INVALID, "%zu bytes of binary data follow the JSON, but the inputs use %zu",
                   bin_len, bin_used);
  rq->rows = sig->max_batch_size > 0 ? rows : 1;

  /* outputs (an empty list, like none, asks for all of them) */
  if (outputs && !(outputs->type == JSON_ARRAY && outputs->len == 0)) {
    if (outputs->type != JSON_ARRAY)
      return err_set(e, LADLE_ERR_INVALID, "'outputs' must be an array, got %s", json_type_name(outputs->type));
    for (const json *o = outputs->child; o; o = o->next) {
      if (o->type != JSON_OBJECT)
        return err_set(e, LADLE_ERR_INVALID, "each element of 'outputs' must be an object");
      const json *name = json_get(o, "name"), *params = json_get(o, "parameters");
      if (!name || name->type != JSON_STRING) return err_set(e, LADLE_ERR_INVALID, "an output has no 'name' string");
      int k = find_name(sig->out, sig->n_out, name->s);
      if (k < 0) {
        name_list(sig->out, sig->n_out, list, sizeof list);
        return err_set(e, LADLE_ERR_INVALID, "unknown output '%.64s': the model's outputs are %s", name->s, list);
      }
      if (rq->want[k]) return err_set(e, LADLE_ERR_INVALID, "output '%s' is requested twice", sig->out[k].name);
      rq->want[k] = true;
      rq->binary[k] = binary_default;
      rq->order[rq->n_order++] = k;
      if (params) {
        if (params->type != JSON_OBJECT)
          return err_set(e, LADLE_ERR_INVALID, "output '%s': 'parameters' must be an object", sig->out[k].name);
        for (const json *p = params->child; p; p = p->next) {
          if (json_key_is(p, "binary_data")) {
            if ((st = get_bool_param(p, "binary_data", &rq->binary[k], e))) return st;
          } else if (json_key_is(p, "classification")) {
            int64_t c = 0;
            if (!json_int(p, &c) || c != 0)
              return err_set(e, LADLE_ERR_UNSUPPORTED, "output '%s': the classification extension is not supported",
                             sig->out[k].name);
          } else if (json_key_is(p, "shared_memory_region")) {
            return err_set(e, LADLE_ERR_UNSUPPORTED, "output '%s': shared memory is not supported", sig->out[k].name);
          }
        }
      }
    }
  } else {
    for (int k = 0; k < sig->n_out; k++) {
      rq->want[k] = true;
      rq->binary[k] = binary_default;
      rq->order[rq->n_order++] = k;
    }
  }
  for (int k = 0; k < sig->n_out; k++) rq->any_binary |= rq->want[k] && rq->binary[k];
  return LADLE_OK;
}

/* --- response ----------------------------------------------------------------------------- */

void json_put_elements(dbuf *b, const ladle_tensor *t, int64_t off, int64_t n) {
  for (int64_t i = off; i < off + n; i++) {
    if (i > off) dbuf_putc(b, ',');
    switch (t->dtype) {
      case LADLE_FLOAT: json_put_f32(b, ((const float *)t->data)[i]); break;
      case LADLE_DOUBLE: json_put_f64(b, ((const double *)t->data)[i]); break;
      case LADLE_FLOAT16: json_put_f32(b, half_to_float(((const uint16_t *)t->data)[i])); break;
      case LADLE_BFLOAT16: json_put_f32(b, bfloat16_to_float(((const uint16_t *)t->data)[i])); break;
      case LADLE_INT8: json_put_i64(b, ((const int8_t *)t->data)[i]); break;
      case LADLE_INT16: json_put_i64(b, ((const int16_t *)t->data)[i]); break;
      case LADLE_INT32: json_put_i64(b, ((const int32_t *)t->data)[i]); break;
      case LADLE_INT64: json_put_i64(b, ((const int64_t *)t->data)[i]); break;
      case LADLE_UINT8: json_put_u64(b, ((const uint8_t *)t->data)[i]); break;
      case LADLE_UINT16: json_put_u64(b, ((const uint16_t *)t->data)[i]); break;
      case LADLE_UINT32: json_put_u64(b, ((const uint32_t *)t->data)[i]); break;
      case LADLE_UINT64: json_put_u64(b, ((const uint64_t *)t->data)[i]); break;
      case LADLE_BOOL: dbuf_puts(b, ((const uint8_t *)t->data)[i] ? "true" : "false"); break;
      case LADLE_STRING: {
        const char *s = ((char *const *)t->data)[i];
        if (!s) s = "";
        json_put_str(b, s, strlen(s));
        break;
      }
      default: dbuf_puts(b, "null");
    }
    if (b->failed) return;
  }
}

void json_put_tensor_flat(dbuf *b, const ladle_tensor *t) {
  dbuf_putc(b, '[');
  json_put_elements(b, t, 0, ladle_tensor_numel(t));
  dbuf_putc(b, ']');
}

static size_t binary_size(const ladle_tensor *t) {
  int64_t n = ladle_tensor_numel(t);
  if (t->dtype != LADLE_STRING) return (size_t)n * v2_dtype_size(t->dtype);
  size_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    const char *s = ((char *const *)t->data)[i];
    total += 4 + (s ? strlen(s) : 0);
  }
  return total;
}

static void put_binary(dbuf *b, const ladle_tensor *t) {
  if (t->dtype != LADLE_STRING) {
    dbuf_append(b, t->data, binary_size(t));
    return;
  }
  int64_t n = ladle_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    const char *s = ((char *const *)t->data)[i];
    uint32_t l = s ? (uint32_t)strlen(s) : 0;
    unsigned char le[4] = {(unsigned char)l, (unsigned char)(l >> 8), (unsigned char)(l >> 16), (unsigned char)(l >> 24)};
    dbuf_append(b, le, 4);
    dbuf_append(b, s ? s : "", l);
  }
}

size_t v2_encode(const v2_request *rq, const model_sig *sig, const ladle_tensor *outs,
                 const char *model, const char *version, dbuf *b) {
  dbuf_puts(b, "{\"model_name\":");
  json_put_str(b, model, strlen(model));
  dbuf_puts(b, ",\"model_version\":");
  json_put_str(b, version, strlen(version));
  if (rq->id) {
    dbuf_puts(b, ",\"id\":");
    json_put_str(b, rq->id, rq->id_len);
  }
  dbuf_puts(b, ",\"outputs\":[");
  for (int i = 0; i < rq->n_order; i++) {
    int k = rq->order[i];
    const ladle_tensor *t = &outs[k];
    if (i) dbuf_putc(b, ',');
    dbuf_puts(b, "{\"name\":");
    json_put_str(b, sig->out[k].name, strlen(sig->out[k].name));
    const char *dn = v2_dtype_name(t->dtype);
    dbuf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", dn ? dn : "BYTES");
    for (int d = 0; d < t->ndim; d++) {
      if (d) dbuf_putc(b, ',');
      json_put_i64(b, t->dims[d]);
    }
    dbuf_putc(b, ']');
    if (rq->binary[k]) {
      dbuf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", binary_size(t));
    } else {
      dbuf_puts(b, ",\"data\":");
      json_put_tensor_flat(b, t);
      dbuf_putc(b, '}');
    }
  }
  dbuf_puts(b, "]}");
  size_t json_len = b->len;
  for (int i = 0; i < rq->n_order; i++) {
    int k = rq->order[i];
    if (rq->binary[k]) put_binary(b, &outs[k]);
  }
  return json_len;
}

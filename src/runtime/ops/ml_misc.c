/* ml_misc.c — ai.onnx.ml preprocessing and plumbing: Scaler, Normalizer, Binarizer, Imputer,
 * OneHotEncoder, LabelEncoder, CategoryMapper, ArrayFeatureExtractor, FeatureVectorizer,
 * ZipMap; and the helpers every ml_* file shares (ml_common.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/ml_common.h"

/* --- shared helpers ----------------------------------------------------------------------- */

int ml_post_parse(const node *n, errbuf *e) {
  static const char *const names[] = {"NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"};
  const char *s = node_attr_str(n, "post_transform", "NONE");
  int k = ml_str_index(s, names, 5);
  if (k < 0) err_set(e, LADLE_ERR_INVALID, "unknown post_transform '%s'", s);
  return k;
}

float ml_logistic(float v) {
  float e = 1.0f / (1.0f + expf(-fabsf(v)));
  return v < 0 ? 1.0f - e : e;
}

/* ONNX Runtime's erfinv: Winitzki's approximation with a = 0.147. */
static float erfinv_approx(float x) {
  float sgn = x < 0 ? -1.0f : 1.0f;
  x = (1 - x) * (1 + x);
  float lg = logf(x);
  float v = 2 / (3.14159f * 0.147f) + 0.5f * lg;
  float v2 = 1 / 0.147f * lg;
  float v3 = -v + sqrtf(v * v - v2);
  return sgn * sqrtf(v3);
}

float ml_probit(float v) { return 1.41421356f * erfinv_approx(2 * v - 1); }

void ml_post_apply(ml_post p, float *v, int64_t len) {
  switch (p) {
    case ML_POST_NONE: break;
    case ML_POST_LOGISTIC:
      for (int64_t i = 0; i < len; i++) v[i] = ml_logistic(v[i]);
      break;
    case ML_POST_PROBIT:
      for (int64_t i = 0; i < len; i++) v[i] = ml_probit(v[i]);
      break;
    case ML_POST_SOFTMAX: {
      float mx = -3.402823466e38f, sum = 0;
      for (int64_t i = 0; i < len; i++) mx = v[i] > mx ? v[i] : mx;
      for (int64_t i = 0; i < len; i++) sum += (v[i] = expf(v[i] - mx));
      for (int64_t i = 0; i < len; i++) v[i] /= sum;
      break;
    }
    case ML_POST_SOFTMAX_ZERO: {
      float mx = -3.402823466e38f, sum = 0;
      for (int64_t i = 0; i < len; i++) mx = v[i] > mx ? v[i] : mx;
      float eneg = expf(-mx);
      for (int64_t i = 0; i < len; i++) {
        if (v[i] > 1e-7f || v[i] < -1e-7f)
          sum += (v[i] = expf(v[i] - mx));
        else
          v[i] *= eneg;
      }
      for (int64_t i = 0; i < len; i++) v[i] /= sum;
      break;
    }
  }
}

ladle_status ml_attr_reals(const node *n, const char *name, double **out, int64_t *len,
                           errbuf *e) {
  char tname[128];
  const float *f = NULL;
  *out = NULL;
  *len = -1;
  int64_t nf = node_attr_floats(n, name, &f);
  snprintf(tname, sizeof tname, "%s_as_tensor", name);
  const attr *ta = node_attr(n, tname);
  const ladle_tensor *t = ta && ta->type == ATTR_TENSOR ? ta->t : NULL;
  if (nf < 0 && !t) {
    const attr *a = node_attr(n, name);
    if (a && a->type != ATTR_FLOATS)
      return err_set(e, LADLE_ERR_INVALID, "attribute %s must be a list of floats", name);
    return LADLE_OK;
  }
  int64_t cnt = nf >= 0 ? nf : ladle_tensor_numel(t);
  if (t && t->dtype != LADLE_FLOAT && t->dtype != LADLE_DOUBLE)
    return err_set(e, LADLE_ERR_DTYPE, "attribute %s must be a float or double tensor, not %s",
                   tname, ladle_dtype_name(t->dtype));
  if (cnt < 0 || cnt > (INT64_C(1) << 32))
    return err_set(e, LADLE_ERR_LIMIT, "attribute %s is too large", name);
  if (cnt > 0) {
    double *d = malloc(sizeof(double) * (size_t)cnt);
    if (!d) return err_set(e, LADLE_ERR_NOMEM, "out of memory for attribute %s", name);
    for (int64_t i = 0; i < cnt; i++)
      d[i] = nf >= 0 ? (double)f[i]
                     : (t->dtype == LADLE_FLOAT ? (double)((const float *)t->data)[i]
                                                : ((const double *)t->data)[i]);
    *out = d;
  }
  *len = cnt;
  return LADLE_OK;
}

void ml_labels_get(const node *n, const char *ints_name, ml_labels *l) {
  const attr *s = node_attr(n, "classlabels_strings");
  memset(l, 0, sizeof *l);
  if (s && s->type == ATTR_STRINGS && s->n > 0) {
    l->n = s->n;
    l->strs = s->strings;
    return;
  }
  const int64_t *iv = NULL;
  int64_t ni = node_attr_ints(n, ints_name, &iv);
  if (ni > 0) {
    l->n = ni;
    l->ints = iv;
  }
}

int ml_labels_dtype(const ml_labels *l) { return l->strs ? LADLE_STRING : LADLE_INT64; }

bool ml_str_write(ladle_tensor *y, int64_t i, const char *s) {
  char **out = y->data;
  free(out[i]);
  out[i] = strdup(s);
  return out[i] != NULL;
}

bool ml_label_write(const ml_labels *l, ladle_tensor *y, int64_t i, int64_t k) {
  if (y->dtype == LADLE_STRING) {
    char buf[32];
    if (l->strs && k >= 0 && k < l->n) return ml_str_write(y, i, l->strs[k]);
    snprintf(buf, sizeof buf, "%lld", (long long)k);
    return ml_str_write(y, i, buf);
  }
  ((int64_t *)y->data)[i] = l->ints && k >= 0 && k < l->n ? l->ints[k] : k;
  return true;
}

ladle_status ml_rows(op_ctx *c, const ladle_tensor *x, int64_t *n, int64_t *f) {
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input X");
  if (x->dtype != LADLE_FLOAT && x->dtype != LADLE_DOUBLE && x->dtype != LADLE_INT64 &&
      x->dtype != LADLE_INT32)
    return op_fail(c, LADLE_ERR_DTYPE, "input X must be float, double, int64 or int32, not %s",
                   ladle_dtype_name(x->dtype));
  if (x->ndim == 1) {
    *n = 1;
    *f = x->dims[0];
  } else if (x->ndim == 2) {
    *n = x->dims[0];
    *f = x->dims[1];
  } else {
    return op_fail(c, LADLE_ERR_SHAPE, "input X must have rank 1 or 2 ([N, features]), not %d",
                   x->ndim);
  }
  return LADLE_OK;
}

void ml_row_f32(const ladle_tensor *x, int64_t r, int64_t f, float *out) {
  int64_t o = r * f;
  switch (x->dtype) {
    case LADLE_FLOAT: memcpy(out, (const float *)x->data + o, sizeof(float) * (size_t)f); break;
    case LADLE_DOUBLE:
      for (int64_t j = 0; j < f; j++) out[j] = (float)((const double *)x->data)[o + j];
      break;
    case LADLE_INT64:
      for (int64_t j = 0; j < f; j++) out[j] = (float)((const int64_t *)x->data)[o + j];
      break;
    case LADLE_INT32:
      for (int64_t j = 0; j < f; j++) out[j] = (float)((const int32_t *)x->data)[o + j];
      break;
    default: memset(out, 0, sizeof(float) * (size_t)f); break;
  }
}

void ml_row_f64(const ladle_tensor *x, int64_t r, int64_t f, double *out) {
  int64_t o = r * f;
  switch (x->dtype) {
    case LADLE_FLOAT:
      for (int64_t j = 0; j < f; j++) out[j] = ((const float *)x->data)[o + j];
      break;
    case LADLE_DOUBLE: memcpy(out, (const double *)x->data + o, sizeof(double) * (size_t)f); break;
    case LADLE_INT64:
      for (int64_t j = 0; j < f; j++) out[j] = (double)((const int64_t *)x->data)[o + j];
      break;
    case LADLE_INT32:
      for (int64_t j = 0; j < f; j++) out[j] = ((const int32_t *)x->data)[o + j];
      break;
    default: memset(out, 0, sizeof(double) * (size_t)f); break;
  }
}

int ml_str_index(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* --- ops ---------------------------------------------------------------------------------- */

/* Element i of a numeric tensor as double (float, double, int64, int32). */
static double num_at(const ladle_tensor *t, int64_t i) {
  switch (t->dtype) {
    case LADLE_FLOAT: return ((const float *)t->data)[i];
    case LADLE_DOUBLE: return ((const double *)t->data)[i];
    case LADLE_INT64: return (double)((const int64_t *)t->data)[i];
    case LADLE_INT32: return ((const int32_t *)t->data)[i];
    default: return 0;
  }
}

static bool numeric4(int dt) {
  return dt == LADLE_FLOAT || dt == LADLE_DOUBLE || dt == LADLE_INT64 || dt == LADLE_INT32;
}

static ladle_status need_numeric(op_ctx *c, const ladle_tensor *x) {
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input X");
  if (!numeric4(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "input must be float, double, int64 or int32, not %s",
                   ladle_dtype_name(x->dtype));
  return LADLE_OK;
}

/* The length of the feature (last) axis; 1 for a scalar. */
static int64_t last_dim(const ladle_tensor *x) { return x->ndim ? x->dims[x->ndim - 1] : 1; }

/* Scaler: Y = (X - offset) * scale, per feature (last axis) or broadcast from one value. */
static ladle_status run_scaler(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  const float *off = NULL, *sc = NULL;
  if ((st = need_numeric(c, x))) return st;
  int64_t no = node_attr_floats(n, "offset", &off), ns = node_attr_floats(n, "scale", &sc);
  int64_t f = last_dim(x);
  if (no < 0) no = 0;
  if (ns < 0) ns = 0;
  if ((no != 0 && no != 1 && no != f) || (ns != 0 && ns != 1 && ns != f))
    return op_fail(c, LADLE_ERR_SHAPE, "offset (%lld) and scale (%lld) must have 1 or %lld values",
                   (long long)no, (long long)ns, (long long)f);
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim, x->dims, &y))) return st;
  int64_t total = ladle_tensor_numel(x);
  float *out = y->data;
  for (int64_t i = 0; i < total; i++) {
    int64_t j = f ? i % f : 0;
    double o = no == 0 ? 0 : off[no == 1 ? 0 : j], s = ns == 0 ? 1 : sc[ns == 1 ? 0 : j];
    out[i] = (float)((num_at(x, i) - o) * s);
  }
  return LADLE_OK;
}

/* Normalizer: each row divided by its MAX (largest value), L1 or L2 norm, in float as ORT. */
static ladle_status run_normalizer(op_ctx *c) {
  static const char *const norms[] = {"MAX", "L1", "L2"};
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  if ((st = need_numeric(c, x))) return st;
  const char *nm = node_attr_str(op_node(c), "norm", "MAX");
  int norm = ml_str_index(nm, norms, 3);
  if (norm < 0) return op_fail(c, LADLE_ERR_INVALID, "unknown norm '%s'", nm);
  if (x->ndim < 1 || x->ndim > 2)
    return op_fail(c, LADLE_ERR_SHAPE, "Normalizer takes a rank 1 or 2 input, not rank %d", x->ndim);
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim, x->dims, &y))) return st;
  int64_t rows = x->ndim == 1 ? 1 : x->dims[0], f = last_dim(x);
  float *out = y->data;
  for (int64_t r = 0; r < rows; r++) {
    float *o = out + r * f, z = 0;
    for (int64_t i = 0; i < f; i++) o[i] = (float)num_at(x, r * f + i);
    if (norm == 0) {
      z = -3.402823466e38f;
      for (int64_t i = 0; i < f; i++) z = o[i] > z ? o[i] : z;
    } else {
      for (int64_t i = 0; i < f; i++) z += norm == 1 ? fabsf(o[i]) : o[i] * o[i];
    }
    if (z == 0 || f == 0) continue;
    for (int64_t i = 0; i < f; i++) {
      if (norm == 2) o[i] = o[i] < 0 ? -sqrtf(o[i] * o[i] / z) : sqrtf(o[i] * o[i] / z);
      else o[i] /= z;
    }
  }
  return LADLE_OK;
}

/* Binarizer: 1 where X > threshold, else 0, in X's type. */
static ladle_status run_binarizer(op_ctx *c) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  if ((st = need_numeric(c, x))) return st;
  double t = node_attr_float(op_node(c), "threshold", 0.0f);
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  int64_t total = ladle_tensor_numel(x);
  for (int64_t i = 0; i < total; i++) tensor_set_f64(y, i, num_at(x, i) > t ? 1.0 : 0.0);
  return LADLE_OK;
}

/* Imputer: values equal to replaced_value_* (NaN matches NaN) become imputed_value_*, per
 * feature (last axis) or one value for all. */
static ladle_status run_imputer(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  if ((st = need_numeric(c, x))) return st;
  int64_t f = last_dim(x), total = ladle_tensor_numel(x);
  bool fl = x->dtype == LADLE_FLOAT || x->dtype == LADLE_DOUBLE;
  const float *fv = NULL;
  const int64_t *iv = NULL;
  int64_t nv = fl ? node_attr_floats(n, "imputed_value_floats", &fv)
                  : node_attr_ints(n, "imputed_value_int64s", &iv);
  if (nv != 1 && nv != f)
    return op_fail(c, LADLE_ERR_INVALID, "imputed_value_%s has %lld values, expected 1 or %lld",
                   fl ? "floats" : "int64s", (long long)(nv < 0 ? 0 : nv), (long long)f);
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (fl) {
    double rep = node_attr_float(n, "replaced_value_float", 0.0f);
    for (int64_t i = 0; i < total; i++) {
      double v = num_at(x, i);
      bool hit = rep != rep ? v != v : v == rep;
      tensor_set_f64(y, i, hit ? fv[nv == 1 ? 0 : i % f] : v);
    }
  } else {
    int64_t rep = node_attr_int(n, "replaced_value_int64", 0);
    for (int64_t i = 0; i < total; i++) {
      int64_t v = tensor_get_i64(x, i);
      int64_t o = v == rep ? iv[nv == 1 ? 0 : i % f] : v;
      if (y->dtype == LADLE_INT64) ((int64_t *)y->data)[i] = o;
      else ((int32_t *)y->data)[i] = (int32_t)o;
    }
  }
  return LADLE_OK;
}

/* Index of a string in an attribute list; -1 if absent. Linear: lists are short. */
static int64_t str_find(const attr *a, const char *s) {
  for (int64_t i = 0; a && i < a->n; i++)
    if (strcmp(a->strings[i], s) == 0) return i;
  return -1;
}

static int64_t int_find(const int64_t *v, int64_t n, int64_t x) {
  for (int64_t i = 0; i < n; i++)
    if (v[i] == x) return i;
  return -1;
}

/* OneHotEncoder: X[...] -> Y[..., categories], float; numbers are compared as int64. */
static ladle_status run_onehot_ml(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  const attr *cs = node_attr(n, "cats_strings");
  const int64_t *ci = NULL;
  int64_t ni = node_attr_ints(n, "cats_int64s", &ci);
  bool zeros = node_attr_int(n, "zeros", 1) != 0;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input X");
  bool str = x->dtype == LADLE_STRING;
  if (!str && !numeric4(x->dtype))
    return op_fail(c, LADLE_ERR_DTYPE, "OneHotEncoder input must be string or numeric, not %s",
                   ladle_dtype_name(x->dtype));
  if (str && (!cs || cs->type != ATTR_STRINGS || cs->n == 0))
    return op_fail(c, LADLE_ERR_INVALID, "string input needs cats_strings");
  if (!str && ni <= 0) return op_fail(c, LADLE_ERR_INVALID, "numeric input needs cats_int64s");
  int64_t k = str ? cs->n : ni;
  if (x->ndim >= LADLE_MAX_DIMS)
    return op_fail(c, LADLE_ERR_SHAPE, "input rank %d is too large", x->ndim);
  int64_t dims[LADLE_MAX_DIMS];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
  dims[x->ndim] = k;
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim + 1, dims, &y))) return st;
  int64_t total = ladle_tensor_numel(x);
  float *out = y->data;
  memset(out, 0, sizeof(float) * (size_t)(total * k));
  for (int64_t i = 0; i < total; i++) {
    int64_t hit = str ? str_find(cs, ((char *const *)x->data)[i])
                      : int_find(ci, ni, (int64_t)num_at(x, i));
    if (hit >= 0) out[i * k + hit] = 1;
    else if (!zeros)
      return op_fail(c, LADLE_ERR_INVALID, "element %lld is not a known category (zeros=0)",
                     (long long)i);
  }
  return LADLE_OK;
}

/* A key -> value map of LabelEncoder / CategoryMapper. */
typedef struct kvmap {
  int kt, vt; /* LADLE_STRING / LADLE_INT64 / LADLE_FLOAT */
  int64_t n;
  char **ks, **vs;
  const int64_t *ki, *vi;
  const float *kf, *vf;
  const char *ds;
  int64_t di;
  float df;
} kvmap;

static ladle_status kv_apply(op_ctx *c, const kvmap *m) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input X");
  bool ok = x->dtype == m->kt || (m->kt == LADLE_INT64 && x->dtype == LADLE_INT32) ||
            (m->kt == LADLE_FLOAT && x->dtype == LADLE_DOUBLE);
  if (!ok)
    return op_fail(c, LADLE_ERR_DTYPE, "input is %s but the keys are %s",
                   ladle_dtype_name(x->dtype), ladle_dtype_name(m->kt));
  if ((st = op_out(c, 0, m->vt, x->ndim, x->dims, &y))) return st;
  int64_t total = ladle_tensor_numel(x);
  for (int64_t i = 0; i < total; i++) {
    int64_t hit = -1;
    if (m->kt == LADLE_STRING) {
      const char *s = ((char *const *)x->data)[i];
      for (int64_t k = 0; k < m->n && hit < 0; k++)
        if (strcmp(m->ks[k], s) == 0) hit = k;
    } else if (m->kt == LADLE_INT64) {
      hit = int_find(m->ki, m->n, tensor_get_i64(x, i));
    } else {
      float v = (float)num_at(x, i);
      for (int64_t k = 0; k < m->n && hit < 0; k++)
        if (m->kf[k] == v) hit = k;
    }
    if (m->vt == LADLE_STRING) {
      if (!ml_str_write(y, i, hit >= 0 ? m->vs[hit] : m->ds))
        return op_fail(c, LADLE_ERR_NOMEM, "out of memory for strings");
    } else if (m->vt == LADLE_INT64) {
      ((int64_t *)y->data)[i] = hit >= 0 ? m->vi[hit] : m->di;
    } else {
      ((float *)y->data)[i] = hit >= 0 ? m->vf[hit] : m->df;
    }
  }
  return LADLE_OK;
}

static const attr *strings_attr(const node *n, const char *name) {
  const attr *a = node_attr(n, name);
  return a && a->type == ATTR_STRINGS ? a : NULL;
}

/* CategoryMapper: strings <-> int64 through the paired cats_strings / cats_int64s lists. */
static ladle_status run_category_mapper(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  const attr *cs = strings_attr(n, "cats_strings");
  const int64_t *ci = NULL;
  int64_t ni = node_attr_ints(n, "cats_int64s", &ci);
  if (!cs || ni < 0 || cs->n != ni)
    return op_fail(c, LADLE_ERR_INVALID, "cats_strings and cats_int64s must pair up");
  kvmap m = {.n = ni, .ds = node_attr_str(n, "default_string", "_Unused"),
             .di = node_attr_int(n, "default_int64", -1)};
  if (x && x->dtype == LADLE_STRING) {
    m.kt = LADLE_STRING, m.ks = cs->strings, m.vt = LADLE_INT64, m.vi = ci;
  } else {
    m.kt = LADLE_INT64, m.ki = ci, m.vt = LADLE_STRING, m.vs = cs->strings;
  }
  return kv_apply(c, &m);
}

/* LabelEncoder-1: strings <-> their index in classes_strings. */
static ladle_status run_label_encoder_v1(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  const attr *cs = strings_attr(n, "classes_strings");
  int64_t cnt = cs ? cs->n : 0;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input X");
  ladle_tensor *y;
  ladle_status st;
  int64_t total = ladle_tensor_numel(x);
  if (x->dtype == LADLE_STRING) {
    int64_t d = node_attr_int(n, "default_int64", -1);
    if ((st = op_out(c, 0, LADLE_INT64, x->ndim, x->dims, &y))) return st;
    for (int64_t i = 0; i < total; i++) {
      int64_t k = str_find(cs, ((char *const *)x->data)[i]);
      ((int64_t *)y->data)[i] = k >= 0 ? k : d;
    }
    return LADLE_OK;
  }
  if (x->dtype != LADLE_INT64 && x->dtype != LADLE_INT32)
    return op_fail(c, LADLE_ERR_DTYPE, "LabelEncoder input must be string or int64, not %s",
                   ladle_dtype_name(x->dtype));
  const char *d = node_attr_str(n, "default_string", "_Unused");
  if ((st = op_out(c, 0, LADLE_STRING, x->ndim, x->dims, &y))) return st;
  for (int64_t i = 0; i < total; i++) {
    int64_t k = tensor_get_i64(x, i);
    if (!ml_str_write(y, i, k >= 0 && k < cnt ? cs->strings[k] : d))
      return op_fail(c, LADLE_ERR_NOMEM, "out of memory for strings");
  }
  return LADLE_OK;
}

/* LabelEncoder-2: keys_{strings,int64s,floats} -> values_{strings,int64s,floats}. */
static ladle_status run_label_encoder_v2(op_ctx *c) {
  const node *n = op_node(c);
  kvmap m = {.ds = node_attr_str(n, "default_string", "_Unused"),
             .di = node_attr_int(n, "default_int64", -1),
             .df = node_attr_float(n, "default_float", -0.0f)};
  const attr *ks = strings_attr(n, "keys_strings"), *vs = strings_attr(n, "values_strings");
  int64_t nk = -1, nv = -1;
  if (ks) m.kt = LADLE_STRING, m.ks = ks->strings, nk = ks->n;
  else if ((nk = node_attr_ints(n, "keys_int64s", &m.ki)) >= 0) m.kt = LADLE_INT64;
  else if ((nk = node_attr_floats(n, "keys_floats", &m.kf)) >= 0) m.kt = LADLE_FLOAT;
  if (vs) m.vt = LADLE_STRING, m.vs = vs->strings, nv = vs->n;
  else if ((nv = node_attr_ints(n, "values_int64s", &m.vi)) >= 0) m.vt = LADLE_INT64;
  else if ((nv = node_attr_floats(n, "values_floats", &m.vf)) >= 0) m.vt = LADLE_FLOAT;
  if (nk < 0 || nv < 0 || nk != nv)
    return op_fail(c, LADLE_ERR_INVALID, "LabelEncoder needs one keys_* and one values_* list of "
                                         "the same length");
  m.n = nk;
  return kv_apply(c, &m);
}

/* ArrayFeatureExtractor: X[..., Y] along the last axis; a rank-1 X gives [1, len(Y)]. */
static ladle_status run_afe(op_ctx *c) {
  const ladle_tensor *x = op_in(c, 0), *idx = op_in(c, 1);
  ladle_tensor *z;
  ladle_status st;
  if (!x || !idx) return op_fail(c, LADLE_ERR_INVALID, "ArrayFeatureExtractor needs X and Y");
  if (idx->dtype != LADLE_INT64 && idx->dtype != LADLE_INT32)
    return op_fail(c, LADLE_ERR_DTYPE, "indices must be int64, not %s", ladle_dtype_name(idx->dtype));
  if (x->ndim < 1) return op_fail(c, LADLE_ERR_SHAPE, "X must have rank >= 1");
  int64_t f = x->dims[x->ndim - 1], ni = ladle_tensor_numel(idx);
  if (ni <= 0) return op_fail(c, LADLE_ERR_INVALID, "no indices");
  for (int64_t j = 0; j < ni; j++) {
    int64_t k = tensor_get_i64(idx, j);
    if (k < 0 || k >= f)
      return op_fail(c, LADLE_ERR_INVALID, "index %lld out of range [0, %lld)", (long long)k,
                     (long long)f);
  }
  int64_t dims[LADLE_MAX_DIMS];
  int nd = x->ndim == 1 ? 2 : x->ndim;
  if (x->ndim == 1) dims[0] = 1;
  else memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
  dims[nd - 1] = ni;
  if ((st = op_out(c, 0, x->dtype, nd, dims, &z))) return st;
  int64_t rows = f ? ladle_tensor_numel(x) / f : 0;
  size_t esz = ladle_dtype_size(x->dtype);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t src = r * f + tensor_get_i64(idx, j), dst = r * ni + j;
      if (x->dtype == LADLE_STRING) {
        if (!ml_str_write(z, dst, ((char *const *)x->data)[src]))
          return op_fail(c, LADLE_ERR_NOMEM, "out of memory for strings");
      } else {
        memcpy((char *)z->data + dst * (int64_t)esz, (const char *)x->data + src * (int64_t)esz, esz);
      }
    }
  return LADLE_OK;
}

/* FeatureVectorizer: inputs [N, C_i] side by side into [N, sum(inputdimensions)], each
 * truncated or zero-padded to its declared width. */
static ladle_status run_feature_vectorizer(op_ctx *c) {
  const int64_t *dimsv = NULL;
  int64_t nd = node_attr_ints(op_node(c), "inputdimensions", &dimsv);
  int nin = op_n_in(c);
  ladle_tensor *y;
  ladle_status st;
  if (nd != nin)
    return op_fail(c, LADLE_ERR_INVALID, "inputdimensions has %lld entries for %d inputs",
                   (long long)(nd < 0 ? 0 : nd), nin);
  int64_t N = -1, width = 0;
  for (int i = 0; i < nin; i++) {
    const ladle_tensor *x = op_in(c, i);
    if ((st = need_numeric(c, x))) return st;
    int64_t rows = x->ndim <= 1 ? 1 : x->dims[0];
    if (x->ndim > 2) return op_fail(c, LADLE_ERR_SHAPE, "input %d has rank %d", i, x->ndim);
    if (N >= 0 && rows != N)
      return op_fail(c, LADLE_ERR_SHAPE, "input %d has %lld rows, input 0 has %lld", i,
                     (long long)rows, (long long)N);
    N = rows;
    if (dimsv[i] < 0) return op_fail(c, LADLE_ERR_INVALID, "inputdimensions[%d] < 0", i);
    width += dimsv[i];
  }
  if (N < 0) N = 0;
  int64_t od[2] = {N, width};
  if ((st = op_out(c, 0, LADLE_FLOAT, 2, od, &y))) return st;
  float *out = y->data;
  int64_t col = 0;
  for (int i = 0; i < nin; i++) {
    const ladle_tensor *x = op_in(c, i);
    int64_t ci = x->ndim == 0 ? 1 : x->dims[x->ndim - 1];
    for (int64_t r = 0; r < N; r++)
      for (int64_t j = 0; j < dimsv[i]; j++)
        out[r * width + col + j] = j < ci ? (float)num_at(x, r * ci + j) : 0.0f;
    col += dimsv[i];
  }
  return LADLE_OK;
}

/* ZipMap. Its real output is a sequence of maps (class label -> probability), which ladle's
 * runtime does not model: the kernel passes the [N, C] probability tensor through unchanged.
 * Over the wire a ZipMap output is therefore the probability tensor; the class labels (the
 * node's classlabels_*) are what its columns mean, and the serving layer exposes them. */
static ladle_status run_zipmap(op_ctx *c) {
  const node *n = op_node(c);
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y;
  ladle_status st;
  ml_labels l;
  ml_labels_get(n, "classlabels_int64s", &l);
  if (!x || x->dtype != LADLE_FLOAT)
    return op_fail(c, LADLE_ERR_DTYPE, "ZipMap takes a float tensor");
  if (x->ndim != 2 && x->ndim != 1)
    return op_fail(c, LADLE_ERR_SHAPE, "ZipMap takes [N, classes], not rank %d", x->ndim);
  if (l.n == 0) return op_fail(c, LADLE_ERR_INVALID, "ZipMap needs classlabels_int64s or classlabels_strings");
  if (last_dim(x) != l.n)
    return op_fail(c, LADLE_ERR_SHAPE, "%lld columns for %lld class labels",
                   (long long)last_dim(x), (long long)l.n);
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim, x->dims, &y))) return st;
  memcpy(y->data, x->data, sizeof(float) * (size_t)ladle_tensor_numel(x));
  return LADLE_OK;
}

/* LabelEncoder-4's *_tensor attributes are not supported; its keys_* / values_* spelling is
 * accepted at any opset from 2 on. */
const op_def ops_ml_misc[] = {
    {ML_DOMAIN, "Scaler", 1, 99, run_scaler, NULL, NULL},
    {ML_DOMAIN, "Normalizer", 1, 99, run_normalizer, NULL, NULL},
    {ML_DOMAIN, "Binarizer", 1, 99, run_binarizer, NULL, NULL},
    {ML_DOMAIN, "Imputer", 1, 99, run_imputer, NULL, NULL},
    {ML_DOMAIN, "OneHotEncoder", 1, 99, run_onehot_ml, NULL, NULL},
    {ML_DOMAIN, "LabelEncoder", 1, 1, run_label_encoder_v1, NULL, NULL},
    {ML_DOMAIN, "LabelEncoder", 2, 99, run_label_encoder_v2, NULL, NULL},
    {ML_DOMAIN, "CategoryMapper", 1, 99, run_category_mapper, NULL, NULL},
    {ML_DOMAIN, "ArrayFeatureExtractor", 1, 99, run_afe, NULL, NULL},
    {ML_DOMAIN, "FeatureVectorizer", 1, 99, run_feature_vectorizer, NULL, NULL},
    {ML_DOMAIN, "ZipMap", 1, 99, run_zipmap, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

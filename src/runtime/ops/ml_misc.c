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

const op_def ops_ml_misc[] = {
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

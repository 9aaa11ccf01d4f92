/* ml_linear.c — ai.onnx.ml linear models and SVMs: LinearClassifier, LinearRegressor,
 * SVMClassifier, SVMRegressor.
 *
 * Scores, label rules and output layouts are ONNX Runtime's: LinearClassifier with one
 * coefficient row and two labels reports [1-s, s] and labels by s > 0; SVMClassifier labels by
 * the one-vs-one votes, reports the pairwise decision values when it has no prob_a/prob_b
 * (two classes: [-s, s]) and libsvm's pairwise-coupled probabilities when it has them. Where
 * ORT's float arithmetic would only add rounding, the dot products and kernels run in double
 * from the input's own values (libsvm and scikit-learn compute in double); the label rules and post transforms then run in
 * float. Two departures from ORT, where its output is not meaningful: a one-row
 * LinearClassifier with LOGISTIC or PROBIT transforms s before reporting [1-p, p] (ORT skips
 * the transform), and PROBIT on a two-class SVM without probabilities fills both columns.
 *
 * Rows are split across the session's threads; each task has its own scratch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/ml_common.h"

typedef enum { KER_LINEAR = 0, KER_POLY, KER_RBF, KER_SIGMOID } kernel_kind;

typedef struct lin_model {
  enum { M_LINCLS, M_LINREG, M_SVC, M_SVR } kind;
  int post;
  /* linear: coefficient rows (targets x features) and intercepts */
  double *coef, *icpt;
  int64_t n_coef, n_icpt, targets; /* targets: -1 = coefficient rows / features at run */
  ml_labels labels;
  /* SVMs */
  bool svc_mode; /* support vectors (libsvm) rather than one coefficient row per class */
  int kernel;
  double gamma, coef0, degree;
  double *sv, *rho, *proba, *probb;
  int64_t n_sv, n_rho, n_prob, sv_feat;
  int64_t *vpc, *vstart; /* vectors per class and where each class's vectors start */
  int64_t n_class;
  bool all_pos, one_class;
} lin_model;

static void lin_free(void *p) {
  lin_model *m = p;
  if (!m) return;
  free(m->coef);
  free(m->icpt);
  free(m->sv);
  free(m->rho);
  free(m->proba);
  free(m->probb);
  free(m->vpc);
  free(m->vstart);
  free(m);
}

/* --- init --------------------------------------------------------------------------------- */

static ladle_status reals(const node *n, const char *name, bool required, double **out,
                          int64_t *len, errbuf *e) {
  ladle_status st = ml_attr_reals(n, name, out, len, e);
  if (st) return st;
  if (*len < 0) {
    *len = 0;
    if (required) return err_set(e, LADLE_ERR_INVALID, "attribute %s is missing", name);
  }
  return LADLE_OK;
}

static ladle_status init_linear(const graph *g, node *n, errbuf *e, bool classifier) {
  ladle_status st = LADLE_OK;
  (void)g;
  lin_model *m = calloc(1, sizeof *m);
  if (!m) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  m->kind = classifier ? M_LINCLS : M_LINREG;
  if ((m->post = ml_post_parse(n, e)) < 0) {
    st = LADLE_ERR_INVALID;
    goto out;
  }
  if ((st = reals(n, "coefficients", true, &m->coef, &m->n_coef, e)) ||
      (st = reals(n, "intercepts", false, &m->icpt, &m->n_icpt, e)))
    goto out;
  if (m->n_coef == 0) {
    st = err_set(e, LADLE_ERR_INVALID, "coefficients are empty");
    goto out;
  }
  if (classifier) {
    ml_labels_get(n, "classlabels_ints", &m->labels);
    m->targets = m->n_icpt > 0 ? m->n_icpt : -1;
    if (m->targets > 1 && m->labels.n > 0 && m->labels.n < m->targets) {
      st = err_set(e, LADLE_ERR_INVALID, "%lld class labels for %lld score columns",
                   (long long)m->labels.n, (long long)m->targets);
      goto out;
    }
  } else {
    m->targets = node_attr_int(n, "targets", 1);
    if (m->targets < 1 || m->n_coef % m->targets != 0) {
      st = err_set(e, LADLE_ERR_INVALID, "%lld coefficients do not split into %lld targets",
                   (long long)m->n_coef, (long long)m->targets);
      goto out;
    }
    if (m->n_icpt != 0 && m->n_icpt != m->targets) {
      st = err_set(e, LADLE_ERR_INVALID, "%lld intercepts for %lld targets",
                   (long long)m->n_icpt, (long long)m->targets);
      goto out;
    }
  }
  if (m->targets > 0 && m->n_coef % m->targets != 0) {
    st = err_set(e, LADLE_ERR_INVALID, "%lld coefficients do not split into %lld rows",
                 (long long)m->n_coef, (long long)m->targets);
    goto out;
  }
  n->state = m;
  m = NULL;
out:
  lin_free(m);
  return st;
}

static ladle_status init_lincls(const graph *g, node *n, errbuf *e) { return init_linear(g, n, e, true); }
static ladle_status init_linreg(const graph *g, node *n, errbuf *e) { return init_linear(g, n, e, false); }

static ladle_status svm_common(node *n, lin_model *m, errbuf *e) {
  static const char *const kernels[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};
  ladle_status st;
  const char *k = node_attr_str(n, "kernel_type", "LINEAR");
  if ((m->kernel = ml_str_index(k, kernels, 4)) < 0)
    return err_set(e, LADLE_ERR_INVALID, "unknown kernel_type '%s'", k);
  const float *kp = NULL;
  int64_t nkp = node_attr_floats(n, "kernel_params", &kp);
  if (nkp > 0 && nkp < 3)
    return err_set(e, LADLE_ERR_INVALID, "kernel_params needs gamma, coef0 and degree");
  if (nkp >= 3) m->gamma = kp[0], m->coef0 = kp[1], m->degree = kp[2];
  if ((m->post = ml_post_parse(n, e)) < 0) return LADLE_ERR_INVALID;
  if ((st = reals(n, "coefficients", true, &m->coef, &m->n_coef, e)) ||
      (st = reals(n, "support_vectors", false, &m->sv, &m->n_sv, e)) ||
      (st = reals(n, "rho", true, &m->rho, &m->n_rho, e)))
    return st;
  if (m->n_coef == 0) return err_set(e, LADLE_ERR_INVALID, "coefficients are empty");
  if (m->n_rho == 0) return err_set(e, LADLE_ERR_INVALID, "rho is empty");
  return LADLE_OK;
}

static ladle_status init_svc(const graph *g, node *n, errbuf *e) {
  ladle_status st = LADLE_OK;
  (void)g;
  lin_model *m = calloc(1, sizeof *m);
  if (!m) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  m->kind = M_SVC;
  if ((st = svm_common(n, m, e))) goto out;
  int64_t npa, npb;
  if ((st = reals(n, "prob_a", false, &m->proba, &npa, e)) ||
      (st = reals(n, "prob_b", false, &m->probb, &npb, e)))
    goto out;
  if (npa != npb) {
    st = err_set(e, LADLE_ERR_INVALID, "prob_a has %lld values, prob_b %lld", (long long)npa,
                 (long long)npb);
    goto out;
  }
  m->n_prob = npa;
  ml_labels_get(n, "classlabels_ints", &m->labels);
  m->n_class = m->labels.n;
  if (m->n_class < 1 || m->n_class > 65535) {
    st = err_set(e, LADLE_ERR_INVALID, "SVMClassifier needs 1 to 65535 class labels, got %lld",
                 (long long)m->n_class);
    goto out;
  }
  const int64_t *vpc = NULL;
  int64_t nvpc = node_attr_ints(n, "vectors_per_class", &vpc);
  int64_t V = 0;
  for (int64_t i = 0; i < nvpc; i++) {
    if (vpc[i] < 0 || vpc[i] > (INT64_C(1) << 31)) {
      st = err_set(e, LADLE_ERR_INVALID, "vectors_per_class[%lld] = %lld", (long long)i,
                   (long long)vpc[i]);
      goto out;
    }
    V += vpc[i];
  }
  int64_t K = m->n_class, ncls = K * (K - 1) / 2;
  if (V > 0) {
    m->svc_mode = true;
    if (nvpc != K) {
      st = err_set(e, LADLE_ERR_INVALID, "vectors_per_class has %lld entries for %lld classes",
                   (long long)nvpc, (long long)K);
      goto out;
    }
    if (m->n_sv % V != 0 || m->n_sv == 0) {
      st = err_set(e, LADLE_ERR_INVALID, "%lld support vector values for %lld vectors",
                   (long long)m->n_sv, (long long)V);
      goto out;
    }
    m->sv_feat = m->n_sv / V;
    if (m->n_coef < (K - 1) * V || m->n_rho < ncls || (m->n_prob > 0 && m->n_prob < ncls)) {
      st = err_set(e, LADLE_ERR_INVALID,
                   "SVMClassifier: %lld coefficients, %lld rho, %lld prob_a for %lld classes and "
                   "%lld vectors", (long long)m->n_coef, (long long)m->n_rho,
                   (long long)m->n_prob, (long long)K, (long long)V);
      goto out;
    }
    m->vpc = malloc(sizeof(int64_t) * (size_t)K);
    m->vstart = malloc(sizeof(int64_t) * (size_t)K);
    if (!m->vpc || !m->vstart) {
      st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
      goto out;
    }
    for (int64_t i = 0, s = 0; i < K; i++) {
      m->vpc[i] = vpc[i];
      m->vstart[i] = s;
      s += vpc[i];
    }
    m->n_sv = V; /* from here on: the vector count */
  } else {
    m->kernel = KER_LINEAR; /* liblinear: one coefficient row per class */
    if (m->n_coef % K != 0) {
      st = err_set(e, LADLE_ERR_INVALID, "%lld coefficients do not split into %lld classes",
                   (long long)m->n_coef, (long long)K);
      goto out;
    }
    m->sv_feat = m->n_coef / K;
  }
  m->all_pos = true;
  for (int64_t i = 0; i < m->n_coef; i++)
    if (!(m->coef[i] >= 0)) m->all_pos = false;
  n->state = m;
  m = NULL;
out:
  lin_free(m);
  return st;
}

static ladle_status init_svr(const graph *g, node *n, errbuf *e) {
  ladle_status st = LADLE_OK;
  (void)g;
  lin_model *m = calloc(1, sizeof *m);
  if (!m) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  m->kind = M_SVR;
  if ((st = svm_common(n, m, e))) goto out;
  int64_t V = node_attr_int(n, "n_supports", 0);
  m->one_class = node_attr_int(n, "one_class", 0) != 0;
  if (V < 0) {
    st = err_set(e, LADLE_ERR_INVALID, "n_supports %lld", (long long)V);
    goto out;
  }
  if (V > 0) {
    m->svc_mode = true;
    if (m->n_sv % V != 0 || m->n_sv == 0 || m->n_coef < V) {
      st = err_set(e, LADLE_ERR_INVALID,
                   "%lld support vector values and %lld coefficients for %lld vectors",
                   (long long)m->n_sv, (long long)m->n_coef, (long long)V);
      goto out;
    }
    m->sv_feat = m->n_sv / V;
    m->n_sv = V;
  } else {
    m->kernel = KER_LINEAR;
    m->sv_feat = m->n_coef;
  }
  n->state = m;
  m = NULL;
out:
  lin_free(m);
  return st;
}

/* --- arithmetic --------------------------------------------------------------------------- */

static double dot(const double *a, const double *b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

static double kernel(const lin_model *m, const double *x, const double *v, int64_t f) {
  switch (m->kernel) {
    case KER_POLY: return pow(m->gamma * dot(x, v, f) + m->coef0, m->degree);
    case KER_SIGMOID: return tanh(m->gamma * dot(x, v, f) + m->coef0);
    case KER_RBF: {
      double s = 0;
      for (int64_t i = 0; i < f; i++) s += (x[i] - v[i]) * (x[i] - v[i]);
      return exp(-m->gamma * s);
    }
    default: return dot(x, v, f);
  }
}

/* libsvm's pairwise coupling (Wu, Lin and Weng 2004, method 2), in double as libsvm runs it.
 * r is k x k (r[i*k+j]: probability that i beats j); q and qp are k*k and k scratch. */
static void couple(int64_t k, const double *r, double *p, double *q, double *qp) {
  double eps = 0.005 / (double)k;
  for (int64_t i = 0; i < k; i++) {
    p[i] = 1.0 / (double)k;
    q[i * k + i] = 0;
    for (int64_t j = 0; j < i; j++) {
      q[i * k + i] += r[j * k + i] * r[j * k + i];
      q[i * k + j] = q[j * k + i];
    }
    for (int64_t j = i + 1; j < k; j++) {
      q[i * k + i] += r[j * k + i] * r[j * k + i];
      q[i * k + j] = -r[j * k + i] * r[i * k + j];
    }
  }
  for (int iter = 0; iter < 100; iter++) {
    double pqp = 0, max_err = 0;
    for (int64_t i = 0; i < k; i++) {
      qp[i] = 0;
      for (int64_t j = 0; j < k; j++) qp[i] += q[i * k + j] * p[j];
      pqp += p[i] * qp[i];
    }
    for (int64_t i = 0; i < k; i++) {
      double err = fabs(qp[i] - pqp);
      if (err > max_err) max_err = err;
    }
    if (max_err < eps) break;
    for (int64_t t = 0; t < k; t++) {
      double diff = (-qp[t] + pqp) / q[t * k + t];
      p[t] += diff;
      pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
      for (int64_t j = 0; j < k; j++) {
        qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff);
        p[j] /= (1 + diff);
      }
    }
  }
}

/* --- running ------------------------------------------------------------------------------ */

typedef struct ljob {
  const lin_model *m;
  const ladle_tensor *x;
  int64_t N, F, C; /* C: score rows of a linear model */
  ladle_tensor *label;
  float *z;
  int64_t zcols;
  char *scratch;
  size_t per_task;
  int64_t ntasks;
  _Atomic int failed; /* a string label could not be allocated (set by any task) */
} ljob;

/* One row of a linear classifier or regressor: scores from x, then labels and transforms. */
static void row_linear(const ljob *j, const double *x, double *s, int64_t r, int *failed) {
  const lin_model *m = j->m;
  float *z = j->z + r * j->zcols;
  for (int64_t c = 0; c < j->C; c++)
    s[c] = dot(x, m->coef + c * j->F, j->F) + (m->n_icpt ? m->icpt[c] : 0);
  if (m->kind == M_LINREG) {
    for (int64_t c = 0; c < j->C; c++) z[c] = (float)s[c];
    if (j->C > 1 || m->post == ML_POST_PROBIT) ml_post_apply((ml_post)m->post, z, j->C);
    return;
  }
  int64_t k;
  if (j->C == 1) {
    float v = (float)s[0];
    k = v > 0;
    if (j->zcols == 2) {
      float p = m->post == ML_POST_LOGISTIC ? ml_logistic(v)
                : m->post == ML_POST_PROBIT ? ml_probit(v) : v;
      z[0] = 1.0f - p;
      z[1] = p;
    } else {
      z[0] = m->post == ML_POST_PROBIT ? ml_probit(v) : v;
    }
    if (m->labels.n != 2) { /* no pair of labels: "1" / "0" or 1 / 0 */
      if (!ml_label_write(&(ml_labels){0}, j->label, r, k)) *failed = 1;
      return;
    }
  } else {
    k = 0;
    for (int64_t c = 0; c < j->C; c++) {
      z[c] = (float)s[c];
      if (z[c] > z[k]) k = c;
    }
    ml_post_apply((ml_post)m->post, z, j->C);
  }
  if (!ml_label_write(&m->labels, j->label, r, k)) *failed = 1;
}

static void row_svc(const ljob *j, const double *x, double *ws, int64_t r, int *failed) {
  const lin_model *m = j->m;
  const int64_t K = m->n_class, F = j->F, ncls = K * (K - 1) / 2;
  float *z = j->z + r * j->zcols;
  bool have_proba = m->n_prob > 0;
  int64_t maxclass = 0;
  float max_weight = 0;
  if (!m->svc_mode) { /* one coefficient row per class, rho[0] */
    for (int64_t c = 0; c < K; c++) {
      z[c] = (float)(dot(x, m->coef + c * F, F) + m->rho[0]);
      if (z[c] > z[maxclass]) maxclass = c;
    }
    max_weight = z[maxclass];
  } else {
    const int64_t V = m->n_sv;
    double *kv = ws, *sc = kv + V, *pr = sc + ncls, *q = pr + K * K, *qp = q + K * K, *p = qp + K;
    int64_t *votes = (int64_t *)(p + K);
    for (int64_t v = 0; v < V; v++) kv[v] = kernel(m, x, m->sv + v * F, F);
    for (int64_t c = 0; c < K; c++) votes[c] = 0;
    int64_t idx = 0;
    for (int64_t i = 0; i < K - 1; i++)
      for (int64_t k = i + 1; k < K; k++, idx++) {
        double sum = m->rho[idx];
        sum += dot(m->coef + (k - 1) * V + m->vstart[i], kv + m->vstart[i], m->vpc[i]);
        sum += dot(m->coef + i * V + m->vstart[k], kv + m->vstart[k], m->vpc[k]);
        sc[idx] = sum;
        votes[sum > 0 ? i : k]++;
      }
    for (int64_t c = 1; c < K; c++)
      if (votes[c] > votes[maxclass]) maxclass = c;
    if (have_proba) {
      for (int64_t i = 0, t = 0; i < K; i++)
        for (int64_t k = i + 1; k < K; k++, t++) {
          double f = sc[t] * m->proba[t] + m->probb[t];
          double v = f >= 0 ? exp(-f) / (1.0 + exp(-f)) : 1.0 / (1.0 + exp(f));
          v = v < 1e-7 ? 1e-7 : v > 1 - 1e-7 ? 1 - 1e-7 : v;
          pr[i * K + k] = v;
          pr[k * K + i] = 1 - v;
        }
      couple(K, pr, p, q, qp);
      for (int64_t c = 0; c < K; c++) z[c] = (float)p[c];
    } else if (K > 2) {
      for (int64_t t = 0; t < ncls; t++) z[t] = (float)sc[t];
    } else if (K == 2) {
      float s = (float)sc[0];
      if (m->post == ML_POST_NONE) z[0] = -s, z[1] = s;
      else if (m->post == ML_POST_PROBIT) z[0] = ml_probit(s), z[1] = ml_probit(-s);
      else z[0] = 1.0f - s, z[1] = s;
    } else {
      z[0] = 0;
    }
  }
  int64_t label = maxclass;
  if (ncls == 1 && m->labels.n == 2 && !have_proba) {
    if (m->all_pos && max_weight >= 0.5f) label = 1;
    else if (max_weight > 0 && !m->all_pos) label = 1;
  }
  int64_t nz = have_proba || !m->svc_mode ? K : ncls;
  if (nz > 1) ml_post_apply((ml_post)m->post, z, nz);
  if (!ml_label_write(&m->labels, j->label, r, label)) *failed = 1;
}

static void row_svr(const ljob *j, const double *x, double *ws, int64_t r) {
  const lin_model *m = j->m;
  double y;
  if (m->svc_mode) {
    y = m->rho[0];
    for (int64_t v = 0; v < m->n_sv; v++) y += m->coef[v] * kernel(m, x, m->sv + v * j->F, j->F);
  } else {
    y = dot(x, m->coef, j->F) + m->rho[0];
  }
  (void)ws;
  float out = (float)y;
  if (m->one_class) out = out > 0 ? 1.0f : -1.0f;
  j->z[r] = out;
}

static void lin_task(void *arg, int64_t t) {
  ljob *j = arg;
  double *x = (double *)(j->scratch + (size_t)t * j->per_task);
  double *ws = x + j->F;
  int64_t r0 = t * j->N / j->ntasks, r1 = (t + 1) * j->N / j->ntasks;
  int failed = 0;
  for (int64_t r = r0; r < r1; r++) {
    ml_row_f64(j->x, r, j->F, x);
    switch (j->m->kind) {
      case M_LINCLS:
      case M_LINREG: row_linear(j, x, ws, r, &failed); break;
      case M_SVC: row_svc(j, x, ws, r, &failed); break;
      case M_SVR: row_svr(j, x, ws, r); break;
    }
  }
  if (failed) j->failed = 1;
}

static ladle_status run_lin(op_ctx *c) {
  const lin_model *m = op_node(c)->state;
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *label = NULL, *z = NULL;
  int64_t N, F;
  ladle_status st;
  if (!m) return op_fail(c, LADLE_ERR_INTERNAL, "model was not initialised");
  if ((st = ml_rows(c, x, &N, &F))) return st;
  ljob j = {.m = m, .x = x, .N = N, .F = F};
  size_t ws = 0; /* doubles of work space per row */
  if (m->kind == M_LINCLS || m->kind == M_LINREG) {
    j.C = m->targets > 0 ? m->targets : (F > 0 ? m->n_coef / F : 0);
    if (F <= 0 || j.C * F != m->n_coef)
      return op_fail(c, LADLE_ERR_SHAPE, "%lld coefficients do not fit %lld input features",
                     (long long)m->n_coef, (long long)F);
    if (m->kind == M_LINCLS && j.C > 1 && m->labels.n > 0 && m->labels.n < j.C)
      return op_fail(c, LADLE_ERR_INVALID, "%lld class labels for %lld score columns",
                     (long long)m->labels.n, (long long)j.C);
    ws = (size_t)j.C;
  } else {
    if (F != m->sv_feat)
      return op_fail(c, LADLE_ERR_SHAPE, "input has %lld features, the model expects %lld",
                     (long long)F, (long long)m->sv_feat);
    int64_t K = m->n_class;
    ws = (size_t)(m->n_sv + K * (K - 1) / 2 + 2 * K * K + 3 * K + 8);
  }
  if (m->kind == M_LINCLS) {
    int64_t dl[1] = {N};
    j.zcols = j.C == 1 && m->labels.n == 2 ? 2 : j.C;
    if ((st = op_out(c, 0, ml_labels_dtype(&m->labels), 1, dl, &label))) return st;
  } else if (m->kind == M_SVC) {
    int64_t dl[1] = {N}, K = m->n_class;
    j.zcols = !m->svc_mode || m->n_prob > 0 ? K : (K > 2 ? K * (K - 1) / 2 : K == 2 ? 2 : 1);
    if ((st = op_out(c, 0, ml_labels_dtype(&m->labels), 1, dl, &label))) return st;
  } else {
    j.zcols = m->kind == M_SVR ? 1 : j.C;
  }
  int64_t dz[2] = {N, j.zcols};
  if ((st = op_out(c, m->kind == M_LINREG || m->kind == M_SVR ? 0 : 1, LADLE_FLOAT, 2, dz, &z)))
    return st;
  if (N == 0) return LADLE_OK;
  j.label = label;
  j.z = z->data;
  double work = (double)N * (double)F * (double)(m->n_sv + j.C + 1);
  int threads = op_threads(c);
  /* under ~5 ms of work a second thread costs more in wake-ups than it saves */
  j.ntasks = threads <= 1 || work < 1e7 ? 1 : (N < threads * 4 ? N : threads * 4);
  j.per_task = ((size_t)F + ws) * sizeof(double) + 64;
  j.per_task = (j.per_task + 63) / 64 * 64;
  j.scratch = op_scratch(c, 0, j.per_task * (size_t)j.ntasks);
  if (!j.scratch) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for scratch");
  if (j.ntasks == 1)
    lin_task(&j, 0);
  else
    tpool_run(op_pool(c), j.ntasks, lin_task, &j);
  if (j.failed) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for string labels");
  return LADLE_OK;
}

const op_def ops_ml_linear[] = {
    {ML_DOMAIN, "LinearClassifier", 1, 99, run_lin, init_lincls, lin_free},
    {ML_DOMAIN, "LinearRegressor", 1, 99, run_lin, init_linreg, lin_free},
    {ML_DOMAIN, "SVMClassifier", 1, 99, run_lin, init_svc, lin_free},
    {ML_DOMAIN, "SVMRegressor", 1, 99, run_lin, init_svr, lin_free},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* test_ml.c — the ai.onnx.ml kernels, which ONNX's conformance data does not cover at all:
 *   - random tree ensembles (every node mode, NaN inputs with and without missing-value
 *     tracks, every aggregate function, several targets, base values) against a reference
 *     that walks the attribute lists directly, through the fast and the general walker, one
 *     and two threads, float / double / int64 / int32 inputs;
 *   - ONNX Runtime's binary classifier rules ([1-s, s] with s > 0.5; [σ(-s), σ(s)] with s > 0),
 *     string labels, multi-class argmax and base values;
 *   - linear models, SVMs and the preprocessing ops on hand-computed cases;
 *   - hostile models (cycles, missing children, ids out of range) refused with a status.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ladle/ladle.h"
#include "onnx_build.h"
#include "runtime/ops/ml_common.h"
#include "xorshift.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { return xorshift64(&rng); }
static int rndi(int n) { return (int)(rnd() % (uint64_t)n); }

/* --- building one-node models (onnx_build.h) --------------------------------------------- */

/* Builds `op` (domain ai.onnx.ml at ml_opset) with inputs in_names of dtypes in_types, outputs
 * out_names, and loads it. NULL on a load failure, the message in err. */
static ladle_model *build(const char *op, int ml_opset, int n_in, const char *const *in_names,
                          const int *in_types, int n_out, const char *const *out_names,
                          int n_attr, const attr_spec *attrs, char *err, size_t err_len) {
  model_builder b;
  ladle_model *m = NULL;
  mb_init(&b, 15);
  mb_import(&b, ML_DOMAIN, ml_opset);
  mb_io(&b, n_in, in_names, in_types, n_out, out_names, NULL);
  mb_node(&b, op, ML_DOMAIN, "n", n_in, in_names, n_out, out_names, n_attr, attrs);
  return mb_load(&b, &m, err, err_len) ? NULL : m;
}

/* One input "X", outputs as named. */
static ladle_model *build1(const char *op, int ml_opset, int xtype, int n_out,
                           const char *const *outs, int n_attr, const attr_spec *attrs) {
  static const char *const in[1] = {"X"};
  int t[1] = {xtype};
  char err[512] = "";
  ladle_model *m = build(op, ml_opset, 1, in, t, n_out, outs, n_attr, attrs, err, sizeof err);
  if (!m) fprintf(stderr, "  build %s: %s\n", op, err);
  return m;
}

static bool expect_failure; /* a run that must fail prints nothing */

static ladle_status run1(ladle_model *m, int threads, const ladle_tensor *x, ladle_session **out) {
  const char *name = "X";
  ladle_session *s = ladle_session_new(m, threads);
  ladle_status st = ladle_session_run(s, 1, &name, x);
  if (st && !expect_failure) fprintf(stderr, "  run: %s\n", ladle_session_errmsg(s));
  *out = s;
  return st;
}

static bool near(double a, double b, double tol) {
  if (a != a || b != b) return a != a && b != b;
  return fabs(a - b) <= tol * (1 + fabs(b));
}

/* --- random tree ensembles against a direct reference ------------------------------------ */

#define MAXN 512
typedef struct ens {
  int n;                                     /* nodes */
  int64_t tree[MAXN], id[MAXN], feat[MAXN], tid[MAXN], fid[MAXN], miss[MAXN];
  const char *mode[MAXN];
  float val[MAXN];
  int nw;
  int64_t wt[MAXN * 3], wn[MAXN * 3], wc[MAXN * 3];
  float wv[MAXN * 3];
  int n_trees;
} ens;

static const char *const MODES[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                    "BRANCH_EQ",  "BRANCH_NEQ"};

/* Grows one random tree; node ids are shuffled (not in BFS order) to exercise the lookup. */
static void grow(ens *e, int t, int depth, int n_modes, int n_feat, int K, bool all_targets) {
  int first = e->n, count = 1, ids[64];
  int queue[64], qd[64], qh = 0, qt = 0;
  for (int i = 0; i < 64; i++) ids[i] = i;
  for (int i = 63; i > 0; i--) {
    int j = rndi(i + 1), x = ids[i];
    ids[i] = ids[j], ids[j] = x;
  }
  queue[qt] = e->n, qd[qt++] = 0;
  e->tree[e->n] = t, e->id[e->n] = ids[0], e->n++;
  while (qh < qt) {
    int k = queue[qh], d = qd[qh++];
    bool leaf = d >= depth || (d > 0 && rndi(4) == 0) || count + 2 > 63;
    e->miss[k] = rndi(2);
    if (leaf) {
      e->mode[k] = "LEAF";
      e->feat[k] = e->tid[k] = e->fid[k] = 0;
      e->val[k] = 0;
      for (int c = 0; c < K; c++) {
        if (!all_targets && c != t % K) continue;
        e->wt[e->nw] = t, e->wn[e->nw] = e->id[k], e->wc[e->nw] = c;
        e->wv[e->nw++] = (float)(rndi(200) - 100) / 8.0f;
      }
      continue;
    }
    e->mode[k] = MODES[rndi(n_modes)];
    e->feat[k] = rndi(n_feat);
    e->val[k] = (float)(rndi(9) - 4) / 2.0f; /* a grid, so EQ hits */
    for (int side = 0; side < 2; side++) {
      int c = e->n++;
      e->tree[c] = t, e->id[c] = ids[count++];
      (side ? e->fid : e->tid)[k] = e->id[c];
      queue[qt] = c, qd[qt++] = d + 1;
    }
  }
  (void)first;
}

static int ref_find(const ens *e, int64_t t, int64_t id) {
  for (int i = 0; i < e->n; i++)
    if (e->tree[i] == t && e->id[i] == id) return i;
  return -1;
}

/* Leaf reached by row x in tree t: ORT's rule for a float input. */
static int ref_leaf(const ens *e, int t, const float *x) {
  int i = 0;
  for (int k = 0; k < e->n; k++)
    if (e->tree[k] == t) {
      i = k;
      break;
    }
  while (strcmp(e->mode[i], "LEAF") != 0) {
    float v = x[e->feat[i]], th = e->val[i];
    bool yes;
    const char *m = e->mode[i];
    if (!strcmp(m, "BRANCH_LEQ")) yes = v <= th;
    else if (!strcmp(m, "BRANCH_LT")) yes = v < th;
    else if (!strcmp(m, "BRANCH_GTE")) yes = v >= th;
    else if (!strcmp(m, "BRANCH_GT")) yes = v > th;
    else if (!strcmp(m, "BRANCH_EQ")) yes = v == th;
    else yes = v != th;
    if (!yes && e->miss[i] && v != v) yes = true;
    i = ref_find(e, t, yes ? e->tid[i] : e->fid[i]);
  }
  return i;
}

static const char *const AGGS[] = {"SUM", "AVERAGE", "MIN", "MAX"};

/* The regressor reference: aggregate, base values, ORT's "unscored reads 0" for K > 1. */
static void ref_regress(const ens *e, int K, int agg, const float *base, int nbase,
                        const float *x, double *y) {
  double sc[4] = {0};
  bool has[4] = {0};
  for (int t = 0; t < e->n_trees; t++) {
    int L = ref_leaf(e, t, x);
    for (int w = 0; w < e->nw; w++) {
      if (e->wt[w] != t || e->wn[w] != e->id[L]) continue;
      int c = (int)e->wc[w];
      double v = e->wv[w];
      if (agg <= 1) sc[c] += v;
      else if (!has[c] || (agg == 2 ? v < sc[c] : v > sc[c])) sc[c] = v;
      has[c] = true;
    }
  }
  for (int c = 0; c < K; c++) {
    double b = K == 1 ? (nbase == 1 ? base[0] : 0) : (nbase == K ? base[c] : 0);
    double s = sc[c];
    if (agg == 1) s /= e->n_trees;
    if (agg >= 2 && !has[c]) s = 0;
    s += b;
    if (K > 1 && !has[c]) s = 0;
    y[c] = s;
  }
}

static void test_random_regressors(void) {
  static ens e;
  static const char *const outs[1] = {"Y"};
  int passed_cases = 0;
  for (int trial = 0; trial < 48; trial++) {
    memset(&e, 0, sizeof e);
    int n_modes = trial % 3 == 0 ? 6 : 4; /* EQ/NEQ force the general walker */
    int K = 1 + trial % 3, agg = (trial / 3) % 4, n_feat = 5;
    e.n_trees = 1 + rndi(6);
    for (int t = 0; t < e.n_trees; t++) grow(&e, t, 1 + rndi(6), n_modes, n_feat, K, trial % 2);
    float base[3] = {0.5f, -1.25f, 2.0f};
    int nbase = trial % 4 == 1 ? 0 : (trial % 4 == 2 ? 1 : K);
    attr_spec attrs[] = {
        {"nodes_treeids", A_INTS, .ints = e.tree, .n = e.n},
        {"nodes_nodeids", A_INTS, .ints = e.id, .n = e.n},
        {"nodes_featureids", A_INTS, .ints = e.feat, .n = e.n},
        {"nodes_modes", A_STRS, .strs = e.mode, .n = e.n},
        {"nodes_values", A_FLOATS, .fs = e.val, .n = e.n},
        {"nodes_truenodeids", A_INTS, .ints = e.tid, .n = e.n},
        {"nodes_falsenodeids", A_INTS, .ints = e.fid, .n = e.n},
        {"nodes_missing_value_tracks_true", A_INTS, .ints = e.miss, .n = e.n},
        {"target_treeids", A_INTS, .ints = e.wt, .n = e.nw},
        {"target_nodeids", A_INTS, .ints = e.wn, .n = e.nw},
        {"target_ids", A_INTS, .ints = e.wc, .n = e.nw},
        {"target_weights", A_FLOATS, .fs = e.wv, .n = e.nw},
        {"n_targets", A_INT, .i = K},
        {"aggregate_function", A_STR, .s = AGGS[agg]},
        {"base_values", A_FLOATS, .fs = base, .n = nbase},
    };
    int na = nbase == 0 ? 14 : 15; /* base_values last */
    ladle_model *m = build1("TreeEnsembleRegressor", 3, LADLE_FLOAT, 1, outs, na, attrs);
    CHECK(m != NULL);
    if (!m) continue;
    enum { N = 150 };
    static float x[N * 5];
    static double xd[N * 5];
    static int64_t xi[N * 5];
    static int32_t x32[N * 5];
    bool has_nan = trial % 2 == 0;
    for (int i = 0; i < N * 5; i++) {
      x[i] = (float)(rndi(11) - 5) / 2.0f; /* hits the grid thresholds exactly */
      if (has_nan && rndi(10) == 0) x[i] = NAN;
      xd[i] = x[i];
      xi[i] = (int64_t)floorf(x[i] == x[i] ? x[i] : 0);
      x32[i] = (int32_t)xi[i];
    }
    bool ok = true;
    for (int level = 0; level <= 2; level += 2)
      for (int threads = 1; threads <= 2; threads++) {
        ml_tree_force_reference(level);
        ladle_tensor in = {LADLE_FLOAT, 2, {N, 5}, x};
        ladle_session *s = NULL;
        if (run1(m, threads, &in, &s) != LADLE_OK) {
          ok = false;
        } else {
          const ladle_tensor *y = ladle_session_output(s, 0);
          ok &= y->dims[0] == N && y->dims[1] == K;
          for (int r = 0; r < N && ok; r++) {
            double ref[3];
            ref_regress(&e, K, agg, base, nbase, x + r * 5, ref);
            for (int c = 0; c < K; c++)
              if (!near(((float *)y->data)[r * K + c], ref[c], 1e-5)) {
                fprintf(stderr, "  trial %d level %d row %d target %d: %g vs %g\n", trial, level,
                        r, c, ((float *)y->data)[r * K + c], ref[c]);
                ok = false;
                break;
              }
          }
        }
        ladle_session_free(s);
      }
    ml_tree_force_reference(0);
    /* other input types: double compares against double thresholds (same grid values),
     * integers go through float; both match the float run on these inputs */
    for (int ti = 0; ti < 3 && ok; ti++) {
      static float xf2[N * 5];
      for (int i = 0; i < N * 5; i++) xf2[i] = ti == 0 ? x[i] : (float)xi[i];
      ladle_tensor fin = {LADLE_FLOAT, 2, {N, 5}, xf2};
      ladle_tensor tin = {ti == 0 ? LADLE_DOUBLE : ti == 1 ? LADLE_INT64 : LADLE_INT32, 2, {N, 5},
                          ti == 0 ? (void *)xd : ti == 1 ? (void *)xi : (void *)x32};
      ladle_model *mt = build1("TreeEnsembleRegressor", 3, tin.dtype, 1, outs, na, attrs);
      ladle_session *a = NULL, *b = NULL;
      if (!mt || run1(m, 1, &fin, &a) || run1(mt, 1, &tin, &b)) {
        ok = false;
      } else {
        const float *ya = ladle_session_output(a, 0)->data, *yb = ladle_session_output(b, 0)->data;
        for (int i = 0; i < N * K; i++)
          if (!near(ya[i], yb[i], 1e-6)) {
            fprintf(stderr, "  trial %d input type %d element %d: %g vs %g\n", trial, tin.dtype,
                    i, yb[i], ya[i]);
            ok = false;
            break;
          }
      }
      ladle_session_free(a);
      ladle_session_free(b);
      ladle_model_free(mt);
    }
    CHECK(ok);
    passed_cases += ok;
    ladle_model_free(m);
  }
  printf("  random regressors: %d/48 ensembles agree with the reference\n", passed_cases);
}

/* --- classifier rules ------------------------------------------------------------------- */

/* One tree, one split on feature 0 at 0: leaf 1 (x <= 0) and leaf 2; weights per leaf. */
static ladle_model *stump_cls(int ncls_w, const int64_t *wcls, const float *wv, const char *post,
                              const float *base, int nbase, bool strings) {
  static int64_t tree[3] = {0, 0, 0}, ids[3] = {0, 1, 2}, feat[3] = {0, 0, 0};
  static int64_t tid[3] = {1, 0, 0}, fid[3] = {2, 0, 0}, labels[3] = {10, 20, 30};
  static const char *const modes[3] = {"BRANCH_LEQ", "LEAF", "LEAF"};
  static const char *const slabels[3] = {"a", "b", "c"};
  static const float vals[3] = {0, 0, 0};
  static const char *const outs[2] = {"label", "scores"};
  int64_t wt[8], wn[8];
  for (int i = 0; i < ncls_w; i++) wt[i] = 0, wn[i] = 1 + i % 2;
  int nlab = 2;
  for (int i = 0; i < ncls_w; i++)
    if (wcls[i] >= nlab) nlab = (int)wcls[i] + 1;
  attr_spec attrs[] = {
      {"nodes_treeids", A_INTS, .ints = tree, .n = 3},
      {"nodes_nodeids", A_INTS, .ints = ids, .n = 3},
      {"nodes_featureids", A_INTS, .ints = feat, .n = 3},
      {"nodes_modes", A_STRS, .strs = modes, .n = 3},
      {"nodes_values", A_FLOATS, .fs = vals, .n = 3},
      {"nodes_truenodeids", A_INTS, .ints = tid, .n = 3},
      {"nodes_falsenodeids", A_INTS, .ints = fid, .n = 3},
      {"class_treeids", A_INTS, .ints = wt, .n = ncls_w},
      {"class_nodeids", A_INTS, .ints = wn, .n = ncls_w},
      {"class_ids", A_INTS, .ints = wcls, .n = ncls_w},
      {"class_weights", A_FLOATS, .fs = wv, .n = ncls_w},
      {"post_transform", A_STR, .s = post},
      strings ? (attr_spec){"classlabels_strings", A_STRS, .strs = slabels, .n = nlab}
              : (attr_spec){"classlabels_int64s", A_INTS, .ints = labels, .n = nlab},
      {"base_values", A_FLOATS, .fs = base, .n = nbase},
  };
  return build1("TreeEnsembleClassifier", 1, LADLE_FLOAT, 2, outs, nbase ? 14 : 13, attrs);
}

static bool cls_run(ladle_model *m, float x0, int64_t *label, char *slabel, float *z, int nz) {
  float x[1] = {x0};
  ladle_tensor in = {LADLE_FLOAT, 2, {1, 1}, x};
  ladle_session *s = NULL;
  bool ok = run1(m, 1, &in, &s) == LADLE_OK;
  if (ok) {
    const ladle_tensor *l = ladle_session_output(s, 0), *sc = ladle_session_output(s, 1);
    if (l->dtype == LADLE_STRING) snprintf(slabel, 16, "%s", ((char **)l->data)[0]);
    else *label = ((int64_t *)l->data)[0];
    ok = sc->dims[1] == nz;
    memcpy(z, sc->data, sizeof(float) * (size_t)nz);
  }
  ladle_session_free(s);
  return ok;
}

static void test_classifier_rules(void) {
  int64_t label = -1;
  char sl[16] = "";
  float z[3];
  /* skl2onnx binary forest: one weight (P(class 1)) per leaf, class id 0 */
  {
    int64_t c[2] = {0, 0};
    float w[2] = {0.25f, 0.75f};
    ladle_model *m = stump_cls(2, c, w, "NONE", NULL, 0, false);
    CHECK(m && cls_run(m, -1, &label, sl, z, 2));
    CHECK(label == 10 && near(z[0], 0.75, 1e-6) && near(z[1], 0.25, 1e-6));
    CHECK(m && cls_run(m, 1, &label, sl, z, 2));
    CHECK(label == 20 && near(z[0], 0.25, 1e-6) && near(z[1], 0.75, 1e-6));
    ladle_model_free(m);
  }
  /* exactly 0.5 is the negative class */
  {
    int64_t c[2] = {0, 0};
    float w[2] = {0.5f, 0.5f};
    ladle_model *m = stump_cls(2, c, w, "NONE", NULL, 0, true);
    CHECK(m && cls_run(m, 1, &label, sl, z, 2));
    CHECK(strcmp(sl, "a") == 0 && near(z[1], 0.5, 1e-6));
    ladle_model_free(m);
  }
  /* boosted binary: signed margins, LOGISTIC, one base value; label by margin > 0 */
  {
    int64_t c[2] = {0, 0};
    float w[2] = {-0.75f, 0.5f}, base[1] = {-0.25f};
    ladle_model *m = stump_cls(2, c, w, "LOGISTIC", base, 1, false);
    CHECK(m && cls_run(m, -1, &label, sl, z, 2));
    double p = 1 / (1 + exp(1.0)); /* margin -1 */
    CHECK(label == 10 && near(z[1], p, 1e-6) && near(z[0], 1 - p, 1e-6));
    CHECK(m && cls_run(m, 1, &label, sl, z, 2));
    p = 1 / (1 + exp(-0.25));
    CHECK(label == 20 && near(z[1], p, 1e-6));
    ladle_model_free(m);
  }
  /* three classes, SOFTMAX with base values, the arg max wins; strings */
  {
    int64_t c[6] = {0, 0, 1, 1, 2, 2};
    float w[6] = {1, 0, 0, 2, 0.5f, 0}, base[3] = {0.1f, 0.2f, 0.3f};
    ladle_model *m = stump_cls(6, c, w, "SOFTMAX", base, 3, true);
    CHECK(m && cls_run(m, -1, &label, sl, z, 3)); /* leaf 1: scores 1.1, 0.2, 0.8 */
    double e0 = exp(1.1), e1 = exp(0.2), e2 = exp(0.8), s = e0 + e1 + e2;
    CHECK(strcmp(sl, "a") == 0 && near(z[0], e0 / s, 1e-5) && near(z[2], e2 / s, 1e-5));
    CHECK(m && cls_run(m, 1, &label, sl, z, 3)); /* leaf 2: 0.1, 2.2, 0.3 */
    CHECK(strcmp(sl, "b") == 0);
    ladle_model_free(m);
  }
}

/* Hostile tree attributes: each must be refused at load, never crash or hang. */
static void test_hostile_trees(void) {
  static const char *const outs[1] = {"Y"};
  static const char *const bll[3] = {"BRANCH_LEQ", "LEAF", "LEAF"};
  static const char *const bbl[3] = {"BRANCH_LEQ", "BRANCH_LEQ", "LEAF"};
  static const char *const bxl[3] = {"BRANCH_LEQ", "BRANCH_XX", "LEAF"};
  struct {
    const char *why;
    const char *const *modes;
    int64_t tid[3], fid[3], feat0, wc;
  } cases[] = {
      {"both children the same node", bll, {1, 0, 0}, {1, 0, 0}, 0, 0},
      {"a cycle back to the root", bbl, {1, 0, 0}, {2, 2, 0}, 0, 0},
      {"a missing child", bll, {1, 0, 0}, {9, 0, 0}, 0, 0},
      {"a node reached twice", bbl, {1, 2, 0}, {2, 0, 0}, 0, 0},
      {"an unknown mode", bxl, {1, 0, 0}, {2, 0, 0}, 0, 0},
      {"a target id out of range", bll, {1, 0, 0}, {2, 0, 0}, 0, 3},
      {"a negative feature", bll, {1, 0, 0}, {2, 0, 0}, -4, 0},
  };
  int64_t tree[3] = {0, 0, 0}, ids[3] = {0, 1, 2}, wt[1] = {0}, wn[1] = {2};
  float vals[3] = {0, 0, 0}, wv[1] = {1};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int64_t feat[3] = {cases[k].feat0, 0, 0}, wc[1] = {cases[k].wc};
    attr_spec attrs[] = {
        {"nodes_treeids", A_INTS, .ints = tree, .n = 3},
        {"nodes_nodeids", A_INTS, .ints = ids, .n = 3},
        {"nodes_featureids", A_INTS, .ints = feat, .n = 3},
        {"nodes_modes", A_STRS, .strs = cases[k].modes, .n = 3},
        {"nodes_values", A_FLOATS, .fs = vals, .n = 3},
        {"nodes_truenodeids", A_INTS, .ints = cases[k].tid, .n = 3},
        {"nodes_falsenodeids", A_INTS, .ints = cases[k].fid, .n = 3},
        {"target_treeids", A_INTS, .ints = wt, .n = 1},
        {"target_nodeids", A_INTS, .ints = wn, .n = 1},
        {"target_ids", A_INTS, .ints = wc, .n = 1},
        {"target_weights", A_FLOATS, .fs = wv, .n = 1},
    };
    char err[512] = "";
    static const char *const in[1] = {"X"};
    int t[1] = {LADLE_FLOAT};
    ladle_model *m = build("TreeEnsembleRegressor", 1, 1, in, t, 1, outs, 11, attrs, err, sizeof err);
    if (m) fprintf(stderr, "  hostile tree with %s loaded\n", cases[k].why);
    CHECK(m == NULL && err[0]);
    ladle_model_free(m);
  }
  /* a feature beyond the input is a run-time error */
  {
    int64_t tid[3] = {1, 0, 0}, fid[3] = {2, 0, 0}, f7[3] = {7, 0, 0};
    attr_spec attrs[] = {
        {"nodes_treeids", A_INTS, .ints = tree, .n = 3},
        {"nodes_nodeids", A_INTS, .ints = ids, .n = 3},
        {"nodes_featureids", A_INTS, .ints = f7, .n = 3},
        {"nodes_modes", A_STRS, .strs = bll, .n = 3},
        {"nodes_values", A_FLOATS, .fs = vals, .n = 3},
        {"nodes_truenodeids", A_INTS, .ints = tid, .n = 3},
        {"nodes_falsenodeids", A_INTS, .ints = fid, .n = 3},
    };
    ladle_model *m = build1("TreeEnsembleRegressor", 1, LADLE_FLOAT, 1, outs, 7, attrs);
    CHECK(m != NULL);
    float x[4] = {0};
    ladle_tensor in = {LADLE_FLOAT, 2, {1, 4}, x};
    const char *name = "X";
    ladle_session *s = m ? ladle_session_new(m, 1) : NULL;
    CHECK(s && ladle_session_run(s, 1, &name, &in) == LADLE_ERR_SHAPE);
    ladle_session_free(s);
    ladle_model_free(m);
  }
  /* a classifier class id past its labels */
  {
    static const char *const o2[2] = {"label", "scores"};
    int64_t tid[3] = {1, 0, 0}, fid[3] = {2, 0, 0}, feat[3] = {0, 0, 0}, wc[1] = {5}, labels[2] = {0, 1};
    attr_spec attrs[] = {
        {"nodes_treeids", A_INTS, .ints = tree, .n = 3},
        {"nodes_nodeids", A_INTS, .ints = ids, .n = 3},
        {"nodes_featureids", A_INTS, .ints = feat, .n = 3},
        {"nodes_modes", A_STRS, .strs = bll, .n = 3},
        {"nodes_values", A_FLOATS, .fs = vals, .n = 3},
        {"nodes_truenodeids", A_INTS, .ints = tid, .n = 3},
        {"nodes_falsenodeids", A_INTS, .ints = fid, .n = 3},
        {"class_treeids", A_INTS, .ints = wt, .n = 1},
        {"class_nodeids", A_INTS, .ints = wn, .n = 1},
        {"class_ids", A_INTS, .ints = wc, .n = 1},
        {"class_weights", A_FLOATS, .fs = wv, .n = 1},
        {"classlabels_int64s", A_INTS, .ints = labels, .n = 2},
    };
    char err[512] = "";
    static const char *const in[1] = {"X"};
    int t[1] = {LADLE_FLOAT};
    ladle_model *m = build("TreeEnsembleClassifier", 1, 1, in, t, 2, o2, 12, attrs, err, sizeof err);
    CHECK(m == NULL && err[0]);
    ladle_model_free(m);
  }
}

/* --- linear models and SVMs -------------------------------------------------------------- */

static void test_linear(void) {
  static const char *const outs[2] = {"label", "scores"};
  float x[4] = {1, 2, -1, 0.5f};
  ladle_tensor in = {LADLE_FLOAT, 2, {2, 2}, x};
  ladle_session *s = NULL;
  /* one coefficient row, two labels: [1-s, s], label s > 0 (NONE); LOGISTIC: [1-p, p] */
  {
    float coef[2] = {0.5f, -0.25f}, icpt[1] = {0.1f};
    int64_t labels[2] = {3, 7};
    for (int lg = 0; lg < 2; lg++) {
      attr_spec attrs[] = {{"coefficients", A_FLOATS, .fs = coef, .n = 2},
                    {"intercepts", A_FLOATS, .fs = icpt, .n = 1},
                    {"classlabels_ints", A_INTS, .ints = labels, .n = 2},
                    {"post_transform", A_STR, .s = lg ? "LOGISTIC" : "NONE"}};
      ladle_model *m = build1("LinearClassifier", 1, LADLE_FLOAT, 2, outs, 4, attrs);
      CHECK(m && run1(m, 1, &in, &s) == LADLE_OK);
      if (m && s) {
        const int64_t *l = ladle_session_output(s, 0)->data;
        const float *z = ladle_session_output(s, 1)->data;
        double s0 = 0.5 - 0.5 + 0.1, s1 = -0.5 - 0.125 + 0.1;
        double p0 = lg ? 1 / (1 + exp(-s0)) : s0, p1 = lg ? 1 / (1 + exp(-s1)) : s1;
        CHECK(l[0] == 7 && l[1] == 3);
        CHECK(near(z[1], p0, 1e-6) && near(z[0], 1 - p0, 1e-6) && near(z[3], p1, 1e-6));
      }
      ladle_session_free(s);
      ladle_model_free(m);
    }
  }
  /* multinomial: SOFTMAX over three rows, string labels */
  {
    float coef[6] = {1, 0, 0, 1, -1, -1}, icpt[3] = {0, 0, 0.5f};
    static const char *const labels[3] = {"x", "y", "z"};
    attr_spec attrs[] = {{"coefficients", A_FLOATS, .fs = coef, .n = 6},
                  {"intercepts", A_FLOATS, .fs = icpt, .n = 3},
                  {"classlabels_strings", A_STRS, .strs = labels, .n = 3},
                  {"post_transform", A_STR, .s = "SOFTMAX"}};
    ladle_model *m = build1("LinearClassifier", 1, LADLE_FLOAT, 2, outs, 4, attrs);
    CHECK(m && run1(m, 2, &in, &s) == LADLE_OK);
    if (m && s) {
      char **l = ladle_session_output(s, 0)->data;
      const float *z = ladle_session_output(s, 1)->data;
      CHECK(strcmp(l[0], "y") == 0 && strcmp(l[1], "z") == 0);
      double a = exp(1.0), b = exp(2.0), c = exp(-2.5);
      CHECK(near(z[1], b / (a + b + c), 1e-5));
    }
    ladle_session_free(s);
    ladle_model_free(m);
  }
  /* two targets, int64 input */
  {
    static const char *const o1[1] = {"Y"};
    float coef[4] = {1, 1, 2, -1}, icpt[2] = {0, 1};
    int64_t xi[4] = {1, 2, 3, 4};
    ladle_tensor ii = {LADLE_INT64, 2, {2, 2}, xi};
    attr_spec attrs[] = {{"coefficients", A_FLOATS, .fs = coef, .n = 4},
                  {"intercepts", A_FLOATS, .fs = icpt, .n = 2},
                  {"targets", A_INT, .i = 2}};
    ladle_model *m = build1("LinearRegressor", 1, LADLE_INT64, 1, o1, 3, attrs);
    CHECK(m && run1(m, 1, &ii, &s) == LADLE_OK);
    if (m && s) {
      const float *y = ladle_session_output(s, 0)->data;
      CHECK(y[0] == 3 && y[1] == 1 && y[2] == 7 && y[3] == 3);
    }
    ladle_session_free(s);
    ladle_model_free(m);
  }
  /* SVMRegressor: RBF support vectors, and one_class */
  {
    static const char *const o1[1] = {"Y"};
    float sv[4] = {0, 0, 1, 1}, coef[2] = {1, -2}, rho[1] = {0.5f}, kp[3] = {0.5f, 0, 3};
    for (int oc = 0; oc < 2; oc++) {
      attr_spec attrs[] = {{"support_vectors", A_FLOATS, .fs = sv, .n = 4},
                    {"coefficients", A_FLOATS, .fs = coef, .n = 2},
                    {"rho", A_FLOATS, .fs = rho, .n = 1},
                    {"kernel_params", A_FLOATS, .fs = kp, .n = 3},
                    {"kernel_type", A_STR, .s = "RBF"},
                    {"n_supports", A_INT, .i = 2},
                    {"one_class", A_INT, .i = oc}};
      ladle_model *m = build1("SVMRegressor", 1, LADLE_FLOAT, 1, o1, 7, attrs);
      CHECK(m && run1(m, 1, &in, &s) == LADLE_OK);
      if (m && s) {
        const float *y = ladle_session_output(s, 0)->data;
        double r0 = exp(-0.5 * 5) - 2 * exp(-0.5 * 1) + 0.5;
        CHECK(oc ? y[0] == (r0 > 0 ? 1.0f : -1.0f) : near(y[0], r0, 1e-6));
      }
      ladle_session_free(s);
      ladle_model_free(m);
    }
  }
  /* SVMClassifier, liblinear mode (one coefficient row per class) */
  {
    float coef[4] = {1, 0, 0, 1}, rho[1] = {0};
    int64_t labels[2] = {0, 1};
    attr_spec attrs[] = {{"coefficients", A_FLOATS, .fs = coef, .n = 4},
                  {"rho", A_FLOATS, .fs = rho, .n = 1},
                  {"classlabels_ints", A_INTS, .ints = labels, .n = 2}};
    ladle_model *m = build1("SVMClassifier", 1, LADLE_FLOAT, 2, outs, 3, attrs);
    CHECK(m && run1(m, 1, &in, &s) == LADLE_OK);
    if (m && s) {
      const float *z = ladle_session_output(s, 1)->data;
      CHECK(z[0] == 1 && z[1] == 2);
    }
    ladle_session_free(s);
    ladle_model_free(m);
  }
}

/* --- preprocessing ops ------------------------------------------------------------------- */

/* Runs op on x as "X" with one thread; its output "Y", or NULL. Closed by done(). */
static const ladle_tensor *run_ml_op(const char *op, int opset, const ladle_tensor *x, int n_attr,
                                     const attr_spec *attrs, ladle_model **mm,
                                     ladle_session **ss) {
  static const char *const outs[1] = {"Y"};
  *mm = build1(op, opset, x->dtype, 1, outs, n_attr, attrs);
  *ss = NULL;
  if (!*mm || run1(*mm, 1, x, ss) != LADLE_OK) return NULL;
  return ladle_session_output(*ss, 0);
}

static void test_preprocessing(void) {
  ladle_model *m;
  ladle_session *s;
  const ladle_tensor *y;
  float x[6] = {1, -2, 3, 0, 0, NAN};
  ladle_tensor in = {LADLE_FLOAT, 2, {2, 3}, x};
  {
    float off[3] = {1, 0, -1}, sc[1] = {2};
    attr_spec a[] = {{"offset", A_FLOATS, .fs = off, .n = 3},
                     {"scale", A_FLOATS, .fs = sc, .n = 1}};
    y = run_ml_op("Scaler", 1, &in, 2, a, &m, &s);
    CHECK(y && ((float *)y->data)[0] == 0 && ((float *)y->data)[2] == 8 && ((float *)y->data)[3] == -2);
    done(m, s);
  }
  {
    float xn[6] = {1, -2, 3, 0, 0, 0};
    ladle_tensor nin = {LADLE_FLOAT, 2, {2, 3}, xn};
    const char *norms[3] = {"MAX", "L1", "L2"};
    double want[3] = {1.0 / 3, 1.0 / 6, 1.0 / sqrt(14.0)};
    for (int k = 0; k < 3; k++) {
      attr_spec a[] = {{"norm", A_STR, .s = norms[k]}};
      y = run_ml_op("Normalizer", 1, &nin, 1, a, &m, &s);
      CHECK(y && near(((float *)y->data)[0], want[k], 1e-6) && ((float *)y->data)[4] == 0);
      done(m, s);
    }
  }
  {
    attr_spec a[] = {{"threshold", A_FLOAT, .f = 0.5f}};
    y = run_ml_op("Binarizer", 1, &in, 1, a, &m, &s);
    CHECK(y && ((float *)y->data)[0] == 1 && ((float *)y->data)[1] == 0 && ((float *)y->data)[5] == 0);
    done(m, s);
  }
  {
    float imp[3] = {7, 8, 9};
    attr_spec a[] = {{"imputed_value_floats", A_FLOATS, .fs = imp, .n = 3},
              {"replaced_value_float", A_FLOAT, .f = NAN}};
    y = run_ml_op("Imputer", 1, &in, 2, a, &m, &s);
    CHECK(y && ((float *)y->data)[5] == 9 && ((float *)y->data)[3] == 0);
    done(m, s);
  }
  {
    const char *words[3] = {"cat", "dog", "cow"};
    char *xs[3] = {"dog", "bird", "cat"};
    ladle_tensor sin = {LADLE_STRING, 1, {3}, xs};
    attr_spec a[] = {{"cats_strings", A_STRS, .strs = words, .n = 3}};
    y = run_ml_op("OneHotEncoder", 1, &sin, 1, a, &m, &s);
    CHECK(y && y->ndim == 2 && y->dims[1] == 3);
    if (y) {
      const float *o = y->data;
      CHECK(o[1] == 1 && o[0] == 0 && o[3] + o[4] + o[5] == 0 && o[6] == 1);
    }
    done(m, s);
    attr_spec z[] = {{"cats_strings", A_STRS, .strs = words, .n = 3}, {"zeros", A_INT, .i = 0}};
    expect_failure = true;
    y = run_ml_op("OneHotEncoder", 1, &sin, 2, z, &m, &s);
    expect_failure = false;
    CHECK(y == NULL); /* "bird" is unknown */
    done(m, s);
  }
  {
    const char *cls[3] = {"a", "b", "c"};
    char *xs[2] = {"c", "zz"};
    ladle_tensor sin = {LADLE_STRING, 1, {2}, xs};
    attr_spec a[] = {{"classes_strings", A_STRS, .strs = cls, .n = 3},
                     {"default_int64", A_INT, .i = 42}};
    y = run_ml_op("LabelEncoder", 1, &sin, 2, a, &m, &s);
    CHECK(y && y->dtype == LADLE_INT64 && ((int64_t *)y->data)[0] == 2 && ((int64_t *)y->data)[1] == 42);
    done(m, s);
    int64_t xi[2] = {1, 9};
    ladle_tensor iin = {LADLE_INT64, 1, {2}, xi};
    y = run_ml_op("LabelEncoder", 1, &iin, 2, a, &m, &s);
    CHECK(y && y->dtype == LADLE_STRING && !strcmp(((char **)y->data)[0], "b") &&
          !strcmp(((char **)y->data)[1], "_Unused"));
    done(m, s);
  }
  {
    float keys[2] = {1.5f, -2}, vals[2] = {10, 20};
    float xf[3] = {-2, 1.5f, 0};
    ladle_tensor fin = {LADLE_FLOAT, 1, {3}, xf};
    attr_spec a[] = {{"keys_floats", A_FLOATS, .fs = keys, .n = 2},
              {"values_floats", A_FLOATS, .fs = vals, .n = 2},
              {"default_float", A_FLOAT, .f = -1}};
    y = run_ml_op("LabelEncoder", 2, &fin, 3, a, &m, &s);
    CHECK(y && ((float *)y->data)[0] == 20 && ((float *)y->data)[1] == 10 && ((float *)y->data)[2] == -1);
    done(m, s);
    const char *sk[2] = {"lo", "hi"};
    int64_t iv[2] = {0, 1};
    char *xs[2] = {"hi", "mid"};
    ladle_tensor sin = {LADLE_STRING, 1, {2}, xs};
    attr_spec b[] = {{"keys_strings", A_STRS, .strs = sk, .n = 2},
                     {"values_int64s", A_INTS, .ints = iv, .n = 2}};
    y = run_ml_op("LabelEncoder", 2, &sin, 2, b, &m, &s);
    CHECK(y && ((int64_t *)y->data)[0] == 1 && ((int64_t *)y->data)[1] == -1);
    done(m, s);
  }
  {
    const char *cs[2] = {"x", "y"};
    int64_t ci[2] = {5, 6}, xi[3] = {6, 5, 0};
    ladle_tensor iin = {LADLE_INT64, 1, {3}, xi};
    attr_spec a[] = {{"cats_strings", A_STRS, .strs = cs, .n = 2},
                     {"cats_int64s", A_INTS, .ints = ci, .n = 2}};
    y = run_ml_op("CategoryMapper", 1, &iin, 2, a, &m, &s);
    CHECK(y && !strcmp(((char **)y->data)[0], "y") && !strcmp(((char **)y->data)[2], "_Unused"));
    done(m, s);
  }
  {
    static const char *const in2[2] = {"X", "I"};
    static const char *const o1[1] = {"Y"};
    int t[2] = {LADLE_FLOAT, LADLE_INT64};
    char err[256];
    ladle_model *mm = build("ArrayFeatureExtractor", 1, 2, in2, t, 1, o1, 0, NULL, err, sizeof err);
    CHECK(mm != NULL);
    int64_t idx[2] = {2, 0};
    ladle_tensor ins[2] = {{LADLE_FLOAT, 2, {2, 3}, x}, {LADLE_INT64, 1, {2}, idx}};
    const char *names[2] = {"X", "I"};
    ladle_session *ss = mm ? ladle_session_new(mm, 1) : NULL;
    CHECK(ss && ladle_session_run(ss, 2, names, ins) == LADLE_OK);
    if (ss) {
      const ladle_tensor *o = ladle_session_output(ss, 0);
      CHECK(o->dims[1] == 2 && ((float *)o->data)[0] == 3 && ((float *)o->data)[1] == 1 &&
            ((float *)o->data)[3] == 0);
      idx[0] = 3; /* out of range: refused */
      CHECK(ladle_session_run(ss, 2, names, ins) == LADLE_ERR_INVALID);
    }
    done(mm, ss);
  }
  {
    float p[4] = {0.25f, 0.75f, 1, 0};
    int64_t labels[2] = {4, 9};
    ladle_tensor pin = {LADLE_FLOAT, 2, {2, 2}, p};
    attr_spec a[] = {{"classlabels_int64s", A_INTS, .ints = labels, .n = 2}};
    y = run_ml_op("ZipMap", 1, &pin, 1, a, &m, &s);
    CHECK(y && y->dims[1] == 2 && ((float *)y->data)[1] == 0.75f);
    done(m, s);
  }
  {
    int64_t dims[1] = {4};
    attr_spec a[] = {{"inputdimensions", A_INTS, .ints = dims, .n = 1}};
    y = run_ml_op("FeatureVectorizer", 1, &in, 1, a, &m, &s);
    CHECK(y && y->dims[1] == 4 && ((float *)y->data)[2] == 3 && ((float *)y->data)[3] == 0);
    done(m, s);
  }
}

int main(void) {
  test_random_regressors();
  test_classifier_rules();
  test_hostile_trees();
  test_linear();
  test_preprocessing();
  return check_done("test_ml");
}

/* ml_tree.c — ai.onnx.ml tree ensembles: TreeEnsembleClassifier, TreeEnsembleRegressor.
 *
 * Semantics are ONNX Runtime's, including its corner cases: comparisons are made in the
 * input's type against float thresholds (double inputs against double thresholds), NaN goes to
 * the true branch only where nodes_missing_value_tracks_true says so (BRANCH_NEQ sends it there
 * anyway), a regressor with one target applies only PROBIT, scores a row never received read
 * as 0, and a two-class classifier follows ORT's binary rules: with one weighted class id and
 * non-negative weights the scores are [1-s, s] and the label is s > 0.5; with signed weights
 * they are [-s, s] (LOGISTIC: [σ(-s), σ(s)]) and the label is s > 0.
 *
 * Layout. At load the trees are compiled (init, into node->state) into one array of 16-byte
 * nodes {threshold, feature, first child, leaf}. A node's two children sit side by side, so
 * one step is `i = child + !(x[feature] <= threshold)`. BRANCH_LT, GTE and GT are rewritten
 * as BRANCH_LEQ (x < t is x <= the float below t; GTE and GT swap the children), so most
 * ensembles walk with that single comparison. Leaves point at themselves and read column 0, a
 * padding column holding -inf, against threshold +inf: a walk of exactly the tree's depth ends
 * on the right leaf whatever path it took, and 8 rows walk a tree in lock step with no
 * data-dependent branch (about 4x faster than walking node by node). Nodes that cannot be rewritten (EQ, NEQ, infinite or NaN
 * thresholds) use a general walker; so do double inputs, over a double copy of the trees with
 * the original modes. Blocks holding NaN where some node sends NaN to its first child take a
 * variant of the lock-step walk that reads each node's NaN direction.
 *
 * Rows. Work is split into blocks of 64 rows, copied as float and column by column (only the
 * features the trees read, after the padding column) into per-task scratch, so the 8 rows of a
 * group address their values from one base pointer; a block visits the trees one by one so
 * each tree stays in L1 while the block walks it; tasks of whole blocks go to the thread pool. Scores accumulate in double and are rounded to float before the
 * label rules and post transforms, which run in float as ORT's do. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops/ml_common.h"

enum { K_LE = 0, K_LT, K_GE, K_GT, K_EQ, K_NE, K_LEAF = 7, K_NANFIRST = 8 };
enum { AGG_SUM = 0, AGG_AVERAGE, AGG_MIN, AGG_MAX };
enum { LW_SPARSE = 0, LW_SINGLE, LW_DENSE };

#define BLOCK_ROWS 64
#define GROUP 8
#define MAX_NODES (INT64_C(1) << 30)

typedef struct fnode {
  float thr;
  int32_t feat;  /* offset of the feature's column in a block: (feature + 1) * BLOCK_ROWS */
  int32_t child; /* first child; the second is child + 1; a leaf points at itself */
  int32_t leaf;  /* leaf index; a branch: -1, or -2 when NaN goes to the first child */
} fnode;

typedef struct dnode {
  double thr;
  int32_t feat; /* index in a padded row: feature + 1 (0 is the -inf padding) */
  int32_t tchild, fchild;
  uint8_t mode; /* K_* of the original node */
  uint8_t miss; /* missing value tracks true */
} dnode;

typedef struct tree_ens {
  bool classifier;
  int64_t K; /* classes or targets */
  int agg, post;
  int64_t n_trees;
  int32_t *root, *depth;
  int64_t n_nodes;
  fnode *fn;
  uint8_t *fkind;
  dnode *dn;
  int64_t n_leaves;
  int64_t *w_off; /* n_leaves + 1 */
  int32_t *w_cls;
  double *w_val;
  int lw;
  int32_t single_cls;
  bool fast;      /* every float node is BRANCH_LEQ after rewriting */
  bool nan_first; /* some float node sends NaN to its first child */
  int64_t n_feat; /* largest feature id + 1 */
  double *base;
  int64_t n_base;
  bool binary_case, all_pos;
  ml_labels labels;
} tree_ens;

/* Tests: 0 or 1 = the branch-free walker where it applies, 2 = the general walker only. */
static _Atomic int force_reference;

void ml_tree_force_reference(int level) { force_reference = level; }

static void ens_free(void *p) {
  tree_ens *te = p;
  if (!te) return;
  free(te->root);
  free(te->depth);
  free(te->fn);
  free(te->fkind);
  free(te->dn);
  free(te->w_off);
  free(te->w_cls);
  free(te->w_val);
  free(te->base);
  free(te);
}

/* --- compiling ---------------------------------------------------------------------------- */

typedef struct key {
  int64_t tree, id;
  int64_t idx;
} key;

static int key_cmp(const void *a, const void *b) {
  const key *x = a, *y = b;
  if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int i64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t key_find(const key *keys, int64_t n, int64_t tree, int64_t id) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (keys[mid].tree < tree || (keys[mid].tree == tree && keys[mid].id < id))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && keys[lo].tree == tree && keys[lo].id == id ? keys[lo].idx : -1;
}

/* The raw attributes, as read from the node. */
typedef struct raw {
  int64_t n;
  const int64_t *tree, *id, *feat, *tid, *fid, *miss;
  int64_t n_miss;
  char **modes;
  double *val;
  int64_t nw;
  const int64_t *w_tree, *w_id, *w_cls;
  double *w_val;
} raw;

static int mode_of(const char *s) {
  static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                      "BRANCH_EQ",  "BRANCH_NEQ", "",         "LEAF"};
  int k = ml_str_index(s, names, 8);
  return k == 6 ? -1 : k;
}

static ladle_status ints_attr(const node *n, const char *name, int64_t want, const int64_t **v,
                              errbuf *e) {
  int64_t len = node_attr_ints(n, name, v);
  if (len < 0) len = 0, *v = NULL;
  if (len != want)
    return err_set(e, LADLE_ERR_INVALID, "attribute %s has %lld values, expected %lld", name,
                   (long long)len, (long long)want);
  return LADLE_OK;
}

/* Rewrites an original node (mode, threshold, missing flag) for the float walker: the kind,
 * the threshold to compare with, whether the true child comes first, and where NaN goes. */
static void rewrite_f32(int mode, float t, bool miss, uint8_t *kind, float *thr, bool *true_first) {
  bool ok_lt = t == t && t > -INFINITY; /* x < t  <=>  x <= prev(t) */
  *thr = t;
  *true_first = true;
  bool nanfirst = miss;
  int k = mode;
  switch (mode) {
    case K_LE: break;
    case K_LT:
      if (ok_lt) k = K_LE, *thr = nextafterf(t, -INFINITY);
      break;
    case K_GE:
      if (ok_lt) k = K_LE, *thr = nextafterf(t, -INFINITY), *true_first = false, nanfirst = !miss;
      break;
    case K_GT:
      if (t == t) k = K_LE, *true_first = false, nanfirst = !miss;
      break;
    case K_NE: nanfirst = true; break;
    default: break;
  }
  *kind = (uint8_t)(k | (nanfirst ? K_NANFIRST : 0));
}

static ladle_status compile_trees(tree_ens *te, const raw *r, errbuf *e) {
  ladle_status st = LADLE_OK;
  key *keys = NULL;
  int64_t *slot_orig = NULL, *orig_leaf = NULL, *tree_first = NULL, *cnt = NULL;
  uint8_t *seen = NULL;
  int64_t n = r->n;

  if (n > MAX_NODES) return err_set(e, LADLE_ERR_LIMIT, "%lld tree nodes is too many", (long long)n);
  keys = malloc(sizeof *keys * (size_t)(n + 1));
  slot_orig = malloc(sizeof(int64_t) * (size_t)(n + 1));
  orig_leaf = malloc(sizeof(int64_t) * (size_t)(n + 1));
  tree_first = malloc(sizeof(int64_t) * (size_t)(n + 1));
  seen = calloc((size_t)n + 1, 1);
  te->fn = malloc(sizeof(fnode) * (size_t)(n + 1));
  te->fkind = malloc((size_t)n + 1);
  te->dn = malloc(sizeof(dnode) * (size_t)(n + 1));
  te->root = malloc(sizeof(int32_t) * (size_t)(n + 1));
  te->depth = malloc(sizeof(int32_t) * (size_t)(n + 1));
  int32_t *ndepth = malloc(sizeof(int32_t) * (size_t)(n + 1));
  if (!keys || !slot_orig || !orig_leaf || !tree_first || !seen || !te->fn || !te->fkind ||
      !te->dn || !te->root || !te->depth || !ndepth) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory compiling %lld tree nodes", (long long)n);
    goto out;
  }
  for (int64_t i = 0; i < n; i++) {
    keys[i] = (key){r->tree[i], r->id[i], i};
    orig_leaf[i] = -1;
  }
  qsort(keys, (size_t)n, sizeof *keys, key_cmp);
  for (int64_t i = 1; i < n; i++)
    if (keys[i].tree == keys[i - 1].tree && keys[i].id == keys[i - 1].id) {
      st = err_set(e, LADLE_ERR_INVALID, "node %lld of tree %lld is defined twice",
                   (long long)keys[i].id, (long long)keys[i].tree);
      goto out;
    }
  /* trees in order of first appearance; the root is the tree's first node */
  int64_t n_trees = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i, first = keys[i].idx;
    for (; j < n && keys[j].tree == keys[i].tree; j++)
      if (keys[j].idx < first) first = keys[j].idx;
    tree_first[n_trees++] = first;
    i = j;
  }
  qsort(tree_first, (size_t)n_trees, sizeof(int64_t), i64_cmp);
  te->n_trees = n_trees;

  int64_t next = 0;
  te->fast = true;
  te->nan_first = false;
  te->n_feat = 0;
  te->n_leaves = 0;
  for (int64_t t = 0; t < n_trees; t++) {
    int64_t root = tree_first[t], s0 = next;
    int32_t maxd = 0;
    seen[root] = 1;
    slot_orig[next] = root;
    ndepth[next] = 0;
    te->root[t] = (int32_t)next++;
    for (int64_t s = s0; s < next; s++) {
      int64_t o = slot_orig[s];
      int mode = mode_of(r->modes[o]);
      if (mode < 0) {
        st = err_set(e, LADLE_ERR_INVALID, "tree %lld node %lld: unknown mode '%s'",
                     (long long)r->tree[o], (long long)r->id[o], r->modes[o]);
        goto out;
      }
      if (ndepth[s] > maxd) maxd = ndepth[s];
      if (mode == K_LEAF) {
        int64_t L = te->n_leaves++;
        orig_leaf[o] = L;
        te->fn[s] = (fnode){INFINITY, 0, (int32_t)s, (int32_t)L};
        te->fkind[s] = K_LEAF;
        te->dn[s] = (dnode){0, 0, (int32_t)s, (int32_t)s, K_LEAF, 0};
        continue;
      }
      int64_t f = r->feat[o];
      if (f < 0 || f >= (INT32_MAX / BLOCK_ROWS) - 1) {
        st = err_set(e, LADLE_ERR_INVALID, "tree %lld node %lld: feature id %lld out of range",
                     (long long)r->tree[o], (long long)r->id[o], (long long)f);
        goto out;
      }
      if (f + 1 > te->n_feat) te->n_feat = f + 1;
      int64_t tc = key_find(keys, n, r->tree[o], r->tid[o]);
      int64_t fc = key_find(keys, n, r->tree[o], r->fid[o]);
      if (tc < 0 || fc < 0 || tc == o || fc == o || tc == fc || seen[tc] || seen[fc]) {
        st = err_set(e, LADLE_ERR_INVALID,
                     "tree %lld node %lld: children %lld/%lld are missing or do not form a tree",
                     (long long)r->tree[o], (long long)r->id[o], (long long)r->tid[o],
                     (long long)r->fid[o]);
        goto out;
      }
      seen[tc] = seen[fc] = 1;
      bool miss = r->miss && o < r->n_miss && r->miss[o] == 1;
      uint8_t kind;
      float thr;
      bool true_first;
      rewrite_f32(mode, (float)r->val[o], miss, &kind, &thr, &true_first);
      if ((kind & 7) != K_LE || thr != thr) te->fast = false; /* NaN thresholds: general walk */
      if (kind & K_NANFIRST) te->nan_first = true;
      int64_t c = next;
      next += 2;
      slot_orig[c] = true_first ? tc : fc;
      slot_orig[c + 1] = true_first ? fc : tc;
      ndepth[c] = ndepth[c + 1] = ndepth[s] + 1;
      te->fn[s] = (fnode){thr, (int32_t)((f + 1) * BLOCK_ROWS), (int32_t)c,
                          (kind & K_NANFIRST) ? -2 : -1};
      te->fkind[s] = kind;
      te->dn[s] = (dnode){r->val[o], (int32_t)(f + 1), (int32_t)(true_first ? c : c + 1),
                          (int32_t)(true_first ? c + 1 : c), (uint8_t)mode, miss};
    }
    te->depth[t] = maxd;
  }
  te->n_nodes = next;

  /* leaf weights, in CSR form, in attribute order */
  te->w_off = calloc((size_t)te->n_leaves + 2, sizeof(int64_t));
  cnt = calloc((size_t)te->n_leaves + 1, sizeof(int64_t));
  if (!te->w_off || !cnt) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory for leaf weights");
    goto out;
  }
  int64_t *wleaf = malloc(sizeof(int64_t) * (size_t)(r->nw + 1));
  if (!wleaf) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory for leaf weights");
    goto out;
  }
  int64_t total = 0;
  for (int64_t w = 0; w < r->nw; w++) {
    int64_t o = key_find(keys, n, r->w_tree[w], r->w_id[w]);
    if (o < 0) {
      free(wleaf);
      st = err_set(e, LADLE_ERR_INVALID, "weight %lld names node %lld of tree %lld, which does not exist",
                   (long long)w, (long long)r->w_id[w], (long long)r->w_tree[w]);
      goto out;
    }
    if (r->w_cls[w] < 0 || r->w_cls[w] >= te->K) {
      free(wleaf);
      st = err_set(e, LADLE_ERR_INVALID, "weight %lld: %s id %lld out of range [0, %lld)",
                   (long long)w, te->classifier ? "class" : "target", (long long)r->w_cls[w],
                   (long long)te->K);
      goto out;
    }
    wleaf[w] = orig_leaf[o];
    if (wleaf[w] >= 0) cnt[wleaf[w]]++, total++;
  }
  for (int64_t L = 0; L < te->n_leaves; L++) te->w_off[L + 1] = te->w_off[L] + cnt[L];
  te->w_cls = malloc(sizeof(int32_t) * (size_t)(total + 1));
  te->w_val = malloc(sizeof(double) * (size_t)(total + 1));
  if (!te->w_cls || !te->w_val) {
    free(wleaf);
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory for leaf weights");
    goto out;
  }
  memset(cnt, 0, sizeof(int64_t) * (size_t)(te->n_leaves + 1));
  for (int64_t w = 0; w < r->nw; w++) {
    int64_t L = wleaf[w];
    if (L < 0) continue;
    int64_t at = te->w_off[L] + cnt[L]++;
    te->w_cls[at] = (int32_t)r->w_cls[w];
    te->w_val[at] = r->w_val[w];
  }
  free(wleaf);
  /* weight layout: one weight of one class per leaf, all K in order, or anything */
  bool single = te->n_leaves > 0, dense = te->n_leaves > 0;
  te->single_cls = te->n_leaves > 0 && total > 0 ? te->w_cls[0] : 0;
  for (int64_t L = 0; L < te->n_leaves; L++) {
    int64_t c0 = te->w_off[L], c = te->w_off[L + 1] - c0;
    if (c != 1 || te->w_cls[c0] != te->single_cls) single = false;
    if (c != te->K) dense = false;
    for (int64_t k = 0; dense && k < c; k++)
      if (te->w_cls[c0 + k] != k) dense = false;
  }
  te->lw = single ? LW_SINGLE : dense ? LW_DENSE : LW_SPARSE;
out:
  free(keys);
  free(slot_orig);
  free(orig_leaf);
  free(tree_first);
  free(seen);
  free(cnt);
  free(ndepth);
  return st;
}

static ladle_status ens_init(const graph *g, node *nd, errbuf *e, bool classifier) {
  ladle_status st = LADLE_OK;
  raw r;
  memset(&r, 0, sizeof r);
  (void)g;
  tree_ens *te = calloc(1, sizeof *te);
  if (!te) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  te->classifier = classifier;
  const char *wp = classifier ? "class" : "target";
  char nm[64];

  r.n = node_attr_ints(nd, "nodes_treeids", &r.tree);
  if (r.n < 0) r.n = 0;
  const attr *modes = node_attr(nd, "nodes_modes");
  if (r.n > 0 && (!modes || modes->type != ATTR_STRINGS || modes->n != r.n)) {
    st = err_set(e, LADLE_ERR_INVALID, "nodes_modes must list one mode for each of the %lld nodes",
                 (long long)r.n);
    goto out;
  }
  r.modes = modes ? modes->strings : NULL;
  if ((st = ints_attr(nd, "nodes_nodeids", r.n, &r.id, e)) ||
      (st = ints_attr(nd, "nodes_featureids", r.n, &r.feat, e)) ||
      (st = ints_attr(nd, "nodes_truenodeids", r.n, &r.tid, e)) ||
      (st = ints_attr(nd, "nodes_falsenodeids", r.n, &r.fid, e)))
    goto out;
  r.n_miss = node_attr_ints(nd, "nodes_missing_value_tracks_true", &r.miss);
  if (r.n_miss < 0) r.n_miss = 0, r.miss = NULL;
  int64_t nv;
  if ((st = ml_attr_reals(nd, "nodes_values", &r.val, &nv, e))) goto out;
  if (r.n > 0 && nv != r.n) {
    st = err_set(e, LADLE_ERR_INVALID, "nodes_values has %lld values for %lld nodes",
                 (long long)(nv < 0 ? 0 : nv), (long long)r.n);
    goto out;
  }
  snprintf(nm, sizeof nm, "%s_treeids", wp);
  r.nw = node_attr_ints(nd, nm, &r.w_tree);
  if (r.nw < 0) r.nw = 0;
  snprintf(nm, sizeof nm, "%s_nodeids", wp);
  if ((st = ints_attr(nd, nm, r.nw, &r.w_id, e))) goto out;
  snprintf(nm, sizeof nm, "%s_ids", wp);
  if ((st = ints_attr(nd, nm, r.nw, &r.w_cls, e))) goto out;
  snprintf(nm, sizeof nm, "%s_weights", wp);
  int64_t nwv;
  if ((st = ml_attr_reals(nd, nm, &r.w_val, &nwv, e))) goto out;
  if (nwv != r.nw && !(nwv < 0 && r.nw == 0)) {
    st = err_set(e, LADLE_ERR_INVALID, "%s has %lld values for %lld weights", nm,
                 (long long)(nwv < 0 ? 0 : nwv), (long long)r.nw);
    goto out;
  }
  if ((st = ml_attr_reals(nd, "base_values", &te->base, &te->n_base, e))) goto out;
  if (te->n_base < 0) te->n_base = 0;
  if ((te->post = ml_post_parse(nd, e)) < 0) {
    st = LADLE_ERR_INVALID;
    goto out;
  }

  if (classifier) {
    ml_labels_get(nd, "classlabels_int64s", &te->labels);
    te->K = te->labels.n;
    if (te->K < 2) {
      st = err_set(e, LADLE_ERR_UNSUPPORTED,
                   "a tree classifier needs at least 2 class labels (classlabels_int64s or "
                   "classlabels_strings), got %lld", (long long)te->K);
      goto out;
    }
    if (te->K > 2 && te->n_base > te->K) {
      st = err_set(e, LADLE_ERR_INVALID, "%lld base_values for %lld classes",
                   (long long)te->n_base, (long long)te->K);
      goto out;
    }
    te->agg = AGG_SUM;
    int64_t c0 = r.nw > 0 ? r.w_cls[0] : -1;
    bool one_id = true;
    te->all_pos = true;
    for (int64_t w = 0; w < r.nw; w++) {
      if (r.w_cls[w] != c0) one_id = false;
      if (r.w_val[w] < 0) te->all_pos = false;
    }
    te->binary_case = te->K == 2 && r.nw > 0 && one_id;
  } else {
    te->K = node_attr_int(nd, "n_targets", 1);
    if (te->K < 1 || te->K > (INT64_C(1) << 20)) {
      st = err_set(e, LADLE_ERR_INVALID, "n_targets %lld out of range", (long long)te->K);
      goto out;
    }
    static const char *const aggs[] = {"SUM", "AVERAGE", "MIN", "MAX"};
    const char *a = node_attr_str(nd, "aggregate_function", "SUM");
    if ((te->agg = ml_str_index(a, aggs, 4)) < 0) {
      st = err_set(e, LADLE_ERR_INVALID, "unknown aggregate_function '%s'", a);
      goto out;
    }
  }
  if ((st = compile_trees(te, &r, e))) goto out;
  nd->state = te;
  te = NULL;
out:
  free(r.val);
  free(r.w_val);
  ens_free(te);
  return st;
}

static ladle_status init_cls(const graph *g, node *n, errbuf *e) { return ens_init(g, n, e, true); }
static ladle_status init_reg(const graph *g, node *n, errbuf *e) { return ens_init(g, n, e, false); }

/* --- walking ------------------------------------------------------------------------------ */

static inline int32_t walk_general_f32(const tree_ens *te, int32_t i, const float *x) {
  for (;;) {
    uint8_t k = te->fkind[i];
    if ((k & 7) == K_LEAF) return i;
    const fnode *nd = &te->fn[i];
    float v = x[nd->feat], t = nd->thr;
    int go;
    if (v != v) {
      go = !(k & K_NANFIRST);
    } else {
      switch (k & 7) {
        case K_LE: go = !(v <= t); break;
        case K_LT: go = !(v < t); break;
        case K_GE: go = !(v >= t); break;
        case K_GT: go = !(v > t); break;
        case K_EQ: go = !(v == t); break;
        default: go = !(v != t); break;
      }
    }
    i = nd->child + go;
  }
}

static inline int32_t walk_f64(const tree_ens *te, int32_t i, const double *x) {
  for (;;) {
    const dnode *nd = &te->dn[i];
    if (nd->mode == K_LEAF) return i;
    double v = x[nd->feat], t = nd->thr;
    bool yes;
    switch (nd->mode) {
      case K_LE: yes = v <= t; break;
      case K_LT: yes = v < t; break;
      case K_GE: yes = v >= t; break;
      case K_GT: yes = v > t; break;
      case K_EQ: yes = v == t; break;
      default: yes = v != t; break;
    }
    if (!yes && nd->miss && v != v) yes = true;
    i = yes ? nd->tchild : nd->fchild;
  }
}

static inline void agg_one(int agg, double *a, uint8_t *h, double w) {
  switch (agg) {
    case AGG_MIN:
      if (!*h || w < *a) *a = w;
      break;
    case AGG_MAX:
      if (!*h || w > *a) *a = w;
      break;
    default: *a += w; break;
  }
  *h = 1;
}

/* Adds leaf L's weights into one row's scores. Sums skip the aggregate switch, and dense
 * leaves (K weights, classes in order) skip the has flags, which dense_done() sets. */
static inline void leaf_apply(const tree_ens *te, int64_t L, double *acc, uint8_t *has) {
  if (te->agg == AGG_SUM || te->agg == AGG_AVERAGE) {
    if (te->lw == LW_DENSE) {
      const double *v = te->w_val + L * te->K;
      for (int64_t k = 0; k < te->K; k++) acc[k] += v[k];
      return;
    }
    for (int64_t w = te->w_off[L]; w < te->w_off[L + 1]; w++) {
      acc[te->w_cls[w]] += te->w_val[w];
      has[te->w_cls[w]] = 1;
    }
    return;
  }
  for (int64_t w = te->w_off[L]; w < te->w_off[L + 1]; w++)
    agg_one(te->agg, &acc[te->w_cls[w]], &has[te->w_cls[w]], te->w_val[w]);
}

/* After a block: the flags leaf_apply leaves to the caller (dense sums). */
static void dense_done(const tree_ens *te, int64_t nb, uint8_t *has) {
  if (te->lw == LW_DENSE && te->n_trees > 0 && (te->agg == AGG_SUM || te->agg == AGG_AVERAGE))
    memset(has, 1, (size_t)(nb * te->K));
}

/* The branch-free walk: every row of the block through every tree, GROUP rows in lock step.
 * xt is the block column by column (BLOCK_ROWS floats a column, column 0 the -inf padding), so
 * row g0 + g reads feature column c at xt[c + g0 + g]: one base register for the group.
 * With nan set (the block holds NaN and some node sends NaN first), a value that is neither
 * <= nor > the threshold goes where the node's leaf field says. */
static inline __attribute__((always_inline)) void block_fast(const tree_ens *te, const float *xt,
                                                             int64_t nb, double *acc,
                                                             uint8_t *has, bool nan) {
  const fnode *fn = te->fn;
  const int64_t K = te->K;
  const bool sum1 = te->lw == LW_SINGLE && (te->agg == AGG_SUM || te->agg == AGG_AVERAGE);
  const int32_t c0 = te->single_cls;
  for (int64_t t = 0; t < te->n_trees; t++) {
    const int32_t root = te->root[t], depth = te->depth[t];
    for (int64_t g0 = 0; g0 < nb; g0 += GROUP) {
      int64_t gn = nb - g0 < GROUP ? nb - g0 : GROUP;
      const float *xg = xt + g0;
      int32_t idx[GROUP];
      for (int g = 0; g < GROUP; g++) idx[g] = root;
      for (int32_t d = 0; d < depth; d++)
        for (int g = 0; g < GROUP; g++) {
          const fnode *nd = &fn[idx[g]];
          float v = xg[nd->feat + g];
          if (!nan)
            idx[g] = nd->child + !(v <= nd->thr);
          else
            idx[g] = nd->child + (v <= nd->thr ? 0 : v > nd->thr ? 1 : nd->leaf == -1);
        }
      if (sum1) {
        for (int64_t g = 0; g < gn; g++) acc[(g0 + g) * K + c0] += te->w_val[fn[idx[g]].leaf];
      } else {
        for (int64_t g = 0; g < gn; g++)
          leaf_apply(te, fn[idx[g]].leaf, acc + (g0 + g) * K, has + (g0 + g) * K);
      }
    }
  }
  if (sum1 && te->n_trees > 0)
    for (int64_t r = 0; r < nb; r++) has[r * K + c0] = 1;
}

/* Node by node, any modes and NaN rules; xt as for block_fast. */
static void block_general_f32(const tree_ens *te, const float *xt, int64_t nb, double *acc,
                              uint8_t *has) {
  for (int64_t t = 0; t < te->n_trees; t++)
    for (int64_t r = 0; r < nb; r++) {
      int32_t i = walk_general_f32(te, te->root[t], xt + r);
      leaf_apply(te, te->fn[i].leaf, acc + r * te->K, has + r * te->K);
    }
}

/* Double inputs: rows of `stride` doubles (column 0 the padding), original modes. */
static void block_f64(const tree_ens *te, const double *xb, int64_t stride, int64_t nb,
                      double *acc, uint8_t *has) {
  for (int64_t t = 0; t < te->n_trees; t++)
    for (int64_t r = 0; r < nb; r++) {
      int32_t i = walk_f64(te, te->root[t], xb + r * stride);
      leaf_apply(te, te->fn[i].leaf, acc + r * te->K, has + r * te->K);
    }
}

/* --- finishing a row ---------------------------------------------------------------------- */

/* ORT's write_scores for a binary row reduced to one score s. */
static void write_one(int post, float s, int wadd, float *z) {
  if (post == ML_POST_PROBIT) {
    z[0] = ml_probit(s);
    z[1] = 0;
    return;
  }
  switch (wadd) {
    case 0:
    case 1:
      z[0] = 1.0f - s;
      z[1] = s;
      break;
    case 2:
    case 3:
      if (post == ML_POST_LOGISTIC) {
        z[0] = ml_logistic(-s);
        z[1] = ml_logistic(s);
      } else {
        z[0] = -s;
        z[1] = s;
      }
      break;
    default:
      z[0] = s;
      z[1] = 0;
      break;
  }
}

/* Scores of one row into z[0..K); returns the index of the predicted class. */
static int64_t finish_cls(const tree_ens *te, const double *acc, const uint8_t *hs, float *z) {
  const int64_t K = te->K;
  if (K > 2) {
    int64_t best = -1;
    float bw = 0;
    for (int64_t k = 0; k < K; k++) {
      float s = (float)acc[k];
      bool h = hs[k];
      if (k < te->n_base) {
        s = h ? s + (float)te->base[k] : (float)te->base[k];
        h = true;
      }
      z[k] = h ? s : 0;
      if (h && (best < 0 || s > bw)) best = k, bw = s;
    }
    ml_post_apply((ml_post)te->post, z, K);
    return best < 0 ? 0 : best;
  }
  float s0 = (float)acc[0], s1 = (float)acc[1];
  bool h0 = hs[0], h1 = hs[1];
  int n = 2, wadd = -1;
  if (te->n_base == 2) {
    if (h1) {
      s1 = (float)te->base[1] + s0;
      s0 = -s1;
    } else {
      s1 += (float)te->base[1];
      s0 += (float)te->base[0];
    }
  } else if (te->n_base == 1) {
    s0 += (float)te->base[0];
    if (!h1) n = 1;
  } else if (te->n_base == 0) {
    wadd = 3;
    if (!h1) n = 1;
  }
  float pos = n == 2 && h1 ? s1 : (h0 ? s0 : 0);
  int64_t label;
  if (te->binary_case) {
    if (te->all_pos) {
      label = pos > 0.5f;
      wadd = label ? 0 : 1;
    } else {
      label = pos > 0;
      wadd = label ? 2 : 3;
    }
  } else {
    label = pos > 0;
  }
  if (n == 2) {
    z[0] = h0 ? s0 : 0;
    z[1] = h1 ? s1 : 0;
    ml_post_apply((ml_post)te->post, z, 2);
  } else {
    write_one(te->post, h0 ? s0 : 0, wadd, z);
  }
  return label;
}

static void finish_reg(const tree_ens *te, const double *acc, const uint8_t *hs, float *y) {
  const int64_t K = te->K;
  const double nt = (double)te->n_trees;
  if (K == 1) {
    double origin = te->n_base == 1 ? te->base[0] : 0, s = acc[0];
    switch (te->agg) {
      case AGG_SUM: s += origin; break;
      case AGG_AVERAGE: s = s / nt + origin; break;
      default: s = hs[0] ? s + origin : origin; break;
    }
    y[0] = te->post == ML_POST_PROBIT ? ml_probit((float)s) : (float)s;
    return;
  }
  bool use_base = te->n_base == K;
  for (int64_t k = 0; k < K; k++) {
    double s = acc[k], b = use_base ? te->base[k] : 0;
    switch (te->agg) {
      case AGG_SUM: s += b; break;
      case AGG_AVERAGE: s = s / nt + b; break;
      default: s = b + (hs[k] ? s : 0); break;
    }
    y[k] = hs[k] ? (float)s : 0;
  }
  ml_post_apply((ml_post)te->post, y, K);
}

/* --- running ------------------------------------------------------------------------------ */

typedef struct tjob {
  const tree_ens *te;
  const ladle_tensor *x;
  int64_t N, F, cols, nblocks, ntasks; /* cols: the features the trees read, plus padding */
  bool dbl;
  ladle_tensor *label; /* classifier */
  float *z;            /* scores: classifier Z or regressor Y */
  char *scratch;
  size_t per_task, x_bytes;
  _Atomic int failed; /* a string label could not be allocated (set by any task) */
} tjob;

/* Element (r, f) of the [N, F] input as float. */
static inline float in_f32(const ladle_tensor *x, int64_t i) {
  switch (x->dtype) {
    case LADLE_FLOAT: return ((const float *)x->data)[i];
    case LADLE_DOUBLE: return (float)((const double *)x->data)[i];
    case LADLE_INT64: return (float)((const int64_t *)x->data)[i];
    default: return (float)((const int32_t *)x->data)[i];
  }
}

/* Copies rows [r0, r0 + nb) column by column into xt (see block_fast); rows past nb are zero.
 * Returns whether a value the trees read is NaN. */
static bool fill_cols(const tjob *j, int64_t r0, int64_t nb, float *xt) {
  const int64_t F = j->F, cols = j->cols;
  bool nan = false;
  for (int64_t r = 0; r < BLOCK_ROWS; r++) xt[r] = -INFINITY;
  if (j->x->dtype == LADLE_FLOAT) {
    const float *x = (const float *)j->x->data + r0 * F;
    for (int64_t r = 0; r < nb; r++)
      for (int64_t c = 1; c < cols; c++) {
        float v = x[r * F + c - 1];
        xt[c * BLOCK_ROWS + r] = v;
        nan |= v != v;
      }
  } else {
    for (int64_t r = 0; r < nb; r++)
      for (int64_t c = 1; c < cols; c++) xt[c * BLOCK_ROWS + r] = in_f32(j->x, (r0 + r) * F + c - 1);
  }
  if (nb < BLOCK_ROWS)
    for (int64_t c = 1; c < cols; c++)
      memset(xt + c * BLOCK_ROWS + nb, 0, sizeof(float) * (size_t)(BLOCK_ROWS - nb));
  return nan;
}

static void tree_task(void *arg, int64_t task) {
  tjob *j = arg;
  const tree_ens *te = j->te;
  const int64_t K = te->K;
  char *base = j->scratch + (size_t)task * j->per_task;
  double *acc = (double *)(base + j->x_bytes);
  uint8_t *has = (uint8_t *)(acc + BLOCK_ROWS * K);
  int64_t b0 = task * j->nblocks / j->ntasks, b1 = (task + 1) * j->nblocks / j->ntasks;
  for (int64_t b = b0; b < b1; b++) {
    int64_t r0 = b * BLOCK_ROWS, nb = j->N - r0 < BLOCK_ROWS ? j->N - r0 : BLOCK_ROWS;
    memset(acc, 0, sizeof(double) * (size_t)(nb * K));
    memset(has, 0, (size_t)(nb * K));
    if (j->dbl) {
      double *xd = (double *)base;
      const double *x = j->x->data;
      for (int64_t r = 0; r < nb; r++) {
        xd[r * j->cols] = -INFINITY;
        memcpy(xd + r * j->cols + 1, x + (r0 + r) * j->F, sizeof(double) * (size_t)(j->cols - 1));
      }
      block_f64(te, xd, j->cols, nb, acc, has);
    } else {
      float *xt = (float *)base;
      bool nan = fill_cols(j, r0, nb, xt) && te->nan_first;
      if (te->fast && force_reference <= 1) {
        if (nan)
          block_fast(te, xt, nb, acc, has, true);
        else
          block_fast(te, xt, nb, acc, has, false);
      } else {
        block_general_f32(te, xt, nb, acc, has);
      }
    }
    dense_done(te, nb, has);
    for (int64_t r = 0; r < nb; r++) {
      float *z = j->z + (r0 + r) * K;
      if (te->classifier) {
        int64_t k = finish_cls(te, acc + r * K, has + r * K, z);
        if (!ml_label_write(&te->labels, j->label, r0 + r, k)) j->failed = 1;
      } else {
        finish_reg(te, acc + r * K, has + r * K, z);
      }
    }
  }
}

static ladle_status run_ens(op_ctx *c) {
  const tree_ens *te = op_node(c)->state;
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *label = NULL, *z = NULL;
  int64_t N, F;
  ladle_status st;
  if (!te) return op_fail(c, LADLE_ERR_INTERNAL, "tree ensemble was not compiled");
  if ((st = ml_rows(c, x, &N, &F))) return st;
  if (F < te->n_feat)
    return op_fail(c, LADLE_ERR_SHAPE, "input has %lld features, the trees read feature %lld",
                   (long long)F, (long long)(te->n_feat - 1));
  if (te->classifier) {
    int64_t dl[1] = {N}, dz[2] = {N, te->K};
    if ((st = op_out(c, 0, ml_labels_dtype(&te->labels), 1, dl, &label))) return st;
    if ((st = op_out(c, 1, LADLE_FLOAT, 2, dz, &z))) return st;
  } else {
    int64_t dy[2] = {N, te->K};
    if ((st = op_out(c, 0, LADLE_FLOAT, 2, dy, &z))) return st;
  }
  if (N == 0) return LADLE_OK;

  tjob j = {.te = te, .x = x, .N = N, .F = F, .cols = te->n_feat + 1,
            .dbl = x->dtype == LADLE_DOUBLE, .label = label, .z = z->data};
  j.x_bytes = ((size_t)BLOCK_ROWS * (size_t)j.cols * sizeof(double) + 63) / 64 * 64;
  j.per_task = j.x_bytes + ((size_t)BLOCK_ROWS * (size_t)te->K * (sizeof(double) + 1) + 63) / 64 * 64;
  j.nblocks = (N + BLOCK_ROWS - 1) / BLOCK_ROWS;
  int64_t threads = op_threads(c);
  /* a few blocks per thread balance the load; big per-task scratch (wide inputs) caps it */
  int64_t want = j.per_task > ((size_t)1 << 20) ? threads : threads * 8;
  j.ntasks = threads <= 1 ? 1 : (j.nblocks < want ? j.nblocks : want);
  j.scratch = op_scratch(c, 0, j.per_task * (size_t)j.ntasks);
  if (!j.scratch) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for tree scratch");
  if (j.ntasks == 1)
    tree_task(&j, 0);
  else
    tpool_run(op_pool(c), j.ntasks, tree_task, &j);
  if (j.failed) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for string labels");
  return LADLE_OK;
}

/* ONNX deprecated both ops in ai.onnx.ml 5 (for TreeEnsemble); ONNX Runtime still runs them
 * at any later ai.onnx.ml opset, and so does ladle. */
const op_def ops_ml_tree[] = {
    {ML_DOMAIN, "TreeEnsembleClassifier", 1, 99, run_ens, init_cls, ens_free},
    {ML_DOMAIN, "TreeEnsembleRegressor", 1, 99, run_ens, init_reg, ens_free},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

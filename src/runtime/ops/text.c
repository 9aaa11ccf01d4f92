/* text.c — string and token ops: StringNormalizer, TfIdfVectorizer.
 *
 * StringNormalizer changes case code point by code point with the C.UTF-8 locale's simple case
 * mapping (towupper_l / towlower_l): UTF-8 text in any script is handled, but the `locale`
 * attribute is ignored (no language-specific rules such as Turkish dotted i), and bytes that are
 * not valid UTF-8 are copied unchanged. Without the C.UTF-8 locale only ASCII letters change.
 *
 * Both ops prepare their attributes once at init (stopwords folded for case-insensitive matching,
 * the n-gram pool in a hash table), so run() only reads the node's state. */
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "runtime/op.h"

static ladle_status need(op_ctx *c, int i, const char *what, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d (%s) is required", i, what);
  return LADLE_OK;
}

/* --- case mapping ---------------------------------------------------------------------------- */

static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_loc;

static void utf8_init(void) { utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); }

/* Decodes one code point at s (n bytes left); returns its length, or 0 for an invalid sequence. */
static int utf8_dec(const unsigned char *s, size_t n, uint32_t *cp) {
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  int len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
  if (!len || (size_t)len > n) return 0;
  uint32_t v = s[0] & (0x7f >> len);
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    v = v << 6 | (s[i] & 0x3f);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

static int utf8_enc(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

enum { CASE_NONE, CASE_LOWER, CASE_UPPER };

/* Writes s with its case changed into out (room for 4 bytes per input byte + 1); returns out. */
static char *case_map(const char *s, int action, char *out) {
  pthread_once(&utf8_once, utf8_init);
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s), i = 0, o = 0;
  while (i < n) {
    uint32_t cp;
    int len = utf8_dec(p + i, n - i, &cp);
    if (!len) { /* not UTF-8: the byte as it is */
      out[o++] = (char)p[i++];
      continue;
    }
    uint32_t m = cp;
    if (utf8_loc) {
      m = (uint32_t)(action == CASE_UPPER ? towupper_l((wint_t)cp, utf8_loc) : towlower_l((wint_t)cp, utf8_loc));
    } else if (cp < 0x80) {
      if (action == CASE_UPPER && cp >= 'a' && cp <= 'z') m = cp - 32;
      if (action == CASE_LOWER && cp >= 'A' && cp <= 'Z') m = cp + 32;
    }
    if (m > 0x10ffff || (m >= 0xd800 && m <= 0xdfff)) m = cp;
    o += (size_t)utf8_enc(m, out + o);
    i += (size_t)len;
  }
  out[o] = '\0';
  return out;
}

/* --- StringNormalizer ------------------------------------------------------------------------ */

typedef struct strnorm_state {
  int action;
  bool sensitive;
  int64_t n_stop;
  char **stop; /* lowercased unless case-sensitive */
} strnorm_state;

static void strnorm_free(void *p) {
  strnorm_state *s = p;
  if (!s) return;
  for (int64_t i = 0; i < s->n_stop; i++) free(s->stop[i]);
  free(s->stop);
  free(s);
}

static ladle_status strnorm_init(const graph *g, node *n, errbuf *e) {
  (void)g;
  const char *act = node_attr_str(n, "case_change_action", "NONE");
  int action = !strcmp(act, "LOWER") ? CASE_LOWER : !strcmp(act, "UPPER") ? CASE_UPPER : !strcmp(act, "NONE") ? CASE_NONE : -1;
  if (action < 0) return err_set(e, LADLE_ERR_INVALID, "unknown case_change_action '%s'", act);
  strnorm_state *s = calloc(1, sizeof *s);
  if (!s) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  s->action = action;
  s->sensitive = node_attr_int(n, "is_case_sensitive", 0) != 0;
  const attr *sw = node_attr(n, "stopwords");
  if (sw && sw->n > 0) {
    s->stop = calloc((size_t)sw->n, sizeof *s->stop);
    if (!s->stop) goto nomem;
    for (int64_t i = 0; i < sw->n; i++) {
      const char *w = sw->strings[i] ? sw->strings[i] : "";
      s->stop[i] = malloc(4 * strlen(w) + 1);
      if (!s->stop[i]) goto nomem;
      s->n_stop = i + 1;
      if (s->sensitive)
        strcpy(s->stop[i], w);
      else
        case_map(w, CASE_LOWER, s->stop[i]);
    }
  }
  n->state = s;
  return LADLE_OK;
nomem:
  strnorm_free(s);
  return err_set(e, LADLE_ERR_NOMEM, "out of memory for stopwords");
}

static ladle_status run_strnorm(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = need(c, 0, "X", &x))) return st;
  const strnorm_state *s = op_node(c)->state;
  if (!s) return op_fail(c, LADLE_ERR_INTERNAL, "StringNormalizer was not initialised");
  if (x->dtype != LADLE_STRING) return op_fail(c, LADLE_ERR_DTYPE, "X must be a string tensor");
  if (!(x->ndim == 1 || (x->ndim == 2 && x->dims[0] == 1)))
    return op_fail(c, LADLE_ERR_SHAPE, "X must be [C] or [1, C]");
  int64_t n = ladle_tensor_numel(x);
  char *const *in = x->data;
  size_t longest = 0;
  for (int64_t i = 0; i < n; i++)
    if (in[i] && strlen(in[i]) > longest) longest = strlen(in[i]);
  bool *keep = op_scratch(c, 0, (size_t)(n ? n : 1));
  char *buf = op_scratch(c, 1, 4 * longest + 1);
  if (!keep || !buf) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for StringNormalizer");
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    const char *w = in[i] ? in[i] : "";
    const char *key = s->sensitive ? w : case_map(w, CASE_LOWER, buf);
    keep[i] = true;
    for (int64_t k = 0; k < s->n_stop && keep[i]; k++)
      if (!strcmp(key, s->stop[k])) keep[i] = false;
    kept += keep[i];
  }
  int64_t dims[2] = {1, kept ? kept : 1};
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_STRING, x->ndim, x->ndim == 2 ? dims : dims + 1, &y))) return st;
  char **out = y->data;
  int64_t o = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!keep[i]) continue;
    const char *w = in[i] ? in[i] : "";
    out[o] = strdup(s->action == CASE_NONE ? w : case_map(w, s->action, buf));
    if (!out[o]) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for output strings");
    o++;
  }
  if (!kept && !(out[0] = strdup(""))) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for output strings");
  return LADLE_OK;
}

/* --- TfIdfVectorizer ------------------------------------------------------------------------- */

/* The pool's n-grams in a hash table keyed by their items. */
typedef struct tfidf_state {
  int mode; /* 0 TF, 1 IDF, 2 TFIDF */
  int64_t min_n, max_n, max_skip;
  bool strings;
  int64_t n_grams;
  int *len;           /* items in gram g */
  int64_t *start;     /* first item of gram g in the pool */
  int64_t *out;       /* output column of gram g */
  float *weight;      /* per gram (1 when absent) */
  int64_t out_dim;
  const int64_t *pool_i;
  char *const *pool_s;
  int64_t cap;        /* table size, a power of two */
  int64_t *table;     /* gram id or -1 */
} tfidf_state;

static void tfidf_free(void *p) {
  tfidf_state *s = p;
  if (!s) return;
  free(s->len);
  free(s->start);
  free(s->out);
  free(s->weight);
  free(s->table);
  free(s);
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Items of an n-gram: either pool entries or input positions i, i + step, ... */
typedef struct gram_ref {
  int n;
  const int64_t *pi; /* int pool */
  char *const *ps;   /* string pool */
  const ladle_tensor *x;
  int64_t pos, step; /* input positions */
} gram_ref;

static int64_t ref_int(const gram_ref *r, int k) {
  if (r->pi) return r->pi[k];
  int64_t i = r->pos + k * r->step;
  return r->x->dtype == LADLE_INT64 ? ((const int64_t *)r->x->data)[i] : ((const int32_t *)r->x->data)[i];
}

static const char *ref_str(const gram_ref *r, int k) {
  const char *s = r->ps ? r->ps[k] : ((char *const *)r->x->data)[r->pos + k * r->step];
  return s ? s : "";
}

static uint64_t gram_hash(const gram_ref *r, bool strings) {
  uint64_t h = (uint64_t)r->n;
  for (int k = 0; k < r->n; k++) h = mix(h, strings ? str_hash(ref_str(r, k)) : (uint64_t)ref_int(r, k));
  return h;
}

static bool gram_eq(const gram_ref *a, const gram_ref *b, bool strings) {
  if (a->n != b->n) return false;
  for (int k = 0; k < a->n; k++)
    if (strings ? strcmp(ref_str(a, k), ref_str(b, k)) != 0 : ref_int(a, k) != ref_int(b, k)) return false;
  return true;
}

static gram_ref pool_ref(const tfidf_state *s, int64_t g) {
  gram_ref r = {s->len[g], NULL, NULL, NULL, 0, 0};
  if (s->strings)
    r.ps = s->pool_s + s->start[g];
  else
    r.pi = s->pool_i + s->start[g];
  return r;
}

/* Gram id of r, or -1. */
static int64_t gram_find(const tfidf_state *s, const gram_ref *r) {
  uint64_t h = gram_hash(r, s->strings);
  for (int64_t i = (int64_t)(h & (uint64_t)(s->cap - 1));; i = (i + 1) & (s->cap - 1)) {
    int64_t g = s->table[i];
    if (g < 0) return -1;
    gram_ref pr = pool_ref(s, g);
    if (gram_eq(&pr, r, s->strings)) return g;
  }
}

static ladle_status tfidf_init(const graph *gr, node *n, errbuf *e) {
  (void)gr;
  tfidf_state *s = calloc(1, sizeof *s);
  ladle_status st = LADLE_ERR_INVALID;
  if (!s) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  const char *mode = node_attr_str(n, "mode", "");
  s->mode = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 : !strcmp(mode, "TFIDF") ? 2 : -1;
  s->min_n = node_attr_int(n, "min_gram_length", 0);
  s->max_n = node_attr_int(n, "max_gram_length", 0);
  s->max_skip = node_attr_int(n, "max_skip_count", 0);
  const int64_t *counts = NULL, *idx = NULL;
  int64_t n_counts = node_attr_ints(n, "ngram_counts", &counts), n_idx = node_attr_ints(n, "ngram_indexes", &idx);
  const attr *pi = node_attr(n, "pool_int64s"), *ps = node_attr(n, "pool_strings");
  const float *w = NULL;
  int64_t n_w = node_attr_floats(n, "weights", &w);
  int64_t pool_n = 0;
  if (s->mode < 0) {
    err_set(e, st, "unknown mode '%s'", mode);
    goto fail;
  }
  if (s->min_n < 1 || s->max_n < s->min_n || s->max_skip < 0 || s->max_n > 64) {
    err_set(e, st, "need 1 <= min_gram_length <= max_gram_length <= 64 and max_skip_count >= 0");
    goto fail;
  }
  if ((pi && pi->n > 0) == (ps && ps->n > 0)) {
    err_set(e, st, "exactly one of pool_int64s and pool_strings must be given");
    goto fail;
  }
  s->strings = ps && ps->n > 0;
  pool_n = s->strings ? ps->n : pi->n;
  s->pool_i = s->strings ? NULL : pi->ints;
  s->pool_s = s->strings ? ps->strings : NULL;
  if (n_counts < 1 || n_idx < 0) {
    err_set(e, st, "ngram_counts and ngram_indexes are required");
    goto fail;
  }
  /* count the grams: section k (grams of k+1 items) spans [counts[k], counts[k+1]) */
  for (int64_t k = 0; k < n_counts; k++) {
    int64_t b = counts[k], end = k + 1 < n_counts ? counts[k + 1] : pool_n;
    if (b < 0 || end < b || end > pool_n || (end - b) % (k + 1) != 0) {
      err_set(e, st, "ngram_counts[%lld] = %lld does not split the pool of %lld items into %lld-grams", (long long)k,
              (long long)b, (long long)pool_n, (long long)(k + 1));
      goto fail;
    }
    s->n_grams += (end - b) / (k + 1);
  }
  if (n_idx != s->n_grams) {
    err_set(e, st, "ngram_indexes has %lld values for %lld n-grams", (long long)n_idx, (long long)s->n_grams);
    goto fail;
  }
  if (n_w >= 0 && n_w != s->n_grams) {
    err_set(e, st, "weights has %lld values for %lld n-grams", (long long)n_w, (long long)s->n_grams);
    goto fail;
  }
  size_t ng = (size_t)(s->n_grams ? s->n_grams : 1);
  s->len = malloc(ng * sizeof *s->len);
  s->start = malloc(ng * sizeof *s->start);
  s->out = malloc(ng * sizeof *s->out);
  s->weight = malloc(ng * sizeof *s->weight);
  s->cap = 16;
  while (s->cap < 2 * s->n_grams) s->cap *= 2;
  s->table = malloc((size_t)s->cap * sizeof *s->table);
  if (!s->len || !s->start || !s->out || !s->weight || !s->table) {
    st = LADLE_ERR_NOMEM;
    err_set(e, st, "out of memory for the n-gram pool");
    goto fail;
  }
  for (int64_t i = 0; i < s->cap; i++) s->table[i] = -1;
  int64_t g = 0;
  for (int64_t k = 0; k < n_counts; k++) {
    int64_t end = k + 1 < n_counts ? counts[k + 1] : pool_n;
    for (int64_t b = counts[k]; b < end; b += k + 1, g++) {
      s->len[g] = (int)(k + 1);
      s->start[g] = b;
      if (idx[g] < 0) {
        err_set(e, st, "ngram_indexes[%lld] = %lld is negative", (long long)g, (long long)idx[g]);
        goto fail;
      }
      s->out[g] = idx[g];
      if (idx[g] + 1 > s->out_dim) s->out_dim = idx[g] + 1;
      s->weight[g] = n_w >= 0 ? w[g] : 1.0f;
      gram_ref r = pool_ref(s, g);
      if (gram_find(s, &r) >= 0) continue; /* a repeated gram counts into its first column */
      uint64_t h = gram_hash(&r, s->strings);
      int64_t i = (int64_t)(h & (uint64_t)(s->cap - 1));
      while (s->table[i] >= 0) i = (i + 1) & (s->cap - 1);
      s->table[i] = g;
    }
  }
  n->state = s;
  return LADLE_OK;
fail:
  tfidf_free(s);
  return st;
}

static ladle_status run_tfidf(op_ctx *c) {
  const ladle_tensor *x;
  ladle_status st;
  if ((st = need(c, 0, "X", &x))) return st;
  const tfidf_state *s = op_node(c)->state;
  if (!s) return op_fail(c, LADLE_ERR_INTERNAL, "TfIdfVectorizer was not initialised");
  bool xs = x->dtype == LADLE_STRING;
  if (xs != s->strings || (!xs && x->dtype != LADLE_INT32 && x->dtype != LADLE_INT64))
    return op_fail(c, LADLE_ERR_DTYPE, "X is %s but the pool holds %s", ladle_dtype_name(x->dtype),
                   s->strings ? "strings" : "integers (X must be int32 or int64)");
  if (x->ndim != 1 && x->ndim != 2) return op_fail(c, LADLE_ERR_SHAPE, "X must be [C] or [N, C]");
  int64_t rows = x->ndim == 2 ? x->dims[0] : 1, C = x->dims[x->ndim - 1];
  int64_t dims[2] = {rows, s->out_dim};
  ladle_tensor *y;
  if ((st = op_out(c, 0, LADLE_FLOAT, x->ndim, x->ndim == 2 ? dims : dims + 1, &y))) return st;
  int64_t *cnt = op_scratch(c, 0, sizeof(int64_t) * (size_t)(s->n_grams ? s->n_grams : 1));
  if (!cnt) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for TfIdfVectorizer");
  float *yp = y->data;
  for (int64_t r = 0; r < rows; r++) {
    memset(cnt, 0, sizeof(int64_t) * (size_t)s->n_grams);
    for (int64_t n = s->min_n; n <= s->max_n; n++) {
      int64_t skips = n == 1 ? 0 : s->max_skip; /* a unigram is counted once, whatever the skip */
      for (int64_t k = 0; k <= skips && (n - 1) * k < C; k++) { /* longer skips fit nowhere */
        int64_t step = k + 1, span = (n - 1) * step;
        for (int64_t i = 0; i + span < C; i++) {
          gram_ref ref = {(int)n, NULL, NULL, x, r * C + i, step};
          int64_t g = gram_find(s, &ref);
          if (g >= 0) cnt[g]++;
        }
      }
    }
    float *yr = yp + r * s->out_dim;
    memset(yr, 0, sizeof(float) * (size_t)s->out_dim);
    for (int64_t g = 0; g < s->n_grams; g++) {
      if (!cnt[g]) continue;
      float v = s->mode == 0 ? (float)cnt[g] : s->mode == 1 ? s->weight[g] : (float)cnt[g] * s->weight[g];
      yr[s->out[g]] = v;
    }
  }
  return LADLE_OK;
}

const op_def ops_text[] = {
    {"", "StringNormalizer", 10, 99, run_strnorm, strnorm_init, strnorm_free},
    {"", "TfIdfVectorizer", 9, 99, run_tfidf, tfidf_init, tfidf_free},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* chunk.c — rows in flight, connector dispatch, and value formatting shared by the sinks. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>

#include "jobs/jobs.h"
#include "runtime/tensor.h"

void chunk_init(chunk *c, int n_cols) {
  memset(c, 0, sizeof *c);
  c->n_cols = n_cols;
}

void chunk_reset(chunk *c) {
  for (int64_t i = 0; c->n_failed && i < c->n_rows; i++) {
    free(c->row_error[i]);
    c->row_error[i] = NULL;
  }
  c->n_rows = 0;
  c->n_failed = 0;
  if (c->key_text && c->key_text->next) { /* overflowed: next time, one block for all of it */
    size_t total = 0;
    for (key_block *b = c->key_text; b;) {
      key_block *next = b->next;
      total += b->used;
      free(b);
      b = next;
    }
    c->key_text = NULL;
    c->key_hint = total + total / 4;
  } else if (c->key_text) {
    c->key_text->used = 0;
  }
}

void chunk_destroy(chunk *c) {
  chunk_reset(c);
  free(c->key_text);
  free(c->keys);
  free(c->x);
  free(c->row_error);
  memset(c, 0, sizeof *c);
}

/* Room for n bytes of key text; NULL when out of memory. The first block is sized from what the
 * chunk needed before (key_hint); an overflow block goes right after it, so the newest overflow
 * is always second in the chain. */
static char *key_alloc(chunk *c, size_t n) {
  key_block *b = c->key_text, *newest = b ? b->next : NULL;
  if (newest && newest->cap - newest->used >= n) b = newest;
  if (b && b->cap - b->used >= n) {
    char *p = b->text + b->used;
    b->used += n;
    return p;
  }
  size_t cap = c->key_text ? 65536 : (c->key_hint > 65536 ? c->key_hint : 65536);
  if (cap < n) cap = n;
  key_block *nb = malloc(sizeof *nb + cap);
  if (!nb) return NULL;
  nb->cap = cap;
  nb->used = n;
  if (c->key_text) {
    nb->next = c->key_text->next;
    c->key_text->next = nb;
  } else {
    nb->next = NULL;
    c->key_text = nb;
  }
  return nb->text;
}

int64_t chunk_add_row(chunk *c, const char *key, size_t key_len) {
  if (c->n_rows == c->cap_rows) {
    int64_t nc = c->cap_rows ? c->cap_rows * 2 : 1024;
    char **k = realloc(c->keys, sizeof *k * (size_t)nc);
    if (!k) return -1;
    c->keys = k;
    char **r = realloc(c->row_error, sizeof *r * (size_t)nc);
    if (!r) return -1;
    c->row_error = r;
    double *x = realloc(c->x, sizeof *x * (size_t)nc * (size_t)(c->n_cols ? c->n_cols : 1));
    if (!x) return -1;
    c->x = x;
    c->cap_rows = nc;
  }
  int64_t r = c->n_rows;
  char *k = key_alloc(c, key_len + 1);
  if (!k) return -1;
  if (key_len) memcpy(k, key, key_len);
  k[key_len] = '\0';
  c->keys[r] = k;
  c->row_error[r] = NULL;
  c->n_rows++;
  return r;
}

void chunk_filter(chunk *c, const bool *keep) {
  int64_t w = 0;
  for (int64_t r = 0; r < c->n_rows; r++) {
    if (!keep[r]) {
      if (c->row_error[r]) c->n_failed--;
      free(c->row_error[r]);
      continue;
    }
    if (w != r) {
      c->keys[w] = c->keys[r];
      c->row_error[w] = c->row_error[r];
      memcpy(&c->x[w * c->n_cols], &c->x[r * c->n_cols], sizeof(double) * (size_t)c->n_cols);
    }
    w++;
  }
  for (int64_t r = w; r < c->n_rows; r++) c->row_error[r] = NULL;
  c->n_rows = w;
}

void chunk_row_fail(chunk *c, int64_t row, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  if (c->row_error[row]) return; /* the first problem of a row is the one reported */
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->row_error[row] = strdup(msg);
  if (c->row_error[row]) c->n_failed++;
}

bool chunk_set_text(chunk *c, int64_t row, int col, const char *col_name, const char *text) {
  double *cell = &c->x[row * c->n_cols + col];
  if (!text) {
    chunk_row_fail(c, row, "column '%s' is NULL", col_name);
    *cell = NAN;
    return false;
  }
  while (*text == ' ' || *text == '\t') text++;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  while (end && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
  if (end == text || *end || errno == ERANGE) {
    chunk_row_fail(c, row, "column '%s': '%.40s' is not a number", col_name, text);
    *cell = NAN;
    return false;
  }
  *cell = v;
  return true;
}

ladle_status source_finish_columns(source *s, const char *key, errbuf *e) {
  s->key_col = -1;
  if (key) {
    for (int i = 0; i < s->n_cols; i++)
      if (!strcmp(s->col_names[i], key)) s->key_col = i;
    if (s->key_col < 0)
      return err_set(e, LADLE_ERR_NOT_FOUND, "key column '%s' is not among the source's columns",
                     key);
  }
  s->feature_cols = calloc((size_t)s->n_cols + 1, sizeof(int));
  if (!s->feature_cols) return LADLE_ERR_NOMEM;
  s->n_features = 0;
  for (int i = 0; i < s->n_cols; i++)
    if (i != s->key_col) s->feature_cols[s->n_features++] = i;
  if (s->n_features == 0) return err_set(e, LADLE_ERR_INVALID, "the source has no feature columns");
  return LADLE_OK;
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

ladle_status source_open(const source_opts *o, source **out, errbuf *e) {
  *out = NULL;
  if (has_prefix(o->uri, "sqlite://")) return sqlite_source_open(o, out, e);
  if (has_prefix(o->uri, "postgresql://") || has_prefix(o->uri, "postgres://"))
    return pg_source_open(o, out, e);
  return file_source_open(o, out, e);
}

void source_close(source *s) {
  if (s) s->vt->close(s);
}

ladle_status sink_open(const sink_opts *o, sink **out, errbuf *e) {
  *out = NULL;
  if (has_prefix(o->uri, "sqlite://")) return sqlite_sink_open(o, out, e);
  if (has_prefix(o->uri, "postgresql://") || has_prefix(o->uri, "postgres://"))
    return pg_sink_open(o, out, e);
  return file_sink_open(o, out, e);
}

void sink_close(sink *k) {
  if (k) k->vt->close(k);
}

void jobs_now_iso(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* A float32 as text that reads back as the same float32: nine significant digits (always
 * enough for float32), computed in double arithmetic whose error (about 1e-16 relative) is far
 * below float32's spacing, trailing zeros trimmed, in %g's fixed or exponent form. The decimal
 * exponent comes from the binary one (floor(e2 * log10 2), then one comparison), so no libm
 * call is made. About twenty times faster than snprintf("%.9g"), which dominated writing vectors
 * as JSON. */
static int fmt_f32(char *buf, size_t len, float f) {
  static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                               1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
                               1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
                               1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39,
                               1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49};
  char tmp[32];
  int o = 0;
  double a = f;
  if (len < 32) return snprintf(buf, len, "%.9g", a);
  if (a == 0) return snprintf(buf, len, "0");
  if (a < 0) {
    tmp[o++] = '-';
    a = -a;
  }
  uint64_t bits;
  memcpy(&bits, &a, sizeof bits);
  int e2 = (int)((bits >> 52) & 0x7ff) - 1023; /* a is a float32 widened: always normal here */
  int e10 = e2 >= 0 ? (e2 * 78913) >> 18 : -((-e2 * 78913 + (1 << 18) - 1) >> 18);
  /* e10 is floor(log10(a)) or one less: compare with 10^(e10+1) */
  double next = e10 + 1 >= 0 ? p10[e10 + 1] : 1.0 / p10[-(e10 + 1)];
  if (a >= next) e10++;
  int k = 8 - e10; /* scale so that 9 digits sit before the point */
  double scaled = k >= 0 ? a * p10[k < 49 ? k : 49] : a / p10[-k < 49 ? -k : 49];
  if (k > 49) scaled *= p10[k - 49];
  uint64_t m = (uint64_t)(scaled + 0.5);
  if (m >= 1000000000ull) { /* rounding carried into a tenth digit */
    m = (m + 5) / 10;
    e10++;
  }
  char digits[10];
  for (int i = 8; i >= 0; i--) {
    digits[i] = (char)('0' + m % 10);
    m /= 10;
  }
  int nd = 9;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  if (e10 < -4 || e10 >= 9) {
    tmp[o++] = digits[0];
    if (nd > 1) {
      tmp[o++] = '.';
      for (int i = 1; i < nd; i++) tmp[o++] = digits[i];
    }
    int ae = e10 < 0 ? -e10 : e10;
    tmp[o++] = 'e';
    tmp[o++] = e10 < 0 ? '-' : '+';
    if (ae >= 100) tmp[o++] = (char)('0' + ae / 100);
    tmp[o++] = (char)('0' + ae / 10 % 10);
    tmp[o++] = (char)('0' + ae % 10);
  } else if (e10 >= 0) {
    for (int i = 0; i <= e10; i++) tmp[o++] = i < nd ? digits[i] : '0';
    if (nd > e10 + 1) {
      tmp[o++] = '.';
      for (int i = e10 + 1; i < nd; i++) tmp[o++] = digits[i];
    }
  } else {
    tmp[o++] = '0';
    tmp[o++] = '.';
    for (int i = 0; i < -e10 - 1; i++) tmp[o++] = '0';
    for (int i = 0; i < nd; i++) tmp[o++] = digits[i];
  }
  tmp[o] = '\0';
  memcpy(buf, tmp, (size_t)o + 1);
  return o;
}

/* Text that reads back as the same float32 / float64; NaN and infinities become null (JSON). */
static int fmt_float(char *buf, size_t len, double v, bool single) {
  if (isnan(v) || isinf(v)) return snprintf(buf, len, "null");
  if (single) return fmt_f32(buf, len, (float)v);
  return snprintf(buf, len, "%.17g", v);
}

/* Appends n bytes to buf as far as they fit (keeping room for the NUL); counts them in *off
 * either way, so the caller learns the whole length. */
static void put(char *buf, size_t len, size_t *off, const char *s, size_t n) {
  if (*off + 1 < len) {
    size_t room = len - 1 - *off;
    memcpy(buf + *off, s, n < room ? n : room);
  }
  *off += n;
}

/* s as a JSON string: quotes, backslash escapes, control characters as \u00XX. */
static void put_json_string(char *buf, size_t len, size_t *off, const char *s) {
  put(buf, len, off, "\"", 1);
  for (const char *p = s; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    char esc[8];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      put(buf, len, off, esc, 2);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      put(buf, len, off, esc, 6);
    } else {
      put(buf, len, off, p, 1);
    }
  }
  put(buf, len, off, "\"", 1);
}

size_t jobs_format_value(const ladle_tensor *t, int64_t r, int64_t width, char *buf, size_t len) {
  size_t off = 0;
  bool single = t->dtype == LADLE_FLOAT || t->dtype == LADLE_FLOAT16;
  bool is_float = t->dtype == LADLE_FLOAT || t->dtype == LADLE_DOUBLE || t->dtype == LADLE_FLOAT16;
  if (width > 1) put(buf, len, &off, "[", 1);
  for (int64_t j = 0; j < width; j++) {
    int64_t i = r * width + j;
    char num[40];
    int n;
    if (j) put(buf, len, &off, ",", 1);
    if (t->dtype == LADLE_STRING) {
      const char *str = ((char *const *)t->data)[i];
      put_json_string(buf, len, &off, str ? str : "");
      continue;
    }
    if (t->dtype == LADLE_FLOAT)
      n = fmt_float(num, sizeof num, ((const float *)t->data)[i], true);
    else if (t->dtype == LADLE_DOUBLE)
      n = fmt_float(num, sizeof num, ((const double *)t->data)[i], false);
    else if (t->dtype == LADLE_BOOL)
      n = snprintf(num, sizeof num, "%s", ((const uint8_t *)t->data)[i] ? "true" : "false");
    else if (is_float)
      n = fmt_float(num, sizeof num, tensor_get_f64(t, i), single);
    else
      n = snprintf(num, sizeof num, "%lld", (long long)tensor_get_i64(t, i));
    if (n > 0) put(buf, len, &off, num, (size_t)n);
  }
  if (width > 1) put(buf, len, &off, "]", 1);
  if (len) buf[off < len ? off : len - 1] = '\0';
  return off;
}

size_t jobs_format_text(const ladle_tensor *t, int64_t r, int64_t width, char *buf, size_t len) {
  if (width != 1 || t->dtype != LADLE_STRING) return jobs_format_value(t, r, width, buf, len);
  const char *str = ((char *const *)t->data)[r];
  size_t off = 0;
  if (str) put(buf, len, &off, str, strlen(str));
  if (len) buf[off < len ? off : len - 1] = '\0';
  return off;
}

const char *jobs_text(const ladle_tensor *t, int64_t r, int64_t width, bool json, char *buf,
                      size_t len, char **spill, size_t *spill_cap, size_t *n) {
  size_t need = json ? jobs_format_value(t, r, width, buf, len)
                      : jobs_format_text(t, r, width, buf, len);
  *n = need;
  if (need < len) return buf;
  if (need + 1 > *spill_cap) {
    char *nb = realloc(*spill, need + 1);
    if (!nb) return NULL;
    *spill = nb;
    *spill_cap = need + 1;
  }
  if (json) jobs_format_value(t, r, width, *spill, *spill_cap);
  else jobs_format_text(t, r, width, *spill, *spill_cap);
  return *spill;
}

ladle_status sink_fill_common(sink *k, const sink_opts *o, errbuf *e) {
  if (!o->table || !o->table[0]) return err_set(e, LADLE_ERR_INVALID, "the sink needs --table");
  k->table = strdup(o->table);
  k->model = strdup(o->model ? o->model : "");
  k->version = strdup(o->version ? o->version : "");
  k->key_name = strdup(o->key_name ? o->key_name : "key");
  k->key_is_int = o->key_is_int;
  k->n_out = o->n_out;
  k->out = calloc((size_t)o->n_out + 1, sizeof *k->out);
  if (!k->table || !k->model || !k->version || !k->key_name || !k->out) return LADLE_ERR_NOMEM;
  for (int i = 0; i < o->n_out; i++) {
    k->out[i] = o->out[i];
    k->out[i].name = strdup(o->out[i].name);
    if (!k->out[i].name) return LADLE_ERR_NOMEM;
    for (int j = 0; j < i; j++)
      if (!strcmp(k->out[j].name, k->out[i].name))
        return err_set(e, LADLE_ERR_INVALID, "two outputs named '%s'", k->out[i].name);
    if (!strcmp(k->out[i].name, k->key_name) || !strcmp(k->out[i].name, "model") ||
        !strcmp(k->out[i].name, "model_version") || !strcmp(k->out[i].name, "predicted_at"))
      return err_set(e, LADLE_ERR_INVALID, "output '%s' clashes with a column ladle adds",
                     k->out[i].name);
  }
  return LADLE_OK;
}

void sink_free_common(sink *k) {
  free(k->table);
  free(k->model);
  free(k->version);
  free(k->key_name);
  for (int i = 0; k->out && i < k->n_out; i++) free(k->out[i].name);
  free(k->out);
}

void source_free_common(source *s) {
  for (int i = 0; s->col_names && i < s->n_cols; i++) free(s->col_names[i]);
  free(s->col_names);
  free(s->feature_cols);
}

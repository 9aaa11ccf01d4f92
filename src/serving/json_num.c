/* json_num.c — JSON number text to values (exact integers, floats without strtod in the common
 * case, NaN and Infinity), and the walk over raw spans that reads a tensor's `data` straight
 * into its buffer, with the fast path for FP32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serving/json.h"
#include "serving/json_internal.h"

/* --- numbers ------------------------------------------------------------------------------ */

static bool is_int_text(const char *s, size_t n) {
  size_t i = (n && s[0] == '-') ? 1 : 0;
  if (i >= n) return false;
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool json_num_u64(const char *s, size_t n, uint64_t *out) {
  if (!is_int_text(s, n) || s[0] == '-') {
    /* "-0" is zero */
    if (n == 2 && s[0] == '-' && s[1] == '0') {
      *out = 0;
      return true;
    }
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool json_num_i64(const char *s, size_t n, int64_t *out) {
  if (!is_int_text(s, n)) return false;
  bool neg = s[0] == '-';
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (size_t i = neg; i < n; i++) {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (lim - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

const double json_pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const float pow10_f[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* Splits decimal text into a mantissa (up to 19 digits) and a power of ten. Digits past the 19th
 * are dropped and *truncated is set (exact for float32 targets in all but astronomically rare
 * cases; float64 targets then take strtod). Returns false when the text is not a number. */
static bool decimal_parts(const char *s, size_t n, bool *neg, uint64_t *mant, int *exp10, bool *truncated) {
  size_t i = 0;
  int digits = 0, e = 0;
  uint64_t m = 0;
  *neg = false;
  *truncated = false;
  if (i < n && s[i] == '-') {
    *neg = true;
    i++;
  }
  if (i >= n || s[i] < '0' || s[i] > '9') return false;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    if (m == 0 && s[i] == '0') continue;
    if (++digits > 19) {
      e++;
      *truncated = true;
      continue;
    }
    m = m * 10 + (uint64_t)(s[i] - '0');
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (m == 0 && s[i] == '0') {
        e--;
        continue;
      }
      if (++digits > 19) {
        *truncated = true;
        continue;
      }
      m = m * 10 + (uint64_t)(s[i] - '0');
      e--;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    bool eneg = false;
    int x = 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      if (x < 100000) x = x * 10 + (s[i] - '0');
    e += eneg ? -x : x;
  }
  if (i != n) return false;
  *mant = m;
  *exp10 = e;
  return true;
}

static bool special_value(const char *s, size_t n, double *out) {
  if (n == 3 && !memcmp(s, "NaN", 3)) *out = NAN;
  else if (n == 8 && !memcmp(s, "Infinity", 8)) *out = INFINITY;
  else if (n == 9 && !memcmp(s, "-Infinity", 9)) *out = -INFINITY;
  else return false;
  return true;
}

/* Copies a number's text into tmp with a NUL for strtod/strtof; false when empty or too long. */
static bool number_cstr(const char *s, size_t n, char tmp[MAX_NUMBER_TEXT + 1]) {
  if (n == 0 || n > MAX_NUMBER_TEXT) return false;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  return true;
}

/* m * 10^e (|e| <= 22) in double: exact when m <= 2^53, one rounding otherwise. */
static inline double scale_pow10(bool neg, uint64_t m, int e) {
  double v = (double)m;
  v = e < 0 ? v / json_pow10_tab[-e] : v * json_pow10_tab[e];
  return neg ? -v : v;
}

bool json_num_f64(const char *s, size_t n, double *out) {
  bool neg, trunc;
  uint64_t m;
  int e;
  if (n && (s[n - 1] == 'N' || s[n - 1] == 'y')) return special_value(s, n, out);
  if (decimal_parts(s, n, &neg, &m, &e, &trunc) && !trunc && m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
    *out = scale_pow10(neg, m, e);
    return true;
  }
  char tmp[MAX_NUMBER_TEXT + 1], *end;
  if (!number_cstr(s, n, tmp)) return false;
  *out = strtod(tmp, &end);
  return end == tmp + n;
}

bool json_num_f32(const char *s, size_t n, float *out) {
  bool neg, trunc;
  uint64_t m;
  int e;
  double d;
  if (n && (s[n - 1] == 'N' || s[n - 1] == 'y')) {
    if (!special_value(s, n, &d)) return false;
    *out = (float)d;
    return true;
  }
  if (decimal_parts(s, n, &neg, &m, &e, &trunc)) {
    if (!trunc && m <= (UINT64_C(1) << 24) && e >= -10 && e <= 10) {
      float v = (float)m;
      v = e < 0 ? v / pow10_f[-e] : v * pow10_f[e];
      *out = neg ? -v : v;
      return true;
    }
    if (e >= -22 && e <= 22) { /* double precision is far beyond float's: one more rounding */
      *out = (float)scale_pow10(neg, m, e);
      return true;
    }
  }
  char tmp[MAX_NUMBER_TEXT + 1], *end;
  if (!number_cstr(s, n, tmp)) return false;
  *out = strtof(tmp, &end);
  return end == tmp + n;
}

bool json_int(const json *v, int64_t *out) {
  return v && v->type == JSON_NUMBER && json_num_i64(v->s, v->len, out);
}

bool json_double(const json *v, double *out) {
  return v && v->type == JSON_NUMBER && json_num_f64(v->s, v->len, out);
}

/* --- raw spans ---------------------------------------------------------------------------- */

enum { W_VALUE_OR_CLOSE, W_VALUE, W_COMMA_OR_CLOSE, W_END };

void json_walk_init(json_walk *w, const char *s, size_t len, int max_depth) {
  w->s = s;
  w->len = len;
  w->pos = 0;
  w->depth = 0;
  w->max_depth = max_depth;
  w->state = W_VALUE;
}

static int walk_fail(json_walk *w, errbuf *e, const char *what) {
  err_set(e, LADLE_ERR_PARSE, "malformed JSON array at byte %zu of it: %s", w->pos, what);
  w->state = W_END;
  return -1;
}

/* Length of a valid JSON number at s (at most n bytes), 0 if none. */
static size_t number_len(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i < n && s[i] == 'I') return (n - i >= 8 && !memcmp(s + i, "Infinity", 8)) ? i + 8 : 0;
  if (i >= n || s[i] < '0' || s[i] > '9') return 0;
  if (s[i] == '0') i++;
  else
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  if (i < n && s[i] == '.') {
    i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  }
  return i > MAX_NUMBER_TEXT ? 0 : i;
}

int json_walk_next(json_walk *w, json_type *kind, const char **tok, size_t *toklen, errbuf *e) {
  const char *s = w->s;
  size_t n = w->len;
  for (;;) {
    size_t i = w->pos;
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    w->pos = i;
    if (w->state == W_END) {
      if (i < n) return walk_fail(w, e, "text after the array");
      return 0;
    }
    if (i >= n) return walk_fail(w, e, "unexpected end");
    char c = s[i];
    if (w->state == W_COMMA_OR_CLOSE) {
      if (c == ',') {
        w->state = W_VALUE;
      } else if (c == ']') {
        if (--w->depth == 0) w->state = W_END;
      } else {
        return walk_fail(w, e, "expected ',' or ']'");
      }
      w->pos = i + 1;
      continue;
    }
    if (c == ']' && w->state == W_VALUE_OR_CLOSE) {
      w->pos = i + 1;
      if (--w->depth == 0) w->state = W_END;
      else w->state = W_COMMA_OR_CLOSE;
      continue;
    }
    if (c == '[') {
      if (++w->depth > w->max_depth) return walk_fail(w, e, "nested too deeply");
      w->pos = i + 1;
      w->state = W_VALUE_OR_CLOSE;
      continue;
    }
    if (w->depth == 0) return walk_fail(w, e, "expected '['");
    size_t b = i, len = 0;
    if (c == '"') {
      for (i++; i < n && s[i] != '"'; i++) {
        if ((unsigned char)s[i] < 0x20) return walk_fail(w, e, "control character inside a string");
        if (s[i] == '\\') i++;
      }
      if (i >= n) return walk_fail(w, e, "unterminated string");
      len = i + 1 - b;
      *kind = JSON_STRING;
    } else if (c == '{') {
      *kind = JSON_OBJECT;
      *tok = s + b;
      *toklen = 1;
      w->state = W_END;
      w->pos = n;
      return 1;
    } else if ((len = number_len(s + b, n - b))) {
      *kind = JSON_NUMBER;
    } else if (n - b >= 4 && !memcmp(s + b, "true", 4)) {
      len = 4;
      *kind = JSON_TRUE;
    } else if (n - b >= 5 && !memcmp(s + b, "false", 5)) {
      len = 5;
      *kind = JSON_FALSE;
    } else if (n - b >= 4 && !memcmp(s + b, "null", 4)) {
      len = 4;
      *kind = JSON_NULL;
    } else if (n - b >= 3 && !memcmp(s + b, "NaN", 3)) {
      len = 3;
      *kind = JSON_NUMBER;
    } else {
      return walk_fail(w, e, "expected a value");
    }
    *tok = s + b;
    *toklen = len;
    w->pos = b + len;
    w->state = W_COMMA_OR_CLOSE;
    return 1;
  }
}

/* Eight ASCII digits at once (SWAR): are all eight bytes '0'..'9'? */
static inline bool eight_digits(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return !(((v + 0x4646464646464646ull) | (v - 0x3030303030303030ull)) & 0x8080808080808080ull);
}

/* Their value: pairs, then quads, then the eight combined with two multiplications. */
static inline uint64_t eight_value(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  v -= 0x3030303030303030ull;
  v = v * 10 + (v >> 8); /* each even byte: two digits */
  uint64_t lo = v & 0x000000FF000000FFull, hi = (v >> 16) & 0x000000FF000000FFull;
  return ((lo * (100 + (1000000ull << 32))) + (hi * (1 + (10000ull << 32)))) >> 32;
}

static const uint64_t pow10_u[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* Appends the run of digits at *pp to m (at most 19 significant digits in all, counted in
 * *digits once m is not zero; the rest are dropped and *dropped counts them). Eight at a time,
 * then the 1..7 left in one more word, then byte by byte near the end of the text. Returns how
 * many digits were read. */
static inline int take_digits(const char **pp, const char *end, uint64_t *m, int *digits, int *dropped,
                              int *zeros) {
  const char *p = *pp, *start = p;
  /* leading zeros while m is zero carry no significance: count them apart */
  while (*m == 0 && p < end && *p == '0') p++;
  *zeros = (int)(p - start);
  while (end - p >= 8 && *digits <= 11 && eight_digits(p)) {
    *m = *m * 100000000u + eight_value(p);
    *digits += 8;
    p += 8;
  }
  if (end - p >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t bad = ((v + 0x4646464646464646ull) | (v - 0x3030303030303030ull)) & 0x8080808080808080ull;
    int n = bad ? __builtin_ctzll(bad) / 8 : 8; /* digits before the first non-digit */
    if (n > 0 && n < 8 && *digits + n <= 19) {
      uint64_t w = (v << (8 * (8 - n))) | (0x3030303030303030ull >> (8 * n));
      char tmp[8];
      memcpy(tmp, &w, 8);
      *m = *m * pow10_u[n] + eight_value(tmp);
      *digits += n;
      p += n;
    }
  }
  while (p < end && (unsigned)(*p - '0') < 10u) {
    if (*digits < 19) {
      *m = *m * 10 + (uint64_t)(*p - '0');
      if (*m) (*digits)++;
    } else {
      (*dropped)++;
    }
    p++;
  }
  *pp = p;
  return (int)(p - start);
}

/* Parses a JSON number at p (grammar checked) straight to float: one pass, no copy. Returns the
 * end of the number, or NULL when it is not a number or needs the slow path (huge exponents). */
static const char *scan_f32(const char *p, const char *end, float *out) {
  bool neg = false;
  uint64_t m = 0;
  int digits = 0, dropped = 0, zeros = 0, e = 0;
  if (p < end && *p == '-') {
    neg = true;
    p++;
  }
  if (p >= end) return NULL;
  if (*p == '0') {
    p++;
  } else if ((unsigned)(*p - '1') < 9u) {
    int before = dropped;
    take_digits(&p, end, &m, &digits, &dropped, &zeros);
    e += dropped - before; /* integer digits dropped still scale the value */
  } else {
    return NULL;
  }
  if (p < end && *p == '.') {
    p++;
    int d0 = digits, before = dropped;
    int n = take_digits(&p, end, &m, &digits, &dropped, &zeros);
    if (n == 0) return NULL;
    e -= zeros + (digits - d0); /* dropped fraction digits only lose precision */
    (void)before;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    bool eneg = false;
    int x = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || (unsigned)(*p - '0') >= 10u) return NULL;
    while (p < end && (unsigned)(*p - '0') < 10u) {
      if (x < 100000) x = x * 10 + (*p - '0');
      p++;
    }
    e += eneg ? -x : x;
  }
  if (!dropped && m <= (UINT64_C(1) << 24) && e >= -10 && e <= 10) {
    float v = (float)m;
    v = e < 0 ? v / pow10_f[-e] : v * pow10_f[e];
    *out = neg ? -v : v;
  } else if (e >= -22 && e <= 22) {
    double v = (double)m;
    v = e < 0 ? v / json_pow10_tab[-e] : v * json_pow10_tab[e];
    *out = (float)(neg ? -v : v);
  } else {
    return NULL;
  }
  return p;
}

int json_walk_f32(json_walk *w, float *out, int64_t cap, int64_t *n, errbuf *e) {
  const char *s = w->s, *end = s + w->len, *p = s + w->pos;
  int64_t k = *n;
  for (;;) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p >= end || w->state == W_END) break;
    char c = *p;
    if (w->state == W_COMMA_OR_CLOSE) {
      if (c == ',') {
        w->state = W_VALUE;
      } else if (c == ']') {
        if (--w->depth == 0) w->state = W_END;
      } else {
        break; /* the generic walk reports it */
      }
      p++;
      continue;
    }
    if (c == '[') {
      if (++w->depth > w->max_depth) {
        w->depth--;
        break;
      }
      w->state = W_VALUE_OR_CLOSE;
      p++;
      continue;
    }
    if (c == ']' && w->state == W_VALUE_OR_CLOSE) {
      w->state = --w->depth == 0 ? W_END : W_COMMA_OR_CLOSE;
      p++;
      continue;
    }
    if (w->depth == 0 || k >= cap) break;
    float v;
    const char *q = scan_f32(p, end, &v);
    if (!q) break; /* not a plain number: the generic walk takes it from here */
    out[k++] = v;
    p = q;
    w->state = W_COMMA_OR_CLOSE;
  }
  w->pos = (size_t)(p - s);
  *n = k;
  (void)e;
  return w->state == W_END ? 0 : 1;
}

char *json_raw_string(arena *a, const char *tok, size_t toklen, size_t *outlen) {
  if (toklen < 2) return NULL;
  char *copy = arena_alloc(a, toklen);
  size_t bad;
  if (!copy) return NULL;
  long n = json_decode_string(tok + 1, toklen - 2, copy, &bad);
  if (n < 0) return NULL;
  copy[n] = '\0';
  if (outlen) *outlen = (size_t)n;
  return copy;
}

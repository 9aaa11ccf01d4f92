/* json.c — JSON reader (arena tree, raw spans, depth limit) and writer helpers. */
#include "serving/json.h"

#include <math.h>
#include <stdio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#define MAX_NUMBER_TEXT 512

typedef struct parser {
  const char *p, *end, *start;
  arena *a;
  const json_opts *o;
  errbuf *e;
  ladle_status st;
} parser;

static json g_skipped; /* returned for values validated but not built */

static void fail(parser *ps, ladle_status st, const char *what) {
  if (ps->st) return;
  ps->st = st;
  if (st == LADLE_ERR_LIMIT)
    err_set(ps->e, st, "JSON document needs more memory than a request may use");
  else if (ps->p >= ps->end)
    err_set(ps->e, st, "malformed JSON: unexpected end of text (%s)", what);
  else
    err_set(ps->e, st, "malformed JSON at byte %zu: %s", (size_t)(ps->p - ps->start), what);
}

static inline void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
    ps->p++;
}

static json *node(parser *ps, json_type t, bool build) {
  if (!build) return &g_skipped;
  json *n = arena_alloc(ps->a, sizeof *n);
  if (!n) {
    fail(ps, LADLE_ERR_LIMIT, "out of memory");
    return NULL;
  }
  memset(n, 0, sizeof *n);
  n->type = t;
  return n;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the escape at src[*i] == '\\' into out (up to 4 bytes); leaves *i on its last byte.
 * Returns the number of bytes written or -1 when the escape is invalid. */
static long decode_one(const char *src, size_t n, size_t *i, char *out) {
  size_t k = *i + 1;
  if (k >= n) return -1;
  long len = 1;
  switch (src[k]) {
    case '"': out[0] = '"'; break;
    case '\\': out[0] = '\\'; break;
    case '/': out[0] = '/'; break;
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u': {
      if (n - k < 5) return -1;
      int cp = read_hex4(src + k + 1);
      if (cp < 0) return -1;
      k += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) { /* high surrogate: a low one must follow */
        if (n - k < 7 || src[k + 1] != '\\' || src[k + 2] != 'u') return -1;
        int lo = read_hex4(src + k + 3);
        if (lo < 0xDC00 || lo > 0xDFFF) return -1;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        k += 6;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
      }
      len = (long)put_utf8(out, (uint32_t)cp);
      break;
    }
    default: return -1;
  }
  *i = k;
  return len;
}

/* Decodes the escapes of a string body src[0, n) into out (room for n bytes: decoding never
 * lengthens), or only validates them when out is NULL. Returns the decoded length or -1 (with
 * *bad at the offending byte). */
static long decode_string(const char *src, size_t n, char *out, size_t *bad) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (src[i] != '\\') {
      if (out) out[o] = src[i];
      o++;
      continue;
    }
    char tmp[4];
    size_t at = i;
    long r = decode_one(src, n, &i, tmp);
    if (r < 0) {
      *bad = at;
      return -1;
    }
    if (out) memcpy(out + o, tmp, (size_t)r);
    o += (size_t)r;
  }
  return (long)o;
}

/* Scans a string from its opening quote. On success ps->p is past the closing quote,
 * body and blen span the raw body and *escaped says whether it has backslashes. */
static bool scan_string(parser *ps, const char **body, size_t *blen, bool *escaped) {
  const char *p = ps->p + 1;
  bool esc = false;
  for (;;) {
    /* fast scan for the next quote, backslash or control character */
    while (p < ps->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
    if (p >= ps->end) {
      ps->p = p;
      fail(ps, LADLE_ERR_PARSE, "unterminated string");
      return false;
    }
    if (*p == '"') break;
    if (*p == '\\') {
      esc = true;
      p += 2;
      continue;
    }
    ps->p = p;
    fail(ps, LADLE_ERR_PARSE, "control character inside a string");
    return false;
  }
  *body = ps->p + 1;
  *blen = (size_t)(p - (ps->p + 1));
  *escaped = esc;
  ps->p = p + 1;
  return true;
}

static json *parse_string(parser *ps, bool build) {
  const char *body;
  size_t blen, bad = 0;
  bool esc;
  if (!scan_string(ps, &body, &blen, &esc)) return NULL;
  if (!build) {
    if (esc && decode_string(body, blen, NULL, &bad) < 0) {
      ps->p = body + bad;
      fail(ps, LADLE_ERR_PARSE, "invalid escape in a string");
      return NULL;
    }
    return &g_skipped;
  }
  char *copy = arena_alloc(ps->a, blen + 1);
  if (!copy) {
    fail(ps, LADLE_ERR_LIMIT, "out of memory");
    return NULL;
  }
  long n = esc ? decode_string(body, blen, copy, &bad) : (long)blen;
  if (n < 0) {
    ps->p = body + bad;
    fail(ps, LADLE_ERR_PARSE, "invalid escape in a string");
    return NULL;
  }
  if (!esc) memcpy(copy, body, blen);
  copy[n] = '\0';
  json *v = node(ps, JSON_STRING, true);
  if (!v) return NULL;
  v->s = copy;
  v->len = (uint32_t)n;
  return v;
}

static bool match_word(parser *ps, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return false;
  ps->p += n;
  return true;
}

static json *parse_number(parser *ps, bool build) {
  const char *s = ps->p, *p = ps->p;
  if (p < ps->end && *p == '-') p++;
  if (p < ps->end && *p == 'I') { /* -Infinity */
    ps->p = p;
    if (!match_word(ps, "Infinity")) {
      fail(ps, LADLE_ERR_PARSE, "invalid number");
      return NULL;
    }
    p = ps->p;
    goto done;
  }
  if (p >= ps->end || *p < '0' || *p > '9') {
    ps->p = p;
    fail(ps, LADLE_ERR_PARSE, "invalid number");
    return NULL;
  }
  if (*p == '0') {
    p++;
  } else {
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < ps->end && *p == '.') {
    p++;
    if (p >= ps->end || *p < '0' || *p > '9') {
      ps->p = p;
      fail(ps, LADLE_ERR_PARSE, "invalid number: digits must follow '.'");
      return NULL;
    }
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < ps->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < ps->end && (*p == '+' || *p == '-')) p++;
    if (p >= ps->end || *p < '0' || *p > '9') {
      ps->p = p;
      fail(ps, LADLE_ERR_PARSE, "invalid number: digits must follow the exponent");
      return NULL;
    }
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
done:
  if (p - s > MAX_NUMBER_TEXT) {
    fail(ps, LADLE_ERR_PARSE, "number too long");
    return NULL;
  }
  ps->p = p;
  json *v = node(ps, JSON_NUMBER, build);
  if (v && build) {
    v->s = s;
    v->len = (uint32_t)(p - s);
  }
  return v;
}

static json *parse_value(parser *ps, int depth, bool build);

/* Finds the end of the array at ps->p by bracket matching (strings skipped), within the depth
 * limit. The contents are validated later, by the walk that converts them. */
static bool scan_balanced(parser *ps, int depth) {
  /* bytes that matter to bracket matching; everything else is skipped in a tight loop */
  static const unsigned char special[256] = {['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1};
  const char *p = ps->p, *end = ps->end;
  int d = 0;
  while (p < end) {
#ifdef __SSE2__
    /* sixteen bytes at a time until one of them matters */
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)p);
      __m128i hit = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('['))),
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(']')), _mm_cmpeq_epi8(v, _mm_set1_epi8('{'))),
                       _mm_cmpeq_epi8(v, _mm_set1_epi8('}'))));
      int mask = _mm_movemask_epi8(hit);
      if (mask) {
        p += __builtin_ctz((unsigned)mask);
        break;
      }
      p += 16;
    }
#endif
    while (p < end && !special[(unsigned char)*p]) p++;
    if (p >= end) break;
    char c = *p;
    if (c == '"') {
      for (p++; p < end && *p != '"'; p++)
        if (*p == '\\') p++;
      if (p >= end) break;
    } else if (c == '[' || c == '{') {
      if (depth + d >= ps->o->max_depth) {
        ps->p = p;
        err_set(ps->e, LADLE_ERR_PARSE, "JSON nested deeper than %d levels (at byte %zu)", ps->o->max_depth,
                (size_t)(p - ps->start));
        ps->st = LADLE_ERR_PARSE;
        return false;
      }
      d++;
    } else if (--d == 0) {
      ps->p = p + 1;
      return true;
    }
    p++;
  }
  ps->p = end;
  fail(ps, LADLE_ERR_PARSE, "unterminated array");
  return false;
}

/* Links v as the last child of an array or object (tail: its current last child). */
static void append_child(json *parent, json **tail, json *v) {
  if (*tail) (*tail)->next = v;
  else parent->child = v;
  *tail = v;
  parent->len++;
}

/* After an array element or object member: 1 on ',' (another follows), 0 on the closing
 * bracket, -1 (error set) on anything else. */
static int after_member(parser *ps, char close) {
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ',') {
    ps->p++;
    return 1;
  }
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return 0;
  }
  fail(ps, LADLE_ERR_PARSE, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
  return -1;
}

static json *parse_array(parser *ps, int depth, bool build) {
  json *arr = node(ps, JSON_ARRAY, build), *tail = NULL;
  if (!arr) return NULL;
  ps->p++; /* '[' */
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return arr;
  }
  for (;;) {
    skip_ws(ps);
    json *v = parse_value(ps, depth + 1, build);
    if (!v) return NULL;
    if (build) append_child(arr, &tail, v);
    int more = after_member(ps, ']');
    if (more < 0) return NULL;
    if (!more) return arr;
  }
}

static json *parse_object(parser *ps, int depth, bool build) {
  json *obj = node(ps, JSON_OBJECT, build), *tail = NULL;
  if (!obj) return NULL;
  ps->p++; /* '{' */
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return obj;
  }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') {
      fail(ps, LADLE_ERR_PARSE, "expected a member name in quotes");
      return NULL;
    }
    const char *kbody;
    size_t klen;
    bool kesc;
    if (!scan_string(ps, &kbody, &klen, &kesc)) return NULL;
    const char *key = kbody;
    if (kesc) {
      char *copy = build ? arena_alloc(ps->a, klen + 1) : NULL;
      size_t bad = 0;
      if (build && !copy) {
        fail(ps, LADLE_ERR_LIMIT, "out of memory");
        return NULL;
      }
      long n = decode_string(kbody, klen, copy, &bad);
      if (n < 0) {
        ps->p = kbody + bad;
        fail(ps, LADLE_ERR_PARSE, "invalid escape in a member name");
        return NULL;
      }
      if (copy) {
        copy[n] = '\0';
        key = copy;
      }
      klen = (size_t)n;
    }
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      fail(ps, LADLE_ERR_PARSE, "expected ':' after a member name");
      return NULL;
    }
    ps->p++;
    skip_ws(ps);
    json *v;
    if (build && ps->o->raw_key && ps->p < ps->end && *ps->p == '[' &&
        strlen(ps->o->raw_key) == klen && memcmp(ps->o->raw_key, key, klen) == 0) {
      const char *s = ps->p;
      if (!scan_balanced(ps, depth + 1)) return NULL;
      if ((size_t)(ps->p - s) > UINT32_MAX) {
        fail(ps, LADLE_ERR_LIMIT, "array too long");
        return NULL;
      }
      if (!(v = node(ps, JSON_RAW, true))) return NULL;
      v->s = s;
      v->len = (uint32_t)(ps->p - s);
    } else {
      v = parse_value(ps, depth + 1, build);
      if (!v) return NULL;
    }
    if (build) {
      v->key = key;
      v->keylen = (uint32_t)klen;
      append_child(obj, &tail, v);
    }
    int more = after_member(ps, '}');
    if (more < 0) return NULL;
    if (!more) return obj;
  }
}

static json *parse_value(parser *ps, int depth, bool build) {
  if (ps->p >= ps->end) {
    fail(ps, LADLE_ERR_PARSE, "expected a value");
    return NULL;
  }
  char c = *ps->p;
  if (c == '[' || c == '{') {
    if (depth >= ps->o->max_depth) {
      err_set(ps->e, LADLE_ERR_PARSE, "JSON nested deeper than %d levels (at byte %zu)",
              ps->o->max_depth, (size_t)(ps->p - ps->start));
      ps->st = LADLE_ERR_PARSE;
      return NULL;
    }
    return c == '[' ? parse_array(ps, depth, build) : parse_object(ps, depth, build);
  }
  if (c == '"') return parse_string(ps, build);
  if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, build);
  if (match_word(ps, "true")) return node(ps, JSON_TRUE, build);
  if (match_word(ps, "false")) return node(ps, JSON_FALSE, build);
  if (match_word(ps, "null")) return node(ps, JSON_NULL, build);
  if (c == 'N' || c == 'I') {
    const char *s = ps->p;
    if (match_word(ps, "NaN") || match_word(ps, "Infinity")) {
      json *v = node(ps, JSON_NUMBER, build);
      if (v && build) {
        v->s = s;
        v->len = (uint32_t)(ps->p - s);
      }
      return v;
    }
  }
  fail(ps, LADLE_ERR_PARSE, "expected a value");
  return NULL;
}

ladle_status json_parse(const char *text, size_t len, arena *a, const json_opts *o, json **out,
                        errbuf *e) {
  static const json_opts defaults = {64, NULL};
  parser ps = {text, text + len, text, a, o ? o : &defaults, e, LADLE_OK};
  *out = NULL;
  skip_ws(&ps);
  json *v = parse_value(&ps, 0, true);
  if (!v) return ps.st ? ps.st : LADLE_ERR_PARSE;
  skip_ws(&ps);
  if (ps.p != ps.end) {
    fail(&ps, LADLE_ERR_PARSE, "unexpected text after the document");
    return ps.st;
  }
  *out = v;
  return LADLE_OK;
}

/* --- access ------------------------------------------------------------------------------- */

bool json_key_is(const json *m, const char *key) {
  size_t n = strlen(key);
  return m->keylen == n && memcmp(m->key, key, n) == 0;
}

json *json_get(const json *v, const char *key) {
  if (!v || v->type != JSON_OBJECT) return NULL;
  for (json *c = v->child; c; c = c->next)
    if (json_key_is(c, key)) return c;
  return NULL;
}

const char *json_type_name(json_type t) {
  switch (t) {
    case JSON_NULL: return "null";
    case JSON_FALSE:
    case JSON_TRUE: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY:
    case JSON_RAW: return "an array";
    case JSON_OBJECT: return "an object";
  }
  return "?";
}

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

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
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

static bool slow_f64(const char *s, size_t n, double *out) {
  char tmp[MAX_NUMBER_TEXT + 1];
  if (n == 0 || n > MAX_NUMBER_TEXT) return false;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  char *end;
  *out = strtod(tmp, &end);
  return end == tmp + n;
}

bool json_num_f64(const char *s, size_t n, double *out) {
  bool neg, trunc;
  uint64_t m;
  int e;
  if (n && (s[n - 1] == 'N' || s[n - 1] == 'y')) return special_value(s, n, out);
  if (decimal_parts(s, n, &neg, &m, &e, &trunc) && !trunc && m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
    double v = (double)m;
    v = e < 0 ? v / pow10_tab[-e] : v * pow10_tab[e];
    *out = neg ? -v : v;
    return true;
  }
  return slow_f64(s, n, out);
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
      double v = (double)m;
      v = e < 0 ? v / pow10_tab[-e] : v * pow10_tab[e];
      *out = (float)(neg ? -v : v);
      return true;
    }
  }
  char tmp[MAX_NUMBER_TEXT + 1];
  if (n == 0 || n > MAX_NUMBER_TEXT) return false;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  char *end;
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
    v = e < 0 ? v / pow10_tab[-e] : v * pow10_tab[e];
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
  long n = decode_string(tok + 1, toklen - 2, copy, &bad);
  if (n < 0) return NULL;
  copy[n] = '\0';
  if (outlen) *outlen = (size_t)n;
  return copy;
}

/* --- writer ------------------------------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0xC2) return 0;
  if (c < 0xE0) len = 2, cp = c & 0x1F;
  else if (c < 0xF0) len = 3, cp = c & 0x0F;
  else if (c < 0xF5) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return len;
}

void json_put_str(dbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (!dbuf_reserve(b, n + 2)) return;
  b->p[b->len++] = '"';
  size_t run = 0; /* start of a run of bytes that need no escaping */
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    size_t u = c >= 0x80 ? utf8_len((const unsigned char *)s + i, n - i) : 0;
    if (u) {
      i += u;
      continue;
    }
    dbuf_append(b, s + run, i - run);
    char esc[8];
    size_t el = 2;
    esc[0] = '\\';
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        el = 6;
    }
    dbuf_append(b, esc, el);
    i++;
    run = i;
  }
  dbuf_append(b, s + run, n - run);
  dbuf_putc(b, '"');
}

static bool put_special(dbuf *b, double v) {
  if (isnan(v)) dbuf_puts(b, "NaN");
  else if (isinf(v)) dbuf_puts(b, v > 0 ? "Infinity" : "-Infinity");
  else return false;
  return true;
}

/* x * 10^k in double (k may pass the table: then in two steps). */
static double mul_pow10(double x, int k) {
  while (k > 22) {
    x *= 1e22;
    k -= 22;
  }
  while (k < -22) {
    x /= 1e22;
    k += 22;
  }
  return k >= 0 ? x * pow10_tab[k] : x / pow10_tab[-k];
}

/* The shortest decimal (1 to 9 significant digits) that reads back as v: each precision is
 * tried with double arithmetic, whose error is far below float's spacing. */
void json_put_f32(dbuf *b, float v) {
  char out[48];
  size_t o = 0;
  if (put_special(b, v)) return;
  if (signbit(v)) out[o++] = '-';
  float av = fabsf(v);
  if (av == 0.0f) {
    memcpy(out + o, "0.0", 3);
    dbuf_append(b, out, o + 3);
    return;
  }
  double d = (double)av;
  int e10 = (int)floor(log10(d));
  if (mul_pow10(d, -e10) >= 10.0) e10++;
  else if (mul_pow10(d, -e10) < 1.0) e10--;
  uint64_t N = 0;
  int p;
  for (p = 1; p <= 9; p++) {
    N = (uint64_t)llround(mul_pow10(d, p - 1 - e10));
    if (N >= (uint64_t)pow10_tab[p]) { /* rounded up to the next power of ten */
      N /= 10;
      e10++;
    }
    if ((float)mul_pow10((double)N, e10 - (p - 1)) == av) break;
  }
  if (p > 9) p = 9;
  char dig[16];
  for (int i = p - 1; i >= 0; i--) {
    dig[i] = (char)('0' + N % 10);
    N /= 10;
  }
  while (p > 1 && dig[p - 1] == '0') p--; /* trailing zeros carry nothing */
  if (e10 >= -5 && e10 < 10) {
    if (e10 >= 0) {
      for (int i = 0; i <= e10; i++) out[o++] = i < p ? dig[i] : '0';
      if (p > e10 + 1) {
        out[o++] = '.';
        for (int i = e10 + 1; i < p; i++) out[o++] = dig[i];
      }
    } else {
      out[o++] = '0';
      out[o++] = '.';
      for (int i = 0; i < -e10 - 1; i++) out[o++] = '0';
      for (int i = 0; i < p; i++) out[o++] = dig[i];
    }
  } else {
    out[o++] = dig[0];
    if (p > 1) {
      out[o++] = '.';
      for (int i = 1; i < p; i++) out[o++] = dig[i];
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "e%d", e10);
  }
  dbuf_append(b, out, o);
}

void json_put_f64(dbuf *b, double v) {
  char tmp[40];
  if (put_special(b, v)) return;
  int n = snprintf(tmp, sizeof tmp, "%.15g", v);
  if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
  dbuf_append(b, tmp, (size_t)n);
}

void json_put_u64(dbuf *b, uint64_t v) {
  char tmp[24];
  int i = 24;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  dbuf_append(b, tmp + i, (size_t)(24 - i));
}

void json_put_i64(dbuf *b, int64_t v) {
  if (v < 0) {
    dbuf_putc(b, '-');
    json_put_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    json_put_u64(b, (uint64_t)v);
  }
}

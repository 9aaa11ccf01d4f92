/* json.c — the JSON reader's parser (an arena tree with a depth limit; the `data` arrays of a
 * request kept as raw spans) and access to its nodes. Number conversions and the raw-span walk
 * are in json_num.c, the writer in json_write.c. */
#include "serving/json.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>

#include "serving/json_internal.h"

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
long json_decode_string(const char *src, size_t n, char *out, size_t *bad) {
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
    if (esc && json_decode_string(body, blen, NULL, &bad) < 0) {
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
  long n = esc ? json_decode_string(body, blen, copy, &bad) : (long)blen;
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
      long n = json_decode_string(kbody, klen, copy, &bad);
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

/* json_write.c — the JSON writer helpers: escaped strings (invalid UTF-8 as \u00XX), and
 * numbers as the shortest text that reads back the same (NaN and Infinity as Python writes them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serving/json.h"
#include "serving/json_internal.h"

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
  return k >= 0 ? x * json_pow10_tab[k] : x / json_pow10_tab[-k];
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
    if (N >= (uint64_t)json_pow10_tab[p]) { /* rounded up to the next power of ten */
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

/* dbuf.c — growable byte buffer with a limit. */
#include "serving/dbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dbuf_init(dbuf *b, size_t limit) {
  memset(b, 0, sizeof *b);
  b->limit = limit;
}

void dbuf_destroy(dbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void dbuf_reset(dbuf *b) {
  b->len = 0;
  b->failed = false;
}

void dbuf_trim(dbuf *b, size_t keep) {
  if (b->cap <= keep || b->len > keep) return;
  char *p = realloc(b->p, keep ? keep : 1);
  if (!p) return;
  b->p = p;
  b->cap = keep ? keep : 1;
}

bool dbuf_reserve(dbuf *b, size_t n) {
  if (b->failed) return false;
  if (n > b->limit || b->len > b->limit - n) {
    b->failed = true;
    return false;
  }
  if (b->len + n <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n) cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
  if (cap > b->limit) cap = b->limit;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

bool dbuf_append(dbuf *b, const void *d, size_t n) {
  if (!dbuf_reserve(b, n)) return false;
  if (n) memcpy(b->p + b->len, d, n);
  b->len += n;
  return true;
}

bool dbuf_puts(dbuf *b, const char *s) { return dbuf_append(b, s, strlen(s)); }

bool dbuf_putc(dbuf *b, char c) {
  if (b->len < b->cap && !b->failed) {
    b->p[b->len++] = c;
    return true;
  }
  return dbuf_append(b, &c, 1);
}

bool dbuf_printf(dbuf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return false;
  if ((size_t)n < sizeof small) return dbuf_append(b, small, (size_t)n);
  if (!dbuf_reserve(b, (size_t)n + 1)) return false;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return true;
}

void dbuf_consume(dbuf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}

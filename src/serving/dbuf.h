/* dbuf.h — a growable byte buffer with a hard limit (curl's dynbuf habit).
 *
 * Appends never fail silently: going over the limit or out of memory sets a sticky `failed` flag
 * and later appends are ignored, so a writer can emit a whole document and check once. */
#ifndef LADLE_SERVING_DBUF_H
#define LADLE_SERVING_DBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dbuf {
  char *p;
  size_t len, cap;
  size_t limit; /* the most bytes the buffer may ever hold */
  bool failed;  /* an append went over the limit or out of memory */
} dbuf;

void dbuf_init(dbuf *b, size_t limit);
void dbuf_destroy(dbuf *b);
/* Empties the buffer (keeps its memory) and clears `failed`. */
void dbuf_reset(dbuf *b);
/* Gives memory back when the buffer has grown beyond keep bytes (call when idle). */
void dbuf_trim(dbuf *b, size_t keep);
/* Makes room for n more bytes; false (and `failed`) when that would pass the limit. */
bool dbuf_reserve(dbuf *b, size_t n);
bool dbuf_append(dbuf *b, const void *d, size_t n);
bool dbuf_puts(dbuf *b, const char *s);
bool dbuf_putc(dbuf *b, char c);
bool dbuf_printf(dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes (what has been consumed). */
void dbuf_consume(dbuf *b, size_t n);

#endif

/* arena.c — bump allocator in chunks. */
#include "serving/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
  arena_chunk *next;
  size_t cap, used;
  /* data follows, 64-byte aligned */
};

#define HDR (((sizeof(arena_chunk) + 63) / 64) * 64)

static char *chunk_data(arena_chunk *c) { return (char *)c + HDR; }

void arena_init(arena *a, size_t first_chunk, size_t limit) {
  memset(a, 0, sizeof *a);
  a->first = first_chunk < 1024 ? 1024 : first_chunk;
  a->limit = limit;
}

void arena_destroy(arena *a) {
  arena_chunk *c = a->head;
  while (c) {
    arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = NULL;
  a->total = 0;
}

void arena_reset(arena *a) {
  arena_chunk *c = a->head, *keep = NULL;
  while (c) {
    arena_chunk *next = c->next;
    if (!next && c->cap == a->first) {
      keep = c; /* the oldest chunk, if it is the standard first one */
    } else {
      free(c);
    }
    c = next;
  }
  a->head = keep;
  a->total = keep ? keep->cap : 0;
  if (keep) {
    keep->used = 0;
    keep->next = NULL;
  }
}

static void *alloc_align(arena *a, size_t n, size_t align) {
  arena_chunk *c = a->head;
  if (n == 0) n = 1;
  if (c) {
    size_t off = (c->used + align - 1) & ~(align - 1);
    if (off <= c->cap && n <= c->cap - off) {
      c->used = off + n;
      return chunk_data(c) + off;
    }
  }
  /* a new chunk: at least double the last one, at least n */
  size_t want = c ? c->cap * 2 : a->first;
  if (want < n) want = n;
  if (want > (size_t)1 << 30 && n <= (size_t)1 << 30) want = n < ((size_t)1 << 20) ? (size_t)1 << 20 : n;
  if (want > a->limit || a->total > a->limit - want) {
    if (n > a->limit || a->total > a->limit - n) return NULL;
    want = n;
  }
  arena_chunk *nc = aligned_alloc(64, ((HDR + want) + 63) / 64 * 64);
  if (!nc) return NULL;
  nc->cap = want;
  nc->used = n;
  nc->next = a->head;
  a->head = nc;
  a->total += want;
  return chunk_data(nc);
}

void *arena_alloc(arena *a, size_t n) { return alloc_align(a, n, 16); }
void *arena_alloc64(arena *a, size_t n) { return alloc_align(a, n, 64); }

void *arena_calloc(arena *a, size_t n) {
  void *p = alloc_align(a, n, 16);
  if (p) memset(p, 0, n);
  return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
  char *p = alloc_align(a, n + 1, 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* arena.h — a bump allocator freed as one (h2o's request pools): a request's scratch memory
 * (parsed JSON, decoded tensors, outputs) lives in one arena that is reset when the request ends.
 *
 * Not thread-safe; a request's arena is used by one thread at a time (the I/O thread, then the
 * instance thread while the request is queued or running, then the I/O thread again: the queue's
 * lock orders those uses). The limit bounds what one request may hold. */
#ifndef LADLE_SERVING_ARENA_H
#define LADLE_SERVING_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
  arena_chunk *head; /* the chunk being filled; older ones follow */
  size_t first;      /* size of the first chunk, which reset keeps */
  size_t total;      /* bytes held in all chunks */
  size_t limit;      /* most bytes the arena may hold */
} arena;

void arena_init(arena *a, size_t first_chunk, size_t limit);
void arena_destroy(arena *a);
/* Frees everything but the first chunk. */
void arena_reset(arena *a);
/* 16-byte aligned memory; NULL when the limit would be passed or memory is out. */
void *arena_alloc(arena *a, size_t n);
/* Same, 64-byte aligned (tensor data). */
void *arena_alloc64(arena *a, size_t n);
void *arena_calloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n); /* NUL-terminated copy */

#endif

/* json.h — the JSON reader and writer of the serving layer.
 *
 * The reader builds a small tree in an arena (no malloc per node) with a nesting-depth limit.
 * Numbers keep their text and are converted when the reader knows the target type (an INT64
 * tensor wants exact integers, an FP32 one floats). Arrays under one chosen key (the `data` of
 * an inference request) can be kept as validated raw text (JSON_RAW), so a tensor of a million
 * numbers costs no nodes: json_walk_next walks it and the decoder writes straight into the
 * tensor's buffer (a raw span is only checked for balanced brackets when parsed; the walk
 * validates it). NaN, Infinity and -Infinity are accepted as numbers (Python's json writes
 * them), and written back the same way.
 *
 * Strings are decoded (escapes resolved, UTF-8 checked) into NUL-terminated arena copies;
 * object keys point into the source when they need no decoding. */
#ifndef LADLE_SERVING_JSON_H
#define LADLE_SERVING_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "serving/arena.h"
#include "serving/dbuf.h"

typedef enum {
  JSON_NULL,
  JSON_FALSE,
  JSON_TRUE,
  JSON_NUMBER,
  JSON_STRING,
  JSON_ARRAY,
  JSON_OBJECT,
  JSON_RAW, /* an array kept as text: s/len span it, '[' to ']' */
} json_type;

typedef struct json json;
struct json {
  json_type type;
  uint32_t len;    /* string/number/raw: text length; array/object: number of children */
  const char *s;   /* string (NUL-terminated), number text, raw span */
  const char *key; /* member name when the parent is an object (not NUL-terminated) */
  uint32_t keylen;
  json *child; /* first child of an array or object */
  json *next;  /* next sibling */
};

typedef struct json_opts {
  int max_depth;       /* arrays/objects nested deeper fail with LADLE_ERR_PARSE */
  const char *raw_key; /* arrays that are the value of this member become JSON_RAW; NULL: none */
} json_opts;

/* Parses text[0, len) (one value, optional whitespace around it). Failures: LADLE_ERR_PARSE with
 * the byte offset and what was expected; LADLE_ERR_LIMIT when the arena is over its limit. */
ladle_status json_parse(const char *text, size_t len, arena *a, const json_opts *o, json **out,
                        errbuf *e);

/* Member of an object (NULL if v is not an object or has no such member). */
json *json_get(const json *v, const char *key);
bool json_key_is(const json *member, const char *key);
const char *json_type_name(json_type t); /* "a string", "an array"... for messages */

/* Number conversions (text as in v->s/v->len). Integers must be written without fraction or
 * exponent; false when the text is not one or does not fit. */
bool json_num_i64(const char *s, size_t n, int64_t *out);
bool json_num_u64(const char *s, size_t n, uint64_t *out);
bool json_num_f64(const char *s, size_t n, double *out);
bool json_num_f32(const char *s, size_t n, float *out);
/* Convenience on nodes: false when v is not a number of that kind. */
bool json_int(const json *v, int64_t *out);
bool json_double(const json *v, double *out);

/* Walks a JSON_RAW span, validating it: json_walk_next returns 1 with the next scalar token
 * (JSON_NUMBER, JSON_STRING with its quotes (decode with json_raw_string), JSON_TRUE, JSON_FALSE,
 * JSON_NULL; JSON_OBJECT for an object element, after which the walk cannot go on), 0 at the
 * end, -1 when the text is malformed (message in e). Nesting is checked against max_depth. */
typedef struct json_walk {
  const char *s;
  size_t len, pos;
  int depth, max_depth;
  int state;
} json_walk;
void json_walk_init(json_walk *w, const char *s, size_t len, int max_depth);
int json_walk_next(json_walk *w, json_type *kind, const char **tok, size_t *toklen, errbuf *e);
/* The fast path for FP32 tensors: reads plain numbers straight into out[*n...] (at most cap in
 * all) and stops at the end (returns 0) or at anything else (returns 1: json_walk_next then
 * reports what it is, or the extra element, or the malformed text). */
int json_walk_f32(json_walk *w, float *out, int64_t cap, int64_t *n, errbuf *e);
/* Decodes a raw string token (with its quotes) into a NUL-terminated arena copy. */
char *json_raw_string(arena *a, const char *tok, size_t toklen, size_t *outlen);

/* Writer helpers: append to b (sticky failure on b). */
void json_put_str(dbuf *b, const char *s, size_t n); /* quoted, escaped; invalid UTF-8 as \u00XX */
void json_put_f32(dbuf *b, float v);                 /* shortest text that reads back the same */
void json_put_f64(dbuf *b, double v);
void json_put_i64(dbuf *b, int64_t v);
void json_put_u64(dbuf *b, uint64_t v);

#endif

/* parse.h — HTTP/1.0 and 1.1 request heads and chunked bodies, parsed in place.
 *
 * The parser never allocates: it points into the connection's input buffer. Everything it reads
 * has a limit (head bytes, header count, body size); going over is a status the connection turns
 * into 413 or 431 with a JSON body. */
#ifndef LADLE_HTTP_PARSE_H
#define LADLE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define HTTP_MAX_HEADERS 128

typedef enum { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_OPTIONS, HTTP_OTHER } http_method;

typedef struct http_head {
  http_method method;
  const char *method_text;
  size_t method_len;
  const char *path; /* the target up to '?' (still percent-encoded) */
  size_t path_len;
  int minor;        /* HTTP/1.<minor> */
  bool keep_alive;  /* after Connection and the version's default */
  bool chunked;
  bool expect_continue;
  int64_t content_length;    /* -1: none */
  int64_t infer_header_len;  /* Inference-Header-Content-Length; -1: none */
  const char *content_type;
  size_t content_type_len;
  size_t head_len; /* bytes of the request line and headers, blank line included */
} http_head;

/* The result of looking at the start of a buffer. */
typedef enum {
  HEAD_INCOMPLETE, /* need more bytes */
  HEAD_OK,
  HEAD_BAD,        /* 400 (or another code in *code) with a message */
} head_result;

/* Parses a request head from p[0, n). *scan remembers how far the blank-line search got between
 * calls (start at 0). On HEAD_BAD, *code is the HTTP status to answer (400, 431, 501, 505, 417,
 * 415) and e says why. */
head_result http_parse_head(const char *p, size_t n, size_t max_head, size_t *scan, http_head *h,
                            int *code, errbuf *e);

/* Incremental in-place chunked-body decoder. */
typedef struct chunk_state {
  int phase;        /* internal */
  uint64_t left;    /* bytes left in the current chunk */
  size_t raw;       /* bytes of the raw body consumed */
  size_t out;       /* decoded bytes written at the body's start */
  int line;         /* length of the current size or trailer line */
  bool done;
} chunk_state;

/* Decodes what is in body[st->raw, n) into body[st->out...]. Returns LADLE_OK (check st->done),
 * LADLE_ERR_PARSE for a malformed body, LADLE_ERR_LIMIT when the decoded size passes max. */
ladle_status http_dechunk(char *body, size_t n, uint64_t max, chunk_state *st, errbuf *e);

#endif

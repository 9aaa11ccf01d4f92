/* parse.c — HTTP request heads and chunked bodies. */
#include "http/parse.h"

#include <string.h>
#include <strings.h>

static bool header_is(const char *name, size_t n, const char *want) {
  return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static bool token_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Parses a non-negative decimal (no sign, no spaces): false on junk or overflow. */
static bool parse_len(const char *s, size_t n, int64_t *out) {
  int64_t v = 0;
  if (n == 0 || n > 18) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* Does the comma-separated header value contain token (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *token) {
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t b = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i;
    while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e - b == tl && strncasecmp(v + b, token, tl) == 0) return true;
  }
  return false;
}

static head_result bad(int *code, int c, errbuf *e, const char *msg) {
  *code = c;
  err_set(e, LADLE_ERR_PARSE, "%s", msg);
  return HEAD_BAD;
}

head_result http_parse_head(const char *p, size_t n, size_t max_head, size_t *scan, http_head *h,
                            int *code, errbuf *e) {
  /* find the blank line that ends the head: "\r\n\r\n" or "\n\n" */
  size_t i = *scan > 3 ? *scan - 3 : 0, end = 0;
  size_t lim = n < max_head ? n : max_head;
  /* skip empty lines before the request line (RFC 9112 2.2) */
  size_t start = 0;
  while (start < n && (p[start] == '\r' || p[start] == '\n')) start++;
  if (i < start) i = start;
  for (; i < lim; i++) {
    if (p[i] != '\n') continue;
    if (i >= 1 && p[i - 1] == '\n' && i - 1 >= start) {
      end = i + 1;
      break;
    }
    if (i >= 3 && p[i - 1] == '\r' && p[i - 2] == '\n' && i - 2 >= start) {
      end = i + 1;
      break;
    }
  }
  if (!end) {
    *scan = lim;
    if (n >= max_head) {
      *code = 431;
      err_set(e, LADLE_ERR_LIMIT, "request headers are larger than %zu bytes (--max-header-bytes)", max_head);
      return HEAD_BAD;
    }
    return HEAD_INCOMPLETE;
  }
  memset(h, 0, sizeof *h);
  h->content_length = -1;
  h->infer_header_len = -1;
  h->head_len = end;

  /* request line: METHOD SP TARGET SP HTTP/1.x */
  const char *q = p + start, *stop = p + end;
  const char *eol = memchr(q, '\n', (size_t)(stop - q));
  const char *le = eol > q && eol[-1] == '\r' ? eol - 1 : eol;
  const char *sp1 = memchr(q, ' ', (size_t)(le - q));
  if (!sp1 || sp1 == q) return bad(code, 400, e, "malformed request line");
  for (const char *c = q; c < sp1; c++)
    if (!token_char((unsigned char)*c)) return bad(code, 400, e, "malformed request method");
  const char *tgt = sp1 + 1;
  const char *sp2 = memchr(tgt, ' ', (size_t)(le - tgt));
  if (!sp2 || sp2 == tgt) return bad(code, 400, e, "malformed request line");
  const char *ver = sp2 + 1;
  if (le - ver != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1'))
    return bad(code, 400, e, "malformed request line: only HTTP/1.0 and HTTP/1.1 are supported");
  for (const char *c = tgt; c < sp2; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) return bad(code, 400, e, "malformed request target");
  h->minor = ver[7] - '0';
  h->method_text = q;
  h->method_len = (size_t)(sp1 - q);
  if (h->method_len == 3 && !memcmp(q, "GET", 3)) h->method = HTTP_GET;
  else if (h->method_len == 4 && !memcmp(q, "POST", 4)) h->method = HTTP_POST;
  else if (h->method_len == 4 && !memcmp(q, "HEAD", 4)) h->method = HTTP_HEAD;
  else if (h->method_len == 3 && !memcmp(q, "PUT", 3)) h->method = HTTP_PUT;
  else if (h->method_len == 6 && !memcmp(q, "DELETE", 6)) h->method = HTTP_DELETE;
  else if (h->method_len == 7 && !memcmp(q, "OPTIONS", 7)) h->method = HTTP_OPTIONS;
  else h->method = HTTP_OTHER;
  h->path = tgt;
  const char *qm = memchr(tgt, '?', (size_t)(sp2 - tgt));
  h->path_len = (size_t)((qm ? qm : sp2) - tgt);
  /* absolute-form targets (proxies): keep the path */
  if (h->path_len > 7 && (!strncasecmp(tgt, "http://", 7) || !strncasecmp(tgt, "https://", 8))) {
    const char *slash = memchr(tgt + 8, '/', h->path_len - 8);
    if (!slash) {
      return bad(code, 400, e, "request target without a path");
    } else {
      h->path_len -= (size_t)(slash - tgt);
      h->path = slash;
    }
  }
  bool conn_close = false, conn_keep = false, te_seen = false;
  int n_headers = 0;

  /* headers */
  q = eol + 1;
  while (q < stop) {
    eol = memchr(q, '\n', (size_t)(stop - q));
    le = eol > q && eol[-1] == '\r' ? eol - 1 : eol;
    if (le == q) break; /* blank line */
    if (*q == ' ' || *q == '\t') return bad(code, 400, e, "obsolete header line folding is not accepted");
    if (++n_headers > HTTP_MAX_HEADERS) {
      *code = 431;
      err_set(e, LADLE_ERR_LIMIT, "more than %d request headers", HTTP_MAX_HEADERS);
      return HEAD_BAD;
    }
    const char *colon = memchr(q, ':', (size_t)(le - q));
    if (!colon || colon == q) return bad(code, 400, e, "malformed header line");
    for (const char *c = q; c < colon; c++)
      if (!token_char((unsigned char)*c)) return bad(code, 400, e, "malformed header name");
    const char *name = q;
    size_t nlen = (size_t)(colon - q);
    const char *v = colon + 1, *ve = le;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    size_t vlen = (size_t)(ve - v);
    if (header_is(name, nlen, "content-length")) {
      int64_t len;
      if (!parse_len(v, vlen, &len)) return bad(code, 400, e, "invalid Content-Length");
      if (h->content_length >= 0 && h->content_length != len)
        return bad(code, 400, e, "conflicting Content-Length headers");
      h->content_length = len;
    } else if (header_is(name, nlen, "transfer-encoding")) {
      if (te_seen || !(vlen == 7 && !strncasecmp(v, "chunked", 7))) {
        *code = 501;
        err_set(e, LADLE_ERR_UNSUPPORTED, "only Transfer-Encoding: chunked is supported");
        return HEAD_BAD;
      }
      te_seen = true;
      h->chunked = true;
    } else if (header_is(name, nlen, "connection")) {
      if (has_token(v, vlen, "close")) conn_close = true;
      if (has_token(v, vlen, "keep-alive")) conn_keep = true;
    } else if (header_is(name, nlen, "expect")) {
      if (!(vlen == 12 && !strncasecmp(v, "100-continue", 12))) {
        *code = 417;
        err_set(e, LADLE_ERR_UNSUPPORTED, "only Expect: 100-continue is supported");
        return HEAD_BAD;
      }
      h->expect_continue = true;
    } else if (header_is(name, nlen, "inference-header-content-length")) {
      int64_t len;
      if (!parse_len(v, vlen, &len)) return bad(code, 400, e, "invalid Inference-Header-Content-Length");
      h->infer_header_len = len;
    } else if (header_is(name, nlen, "content-type")) {
      h->content_type = v;
      h->content_type_len = vlen;
    } else if (header_is(name, nlen, "content-encoding")) {
      if (!(vlen == 8 && !strncasecmp(v, "identity", 8)) && vlen) {
        *code = 415;
        err_set(e, LADLE_ERR_UNSUPPORTED, "Content-Encoding '%.*s' is not supported (send the body uncompressed)",
                (int)(vlen > 32 ? 32 : vlen), v);
        return HEAD_BAD;
      }
    }
    q = eol + 1;
  }
  if (h->chunked && h->content_length >= 0)
    return bad(code, 400, e, "both Content-Length and Transfer-Encoding were sent");
  h->keep_alive = h->minor == 1 ? !conn_close : (conn_keep && !conn_close);
  return HEAD_OK;
}

/* --- chunked bodies ----------------------------------------------------------------------- */

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF };

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

ladle_status http_dechunk(char *body, size_t n, uint64_t max, chunk_state *st, errbuf *e) {
  size_t i = st->raw;
  while (i < n && !st->done) {
    char c = body[i];
    switch (st->phase) {
      case CH_SIZE: {
        int h = hexv(c);
        if (h >= 0) {
          if (++st->line > 15) return err_set(e, LADLE_ERR_PARSE, "chunk size too long");
          st->left = st->left * 16 + (uint64_t)h;
          i++;
        } else if (st->line == 0) {
          return err_set(e, LADLE_ERR_PARSE, "malformed chunk size");
        } else if (c == ';' || c == ' ' || c == '\t') {
          st->phase = CH_EXT;
          i++;
        } else if (c == '\r') {
          st->phase = CH_SIZE_LF;
          i++;
        } else if (c == '\n') {
          st->phase = CH_SIZE_LF;
        } else {
          return err_set(e, LADLE_ERR_PARSE, "malformed chunk size");
        }
        if (st->left > max || st->out + st->left > max)
          return err_set(e, LADLE_ERR_LIMIT, "request body larger than %llu bytes", (unsigned long long)max);
        break;
      }
      case CH_EXT:
        if (++st->line > 1024) return err_set(e, LADLE_ERR_PARSE, "chunk extension too long");
        if (c == '\r') st->phase = CH_SIZE_LF;
        else if (c == '\n') { st->phase = CH_SIZE_LF; continue; }
        i++;
        break;
      case CH_SIZE_LF:
        if (c != '\n') return err_set(e, LADLE_ERR_PARSE, "malformed chunk size line");
        i++;
        st->line = 0;
        st->phase = st->left ? CH_DATA : CH_TRAILER;
        break;
      case CH_DATA: {
        size_t take = n - i;
        if (take > st->left) take = (size_t)st->left;
        memmove(body + st->out, body + i, take);
        st->out += take;
        st->left -= take;
        i += take;
        if (!st->left) st->phase = CH_DATA_CR;
        break;
      }
      case CH_DATA_CR:
        if (c == '\r') { st->phase = CH_DATA_LF; i++; }
        else if (c == '\n') st->phase = CH_DATA_LF;
        else return err_set(e, LADLE_ERR_PARSE, "chunk data longer than its size");
        break;
      case CH_DATA_LF:
        if (c != '\n') return err_set(e, LADLE_ERR_PARSE, "malformed chunk end");
        i++;
        st->phase = CH_SIZE;
        st->left = 0;
        st->line = 0;
        break;
      case CH_TRAILER:
        /* trailer lines until an empty one */
        if (c == '\r') {
          st->phase = CH_TRAILER_LF;
          i++;
        } else if (c == '\n') {
          st->phase = CH_TRAILER_LF;
        } else {
          if (++st->line > 8192) return err_set(e, LADLE_ERR_LIMIT, "chunked trailer too long");
          i++;
        }
        break;
      case CH_TRAILER_LF:
        if (c != '\n') return err_set(e, LADLE_ERR_PARSE, "malformed chunked trailer");
        i++;
        if (st->line == 0) st->done = true;
        st->line = 0;
        st->phase = CH_TRAILER;
        break;
    }
  }
  st->raw = i;
  return LADLE_OK;
}

/* test_parse.c — HTTP request heads (good and bad, the limits, incremental arrival) and chunked
 * bodies decoded in place from every possible split into two reads. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "http/parse.h"

static head_result parse(const char *s, http_head *h, int *code) {
  size_t scan = 0;
  errbuf e;
  return http_parse_head(s, strlen(s), 1024, &scan, h, code, &e);
}

static void test_heads(void) {
  http_head h;
  int code = 0;
  CHECK(parse("POST /v2/models/m/infer?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
              "Inference-Header-Content-Length: 5\r\nContent-Type: application/json\r\n\r\nBODY",
              &h, &code) == HEAD_OK);
  CHECK(h.method == HTTP_POST && h.path_len == 18 && !strncmp(h.path, "/v2/models/m/infer", 18));
  CHECK(h.content_length == 12 && h.infer_header_len == 5 && h.keep_alive && h.minor == 1);
  CHECK(h.head_len == strlen(h.method_text) - 4);
  CHECK(parse("GET / HTTP/1.0\n\n", &h, &code) == HEAD_OK && !h.keep_alive);
  CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h, &code) == HEAD_OK && h.keep_alive);
  CHECK(parse("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n", &h, &code) == HEAD_OK && !h.keep_alive);
  CHECK(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &h, &code) == HEAD_OK);
  CHECK(parse("GET http://host:8000/v2 HTTP/1.1\r\n\r\n", &h, &code) == HEAD_OK && h.path_len == 3);
  CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", &h, &code) == HEAD_OK &&
        h.chunked && h.expect_continue);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n", &h, &code) == HEAD_INCOMPLETE);

  struct {
    const char *s;
    int code;
  } bad[] = {
      {"GET\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 400},
      {"GET /  HTTP/1.1\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
      {"POST / HTTP/1.1\r\nContent-Encoding: gzip\r\n\r\n", 415},
      {"GET http://host HTTP/1.1\r\n\r\n", 400},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    code = 0;
    CHECK(parse(bad[i].s, &h, &code) == HEAD_BAD && code == bad[i].code);
  }
  /* head limit: 431 once the limit passes without a blank line */
  char big[2048];
  memset(big, 'a', sizeof big);
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  size_t scan = 0;
  errbuf e;
  CHECK(http_parse_head(big, sizeof big, 1024, &scan, &h, &code, &e) == HEAD_BAD && code == 431);
  /* many headers */
  char many[8192] = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 200; i++) strcat(many, "A: b\r\n");
  strcat(many, "\r\n");
  scan = 0;
  CHECK(http_parse_head(many, strlen(many), sizeof many, &scan, &h, &code, &e) == HEAD_BAD && code == 431);
  /* arriving a byte at a time gives the same answer */
  const char *req = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
  scan = 0;
  head_result r = HEAD_INCOMPLETE;
  size_t n;
  for (n = 1; n <= strlen(req) && r == HEAD_INCOMPLETE; n++) r = http_parse_head(req, n, 1024, &scan, &h, &code, &e);
  CHECK(r == HEAD_OK && n - 1 == strlen(req) && h.content_length == 3);
}

static void test_chunked(void) {
  const char *raw = "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
  const char *want = "hello 0123456789";
  size_t n = strlen(raw);
  int good = 0;
  for (size_t cut = 0; cut <= n; cut++) {
    char *buf = malloc(n + 1);
    chunk_state st;
    errbuf e;
    memcpy(buf, raw, n);
    memset(&st, 0, sizeof st);
    ladle_status s1 = http_dechunk(buf, cut, 1 << 20, &st, &e);
    ladle_status s2 = s1 ? s1 : http_dechunk(buf, n, 1 << 20, &st, &e);
    if (!s2 && st.done && st.out == strlen(want) && !memcmp(buf, want, st.out) && st.raw == n) good++;
    free(buf);
  }
  CHECK(good == (int)n + 1);
  const char *bad[] = {"x\r\n", "5\r\nhelloXX\r\n", "5\r\nhello\r\nZ\r\n", "FFFFFFFFFFFFFFFFF\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char buf[64];
    chunk_state st;
    errbuf e;
    memset(&st, 0, sizeof st);
    strcpy(buf, bad[i]);
    CHECK(http_dechunk(buf, strlen(buf), 1 << 20, &st, &e) != LADLE_OK);
  }
  char buf[64] = "100\r\n";
  chunk_state st;
  errbuf e;
  memset(&st, 0, sizeof st);
  CHECK(http_dechunk(buf, strlen(buf), 16, &st, &e) == LADLE_ERR_LIMIT);
}

int main(void) {
  test_heads();
  test_chunked();
  return check_done("test_parse");
}

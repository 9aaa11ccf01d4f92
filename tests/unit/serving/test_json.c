/* test_json.c — the serving layer's JSON reader and writer: documents that must parse and must
 * not, the depth limit, escapes, raw spans walked and validated, number conversions at their
 * edges, and float32 output that is short and reads back exactly (random floats). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "serving/json.h"

static arena A;

static json *parse(const char *s, ladle_status *st) {
  json *root = NULL;
  errbuf e;
  json_opts o = {16, "data"};
  *st = json_parse(s, strlen(s), &A, &o, &root, &e);
  return root;
}

static int ok(const char *s) {
  ladle_status st;
  parse(s, &st);
  return st == LADLE_OK;
}

static void test_documents(void) {
  const char *good[] = {"{}", "[]", " [1, -2.5e+3, 0, -0, 1E2, true, false, null] ", "\"x\"", "0",
                        "{\"a\":{\"b\":[{\"c\":\"d\"}]}}", "[\"\\u00e9\\ud83d\\ude00\\n\\\"\"]", "NaN",
                        "[-Infinity, Infinity]"};
  const char *bad[] = {"", "{", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "01", "1.", ".5", "-",
                       "1e", "[1 2]", "\"\\x\"", "\"\\ud800\"", "\"a\nb\"", "tru", "[1]x", "{\"a\":1,}",
                       "\"unterminated", "[\"\\u12\"]", "{\"data\":[1,2}"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) CHECK(ok(good[i]));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ladle_status st;
    json *r = parse(bad[i], &st);
    /* a raw span is only balanced-checked when parsed: the walk rejects the rest */
    bool raw = r && json_get(r, "data") && json_get(r, "data")->type == JSON_RAW;
    CHECK(st != LADLE_OK || raw);
  }
  CHECK(ok("[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]")); /* exactly 16 */
  CHECK(!ok("[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]")); /* 17 */

  ladle_status st;
  json *r = parse("{\"na\\u006de\":\"v\\u00e9\",\"n\":12,\"data\":[[1,2],[3,\"x\"]]}", &st);
  CHECK(st == LADLE_OK);
  CHECK(r && json_get(r, "name") && !strcmp(json_get(r, "name")->s, "v\xc3\xa9"));
  int64_t n = 0;
  CHECK(json_int(json_get(r, "n"), &n) && n == 12);
  const json *d = json_get(r, "data");
  CHECK(d && d->type == JSON_RAW);
  if (d) {
    json_walk w;
    json_type k;
    const char *tok;
    size_t tn;
    errbuf e;
    int count = 0, strings = 0, rc;
    json_walk_init(&w, d->s, d->len, 16);
    while ((rc = json_walk_next(&w, &k, &tok, &tn, &e)) > 0) {
      count++;
      strings += k == JSON_STRING;
    }
    CHECK(rc == 0 && count == 4 && strings == 1);
  }
  /* the walk validates what the raw capture only bracket-matched */
  const char *bad_raw[] = {"[1,,2]", "[1 2]", "[[1],]", "[01]", "[1}", "[nul]", "[\"a]"};
  for (size_t i = 0; i < sizeof bad_raw / sizeof bad_raw[0]; i++) {
    json_walk w;
    json_type k;
    const char *tok;
    size_t tn;
    errbuf e;
    int rc;
    json_walk_init(&w, bad_raw[i], strlen(bad_raw[i]), 16);
    while ((rc = json_walk_next(&w, &k, &tok, &tn, &e)) > 0) {}
    CHECK(rc < 0);
  }
}

static void test_numbers(void) {
  int64_t i;
  uint64_t u;
  float f;
  double d;
  CHECK(json_num_i64("-9223372036854775808", 20, &i) && i == INT64_MIN);
  CHECK(!json_num_i64("9223372036854775808", 19, &i));
  CHECK(!json_num_i64("1.0", 3, &i) && !json_num_i64("1e3", 3, &i));
  CHECK(json_num_u64("18446744073709551615", 20, &u) && u == UINT64_MAX);
  CHECK(!json_num_u64("18446744073709551616", 20, &u) && !json_num_u64("-1", 2, &u));
  CHECK(json_num_f32("0.1", 3, &f) && f == 0.1f);
  CHECK(json_num_f32("1.7640523910522461", 18, &f) && f == 1.7640524f);
  CHECK(json_num_f32("3.4028235e38", 12, &f) && f == 3.4028235e38f);
  CHECK(json_num_f32("1e-45", 5, &f) && f == 1e-45f);
  CHECK(json_num_f32("-Infinity", 9, &f) && isinf(f) && f < 0);
  CHECK(json_num_f32("NaN", 3, &f) && isnan(f));
  CHECK(json_num_f64("0.1", 3, &d) && d == 0.1);
  CHECK(json_num_f64("2.2250738585072014e-308", 23, &d) && d == 2.2250738585072014e-308);
  CHECK(json_num_f64("123456789012345678901234567890", 30, &d) && d == 123456789012345678901234567890.0);
  CHECK(json_num_f64("1.00000000000000011102230246251565404236316680908203125", 55, &d) && d == 1.0);
  /* random decimal texts read as strtod/strtof would */
  srand(7);
  int bad32 = 0, bad64 = 0;
  for (int k = 0; k < 200000; k++) {
    char t[64];
    double v = ldexp((double)rand() / RAND_MAX, (rand() % 120) - 60) * (rand() & 1 ? -1 : 1);
    int len = snprintf(t, sizeof t, "%.*g", 1 + rand() % 17, v);
    if (!json_num_f64(t, (size_t)len, &d) || d != strtod(t, NULL)) bad64++;
    if (!json_num_f32(t, (size_t)len, &f) || f != strtof(t, NULL)) bad32++;
  }
  CHECK(bad64 == 0);
  CHECK(bad32 == 0);
  /* the fused float walk reads the same values as strtof, and stops where the generic walk
   * must take over */
  char text[1 << 16];
  float got[4096], want[4096];
  int64_t n = 0;
  size_t len = 0;
  text[len++] = '[';
  for (int k = 0; k < 4000; k++) {
    double v = ldexp((double)rand() / RAND_MAX, (rand() % 200) - 100) * (rand() & 1 ? -1 : 1);
    char t[48];
    snprintf(t, sizeof t, "%.*g", 1 + rand() % 17, v);
    want[k] = strtof(t, NULL);
    len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", k ? (k % 7 ? "," : " ,\n ") : "", t);
  }
  text[len++] = ']';
  json_walk w;
  errbuf e;
  json_walk_init(&w, text, len, 8);
  int rc;
  while ((rc = json_walk_f32(&w, got, 4096, &n, &e)) == 1) {
    json_type kind;
    const char *tok;
    size_t tn;
    if (json_walk_next(&w, &kind, &tok, &tn, &e) <= 0 || kind != JSON_NUMBER || !json_num_f32(tok, tn, &got[n])) break;
    n++;
  }
  CHECK(rc == 0 && n == 4000 && !memcmp(got, want, sizeof(float) * 4000));
  json_walk_init(&w, "[[1,2],[3,\"x\"]]", 16, 8);
  n = 0;
  CHECK(json_walk_f32(&w, got, 10, &n, &e) == 1 && n == 3);
}

static void test_writer(void) {
  dbuf b;
  dbuf_init(&b, 1 << 20);
  json_put_str(&b, "a\"b\\c\n\x01\xc3\xa9\xff", 10);
  dbuf_putc(&b, 0);
  CHECK(!strcmp(b.p, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\u00ff\""));
  const float cases[] = {0.1f, 1.0f, 100.0f, 1e-7f, 3.4028235e38f, 1e-45f, -2.5f, 1234567.0f, 0.0f};
  const char *want[] = {"0.1", "1", "100", "1e-7", "3.4028235e38", "1e-45", "-2.5", "1234567", "0.0"};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    dbuf_reset(&b);
    json_put_f32(&b, cases[k]);
    dbuf_putc(&b, 0);
    CHECK(!strcmp(b.p, want[k]));
  }
  /* random bit patterns: always read back exactly, never longer than %.9g */
  int bad = 0;
  srand(11);
  for (int k = 0; k < 500000; k++) {
    uint32_t bits = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
    float v, back;
    memcpy(&v, &bits, 4);
    if (!isfinite(v)) continue;
    dbuf_reset(&b);
    json_put_f32(&b, v);
    char t[32];
    int tl = snprintf(t, sizeof t, "%.9g", v);
    if (!json_num_f32(b.p, b.len, &back) || back != v || b.len > (size_t)tl + 2) bad++;
  }
  CHECK(bad == 0);
  dbuf_reset(&b);
  json_put_f64(&b, 0.1);
  dbuf_putc(&b, ',');
  json_put_i64(&b, INT64_MIN);
  dbuf_putc(&b, ',');
  json_put_u64(&b, UINT64_MAX);
  dbuf_putc(&b, 0);
  CHECK(!strcmp(b.p, "0.1,-9223372036854775808,18446744073709551615"));
  dbuf_destroy(&b);
  /* limits are sticky */
  dbuf_init(&b, 8);
  CHECK(dbuf_puts(&b, "12345678") && !dbuf_putc(&b, 'x') && b.failed && b.len == 8);
  dbuf_destroy(&b);
}

static void test_arena(void) {
  arena a;
  arena_init(&a, 1024, 1 << 20);
  void *p = arena_alloc64(&a, 100);
  CHECK(p && ((uintptr_t)p % 64) == 0);
  CHECK(arena_alloc(&a, 1 << 19) != NULL);
  CHECK(arena_alloc(&a, 1 << 20) == NULL); /* over the limit */
  arena_reset(&a);
  CHECK(a.total <= 1024 + 64);
  char *s = arena_strndup(&a, "hello", 3);
  CHECK(s && !strcmp(s, "hel"));
  arena_destroy(&a);
}

int main(void) {
  arena_init(&A, 4096, 64 << 20);
  test_documents();
  test_numbers();
  test_writer();
  test_arena();
  arena_destroy(&A);
  return check_done("test_json");
}

/* test_codec.c — the V2 request decoder and response encoder on a hand-made signature: every
 * way of sending a tensor (flat, nested, scalar, binary, raw binary), what each mistake is
 * called, and the response in JSON and binary form. */
#include <string.h>

#include "../check.h"
#include "http/codec.h"

static tensor_sig ins[] = {{"x", LADLE_FLOAT, 2, {-1, 3}}, {"s", LADLE_STRING, 2, {-1, 2}}};
static tensor_sig outs[] = {{"y", LADLE_FLOAT, 2, {-1, 3}}, {"t", LADLE_STRING, 2, {-1, 2}}};
static model_sig sig = {2, 2, ins, outs, 4, true};
static arena A;

static ladle_status dec(const char *body, size_t len, int64_t hl, v2_request *rq, errbuf *e) {
  v2_limits lim = {16, 1000};
  arena_reset(&A);
  return v2_decode(body, len, hl, &sig, &lim, &A, rq, e);
}

static ladle_status decs(const char *body, v2_request *rq, errbuf *e) { return dec(body, strlen(body), -1, rq, e); }

static bool has(const errbuf *e, const char *w) { return strstr(e->msg, w) != NULL; }

static void test_good(void) {
  v2_request rq;
  errbuf e;
  ladle_status st = decs("{\"id\":\"7\",\"inputs\":[{\"name\":\"s\",\"shape\":[1,2],\"datatype\":\"BYTES\",\"data\":[\"a\",\"\\u00e9\"]},"
                         "{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[[1,2.5,-3]]}],"
                         "\"outputs\":[{\"name\":\"t\"},{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}],"
                         "\"parameters\":{\"timeout\":250}}",
                         &rq, &e);
  CHECK(st == LADLE_OK);
  if (st) return;
  const float *x = rq.in[0].data;
  CHECK(rq.rows == 1 && rq.in[0].dims[1] == 3 && x[1] == 2.5f && x[2] == -3.0f);
  CHECK(!strcmp(((char **)rq.in[1].data)[1], "\xc3\xa9"));
  CHECK(rq.id_len == 1 && rq.timeout_us == 250 && rq.n_order == 2 && rq.order[0] == 1 && rq.binary[0] && !rq.binary[1]);
  /* encode: y binary, t JSON */
  ladle_tensor o[2] = {rq.in[0], rq.in[1]};
  dbuf b;
  dbuf_init(&b, 1 << 20);
  size_t jl = v2_encode(&rq, &sig, o, "m", "1", &b);
  CHECK(b.len == jl + 12);
  CHECK(memmem(b.p, jl, "\"binary_data_size\":12", 21) != NULL);
  const char *want = "\"data\":[\"a\",\"\xc3\xa9\"]";
  CHECK(memmem(b.p, jl, want, strlen(want)) != NULL);
  CHECK(memmem(b.p, jl, "\"id\":\"7\"", 8) != NULL);
  dbuf_destroy(&b);

  /* binary inputs */
  char body[512];
  const char *head = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":24}},"
                     "{\"name\":\"s\",\"shape\":[2,2],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":21}}]}";
  size_t hl = strlen(head), n = hl;
  memcpy(body, head, hl);
  float xv[6] = {1, 2, 3, 4, 5, 6};
  memcpy(body + n, xv, 24);
  n += 24;
  memcpy(body + n, "\1\0\0\0a\2\0\0\0bc\0\0\0\0\2\0\0\0de", 21);
  n += 21;
  st = dec(body, n, (int64_t)hl, &rq, &e);
  CHECK(st == LADLE_OK);
  if (!st) {
    CHECK(rq.rows == 2 && ((float *)rq.in[0].data)[5] == 6.0f);
    char **s = rq.in[1].data;
    CHECK(!strcmp(s[0], "a") && !strcmp(s[1], "bc") && !strcmp(s[2], "") && !strcmp(s[3], "de"));
  }
}

static void test_errors(void) {
  struct {
    const char *body;
    ladle_status st;
    const char *words;
  } cases[] = {
      {"{\"inputs\":[{\"name\":\"q\"}]}", LADLE_ERR_INVALID, "unknown input 'q': the model's inputs are 'x', 's'"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"INT8\",\"data\":[1,2,3]}]}", LADLE_ERR_DTYPE,
       "expected datatype FP32, got INT8"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}", LADLE_ERR_SHAPE,
       "expected shape [-1,3], got [1,4]"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[5,3],\"datatype\":\"FP32\",\"data\":[]}]}", LADLE_ERR_INVALID,
       "batch size 5 is larger than the model's max_batch_size 4"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2]}]}", LADLE_ERR_SHAPE,
       "needs 3 values, 'data' has 2"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,\"3\"]}]}", LADLE_ERR_INVALID,
       "element 2 of 'data' is a string"},
      {"{\"inputs\":[{\"name\":\"s\",\"shape\":[1,2],\"datatype\":\"BYTES\",\"data\":[1,\"a\"]}]}", LADLE_ERR_INVALID,
       "element 0 of 'data' is a number"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[400,400],\"datatype\":\"FP32\",\"data\":[]}]}", LADLE_ERR_LIMIT,
       "more than 1000 elements"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
       "{\"name\":\"s\",\"shape\":[2,2],\"datatype\":\"BYTES\",\"data\":[\"a\",\"b\",\"c\",\"d\"]}]}",
       LADLE_ERR_SHAPE, "inputs disagree on the batch size"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}", LADLE_ERR_INVALID,
       "missing input 's'"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
       "{\"name\":\"s\",\"shape\":[1,2],\"datatype\":\"BYTES\",\"data\":[\"a\",\"b\"]}],\"outputs\":[{\"name\":\"w\"}]}",
       LADLE_ERR_INVALID, "unknown output 'w': the model's outputs are 'y', 't'"},
      {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3,]}]}", LADLE_ERR_PARSE,
       "input 'x': 'data'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    v2_request rq;
    errbuf e = {{0}};
    ladle_status st = decs(cases[i].body, &rq, &e);
    CHECK(st == cases[i].st);
    CHECK(has(&e, cases[i].words));
    if (st != cases[i].st || !has(&e, cases[i].words)) fprintf(stderr, "  case %zu: %d %s\n", i, st, e.msg);
  }
  /* binary sizes */
  const char *head = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":8}},"
                     "{\"name\":\"s\",\"shape\":[1,2],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":4}}]}";
  char body[512];
  size_t hl = strlen(head);
  memcpy(body, head, hl);
  memset(body + hl, 0, 64);
  v2_request rq;
  errbuf e;
  CHECK(dec(body, hl + 12, (int64_t)hl, &rq, &e) == LADLE_ERR_SHAPE && has(&e, "binary_data_size is 8 bytes"));
  CHECK(dec(body, hl + 4, (int64_t)hl, &rq, &e) == LADLE_ERR_INVALID && has(&e, "goes past the end"));
  CHECK(dec(body, hl, (int64_t)hl + 1, &rq, &e) == LADLE_ERR_INVALID && has(&e, "larger than the body"));
}

int main(void) {
  arena_init(&A, 4096, 16 << 20);
  test_good();
  test_errors();
  arena_destroy(&A);
  return check_done("test_codec");
}

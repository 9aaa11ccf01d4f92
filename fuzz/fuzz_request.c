/* fuzz_request.c — libFuzzer target for ladle serve's request decoding: the HTTP head parser,
 * the chunked-body decoder, the JSON reader and the V2 inference decoder (JSON and binary
 * extension, every datatype, batching and non-batching signatures), and the response writer on
 * what was decoded. Any bytes must decode or fail with a status: never crash, leak, or read or
 * write out of bounds.
 *
 * The first byte picks the path; the next two give Inference-Header-Content-Length for the
 * binary paths. Links ladle_http, ladle_serving and ladle_runtime. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/codec.h"
#include "http/parse.h"
#include "serving/json.h"

static tensor_sig in_sig[] = {
    {"x", LADLE_FLOAT, 2, {-1, 3}},   {"ids", LADLE_INT64, 2, {-1, -1}}, {"s", LADLE_STRING, 2, {-1, 2}},
    {"b", LADLE_BOOL, 1, {-1}},       {"h", LADLE_FLOAT16, 2, {-1, 2}},  {"u8", LADLE_UINT8, 2, {-1, 2}},
    {"any", LADLE_DOUBLE, -1, {0}},
};
static tensor_sig out_sig[] = {{"y", LADLE_FLOAT, 2, {-1, 2}}, {"z", LADLE_STRING, 1, {-1}}};
static tensor_sig one_in[] = {{"x", LADLE_FLOAT, 2, {-1, -1}}};
static tensor_sig one_s[] = {{"s", LADLE_STRING, 1, {1}}};

static void decode(const char *body, size_t len, int64_t hl, const model_sig *sig) {
  arena a;
  errbuf e;
  v2_request rq;
  v2_limits lim = {32, 1 << 16};
  arena_init(&a, 4096, 64u << 20);
  if (v2_decode(body, len, hl, sig, &lim, &a, &rq, &e) == LADLE_OK) {
    /* answer with the decoded inputs as outputs, to run the writer over them */
    ladle_tensor outs[2];
    dbuf b;
    memset(outs, 0, sizeof outs);
    for (int i = 0; i < sig->n_in && i < 2 && i < sig->n_out; i++) outs[i] = rq.in[i];
    for (int i = 0; i < sig->n_out; i++)
      if (!outs[i].data) {
        outs[i].dtype = LADLE_FLOAT;
        outs[i].ndim = 0;
        outs[i].data = arena_calloc(&a, 8);
      }
    dbuf_init(&b, 1 << 24);
    v2_encode(&rq, sig, outs, "m", "1", &b);
    dbuf_destroy(&b);
  }
  arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const char *body = (const char *)data + 3;
  size_t len = size - 3;
  int64_t hl = (int64_t)(data[1] | (data[2] << 8));
  model_sig batched = {7, 2, in_sig, out_sig, 8, true};
  model_sig plain = {1, 1, one_in, out_sig, 0, false};
  model_sig strings = {1, 1, one_s, out_sig + 1, 0, false};
  switch (data[0] % 6) {
    case 0: decode(body, len, -1, &batched); break;
    case 1: decode(body, len, hl > (int64_t)len ? (int64_t)len : hl, &batched); break;
    case 2: decode(body, len, data[1] & 1 ? 0 : -1, &plain); break;
    case 3: decode(body, len, 0, &strings); break;
    case 4: {
      http_head h;
      size_t scan = 0;
      int code;
      errbuf e;
      if (http_parse_head(body, len, 4096, &scan, &h, &code, &e) == HEAD_OK && h.chunked) {
        char *copy = malloc(len - h.head_len + 1);
        chunk_state cs;
        memset(&cs, 0, sizeof cs);
        memcpy(copy, body + h.head_len, len - h.head_len);
        /* feed it in two pieces, as two reads would */
        size_t cut = (len - h.head_len) / 2;
        if (http_dechunk(copy, cut, 1 << 20, &cs, &e) == LADLE_OK && !cs.done)
          http_dechunk(copy, len - h.head_len, 1 << 20, &cs, &e);
        free(copy);
      }
      break;
    }
    default: {
      arena a;
      errbuf e;
      json *root;
      json_opts o = {64, "data"};
      arena_init(&a, 4096, 64u << 20);
      if (json_parse(body, len, &a, &o, &root, &e) == LADLE_OK) {
        const json *d = json_get(root, "data");
        if (d && d->type == JSON_RAW) {
          json_walk w;
          json_type k;
          const char *tok;
          size_t tn;
          json_walk_init(&w, d->s, d->len, 64);
          while (json_walk_next(&w, &k, &tok, &tn, &e) > 0) {
            float f;
            double x;
            int64_t i;
            if (k == JSON_NUMBER) {
              json_num_f32(tok, tn, &f);
              json_num_f64(tok, tn, &x);
              json_num_i64(tok, tn, &i);
            } else if (k == JSON_STRING) {
              json_raw_string(&a, tok, tn, NULL);
            } else if (k == JSON_OBJECT) {
              break;
            }
          }
        }
      }
      arena_destroy(&a);
    }
  }
  return 0;
}

/* codec.h — the V2 inference request decoder and response encoder (JSON and Triton's binary
 * tensor extension). Pure functions over bytes, a model signature and an arena, so the fuzz
 * target drives exactly what the server runs.
 *
 * A request body is JSON, or JSON followed by binary tensors when Inference-Header-Content-Length
 * gives the JSON's size (header_len >= 0); header_len 0 is Triton's raw binary request (the whole
 * body is the one input). Every failure is a status with a message naming the input or output and
 * what was expected versus what was sent. */
#ifndef LADLE_HTTP_CODEC_H
#define LADLE_HTTP_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "serving/arena.h"
#include "serving/dbuf.h"
#include "serving/model_config.h"

typedef struct v2_limits {
  int max_depth;        /* JSON nesting */
  int64_t max_elements; /* per input tensor */
} v2_limits;

typedef struct v2_request {
  const char *id; /* NULL when the request has none */
  size_t id_len;
  ladle_tensor *in; /* sig->n_in, model order */
  int64_t rows;     /* batch rows (dim 0) when the model batches, else 1 */
  bool *want;       /* sig->n_out */
  bool *binary;     /* sig->n_out: answer this output in binary */
  int *order;       /* output indices in answer order */
  int n_order;
  int64_t timeout_us; /* the `timeout` parameter; -1 when absent */
  bool any_binary;
} v2_request;

ladle_status v2_decode(const char *body, size_t len, int64_t header_len, const model_sig *sig,
                       const v2_limits *lim, arena *a, v2_request *rq, errbuf *e);

/* Writes the response for outputs outs (sig->n_out, data NULL where not wanted) into b.
 * Returns the JSON part's length; b->len is larger when binary outputs follow. */
size_t v2_encode(const v2_request *rq, const model_sig *sig, const ladle_tensor *outs,
                 const char *model, const char *version, dbuf *b);

/* Writes one tensor's elements as a flat JSON array (used by V1 too for nested output). */
void json_put_tensor_flat(dbuf *b, const ladle_tensor *t);
/* Writes elements [off, off + n) of t's flat data as JSON values separated by commas. */
void json_put_elements(dbuf *b, const ladle_tensor *t, int64_t off, int64_t n);

#endif

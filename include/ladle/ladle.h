/* ladle.h — the public C API of ladle's ONNX runtime.
 *
 * A program embeds the runtime the way programs embed ONNX Runtime:
 *
 *   ladle_model *m = NULL;
 *   if (ladle_model_load("model.onnx", NULL, &m, err, sizeof err) != LADLE_OK) ...
 *   ladle_session *s = ladle_session_new(m, 1);
 *   ladle_tensor in = { LADLE_FLOAT, 2, {1, 30}, data };
 *   const char *name = "input";
 *   if (ladle_session_run(s, 1, &name, &in) != LADLE_OK) puts(ladle_session_errmsg(s));
 *   const ladle_tensor *out = ladle_session_output(s, 0);
 *
 * A model is immutable once loaded and may be shared by any number of sessions (the weights
 * exist once). A session owns the buffers of one run and must be used by one thread at a time.
 */
#ifndef LADLE_H
#define LADLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LADLE_VERSION "0.1.0"

/* Status codes. Never renumbered; the names come from the same table (ladle_status_name). */
#define LADLE_STATUS_TABLE(X)                                  \
  X(LADLE_OK, 0, "ok")                                          \
  X(LADLE_ERR_NOMEM, 1, "out of memory")                        \
  X(LADLE_ERR_INVALID, 2, "invalid argument")                   \
  X(LADLE_ERR_PARSE, 3, "malformed input")                      \
  X(LADLE_ERR_UNSUPPORTED, 4, "unsupported")                    \
  X(LADLE_ERR_SHAPE, 5, "shape mismatch")                       \
  X(LADLE_ERR_DTYPE, 6, "data type mismatch")                   \
  X(LADLE_ERR_IO, 7, "i/o error")                               \
  X(LADLE_ERR_NOT_FOUND, 8, "not found")                        \
  X(LADLE_ERR_LIMIT, 9, "limit exceeded")                       \
  X(LADLE_ERR_INTERNAL, 10, "internal error")                   \
  X(LADLE_ERR_UNAVAILABLE, 11, "unavailable")                   \
  X(LADLE_ERR_TIMEOUT, 12, "timed out")

typedef enum {
#define LADLE_X_ENUM(name, num, text) name = num,
  LADLE_STATUS_TABLE(LADLE_X_ENUM)
#undef LADLE_X_ENUM
} ladle_status;

/* "LADLE_ERR_SHAPE" for LADLE_ERR_SHAPE, and a short English text. */
const char *ladle_status_name(ladle_status st);
const char *ladle_status_text(ladle_status st);

/* Element types: the values of ONNX's TensorProto.DataType. */
typedef enum {
  LADLE_UNDEFINED = 0,
  LADLE_FLOAT = 1,
  LADLE_UINT8 = 2,
  LADLE_INT8 = 3,
  LADLE_UINT16 = 4,
  LADLE_INT16 = 5,
  LADLE_INT32 = 6,
  LADLE_INT64 = 7,
  LADLE_STRING = 8,
  LADLE_BOOL = 9,
  LADLE_FLOAT16 = 10,
  LADLE_DOUBLE = 11,
  LADLE_UINT32 = 12,
  LADLE_UINT64 = 13,
  LADLE_BFLOAT16 = 16,
} ladle_dtype;

#define LADLE_MAX_DIMS 8

/* A dense, C-ordered tensor. For LADLE_STRING, data is an array of NUL-terminated char *. */
typedef struct ladle_tensor {
  int dtype;
  int ndim;
  int64_t dims[LADLE_MAX_DIMS];
  void *data;
} ladle_tensor;

typedef struct ladle_model ladle_model;
typedef struct ladle_session ladle_session;

typedef struct ladle_load_options {
  int optimize;     /* 1 (default when options are NULL): constant folding and fusions */
  int inspect_only; /* parse and check the graph without resolving kernels: the model cannot
                       run, but models with unsupported ops still load for `ladle inspect` */
} ladle_load_options;

/* Loads an ONNX file. On failure returns a status and writes a one-line reason to err. */
ladle_status ladle_model_load(const char *path, const ladle_load_options *opt, ladle_model **out,
                              char *err, size_t err_len);
/* Same, from bytes in memory (external data is refused: there is no folder to read it from). */
ladle_status ladle_model_load_buffer(const void *buf, size_t len, const ladle_load_options *opt,
                                     ladle_model **out, char *err, size_t err_len);
void ladle_model_free(ladle_model *m);

/* Graph inputs (initializers excluded) and outputs. Dims of -1 are symbolic; name it with
 * ladle_model_dim_name. */
int ladle_model_n_inputs(const ladle_model *m);
int ladle_model_n_outputs(const ladle_model *m);
const char *ladle_model_input_name(const ladle_model *m, int i);
const char *ladle_model_output_name(const ladle_model *m, int i);
/* Declared dtype and shape; ndim -1 when the model does not declare a shape. */
void ladle_model_input_info(const ladle_model *m, int i, int *dtype, int *ndim, int64_t *dims);
void ladle_model_output_info(const ladle_model *m, int i, int *dtype, int *ndim, int64_t *dims);
const char *ladle_model_input_dim_name(const ladle_model *m, int i, int d); /* NULL if none */
const char *ladle_model_output_dim_name(const ladle_model *m, int i, int d);

/* threads: intra-op threads for this session (>= 1). */
ladle_session *ladle_session_new(const ladle_model *m, int threads);
void ladle_session_free(ladle_session *s);

/* Memory limits for this session's runs; 0 turns a limit off. max_tensor_bytes bounds any one
 * tensor or kernel scratch buffer (default 4 GiB); max_run_bytes bounds everything a run holds
 * for intermediate values and scratch (default: none). A run past either fails with
 * LADLE_ERR_LIMIT naming the node; the session stays usable. */
void ladle_session_set_limits(ladle_session *s, uint64_t max_tensor_bytes, uint64_t max_run_bytes);

/* Runs the model. Inputs are matched by name; data is read, never kept past the call.
 * Outputs stay valid until the next run or ladle_session_free. */
ladle_status ladle_session_run(ladle_session *s, int n, const char *const *names,
                               const ladle_tensor *inputs);
int ladle_session_n_outputs(const ladle_session *s);
const ladle_tensor *ladle_session_output(const ladle_session *s, int i);
/* The detailed message of the last failure on this session. */
const char *ladle_session_errmsg(const ladle_session *s);

const char *ladle_dtype_name(int dtype);  /* "float32", "int64", ... */
size_t ladle_dtype_size(int dtype);       /* 0 for undefined; sizeof(char *) for strings */
int64_t ladle_tensor_numel(const ladle_tensor *t);

#ifdef __cplusplus
}
#endif
#endif

/* ml_common.h — what the ai.onnx.ml kernels (ml_linear.c, ml_tree.c, ml_misc.c) share: the
 * post transforms computed the way ONNX Runtime computes them (float, its logistic and its
 * erfinv approximation for PROBIT), attribute readers that accept both the float-list and the
 * opset-3 `*_as_tensor` spelling, input rows read as float or double whatever the input type,
 * and class labels (int64 or strings) written into an output tensor.
 *
 * The helpers live in ml_misc.c. */
#ifndef LADLE_RUNTIME_OPS_ML_COMMON_H
#define LADLE_RUNTIME_OPS_ML_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/op.h"

#define ML_DOMAIN "ai.onnx.ml"

typedef enum {
  ML_POST_NONE = 0,
  ML_POST_LOGISTIC,
  ML_POST_SOFTMAX,
  ML_POST_SOFTMAX_ZERO,
  ML_POST_PROBIT,
} ml_post;

/* post_transform attribute of n (default NONE); -1 and a message in e when it is unknown. */
int ml_post_parse(const node *n, errbuf *e);

float ml_logistic(float v);
float ml_probit(float v);
/* In place over v[0..len): SOFTMAX, SOFTMAX_ZERO (values within 1e-7 of zero are not
 * exponentiated), LOGISTIC and PROBIT element-wise, NONE leaves v alone. */
void ml_post_apply(ml_post p, float *v, int64_t len);

/* A real-valued list attribute: `name` (floats) or `name_as_tensor` (a float or double tensor).
 * *out is malloc'd (NULL with *len == 0 when the list is empty); *len is -1 when neither
 * attribute is present. Fails on a tensor of another type. */
ladle_status ml_attr_reals(const node *n, const char *name, double **out, int64_t *len,
                           errbuf *e);

/* Class labels: classlabels_strings or an int64 list (classlabels_int64s or classlabels_ints,
 * whichever the op names). n == 0 when neither is present. Points into the node's attributes. */
typedef struct ml_labels {
  int64_t n;
  const int64_t *ints; /* NULL when the labels are strings */
  char *const *strs;   /* NULL when the labels are int64 */
} ml_labels;

void ml_labels_get(const node *n, const char *ints_name, ml_labels *l);
/* Output dtype of a label tensor: LADLE_STRING for string labels, LADLE_INT64 otherwise. */
int ml_labels_dtype(const ml_labels *l);
/* Writes label k (or, with no labels, the index k itself / its decimal string) into element i
 * of y. Strings are strdup'd (the session frees them); false when that fails. */
bool ml_label_write(const ml_labels *l, ladle_tensor *y, int64_t i, int64_t k);
/* Writes an explicit string (strdup'd) into element i of a string tensor. */
bool ml_str_write(ladle_tensor *y, int64_t i, const char *s);

/* The common [N, F] view of a feature input: rank 1 is one row of F features, rank 2 is
 * N rows. Fails (with the message on c) for other ranks or unsupported element types:
 * float, double, int64 and int32 are accepted, as ONNX Runtime accepts them. */
ladle_status ml_rows(op_ctx *c, const ladle_tensor *x, int64_t *n, int64_t *f);
/* Row r of x (shaped [n, f]) converted into out[0..f) as float / as double. */
void ml_row_f32(const ladle_tensor *x, int64_t r, int64_t f, float *out);
void ml_row_f64(const ladle_tensor *x, int64_t r, int64_t f, double *out);

/* Tests: which tree walker runs: 0 the fastest that applies (default), 2 the general
 * node-by-node walker (the reference the fast one is compared with). */
void ml_tree_force_reference(int level);

/* Strings of an attribute list compared case-sensitively; -1 when s is not among names. */
int ml_str_index(const char *s, const char *const *names, int n);

#endif

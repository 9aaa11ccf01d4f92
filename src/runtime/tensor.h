/* tensor.h — helpers over ladle_tensor (include/ladle/ladle.h): element types, shapes,
 * broadcasting, float16, reading integer tensors whatever their width. */
#ifndef LADLE_RUNTIME_TENSOR_H
#define LADLE_RUNTIME_TENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ladle/ladle.h"

/* Product of dims[0..ndim) (1 for a scalar); -1 on overflow past 2^62 or a negative dim. */
int64_t shape_numel(int ndim, const int64_t *dims);
bool shape_equal(int na, const int64_t *a, int nb, const int64_t *b);
/* Multidirectional (numpy) broadcast of a and b into out; false when they don't broadcast. */
bool shape_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out);
/* "[2,3,-1]" into buf ("(any)" for ndim < 0: no declared shape); returns buf. */
char *shape_str(int ndim, const int64_t *dims, char *buf, size_t len);

/* Row-major strides of a shape, in elements. */
void shape_strides(int ndim, const int64_t *dims, int64_t *strides);
/* Strides for reading a tensor of shape (nin, din) broadcast to (nout, dout): 0 on broadcast
 * dims, aligned to the right. */
void shape_broadcast_strides(int nin, const int64_t *din, int nout, const int64_t *dout,
                             int64_t *strides);

bool dtype_is_float(int dtype);   /* float, double, float16, bfloat16 */
bool dtype_is_integer(int dtype); /* signed or unsigned integers (bool excluded) */
bool dtype_valid(int dtype);      /* one ladle can store */

/* Element i of an integer, bool or float tensor as int64 / double (for shape inputs etc.). */
int64_t tensor_get_i64(const ladle_tensor *t, int64_t i);
double tensor_get_f64(const ladle_tensor *t, int64_t i);
/* Writes v as element i, converting to t's dtype (integers and floats; strings excluded). */
void tensor_set_f64(ladle_tensor *t, int64_t i, double v);
size_t tensor_nbytes(const ladle_tensor *t);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);

#endif

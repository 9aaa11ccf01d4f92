/* datatype.h — element type names of the protocols: the V2 names ("FP32", "BYTES") and Triton's
 * model-configuration names ("TYPE_FP32", "TYPE_STRING"), mapped to ladle's (ONNX's) dtypes. */
#ifndef LADLE_SERVING_DATATYPE_H
#define LADLE_SERVING_DATATYPE_H

#include <stddef.h>

const char *v2_dtype_name(int dtype);              /* "FP32"; NULL for types V2 cannot name */
int v2_dtype_parse(const char *s, size_t n);       /* ladle dtype, or 0 (LADLE_UNDEFINED) */
const char *config_dtype_name(int dtype);          /* "TYPE_FP32" */
int config_dtype_parse(const char *s, size_t n);   /* accepts "TYPE_FP32" and "FP32" */
/* Bytes of one element in the binary protocol (0 for BYTES, whose elements vary). */
size_t v2_dtype_size(int dtype);

#endif

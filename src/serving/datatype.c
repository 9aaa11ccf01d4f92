/* datatype.c — V2 / Triton datatype names. */
#include "serving/datatype.h"

#include <string.h>

#include "ladle/ladle.h"

typedef struct dtype_row {
  int dtype;
  const char *v2;
  const char *config;
  size_t size;
} dtype_row;

static const dtype_row rows[] = {
    {LADLE_BOOL, "BOOL", "TYPE_BOOL", 1},       {LADLE_UINT8, "UINT8", "TYPE_UINT8", 1},
    {LADLE_UINT16, "UINT16", "TYPE_UINT16", 2}, {LADLE_UINT32, "UINT32", "TYPE_UINT32", 4},
    {LADLE_UINT64, "UINT64", "TYPE_UINT64", 8}, {LADLE_INT8, "INT8", "TYPE_INT8", 1},
    {LADLE_INT16, "INT16", "TYPE_INT16", 2},    {LADLE_INT32, "INT32", "TYPE_INT32", 4},
    {LADLE_INT64, "INT64", "TYPE_INT64", 8},    {LADLE_FLOAT16, "FP16", "TYPE_FP16", 2},
    {LADLE_FLOAT, "FP32", "TYPE_FP32", 4},      {LADLE_DOUBLE, "FP64", "TYPE_FP64", 8},
    {LADLE_STRING, "BYTES", "TYPE_STRING", 0},  {LADLE_BFLOAT16, "BF16", "TYPE_BF16", 2},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static const dtype_row *find(int dtype) {
  for (size_t i = 0; i < N_ROWS; i++)
    if (rows[i].dtype == dtype) return &rows[i];
  return NULL;
}

const char *v2_dtype_name(int dtype) {
  const dtype_row *r = find(dtype);
  return r ? r->v2 : NULL;
}

const char *config_dtype_name(int dtype) {
  const dtype_row *r = find(dtype);
  return r ? r->config : "TYPE_INVALID";
}

size_t v2_dtype_size(int dtype) {
  const dtype_row *r = find(dtype);
  return r ? r->size : 0;
}

int v2_dtype_parse(const char *s, size_t n) {
  for (size_t i = 0; i < N_ROWS; i++)
    if (strlen(rows[i].v2) == n && !memcmp(rows[i].v2, s, n)) return rows[i].dtype;
  return 0;
}

int config_dtype_parse(const char *s, size_t n) {
  for (size_t i = 0; i < N_ROWS; i++)
    if (strlen(rows[i].config) == n && !memcmp(rows[i].config, s, n)) return rows[i].dtype;
  return v2_dtype_parse(s, n);
}

/* cast.c — Cast and CastLike between every numeric type, bool and string.
 *
 * Numbers convert a block at a time through int64 (integer and bool sources) or double (float
 * sources), so the matrix of types is two switches instead of a loop per pair. Conversions C
 * leaves undefined are defined here: a float out of an integer type's range saturates through
 * int64 and then wraps to the width (NaN gives 0), integers wrap like a C cast.
 *
 * float → bfloat16 truncates the low 16 bits: that is what ONNX's reference does in the test
 * data this runtime is checked against (onnx 1.12), rather than rounding to nearest.
 * Numbers print the way numpy's astype(str) prints them: the shortest digits that read back to
 * the same value, positional between 1e-4 and 1e16, scientific outside. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "runtime/ops/ew_common.h"

#define BLOCK 256

static bool is_numeric(int dt) { return dtype_is_float(dt) || dtype_is_integer(dt) || dt == LADLE_BOOL; }

static uint16_t f32_to_bf16_trunc(float f) {
  uint32_t u = ew_f2u(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* keep NaN a NaN */
  return (uint16_t)(u >> 16);
}

/* Loads src[off, off+m) into ib (integer sources) or db (float sources). */
static void load_block(int dt, const void *src, int64_t off, int64_t m, int64_t *ib, double *db) {
#define LD(T, BUF, CONV)                                 \
  do {                                                   \
    const T *s = (const T *)src + off;                   \
    for (int64_t i = 0; i < m; i++) BUF[i] = CONV(s[i]); \
  } while (0)
#define AS_I64(v) ((int64_t)(v))
#define AS_BOOL(v) ((int64_t)((v) != 0))
  switch (dt) {
    case LADLE_FLOAT: LD(float, db, (double)); break;
    case LADLE_DOUBLE: LD(double, db, EW_ID); break;
    case LADLE_FLOAT16: LD(uint16_t, db, (double)half_to_float); break;
    case LADLE_BFLOAT16: LD(uint16_t, db, (double)bfloat16_to_float); break;
    case LADLE_INT8: LD(int8_t, ib, AS_I64); break;
    case LADLE_INT16: LD(int16_t, ib, AS_I64); break;
    case LADLE_INT32: LD(int32_t, ib, AS_I64); break;
    case LADLE_INT64: LD(int64_t, ib, AS_I64); break;
    case LADLE_UINT8: LD(uint8_t, ib, AS_I64); break;
    case LADLE_UINT16: LD(uint16_t, ib, AS_I64); break;
    case LADLE_UINT32: LD(uint32_t, ib, AS_I64); break;
    case LADLE_UINT64: LD(uint64_t, ib, AS_I64); break; /* wraps; the store knows */
    case LADLE_BOOL: LD(uint8_t, ib, AS_BOOL); break;
    default: break;
  }
#undef LD
}

/* Stores m converted values at dst[off...]. from_float: the block is in db, else in ib; u64:
 * ib holds uint64 bit patterns. */
static void store_block(int dt, void *dst, int64_t off, int64_t m, const int64_t *ib,
                        const double *db, bool from_float, bool u64) {
#define ST(T, FCONV, ICONV, UCONV)                                      \
  do {                                                                  \
    T *d = (T *)dst + off;                                              \
    if (from_float)                                                     \
      for (int64_t i = 0; i < m; i++) d[i] = FCONV(db[i]);              \
    else if (u64)                                                       \
      for (int64_t i = 0; i < m; i++) d[i] = UCONV((uint64_t)ib[i]);    \
    else                                                                \
      for (int64_t i = 0; i < m; i++) d[i] = ICONV(ib[i]);              \
  } while (0)
#define F2I(v) ew_f64_to_i64(v)
#define F2U(v) ew_f64_to_u64(v)
#define F2B(v) ((uint8_t)((v) != 0))
#define TO_F(v) ((float)(v))
#define TO_D(v) ((double)(v))
#define TO_H(v) float_to_half((float)(v))
#define TO_BF(v) f32_to_bf16_trunc((float)(v))
  switch (dt) {
    case LADLE_FLOAT: ST(float, TO_F, TO_F, TO_F); break;
    case LADLE_DOUBLE: ST(double, TO_D, TO_D, TO_D); break;
    case LADLE_FLOAT16: ST(uint16_t, TO_H, TO_H, TO_H); break;
    case LADLE_BFLOAT16: ST(uint16_t, TO_BF, TO_BF, TO_BF); break;
    case LADLE_INT8: ST(int8_t, (int8_t)F2I, (int8_t), (int8_t)); break;
    case LADLE_INT16: ST(int16_t, (int16_t)F2I, (int16_t), (int16_t)); break;
    case LADLE_INT32: ST(int32_t, (int32_t)F2I, (int32_t), (int32_t)); break;
    case LADLE_INT64: ST(int64_t, F2I, EW_ID, (int64_t)); break;
    case LADLE_UINT8: ST(uint8_t, (uint8_t)F2I, (uint8_t), (uint8_t)); break;
    case LADLE_UINT16: ST(uint16_t, (uint16_t)F2I, (uint16_t), (uint16_t)); break;
    case LADLE_UINT32: ST(uint32_t, (uint32_t)F2I, (uint32_t), (uint32_t)); break;
    case LADLE_UINT64: ST(uint64_t, F2U, (uint64_t), EW_ID); break;
    case LADLE_BOOL: ST(uint8_t, F2B, F2B, F2B); break;
    default: break;
  }
#undef ST
}

typedef struct cast_job {
  int from, to;
  const void *x;
  void *y;
} cast_job;

static void cast_range(const void *ctx, int64_t lo, int64_t hi) {
  const cast_job *j = ctx;
  int64_t ib[BLOCK];
  double db[BLOCK];
  bool from_float = dtype_is_float(j->from), u64 = j->from == LADLE_UINT64;
  for (int64_t off = lo; off < hi; off += BLOCK) {
    int64_t m = hi - off < BLOCK ? hi - off : BLOCK;
    load_block(j->from, j->x, off, m, ib, db);
    store_block(j->to, j->y, off, m, ib, db, from_float, u64);
  }
}

/* --- numbers to strings ------------------------------------------------------------------- */

/* Whether the decimal text buf reads back to v stored as dt. */
static bool reads_back(const char *buf, double v, int dt) {
  switch (dt) {
    case LADLE_DOUBLE: return strtod(buf, NULL) == v;
    case LADLE_FLOAT16: return float_to_half(strtof(buf, NULL)) == float_to_half((float)v);
    case LADLE_BFLOAT16: return float_to_bfloat16(strtof(buf, NULL)) == float_to_bfloat16((float)v);
    default: return strtof(buf, NULL) == (float)v;
  }
}

/* The shortest %e text of v (a value of float type dt) that reads back to v. */
static void shortest(double v, int dt, char *buf, size_t len) {
  int most = dt == LADLE_DOUBLE ? 17 : 9;
  for (int p = 1; p <= most; p++) {
    snprintf(buf, len, "%.*e", p - 1, v);
    if (reads_back(buf, v, dt)) return;
  }
}

/* numpy's str() of a float value. */
static void format_float(double v, int dt, char *out, size_t len) {
  if (v != v) {
    snprintf(out, len, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(out, len, v < 0 ? "-inf" : "inf");
    return;
  }
  if (v == 0) {
    snprintf(out, len, signbit(v) ? "-0.0" : "0.0");
    return;
  }
  char e[48], digits[24];
  shortest(v, dt, e, sizeof e);
  /* e is [-]d[.ddd]e±XX: collect the digits and the exponent */
  const char *p = e;
  bool neg = *p == '-';
  if (neg) p++;
  size_t nd = 0;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1) digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  int exp10 = *p == 'e' ? atoi(p + 1) : 0;
  double a = fabs(v);
  size_t o = 0;
#define PUT(ch) \
  do {          \
    if (o + 1 < len) out[o++] = (ch); \
  } while (0)
  if (neg) PUT('-');
  if (a >= 1e-4 && a < 1e16) {
    if (exp10 >= 0) {
      for (int i = 0; i <= exp10; i++) PUT(i < (int)nd ? digits[i] : '0');
      PUT('.');
      if ((int)nd > exp10 + 1) {
        for (int i = exp10 + 1; i < (int)nd; i++) PUT(digits[i]);
      } else {
        PUT('0');
      }
    } else {
      PUT('0');
      PUT('.');
      for (int i = 0; i < -exp10 - 1; i++) PUT('0');
      for (size_t i = 0; i < nd; i++) PUT(digits[i]);
    }
    out[o] = '\0';
  } else {
    PUT(digits[0]);
    if (nd > 1) {
      PUT('.');
      for (size_t i = 1; i < nd; i++) PUT(digits[i]);
    }
    out[o] = '\0';
    snprintf(out + o, len - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  }
#undef PUT
}

static ladle_status to_string(op_ctx *c, const ladle_tensor *x, ladle_tensor *y) {
  char buf[64];
  char **out = y->data;
  int64_t n = ew_numel(x);
  for (int64_t i = 0; i < n; i++) {
    if (x->dtype == LADLE_BOOL) snprintf(buf, sizeof buf, "%s", ((const uint8_t *)x->data)[i] ? "True" : "False");
    else if (dtype_is_float(x->dtype)) format_float(tensor_get_f64(x, i), x->dtype, buf, sizeof buf);
    else if (x->dtype == LADLE_UINT64) snprintf(buf, sizeof buf, "%llu", (unsigned long long)((const uint64_t *)x->data)[i]);
    else snprintf(buf, sizeof buf, "%lld", (long long)tensor_get_i64(x, i));
    const char *src = buf;
    if (!ew_copy(LADLE_STRING, &src, &out[i], 1)) return op_fail(c, LADLE_ERR_NOMEM, "out of memory");
  }
  return LADLE_OK;
}

/* --- strings to numbers ------------------------------------------------------------------- */

static ladle_status from_string(op_ctx *c, const ladle_tensor *x, ladle_tensor *y) {
  char *const *in = x->data;
  int64_t n = ew_numel(x);
  for (int64_t i = 0; i < n; i++) {
    const char *s = in[i] ? in[i] : "";
    char *end = NULL;
    int64_t iv = 0;
    double dv = 0;
    bool is_int = false;
    while (*s == ' ' || *s == '\t') s++;
    if (y->dtype == LADLE_BOOL && (!strcasecmp(s, "true") || !strcasecmp(s, "false"))) {
      ((uint8_t *)y->data)[i] = (s[0] | 0x20) == 't';
      continue;
    }
    if (!dtype_is_float(y->dtype)) { /* integers read exactly when written as integers */
      errno = 0;
      iv = strtoll(s, &end, 10);
      is_int = end != s && *end == '\0' && errno == 0;
      if (y->dtype == LADLE_UINT64 && !is_int) {
        errno = 0;
        iv = (int64_t)strtoull(s, &end, 10);
        is_int = end != s && *end == '\0' && errno == 0 && s[0] != '-';
      }
    }
    if (!is_int) {
      dv = strtod(s, &end);
      while (end && (*end == ' ' || *end == '\t' || *end == '\n')) end++;
      if (end == s || *end != '\0')
        return op_fail(c, LADLE_ERR_INVALID, "element %lld: '%.40s' is not a number", (long long)i, s);
    }
    store_block(y->dtype, y->data, i, 1, &iv, &dv, !is_int, is_int && y->dtype == LADLE_UINT64);
  }
  return LADLE_OK;
}

/* --- the ops ------------------------------------------------------------------------------ */

static ladle_status cast_to(op_ctx *c, int to) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 0");
  if (to != LADLE_STRING && !is_numeric(to))
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "cannot cast to type %d", to);
  if (x->dtype != LADLE_STRING && !is_numeric(x->dtype))
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "cannot cast from %s", ladle_dtype_name(x->dtype));
  if ((st = op_out(c, 0, to, x->ndim, x->dims, &y))) return st;
  int64_t n = ew_numel(x);
  if (x->dtype == to) {
    if (!ew_copy(to, x->data, y->data, n)) return op_fail(c, LADLE_ERR_NOMEM, "out of memory");
    return LADLE_OK;
  }
  if (to == LADLE_STRING) return to_string(c, x, y);
  if (x->dtype == LADLE_STRING) return from_string(c, x, y);
  cast_job job = {x->dtype, to, x->data, y->data};
  ew_parallel(c, n, cast_range, &job);
  return LADLE_OK;
}

/* Opset 1-5 name the target type with a string ("FLOAT", "INT64", ...). */
static int dtype_by_name(const char *s) {
  static const struct {
    const char *name;
    int dtype;
  } names[] = {{"FLOAT", LADLE_FLOAT},   {"UINT8", LADLE_UINT8},   {"INT8", LADLE_INT8},
               {"UINT16", LADLE_UINT16}, {"INT16", LADLE_INT16},   {"INT32", LADLE_INT32},
               {"INT64", LADLE_INT64},   {"STRING", LADLE_STRING}, {"BOOL", LADLE_BOOL},
               {"FLOAT16", LADLE_FLOAT16}, {"DOUBLE", LADLE_DOUBLE}, {"UINT32", LADLE_UINT32},
               {"UINT64", LADLE_UINT64}, {"BFLOAT16", LADLE_BFLOAT16}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(s, names[i].name) == 0) return names[i].dtype;
  return 0;
}

static ladle_status run_cast(op_ctx *c) {
  const attr *a = node_attr(op_node(c), "to");
  if (a && a->type == ATTR_STRING) {
    int dt = dtype_by_name(a->s);
    if (!dt) return op_fail(c, LADLE_ERR_UNSUPPORTED, "cannot cast to type '%s'", a->s);
    return cast_to(c, dt);
  }
  if (!a || a->type != ATTR_INT) return op_fail(c, LADLE_ERR_INVALID, "Cast needs an int attribute 'to'");
  if (a->i <= 0 || a->i >= 64) return op_fail(c, LADLE_ERR_UNSUPPORTED, "cannot cast to type %lld", (long long)a->i);
  return cast_to(c, (int)a->i);
}

static ladle_status run_cast_like(op_ctx *c) {
  const ladle_tensor *t = op_in(c, 1);
  if (!t) return op_fail(c, LADLE_ERR_INVALID, "CastLike needs target_type (input 1)");
  return cast_to(c, t->dtype);
}

const op_def ops_cast[] = {
    {"", "Cast", 1, 99, run_cast, NULL, NULL},
    {"", "CastLike", 15, 99, run_cast_like, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

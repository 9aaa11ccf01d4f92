/* logic.c — comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual → bool), the
 * boolean ops (And, Or, Xor, Not) and Where, all with numpy broadcasting. */
#include <stdatomic.h>
#include <stdlib.h>

#include "runtime/ops/ew_common.h"

/* A comparison row: operands of type T (computed in CT), result bool (uint8). */
#define CMP_LOOP(name, T, CT, LD, EXPR)                                             \
  static void name(const void *pa, const void *pb, void *py, int64_t n, int mode) { \
    const T *a = pa, *b = pb;                                                       \
    uint8_t *y = py;                                                                \
    if (mode == EW_VV) {                                                            \
      for (int64_t i = 0; i < n; i++) {                                             \
        CT x0 = LD(a[i]), x1 = LD(b[i]);                                            \
        y[i] = (EXPR);                                                              \
      }                                                                             \
    } else if (mode == EW_VS) {                                                     \
      CT x1 = LD(b[0]);                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        CT x0 = LD(a[i]);                                                           \
        y[i] = (EXPR);                                                              \
      }                                                                             \
    } else {                                                                        \
      CT x0 = LD(a[0]);                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        CT x1 = LD(b[i]);                                                           \
        y[i] = (EXPR);                                                              \
      }                                                                             \
    }                                                                               \
  }

#define CMP_OP(op, EXPR)                                                                  \
  CMP_LOOP(op##_f32, float, float, EW_ID, EXPR)                                           \
  CMP_LOOP(op##_f64, double, double, EW_ID, EXPR)                                         \
  CMP_LOOP(op##_f16, uint16_t, float, half_to_float, EXPR)                                \
  CMP_LOOP(op##_bf16, uint16_t, float, bfloat16_to_float, EXPR)                           \
  CMP_LOOP(op##_i8, int8_t, int8_t, EW_ID, EXPR)                                          \
  CMP_LOOP(op##_i16, int16_t, int16_t, EW_ID, EXPR)                                       \
  CMP_LOOP(op##_i32, int32_t, int32_t, EW_ID, EXPR)                                       \
  CMP_LOOP(op##_i64, int64_t, int64_t, EW_ID, EXPR)                                       \
  CMP_LOOP(op##_u8, uint8_t, uint8_t, EW_ID, EXPR)                                        \
  CMP_LOOP(op##_u16, uint16_t, uint16_t, EW_ID, EXPR)                                     \
  CMP_LOOP(op##_u32, uint32_t, uint32_t, EW_ID, EXPR)                                     \
  CMP_LOOP(op##_u64, uint64_t, uint64_t, EW_ID, EXPR)                                     \
  static const ew_bin_fn op##_fns[EW_NTYPES] = {EW_TBL_ALL(op), [LADLE_BOOL] = op##_u8};

CMP_OP(eq, x0 == x1)
CMP_OP(lt, x0 < x1)
CMP_OP(gt, x0 > x1)
CMP_OP(le, x0 <= x1)
CMP_OP(ge, x0 >= x1)

/* Bool inputs are bytes that may hold any non-zero value for true. */
CMP_LOOP(and_b, uint8_t, uint8_t, EW_ID, (x0 != 0) & (x1 != 0))
CMP_LOOP(or_b, uint8_t, uint8_t, EW_ID, (x0 != 0) | (x1 != 0))
CMP_LOOP(xor_b, uint8_t, uint8_t, EW_ID, (x0 != 0) ^ (x1 != 0))
static const ew_bin_fn and_fns[EW_NTYPES] = {[LADLE_BOOL] = and_b};
static const ew_bin_fn or_fns[EW_NTYPES] = {[LADLE_BOOL] = or_b};
static const ew_bin_fn xor_fns[EW_NTYPES] = {[LADLE_BOOL] = xor_b};

/* Applies tbl to inputs 0 and 1 (same dtype), output bool of the broadcast shape; legacy:
 * opset 1-6 broadcasting attributes. */
static ladle_status compare(op_ctx *c, const ew_bin_fn *tbl, bool legacy) {
  const ladle_tensor *a = op_in(c, 0), *b0 = op_in(c, 1);
  ladle_tensor *y = NULL, bb;
  const ladle_tensor *b = &bb;
  int nd;
  int64_t dims[LADLE_MAX_DIMS];
  ladle_status st;
  if (!a || !b0) return op_fail(c, LADLE_ERR_INVALID, "needs two inputs");
  bb = *b0;
  if (legacy && (st = ew_legacy_bcast(c, a, &bb))) return st;
  if (a->dtype != b->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "inputs have different types (%s and %s)",
                   ladle_dtype_name(a->dtype), ladle_dtype_name(b->dtype));
  ew_bin_fn fn = tbl[ew_slot(a->dtype)];
  if (!fn)
    return op_fail(c, LADLE_ERR_DTYPE, "%s does not take %s", op_node(c)->op_type,
                   ladle_dtype_name(a->dtype));
  const ladle_tensor *in[2] = {a, b};
  if ((st = ew_bcast_shape(c, 2, in, &nd, dims))) return st;
  if ((st = op_out(c, 0, LADLE_BOOL, nd, dims, &y))) return st;
  ew_binary(c, a, b, y, fn);
  return LADLE_OK;
}

static ladle_status run_equal(op_ctx *c) { return compare(c, eq_fns, false); }
static ladle_status run_equal_v1(op_ctx *c) { return compare(c, eq_fns, true); }
static ladle_status run_less(op_ctx *c) { return compare(c, lt_fns, false); }
static ladle_status run_less_v1(op_ctx *c) { return compare(c, lt_fns, true); }
static ladle_status run_greater(op_ctx *c) { return compare(c, gt_fns, false); }
static ladle_status run_greater_v1(op_ctx *c) { return compare(c, gt_fns, true); }
static ladle_status run_less_equal(op_ctx *c) { return compare(c, le_fns, false); }
static ladle_status run_greater_equal(op_ctx *c) { return compare(c, ge_fns, false); }
static ladle_status run_and(op_ctx *c) { return compare(c, and_fns, false); }
static ladle_status run_and_v1(op_ctx *c) { return compare(c, and_fns, true); }
static ladle_status run_or(op_ctx *c) { return compare(c, or_fns, false); }
static ladle_status run_or_v1(op_ctx *c) { return compare(c, or_fns, true); }
static ladle_status run_xor(op_ctx *c) { return compare(c, xor_fns, false); }
static ladle_status run_xor_v1(op_ctx *c) { return compare(c, xor_fns, true); }

EW_MAP_LOOP(not_b, uint8_t, uint8_t, uint8_t, EW_ID, v == 0)
static const ew_map_fn not_fns[EW_NTYPES] = {[LADLE_BOOL] = not_b};
static ladle_status run_not(op_ctx *c) { return ew_map(c, not_fns, 0, NULL); }

/* --- Where(cond, x, y) -------------------------------------------------------------------- */

typedef struct where_ctx {
  size_t esz;
  bool strings;
  atomic_bool oom; /* a string copy failed */
} where_ctx;

/* Element-size specialised selects; strides are 0 or 1. */
#define WHERE_LOOP(T)                                                                  \
  do {                                                                                 \
    const T *x = (const T *)in[1], *z = (const T *)in[2];                              \
    T *y = (T *)out;                                                                   \
    for (int64_t i = 0; i < n; i++) y[i] = cond[i * sc] ? x[i * sx] : z[i * sz];      \
  } while (0)

static void where_row(const void *ctx, const char *const *in, const int64_t *stride, char *out,
                      int64_t n) {
  where_ctx *w = (where_ctx *)ctx;
  const uint8_t *cond = (const uint8_t *)in[0];
  int64_t sc = stride[0], sx = stride[1], sz = stride[2];
  if (w->strings) {
    char *const *x = (char *const *)in[1], *const *z = (char *const *)in[2];
    char **y = (char **)out;
    for (int64_t i = 0; i < n; i++) {
      const char *src = cond[i * sc] ? x[i * sx] : z[i * sz];
      if (!ew_copy(LADLE_STRING, &src, &y[i], 1)) atomic_store(&w->oom, true);
    }
    return;
  }
  switch (w->esz) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
  }
}

static ladle_status run_where(op_ctx *c) {
  const ladle_tensor *in[3] = {op_in(c, 0), op_in(c, 1), op_in(c, 2)};
  ladle_tensor *y = NULL;
  int nd;
  int64_t dims[LADLE_MAX_DIMS];
  ladle_status st;
  if (!in[0] || !in[1] || !in[2]) return op_fail(c, LADLE_ERR_INVALID, "needs condition, X and Y");
  if (in[0]->dtype != LADLE_BOOL)
    return op_fail(c, LADLE_ERR_DTYPE, "condition must be bool, got %s", ladle_dtype_name(in[0]->dtype));
  if (in[1]->dtype != in[2]->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "X is %s, Y %s", ladle_dtype_name(in[1]->dtype),
                   ladle_dtype_name(in[2]->dtype));
  size_t esz = ladle_dtype_size(in[1]->dtype);
  if (esz != 1 && esz != 2 && esz != 4 && esz != 8)
    return op_fail(c, LADLE_ERR_DTYPE, "Where does not take %s", ladle_dtype_name(in[1]->dtype));
  if ((st = ew_bcast_shape(c, 3, in, &nd, dims))) return st;
  if ((st = op_out(c, 0, in[1]->dtype, nd, dims, &y))) return st;
  where_ctx w = {esz, in[1]->dtype == LADLE_STRING, false};
  ew_nary(c, 3, in, y, where_row, &w);
  if (atomic_load(&w.oom)) return op_fail(c, LADLE_ERR_NOMEM, "out of memory copying strings");
  return LADLE_OK;
}

const op_def ops_logic[] = {
    {"", "Equal", 1, 6, run_equal_v1, NULL, NULL},
    {"", "Equal", 7, 99, run_equal, NULL, NULL},
    {"", "Less", 1, 6, run_less_v1, NULL, NULL},
    {"", "Less", 7, 99, run_less, NULL, NULL},
    {"", "Greater", 1, 6, run_greater_v1, NULL, NULL},
    {"", "Greater", 7, 99, run_greater, NULL, NULL},
    {"", "LessOrEqual", 12, 99, run_less_equal, NULL, NULL},
    {"", "GreaterOrEqual", 12, 99, run_greater_equal, NULL, NULL},
    {"", "And", 1, 6, run_and_v1, NULL, NULL},
    {"", "And", 7, 99, run_and, NULL, NULL},
    {"", "Or", 1, 6, run_or_v1, NULL, NULL},
    {"", "Or", 7, 99, run_or, NULL, NULL},
    {"", "Xor", 1, 6, run_xor_v1, NULL, NULL},
    {"", "Xor", 7, 99, run_xor, NULL, NULL},
    {"", "Not", 1, 99, run_not, NULL, NULL},
    {"", "Where", 9, 99, run_where, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

/* elementwise.c — the broadcast engine shared by the elementwise family (see ew_common.h),
 * binary arithmetic (Add … Pow, Mod, Max/Min, BitShift, Bitwise*), the variadic ops (Sum,
 * Mean, Max, Min), unary math, IsNaN/IsInf, Identity and inference-mode Dropout.
 *
 * Kernels are generated per dtype from one expression each; integer arithmetic runs in
 * unsigned types so that overflow wraps instead of being undefined, and integer division or
 * remainder by zero gives 0 (numpy's result) instead of a trap. */
#include <stdlib.h>

#include "runtime/ops/ew_common.h"

/* --- broadcast engine --------------------------------------------------------------------- */

typedef struct plan {
  int k;  /* inputs */
  int nd; /* collapsed rank, >= 1 */
  int64_t dims[LADLE_MAX_DIMS];
  int64_t st[EW_MAX_IN][LADLE_MAX_DIMS]; /* element strides of each input over dims */
  int64_t numel;
} plan;

ladle_status ew_bcast_shape(op_ctx *c, int n, const ladle_tensor *const *in, int *ndim,
                            int64_t *dims) {
  int nd = 0;
  int64_t d[LADLE_MAX_DIMS];
  for (int j = 0; j < n; j++) {
    if (!in[j]) continue;
    int64_t tmp[LADLE_MAX_DIMS];
    int nt = 0;
    if (!shape_broadcast(nd, d, in[j]->ndim, in[j]->dims, &nt, tmp)) {
      char a[128], b[128];
      return op_fail(c, LADLE_ERR_SHAPE, "input %d of shape %s does not broadcast with %s", j,
                     shape_str(in[j]->ndim, in[j]->dims, a, sizeof a), shape_str(nd, d, b, sizeof b));
    }
    nd = nt;
    memcpy(d, tmp, sizeof(int64_t) * (size_t)nd);
  }
  *ndim = nd;
  if (nd) memcpy(dims, d, sizeof(int64_t) * (size_t)nd);
  return LADLE_OK;
}

/* Strides of each input over y's shape, with size-1 dims dropped and contiguous runs merged. */
static void plan_build(plan *p, int k, const ladle_tensor *const *in, const ladle_tensor *y) {
  int64_t full[EW_MAX_IN][LADLE_MAX_DIMS];
  for (int j = 0; j < k; j++)
    shape_broadcast_strides(in[j]->ndim, in[j]->dims, y->ndim, y->dims, full[j]);
  p->k = k;
  p->nd = 0;
  p->numel = ew_numel(y);
  for (int d = 0; d < y->ndim; d++) {
    if (y->dims[d] == 1) continue;
    int nd = p->nd;
    bool merge = nd > 0;
    for (int j = 0; j < k && merge; j++)
      merge = p->st[j][nd - 1] == full[j][d] * y->dims[d];
    if (merge) {
      p->dims[nd - 1] *= y->dims[d];
      for (int j = 0; j < k; j++) p->st[j][nd - 1] = full[j][d];
    } else {
      p->dims[nd] = y->dims[d];
      for (int j = 0; j < k; j++) p->st[j][nd] = full[j][d];
      p->nd++;
    }
  }
  if (p->nd == 0) { /* every dim is 1: one element */
    p->nd = 1;
    p->dims[0] = 1;
    for (int j = 0; j < k; j++) p->st[j][0] = 0;
  }
}

typedef struct nary_job {
  const plan *p;
  const char *base[EW_MAX_IN];
  size_t esz[EW_MAX_IN];
  char *out;
  size_t osz;
  ew_row_fn row;
  const void *ctx;
  int64_t tasks;
} nary_job;

/* Runs the rows covering output elements [lo, hi). */
static void nary_range(const nary_job *job, int64_t lo, int64_t hi) {
  const plan *p = job->p;
  int nd = p->nd, k = p->k;
  int64_t coord[LADLE_MAX_DIMS], off[EW_MAX_IN] = {0}, inner[EW_MAX_IN];
  int64_t rem = lo, len = p->dims[nd - 1];
  for (int d = nd - 1; d >= 0; d--) { /* lo's coordinates (no division for the first task) */
    coord[d] = rem == 0 ? 0 : rem % p->dims[d];
    rem = rem == 0 ? 0 : rem / p->dims[d];
    for (int j = 0; j < k; j++) off[j] += coord[d] * p->st[j][d];
  }
  for (int j = 0; j < k; j++) inner[j] = p->st[j][nd - 1];
  for (int64_t pos = lo; pos < hi;) {
    int64_t n = len - coord[nd - 1];
    if (n > hi - pos) n = hi - pos;
    const char *ptr[EW_MAX_IN];
    for (int j = 0; j < k; j++) ptr[j] = job->base[j] + (size_t)off[j] * job->esz[j];
    job->row(job->ctx, ptr, inner, job->out + (size_t)pos * job->osz, n);
    pos += n;
    coord[nd - 1] += n;
    for (int j = 0; j < k; j++) off[j] += n * inner[j];
    if (coord[nd - 1] < len) continue;
    for (int j = 0; j < k; j++) off[j] -= len * inner[j];
    coord[nd - 1] = 0;
    for (int d = nd - 2; d >= 0; d--) { /* carry */
      coord[d]++;
      for (int j = 0; j < k; j++) off[j] += p->st[j][d];
      if (coord[d] < p->dims[d]) break;
      for (int j = 0; j < k; j++) off[j] -= p->dims[d] * p->st[j][d];
      coord[d] = 0;
    }
  }
}

/* Task count for n elements: 1 below EW_PAR_MIN, else up to one per thread. */
static int64_t task_count(const op_ctx *c, int64_t n) {
  int64_t t = op_threads(c);
  if (n < EW_PAR_MIN || t <= 1) return 1;
  int64_t most = n / (EW_PAR_MIN / 2);
  return t < most ? t : most;
}

/* Task i's share of [0, n), on 16-element boundaries so vector loops stay aligned. */
static void task_bounds(int64_t n, int64_t tasks, int64_t i, int64_t *lo, int64_t *hi) {
  *lo = i == 0 ? 0 : (n / tasks * i) & ~(int64_t)15;
  *hi = i == tasks - 1 ? n : (n / tasks * (i + 1)) & ~(int64_t)15;
}

static void nary_task(void *arg, int64_t i) {
  const nary_job *job = arg;
  int64_t lo, hi;
  task_bounds(job->p->numel, job->tasks, i, &lo, &hi);
  nary_range(job, lo, hi);
}

void ew_nary(op_ctx *c, int k, const ladle_tensor *const *in, ladle_tensor *y, ew_row_fn row,
             const void *ctx) {
  plan p;
  plan_build(&p, k, in, y);
  if (p.numel <= 0) return;
  nary_job job = {.p = &p, .out = y->data, .osz = ladle_dtype_size(y->dtype), .row = row,
                  .ctx = ctx};
  for (int j = 0; j < k; j++) {
    job.base[j] = in[j]->data;
    job.esz[j] = ladle_dtype_size(in[j]->dtype);
  }
  job.tasks = task_count(c, p.numel);
  if (job.tasks == 1 && p.nd == 1) { /* one row: same shapes, or a scalar operand */
    int64_t inner[EW_MAX_IN];
    for (int j = 0; j < k; j++) inner[j] = p.st[j][0];
    row(ctx, job.base, inner, job.out, p.numel);
  } else if (job.tasks == 1) {
    nary_range(&job, 0, p.numel);
  } else {
    tpool_run(op_pool(c), job.tasks, nary_task, &job);
  }
}

static void binary_row(const void *ctx, const char *const *in, const int64_t *stride, char *out,
                       int64_t n) {
  ew_bin_fn fn = *(const ew_bin_fn *)ctx;
  int mode = stride[1] == 0 && stride[0] != 0 ? EW_VS : (stride[0] == 0 && stride[1] != 0 ? EW_SV : EW_VV);
  fn(in[0], in[1], out, n, mode);
}

void ew_binary(op_ctx *c, const ladle_tensor *a, const ladle_tensor *b, ladle_tensor *y,
               ew_bin_fn fn) {
  const ladle_tensor *in[2] = {a, b};
  ew_nary(c, 2, in, y, binary_row, &fn);
}

typedef struct range_job {
  ew_range_fn fn;
  const void *ctx;
  int64_t n, tasks;
} range_job;

static void range_task(void *arg, int64_t i) {
  const range_job *job = arg;
  int64_t lo, hi;
  task_bounds(job->n, job->tasks, i, &lo, &hi);
  job->fn(job->ctx, lo, hi);
}

void ew_parallel(op_ctx *c, int64_t n, ew_range_fn fn, const void *ctx) {
  if (n <= 0) return;
  range_job job = {fn, ctx, n, task_count(c, n)};
  if (job.tasks == 1) fn(ctx, 0, n);
  else tpool_run(op_pool(c), job.tasks, range_task, &job);
}

typedef struct unary_job {
  ew_un_f32 f32;
  ew_un_f64 f64;
  const float *p;
  const void *x;
  void *y;
  int dtype;
} unary_job;

static void unary_range(const void *ctx, int64_t lo, int64_t hi) {
  const unary_job *j = ctx;
  if (j->dtype == LADLE_FLOAT) {
    j->f32((const float *)j->x + lo, (float *)j->y + lo, hi - lo, j->p);
  } else if (j->dtype == LADLE_DOUBLE) {
    j->f64((const double *)j->x + lo, (double *)j->y + lo, hi - lo, j->p);
  } else { /* float16 / bfloat16 through float32, a block at a time */
    const uint16_t *x = (const uint16_t *)j->x + lo;
    uint16_t *y = (uint16_t *)j->y + lo;
    bool half = j->dtype == LADLE_FLOAT16;
    float a[256], b[256];
    for (int64_t i = 0; i < hi - lo; i += 256) {
      int64_t m = hi - lo - i < 256 ? hi - lo - i : 256;
      for (int64_t t = 0; t < m; t++) a[t] = half ? half_to_float(x[i + t]) : bfloat16_to_float(x[i + t]);
      j->f32(a, b, m, j->p);
      for (int64_t t = 0; t < m; t++) y[i + t] = half ? float_to_half(b[t]) : float_to_bfloat16(b[t]);
    }
  }
}

ladle_status ew_unary_float(op_ctx *c, ew_un_f32 f32, ew_un_f64 f64, const float *p) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 0");
  if (x->dtype != LADLE_FLOAT && x->dtype != LADLE_DOUBLE && x->dtype != LADLE_FLOAT16 &&
      x->dtype != LADLE_BFLOAT16)
    return op_fail(c, LADLE_ERR_DTYPE, "%s takes float tensors, got %s", op_node(c)->op_type,
                   ladle_dtype_name(x->dtype));
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  unary_job job = {f32, f64, p, x->data, y->data, x->dtype};
  ew_parallel(c, ew_numel(x), unary_range, &job);
  return LADLE_OK;
}

bool ew_copy(int dtype, const void *src, void *dst, int64_t n) {
  if (dtype != LADLE_STRING) {
    if (n > 0 && src != dst) memmove(dst, src, (size_t)n * ladle_dtype_size(dtype));
    return true;
  }
  char *const *s = src;
  char **d = dst;
  for (int64_t i = 0; i < n; i++) {
    const char *v = s[i] ? s[i] : "";
    size_t len = strlen(v);
    char *copy = malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, v, len + 1);
    free(d[i]);
    d[i] = copy;
  }
  return true;
}

/* Unary ops over every numeric type (and bool output for IsNaN / IsInf). */
typedef struct map_job {
  ew_map_fn fn;
  const char *x;
  char *y;
  size_t sx, sy;
  const float *p;
} map_job;

static void map_range(const void *ctx, int64_t lo, int64_t hi) {
  const map_job *j = ctx;
  j->fn(j->x + (size_t)lo * j->sx, j->y + (size_t)lo * j->sy, hi - lo, j->p);
}

ladle_status ew_map(op_ctx *c, const ew_map_fn *tbl, int out_dtype, const float *p) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 0");
  ew_map_fn fn = tbl[ew_slot(x->dtype)];
  if (!fn)
    return op_fail(c, LADLE_ERR_DTYPE, "%s does not take %s", op_node(c)->op_type,
                   ladle_dtype_name(x->dtype));
  int odt = out_dtype ? out_dtype : x->dtype;
  if ((st = op_out(c, 0, odt, x->ndim, x->dims, &y))) return st;
  map_job job = {fn, x->data, y->data, ladle_dtype_size(x->dtype), ladle_dtype_size(odt), p};
  ew_parallel(c, ew_numel(x), map_range, &job);
  return LADLE_OK;
}

/* --- binary kernels ----------------------------------------------------------------------- */

/* Add, Sub, Mul: the same expression for every integer type, in unsigned arithmetic. */
#define ARITH(op)                                                                    \
  EW_FLOAT_TYPES(ARITH_F_##op)                                                          \
  EW_SINT_TYPES(ARITH_I_##op)                                                           \
  EW_UINT_TYPES(ARITH_I_##op)                                                           \
  static const ew_bin_fn op##_fns[EW_NTYPES] = {EW_TBL_ALL(op)};
#define ARITH_F_add(s, T, CT, LD, ST) EW_BIN_LOOP(add_##s, T, CT, LD, ST, x0 + x1)
#define ARITH_I_add(s, T, UT) EW_BIN_LOOP(add_##s, T, T, EW_ID, EW_ID, (T)((UT)x0 + (UT)x1))
#define ARITH_F_sub(s, T, CT, LD, ST) EW_BIN_LOOP(sub_##s, T, CT, LD, ST, x0 - x1)
#define ARITH_I_sub(s, T, UT) EW_BIN_LOOP(sub_##s, T, T, EW_ID, EW_ID, (T)((UT)x0 - (UT)x1))
#define ARITH_F_mul(s, T, CT, LD, ST) EW_BIN_LOOP(mul_##s, T, CT, LD, ST, x0 * x1)
#define ARITH_I_mul(s, T, UT) EW_BIN_LOOP(mul_##s, T, T, EW_ID, EW_ID, (T)((UT)x0 * (UT)x1))
ARITH(add)
ARITH(sub)
ARITH(mul)

#define DIV_F(s, T, CT, LD, ST) EW_BIN_LOOP(div_##s, T, CT, LD, ST, x0 / x1)
#define DIV_S(s, T, UT) \
  EW_BIN_LOOP(div_##s, T, T, EW_ID, EW_ID, x1 == 0 ? (T)0 : (x1 == -1 ? (T)(0 - (UT)x0) : (T)(x0 / x1)))
#define DIV_U(s, T, UT) EW_BIN_LOOP(div_##s, T, T, EW_ID, EW_ID, x1 == 0 ? (T)0 : (T)(x0 / x1))
EW_FLOAT_TYPES(DIV_F) EW_SINT_TYPES(DIV_S) EW_UINT_TYPES(DIV_U)
static const ew_bin_fn div_fns[EW_NTYPES] = {EW_TBL_ALL(div)};

/* Max / Min propagate NaN, like numpy's maximum / minimum. */
#define MAX_F(s, T, CT, LD, ST) EW_BIN_LOOP(max_##s, T, CT, LD, ST, (x0 > x1 || x0 != x0) ? x0 : x1)
#define MIN_F(s, T, CT, LD, ST) EW_BIN_LOOP(min_##s, T, CT, LD, ST, (x0 < x1 || x0 != x0) ? x0 : x1)
#define MAX_I(s, T, UT) EW_BIN_LOOP(max_##s, T, T, EW_ID, EW_ID, x0 > x1 ? x0 : x1)
#define MIN_I(s, T, UT) EW_BIN_LOOP(min_##s, T, T, EW_ID, EW_ID, x0 < x1 ? x0 : x1)
EW_FLOAT_TYPES(MAX_F) EW_SINT_TYPES(MAX_I) EW_UINT_TYPES(MAX_I)
EW_FLOAT_TYPES(MIN_F) EW_SINT_TYPES(MIN_I) EW_UINT_TYPES(MIN_I)
static const ew_bin_fn max_fns[EW_NTYPES] = {EW_TBL_ALL(max)};
static const ew_bin_fn min_fns[EW_NTYPES] = {EW_TBL_ALL(min)};

/* Mod: fmod=1 is C's remainder (sign of the dividend), fmod=0 numpy's mod (sign of the
 * divisor, integers only). */
static inline int64_t mod_floor_i(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a % b;
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
static inline int64_t mod_trunc_i(int64_t a, int64_t b) { return b == 0 || b == -1 ? 0 : a % b; }
#define FMOD_F(s, T, CT, LD, ST) EW_BIN_LOOP(fmod_##s, T, CT, LD, ST, (CT)fmod(x0, x1))
#define FMOD_S(s, T, UT) EW_BIN_LOOP(fmod_##s, T, T, EW_ID, EW_ID, (T)mod_trunc_i(x0, x1))
#define PMOD_S(s, T, UT) EW_BIN_LOOP(pmod_##s, T, T, EW_ID, EW_ID, (T)mod_floor_i(x0, x1))
#define MOD_U(s, T, UT) EW_BIN_LOOP(fmod_##s, T, T, EW_ID, EW_ID, x1 == 0 ? (T)0 : (T)(x0 % x1))
EW_FLOAT_TYPES(FMOD_F) EW_SINT_TYPES(FMOD_S) EW_SINT_TYPES(PMOD_S) EW_UINT_TYPES(MOD_U)
static const ew_bin_fn fmod_fns[EW_NTYPES] = {EW_TBL_ALL(fmod)};
static const ew_bin_fn pmod_fns[EW_NTYPES] = {EW_TBL_SINT(pmod), EW_TBL_UINT(fmod)};

/* BitShift and the bitwise ops (integers only); shifting by the width or more gives 0. */
#define SHL_U(s, T, UT) \
  EW_BIN_LOOP(shl_##s, T, T, EW_ID, EW_ID, x1 >= (T)(8 * sizeof(T)) ? (T)0 : (T)((UT)x0 << x1))
#define SHR_U(s, T, UT) EW_BIN_LOOP(shr_##s, T, T, EW_ID, EW_ID, x1 >= (T)(8 * sizeof(T)) ? (T)0 : (T)(x0 >> x1))
EW_UINT_TYPES(SHL_U) EW_UINT_TYPES(SHR_U)
static const ew_bin_fn shl_fns[EW_NTYPES] = {EW_TBL_UINT(shl)};
static const ew_bin_fn shr_fns[EW_NTYPES] = {EW_TBL_UINT(shr)};

#define BAND(s, T, UT) EW_BIN_LOOP(band_##s, T, T, EW_ID, EW_ID, (T)(x0 & x1))
#define BOR(s, T, UT) EW_BIN_LOOP(bor_##s, T, T, EW_ID, EW_ID, (T)(x0 | x1))
#define BXOR(s, T, UT) EW_BIN_LOOP(bxor_##s, T, T, EW_ID, EW_ID, (T)(x0 ^ x1))
EW_SINT_TYPES(BAND) EW_UINT_TYPES(BAND) EW_SINT_TYPES(BOR) EW_UINT_TYPES(BOR) EW_SINT_TYPES(BXOR) EW_UINT_TYPES(BXOR)
static const ew_bin_fn band_fns[EW_NTYPES] = {EW_TBL_SINT(band), EW_TBL_UINT(band)};
static const ew_bin_fn bor_fns[EW_NTYPES] = {EW_TBL_SINT(bor), EW_TBL_UINT(bor)};
static const ew_bin_fn bxor_fns[EW_NTYPES] = {EW_TBL_SINT(bxor), EW_TBL_UINT(bxor)};

/* Pow with both operands of one float type; x^2 (LayerNorm's variance in opset-13 exports)
 * and x^1 skip powf. */
static void pow_f32(const void *pa, const void *pb, void *py, int64_t n, int mode) {
  const float *a = pa, *b = pb;
  float *y = py;
  if (mode == EW_VS && b[0] == 2.0f) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] * a[i];
  } else if (mode == EW_VS && b[0] == 1.0f) {
    memmove(y, a, (size_t)n * sizeof *y);
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = powf(a[mode == EW_SV ? 0 : i], b[mode == EW_VS ? 0 : i]);
  }
}
#define POW_F(s, T, CT, LD, ST) EW_BIN_LOOP(pow_##s, T, CT, LD, ST, (CT)pow(x0, x1))
POW_F(f64, double, double, EW_ID, EW_ID)
POW_F(f16, uint16_t, float, half_to_float, float_to_half)
POW_F(bf16, uint16_t, float, bfloat16_to_float, float_to_bfloat16)
static const ew_bin_fn pow_fns[EW_NTYPES] = {EW_TBL_FLOAT(pow)};

/* --- element access by dtype (the slow, general paths) ------------------------------------ */

static double ld_f64(int dt, const char *p) {
  ladle_tensor t = {.dtype = dt, .data = (void *)p};
  return tensor_get_f64(&t, 0);
}
static int64_t ld_i64(int dt, const char *p) {
  ladle_tensor t = {.dtype = dt, .data = (void *)p};
  return tensor_get_i64(&t, 0);
}
/* Stores an integer result, wrapping to the width of dt. */
static void st_i64(int dt, char *p, int64_t v) {
  switch (dt) {
    case LADLE_INT8: *(int8_t *)p = (int8_t)v; break;
    case LADLE_INT16: *(int16_t *)p = (int16_t)v; break;
    case LADLE_INT32: *(int32_t *)p = (int32_t)v; break;
    case LADLE_INT64: *(int64_t *)p = v; break;
    case LADLE_UINT8: *(uint8_t *)p = (uint8_t)v; break;
    case LADLE_UINT16: *(uint16_t *)p = (uint16_t)v; break;
    case LADLE_UINT32: *(uint32_t *)p = (uint32_t)v; break;
    case LADLE_UINT64: *(uint64_t *)p = (uint64_t)v; break;
    default: break;
  }
}
/* Stores a real result: floats convert, integers saturate then wrap (never undefined). */
static void st_f64(int dt, char *p, double v) {
  if (dtype_is_float(dt)) {
    ladle_tensor t = {.dtype = dt, .data = p};
    tensor_set_f64(&t, 0, v);
  } else if (dt == LADLE_UINT64) {
    *(uint64_t *)p = ew_f64_to_u64(v);
  } else {
    st_i64(dt, p, ew_f64_to_i64(v));
  }
}

/* x^e for integers, wrapping like repeated multiplication; negative e gives 1/x^|e| truncated. */
static int64_t ipow(int64_t x, int64_t e) {
  if (e < 0) return x == 1 ? 1 : (x == -1 ? ((e & 1) ? -1 : 1) : 0);
  uint64_t r = 1, b = (uint64_t)x;
  for (uint64_t k = (uint64_t)e; k; k >>= 1) {
    if (k & 1) r *= b;
    b *= b;
  }
  return (int64_t)r;
}

typedef struct pow_ctx {
  int ta, tb, ty;
  size_t sa, sb, sy;
} pow_ctx;

/* Pow with base and exponent of different types; the result has the base's type. */
static void pow_mixed_row(const void *ctx, const char *const *in, const int64_t *stride, char *out,
                          int64_t n) {
  const pow_ctx *pc = ctx;
  bool ints = !dtype_is_float(pc->ta) && !dtype_is_float(pc->tb);
  for (int64_t i = 0; i < n; i++) {
    const char *a = in[0] + (size_t)(i * stride[0]) * pc->sa, *b = in[1] + (size_t)(i * stride[1]) * pc->sb;
    char *y = out + (size_t)i * pc->sy;
    if (ints) st_i64(pc->ty, y, ipow(ld_i64(pc->ta, a), ld_i64(pc->tb, b)));
    else st_f64(pc->ty, y, pow(ld_f64(pc->ta, a), ld_f64(pc->tb, b)));
  }
}

/* --- binary and variadic runners ---------------------------------------------------------- */

ladle_status ew_legacy_bcast(op_ctx *c, const ladle_tensor *a, ladle_tensor *b) {
  const node *n = op_node(c);
  if (!node_attr_int(n, "broadcast", 0) || shape_equal(a->ndim, a->dims, b->ndim, b->dims))
    return LADLE_OK;
  if (b->ndim > a->ndim)
    return op_fail(c, LADLE_ERR_SHAPE, "B has rank %d, above A's %d", b->ndim, a->ndim);
  int64_t axis = node_attr_int(n, "axis", a->ndim - b->ndim);
  if (axis < 0) axis += a->ndim;
  if (axis < 0 || axis + b->ndim > a->ndim)
    return op_fail(c, LADLE_ERR_SHAPE, "broadcast axis %lld out of range for ranks %d and %d",
                   (long long)axis, a->ndim, b->ndim);
  int64_t d[LADLE_MAX_DIMS];
  for (int i = 0; i < a->ndim; i++) d[i] = 1;
  for (int i = 0; i < b->ndim; i++) d[axis + i] = b->dims[i];
  b->ndim = a->ndim;
  memcpy(b->dims, d, sizeof(int64_t) * (size_t)a->ndim);
  return LADLE_OK;
}

static ladle_status binary(op_ctx *c, const ew_bin_fn *tbl, bool legacy) {
  const ladle_tensor *a = op_in(c, 0), *b0 = op_in(c, 1);
  ladle_tensor *y = NULL, b;
  int nd;
  int64_t dims[LADLE_MAX_DIMS];
  ladle_status st;
  if (!a || !b0) return op_fail(c, LADLE_ERR_INVALID, "needs two inputs");
  if (a->dtype != b0->dtype)
    return op_fail(c, LADLE_ERR_DTYPE, "inputs have different types (%s and %s)",
                   ladle_dtype_name(a->dtype), ladle_dtype_name(b0->dtype));
  ew_bin_fn fn = tbl[ew_slot(a->dtype)];
  if (!fn)
    return op_fail(c, LADLE_ERR_DTYPE, "%s does not take %s", op_node(c)->op_type,
                   ladle_dtype_name(a->dtype));
  b = *b0;
  if (legacy && (st = ew_legacy_bcast(c, a, &b))) return st;
  const ladle_tensor *in[2] = {a, &b};
  if ((st = ew_bcast_shape(c, 2, in, &nd, dims))) return st;
  if ((st = op_out(c, 0, a->dtype, nd, dims, &y))) return st;
  ew_binary(c, a, &b, y, fn);
  return LADLE_OK;
}

static ladle_status run_add(op_ctx *c) { return binary(c, add_fns, false); }
static ladle_status run_sub(op_ctx *c) { return binary(c, sub_fns, false); }
static ladle_status run_mul(op_ctx *c) { return binary(c, mul_fns, false); }
static ladle_status run_div(op_ctx *c) { return binary(c, div_fns, false); }
static ladle_status run_add_v1(op_ctx *c) { return binary(c, add_fns, true); }
static ladle_status run_sub_v1(op_ctx *c) { return binary(c, sub_fns, true); }
static ladle_status run_mul_v1(op_ctx *c) { return binary(c, mul_fns, true); }
static ladle_status run_div_v1(op_ctx *c) { return binary(c, div_fns, true); }
static ladle_status run_band(op_ctx *c) { return binary(c, band_fns, false); }
static ladle_status run_bor(op_ctx *c) { return binary(c, bor_fns, false); }
static ladle_status run_bxor(op_ctx *c) { return binary(c, bxor_fns, false); }

static ladle_status run_mod(op_ctx *c) {
  const ladle_tensor *a = op_in(c, 0);
  int64_t f = node_attr_int(op_node(c), "fmod", 0);
  if (f != 0 && f != 1) return op_fail(c, LADLE_ERR_INVALID, "fmod must be 0 or 1, got %lld", (long long)f);
  if (a && f == 0 && dtype_is_float(a->dtype))
    return op_fail(c, LADLE_ERR_INVALID, "Mod of %s needs fmod=1", ladle_dtype_name(a->dtype));
  return binary(c, f ? fmod_fns : pmod_fns, false);
}

static ladle_status run_bitshift(op_ctx *c) {
  const char *dir = node_attr_str(op_node(c), "direction", "");
  if (strcmp(dir, "LEFT") == 0) return binary(c, shl_fns, false);
  if (strcmp(dir, "RIGHT") == 0) return binary(c, shr_fns, false);
  return op_fail(c, LADLE_ERR_INVALID, "direction must be LEFT or RIGHT, got '%s'", dir);
}

static ladle_status pow_common(op_ctx *c, bool legacy) {
  const ladle_tensor *a = op_in(c, 0), *b0 = op_in(c, 1);
  ladle_tensor *y = NULL, b;
  int nd;
  int64_t dims[LADLE_MAX_DIMS];
  ladle_status st;
  if (!a || !b0) return op_fail(c, LADLE_ERR_INVALID, "needs two inputs");
  if (a->dtype == b0->dtype && dtype_is_float(a->dtype)) return binary(c, pow_fns, legacy);
  bool num_a = dtype_is_float(a->dtype) || dtype_is_integer(a->dtype);
  bool num_b = dtype_is_float(b0->dtype) || dtype_is_integer(b0->dtype);
  if (!num_a || !num_b)
    return op_fail(c, LADLE_ERR_DTYPE, "Pow does not take %s ^ %s", ladle_dtype_name(a->dtype),
                   ladle_dtype_name(b0->dtype));
  b = *b0;
  if (legacy && (st = ew_legacy_bcast(c, a, &b))) return st;
  const ladle_tensor *in[2] = {a, &b};
  if ((st = ew_bcast_shape(c, 2, in, &nd, dims))) return st;
  if ((st = op_out(c, 0, a->dtype, nd, dims, &y))) return st;
  pow_ctx pc = {a->dtype, b.dtype, a->dtype, ladle_dtype_size(a->dtype), ladle_dtype_size(b.dtype),
                ladle_dtype_size(a->dtype)};
  ew_nary(c, 2, in, y, pow_mixed_row, &pc);
  return LADLE_OK;
}
static ladle_status run_pow(op_ctx *c) { return pow_common(c, false); }
static ladle_status run_pow_v1(op_ctx *c) { return pow_common(c, true); }

/* Sum, Mean, Max, Min over any number of inputs, all broadcast together: the first pair is
 * combined into y, then y is combined in place with each further input. */
static ladle_status variadic(op_ctx *c, const ew_bin_fn *tbl, bool mean) {
  int n = op_n_in(c), nd;
  int64_t dims[LADLE_MAX_DIMS];
  const ladle_tensor *in[64];
  ladle_tensor *y = NULL;
  ladle_status st;
  if (n < 1 || n > 64) return op_fail(c, LADLE_ERR_INVALID, "takes 1 to 64 inputs, got %d", n);
  for (int i = 0; i < n; i++) {
    if (!(in[i] = op_in(c, i))) return op_fail(c, LADLE_ERR_INVALID, "input %d is missing", i);
    if (in[i]->dtype != in[0]->dtype)
      return op_fail(c, LADLE_ERR_DTYPE, "input %d is %s, input 0 %s", i,
                     ladle_dtype_name(in[i]->dtype), ladle_dtype_name(in[0]->dtype));
  }
  int dt = in[0]->dtype;
  if (!tbl[ew_slot(dt)] || (mean && !dtype_is_float(dt)))
    return op_fail(c, LADLE_ERR_DTYPE, "%s does not take %s", op_node(c)->op_type, ladle_dtype_name(dt));
  if ((st = ew_bcast_shape(c, n, in, &nd, dims))) return st;
  if ((st = op_out(c, 0, dt, nd, dims, &y))) return st;
  if (n == 1) {
    ew_copy(dt, in[0]->data, y->data, ew_numel(y));
    return LADLE_OK;
  }
  ew_binary(c, in[0], in[1], y, tbl[dt]);
  for (int i = 2; i < n; i++) ew_binary(c, y, in[i], y, tbl[dt]);
  if (mean) {
    uint64_t raw = 0;
    ladle_tensor k = {.dtype = dt, .ndim = 0, .data = &raw};
    tensor_set_f64(&k, 0, n);
    ew_binary(c, y, &k, y, div_fns[dt]);
  }
  return LADLE_OK;
}
static ladle_status run_sum(op_ctx *c) { return variadic(c, add_fns, false); }
static ladle_status run_mean(op_ctx *c) { return variadic(c, add_fns, true); }
static ladle_status run_max(op_ctx *c) { return variadic(c, max_fns, false); }
static ladle_status run_min(op_ctx *c) { return variadic(c, min_fns, false); }

/* --- unary ops ---------------------------------------------------------------------------- */

/* A float unary op without attributes. */
#define UNARY_F(name, E32, E64)    \
  EW_UNARY_LOOPS(name, E32, E64)   \
  static ladle_status run_##name(op_ctx *c) { return ew_unary_float(c, name##_f32, name##_f64, NULL); }

UNARY_F(sqrt, sqrtf(v), sqrt(v))
UNARY_F(exp, ew_expf(v), exp(v))
UNARY_F(log, logf(v), log(v))
UNARY_F(reciprocal, 1.0f / v, 1.0 / v)
UNARY_F(floor, floorf(v), floor(v))
UNARY_F(ceil, ceilf(v), ceil(v))
UNARY_F(round, nearbyintf(v), nearbyint(v)) /* default rounding mode: half to even */
UNARY_F(sin, sinf(v), sin(v))
UNARY_F(cos, cosf(v), cos(v))
UNARY_F(tan, tanf(v), tan(v))
UNARY_F(asin, asinf(v), asin(v))
UNARY_F(acos, acosf(v), acos(v))
UNARY_F(atan, atanf(v), atan(v))
UNARY_F(sinh, sinhf(v), sinh(v))
UNARY_F(cosh, coshf(v), cosh(v))
UNARY_F(asinh, asinhf(v), asinh(v))
UNARY_F(acosh, acoshf(v), acosh(v))
UNARY_F(atanh, atanhf(v), atanh(v))
UNARY_F(erf, ew_erff(v), erf(v))

#define MAP_F(name, ST, EXPR) /* float types, result stored with ST */ \
  EW_MAP_LOOP(name##_f32, float, float, float, EW_ID, EXPR)                  \
  EW_MAP_LOOP(name##_f64, double, double, double, EW_ID, EXPR)               \
  EW_MAP_LOOP(name##_f16, uint16_t, uint16_t, float, half_to_float, ST##_f16(EXPR)) \
  EW_MAP_LOOP(name##_bf16, uint16_t, uint16_t, float, bfloat16_to_float, ST##_bf16(EXPR))
#define KEEP_f16(v) float_to_half(v)
#define KEEP_bf16(v) float_to_bfloat16(v)

MAP_F(neg, KEEP, -v)
MAP_F(abs, KEEP, fabs(v))
MAP_F(sign, KEEP, v > 0 ? 1 : (v < 0 ? -1 : v))
#define NEG_S(s, T, UT) EW_MAP_LOOP(neg_##s, T, T, T, EW_ID, (T)(0 - (UT)v))
#define ABS_S(s, T, UT) EW_MAP_LOOP(abs_##s, T, T, T, EW_ID, v < 0 ? (T)(0 - (UT)v) : v)
#define ABS_U(s, T, UT) EW_MAP_LOOP(abs_##s, T, T, T, EW_ID, v)
#define SIGN_S(s, T, UT) EW_MAP_LOOP(sign_##s, T, T, T, EW_ID, (T)((v > 0) - (v < 0)))
#define SIGN_U(s, T, UT) EW_MAP_LOOP(sign_##s, T, T, T, EW_ID, (T)(v > 0))
#define BNOT(s, T, UT) EW_MAP_LOOP(bnot_##s, T, T, T, EW_ID, (T)~v)
EW_SINT_TYPES(NEG_S) EW_SINT_TYPES(ABS_S) EW_UINT_TYPES(ABS_U) EW_SINT_TYPES(SIGN_S) EW_UINT_TYPES(SIGN_U)
EW_SINT_TYPES(BNOT) EW_UINT_TYPES(BNOT)
static const ew_map_fn neg_fns[EW_NTYPES] = {EW_TBL_FLOAT(neg), EW_TBL_SINT(neg)};
static const ew_map_fn abs_fns[EW_NTYPES] = {EW_TBL_ALL(abs)};
static const ew_map_fn sign_fns[EW_NTYPES] = {EW_TBL_ALL(sign)};
static const ew_map_fn bnot_fns[EW_NTYPES] = {EW_TBL_SINT(bnot), EW_TBL_UINT(bnot)};

#define MAP_FB(name, EXPR)                                        \
  EW_MAP_LOOP(name##_f32, float, uint8_t, float, EW_ID, EXPR)           \
  EW_MAP_LOOP(name##_f64, double, uint8_t, double, EW_ID, EXPR)         \
  EW_MAP_LOOP(name##_f16, uint16_t, uint8_t, float, half_to_float, EXPR) \
  EW_MAP_LOOP(name##_bf16, uint16_t, uint8_t, float, bfloat16_to_float, EXPR)
MAP_FB(isnan, v != v)
/* p[0]: detect negative, p[1]: detect positive */
MAP_FB(isinf, isinf(v) && ((v < 0 && p[0] != 0) || (v > 0 && p[1] != 0)))
static const ew_map_fn isnan_fns[EW_NTYPES] = {EW_TBL_FLOAT(isnan)};
static const ew_map_fn isinf_fns[EW_NTYPES] = {EW_TBL_FLOAT(isinf)};

static ladle_status run_neg(op_ctx *c) { return ew_map(c, neg_fns, 0, NULL); }
static ladle_status run_abs(op_ctx *c) { return ew_map(c, abs_fns, 0, NULL); }
static ladle_status run_sign(op_ctx *c) { return ew_map(c, sign_fns, 0, NULL); }
static ladle_status run_bnot(op_ctx *c) { return ew_map(c, bnot_fns, 0, NULL); }
static ladle_status run_isnan(op_ctx *c) { return ew_map(c, isnan_fns, LADLE_BOOL, NULL); }
static ladle_status run_isinf(op_ctx *c) {
  const node *n = op_node(c);
  float p[2] = {(float)node_attr_int(n, "detect_negative", 1), (float)node_attr_int(n, "detect_positive", 1)};
  return ew_map(c, isinf_fns, LADLE_BOOL, p);
}

/* --- Identity, Dropout -------------------------------------------------------------------- */

static ladle_status copy_input(op_ctx *c, ladle_tensor **out) {
  const ladle_tensor *x = op_in(c, 0);
  ladle_tensor *y = NULL;
  ladle_status st;
  if (!x) return op_fail(c, LADLE_ERR_INVALID, "missing input 0");
  if ((st = op_out(c, 0, x->dtype, x->ndim, x->dims, &y))) return st;
  if (!ew_copy(x->dtype, x->data, y->data, ew_numel(x)))
    return op_fail(c, LADLE_ERR_NOMEM, "out of memory copying strings");
  if (out) *out = y;
  return LADLE_OK;
}

static ladle_status run_identity(op_ctx *c) { return copy_input(c, NULL); }

/* Inference Dropout: output = input; the mask (output 1) is all ones, of the input's type
 * before opset 10 and bool from 10. From opset 12 training_mode (input 2) may ask for
 * training, which only a ratio of 0 makes deterministic. */
static ladle_status dropout(op_ctx *c, int mask_dtype) {
  ladle_tensor *y = NULL, *m = NULL;
  ladle_status st;
  const ladle_tensor *ratio = op_in(c, 1), *train = op_in(c, 2);
  if (train && ew_numel(train) >= 1 && tensor_get_i64(train, 0)) {
    double r = ratio && ew_numel(ratio) >= 1 ? tensor_get_f64(ratio, 0) : 0.5;
    if (r != 0)
      return op_fail(c, LADLE_ERR_UNSUPPORTED, "training-mode Dropout (ratio %g) is not supported", r);
  }
  if ((st = copy_input(c, &y))) return st;
  if (!op_out_wanted(c, 1)) return LADLE_OK;
  int mdt = mask_dtype ? mask_dtype : y->dtype;
  if (mdt == LADLE_STRING) return op_fail(c, LADLE_ERR_DTYPE, "no mask for string tensors");
  if ((st = op_out(c, 1, mdt, y->ndim, y->dims, &m))) return st;
  int64_t n = ew_numel(m);
  if (mdt == LADLE_BOOL) memset(m->data, 1, (size_t)n);
  else for (int64_t i = 0; i < n; i++) tensor_set_f64(m, i, 1.0);
  return LADLE_OK;
}
static ladle_status run_dropout_v1(op_ctx *c) { return dropout(c, 0); }
static ladle_status run_dropout_v10(op_ctx *c) { return dropout(c, LADLE_BOOL); }

const op_def ops_elementwise[] = {
    {"", "Add", 1, 6, run_add_v1, NULL, NULL},
    {"", "Add", 7, 99, run_add, NULL, NULL},
    {"", "Sub", 1, 6, run_sub_v1, NULL, NULL},
    {"", "Sub", 7, 99, run_sub, NULL, NULL},
    {"", "Mul", 1, 6, run_mul_v1, NULL, NULL},
    {"", "Mul", 7, 99, run_mul, NULL, NULL},
    {"", "Div", 1, 6, run_div_v1, NULL, NULL},
    {"", "Div", 7, 99, run_div, NULL, NULL},
    {"", "Pow", 1, 6, run_pow_v1, NULL, NULL},
    {"", "Pow", 7, 99, run_pow, NULL, NULL},
    {"", "Mod", 10, 99, run_mod, NULL, NULL},
    {"", "BitShift", 11, 99, run_bitshift, NULL, NULL},
    {"", "BitwiseAnd", 18, 99, run_band, NULL, NULL},
    {"", "BitwiseOr", 18, 99, run_bor, NULL, NULL},
    {"", "BitwiseXor", 18, 99, run_bxor, NULL, NULL},
    {"", "BitwiseNot", 18, 99, run_bnot, NULL, NULL},
    {"", "Sum", 1, 99, run_sum, NULL, NULL},
    {"", "Mean", 1, 99, run_mean, NULL, NULL},
    {"", "Max", 1, 99, run_max, NULL, NULL},
    {"", "Min", 1, 99, run_min, NULL, NULL},
    {"", "Neg", 1, 99, run_neg, NULL, NULL},
    {"", "Abs", 1, 99, run_abs, NULL, NULL},
    {"", "Sign", 9, 99, run_sign, NULL, NULL},
    {"", "Sqrt", 1, 99, run_sqrt, NULL, NULL},
    {"", "Exp", 1, 99, run_exp, NULL, NULL},
    {"", "Log", 1, 99, run_log, NULL, NULL},
    {"", "Reciprocal", 1, 99, run_reciprocal, NULL, NULL},
    {"", "Floor", 1, 99, run_floor, NULL, NULL},
    {"", "Ceil", 1, 99, run_ceil, NULL, NULL},
    {"", "Round", 11, 99, run_round, NULL, NULL},
    {"", "Sin", 7, 99, run_sin, NULL, NULL},
    {"", "Cos", 7, 99, run_cos, NULL, NULL},
    {"", "Tan", 7, 99, run_tan, NULL, NULL},
    {"", "Asin", 7, 99, run_asin, NULL, NULL},
    {"", "Acos", 7, 99, run_acos, NULL, NULL},
    {"", "Atan", 7, 99, run_atan, NULL, NULL},
    {"", "Sinh", 9, 99, run_sinh, NULL, NULL},
    {"", "Cosh", 9, 99, run_cosh, NULL, NULL},
    {"", "Asinh", 9, 99, run_asinh, NULL, NULL},
    {"", "Acosh", 9, 99, run_acosh, NULL, NULL},
    {"", "Atanh", 9, 99, run_atanh, NULL, NULL},
    {"", "Erf", 9, 99, run_erf, NULL, NULL},
    {"", "IsNaN", 9, 99, run_isnan, NULL, NULL},
    {"", "IsInf", 10, 99, run_isinf, NULL, NULL},
    {"", "Identity", 1, 99, run_identity, NULL, NULL},
    {"", "Dropout", 1, 9, run_dropout_v1, NULL, NULL},
    {"", "Dropout", 10, 99, run_dropout_v10, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

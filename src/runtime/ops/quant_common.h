/* quant_common.h — private to the quantization family (quant.c, qgemm.c, qconv.c, qconv_nhwc.c):
 * the 8-bit value helpers and the input checks (quant.c) that every quantized op uses, the
 * integer GEMM engine's product and job (qgemm.c, which describes the engine), the state and
 * context the convolution paths share (qconv.c, qconv_nhwc.c), and the functions of the
 * ops_quant[] rows that quant.c's table takes from the other files. */
#ifndef LADLE_RUNTIME_OPS_QUANT_COMMON_H
#define LADLE_RUNTIME_OPS_QUANT_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/ops/gemm_common.h"

#define QK 4   /* k values per VNNI group */
#define QNR 16 /* columns per panel */
#define QMR 8  /* rows per micro-tile */
#define QCB 64 /* columns per task block (multiple of 2 panels) */

static inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

static inline bool is_q8(int dt) { return dt == LADLE_UINT8 || dt == LADLE_INT8; }

static inline int32_t q_lo(int dt) { return dt == LADLE_UINT8 ? 0 : -128; }
static inline int32_t q_hi(int dt) { return dt == LADLE_UINT8 ? 255 : 127; }

/* Element i of a uint8 / int8 / int32 tensor. */
static inline int32_t qget(const ladle_tensor *t, int64_t i) {
  switch (t->dtype) {
    case LADLE_UINT8: return ((const uint8_t *)t->data)[i];
    case LADLE_INT8: return ((const int8_t *)t->data)[i];
    default: return ((const int32_t *)t->data)[i];
  }
}

/* round(v) + zp saturated to [lo, hi]; NaN saturates to lo (no UB on the conversion). */
static inline int32_t q_round(float v, float zp, float lo, float hi) {
  float r = nearbyintf(v) + zp;
  r = r >= lo ? r : lo;
  r = r <= hi ? r : hi;
  return (int32_t)r;
}

static inline void q_store8(void *y, int dt, int64_t i, int32_t v) {
  if (dt == LADLE_UINT8)
    ((uint8_t *)y)[i] = (uint8_t)v;
  else
    ((int8_t *)y)[i] = (int8_t)v;
}

/* Bytes of B' packed for n columns. */
static inline size_t packed_size(int64_t kp, int64_t n) { return (size_t)(kp * round_up(n, QNR)); }

/* Input i into *t; a status and a message when it is absent (the op's input `what`). */
ladle_status quant_need(op_ctx *c, int i, const char *what, const ladle_tensor **t);
/* A scale input: float, with 1 value or (per_n > 0) per_n values in a 1-D tensor. */
ladle_status quant_check_scale(op_ctx *c, const ladle_tensor *s, const char *what, int64_t per_n);
/* A zero point input (NULL: absent): dtype dt, 1 value or per_n values in a 1-D tensor. */
ladle_status quant_check_zp(op_ctx *c, const ladle_tensor *z, int dt, const char *what, int64_t per_n);

/* --- the integer GEMM engine (qgemm.c) ------------------------------------------------------ */

/* One product (A - za)(B - zb): everything shifted into A' (uint8) and B' (int8) terms. */
typedef struct qprod {
  const uint8_t *a;    /* A': m rows of kp bytes */
  const int32_t *rs;   /* row sums of A' */
  const int32_t *za;   /* shifted zero point(s) of A: za[0], or za[i] when za_row */
  bool za_row;
  const int32_t *zb;   /* shifted zero point(s) of B: zb[0], or zb[j] when zb_col */
  bool zb_col;
  const int8_t *bp;    /* packed B, or NULL when the task packs it into bp_dst */
  int8_t *bp_dst;
  int32_t *cs;         /* column sums of B' (written by the task when it packs) */
  const int32_t *bias; /* per row, or NULL */
  const int32_t *bias_col; /* per column, or NULL */
  const float *mrow;   /* requantization multipliers per row / per column, or NULL */
  const float *mcol;
  void *y;             /* output (m rows of n) */
  const void *src;     /* what the pack callback reads */
} qprod;

typedef struct qjob qjob;
typedef void (*qget_fn)(const qjob *j, int64_t pi, qprod *p);
/* Packs columns [j0, j0 + w) of product p's B into dst (the block's first panel), and their
 * column sums into cs[0..w). */
typedef void (*qpack_fn)(const qjob *j, const qprod *p, int64_t j0, int64_t w, int8_t *dst, int32_t *cs);

struct qjob {
  int64_t m, n, k, kp;
  int64_t n_prod, n_cb;
  int out_dt;    /* LADLE_INT32, LADLE_FLOAT (acc · multiplier) or the 8-bit type to requantize into */
  float mul;     /* requantization multiplier when mrow / mcol are NULL */
  int32_t yzp;   /* output zero point */
  qget_fn get;
  qpack_fn pack;
  const void *ud;
  bool vnni;
};

/* Copies the m×k matrix A (row i at a + i*lda, uint8 or int8) into dst as A' (m rows of kp
 * bytes, uint8, zero padded) and its row sums into rs. */
void qgemm_prep_a(const void *a, int dt, int64_t m, int64_t k, int64_t lda, uint8_t *dst, int32_t *rs);
/* k-group g of every panel covering columns [0, w) of packed B at dst, from four source rows r
 * (NULL: past K); column sums added into cs; full panels by vector when vec. */
void qgemm_pack_group(int8_t *dst, int64_t kp, int64_t g, const uint8_t *const r[QK], int64_t w, uint8_t flip,
                      int32_t *cs, bool vec);
/* Whether this CPU has AVX-512 VNNI (the engine's vector path). */
bool qgemm_have_vnni(void);
/* Runs job jb: sets its kp, n_cb and vnni, then every (product, column block) task, on c's threads
 * when it is worth it. */
void qgemm_run(op_ctx *c, qjob *jb);

/* --- convolutions (qconv.c, qconv_nhwc.c) ------------------------------------------------- */

/* Weights of every group packed for the implicit path: Cgp = Cg rounded up to 4, kp = taps·Cgp. */
typedef struct nhwc_w {
  int64_t G, Mg, Cg, Cgp, taps, kp;
  int dt;
  int8_t *bp;  /* G × packed_size(kp, Mg) */
  int32_t *cs; /* G × round_up(Mg, 16) */
} nhwc_w;

static inline size_t nhwc_bp_size(int64_t G, int64_t kp, int64_t Mg) { return (size_t)G * packed_size(kp, Mg); }

/* Weights prepared at init when W is a constant: A' (M rows of kp) and row sums. */
typedef struct qconv_state {
  int64_t m, k;
  int dt;
  uint8_t *a;   /* the im2col engine's A', or NULL */
  int32_t *rs;
  nhwc_w nw;    /* the implicit path's packed weights (nw.bp NULL when not built) */
} qconv_state;

/* Row k of the im2col matrix: the offset of its input plane and its kernel tap. */
typedef struct krow {
  int64_t plane;
  int64_t ko[WIN_MAX_SP];
} krow;

typedef struct qconv_ctx {
  win_geom g;
  int64_t N, C, M, G, Cg, Mg, ksp; /* ksp: kernel taps per channel */
  int64_t in_sp, out_sp;           /* spatial sizes */
  const uint8_t *x;
  int x_dt;
  uint8_t xpad;                    /* x's zero point as stored: the value of the padding */
  const uint8_t *a;                /* A' of all M rows */
  const int32_t *rs;
  const int32_t *za;               /* shifted weight zero points: one, or M */
  bool za_row;
  const int32_t *zb;               /* shifted x zero point */
  const int32_t *bias;
  const float *mrow;
  int8_t *bp;                      /* per (image, group) packed B */
  int32_t *cs;
  void *y;
  size_t y_esz;
  bool direct;                     /* 1×1, stride 1, no pads: B rows are the input's planes */
  const krow *krows;               /* K rows (not for direct) */
  /* the depthwise path reads the weights as given */
  const uint8_t *w;
  int w_dt;
  int32_t wshift;                  /* za[i] - wshift: the weight zero point as given */
  int out_dt;
  int32_t yzp;
  float mul;
  bool dw_vec;                     /* AVX-512BW for the depthwise rows */
} qconv_ctx;

/* Packs the weights w (M × Cg × taps, uint8 or int8) of every group for the implicit path, in
 * (tap, channel) order: G × packed_size(taps·Cgp, Mg) bytes at bp, column sums at cs. */
void qconv_nhwc_pack_w(const uint8_t *w, int dt, int64_t G, int64_t Mg, int64_t Cg, int64_t taps, int8_t *bp,
                       int32_t *cs);
/* The implicit path of run_qconv for x (geometry, zero points, multipliers already set); zbw:
 * the weight zero points shifted for w as the B operand. */
ladle_status qconv_nhwc_run(op_ctx *c, const qconv_ctx *q, const ladle_tensor *w, const int32_t *zbw);

/* --- the rows of ops_quant[] that run outside quant.c ---------------------------------------- */

ladle_status qgemm_run_matmulinteger(op_ctx *c);
ladle_status qgemm_run_qlinearmatmul(op_ctx *c);
ladle_status qgemm_matmulinteger_init(const graph *g, node *n, errbuf *e);
ladle_status qgemm_qlinearmatmul_init(const graph *g, node *n, errbuf *e);
ladle_status qgemm_run_qgemm(op_ctx *c);
ladle_status qgemm_qgemm_init(const graph *g, node *n, errbuf *e);
void qgemm_mm_state_free(void *s);

ladle_status qconv_run_convinteger(op_ctx *c);
ladle_status qconv_run_qlinearconv(op_ctx *c);
ladle_status qconv_convinteger_init(const graph *g, node *n, errbuf *e);
ladle_status qconv_qlinearconv_init(const graph *g, node *n, errbuf *e);
void qconv_state_free(void *s);

#endif

/* conv_common.h — private to the conv family (conv.c, conv_plan.c, convtranspose.c): the element
 * access of the reference loops (Conv's in conv.c, ConvTranspose's in convtranspose.c), the dims
 * of a Conv, the padded, phase-split input that float Conv reads (conv_plan.c), and the
 * ConvTranspose row of ops_conv[] that conv.c's table takes from convtranspose.c. */
#ifndef LADLE_RUNTIME_OPS_CONV_COMMON_H
#define LADLE_RUNTIME_OPS_CONV_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/ops/gemm_common.h"

static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* --- reference (any float dtype, any rank) ------------------------------------------------- */

static inline double conv_ld(int dt, const void *p, int64_t i) {
  switch (dt) {
    case LADLE_FLOAT: return ((const float *)p)[i];
    case LADLE_DOUBLE: return ((const double *)p)[i];
    case LADLE_FLOAT16: return half_to_float(((const uint16_t *)p)[i]);
    case LADLE_BFLOAT16: return bfloat16_to_float(((const uint16_t *)p)[i]);
    default: return 0;
  }
}

static inline void conv_st(int dt, void *p, int64_t i, double v) {
  switch (dt) {
    case LADLE_FLOAT: ((float *)p)[i] = (float)v; break;
    case LADLE_DOUBLE: ((double *)p)[i] = v; break;
    case LADLE_FLOAT16: ((uint16_t *)p)[i] = float_to_half((float)v); break;
    case LADLE_BFLOAT16: ((uint16_t *)p)[i] = float_to_bfloat16((float)v); break;
    default: break;
  }
}

typedef struct conv_dims {
  int64_t N, C, M, G, Cg, Mg;
  win_geom g;
} conv_dims;

/* --- the padded, phase-split input (conv_plan.c) ------------------------------------------- */

#define CONV_MAX_PHASES 4096 /* sd*sh*sw the phase table holds (stride 64 in 2-D) */

/* Spatial dims normalised to 3 (D, H, W; missing leading dims are 1). */
typedef struct conv_plan {
  conv_dims cd;
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
  int64_t taps, K;
  bool zero_copy;
  int64_t ws, hs, ds;  /* phase plane dims */
  int64_t plane;       /* floats per phase plane */
  int nphase;          /* phases in use */
  int phase_slot[CONV_MAX_PHASES]; /* phase (pd*sh + ph)*sw + pw -> slot, -1 when no tap reads it */
  int64_t chan;        /* floats per channel */
  const float *buf;    /* the buffer (x itself when zero_copy) */
  int64_t *tapoff;     /* taps offsets within a channel */
} conv_plan;

/* Plans the buffer for cd (at most 3 spatial dims); false when the strides need more phases than
 * CONV_MAX_PHASES. */
bool conv_plan_init(conv_plan *p, const conv_dims *cd);
/* Offsets of every tap (kd, kh, kw) within one channel of the buffer. */
void conv_plan_taps(const conv_plan *p, int64_t *tapoff);
/* K block for the GEMM: whole channels, as many as keep one tile's B rows (about 4 cache lines
 * for each distinct input row a channel's taps read) within ~16 KB of L1. */
int64_t conv_kc(const conv_plan *p, const int64_t *tapoff);
/* Fills the buffer for images [n0, n1) (image n at buf + (n - n0) * C * chan); a zero-copy
 * plan points at x itself. */
ladle_status conv_plan_fill(op_ctx *c, conv_plan *p, const float *x, int64_t n0, int64_t n1);

/* --- the row of ops_conv[] that runs outside conv.c ---------------------------------------- */

ladle_status conv_run_convtranspose(op_ctx *c);

#endif

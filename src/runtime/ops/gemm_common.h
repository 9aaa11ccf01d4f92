/* gemm_common.h — private to the gemm, conv and pool families: the float GEMM engine that
 * Gemm, MatMul and Conv share (gemm.c), and the sliding-window geometry that Conv, ConvTranspose
 * and the pools share (conv.c).
 *
 * The engine computes C[M×N] = act(alpha·A·B + prev + bias) with a micro-kernel that broadcasts
 * 8 rows of A and multiplies them with 48 columns of B (three 16-lane vectors, AVX-512 when the
 * CPU has it, plain C otherwise). A is packed into 8-row panels (Conv weights once at init, Gemm
 * inputs per run). B is read where it lies: row p of B starts at base + offs[p] (or
 * base + p*stride), so a Conv reads its (padded) input directly, every tap of the kernel being
 * one row offset, without an im2col copy; a Gemm weight is packed once into 48-column panels.
 *
 * Conv's B has "gap" columns: with an input row padded to width ws, output column j of the
 * padded grid is output (j / ws, j % ws), and columns with j % ws >= ow are not outputs. The
 * engine skips them when it stores C (row-major with ow columns per output row). */
#ifndef LADLE_RUNTIME_OPS_GEMM_COMMON_H
#define LADLE_RUNTIME_OPS_GEMM_COMMON_H

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/op.h"

#define GEMM_MR 8  /* rows of A per panel */
#define GEMM_NR 48 /* columns of B per tile */
#define GEMM_STRIDE_KC 96 /* K block for a row-major B read in place (rows of 3-4 lines each) */

/* Floats of an m×k A packed into 8-row panels: panel i (rows 8i..8i+7, zero past m) holds k
 * groups of 8 floats, at offset i*8*k. */
size_t gemm_pack_a_size(int64_t m, int64_t k);
/* Packs A (element (i,p) at a[i*rs + p*cs]). */
void gemm_pack_a(float *dst, const float *a, int64_t m, int64_t k, int64_t rs, int64_t cs);
/* Floats of a k×n B packed into 48-column panels: panel q (columns 48q..48q+47, zero past n)
 * holds k rows of 48 floats, at offset q*48*k (gemm_b.panels). */
size_t gemm_pack_b_size(int64_t k, int64_t n);
void gemm_pack_b(float *dst, const float *b, int64_t k, int64_t n, int64_t rs, int64_t cs);

/* Where B lives. Element (p, j) is at base[offs[p] + j] (offs != NULL) or base[p*stride + j];
 * with panels, column j of panel q = j / 48 is at base[q*48*k + p*48 + j % 48]. */
typedef struct gemm_b {
  const float *base;
  const int64_t *offs;
  int64_t stride;
  bool panels;
} gemm_b;

/* One product of a batch: packed A, B, C and the biases that go with it. */
typedef struct gemm_prod {
  const float *a;        /* packed A (gemm_pack_a layout) */
  gemm_b b;
  float *c;              /* C row 0, output column 0 */
  const float *bias_row; /* one per row of C, or NULL */
  const float *bias_col; /* one per column of C, or NULL (only without gaps) */
} gemm_prod;

typedef void (*gemm_prod_fn)(void *ud, int64_t i, gemm_prod *p);

/* A batch of products with the same shape: C is m rows of `cols` padded columns, stored with
 * row stride ldc; ws / ow describe the gaps (ws == ow: none). Each C element becomes
 *   act(alpha * (A·B) + (accumulate ? C : 0) + bias_row[i] + bias_col[j])
 * where act is act_node's fused activation (act_node may be NULL). */
typedef struct gemm_shape {
  int64_t m, k, cols;
  int64_t ldc, ws, ow;
  float alpha;
  bool accumulate;
  const node *act_node;
  int64_t kc; /* rows of B per K block (0: the default); sized so a tile's rows stay in L1 */
} gemm_shape;

/* Runs n_prod products; get(ud, i, &p) describes product i. Splits the work over c's threads
 * when it is worth it; uses scratch slot `slot` of c. Returns LADLE_ERR_NOMEM when scratch
 * memory is unavailable. */
ladle_status gemm_run(op_ctx *c, int slot, const gemm_shape *s, int64_t n_prod, gemm_prod_fn get,
                      void *ud);

/* Pixel-major products, for convs with few output pixels per channel: C^T = im2col^T · W^T,
 * so the 16-lane vectors run along output channels (no lanes lost to a short or gappy pixel
 * row) and the weights stream once for every pixel of the batch. A's rows are output pixels
 * read in place from the conv's padded input: a panel is up to 8 pixels of one output row,
 * A(r, p) = a[aoffs[p] + r]. B is W^T packed into 48-column panels (gemm_pack_b). The result
 * lands transposed: y(r, c) = act(acc + bias[c]) at ydst[c * ldy + r]. Needs AVX-512
 * (gemm_have_avx512). */
typedef void (*gemm_panel_fn)(void *ud, int64_t i, const float **a, int *rows, float **ydst);

typedef struct gemm_pix {
  int64_t panels, k, n;   /* pixel panels, K, output channels */
  const float *b;         /* W^T in 48-column panels */
  const int64_t *aoffs;   /* k offsets */
  const float *bias;      /* n values, or NULL */
  const node *act_node;
  int64_t ldy;
  int64_t kc;             /* K block (0: the default) */
  gemm_panel_fn panel;
  void *ud;
} gemm_pix;

ladle_status gemm_run_pix(op_ctx *c, int slot, const gemm_pix *g);

/* Whether this CPU runs the AVX-512 kernels (else the plain C ones run). Setting the
 * environment variable LADLE_DISABLE_AVX512=1 forces the plain kernels (tests, diagnosis). */
bool gemm_have_avx512(void);

/* --- fused activations ------------------------------------------------------------------- */

/* A node's fused activation as the kernels apply it. */
typedef struct act_spec {
  act_kind kind;
  float lo, hi; /* ACT_CLIP bounds; lo is LeakyRelu's alpha */
} act_spec;

static inline act_spec act_of(const node *n) {
  act_spec a = {ACT_NONE, 0, 0};
  if (n) {
    a.kind = n->act;
    a.lo = n->act_alpha;
    a.hi = n->act_beta;
  }
  return a;
}

/* The activation on 16 lanes, for kernels compiled for AVX-512 (their target pragma enables
 * more than this function needs, so it inlines there). */
static inline __attribute__((target("avx512f"))) __m512 act_v(const act_spec *a, __m512 x) {
  switch (a->kind) {
    case ACT_RELU: return _mm512_max_ps(x, _mm512_setzero_ps());
    case ACT_CLIP:
      return _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(a->lo)), _mm512_set1_ps(a->hi));
    case ACT_LEAKY_RELU: {
      __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(x, neg, x, _mm512_set1_ps(a->lo));
    }
    case ACT_SIGMOID: {
      float tmp[16];
      _mm512_storeu_ps(tmp, x);
      for (int i = 0; i < 16; i++) tmp[i] = 1.0f / (1.0f + expf(-tmp[i]));
      return _mm512_loadu_ps(tmp);
    }
    default: return x;
  }
}

/* --- sliding-window geometry --------------------------------------------------------------- */

#define WIN_MAX_SP (LADLE_MAX_DIMS - 2)

typedef struct win_geom {
  int nsp;                                /* spatial dims */
  int64_t in[WIN_MAX_SP];                 /* input spatial sizes */
  int64_t out[WIN_MAX_SP];                /* output spatial sizes */
  int64_t k[WIN_MAX_SP];                  /* kernel */
  int64_t s[WIN_MAX_SP];                  /* strides */
  int64_t d[WIN_MAX_SP];                  /* dilations */
  int64_t pb[WIN_MAX_SP], pe[WIN_MAX_SP]; /* pads at the beginning and the end */
} win_geom;

/* With g->nsp, g->in and g->k filled, reads strides, dilations, pads and auto_pad of node n and
 * computes pads and the output size (ceil_mode rounds up, for pools). Writes a message to why
 * and returns false on invalid attributes or an empty output. */
bool win_geom_init(win_geom *g, const node *n, bool ceil_mode, char *why, size_t why_len);

#endif

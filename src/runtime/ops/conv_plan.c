/* conv_plan.c — the padded, phase-split input that float Conv reads as the B of its implicit
 * GEMM (conv.c): planned once per shape, filled per run (or the input itself when no copy is
 * needed), with the offset of every kernel tap in it and the K block that suits it. */
#include <string.h>

#include "runtime/ops/conv_common.h"

bool conv_plan_init(conv_plan *p, const conv_dims *cd) {
  const win_geom *g = &cd->g;
  int off = 3 - g->nsp;
  memset(p, 0, sizeof *p);
  p->cd = *cd;
  for (int d = 0; d < 3; d++) {
    int src = d - off;
    p->in[d] = src >= 0 ? g->in[src] : 1;
    p->out[d] = src >= 0 ? g->out[src] : 1;
    p->k[d] = src >= 0 ? g->k[src] : 1;
    p->s[d] = src >= 0 ? g->s[src] : 1;
    p->d[d] = src >= 0 ? g->d[src] : 1;
    p->pb[d] = src >= 0 ? g->pb[src] : 0;
  }
  if (p->s[0] * p->s[1] * p->s[2] > CONV_MAX_PHASES) return false; /* phase table size */
  p->taps = p->k[0] * p->k[1] * p->k[2];
  p->K = cd->Cg * p->taps;
  p->zero_copy = p->s[0] == 1 && p->s[1] == 1 && p->s[2] == 1 && p->pb[0] == 0 && p->pb[1] == 0 &&
                 p->pb[2] == 0 && p->k[2] == 1 && p->out[2] == p->in[2];
  for (int i = 0; i < CONV_MAX_PHASES; i++) p->phase_slot[i] = -1;
  if (p->zero_copy) {
    p->ws = p->in[2];
    p->hs = p->in[1];
    p->ds = p->in[0];
    p->plane = p->in[0] * p->in[1] * p->in[2];
    p->nphase = 1;
    p->phase_slot[0] = 0;
  } else {
    p->ws = p->out[2] + (p->k[2] - 1) * p->d[2] / p->s[2];
    p->hs = p->out[1] + (p->k[1] - 1) * p->d[1] / p->s[1];
    p->ds = p->out[0] + (p->k[0] - 1) * p->d[0] / p->s[0];
    p->plane = (p->ds * p->hs * p->ws + p->ws + 15) / 16 * 16; /* + one slack row */
    for (int64_t a = 0; a < p->k[0]; a++)
      for (int64_t b = 0; b < p->k[1]; b++)
        for (int64_t c = 0; c < p->k[2]; c++) {
          int id = (int)(((a * p->d[0]) % p->s[0] * p->s[1] + (b * p->d[1]) % p->s[1]) * p->s[2] +
                         (c * p->d[2]) % p->s[2]);
          if (p->phase_slot[id] < 0) p->phase_slot[id] = p->nphase++;
        }
  }
  p->chan = p->nphase * p->plane;
  return true;
}

/* Offsets of every tap (kd, kh, kw) within one channel of the buffer. */
void conv_plan_taps(const conv_plan *p, int64_t *tapoff) {
  int64_t t = 0;
  for (int64_t a = 0; a < p->k[0]; a++)
    for (int64_t b = 0; b < p->k[1]; b++)
      for (int64_t c = 0; c < p->k[2]; c++) {
        int64_t ea = a * p->d[0], eb = b * p->d[1], ec = c * p->d[2];
        int id = (int)((ea % p->s[0] * p->s[1] + eb % p->s[1]) * p->s[2] + ec % p->s[2]);
        tapoff[t++] = p->phase_slot[id] * p->plane + (ea / p->s[0]) * p->hs * p->ws +
                      (eb / p->s[1]) * p->ws + ec / p->s[2];
      }
}

/* K block for the GEMM: whole channels, as many as keep one tile's B rows (about 4 cache lines
 * for each distinct input row a channel's taps read) within ~16 KB of L1. */
int64_t conv_kc(const conv_plan *p, const int64_t *tapoff) {
  int64_t rows = 0;
  for (int64_t t = 0; t < p->taps; t++) {
    bool seen = false;
    for (int64_t u = 0; u < t && !seen; u++) seen = tapoff[u] / p->ws == tapoff[t] / p->ws;
    if (!seen) rows++;
  }
  int64_t ch = 256 / (rows * 4);
  if (ch < 1) ch = 1;
  int64_t kc = ch * p->taps;
  return kc < 32 ? 32 : kc;
}

typedef struct fill_job {
  const conv_plan *p;
  const float *x;
  float *buf;
} fill_job;

/* Fills the buffer of one (image, channel) from the input plane. */
static void fill_task(void *arg, int64_t nc) {
  const fill_job *f = arg;
  const conv_plan *p = f->p;
  const float *x = f->x + nc * p->in[0] * p->in[1] * p->in[2];
  float *chan = f->buf + nc * p->chan;
  for (int pd = 0; pd < p->s[0]; pd++)
    for (int ph = 0; ph < p->s[1]; ph++)
      for (int pw = 0; pw < p->s[2]; pw++) {
        int slot = p->phase_slot[(pd * p->s[1] + ph) * p->s[2] + pw];
        if (slot < 0) continue;
        float *dst = chan + slot * p->plane;
        /* columns zw with 0 <= zw*sw + pw - pb < W */
        int64_t base = pw - p->pb[2], sw = p->s[2];
        int64_t lo = base >= 0 ? 0 : cdiv(-base, sw);
        int64_t hi = p->in[2] - base > 0 ? cdiv(p->in[2] - base, sw) : 0;
        if (hi > p->ws) hi = p->ws;
        if (lo > hi) lo = hi;
        int64_t n = hi - lo;
        for (int64_t zd = 0; zd < p->ds; zd++) {
          int64_t id = zd * p->s[0] + pd - p->pb[0];
          for (int64_t zh = 0; zh < p->hs; zh++, dst += p->ws) {
            int64_t ih = zh * p->s[1] + ph - p->pb[1];
            if (id < 0 || id >= p->in[0] || ih < 0 || ih >= p->in[1]) {
              for (int64_t zw = 0; zw < p->ws; zw++) dst[zw] = 0;
              continue;
            }
            const float *src = x + (id * p->in[1] + ih) * p->in[2] + lo * sw + base;
            float *d = dst + lo;
            for (int64_t zw = 0; zw < lo; zw++) dst[zw] = 0;
            if (sw == 1) {
              for (int64_t i = 0; i < n; i++) d[i] = src[i];
            } else if (sw == 2) {
              for (int64_t i = 0; i < n; i++) d[i] = src[2 * i];
            } else {
              for (int64_t i = 0; i < n; i++) d[i] = src[i * sw];
            }
            for (int64_t zw = hi; zw < p->ws; zw++) dst[zw] = 0;
          }
        }
        int64_t used = p->ds * p->hs * p->ws;
        memset(chan + slot * p->plane + used, 0, sizeof(float) * (size_t)(p->plane - used));
      }
}

/* Fills the buffer for images [n0, n1) (image n at buf + (n - n0) * C * chan); a zero-copy
 * plan points at x itself. */
ladle_status conv_plan_fill(op_ctx *c, conv_plan *p, const float *x, int64_t n0, int64_t n1) {
  if (p->zero_copy) {
    p->buf = x;
    return LADLE_OK;
  }
  int64_t planes = (n1 - n0) * p->cd.C;
  float *buf = op_scratch(c, 0, (size_t)(planes * p->chan) * sizeof(float));
  if (!buf) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for the padded input");
  fill_job f = {p, x + n0 * p->cd.C * p->in[0] * p->in[1] * p->in[2], buf};
  if (op_threads(c) > 1 && planes * p->chan >= 65536)
    tpool_run(op_pool(c), planes, fill_task, &f);
  else
    for (int64_t i = 0; i < planes; i++) fill_task(&f, i);
  p->buf = buf;
  return LADLE_OK;
}

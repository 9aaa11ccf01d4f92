/* nn_build.h — shared by the gemm and conv unit tests: a seeded random-number source and
 * helpers that build float one-node models (with an optional fused activation) on
 * onnx_build.h's model_builder, load them and run them. Included by one test file each (static
 * helpers, one copy per test). */
#ifndef LADLE_TESTS_NN_BUILD_H
#define LADLE_TESTS_NN_BUILD_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladle/ladle.h"
#include "onnx_build.h"
#include "xorshift.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) { return (uint32_t)(xorshift64(&rng) >> 16); }

static int64_t rint_in(int64_t lo, int64_t hi) {
  return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rfloat(void) { return (float)((int32_t)(rnd() % 20001) - 10000) / 10000.0f; }

static float *rand_buf(int64_t n) {
  float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = rfloat();
  return p;
}

/* --- building one-node models (with an optional fused activation) --------------------------- */

/* op(ins...) -> y0 [, y1]; with act ("Relu", "Clip", "LeakyRelu") the graph output y is
 * act(y0). ins are float tensors; initializers are stored in float_data. Returns NULL on load
 * failure (message printed). */
static ladle_model *build(const char *op, int n_in, const tin *ins, int n_attr,
                          const attr_spec *attrs, const char *act, float a0, float a1, int n_out) {
  static const char *const op_out[2] = {"y0", "y1"}, *const final_out[2] = {"y", "y1"};
  static const char *const act_in[3] = {"y0", "clip_lo", "clip_hi"};
  static const int64_t scalar_dims[1] = {0};
  const char *in_names[TIN_MAX];
  float lohi[2] = {a0, a1};
  bool clip = act && strcmp(act, "Clip") == 0;
  model_builder b;
  mb_init(&b, 13);
  mb_tins(&b, n_in, ins, in_names, false);
  if (clip) /* Clip-13 reads min and max from constant inputs */
    for (int k = 0; k < 2; k++) mb_initializer_floats(&b, act_in[1 + k], 0, scalar_dims, &lohi[k]);
  for (int k = 0; k < n_out; k++) /* outputs: type only */
    mb_output(&b, act || k ? final_out[k] : op_out[k], k == 0 ? LADLE_FLOAT : LADLE_INT64);
  mb_node(&b, op, NULL, "op", n_in, in_names, n_out, op_out, n_attr, attrs);
  if (act) {
    attr_spec alpha = {"alpha", A_FLOAT, .f = a0};
    int n_act_attr = strcmp(act, "LeakyRelu") == 0;
    mb_node(&b, act, NULL, "act", clip ? 3 : 1, act_in, 1, final_out, n_act_attr, &alpha);
  }
  ladle_model *m = NULL;
  char err[512];
  if (mb_load(&b, &m, err, sizeof err) != LADLE_OK) {
    fprintf(stderr, "load %s: %s\n", op, err);
    m = NULL;
  }
  return m;
}

/* Runs m on its graph inputs (in order of ins, initializers skipped), input i fed from data[i].
 * Returns the status; the session is returned in *out_s for reading outputs (caller frees). */
static ladle_status run(ladle_model *m, int threads, int n_in, const tin *ins, float **data,
                        ladle_session **out_s) {
  tin fed[TIN_MAX];
  for (int i = 0; i < n_in; i++) {
    fed[i] = ins[i];
    fed[i].data = data[i];
  }
  return run_tins(m, threads, n_in, fed, out_s);
}

/* --- activations ---------------------------------------------------------------------------- */

typedef struct act_case {
  const char *op;
  float a, b;
} act_case;

static const act_case acts[] = {
    {NULL, 0, 0}, {"Relu", 0, 0}, {"Clip", -0.3f, 0.4f}, {"LeakyRelu", 0.1f, 0}};

static double act_ref(const act_case *a, double x) {
  if (!a->op) return x;
  if (!strcmp(a->op, "Relu")) return x > 0 ? x : 0;
  if (!strcmp(a->op, "Clip")) return x < a->a ? a->a : (x > a->b ? a->b : x);
  return x >= 0 ? x : a->a * x;
}

/* |got - want| within what float accumulation of terms summing to `mag` allows. */
static bool close_to(double got, double want, double mag) {
  return fabs(got - want) <= 2e-6 * mag + 1e-6 || (isnan(got) && isnan(want));
}

#endif

/* registry.c — the op table: every family file exports a table of op_def rows ending with a
 * row whose name is NULL. Lookup is a linear scan at load time only (never per run). */
#include <string.h>

#include "runtime/op.h"

extern const op_def ops_elementwise[];
extern const op_def ops_activation[];
extern const op_def ops_logic[];
extern const op_def ops_cast[];
extern const op_def ops_reduce[];
extern const op_def ops_softmax[];
extern const op_def ops_norm[];
extern const op_def ops_shape[];
extern const op_def ops_gather[];
extern const op_def ops_generate[];
extern const op_def ops_gemm[];
extern const op_def ops_conv[];
extern const op_def ops_pool[];
extern const op_def ops_ml_linear[];
extern const op_def ops_ml_tree[];
extern const op_def ops_ml_misc[];
extern const op_def ops_rnn[];
extern const op_def ops_quant[];
extern const op_def ops_control[];
extern const op_def ops_resize[];
extern const op_def ops_einsum[];
extern const op_def ops_vision[];
extern const op_def ops_text[];
extern const op_def ops_signal[];
extern const op_def ops_misc[];

static const op_def *const families[] = {
    ops_elementwise,
    ops_activation,
    ops_logic,
    ops_cast,
    ops_reduce,
    ops_softmax,
    ops_norm,
    ops_shape,
    ops_gather,
    ops_generate,
    ops_gemm,
    ops_conv,
    ops_pool,
    ops_ml_linear,
    ops_ml_tree,
    ops_ml_misc,
    ops_rnn,
    ops_quant,
    ops_control,
    ops_resize,
    ops_einsum,
    ops_vision,
    ops_text,
    ops_signal,
    ops_misc,
};

static const char *canon_domain(const char *d) {
  if (!d || strcmp(d, "ai.onnx") == 0) return "";
  return d;
}

const op_def *op_find(const char *domain, const char *name, int opset, bool *known) {
  const char *dom = canon_domain(domain);
  if (known) *known = false;
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    for (const op_def *d = families[f]; d->name; d++) {
      if (strcmp(d->name, name) != 0 || strcmp(canon_domain(d->domain), dom) != 0) continue;
      if (known) *known = true;
      if (opset >= d->since && opset <= d->until) return d;
    }
  }
  return NULL;
}

void op_foreach(void (*fn)(const op_def *d, void *ud), void *ud) {
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
    for (const op_def *d = families[f]; d->name; d++) fn(d, ud);
}

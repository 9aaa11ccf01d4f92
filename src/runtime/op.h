/* op.h — the kernel interface. Every op is one row of an op table (ops/registry.c):
 *
 *   { "", "Relu", 6, 99, run_relu, NULL, NULL },
 *
 * domain "" is the default ONNX domain ("ai.onnx" is mapped to it), [since, until] the opset
 * versions the row implements (a later row may implement a later version differently).
 *
 * run() reads its inputs with op_in(), computes each output's shape from the actual inputs,
 * gets the planned buffer with op_out(), and fills it. It returns LADLE_OK or a status from
 * op_fail(), whose message should say what was wrong ("axis 3 out of range for rank 2").
 * Nothing an ONNX file or a request contains may reach an assert.
 *
 * init(), optional, runs once at load with the node's constant inputs visible through
 * op_const_input(): validate attributes, pre-pack weights into node->state (freed by
 * free_state). The state is shared by every session, so run() must only read it.
 */
#ifndef LADLE_RUNTIME_OP_H
#define LADLE_RUNTIME_OP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "base/tpool.h"
#include "runtime/graph.h"
#include "runtime/tensor.h"

typedef struct op_ctx op_ctx;

typedef ladle_status (*op_run_fn)(op_ctx *c);
typedef ladle_status (*op_init_fn)(const graph *g, node *n, errbuf *e);
typedef void (*op_free_fn)(void *state);

typedef struct op_def {
  const char *domain;
  const char *name;
  int since, until;
  op_run_fn run;
  op_init_fn init;
  op_free_fn free_state;
} op_def;

/* Finds the row for (domain, name) at the given opset; NULL if none. *known is set when some
 * row exists for the op at another opset (so the error can say which versions are supported). */
const op_def *op_find(const char *domain, const char *name, int opset, bool *known);
/* Calls fn for every row (conformance tooling, `ladle inspect --ops`). */
void op_foreach(void (*fn)(const op_def *d, void *ud), void *ud);

/* --- what a kernel sees ------------------------------------------------------------------- */

const node *op_node(const op_ctx *c);
int op_n_in(const op_ctx *c);
int op_n_out(const op_ctx *c);
/* Input i, or NULL when absent (omitted optional input, or i >= op_n_in). */
const ladle_tensor *op_in(const op_ctx *c, int i);
/* Whether output i is wanted (present in the node and not an empty name). */
bool op_out_wanted(const op_ctx *c, int i);
/* Shapes output i and returns its buffer, planned and reused across runs. Fails with
 * LADLE_ERR_LIMIT past the session's element limit. An unwanted output gets a private
 * scratch buffer, so kernels may write it unconditionally. */
ladle_status op_out(op_ctx *c, int i, int dtype, int ndim, const int64_t *dims, ladle_tensor **y);
/* Scratch memory for the duration of run(): slot 0..3, reused across runs (no malloc in steady
 * state). Contents are undefined on entry. NULL on allocation failure. */
void *op_scratch(op_ctx *c, int slot, size_t bytes);
/* Sets the node's error message; the executor adds the node name and op. */
ladle_status op_fail(op_ctx *c, ladle_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
tpool *op_pool(op_ctx *c);
/* The session's limit on one tensor's bytes (kernels that accumulate outside op_out obey it). */
uint64_t op_tensor_limit(const op_ctx *c);
int op_threads(const op_ctx *c);

/* At init(): the constant (initializer / folded) value behind input i, or NULL. */
const ladle_tensor *op_const_input(const graph *g, const node *n, int i);

/* Applies n's fused activation (ACT_*) to y[0..len). */
void act_apply(const node *n, float *y, int64_t len);

/* Subgraph execution for control-flow ops (If, Loop, Scan): runs g with the given inputs bound
 * to g->inputs in order, with outer-scope names resolved through the calling context. Outputs
 * are copied into outs[i] (allocated with malloc; caller frees data). */
ladle_status op_run_subgraph(op_ctx *c, const graph *g, int n_in, const ladle_tensor *const *in,
                             ladle_tensor *outs);

#endif

/* model_config.h — a model's configuration (config.yaml, keys named as in Triton's model
 * configuration) and its signature (inputs and outputs as the server checks requests).
 *
 * Everything has a default taken from the ONNX file: without config.yaml a model whose inputs and
 * outputs all have a variable first dimension batches dynamically up to the server's default
 * max_batch_size, runs on one instance, and serves its latest version. */
#ifndef LADLE_SERVING_MODEL_CONFIG_H
#define LADLE_SERVING_MODEL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "ladle/ladle.h"
#include "serving/dbuf.h"
#include "serving/json.h"

#define CFG_MAX_PREFERRED 16
#define CFG_MAX_VERSIONS 64
#define CFG_NAME_MAX 256

typedef enum { VP_LATEST, VP_ALL, VP_SPECIFIC } version_policy_kind;

/* One input or output: dims include the batch dimension (-1) when the model batches; ndim -1
 * means the model declares no shape (anything is accepted). */
typedef struct tensor_sig {
  char *name;
  int dtype;
  int ndim;
  int64_t dims[LADLE_MAX_DIMS];
} tensor_sig;

/* A tensor declared in config.yaml's `input` / `output` lists (dims without the batch dim). */
typedef struct tensor_decl {
  char name[CFG_NAME_MAX];
  int dtype; /* 0: not given */
  int ndim;  /* -1: not given */
  int64_t dims[LADLE_MAX_DIMS];
} tensor_decl;

typedef struct model_config {
  char name[CFG_NAME_MAX];
  int max_batch_size;     /* -1: decide from the model */
  int dynamic_batching;   /* -1: decide (on when max_batch_size > 0), 0 off, 1 on */
  int64_t max_queue_delay_us;
  int n_preferred;
  int preferred[CFG_MAX_PREFERRED];
  int64_t max_queue_size;     /* 0: the server's default */
  int64_t default_timeout_us; /* 0: none */
  bool allow_timeout_override;
  int instance_count;
  int intra_op_threads;
  int64_t memory_limit_mb; /* per execution (intermediates and scratch); 0: none */
  version_policy_kind version_policy;
  int num_versions; /* VP_LATEST */
  int n_versions;   /* VP_SPECIFIC */
  int64_t versions[CFG_MAX_VERSIONS];
  char default_model_filename[CFG_NAME_MAX];
  int n_decl_in, n_decl_out;
  tensor_decl *decl_in, *decl_out; /* malloc'd */
} model_config;

typedef struct model_sig {
  int n_in, n_out;
  tensor_sig *in, *out;
  int max_batch_size; /* 0: the model does not batch; requests give whole shapes */
  bool dynamic_batching;
} model_sig;

/* Defaults before config.yaml is read. */
void model_config_init(model_config *c, const char *name);
void model_config_destroy(model_config *c);
ladle_status model_config_copy(model_config *dst, const model_config *src);
/* Applies the keys of a parsed config (YAML or JSON) on top of c. Unknown keys are refused with
 * the list of known ones (a typo must not silently do nothing). */
ladle_status model_config_apply(model_config *c, const json *root, errbuf *e);
/* Resolves the defaults against a loaded model and checks the config's declarations against it.
 * default_max_batch is what a batchable model gets without max_batch_size in its config. */
ladle_status model_sig_build(const ladle_model *m, model_config *c, int default_max_batch,
                             model_sig *sig, errbuf *e);
void model_sig_destroy(model_sig *s);
/* The configuration as Triton's model-configuration JSON (the `config` endpoint). */
void model_config_to_json(const model_config *c, const model_sig *sig, const char *platform,
                          dbuf *b);

#endif

/* repository.h — the model repository: folders scanned, versions loaded in the background,
 * loaded and unloaded on request, reloaded when files change (poll mode).
 *
 * Layout (Triton's): DIR/MODEL/config.yaml (optional), DIR/MODEL/VERSION/model.onnx.
 *
 * One loader thread does every load, unload and scan, so the I/O threads never wait for a disk
 * or a model: they look versions up (a short lock) and hold a reference while a request is in
 * flight. A reload builds the new versions beside the old ones and swaps them in one step; old
 * versions finish their queued requests and are freed by the loader when their last reference
 * goes. A model that fails to load is reported (state UNAVAILABLE with the reason, and the log)
 * and never stops the others.
 *
 * Lock order: repo.mu, then nothing (the scheduler's lock is never taken under it). */
#ifndef LADLE_SERVING_REPOSITORY_H
#define LADLE_SERVING_REPOSITORY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "ladle/ladle.h"
#include "serving/model_config.h"
#include "serving/scheduler.h"
#include "serving/stats.h"

typedef enum { CONTROL_NONE, CONTROL_EXPLICIT, CONTROL_POLL } control_mode;

typedef enum { MODEL_UNAVAILABLE, MODEL_LOADING, MODEL_READY, MODEL_UNLOADING } model_state;
const char *model_state_name(model_state s); /* "READY", ... as Triton writes them */

typedef struct repo repo;
struct model_entry;

/* A loaded version. Fields are fixed once it is published; counters in stats are atomic. */
typedef struct model_version {
  char name[CFG_NAME_MAX];
  int64_t version;
  char vstr[24];
  ladle_model *model;
  model_config cfg; /* resolved */
  model_sig sig;
  model_stats stats;
  batcher *batcher;
  int refs;      /* atomic: the entry's reference plus one per request in flight */
  char label[CFG_NAME_MAX + 32];
  struct model_version *next_dead;
  struct repo *repo;
  struct model_entry *entry;
} model_version;

typedef struct repo_options {
  const char *dir;
  control_mode mode;
  const char *const *load_models; /* explicit mode: names to load at start ("*": all) */
  int n_load_models;
  int default_max_batch;      /* max_batch_size of batchable models without a config */
  int64_t default_max_queue;  /* max_queue_size when a config gives none */
  int poll_secs;              /* poll mode: seconds between scans */
  bool strict_readiness;      /* ready only when every model is READY */
  size_t max_config_bytes;
} repo_options;

repo *repo_new(const repo_options *o, errbuf *e);
/* Scans the folder, queues the start-up loads and starts the loader thread. */
ladle_status repo_start(repo *r, errbuf *e);
/* True once the start-up loads are done (and, with strict readiness, every model is READY). */
bool repo_ready(repo *r);

/* Finds a ready version: version NULL or "" means the highest ready one. NOT_FOUND (unknown
 * model or version; the message says which exist) or UNAVAILABLE (loading, unloading, failed). */
ladle_status repo_acquire(repo *r, const char *name, const char *version, model_version **out,
                          errbuf *e);
void repo_release(model_version *v);
/* Ready versions of a model, ascending; returns how many (at most max). */
int repo_versions(repo *r, const char *name, int64_t *out, int max);
/* References to every ready version (for statistics and metrics); release each, free the array. */
int repo_snapshot(repo *r, model_version ***out);

/* Loads (or reloads) a model on the loader thread and calls done(ud, status, message) from it.
 * config_json (may be NULL) replaces config.yaml, as Triton's load `config` parameter does.
 * Refused at once (status returned, done never called) in mode none or poll, or for a name that
 * is not a plain folder name. */
typedef void (*repo_done_fn)(void *ud, ladle_status st, const char *msg);
ladle_status repo_load_async(repo *r, const char *name, const char *config_json, size_t config_len,
                             repo_done_fn done, void *ud, errbuf *e);
ladle_status repo_unload_async(repo *r, const char *name, repo_done_fn done, void *ud, errbuf *e);

typedef struct repo_row {
  char name[CFG_NAME_MAX];
  char version[24]; /* "" for a model without loaded versions */
  model_state state;
  char reason[LADLE_ERRMSG_MAX];
} repo_row;
/* Every model folder and loaded version (malloc'd array; returns the count, -1 out of memory). */
int repo_index(repo *r, bool ready_only, repo_row **rows);

/* A model name from a URL is usable: not empty, no '/', not "." or "..", no control bytes. */
bool repo_name_ok(const char *name);

/* Stops the loader and every scheduler (queued requests still run and complete). */
void repo_stop(repo *r);
void repo_free(repo *r);

#endif

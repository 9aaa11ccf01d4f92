/* batch.h — one batch job: source -> model -> sink, chunked, pipelined, idempotent. */
#ifndef LADLE_JOBS_BATCH_H
#define LADLE_JOBS_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "jobs/jobs.h"

#define BATCH_MAX_INPUTS 32
#define BATCH_MAX_READERS 16

/* Which source columns feed a model input (--input NAME=col,col,...). */
typedef struct input_map {
  const char *name;
  int n_cols;
  const char *cols[JOB_MAX_COLS > 256 ? 256 : JOB_MAX_COLS];
} input_map;

typedef struct batch_opts {
  const char *model_path;
  const char *model_name, *model_version;
  source_opts src;
  const char *sink_uri, *table;
  int64_t chunk_size; /* rows per chunk = per transaction */
  int readers;        /* reader threads over key ranges of the source (0: automatic) */
  int workers;        /* inference threads, each with its own session */
  int threads;        /* intra-op threads per worker */
  bool only_missing;
  int64_t max_errors; /* -1: no limit */
  bool progress;      /* draw a progress line on stderr */
  int n_inputs;
  input_map inputs[BATCH_MAX_INPUTS];
  volatile int *stop; /* set asynchronously (signals) to stop after the chunks in flight */
  const char *job;    /* PostgreSQL sources: processes with the same job name split the work */
} batch_opts;

typedef struct batch_result {
  int64_t rows_read, predicted, errors, skipped;
  int readers; /* reader threads that ran (key ranges of the source) */
  double seconds;
  const char *status; /* "ok", "failed", "interrupted" */
  char message[LADLE_ERRMSG_MAX];
} batch_result;

/* Readers used when batch_opts.readers is 0: two on a machine with four or more cores, or with
 * two or three when rows are wide (64+ features), else one. A source that cannot be split
 * exactly is read by one whatever this says. */
int batch_default_readers(int n_features);

/* Runs the job; LADLE_OK when every row was predicted or written as an error within the limit.
 * The result is filled in either case; a run record is written to the sink. */
ladle_status batch_run(const batch_opts *o, batch_result *res, errbuf *e);

#endif

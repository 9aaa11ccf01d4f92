/* jobs.h — batch jobs: tables of rows in, predictions out.
 *
 * A job reads rows from a source (SQLite, PostgreSQL, CSV, JSON Lines, .npy), turns each chunk of
 * rows into model inputs, runs the model, and upserts one prediction row per key into a sink
 * (SQLite, PostgreSQL, CSV, JSON Lines, .npy). Sources and sinks are connectors behind the small
 * vtables below; batch.c drives them. */
#ifndef LADLE_JOBS_H
#define LADLE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "ladle/ladle.h"

#define JOB_MAX_COLS 4096

/* Key text of a chunk, in blocks that never move (keys[r] points into them); reset keeps one
 * block big enough for what the chunk held, so a chunk refilled with similar keys allocates
 * nothing. */
typedef struct key_block {
  struct key_block *next;
  size_t used, cap;
  char text[];
} key_block;

/* A chunk of rows as read: keys, numeric features (row-major n_rows x n_cols), and a per-row
 * error (NULL when the row is good). Text is owned by the chunk. */
typedef struct chunk {
  int64_t n_rows, cap_rows;
  int n_cols;
  char **keys;       /* into key_text */
  key_block *key_text;
  size_t key_hint;   /* key bytes the chunk last needed */
  double *x;
  char **row_error;
  int64_t n_failed;  /* rows with an error */
  int64_t first_row; /* index of the first row in the whole job (for messages) */
} chunk;

void chunk_init(chunk *c, int n_cols);
void chunk_reset(chunk *c); /* forgets the rows, keeps capacity */
void chunk_destroy(chunk *c);
/* Appends a row; returns its index or -1 on allocation failure. */
int64_t chunk_add_row(chunk *c, const char *key, size_t key_len);
/* Keeps only the rows whose keep[r] is true, in order. */
void chunk_filter(chunk *c, const bool *keep);
void chunk_row_fail(chunk *c, int64_t row, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parses text as a number for a feature cell; false (row error set) when it is not one. */
bool chunk_set_text(chunk *c, int64_t row, int col, const char *col_name, const char *text);

/* --- sources -------------------------------------------------------------------------------- */

typedef struct source source;
typedef struct source_vt {
  /* Reads up to max_rows rows into c (after chunk_reset). Returns rows read, 0 at the end, -1 on
   * error (message in e). */
  int64_t (*next)(source *s, chunk *c, int64_t max_rows, errbuf *e);
  /* Total rows if cheaply known (else -1). */
  int64_t (*count)(source *s);
  void (*close)(source *s);
  /* Optional (NULL: the source is read whole). Divides the rows into at most n key ranges that
   * separate readers can scan concurrently, each row in exactly one: bounds[0..parts] (text,
   * malloc'd; bounds[0] and bounds[parts] are NULL = open) for source_opts key_lo / key_hi.
   * Returns parts (1 when splitting would not pay or cannot be proven exact), -1 on error. */
  int (*split)(source *s, int n, char **bounds, errbuf *e);
} source_vt;

struct source {
  const source_vt *vt;
  int n_cols;                   /* every column, key included */
  char **col_names;
  int key_col;                  /* index into col_names */
  int n_features;               /* n_cols - 1 */
  int *feature_cols;            /* source column index of each feature */
  bool key_is_int;              /* keys look like integers (sink chooses the key column type) */
};

typedef struct source_opts {
  const char *uri;   /* sqlite:///x.db, postgresql://..., file.csv, file.jsonl, file.npy */
  const char *query; /* SQL sources */
  const char *key;   /* key column; NULL: SQL/CSV/JSONL need one, .npy rows are numbered */
  /* Restricts a SQL source to keys in [lo, hi) (work-table chunks, split readers); NULL: open. */
  const char *key_lo, *key_hi;
  const char *key_type; /* SQL type the bounds are cast to (PostgreSQL) */
} source_opts;

ladle_status source_open(const source_opts *o, source **out, errbuf *e);
void source_close(source *s);
/* Fills feature_cols from key_col (every column but the key, in order). */
ladle_status source_finish_columns(source *s, const char *key, errbuf *e);

/* --- sinks ---------------------------------------------------------------------------------- */

typedef struct sink_column {
  char *name;      /* model output name */
  int dtype;
  int64_t width;   /* elements per row: 1 is stored as a number, more as a JSON array */
} sink_column;

/* One row of ladle_batch_runs. */
typedef struct run_record {
  const char *started_at, *ended_at, *status, *model, *version, *source, *table, *message;
  int64_t rows, errors;
  double seconds;
} run_record;

typedef struct sink sink;
typedef struct sink_vt {
  /* Creates the table if missing (once the first outputs are known). */
  ladle_status (*prepare)(sink *k, errbuf *e);
  /* Writes one chunk's predictions (rows with row_error == NULL) and errors, in one
   * transaction, upserting by key. outputs[i] holds n_good rows of column i, in row order. */
  ladle_status (*write)(sink *k, const chunk *c, const ladle_tensor *outputs, errbuf *e);
  /* Keys that already have a prediction from this model and version (for --only-missing);
   * calls fn per key. */
  ladle_status (*existing)(sink *k, void (*fn)(void *ud, const char *key), void *ud, errbuf *e);
  ladle_status (*record_run)(sink *k, const struct run_record *r, errbuf *e);
  void (*close)(sink *k);
  /* Optional (NULL: nothing to do). After the last chunk: puts out what the sink holds back
   * (file sinks: buffered lines, whole .npy files) and reports a failure, which fails the job. */
  ladle_status (*finish)(sink *k, errbuf *e);
} sink_vt;

struct sink {
  const sink_vt *vt;
  char *table;
  char *model, *version;
  bool key_is_int;
  char *key_name;
  int n_out;
  sink_column *out;
  char run_started[40]; /* ISO-8601 UTC */
};

typedef struct sink_opts {
  const char *uri;
  const char *table;
  const char *model, *version;
  const char *key_name;
  bool key_is_int;
  int n_out;
  const sink_column *out;
} sink_opts;

ladle_status sink_open(const sink_opts *o, sink **out, errbuf *e);
void sink_close(sink *k);

/* Shared by the connectors: copy the sink options / free what the base structs own. */
ladle_status sink_fill_common(sink *k, const sink_opts *o, errbuf *e);
void sink_free_common(sink *k);
void source_free_common(source *s);

/* Formats the current time as ISO-8601 UTC with milliseconds. */
void jobs_now_iso(char *buf, size_t len);
/* Row r of an output tensor as JSON: a number (or string, or boolean) for width 1, an array
 * otherwise. Like snprintf: writes at most len - 1 bytes and a NUL, returns the whole length. */
size_t jobs_format_value(const ladle_tensor *t, int64_t r, int64_t width, char *buf, size_t len);
/* The same for a table cell: a width-1 string is the string itself, not a JSON string. */
size_t jobs_format_text(const ladle_tensor *t, int64_t r, int64_t width, char *buf, size_t len);
/* jobs_format_value (json) or jobs_format_text, whole: in buf when it fits, else in *spill
 * (grown with realloc; the caller frees it). Sets *n to the length; NULL when out of memory. */
const char *jobs_text(const ladle_tensor *t, int64_t r, int64_t width, bool json, char *buf,
                      size_t len, char **spill, size_t *spill_cap, size_t *n);

/* Connector constructors (one file each). */
ladle_status sqlite_source_open(const source_opts *o, source **out, errbuf *e);
ladle_status sqlite_sink_open(const sink_opts *o, sink **out, errbuf *e);
ladle_status pg_source_open(const source_opts *o, source **out, errbuf *e);
ladle_status pg_sink_open(const sink_opts *o, sink **out, errbuf *e);
ladle_status file_source_open(const source_opts *o, source **out, errbuf *e);
ladle_status file_sink_open(const sink_opts *o, sink **out, errbuf *e);

#endif

/* pgwork.h — the PostgreSQL work table that lets several `ladle batch` processes split a job
 * (see pg.c). */
#ifndef LADLE_JOBS_PGWORK_H
#define LADLE_JOBS_PGWORK_H

#include "jobs/jobs.h"

typedef struct pg_work pg_work;

/* Connects, creates ladle_batch_work, and plans the job's chunks if no process has yet.
 * key_type receives the key column's SQL type (chunk bounds are cast to it). */
ladle_status pg_work_open(const char *uri, const char *job, const char *query, const char *key,
                          int64_t chunk_size, pg_work **out, char *key_type, size_t kt_len,
                          errbuf *e);
/* Claims the next unfinished chunk and holds its row lock until pg_work_done/abort.
 * Returns 1 with the chunk's key bounds [lo, hi) (NULL = open), 0 when none is left, -1 on
 * error. */
int pg_work_claim(pg_work *w, int *chunk_id, char **lo, char **hi, errbuf *e);
ladle_status pg_work_done(pg_work *w, int chunk_id, const char *worker, errbuf *e);
void pg_work_abort(pg_work *w);
void pg_work_close(pg_work *w);

#endif

/* schedule.h — `ladle schedule`, the job-management server: runs jobs from a jobs.yaml on cron
 * expressions or fixed intervals, each run a child process with a timeout, retries with
 * exponential backoff, never two runs of one job at once, history in SQLite. */
#ifndef LADLE_JOBS_SCHEDULE_H
#define LADLE_JOBS_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/status.h"
#include "jobs/cron.h"

#define SCHED_MAX_JOBS 256
#define SCHED_MAX_ARGS 128

typedef struct sched_job {
  char *name;
  bool is_cron;
  cron_expr cron;
  char *cron_text;
  int64_t every; /* seconds, when !is_cron */
  char *argv[SCHED_MAX_ARGS + 1];
  int argc;
  bool shell;     /* argv[0] is a /bin/sh -c string */
  int64_t timeout; /* seconds, 0 = none */
  int retries;
  int64_t backoff; /* seconds before the first retry; doubles each time */
} sched_job;

typedef struct sched_config {
  char *history; /* SQLite file */
  int n_jobs;
  sched_job jobs[SCHED_MAX_JOBS];
} sched_config;

/* Reads jobs.yaml. `self` is this ladle binary (for jobs given as `ladle: [args]`). */
ladle_status sched_load(const char *path, const char *self, sched_config *c, errbuf *e);
void sched_free(sched_config *c);
/* The next time job j is due strictly after `after`. */
time_t sched_next(const sched_job *j, time_t after);
/* Prints every job's next run and last status. */
ladle_status sched_list(const sched_config *c, errbuf *e);
/* Runs until *stop is set (SIGTERM/SIGINT), then stops children gracefully. */
ladle_status sched_serve(const sched_config *c, volatile int *stop, errbuf *e);

#endif

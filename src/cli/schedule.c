/* schedule.c — `ladle schedule`: the job-management server. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jobs/schedule.h"

static const char *help =
    "usage: ladle schedule --jobs jobs.yaml [--list]\n\n"
    "Runs jobs on a schedule until SIGTERM or SIGINT (then lets running jobs finish for 10s).\n"
    "--list prints each job's next run and last result, and exits.\n\n"
    "jobs.yaml:\n"
    "  history: schedule.db            # SQLite history (default: ladle-schedule.db beside jobs.yaml)\n"
    "  jobs:\n"
    "    - name: nightly-churn\n"
    "      schedule: \"0 2 * * *\"        # 5-field cron in UTC (lists, ranges, steps, names, @daily)\n"
    "      ladle: [batch, --model-repository, models, --model, churn, --source, \"sqlite:///crm.db\",\n"
    "              --query, \"SELECT * FROM customers\", --key, id, --sink, \"sqlite:///crm.db\",\n"
    "              --table, churn_scores, --only-missing]\n"
    "      timeout: 1h                  # stop the run (its whole process group) after this\n"
    "      retries: 3                   # retry a failed run ...\n"
    "      retry_backoff: 1m            # ... after 1m, 2m, 4m\n"
    "    - name: cleanup\n"
    "      every: 15m                   # at every multiple of 15 minutes since the epoch\n"
    "      command: \"find /tmp/exports -mtime +7 -delete\"   # a shell string, or a list of args\n\n"
    "Each run is a child process; a job never runs twice at once (an overlapping tick is\n"
    "recorded as skipped). Every run is a row of ladle_schedule_runs in the history database.\n";

static volatile int g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

int cmd_schedule(int argc, char **argv) {
  const char *jobs = NULL;
  bool list = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(help, stdout);
      return 0;
    } else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
      jobs = argv[++i];
    } else if (!strcmp(argv[i], "--list")) {
      list = true;
    } else {
      fprintf(stderr, "ladle schedule: unknown option '%s'\n%s", argv[i], help);
      return 2;
    }
  }
  if (!jobs) {
    fprintf(stderr, "ladle schedule: --jobs is required\n%s", help);
    return 2;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) snprintf(self, sizeof self, "%s", "ladle");
  else self[n] = '\0';
  sched_config cfg;
  errbuf e = {{0}};
  if (sched_load(jobs, self, &cfg, &e) != LADLE_OK) return cli_fail("schedule", "%s", e.msg);
  ladle_status st;
  if (list) {
    st = sched_list(&cfg, &e);
  } else {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    st = sched_serve(&cfg, &g_stop, &e);
  }
  sched_free(&cfg);
  if (st) return cli_fail("schedule", "%s", e.msg);
  return 0;
}

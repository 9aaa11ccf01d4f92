/* schedule.c — the job-management server.
 *
 * One thread, one poll loop: it sleeps until the next run is due, a child writes output, or a
 * child exits (SIGCHLD through a self-pipe). Each run is a child process in its own process group,
 * so a timeout kills the whole job (SIGTERM, then SIGKILL after a grace period). A job whose
 * previous run is still going is not started again: that tick is recorded as skipped. Failed runs
 * are retried after backoff, 2 * backoff, 4 * backoff, ... up to `retries` times. Every run, retry
 * and skip is a row of ladle_schedule_runs in the history database. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <yaml.h>

#include "base/log.h"
#include "jobs/schedule.h"

#define OUTPUT_TAIL 4096
#define KILL_GRACE_S 10

/* --- jobs.yaml ------------------------------------------------------------------------------ */

static const char *scalar(yaml_document_t *d, yaml_node_t *n) {
  (void)d;
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const char *k = scalar(d, yaml_document_get_node(d, p->key));
    if (k && !strcmp(k, key)) return yaml_document_get_node(d, p->value);
  }
  return NULL;
}

static ladle_status parse_job(yaml_document_t *d, yaml_node_t *n, const char *self, sched_job *j,
                              int index, errbuf *e) {
  static const char *known[] = {"name", "schedule", "every", "command", "ladle", "timeout",
                                "retries", "retry_backoff", NULL};
  if (n->type != YAML_MAPPING_NODE) return err_set(e, LADLE_ERR_PARSE, "job %d is not a mapping", index + 1);
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    const char *k = scalar(d, yaml_document_get_node(d, p->key));
    bool ok = false;
    for (int i = 0; known[i]; i++) ok |= k && !strcmp(k, known[i]);
    if (!ok) return err_set(e, LADLE_ERR_PARSE, "job %d: unknown key '%s'", index + 1, k ? k : "?");
  }
  const char *name = scalar(d, map_get(d, n, "name"));
  if (!name || !*name) return err_set(e, LADLE_ERR_PARSE, "job %d has no name", index + 1);
  j->name = strdup(name);
  const char *sch = scalar(d, map_get(d, n, "schedule")), *every = scalar(d, map_get(d, n, "every"));
  if (!!sch == !!every)
    return err_set(e, LADLE_ERR_PARSE, "job '%s': give exactly one of schedule (cron) or every", name);
  if (sch) {
    j->is_cron = true;
    j->cron_text = strdup(sch);
    ladle_status st = cron_parse(sch, &j->cron, e);
    if (st) {
      err_prefix(e, "job '%s'", name);
      return st;
    }
  } else if ((j->every = duration_parse(every)) <= 0) {
    return err_set(e, LADLE_ERR_PARSE, "job '%s': every '%s' is not a duration like 30s, 15m, 1h", name, every);
  }
  yaml_node_t *cmd = map_get(d, n, "command"), *lad = map_get(d, n, "ladle");
  if (!!cmd == !!lad)
    return err_set(e, LADLE_ERR_PARSE, "job '%s': give exactly one of command or ladle", name);
  if (lad) j->argv[j->argc++] = strdup(self);
  yaml_node_t *args = cmd ? cmd : lad;
  if (args->type == YAML_SCALAR_NODE && cmd) {
    j->shell = true;
    j->argv[j->argc++] = strdup(scalar(d, args));
  } else if (args->type == YAML_SEQUENCE_NODE) {
    for (yaml_node_item_t *it = args->data.sequence.items.start; it < args->data.sequence.items.top; it++) {
      const char *a = scalar(d, yaml_document_get_node(d, *it));
      if (!a) return err_set(e, LADLE_ERR_PARSE, "job '%s': arguments must be strings", name);
      if (j->argc == SCHED_MAX_ARGS) return err_set(e, LADLE_ERR_LIMIT, "job '%s': too many arguments", name);
      j->argv[j->argc++] = strdup(a);
    }
  } else {
    return err_set(e, LADLE_ERR_PARSE, "job '%s': %s must be a list of arguments%s", name,
                   cmd ? "command" : "ladle", cmd ? " or a shell string" : "");
  }
  if (j->argc == 0) return err_set(e, LADLE_ERR_PARSE, "job '%s': empty command", name);
  const char *t = scalar(d, map_get(d, n, "timeout")), *r = scalar(d, map_get(d, n, "retries")),
             *b = scalar(d, map_get(d, n, "retry_backoff"));
  if (t && (j->timeout = duration_parse(t)) < 0)
    return err_set(e, LADLE_ERR_PARSE, "job '%s': timeout '%s' is not a duration", name, t);
  j->retries = r ? atoi(r) : 0;
  if (j->retries < 0 || j->retries > 100) return err_set(e, LADLE_ERR_PARSE, "job '%s': retries is 0..100", name);
  j->backoff = b ? duration_parse(b) : 30;
  if (j->backoff < 0) return err_set(e, LADLE_ERR_PARSE, "job '%s': retry_backoff '%s' is not a duration", name, b);
  return LADLE_OK;
}

ladle_status sched_load(const char *path, const char *self, sched_config *c, errbuf *e) {
  ladle_status st = LADLE_OK;
  yaml_parser_t p;
  yaml_document_t d;
  bool have_doc = false;
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "r");
  if (!f) return err_set(e, LADLE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  yaml_parser_initialize(&p);
  yaml_parser_set_input_file(&p, f);
  if (!yaml_parser_load(&p, &d)) {
    st = err_set(e, LADLE_ERR_PARSE, "%s:%zu: invalid YAML: %s", path, p.problem_mark.line + 1,
                 p.problem ? p.problem : "parse error");
    goto out;
  }
  have_doc = true;
  yaml_node_t *root = yaml_document_get_root_node(&d);
  yaml_node_t *jobs = map_get(&d, root, "jobs");
  if (!jobs || jobs->type != YAML_SEQUENCE_NODE) {
    st = err_set(e, LADLE_ERR_PARSE, "%s: expected a top-level 'jobs:' list", path);
    goto out;
  }
  const char *hist = scalar(&d, map_get(&d, root, "history"));
  if (hist) {
    c->history = strdup(hist);
  } else { /* next to jobs.yaml */
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    c->history = malloc(dl + 32);
    if (c->history) snprintf(c->history, dl + 32, "%.*sladle-schedule.db", (int)dl, path);
  }
  for (yaml_node_item_t *it = jobs->data.sequence.items.start; it < jobs->data.sequence.items.top; it++) {
    if (c->n_jobs == SCHED_MAX_JOBS) {
      st = err_set(e, LADLE_ERR_LIMIT, "at most %d jobs", SCHED_MAX_JOBS);
      goto out;
    }
    sched_job *j = &c->jobs[c->n_jobs++];
    if ((st = parse_job(&d, yaml_document_get_node(&d, *it), self, j, c->n_jobs - 1, e))) goto out;
    for (int k = 0; k < c->n_jobs - 1; k++)
      if (!strcmp(c->jobs[k].name, j->name)) {
        st = err_set(e, LADLE_ERR_PARSE, "two jobs are named '%s'", j->name);
        goto out;
      }
  }
  if (c->n_jobs == 0) st = err_set(e, LADLE_ERR_PARSE, "%s defines no jobs", path);
out:
  if (have_doc) yaml_document_delete(&d);
  yaml_parser_delete(&p);
  fclose(f);
  if (st) sched_free(c);
  return st;
}

void sched_free(sched_config *c) {
  for (int i = 0; i < c->n_jobs; i++) {
    free(c->jobs[i].name);
    free(c->jobs[i].cron_text);
    for (int a = 0; a < c->jobs[i].argc; a++) free(c->jobs[i].argv[a]);
  }
  free(c->history);
  memset(c, 0, sizeof *c);
}

time_t sched_next(const sched_job *j, time_t after) {
  if (j->is_cron) return cron_next(&j->cron, after);
  return after - after % j->every + j->every; /* anchored to multiples of the interval */
}

/* --- history -------------------------------------------------------------------------------- */

static ladle_status history_open(const char *path, sqlite3 **db, errbuf *e) {
  if (sqlite3_open(path, db) != SQLITE_OK) {
    ladle_status st = err_set(e, LADLE_ERR_IO, "history '%s': %s", path, sqlite3_errmsg(*db));
    sqlite3_close(*db);
    *db = NULL;
    return st;
  }
  sqlite3_busy_timeout(*db, 10000);
  char *msg = NULL;
  if (sqlite3_exec(*db,
                   "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE IF NOT EXISTS ladle_schedule_runs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                   " job TEXT NOT NULL, scheduled_for TEXT, started_at TEXT, ended_at TEXT,"
                   " attempt INTEGER, status TEXT NOT NULL, exit_code INTEGER, seconds REAL, output TEXT);"
                   "CREATE INDEX IF NOT EXISTS ladle_schedule_runs_job ON ladle_schedule_runs (job, id);",
                   NULL, NULL, &msg) != SQLITE_OK) {
    ladle_status st = err_set(e, LADLE_ERR_IO, "history '%s': %s", path, msg ? msg : "?");
    sqlite3_free(msg);
    return st;
  }
  return LADLE_OK;
}

static void iso(time_t t, char *buf, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void history_add(sqlite3 *db, const char *job, time_t sched, time_t start, time_t end,
                        int attempt, const char *status, int exit_code, double secs, const char *out) {
  sqlite3_stmt *st = NULL;
  char a[32], b[32], c[32];
  iso(sched, a, sizeof a);
  iso(start, b, sizeof b);
  iso(end, c, sizeof c);
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO ladle_schedule_runs (job, scheduled_for, started_at, ended_at,"
                         " attempt, status, exit_code, seconds, output) VALUES (?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK) {
    log_msg(LOG_ERROR, "schedule", "history: %s", sqlite3_errmsg(db));
    return;
  }
  sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, c, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, attempt);
  sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, exit_code);
  sqlite3_bind_double(st, 8, secs);
  sqlite3_bind_text(st, 9, out ? out : "", -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) log_msg(LOG_ERROR, "schedule", "history: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
}

ladle_status sched_list(const sched_config *c, errbuf *e) {
  sqlite3 *db = NULL;
  ladle_status st = history_open(c->history, &db, e);
  if (st) return st;
  time_t now = time(NULL);
  printf("%-24s %-20s %-22s %s\n", "JOB", "SCHEDULE", "NEXT RUN (UTC)", "LAST RUN");
  for (int i = 0; i < c->n_jobs; i++) {
    const sched_job *j = &c->jobs[i];
    char when[32] = "never", sch[64], last[128] = "-";
    time_t nx = sched_next(j, now);
    if (nx > 0) iso(nx, when, sizeof when);
    if (j->is_cron) snprintf(sch, sizeof sch, "%s", j->cron_text);
    else snprintf(sch, sizeof sch, "every %llds", (long long)j->every);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT status, started_at, exit_code FROM ladle_schedule_runs "
                               "WHERE job = ? ORDER BY id DESC LIMIT 1", -1, &q, NULL) == SQLITE_OK) {
      sqlite3_bind_text(q, 1, j->name, -1, SQLITE_STATIC);
      if (sqlite3_step(q) == SQLITE_ROW)
        snprintf(last, sizeof last, "%s at %s (exit %d)", sqlite3_column_text(q, 0),
                 sqlite3_column_text(q, 1), sqlite3_column_int(q, 2));
    }
    sqlite3_finalize(q);
    printf("%-24s %-20s %-22s %s\n", j->name, sch, when, last);
  }
  sqlite3_close(db);
  return LADLE_OK;
}

/* --- the loop ------------------------------------------------------------------------------- */

typedef struct run_state {
  pid_t pid;          /* 0 when idle */
  int out_fd;
  time_t scheduled_for, started, deadline, kill_at;
  int attempt;        /* 1 for the scheduled run, 2.. for retries */
  time_t next_due;    /* next scheduled tick */
  time_t retry_at;    /* 0 when no retry is pending */
  bool timed_out;
  char out[OUTPUT_TAIL + 1];
  size_t out_len;
} run_state;

static int g_sigpipe[2] = {-1, -1};
static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  if (write(g_sigpipe[1], "c", 1) < 0) {}
  errno = saved;
}

static pid_t spawn(const sched_job *j, int *out_fd) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(p[1], STDOUT_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[0]);
    close(p[1]);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (j->shell) execl("/bin/sh", "sh", "-c", j->argv[0], (char *)NULL);
    else execvp(j->argv[0], j->argv);
    fprintf(stderr, "cannot run '%s': %s\n", j->argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  close(p[1]);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  *out_fd = p[0];
  return pid;
}

static void drain_output(run_state *r) {
  char buf[4096];
  ssize_t n;
  while (r->out_fd >= 0 && (n = read(r->out_fd, buf, sizeof buf)) > 0) {
    /* keep the last OUTPUT_TAIL bytes */
    if ((size_t)n >= OUTPUT_TAIL) {
      memcpy(r->out, buf + n - OUTPUT_TAIL, OUTPUT_TAIL);
      r->out_len = OUTPUT_TAIL;
    } else {
      size_t keep = r->out_len + (size_t)n > OUTPUT_TAIL ? OUTPUT_TAIL - (size_t)n : r->out_len;
      memmove(r->out, r->out + r->out_len - keep, keep);
      memcpy(r->out + keep, buf, (size_t)n);
      r->out_len = keep + (size_t)n;
    }
  }
  r->out[r->out_len] = '\0';
}

static void start_run(const sched_job *j, run_state *r, time_t now, time_t scheduled, int attempt) {
  r->out_len = 0;
  r->out[0] = '\0';
  r->timed_out = false;
  r->pid = spawn(j, &r->out_fd);
  r->scheduled_for = scheduled;
  r->started = now;
  r->attempt = attempt;
  r->deadline = j->timeout > 0 ? now + j->timeout : 0;
  r->kill_at = 0;
  if (r->pid < 0) {
    log_msg(LOG_ERROR, "schedule", "job %s: cannot start: %s", j->name, strerror(errno));
    r->pid = 0;
    r->out_fd = -1;
  } else {
    log_msg(LOG_INFO, "schedule", "job %s: started (attempt %d, pid %d)", j->name, attempt, (int)r->pid);
  }
}

ladle_status sched_serve(const sched_config *c, volatile int *stop, errbuf *e) {
  sqlite3 *db = NULL;
  ladle_status st = history_open(c->history, &db, e);
  if (st) return st;
  run_state *runs = calloc((size_t)c->n_jobs, sizeof *runs);
  if (!runs || pipe(g_sigpipe) != 0) {
    free(runs);
    sqlite3_close(db);
    return err_set(e, LADLE_ERR_NOMEM, "cannot set up the scheduler");
  }
  fcntl(g_sigpipe[0], F_SETFL, O_NONBLOCK);
  fcntl(g_sigpipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  time_t now = time(NULL);
  for (int i = 0; i < c->n_jobs; i++) {
    runs[i].out_fd = -1;
    runs[i].next_due = sched_next(&c->jobs[i], now);
    char when[32] = "never";
    if (runs[i].next_due > 0) iso(runs[i].next_due, when, sizeof when);
    log_msg(LOG_INFO, "schedule", "job %s: next run %s", c->jobs[i].name, when);
  }
  bool stopping = false;
  time_t stop_deadline = 0;
  for (;;) {
    now = time(NULL);
    if (*stop && !stopping) { /* graceful: no new runs; ask running children to finish */
      stopping = true;
      stop_deadline = now + KILL_GRACE_S;
      log_msg(LOG_INFO, "schedule", "stopping: waiting up to %ds for running jobs", KILL_GRACE_S);
      for (int i = 0; i < c->n_jobs; i++)
        if (runs[i].pid > 0) kill(-runs[i].pid, SIGTERM);
    }
    /* reap */
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (int i = 0; i < c->n_jobs; i++) {
        run_state *r = &runs[i];
        if (r->pid != pid) continue;
        const sched_job *j = &c->jobs[i];
        drain_output(r);
        if (r->out_fd >= 0) close(r->out_fd);
        r->out_fd = -1;
        r->pid = 0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        const char *res = r->timed_out ? "timeout" : code == 0 ? "ok" : stopping ? "interrupted" : "failed";
        history_add(db, j->name, r->scheduled_for, r->started, now, r->attempt, res, code,
                    difftime(now, r->started), r->out);
        if (code == 0 && !r->timed_out) {
          log_msg(LOG_INFO, "schedule", "job %s: ok in %.0fs", j->name, difftime(now, r->started));
        } else if (!stopping && r->attempt <= j->retries) {
          int64_t wait = j->backoff << (r->attempt - 1 < 20 ? r->attempt - 1 : 20);
          r->retry_at = now + wait;
          log_msg(LOG_WARN, "schedule", "job %s: %s (exit %d); retry %d of %d in %llds", j->name,
                  res, code, r->attempt, j->retries, (long long)wait);
        } else {
          r->retry_at = 0;
          log_msg(LOG_ERROR, "schedule", "job %s: %s (exit %d) after %d attempt(s)", j->name, res,
                  code, r->attempt);
        }
      }
    }
    if (stopping) {
      bool any = false;
      for (int i = 0; i < c->n_jobs; i++)
        if (runs[i].pid > 0) {
          any = true;
          if (now >= stop_deadline) kill(-runs[i].pid, SIGKILL);
        }
      if (!any) break;
    }
    /* timeouts, due runs, retries */
    time_t wake = now + 3600;
    for (int i = 0; i < c->n_jobs && !stopping; i++) {
      run_state *r = &runs[i];
      const sched_job *j = &c->jobs[i];
      if (r->pid > 0 && r->deadline && now >= r->deadline && !r->timed_out) {
        r->timed_out = true;
        r->kill_at = now + KILL_GRACE_S;
        log_msg(LOG_WARN, "schedule", "job %s: timed out after %llds; stopping it", j->name, (long long)j->timeout);
        kill(-r->pid, SIGTERM);
      }
      if (r->pid > 0 && r->kill_at && now >= r->kill_at) kill(-r->pid, SIGKILL);
      if (r->next_due > 0 && now >= r->next_due) {
        if (r->pid > 0) {
          history_add(db, j->name, r->next_due, now, now, 0, "skipped", 0, 0,
                      "the previous run was still going");
          log_msg(LOG_WARN, "schedule", "job %s: previous run still going; skipping this one", j->name);
        } else {
          start_run(j, r, now, r->next_due, 1);
          r->retry_at = 0;
        }
        r->next_due = sched_next(j, now);
      }
      if (r->pid == 0 && r->retry_at && now >= r->retry_at) {
        int attempt = r->attempt + 1;
        r->retry_at = 0;
        start_run(j, r, now, r->scheduled_for, attempt);
      }
      if (r->next_due > 0 && r->next_due < wake) wake = r->next_due;
      if (r->retry_at && r->retry_at < wake) wake = r->retry_at;
      if (r->deadline && r->pid > 0 && r->deadline < wake) wake = r->deadline;
      if (r->kill_at && r->pid > 0 && r->kill_at < wake) wake = r->kill_at;
    }
    /* sleep until something happens */
    struct pollfd fds[SCHED_MAX_JOBS + 1];
    int nfds = 0, map[SCHED_MAX_JOBS + 1];
    fds[nfds].fd = g_sigpipe[0];
    fds[nfds++].events = POLLIN;
    for (int i = 0; i < c->n_jobs; i++)
      if (runs[i].out_fd >= 0) {
        map[nfds] = i;
        fds[nfds].fd = runs[i].out_fd;
        fds[nfds++].events = POLLIN;
      }
    int ms = stopping ? 200 : (int)((wake > now ? wake - now : 0) * 1000);
    if (ms > 1000) ms = 1000; /* notice signals promptly */
    if (ms == 0 && !stopping) ms = 50;
    int n = poll(fds, (nfds_t)nfds, ms);
    if (n > 0) {
      char sink[64];
      while (read(g_sigpipe[0], sink, sizeof sink) > 0) {}
      for (int k = 1; k < nfds; k++)
        if (fds[k].revents) drain_output(&runs[map[k]]);
    }
  }
  signal(SIGCHLD, SIG_DFL);
  close(g_sigpipe[0]);
  close(g_sigpipe[1]);
  free(runs);
  sqlite3_close(db);
  log_msg(LOG_INFO, "schedule", "stopped");
  return LADLE_OK;
}

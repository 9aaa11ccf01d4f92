/* batch.c — `ladle batch`: one batch job from the command line. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jobs/batch.h"

static const char *help =
    "usage: ladle batch (--model FILE.onnx | --model-repository DIR --model NAME [--version V])\n"
    "                   --source URI [--query SQL] [--key COLUMN]\n"
    "                   --sink URI [--table NAME]\n"
    "                   [--chunk-size N] [--readers N] [--workers N] [--threads T]\n"
    "                   [--only-missing]"
    " [--max-errors N] [--input NAME=col,col,...] [--progress|--no-progress]\n"
    "                   [--job NAME]\n\n"
    "Predicts every row of a table and upserts one prediction row per key into a sink.\n\n"
    "  sources   sqlite:///rel.db or sqlite:////abs.db with --query \"SELECT ...\";\n"
    "            postgresql://user@host:port/db with --query; FILE.csv (header row);\n"
    "            FILE.jsonl (one object per line); FILE.npy (2-D, rows keyed by number)\n"
    "  sinks     sqlite:///..., postgresql://... with --table NAME (created when missing: the\n"
    "            key, one column per model output -- a number, or a JSON array for vectors --,\n"
    "            model, model_version, predicted_at; bad rows go to NAME_errors; every run is\n"
    "            recorded in ladle_batch_runs); FILE.csv / FILE.jsonl (rewritten each run, bad\n"
    "            rows in FILE.errors.jsonl); FILE.npy (one FILE.<output>.npy per output)\n"
    "  features  every selected column except the key, in SELECT order, forms the model's single\n"
    "            input [rows, columns], cast to its type; --input maps columns to named inputs\n"
    "  --chunk-size N    rows per chunk and per transaction (default 10000)\n"
    "  --readers N       reader threads (default 2 with 4+ cores or 64+ features, else 1):\n"
    "                    a SQLite query over one table keyed by its INTEGER PRIMARY KEY is read\n"
    "                    in N key ranges at once; any other source is read by one\n"
    "  --workers N       inference threads, each with its own session (default 1); reading,\n"
    "                    inference and writing always overlap\n"
    "  --threads T       intra-op threads per worker (default 1)\n"
    "  --only-missing    predict only keys without a prediction from this model version\n"
    "  --max-errors N    fail once more than N rows are bad (default: no limit)\n"
    "  --job NAME        PostgreSQL sources: every process started with the same NAME (on any\n"
    "                    machine) claims chunks of the key space from the work table\n"
    "                    ladle_batch_work (FOR UPDATE SKIP LOCKED), so they split the job with\n"
    "                    no row done twice or skipped; a crashed process's chunk is taken over\n"
    "Prints one JSON summary line; exits 0 on success, 1 on failure, 130 when interrupted.\n";

static volatile int g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

/* The highest numeric version folder of a repository model. */
static int latest_version(const char *dir, char *out, size_t len) {
  DIR *d = opendir(dir);
  long best = -1;
  struct dirent *de;
  if (!d) return -1;
  while ((de = readdir(d))) {
    char *end;
    long v = strtol(de->d_name, &end, 10);
    if (*de->d_name && !*end && v > best) best = v;
  }
  closedir(d);
  if (best < 0) return -1;
  snprintf(out, len, "%ld", best);
  return 0;
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* The query without trailing ';' and blanks: ladle wraps it (SELECT ... FROM (query) ...), where
 * a ';' would be a syntax error. Trims in place. */
static const char *trim_query(char *q) {
  for (size_t n = strlen(q); n && strchr(" \t\r\n;", q[n - 1]); n--) q[n - 1] = '\0';
  return q;
}

int cmd_batch(int argc, char **argv) {
  batch_opts o;
  const char *repo = NULL, *model = NULL, *version = NULL;
  char path[4096], name[256], ver[64], *maps[BATCH_MAX_INPUTS] = {0};
  long v;
  int progress = -1, rc = 1;
  memset(&o, 0, sizeof o);
  o.chunk_size = 10000;
  o.workers = 1;
  o.threads = 1;
  o.max_errors = -1;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(help, stdout);
      return 0;
    }
    if (!strcmp(a, "--only-missing")) { o.only_missing = true; continue; }
    if (!strcmp(a, "--progress")) { progress = 1; continue; }
    if (!strcmp(a, "--no-progress")) { progress = 0; continue; }
    if (!val) {
      fprintf(stderr, "ladle batch: option '%s' needs a value\n%s", a, help);
      return 2;
    }
    i++;
    if (!strcmp(a, "--model")) model = val;
    else if (!strcmp(a, "--model-repository")) repo = val;
    else if (!strcmp(a, "--version")) version = val;
    else if (!strcmp(a, "--source")) o.src.uri = val;
    else if (!strcmp(a, "--query")) o.src.query = trim_query(argv[i]);
    else if (!strcmp(a, "--key")) o.src.key = val;
    else if (!strcmp(a, "--sink")) o.sink_uri = val;
    else if (!strcmp(a, "--table")) o.table = val;
    else if (!strcmp(a, "--job")) o.job = val;
    else if (!strcmp(a, "--chunk-size")) {
      if (!cli_int("batch", a, val, 1, 10000000, &v)) return 2;
      o.chunk_size = v;
    } else if (!strcmp(a, "--readers")) {
      if (!cli_int("batch", a, val, 1, BATCH_MAX_READERS, &v)) return 2;
      o.readers = (int)v;
    } else if (!strcmp(a, "--workers")) {
      if (!cli_int("batch", a, val, 1, 64, &v)) return 2;
      o.workers = (int)v;
    } else if (!strcmp(a, "--threads")) {
      if (!cli_int("batch", a, val, 1, 256, &v)) return 2;
      o.threads = (int)v;
    } else if (!strcmp(a, "--max-errors")) {
      if (!cli_int("batch", a, val, 0, 0x7fffffffL, &v)) return 2;
      o.max_errors = v;
    } else if (!strcmp(a, "--input")) {
      const char *eq = strchr(val, '=');
      if (!eq || eq == val || o.n_inputs == BATCH_MAX_INPUTS) {
        fprintf(stderr, "ladle batch: --input wants NAME=col,col,...\n");
        return 2;
      }
      input_map *im = &o.inputs[o.n_inputs];
      maps[o.n_inputs] = strdup(val);
      char *s = maps[o.n_inputs++];
      s[eq - val] = '\0';
      im->name = s;
      for (char *tok = strtok(s + (eq - val) + 1, ","); tok; tok = strtok(NULL, ",")) {
        if (im->n_cols == (int)(sizeof im->cols / sizeof im->cols[0])) break;
        im->cols[im->n_cols++] = tok;
      }
    } else {
      fprintf(stderr, "ladle batch: unknown option '%s'\n%s", a, help);
      return 2;
    }
  }
  if (!model || !o.src.uri || !o.sink_uri) {
    fprintf(stderr, "ladle batch: --model, --source and --sink are required\n%s", help);
    rc = 2;
    goto out;
  }
  if (repo) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", repo, model);
    if (strchr(model, '/') || !strcmp(model, "..")) {
      rc = cli_fail("batch", "model name '%s' is not a folder name", model);
      goto out;
    }
    if (!version) {
      if (latest_version(dir, ver, sizeof ver) != 0) {
        rc = cli_fail("batch", "no model '%s' with numbered versions in %s", model, repo);
        goto out;
      }
      version = ver;
    }
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, version);
    snprintf(name, sizeof name, "%s", model);
  } else {
    snprintf(path, sizeof path, "%s", model);
    const char *base = strrchr(model, '/');
    snprintf(name, sizeof name, "%s", base ? base + 1 : model);
    char *dot = strstr(name, ".onnx");
    if (dot) *dot = '\0';
    if (!version) version = "1";
  }
  o.model_path = path;
  o.model_name = name;
  o.model_version = version;
  if (!o.table) o.table = "predictions";
  o.progress = progress >= 0 ? progress == 1 : isatty(STDERR_FILENO);
  o.stop = &g_stop;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  batch_result res;
  errbuf e = {{0}};
  ladle_status st = batch_run(&o, &res, &e);
  double rate = res.seconds > 0 ? (double)(res.predicted + res.errors) / res.seconds : 0;
  printf("{\"status\":\"%s\",\"model\":", res.status);
  json_str(stdout, o.model_name);
  printf(",\"version\":");
  json_str(stdout, o.model_version);
  printf(",\"rows_read\":%lld,\"predicted\":%lld,\"errors\":%lld,\"skipped\":%lld,"
         "\"seconds\":%.3f,\"rows_per_s\":%.0f,\"readers\":%d,\"sink\":",
         (long long)res.rows_read, (long long)res.predicted, (long long)res.errors,
         (long long)res.skipped, res.seconds, rate, res.readers);
  json_str(stdout, o.sink_uri);
  printf(",\"table\":");
  json_str(stdout, o.table);
  if (st) {
    printf(",\"error\":");
    json_str(stdout, e.msg);
  }
  printf("}\n");
  fflush(stdout);
  if (st) {
    cli_fail("batch", "%s", e.msg);
    rc = !strcmp(res.status, "interrupted") ? 130 : 1;
  } else {
    rc = 0;
  }
out:
  for (int i = 0; i < BATCH_MAX_INPUTS; i++) free(maps[i]);
  return rc;
}

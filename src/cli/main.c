/* main.c — `ladle`: dispatches to the subcommands and installs the log sink. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "serve a model repository over HTTP (Open Inference Protocol)"},
    {"batch", cmd_batch, "predict a whole table (SQLite, PostgreSQL, CSV, JSONL, .npy) into a sink"},
    {"schedule", cmd_schedule, "run batch (or any) jobs on cron schedules, with retries and history"},
    {"predict", cmd_predict, "run a model once on .npy inputs, write .npy outputs"},
    {"inspect", cmd_inspect, "print a model's inputs, outputs, opsets and op counts"},
    {"bench", cmd_bench, "measure a model's latency on random inputs"},
};

static void usage(FILE *f) {
  fprintf(f,
          "ladle %s — serves ONNX models\n\n"
          "usage: ladle [--log-format text|json] [--log-level debug|info|warn|error] COMMAND [ARGS]\n\n"
          "commands:\n",
          LADLE_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n`ladle COMMAND --help` describes each command.\n");
}

int cli_fail(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "ladle %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

bool cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
  char *end;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || !*s || *end || v < lo || v > hi) {
    cli_fail(cmd, "%s wants an integer from %ld to %ld, got '%s'", opt, lo, hi, s ? s : "");
    return false;
  }
  *out = v;
  return true;
}

int cli_dims(const char *s, int64_t *dims) {
  int n = 0;
  if (!*s) return 0;
  for (;;) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0 || n == LADLE_MAX_DIMS) return -1;
    dims[n++] = v;
    if (*end == '\0') return n;
    if (*end != ',') return -1;
    s = end + 1;
  }
}

ladle_model *cli_load_model(const char *cmd, const char *path) {
  char err[1024];
  ladle_model *m = NULL;
  if (ladle_model_load(path, NULL, &m, err, sizeof err) != LADLE_OK) {
    cli_fail(cmd, "%s", err);
    return NULL;
  }
  return m;
}

int main(int argc, char **argv) {
  int i = 1;
  bool json = false;
  log_level level = LOG_INFO;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--version")) {
      printf("ladle %s\n", LADLE_VERSION);
      return 0;
    } else if (!strcmp(argv[i], "--log-format") && i + 1 < argc) {
      const char *v = argv[++i];
      if (strcmp(v, "json") && strcmp(v, "text")) return cli_fail("", "--log-format is text or json");
      json = !strcmp(v, "json");
    } else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(v, "debug")) level = LOG_DEBUG;
      else if (!strcmp(v, "info")) level = LOG_INFO;
      else if (!strcmp(v, "warn")) level = LOG_WARN;
      else if (!strcmp(v, "error")) level = LOG_ERROR;
      else return cli_fail("", "--log-level is debug, info, warn or error");
    } else {
      fprintf(stderr, "ladle: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  log_set_sink(json ? log_sink_stderr_json : log_sink_stderr_text, NULL, level);
  for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
    if (!strcmp(argv[i], commands[c].name)) return commands[c].run(argc - i, argv + i);
  fprintf(stderr, "ladle: unknown command '%s'\n", argv[i]);
  usage(stderr);
  return 2;
}

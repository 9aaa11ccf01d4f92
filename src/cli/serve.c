/* serve.c — `ladle serve`: the online server.
 *
 * Its settings are one table (name, type, bounds, default, help) that drives the command line
 * (--name VALUE or --name=VALUE), the YAML file given with --config (the same names, '-' or
 * '_'), `--help` and the README's table (`--help-markdown`). The command line wins over the
 * file, the file over the defaults. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"
#include "http/server.h"
#include "serving/repository.h"
#include "serving/yaml_dom.h"

#define MAX_LOAD 256

typedef struct serve_settings {
  const char *model_repository;
  const char *config;
  int64_t http_port;
  const char *http_address;
  int64_t http_threads;
  const char *model_control_mode;
  const char *load_model[MAX_LOAD];
  int n_load_model;
  int64_t repository_poll_secs;
  bool strict_readiness;
  int64_t exit_timeout_secs;
  int64_t max_body_bytes;
  int64_t max_header_bytes;
  int64_t max_json_depth;
  int64_t max_tensor_elements;
  int64_t max_request_memory;
  int64_t max_connections;
  int64_t http_read_timeout_secs;
  int64_t http_write_timeout_secs;
  int64_t default_max_batch_size;
  int64_t default_max_queue_size;
} serve_settings;

typedef enum { S_INT, S_STR, S_BOOL, S_ENUM, S_LIST } setting_type;

typedef struct setting {
  const char *name; /* as on the command line, without "--" */
  setting_type type;
  size_t off;
  int64_t min, max;
  const char *def;    /* default as text; NULL: none */
  const char *values; /* S_ENUM: "a|b|c" */
  const char *help;
} setting;

#define OFF(f) offsetof(serve_settings, f)
static const setting table[] = {
    {"model-repository", S_STR, OFF(model_repository), 0, 0, NULL, NULL,
     "folder of models: MODEL/[config.yaml], MODEL/VERSION/model.onnx (required)"},
    {"config", S_STR, OFF(config), 0, 0, NULL, NULL, "YAML file with any of these settings (names with - or _)"},
    {"http-port", S_INT, OFF(http_port), 0, 65535, "8000", NULL, "TCP port (0: any free port, logged)"},
    {"http-address", S_STR, OFF(http_address), 0, 0, "0.0.0.0", NULL, "address to listen on (IPv4 or IPv6)"},
    {"http-threads", S_INT, OFF(http_threads), 0, 256, "0", NULL, "I/O threads (0: one per core)"},
    {"model-control-mode", S_ENUM, OFF(model_control_mode), 0, 0, "none", "none|explicit|poll",
     "none: load every model at start; explicit: load --load-model ones, then the load/unload API; "
     "poll: load every model and follow changes on disk"},
    {"load-model", S_LIST, OFF(load_model), 0, 0, NULL, NULL,
     "explicit mode: a model to load at start (repeatable; '*' for all)"},
    {"repository-poll-secs", S_INT, OFF(repository_poll_secs), 1, 86400, "15", NULL,
     "poll mode: seconds between scans of the repository"},
    {"strict-readiness", S_BOOL, OFF(strict_readiness), 0, 0, "false", NULL,
     "ready only when every model loaded (by default: when every start-up load finished)"},
    {"exit-timeout-secs", S_INT, OFF(exit_timeout_secs), 0, 3600, "30", NULL,
     "on SIGTERM/SIGINT: how long to wait for requests in flight"},
    {"max-body-bytes", S_INT, OFF(max_body_bytes), 1024, INT64_C(1) << 34, "67108864", NULL,
     "largest request body (413 above)"},
    {"max-header-bytes", S_INT, OFF(max_header_bytes), 1024, 16 << 20, "65536", NULL,
     "largest request line plus headers (431 above)"},
    {"max-json-depth", S_INT, OFF(max_json_depth), 4, 1000, "64", NULL, "deepest JSON nesting accepted (400 above)"},
    {"max-tensor-elements", S_INT, OFF(max_tensor_elements), 1, INT64_C(1) << 40, "67108864", NULL,
     "most elements in one input tensor (413 above)"},
    {"max-request-memory", S_INT, OFF(max_request_memory), 1 << 20, INT64_C(1) << 40, "1073741824", NULL,
     "most memory one request's decoded tensors and outputs may use"},
    {"max-connections", S_INT, OFF(max_connections), 1, 1000000, "10000", NULL,
     "open connections at most (503 above)"},
    {"http-read-timeout-secs", S_INT, OFF(http_read_timeout_secs), 1, 86400, "60", NULL,
     "silence allowed while a request arrives, and on idle keep-alive connections"},
    {"http-write-timeout-secs", S_INT, OFF(http_write_timeout_secs), 1, 86400, "60", NULL,
     "time a response may make no progress before the connection is closed"},
    {"default-max-batch-size", S_INT, OFF(default_max_batch_size), 0, 1 << 20, "64", NULL,
     "max_batch_size of a batchable model whose config does not set one (0: no batching)"},
    {"default-max-queue-size", S_INT, OFF(default_max_queue_size), 1, 1 << 24, "1024", NULL,
     "queued requests per model version when its config sets no max_queue_size (503 above)"},
};
#define N_SETTINGS (sizeof table / sizeof table[0])

static const char *usage_head =
    "usage: ladle serve --model-repository DIR [--http-port 8000] [--config FILE] [options]\n\n"
    "Serves every model of DIR over HTTP: the Open Inference Protocol (V2) with Triton's binary,\n"
    "repository, configuration and statistics extensions, V1 (:predict), and /metrics.\n"
    "Stops on SIGTERM or SIGINT after finishing the requests in flight.\n\noptions:\n";

static void print_help(FILE *f) {
  fputs(usage_head, f);
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const setting *s = &table[i];
    char left[64];
    const char *arg = s->type == S_INT ? " N" : s->type == S_BOOL ? "[=BOOL]" : s->type == S_ENUM ? " MODE" : " VALUE";
    snprintf(left, sizeof left, "--%s%s", s->name, arg);
    fprintf(f, "  %-32s %s", left, s->help);
    if (s->type == S_ENUM) fprintf(f, " (%s)", s->values);
    if (s->def) fprintf(f, " [%s]", s->def);
    fputc('\n', f);
  }
}

static void print_markdown(FILE *f) {
  fputs("| option | default | meaning |\n|---|---|---|\n", f);
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const setting *s = &table[i];
    fprintf(f, "| `--%s` | %s%s%s | %s", s->name, s->def ? "`" : "", s->def ? s->def : "", s->def ? "`" : "", s->help);
    if (s->type == S_ENUM) {
      fputs(" (`", f);
      for (const char *v = s->values; *v; v++) fputs(*v == '|' ? "\\|" : (char[]){*v, 0}, f);
      fputs("`)", f);
    }
    fputs(" |\n", f);
  }
}

static const setting *find_setting(const char *name, size_t n) {
  for (size_t i = 0; i < N_SETTINGS; i++) {
    const char *t = table[i].name;
    if (strlen(t) != n) continue;
    bool same = true;
    for (size_t k = 0; k < n && same; k++) same = t[k] == name[k] || (t[k] == '-' && name[k] == '_');
    if (same) return &table[i];
  }
  return NULL;
}

/* Sets one setting from text; false with a message printed. */
static bool apply(serve_settings *ss, const setting *s, const char *v, const char *where) {
  void *p = (char *)ss + s->off;
  switch (s->type) {
    case S_INT: {
      char *end;
      errno = 0;
      long long x = v ? strtoll(v, &end, 10) : 0;
      if (!v || !*v || *end || errno || x < s->min || x > s->max) {
        cli_fail("serve", "%s--%s wants an integer from %lld to %lld, got '%s'", where, s->name,
                 (long long)s->min, (long long)s->max, v ? v : "");
        return false;
      }
      *(int64_t *)p = x;
      return true;
    }
    case S_BOOL:
      if (!v || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *(bool *)p = true;
      else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *(bool *)p = false;
      else {
        cli_fail("serve", "%s--%s is true or false, got '%s'", where, s->name, v);
        return false;
      }
      return true;
    case S_ENUM: {
      size_t n = v ? strlen(v) : 0;
      const char *opt = s->values;
      while (v && *opt) {
        const char *bar = strchr(opt, '|');
        size_t len = bar ? (size_t)(bar - opt) : strlen(opt);
        if (len == n && !strncmp(opt, v, n)) {
          *(const char **)p = v;
          return true;
        }
        opt += len + (bar ? 1 : 0);
      }
      cli_fail("serve", "%s--%s is one of %s, got '%s'", where, s->name, s->values, v ? v : "");
      return false;
    }
    case S_STR:
      if (!v) {
        cli_fail("serve", "%s--%s needs a value", where, s->name);
        return false;
      }
      *(const char **)p = v;
      return true;
    case S_LIST:
      if (!v) {
        cli_fail("serve", "%s--%s needs a value", where, s->name);
        return false;
      }
      if (ss->n_load_model == MAX_LOAD) {
        cli_fail("serve", "at most %d --%s", MAX_LOAD, s->name);
        return false;
      }
      ss->load_model[ss->n_load_model++] = v;
      return true;
  }
  return false;
}

/* Settings from the YAML file: values stay in the arena, which lives as long as the server. */
static bool apply_file(serve_settings *ss, const char *path, arena *a) {
  json *root = NULL;
  errbuf e;
  char where[512];
  if (yaml_parse_file(path, 1 << 20, a, &root, &e)) {
    cli_fail("serve", "%s", e.msg);
    return false;
  }
  if (root->type != JSON_OBJECT) {
    cli_fail("serve", "%s: expected a mapping of settings", path);
    return false;
  }
  snprintf(where, sizeof where, "%s: ", path);
  for (const json *m = root->child; m; m = m->next) {
    const setting *s = find_setting(m->key, m->keylen);
    if (!s || !strcmp(s->name, "config")) {
      cli_fail("serve", "%s: unknown setting '%.*s' (see ladle serve --help)", path, (int)m->keylen, m->key);
      return false;
    }
    if (s->type == S_LIST && m->type == JSON_ARRAY) {
      for (const json *x = m->child; x; x = x->next)
        if (!apply(ss, s, x->type == JSON_NULL ? NULL : x->s, where)) return false;
      continue;
    }
    const char *v = m->type == JSON_NULL ? NULL : m->type == JSON_TRUE ? "true" : m->type == JSON_FALSE ? "false" : m->s;
    if (m->type == JSON_NUMBER) v = arena_strndup(a, m->s, m->len);
    if (m->type == JSON_OBJECT || m->type == JSON_ARRAY) {
      cli_fail("serve", "%s: setting '%s' needs a single value", path, s->name);
      return false;
    }
    if (!apply(ss, s, v, where)) return false;
  }
  return true;
}

static void set_defaults(serve_settings *ss) {
  memset(ss, 0, sizeof *ss);
  for (size_t i = 0; i < N_SETTINGS; i++)
    if (table[i].def) apply(ss, &table[i], table[i].def, "");
}

/* Walks argv: each option is --name VALUE, --name=VALUE, or --name for booleans. With only_config
 * it just finds --config. Returns 0, 1 (error) or 2 (help printed). */
static int parse_args(serve_settings *ss, int argc, char **argv, bool only_config) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      if (!only_config) print_help(stdout);
      return 2;
    }
    if (!strcmp(a, "--help-markdown")) {
      if (!only_config) print_markdown(stdout);
      return 2;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (!only_config) cli_fail("serve", "unexpected argument '%s' (see --help)", a);
      return 1;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    const setting *s = find_setting(name, n);
    if (!s) {
      if (!only_config) cli_fail("serve", "unknown option '%s' (see --help)", a);
      return 1;
    }
    const char *v = eq ? eq + 1 : NULL;
    if (!eq && s->type != S_BOOL) {
      if (i + 1 >= argc) {
        if (!only_config) cli_fail("serve", "--%s needs a value", s->name);
        return 1;
      }
      v = argv[++i];
    }
    if (only_config != !strcmp(s->name, "config")) continue;
    if (!apply(ss, s, v, "")) return 1;
  }
  return 0;
}

int cmd_serve(int argc, char **argv) {
  serve_settings ss;
  arena file_mem;
  errbuf e = {{0}};
  repo *r = NULL;
  http_server *srv = NULL;
  int rc = 1;
  arena_init(&file_mem, 4096, 4 << 20);
  set_defaults(&ss);
  int pr = parse_args(&ss, argc, argv, true);
  if (pr == 0 && ss.config && !apply_file(&ss, ss.config, &file_mem)) goto out;
  pr = parse_args(&ss, argc, argv, false);
  if (pr == 2) {
    rc = 0;
    goto out;
  }
  if (pr == 1) {
    rc = 2;
    goto out;
  }
  if (!ss.model_repository) {
    cli_fail("serve", "--model-repository is required (see --help)");
    rc = 2;
    goto out;
  }
  repo_options ro = {
      .dir = ss.model_repository,
      .mode = !strcmp(ss.model_control_mode, "explicit") ? CONTROL_EXPLICIT
              : !strcmp(ss.model_control_mode, "poll")   ? CONTROL_POLL
                                                         : CONTROL_NONE,
      .load_models = ss.load_model,
      .n_load_models = ss.n_load_model,
      .default_max_batch = (int)ss.default_max_batch_size,
      .default_max_queue = ss.default_max_queue_size,
      .poll_secs = (int)ss.repository_poll_secs,
      .strict_readiness = ss.strict_readiness,
      .max_config_bytes = 1 << 20,
  };
  if (ss.n_load_model > 0 && ro.mode != CONTROL_EXPLICIT)
    log_msg(LOG_WARN, "serve", "--load-model only matters with --model-control-mode explicit");
  http_options ho = {
      .address = ss.http_address,
      .port = (int)ss.http_port,
      .threads = (int)ss.http_threads,
      .max_body_bytes = ss.max_body_bytes,
      .max_header_bytes = ss.max_header_bytes,
      .max_json_depth = (int)ss.max_json_depth,
      .max_tensor_elements = ss.max_tensor_elements,
      .max_request_memory = ss.max_request_memory,
      .max_connections = (int)ss.max_connections,
      .read_timeout_secs = (int)ss.http_read_timeout_secs,
      .write_timeout_secs = (int)ss.http_write_timeout_secs,
      .exit_timeout_secs = (int)ss.exit_timeout_secs,
  };
  if (!(r = repo_new(&ro, &e))) {
    cli_fail("serve", "%s", e.msg);
    goto out;
  }
  if (!(srv = http_server_new(&ho, r, &e))) {
    cli_fail("serve", "%s", e.msg);
    goto out;
  }
  log_msg(LOG_INFO, "serve", "model repository %s, model control mode %s", ss.model_repository, ss.model_control_mode);
  if (repo_start(r, &e)) {
    cli_fail("serve", "%s", e.msg);
    goto out;
  }
  if (http_server_run(srv, &e)) {
    cli_fail("serve", "%s", e.msg);
    goto out;
  }
  rc = 0;
out:
  http_server_free(srv); /* stops the schedulers first */
  repo_free(r);
  arena_destroy(&file_mem);
  return rc;
}

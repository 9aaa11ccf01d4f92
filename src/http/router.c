/* router.c — URL routing, health, server metadata and the model-repository extension. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "serving/json.h"

#define MAX_SEGS 8
#define MAX_SEG_LEN 255

#ifndef LADLE_SERVER_VERSION
#define LADLE_SERVER_VERSION LADLE_VERSION
#endif

/* Extensions that work, exactly (GET /v2 lists them). */
static const char *const extensions[] = {"binary_tensor_data", "model_repository", "model_configuration",
                                         "statistics", NULL};

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Splits the path into percent-decoded segments (in the request's arena). Returns the count, or
 * -1 for a malformed path (bad escapes, NUL, too many or too long segments). */
static int split_path(conn *c, char **segs) {
  const char *p = c->head.path, *end = p + c->head.path_len;
  int n = 0;
  if (p == end || *p != '/') return -1;
  while (p < end) {
    p++; /* '/' */
    const char *b = p;
    while (p < end && *p != '/') p++;
    size_t len = (size_t)(p - b);
    if (len == 0 && p == end) break; /* trailing slash */
    if (n == MAX_SEGS || len > MAX_SEG_LEN * 3) return -1;
    char *out = arena_alloc(&c->mem, len + 1);
    if (!out) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
      if (b[i] == '%') {
        if (i + 2 >= len) return -1;
        int hi = hexv(b[i + 1]), lo = hexv(b[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
      } else {
        out[o++] = b[i];
      }
    }
    out[o] = '\0';
    if (o > MAX_SEG_LEN) return -1;
    segs[n++] = out;
  }
  return n;
}

static bool is(const char *a, const char *b) { return a && !strcmp(a, b); }

static void method_not_allowed(conn *c, const char *allow) {
  char extra[64];
  snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
  dbuf_reset(&c->out);
  dbuf_printf(&c->out, "{\"error\":\"method %.*s is not allowed here (use %s)\"}",
              (int)(c->head.method_len > 16 ? 16 : c->head.method_len), c->head.method_text, allow);
  http_finish(c, 405, "application/json", extra);
}

static bool want_get(conn *c) {
  if (c->head.method == HTTP_GET || c->head.method == HTTP_HEAD) return true;
  method_not_allowed(c, "GET, HEAD");
  return false;
}

static bool want_post(conn *c) {
  if (c->head.method == HTTP_POST) return true;
  method_not_allowed(c, "POST");
  return false;
}

static bool check_model_name(conn *c, const char *name) {
  if (repo_name_ok(name)) return true;
  http_reply_error(c, 400, "invalid model name '%.64s'", name);
  return false;
}

/* --- small handlers ----------------------------------------------------------------------- */

static void health_live(conn *c) {
  dbuf_puts(&c->out, "{\"live\":true}");
  http_reply_json(c, 200);
}

static void health_ready(conn *c) {
  http_server *s = c->io->srv;
  bool ready = !__atomic_load_n(&s->draining, __ATOMIC_RELAXED) && repo_ready(s->repo);
  dbuf_puts(&c->out, ready ? "{\"ready\":true}" : "{\"ready\":false}");
  http_finish(c, ready ? 200 : 503, "application/json", ready ? NULL : "Retry-After: 1\r\n");
}

void handle_v2_server_metadata(conn *c) {
  dbuf *b = &c->out;
  dbuf_puts(b, "{\"name\":\"ladle\",\"version\":\"" LADLE_SERVER_VERSION "\",\"extensions\":[");
  for (int i = 0; extensions[i]; i++) dbuf_printf(b, "%s\"%s\"", i ? "," : "", extensions[i]);
  dbuf_puts(b, "]}");
  http_reply_json(c, 200);
}

/* --- repository extension ----------------------------------------------------------------- */

typedef struct load_ctx {
  conn *c;
  bool load;
  ladle_status st;
  char msg[LADLE_ERRMSG_MAX];
  char name[CFG_NAME_MAX];
} load_ctx;

static void load_done(void *ud, ladle_status st, const char *msg) {
  load_ctx *x = ud;
  x->st = st;
  snprintf(x->msg, sizeof x->msg, "%s", msg ? msg : "");
  io_post(x->c);
}

static void load_resume(conn *c) {
  load_ctx *x = c->ctx;
  if (c->dead) return;
  if (x->st) {
    http_reply_status(c, x->st, x->msg);
    return;
  }
  dbuf_puts(&c->out, "{\"name\":");
  json_put_str(&c->out, x->name, strlen(x->name));
  dbuf_puts(&c->out, x->load ? ",\"load\":true}" : ",\"unload\":true}");
  http_reply_json(c, 200);
}

/* Parses an optional JSON body; NULL root when the body is empty. false when answered. */
static bool parse_body(conn *c, json **root) {
  errbuf e;
  *root = NULL;
  size_t i = 0;
  while (i < c->body_len && (c->body[i] == ' ' || c->body[i] == '\n' || c->body[i] == '\r' || c->body[i] == '\t')) i++;
  if (i == c->body_len) return true;
  json_opts o = {c->io->srv->o.max_json_depth, NULL};
  ladle_status st = json_parse(c->body, c->body_len, &c->mem, &o, root, &e);
  if (!st && (*root)->type != JSON_OBJECT) st = err_set(&e, LADLE_ERR_INVALID, "the body must be a JSON object");
  if (st) {
    http_reply_status(c, st, e.msg);
    return false;
  }
  return true;
}

void handle_repo_load(conn *c, const char *model, bool load) {
  json *root;
  errbuf e;
  if (!parse_body(c, &root)) return;
  const char *cfg = NULL;
  size_t cfg_len = 0;
  const json *params = json_get(root, "parameters");
  if (params) {
    if (params->type != JSON_OBJECT) {
      http_reply_error(c, 400, "'parameters' must be an object");
      return;
    }
    for (const json *p = params->child; p; p = p->next) {
      if (json_key_is(p, "config") && load) {
        if (p->type != JSON_STRING) {
          http_reply_error(c, 400, "parameter 'config' must be a string holding the model configuration as JSON");
          return;
        }
        cfg = p->s;
        cfg_len = p->len;
      } else if (p->keylen >= 5 && !memcmp(p->key, "file:", 5)) {
        http_reply_error(c, 400, "loading model files through the request ('file:' parameters) is not supported");
        return;
      }
    }
  }
  load_ctx *x = arena_calloc(&c->mem, sizeof *x);
  if (!x) {
    http_reply_error(c, 413, "out of request memory");
    return;
  }
  x->c = c;
  x->load = load;
  snprintf(x->name, sizeof x->name, "%s", model);
  conn_wait(c, load_resume, x);
  ladle_status st = load ? repo_load_async(c->io->srv->repo, model, cfg, cfg_len, load_done, x, &e)
                         : repo_unload_async(c->io->srv->repo, model, load_done, x, &e);
  if (st) {
    c->pending = false;
    c->resume = NULL;
    http_reply_status(c, st, e.msg);
  }
}

void handle_repo_index(conn *c) {
  json *root;
  bool ready_only = false;
  if (!parse_body(c, &root)) return;
  const json *r = json_get(root, "ready");
  if (r) {
    if (r->type != JSON_TRUE && r->type != JSON_FALSE) {
      http_reply_error(c, 400, "'ready' must be true or false");
      return;
    }
    ready_only = r->type == JSON_TRUE;
  }
  repo_row *rows = NULL;
  int n = repo_index(c->io->srv->repo, ready_only, &rows);
  if (n < 0) {
    http_reply_error(c, 500, "out of memory");
    return;
  }
  dbuf *b = &c->out;
  dbuf_putc(b, '[');
  for (int i = 0; i < n; i++) {
    if (i) dbuf_putc(b, ',');
    dbuf_puts(b, "{\"name\":");
    json_put_str(b, rows[i].name, strlen(rows[i].name));
    if (rows[i].version[0]) dbuf_printf(b, ",\"version\":\"%s\"", rows[i].version);
    dbuf_printf(b, ",\"state\":\"%s\",\"reason\":", model_state_name(rows[i].state));
    json_put_str(b, rows[i].reason, strlen(rows[i].reason));
    dbuf_putc(b, '}');
  }
  dbuf_putc(b, ']');
  free(rows);
  http_reply_json(c, 200);
}

/* --- routing ------------------------------------------------------------------------------ */

/* /v2/models/M[/versions/V][/ACTION] */
static void route_model(conn *c, char **seg, int n) {
  const char *model = seg[0], *version = NULL, *action = NULL;
  if (!check_model_name(c, model)) return;
  int i = 1;
  if (i < n && is(seg[i], "versions")) {
    if (i + 1 >= n) {
      http_reply_error(c, 404, "no version after /versions/");
      return;
    }
    version = seg[i + 1];
    i += 2;
  }
  if (i < n) action = seg[i++];
  if (i < n) {
    http_reply_error(c, 404, "no such endpoint: %.*s", (int)(c->head.path_len > 200 ? 200 : c->head.path_len), c->head.path);
    return;
  }
  if (!action) {
    if (want_get(c)) handle_v2_metadata(c, model, version);
  } else if (is(action, "infer")) {
    if (want_post(c)) handle_v2_infer(c, model, version);
  } else if (is(action, "ready")) {
    if (want_get(c)) handle_v2_model_ready(c, model, version);
  } else if (is(action, "config")) {
    if (want_get(c)) handle_v2_config(c, model, version);
  } else if (is(action, "stats")) {
    if (want_get(c)) handle_v2_stats(c, model, version);
  } else {
    http_reply_error(c, 404, "no such endpoint: /v2/models/%s/.../%.64s (known: infer, ready, config, stats)", model, action);
  }
}

/* /v1/models/M[/versions/V][:predict] */
static void route_v1(conn *c, char **seg, int n) {
  if (n == 0) {
    if (want_get(c)) handle_v2_models(c);
    return;
  }
  char *last = seg[n - 1];
  char *colon = strrchr(last, ':');
  const char *verb = NULL;
  if (colon) {
    *colon = '\0';
    verb = colon + 1;
  }
  const char *model = seg[0], *version = NULL;
  if (n == 3 && is(seg[1], "versions")) version = seg[2];
  else if (n != 1) {
    http_reply_error(c, 404, "no such endpoint (V1 paths are /v1/models/M[/versions/V][:predict])");
    return;
  }
  if (!check_model_name(c, model)) return;
  if (!verb) {
    if (want_get(c)) handle_v1_status(c, model, version);
  } else if (!strcmp(verb, "predict")) {
    if (want_post(c)) handle_v1_predict(c, model, version);
  } else {
    http_reply_error(c, 404, "unsupported V1 verb ':%.32s' (only :predict)", verb);
  }
}

void route_request(conn *c) {
  char *seg[MAX_SEGS];
  int n = split_path(c, seg);
  if (n < 0) {
    http_reply_error(c, 400, "malformed request path");
    return;
  }
  if (n >= 1 && is(seg[0], "v2")) {
    if (n == 1) {
      if (want_get(c)) handle_v2_server_metadata(c);
    } else if (n == 3 && is(seg[1], "health") && (is(seg[2], "live") || is(seg[2], "ready"))) {
      if (want_get(c)) (is(seg[2], "live") ? health_live : health_ready)(c);
    } else if (is(seg[1], "models")) {
      if (n == 2) {
        if (want_get(c)) handle_v2_models(c);
      } else if (n == 3 && is(seg[2], "stats")) {
        if (want_get(c)) handle_v2_stats(c, NULL, NULL);
      } else {
        route_model(c, seg + 2, n - 2);
      }
    } else if (n == 3 && is(seg[1], "repository") && is(seg[2], "index")) {
      if (c->head.method == HTTP_GET || want_post(c)) handle_repo_index(c);
    } else if (n == 5 && is(seg[1], "repository") && is(seg[2], "models") &&
               (is(seg[4], "load") || is(seg[4], "unload"))) {
      if (want_post(c) && check_model_name(c, seg[3])) handle_repo_load(c, seg[3], is(seg[4], "load"));
    } else {
      http_reply_error(c, 404, "no such endpoint: %.*s", (int)(c->head.path_len > 200 ? 200 : c->head.path_len), c->head.path);
    }
  } else if (n >= 2 && is(seg[0], "v1") && is(seg[1], "models")) {
    route_v1(c, seg + 2, n - 2);
  } else if (n == 1 && is(seg[0], "metrics")) {
    if (want_get(c)) handle_metrics(c);
  } else {
    http_reply_error(c, 404, "no such endpoint: %.*s (the API is under /v2, /v1 and /metrics)",
                     (int)(c->head.path_len > 200 ? 200 : c->head.path_len), c->head.path);
  }
}

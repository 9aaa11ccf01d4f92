/* yaml_dom.c — YAML (libyaml events) to the JSON tree. */
#include "serving/yaml_dom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct ybuild {
  yaml_parser_t p;
  arena *a;
  int max_depth;
  errbuf *e;
} ybuild;

static bool plain_number(const char *s, size_t n) {
  size_t i = 0;
  bool digits = false;
  if (i < n && (s[i] == '-' || s[i] == '+')) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits = true;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits = true;
  }
  if (!digits) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return false;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  }
  return i == n;
}

static json *scalar_node(ybuild *b, const yaml_event_t *ev) {
  json *v = arena_calloc(b->a, sizeof *v);
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  if (!v) return NULL;
  char *copy = arena_strndup(b->a, s, n);
  if (!copy) return NULL;
  v->type = JSON_STRING;
  v->s = copy;
  v->len = (uint32_t)n;
  if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
    if (n == 0 || (n == 1 && s[0] == '~') || !strcmp(copy, "null") || !strcmp(copy, "Null"))
      v->type = JSON_NULL;
    else if (!strcmp(copy, "true") || !strcmp(copy, "True") || !strcmp(copy, "TRUE"))
      v->type = JSON_TRUE;
    else if (!strcmp(copy, "false") || !strcmp(copy, "False") || !strcmp(copy, "FALSE"))
      v->type = JSON_FALSE;
    else if (plain_number(copy, n)) {
      v->type = JSON_NUMBER;
      if (copy[0] == '+') v->s = copy + 1, v->len--;
    }
  }
  return v;
}

static ladle_status fail_at(ybuild *b, const yaml_event_t *ev, const char *what) {
  return err_set(b->e, LADLE_ERR_PARSE, "line %zu: %s", ev->start_mark.line + 1, what);
}

/* Builds the value that starts with ev (already taken); consumes through its end event. */
static ladle_status build_value(ybuild *b, yaml_event_t *ev, int depth, json **out) {
  ladle_status st = LADLE_OK;
  json *v = NULL, *tail = NULL;
  switch (ev->type) {
    case YAML_SCALAR_EVENT:
      if (!(v = scalar_node(b, ev))) return err_set(b->e, LADLE_ERR_LIMIT, "config too large");
      *out = v;
      return LADLE_OK;
    case YAML_ALIAS_EVENT: return fail_at(b, ev, "aliases are not supported");
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: break;
    default: return fail_at(b, ev, "unexpected YAML event");
  }
  if (depth >= b->max_depth) return fail_at(b, ev, "nested too deeply");
  if ((ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor) ||
      (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor))
    return fail_at(b, ev, "anchors are not supported");
  bool map = ev->type == YAML_MAPPING_START_EVENT;
  if (!(v = arena_calloc(b->a, sizeof *v))) return err_set(b->e, LADLE_ERR_LIMIT, "config too large");
  v->type = map ? JSON_OBJECT : JSON_ARRAY;
  for (;;) {
    yaml_event_t kev, vev;
    const char *key = NULL;
    size_t klen = 0;
    if (!yaml_parser_parse(&b->p, &kev))
      return err_set(b->e, LADLE_ERR_PARSE, "line %zu: %s", b->p.problem_mark.line + 1,
                     b->p.problem ? b->p.problem : "malformed YAML");
    if (kev.type == YAML_SEQUENCE_END_EVENT || kev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&kev);
      break;
    }
    json *child = NULL;
    if (map) {
      if (kev.type != YAML_SCALAR_EVENT) {
        st = fail_at(b, &kev, "mapping keys must be plain names");
        yaml_event_delete(&kev);
        return st;
      }
      key = arena_strndup(b->a, (const char *)kev.data.scalar.value, kev.data.scalar.length);
      klen = kev.data.scalar.length;
      yaml_event_delete(&kev);
      if (!key) return err_set(b->e, LADLE_ERR_LIMIT, "config too large");
      if (!yaml_parser_parse(&b->p, &vev))
        return err_set(b->e, LADLE_ERR_PARSE, "line %zu: %s", b->p.problem_mark.line + 1,
                       b->p.problem ? b->p.problem : "malformed YAML");
      st = build_value(b, &vev, depth + 1, &child);
      yaml_event_delete(&vev);
    } else {
      st = build_value(b, &kev, depth + 1, &child);
      yaml_event_delete(&kev);
    }
    if (st) return st;
    child->key = key;
    child->keylen = (uint32_t)klen;
    if (tail) tail->next = child;
    else v->child = child;
    tail = child;
    v->len++;
  }
  *out = v;
  return LADLE_OK;
}

ladle_status yaml_parse(const char *text, size_t len, arena *a, int max_depth, json **out,
                        errbuf *e) {
  ybuild b = {.a = a, .max_depth = max_depth, .e = e};
  ladle_status st = LADLE_OK;
  json *root = NULL;
  *out = NULL;
  if (!yaml_parser_initialize(&b.p)) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  yaml_parser_set_input_string(&b.p, (const unsigned char *)text, len);
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&b.p, &ev)) {
      st = err_set(e, LADLE_ERR_PARSE, "line %zu: %s", b.p.problem_mark.line + 1,
                   b.p.problem ? b.p.problem : "malformed YAML");
      break;
    }
    yaml_event_type_t t = ev.type;
    if (t == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT ||
        t == YAML_ALIAS_EVENT) {
      if (root) {
        st = fail_at(&b, &ev, "only one document is allowed");
        yaml_event_delete(&ev);
        break;
      }
      st = build_value(&b, &ev, 0, &root);
      yaml_event_delete(&ev);
      if (st) break;
      continue;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&b.p);
  if (st) return st;
  if (!root || root->type == JSON_NULL) {
    if (!(root = arena_calloc(a, sizeof *root))) return err_set(e, LADLE_ERR_LIMIT, "config too large");
    root->type = JSON_OBJECT;
  }
  *out = root;
  return LADLE_OK;
}

ladle_status yaml_parse_file(const char *path, size_t max_bytes, arena *a, json **out, errbuf *e) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  size_t n = 0;
  ladle_status st;
  if (!f) return err_set(e, LADLE_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (!(text = malloc(max_bytes + 1))) {
    fclose(f);
    return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  }
  n = fread(text, 1, max_bytes + 1, f);
  if (ferror(f)) {
    st = err_set(e, LADLE_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  } else if (n > max_bytes) {
    st = err_set(e, LADLE_ERR_LIMIT, "%s is larger than %zu bytes", path, max_bytes);
  } else {
    st = yaml_parse(text, n, a, 32, out, e);
    if (st) err_prefix(e, "%s", path);
  }
  fclose(f);
  free(text);
  return st;
}

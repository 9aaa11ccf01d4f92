/* files.c — CSV, JSON Lines and .npy sources and sinks.
 *
 * CSV: a header row names the columns (RFC 4180 quoting). JSON Lines: one object per line; the
 * first object's keys, in order, are the columns. .npy: a 2-D numeric array, one row per
 * prediction, keyed by row number. File sinks are rewritten whole on every run (so a rerun is
 * idempotent); rows that fail go to <sink>.errors.jsonl. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/npy.h"
#include "jobs/jobs.h"
#include "runtime/tensor.h"

#define MAX_FIELD (1 << 20)

typedef enum { FMT_CSV, FMT_JSONL, FMT_NPY } file_fmt;

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int file_format(const char *uri, file_fmt *f) {
  if (ends_with(uri, ".csv")) *f = FMT_CSV;
  else if (ends_with(uri, ".jsonl") || ends_with(uri, ".ndjson")) *f = FMT_JSONL;
  else if (ends_with(uri, ".npy")) *f = FMT_NPY;
  else return -1;
  return 0;
}

static const char *file_path(const char *uri) {
  return strncmp(uri, "file://", 7) == 0 ? uri + 7 : uri;
}

/* --- a growable record of fields ------------------------------------------------------------ */

typedef struct record {
  char *buf;
  size_t len, cap;
  size_t *starts;
  int n, cap_fields;
} record;

static bool rec_putc(record *r, char ch) {
  if (r->len + 1 >= r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 4096;
    if (nc > MAX_FIELD * 16) return false;
    char *nb = realloc(r->buf, nc);
    if (!nb) return false;
    r->buf = nb;
    r->cap = nc;
  }
  r->buf[r->len++] = ch;
  return true;
}

static bool rec_field(record *r) {
  if (r->n == r->cap_fields) {
    int nc = r->cap_fields ? r->cap_fields * 2 : 64;
    if (nc > JOB_MAX_COLS * 2) return false;
    size_t *ns = realloc(r->starts, sizeof *ns * (size_t)nc);
    if (!ns) return false;
    r->starts = ns;
    r->cap_fields = nc;
  }
  r->starts[r->n++] = r->len;
  return true;
}

/* Reads one CSV record; returns 1, 0 at EOF, -1 on a malformed or oversized record. */
static int csv_read(FILE *f, record *r) {
  int ch;
  bool quoted = false, any = false;
  r->len = 0;
  r->n = 0;
  if (!rec_field(r)) return -1;
  while ((ch = getc_unlocked(f)) != EOF) {
    any = true;
    if (quoted) {
      if (ch == '"') {
        int nx = getc_unlocked(f);
        if (nx == '"') {
          if (!rec_putc(r, '"')) return -1;
        } else {
          quoted = false;
          if (nx != EOF) ungetc(nx, f);
        }
      } else if (!rec_putc(r, (char)ch)) {
        return -1;
      }
      continue;
    }
    if (ch == '"') quoted = true;
    else if (ch == ',') {
      if (!rec_putc(r, '\0') || !rec_field(r)) return -1;
    } else if (ch == '\n') {
      break;
    } else if (ch != '\r' && !rec_putc(r, (char)ch)) {
      return -1;
    }
  }
  if (!any) return 0;
  if (quoted) return -1;
  if (!rec_putc(r, '\0')) return -1;
  return 1;
}

/* --- source --------------------------------------------------------------------------------- */

typedef struct file_source {
  source base;
  file_fmt fmt;
  FILE *f;
  record rec;
  char *line;
  size_t line_cap;
  ladle_tensor npy;
  int64_t npy_next, line_no;
  bool first_key;
} file_source;

static int64_t fs_next(source *s0, chunk *c, int64_t max_rows, errbuf *e) {
  file_source *s = (file_source *)s0;
  chunk_reset(c);
  if (s->fmt == FMT_NPY) {
    int64_t n = s->npy.ndim == 2 ? s->npy.dims[0] : 0;
    while (s->npy_next < n && c->n_rows < max_rows) {
      char key[32];
      snprintf(key, sizeof key, "%lld", (long long)s->npy_next);
      int64_t r = chunk_add_row(c, key, strlen(key));
      if (r < 0) return err_set(e, LADLE_ERR_NOMEM, "out of memory"), -1;
      for (int f = 0; f < s0->n_features; f++) {
        double v = tensor_get_f64(&s->npy, s->npy_next * s0->n_features + f);
        c->x[r * c->n_cols + f] = v;
        if (isnan(v)) chunk_row_fail(c, r, "column %d is NaN", f);
      }
      s->npy_next++;
    }
    return c->n_rows;
  }
  while (c->n_rows < max_rows) {
    if (s->fmt == FMT_CSV) {
      int rc = csv_read(s->f, &s->rec);
      s->line_no++;
      if (rc == 0) break;
      if (rc < 0) return err_set(e, LADLE_ERR_PARSE, "CSV line %lld: malformed or too long", (long long)s->line_no), -1;
      if (s->rec.n == 1 && s->rec.buf[0] == '\0') continue; /* blank line */
      const char *key = s0->key_col >= 0 && s0->key_col < s->rec.n ? s->rec.buf + s->rec.starts[s0->key_col] : "";
      int64_t r = chunk_add_row(c, key, strlen(key));
      if (r < 0) return err_set(e, LADLE_ERR_NOMEM, "out of memory"), -1;
      char *end;
      if (*key == '\0' || (strtoll(key, &end, 10), *end)) s0->key_is_int = false;
      if (s->rec.n != s0->n_cols) {
        chunk_row_fail(c, r, "line %lld has %d fields, the header has %d", (long long)s->line_no,
                       s->rec.n, s0->n_cols);
        for (int f = 0; f < s0->n_features; f++) c->x[r * c->n_cols + f] = NAN;
        continue;
      }
      for (int f = 0; f < s0->n_features; f++) {
        int col = s0->feature_cols[f];
        const char *txt = s->rec.buf + s->rec.starts[col];
        chunk_set_text(c, r, f, s0->col_names[col], *txt ? txt : NULL);
      }
    } else {
      ssize_t n = getline(&s->line, &s->line_cap, s->f);
      s->line_no++;
      if (n < 0) break;
      if (n > MAX_FIELD * 16) return err_set(e, LADLE_ERR_LIMIT, "JSON line %lld is too long", (long long)s->line_no), -1;
      const char *p = s->line;
      while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
      if (!*p) continue;
      json_error_t je;
      json_t *obj = json_loads(s->line, JSON_DECODE_ANY, &je);
      char key[64] = "";
      const char *kstr = key;
      json_t *kv = obj && json_is_object(obj) && s0->key_col >= 0 ? json_object_get(obj, s0->col_names[s0->key_col]) : NULL;
      if (json_is_string(kv)) {
        kstr = json_string_value(kv);
        s0->key_is_int = false;
      } else if (json_is_integer(kv)) {
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(kv));
      } else {
        snprintf(key, sizeof key, "line%lld", (long long)s->line_no);
        s0->key_is_int = false;
      }
      int64_t r = chunk_add_row(c, kstr, strlen(kstr));
      if (r < 0) {
        json_decref(obj);
        return err_set(e, LADLE_ERR_NOMEM, "out of memory"), -1;
      }
      if (!obj || !json_is_object(obj)) {
        chunk_row_fail(c, r, "line %lld is not a JSON object%s%s", (long long)s->line_no,
                       obj ? "" : ": ", obj ? "" : je.text);
        for (int f = 0; f < s0->n_features; f++) c->x[r * c->n_cols + f] = NAN;
        json_decref(obj);
        continue;
      }
      if (!kv && s0->key_col >= 0) chunk_row_fail(c, r, "no key '%s'", s0->col_names[s0->key_col]);
      for (int f = 0; f < s0->n_features; f++) {
        const char *name = s0->col_names[s0->feature_cols[f]];
        json_t *v = json_object_get(obj, name);
        double *cell = &c->x[r * c->n_cols + f];
        if (json_is_number(v)) *cell = json_number_value(v);
        else if (json_is_boolean(v)) *cell = json_is_true(v);
        else if (json_is_string(v)) chunk_set_text(c, r, f, name, json_string_value(v));
        else {
          *cell = NAN;
          chunk_row_fail(c, r, v ? "column '%s' is not a number" : "column '%s' is missing", name);
        }
      }
      json_decref(obj);
    }
  }
  return c->n_rows;
}

static int64_t fs_count(source *s0) {
  file_source *s = (file_source *)s0;
  return s->fmt == FMT_NPY && s->npy.ndim == 2 ? s->npy.dims[0] : -1;
}

static void fs_close(source *s0) {
  file_source *s = (file_source *)s0;
  if (s->f) fclose(s->f);
  free(s->rec.buf);
  free(s->rec.starts);
  free(s->line);
  npy_tensor_free(&s->npy);
  source_free_common(s0);
  free(s);
}

static const source_vt fs_vt = {fs_next, fs_count, fs_close, NULL};

static ladle_status add_col(source *s, const char *name) {
  char **nn = realloc(s->col_names, sizeof(char *) * ((size_t)s->n_cols + 1));
  if (!nn) return LADLE_ERR_NOMEM;
  s->col_names = nn;
  if (!(nn[s->n_cols] = strdup(name))) return LADLE_ERR_NOMEM;
  s->n_cols++;
  return LADLE_OK;
}

ladle_status file_source_open(const source_opts *o, source **out, errbuf *e) {
  ladle_status st = LADLE_OK;
  file_fmt fmt;
  const char *path = file_path(o->uri);
  if (file_format(path, &fmt))
    return err_set(e, LADLE_ERR_INVALID,
                   "source '%s': use sqlite:///FILE.db, postgresql://..., or a .csv, .jsonl or .npy file", o->uri);
  file_source *s = calloc(1, sizeof *s);
  if (!s) return LADLE_ERR_NOMEM;
  s->base.vt = &fs_vt;
  s->base.key_col = -1;
  s->base.key_is_int = true;
  s->fmt = fmt;
  if (fmt == FMT_NPY) {
    if ((st = npy_read_file(path, &s->npy, e))) goto out;
    if (s->npy.ndim != 2 || s->npy.dtype == LADLE_STRING) {
      st = err_set(e, LADLE_ERR_SHAPE, "source '%s': a .npy source is a 2-D numeric array [rows, features]", path);
      goto out;
    }
    char name[32];
    if ((st = add_col(&s->base, "row"))) goto out;
    for (int64_t f = 0; f < s->npy.dims[1] && f < JOB_MAX_COLS; f++) {
      snprintf(name, sizeof name, "f%lld", (long long)f);
      if ((st = add_col(&s->base, name))) goto out;
    }
    st = source_finish_columns(&s->base, "row", e);
    goto out;
  }
  if (!(s->f = fopen(path, "r"))) {
    st = err_set(e, LADLE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    goto out;
  }
  if (fmt == FMT_CSV) {
    int rc = csv_read(s->f, &s->rec);
    s->line_no = 1;
    if (rc <= 0) {
      st = err_set(e, LADLE_ERR_PARSE, "'%s': no header row", path);
      goto out;
    }
    for (int i = 0; i < s->rec.n && !st; i++) st = add_col(&s->base, s->rec.buf + s->rec.starts[i]);
  } else {
    /* Peek at the first object for the columns, then rewind. */
    ssize_t n;
    json_t *obj = NULL;
    while ((n = getline(&s->line, &s->line_cap, s->f)) >= 0) {
      if (strspn(s->line, " \t\r\n") == (size_t)n) continue;
      obj = json_loads(s->line, 0, NULL);
      break;
    }
    if (!obj || !json_is_object(obj)) {
      json_decref(obj);
      st = err_set(e, LADLE_ERR_PARSE, "'%s': the first line is not a JSON object", path);
      goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
      if (!st) st = add_col(&s->base, k);
    }
    json_decref(obj);
    rewind(s->f);
  }
  if (st) goto out;
  if (!o->key) {
    st = err_set(e, LADLE_ERR_INVALID, "a %s source needs --key COLUMN", fmt == FMT_CSV ? "CSV" : "JSON Lines");
    goto out;
  }
  st = source_finish_columns(&s->base, o->key, e);
out:
  if (st) {
    fs_close(&s->base);
    return st;
  }
  *out = &s->base;
  return LADLE_OK;
}

/* --- sink ----------------------------------------------------------------------------------- */

typedef struct file_sink {
  sink base;
  file_fmt fmt;
  char *path;
  FILE *f, *errf;
  /* .npy: everything is kept and written at close */
  ladle_tensor *acc;
  size_t *acc_cap;
  int64_t acc_rows;
  char **acc_keys;
  char *spill; /* a value longer than the stack buffer (jobs_text) */
  size_t spill_cap;
} file_sink;

static ladle_status fk_prepare(sink *k0, errbuf *e) {
  file_sink *k = (file_sink *)k0;
  if (k->fmt == FMT_CSV) {
    fprintf(k->f, "%s", k0->key_name);
    for (int i = 0; i < k0->n_out; i++) fprintf(k->f, ",%s", k0->out[i].name);
    fprintf(k->f, ",model,model_version,predicted_at\n");
  }
  if (k->fmt == FMT_NPY) {
    k->acc = calloc((size_t)k0->n_out + 1, sizeof *k->acc);
    k->acc_cap = calloc((size_t)k0->n_out + 1, sizeof *k->acc_cap);
    if (!k->acc || !k->acc_cap) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  }
  return LADLE_OK;
}

static void json_escaped(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static void csv_escaped(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static ladle_status fk_write(sink *k0, const chunk *c, const ladle_tensor *outputs, errbuf *e) {
  file_sink *k = (file_sink *)k0;
  char now[40], buf[4096];
  size_t n;
  jobs_now_iso(now, sizeof now);
  int64_t g = 0;
  for (int64_t r = 0; r < c->n_rows; r++) {
    if (c->row_error[r]) {
      fprintf(k->errf, "{\"key\":");
      json_escaped(k->errf, c->keys[r]);
      fprintf(k->errf, ",\"reason\":");
      json_escaped(k->errf, c->row_error[r]);
      fprintf(k->errf, ",\"at\":\"%s\"}\n", now);
      continue;
    }
    if (k->fmt == FMT_CSV) {
      csv_escaped(k->f, c->keys[r]);
      for (int i = 0; i < k0->n_out; i++) {
        const char *v = jobs_text(&outputs[i], g, k0->out[i].width, false, buf, sizeof buf,
                                  &k->spill, &k->spill_cap, &n);
        if (!v) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
        fputc(',', k->f);
        csv_escaped(k->f, v);
      }
      fputc(',', k->f);
      csv_escaped(k->f, k0->model);
      fputc(',', k->f);
      csv_escaped(k->f, k0->version);
      fprintf(k->f, ",%s\n", now);
    } else if (k->fmt == FMT_JSONL) {
      fputc('{', k->f);
      json_escaped(k->f, k0->key_name);
      fputc(':', k->f);
      char *end;
      if (k0->key_is_int && *c->keys[r] && (strtoll(c->keys[r], &end, 10), !*end)) fputs(c->keys[r], k->f);
      else json_escaped(k->f, c->keys[r]);
      for (int i = 0; i < k0->n_out; i++) {
        const char *v = jobs_text(&outputs[i], g, k0->out[i].width, true, buf, sizeof buf,
                                  &k->spill, &k->spill_cap, &n);
        if (!v) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
        fputc(',', k->f);
        json_escaped(k->f, k0->out[i].name);
        fputc(':', k->f);
        fwrite(v, 1, n, k->f);
      }
      fprintf(k->f, ",\"model\":");
      json_escaped(k->f, k0->model);
      fprintf(k->f, ",\"model_version\":");
      json_escaped(k->f, k0->version);
      fprintf(k->f, ",\"predicted_at\":\"%s\"}\n", now);
    } else {
      for (int i = 0; i < k0->n_out; i++) {
        const ladle_tensor *t = &outputs[i];
        size_t esz = ladle_dtype_size(t->dtype), row = esz * (size_t)k0->out[i].width;
        ladle_tensor *a = &k->acc[i];
        size_t need = row * (size_t)(k->acc_rows + 1);
        if (need > k->acc_cap[i]) {
          size_t nc = k->acc_cap[i] ? k->acc_cap[i] * 2 : row * 1024;
          while (nc < need) nc *= 2;
          void *nd = realloc(a->data, nc);
          if (!nd) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
          a->data = nd;
          k->acc_cap[i] = nc;
        }
        if (t->dtype == LADLE_STRING) { /* the chunk's strings go away with it: keep copies */
          char **dst = (char **)((char *)a->data + row * (size_t)k->acc_rows);
          char *const *src = (char *const *)((const char *)t->data + row * (size_t)g);
          for (int64_t w = 0; w < k0->out[i].width; w++)
            if (!(dst[w] = strdup(src[w] ? src[w] : ""))) {
              for (int64_t u = 0; u < w; u++) free(dst[u]);
              return err_set(e, LADLE_ERR_NOMEM, "out of memory");
            }
        } else {
          memcpy((char *)a->data + row * (size_t)k->acc_rows,
                 (const char *)t->data + row * (size_t)g, row);
        }
        a->dtype = t->dtype;
        a->ndim = 2;
        a->dims[1] = k0->out[i].width;
      }
      k->acc_rows++;
    }
    g++;
  }
  if ((k->f && ferror(k->f)) || ferror(k->errf)) return err_set(e, LADLE_ERR_IO, "writing '%s' failed", k->path);
  return LADLE_OK;
}

static ladle_status fk_existing(sink *k0, void (*fn)(void *, const char *), void *ud, errbuf *e) {
  (void)k0, (void)fn, (void)ud;
  return err_set(e, LADLE_ERR_UNSUPPORTED, "--only-missing needs a database sink (file sinks are rewritten whole)");
}

static ladle_status fk_record_run(sink *k0, const run_record *r, errbuf *e) {
  (void)k0, (void)r, (void)e;
  return LADLE_OK; /* file sinks keep no run table; the summary line is the record */
}

/* .npy: one file per output, written now that every row is in; CSV / JSON Lines: flushed. */
static ladle_status fk_finish(sink *k0, errbuf *e) {
  file_sink *k = (file_sink *)k0;
  if (k->fmt == FMT_NPY && k->acc) {
    for (int i = 0; i < k0->n_out; i++) {
      char path[4096];
      size_t base_len = strlen(k->path) - 4;
      snprintf(path, sizeof path, "%.*s.%s.npy", (int)base_len, k->path, k0->out[i].name);
      k->acc[i].dims[0] = k->acc_rows;
      if (k->acc[i].data && npy_write_file(path, &k->acc[i], e) != LADLE_OK) return LADLE_ERR_IO;
    }
  }
  bool bad = (k->f && (fflush(k->f) != 0 || ferror(k->f))) ||
             (k->errf && (fflush(k->errf) != 0 || ferror(k->errf)));
  if (bad) return err_set(e, LADLE_ERR_IO, "writing '%s' failed", k->path);
  return LADLE_OK;
}

static void fk_close(sink *k0) {
  file_sink *k = (file_sink *)k0;
  for (int i = 0; k->acc && i < k0->n_out; i++) {
    if (k->acc[i].dtype == LADLE_STRING)
      for (int64_t n = 0; n < k->acc_rows * k0->out[i].width; n++)
        free(((char **)k->acc[i].data)[n]);
    free(k->acc[i].data);
  }
  free(k->acc);
  free(k->acc_cap);
  if (k->f) fclose(k->f);
  if (k->errf) fclose(k->errf);
  free(k->path);
  free(k->spill);
  sink_free_common(k0);
  free(k);
}

static const sink_vt fk_vt = {fk_prepare,    fk_write, fk_existing,
                               fk_record_run, fk_close, fk_finish};

ladle_status file_sink_open(const sink_opts *o, sink **out, errbuf *e) {
  ladle_status st = LADLE_OK;
  file_fmt fmt;
  const char *path = file_path(o->uri);
  if (file_format(path, &fmt))
    return err_set(e, LADLE_ERR_INVALID,
                   "sink '%s': use sqlite:///FILE.db, postgresql://..., or a .csv, .jsonl or .npy file", o->uri);
  file_sink *k = calloc(1, sizeof *k);
  if (!k) return LADLE_ERR_NOMEM;
  k->base.vt = &fk_vt;
  k->fmt = fmt;
  sink_opts so = *o;
  if (!so.table) so.table = path;
  if ((st = sink_fill_common(&k->base, &so, e))) goto out;
  k->path = strdup(path);
  char epath[4096];
  snprintf(epath, sizeof epath, "%s.errors.jsonl", path);
  if (fmt != FMT_NPY && !(k->f = fopen(path, "w"))) {
    st = err_set(e, LADLE_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    goto out;
  }
  if (!(k->errf = fopen(epath, "w"))) {
    st = err_set(e, LADLE_ERR_IO, "cannot create '%s': %s", epath, strerror(errno));
    goto out;
  }
out:
  if (st) {
    fk_close(&k->base);
    return st;
  }
  *out = &k->base;
  return LADLE_OK;
}

/* pg.c — PostgreSQL source, sink and work table (libpq).
 *
 * The source streams the query through a server-side cursor (FETCH n per chunk). The sink
 * COPYs each chunk into a temporary staging table and upserts from it in the same transaction
 * (INSERT ... SELECT ... ON CONFLICT DO UPDATE): one round trip per chunk instead of one per row.
 * Vectors are stored as jsonb.
 *
 * The work table (ladle_batch_work) lets several processes split one job: the first process
 * cuts the key space into chunks under an advisory lock; each process then claims a chunk with
 * SELECT ... FOR UPDATE SKIP LOCKED and holds that row lock while it predicts and writes the
 * chunk, marking it done before committing. A process that dies releases its lock with its
 * connection, so the chunk goes back to the others; upserts make a chunk done twice harmless. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "jobs/pgwork.h"
#include "runtime/tensor.h"

#define BOOLOID 16
#define NAMEOID 19
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define TEXTOID 25
#define FLOAT4OID 700
#define FLOAT8OID 701
#define BPCHAROID 1042
#define VARCHAROID 1043

static void quote_ident(PGconn *c, char *out, size_t len, const char *name) {
  char *q = PQescapeIdentifier(c, name, strlen(name));
  snprintf(out, len, "%s", q ? q : "\"\"");
  PQfreemem(q);
}

static ladle_status pg_connect(const char *uri, PGconn **out, errbuf *e) {
  PGconn *c = PQconnectdb(uri);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
    msg[strcspn(msg, "\n")] = '\0';
    PQfinish(c);
    return err_set(e, LADLE_ERR_IO, "cannot connect to PostgreSQL: %s", msg);
  }
  PGresult *r = PQexec(c, "SET client_min_messages = warning");
  PQclear(r);
  *out = c;
  return LADLE_OK;
}

/* Runs a command; fails with the server's message unless it returns `want`. */
static ladle_status pg_exec(PGconn *c, const char *sql, ExecStatusType want, errbuf *e) {
  PGresult *r = PQexec(c, sql);
  ladle_status st = LADLE_OK;
  if (PQresultStatus(r) != want) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
    msg[strcspn(msg, "\n")] = '\0';
    st = err_set(e, LADLE_ERR_IO, "postgresql: %s (in: %.100s)", msg, sql);
  }
  PQclear(r);
  return st;
}

/* Runs DDL under a transaction-scoped advisory lock: concurrent CREATE TABLE IF NOT EXISTS from
 * several processes on one job otherwise races in PostgreSQL's catalog (duplicate pg_type). */
static ladle_status pg_ddl(PGconn *c, const char *sql, errbuf *e) {
  ladle_status st = pg_exec(c, "BEGIN", PGRES_COMMAND_OK, e);
  if (st) return st;
  if (!(st = pg_exec(c, "SELECT pg_advisory_xact_lock(hashtext('ladle ddl'))", PGRES_TUPLES_OK, e)) &&
      !(st = pg_exec(c, sql, PGRES_COMMAND_OK, e)))
    return pg_exec(c, "COMMIT", PGRES_COMMAND_OK, e);
  errbuf ignore;
  pg_exec(c, "ROLLBACK", PGRES_COMMAND_OK, &ignore);
  return st;
}

/* --- source --------------------------------------------------------------------------------- */

typedef struct pg_source {
  source base;
  PGconn *c;
  char *query;
  bool done;
  /* Rows come in binary when every column's type has a binary form read here (floats,
   * integers, booleans, text): no float-to-text on the server, no strtod here. Any other type
   * (numeric, say) and the whole cursor is fetched as text. */
  bool binary;
  Oid *types;
} pg_source;

static bool binary_type(Oid t) {
  return t == FLOAT8OID || t == FLOAT4OID || t == INT8OID || t == INT4OID || t == INT2OID ||
         t == BOOLOID || t == TEXTOID || t == VARCHAROID || t == BPCHAROID || t == NAMEOID;
}

static bool is_text_type(Oid t) {
  return t == TEXTOID || t == VARCHAROID || t == BPCHAROID || t == NAMEOID;
}

static uint64_t be_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static uint32_t be_u32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A binary integer field as an int64 (false when its length does not fit its type). */
static bool bin_int(Oid t, const unsigned char *p, int len, int64_t *v) {
  if (t == INT8OID && len == 8) *v = (int64_t)be_u64(p);
  else if (t == INT4OID && len == 4) *v = (int32_t)be_u32(p);
  else if (t == INT2OID && len == 2) *v = (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  else return false;
  return true;
}

/* One binary feature value into the chunk (text columns are parsed as numbers, as in text mode). */
static void bin_feature(pg_source *s, chunk *c, int64_t row, int f, int col, const PGresult *r,
                        int i) {
  double *cell = &c->x[row * c->n_cols + f];
  const char *name = s->base.col_names[col];
  if (PQgetisnull(r, i, col)) {
    chunk_set_text(c, row, f, name, NULL);
    return;
  }
  const unsigned char *p = (const unsigned char *)PQgetvalue(r, i, col);
  int len = PQgetlength(r, i, col);
  Oid t = s->types[col];
  int64_t iv;
  if (t == FLOAT8OID && len == 8) {
    uint64_t u = be_u64(p);
    memcpy(cell, &u, sizeof *cell);
  } else if (t == FLOAT4OID && len == 4) {
    uint32_t u = be_u32(p);
    float fv;
    memcpy(&fv, &u, sizeof fv);
    *cell = fv;
  } else if (bin_int(t, p, len, &iv)) {
    *cell = (double)iv;
  } else if (t == BOOLOID && len == 1) {
    *cell = p[0] != 0;
  } else if (is_text_type(t)) {
    chunk_set_text(c, row, f, name, (const char *)p); /* libpq ends every value with a NUL */
  } else {
    *cell = NAN;
    chunk_row_fail(c, row, "column '%s': unexpected binary value", name);
  }
}

static int64_t pgs_next(source *s0, chunk *c, int64_t max_rows, errbuf *e) {
  pg_source *s = (pg_source *)s0;
  char sql[64];
  chunk_reset(c);
  if (s->done) return 0;
  if (max_rows > INT32_MAX)
    snprintf(sql, sizeof sql, "FETCH ALL FROM ladle_cur");
  else
    snprintf(sql, sizeof sql, "FETCH FORWARD %lld FROM ladle_cur", (long long)max_rows);
  PGresult *r = PQexecParams(s->c, sql, 0, NULL, NULL, NULL, NULL, s->binary ? 1 : 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    err_set(e, LADLE_ERR_IO, "postgresql source: %s", PQerrorMessage(s->c));
    PQclear(r);
    return -1;
  }
  int n = PQntuples(r);
  if (n < max_rows) s->done = true;
  for (int i = 0; i < n; i++) {
    char num[32];
    bool null_key = s0->key_col >= 0 && PQgetisnull(r, i, s0->key_col);
    const char *key = s0->key_col >= 0 ? PQgetvalue(r, i, s0->key_col) : "";
    int64_t kv;
    if (s->binary && s0->key_col >= 0 && !null_key &&
        bin_int(s->types[s0->key_col], (const unsigned char *)key, PQgetlength(r, i, s0->key_col),
                &kv)) {
      snprintf(num, sizeof num, "%lld", (long long)kv);
      key = num;
    } /* else text, in either format (binary text is the text itself) */
    int64_t row = chunk_add_row(c, key, strlen(key));
    if (row < 0) {
      PQclear(r);
      err_set(e, LADLE_ERR_NOMEM, "out of memory");
      return -1;
    }
    if (null_key) chunk_row_fail(c, row, "key column '%s' is NULL", s0->col_names[s0->key_col]);
    for (int f = 0; f < s0->n_features; f++) {
      int col = s0->feature_cols[f];
      if (s->binary) {
        bin_feature(s, c, row, f, col, r, i);
        continue;
      }
      const char *txt = PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
      if (txt && (txt[0] == 't' || txt[0] == 'f') && txt[1] == '\0') /* booleans */
        c->x[row * c->n_cols + f] = txt[0] == 't';
      else
        chunk_set_text(c, row, f, s0->col_names[col], txt);
    }
  }
  PQclear(r);
  return c->n_rows;
}

/* Counting would cost a second pass over the query: the progress line shows rows/s instead. */
static int64_t pgs_count(source *s0) {
  (void)s0;
  return -1;
}

static void pgs_close(source *s0) {
  pg_source *s = (pg_source *)s0;
  if (s->c) {
    PGresult *r = PQexec(s->c, "COMMIT");
    PQclear(r);
    PQfinish(s->c);
  }
  free(s->query);
  free(s->types);
  source_free_common(s0);
  free(s);
}

static const source_vt pgs_vt = {pgs_next, pgs_count, pgs_close, NULL};

ladle_status pg_source_open(const source_opts *o, source **out, errbuf *e) {
  ladle_status st;
  char *sql = NULL;
  if (!o->query) return err_set(e, LADLE_ERR_INVALID, "a PostgreSQL source needs --query");
  pg_source *s = calloc(1, sizeof *s);
  if (!s) return LADLE_ERR_NOMEM;
  s->base.vt = &pgs_vt;
  s->base.key_col = -1;
  s->query = strdup(o->query);
  if ((st = pg_connect(o->uri, &s->c, e))) goto out;
  if ((st = pg_exec(s->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK, e)))
    goto out;
  size_t len = strlen(o->query) + 512;
  sql = malloc(len);
  if (!sql) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  if (o->key_lo || o->key_hi) {
    char qk[300];
    quote_ident(s->c, qk, sizeof qk, o->key ? o->key : "id");
    /* A chunk of the work table: keys in [lo, hi). Bounds are text cast to the key's type. */
    snprintf(sql, len,
             "DECLARE ladle_cur NO SCROLL CURSOR FOR SELECT * FROM (%s\n) ladle_q "
             "WHERE ($1::text IS NULL OR ladle_q.%s >= CAST($1::text AS %s)) "
             "AND ($2::text IS NULL OR ladle_q.%s < CAST($2::text AS %s)) ORDER BY ladle_q.%s",
             o->query, qk, o->key_type ? o->key_type : "text", qk,
             o->key_type ? o->key_type : "text", qk);
    const char *params[2] = {o->key_lo, o->key_hi};
    PGresult *r = PQexecParams(s->c, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      st = err_set(e, LADLE_ERR_INVALID, "query: %s", PQerrorMessage(s->c));
    PQclear(r);
  } else {
    snprintf(sql, len, "DECLARE ladle_cur NO SCROLL CURSOR FOR %s", o->query);
    st = pg_exec(s->c, sql, PGRES_COMMAND_OK, e);
  }
  if (st) goto out;
  /* Column names and types: describe the portal. */
  PGresult *d = PQdescribePortal(s->c, "ladle_cur");
  if (PQresultStatus(d) != PGRES_COMMAND_OK) {
    st = err_set(e, LADLE_ERR_IO, "postgresql: %s", PQerrorMessage(s->c));
    PQclear(d);
    goto out;
  }
  s->base.n_cols = PQnfields(d);
  if (s->base.n_cols <= 0 || s->base.n_cols > JOB_MAX_COLS) {
    st = err_set(e, LADLE_ERR_INVALID, "the query returns %d columns", s->base.n_cols);
    PQclear(d);
    goto out;
  }
  s->base.col_names = calloc((size_t)s->base.n_cols, sizeof(char *));
  for (int i = 0; s->base.col_names && i < s->base.n_cols; i++)
    s->base.col_names[i] = strdup(PQfname(d, i));
  if (!s->base.col_names) {
    PQclear(d);
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  st = source_finish_columns(&s->base, o->key, e);
  if (!st && s->base.key_col >= 0) {
    Oid t = PQftype(d, s->base.key_col);
    s->base.key_is_int = t == INT8OID || t == INT4OID || t == INT2OID;
  }
  if (!st && !(s->types = calloc((size_t)s->base.n_cols, sizeof(Oid)))) st = LADLE_ERR_NOMEM;
  s->binary = !st;
  for (int i = 0; !st && i < s->base.n_cols; i++) {
    s->types[i] = PQftype(d, i);
    s->binary &= binary_type(s->types[i]);
  }
  PQclear(d);
out:
  free(sql);
  if (st) {
    pgs_close(&s->base);
    return st;
  }
  *out = &s->base;
  return LADLE_OK;
}

/* --- sink ----------------------------------------------------------------------------------- */

typedef struct pg_sink {
  sink base;
  PGconn *c;
  char qtable[300], qerr[300], qkey[300];
  char *upsert;
} pg_sink;

static ladle_status pgk_prepare(sink *k0, errbuf *e) {
  pg_sink *k = (pg_sink *)k0;
  ladle_status st;
  size_t cap = 4096 + (size_t)k0->n_out * 700;
  char *sql = malloc(cap), q[300];
  if (!sql) return LADLE_ERR_NOMEM;
  size_t o = (size_t)snprintf(sql, cap, "CREATE TABLE IF NOT EXISTS %s (%s %s PRIMARY KEY", k->qtable,
                              k->qkey, k0->key_is_int ? "bigint" : "text");
  for (int i = 0; i < k0->n_out; i++) {
    const sink_column *c = &k0->out[i];
    const char *type = c->width > 1 ? "jsonb"
                       : c->dtype == LADLE_STRING ? "text"
                       : dtype_is_float(c->dtype) ? "double precision"
                       : c->dtype == LADLE_BOOL ? "boolean" : "bigint";
    quote_ident(k->c, q, sizeof q, c->name);
    o += (size_t)snprintf(sql + o, cap - o, ", %s %s", q, type);
  }
  snprintf(sql + o, cap - o,
           ", model text NOT NULL, model_version text NOT NULL, predicted_at timestamptz NOT NULL)");
  st = pg_ddl(k->c, sql, e);
  if (!st) {
    snprintf(sql, cap,
             "CREATE TABLE IF NOT EXISTS %s (key text PRIMARY KEY, reason text NOT NULL, "
             "model text, model_version text, at timestamptz NOT NULL)", k->qerr);
    st = pg_ddl(k->c, sql, e);
  }
  if (!st) {
    snprintf(sql, cap, "CREATE TEMP TABLE IF NOT EXISTS ladle_stage (LIKE %s) ON COMMIT DELETE ROWS",
             k->qtable);
    st = pg_exec(k->c, sql, PGRES_COMMAND_OK, e);
  }
  if (!st) {
    o = (size_t)snprintf(sql, cap, "INSERT INTO %s SELECT * FROM ladle_stage ON CONFLICT (%s) DO UPDATE SET ",
                         k->qtable, k->qkey);
    for (int i = 0; i < k0->n_out; i++) {
      quote_ident(k->c, q, sizeof q, k0->out[i].name);
      o += (size_t)snprintf(sql + o, cap - o, "%s = excluded.%s, ", q, q);
    }
    snprintf(sql + o, cap - o,
             "model = excluded.model, model_version = excluded.model_version, "
             "predicted_at = excluded.predicted_at");
    k->upsert = strdup(sql);
  }
  free(sql);
  return st;
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static size_t copy_escape(char *out, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s && o + 2 < cap; s++) {
    if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r') {
      out[o++] = '\\';
      out[o++] = *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : '\\';
    } else {
      out[o++] = *s;
    }
  }
  return o;
}

/* Makes room for `need` more bytes in the COPY buffer: sends what is buffered (COPY data may be
 * split anywhere), and grows the buffer for a value larger than it. False on failure. */
static bool copy_room(PGconn *conn, char **buf, size_t *len, size_t *cap, size_t need) {
  if (*cap - *len >= need) return true;
  if (*len && PQputCopyData(conn, *buf, (int)*len) != 1) return false;
  *len = 0;
  if (need > *cap) {
    char *nb = realloc(*buf, need);
    if (!nb) return false;
    *buf = nb;
    *cap = need;
  }
  return true;
}

static ladle_status pgk_write(sink *k0, const chunk *c, const ladle_tensor *outputs, errbuf *e) {
  pg_sink *k = (pg_sink *)k0;
  ladle_status st;
  char now[40], val[4096], *spill = NULL;
  size_t cap = 1 << 20, len = 0, spill_cap = 0;
  char *buf = malloc(cap);
  if (!buf) return LADLE_ERR_NOMEM;
  jobs_now_iso(now, sizeof now);
  if ((st = pg_exec(k->c, "BEGIN", PGRES_COMMAND_OK, e))) goto out;
  PGresult *r = PQexec(k->c, "COPY ladle_stage FROM STDIN");
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    st = err_set(e, LADLE_ERR_IO, "postgresql COPY: %s", PQerrorMessage(k->c));
    PQclear(r);
    goto fail;
  }
  PQclear(r);
  int64_t g = 0;
  bool copy_ok = true; /* false: the COPY stream or memory failed (reported below) */
  for (int64_t row = 0; row < c->n_rows && copy_ok; row++) {
    if (c->row_error[row]) continue;
    copy_ok = copy_room(k->c, &buf, &len, &cap, 2 * strlen(c->keys[row]) + 8);
    if (copy_ok) len += copy_escape(buf + len, cap - len, c->keys[row]);
    for (int i = 0; i < k0->n_out && copy_ok; i++) {
      size_t n;
      const char *v = jobs_text(&outputs[i], g, k0->out[i].width, false, val, sizeof val, &spill,
                                &spill_cap, &n);
      if (!v || !(copy_ok = copy_room(k->c, &buf, &len, &cap, 2 * n + 8))) {
        copy_ok = false;
        break;
      }
      buf[len++] = '\t';
      /* NaN/inf are null in JSON and in the table; so is an empty number */
      bool empty_number = k0->out[i].width == 1 && n == 0 && outputs[i].dtype != LADLE_STRING;
      if (!strcmp(v, "null") || empty_number) {
        memcpy(buf + len, "\\N", 2);
        len += 2;
      } else {
        len += copy_escape(buf + len, cap - len, v);
      }
    }
    size_t tail = 2 * (strlen(k0->model) + strlen(k0->version)) + 64;
    if (!copy_ok || !(copy_ok = copy_room(k->c, &buf, &len, &cap, tail))) break;
    buf[len++] = '\t';
    len += copy_escape(buf + len, cap - len, k0->model);
    buf[len++] = '\t';
    len += copy_escape(buf + len, cap - len, k0->version);
    len += (size_t)snprintf(buf + len, cap - len, "\t%s\n", now);
    g++;
  }
  if (!copy_ok) {
    PQputCopyEnd(k->c, "ladle: out of memory or connection lost");
    while ((r = PQgetResult(k->c))) PQclear(r);
    st = err_set(e, LADLE_ERR_IO, "postgresql COPY: %s",
                 PQstatus(k->c) == CONNECTION_OK ? "out of memory" : PQerrorMessage(k->c));
    goto fail;
  }
  if ((len && PQputCopyData(k->c, buf, (int)len) != 1) || PQputCopyEnd(k->c, NULL) != 1) {
    st = err_set(e, LADLE_ERR_IO, "postgresql COPY: %s", PQerrorMessage(k->c));
    goto fail;
  }
  r = PQgetResult(k->c);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    st = err_set(e, LADLE_ERR_IO, "postgresql COPY: %s", PQerrorMessage(k->c));
    PQclear(r);
    while ((r = PQgetResult(k->c))) PQclear(r);
    goto fail;
  }
  PQclear(r);
  while ((r = PQgetResult(k->c))) PQclear(r);
  if ((st = pg_exec(k->c, k->upsert, PGRES_COMMAND_OK, e))) goto fail;
  for (int64_t row = 0; row < c->n_rows; row++) {
    if (!c->row_error[row]) continue;
    char sql[800];
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (key, reason, model, model_version, at) VALUES ($1,$2,$3,$4,$5) "
             "ON CONFLICT (key) DO UPDATE SET reason = excluded.reason, model = excluded.model, "
             "model_version = excluded.model_version, at = excluded.at", k->qerr);
    const char *p[5] = {c->keys[row], c->row_error[row], k0->model, k0->version, now};
    r = PQexecParams(k->c, sql, 5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      st = err_set(e, LADLE_ERR_IO, "postgresql errors table: %s", PQerrorMessage(k->c));
      PQclear(r);
      goto fail;
    }
    PQclear(r);
  }
  st = pg_exec(k->c, "COMMIT", PGRES_COMMAND_OK, e);
  goto out;
fail: {
  errbuf ignore;
  pg_exec(k->c, "ROLLBACK", PGRES_COMMAND_OK, &ignore);
}
out:
  free(buf);
  free(spill);
  return st;
}

static ladle_status pgk_existing(sink *k0, void (*fn)(void *, const char *), void *ud, errbuf *e) {
  pg_sink *k = (pg_sink *)k0;
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT %s::text FROM %s WHERE model = $1 AND model_version = $2",
           k->qkey, k->qtable);
  const char *p[2] = {k0->model, k0->version};
  PGresult *r = PQexecParams(k->c, sql, 2, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    bool missing = state && !strcmp(state, "42P01"); /* undefined_table: nothing exists yet */
    ladle_status st = missing ? LADLE_OK : err_set(e, LADLE_ERR_IO, "postgresql: %s", PQerrorMessage(k->c));
    PQclear(r);
    return st;
  }
  for (int i = 0; i < PQntuples(r); i++) fn(ud, PQgetvalue(r, i, 0));
  PQclear(r);
  return LADLE_OK;
}

static ladle_status pgk_record_run(sink *k0, const run_record *rr, errbuf *e) {
  pg_sink *k = (pg_sink *)k0;
  ladle_status st = pg_ddl(k->c,
                           "CREATE TABLE IF NOT EXISTS ladle_batch_runs (id bigserial PRIMARY KEY, "
                           "started_at timestamptz, ended_at timestamptz, status text, model text, "
                           "model_version text, source text, table_name text, rows bigint, "
                           "errors bigint, seconds double precision, message text)", e);
  if (st) return st;
  char rows[32], errs[32], secs[32];
  snprintf(rows, sizeof rows, "%lld", (long long)rr->rows);
  snprintf(errs, sizeof errs, "%lld", (long long)rr->errors);
  snprintf(secs, sizeof secs, "%.6f", rr->seconds);
  const char *p[11] = {rr->started_at, rr->ended_at, rr->status, rr->model, rr->version,
                       rr->source, rr->table, rows, errs, secs, rr->message ? rr->message : ""};
  PGresult *r = PQexecParams(k->c,
                             "INSERT INTO ladle_batch_runs (started_at, ended_at, status, model, "
                             "model_version, source, table_name, rows, errors, seconds, message) "
                             "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                             11, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    st = err_set(e, LADLE_ERR_IO, "ladle_batch_runs: %s", PQerrorMessage(k->c));
  PQclear(r);
  return st;
}

static void pgk_close(sink *k0) {
  pg_sink *k = (pg_sink *)k0;
  PQfinish(k->c);
  free(k->upsert);
  sink_free_common(k0);
  free(k);
}

static const sink_vt pgk_vt = {pgk_prepare,    pgk_write, pgk_existing,
                                pgk_record_run, pgk_close, NULL};

ladle_status pg_sink_open(const sink_opts *o, sink **out, errbuf *e) {
  ladle_status st;
  pg_sink *k = calloc(1, sizeof *k);
  if (!k) return LADLE_ERR_NOMEM;
  k->base.vt = &pgk_vt;
  if ((st = sink_fill_common(&k->base, o, e))) goto out;
  if ((st = pg_connect(o->uri, &k->c, e))) goto out;
  char errname[300];
  snprintf(errname, sizeof errname, "%s_errors", o->table);
  quote_ident(k->c, k->qtable, sizeof k->qtable, o->table);
  quote_ident(k->c, k->qerr, sizeof k->qerr, errname);
  quote_ident(k->c, k->qkey, sizeof k->qkey, k->base.key_name);
out:
  if (st) {
    pgk_close(&k->base);
    return st;
  }
  *out = &k->base;
  return LADLE_OK;
}

/* --- work table ----------------------------------------------------------------------------- */

struct pg_work {
  PGconn *c;
  char *job;
  bool in_claim;
};

ladle_status pg_work_open(const char *uri, const char *job, const char *query, const char *key,
                          int64_t chunk_size, pg_work **out, char *key_type, size_t kt_len,
                          errbuf *e) {
  ladle_status st;
  pg_work *w = calloc(1, sizeof *w);
  char *sql = NULL, qk[300];
  if (!w) return LADLE_ERR_NOMEM;
  w->job = strdup(job);
  if ((st = pg_connect(uri, &w->c, e))) goto out;
  quote_ident(w->c, qk, sizeof qk, key);
  size_t len = strlen(query) + 1024;
  if (!(sql = malloc(len))) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  /* The key's SQL type, so chunk bounds (kept as text) compare as keys. */
  snprintf(sql, len, "SELECT pg_typeof(ladle_q.%s)::text FROM (%s\n) ladle_q LIMIT 1", qk, query);
  PGresult *r = PQexec(w->c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    st = err_set(e, LADLE_ERR_INVALID, "query: %s", PQerrorMessage(w->c));
    PQclear(r);
    goto out;
  }
  snprintf(key_type, kt_len, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "text");
  PQclear(r);
  if ((st = pg_ddl(w->c,
                   "CREATE TABLE IF NOT EXISTS ladle_batch_work (job text NOT NULL, chunk int NOT NULL, "
                   "key_lo text, key_hi text, status text NOT NULL DEFAULT 'pending', "
                   "worker text, updated_at timestamptz, PRIMARY KEY (job, chunk))", e)))
    goto out;
  /* Plan once: the first process cuts the key space under an advisory lock. */
  if ((st = pg_exec(w->c, "BEGIN", PGRES_COMMAND_OK, e))) goto out;
  const char *p1[1] = {job};
  r = PQexecParams(w->c, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, NULL, p1, NULL, NULL, 0);
  PQclear(r);
  r = PQexecParams(w->c, "SELECT count(*) FROM ladle_batch_work WHERE job = $1", 1, NULL, p1, NULL, NULL, 0);
  bool planned = PQresultStatus(r) == PGRES_TUPLES_OK && atoll(PQgetvalue(r, 0, 0)) > 0;
  PQclear(r);
  if (!planned) {
    char cs[32];
    snprintf(cs, sizeof cs, "%lld", (long long)chunk_size);
    snprintf(sql, len,
             "INSERT INTO ladle_batch_work (job, chunk, key_lo, key_hi) "
             "SELECT $1, (rn - 1) / $2::bigint, k::text, lead(k::text) OVER (ORDER BY k) FROM ("
             "SELECT k, rn FROM (SELECT ladle_q.%s AS k, row_number() OVER (ORDER BY ladle_q.%s) AS rn "
             "FROM (%s\n) ladle_q) t WHERE (rn - 1) %% $2::bigint = 0) b",
             qk, qk, query);
    const char *p2[2] = {job, cs};
    r = PQexecParams(w->c, sql, 2, NULL, p2, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      st = err_set(e, LADLE_ERR_IO, "planning the work table: %s", PQerrorMessage(w->c));
      PQclear(r);
      errbuf ig;
      pg_exec(w->c, "ROLLBACK", PGRES_COMMAND_OK, &ig);
      goto out;
    }
    PQclear(r);
    /* the first chunk also takes keys below its bound (none, by construction) */
    r = PQexecParams(w->c, "UPDATE ladle_batch_work SET key_lo = NULL WHERE job = $1 AND chunk = 0",
                     1, NULL, p1, NULL, NULL, 0);
    PQclear(r);
  }
  st = pg_exec(w->c, "COMMIT", PGRES_COMMAND_OK, e);
out:
  free(sql);
  if (st) {
    pg_work_close(w);
    return st;
  }
  *out = w;
  return LADLE_OK;
}

int pg_work_claim(pg_work *w, int *chunk_id, char **lo, char **hi, errbuf *e) {
  *lo = *hi = NULL;
  if (pg_exec(w->c, "BEGIN", PGRES_COMMAND_OK, e)) return -1;
  const char *p[1] = {w->job};
  PGresult *r = PQexecParams(w->c,
                             "SELECT chunk, key_lo, key_hi FROM ladle_batch_work WHERE job = $1 "
                             "AND status <> 'done' ORDER BY chunk LIMIT 1 FOR UPDATE SKIP LOCKED",
                             1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    err_set(e, LADLE_ERR_IO, "claiming a chunk: %s", PQerrorMessage(w->c));
    PQclear(r);
    return -1;
  }
  if (PQntuples(r) == 0) {
    PQclear(r);
    errbuf ig;
    pg_exec(w->c, "COMMIT", PGRES_COMMAND_OK, &ig);
    return 0;
  }
  *chunk_id = atoi(PQgetvalue(r, 0, 0));
  if (!PQgetisnull(r, 0, 1)) *lo = strdup(PQgetvalue(r, 0, 1));
  if (!PQgetisnull(r, 0, 2)) *hi = strdup(PQgetvalue(r, 0, 2));
  PQclear(r);
  w->in_claim = true;
  return 1;
}

ladle_status pg_work_done(pg_work *w, int chunk_id, const char *worker, errbuf *e) {
  char id[16];
  snprintf(id, sizeof id, "%d", chunk_id);
  const char *p[3] = {w->job, id, worker};
  PGresult *r = PQexecParams(w->c,
                             "UPDATE ladle_batch_work SET status = 'done', worker = $3, updated_at = now() "
                             "WHERE job = $1 AND chunk = $2::int",
                             3, NULL, p, NULL, NULL, 0);
  ladle_status st = PQresultStatus(r) == PGRES_COMMAND_OK
                        ? LADLE_OK
                        : err_set(e, LADLE_ERR_IO, "work table: %s", PQerrorMessage(w->c));
  PQclear(r);
  if (!st) st = pg_exec(w->c, "COMMIT", PGRES_COMMAND_OK, e);
  w->in_claim = false;
  return st;
}

void pg_work_abort(pg_work *w) {
  errbuf ig;
  if (w && w->in_claim) pg_exec(w->c, "ROLLBACK", PGRES_COMMAND_OK, &ig);
  if (w) w->in_claim = false;
}

void pg_work_close(pg_work *w) {
  if (!w) return;
  pg_work_abort(w);
  PQfinish(w->c);
  free(w->job);
  free(w);
}

/* sqlite.c — SQLite source and sink.
 *
 * URIs follow SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db. The sink writes in
 * WAL mode, one transaction per chunk, upserting by key (INSERT ... ON CONFLICT DO UPDATE), so a
 * rerun rewrites rows instead of duplicating them and a killed job loses at most the chunk in
 * flight. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "jobs/jobs.h"

#define ROWS_PER_INSERT 64 /* multi-row INSERTs cut per-statement overhead */

/* Process-wide settings, before SQLite initialises itself on the first open: no memory
 * statistics (they take a global mutex on every allocation, which reader and writer threads
 * would share). Fails harmlessly (SQLITE_MISUSE) if SQLite was already in use. */
static void sqlite_tune_once(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static void sqlite_tune(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sqlite_tune_once);
}

static const char *sqlite_path(const char *uri) {
  return uri + strlen("sqlite:///");
}

/* "name" with embedded quotes doubled. */
static void quote_ident(char *out, size_t len, const char *name) {
  size_t o = 0;
  if (o < len) out[o++] = '"';
  for (const char *p = name; *p && o + 2 < len; p++) {
    if (*p == '"') out[o++] = '"';
    out[o++] = *p;
  }
  if (o < len) out[o++] = '"';
  out[o < len ? o : len - 1] = '\0';
}

/* --- source --------------------------------------------------------------------------------- */

/* Decimal text of v into buf (at least 21 bytes); returns buf. */
static const char *fmt_i64(char *buf, int64_t v) {
  char tmp[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  int o = 0;
  if (v < 0) buf[o++] = '-';
  while (n) buf[o++] = tmp[--n];
  buf[o] = '\0';
  return buf;
}

typedef struct sq_source {
  source base;
  sqlite3 *db;
  sqlite3_stmt *st;
  char *query;
  char *key;
  bool done, typed_key;
  /* Rows reach the chunk one of two ways. Normally the statement is
   *   SELECT ladle_decode_row(q."col", ...) FROM (query) AS q
   * and SQLite hands each row's values to decode_row() as function arguments, so no column API
   * call (each one takes and releases the connection's mutex) is made per cell. Where that
   * wrapper cannot be built (duplicate column names, more columns than a function takes) the
   * query runs as written and each value is fetched with sqlite3_column_value. */
  bool via_function;
  chunk *cur;        /* the chunk decode_row appends to */
  bool cur_nomem;
  sqlite3_value **vals; /* column path: this row's values */
  int64_t rows_seen; /* numbers rows when there is no key */
} sq_source;

/* Appends one row: key from vals[key_col], features from the others. False when out of memory. */
static bool add_row(sq_source *s, chunk *c, sqlite3_value **vals) {
  source *s0 = &s->base;
  const char *key = "";
  char num[32];
  if (s0->key_col >= 0) {
    sqlite3_value *kv = vals[s0->key_col];
    int kt = sqlite3_value_type(kv);
    if (!s->typed_key) {
      s0->key_is_int = kt == SQLITE_INTEGER;
      s->typed_key = true;
    } else if (kt != SQLITE_INTEGER) {
      s0->key_is_int = false;
    }
    if (kt == SQLITE_INTEGER) /* format it here: SQLite's int-to-text conversion costs more */
      key = fmt_i64(num, sqlite3_value_int64(kv));
    else
      key = (const char *)sqlite3_value_text(kv);
  } else {
    key = fmt_i64(num, s->rows_seen);
  }
  s->rows_seen++;
  int64_t r = chunk_add_row(c, key ? key : "", key ? strlen(key) : 0);
  if (r < 0) return false;
  if (!key) chunk_row_fail(c, r, "key column '%s' is NULL", s0->col_names[s0->key_col]);
  double *x = &c->x[r * c->n_cols];
  for (int f = 0; f < s0->n_features; f++) {
    int col = s0->feature_cols[f];
    sqlite3_value *v = vals[col];
    switch (sqlite3_value_type(v)) {
      case SQLITE_FLOAT:
      case SQLITE_INTEGER:
        x[f] = sqlite3_value_double(v);
        break;
      case SQLITE_NULL:
        x[f] = NAN;
        chunk_row_fail(c, r, "column '%s' is NULL", s0->col_names[col]);
        break;
      case SQLITE_TEXT:
        chunk_set_text(c, r, f, s0->col_names[col], (const char *)sqlite3_value_text(v));
        break;
      default:
        x[f] = NAN;
        chunk_row_fail(c, r, "column '%s' holds a blob, not a number", s0->col_names[col]);
    }
  }
  return true;
}

/* ladle_decode_row(col, ...): appends the row to the chunk being filled; returns NULL. */
static void decode_row(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sq_source *s = sqlite3_user_data(ctx);
  if (!s->cur || argc != s->base.n_cols) {
    sqlite3_result_error(ctx, "ladle_decode_row: called outside a batch read", -1);
    return;
  }
  if (!add_row(s, s->cur, argv)) {
    s->cur_nomem = true;
    sqlite3_result_error_nomem(ctx);
  }
}

static int64_t sq_next(source *s0, chunk *c, int64_t max_rows, errbuf *e) {
  sq_source *s = (sq_source *)s0;
  chunk_reset(c);
  s->cur = c;
  s->cur_nomem = false;
  while (!s->done && c->n_rows < max_rows) {
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_DONE) {
      s->done = true;
      break;
    }
    if (rc != SQLITE_ROW || s->cur_nomem) {
      if (s->cur_nomem) err_set(e, LADLE_ERR_NOMEM, "out of memory");
      else err_set(e, LADLE_ERR_IO, "sqlite source: %s", sqlite3_errmsg(s->db));
      s->cur = NULL;
      return -1;
    }
    if (s->via_function) continue; /* decode_row has added it */
    /* sqlite3_column_value's values are unprotected; safe here: this connection is used by this
     * thread alone */
    for (int i = 0; i < s0->n_cols; i++) s->vals[i] = sqlite3_column_value(s->st, i);
    if (!add_row(s, c, s->vals)) {
      err_set(e, LADLE_ERR_NOMEM, "out of memory");
      s->cur = NULL;
      return -1;
    }
  }
  s->cur = NULL;
  return c->n_rows;
}

static int64_t sq_count(source *s0) {
  sq_source *s = (sq_source *)s0;
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  size_t len = strlen(s->query) + 64;
  char *sql = malloc(len);
  if (!sql) return -1;
  snprintf(sql, len, "SELECT COUNT(*) FROM (%s\n)", s->query);
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  free(sql);
  return n;
}

static void sq_source_close(source *s0) {
  sq_source *s = (sq_source *)s0;
  sqlite3_finalize(s->st);
  sqlite3_close(s->db);
  source_free_common(s0);
  free(s->query);
  free(s->key);
  free(s->vals);
  free(s);
}

/* The query restricted to keys in [lo, hi), either bound absent; NULL when out of memory. (Every
 * wrapper closes the user's query on a new line: a trailing -- comment must not eat the ')'.) */
static char *range_sql(const char *query, const char *key, bool lo, bool hi) {
  char qk[300];
  quote_ident(qk, sizeof qk, key);
  size_t len = strlen(query) + 2 * strlen(qk) + 128;
  char *sql = malloc(len);
  if (!sql) return NULL;
  snprintf(sql, len, "SELECT * FROM (%s\n) WHERE %s%s%s%s%s%s", query, lo ? qk : "",
           lo ? " >= ?1" : "", lo && hi ? " AND " : "", hi ? qk : "", hi ? " < ?2" : "",
           !lo && !hi ? "1" : "");
  return sql;
}

/* A bound as an integer when it is one (keys compare as numbers), else as text. */
static void bind_bound(sqlite3_stmt *st, int i, const char *v) {
  char *end;
  long long n = strtoll(v, &end, 10);
  if (*v && !*end) sqlite3_bind_int64(st, i, n);
  else sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static bool query_int64(sqlite3 *db, const char *sql, int64_t *v) {
  sqlite3_stmt *st = NULL;
  bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER;
  if (ok) *v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return ok;
}

/* Splits by ranges of the key when that is exact and cheap: the range query must be a single
 * search of one table's rowid (the key is that table's INTEGER PRIMARY KEY, so never NULL and
 * always an integer, and every row falls in exactly one range), as EXPLAIN QUERY PLAN shows.
 * Anything else -- joins, GROUP BY, LIMIT, an expression or an ordinary column as the key --
 * is read whole. */
static int sq_split(source *s0, int n, char **bounds, errbuf *e) {
  sq_source *s = (sq_source *)s0;
  (void)e;
  if (n < 2 || s0->key_col < 0) return 1;
  char *range = range_sql(s->query, s->key, true, true), *sql = NULL;
  sqlite3_stmt *st = NULL;
  int rows = 0;
  bool rowid_search = false;
  if (!range) return 1;
  size_t len = strlen(range) + 64;
  if ((sql = malloc(len))) {
    snprintf(sql, len, "EXPLAIN QUERY PLAN %s", range);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        rows++;
        if (detail && strstr(detail, "SEARCH ") == detail &&
            strstr(detail, " USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"))
          rowid_search = true;
      }
    }
    sqlite3_finalize(st);
  }
  free(range);
  int parts = 1;
  int64_t lo, hi;
  char qk[300];
  quote_ident(qk, sizeof qk, s->key);
  len = strlen(s->query) + 400;
  char *mm = rows == 1 && rowid_search ? malloc(len) : NULL;
  if (mm) {
    snprintf(mm, len, "SELECT min(%s) FROM (%s\n)", qk, s->query);
    bool ok = query_int64(s->db, mm, &lo);
    snprintf(mm, len, "SELECT max(%s) FROM (%s\n)", qk, s->query);
    ok = ok && query_int64(s->db, mm, &hi);
    if (ok && hi > lo) {
      parts = (uint64_t)(hi - lo) < (uint64_t)n ? (int)(hi - lo) : n;
      uint64_t span = (uint64_t)hi - (uint64_t)lo;
      bounds[0] = bounds[parts] = NULL;
      for (int i = 1; i < parts; i++) {
        char num[32];
        int64_t b = (int64_t)((uint64_t)lo + (uint64_t)((double)span * i / parts));
        bounds[i] = strdup(fmt_i64(num, b));
        if (!bounds[i]) { /* out of memory: read it whole */
          for (int k = 1; k < i; k++) free(bounds[k]);
          parts = 1;
          break;
        }
      }
    }
  }
  free(mm);
  free(sql);
  return parts;
}

static const source_vt sq_source_vt = {sq_next, sq_count, sq_source_close, sq_split};

/* SELECT ladle_decode_row(q."c1", q."c2", ...) FROM (sql) AS q, or NULL when the columns cannot
 * be named that way (two with one name) or are more than a function call takes. */
static char *decoder_sql(sq_source *s, const char *sql) {
  int n = s->base.n_cols;
  if (n > sqlite3_limit(s->db, SQLITE_LIMIT_FUNCTION_ARG, -1)) return NULL;
  size_t len = strlen(sql) + 64;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < i; j++)
      if (!sqlite3_stricmp(s->base.col_names[i], s->base.col_names[j])) return NULL;
    len += 2 * strlen(s->base.col_names[i]) + 8;
  }
  char *out = malloc(len), q[300];
  if (!out) return NULL;
  size_t o = (size_t)snprintf(out, len, "SELECT ladle_decode_row(");
  for (int i = 0; i < n; i++) {
    if (strlen(s->base.col_names[i]) > 140) { /* quote_ident would truncate it */
      free(out);
      return NULL;
    }
    quote_ident(q, sizeof q, s->base.col_names[i]);
    o += (size_t)snprintf(out + o, len - o, "%sq.%s", i ? ", " : "", q);
  }
  snprintf(out + o, len - o, ") FROM (%s\n) AS q", sql);
  return out;
}

ladle_status sqlite_source_open(const source_opts *o, source **out, errbuf *e) {
  ladle_status st = LADLE_OK;
  if (!o->query) return err_set(e, LADLE_ERR_INVALID, "a SQLite source needs --query");
  sq_source *s = calloc(1, sizeof *s);
  if (!s) return LADLE_ERR_NOMEM;
  s->base.vt = &sq_source_vt;
  s->base.key_col = -1;
  sqlite_tune();
  const char *path = sqlite_path(o->uri);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    st = err_set(e, LADLE_ERR_IO, "cannot open SQLite database '%s': %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(s->db, 30000);
  /* Read pages through a memory map instead of read() copies (falls back when unavailable). */
  sqlite3_exec(s->db, "PRAGMA mmap_size=1099511627776", NULL, NULL, NULL);
  s->query = strdup(o->query);
  s->key = o->key ? strdup(o->key) : NULL;
  if (!s->query || (o->key && !s->key)) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  if (sqlite3_prepare_v2(s->db, s->query, -1, &s->st, NULL) != SQLITE_OK) {
    st = err_set(e, LADLE_ERR_INVALID, "query: %s", sqlite3_errmsg(s->db));
    goto out;
  }
  if (!sqlite3_stmt_readonly(s->st)) {
    st = err_set(e, LADLE_ERR_INVALID, "the query must only read (a SELECT)");
    goto out;
  }
  if ((o->key_lo || o->key_hi) && !o->key) {
    st = err_set(e, LADLE_ERR_INVALID, "a key range needs --key");
    goto out;
  }
  s->base.n_cols = sqlite3_column_count(s->st);
  if (s->base.n_cols <= 0 || s->base.n_cols > JOB_MAX_COLS) {
    st = err_set(e, LADLE_ERR_INVALID, "the query returns %d columns", s->base.n_cols);
    goto out;
  }
  s->base.col_names = calloc((size_t)s->base.n_cols, sizeof(char *));
  s->vals = calloc((size_t)s->base.n_cols, sizeof(sqlite3_value *));
  if (!s->base.col_names || !s->vals) {
    st = LADLE_ERR_NOMEM;
    goto out;
  }
  for (int i = 0; i < s->base.n_cols; i++)
    if (!(s->base.col_names[i] = strdup(sqlite3_column_name(s->st, i)))) {
      st = LADLE_ERR_NOMEM;
      goto out;
    }
  if ((st = source_finish_columns(&s->base, o->key, e))) goto out;
  /* The statement that runs: the query, or one key range of it (a split), wrapped in the row
   * decoder where that works. */
  bool ranged = o->key_lo || o->key_hi;
  char *sql = ranged ? range_sql(s->query, o->key, o->key_lo != NULL, o->key_hi != NULL)
                     : strdup(s->query);
  char *wrapped = sql ? decoder_sql(s, sql) : NULL;
  sqlite3_finalize(s->st);
  s->st = NULL;
  if (wrapped &&
      sqlite3_create_function_v2(s->db, "ladle_decode_row", -1, SQLITE_UTF8 | SQLITE_DIRECTONLY, s,
                                 decode_row, NULL, NULL, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(s->db, wrapped, -1, &s->st, NULL) == SQLITE_OK) {
    s->via_function = true;
  } else if (!sql || sqlite3_prepare_v2(s->db, sql, -1, &s->st, NULL) != SQLITE_OK) {
    st = sql ? err_set(e, LADLE_ERR_INVALID, "query: %s", sqlite3_errmsg(s->db)) : LADLE_ERR_NOMEM;
  }
  free(wrapped);
  free(sql);
  if (st) goto out;
  if (o->key_lo) bind_bound(s->st, 1, o->key_lo);
  if (o->key_hi) bind_bound(s->st, 2, o->key_hi);
out:
  if (st) {
    sq_source_close(&s->base);
    return st;
  }
  *out = &s->base;
  return LADLE_OK;
}

/* --- sink ----------------------------------------------------------------------------------- */

typedef struct sq_sink {
  sink base;
  sqlite3 *db;
  sqlite3_stmt *ins_many, *ins_one, *err_ins;
  char qtable[300], qerr[300];
  char *path;
  char *text;       /* output text of one multi-row INSERT, bound without copies */
  size_t text_slot; /* bytes per row in text */
  char *spill;      /* arrays of strings, formatted one at a time (bound with a copy) */
  size_t spill_cap;
} sq_sink;

static ladle_status exec_sql(sqlite3 *db, const char *sql, errbuf *e) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    ladle_status st = err_set(e, LADLE_ERR_IO, "sqlite: %s (in: %.120s)", msg ? msg : "?", sql);
    sqlite3_free(msg);
    return st;
  }
  return LADLE_OK;
}

/* INSERT of `rows` rows with upsert on the key. */
static char *insert_sql(sq_sink *k, int rows) {
  size_t cap = 4096 + (size_t)rows * (size_t)(k->base.n_out + 4) * 4 + (size_t)k->base.n_out * 600;
  char *sql = malloc(cap), q[300];
  if (!sql) return NULL;
  size_t o = 0;
  quote_ident(q, sizeof q, k->base.key_name);
  o += (size_t)snprintf(sql + o, cap - o, "INSERT INTO %s (%s", k->qtable, q);
  for (int i = 0; i < k->base.n_out; i++) {
    quote_ident(q, sizeof q, k->base.out[i].name);
    o += (size_t)snprintf(sql + o, cap - o, ", %s", q);
  }
  o += (size_t)snprintf(sql + o, cap - o, ", model, model_version, predicted_at) VALUES ");
  for (int r = 0; r < rows; r++) {
    o += (size_t)snprintf(sql + o, cap - o, "%s(?", r ? "," : "");
    for (int i = 0; i < k->base.n_out + 3; i++) o += (size_t)snprintf(sql + o, cap - o, ",?");
    o += (size_t)snprintf(sql + o, cap - o, ")");
  }
  quote_ident(q, sizeof q, k->base.key_name);
  o += (size_t)snprintf(sql + o, cap - o, " ON CONFLICT(%s) DO UPDATE SET ", q);
  for (int i = 0; i < k->base.n_out; i++) {
    quote_ident(q, sizeof q, k->base.out[i].name);
    o += (size_t)snprintf(sql + o, cap - o, "%s = excluded.%s, ", q, q);
  }
  snprintf(sql + o, cap - o,
           "model = excluded.model, model_version = excluded.model_version, "
           "predicted_at = excluded.predicted_at");
  return sql;
}

static ladle_status sq_prepare(sink *k0, errbuf *e) {
  sq_sink *k = (sq_sink *)k0;
  ladle_status st;
  char q[300], *sql = NULL;
  size_t cap = 4096 + (size_t)k0->n_out * 400;
  if (!(sql = malloc(cap))) return LADLE_ERR_NOMEM;
  size_t o = 0;
  quote_ident(q, sizeof q, k0->key_name);
  o += (size_t)snprintf(sql + o, cap - o, "CREATE TABLE IF NOT EXISTS %s (%s %s PRIMARY KEY",
                        k->qtable, q, k0->key_is_int ? "INTEGER" : "TEXT");
  for (int i = 0; i < k0->n_out; i++) {
    const sink_column *c = &k0->out[i];
    const char *type = c->width > 1 || c->dtype == LADLE_STRING ? "TEXT"
                       : (c->dtype == LADLE_FLOAT || c->dtype == LADLE_DOUBLE || c->dtype == LADLE_FLOAT16)
                           ? "REAL"
                           : "INTEGER";
    quote_ident(q, sizeof q, c->name);
    o += (size_t)snprintf(sql + o, cap - o, ", %s %s", q, type);
  }
  snprintf(sql + o, cap - o, ", model TEXT NOT NULL, model_version TEXT NOT NULL, predicted_at TEXT NOT NULL)");
  st = exec_sql(k->db, sql, e);
  if (!st) {
    snprintf(sql, cap,
             "CREATE TABLE IF NOT EXISTS %s (key TEXT PRIMARY KEY, reason TEXT NOT NULL, "
             "model TEXT, model_version TEXT, at TEXT NOT NULL)", k->qerr);
    st = exec_sql(k->db, sql, e);
  }
  if (!st)
    st = exec_sql(k->db,
                  "CREATE TABLE IF NOT EXISTS ladle_batch_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                  "started_at TEXT, ended_at TEXT, status TEXT, model TEXT, model_version TEXT, "
                  "source TEXT, table_name TEXT, rows INTEGER, errors INTEGER, seconds REAL, "
                  "message TEXT)", e);
  free(sql);
  if (st) return st;
  char *many = insert_sql(k, ROWS_PER_INSERT), *one = insert_sql(k, 1);
  if (!many || !one) {
    free(many);
    free(one);
    return LADLE_ERR_NOMEM;
  }
  if (sqlite3_prepare_v2(k->db, many, -1, &k->ins_many, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(k->db, one, -1, &k->ins_one, NULL) != SQLITE_OK)
    st = err_set(e, LADLE_ERR_IO, "table %s does not fit this model's outputs: %s", k->qtable,
                 sqlite3_errmsg(k->db));
  free(many);
  free(one);
  if (st) return st;
  char esql[600];
  snprintf(esql, sizeof esql,
           "INSERT INTO %s (key, reason, model, model_version, at) VALUES (?,?,?,?,?) "
           "ON CONFLICT(key) DO UPDATE SET reason = excluded.reason, model = excluded.model, "
           "model_version = excluded.model_version, at = excluded.at", k->qerr);
  if (sqlite3_prepare_v2(k->db, esql, -1, &k->err_ins, NULL) != SQLITE_OK)
    return err_set(e, LADLE_ERR_IO, "errors table %s: %s", k->qerr, sqlite3_errmsg(k->db));
  return LADLE_OK;
}

/* Most text one row's numeric text columns take: a number or JSON array per output, up to 25
 * characters and a separator per element, brackets, NUL. (Strings are bound where they lie, or
 * formatted into the spill buffer.) */
static size_t row_text_max(const sink *k) {
  size_t n = 1;
  for (int i = 0; i < k->n_out; i++)
    if (k->out[i].dtype != LADLE_STRING) n += (size_t)k->out[i].width * 26 + 4;
  return n;
}

/* A key of decimal digits (with an optional '-') as an integer; false for anything else. */
static bool parse_key_int(const char *s, int64_t *v) {
  bool neg = *s == '-';
  const char *p = s + neg;
  uint64_t u = 0;
  if (!*p || p - s + 19 < (ptrdiff_t)strlen(s)) return false;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    u = u * 10 + (uint64_t)(*p - '0');
  }
  if (u > (uint64_t)INT64_MAX + neg) return false;
  *v = neg ? (int64_t)(0 - u) : (int64_t)u;
  return true;
}

/* Binds one prediction row starting at parameter p; returns the next parameter index (-1 when
 * out of memory). Text
 * values are formatted into `text` (row_text_max bytes), which must outlive the statement's
 * step: they are bound without a copy. */
static int bind_row(sq_sink *k, sqlite3_stmt *st, int p, const chunk *c, int64_t r, int64_t g,
                    const ladle_tensor *outputs, const char *now, char *text) {
  const char *key = c->keys[r];
  int64_t iv;
  if (k->base.key_is_int && parse_key_int(key, &iv))
    sqlite3_bind_int64(st, p++, iv);
  else
    sqlite3_bind_text(st, p++, key, -1, SQLITE_STATIC);
  for (int i = 0; i < k->base.n_out; i++) {
    const sink_column *col = &k->base.out[i];
    const ladle_tensor *t = &outputs[i];
    if (col->width == 1 && t->dtype == LADLE_FLOAT) {
      float v = ((const float *)t->data)[g];
      if (isnan(v)) sqlite3_bind_null(st, p++);
      else sqlite3_bind_double(st, p++, v);
    } else if (col->width == 1 && t->dtype == LADLE_DOUBLE) {
      sqlite3_bind_double(st, p++, ((const double *)t->data)[g]);
    } else if (col->width == 1 && t->dtype == LADLE_STRING) { /* the chunk's copy outlives */
      sqlite3_bind_text(st, p++, ((char *const *)t->data)[g], -1, SQLITE_STATIC);
    } else if (t->dtype == LADLE_STRING) { /* a JSON array of strings, any length */
      size_t n;
      const char *txt = jobs_text(t, g, col->width, true, NULL, 0, &k->spill, &k->spill_cap, &n);
      if (!txt) return -1;
      sqlite3_bind_text(st, p++, txt, (int)n, SQLITE_TRANSIENT);
    } else {
      size_t room = (size_t)col->width * 26 + 4;
      size_t n = jobs_format_value(t, g, col->width, text, room);
      sqlite3_bind_text(st, p++, text, (int)n, SQLITE_STATIC);
      text += n + 1;
    }
  }
  sqlite3_bind_text(st, p++, k->base.model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, p++, k->base.version, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, p++, now, -1, SQLITE_STATIC);
  return p;
}

static ladle_status sq_write(sink *k0, const chunk *c, const ladle_tensor *outputs, errbuf *e) {
  sq_sink *k = (sq_sink *)k0;
  ladle_status st = LADLE_OK;
  char now[40];
  size_t slot = row_text_max(k0);
  if (!k->text || k->text_slot != slot) { /* one slot per row of a multi-row INSERT */
    free(k->text);
    k->text_slot = slot;
    if (!(k->text = malloc(slot * ROWS_PER_INSERT)))
      return err_set(e, LADLE_ERR_NOMEM, "out of memory for %zu bytes of output text", slot);
  }
  jobs_now_iso(now, sizeof now);
  if ((st = exec_sql(k->db, "BEGIN IMMEDIATE", e))) return st;
  int64_t g = 0, pending = 0;
  int p = 1;
  int64_t *rows = malloc(sizeof(int64_t) * ((size_t)c->n_rows + 1));
  if (!rows) {
    exec_sql(k->db, "ROLLBACK", e);
    return LADLE_ERR_NOMEM;
  }
  int64_t n_good = 0;
  for (int64_t r = 0; r < c->n_rows; r++)
    if (!c->row_error[r]) rows[n_good++] = r;
  for (int64_t i = 0; i < n_good && !st; i++, g++) {
    int64_t r = rows[i];
    bool batch = n_good - (i - pending) >= ROWS_PER_INSERT || pending > 0;
    if (batch) { /* every parameter is bound again for each statement: no clear_bindings */
      p = bind_row(k, k->ins_many, p, c, r, g, outputs, now, k->text + (size_t)pending * slot);
      if (p < 0) {
        st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
        break;
      }
      if (++pending == ROWS_PER_INSERT) {
        if (sqlite3_step(k->ins_many) != SQLITE_DONE)
          st = err_set(e, LADLE_ERR_IO, "sqlite insert: %s", sqlite3_errmsg(k->db));
        sqlite3_reset(k->ins_many);
        pending = 0;
        p = 1;
      }
    } else {
      if (bind_row(k, k->ins_one, 1, c, r, g, outputs, now, k->text) < 0)
        st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
      else if (sqlite3_step(k->ins_one) != SQLITE_DONE)
        st = err_set(e, LADLE_ERR_IO, "sqlite insert: %s", sqlite3_errmsg(k->db));
      sqlite3_reset(k->ins_one);
    }
  }
  free(rows);
  for (int64_t r = 0; r < c->n_rows && !st; r++) {
    if (!c->row_error[r]) continue;
    sqlite3_bind_text(k->err_ins, 1, c->keys[r], -1, SQLITE_STATIC);
    sqlite3_bind_text(k->err_ins, 2, c->row_error[r], -1, SQLITE_STATIC);
    sqlite3_bind_text(k->err_ins, 3, k0->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(k->err_ins, 4, k0->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(k->err_ins, 5, now, -1, SQLITE_STATIC);
    if (sqlite3_step(k->err_ins) != SQLITE_DONE)
      st = err_set(e, LADLE_ERR_IO, "sqlite errors insert: %s", sqlite3_errmsg(k->db));
    sqlite3_reset(k->err_ins);
  }
  if (st) {
    errbuf ignore;
    exec_sql(k->db, "ROLLBACK", &ignore);
    return st;
  }
  return exec_sql(k->db, "COMMIT", e);
}

static ladle_status sq_existing(sink *k0, void (*fn)(void *, const char *), void *ud, errbuf *e) {
  sq_sink *k = (sq_sink *)k0;
  char sql[1024], q[300];
  sqlite3_stmt *st = NULL;
  quote_ident(q, sizeof q, k0->key_name);
  snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE model = ? AND model_version = ?", q, k->qtable);
  if (sqlite3_prepare_v2(k->db, sql, -1, &st, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return LADLE_OK; /* no table yet: nothing exists */
  }
  sqlite3_bind_text(st, 1, k0->model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, k0->version, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(st, 0);
    if (key) fn(ud, key);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return err_set(e, LADLE_ERR_IO, "sqlite: %s", sqlite3_errmsg(k->db));
  return LADLE_OK;
}

static ladle_status sq_record_run(sink *k0, const run_record *r, errbuf *e) {
  sq_sink *k = (sq_sink *)k0;
  sqlite3_stmt *st = NULL;
  const char *sql =
      "INSERT INTO ladle_batch_runs (started_at, ended_at, status, model, model_version, source, "
      "table_name, rows, errors, seconds, message) VALUES (?,?,?,?,?,?,?,?,?,?,?)";
  errbuf ignore;
  exec_sql(k->db,
           "CREATE TABLE IF NOT EXISTS ladle_batch_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           "started_at TEXT, ended_at TEXT, status TEXT, model TEXT, model_version TEXT, "
           "source TEXT, table_name TEXT, rows INTEGER, errors INTEGER, seconds REAL, "
           "message TEXT)", &ignore);
  if (sqlite3_prepare_v2(k->db, sql, -1, &st, NULL) != SQLITE_OK)
    return err_set(e, LADLE_ERR_IO, "ladle_batch_runs: %s", sqlite3_errmsg(k->db));
  const char *texts[7] = {r->started_at, r->ended_at, r->status, r->model, r->version, r->source, r->table};
  for (int i = 0; i < 7; i++) sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, r->rows);
  sqlite3_bind_int64(st, 9, r->errors);
  sqlite3_bind_double(st, 10, r->seconds);
  sqlite3_bind_text(st, 11, r->message ? r->message : "", -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return err_set(e, LADLE_ERR_IO, "ladle_batch_runs: %s", sqlite3_errmsg(k->db));
  return LADLE_OK;
}

static void sq_sink_close(sink *k0) {
  sq_sink *k = (sq_sink *)k0;
  sqlite3_finalize(k->ins_many);
  sqlite3_finalize(k->ins_one);
  sqlite3_finalize(k->err_ins);
  sqlite3_close(k->db);
  free(k->path);
  free(k->text);
  free(k->spill);
  sink_free_common(k0);
  free(k);
}

static const sink_vt sq_sink_vt = {sq_prepare,    sq_write,      sq_existing,
                                   sq_record_run, sq_sink_close, NULL};

ladle_status sqlite_sink_open(const sink_opts *o, sink **out, errbuf *e) {
  ladle_status st;
  sq_sink *k = calloc(1, sizeof *k);
  if (!k) return LADLE_ERR_NOMEM;
  k->base.vt = &sq_sink_vt;
  if ((st = sink_fill_common(&k->base, o, e))) goto out;
  k->path = strdup(sqlite_path(o->uri));
  sqlite_tune();
  if (sqlite3_open_v2(k->path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    st = err_set(e, LADLE_ERR_IO, "cannot open SQLite database '%s': %s", k->path,
                 k->db ? sqlite3_errmsg(k->db) : "out of memory");
    goto out;
  }
  sqlite3_busy_timeout(k->db, 30000);
  quote_ident(k->qtable, sizeof k->qtable, o->table);
  char errname[300];
  snprintf(errname, sizeof errname, "%s_errors", o->table);
  quote_ident(k->qerr, sizeof k->qerr, errname);
  if ((st = exec_sql(k->db, "PRAGMA journal_mode=WAL", e))) goto out;
  if ((st = exec_sql(k->db, "PRAGMA synchronous=NORMAL", e))) goto out;
out:
  if (st) {
    sq_sink_close(&k->base);
    return st;
  }
  *out = &k->base;
  return LADLE_OK;
}

/* repository.c — model folders, background loading, reloads, unloads, polling.
 *
 * Lock order: repo.mu is taken alone (never with a scheduler's lock). The loader thread is the
 * only thread that creates or frees versions; other threads only take and drop references. */
#include "serving/repository.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "serving/yaml_dom.h"

#define MAX_MODELS 4096
#define PATH_BYTES 4096

typedef enum { JOB_LOAD, JOB_UNLOAD } job_kind;

typedef struct job {
  job_kind kind;
  char name[CFG_NAME_MAX];
  char *config; /* JSON override, malloc'd, NUL-terminated */
  size_t config_len;
  repo_done_fn done;
  void *ud;
  bool startup;
  struct job *next;
} job;

typedef struct model_entry {
  char name[CFG_NAME_MAX];
  model_state state;
  char reason[LADLE_ERRMSG_MAX];
  int n_versions;
  model_version *versions[CFG_MAX_VERSIONS]; /* ascending */
  uint64_t files_hash; /* of the files at the last load attempt */
  bool attempted;      /* a load was tried (poll mode retries only on change) */
  bool in_dir;         /* a folder in the last scan */
  bool wanted;         /* start-up asked for it (strict readiness) */
  int draining;        /* retired versions not yet freed */
} model_entry;

struct repo {
  repo_options o;
  char dir[PATH_BYTES];
  char **load_names;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* the loader waits here for jobs, dead versions, or the poll time */
  model_entry **ents;
  int n_ents, cap_ents;
  job *jobs_head, *jobs_tail;
  model_version *dead;
  int startup_pending;
  bool stopping, loader_started;
  pthread_t loader;
};

const char *model_state_name(model_state s) {
  switch (s) {
    case MODEL_READY: return "READY";
    case MODEL_LOADING: return "LOADING";
    case MODEL_UNLOADING: return "UNLOADING";
    default: return "UNAVAILABLE";
  }
}

bool repo_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= CFG_NAME_MAX || !strcmp(name, ".") || !strcmp(name, "..") || name[0] == '.')
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

/* --- entries (under mu) ------------------------------------------------------------------- */

static model_entry *find_entry(repo *r, const char *name) {
  for (int i = 0; i < r->n_ents; i++)
    if (!strcmp(r->ents[i]->name, name)) return r->ents[i];
  return NULL;
}

static model_entry *add_entry(repo *r, const char *name) {
  model_entry *e = find_entry(r, name);
  if (e) return e;
  if (r->n_ents == MAX_MODELS) return NULL;
  if (r->n_ents == r->cap_ents) {
    int cap = r->cap_ents ? r->cap_ents * 2 : 16;
    model_entry **p = realloc(r->ents, sizeof *p * (size_t)cap);
    if (!p) return NULL;
    r->ents = p;
    r->cap_ents = cap;
  }
  if (!(e = calloc(1, sizeof *e))) return NULL;
  snprintf(e->name, sizeof e->name, "%s", name);
  e->state = MODEL_UNAVAILABLE;
  snprintf(e->reason, sizeof e->reason, "not loaded");
  /* keep the table sorted by name: the index lists models in order */
  int at = r->n_ents;
  while (at > 0 && strcmp(r->ents[at - 1]->name, name) > 0) at--;
  memmove(r->ents + at + 1, r->ents + at, sizeof *r->ents * (size_t)(r->n_ents - at));
  r->ents[at] = e;
  r->n_ents++;
  return e;
}

/* --- references and freeing --------------------------------------------------------------- */

void repo_release(model_version *v) {
  if (!v) return;
  if (__atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  repo *r = v->repo;
  pthread_mutex_lock(&r->mu);
  v->next_dead = r->dead;
  r->dead = v;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void version_free(model_version *v) {
  if (!v) return;
  batcher_free(v->batcher);
  ladle_model_free(v->model);
  model_sig_destroy(&v->sig);
  model_config_destroy(&v->cfg);
  stats_destroy(&v->stats);
  free(v);
}

/* Frees the dead versions (loader thread, mu held on entry and exit). */
static void bury_dead(repo *r) {
  while (r->dead) {
    model_version *v = r->dead;
    r->dead = v->next_dead;
    model_entry *e = v->entry;
    pthread_mutex_unlock(&r->mu);
    log_msg(LOG_INFO, "serving", "%s unloaded", v->label);
    version_free(v);
    pthread_mutex_lock(&r->mu);
    if (e && --e->draining == 0 && e->state == MODEL_UNLOADING && e->n_versions == 0) {
      e->state = MODEL_UNAVAILABLE;
      snprintf(e->reason, sizeof e->reason, "unloaded");
    }
  }
}

/* --- lookups ------------------------------------------------------------------------------ */

ladle_status repo_acquire(repo *r, const char *name, const char *version, model_version **out,
                          errbuf *e) {
  ladle_status st = LADLE_OK;
  *out = NULL;
  pthread_mutex_lock(&r->mu);
  model_entry *ent = find_entry(r, name);
  if (!ent) {
    st = err_set(e, LADLE_ERR_NOT_FOUND, "unknown model '%s'", name);
  } else if (ent->n_versions == 0) {
    if (ent->state == MODEL_LOADING)
      st = err_set(e, LADLE_ERR_UNAVAILABLE, "model '%s' is loading; retry shortly", name);
    else if (ent->state == MODEL_UNLOADING)
      st = err_set(e, LADLE_ERR_UNAVAILABLE, "model '%s' is being unloaded", name);
    else
      st = err_set(e, LADLE_ERR_NOT_FOUND, "model '%s' is not loaded (%s)", name, ent->reason);
  } else if (!version || !version[0]) {
    *out = ent->versions[ent->n_versions - 1];
  } else {
    for (int i = 0; i < ent->n_versions; i++)
      if (!strcmp(ent->versions[i]->vstr, version)) *out = ent->versions[i];
    if (!*out) {
      char list[256];
      size_t off = 0;
      list[0] = '\0';
      for (int i = 0; i < ent->n_versions && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", ent->versions[i]->vstr);
      st = err_set(e, LADLE_ERR_NOT_FOUND, "model '%s' has no version '%.32s' (loaded: %s)", name,
                   version, list);
    }
  }
  if (*out) __atomic_add_fetch(&(*out)->refs, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&r->mu);
  return st;
}

int repo_versions(repo *r, const char *name, int64_t *out, int max) {
  int n = 0;
  pthread_mutex_lock(&r->mu);
  model_entry *ent = find_entry(r, name);
  for (int i = 0; ent && i < ent->n_versions && n < max; i++) out[n++] = ent->versions[i]->version;
  pthread_mutex_unlock(&r->mu);
  return n;
}

int repo_snapshot(repo *r, model_version ***out) {
  int n = 0, cap = 0;
  model_version **vs = NULL;
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->n_ents; i++) cap += r->ents[i]->n_versions;
  if (cap && !(vs = malloc(sizeof *vs * (size_t)cap))) cap = 0;
  for (int i = 0; i < r->n_ents && cap; i++)
    for (int k = 0; k < r->ents[i]->n_versions; k++) {
      vs[n] = r->ents[i]->versions[k];
      __atomic_add_fetch(&vs[n]->refs, 1, __ATOMIC_RELAXED);
      n++;
    }
  pthread_mutex_unlock(&r->mu);
  *out = vs;
  return n;
}

int repo_index(repo *r, bool ready_only, repo_row **rows) {
  int n = 0, cap = 0;
  repo_row *out = NULL;
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->n_ents; i++) cap += r->ents[i]->n_versions ? r->ents[i]->n_versions : 1;
  out = calloc((size_t)cap + 1, sizeof *out);
  if (!out) {
    pthread_mutex_unlock(&r->mu);
    return -1;
  }
  for (int i = 0; i < r->n_ents; i++) {
    model_entry *e = r->ents[i];
    if (!e->in_dir && e->n_versions == 0 && e->state == MODEL_UNAVAILABLE && !e->attempted) continue;
    if (e->n_versions == 0) {
      if (ready_only) continue;
      repo_row *row = &out[n++];
      snprintf(row->name, sizeof row->name, "%s", e->name);
      row->state = e->state;
      snprintf(row->reason, sizeof row->reason, "%s", e->reason);
      continue;
    }
    for (int k = 0; k < e->n_versions; k++) {
      repo_row *row = &out[n++];
      snprintf(row->name, sizeof row->name, "%s", e->name);
      snprintf(row->version, sizeof row->version, "%s", e->versions[k]->vstr);
      row->state = e->state == MODEL_UNLOADING ? MODEL_UNLOADING : MODEL_READY;
      snprintf(row->reason, sizeof row->reason, "%s", e->state == MODEL_READY ? e->reason : "");
    }
  }
  pthread_mutex_unlock(&r->mu);
  *rows = out;
  return n;
}

bool repo_ready(repo *r) {
  bool ok;
  pthread_mutex_lock(&r->mu);
  ok = r->startup_pending == 0 && !r->stopping;
  if (ok && r->o.strict_readiness)
    for (int i = 0; i < r->n_ents; i++)
      if (r->ents[i]->wanted && r->ents[i]->n_versions == 0) ok = false;
  pthread_mutex_unlock(&r->mu);
  return ok;
}

/* --- files -------------------------------------------------------------------------------- */

static bool is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool version_name(const char *s, int64_t *v) {
  size_t n = strlen(s);
  if (n == 0 || n > 18) return false;
  int64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return true;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t stat_hash(uint64_t h, const char *path) {
  struct stat sb;
  h = fnv(h, path, strlen(path));
  if (stat(path, &sb) != 0) return fnv(h, "-", 1);
  int64_t f[4] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec, (int64_t)sb.st_ino};
  return fnv(h, f, sizeof f);
}

/* Version folders of a model (sorted), and a hash of its files for change detection. */
static int list_versions(const char *mdir, int64_t *vers, int max, uint64_t *hash) {
  DIR *d = opendir(mdir);
  int n = 0;
  char path[PATH_BYTES];
  uint64_t h = 0xcbf29ce484222325ull;
  if (!d) return -1;
  snprintf(path, sizeof path, "%s/config.yaml", mdir);
  h = stat_hash(h, path);
  struct dirent *de;
  while ((de = readdir(d))) {
    int64_t v;
    if (!version_name(de->d_name, &v)) continue;
    snprintf(path, sizeof path, "%s/%s", mdir, de->d_name);
    if (!is_dir(path)) continue;
    if (n < max) vers[n++] = v;
    DIR *vd = opendir(path);
    struct dirent *fe;
    while (vd && (fe = readdir(vd))) {
      char fpath[PATH_BYTES];
      if (fe->d_name[0] == '.') continue;
      snprintf(fpath, sizeof fpath, "%s/%s", path, fe->d_name);
      h ^= stat_hash(0xcbf29ce484222325ull, fpath); /* order-independent */
    }
    if (vd) closedir(vd);
  }
  closedir(d);
  qsort(vers, (size_t)n, sizeof *vers, cmp_i64);
  for (int i = 0; i < n; i++) h = fnv(h, &vers[i], sizeof vers[i]);
  *hash = h;
  return n;
}

/* Folder names of the repository that can be models. */
static int scan_models(repo *r, char (**names)[CFG_NAME_MAX]) {
  DIR *d = opendir(r->dir);
  int n = 0, cap = 0;
  char (*out)[CFG_NAME_MAX] = NULL;
  char path[PATH_BYTES];
  *names = NULL;
  if (!d) return -1;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!repo_name_ok(de->d_name)) continue;
    snprintf(path, sizeof path, "%s/%s", r->dir, de->d_name);
    if (!is_dir(path)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      if (cap > MAX_MODELS) break;
      void *p = realloc(out, sizeof *out * (size_t)cap);
      if (!p) break;
      out = p;
    }
    snprintf(out[n++], CFG_NAME_MAX, "%s", de->d_name);
  }
  closedir(d);
  *names = out;
  return n;
}

/* --- loading (loader thread) -------------------------------------------------------------- */

static ladle_status version_load(repo *r, model_entry *ent, const model_config *cfg, int64_t ver,
                                 model_version **out, errbuf *e) {
  char path[PATH_BYTES];
  ladle_status st = LADLE_OK;
  model_version *v = calloc(1, sizeof *v);
  *out = NULL;
  if (!v) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  snprintf(v->name, sizeof v->name, "%s", ent->name);
  v->version = ver;
  snprintf(v->vstr, sizeof v->vstr, "%lld", (long long)ver);
  snprintf(v->label, sizeof v->label, "model '%s' version %lld", ent->name, (long long)ver);
  v->repo = r;
  v->entry = ent;
  v->refs = 1;
  if (model_config_copy(&v->cfg, cfg)) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
    goto fail;
  }
  snprintf(path, sizeof path, "%s/%s/%lld/%s", r->dir, ent->name, (long long)ver, cfg->default_model_filename);
  char lerr[LADLE_ERRMSG_MAX];
  st = ladle_model_load(path, NULL, &v->model, lerr, sizeof lerr);
  if (st) {
    err_set(e, st, "version %lld: %s", (long long)ver, lerr);
    goto fail;
  }
  if ((st = model_sig_build(v->model, &v->cfg, r->o.default_max_batch, &v->sig, e))) {
    err_prefix(e, "version %lld", (long long)ver);
    goto fail;
  }
  if (v->cfg.max_queue_size <= 0) v->cfg.max_queue_size = r->o.default_max_queue;
  if (stats_init(&v->stats, v->sig.max_batch_size) != 0) {
    st = err_set(e, LADLE_ERR_NOMEM, "out of memory");
    goto fail;
  }
  if (!(v->batcher = batcher_new(v->model, &v->sig, &v->cfg, v->cfg.max_queue_size, &v->stats, v->label, e))) {
    st = LADLE_ERR_NOMEM;
    goto fail;
  }
  *out = v;
  return LADLE_OK;
fail:
  version_free(v);
  return st;
}

/* Reads the config (override, config.yaml or none) into cfg. */
static ladle_status read_config(repo *r, const char *name, const char *override, size_t olen,
                                model_config *cfg, errbuf *e) {
  char path[PATH_BYTES];
  arena a;
  json *root = NULL;
  ladle_status st = LADLE_OK;
  arena_init(&a, 16384, 64u << 20);
  model_config_init(cfg, name);
  if (override) {
    json_opts o = {32, NULL};
    if ((st = json_parse(override, olen, &a, &o, &root, e))) err_prefix(e, "config parameter");
  } else {
    snprintf(path, sizeof path, "%s/%s/config.yaml", r->dir, name);
    struct stat sb;
    if (stat(path, &sb) == 0) st = yaml_parse_file(path, r->o.max_config_bytes, &a, &root, e);
  }
  if (!st && root) {
    st = model_config_apply(cfg, root, e);
    if (st) err_prefix(e, "%s", override ? "config parameter" : "config.yaml");
  }
  arena_destroy(&a);
  return st;
}

static ladle_status do_load(repo *r, const char *name, const char *override, size_t olen, errbuf *e) {
  char mdir[PATH_BYTES];
  model_config cfg;
  model_version *fresh[CFG_MAX_VERSIONS] = {0}, *old[CFG_MAX_VERSIONS];
  int n_fresh = 0, n_old = 0, n_all;
  int64_t all[CFG_MAX_VERSIONS * 4], pick[CFG_MAX_VERSIONS];
  int n_pick = 0;
  uint64_t hash = 0;
  ladle_status st = LADLE_OK;
  model_entry *ent;

  model_config_init(&cfg, name);
  pthread_mutex_lock(&r->mu);
  ent = add_entry(r, name);
  if (ent && ent->n_versions == 0) {
    ent->state = MODEL_LOADING;
    ent->reason[0] = '\0';
  }
  pthread_mutex_unlock(&r->mu);
  if (!ent) return err_set(e, LADLE_ERR_LIMIT, "too many models (at most %d)", MAX_MODELS);
  uint64_t t0 = time_now_ns();

  snprintf(mdir, sizeof mdir, "%s/%s", r->dir, name);
  if (!is_dir(mdir)) {
    st = err_set(e, LADLE_ERR_NOT_FOUND, "no folder '%s' in the model repository %s", name, r->dir);
    goto out;
  }
  if ((n_all = list_versions(mdir, all, (int)(sizeof all / sizeof all[0]), &hash)) < 0) {
    st = err_set(e, LADLE_ERR_IO, "cannot read %s: %s", mdir, strerror(errno));
    goto out;
  }
  if ((st = read_config(r, name, override, olen, &cfg, e))) goto out;
  if (n_all == 0) {
    st = err_set(e, LADLE_ERR_NOT_FOUND, "no version folders (expected %s/1/%s)", name, cfg.default_model_filename);
    goto out;
  }
  if (cfg.version_policy == VP_ALL) {
    for (int i = n_all - 1; i >= 0 && n_pick < CFG_MAX_VERSIONS; i--) pick[n_pick++] = all[i];
  } else if (cfg.version_policy == VP_LATEST) {
    for (int i = n_all - 1; i >= 0 && n_pick < cfg.num_versions; i--) pick[n_pick++] = all[i];
  } else {
    for (int k = 0; k < cfg.n_versions; k++) {
      bool found = false;
      for (int i = 0; i < n_all; i++) found |= all[i] == cfg.versions[k];
      if (!found) {
        st = err_set(e, LADLE_ERR_NOT_FOUND, "version %lld (version_policy.specific) has no folder",
                     (long long)cfg.versions[k]);
        goto out;
      }
      pick[n_pick++] = cfg.versions[k];
    }
  }
  qsort(pick, (size_t)n_pick, sizeof *pick, cmp_i64);
  for (int i = 0; i < n_pick; i++) {
    if (i > 0 && pick[i] == pick[i - 1]) continue;
    if ((st = version_load(r, ent, &cfg, pick[i], &fresh[n_fresh], e))) goto out;
    n_fresh++;
  }

out:
  pthread_mutex_lock(&r->mu);
  ent->files_hash = hash;
  ent->attempted = true;
  if (!st) {
    n_old = ent->n_versions;
    memcpy(old, ent->versions, sizeof *old * (size_t)n_old);
    memcpy(ent->versions, fresh, sizeof *fresh * (size_t)n_fresh);
    ent->n_versions = n_fresh;
    ent->draining += n_old;
    ent->state = MODEL_READY;
    ent->reason[0] = '\0';
  } else if (ent->n_versions > 0) {
    ent->state = MODEL_READY;
    snprintf(ent->reason, sizeof ent->reason, "reload failed: %s", e->msg);
  } else {
    ent->state = MODEL_UNAVAILABLE;
    snprintf(ent->reason, sizeof ent->reason, "%s", e->msg);
  }
  pthread_mutex_unlock(&r->mu);
  if (!st) {
    for (int i = 0; i < n_fresh; i++) {
      model_version *v = fresh[i];
      log_msg(LOG_INFO, "serving", "%s loaded in %.1f ms: %d input(s), %d output(s), max_batch_size %d%s, %d instance(s)",
              v->label, (double)(time_now_ns() - t0) / 1e6, v->sig.n_in, v->sig.n_out,
              v->sig.max_batch_size, v->sig.dynamic_batching ? " (dynamic batching)" : "",
              v->cfg.instance_count);
    }
    for (int i = 0; i < n_old; i++) repo_release(old[i]);
  } else {
    for (int i = 0; i < n_fresh; i++) version_free(fresh[i]);
    err_prefix(e, "model '%s'", name);
    log_msg(LOG_ERROR, "serving", "%s", e->msg);
  }
  model_config_destroy(&cfg);
  return st;
}

static void do_unload(repo *r, const char *name) {
  model_version *old[CFG_MAX_VERSIONS];
  int n_old = 0;
  pthread_mutex_lock(&r->mu);
  model_entry *ent = find_entry(r, name);
  if (ent) {
    n_old = ent->n_versions;
    memcpy(old, ent->versions, sizeof *old * (size_t)n_old);
    ent->n_versions = 0;
    ent->draining += n_old;
    ent->state = n_old ? MODEL_UNLOADING : MODEL_UNAVAILABLE;
    snprintf(ent->reason, sizeof ent->reason, "unloaded");
  }
  pthread_mutex_unlock(&r->mu);
  if (n_old) log_msg(LOG_INFO, "serving", "model '%s' unloading", name);
  for (int i = 0; i < n_old; i++) repo_release(old[i]);
}

/* Poll mode: load new and changed models, unload removed ones. */
static void do_poll(repo *r) {
  char(*names)[CFG_NAME_MAX] = NULL;
  int n = scan_models(r, &names);
  if (n < 0) {
    log_msg(LOG_WARN, "serving", "cannot scan %s: %s", r->dir, strerror(errno));
    return;
  }
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->n_ents; i++) r->ents[i]->in_dir = false;
  pthread_mutex_unlock(&r->mu);
  for (int i = 0; i < n; i++) {
    char mdir[PATH_BYTES];
    int64_t vers[256];
    uint64_t hash = 0;
    snprintf(mdir, sizeof mdir, "%s/%s", r->dir, names[i]);
    if (list_versions(mdir, vers, 256, &hash) < 0) continue;
    pthread_mutex_lock(&r->mu);
    model_entry *ent = add_entry(r, names[i]);
    bool changed = ent && (!ent->attempted || ent->files_hash != hash);
    if (ent) ent->in_dir = true;
    pthread_mutex_unlock(&r->mu);
    if (changed) {
      errbuf e = {{0}};
      if (ent->attempted) log_msg(LOG_INFO, "serving", "model '%s' changed on disk: reloading", names[i]);
      do_load(r, names[i], NULL, 0, &e);
    }
  }
  /* models whose folder went away */
  for (;;) {
    char gone[CFG_NAME_MAX] = "";
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n_ents && !gone[0]; i++)
      if (!r->ents[i]->in_dir && r->ents[i]->n_versions > 0) snprintf(gone, sizeof gone, "%s", r->ents[i]->name);
    pthread_mutex_unlock(&r->mu);
    if (!gone[0]) break;
    log_msg(LOG_INFO, "serving", "model '%s' removed from the repository", gone);
    do_unload(r, gone);
  }
  free(names);
}

static void run_job(repo *r, job *j) {
  errbuf e = {{0}};
  ladle_status st = LADLE_OK;
  if (j->kind == JOB_LOAD) st = do_load(r, j->name, j->config, j->config_len, &e);
  else do_unload(r, j->name);
  if (j->done) j->done(j->ud, st, st ? e.msg : "");
  if (j->startup) {
    pthread_mutex_lock(&r->mu);
    if (--r->startup_pending == 0) log_msg(LOG_INFO, "serving", "start-up loading finished");
    pthread_mutex_unlock(&r->mu);
  }
}

static void *loader_main(void *arg) {
  repo *r = arg;
  uint64_t next_poll = time_now_ns() + (uint64_t)r->o.poll_secs * 1000000000u;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    bury_dead(r);
    if (r->jobs_head && !r->stopping) {
      job *j = r->jobs_head;
      r->jobs_head = j->next;
      if (!r->jobs_head) r->jobs_tail = NULL;
      pthread_mutex_unlock(&r->mu);
      run_job(r, j);
      free(j->config);
      free(j);
      pthread_mutex_lock(&r->mu);
      continue;
    }
    if (r->stopping) break;
    if (r->o.mode == CONTROL_POLL && r->startup_pending == 0) {
      uint64_t now = time_now_ns();
      if (now >= next_poll) {
        pthread_mutex_unlock(&r->mu);
        do_poll(r);
        pthread_mutex_lock(&r->mu);
        next_poll = time_now_ns() + (uint64_t)r->o.poll_secs * 1000000000u;
        continue;
      }
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t abs = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (next_poll - now);
      ts.tv_sec = (time_t)(abs / 1000000000u);
      ts.tv_nsec = (long)(abs % 1000000000u);
      pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    } else {
      pthread_cond_wait(&r->cv, &r->mu);
    }
  }
  /* refuse what is still queued */
  while (r->jobs_head) {
    job *j = r->jobs_head;
    r->jobs_head = j->next;
    pthread_mutex_unlock(&r->mu);
    if (j->done) j->done(j->ud, LADLE_ERR_UNAVAILABLE, "the server is shutting down");
    free(j->config);
    free(j);
    pthread_mutex_lock(&r->mu);
  }
  r->jobs_tail = NULL;
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

static ladle_status push_job(repo *r, job *j, errbuf *e) {
  pthread_mutex_lock(&r->mu);
  if (r->stopping) {
    pthread_mutex_unlock(&r->mu);
    free(j->config);
    free(j);
    return err_set(e, LADLE_ERR_UNAVAILABLE, "the server is shutting down");
  }
  if (r->jobs_tail) r->jobs_tail->next = j;
  else r->jobs_head = j;
  r->jobs_tail = j;
  if (j->startup) r->startup_pending++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  return LADLE_OK;
}

static ladle_status queue_job(repo *r, job_kind kind, const char *name, const char *cfg, size_t cfg_len,
                              repo_done_fn done, void *ud, bool startup, errbuf *e) {
  job *j = calloc(1, sizeof *j);
  if (!j) return err_set(e, LADLE_ERR_NOMEM, "out of memory");
  j->kind = kind;
  snprintf(j->name, sizeof j->name, "%s", name);
  j->done = done;
  j->ud = ud;
  j->startup = startup;
  if (cfg) {
    if (!(j->config = malloc(cfg_len + 1))) {
      free(j);
      return err_set(e, LADLE_ERR_NOMEM, "out of memory");
    }
    memcpy(j->config, cfg, cfg_len);
    j->config[cfg_len] = '\0';
    j->config_len = cfg_len;
  }
  return push_job(r, j, e);
}

static ladle_status check_control(repo *r, const char *name, errbuf *e) {
  if (r->o.mode != CONTROL_EXPLICIT)
    return err_set(e, LADLE_ERR_UNSUPPORTED,
                   "explicit model load / unload is not allowed: the server runs with "
                   "--model-control-mode %s (use explicit)",
                   r->o.mode == CONTROL_POLL ? "poll" : "none");
  if (!repo_name_ok(name)) return err_set(e, LADLE_ERR_INVALID, "invalid model name '%.64s'", name);
  return LADLE_OK;
}

ladle_status repo_load_async(repo *r, const char *name, const char *config_json, size_t config_len,
                             repo_done_fn done, void *ud, errbuf *e) {
  ladle_status st = check_control(r, name, e);
  if (st) return st;
  return queue_job(r, JOB_LOAD, name, config_json, config_len, done, ud, false, e);
}

ladle_status repo_unload_async(repo *r, const char *name, repo_done_fn done, void *ud, errbuf *e) {
  ladle_status st = check_control(r, name, e);
  if (st) return st;
  return queue_job(r, JOB_UNLOAD, name, NULL, 0, done, ud, false, e);
}

/* --- lifecycle ---------------------------------------------------------------------------- */

repo *repo_new(const repo_options *o, errbuf *e) {
  repo *r = calloc(1, sizeof *r);
  pthread_condattr_t ca;
  if (!r) {
    err_set(e, LADLE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  r->o = *o;
  if (!realpath(o->dir, r->dir)) {
    err_set(e, LADLE_ERR_NOT_FOUND, "model repository %s: %s", o->dir, strerror(errno));
    free(r);
    return NULL;
  }
  if (!is_dir(r->dir)) {
    err_set(e, LADLE_ERR_INVALID, "model repository %s is not a folder", o->dir);
    free(r);
    return NULL;
  }
  r->o.dir = r->dir;
  r->o.load_models = NULL;
  r->o.n_load_models = 0;
  if (o->n_load_models > 0) {
    r->load_names = calloc((size_t)o->n_load_models, sizeof *r->load_names);
    for (int i = 0; r->load_names && i < o->n_load_models; i++) r->load_names[i] = strdup(o->load_models[i]);
    r->o.n_load_models = o->n_load_models;
  }
  if (r->o.poll_secs < 1) r->o.poll_secs = 1;
  if (r->o.max_config_bytes == 0) r->o.max_config_bytes = 1 << 20;
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  return r;
}

static bool wanted_at_start(repo *r, const char *name) {
  if (r->o.mode != CONTROL_EXPLICIT) return true;
  for (int i = 0; i < r->o.n_load_models; i++)
    if (r->load_names[i] && (!strcmp(r->load_names[i], "*") || !strcmp(r->load_names[i], name))) return true;
  return false;
}

ladle_status repo_start(repo *r, errbuf *e) {
  char(*names)[CFG_NAME_MAX] = NULL;
  int n = scan_models(r, &names);
  ladle_status st = LADLE_OK;
  if (n < 0) return err_set(e, LADLE_ERR_IO, "cannot read the model repository %s: %s", r->dir, strerror(errno));
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < n; i++) {
    model_entry *ent = add_entry(r, names[i]);
    if (ent) ent->in_dir = true;
  }
  pthread_mutex_unlock(&r->mu);
  /* explicit names that are not folders: reported, not fatal */
  for (int i = 0; i < r->o.n_load_models; i++) {
    const char *want = r->load_names[i];
    bool found = !want || !strcmp(want, "*");
    for (int k = 0; k < n && !found; k++) found = !strcmp(names[k], want);
    if (found) continue;
    pthread_mutex_lock(&r->mu);
    model_entry *ent = repo_name_ok(want) ? add_entry(r, want) : NULL;
    if (ent) {
      ent->wanted = true;
      ent->attempted = true;
      snprintf(ent->reason, sizeof ent->reason, "--load-model %s: no such folder in the repository", want);
    }
    pthread_mutex_unlock(&r->mu);
    log_msg(LOG_ERROR, "serving", "--load-model %s: no folder '%s' in %s", want, want, r->dir);
  }
  for (int i = 0; i < n && !st; i++) {
    if (!wanted_at_start(r, names[i])) continue;
    pthread_mutex_lock(&r->mu);
    model_entry *ent = find_entry(r, names[i]);
    if (ent) {
      ent->wanted = true;
      ent->state = MODEL_LOADING;
      ent->reason[0] = '\0';
    }
    pthread_mutex_unlock(&r->mu);
    st = queue_job(r, JOB_LOAD, names[i], NULL, 0, NULL, NULL, true, e);
  }
  free(names);
  if (st) return st;
  if (n == 0) log_msg(LOG_WARN, "serving", "the model repository %s has no model folders", r->dir);
  if (pthread_create(&r->loader, NULL, loader_main, r) != 0)
    return err_set(e, LADLE_ERR_NOMEM, "cannot start the loader thread");
  r->loader_started = true;
  return LADLE_OK;
}

void repo_stop(repo *r) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  r->stopping = true;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  if (r->loader_started) {
    pthread_join(r->loader, NULL);
    r->loader_started = false;
  }
  /* stop every scheduler: queued requests run and complete */
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->n_ents; i++)
    for (int k = 0; k < r->ents[i]->n_versions; k++) {
      model_version *v = r->ents[i]->versions[k];
      pthread_mutex_unlock(&r->mu);
      batcher_stop(v->batcher);
      pthread_mutex_lock(&r->mu);
    }
  for (model_version *v = r->dead; v; v = v->next_dead) {
    pthread_mutex_unlock(&r->mu);
    batcher_stop(v->batcher);
    pthread_mutex_lock(&r->mu);
  }
  pthread_mutex_unlock(&r->mu);
}

void repo_free(repo *r) {
  if (!r) return;
  repo_stop(r);
  /* whatever references remain (answers never sent) die with the repository */
  while (r->dead) {
    model_version *v = r->dead;
    r->dead = v->next_dead;
    version_free(v);
  }
  for (int i = 0; i < r->n_ents; i++) {
    for (int k = 0; k < r->ents[i]->n_versions; k++) version_free(r->ents[i]->versions[k]);
    free(r->ents[i]);
  }
  free(r->ents);
  for (int i = 0; r->load_names && i < r->o.n_load_models; i++) free(r->load_names[i]);
  free(r->load_names);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
}

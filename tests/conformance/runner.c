/* runner.c — runs ONNX's backend node tests (libonnx-testdata) through ladle's runtime.
 *
 *   ladle_conformance [--data DIR] [--expected FILE] [--filter SUBSTR] [--write-passing FILE] [-v]
 *
 * Each test directory holds model.onnx and test_data_set_N/{input,output}_K.pb. Outputs are
 * compared the way ONNX's backend tests compare them: |got - want| <= atol + rtol * |want| with
 * rtol 1e-3, atol 1e-7 for floats; exact for integers, bools and strings. Each test runs in a
 * child process, so a crash or a hang fails that test only.
 *
 * Exit status: 1 if any test named in --expected did not pass, else 0. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ladle/ladle.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_IO 64

enum { R_PASS = 0, R_FAIL = 1, R_ERROR = 2, R_SKIP = 3, R_CRASH = 4 };
static const char *rname[] = {"PASS", "FAIL", "ERROR", "SKIP", "CRASH"};

static int verbose;

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) *len = (size_t)n;
  return buf;
}

static int load_pb(const char *path, ladle_tensor **t, char *why, size_t wl) {
  size_t len = 0;
  char *buf = read_file(path, &len);
  errbuf e = {{0}};
  if (!buf) return 0;
  ladle_status st = tensor_from_pb(buf, len, t, NULL, &e);
  free(buf);
  if (st) {
    snprintf(why, wl, "%s: %s", path, e.msg);
    return -1;
  }
  return 1;
}

static int compare(const ladle_tensor *got, const ladle_tensor *want, char *why, size_t wl) {
  char a[128], b[128];
  /* ONNX 1.12's test data stores bfloat16 tensors as uint16 bit patterns: compare the bits. */
  ladle_tensor bits;
  if (got->dtype == LADLE_BFLOAT16 && want->dtype == LADLE_UINT16) {
    bits = *got;
    bits.dtype = LADLE_UINT16;
    got = &bits;
  }
  if (got->dtype != want->dtype) {
    snprintf(why, wl, "dtype %s, expected %s", ladle_dtype_name(got->dtype),
             ladle_dtype_name(want->dtype));
    return 0;
  }
  if (!shape_equal(got->ndim, got->dims, want->ndim, want->dims)) {
    snprintf(why, wl, "shape %s, expected %s", shape_str(got->ndim, got->dims, a, sizeof a),
             shape_str(want->ndim, want->dims, b, sizeof b));
    return 0;
  }
  int64_t n = ladle_tensor_numel(want);
  for (int64_t i = 0; i < n; i++) {
    if (want->dtype == LADLE_STRING) {
      const char *x = ((char *const *)got->data)[i], *y = ((char *const *)want->data)[i];
      if (strcmp(x ? x : "", y ? y : "") != 0) {
        snprintf(why, wl, "element %lld: '%s', expected '%s'", (long long)i, x, y);
        return 0;
      }
    } else if (dtype_is_float(want->dtype)) {
      double x = tensor_get_f64(got, i), y = tensor_get_f64(want, i);
      if (isnan(x) && isnan(y)) continue;
      if (isinf(y) && x == y) continue;
      if (!(fabs(x - y) <= ATOL + RTOL * fabs(y))) {
        snprintf(why, wl, "element %lld: %.9g, expected %.9g", (long long)i, x, y);
        return 0;
      }
    } else if (tensor_get_i64(got, i) != tensor_get_i64(want, i)) {
      snprintf(why, wl, "element %lld: %lld, expected %lld", (long long)i,
               (long long)tensor_get_i64(got, i), (long long)tensor_get_i64(want, i));
      return 0;
    }
  }
  return 1;
}

/* Runs one test directory; returns R_*. why gets the reason. */
static int run_test(const char *dir, char *why, size_t wl) {
  char path[4096];
  ladle_model *m = NULL;
  ladle_session *s = NULL;
  int result = R_PASS, sets = 0;
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  char err[512];
  if (ladle_model_load(path, NULL, &m, err, sizeof err) != LADLE_OK) {
    const char *p = strstr(err, ": ");
    snprintf(why, wl, "%s", p ? p + 2 : err);
    return R_ERROR;
  }
  s = ladle_session_new(m, 1);
  for (int set = 0;; set++) {
    ladle_tensor *in[MAX_IO] = {0}, *want[MAX_IO] = {0};
    const char *names[MAX_IO];
    ladle_tensor inputs[MAX_IO];
    int nin = 0, nout = 0, r;
    snprintf(path, sizeof path, "%s/test_data_set_%d", dir, set);
    struct stat sb;
    if (stat(path, &sb) != 0) break;
    sets++;
    for (int k = 0; k < MAX_IO; k++, nin++) {
      snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, k);
      if ((r = load_pb(path, &in[k], why, wl)) <= 0) {
        if (r < 0) result = R_SKIP; /* sequence / optional data */
        break;
      }
    }
    for (int k = 0; k < MAX_IO; k++, nout++) {
      snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, set, k);
      if ((r = load_pb(path, &want[k], why, wl)) <= 0) {
        if (r < 0) result = R_SKIP;
        break;
      }
    }
    if (result == R_PASS) {
      int n = nin < ladle_model_n_inputs(m) ? nin : ladle_model_n_inputs(m);
      for (int k = 0; k < n; k++) {
        int dt = 0;
        names[k] = ladle_model_input_name(m, k);
        inputs[k] = *in[k];
        /* bfloat16 inputs arrive as uint16 bit patterns (see compare) */
        ladle_model_input_info(m, k, &dt, NULL, NULL);
        if (dt == LADLE_BFLOAT16 && inputs[k].dtype == LADLE_UINT16) inputs[k].dtype = LADLE_BFLOAT16;
      }
      if (ladle_session_run(s, n, names, inputs) != LADLE_OK) {
        snprintf(why, wl, "%s", ladle_session_errmsg(s));
        result = R_ERROR;
      } else if (nout != ladle_session_n_outputs(s)) {
        snprintf(why, wl, "%d outputs, expected %d", ladle_session_n_outputs(s), nout);
        result = R_FAIL;
      } else {
        for (int k = 0; k < nout && result == R_PASS; k++) {
          char w[400];
          if (!compare(ladle_session_output(s, k), want[k], w, sizeof w)) {
            snprintf(why, wl, "output '%s': %s", ladle_model_output_name(m, k), w);
            result = R_FAIL;
          }
        }
      }
    }
    for (int k = 0; k < MAX_IO; k++) {
      tensor_free(in[k]);
      tensor_free(want[k]);
    }
    if (result != R_PASS) break;
  }
  if (sets == 0 && result == R_PASS) {
    snprintf(why, wl, "no test data");
    result = R_SKIP;
  }
  ladle_session_free(s);
  ladle_model_free(m);
  return result;
}

/* Runs the test in a child so a crash or hang is reported, not fatal. */
static int run_isolated(const char *dir, char *why, size_t wl) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return run_test(dir, why, wl);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    alarm(60);
    char w[600] = "";
    int r = run_test(dir, w, sizeof w);
    if (write(pipefd[1], w, strlen(w)) < 0) _exit(R_CRASH);
    _exit(r);
  }
  close(pipefd[1]);
  size_t off = 0;
  ssize_t k;
  while (off + 1 < wl && (k = read(pipefd[0], why + off, wl - off - 1)) > 0) off += (size_t)k;
  why[off] = '\0';
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) <= R_SKIP) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) snprintf(why, wl, "killed by signal %d", WTERMSIG(status));
  else snprintf(why, wl, "exit status %d", WEXITSTATUS(status));
  return R_CRASH;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The op a test exercises: the last node of the model as written (expanded tests end with the
 * decomposition's final op, so they are labelled as expanded). */
static void test_op(const char *dir, char *op, size_t len) {
  char path[4096], err[256];
  ladle_model *m = NULL;
  ladle_load_options o = {.inspect_only = 1};
  snprintf(op, len, "?");
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  if (ladle_model_load(path, &o, &m, err, sizeof err) == LADLE_OK) {
    if (m->g.n_nodes > 0) snprintf(op, len, "%s", m->g.nodes[m->g.n_nodes - 1].op_type);
    ladle_model_free(m);
  }
  if (strstr(dir, "_expanded")) snprintf(op + strlen(op), len - strlen(op), "(expanded)");
}

typedef struct opcount {
  char op[80];
  int n[5];
} opcount;

int main(int argc, char **argv) {
  const char *data = "/usr/share/libonnx-testdata/data/node", *expected = NULL, *filter = NULL,
             *write_passing = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--expected") && i + 1 < argc) expected = argv[++i];
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "--write-passing") && i + 1 < argc) write_passing = argv[++i];
    else if (!strcmp(argv[i], "-v")) verbose = 1;
    else {
      fprintf(stderr, "usage: %s [--data DIR] [--expected FILE] [--filter SUBSTR] "
                      "[--write-passing FILE] [-v]\n", argv[0]);
      return 2;
    }
  }
  DIR *d = opendir(data);
  if (!d) {
    fprintf(stderr, "conformance: cannot open %s: %s\n", data, strerror(errno));
    return 2;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (strncmp(de->d_name, "test_", 5) != 0) continue;
    if (filter && !strstr(de->d_name, filter)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      names = realloc(names, cap * sizeof *names);
    }
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);

  char **exp = NULL;
  size_t nexp = 0;
  if (expected) {
    FILE *f = fopen(expected, "r");
    char line[512];
    if (!f) {
      fprintf(stderr, "conformance: cannot open %s\n", expected);
      return 2;
    }
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n#")] = '\0';
      char *p = line;
      while (*p == ' ') p++;
      if (!*p) continue;
      exp = realloc(exp, (nexp + 1) * sizeof *exp);
      exp[nexp++] = strdup(p);
    }
    fclose(f);
    qsort(exp, nexp, sizeof *exp, cmp_str);
  }

  int *res = calloc(n + 1, sizeof(int));
  opcount *ops = calloc(n + 1, sizeof *ops);
  size_t nops = 0;
  int total[5] = {0};
  for (size_t i = 0; i < n; i++) {
    char dir[4096], why[600] = "", op[80];
    snprintf(dir, sizeof dir, "%s/%s", data, names[i]);
    res[i] = run_isolated(dir, why, sizeof why);
    total[res[i]]++;
    test_op(dir, op, sizeof op);
    size_t k;
    for (k = 0; k < nops && strcmp(ops[k].op, op); k++) {}
    if (k == nops) snprintf(ops[nops++].op, sizeof ops[0].op, "%s", op);
    ops[k].n[res[i]]++;
    if (verbose || (res[i] != R_PASS && res[i] != R_SKIP && verbose))
      printf("%-5s %s%s%s\n", rname[res[i]], names[i], why[0] ? ": " : "", why);
    else if (res[i] == R_CRASH || res[i] == R_FAIL)
      printf("%-5s %s: %s\n", rname[res[i]], names[i], why);
  }
  printf("\n%-32s %5s %5s %5s %5s %5s\n", "op", "pass", "fail", "error", "skip", "crash");
  for (size_t k = 0; k < nops; k++)
    printf("%-32s %5d %5d %5d %5d %5d\n", ops[k].op, ops[k].n[0], ops[k].n[1], ops[k].n[2],
           ops[k].n[3], ops[k].n[4]);
  printf("\nconformance: %d of %zu node tests pass (%d fail, %d error, %d skipped, %d crashed)\n",
         total[R_PASS], n, total[R_FAIL], total[R_ERROR], total[R_SKIP], total[R_CRASH]);

  int regressions = 0;
  for (size_t e = 0; e < nexp; e++) {
    size_t i;
    for (i = 0; i < n && strcmp(names[i], exp[e]); i++) {}
    if (i == n) {
      if (!filter) {
        printf("REGRESSION %s: listed as passing but not found\n", exp[e]);
        regressions++;
      }
    } else if (res[i] != R_PASS) {
      printf("REGRESSION %s: listed as passing, got %s\n", exp[e], rname[res[i]]);
      regressions++;
    }
  }
  if (expected)
    printf("conformance: %zu expected to pass, %d regressions\n", nexp, regressions);
  if (write_passing) {
    FILE *f = fopen(write_passing, "w");
    if (f) {
      for (size_t i = 0; i < n; i++)
        if (res[i] == R_PASS) fprintf(f, "%s\n", names[i]);
      fclose(f);
    }
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  for (size_t e = 0; e < nexp; e++) free(exp[e]);
  free(names);
  free(exp);
  free(res);
  free(ops);
  return regressions ? 1 : 0;
}

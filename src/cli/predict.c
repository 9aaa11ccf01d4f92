/* predict.c — `ladle predict`: one inference from .npy files to .npy files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/npy.h"
#include "cli/cli.h"

#define MAX_INPUTS 64

static const char *help =
    "usage: ladle predict --model M.onnx --input NAME=FILE.npy [--input ...] --output-dir DIR\n"
    "                     [--threads T]\n\n"
    "Runs the model once and writes DIR/<output name>.npy for every output (characters other\n"
    "than letters, digits, '.', '_' and '-' in a name become '_'). With a single-input model\n"
    "`--input FILE.npy` needs no name. Arrays must be C-ordered, little-endian .npy files.\n";

/* mkdir -p */
static int make_dirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
  return 0;
}

static void safe_name(const char *in, char *out, size_t len) {
  size_t i = 0;
  for (; in[i] && i + 1 < len; i++) {
    char ch = in[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-';
    out[i] = ok ? ch : '_';
  }
  out[i] = '\0';
  if (!strcmp(out, ".") || !strcmp(out, "..") || !out[0]) snprintf(out, len, "output");
}

int cmd_predict(int argc, char **argv) {
  const char *model_path = NULL, *out_dir = NULL;
  const char *specs[MAX_INPUTS];
  int n_specs = 0, rc = 1;
  long threads = 1;
  ladle_model *m = NULL;
  ladle_session *s = NULL;
  ladle_tensor inputs[MAX_INPUTS];
  const char *names[MAX_INPUTS];
  char *name_bufs[MAX_INPUTS] = {0};
  int n_loaded = 0;
  memset(inputs, 0, sizeof inputs);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(help, stdout);
      return 0;
    } else if (!strcmp(a, "--model") && v) {
      model_path = v;
      i++;
    } else if (!strcmp(a, "--input") && v) {
      if (n_specs == MAX_INPUTS) return cli_fail("predict", "at most %d inputs", MAX_INPUTS);
      specs[n_specs++] = v;
      i++;
    } else if (!strcmp(a, "--output-dir") && v) {
      out_dir = v;
      i++;
    } else if (!strcmp(a, "--threads") && v) {
      if (!cli_int("predict", "--threads", v, 1, 256, &threads)) return 2;
      i++;
    } else {
      fprintf(stderr, "ladle predict: unknown or incomplete option '%s'\n%s", a, help);
      return 2;
    }
  }
  if (!model_path || !out_dir || n_specs == 0) {
    fprintf(stderr, "ladle predict: --model, --input and --output-dir are required\n%s", help);
    return 2;
  }
  if (!(m = cli_load_model("predict", model_path))) goto out;

  for (int k = 0; k < n_specs; k++) {
    const char *eq = strchr(specs[k], '=');
    const char *file = eq ? eq + 1 : specs[k];
    errbuf e = {{0}};
    if (eq) {
      name_bufs[k] = strndup(specs[k], (size_t)(eq - specs[k]));
      names[k] = name_bufs[k];
    } else if (ladle_model_n_inputs(m) == 1 && n_specs == 1) {
      names[k] = ladle_model_input_name(m, 0);
    } else {
      cli_fail("predict", "--input '%s' needs NAME=FILE: the model has %d inputs", specs[k],
               ladle_model_n_inputs(m));
      goto out;
    }
    if (npy_read_file(file, &inputs[k], &e) != LADLE_OK) {
      cli_fail("predict", "input '%s': %s", names[k], e.msg);
      goto out;
    }
    n_loaded++;
  }
  if (!(s = ladle_session_new(m, (int)threads))) {
    cli_fail("predict", "cannot create a session: out of memory");
    goto out;
  }
  if (ladle_session_run(s, n_specs, names, inputs) != LADLE_OK) {
    cli_fail("predict", "%s", ladle_session_errmsg(s));
    goto out;
  }
  if (make_dirs(out_dir) != 0) {
    cli_fail("predict", "cannot create '%s': %s", out_dir, strerror(errno));
    goto out;
  }
  for (int k = 0; k < ladle_session_n_outputs(s); k++) {
    char fname[256], path[4096];
    errbuf e = {{0}};
    safe_name(ladle_model_output_name(m, k), fname, sizeof fname);
    snprintf(path, sizeof path, "%s/%s.npy", out_dir, fname);
    if (npy_write_file(path, ladle_session_output(s, k), &e) != LADLE_OK) {
      cli_fail("predict", "output '%s': %s", ladle_model_output_name(m, k), e.msg);
      goto out;
    }
  }
  rc = 0;
out:
  for (int k = 0; k < n_loaded; k++) npy_tensor_free(&inputs[k]);
  for (int k = 0; k < n_specs; k++) free(name_bufs[k]);
  ladle_session_free(s);
  ladle_model_free(m);
  return rc;
}

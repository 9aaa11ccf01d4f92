/* cli.h — what the subcommands share: the command table, logging setup and small helpers. */
#ifndef LADLE_CLI_H
#define LADLE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "ladle/ladle.h"

/* Each subcommand: argv[0] is the subcommand name. Returns the process exit status. */
int cmd_predict(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_schedule(int argc, char **argv);

/* Prints "ladle CMD: message" to stderr and returns 1 (exit status for failures). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a positive integer option value within [lo, hi]; false with a message otherwise. */
bool cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
/* Parses "d0,d1,..." into dims (at most LADLE_MAX_DIMS); returns ndim or -1. */
int cli_dims(const char *s, int64_t *dims);
/* Loads a model, printing the loader's one-line reason on failure. */
ladle_model *cli_load_model(const char *cmd, const char *path);

#endif

/* status.h — ladle's one status type (the table lives in include/ladle/ladle.h) and the
 * error buffer that carries the detailed message on the object that failed. */
#ifndef LADLE_BASE_STATUS_H
#define LADLE_BASE_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#include "ladle/ladle.h"

#define LADLE_ERRMSG_MAX 512

/* A message buffer embedded in whatever can fail (a session, a request, a loader). */
typedef struct errbuf {
  char msg[LADLE_ERRMSG_MAX];
} errbuf;

/* Formats a message into e and returns st, so failures read `return err_set(e, st, ...)`. */
ladle_status err_set(errbuf *e, ladle_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ladle_status err_vset(errbuf *e, ladle_status st, const char *fmt, va_list ap);
/* Prepends "prefix: " to the message already in e (adds context as an error travels up). */
void err_prefix(errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(errbuf *e);

#endif

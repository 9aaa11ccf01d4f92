#include "base/status.h"

#include <stdio.h>
#include <string.h>

const char *ladle_status_name(ladle_status st) {
  switch (st) {
#define X(name, num, text) \
  case name:               \
    return #name;
    LADLE_STATUS_TABLE(X)
#undef X
  }
  return "LADLE_ERR_UNKNOWN";
}

const char *ladle_status_text(ladle_status st) {
  switch (st) {
#define X(name, num, text) \
  case name:               \
    return text;
    LADLE_STATUS_TABLE(X)
#undef X
  }
  return "unknown status";
}

ladle_status err_vset(errbuf *e, ladle_status st, const char *fmt, va_list ap) {
  if (e) vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  return st;
}

ladle_status err_set(errbuf *e, ladle_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_vset(e, st, fmt, ap);
  va_end(ap);
  return st;
}

void err_prefix(errbuf *e, const char *fmt, ...) {
  char pre[LADLE_ERRMSG_MAX], old[LADLE_ERRMSG_MAX];
  va_list ap;
  if (!e) return;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  memcpy(old, e->msg, sizeof old);
  snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
}

void err_clear(errbuf *e) {
  if (e) e->msg[0] = '\0';
}

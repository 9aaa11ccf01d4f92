#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static log_sink_fn g_sink;
static void *g_ud;
static log_level g_min = LOG_INFO;

void log_set_sink(log_sink_fn fn, void *ud, log_level min_level) {
  g_sink = fn;
  g_ud = ud;
  g_min = min_level;
}

const char *log_level_name(log_level level) {
  static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  return (unsigned)level < 4 ? names[level] : "?";
}

void log_msg(log_level level, const char *component, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  if (!g_sink || level < g_min) return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_sink(level, component, buf, g_ud);
}

static void timestamp(char *out, size_t n) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;

void log_sink_stderr_text(log_level level, const char *component, const char *msg, void *ud) {
  char ts[40];
  (void)ud;
  timestamp(ts, sizeof ts);
  pthread_mutex_lock(&g_write_lock);
  fprintf(stderr, "%s %-5s %s: %s\n", ts, log_level_name(level), component, msg);
  pthread_mutex_unlock(&g_write_lock);
}

/* Writes s as a JSON string body (without quotes). */
static void json_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
}

void log_sink_stderr_json(log_level level, const char *component, const char *msg, void *ud) {
  char ts[40];
  (void)ud;
  timestamp(ts, sizeof ts);
  pthread_mutex_lock(&g_write_lock);
  fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"", ts, log_level_name(level));
  json_escape(stderr, component);
  fputs("\",\"msg\":\"", stderr);
  json_escape(stderr, msg);
  fputs("\"}\n", stderr);
  pthread_mutex_unlock(&g_write_lock);
}

/* log.h — the logging sink. Libraries never print: they call log_msg, and the program installs a
 * sink (the CLI's writes text or JSON lines to stderr). Without a sink, messages are dropped. */
#ifndef LADLE_BASE_LOG_H
#define LADLE_BASE_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

typedef void (*log_sink_fn)(log_level level, const char *component, const char *msg, void *ud);

void log_set_sink(log_sink_fn fn, void *ud, log_level min_level);
void log_msg(log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *log_level_name(log_level level);

/* The stock sinks: ud is unused. Text ("2026-11-21T10:00:00Z INFO runtime: ...") or one JSON
 * object per line. */
void log_sink_stderr_text(log_level level, const char *component, const char *msg, void *ud);
void log_sink_stderr_json(log_level level, const char *component, const char *msg, void *ud);

#endif

/* cron.h — 5-field cron expressions (minute hour day-of-month month day-of-week) in UTC.
 *
 * Fields take '*', numbers, ranges "a-b", lists "a,b", steps "* /n" and "a-b/n", month names
 * (jan..dec) and day names (sun..sat; 0 and 7 are Sunday). As in Vixie cron, when both the day
 * of month and the day of week are restricted, a day matching either runs. Also "@hourly",
 * "@daily", "@weekly", "@monthly", "@yearly". */
#ifndef LADLE_JOBS_CRON_H
#define LADLE_JOBS_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/status.h"

typedef struct cron_expr {
  uint64_t minute;  /* bit i: minute i */
  uint32_t hour;
  uint32_t dom;     /* bits 1..31 */
  uint16_t month;   /* bits 1..12 */
  uint8_t dow;      /* bits 0..6 */
  bool dom_star, dow_star;
} cron_expr;

ladle_status cron_parse(const char *text, cron_expr *out, errbuf *e);
/* The first time strictly after `after` (UTC seconds) that matches; -1 if none within 8 years
 * (e.g. "0 0 30 2 *"). */
time_t cron_next(const cron_expr *c, time_t after);

/* "90s", "15m", "1h", "2d" (or a combination like "1h30m") -> seconds; -1 when malformed. */
int64_t duration_parse(const char *text);

#endif

/* test_cron.c — cron parsing and next-run computation, checked against dates worked out by hand
 * from the calendar (UTC): month ends, leap days, day-of-week/day-of-month OR rule, steps. */
#include <string.h>
#include <time.h>

#include "../check.h"
#include "jobs/cron.h"

static time_t at(int y, int mo, int d, int h, int mi) {
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return timegm(&tm);
}

static time_t next(const char *expr, time_t after) {
  cron_expr c;
  errbuf e;
  if (cron_parse(expr, &c, &e) != LADLE_OK) return -2;
  return cron_next(&c, after);
}

int main(void) {
  /* every minute: the next whole minute, strictly after */
  CHECK(next("*/1 * * * *", at(2026, 11, 21, 10, 0)) == at(2026, 11, 21, 10, 1));
  CHECK(next("* * * * *", at(2026, 11, 21, 10, 0) + 59) == at(2026, 11, 21, 10, 1));
  CHECK(next("*/15 * * * *", at(2026, 11, 21, 10, 50)) == at(2026, 11, 21, 11, 0));
  CHECK(next("5,35 * * * *", at(2026, 11, 21, 10, 5)) == at(2026, 11, 21, 10, 35));
  CHECK(next("0 9-17/4 * * *", at(2026, 11, 21, 14, 0)) == at(2026, 11, 21, 17, 0));
  /* month ends: the 31st skips 30-day months and February */
  CHECK(next("0 0 31 * *", at(2026, 4, 1, 0, 0)) == at(2026, 5, 31, 0, 0));
  CHECK(next("0 0 31 * *", at(2026, 1, 31, 0, 0)) == at(2026, 3, 31, 0, 0));
  CHECK(next("59 23 31 12 *", at(2026, 12, 31, 23, 58)) == at(2026, 12, 31, 23, 59));
  CHECK(next("0 0 1 * *", at(2026, 12, 31, 23, 59)) == at(2027, 1, 1, 0, 0));
  /* leap days: Feb 29 only in leap years (2028), not 2100 */
  CHECK(next("0 12 29 2 *", at(2026, 3, 1, 0, 0)) == at(2028, 2, 29, 12, 0));
  CHECK(next("0 0 29 feb *", at(2096, 3, 1, 0, 0)) == at(2104, 2, 29, 0, 0)); /* 2100 is no leap year */
  CHECK(next("0 0 30 2 *", at(2026, 1, 1, 0, 0)) == -1);
  /* day of week: 2026-11-21 is a Saturday; names and 7 = Sunday */
  CHECK(next("0 8 * * mon", at(2026, 11, 21, 0, 0)) == at(2026, 11, 23, 8, 0));
  CHECK(next("0 8 * * 7", at(2026, 11, 21, 0, 0)) == at(2026, 11, 22, 8, 0));
  CHECK(next("0 8 * * 0", at(2026, 11, 21, 0, 0)) == at(2026, 11, 22, 8, 0));
  CHECK(next("0 0 * * mon-fri", at(2026, 11, 21, 0, 0)) == at(2026, 11, 23, 0, 0));
  /* both restricted: either matches (the 1st, or any Friday) */
  CHECK(next("0 0 1 * fri", at(2026, 11, 21, 0, 0)) == at(2026, 11, 27, 0, 0));
  CHECK(next("0 0 1 * fri", at(2026, 11, 27, 0, 0)) == at(2026, 12, 1, 0, 0));
  CHECK(next("@daily", at(2026, 11, 21, 10, 0)) == at(2026, 11, 22, 0, 0));
  CHECK(next("@yearly", at(2026, 11, 21, 10, 0)) == at(2027, 1, 1, 0, 0));
  /* malformed */
  const char *bad[] = {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                       "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *",
                       "1,,2 * * * *", "* * * foo *"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(next(bad[i], 0) == -2);
  /* durations */
  CHECK(duration_parse("90s") == 90 && duration_parse("15m") == 900);
  CHECK(duration_parse("1h30m") == 5400 && duration_parse("2d") == 172800);
  CHECK(duration_parse("10") == 10 && duration_parse("") == -1 && duration_parse("5x") == -1);
  CHECK(duration_parse("-1s") == -1);
  return check_done("test_cron");
}

/* cron.c — parsing cron expressions and finding the next matching minute. */
#include "jobs/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                               "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A number or a name; advances *p. */
static bool field_value(const char **p, int lo, int hi, const char **names, int name_base, int *out) {
  if (isdigit((unsigned char)**p)) {
    char *end;
    long v = strtol(*p, &end, 10);
    if (end - *p > 4) return false;
    *p = end;
    *out = (int)v;
    return v >= lo && v <= hi;
  }
  if (names) {
    int n = name_base == 1 ? 12 : 7;
    for (int i = 0; i < n; i++)
      if (!strncasecmp(*p, names[i], 3)) {
        *p += 3;
        *out = i + name_base;
        return true;
      }
  }
  return false;
}

/* Parses one field into a bit mask over [lo, hi]. */
static bool parse_field(const char *text, int lo, int hi, const char **names, int name_base,
                        uint64_t *mask, bool *star) {
  const char *p = text;
  *mask = 0;
  *star = false;
  for (;;) {
    int a, b, step = 1;
    if (*p == '*') {
      a = lo;
      b = hi;
      p++;
      if (*p != '/') *star = true;
    } else {
      if (!field_value(&p, lo, hi, names, name_base, &a)) return false;
      b = a;
      if (*p == '-') {
        p++;
        if (!field_value(&p, lo, hi, names, name_base, &b)) return false;
      }
    }
    if (*p == '/') {
      p++;
      char *end;
      long s = strtol(p, &end, 10);
      if (end == p || s < 1 || s > hi) return false;
      step = (int)s;
      p = end;
      if (a == b && text[0] != '*') b = hi; /* "5/15" means 5-hi/15 */
    }
    if (a > b) return false;
    for (int v = a; v <= b; v += step) *mask |= UINT64_C(1) << v;
    if (*p == ',') {
      p++;
      *star = false;
      continue;
    }
    return *p == '\0';
  }
}

ladle_status cron_parse(const char *text, cron_expr *out, errbuf *e) {
  static const struct { const char *name, *expr; } macros[] = {
      {"@hourly", "0 * * * *"}, {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"}, {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"}};
  char buf[256], *fields[6];
  int n = 0;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
    if (!strcmp(text, macros[i].name)) text = macros[i].expr;
  if (strlen(text) >= sizeof buf) return err_set(e, LADLE_ERR_PARSE, "cron expression too long");
  snprintf(buf, sizeof buf, "%s", text);
  for (char *tok = strtok(buf, " \t"); tok; tok = strtok(NULL, " \t")) {
    if (n == 6) break;
    fields[n++] = tok;
  }
  if (n != 5)
    return err_set(e, LADLE_ERR_PARSE, "cron expression '%s' needs 5 fields (minute hour day month weekday)", text);
  uint64_t m;
  bool star;
  if (!parse_field(fields[0], 0, 59, NULL, 0, &m, &star))
    return err_set(e, LADLE_ERR_PARSE, "cron minute field '%s' is invalid", fields[0]);
  out->minute = m;
  if (!parse_field(fields[1], 0, 23, NULL, 0, &m, &star))
    return err_set(e, LADLE_ERR_PARSE, "cron hour field '%s' is invalid", fields[1]);
  out->hour = (uint32_t)m;
  if (!parse_field(fields[2], 1, 31, NULL, 0, &m, &out->dom_star))
    return err_set(e, LADLE_ERR_PARSE, "cron day-of-month field '%s' is invalid", fields[2]);
  out->dom = (uint32_t)m;
  if (!parse_field(fields[3], 1, 12, months, 1, &m, &star))
    return err_set(e, LADLE_ERR_PARSE, "cron month field '%s' is invalid", fields[3]);
  out->month = (uint16_t)m;
  if (!parse_field(fields[4], 0, 7, days, 0, &m, &out->dow_star))
    return err_set(e, LADLE_ERR_PARSE, "cron day-of-week field '%s' is invalid", fields[4]);
  if (m & (1u << 7)) m |= 1; /* 7 is Sunday too */
  out->dow = (uint8_t)(m & 0x7f);
  return LADLE_OK;
}

static bool day_matches(const cron_expr *c, const struct tm *t) {
  bool dom = (c->dom >> t->tm_mday) & 1, dow = (c->dow >> t->tm_wday) & 1;
  if (c->dom_star || c->dow_star) return dom && dow;
  return dom || dow;
}

time_t cron_next(const cron_expr *c, time_t after) {
  time_t t = after - after % 60 + 60; /* the next whole minute */
  time_t limit = after + (time_t)8 * 366 * 86400;
  struct tm tm;
  while (t <= limit) {
    gmtime_r(&t, &tm);
    if (!((c->month >> (tm.tm_mon + 1)) & 1)) { /* to the first of next month */
      tm.tm_mon++;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!day_matches(c, &tm)) {
      tm.tm_mday++;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!((c->hour >> tm.tm_hour) & 1)) {
      tm.tm_hour++;
      tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!((c->minute >> tm.tm_min) & 1)) {
      t += 60;
      continue;
    }
    return t;
  }
  return -1;
}

int64_t duration_parse(const char *text) {
  int64_t total = 0;
  const char *p = text;
  if (!*p) return -1;
  while (*p) {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0) return -1;
    int64_t unit;
    switch (*end) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case '\0': unit = 1; end--; break;
      default: return -1;
    }
    if (v > INT64_MAX / unit / 2) return -1;
    total += v * unit;
    p = end + 1;
  }
  return total;
}

/* test_format.c — predictions written as text read back as the same numbers: every float32
 * formatted by jobs_format_value parses (strtof) to the identical bits, over random bit patterns
 * and the edges, and the text matches printf("%.9g") where both are shortest. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "jobs/jobs.h"

static int roundtrips(float f) {
  char buf[64];
  ladle_tensor t = {LADLE_FLOAT, 1, {1}, &f};
  jobs_format_value(&t, 0, 1, buf, sizeof buf);
  float back = strtof(buf, NULL);
  return memcmp(&back, &f, 4) == 0 || (f == 0 && back == 0);
}

static const char *fmt(float f) {
  static char buf[64];
  ladle_tensor t = {LADLE_FLOAT, 1, {1}, &f};
  jobs_format_value(&t, 0, 1, buf, sizeof buf);
  return buf;
}

int main(void) {
  uint64_t s = 88172645463325252ull;
  int bad = 0;
  for (int i = 0; i < 2000000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    uint32_t bits = (uint32_t)s;
    float f;
    memcpy(&f, &bits, 4);
    if (!isfinite(f)) continue;
    if (!roundtrips(f)) bad++;
  }
  CHECK(bad == 0);
  float edges[] = {1.0f, -1.0f, 0.1f, 1e-5f, 1e-4f, 123456789.0f, 1e9f, 3.4028235e38f,
                   1.17549435e-38f, 1.4e-45f, 0.999999940f, 9.99999e8f, 100.0f, 0.5f};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    CHECK(roundtrips(edges[i]) && roundtrips(-edges[i]));
    char ref[64];
    snprintf(ref, sizeof ref, "%.9g", (double)edges[i]);
    CHECK(strtof(ref, NULL) == strtof(fmt(edges[i]), NULL));
  }
  CHECK(!strcmp(fmt(0.5f), "0.5") && !strcmp(fmt(100.0f), "100") && !strcmp(fmt(-2.0f), "-2"));
  CHECK(!strcmp(fmt(1e10f), "1e+10") && !strcmp(fmt(1.5e10f), "1.50000005e+10") && !strcmp(fmt(0.0f), "0"));
  CHECK(!strcmp(fmt(1e-5f), "9.99999975e-06"));
  CHECK(!strcmp(fmt(NAN), "null"));
  /* vectors are JSON arrays */
  float v[4] = {1, 2.5f, -3, 0};
  ladle_tensor t = {LADLE_FLOAT, 2, {2, 2}, v};
  char buf[64];
  jobs_format_value(&t, 1, 2, buf, sizeof buf);
  CHECK(!strcmp(buf, "[-3,0]"));
  /* like snprintf: cut to fit, the whole length returned */
  char small[4];
  CHECK(jobs_format_value(&t, 1, 2, small, sizeof small) == 6 && !strcmp(small, "[-3"));
  /* strings: JSON strings inside arrays (escaped), the bare text in a table cell */
  char *strs[3] = {"plain", "quo\"te\\", "tab\tnl\n"};
  ladle_tensor ts = {LADLE_STRING, 1, {3}, strs};
  CHECK(jobs_format_value(&ts, 0, 3, buf, sizeof buf) > 0 &&
        !strcmp(buf, "[\"plain\",\"quo\\\"te\\\\\",\"tab\\u0009nl\\u000a\"]"));
  CHECK(jobs_format_text(&ts, 1, 1, buf, sizeof buf) == 7 && !strcmp(buf, "quo\"te\\"));
  CHECK(jobs_format_value(&ts, 1, 1, buf, sizeof buf) == 11 && !strcmp(buf, "\"quo\\\"te\\\\\""));
  /* jobs_text spills what does not fit */
  char *spill = NULL;
  size_t cap = 0, n;
  const char *txt = jobs_text(&ts, 0, 3, true, small, sizeof small, &spill, &cap, &n);
  CHECK(txt == spill && n == strlen(txt) && txt[0] == '[' && txt[n - 1] == ']');
  free(spill);
  return check_done("test_format");
}

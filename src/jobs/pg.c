/* pg.c — PostgreSQL source and sink (libpq). */
#include "jobs/jobs.h"

ladle_status pg_source_open(const source_opts *o, source **out, errbuf *e) {
  (void)o;
  *out = NULL;
  return err_set(e, LADLE_ERR_UNSUPPORTED, "PostgreSQL sources are not built yet");
}

ladle_status pg_sink_open(const sink_opts *o, sink **out, errbuf *e) {
  (void)o;
  *out = NULL;
  return err_set(e, LADLE_ERR_UNSUPPORTED, "PostgreSQL sinks are not built yet");
}

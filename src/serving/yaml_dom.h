/* yaml_dom.h — reads a YAML file (libyaml) into the same tree as the JSON reader, so config files
 * and JSON config overrides go through one set of readers. Plain scalars become numbers, booleans
 * (true/false) or null where they read as such; quoted scalars stay strings. Anchors and aliases
 * are refused (a config needs neither, and they are how YAML bombs work). */
#ifndef LADLE_SERVING_YAML_DOM_H
#define LADLE_SERVING_YAML_DOM_H

#include "serving/json.h"

/* An empty document gives an empty object. */
ladle_status yaml_parse(const char *text, size_t len, arena *a, int max_depth, json **out,
                        errbuf *e);
/* Reads a whole file (at most max_bytes) and parses it. */
ladle_status yaml_parse_file(const char *path, size_t max_bytes, arena *a, json **out, errbuf *e);

#endif

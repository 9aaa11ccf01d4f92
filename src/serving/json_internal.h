/* json_internal.h — private to the JSON reader and writer (json.c, json_num.c, json_write.c):
 * the longest number text accepted, the string decoder of the parser (json.c) that the raw-span
 * walk also uses, and the powers of ten (json_num.c) that the writer also uses. */
#ifndef LADLE_SERVING_JSON_INTERNAL_H
#define LADLE_SERVING_JSON_INTERNAL_H

#include <stddef.h>

#define MAX_NUMBER_TEXT 512

/* Decodes the escapes of a string body src[0, n) into out, or only validates them when out is
 * NULL; the decoded length or -1 (json.c describes it). */
long json_decode_string(const char *src, size_t n, char *out, size_t *bad);

/* 1e0 .. 1e22, the powers of ten a double holds exactly. */
extern const double json_pow10_tab[23];

#endif

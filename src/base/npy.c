#include "base/npy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "\x93NUMPY"

typedef struct descr {
  const char *code; /* without the byte-order character */
  int dtype;
} descr;

static const descr descrs[] = {
    {"b1", LADLE_BOOL},   {"u1", LADLE_UINT8},   {"i1", LADLE_INT8},   {"u2", LADLE_UINT16},
    {"i2", LADLE_INT16},  {"u4", LADLE_UINT32},  {"i4", LADLE_INT32},  {"u8", LADLE_UINT64},
    {"i8", LADLE_INT64},  {"f2", LADLE_FLOAT16}, {"f4", LADLE_FLOAT},  {"f8", LADLE_DOUBLE},
};

void npy_tensor_free(ladle_tensor *t) {
  if (!t) return;
  if (t->dtype == LADLE_STRING && t->data) {
    int64_t n = ladle_tensor_numel(t);
    char **s = t->data;
    for (int64_t i = 0; n > 0 && i < n; i++) free(s[i]);
  }
  free(t->data);
  t->data = NULL;
}

/* Finds the value text after 'key': in the header dict. */
static const char *dict_value(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

/* Encodes code point cp as UTF-8 into out (at least 4 bytes); returns bytes written. */
static int utf8_put(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  if (cp > 0x10ffff) cp = 0xfffd;
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

ladle_status npy_read_buffer(const void *buf, size_t len, ladle_tensor *out, errbuf *e) {
  const unsigned char *b = buf;
  char header[4096];
  size_t hlen, off;
  memset(out, 0, sizeof *out);
  if (len < 10 || memcmp(b, MAGIC, 6) != 0)
    return err_set(e, LADLE_ERR_PARSE, "not a .npy file (bad magic)");
  int major = b[6];
  if (major == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    off = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return err_set(e, LADLE_ERR_PARSE, ".npy header truncated");
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    off = 12;
  } else {
    return err_set(e, LADLE_ERR_UNSUPPORTED, ".npy format version %d is not supported", major);
  }
  if (hlen >= sizeof header || off + hlen > len)
    return err_set(e, LADLE_ERR_PARSE, ".npy header length %zu is invalid", hlen);
  memcpy(header, b + off, hlen);
  header[hlen] = '\0';
  off += hlen;

  const char *fo = dict_value(header, "fortran_order");
  if (!fo) return err_set(e, LADLE_ERR_PARSE, ".npy header has no fortran_order");
  if (strncmp(fo, "True", 4) == 0)
    return err_set(e, LADLE_ERR_UNSUPPORTED,
                   ".npy array is in Fortran order; save it in C order (np.ascontiguousarray)");
  const char *d = dict_value(header, "descr");
  if (!d || *d != '\'') return err_set(e, LADLE_ERR_PARSE, ".npy header has no descr");
  char code[32];
  size_t ci = 0;
  for (d++; *d && *d != '\'' && ci + 1 < sizeof code; d++) code[ci++] = *d;
  code[ci] = '\0';
  if (ci < 2) return err_set(e, LADLE_ERR_PARSE, ".npy descr '%s' is invalid", code);
  char order = code[0];
  const char *kind = code + 1;
  int dtype = 0;
  size_t str_width = 0; /* bytes per element for S, code points for U */
  bool unicode = false;
  if (kind[0] == 'S' || kind[0] == 'U') {
    char *end;
    long w = strtol(kind + 1, &end, 10);
    if (*end || w < 0 || w > (1 << 20))
      return err_set(e, LADLE_ERR_PARSE, ".npy descr '%s' is invalid", code);
    if (kind[0] == 'U' && order == '>')
      return err_set(e, LADLE_ERR_UNSUPPORTED, ".npy big-endian strings are not supported");
    dtype = LADLE_STRING;
    str_width = (size_t)w;
    unicode = kind[0] == 'U';
  } else {
    if (order == '>')
      return err_set(e, LADLE_ERR_UNSUPPORTED,
                     ".npy array is big-endian ('%s'); save it little-endian", code);
    if (order != '<' && order != '|' && order != '=')
      return err_set(e, LADLE_ERR_PARSE, ".npy descr '%s' is invalid", code);
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
      if (strcmp(kind, descrs[i].code) == 0) dtype = descrs[i].dtype;
    if (!dtype) return err_set(e, LADLE_ERR_UNSUPPORTED, ".npy dtype '%s' is not supported", code);
  }

  const char *s = dict_value(header, "shape");
  if (!s || *s != '(') return err_set(e, LADLE_ERR_PARSE, ".npy header has no shape");
  s++;
  out->ndim = 0;
  for (;;) {
    while (*s == ' ' || *s == ',') s++;
    if (*s == ')') break;
    if (*s < '0' || *s > '9') return err_set(e, LADLE_ERR_PARSE, ".npy shape is invalid");
    if (out->ndim == LADLE_MAX_DIMS)
      return err_set(e, LADLE_ERR_UNSUPPORTED, ".npy rank exceeds %d", LADLE_MAX_DIMS);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0) return err_set(e, LADLE_ERR_PARSE, ".npy shape is invalid");
    out->dims[out->ndim++] = v;
    s = end;
    while (*s == 'L') s++;
  }
  int64_t n = ladle_tensor_numel(out);
  size_t esz = dtype == LADLE_STRING ? (unicode ? 4 * str_width : str_width) : ladle_dtype_size(dtype);
  if (n < 0 || (esz && (uint64_t)n > NPY_MAX_BYTES / esz))
    return err_set(e, LADLE_ERR_LIMIT, ".npy array is too large");
  size_t nbytes = (size_t)n * esz;
  if (len - off < nbytes)
    return err_set(e, LADLE_ERR_PARSE, ".npy data truncated: %zu bytes, shape needs %zu",
                   len - off, nbytes);
  out->dtype = dtype;
  if (dtype != LADLE_STRING) {
    out->data = malloc(nbytes ? nbytes : 1);
    if (!out->data) return LADLE_ERR_NOMEM;
    if (nbytes) memcpy(out->data, b + off, nbytes);
    if (dtype == LADLE_BOOL)
      for (size_t i = 0; i < nbytes; i++) ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
    return LADLE_OK;
  }
  char **strs = calloc((size_t)n + 1, sizeof *strs);
  if (!strs) return LADLE_ERR_NOMEM;
  out->data = strs;
  for (int64_t i = 0; i < n; i++) {
    const unsigned char *p = b + off + (size_t)i * esz;
    char *str = malloc(unicode ? str_width * 4 + 1 : str_width + 1);
    if (!str) {
      npy_tensor_free(out);
      return LADLE_ERR_NOMEM;
    }
    size_t w = 0;
    if (unicode) {
      for (size_t k = 0; k < str_width; k++) {
        uint32_t cp = (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 |
                      (uint32_t)p[4 * k + 2] << 16 | (uint32_t)p[4 * k + 3] << 24;
        if (cp == 0) break;
        w += (size_t)utf8_put(cp, str + w);
      }
    } else {
      while (w < str_width && p[w]) {
        str[w] = (char)p[w];
        w++;
      }
    }
    str[w] = '\0';
    strs[i] = str;
  }
  return LADLE_OK;
}

ladle_status npy_read_file(const char *path, ladle_tensor *out, errbuf *e) {
  FILE *f = fopen(path, "rb");
  ladle_status st;
  if (!f) return err_set(e, LADLE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return err_set(e, LADLE_ERR_IO, "cannot read '%s'", path);
  }
  long len = ftell(f);
  rewind(f);
  if (len < 0 || (uint64_t)len > NPY_MAX_BYTES + 65536) {
    fclose(f);
    return err_set(e, LADLE_ERR_LIMIT, "'%s' is too large", path);
  }
  char *buf = malloc((size_t)len + 1);
  if (!buf) {
    fclose(f);
    return LADLE_ERR_NOMEM;
  }
  size_t got = fread(buf, 1, (size_t)len, f);
  fclose(f);
  if (got != (size_t)len) {
    free(buf);
    return err_set(e, LADLE_ERR_IO, "cannot read '%s'", path);
  }
  st = npy_read_buffer(buf, (size_t)len, out, e);
  free(buf);
  if (st) err_prefix(e, "%s", path);
  return st;
}

static const char *npy_code(int dtype) {
  for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
    if (descrs[i].dtype == dtype) return descrs[i].code;
  return NULL;
}

/* Decodes one UTF-8 code point from s, advancing it; invalid bytes become U+FFFD. */
static uint32_t utf8_next(const unsigned char **s) {
  const unsigned char *p = *s;
  uint32_t cp;
  int extra;
  if (p[0] < 0x80) { cp = p[0]; extra = 0; }
  else if ((p[0] & 0xe0) == 0xc0) { cp = p[0] & 0x1f; extra = 1; }
  else if ((p[0] & 0xf0) == 0xe0) { cp = p[0] & 0x0f; extra = 2; }
  else if ((p[0] & 0xf8) == 0xf0) { cp = p[0] & 0x07; extra = 3; }
  else { *s = p + 1; return 0xfffd; }
  for (int k = 1; k <= extra; k++) {
    if ((p[k] & 0xc0) != 0x80) { *s = p + k; return 0xfffd; }
    cp = cp << 6 | (p[k] & 0x3f);
  }
  *s = p + extra + 1;
  return cp;
}

ladle_status npy_write_buffer(const ladle_tensor *t, void **out, size_t *out_len, errbuf *e) {
  char dict[512], code[32];
  int64_t n = ladle_tensor_numel(t);
  size_t esz, width = 0;
  if (n < 0) return err_set(e, LADLE_ERR_SHAPE, "cannot write a tensor with a negative dim");
  if (t->dtype == LADLE_STRING) {
    char *const *s = t->data;
    for (int64_t i = 0; i < n; i++) {
      size_t cps = 0;
      const unsigned char *p = (const unsigned char *)(s[i] ? s[i] : "");
      while (*p) {
        utf8_next(&p);
        cps++;
      }
      if (cps > width) width = cps;
    }
    if (width == 0) width = 1;
    snprintf(code, sizeof code, "<U%zu", width);
    esz = 4 * width;
  } else {
    const char *c = npy_code(t->dtype);
    if (!c) return err_set(e, LADLE_ERR_UNSUPPORTED, "no .npy type for %s", ladle_dtype_name(t->dtype));
    snprintf(code, sizeof code, "%c%s", ladle_dtype_size(t->dtype) == 1 ? '|' : '<', c);
    esz = ladle_dtype_size(t->dtype);
  }
  size_t off = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", code);
  for (int i = 0; i < t->ndim; i++)
    off += (size_t)snprintf(dict + off, sizeof dict - off, "%lld,%s", (long long)t->dims[i],
                            (t->ndim > 1 && i < t->ndim - 1) ? " " : "");
  if (t->ndim > 1) off--; /* "(2, 3,)" -> "(2, 3)" */
  off += (size_t)snprintf(dict + off, sizeof dict - off, "), }");
  size_t total_header = 10 + off + 1;
  size_t pad = (64 - total_header % 64) % 64;
  size_t hlen = off + pad + 1;
  size_t data_len = (size_t)n * esz;
  unsigned char *b = malloc(10 + hlen + data_len + 1);
  if (!b) return LADLE_ERR_NOMEM;
  memcpy(b, MAGIC, 6);
  b[6] = 1;
  b[7] = 0;
  b[8] = (unsigned char)(hlen & 0xff);
  b[9] = (unsigned char)(hlen >> 8);
  memcpy(b + 10, dict, off);
  memset(b + 10 + off, ' ', pad);
  b[10 + off + pad] = '\n';
  unsigned char *d = b + 10 + hlen;
  if (t->dtype == LADLE_STRING) {
    memset(d, 0, data_len);
    char *const *s = t->data;
    for (int64_t i = 0; i < n; i++) {
      const unsigned char *p = (const unsigned char *)(s[i] ? s[i] : "");
      unsigned char *q = d + (size_t)i * esz;
      for (size_t k = 0; *p && k < width; k++) {
        uint32_t cp = utf8_next(&p);
        q[4 * k] = (unsigned char)cp;
        q[4 * k + 1] = (unsigned char)(cp >> 8);
        q[4 * k + 2] = (unsigned char)(cp >> 16);
        q[4 * k + 3] = (unsigned char)(cp >> 24);
      }
    }
  } else if (data_len) {
    memcpy(d, t->data, data_len);
  }
  *out = b;
  *out_len = 10 + hlen + data_len;
  return LADLE_OK;
}

ladle_status npy_write_file(const char *path, const ladle_tensor *t, errbuf *e) {
  void *buf = NULL;
  size_t len = 0;
  ladle_status st = npy_write_buffer(t, &buf, &len, e);
  if (st) return st;
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(buf);
    return err_set(e, LADLE_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
  }
  size_t w = fwrite(buf, 1, len, f);
  int rc = fclose(f);
  free(buf);
  if (w != len || rc != 0) return err_set(e, LADLE_ERR_IO, "cannot write '%s'", path);
  return LADLE_OK;
}

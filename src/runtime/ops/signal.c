/* signal.c — signal processing ops of opset 17: HannWindow, HammingWindow, BlackmanWindow,
 * MelWeightMatrix, DFT, STFT.
 *
 * Windows and the mel matrix are computed in double and stored in output_datatype. DFT and STFT
 * run a radix-2 FFT when the transform length is a power of two and a direct O(n²) sum
 * otherwise, both in double, with twiddles from sincos of the exact angle. */
#include <math.h>
#include <string.h>

#include "runtime/op.h"

static ladle_status need(op_ctx *c, int i, const char *what, const ladle_tensor **t) {
  *t = op_in(c, i);
  if (!*t) return op_fail(c, LADLE_ERR_INVALID, "input %d (%s) is required", i, what);
  return LADLE_OK;
}

/* A scalar (or 1-element) integer input. */
static ladle_status scalar_int(op_ctx *c, const ladle_tensor *t, const char *what, int64_t *v) {
  if (!dtype_is_integer(t->dtype) || ladle_tensor_numel(t) != 1)
    return op_fail(c, LADLE_ERR_INVALID, "%s must be one integer", what);
  *v = tensor_get_i64(t, 0);
  return LADLE_OK;
}

static ladle_status scalar_float(op_ctx *c, const ladle_tensor *t, const char *what, double *v) {
  if ((!dtype_is_float(t->dtype) && !dtype_is_integer(t->dtype)) || ladle_tensor_numel(t) != 1)
    return op_fail(c, LADLE_ERR_INVALID, "%s must be one number", what);
  *v = tensor_get_f64(t, 0);
  return LADLE_OK;
}

static ladle_status out_dtype(op_ctx *c, int *dt) {
  *dt = (int)node_attr_int(op_node(c), "output_datatype", LADLE_FLOAT);
  if (!dtype_valid(*dt) || *dt == LADLE_STRING || *dt == LADLE_BOOL || *dt == LADLE_UNDEFINED)
    return op_fail(c, LADLE_ERR_DTYPE, "output_datatype %d is not a numeric type", *dt);
  return LADLE_OK;
}

/* --- windows --------------------------------------------------------------------------------- */

/* w[n] = a0 - a1 cos(2πn/N) + a2 cos(4πn/N), N = size (periodic) or size - 1 (symmetric). */
static ladle_status run_window(op_ctx *c, double a0, double a1, double a2) {
  const ladle_tensor *sz;
  ladle_status st;
  int64_t n;
  int dt;
  if ((st = need(c, 0, "size", &sz)) || (st = scalar_int(c, sz, "size", &n)) || (st = out_dtype(c, &dt))) return st;
  if (n < 0) return op_fail(c, LADLE_ERR_INVALID, "size %lld is negative", (long long)n);
  bool periodic = node_attr_int(op_node(c), "periodic", 1) != 0;
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, 1, &n, &y))) return st;
  double N = periodic ? (double)n : (double)(n - 1);
  for (int64_t i = 0; i < n; i++) {
    double t = N > 0 ? 2.0 * M_PI * (double)i / N : 0.0;
    tensor_set_f64(y, i, a0 - a1 * cos(t) + a2 * cos(2.0 * t));
  }
  return LADLE_OK;
}

static ladle_status run_hann(op_ctx *c) { return run_window(c, 0.5, 0.5, 0.0); }
static ladle_status run_hamming(op_ctx *c) { return run_window(c, 25.0 / 46.0, 21.0 / 46.0, 0.0); }
static ladle_status run_blackman(op_ctx *c) { return run_window(c, 0.42, 0.5, 0.08); }

/* --- MelWeightMatrix ------------------------------------------------------------------------- */

/* Triangular filters between num_mel_bins + 2 points spaced evenly on the mel scale
 * (2595 log10(1 + f/700)) and mapped to DFT bins floor((dft_length + 1) f / sample_rate), as the
 * spec's reference computes them. Output [dft_length / 2 + 1, num_mel_bins]. */
static ladle_status run_mel(op_ctx *c) {
  const ladle_tensor *tb, *tl, *tr, *tlo, *thi;
  ladle_status st;
  int64_t bins = 0, dftl = 0, rate = 0;
  double lo = 0, hi = 0;
  int dt;
  if ((st = need(c, 0, "num_mel_bins", &tb)) || (st = need(c, 1, "dft_length", &tl)) ||
      (st = need(c, 2, "sample_rate", &tr)) || (st = need(c, 3, "lower_edge_hertz", &tlo)) ||
      (st = need(c, 4, "upper_edge_hertz", &thi)) || (st = scalar_int(c, tb, "num_mel_bins", &bins)) ||
      (st = scalar_int(c, tl, "dft_length", &dftl)) || (st = scalar_int(c, tr, "sample_rate", &rate)) ||
      (st = scalar_float(c, tlo, "lower_edge_hertz", &lo)) || (st = scalar_float(c, thi, "upper_edge_hertz", &hi)) ||
      (st = out_dtype(c, &dt)))
    return st;
  if (bins < 1 || dftl < 1 || rate < 1 || !(lo >= 0) || !(hi >= lo) || bins > (1 << 20))
    return op_fail(c, LADLE_ERR_INVALID, "need num_mel_bins, dft_length, sample_rate > 0 and 0 <= lower <= upper edge");
  int64_t nspec = dftl / 2 + 1;
  int64_t dims[2] = {nspec, bins};
  ladle_tensor *y;
  if ((st = op_out(c, 0, dt, 2, dims, &y))) return st;
  int64_t *fb = op_scratch(c, 0, sizeof(int64_t) * (size_t)(bins + 2));
  if (!fb) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for MelWeightMatrix");
  double lm = 2595.0 * log10(1.0 + lo / 700.0), hm = 2595.0 * log10(1.0 + hi / 700.0);
  double step = (hm - lm) / (double)(bins + 2);
  for (int64_t i = 0; i < bins + 2; i++) {
    double f = 700.0 * (pow(10.0, ((double)i * step + lm) / 2595.0) - 1.0);
    fb[i] = (int64_t)floor((double)(dftl + 1) * f / (double)rate);
    if (fb[i] < 0 || fb[i] >= nspec) fb[i] = fb[i] < 0 ? 0 : nspec - 1; /* edges above Nyquist */
  }
  int64_t total = nspec * bins;
  for (int64_t i = 0; i < total; i++) tensor_set_f64(y, i, 0.0);
  for (int64_t m = 0; m < bins; m++) {
    int64_t l = fb[m], ce = fb[m + 1], r = fb[m + 2];
    if (ce == l) {
      tensor_set_f64(y, ce * bins + m, 1.0);
    } else {
      for (int64_t j = l; j <= ce; j++) tensor_set_f64(y, j * bins + m, (double)(j - l) / (double)(ce - l));
    }
    if (r > ce)
      for (int64_t j = ce; j < r; j++) tensor_set_f64(y, j * bins + m, (double)(r - j) / (double)(r - ce));
  }
  return LADLE_OK;
}

/* --- DFT core -------------------------------------------------------------------------------- */

/* In-place transform of n complex values (re, im interleaved) with sign -1 (forward) or +1. */
static void dft_direct(double *v, int64_t n, int sign, double *tmp) {
  for (int64_t k = 0; k < n; k++) {
    double sr = 0, si = 0;
    for (int64_t t = 0; t < n; t++) {
      double a = sign * 2.0 * M_PI * (double)((k * t) % n) / (double)n, s = sin(a), co = cos(a);
      sr += v[2 * t] * co - v[2 * t + 1] * s;
      si += v[2 * t] * s + v[2 * t + 1] * co;
    }
    tmp[2 * k] = sr;
    tmp[2 * k + 1] = si;
  }
  memcpy(v, tmp, sizeof(double) * 2 * (size_t)n);
}

static void fft_pow2(double *v, int64_t n, int sign) {
  for (int64_t i = 1, j = 0; i < n; i++) { /* bit reversal */
    int64_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double tr = v[2 * i], ti = v[2 * i + 1];
      v[2 * i] = v[2 * j];
      v[2 * i + 1] = v[2 * j + 1];
      v[2 * j] = tr;
      v[2 * j + 1] = ti;
    }
  }
  for (int64_t len = 2; len <= n; len <<= 1) {
    for (int64_t i = 0; i < n; i += len) {
      for (int64_t k = 0; k < len / 2; k++) {
        double a = sign * 2.0 * M_PI * (double)k / (double)len, wr = cos(a), wi = sin(a);
        double *p = v + 2 * (i + k), *q = v + 2 * (i + k + len / 2);
        double xr = q[0] * wr - q[1] * wi, xi = q[0] * wi + q[1] * wr;
        q[0] = p[0] - xr;
        q[1] = p[1] - xi;
        p[0] += xr;
        p[1] += xi;
      }
    }
  }
}

/* Direct sums are O(n²): longer transforms must be powers of two. */
#define DFT_DIRECT_MAX 16384

static bool dft_len_ok(int64_t n) { return n <= DFT_DIRECT_MAX || (n & (n - 1)) == 0; }

static void dft_any(double *v, int64_t n, int sign, double *tmp) {
  if (n > 0 && (n & (n - 1)) == 0)
    fft_pow2(v, n, sign);
  else
    dft_direct(v, n, sign, tmp);
}

/* --- DFT ------------------------------------------------------------------------------------- */

static ladle_status run_dft(op_ctx *c) {
  const ladle_tensor *x, *lt = op_in(c, 1);
  ladle_status st;
  if ((st = need(c, 0, "input", &x))) return st;
  if (!dtype_is_float(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "input must be a float type");
  if (x->ndim < 3 || (x->dims[x->ndim - 1] != 1 && x->dims[x->ndim - 1] != 2))
    return op_fail(c, LADLE_ERR_SHAPE, "input must be [batch, signal..., 1 or 2]");
  const node *nd = op_node(c);
  int64_t ax = node_attr_int(nd, "axis", 1);
  bool inverse = node_attr_int(nd, "inverse", 0) != 0, onesided = node_attr_int(nd, "onesided", 0) != 0;
  int r = x->ndim;
  if (ax < 0) ax += r;
  if (ax < 1 || ax > r - 2) return op_fail(c, LADLE_ERR_INVALID, "axis must be a signal axis (1..%d)", r - 2);
  bool cplx = x->dims[r - 1] == 2;
  if (onesided && cplx) return op_fail(c, LADLE_ERR_INVALID, "onesided needs a real input");
  int64_t n_in = x->dims[ax], n = n_in;
  if (lt && ladle_tensor_numel(lt) > 0) {
    if ((st = scalar_int(c, lt, "dft_length", &n))) return st;
    if (n < 1) return op_fail(c, LADLE_ERR_INVALID, "dft_length %lld must be positive", (long long)n);
  }
  if (!dft_len_ok(n))
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "DFT length %lld: above %d it must be a power of two", (long long)n,
                   DFT_DIRECT_MAX);
  int64_t n_out = onesided ? n / 2 + 1 : n;
  int64_t dims[LADLE_MAX_DIMS];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
  dims[ax] = n_out;
  dims[r - 1] = 2;
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, r, dims, &y))) return st;
  int64_t outer = shape_numel((int)ax, x->dims), inner = shape_numel(r - (int)ax - 2, x->dims + ax + 1);
  int64_t comp = x->dims[r - 1];
  double *v = op_scratch(c, 0, sizeof(double) * 4 * (size_t)(n > 0 ? n : 1));
  if (!v) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for DFT");
  double *tmp = v + 2 * n;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t in = 0; in < inner; in++) {
      for (int64_t t = 0; t < n; t++) {
        if (t < n_in) {
          int64_t base = ((o * n_in + t) * inner + in) * comp;
          v[2 * t] = tensor_get_f64(x, base);
          v[2 * t + 1] = cplx ? tensor_get_f64(x, base + 1) : 0.0;
        } else {
          v[2 * t] = v[2 * t + 1] = 0.0;
        }
      }
      dft_any(v, n, inverse ? 1 : -1, tmp);
      double scale = inverse ? 1.0 / (double)n : 1.0;
      for (int64_t k = 0; k < n_out; k++) {
        int64_t base = ((o * n_out + k) * inner + in) * 2;
        tensor_set_f64(y, base, v[2 * k] * scale);
        tensor_set_f64(y, base + 1, v[2 * k + 1] * scale);
      }
    }
  return LADLE_OK;
}

/* --- STFT ------------------------------------------------------------------------------------ */

static ladle_status run_stft(op_ctx *c) {
  const ladle_tensor *x, *fs, *win = op_in(c, 2), *fl = op_in(c, 3);
  ladle_status st;
  int64_t step = 0, len = -1;
  if ((st = need(c, 0, "signal", &x)) || (st = need(c, 1, "frame_step", &fs)) ||
      (st = scalar_int(c, fs, "frame_step", &step)))
    return st;
  if (!dtype_is_float(x->dtype)) return op_fail(c, LADLE_ERR_DTYPE, "signal must be a float type");
  if (x->ndim != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return op_fail(c, LADLE_ERR_SHAPE, "signal must be [batch, length, 1 or 2]");
  if (step < 1) return op_fail(c, LADLE_ERR_INVALID, "frame_step %lld must be positive", (long long)step);
  if (fl && ladle_tensor_numel(fl) > 0 && (st = scalar_int(c, fl, "frame_length", &len))) return st;
  if (win && ladle_tensor_numel(win) > 0) {
    if (win->ndim != 1 || !dtype_is_float(win->dtype)) return op_fail(c, LADLE_ERR_SHAPE, "window must be a float vector");
    if (len >= 0 && len != win->dims[0])
      return op_fail(c, LADLE_ERR_SHAPE, "frame_length %lld differs from the window's %lld", (long long)len,
                     (long long)win->dims[0]);
    len = win->dims[0];
  } else {
    win = NULL;
  }
  if (len < 1) return op_fail(c, LADLE_ERR_INVALID, "frame_length or window is required");
  bool cplx = x->dims[2] == 2, onesided = node_attr_int(op_node(c), "onesided", 1) != 0;
  if (onesided && cplx) return op_fail(c, LADLE_ERR_INVALID, "onesided needs a real signal");
  int64_t B = x->dims[0], L = x->dims[1];
  if (len > L) return op_fail(c, LADLE_ERR_SHAPE, "frame_length %lld exceeds the signal's %lld", (long long)len, (long long)L);
  if (!dft_len_ok(len))
    return op_fail(c, LADLE_ERR_UNSUPPORTED, "frame length %lld: above %d it must be a power of two", (long long)len,
                   DFT_DIRECT_MAX);
  int64_t frames = 1 + (L - len) / step, bins = onesided ? len / 2 + 1 : len;
  int64_t dims[4] = {B, frames, bins, 2};
  ladle_tensor *y;
  if ((st = op_out(c, 0, x->dtype, 4, dims, &y))) return st;
  double *v = op_scratch(c, 0, sizeof(double) * 4 * (size_t)len);
  if (!v) return op_fail(c, LADLE_ERR_NOMEM, "out of memory for STFT");
  double *tmp = v + 2 * len;
  int64_t comp = x->dims[2];
  for (int64_t b = 0; b < B; b++)
    for (int64_t f = 0; f < frames; f++) {
      for (int64_t t = 0; t < len; t++) {
        int64_t base = (b * L + f * step + t) * comp;
        double w = win ? tensor_get_f64(win, t) : 1.0;
        v[2 * t] = tensor_get_f64(x, base) * w;
        v[2 * t + 1] = cplx ? tensor_get_f64(x, base + 1) * w : 0.0;
      }
      dft_any(v, len, -1, tmp);
      for (int64_t k = 0; k < bins; k++) {
        int64_t base = ((b * frames + f) * bins + k) * 2;
        tensor_set_f64(y, base, v[2 * k]);
        tensor_set_f64(y, base + 1, v[2 * k + 1]);
      }
    }
  return LADLE_OK;
}

const op_def ops_signal[] = {
    {"", "HannWindow", 17, 99, run_hann, NULL, NULL},
    {"", "HammingWindow", 17, 99, run_hamming, NULL, NULL},
    {"", "BlackmanWindow", 17, 99, run_blackman, NULL, NULL},
    {"", "MelWeightMatrix", 17, 99, run_mel, NULL, NULL},
    {"", "DFT", 17, 19, run_dft, NULL, NULL},
    {"", "STFT", 17, 99, run_stft, NULL, NULL},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};

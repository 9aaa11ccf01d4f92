/* test_shape.c — what the ONNX conformance data does not cover for the data-movement ops:
 *   - the strided-copy engine (merged axes, memcpy rows, broadcast fills, cache-tiled
 *     transposes, negative strides, the threaded split) against a plain element-by-element copy;
 *   - Transpose of attention-shaped tensors through a session with 2 threads;
 *   - string tensors through Transpose / Concat / Gather / Slice / Pad / Expand (the session
 *     frees every output string, so each op must own its copies: ASan checks it);
 *   - hostile models and inputs: out-of-range indices and axes, absurd sizes, extreme Slice
 *     bounds, all refused with a status instead of a crash.
 * Models are built in memory with the generated protobuf-c code for onnx.proto. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../check.h"
#include "base/tpool.h"
#include "ladle/ladle.h"
#include "onnx_build.h"
#include "runtime/ops/shape_common.h"
#include "xorshift.h"

/* --- the strided-copy engine against a reference ------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { return xorshift64(&rng_state); }

static void ref_copy(char *dst, const char *src, int nd, const int64_t *dims, const int64_t *st,
                     size_t esz) {
  int64_t idx[SHAPE_VIEW_MAX] = {0}, n = 1;
  for (int i = 0; i < nd; i++) n *= dims[i];
  for (int64_t e = 0; e < n; e++) {
    int64_t off = 0;
    for (int i = 0; i < nd; i++) off += idx[i] * st[i];
    memcpy(dst + (size_t)e * esz, src + off * (int64_t)esz, esz);
    for (int i = nd - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
}

/* A random view over a random source: a permutation of its axes, some broadcast, some
 * reversed; `big` makes it large enough for the tiled and threaded paths. */
static int engine_case(tpool *pool, size_t esz, bool big) {
  int nd = big ? 2 + (int)(rnd() % 3) : 1 + (int)(rnd() % 6), perm[8];
  int64_t sd[8], sst[8], vd[8], vs[8], n = 1, base = 0;
  for (int i = 0; i < nd; i++) { /* big: up to 4 dims of up to 48, at most ~5M elements */
    sd[i] = big ? 1 + (int64_t)(rnd() % 48) : 1 + (int64_t)(rnd() % 6);
    perm[i] = i;
  }
  for (int i = nd - 1; i > 0; i--) {
    int j = (int)(rnd() % (uint64_t)(i + 1)), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  int64_t acc = 1;
  for (int i = nd - 1; i >= 0; i--) {
    sst[i] = acc;
    acc *= sd[i];
  }
  for (int i = 0; i < nd; i++) {
    int p = perm[i];
    vd[i] = sd[p];
    vs[i] = sst[p];
    uint64_t r = rnd() % 8;
    if (r == 0) vs[i] = 0; /* broadcast: the view repeats one position */
    if (r == 1) {          /* reversed axis */
      base += (sd[p] - 1) * sst[p];
      vs[i] = -sst[p];
    }
    n *= vd[i];
  }
  char *src = malloc((size_t)acc * esz), *want = malloc((size_t)n * esz), *got = malloc((size_t)n * esz);
  for (int64_t i = 0; i < acc * (int64_t)esz; i++) src[i] = (char)rnd();
  ref_copy(want, src + base * (int64_t)esz, nd, vd, vs, esz);
  memset(got, 0x5a, (size_t)n * esz);
  shape_copy_strided(pool, got, src + base * (int64_t)esz, nd, vd, vs, esz);
  int ok = memcmp(want, got, (size_t)n * esz) == 0;
  free(src);
  free(want);
  free(got);
  return ok;
}

static void test_engine(void) {
  static const size_t sizes[] = {1, 2, 4, 8};
  tpool *pool = tpool_new(2);
  for (int k = 0; k < 4; k++) {
    int bad = 0;
    for (int t = 0; t < 300; t++) bad += !engine_case(NULL, sizes[k], false);
    for (int t = 0; t < 40; t++) bad += !engine_case(pool, sizes[k], true);
    CHECK(bad == 0);
  }
  /* the last-two-dims swap and [0,2,1,3] of a [2,3,256,200] float tensor (1.2 MB: threaded) */
  int64_t d[4] = {2, 3, 256, 200}, n = 2 * 3 * 256 * 200;
  int64_t st[4] = {3 * 256 * 200, 256 * 200, 200, 1};
  float *x = malloc(sizeof(float) * (size_t)n), *a = malloc(sizeof(float) * (size_t)n),
        *b = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = (float)i;
  int64_t vd1[4] = {d[0], d[1], d[3], d[2]}, vs1[4] = {st[0], st[1], st[3], st[2]};
  int64_t vd2[4] = {d[0], d[2], d[1], d[3]}, vs2[4] = {st[0], st[2], st[1], st[3]};
  ref_copy((char *)a, (const char *)x, 4, vd1, vs1, 4);
  shape_copy_strided(pool, b, x, 4, vd1, vs1, 4);
  CHECK(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
  ref_copy((char *)a, (const char *)x, 4, vd2, vs2, 4);
  shape_copy_strided(pool, b, x, 4, vd2, vs2, 4);
  CHECK(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
  free(x);
  free(a);
  free(b);
  tpool_free(pool);
}

/* --- one-node models: onnx_build.h's run_op, with 2 threads here -------------------------- */

/* Expects op to fail with st and a message containing `needle`. */
static void expect_fail(const char *op, int opset, int n_in, const ladle_tensor *in, int n_attr,
                        const attr_spec *attrs, ladle_status want, const char *needle) {
  ladle_model *m;
  ladle_session *s;
  ladle_status st = run_op(&m, &s, op, opset, n_in, in, 1, n_attr, attrs, 2);
  bool ok = st == want && s && strstr(ladle_session_errmsg(s), needle);
  if (!ok)
    fprintf(stderr, "%s: status %d, message '%s'\n", op, st, s ? ladle_session_errmsg(s) : "");
  CHECK(ok);
  done(m, s);
}

/* --- Transpose through a session ---------------------------------------------------------- */

static void test_transpose_session(void) {
  int64_t B = 2, H = 4, S = 32, D = 16, n = B * H * S * D;
  float *x = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = (float)i;
  ladle_tensor in = {LADLE_FLOAT, 4, {B, H, S, D}, x};
  static const int64_t p0213[4] = {0, 2, 1, 3}, p0132[4] = {0, 1, 3, 2};
  const int64_t *perms[2] = {p0213, p0132};
  for (int k = 0; k < 2; k++) {
    ladle_model *m;
    ladle_session *s;
    attr_spec a = {"perm", A_INTS, .ints = perms[k], .n = 4};
    CHECK(run_op(&m, &s, "Transpose", 13, 1, &in, 1, 1, &a, 2) == LADLE_OK);
    const ladle_tensor *y = s ? ladle_session_output(s, 0) : NULL;
    int bad = !y;
    for (int64_t i = 0; y && i < n; i++) {
      int64_t c[4], r = i, src = 0, xs[4] = {H * S * D, S * D, D, 1};
      for (int d = 3; d >= 0; d--) {
        c[d] = r % y->dims[d];
        r /= y->dims[d];
      }
      for (int d = 0; d < 4; d++) src += c[d] * xs[perms[k][d]];
      bad += ((const float *)y->data)[i] != x[src];
    }
    CHECK(bad == 0);
    done(m, s);
  }
  free(x);
}

/* --- strings ------------------------------------------------------------------------------ */

static bool strs_are(const ladle_tensor *y, int n, const char *const *want) {
  if (!y || y->dtype != LADLE_STRING || ladle_tensor_numel(y) != n) return false;
  for (int i = 0; i < n; i++)
    if (strcmp(((char *const *)y->data)[i], want[i]) != 0) return false;
  return true;
}

static void test_strings(void) {
  char *sv[6] = {"a", "bb", "ccc", "dddd", "e", "ff"};
  ladle_tensor x = {LADLE_STRING, 2, {2, 3}, sv};
  ladle_model *m;
  ladle_session *s;

  CHECK(run_op(&m, &s, "Transpose", 13, 1, &x, 1, 0, NULL, 2) == LADLE_OK);
  static const char *tr[6] = {"a", "dddd", "bb", "e", "ccc", "ff"};
  CHECK(strs_are(ladle_session_output(s, 0), 6, tr));
  /* the second run frees the first's */
  CHECK(ladle_session_run(s, 1, node_in_names, &x) == LADLE_OK);
  done(m, s);

  ladle_tensor two[2] = {x, x};
  attr_spec ax1 = {"axis", A_INT, .i = 1};
  CHECK(run_op(&m, &s, "Concat", 13, 2, two, 1, 1, &ax1, 2) == LADLE_OK);
  static const char *cc[12] = {"a", "bb", "ccc", "a", "bb", "ccc", "dddd", "e", "ff", "dddd", "e", "ff"};
  CHECK(strs_are(ladle_session_output(s, 0), 12, cc));
  done(m, s);

  int64_t idx[3] = {2, -3, 2};
  ladle_tensor gi[2] = {x, {LADLE_INT64, 1, {3}, idx}};
  CHECK(run_op(&m, &s, "Gather", 13, 2, gi, 1, 1, &ax1, 2) == LADLE_OK);
  static const char *ga[6] = {"ccc", "a", "ccc", "ff", "dddd", "ff"};
  CHECK(strs_are(ladle_session_output(s, 0), 6, ga));
  done(m, s);

  int64_t st0[1] = {-1}, en0[1] = {INT64_MIN}, axs[1] = {1}, stp[1] = {-2};
  ladle_tensor si[5] = {x, {LADLE_INT64, 1, {1}, st0}, {LADLE_INT64, 1, {1}, en0},
                        {LADLE_INT64, 1, {1}, axs}, {LADLE_INT64, 1, {1}, stp}};
  CHECK(run_op(&m, &s, "Slice", 13, 5, si, 1, 0, NULL, 2) == LADLE_OK);
  static const char *sl[4] = {"ccc", "a", "ff", "dddd"};
  CHECK(strs_are(ladle_session_output(s, 0), 4, sl));
  done(m, s);

  int64_t pads[4] = {0, 1, 0, 0};
  ladle_tensor pi[2] = {x, {LADLE_INT64, 1, {4}, pads}};
  attr_spec edge = {"mode", A_STR, .s = "edge"};
  CHECK(run_op(&m, &s, "Pad", 13, 2, pi, 1, 1, &edge, 2) == LADLE_OK);
  static const char *pe[8] = {"a", "a", "bb", "ccc", "dddd", "dddd", "e", "ff"};
  CHECK(strs_are(ladle_session_output(s, 0), 8, pe));
  done(m, s);
  CHECK(run_op(&m, &s, "Pad", 13, 2, pi, 1, 0, NULL, 2) == LADLE_OK); /* constant: "" */
  static const char *pc[8] = {"", "a", "bb", "ccc", "", "dddd", "e", "ff"};
  CHECK(strs_are(ladle_session_output(s, 0), 8, pc));
  done(m, s);

  int64_t shp[3] = {2, 2, 3};
  ladle_tensor ei[2] = {x, {LADLE_INT64, 1, {3}, shp}};
  CHECK(run_op(&m, &s, "Expand", 13, 2, ei, 1, 0, NULL, 2) == LADLE_OK);
  static const char *ex[12] = {"a", "bb", "ccc", "dddd", "e", "ff", "a", "bb", "ccc", "dddd", "e", "ff"};
  CHECK(strs_are(ladle_session_output(s, 0), 12, ex));
  done(m, s);
}

/* --- hostile inputs ----------------------------------------------------------------------- */

static void test_hostile(void) {
  float xv[6] = {1, 2, 3, 4, 5, 6};
  ladle_tensor x = {LADLE_FLOAT, 2, {2, 3}, xv};

  int64_t big_idx[1] = {3};
  ladle_tensor g[2] = {x, {LADLE_INT64, 1, {1}, big_idx}};
  attr_spec ax1 = {"axis", A_INT, .i = 1}, ax5 = {"axis", A_INT, .i = 5};
  expect_fail("Gather", 13, 2, g, 1, &ax1, LADLE_ERR_INVALID, "out of range");
  expect_fail("Gather", 13, 2, g, 1, &ax5, LADLE_ERR_INVALID, "axis 5");
  int32_t neg32[1] = {-4};
  ladle_tensor g32[2] = {x, {LADLE_INT32, 1, {1}, neg32}};
  expect_fail("Gather", 13, 2, g32, 1, &ax1, LADLE_ERR_INVALID, "out of range");

  int64_t ge_idx[6] = {0, 1, 2, 0, 1, 7};
  ladle_tensor ge[2] = {x, {LADLE_INT64, 2, {2, 3}, ge_idx}};
  expect_fail("GatherElements", 13, 2, ge, 1, &ax1, LADLE_ERR_INVALID, "out of range");
  float upd[6] = {0};
  ladle_tensor se[3] = {x, ge[1], {LADLE_FLOAT, 2, {2, 3}, upd}};
  expect_fail("ScatterElements", 16, 3, se, 1, &ax1, LADLE_ERR_INVALID, "out of range");

  int64_t nd_idx[2] = {1, 3};
  float nd_upd[1] = {9};
  ladle_tensor sn[3] = {x, {LADLE_INT64, 2, {1, 2}, nd_idx}, {LADLE_FLOAT, 1, {1}, nd_upd}};
  expect_fail("ScatterND", 16, 3, sn, 0, NULL, LADLE_ERR_INVALID, "out of range");
  expect_fail("GatherND", 13, 2, sn, 0, NULL, LADLE_ERR_INVALID, "out of range");

  /* absurd sizes: refused by the tensor limit or the overflow checks, never allocated */
  int64_t huge[3] = {INT64_C(1) << 20, INT64_C(1) << 20, INT64_C(1) << 20};
  ladle_tensor shape3 = {LADLE_INT64, 1, {3}, huge};
  ladle_tensor ex[2] = {{LADLE_FLOAT, 2, {1, 1}, xv}, shape3};
  expect_fail("Expand", 13, 2, ex, 0, NULL, LADLE_ERR_LIMIT, "limit");
  expect_fail("ConstantOfShape", 9, 1, &shape3, 0, NULL, LADLE_ERR_LIMIT, "limit");
  int64_t reps[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
  ladle_tensor ti[2] = {x, {LADLE_INT64, 1, {2}, reps}};
  expect_fail("Tile", 13, 2, ti, 0, NULL, LADLE_ERR_LIMIT, "");
  int64_t r0 = 0, r1 = INT64_MAX, r2 = 1;
  ladle_tensor rg[3] = {{LADLE_INT64, 0, {0}, &r0}, {LADLE_INT64, 0, {0}, &r1}, {LADLE_INT64, 0, {0}, &r2}};
  expect_fail("Range", 11, 3, rg, 0, NULL, LADLE_ERR_LIMIT, "limit");
  int64_t rmin = INT64_MIN, rmax = INT64_MAX, rstep = INT64_MAX;
  ladle_tensor rg2[3] = {{LADLE_INT64, 0, {0}, &rmin}, {LADLE_INT64, 0, {0}, &rmax}, {LADLE_INT64, 0, {0}, &rstep}};
  {
    ladle_model *m;
    ladle_session *s;
    /* 3 values, no overflow */
    CHECK(run_op(&m, &s, "Range", 11, 3, rg2, 1, 0, NULL, 2) == LADLE_OK);
    const ladle_tensor *y = s ? ladle_session_output(s, 0) : NULL;
    CHECK(y && y->dims[0] == 3 && ((int64_t *)y->data)[2] == INT64_MAX - 1);
    done(m, s);
  }
  int64_t depth = INT64_C(1) << 50, oh_idx[2] = {0, 1};
  float oh_val[2] = {0, 1};
  ladle_tensor oh[3] = {{LADLE_INT64, 1, {2}, oh_idx}, {LADLE_INT64, 0, {0}, &depth}, {LADLE_FLOAT, 1, {2}, oh_val}};
  expect_fail("OneHot", 11, 3, oh, 0, NULL, LADLE_ERR_LIMIT, "limit");
  int64_t pads[4] = {0, INT64_MAX, 0, 0};
  ladle_tensor pd[2] = {x, {LADLE_INT64, 1, {4}, pads}};
  expect_fail("Pad", 13, 2, pd, 0, NULL, LADLE_ERR_INVALID, "pads");

  /* empty tensors with enormous dims: no int64 overflow when summing or padding them */
  ladle_tensor wide = {LADLE_FLOAT, 2, {0, INT64_C(1) << 62}, xv};
  ladle_tensor cat3[3] = {wide, wide, wide};
  expect_fail("Concat", 13, 3, cat3, 1, &ax1, LADLE_ERR_LIMIT, "too large");
  int64_t wpads[4] = {0, INT64_C(1) << 40, 0, INT64_C(1) << 40};
  ladle_tensor wp[2] = {{LADLE_FLOAT, 2, {0, INT64_MAX - 10}, xv}, {LADLE_INT64, 1, {4}, wpads}};
  expect_fail("Pad", 13, 2, wp, 0, NULL, LADLE_ERR_LIMIT, "too large");

  /* ops on empty tensors whose other dims multiply past int64 give empty outputs, no overflow */
  ladle_tensor vast = {LADLE_FLOAT, 4, {0, INT64_C(1) << 40, INT64_C(1) << 40, 4}, xv};
  static const char *const empty_ops[] = {"Transpose", "Trilu", "Split", "CumSum", "Shape", "Size"};
  int64_t zax = 0;
  ladle_tensor zaxis = {LADLE_INT64, 0, {0}, &zax};
  for (int i = 0; i < 6; i++) {
    ladle_model *m;
    ladle_session *s;
    ladle_tensor in2[2] = {vast, zaxis};
    ladle_status st = run_op(&m, &s, empty_ops[i], 14, i == 3 ? 2 : 1, in2, 1, 0, NULL, 2);
    /* a permuted shape like [4,2^40,2^40,0] may be refused by op_out's size check (SHAPE) */
    CHECK(st == LADLE_OK || (i == 0 && st == LADLE_ERR_SHAPE));
    done(m, s);
  }
  int64_t vreps[4] = {3, 1, 1, 1}, vpads[8] = {1, 0, 0, 0, 0, -(INT64_C(1) << 40) + 1, -(INT64_C(1) << 40) + 1, 0};
  int64_t sl_s[1] = {1}, sl_e[1] = {INT64_MAX}, sl_a[1] = {3}, gidx[2] = {0, 1};
  ladle_tensor tl[2] = {vast, {LADLE_INT64, 1, {4}, vreps}};
  ladle_tensor pdv[2] = {vast, {LADLE_INT64, 1, {8}, vpads}};
  ladle_tensor slv[4] = {vast, {LADLE_INT64, 1, {1}, sl_s}, {LADLE_INT64, 1, {1}, sl_e}, {LADLE_INT64, 1, {1}, sl_a}};
  ladle_tensor gv[2] = {vast, {LADLE_INT64, 1, {2}, gidx}};
  ladle_tensor cv[2] = {vast, vast};
  struct { const char *op; int n; ladle_tensor *in; int na; attr_spec a; } cases[] = {
      {"Tile", 2, tl, 0, {0}}, {"Pad", 2, pdv, 0, {0}}, {"Slice", 4, slv, 0, {0}},
      {"Gather", 2, gv, 1, {"axis", A_INT, .i = 3}},
      {"Concat", 2, cv, 1, {"axis", A_INT, .i = 2}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ladle_model *m;
    ladle_session *s;
    ladle_status st = run_op(&m, &s, cases[i].op, 14, cases[i].n, cases[i].in, 1, cases[i].na,
                             &cases[i].a, 2);
    if (st) fprintf(stderr, "%s on an empty tensor: %s\n", cases[i].op, s ? ladle_session_errmsg(s) : "");
    CHECK(st == LADLE_OK);
    done(m, s);
  }

  /* malformed shapes, axes and permutations */
  int64_t two_infer[2] = {-1, -1}, bad_dim[2] = {-2, 3}, wrong[2] = {4, 2};
  ladle_tensor rs[2] = {x, {LADLE_INT64, 1, {2}, two_infer}};
  expect_fail("Reshape", 14, 2, rs, 0, NULL, LADLE_ERR_SHAPE, "-1");
  rs[1].data = bad_dim;
  expect_fail("Reshape", 14, 2, rs, 0, NULL, LADLE_ERR_SHAPE, "-2");
  rs[1].data = wrong;
  expect_fail("Reshape", 14, 2, rs, 0, NULL, LADLE_ERR_SHAPE, "cannot reshape");
  int64_t dup[2] = {0, 0};
  ladle_tensor us[2] = {x, {LADLE_INT64, 1, {2}, dup}};
  expect_fail("Unsqueeze", 13, 2, us, 0, NULL, LADLE_ERR_INVALID, "twice");
  expect_fail("Squeeze", 13, 2, us, 0, NULL, LADLE_ERR_SHAPE, "squeeze");
  static const int64_t badperm[2] = {0, 0};
  attr_spec bp = {"perm", A_INTS, .ints = badperm, .n = 2};
  expect_fail("Transpose", 13, 1, &x, 1, &bp, LADLE_ERR_INVALID, "permutation");
  int64_t sp[2] = {1, 1};
  ladle_tensor sl[2] = {x, {LADLE_INT64, 1, {2}, sp}};
  attr_spec ax9 = {"axis", A_INT, .i = 9};
  expect_fail("Split", 13, 2, sl, 1, &ax9, LADLE_ERR_INVALID, "axis 9");
  int64_t k0 = 0;
  ladle_tensor cs[2] = {x, {LADLE_INT64, 0, {0}, &k0}};
  cs[1].data = &(int64_t){-3};
  expect_fail("CumSum", 14, 2, cs, 0, NULL, LADLE_ERR_INVALID, "axis -3");
  int64_t zero = 0;
  ladle_tensor zr[3] = {{LADLE_INT64, 0, {0}, &zero}, {LADLE_INT64, 0, {0}, &r2}, {LADLE_INT64, 0, {0}, &zero}};
  expect_fail("Range", 11, 3, zr, 0, NULL, LADLE_ERR_INVALID, "delta");
  float x4[16] = {0};
  ladle_tensor t4 = {LADLE_FLOAT, 4, {1, 4, 2, 2}, x4};
  attr_spec blk = {"blocksize", A_INT, .i = 0};
  expect_fail("DepthToSpace", 13, 1, &t4, 1, &blk, LADLE_ERR_INVALID, "blocksize");
  blk.i = 3;
  expect_fail("SpaceToDepth", 13, 1, &t4, 1, &blk, LADLE_ERR_SHAPE, "divisible");

  /* extreme Slice bounds and steps are clamped, not overflowed */
  int64_t s_st[2] = {INT64_MIN, INT64_MAX}, s_en[2] = {INT64_MAX, INT64_MIN}, s_sp[2] = {INT64_MAX, INT64_MIN};
  ladle_tensor sc[5] = {x, {LADLE_INT64, 1, {2}, s_st}, {LADLE_INT64, 1, {2}, s_en}, {LADLE_INT64, 1, {2}, dup},
                        {LADLE_INT64, 1, {2}, s_sp}};
  sc[3].data = (int64_t[2]){0, 1};
  {
    ladle_model *m;
    ladle_session *s;
    CHECK(run_op(&m, &s, "Slice", 13, 5, sc, 1, 0, NULL, 2) == LADLE_OK);
    const ladle_tensor *y = s ? ladle_session_output(s, 0) : NULL;
    CHECK(y && y->dims[0] == 1 && y->dims[1] == 1 && ((float *)y->data)[0] == 3.0f);
    done(m, s);
  }
}

/* --- a few values the conformance data does not pin down ---------------------------------- */

static void test_values(void) {
  ladle_model *m;
  ladle_session *s;
  /* Split-13 without sizes into 3 outputs; Reshape with a 0 (copy) and -1 */
  float xv[12];
  for (int i = 0; i < 12; i++) xv[i] = (float)i;
  ladle_tensor x = {LADLE_FLOAT, 2, {2, 6}, xv};
  attr_spec ax1 = {"axis", A_INT, .i = 1};
  CHECK(run_op(&m, &s, "Split", 13, 1, &x, 3, 1, &ax1, 2) == LADLE_OK);
  const ladle_tensor *y2 = s ? ladle_session_output(s, 2) : NULL;
  CHECK(y2 && y2->dims[1] == 2 && ((float *)y2->data)[0] == 4 && ((float *)y2->data)[3] == 11);
  done(m, s);
  int64_t shp[3] = {0, -1, 2};
  ladle_tensor rs[2] = {x, {LADLE_INT64, 1, {3}, shp}};
  CHECK(run_op(&m, &s, "Reshape", 14, 2, rs, 1, 0, NULL, 2) == LADLE_OK);
  const ladle_tensor *y = s ? ladle_session_output(s, 0) : NULL;
  CHECK(y && y->ndim == 3 && y->dims[0] == 2 && y->dims[1] == 3 && y->dims[2] == 2);
  done(m, s);
  /* Pad reflect with pads larger than the axis (repeated reflection) and negative pads */
  float pv[3] = {1, 2, 3};
  int64_t none_axes[1] = {0};
  int64_t pads[2] = {4, -1};
  ladle_tensor pi[2] = {{LADLE_FLOAT, 1, {3}, pv}, {LADLE_INT64, 1, {2}, pads}};
  attr_spec refl = {"mode", A_STR, .s = "reflect"};
  CHECK(run_op(&m, &s, "Pad", 13, 2, pi, 1, 1, &refl, 2) == LADLE_OK);
  y = s ? ladle_session_output(s, 0) : NULL;
  static const float want[6] = {1, 2, 3, 2, 1, 2};
  CHECK(y && y->dims[0] == 6 && memcmp(y->data, want, sizeof want) == 0);
  done(m, s);
  /* NonZero on float16 counts -0.0 as zero */
  uint16_t h[4] = {0x8000, 0x3c00, 0x0000, 0x0001};
  ladle_tensor hx = {LADLE_FLOAT16, 1, {4}, h};
  CHECK(run_op(&m, &s, "NonZero", 13, 1, &hx, 1, 0, NULL, 2) == LADLE_OK);
  y = s ? ladle_session_output(s, 0) : NULL;
  CHECK(y && y->dims[0] == 1 && y->dims[1] == 2 && ((int64_t *)y->data)[0] == 1 && ((int64_t *)y->data)[1] == 3);
  done(m, s);
  /* integer sums that overflow wrap instead of being undefined (UBSan watches) */
  int32_t big[3] = {INT32_MAX, 1, 1};
  int64_t ax0 = 0;
  ladle_tensor ci[2] = {{LADLE_INT32, 1, {3}, big}, {LADLE_INT64, 0, {0}, &ax0}};
  CHECK(run_op(&m, &s, "CumSum", 14, 2, ci, 1, 0, NULL, 2) == LADLE_OK);
  y = s ? ladle_session_output(s, 0) : NULL;
  CHECK(y && ((int32_t *)y->data)[1] == INT32_MIN);
  done(m, s);
  int64_t sidx[2] = {0, 0};
  int32_t supd[2] = {INT32_MAX, INT32_MAX};
  attr_spec mul = {"reduction", A_STR, .s = "mul"};
  ladle_tensor sn[3] = {{LADLE_INT32, 1, {3}, big}, {LADLE_INT64, 2, {2, 1}, sidx}, {LADLE_INT32, 1, {2}, supd}};
  CHECK(run_op(&m, &s, "ScatterND", 16, 3, sn, 1, 1, &mul, 2) == LADLE_OK);
  y = s ? ladle_session_output(s, 0) : NULL;
  CHECK(y && ((int32_t *)y->data)[0] == INT32_MAX && ((int32_t *)y->data)[1] == 1);
  done(m, s);
  /* Squeeze with an empty axes list removes every 1 (as ONNX Runtime does) */
  ladle_tensor sq[2] = {{LADLE_FLOAT, 3, {1, 3, 1}, pv}, {LADLE_INT64, 1, {0}, none_axes}};
  CHECK(run_op(&m, &s, "Squeeze", 13, 2, sq, 1, 0, NULL, 2) == LADLE_OK);
  y = s ? ladle_session_output(s, 0) : NULL;
  CHECK(y && y->ndim == 1 && y->dims[0] == 3);
  done(m, s);
  /* ConstantOfShape with an int64 value and an empty shape (a scalar) */
  int64_t none[1] = {0};
  ladle_tensor es = {LADLE_INT64, 1, {0}, none};
  attr_spec val = {"value", A_TENSOR, .i = 7};
  CHECK(run_op(&m, &s, "ConstantOfShape", 9, 1, &es, 1, 1, &val, 2) == LADLE_OK);
  y = s ? ladle_session_output(s, 0) : NULL;
  CHECK(y && y->ndim == 0 && y->dtype == LADLE_INT64 && *(int64_t *)y->data == 7);
  done(m, s);
}

int main(void) {
  test_engine();
  test_transpose_session();
  test_strings();
  test_hostile();
  test_values();
  return check_done("test_shape");
}

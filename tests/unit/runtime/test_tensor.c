/* test_tensor.c — shape arithmetic, broadcasting and float16/bfloat16 conversion. The float16
 * references are IEEE 754 binary16 bit patterns (as numpy.float16 gives them). */
#include <math.h>
#include <string.h>

#include "../check.h"
#include "runtime/tensor.h"

int main(void) {
  int64_t a[] = {8, 1, 6, 1}, b[] = {7, 1, 5}, out[8];
  int n;
  CHECK(shape_broadcast(4, a, 3, b, &n, out) && n == 4 && out[0] == 8 && out[1] == 7 &&
        out[2] == 6 && out[3] == 5);
  int64_t c[] = {3}, d[] = {4};
  CHECK(!shape_broadcast(1, c, 1, d, &n, out));
  CHECK(shape_numel(0, NULL) == 1);
  int64_t huge[] = {INT64_C(1) << 40, INT64_C(1) << 40};
  CHECK(shape_numel(2, huge) == -1);
  int64_t empty1[] = {0, INT64_C(1) << 40, INT64_C(1) << 40, 4}, empty2[] = {4, INT64_C(1) << 40, INT64_C(1) << 40, 0};
  CHECK(shape_numel(4, empty1) == 0 && shape_numel(4, empty2) == 0);
  int64_t neg[] = {2, -1};
  CHECK(shape_numel(2, neg) == -1);
  int64_t st[4];
  int64_t s3[] = {5, 1};
  shape_broadcast_strides(2, s3, 3, (int64_t[]){2, 5, 4}, st);
  CHECK(st[0] == 0 && st[1] == 1 && st[2] == 0);

  struct { float f; uint16_t h; } cases[] = {
      {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
      {65520.0f, 0x7c00}, {6.103515625e-05f, 0x0400}, {5.960464477539063e-08f, 0x0001},
      {0.333251953125f, 0x3555}, {1.0009765625f, 0x3c01}, {1.00048828125f, 0x3c00 /* tie to even */},
      {INFINITY, 0x7c00}, {2.98023223876953125e-08f, 0x0000 /* tie to even: 0 */},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    CHECK(float_to_half(cases[i].f) == cases[i].h);
    if (cases[i].f != 65520.0f && cases[i].f != 1.00048828125f && cases[i].f != 2.98023223876953125e-08f)
      CHECK(half_to_float(cases[i].h) == cases[i].f);
  }
  CHECK(isnan(half_to_float(float_to_half(NAN))));
  CHECK(float_to_bfloat16(1.0f) == 0x3f80 && bfloat16_to_float(0x3f80) == 1.0f);

  /* integer stores saturate instead of invoking undefined behaviour */
  int8_t i8[3];
  ladle_tensor t8 = {LADLE_INT8, 1, {3}, i8};
  tensor_set_f64(&t8, 0, 300.0);
  tensor_set_f64(&t8, 1, -1e300);
  tensor_set_f64(&t8, 2, NAN);
  CHECK(i8[0] == 127 && i8[1] == -128 && i8[2] == 0);
  int64_t i64;
  ladle_tensor t64 = {LADLE_INT64, 0, {0}, &i64};
  tensor_set_f64(&t64, 0, 1e30);
  CHECK(i64 > INT64_C(9000000000000000000));

  char buf[64];
  CHECK(!strcmp(shape_str(3, (int64_t[]){2, 3, -1}, buf, sizeof buf), "[2,3,-1]"));
  return check_done("test_tensor");
}

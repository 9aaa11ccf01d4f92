/* xorshift.h — the xorshift64 step the runtime unit tests draw their random cases from. Each test
 * keeps its own seed and its own way of turning the state into numbers, so its cases stay the
 * ones it has always run; only the step is shared. */
#ifndef LADLE_TESTS_XORSHIFT_H
#define LADLE_TESTS_XORSHIFT_H

#include <stdint.h>

/* Advances *state (never 0) and returns its new value. */
static inline uint64_t xorshift64(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

#endif

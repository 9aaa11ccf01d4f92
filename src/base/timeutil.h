/* timeutil.h — monotonic clock helpers. */
#ifndef LADLE_BASE_TIMEUTIL_H
#define LADLE_BASE_TIMEUTIL_H

#include <stdint.h>

uint64_t time_now_ns(void); /* CLOCK_MONOTONIC */

#endif

/* clock.h — the one clock for durations and deadlines: CLOCK_MONOTONIC in
 * nanoseconds (never steps back with the wall clock). Pure C. */
#ifndef RK_CLOCK_H
#define RK_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t rk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif

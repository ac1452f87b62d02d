/* watchdog.h — a thread that watches the deadlines of the workers' Lua calls
 * from outside them. Pure C, no Lua.
 *
 * Inside a call the instruction hook checks the deadline every so many VM
 * instructions, and C code that can run long checks it too (the pattern
 * matcher, the archive reader). The watchdog is the outside view: each
 * watched thread publishes the deadline of the call it is running and what
 * runs it; every RK_WATCHDOG_TICK_MS the watchdog looks, and a call past its
 * deadline gets a signal, whose handler (on that thread, between two of its
 * instructions, as Lua's own interpreter stops a script on Ctrl-C) calls the
 * owner's fire function, which makes Lua stop at its next instruction, even
 * when the call's own hook was removed or replaced. A call still running a
 * second after its deadline is stuck inside C: it is counted and logged once,
 * with its thread's name, for an operator.
 */
#ifndef RK_WATCHDOG_H
#define RK_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>

#define RK_WATCHDOG_TICK_MS 10
#define RK_WATCHDOG_STUCK_MS 1000
#define RK_WATCHDOG_MAX_THREADS 64

typedef struct rk_watchdog rk_watchdog_t;

/* fire(running) runs in the watched thread's signal handler: it may only do
 * what is safe there. */
typedef void (*rk_watchdog_fire_fn)(void *running);

struct rk_metrics;
/* metrics (or NULL) counts the signals and the stuck calls. */
rk_watchdog_t *rk_watchdog_start(rk_watchdog_fire_fn fire, struct rk_metrics *metrics, char *err, size_t errlen);
/* Stops and joins the thread; the watched threads must have left. NULL is a no-op. */
void rk_watchdog_stop(rk_watchdog_t *w);

/* The calling thread is watched from now on (until it leaves): 0, or -1 when
 * all RK_WATCHDOG_MAX_THREADS places are taken. */
int rk_watchdog_join(rk_watchdog_t *w);
void rk_watchdog_leave(void);

/* The calling thread runs `running` until deadline_ns (CLOCK_MONOTONIC; 0:
 * nothing is running). A no-op on a thread that is not watched. */
void rk_watchdog_set(uint64_t deadline_ns, void *running);

unsigned long long rk_watchdog_fired(const rk_watchdog_t *w);   /* calls signalled past their deadline */
unsigned long long rk_watchdog_stuck(const rk_watchdog_t *w);   /* calls found stuck in C */

#endif

/* test_watchdog.c — the deadline seen from outside: a thread past its
 * deadline is signalled (and, a second later still, counted stuck), and a
 * Lua call that removed its own time hook is still stopped at its deadline. */
#include "test_util.h"
#include "vm.h"
#include "watchdog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static _Atomic int fired;
static void count_fire(void *running) { (void)running; atomic_fetch_add(&fired, 1); }

typedef struct { rk_watchdog_t *w; int spin_ms, seen; } spin_t;

/* Spins in C past a deadline 20 ms ahead, as a stuck call would. */
static void *spinner(void *arg)
{
    spin_t *sp = arg;
    assert_int_equal(rk_watchdog_join(sp->w), 0);
    uint64_t until = rk_now_ns() + (uint64_t)sp->spin_ms * 1000000ULL;
    rk_watchdog_set(rk_now_ns() + 20000000ULL, sp);
    while (rk_now_ns() < until && !(sp->seen = atomic_load(&fired))) {}
    while (rk_now_ns() < until) {}
    rk_watchdog_set(0, NULL);
    rk_watchdog_leave();
    return NULL;
}

static void signals_and_stuck(void **st)
{
    (void)st;
    char err[256];
    rk_watchdog_t *w = rk_watchdog_start(count_fire, NULL, err, sizeof err);
    assert_non_null(w);
    spin_t sp = { w, 1300, 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spinner, &sp), 0);
    pthread_join(t, NULL);
    assert_true(sp.seen >= 1);                    /* signalled, on its own thread */
    assert_int_equal(rk_watchdog_fired(w), 1);    /* once per deadline */
    assert_int_equal(rk_watchdog_stuck(w), 1);    /* and a second on, reported stuck */
    /* a thread that is not watched is never signalled */
    atomic_store(&fired, 0);
    rk_watchdog_set(rk_now_ns(), &sp);
    struct timespec pause = { 0, 50000000 };
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&fired), 0);
    rk_watchdog_stop(w);
}

/* A script that takes its own time hook away, then loops: only the
 * watchdog can stop it. */
static void stops_lua_without_its_hook(void **st)
{
    (void)st;
    char *dir = tmp_dir();
    write_file(dir, "main.lua",
               "local M = {}\n"
               "function M.unhooked() debug.sethook() while true do end end\n"
               "function M.ok() return 42 end\n"
               "return M\n");
    char err[2048];
    rk_snapshot_t *s = rk_snapshot_load(dir, err, sizeof err);
    assert_non_null(s);
    rk_vm_opts_t o = { s, 64u << 20, 500, NULL, "main", NULL, 1, NULL };
    rk_vm_t *vm = rk_vm_new(&o, err, sizeof err);
    rk_snapshot_release(s);
    assert_non_null(vm);
    rk_watchdog_t *w = rk_watchdog_start(rk_vm_watchdog_fire, NULL, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(rk_watchdog_join(w), 0);
    lua_State *L = rk_vm_state(vm);
    rk_vm_push_entry(vm);
    lua_getfield(L, -1, "unhooked");
    lua_remove(L, -2);
    uint64_t t0 = rk_now_ns();
    rk_vm_limits_t lim = { 100, -1, 0 };
    int rc = rk_vm_call_limited(vm, 0, 0, &lim, err, sizeof err);
    double ms = (double)(rk_now_ns() - t0) / 1e6;
    assert_int_equal(rc, RK_VM_TIMEOUT);
    assert_non_null(strstr(err, "time budget exceeded"));
    assert_true(ms < 1000);
    /* the state serves on, with its own hook back */
    rk_vm_push_entry(vm);
    lua_getfield(L, -1, "ok");
    lua_remove(L, -2);
    assert_int_equal(rk_vm_call(vm, 0, 1, 100, err, sizeof err), 0);
    assert_int_equal(lua_tointeger(L, -1), 42);
    lua_settop(L, 0);
    rk_watchdog_leave();
    rk_watchdog_stop(w);
    rk_vm_free(vm);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signals_and_stuck),
        cmocka_unit_test(stops_lua_without_its_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

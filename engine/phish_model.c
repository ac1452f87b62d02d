/* phish_model.c — see phish_model.h. One process-wide slot: riskd serves one
 * models folder; a lookup for another folder replaces the slot. */
#include "phish_model.h"
#include "clock.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static struct {
    pthread_mutex_t mu;
    char dir[1024];
    rk_textmodel_t *model;
    uint64_t stamp;                  /* mtime and size of the file last tried */
    int64_t checked_ms;
} live = { PTHREAD_MUTEX_INITIALIZER, "", NULL, 0, 0 };

static int64_t mono_ms(void) { return (int64_t)(rk_now_ns() / 1000000ULL); }

rk_textmodel_t *rk_phish_model_live(const char *dir, char *err, size_t errlen)
{
    err[0] = '\0';
    pthread_mutex_lock(&live.mu);
    int64_t now = mono_ms();
    if (strcmp(live.dir, dir) != 0) {
        rk_tm_release(live.model);
        live.model = NULL;
        live.stamp = 0;
        live.checked_ms = 0;
        snprintf(live.dir, sizeof live.dir, "%s", dir);
    }
    if (live.checked_ms == 0 || now - live.checked_ms >= 1000) {
        live.checked_ms = now;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, RK_TM_LIVE_FILE);
        struct stat st;
        uint64_t stamp = 0;
        if (stat(path, &st) == 0)
            stamp = ((uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec) ^ ((uint64_t)st.st_size << 1) ^ 1;
        if (stamp == 0) {   /* removed: no model */
            rk_tm_release(live.model);
            live.model = NULL;
            live.stamp = 0;
        } else if (stamp != live.stamp) {
            live.stamp = stamp;
            rk_textmodel_t *m = rk_tm_load(path, err, errlen);
            if (m) { rk_tm_release(live.model); live.model = m; }
        }
    }
    rk_textmodel_t *m = rk_tm_retain(live.model);
    pthread_mutex_unlock(&live.mu);
    return m;
}

void rk_phish_model_reset(void)
{
    pthread_mutex_lock(&live.mu);
    rk_tm_release(live.model);
    live.model = NULL;
    live.stamp = 0;
    live.checked_ms = 0;
    live.dir[0] = '\0';
    pthread_mutex_unlock(&live.mu);
}

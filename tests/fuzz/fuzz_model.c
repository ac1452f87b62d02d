/* fuzz_model.c — libFuzzer target: the model-file loader.
 *
 * The input is a model file without its last 8 bytes; the harness appends
 * the right FNV-1a checksum, so that mutations reach the structural checks
 * behind it (with a wrong checksum every input would stop at the first
 * test). A model that loads is scored once, which walks every tree: a
 * forged structure that passed the checks would show there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iforest.h"

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size + 8);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint64_t sum = fnv1a(buf, size);
    memcpy(buf + size, &sum, 8);
    char err[512];
    rk_iforest_t *m = rk_iforest_parse(buf, size + 8, "fuzz", NULL, 0, err, sizeof err);
    if (m) {
        double row[RK_IFOREST_MAX_FEATURES] = { 0 }, phi[RK_IFOREST_MAX_FEATURES];
        (void)rk_iforest_score_row(m, row);
        if (rk_iforest_features(m) <= RK_IFOREST_EXPLAIN_MAX_FEATURES) rk_iforest_explain(m, row, phi, err, sizeof err);
        rk_iforest_release(m);
    }
    free(buf);
    return 0;
}

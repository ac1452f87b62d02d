/* intel_bench.c — `make bench`: IP set membership with 1,000,000 ranges
 * loaded (target: 10 million look-ups per second on one core) against a
 * plain binary search over the same merged intervals, measured in the same
 * run; the memory the set takes; breached-password import speed and index
 * size; password look-ups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "intel_ipset.h"
#include "intel_pwindex.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t s = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    return s;
}

/* The obvious implementation, as the reference: binary search over the
 * merged, sorted interval starts (no /16 table). */
typedef struct { uint32_t lo, hi; } r4;
static int cmp_r4(const void *a, const void *b)
{
    const r4 *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}
static int ref_contains(const r4 *v, size_t n, uint32_t a)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].lo <= a) lo = mid + 1; else hi = mid;
    }
    return lo > 0 && v[lo - 1].hi >= a;
}

int main(void)
{
    enum { RANGES = 1000000, PROBES = 20000000 };
    /* 1,000,000 ranges: mostly single addresses and small networks, as in
     * the big public lists (FireHOL level 3, abuse feeds): 70 % /32, 25 %
     * /24../31, 5 % /16../23 */
    rk_ipset_builder_t *b = rk_ipset_builder_new();
    r4 *raw = malloc(RANGES * sizeof *raw);
    double t0 = now();
    for (int i = 0; i < RANGES; i++) {
        uint32_t a = (uint32_t)rnd();
        int pick = (int)(rnd() % 100);
        int bits = pick < 70 ? 32 : pick < 95 ? 24 + (int)(rnd() % 8) : 16 + (int)(rnd() % 8);
        uint32_t mask = bits == 32 ? UINT32_MAX : ~(UINT32_MAX >> bits);
        rk_ip_t lo, hi;
        memset(&lo, 0, sizeof lo);
        lo.v4 = 1;
        lo.b[10] = lo.b[11] = 0xff;
        hi = lo;
        uint32_t x = a & mask, y = x | ~mask;
        for (int k = 0; k < 4; k++) { lo.b[12 + k] = (uint8_t)(x >> (24 - 8 * k)); hi.b[12 + k] = (uint8_t)(y >> (24 - 8 * k)); }
        rk_ipset_builder_add(b, &lo, &hi);
        raw[i] = (r4){ x, y };
    }
    double t_gen = now() - t0;
    t0 = now();
    rk_ipset_t *set = rk_ipset_build(b);
    double t_build = now() - t0;
    rk_ipset_info_t info;
    rk_ipset_info(set, &info);
    /* the reference gets the same merged intervals */
    qsort(raw, RANGES, sizeof *raw, cmp_r4);
    size_t m = 0;
    for (size_t i = 1; i < RANGES; i++) {
        if (raw[m].hi == UINT32_MAX || raw[i].lo <= raw[m].hi + 1) { if (raw[i].hi > raw[m].hi) raw[m].hi = raw[i].hi; }
        else raw[++m] = raw[i];
    }
    m++;
    uint32_t *probe = malloc(PROBES * sizeof *probe);
    for (int i = 0; i < PROBES; i++) probe[i] = (uint32_t)rnd();
    long hits = 0, ref_hits = 0;
    t0 = now();
    for (int i = 0; i < PROBES; i++) hits += rk_ipset_contains_v4(set, probe[i]);
    double t_set = now() - t0;
    t0 = now();
    for (int i = 0; i < PROBES; i++) ref_hits += ref_contains(raw, m, probe[i]);
    double t_ref = now() - t0;
    if (hits != ref_hits) { fprintf(stderr, "intel bench: the set and the reference disagree\n"); return 1; }
    printf("\nIP sets (%d IPv4 ranges, %zu after merging; generated in %.2f s):\n", RANGES, info.ranges_v4, t_gen);
    printf("  %-44s %9.2f s\n", "compile", t_build);
    printf("  %-44s %9.1f MB (%.1f bytes per range)\n", "memory", (double)info.memory / 1e6, (double)info.memory / RANGES);
    printf("  %-44s %9.1f M/s  (target 10 M/s; %.1f%% of random addresses in)\n", "look-ups, one core",
           PROBES / t_set / 1e6, 100.0 * (double)hits / PROBES);
    printf("  %-44s %9.1f M/s  (riskd %.2fx)\n", "reference: binary search over the intervals", PROBES / t_ref / 1e6, t_ref / t_set);
    rk_ipset_free(set);

    /* IPv6: 1,000,000 random /48../128 ranges in 2000::/3 */
    b = rk_ipset_builder_new();
    for (int i = 0; i < RANGES; i++) {
        rk_ip_t lo, hi;
        memset(&lo, 0, sizeof lo);
        uint64_t h = (rnd() & 0x1fffffffffffffffULL) | 0x2000000000000000ULL, l = rnd();
        for (int k = 0; k < 8; k++) { lo.b[k] = (uint8_t)(h >> (56 - 8 * k)); lo.b[8 + k] = (uint8_t)(l >> (56 - 8 * k)); }
        int bits = 48 + (int)(rnd() % 81);
        for (int k = bits; k < 128; k++) lo.b[k / 8] &= (uint8_t)~(0x80 >> (k % 8));
        hi = lo;
        for (int k = bits; k < 128; k++) hi.b[k / 8] |= (uint8_t)(0x80 >> (k % 8));
        rk_ipset_builder_add(b, &lo, &hi);
    }
    set = rk_ipset_build(b);
    rk_ipset_info(set, &info);
    enum { P6 = 5000000 };
    rk_ip_t *p6 = malloc(P6 * sizeof *p6);
    for (int i = 0; i < P6; i++) {
        memset(&p6[i], 0, sizeof p6[i]);
        uint64_t h = (rnd() & 0x1fffffffffffffffULL) | 0x2000000000000000ULL, l = rnd();
        for (int k = 0; k < 8; k++) { p6[i].b[k] = (uint8_t)(h >> (56 - 8 * k)); p6[i].b[8 + k] = (uint8_t)(l >> (56 - 8 * k)); }
    }
    t0 = now();
    hits = 0;
    for (int i = 0; i < P6; i++) hits += rk_ipset_contains(set, &p6[i]);
    double t6 = now() - t0;
    printf("  %-44s %9.1f M/s  (%d IPv6 ranges, %.1f MB; %ld in)\n", "IPv6 look-ups, one core", P6 / t6 / 1e6, RANGES,
           (double)info.memory / 1e6, hits);
    rk_ipset_free(set);
    free(p6);
    free(probe);
    free(raw);

    /* Breached passwords: import of a generated list, then look-ups. */
    long n = getenv("BENCH_HASHES") ? atol(getenv("BENCH_HASHES")) : 5000000;
    char dir[] = "/tmp/riskd-intel-bench-XXXXXX", in[300], idx[300], err[512];
    if (!mkdtemp(dir)) return 1;
    snprintf(in, sizeof in, "%s/list.txt", dir);
    snprintf(idx, sizeof idx, "%s/passwords.sha1.idx", dir);
    FILE *f = fopen(in, "w");
    static const char hex[] = "0123456789ABCDEF";
    char line[64];
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 40; k++) line[k] = hex[rnd() & 15];
        int len = 40 + snprintf(line + 40, 24, ":%u\n", (unsigned)(rnd() % 100000) + 1);
        fwrite(line, 1, (size_t)len, f);
    }
    fclose(f);
    rk_pwimport_stats_t st;
    t0 = now();
    if (rk_pwindex_import(in, idx, &st, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    double t_imp = now() - t0;
    printf("\nbreached passwords (%ld generated SHA-1 hashes):\n", n);
    printf("  %-44s %9.2f M hashes/s  (%.2f s, %.0f MB of text in)\n", "import", (double)n / t_imp / 1e6, t_imp,
           (double)st.input_bytes / 1e6);
    printf("  %-44s %9.1f bytes per hash (%.1f GB per billion hashes; the text is %.1f)\n", "index size",
           (double)st.index_bytes / (double)n, (double)st.index_bytes / (double)n, (double)st.input_bytes / (double)n);
    rk_pwindex_t *x = rk_pwindex_open(idx, err, sizeof err);
    if (!x) { fprintf(stderr, "%s\n", err); return 1; }
    enum { PW = 2000000 };
    uint8_t (*q)[20] = malloc(PW * sizeof *q);
    for (int i = 0; i < PW; i++) for (int k = 0; k < 20; k++) q[i][k] = (uint8_t)rnd();
    t0 = now();
    long found = 0;
    for (int i = 0; i < PW; i++) found += rk_pwindex_count(x, q[i]) > 0;
    double t_pw = now() - t0;
    printf("  %-44s %9.1f M/s  (hashes already computed; %ld found)\n", "membership look-ups, one core", PW / t_pw / 1e6, found);
    free(q);
    rk_pwindex_close(x);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

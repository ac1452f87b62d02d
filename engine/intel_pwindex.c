/* intel_pwindex.c — see intel_pwindex.h. */
#include "intel_pwindex.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "RKPWIDX1"
#define VERSION 1
#define HASH 20
#define REC 22                 /* 18 bytes of hash + u32 count */
#define HEADER 32
#define TABLE ((size_t)(RK_PWINDEX_PREFIXES + 1) * 8)
#define BUCKETS 256
#define TMP_REC 24             /* 20 bytes of hash + u32 count */

struct rk_pwindex {
    const uint8_t *map;
    size_t len;
    uint64_t n;
    const uint8_t *table, *recs;
};

void rk_sha1(const void *data, size_t n, uint8_t out[20])
{
    unsigned int len = 0;
    EVP_Digest(data, n, out, &len, EVP_sha1(), NULL);
}

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int64_t rk_pwindex_parse_prefix(const char *s, size_t n)
{
    if (n != 5) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < 5; i++) {
        int h = hexval((unsigned char)s[i]);
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

static uint32_t prefix_of(const uint8_t *h) { return (uint32_t)h[0] << 12 | (uint32_t)h[1] << 4 | h[2] >> 4; }

/* "HASH" or "HASH:COUNT", CR tolerated; 0 or -1. */
static int parse_line(const char *s, size_t n, uint8_t hash[HASH], uint32_t *count)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) n--;
    if (n < 2 * HASH) return -1;
    for (int i = 0; i < HASH; i++) {
        int a = hexval((unsigned char)s[2 * i]), b = hexval((unsigned char)s[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        hash[i] = (uint8_t)(a << 4 | b);
    }
    *count = 1;
    if (n == 2 * HASH) return 0;
    if (s[2 * HASH] != ':' || n == 2 * HASH + 1) return -1;
    uint64_t c = 0;
    for (size_t i = 2 * HASH + 1; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        c = c * 10 + (uint64_t)(s[i] - '0');
        if (c > UINT32_MAX) c = UINT32_MAX;   /* saturate; the order of magnitude is what matters */
    }
    *count = (uint32_t)c;
    return 0;
}

typedef struct {
    char dir[1100];
    FILE *f[BUCKETS];
} spill_t;

static void spill_close(spill_t *sp, int remove_files)
{
    for (int b = 0; b < BUCKETS; b++) {
        if (sp->f[b]) fclose(sp->f[b]);
        sp->f[b] = NULL;
        if (remove_files) {
            char p[1200];
            snprintf(p, sizeof p, "%s/%02x", sp->dir, b);
            unlink(p);
        }
    }
    if (remove_files && sp->dir[0]) rmdir(sp->dir);
}

/* Pass 1: every valid line into the bucket of its first byte. */
static int spill(FILE *in, spill_t *sp, rk_pwimport_stats_t *st, char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint8_t rec[TMP_REC];
    while ((len = getline(&line, &cap, in)) >= 0) {
        st->lines++;
        st->input_bytes += (uint64_t)len;
        uint32_t count;
        if (parse_line(line, (size_t)len, rec, &count) < 0) {
            size_t blank = strspn(line, " \t\r\n");
            if (blank == (size_t)len) continue;
            if (!st->bad_lines++) {
                st->first_bad_line = st->lines;
                snprintf(st->first_bad, sizeof st->first_bad, "%.*s", (int)strcspn(line, "\r\n"), line);
            }
            continue;
        }
        put32(rec + HASH, count);
        if (fwrite(rec, TMP_REC, 1, sp->f[rec[0]]) != 1) {
            snprintf(err, errlen, "cannot write to %s: %s", sp->dir, strerror(errno));
            free(line);
            return -1;
        }
    }
    free(line);
    if (ferror(in)) { snprintf(err, errlen, "cannot read the input: %s", strerror(errno)); return -1; }
    return 0;
}

static int cmp_hash(const void *a, const void *b) { return memcmp(a, b, HASH); }

/* Pass 2, one bucket: sort, merge duplicates, append to the index. */
static int write_bucket(spill_t *sp, int b, FILE *out, uint32_t *per_prefix, rk_pwimport_stats_t *st,
                        char *err, size_t errlen)
{
    FILE *f = sp->f[b];
    if (fflush(f) != 0) goto io;
    long size = ftell(f);
    if (size <= 0) return 0;
    size_t n = (size_t)size / TMP_REC;
    uint8_t *buf = malloc((size_t)size);
    if (!buf) { snprintf(err, errlen, "out of memory sorting %zu hashes", n); return -1; }
    rewind(f);
    if (fread(buf, TMP_REC, n, f) != n) { free(buf); goto io; }
    qsort(buf, n, TMP_REC, cmp_hash);
    uint8_t rec[REC];
    for (size_t i = 0; i < n;) {
        uint8_t *h = buf + i * TMP_REC;
        uint64_t count = get32(h + HASH);
        size_t j = i + 1;
        for (; j < n && memcmp(buf + j * TMP_REC, h, HASH) == 0; j++) {
            count += get32(buf + j * TMP_REC + HASH);
            st->duplicates++;
        }
        memcpy(rec, h + 2, HASH - 2);
        put32(rec + HASH - 2, count > UINT32_MAX ? UINT32_MAX : (uint32_t)count);
        if (fwrite(rec, REC, 1, out) != 1) { free(buf); goto io; }
        per_prefix[prefix_of(h)]++;
        st->hashes++;
        i = j;
    }
    free(buf);
    return 0;
io:
    snprintf(err, errlen, "cannot write the index: %s", strerror(errno));
    return -1;
}

static int finish(FILE *out, const uint32_t *per_prefix, uint64_t hashes, char *err, size_t errlen)
{
    uint8_t *table = malloc(TABLE), head[HEADER] = { 0 };
    if (!table) { snprintf(err, errlen, "out of memory"); return -1; }
    uint64_t at = 0;
    for (uint32_t p = 0; p < RK_PWINDEX_PREFIXES; p++) {
        put64(table + (size_t)p * 8, at);
        at += per_prefix[p];
    }
    put64(table + (size_t)RK_PWINDEX_PREFIXES * 8, at);
    memcpy(head, MAGIC, 8);
    put32(head + 8, VERSION);
    put32(head + 12, HASH);
    put64(head + 16, hashes);
    int bad = fseek(out, 0, SEEK_SET) != 0 || fwrite(head, HEADER, 1, out) != 1 || fwrite(table, TABLE, 1, out) != 1 ||
              fflush(out) != 0 || fsync(fileno(out)) != 0;
    free(table);
    if (bad) { snprintf(err, errlen, "cannot write the index: %s", strerror(errno)); return -1; }
    return 0;
}

int rk_pwindex_import(const char *input, const char *out_path, rk_pwimport_stats_t *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    spill_t sp;
    memset(&sp, 0, sizeof sp);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    FILE *in = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
    if (!in) { snprintf(err, errlen, "cannot open %s: %s", input, strerror(errno)); return -1; }
    FILE *out = NULL;
    uint32_t *per_prefix = calloc(RK_PWINDEX_PREFIXES, sizeof *per_prefix);
    int rc = -1;
    snprintf(sp.dir, sizeof sp.dir, "%s.import-XXXXXX", out_path);
    if (!per_prefix) { snprintf(err, errlen, "out of memory"); goto done; }
    if (!mkdtemp(sp.dir)) { snprintf(err, errlen, "cannot make a folder next to %s: %s", out_path, strerror(errno)); sp.dir[0] = '\0'; goto done; }
    for (int b = 0; b < BUCKETS; b++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%02x", sp.dir, b);
        if (!(sp.f[b] = fopen(p, "w+"))) { snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno)); goto done; }
    }
    if (spill(in, &sp, st, err, errlen) < 0) goto done;
    if (st->lines > 0 && st->bad_lines == st->lines) {
        snprintf(err, errlen, "no line is a SHA-1 hash (HASH or HASH:COUNT); line %llu: '%s'",
                 (unsigned long long)st->first_bad_line, st->first_bad);
        goto done;
    }
    if (!(out = fopen(tmp, "w"))) { snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno)); goto done; }
    if (fseek(out, (long)(HEADER + TABLE), SEEK_SET) != 0) { snprintf(err, errlen, "cannot write %s", tmp); goto done; }
    for (int b = 0; b < BUCKETS; b++) {
        if (write_bucket(&sp, b, out, per_prefix, st, err, errlen) < 0) goto done;
        /* each bucket's space is given back as soon as it is written */
        fclose(sp.f[b]);
        sp.f[b] = NULL;
        char p[1200];
        snprintf(p, sizeof p, "%s/%02x", sp.dir, b);
        unlink(p);
    }
    if (finish(out, per_prefix, st->hashes, err, errlen) < 0) goto done;
    st->index_bytes = HEADER + TABLE + st->hashes * REC;
    if (fclose(out) != 0) { out = NULL; snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); goto done; }
    out = NULL;
    if (rename(tmp, out_path) != 0) { snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno)); goto done; }
    rc = 0;
done:
    if (out) fclose(out);
    if (rc != 0) unlink(tmp);
    spill_close(&sp, 1);
    if (in != stdin) fclose(in);
    free(per_prefix);
    return rc;
}

rk_pwindex_t *rk_pwindex_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < HEADER + TABLE) {
        close(fd);
        snprintf(err, errlen, "%s is not a password index (too short)", path);
        return NULL;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) { snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno)); return NULL; }
    rk_pwindex_t *x = calloc(1, sizeof *x);
    if (!x) { munmap(m, (size_t)st.st_size); snprintf(err, errlen, "out of memory"); return NULL; }
    x->map = m;
    x->len = (size_t)st.st_size;
    x->table = x->map + HEADER;
    x->recs = x->table + TABLE;
    x->n = get64(x->map + 16);
    const char *why = NULL;
    if (memcmp(x->map, MAGIC, 8) != 0) why = "not a password index";
    else if (get32(x->map + 8) != VERSION || get32(x->map + 12) != HASH) why = "another version";
    else if (x->n > (x->len - HEADER - TABLE) / REC || HEADER + TABLE + x->n * REC != x->len) why = "its size does not match its header";
    /* The table must rise from 0 to n, or a range would read outside. */
    for (uint32_t p = 0; !why && p < RK_PWINDEX_PREFIXES; p++)
        if (get64(x->table + (size_t)p * 8) > get64(x->table + (size_t)(p + 1) * 8)) why = "its prefix table is out of order";
    if (!why && (get64(x->table) != 0 || get64(x->table + (size_t)RK_PWINDEX_PREFIXES * 8) != x->n)) why = "its prefix table does not cover it";
    if (why) {
        snprintf(err, errlen, "%s: %s", path, why);
        rk_pwindex_close(x);
        return NULL;
    }
    madvise((void *)x->map, x->len, MADV_RANDOM);
    return x;
}

void rk_pwindex_close(rk_pwindex_t *x)
{
    if (!x) return;
    munmap((void *)x->map, x->len);
    free(x);
}

uint64_t rk_pwindex_hashes(const rk_pwindex_t *x) { return x->n; }
uint64_t rk_pwindex_bytes(const rk_pwindex_t *x) { return x->len; }

uint32_t rk_pwindex_count(const rk_pwindex_t *x, const uint8_t sha1[20])
{
    uint32_t p = prefix_of(sha1);
    uint64_t lo = get64(x->table + (size_t)p * 8), hi = get64(x->table + (size_t)(p + 1) * 8);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = memcmp(x->recs + mid * REC, sha1 + 2, HASH - 2);
        if (c == 0) return get32(x->recs + mid * REC + HASH - 2);
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return 0;
}

uint32_t rk_pwindex_count_password(const rk_pwindex_t *x, const char *pw, size_t n)
{
    uint8_t h[HASH];
    rk_sha1(pw, n, h);
    return rk_pwindex_count(x, h);
}

size_t rk_pwindex_range(const rk_pwindex_t *x, uint32_t prefix,
                        void (*fn)(void *ud, const char *suffix, uint32_t count), void *ud)
{
    static const char hex[] = "0123456789ABCDEF";
    if (prefix >= RK_PWINDEX_PREFIXES) return 0;
    uint64_t lo = get64(x->table + (size_t)prefix * 8), hi = get64(x->table + (size_t)(prefix + 1) * 8);
    char s[36];
    for (uint64_t i = lo; i < hi; i++) {
        const uint8_t *r = x->recs + i * REC;
        s[0] = hex[r[0] & 15];
        for (int k = 1; k < HASH - 2; k++) {
            s[2 * k - 1] = hex[r[k] >> 4];
            s[2 * k] = hex[r[k] & 15];
        }
        s[35] = '\0';
        fn(ud, s, get32(r + HASH - 2));
    }
    return (size_t)(hi - lo);
}

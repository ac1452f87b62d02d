/* csv.c — see csv.h. The file is mapped and parsed in one pass. */
#include "csv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const double POW10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

const char *rk_csv_number(const char *s, const char *end, double *out)
{
    const char *p = s;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) { neg = *p == '-'; p++; }
    uint64_t mant = 0;
    int digits = 0, scale = 0, any = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (mant || *p != '0') digits++;
        if (digits <= 19) mant = mant * 10 + (uint64_t)(*p - '0'); else scale++;
        p++; any = 1;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (mant || *p != '0') digits++;
            if (digits <= 19) { mant = mant * 10 + (uint64_t)(*p - '0'); scale--; }
            p++; any = 1;
        }
    }
    if (!any) return NULL;
    int exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        int eneg = 0, edig = 0;
        if (q < end && (*q == '-' || *q == '+')) { eneg = *q == '-'; q++; }
        while (q < end && *q >= '0' && *q <= '9') { if (exp < 100000) exp = exp * 10 + (*q - '0'); q++; edig = 1; }
        if (!edig) return NULL;
        p = q;
        if (eneg) exp = -exp;
    }
    int e10 = exp + scale;
    if (digits <= 15 && e10 >= -22 && e10 <= 22) {
        double v = (double)mant;   /* exact: mant < 10^15 < 2^53 */
        v = e10 < 0 ? v / POW10[-e10] : v * POW10[e10];
        *out = neg ? -v : v;
        return p;
    }
    /* Slow path: strtod on a bounded copy (the map is not NUL-terminated). */
    char tmp[512];
    size_t len = (size_t)(p - s);
    if (len >= sizeof tmp) return NULL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *e = NULL;
    errno = 0;
    double v = strtod(tmp, &e);
    if (e != tmp + len) return NULL;
    *out = v;
    return p;
}

int rk_csv_format_unit(double v, char *buf)
{
    if (!(v >= 0)) v = 0;
    if (v >= 1) { memcpy(buf, "1.000000000000000", 17); return 17; }
    uint64_t x = (uint64_t)llround(v * 1e15);
    if (x >= 1000000000000000ULL) { memcpy(buf, "1.000000000000000", 17); return 17; }
    buf[0] = '0';
    buf[1] = '.';
    for (int i = 16; i >= 2; i--) { buf[i] = (char)('0' + x % 10); x /= 10; }
    return 17;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    const char *path;
    char *err;
    size_t errlen;
} ctx_t;

static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

/* Splits the header into names (quotes allowed, spaces trimmed). */
static int parse_header(ctx_t *c, const char *p, const char *e, char ***names, int *ncols)
{
    int cap = 16, n = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    if (!v) goto oom;
    if (e > p && e[-1] == '\r') e--;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        const char *s = p, *t;
        if (p < e && *p == '"') {
            s = ++p;
            while (p < e && *p != '"') p++;
            t = p;
            if (p < e) p++;
            while (p < e && *p != ',') p++;
        } else {
            while (p < e && *p != ',') p++;
            t = p;
            while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
        }
        if (n == cap) {
            cap *= 2;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) goto oom;
            v = nv;
        }
        v[n] = strndup(s, (size_t)(t - s));
        if (!v[n++]) goto oom;
        if (p >= e) break;
        p++;   /* the comma */
    }
    *names = v;
    *ncols = n;
    return 0;
oom:
    if (v) for (int i = 0; i < n; i++) free(v[i]);
    free(v);
    snprintf(c->err, c->errlen, "out of memory");
    return -1;
}

static int is_blank(const char *p, const char *e)
{
    for (; p < e; p++) if (!isspace((unsigned char)*p)) return 0;
    return 1;
}

int rk_csv_read(const char *path, const char *label, rk_csv_t *out, char *err, size_t errlen)
{
    ctx_t c = { path, err, errlen };
    memset(out, 0, sizeof *out);
    char **hdr = NULL;
    int ncols = 0, label_col = -1, rc = -1;
    size_t cap = 0;
    const char *map = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    if (fstat(fd, &st) < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); close(fd); return -1; }
    if (st.st_size == 0) { snprintf(err, errlen, "%s: empty file (no header row)", path); close(fd); return -1; }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    madvise((void *)map, (size_t)st.st_size, MADV_SEQUENTIAL);
    const char *p = map, *end = map + st.st_size;

    const char *e = line_end(p, end);
    if (is_blank(p, e)) { snprintf(err, errlen, "%s:1: empty header row", path); goto done; }
    if (parse_header(&c, p, e, &hdr, &ncols) < 0) goto done;
    for (int i = 0; i < ncols; i++) {
        if (!hdr[i][0]) { snprintf(err, errlen, "%s:1:%d: empty column name", path, i + 1); goto done; }
        if (label && strcmp(hdr[i], label) == 0) label_col = i;
    }
    if (label && label_col < 0) { snprintf(err, errlen, "%s:1: no column '%s' in the header", path, label); goto done; }
    out->d = ncols - (label_col >= 0);
    if (out->d < 1) { snprintf(err, errlen, "%s:1: no feature columns", path); goto done; }
    out->names = malloc((size_t)out->d * sizeof *out->names);
    if (!out->names) goto oom;
    for (int i = 0, k = 0; i < ncols; i++) {
        if (i == label_col) { free(hdr[i]); continue; }
        out->names[k++] = hdr[i];
    }
    free(hdr);
    hdr = NULL;

    /* Rows: a first guess at the count from the file size, grown as needed. */
    size_t lineno = 1;
    cap = (size_t)st.st_size / ((size_t)ncols * 4 + 1) + 16;
    out->X = malloc(cap * (size_t)out->d * sizeof *out->X);
    if (label_col >= 0) out->labels = malloc(cap * sizeof *out->labels);
    if (!out->X || (label_col >= 0 && !out->labels)) goto oom;
    p = e < end ? e + 1 : end;
    while (p < end) {
        lineno++;
        e = line_end(p, end);
        const char *le = (e > p && e[-1] == '\r') ? e - 1 : e;
        if (is_blank(p, le)) { p = e + 1; continue; }
        if (out->n == cap) {
            cap *= 2;
            double *nx = realloc(out->X, cap * (size_t)out->d * sizeof *nx);
            if (!nx) goto oom;
            out->X = nx;
            if (out->labels) {
                int *nl = realloc(out->labels, cap * sizeof *nl);
                if (!nl) goto oom;
                out->labels = nl;
            }
        }
        double *row = out->X + out->n * (size_t)out->d;
        const char *q = p;
        int col = 0, k = 0;
        for (;;) {
            while (q < le && (*q == ' ' || *q == '\t')) q++;
            double v;
            const char *stop = (col < ncols) ? rk_csv_number(q, le, &v) : NULL;
            const char *cell_end = q;
            while (cell_end < le && *cell_end != ',') cell_end++;
            if (col >= ncols) {
                int got = 1;
                for (const char *z = p; z < le; z++) got += *z == ',';
                snprintf(err, errlen, "%s:%zu: expected %d columns, got %d", path, lineno, ncols, got);
                goto done;
            }
            if (stop) while (stop < cell_end && (*stop == ' ' || *stop == '\t')) stop++;
            if (!stop || stop != cell_end) {
                if (cell_end == q) snprintf(err, errlen, "%s:%zu:%d: empty cell", path, lineno, col + 1);
                else snprintf(err, errlen, "%s:%zu:%d: not a number: '%.*s'", path, lineno, col + 1,
                              (int)(cell_end - q > 40 ? 40 : cell_end - q), q);
                goto done;
            }
            if (col == label_col) out->labels[out->n] = v != 0;
            else row[k++] = v;
            col++;
            if (cell_end >= le) break;
            q = cell_end + 1;
        }
        if (col != ncols) {
            snprintf(err, errlen, "%s:%zu: expected %d columns, got %d", path, lineno, ncols, col);
            goto done;
        }
        out->n++;
        p = e + 1;
    }
    if (out->n == 0) { snprintf(err, errlen, "%s: no data rows after the header", path); goto done; }
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    if (hdr) for (int i = 0; i < ncols; i++) free(hdr[i]);
    free(hdr);
    munmap((void *)map, (size_t)st.st_size);
    if (rc < 0) rk_csv_free(out);
    return rc;
}

void rk_csv_free(rk_csv_t *t)
{
    if (t->names) for (int i = 0; i < t->d; i++) free(t->names[i]);
    free(t->names);
    free(t->X);
    free(t->labels);
    memset(t, 0, sizeof *t);
}

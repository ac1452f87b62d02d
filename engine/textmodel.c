/* textmodel.c — see textmodel.h.
 *
 * File layout (little-endian, as written by this machine):
 *   "RKTEXTLR" | u32 version | u32 bits | u32 ndense | i64 created_ms
 *   | u32 nmetrics | ndense × (u16 len, name) | nmetrics × (u16 len, name, f64)
 *   | f64 bias | (2^bits + ndense) × f32 weights | u64 FNV-1a of all before
 */
#include "textmodel.h"
#include "hash.h"
#include "binfile.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define DIM_TEXT (1u << RK_TM_BITS)

struct rk_textmodel {
    atomic_int refs;
    int ndense;
    int64_t created_ms;
    char *names[RK_TM_MAX_DENSE];
    int nmetrics;
    char *metric_names[RK_TM_MAX_METRICS];
    double metric_values[RK_TM_MAX_METRICS];
    char *provenance;                  /* NULL: none */
    double bias;
    float *w;                          /* DIM_TEXT + ndense */
};

/* ---- features ---------------------------------------------------------- */

void rk_tm_vec_free(rk_tm_vec_t *v)
{
    if (!v) return;
    free(v->idx);
    free(v->val);
    memset(v, 0, sizeof *v);
}

static int vec_push(rk_tm_vec_t *v, uint32_t i, float x)
{
    if (v->n == v->cap) {
        int nc = v->cap ? v->cap * 2 : 1024;
        uint32_t *ni = realloc(v->idx, (size_t)nc * sizeof *ni);
        if (!ni) return -1;
        v->idx = ni;
        float *nv = realloc(v->val, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        v->val = nv;
        v->cap = nc;
    }
    v->idx[v->n] = i;
    v->val[v->n++] = x;
    return 0;
}

static uint32_t hash_bytes(uint32_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 16777619u; }
    return h;
}

#define SEED_WORD 2166136261u
#define SEED_BIGRAM 0x9747b28cu
#define SEED_CHAR 0x5bd1e995u

static int is_word_byte(unsigned char ch)
{
    return ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* Sorts n indices below 2^18 in two counting passes of 9 bits (a qsort
 * was a fifth of an analysis). tmp holds n. */
static void radix_sort(uint32_t *a, uint32_t *tmp, int n)
{
    for (int shift = 0; shift < RK_TM_BITS; shift += 9) {
        int count[513] = { 0 };
        for (int i = 0; i < n; i++) count[((a[i] >> shift) & 511) + 1]++;
        for (int b = 0; b < 512; b++) count[b + 1] += count[b];
        for (int i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 511]++] = a[i];
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
}

int rk_tm_featurize(const char *text, const float *dense, int ndense, rk_tm_vec_t *v)
{
    v->n = 0;
    size_t len = strlen(text);
    if (len > RK_TM_MAX_TEXT) {
        len = RK_TM_MAX_TEXT;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80) len--;
    }
    char *low = g_utf8_strdown(text, (gssize)len);   /* not only ASCII: "PASSWORT" and "Пароль" too */
    if (!low) return -1;
    /* Every hashed feature once per occurrence, then sorted and counted. */
    const char *p = low, *prev = NULL;
    size_t prevn = 0;
    int rc = 0;
    while (*p && rc == 0) {
        while (*p && !is_word_byte((unsigned char)*p)) p++;
        const char *w = p;
        while (*p && is_word_byte((unsigned char)*p)) p++;
        size_t n = (size_t)(p - w);
        if (n == 0) break;
        if (n > 40) { prev = NULL; continue; }   /* base64 and hashes: noise */
        rc |= vec_push(v, hash_bytes(SEED_WORD, w, n) & (DIM_TEXT - 1), 1);
        if (prev) {
            uint32_t h = hash_bytes(SEED_BIGRAM, prev, prevn);
            h = hash_bytes(h ^ 0x20, w, n);
            rc |= vec_push(v, h & (DIM_TEXT - 1), 1);
        }
        /* character 4-grams of " word " */
        if (n >= 2) {
            char buf[48];
            buf[0] = ' ';
            memcpy(buf + 1, w, n);
            buf[n + 1] = ' ';
            for (size_t i = 0; i + 4 <= n + 2 && rc == 0; i++)
                rc |= vec_push(v, hash_bytes(SEED_CHAR, buf + i, 4) & (DIM_TEXT - 1), 1);
        }
        prev = w;
        prevn = n;
    }
    g_free(low);
    if (rc) return -1;
    if (v->n > 1) {   /* idx is NULL when there is no text */
        uint32_t *tmp = malloc((size_t)v->n * sizeof *tmp);
        if (!tmp) return -1;
        radix_sort(v->idx, tmp, v->n);
        free(tmp);
    }
    int m = 0;
    double norm = 0;
    for (int i = 0; i < v->n;) {
        int j = i;
        while (j < v->n && v->idx[j] == v->idx[i]) j++;
        float x = (float)(1 + log((double)(j - i)));
        v->idx[m] = v->idx[i];
        v->val[m++] = x;
        norm += (double)x * x;
        i = j;
    }
    v->n = m;
    if (norm > 0) {
        float s = (float)(1 / sqrt(norm));
        for (int i = 0; i < m; i++) v->val[i] *= s;
    }
    for (int i = 0; i < ndense && i < RK_TM_MAX_DENSE; i++)
        if (dense[i] != 0 && vec_push(v, DIM_TEXT + (uint32_t)i, dense[i]) < 0) return -1;
    return 0;
}

/* ---- the model --------------------------------------------------------- */

static rk_textmodel_t *model_new(int ndense)
{
    rk_textmodel_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->w = calloc(DIM_TEXT + (size_t)ndense, sizeof *m->w);
    if (!m->w) { free(m); return NULL; }
    m->ndense = ndense;
    atomic_init(&m->refs, 1);
    return m;
}

static void model_free(rk_textmodel_t *m)
{
    for (int i = 0; i < m->ndense; i++) free(m->names[i]);
    for (int i = 0; i < m->nmetrics; i++) free(m->metric_names[i]);
    free(m->provenance);
    free(m->w);
    free(m);
}

rk_textmodel_t *rk_tm_retain(rk_textmodel_t *m)
{
    if (m) atomic_fetch_add(&m->refs, 1);
    return m;
}

void rk_tm_release(rk_textmodel_t *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) model_free(m);
}

void rk_tm_defaults(rk_tm_params_t *p)
{
    p->epochs = 6;
    p->rate = 0.5;
    p->l2 = 1e-6;
    p->seed = 1;
}

static double dot(const rk_textmodel_t *m, const rk_tm_vec_t *x)
{
    double z = m->bias;
    uint32_t dim = DIM_TEXT + (uint32_t)m->ndense;
    for (int i = 0; i < x->n; i++) if (x->idx[i] < dim) z += (double)m->w[x->idx[i]] * x->val[i];
    return z;
}

static double sigmoid(double z)
{
    if (z > 35) z = 35;
    if (z < -35) z = -35;
    return 1 / (1 + exp(-z));
}

double rk_tm_score(const rk_textmodel_t *m, const rk_tm_vec_t *x) { return sigmoid(dot(m, x)); }

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

rk_textmodel_t *rk_tm_train(const rk_tm_vec_t *rows, const int *labels, size_t n, const char *const *names,
                            int ndense, const rk_tm_params_t *p, char *err, size_t errlen)
{
    rk_tm_params_t dp;
    if (!p) { rk_tm_defaults(&dp); p = &dp; }
    if (ndense < 0 || ndense > RK_TM_MAX_DENSE) { snprintf(err, errlen, "at most %d dense features", RK_TM_MAX_DENSE); return NULL; }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) pos += labels[i] != 0;
    if (n == 0 || pos == 0 || pos == n) {
        snprintf(err, errlen, "training needs examples of both classes (%zu positive of %zu)", pos, n);
        return NULL;
    }
    rk_textmodel_t *m = model_new(ndense);
    size_t dim = DIM_TEXT + (size_t)ndense;
    float *g2 = calloc(dim, sizeof *g2);
    size_t *order = malloc(n * sizeof *order);
    if (!m || !g2 || !order) goto oom;
    for (int i = 0; i < ndense; i++)
        if (!(m->names[i] = strdup(names && names[i] ? names[i] : ""))) goto oom;
    double wpos = (double)n / (2.0 * (double)pos), wneg = (double)n / (2.0 * (double)(n - pos));
    double gb2 = 0;
    uint64_t s = p->seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (int e = 0; e < p->epochs; e++) {
        for (size_t i = n - 1; i > 0; i--) {   /* Fisher-Yates, seeded */
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            size_t j = (size_t)(s % (i + 1));
            size_t t = order[i]; order[i] = order[j]; order[j] = t;
        }
        for (size_t k = 0; k < n; k++) {
            const rk_tm_vec_t *x = &rows[order[k]];
            int y = labels[order[k]] != 0;
            double g = (sigmoid(dot(m, x)) - y) * (y ? wpos : wneg);
            for (int i = 0; i < x->n; i++) {
                uint32_t f = x->idx[i];
                if (f >= dim) continue;
                double gi = g * x->val[i] + p->l2 * m->w[f];
                g2[f] += (float)(gi * gi);
                m->w[f] -= (float)(p->rate * gi / (sqrt(g2[f]) + 1e-8));
            }
            gb2 += g * g;
            m->bias -= p->rate * g / (sqrt(gb2) + 1e-8);
        }
    }
    free(g2);
    free(order);
    m->created_ms = now_ms();
    return m;
oom:
    free(g2);
    free(order);
    if (m) model_free(m);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

int rk_tm_top(const rk_textmodel_t *m, const rk_tm_vec_t *x, int k, uint32_t *idx, double *contrib)
{
    int n = 0;
    uint32_t dim = DIM_TEXT + (uint32_t)m->ndense;
    for (int i = 0; i < x->n && k > 0; i++) {
        if (x->idx[i] >= dim) continue;
        double c = (double)m->w[x->idx[i]] * x->val[i];
        int j;
        if (n < k) j = n++;
        else if (c > contrib[k - 1]) j = k - 1;
        else continue;
        contrib[j] = c;
        idx[j] = x->idx[i];
        for (; j > 0 && contrib[j] > contrib[j - 1]; j--) {   /* largest first */
            double tc = contrib[j]; contrib[j] = contrib[j - 1]; contrib[j - 1] = tc;
            uint32_t ti = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = ti;
        }
    }
    return n;
}

int rk_tm_ndense(const rk_textmodel_t *m) { return m->ndense; }
const char *rk_tm_dense_name(const rk_textmodel_t *m, int i) { return i >= 0 && i < m->ndense ? m->names[i] : NULL; }
int64_t rk_tm_created(const rk_textmodel_t *m) { return m->created_ms; }
int rk_tm_nmetrics(const rk_textmodel_t *m) { return m->nmetrics; }

const char *rk_tm_metric(const rk_textmodel_t *m, int i, double *value)
{
    if (i < 0 || i >= m->nmetrics) return NULL;
    *value = m->metric_values[i];
    return m->metric_names[i];
}

int rk_tm_set_metric(rk_textmodel_t *m, const char *name, double value)
{
    for (int i = 0; i < m->nmetrics; i++)
        if (strcmp(m->metric_names[i], name) == 0) { m->metric_values[i] = value; return 0; }
    if (m->nmetrics >= RK_TM_MAX_METRICS) return -1;
    if (!(m->metric_names[m->nmetrics] = strdup(name))) return -1;
    m->metric_values[m->nmetrics++] = value;
    return 0;
}

int rk_tm_set_provenance(rk_textmodel_t *m, const char *text)
{
    if (strlen(text) > 65535) return -1;
    char *c = strdup(text);
    if (!c) return -1;
    free(m->provenance);
    m->provenance = c;
    return 0;
}

const char *rk_tm_provenance(const rk_textmodel_t *m) { return m->provenance ? m->provenance : ""; }

/* ---- the file ---------------------------------------------------------- */

static const char MAGIC[8] = { 'R', 'K', 'T', 'E', 'X', 'T', 'L', 'R' };




int rk_tm_save(const rk_textmodel_t *m, const char *path, char *err, size_t errlen)
{
    rk_wbuf_t b = { NULL, 0, 0, 0 };
    rk_wbuf_put(&b, MAGIC, sizeof MAGIC);
    RK_WBUF_PUT(&b, (uint32_t)RK_TM_FILE_VERSION);
    RK_WBUF_PUT(&b, (uint32_t)RK_TM_BITS);
    RK_WBUF_PUT(&b, (uint32_t)m->ndense);
    RK_WBUF_PUT(&b, m->created_ms);
    RK_WBUF_PUT(&b, (uint32_t)m->nmetrics);
    for (int i = 0; i < m->ndense; i++) rk_wbuf_put_str(&b, m->names[i]);
    for (int i = 0; i < m->nmetrics; i++) { rk_wbuf_put_str(&b, m->metric_names[i]); RK_WBUF_PUT(&b, m->metric_values[i]); }
    rk_wbuf_put_str(&b, rk_tm_provenance(m));
    RK_WBUF_PUT(&b, m->bias);
    rk_wbuf_put(&b, m->w, (DIM_TEXT + (size_t)m->ndense) * sizeof *m->w);
    return rk_wbuf_save(&b, path, err, errlen);   /* checksum, then beside the target and renamed */
}





rk_textmodel_t *rk_tm_parse(const unsigned char *data, size_t size, const char *path, char *err, size_t errlen)
{
    if (size < sizeof MAGIC + 8 + 8) { snprintf(err, errlen, "%s: not a riskd text model (size %zu)", path, size); return NULL; }
    if (memcmp(data, MAGIC, 8) != 0) { snprintf(err, errlen, "%s: not a riskd text model (bad magic)", path); return NULL; }
    rk_rbuf_t r = { data + 8, size - 16 };
    uint32_t version, bits, ndense, nmetrics;
    uint64_t sum;
    memcpy(&sum, data + size - 8, 8);
    if (RK_RBUF_GET(&r, version) < 0 || version < 1 || version > RK_TM_FILE_VERSION) {
        snprintf(err, errlen, "%s: text model file version %u, this riskd reads version %d", path, version, RK_TM_FILE_VERSION);
        return NULL;
    }
    if (rk_fnv1a(data, size - 8) != sum) { snprintf(err, errlen, "%s: checksum mismatch (truncated or corrupted)", path); return NULL; }
    int64_t created;
    if (RK_RBUF_GET(&r, bits) < 0 || bits != RK_TM_BITS || RK_RBUF_GET(&r, ndense) < 0 || ndense > RK_TM_MAX_DENSE ||
        RK_RBUF_GET(&r, created) < 0 || RK_RBUF_GET(&r, nmetrics) < 0 || nmetrics > RK_TM_MAX_METRICS) {
        snprintf(err, errlen, "%s: corrupt text model", path);
        return NULL;
    }
    rk_textmodel_t *m = model_new((int)ndense);
    if (!m) { snprintf(err, errlen, "out of memory"); return NULL; }
    m->created_ms = created;
    for (uint32_t i = 0; i < ndense; i++) if (!(m->names[i] = rk_rbuf_get_str(&r))) goto corrupt;
    for (uint32_t i = 0; i < nmetrics; i++) {
        if (!(m->metric_names[i] = rk_rbuf_get_str(&r))) goto corrupt;
        m->nmetrics++;
        if (RK_RBUF_GET(&r, m->metric_values[i]) < 0) goto corrupt;
    }
    if (version >= 2 && !(m->provenance = rk_rbuf_get_str(&r))) goto corrupt;
    size_t wbytes = (DIM_TEXT + (size_t)ndense) * sizeof *m->w;
    if (RK_RBUF_GET(&r, m->bias) < 0 || !isfinite(m->bias) || rk_rbuf_get(&r, m->w, wbytes) < 0 || r.left != 0) goto corrupt;
    for (size_t i = 0; i < DIM_TEXT + ndense; i++) if (!isfinite(m->w[i])) goto corrupt;
    return m;
corrupt:
    for (uint32_t i = 0; i < ndense; i++) if (!m->names[i]) { m->ndense = (int)i; break; }
    model_free(m);
    snprintf(err, errlen, "%s: corrupt text model", path);
    return NULL;
}

rk_textmodel_t *rk_tm_load(const char *path, char *err, size_t errlen)
{
    gchar *data = NULL;
    gsize size = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &data, &size, &ge)) {
        snprintf(err, errlen, "cannot open %s: %s", path, ge ? ge->message : "error");
        if (ge) g_error_free(ge);
        return NULL;
    }
    rk_textmodel_t *m = rk_tm_parse((const unsigned char *)data, size, path, err, errlen);
    g_free(data);
    return m;
}

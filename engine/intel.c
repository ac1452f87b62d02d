/* intel.c — see intel.h. */
#include "intel.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "intel_ipset.h"
#include "log.h"
#include "intel_pwindex.h"

#define PASSWORDS_FILE "passwords.sha1.idx"
#define MAX_SETS 256

/* One compiled file, shared by the snapshots that use it. */
typedef struct set {
    atomic_int refs;
    char name[64], file[256];
    int kind, expiring;
    dev_t dev; ino_t ino; off_t size; struct timespec mtime;
    rk_ipset_t *ips;
    char **pats; size_t npats;
    rk_ipset_info_t info;
    int64_t loaded_ms;
} set_t;

typedef struct entry {
    set_t *set;                      /* NULL when the file never loaded */
    char name[64], file[256];
    int kind;
    size_t nerrors;
    rk_intel_error_t errors[RK_INTEL_MAX_ERRORS];
    char failed[256];
} entry_t;

typedef struct pw {
    atomic_int refs;
    rk_pwindex_t *x;
    dev_t dev; ino_t ino; off_t size; struct timespec mtime;
    int64_t loaded_ms;
} pw_t;

typedef struct snap {
    atomic_int refs;
    entry_t *e; size_t n;            /* sorted by name */
    pw_t *pw;
    char pw_failed[256];
} snap_t;

struct rk_intel {
    char dir[1024];
    char state_dir[1024];            /* where the automatic sets live: riskd's own files, not the user's */
    pthread_mutex_t mu;              /* guards cur */
    pthread_mutex_t reload_mu;       /* one reload (or confirm) at a time */
    snap_t *cur;
    uint64_t generation;
    int64_t reloaded_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_release(set_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    rk_ipset_free(s->ips);
    for (size_t i = 0; i < s->npats; i++) free(s->pats[i]);
    free(s->pats);
    free(s);
}

static void pw_release(pw_t *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1) return;
    rk_pwindex_close(p->x);
    free(p);
}

static void snap_release(snap_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->n; i++) set_release(s->e[i].set);
    free(s->e);
    pw_release(s->pw);
    free(s);
}

static snap_t *acquire(rk_intel_t *in)
{
    pthread_mutex_lock(&in->mu);
    snap_t *s = in->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&in->mu);
    return s;
}

static const entry_t *find(const snap_t *s, const char *name, int kind)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->e[mid].name, name);
        if (c == 0) return s->e[mid].set && s->e[mid].kind == kind ? &s->e[mid] : NULL;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* ---- reading one file --------------------------------------------------- */

static int kind_of(const char *ext, int *expiring)
{
    *expiring = 0;
    if (!strcmp(ext, "txt") || !strcmp(ext, "netset") || !strcmp(ext, "ipset") || !strcmp(ext, "list")) return RK_INTEL_IPS;
    if (!strcmp(ext, "auto")) { *expiring = 1; return RK_INTEL_IPS; }
    if (!strcmp(ext, "patterns")) return RK_INTEL_PATTERNS;
    return -1;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n >= 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot open: %s", strerror(errno)); return NULL; }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *b = realloc(buf, cap);
            if (!b) { free(buf); fclose(f); snprintf(err, errlen, "out of memory"); return NULL; }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); snprintf(err, errlen, "cannot read: %s", strerror(errno)); return NULL; }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void note_error(entry_t *e, int line, const char *msg)
{
    if (e->nerrors < RK_INTEL_MAX_ERRORS) {
        e->errors[e->nerrors].line = line;
        snprintf(e->errors[e->nerrors].message, sizeof e->errors[e->nerrors].message, "%s", msg);
    }
    e->nerrors++;
}

static int add_pattern(set_t *s, const char *p, size_t n, size_t *cap)
{
    if (s->npats == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        char **v = realloc(s->pats, c * sizeof *v);
        if (!v) return -1;
        s->pats = v;
        *cap = c;
    }
    char *copy = malloc(n + 1);
    if (!copy) return -1;
    for (size_t i = 0; i < n; i++) copy[i] = (char)tolower((unsigned char)p[i]);
    copy[n] = '\0';
    s->pats[s->npats++] = copy;
    return 0;
}

/* Compiles the file into s; the lines' errors go to e. 0, or -1 when the
 * file cannot be used at all (e->failed says why). */
static int compile(set_t *s, const char *path, entry_t *e)
{
    char err[160];
    size_t len;
    char *text = slurp(path, &len, err, sizeof err);
    if (!text) { snprintf(e->failed, sizeof e->failed, "%s", err); return -1; }
    rk_ipset_builder_t *b = s->kind == RK_INTEL_IPS ? rk_ipset_builder_new() : NULL;
    size_t added = 0, cap = 0;
    int64_t now_s = now_ms() / 1000, line = 0;
    int oom = s->kind == RK_INTEL_IPS && !b;
    for (char *p = text, *end = text + len; p < end && !oom; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (s->kind == RK_INTEL_IPS) {
            int r = rk_ipset_builder_line(b, p, n, s->expiring, now_s, err, sizeof err);
            if (r < 0) note_error(e, (int)line + 1, err);
            added += r > 0;
        } else {
            size_t a = 0;
            while (a < n && isspace((unsigned char)p[a])) a++;
            size_t z = n;
            while (z > a && isspace((unsigned char)p[z - 1])) z--;
            if (z > a && p[a] != '#') {
                if (z - a > 200) note_error(e, (int)line + 1, "a pattern is at most 200 characters");
                else if (add_pattern(s, p + a, z - a, &cap) < 0) oom = 1;
                else added++;
            }
        }
        p += n + 1;
    }
    free(text);
    if (oom) { rk_ipset_builder_free(b); snprintf(e->failed, sizeof e->failed, "out of memory"); return -1; }
    if (added == 0 && e->nerrors > 0) {
        rk_ipset_builder_free(b);
        snprintf(e->failed, sizeof e->failed, "no valid line (%zu malformed)", e->nerrors);
        return -1;
    }
    if (b) {
        if (!(s->ips = rk_ipset_build(b))) { snprintf(e->failed, sizeof e->failed, "out of memory"); return -1; }
        rk_ipset_info(s->ips, &s->info);
    } else {
        s->info.entries = s->npats;
        for (size_t i = 0; i < s->npats; i++) s->info.memory += strlen(s->pats[i]) + 1 + sizeof(char *);
    }
    s->loaded_ms = now_ms();
    return 0;
}

static int same_file(const struct stat *st, dev_t dev, ino_t ino, off_t size, struct timespec mt)
{
    return st->st_dev == dev && st->st_ino == ino && st->st_size == size &&
           st->st_mtim.tv_sec == mt.tv_sec && st->st_mtim.tv_nsec == mt.tv_nsec;
}

static const entry_t *old_entry(const snap_t *old, const char *name)
{
    for (size_t i = 0; old && i < old->n; i++)
        if (!strcmp(old->e[i].name, name)) return &old->e[i];
    return NULL;
}

/* Loads (or reuses) one file into e. Returns 1 when it had errors. */
static int load_one(const char *folder, const snap_t *old, const char *fname, const char *name, int kind,
                    int expiring, const struct stat *st, entry_t *e)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", folder, fname);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->file, sizeof e->file, "%s", fname);
    e->kind = kind;
    const entry_t *prev = old_entry(old, name);
    if (prev && prev->set && !expiring && !strcmp(prev->file, fname) &&
        same_file(st, prev->set->dev, prev->set->ino, prev->set->size, prev->set->mtime)) {
        /* unchanged: the same compiled set, and what was said of it */
        *e = *prev;
        atomic_fetch_add(&e->set->refs, 1);
        return e->nerrors > 0 || e->failed[0];
    }
    set_t *s = calloc(1, sizeof *s);
    if (!s) { snprintf(e->failed, sizeof e->failed, "out of memory"); return 1; }
    atomic_init(&s->refs, 1);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->file, sizeof s->file, "%s", fname);
    s->kind = kind;
    s->expiring = expiring;
    s->dev = st->st_dev; s->ino = st->st_ino; s->size = st->st_size; s->mtime = st->st_mtim;
    if (compile(s, path, e) == 0) {
        e->set = s;
    } else {
        set_release(s);
        /* keep serving what the file held before */
        if (prev && prev->set && prev->kind == kind) {
            e->set = prev->set;
            atomic_fetch_add(&e->set->refs, 1);
        }
    }
    if (e->nerrors || e->failed[0]) {
        rk_log_t l;
        rk_log_begin(&l, RK_LOG_WARN, e->failed[0] ? "intel file rejected" : "intel file has malformed lines");
        rk_log_str(&l, "file", path);
        rk_log_int(&l, "malformed_lines", (int64_t)e->nerrors);
        if (e->nerrors) {
            rk_log_int(&l, "line", e->errors[0].line);
            rk_log_str(&l, "error", e->errors[0].message);
        }
        if (e->failed[0]) rk_log_str(&l, "reason", e->failed);
        rk_log_bool(&l, "kept_previous", e->failed[0] && e->set != NULL);
        rk_log_end(&l);
        return 1;
    }
    return 0;
}

static void load_passwords(rk_intel_t *in, const snap_t *old, snap_t *s, int *bad)
{
    char path[1300], err[256];
    snprintf(path, sizeof path, "%s/%s", in->dir, PASSWORDS_FILE);
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (old && old->pw && same_file(&st, old->pw->dev, old->pw->ino, old->pw->size, old->pw->mtime)) {
        s->pw = old->pw;
        atomic_fetch_add(&s->pw->refs, 1);
        return;
    }
    rk_pwindex_t *x = rk_pwindex_open(path, err, sizeof err);
    pw_t *p = x ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        rk_pwindex_close(x);
        snprintf(s->pw_failed, sizeof s->pw_failed, "%s", x ? "out of memory" : err);
        rk_log_msg(RK_LOG_WARN, "password index rejected", "error", s->pw_failed);
        (*bad)++;
        if (old && old->pw) { s->pw = old->pw; atomic_fetch_add(&s->pw->refs, 1); }
        return;
    }
    atomic_init(&p->refs, 1);
    p->x = x;
    p->dev = st.st_dev; p->ino = st.st_ino; p->size = st.st_size; p->mtime = st.st_mtim;
    p->loaded_ms = now_ms();
    s->pw = p;
}

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name); }

/* The sets of one folder into s: the user's files from the intel folder, the
 * automatic (.auto) ones from the state folder. */
static void scan(const char *folder, int want_auto, int warn_misplaced, const snap_t *old, snap_t *s, int *bad)
{
    DIR *d = opendir(folder);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *fname = de->d_name, *dot = strrchr(fname, '.');
        int expiring, kind;
        if (fname[0] == '.' || !dot || (kind = kind_of(dot + 1, &expiring)) < 0) continue;
        char path[1300];
        snprintf(path, sizeof path, "%s/%s", folder, fname);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (expiring != want_auto) {
            if (expiring && warn_misplaced)
                rk_log_msg(RK_LOG_WARN, "intel file ignored: automatic sets live in the state folder (--state)", "file", path);
            continue;
        }
        size_t nlen = (size_t)(dot - fname);
        char name[64];
        if (!valid_name(fname, nlen)) {
            rk_log_msg(RK_LOG_WARN, "intel file ignored: a set's name is 1-63 letters, digits, _ or -", "file", path);
            (*bad)++;
            continue;
        }
        memcpy(name, fname, nlen);
        name[nlen] = '\0';
        int dup = 0;
        for (size_t i = 0; i < s->n; i++) dup |= !strcmp(s->e[i].name, name);
        if (dup || s->n == MAX_SETS) {
            rk_log_msg(RK_LOG_WARN, dup ? "intel file ignored: another file gives a set that name" : "intel: too many sets", "file", path);
            (*bad)++;
            continue;
        }
        *bad += load_one(folder, old, fname, name, kind, expiring, &st, &s->e[s->n]);
        s->n++;
    }
    if (d) closedir(d);
}

static int reload_locked(rk_intel_t *in)
{
    snap_t *old = acquire(in);
    snap_t *s = calloc(1, sizeof *s);
    int bad = 0;
    if (!s || !(s->e = calloc(MAX_SETS, sizeof *s->e))) { free(s); snap_release(old); return 1; }
    atomic_init(&s->refs, 1);
    /* one folder may hold both (a tool opening a single folder) */
    int shared = !strcmp(in->dir, in->state_dir);
    scan(in->dir, 0, !shared, old, s, &bad);
    scan(in->state_dir, 1, 0, old, s, &bad);
    qsort(s->e, s->n, sizeof *s->e, cmp_entry);
    load_passwords(in, old, s, &bad);
    pthread_mutex_lock(&in->mu);
    snap_t *prev = in->cur;
    in->cur = s;
    in->generation++;
    in->reloaded_ms = now_ms();
    pthread_mutex_unlock(&in->mu);
    snap_release(prev);
    snap_release(old);
    return bad;
}

/* ---- the holder ----------------------------------------------------------- */

rk_intel_t *rk_intel_open(const char *dir, const char *state_dir)
{
    rk_intel_t *in = calloc(1, sizeof *in);
    snap_t *empty = calloc(1, sizeof *empty);
    if (!in || !empty) { free(in); free(empty); return NULL; }
    atomic_init(&empty->refs, 1);
    snprintf(in->dir, sizeof in->dir, "%s", dir);
    snprintf(in->state_dir, sizeof in->state_dir, "%s", state_dir ? state_dir : dir);
    pthread_mutex_init(&in->mu, NULL);
    pthread_mutex_init(&in->reload_mu, NULL);
    in->cur = empty;
    rk_intel_reload(in);
    return in;
}

void rk_intel_close(rk_intel_t *in)
{
    if (!in) return;
    snap_release(in->cur);
    pthread_mutex_destroy(&in->mu);
    pthread_mutex_destroy(&in->reload_mu);
    free(in);
}

const char *rk_intel_dir(const rk_intel_t *in) { return in->dir; }

int rk_intel_reload(rk_intel_t *in)
{
    pthread_mutex_lock(&in->reload_mu);
    int bad = reload_locked(in);
    pthread_mutex_unlock(&in->reload_mu);
    return bad;
}

int rk_intel_contains(rk_intel_t *in, const char *set, const rk_ip_t *ip)
{
    snap_t *s = acquire(in);
    const entry_t *e = find(s, set, RK_INTEL_IPS);
    int r = e ? rk_ipset_contains(e->set->ips, ip) : -1;
    snap_release(s);
    return r;
}

int rk_intel_match(rk_intel_t *in, const char *set, const char *text, size_t n, char *out, size_t cap)
{
    char low[1024];
    if (n >= sizeof low) n = sizeof low - 1;   /* user agents longer than this are cut */
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)text[i]);
    low[n] = '\0';
    snap_t *s = acquire(in);
    const entry_t *e = find(s, set, RK_INTEL_PATTERNS);
    int r = e ? 0 : -1;
    for (size_t i = 0; e && i < e->set->npats; i++) {
        if (strstr(low, e->set->pats[i])) {
            snprintf(out, cap, "%s", e->set->pats[i]);
            r = 1;
            break;
        }
    }
    snap_release(s);
    return r;
}

int64_t rk_intel_password_count(rk_intel_t *in, const char *pw, size_t n)
{
    snap_t *s = acquire(in);
    int64_t r = s->pw ? (int64_t)rk_pwindex_count_password(s->pw->x, pw, n) : -1;
    snap_release(s);
    return r;
}

int64_t rk_intel_password_range(rk_intel_t *in, uint32_t prefix,
                                void (*fn)(void *ud, const char *suffix, uint32_t count), void *ud)
{
    snap_t *s = acquire(in);
    int64_t r = s->pw ? (int64_t)rk_pwindex_range(s->pw->x, prefix, fn, ud) : -1;
    snap_release(s);
    return r;
}

/* ---- the automatic sets ----------------------------------------------------- */

typedef struct { char addr[48]; long long exp; } auto_line_t;

static int cmp_exp_desc(const void *a, const void *b)
{
    long long x = ((const auto_line_t *)a)->exp, y = ((const auto_line_t *)b)->exp;
    return (x < y) - (x > y);
}

int rk_intel_confirm(rk_intel_t *in, const char *set, const rk_ip_t *ip, int64_t expires_s, char *err, size_t errlen)
{
    if (!valid_name(set, strlen(set))) { snprintf(err, errlen, "'%s' is not a set name", set); return -1; }
    char path[1300], tmp[1300], addr[48];
    snprintf(path, sizeof path, "%s/%s.auto", in->state_dir, set);
    snprintf(tmp, sizeof tmp, "%s/.%s.auto.tmp", in->state_dir, set);
    rk_ip_format(ip, addr, sizeof addr);
    int64_t now_s = now_ms() / 1000;
    pthread_mutex_lock(&in->reload_mu);
    auto_line_t *v = malloc((RK_INTEL_AUTO_MAX + 1) * sizeof *v);
    size_t n = 0;
    int rc = -1;
    if (!v) { snprintf(err, errlen, "out of memory"); goto done; }
    FILE *f = fopen(path, "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f) && n < RK_INTEL_AUTO_MAX) {
            auto_line_t a;
            if (sscanf(line, "%47s %lld", a.addr, &a.exp) != 2 || a.exp <= now_s || !strcmp(a.addr, addr)) continue;
            v[n++] = a;
        }
        fclose(f);
    }
    snprintf(v[n].addr, sizeof v[n].addr, "%s", addr);
    v[n++].exp = expires_s;
    /* over the bound, the entries that would expire first go */
    qsort(v, n, sizeof *v, cmp_exp_desc);
    if (n > RK_INTEL_AUTO_MAX) n = RK_INTEL_AUTO_MAX;
    mkdir(in->state_dir, 0750);
    if (!(f = fopen(tmp, "w"))) { snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); goto done; }
    fprintf(f, "# written by riskd: address, expiry (Unix seconds)\n");
    for (size_t i = 0; i < n; i++) fprintf(f, "%s %lld\n", v[i].addr, v[i].exp);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) { snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno)); unlink(tmp); goto done; }
    reload_locked(in);
    rc = 0;
done:
    pthread_mutex_unlock(&in->reload_mu);
    free(v);
    return rc;
}

int rk_intel_info(rk_intel_t *in, rk_intel_info_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&in->mu);
    snap_t *s = in->cur;
    atomic_fetch_add(&s->refs, 1);
    out->generation = in->generation;
    out->reloaded_ms = in->reloaded_ms;
    pthread_mutex_unlock(&in->mu);
    snprintf(out->dir, sizeof out->dir, "%s", in->dir);
    out->sets = calloc(s->n ? s->n : 1, sizeof *out->sets);
    if (!out->sets) { snap_release(s); return -1; }
    out->nsets = s->n;
    for (size_t i = 0; i < s->n; i++) {
        const entry_t *e = &s->e[i];
        rk_intel_set_info_t *o = &out->sets[i];
        snprintf(o->name, sizeof o->name, "%s", e->name);
        snprintf(o->file, sizeof o->file, "%s", e->file);
        o->kind = e->kind;
        if (e->set) {
            o->entries = e->set->info.entries;
            o->ranges_v4 = e->set->info.ranges_v4;
            o->ranges_v6 = e->set->info.ranges_v6;
            o->memory = e->set->info.memory;
            o->loaded_ms = e->set->loaded_ms;
        }
        o->nerrors = e->nerrors;
        memcpy(o->errors, e->errors, sizeof o->errors);
        snprintf(o->failed, sizeof o->failed, "%s", e->failed);
    }
    if (s->pw) {
        out->has_passwords = 1;
        out->password_hashes = rk_pwindex_hashes(s->pw->x);
        out->password_bytes = rk_pwindex_bytes(s->pw->x);
        out->passwords_loaded_ms = s->pw->loaded_ms;
    }
    snprintf(out->passwords_failed, sizeof out->passwords_failed, "%s", s->pw_failed);
    snap_release(s);
    return 0;
}

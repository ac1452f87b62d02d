/* vm_snapshot.c — see vm_snapshot.h. */
#include "vm_snapshot.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    rk_snapshot_t *s;
    size_t cap;
    char *err;
    size_t errlen;
} loader_t;


static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int read_file(const char *full, rk_script_file_t *f, char *err, size_t errlen)
{
    FILE *fp = fopen(full, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", full, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(fileno(fp), &st) < 0 || st.st_size > (off_t)RK_SCRIPTS_MAX_FILE) {
        snprintf(err, errlen, "%s: too large or unreadable", full);
        goto done;
    }
    f->data = malloc((size_t)st.st_size + 1);
    if (!f->data) { snprintf(err, errlen, "out of memory"); goto done; }
    f->len = fread(f->data, 1, (size_t)st.st_size, fp);
    if (ferror(fp)) { snprintf(err, errlen, "%s: read error", full); goto done; }
    f->data[f->len] = '\0';
    rc = 0;
done:
    fclose(fp);
    return rc;
}

static int walk(loader_t *ld, const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(ld->err, ld->errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char full[4096], relp[4096];
        struct stat st;
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, de->d_name) >= sizeof full ||
            (size_t)snprintf(relp, sizeof relp, "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof relp)
            continue;
        if (stat(full, &st) < 0) continue;  /* vanished while we read: the next event rescans */
        if (S_ISDIR(st.st_mode)) { rc = walk(ld, full, relp); continue; }
        if (!S_ISREG(st.st_mode) || !ends_with(de->d_name, ".lua")) continue;
        if (ld->s->n >= RK_SCRIPTS_MAX_FILES) {
            snprintf(ld->err, ld->errlen, "%s: more than %d scripts", ld->s->root, RK_SCRIPTS_MAX_FILES);
            rc = -1;
            break;
        }
        if (ld->s->n == ld->cap) {
            size_t nc = ld->cap ? ld->cap * 2 : 16;
            rk_script_file_t *nf = realloc(ld->s->files, nc * sizeof *nf);
            if (!nf) { snprintf(ld->err, ld->errlen, "out of memory"); rc = -1; break; }
            ld->s->files = nf;
            ld->cap = nc;
        }
        rk_script_file_t *f = &ld->s->files[ld->s->n];
        memset(f, 0, sizeof *f);
        f->path = strdup(relp);
        if (!f->path) { snprintf(ld->err, ld->errlen, "out of memory"); rc = -1; break; }
        ld->s->n++;
        rc = read_file(full, f, ld->err, ld->errlen);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const rk_script_file_t *)a)->path, ((const rk_script_file_t *)b)->path);
}

static int copy_file(rk_script_file_t *out, const char *path, const char *data, size_t len)
{
    out->path = strdup(path);
    out->data = malloc(len + 1);
    if (!out->path || !out->data) { free(out->path); free(out->data); out->path = out->data = NULL; return -1; }
    memcpy(out->data, data, len);
    out->data[len] = '\0';
    out->len = len;
    return 0;
}

/* Sorted by path, with its digest. */
static void finish(rk_snapshot_t *s)
{
    if (s->n) qsort(s->files, s->n, sizeof *s->files, by_path);
    uint64_t h = RK_FNV_OFFSET;
    for (size_t i = 0; i < s->n; i++) {
        h = rk_fnv1a_add(h, s->files[i].path, strlen(s->files[i].path) + 1);
        h = rk_fnv1a_add(h, s->files[i].data, s->files[i].len);
        h = rk_fnv1a_add(h, "\xff", 1);
    }
    s->digest = h;
}

rk_snapshot_t *rk_snapshot_load(const char *root, char *err, size_t errlen)
{
    loader_t ld = { NULL, 0, err, errlen };
    ld.s = calloc(1, sizeof *ld.s);
    if (!ld.s || !(ld.s->root = strdup(root))) {
        snprintf(err, errlen, "out of memory");
        free(ld.s);
        return NULL;
    }
    atomic_init(&ld.s->refs, 1);
    if (walk(&ld, root, "") < 0) {
        rk_snapshot_release(ld.s);
        return NULL;
    }
    finish(ld.s);
    return ld.s;
}

rk_snapshot_t *rk_snapshot_with(const rk_snapshot_t *base, const char *path, const char *data, size_t len)
{
    rk_snapshot_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    s->files = calloc(base->n + 1, sizeof *s->files);
    if (!(s->root = strdup(base->root)) || !s->files) goto oom;
    int replaced = 0;
    for (size_t i = 0; i < base->n; i++) {
        const rk_script_file_t *f = &base->files[i];
        int same = strcmp(f->path, path) == 0;
        if (same) replaced = 1;
        if (same && !data) continue;   /* dropped */
        if (copy_file(&s->files[s->n], f->path, same ? data : f->data, same ? len : f->len) < 0) goto oom;
        s->n++;
    }
    if (!replaced && data) {
        if (copy_file(&s->files[s->n], path, data, len) < 0) goto oom;
        s->n++;
    }
    finish(s);
    return s;
oom:
    rk_snapshot_release(s);
    return NULL;
}

const rk_script_file_t *rk_snapshot_find(const rk_snapshot_t *s, const char *path)
{
    rk_script_file_t key = { (char *)path, NULL, 0 };
    if (!s->n) return NULL;
    return bsearch(&key, s->files, s->n, sizeof *s->files, by_path);
}

const rk_script_file_t *rk_snapshot_find_module(const rk_snapshot_t *s, const char *mod)
{
    char path[512];
    size_t n = strlen(mod);
    if (n == 0 || n + sizeof "/init.lua" > sizeof path) return NULL;
    for (size_t i = 0; i <= n; i++) path[i] = mod[i] == '.' ? '/' : mod[i];
    /* Refuse names that would walk out of the tree or are not plain names. */
    if (strstr(path, "//") || path[0] == '/' || path[n - 1] == '/') return NULL;
    memcpy(path + n, ".lua", 5);
    const rk_script_file_t *f = rk_snapshot_find(s, path);
    if (f) return f;
    memcpy(path + n, "/init.lua", 10);
    return rk_snapshot_find(s, path);
}

rk_snapshot_t *rk_snapshot_retain(rk_snapshot_t *s)
{
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

void rk_snapshot_release(rk_snapshot_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].data);
    }
    free(s->files);
    free(s->root);
    free(s);
}

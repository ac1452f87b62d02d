/* watch.c — see watch.h. */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MASK (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
                    IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB)

typedef struct {
    int wd;
    unsigned tag;
    char *path;
} wdir_t;

struct rk_watch {
    int fd;
    wdir_t *dirs;
    size_t n, cap;
    unsigned all_tags;
};

rk_watch_t *rk_watch_new(char *err, size_t errlen)
{
    rk_watch_t *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
        free(w);
        return NULL;
    }
    return w;
}

static wdir_t *find_wd(rk_watch_t *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->dirs[i].wd == wd) return &w->dirs[i];
    return NULL;
}

static int add_dir(rk_watch_t *w, const char *path, unsigned tag, char *err, size_t errlen)
{
    int wd = inotify_add_watch(w->fd, path, WATCH_MASK | IN_ONLYDIR);
    if (wd < 0) {
        snprintf(err, errlen, "inotify_add_watch %s: %s", path, strerror(errno));
        return -1;
    }
    wdir_t *d = find_wd(w, wd);
    if (d) return 0; /* already watched (the kernel reuses wd for the same inode) */
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 8;
        wdir_t *nd = realloc(w->dirs, nc * sizeof *nd);
        if (!nd) { snprintf(err, errlen, "out of memory"); return -1; }
        w->dirs = nd;
        w->cap = nc;
    }
    char *p = strdup(path);
    if (!p) { snprintf(err, errlen, "out of memory"); return -1; }
    w->dirs[w->n++] = (wdir_t){ wd, tag, p };
    return 0;
}

static int add_tree(rk_watch_t *w, const char *root, unsigned tag, char *err, size_t errlen)
{
    if (add_dir(w, root, tag, err, errlen) < 0) return -1;
    DIR *d = opendir(root);
    if (!d) return 0; /* removed in between: its parent's event triggers a rescan */
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char sub[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", root, de->d_name) >= sizeof sub) continue;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rc = add_tree(w, sub, tag, err, errlen);
    }
    closedir(d);
    return rc;
}

int rk_watch_add_tree(rk_watch_t *w, const char *root, unsigned tag, char *err, size_t errlen)
{
    w->all_tags |= tag;
    return add_tree(w, root, tag, err, errlen);
}

int rk_watch_fd(const rk_watch_t *w) { return w->fd; }

static void forget(rk_watch_t *w, int wd)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->dirs[i].wd != wd) continue;
        free(w->dirs[i].path);
        w->dirs[i] = w->dirs[--w->n];
        return;
    }
}

unsigned rk_watch_drain(rk_watch_t *w)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    unsigned changed = 0;
    for (;;) {
        ssize_t len = read(w->fd, buf, sizeof buf);
        if (len <= 0) break; /* EAGAIN: drained */
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) { changed |= w->all_tags; continue; }
            wdir_t *d = find_wd(w, ev->wd);
            if (!d) continue;
            unsigned tag = d->tag;
            if (ev->mask & IN_IGNORED) { forget(w, ev->wd); changed |= tag; continue; }
            if (ev->len && ev->name[0] == '.') continue; /* editor swap files */
            changed |= tag;
            if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR) && ev->len) {
                char sub[PATH_MAX];
                char err[256];
                if ((size_t)snprintf(sub, sizeof sub, "%s/%s", d->path, ev->name) < sizeof sub)
                    (void)add_tree(w, sub, tag, err, sizeof err);
            }
        }
    }
    return changed;
}

void rk_watch_free(rk_watch_t *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->dirs[i].path);
    free(w->dirs);
    close(w->fd);
    free(w);
}

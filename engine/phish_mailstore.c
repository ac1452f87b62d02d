/* phish_mailstore.c — see phish_mailstore.h. */
#include "phish_mailstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MESSAGE (64u << 20)   /* a bigger "message" is not mail; its parse refuses it anyway */

struct rk_mailstore {
    char **files;                /* the files to read, sorted */
    size_t nfiles, next_file;
    /* the mbox being read, if any */
    int fd;
    GMimeStream *stream;
    GMimeParser *parser;
    const char *mbox_path;
    int index;
    char source[4200];
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void start(void) { g_mime_init(); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_file(rk_mailstore_t *m, const char *path, size_t *cap)
{
    if (m->nfiles == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **nf = realloc(m->files, nc * sizeof *nf);
        if (!nf) return -1;
        m->files = nf;
        *cap = nc;
    }
    if (!(m->files[m->nfiles] = strdup(path))) return -1;
    m->nfiles++;
    return 0;
}

/* Regular files under dir, hidden ones aside; a maildir's tmp/ is skipped
 * (messages still being delivered). */
static int walk(rk_mailstore_t *m, const char *dir, size_t *cap, int depth)
{
    if (depth > 8) return 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "tmp") == 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) rc = walk(m, path, cap, depth + 1);
        else if (S_ISREG(st.st_mode)) rc = add_file(m, path, cap);
    }
    closedir(d);
    return rc;
}

rk_mailstore_t *rk_mailstore_open(const char *path, char *err, size_t errlen)
{
    pthread_once(&once, start);
    struct stat st;
    if (stat(path, &st) < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    rk_mailstore_t *m = calloc(1, sizeof *m);
    if (!m) { snprintf(err, errlen, "out of memory"); return NULL; }
    m->fd = -1;
    size_t cap = 0;
    int rc = S_ISDIR(st.st_mode) ? walk(m, path, &cap, 0) : add_file(m, path, &cap);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot be read", path);
        rk_mailstore_close(m);
        return NULL;
    }
    qsort(m->files, m->nfiles, sizeof *m->files, cmp_str);
    return m;
}

static void end_mbox(rk_mailstore_t *m)
{
    if (m->parser) g_object_unref(m->parser);
    if (m->stream) g_object_unref(m->stream);   /* closes the fd */
    else if (m->fd >= 0) close(m->fd);
    m->parser = NULL;
    m->stream = NULL;
    m->fd = -1;
    m->mbox_path = NULL;
}

/* Whether a file starts like an mbox ("From " on its first line). */
static int is_mbox(int fd)
{
    char head[5];
    return pread(fd, head, 5, 0) == 5 && memcmp(head, "From ", 5) == 0;
}

static int read_range(int fd, off_t from, size_t len, char **raw)
{
    *raw = malloc(len + 1);
    if (!*raw) return -1;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, *raw + got, len - got, from + (off_t)got);
        if (n <= 0) { free(*raw); *raw = NULL; return -1; }
        got += (size_t)n;
    }
    (*raw)[len] = '\0';
    return 0;
}

/* The next message of the open mbox: 1, 0 at its end, -1. */
static int mbox_next(rk_mailstore_t *m, char **raw, size_t *len)
{
    while (!g_mime_parser_eos(m->parser)) {
        GMimeMessage *msg = g_mime_parser_construct_message(m->parser, NULL);
        if (!msg) return 0;
        gint64 begin = g_mime_parser_get_headers_begin(m->parser), end = g_mime_parser_tell(m->parser);
        g_object_unref(msg);
        if (begin < 0 || end <= begin) continue;
        m->index++;
        size_t n = (size_t)(end - begin);
        if (n > MAX_MESSAGE) n = MAX_MESSAGE;
        if (read_range(m->fd, (off_t)begin, n, raw) < 0) return -1;
        *len = n;
        return 1;
    }
    return 0;
}

int rk_mailstore_next(rk_mailstore_t *m, char **raw, size_t *len, const char **source, char *err, size_t errlen)
{
    *raw = NULL;
    *len = 0;
    for (;;) {
        if (m->parser) {
            int rc = mbox_next(m, raw, len);
            if (rc != 0) {
                snprintf(m->source, sizeof m->source, "%s#%d", m->mbox_path, m->index);
                *source = m->source;
                if (rc < 0) snprintf(err, errlen, "%s: cannot be read", m->source);
                return rc;
            }
            end_mbox(m);
        }
        if (m->next_file >= m->nfiles) return 0;
        const char *path = m->files[m->next_file++];
        snprintf(m->source, sizeof m->source, "%s", path);
        *source = m->source;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
        if (is_mbox(fd)) {
            m->fd = fd;
            m->stream = g_mime_stream_fs_new(fd);
            m->parser = g_mime_parser_new_with_stream(m->stream);
            g_mime_parser_set_format(m->parser, GMIME_FORMAT_MBOX);
            m->mbox_path = path;
            m->index = 0;
            continue;
        }
        struct stat st;
        int rc = fstat(fd, &st);
        size_t n = rc == 0 ? (size_t)st.st_size : 0;
        if (n > MAX_MESSAGE) n = MAX_MESSAGE;
        rc = rc == 0 ? read_range(fd, 0, n, raw) : -1;
        close(fd);
        if (rc < 0) { snprintf(err, errlen, "%s: cannot be read", path); return -1; }
        *len = n;
        return 1;
    }
}

void rk_mailstore_close(rk_mailstore_t *m)
{
    if (!m) return;
    end_mbox(m);
    for (size_t i = 0; i < m->nfiles; i++) free(m->files[i]);
    free(m->files);
    free(m);
}

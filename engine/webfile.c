/* webfile.c — see webfile.h. */
#include "webfile.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *ext, *type; } types[] = {
    { "html", "text/html; charset=utf-8" }, { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" }, { "css", "text/css; charset=utf-8" },
    { "json", "application/json" }, { "map", "application/json" }, { "svg", "image/svg+xml" },
    { "png", "image/png" }, { "ico", "image/x-icon" }, { "jpg", "image/jpeg" }, { "webp", "image/webp" },
    { "woff2", "font/woff2" }, { "woff", "font/woff" }, { "txt", "text/plain; charset=utf-8" },
    { "webmanifest", "application/manifest+json" },
};

const char *rk_webfile_type(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(dot + 1, types[i].ext)) return types[i].type;
    return "application/octet-stream";
}

/* Every segment plain: no empty, ".", ".." or hidden one, no backslash. */
static int safe(const char *p)
{
    if (strchr(p, '\\')) return 0;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || s[0] == '.') return 0;
        s += n + (e ? 1 : 0);
        if (e && !*s) return 0;   /* a trailing slash */
    }
    return 1;
}

int rk_webfile_read(const char *root, const char *path, rk_webfile_t *out)
{
    memset(out, 0, sizeof *out);
    char want[PATH_MAX], real[PATH_MAX], rroot[PATH_MAX];
    if (!*path) path = "index.html";
    if (!safe(path)) return RK_WEBFILE_FORBIDDEN;
    if (!realpath(root, rroot)) return RK_WEBFILE_NOT_FOUND;
    if (snprintf(want, sizeof want, "%s/%s", rroot, path) >= (int)sizeof want) return RK_WEBFILE_NOT_FOUND;
    struct stat st;
    if (stat(want, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(want);
        if (n + 12 >= sizeof want) return RK_WEBFILE_NOT_FOUND;
        memcpy(want + n, "/index.html", 12);
    }
    /* a link may point anywhere: the file must really be inside the folder */
    size_t rl = strlen(rroot);
    if (!realpath(want, real) || strncmp(real, rroot, rl) != 0 || real[rl] != '/') return RK_WEBFILE_NOT_FOUND;
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return RK_WEBFILE_NOT_FOUND;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return RK_WEBFILE_NOT_FOUND; }
    if ((size_t)st.st_size > RK_WEBFILE_MAX) { close(fd); return RK_WEBFILE_TOO_BIG; }
    out->body = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (out->body && got < (size_t)st.st_size) {
        ssize_t r = read(fd, out->body + got, (size_t)st.st_size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!out->body || got != (size_t)st.st_size) { free(out->body); out->body = NULL; return RK_WEBFILE_NOT_FOUND; }
    out->len = got;
    out->content_type = rk_webfile_type(real);
    snprintf(out->etag, sizeof out->etag, "\"%llx-%llx.%lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
    return RK_WEBFILE_OK;
}

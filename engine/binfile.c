/* binfile.c — see binfile.h. */
#include "binfile.h"
#include "hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rk_wbuf_put(rk_wbuf_t *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n) nc *= 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

void rk_wbuf_put_str(rk_wbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 65535) n = 65535;
    RK_WBUF_PUT(b, (uint16_t)n);
    rk_wbuf_put(b, s, n);
}

int rk_wbuf_save(rk_wbuf_t *b, const char *path, char *err, size_t errlen)
{
    if (!b->oom) RK_WBUF_PUT(b, rk_fnv1a(b->p, b->len));
    if (b->oom) { free(b->p); b->p = NULL; snprintf(err, errlen, "out of memory"); return -1; }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(b->p, 1, b->len, f) == b->len;
    if (f && fclose(f) != 0) ok = 0;
    free(b->p);
    b->p = NULL;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int rk_rbuf_get(rk_rbuf_t *r, void *dst, size_t n)
{
    if (r->left < n) return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

char *rk_rbuf_get_str(rk_rbuf_t *r)
{
    uint16_t n;
    if (RK_RBUF_GET(r, n) < 0 || r->left < n) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    return s;
}

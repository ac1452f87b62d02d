/* webfile.h — a file of the web console folder (--web, default web/), read
 * for one answer: the path made safe (no "..", no hidden segments, nothing
 * outside the folder through a link), its content type from its extension,
 * and an ETag from its size and modification time, so that an edited file
 * is served at once (the console is hot-reloaded like the scripts) while an
 * unchanged one costs a 304. Pure C. */
#ifndef RK_WEBFILE_H
#define RK_WEBFILE_H

#include <stddef.h>

#define RK_WEBFILE_MAX (16u << 20)

typedef struct rk_webfile {
    char *body;                 /* malloc'd; free() it */
    size_t len;
    const char *content_type;   /* static */
    char etag[64];
} rk_webfile_t;

enum { RK_WEBFILE_OK = 0, RK_WEBFILE_NOT_FOUND = 1, RK_WEBFILE_FORBIDDEN = 2, RK_WEBFILE_TOO_BIG = 3 };

/* path is relative to root ("" = index.html; a folder = its index.html). */
int rk_webfile_read(const char *root, const char *path, rk_webfile_t *out);
const char *rk_webfile_type(const char *path);

#endif

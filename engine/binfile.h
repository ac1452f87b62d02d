/* binfile.h — what riskd's checked model files share (iforest.c,
 * textmodel.c): a growable write buffer, a bounds-checked reader, length-
 * prefixed strings, the FNV-1a checksum the files end with, and writing
 * beside the target then renaming, so a reader never sees half a file.
 * Little-endian as this machine writes it. Pure C. */
#ifndef RK_BINFILE_H
#define RK_BINFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_wbuf { unsigned char *p; size_t len, cap; int oom; } rk_wbuf_t;
typedef struct rk_rbuf { const unsigned char *p; size_t left; } rk_rbuf_t;

void rk_wbuf_put(rk_wbuf_t *b, const void *src, size_t n);    /* sets oom instead of failing */
void rk_wbuf_put_str(rk_wbuf_t *b, const char *s);            /* u16 length (capped), bytes */
/* Appends the checksum of everything before it and writes path through a
 * temporary file renamed over it. Frees the buffer. 0, or -1 with err. */
int rk_wbuf_save(rk_wbuf_t *b, const char *path, char *err, size_t errlen);

int rk_rbuf_get(rk_rbuf_t *r, void *dst, size_t n);           /* -1 past the end */
char *rk_rbuf_get_str(rk_rbuf_t *r);                          /* malloc'ed; NULL past the end */


#define RK_WBUF_PUT(b, v) do { __typeof__(v) _v = (v); rk_wbuf_put((b), &_v, sizeof _v); } while (0)
#define RK_RBUF_GET(r, v) rk_rbuf_get((r), &(v), sizeof (v))

#endif

/* phish_mailstore.h — the messages of a mail store, one at a time, as raw bytes:
 * an mbox file (split by GMime's mbox parser), a maildir (cur/ and new/)
 * or a folder of .eml files, or a single message file. Each comes with its
 * source ("file", or "file#index" in an mbox). Pure C.
 *
 * Every message is then parsed on its own by rk_phish_parse, with its
 * limits. The mbox pass itself trusts the file's MIME structure (GMime
 * parses each message to find where the next begins): mail stores are
 * given by the operator, not by the network. */
#ifndef RK_PHISH_MAILSTORE_H
#define RK_PHISH_MAILSTORE_H

#include <stddef.h>

typedef struct rk_mailstore rk_mailstore_t;

/* NULL with err when path cannot be read. */
rk_mailstore_t *rk_mailstore_open(const char *path, char *err, size_t errlen);
/* The next message: 1 with *raw (malloc'ed, the caller frees), *len and
 * source (valid until the next call); 0 at the end; -1 with err (a file
 * that cannot be read: the caller reports it and may go on). */
int rk_mailstore_next(rk_mailstore_t *m, char **raw, size_t *len, const char **source, char *err, size_t errlen);
void rk_mailstore_close(rk_mailstore_t *m);

#endif

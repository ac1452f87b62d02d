/* phish_norm.h — what says nothing about phishing, taken out of a message
 * before anything reads it, the same for training and for scoring: how the
 * message was stored (an mbox envelope line, CR before LF, blank lines at
 * the end) and who received it (the recipient's address and name in the
 * text a model reads). A model that sees these learns where its training
 * mail was kept instead of what phishing says. Pure C. */
#ifndef RK_PHISH_NORM_H
#define RK_PHISH_NORM_H

#include <stddef.h>

/* The stored bytes of a message as one canonical message: a leading mbox
 * "From " envelope line dropped, CRLF and lone CR made LF, trailing blank
 * lines dropped (one LF kept). A malloc'd, NUL-terminated copy (*outlen
 * bytes), NULL when out of memory. */
char *rk_phish_normalize(const char *raw, size_t len, size_t *outlen);

/* text with CR removed (CRLF becomes LF, a lone CR a LF) and every
 * occurrence of the recipient's address, and of its local part and the
 * first label of its domain as whole words of three letters or more,
 * replaced by RK_PHISH_RECIPIENT, case-insensitively. recipient may be
 * NULL or "". A malloc'd copy, NULL when out of memory. */
#define RK_PHISH_RECIPIENT "<recipient>"
char *rk_phish_mask_recipient(const char *text, const char *recipient);

#endif

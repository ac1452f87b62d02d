/* phish_norm.c — see phish_norm.h. */
#include "phish_norm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *rk_phish_normalize(const char *raw, size_t len, size_t *outlen)
{
    size_t start = 0;
    if (len >= 5 && memcmp(raw, "From ", 5) == 0) {
        const char *nl = memchr(raw, '\n', len);
        start = nl ? (size_t)(nl - raw) + 1 : len;
    }
    char *out = malloc(len - start + 2);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = start; i < len; i++) {
        if (raw[i] == '\r') {
            out[n++] = '\n';
            if (i + 1 < len && raw[i + 1] == '\n') i++;
        } else {
            out[n++] = raw[i];
        }
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\t')) n--;
    if (n > 0) out[n++] = '\n';
    out[n] = '\0';
    *outlen = n;
    return out;
}

static int word_char(unsigned char c) { return isalnum(c) || c == '_' || c >= 0x80; }

/* The length of the match of needle at p (case-insensitive), as a whole
 * word when word is set; 0 when it does not match there. */
static size_t match_at(const char *text, const char *p, const char *needle, size_t nlen, int word)
{
    if (!nlen || strncasecmp(p, needle, nlen) != 0) return 0;
    if (word && ((p > text && word_char((unsigned char)p[-1])) || word_char((unsigned char)p[nlen]))) return 0;
    return nlen;
}

char *rk_phish_mask_recipient(const char *text, const char *recipient)
{
    const char *needles[3] = { NULL, NULL, NULL };
    size_t lens[3] = { 0, 0, 0 };
    char local[256] = "", label[256] = "";
    if (recipient && *recipient) {
        const char *at = strchr(recipient, '@');
        if (strlen(recipient) >= 3) { needles[0] = recipient; lens[0] = strlen(recipient); }
        if (at) {
            size_t l = (size_t)(at - recipient);
            if (l >= 3 && l < sizeof local) { memcpy(local, recipient, l); local[l] = '\0'; }
            size_t d = strcspn(at + 1, ".");
            if (d >= 3 && d < sizeof label) { memcpy(label, at + 1, d); label[d] = '\0'; }
        }
        needles[1] = local;
        lens[1] = strlen(local);
        needles[2] = label;
        lens[2] = strlen(label);
    }
    size_t tlen = strlen(text), cap = tlen + 1, n = 0;
    /* Each masked match of at least 3 bytes grows by at most the token. */
    cap += (tlen / 3 + 1) * sizeof RK_PHISH_RECIPIENT;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *p = text; *p;) {
        size_t m = 0;
        for (int k = 0; k < 3 && !m; k++) m = match_at(text, p, needles[k], lens[k], k > 0);
        if (m) {
            memcpy(out + n, RK_PHISH_RECIPIENT, sizeof RK_PHISH_RECIPIENT - 1);
            n += sizeof RK_PHISH_RECIPIENT - 1;
            p += m;
        } else if (*p == '\r') {
            out[n++] = '\n';
            p += p[1] == '\n' ? 2 : 1;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

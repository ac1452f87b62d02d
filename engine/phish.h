/* phish.h — phishing email analysis: a message (parsed by phish_mime.c from
 * RFC 5322, or given as fields), its links (phish_html.c, phish_url.c) and
 * the indicators that do not depend on a training corpus. Pure C, no Lua.
 *
 * The text classifier that scores the wording is textmodel.h; this module
 * gives it the features (rk_phish_features) and the Lua pipeline
 * (scripts/lib/phishing.lua) combines both with the rules.
 */
#ifndef RK_PHISH_H
#define RK_PHISH_H

#include <stddef.h>
#include <stdint.h>

/* ---- the message ------------------------------------------------------- */

typedef struct rk_phish_att {
    char *name;                      /* "" when the part has none */
    char *type;                      /* "application/pdf" */
    size_t size;                     /* decoded bytes */
    char **contents;                 /* an archive's file names (phish_archive.h), or NULL */
    int ncontents;
} rk_phish_att_t;

typedef struct rk_phish_msg {
    char *from_name, *from_addr;     /* display name and address of From, "" when absent */
    int from_count;                  /* the entries From holds: a sender is one ("Name , <a@b>" is two) */
    int needless_encoding;           /* Subject or From encodes plain ASCII (rk_phish_needless_encoding) */
    char *reply_to, *return_path;    /* addresses, "" when absent */
    char *to;                        /* first recipient's address, "" when absent */
    char *subject, *message_id, *date;
    char *text;                      /* every text/plain part, UTF-8, capped */
    char *html;                      /* every text/html part, UTF-8, capped */
    char **auth;                     /* Authentication-Results and Received-SPF values */
    int nauth;
    rk_phish_att_t *atts;
    int natts;
    int nparts;                      /* MIME leaves seen */
    int truncated;                   /* text, html, parts or headers were capped */
} rk_phish_msg_t;

/* Limits against hostile messages. A message over max_bytes or with more
 * containers (multipart, message/rfc822) than max_parts is refused before
 * parsing: the depth of a MIME tree is bounded by its containers. */
typedef struct rk_phish_limits {
    size_t max_bytes;                /* 10 MiB */
    int max_parts;                   /* 200 */
    size_t max_text;                 /* 256 KiB of text and of HTML each */
    int max_auth;                    /* 16 */
    int max_atts;                    /* 64 */
    int max_ms;                      /* 2000: parts and archives after that are left out (truncated) */
} rk_phish_limits_t;

#define RK_PHISH_TOO_BIG 2
#define RK_PHISH_TOO_COMPLEX 3

void rk_phish_limits_default(rk_phish_limits_t *l);
/* Parses raw (need not be NUL-terminated). 0, or RK_PHISH_TOO_BIG /
 * RK_PHISH_TOO_COMPLEX / -1 (not a message) with err filled. *out is
 * always safe to free with rk_phish_msg_free. */
int rk_phish_parse(const char *raw, size_t len, const rk_phish_limits_t *lim, rk_phish_msg_t *out,
                   char *err, size_t errlen);
/* An empty message whose strings are "" (for building one from fields):
 * 0, or -1 when out of memory. */
int rk_phish_msg_init(rk_phish_msg_t *m);
void rk_phish_msg_free(rk_phish_msg_t *m);
/* Sets *field to a copy of s (capped at cap bytes, 0 = no cap); -1 out of memory. */
int rk_phish_set(char **field, const char *s, size_t len, size_t cap);

/* text (UTF-8) converted to charset (NULL or "utf-8": as is) and encoded
 * as how says: "base64", "quoted-printable", "header" (RFC 2047 encoded
 * words where needed), "phrase" (a display name: quoted or encoded as
 * needed) or "none". *out is malloc'ed. 0, or -1 (unknown
 * encoding or charset, out of memory). For writing messages (tests, the
 * generator); GMime does the work. */
int rk_phish_encode(const char *in, size_t len, const char *how, const char *charset, char **out, size_t *outlen);

/* ---- configuration ----------------------------------------------------- */

typedef struct rk_phish_cfg rk_phish_cfg_t;
/* protected: registrable domains of brands worth imitating ("paypal.com");
 * shorteners: registrable domains of URL shorteners. NULL-terminated lists,
 * copied. NULL when out of memory or the public suffix list is missing. */
rk_phish_cfg_t *rk_phish_cfg_new(const char *const *protected_domains, const char *const *shorteners,
                                 char *err, size_t errlen);
/* A configuration is shared by reference: free drops one (the last frees);
 * read-only after new, so threads may analyse with it at once. */
rk_phish_cfg_t *rk_phish_cfg_retain(rk_phish_cfg_t *c);
void rk_phish_cfg_free(rk_phish_cfg_t *c);

/* ---- the analysis ------------------------------------------------------ */

/* Indicators of one URL (bits of rk_phish_url_t.flags). */
enum {
    RK_PU_IP_HOST = 1 << 0,          /* host is an IP literal (dotted, decimal, hex, IPv6) */
    RK_PU_SHORTENER = 1 << 1,
    RK_PU_MANY_SUBDOMAINS = 1 << 2,  /* 3 or more labels above the registrable domain */
    RK_PU_LONG = 1 << 3,             /* over 120 characters */
    RK_PU_AT_SIGN = 1 << 4,          /* user info before the host: "https://paypal.com@evil.net" */
    RK_PU_PUNYCODE = 1 << 5,         /* an IDN label */
    RK_PU_MIXED_SCRIPT = 1 << 6,     /* Latin mixed with Cyrillic or Greek in one label */
    RK_PU_LOOKALIKE = 1 << 7,        /* close to a protected domain (edit distance, substitutions, confusables) */
    RK_PU_BRAND_IN_SUBDOMAIN = 1 << 8, /* "paypal.com.login-check.net" */
    RK_PU_BRAND_IN_DOMAIN = 1 << 9,  /* "paypal-secure.com" */
    RK_PU_TEXT_MISMATCH = 1 << 10,   /* the link's text shows another domain */
    RK_PU_NO_TLS = 1 << 11,          /* http:// */
    RK_PU_FORM_ACTION = 1 << 12,     /* where a form posts */
    RK_PU_DECEPTIVE_NAME = 1 << 13,  /* "wallet-verify", "secure-login": lure words joined by hyphens */
    RK_PU_CHEAP_TLD = 1 << 14,       /* a top-level domain mostly seen in abuse (.top, .xyz, .icu…) */
    RK_PU_NFLAGS = 15
};
extern const char *const rk_phish_url_flag_names[RK_PU_NFLAGS];

typedef struct rk_phish_url {
    char *url;
    char *host;                      /* lower case, as ASCII (punycode) */
    char *unicode_host;              /* the IDN's Unicode form, NULL when the same */
    char *domain;                    /* registrable domain, or the host when there is none */
    char *shown;                     /* domain the link's text shows, NULL when none */
    char *brand;                     /* the protected domain it imitates, NULL when none */
    unsigned flags;
} rk_phish_url_t;

/* Message indicators (rk_phish_result_t.flags). */
enum {
    RK_PM_DISPLAY_NAME = 1 << 0,     /* From's display name names another domain or a protected brand */
    RK_PM_REPLY_TO = 1 << 1,         /* Reply-To's domain is not From's */
    RK_PM_RETURN_PATH = 1 << 2,      /* Return-Path's domain is not From's */
    RK_PM_SPF_FAIL = 1 << 3,
    RK_PM_DKIM_FAIL = 1 << 4,
    RK_PM_DMARC_FAIL = 1 << 5,
    RK_PM_PASSWORD_FORM = 1 << 6,    /* an HTML form with a password field */
    RK_PM_RISKY_ATTACHMENT = 1 << 7, /* executable, script, macro document, HTML, disk image */
    RK_PM_DOUBLE_EXTENSION = 1 << 8, /* "invoice.pdf.exe" */
    RK_PM_ARCHIVE = 1 << 9,          /* zip, rar, 7z… (their contents are not opened) */
    RK_PM_URGENCY = 1 << 10,         /* urgency wording */
    RK_PM_CREDENTIALS = 1 << 11,     /* wording that asks for a password or a login */
    RK_PM_FROM_LOOKALIKE = 1 << 12,  /* the From domain imitates a protected one */
    RK_PM_PRIZE = 1 << 13,           /* wording of prizes, winnings, windfalls */
    RK_PM_NFLAGS = 14
};
extern const char *const rk_phish_msg_flag_names[RK_PM_NFLAGS];

#define RK_PHISH_MAX_URLS 256

typedef struct rk_phish_result {
    rk_phish_url_t *urls;
    int nurls;
    unsigned flags;
    int urgency_hits, credential_hits, prize_hits;   /* phrases found */
    char *body_text;                 /* text for the model: the plain part, else the HTML's visible text */
    char *from_domain;               /* registrable domain of From, "" when none */
    char *from_brand;                /* protected domain From imitates, NULL */
    int from_known_tld;              /* From's domain ends in a top-level domain the public suffix list names */
    int from_cheap_tld;              /* ...one mostly seen in abuse (rk_phish_cheap_tld) */
    int truncated_urls;
} rk_phish_result_t;

/* Analyses m: 0, or -1 (out of memory) with err. *out is always safe to
 * free with rk_phish_result_free. */
int rk_phish_analyze(const rk_phish_cfg_t *c, const rk_phish_msg_t *m, rk_phish_result_t *out,
                     char *err, size_t errlen);
void rk_phish_result_free(rk_phish_result_t *r);

/* The flags a model does not read: what the relays and the receiving host
 * say about a message (authentication results, bounce and reply
 * addresses) depends on where it was received and kept, and in any corpus
 * of real mail it tells the archive apart, not phishing (mailing lists
 * rewrite Reply-To and Return-Path; an archiver adds its own
 * Authentication-Results). The rules still read them. */
#define RK_PM_HEADER_FLAGS (RK_PM_REPLY_TO | RK_PM_RETURN_PATH | RK_PM_SPF_FAIL | RK_PM_DKIM_FAIL | RK_PM_DMARC_FAIL)
#define RK_PM_MODEL_NFLAGS (RK_PM_NFLAGS - 5)

/* The indicators as the text model's dense features: each message flag
 * but the header ones, each URL flag (set when any URL has it), then the
 * URL count and the wording hits, scaled to about 0..1. */
#define RK_PHISH_NDENSE (RK_PM_MODEL_NFLAGS + RK_PU_NFLAGS + 3)
void rk_phish_dense(const rk_phish_result_t *r, float out[RK_PHISH_NDENSE]);
const char *rk_phish_dense_name(int i);

/* ---- pieces, for the tests and for phish.c ----------------------------- */

/* The registrable domain of host (lower case ASCII) into out; the host
 * itself when it has none. */
void rk_phish_registrable(const rk_phish_cfg_t *c, const char *host, char *out, size_t cap);
/* Whether text is a dotted name whose last label is a top-level domain the
 * public suffix list names, or one kept for examples, tests and internal
 * networks ("iscsid.conf", "D.McMann" and "detran" are not domain names). */
int rk_phish_known_tld(const rk_phish_cfg_t *c, const char *text);
/* Damerau-Levenshtein distance (optimal string alignment), capped at 9. */
int rk_phish_edit_distance(const char *a, const char *b);
/* The entries of an address header's value as written (0 for NULL): the
 * non-empty stretches between commas outside quotes, angle brackets and
 * comments. A sender is one; "Name , <a@b>" is two. */
int rk_phish_address_entries(const char *v);
/* Whether a header's raw value holds an encoded word (RFC 2047) that hides
 * plain ASCII: base64 of 8 or more printable ASCII bytes, or Q with 4 or
 * more letters or digits written as =XX. */
int rk_phish_needless_encoding(const char *raw);
/* Whether s is an IP literal host. */
int rk_phish_is_ip_host(const char *host);

#endif

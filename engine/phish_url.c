/* phish_url.c — see phish_url.h. */
#include "phish_url.h"

#include <ctype.h>
#include <stdatomic.h>
#include <glib.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const rk_phish_url_flag_names[RK_PU_NFLAGS] = {
    "ip_host", "shortener", "many_subdomains", "long_url", "at_sign", "punycode", "mixed_script",
    "lookalike", "brand_in_subdomain", "brand_in_domain", "text_mismatch", "no_tls", "form_action",
    "deceptive_name", "cheap_tld",
};

typedef struct {
    char *domain;                    /* "paypal.com" */
    char *label;                     /* "paypal": the domain without its public suffix */
    char *norm;                      /* the label with substitutions undone */
} protected_t;

struct rk_phish_cfg {
    _Atomic int refs;               /* the Lua value's, and a pool task's while it analyses */
    const psl_ctx_t *psl;
    protected_t *prot;
    int nprot;
    char **short_domains;
    int nshort;
};

/* ---- configuration ----------------------------------------------------- */

static void lower_ascii(char *s) { for (; *s; s++) *s = (char)tolower((unsigned char)*s); }

void rk_phish_registrable(const rk_phish_cfg_t *c, const char *host, char *out, size_t cap)
{
    const char *r = rk_phish_is_ip_host(host) ? NULL : psl_registrable_domain(c->psl, host);
    snprintf(out, cap, "%s", r ? r : host);
}

int rk_phish_known_tld(const rk_phish_cfg_t *c, const char *text)
{
    /* Names for examples, tests and internal networks (RFC 2606, RFC 6761
     * and common practice) are real to the mail that uses them. */
    static const char *const special[] = { "example", "test", "invalid", "localhost", "local", "internal",
                                           "lan", "corp", "home", "intranet", "private", NULL };
    const char *dot = strrchr(text, '.');
    const char *tld = dot ? dot + 1 : text;
    if (!*tld || !dot) return 0;
    char low[64];
    size_t n = strlen(tld);
    if (n >= sizeof low) return 0;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)tld[i]);
    for (const char *const *sp = special; *sp; sp++) if (strcmp(low, *sp) == 0) return 1;
    return psl_is_public_suffix2(c->psl, low, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
}

/* Undoes the substitutions look-alike domains use: digits for letters and
 * letter pairs that read as one letter. */
static void normalize_label(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < cap; i++) {
        char ch = in[i], nx = in[i + 1];
        if (ch == 'r' && nx == 'n') { out[j++] = 'm'; i++; continue; }
        if (ch == 'v' && nx == 'v') { out[j++] = 'w'; i++; continue; }
        if (ch == 'c' && nx == 'l') { out[j++] = 'd'; i++; continue; }
        switch (ch) {
        case '0': ch = 'o'; break;
        case '1': case 'i': ch = 'l'; break;   /* i and l and 1 all read as one stroke */
        case '3': ch = 'e'; break;
        case '4': ch = 'a'; break;
        case '5': ch = 's'; break;
        case '7': ch = 't'; break;
        case '8': ch = 'b'; break;
        case '-': continue;
        default: break;
        }
        out[j++] = ch;
    }
    out[j] = '\0';
}

/* The label of a registrable domain: "paypal" of "paypal.co.uk". */
static void domain_label(const rk_phish_cfg_t *c, const char *domain, char *out, size_t cap)
{
    const char *suffix = psl_unregistrable_domain(c->psl, domain);
    size_t n = suffix && suffix > domain ? (size_t)(suffix - domain) : strlen(domain);
    if (n > 0 && domain[n - 1] == '.') n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, domain, n);
    out[n] = '\0';
}

rk_phish_cfg_t *rk_phish_cfg_new(const char *const *protected_domains, const char *const *shorteners,
                                 char *err, size_t errlen)
{
    rk_phish_cfg_t *c = calloc(1, sizeof *c);
    if (!c) goto oom;
    atomic_init(&c->refs, 1);
    c->psl = psl_latest(NULL);   /* the newer of the built-in list and the system's */
    if (!c->psl) c->psl = psl_builtin();
    if (!c->psl) { snprintf(err, errlen, "no public suffix list (install publicsuffix)"); rk_phish_cfg_free(c); return NULL; }
    int np = 0, ns = 0;
    while (protected_domains && protected_domains[np]) np++;
    while (shorteners && shorteners[ns]) ns++;
    c->prot = calloc((size_t)np + 1, sizeof *c->prot);
    c->short_domains = calloc((size_t)ns + 1, sizeof *c->short_domains);
    if (!c->prot || !c->short_domains) goto oom;
    for (int i = 0; i < np; i++) {
        char label[256], norm[256];
        char *d = strdup(protected_domains[i]);
        if (!d) goto oom;
        lower_ascii(d);
        domain_label(c, d, label, sizeof label);
        normalize_label(label, norm, sizeof norm);
        protected_t *p = &c->prot[c->nprot++];
        p->domain = d;
        if (!(p->label = strdup(label)) || !(p->norm = strdup(norm))) goto oom;
    }
    for (int i = 0; i < ns; i++) {
        if (!(c->short_domains[i] = strdup(shorteners[i]))) goto oom;
        lower_ascii(c->short_domains[i]);
        c->nshort++;
    }
    return c;
oom:
    snprintf(err, errlen, "out of memory");
    rk_phish_cfg_free(c);
    return NULL;
}

rk_phish_cfg_t *rk_phish_cfg_retain(rk_phish_cfg_t *c)
{
    if (c) atomic_fetch_add(&c->refs, 1);
    return c;
}

void rk_phish_cfg_free(rk_phish_cfg_t *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) > 1) return;
    if (c->psl && c->psl != psl_builtin()) psl_free((psl_ctx_t *)c->psl);
    for (int i = 0; i < c->nprot; i++) { free(c->prot[i].domain); free(c->prot[i].label); free(c->prot[i].norm); }
    for (int i = 0; i < c->nshort; i++) free(c->short_domains[i]);
    free(c->prot);
    free(c->short_domains);
    free(c);
}

int rk_phish_is_protected(const rk_phish_cfg_t *c, const char *domain)
{
    for (int i = 0; i < c->nprot; i++) if (strcmp(c->prot[i].domain, domain) == 0) return 1;
    return 0;
}

/* ---- strings ----------------------------------------------------------- */

int rk_phish_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 9;
    if ((n > m ? n - m : m - n) > 8) return 9;
    int d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;   /* transposition */
            d[i][j] = v;
        }
    return d[n][m] > 9 ? 9 : d[n][m];
}

int rk_phish_is_ip_host(const char *h)
{
    if (!*h) return 0;
    if (h[0] == '[' || strchr(h, ':')) return 1;                       /* IPv6 */
    if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) return 1;         /* 0xC0A80001 */
    int dots = 0;
    for (const char *p = h; *p; p++) {
        if (*p == '.') dots++;
        else if (!isdigit((unsigned char)*p)) return 0;
    }
    return dots <= 3;   /* dotted quad, or one decimal number (http://3232235777/) */
}

/* ---- scripts and confusables ------------------------------------------ */

enum { SC_NONE = 0, SC_LATIN = 1, SC_GREEK = 2, SC_CYRILLIC = 4, SC_OTHER = 8 };

static int script_of(gunichar ch)
{
    if (ch < 0x80) return isalpha((int)ch) ? SC_LATIN : SC_NONE;
    if ((ch >= 0xC0 && ch <= 0x24F) || (ch >= 0x1E00 && ch <= 0x1EFF)) return SC_LATIN;
    if (ch >= 0x370 && ch <= 0x3FF) return SC_GREEK;
    if (ch >= 0x400 && ch <= 0x52F) return SC_CYRILLIC;
    return g_unichar_isalpha(ch) ? SC_OTHER : SC_NONE;
}

/* The Latin letter a character is drawn like, or 0. */
static char confusable(gunichar ch)
{
    static const struct { gunichar u; char a; } map[] = {
        { 0x0430, 'a' }, { 0x0435, 'e' }, { 0x043E, 'o' }, { 0x0440, 'p' }, { 0x0441, 'c' }, { 0x0443, 'y' },
        { 0x0445, 'x' }, { 0x0455, 's' }, { 0x0456, 'i' }, { 0x0458, 'j' }, { 0x0501, 'd' }, { 0x04BB, 'h' },
        { 0x04CF, 'l' }, { 0x051B, 'q' }, { 0x051D, 'w' }, { 0x0432, 'b' }, { 0x043A, 'k' }, { 0x043D, 'h' },
        { 0x043C, 'm' }, { 0x0442, 't' }, { 0x03B1, 'a' }, { 0x03BF, 'o' }, { 0x03BD, 'v' }, { 0x03C1, 'p' },
        { 0x03B9, 'i' }, { 0x03BA, 'k' }, { 0x03C5, 'u' }, { 0x03C7, 'x' }, { 0x03B5, 'e' }, { 0x03C4, 't' },
        { 0x0131, 'i' }, { 0x0142, 'l' }, { 0x0261, 'g' }, { 0x0251, 'a' },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) if (map[i].u == ch) return map[i].a;
    if (ch >= 0xC0 && ch <= 0x17F) {   /* Latin letters with diacritics: their base letter */
        gunichar dec[4];
        gsize n = g_unichar_fully_decompose(ch, FALSE, dec, 4);
        if (n >= 1 && dec[0] < 0x80 && isalpha((int)dec[0])) return (char)tolower((int)dec[0]);
    }
    return 0;
}

/* The ASCII skeleton of a UTF-8 label (confusables to their Latin letter)
 * and the scripts its letters come from. */
static int skeleton(const char *label, char *out, size_t cap)
{
    int scripts = 0;
    size_t j = 0;
    for (const char *p = label; *p && j + 1 < cap; p = g_utf8_next_char(p)) {
        gunichar ch = g_utf8_get_char_validated(p, -1);
        if (ch == (gunichar)-1 || ch == (gunichar)-2) break;
        scripts |= script_of(ch);
        if (ch < 0x80) out[j++] = (char)tolower((int)ch);
        else { char a = confusable(ch); out[j++] = a ? a : '?'; }
    }
    out[j] = '\0';
    return scripts;
}

/* ---- look-alikes ------------------------------------------------------- */

static const char *match_label(const rk_phish_cfg_t *c, const char *label)
{
    char norm[256];
    normalize_label(label, norm, sizeof norm);
    size_t len = strlen(label);
    for (int i = 0; i < c->nprot; i++) {
        const protected_t *p = &c->prot[i];
        if (strcmp(label, p->label) == 0) continue;   /* the same name under another suffix: below */
        if (strcmp(norm, p->norm) == 0) return p->domain;
        size_t pl = strlen(p->label);
        if (pl < 4 || len < 3) continue;              /* short names: only exact substitutions */
        /* Typos of short names are other real names ("qmail", "pcloud",
         * "mail"): edit distance only for names of seven letters or more. */
        if (pl < 7 || (len > pl ? len - pl : pl - len) > 1) continue;   /* the distance is at least that */
        if (rk_phish_edit_distance(label, p->label) <= 1) return p->domain;
    }
    return NULL;
}

const char *rk_phish_lookalike(const rk_phish_cfg_t *c, const char *domain)
{
    if (rk_phish_is_protected(c, domain)) return NULL;
    char label[256];
    domain_label(c, domain, label, sizeof label);
    const char *hit = NULL;
    if (strstr(label, "xn--")) {   /* an IDN: its Unicode skeleton */
        char *u = NULL;
        if (idn2_to_unicode_8z8z(label, &u, 0) == IDN2_OK && u) {
            char sk[256];
            skeleton(u, sk, sizeof sk);
            for (int i = 0; i < c->nprot && !hit; i++)
                if (strcmp(sk, c->prot[i].label) == 0) hit = c->prot[i].domain;
            if (!hit && !strchr(sk, '?')) hit = match_label(c, sk);
        }
        free(u);
        return hit;
    }
    hit = match_label(c, label);
    if (hit) return hit;
    /* The brand's name under another generic suffix ("paypal.support" for
     * "paypal.com"). Under a country's suffix ("amazon.es", "google.co.uk")
     * it is most often the brand's own site, but for the few country
     * suffixes sold freely and mostly seen in abuse. */
    const char *suffix = domain + strlen(label);
    if (*suffix == '.') suffix++;
    static const char *const abused_cc[] = { "co", "tk", "ml", "ga", "cf", "gq", "cc", "ws", "su", NULL };
    int country = strlen(suffix) == 2 || (strlen(suffix) > 3 && suffix[strlen(suffix) - 3] == '.');
    for (const char *const *a = abused_cc; *a && country; a++) if (strcmp(suffix, *a) == 0) country = 0;
    for (int i = 0; i < c->nprot && !country; i++)
        if (strcmp(label, c->prot[i].label) == 0) return c->prot[i].domain;
    return NULL;
}

const char *rk_phish_brand_in_domain(const rk_phish_cfg_t *c, const char *domain)
{
    if (rk_phish_is_protected(c, domain)) return NULL;
    char label[256], norm[256];
    domain_label(c, domain, label, sizeof label);
    normalize_label(label, norm, sizeof norm);
    int hyphen = strchr(label, '-') != NULL;
    for (int i = 0; i < c->nprot; i++) {
        const protected_t *p = &c->prot[i];
        size_t pl = strlen(p->norm);
        if (pl < 4 || strcmp(norm, p->norm) == 0 || !strstr(norm, p->norm)) continue;
        if (hyphen || pl >= 7) return p->domain;   /* "pineapple" is not Apple, "openoffice" not Office; "apple-id" is */
    }
    return NULL;
}

/* Words that lure a reader into signing in, in several languages. */
static const char *const LURE[] = {
    "verify", "verification", "verifizierung", "weryfikacja", "verifica", "verificar", "secure", "security", "login",
    "signin", "logon", "account", "konto", "update", "support", "auth", "wallet", "recovery", "restore", "unlock",
    "confirm", "billing", "invoice", "invoicing", "payment", "docs", "share", "invitation", "alert", "helpdesk", "webmail",
    "mailbox", "leverans", "delivery", "parcel", "customs", NULL,
};

int rk_phish_deceptive_name(const rk_phish_cfg_t *c, const char *domain)
{
    if (rk_phish_is_protected(c, domain)) return 0;
    char label[256];
    domain_label(c, domain, label, sizeof label);
    if (!strchr(label, '-')) return 0;
    /* a lure word as one of the hyphenated parts */
    for (char *part = label; *part;) {
        size_t n = strcspn(part, "-");
        for (const char *const *w = LURE; *w; w++)
            if (strlen(*w) == n && strncmp(part, *w, n) == 0) return 1;
        part += n;
        if (*part == '-') part++;
    }
    return 0;
}

int rk_phish_cheap_tld(const char *domain)
{
    static const char *const cheap[] = { "top", "xyz", "icu", "online", "site", "live", "club", "shop", "support",
                                         "buzz", "rest", "cyou", "monster", "quest", "sbs", "cfd", "click", "link",
                                         "work", "tk", "ml", "ga", "cf", "gq", NULL };
    const char *dot = strrchr(domain, '.');
    const char *tld = dot ? dot + 1 : domain;
    for (const char *const *t = cheap; *t; t++) if (strcmp(tld, *t) == 0) return 1;
    return 0;
}

const char *rk_phish_brand_named(const rk_phish_cfg_t *c, const char *text)
{
    for (int i = 0; i < c->nprot; i++) {
        const char *l = c->prot[i].label;
        size_t n = strlen(l);
        if (n < 3) continue;
        for (const char *p = strstr(text, l); p; p = strstr(p + 1, l)) {
            int before = p == text || !isalnum((unsigned char)p[-1]);
            int after = !isalnum((unsigned char)p[n]);
            if (before && after) return c->prot[i].domain;
        }
    }
    return NULL;
}

/* ---- one URL ----------------------------------------------------------- */

void rk_phish_url_free(rk_phish_url_t *u)
{
    if (!u) return;
    free(u->url); free(u->host); free(u->unicode_host); free(u->domain); free(u->shown); free(u->brand);
    memset(u, 0, sizeof *u);
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* The domain a link's text shows ("www.paypal.com/login" → "paypal.com"),
 * or "" when it shows none. */
static void shown_domain(const rk_phish_cfg_t *c, const char *text, char *out, size_t cap)
{
    out[0] = '\0';
    char buf[256];
    const char *p = text;
    while (*p) {
        while (*p && !isalnum((unsigned char)*p)) p++;
        size_t n = 0;
        while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '.' || p[n] == '-' || p[n] == ':' || p[n] == '/') && n < sizeof buf - 1) n++;
        if (n == 0) break;
        memcpy(buf, p, n);
        buf[n] = '\0';
        p += n;
        char *host = buf;
        char *s = strstr(host, "://");
        if (s) host = s + 3;
        host[strcspn(host, "/:")] = '\0';
        lower_ascii(host);
        size_t hl = strlen(host);
        while (hl && host[hl - 1] == '.') host[--hl] = '\0';
        char *dot = strrchr(host, '.');
        if (!dot || strlen(dot + 1) < 2) continue;
        int alpha = 1;
        for (const char *q = dot + 1; *q; q++) if (!isalpha((unsigned char)*q)) alpha = 0;
        if (!alpha || !rk_phish_known_tld(c, host)) continue;
        const char *r = psl_registrable_domain(c->psl, host);
        if (r) { snprintf(out, cap, "%s", r); return; }
    }
}

int rk_phish_url_analyze(const rk_phish_cfg_t *c, const char *url, size_t len, const char *shown_text,
                         rk_phish_url_t *u)
{
    memset(u, 0, sizeof *u);
    while (len && isspace((unsigned char)*url)) { url++; len--; }
    while (len && isspace((unsigned char)url[len - 1])) len--;
    const char *rest = NULL;
    if (len > 7 && strncasecmp(url, "http://", 7) == 0) { rest = url + 7; u->flags |= RK_PU_NO_TLS; }
    else if (len > 8 && strncasecmp(url, "https://", 8) == 0) rest = url + 8;
    else if (len > 4 && strncasecmp(url, "www.", 4) == 0) rest = url;
    else return 1;
    const char *end = url + len;
    size_t alen = 0;
    while (rest + alen < end && rest[alen] != '/' && rest[alen] != '?' && rest[alen] != '#' && rest[alen] != '\\') alen++;
    const char *host = rest, *at = NULL;
    for (const char *p = rest; p < rest + alen; p++) if (*p == '@') at = p;
    if (at) { u->flags |= RK_PU_AT_SIGN; host = at + 1; }
    size_t hlen = (size_t)(rest + alen - host);
    if (hlen && host[0] == '[') {
        const char *rb = memchr(host, ']', hlen);
        hlen = rb ? (size_t)(rb - host) + 1 : hlen;
    } else {
        const char *colon = memchr(host, ':', hlen);
        if (colon) hlen = (size_t)(colon - host);
    }
    while (hlen && host[hlen - 1] == '.') hlen--;
    if (hlen == 0 || hlen > 253) return 1;
    if (!(u->url = dupn(url, len)) || !(u->host = dupn(host, hlen))) goto oom;
    /* Hosts written in Unicode are compared in their ASCII form. */
    int non_ascii = 0;
    for (char *p = u->host; *p; p++) { if ((unsigned char)*p >= 0x80) non_ascii = 1; else *p = (char)tolower((unsigned char)*p); }
    if (non_ascii) {
        char *ascii = NULL;
        if (idn2_to_ascii_8z(u->host, &ascii, IDN2_NONTRANSITIONAL) == IDN2_OK && ascii) {
            free(u->host);
            u->host = strdup(ascii);
            free(ascii);
            if (!u->host) goto oom;
        } else {
            free(ascii);
        }
    }
    if (len > 120) u->flags |= RK_PU_LONG;
    char dom[256];
    if (rk_phish_is_ip_host(u->host)) {
        u->flags |= RK_PU_IP_HOST;
        snprintf(dom, sizeof dom, "%s", u->host);
    } else {
        rk_phish_registrable(c, u->host, dom, sizeof dom);
        if (strstr(u->host, "xn--")) {
            u->flags |= RK_PU_PUNYCODE;
            char *uni = NULL;
            if (idn2_to_unicode_8z8z(u->host, &uni, 0) == IDN2_OK && uni) {
                /* Mixed scripts inside any one label. */
                char **labels = g_strsplit(uni, ".", 0);
                for (char **l = labels; *l; l++) {
                    char sk[256];
                    int sc = skeleton(*l, sk, sizeof sk);
                    if ((sc & SC_LATIN) && (sc & (SC_GREEK | SC_CYRILLIC))) u->flags |= RK_PU_MIXED_SCRIPT;
                    if ((sc & SC_GREEK) && (sc & SC_CYRILLIC)) u->flags |= RK_PU_MIXED_SCRIPT;
                }
                g_strfreev(labels);
                u->unicode_host = uni;
            } else {
                free(uni);
            }
        }
        /* Labels above the registrable domain, "www" aside. */
        size_t hl = strlen(u->host), dl = strlen(dom);
        int extra = 0;
        if (hl > dl) {
            const char *h = u->host;
            if (strncmp(h, "www.", 4) == 0) h += 4;
            for (const char *p = h; p < u->host + hl - dl; p++) if (*p == '.') extra++;
            char sub[256];
            size_t sl = (size_t)(u->host + hl - dl - h);
            snprintf(sub, sizeof sub, "%.*s", (int)(sl > 255 ? 255 : sl), h);
            for (int i = 0; i < c->nprot && !u->brand; i++) {
                char *p = strstr(sub, c->prot[i].label);
                size_t pl = strlen(c->prot[i].label);
                /* a whole label or a hyphenated part; a long name may also
                 * start a label ("login-microsoftonline.x.com") */
                int starts = p && (p == sub || p[-1] == '.' || p[-1] == '-');
                int ends = p && (p[pl] == '.' || p[pl] == '-' || !p[pl] || pl >= 6);
                if (starts && ends && !rk_phish_is_protected(c, dom)) {
                    u->flags |= RK_PU_BRAND_IN_SUBDOMAIN;
                    if (!(u->brand = strdup(c->prot[i].domain))) goto oom;
                }
            }
        }
        if (extra >= 3) u->flags |= RK_PU_MANY_SUBDOMAINS;
        for (int i = 0; i < c->nshort; i++) if (strcmp(dom, c->short_domains[i]) == 0) u->flags |= RK_PU_SHORTENER;
        if (rk_phish_deceptive_name(c, dom)) u->flags |= RK_PU_DECEPTIVE_NAME;
        if (rk_phish_cheap_tld(dom)) u->flags |= RK_PU_CHEAP_TLD;
        if (!u->brand) {
            const char *look = rk_phish_lookalike(c, dom);
            if (look) {
                u->flags |= RK_PU_LOOKALIKE;
                if (!(u->brand = strdup(look))) goto oom;
            }
        }
        if (!u->brand) {
            const char *in = rk_phish_brand_in_domain(c, dom);
            if (in) {
                u->flags |= RK_PU_BRAND_IN_DOMAIN;
                if (!(u->brand = strdup(in))) goto oom;
            }
        }
    }
    if (!(u->domain = strdup(dom))) goto oom;
    if (shown_text && *shown_text) {
        char shown[256];
        shown_domain(c, shown_text, shown, sizeof shown);
        if (shown[0] && strcmp(shown, dom) != 0) {
            u->flags |= RK_PU_TEXT_MISMATCH;
            if (!(u->shown = strdup(shown))) goto oom;
        }
    }
    return 0;
oom:
    rk_phish_url_free(u);
    return -1;
}

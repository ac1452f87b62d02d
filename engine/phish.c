/* phish.c — a message's indicators: its links (every URL of the text, every
 * href and form action of the HTML, with the text each link shows),
 * sender consistency, authentication results, forms asking for a password,
 * risky attachments, and the wording of urgency and of credential requests
 * in several languages. The corpus-free half of the verdict.
 */
#include "phish.h"
#include "phish_html.h"
#include "phish_norm.h"
#include "phish_url.h"

#include <ctype.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const rk_phish_msg_flag_names[RK_PM_NFLAGS] = {
    "display_name_mismatch", "reply_to_mismatch", "return_path_mismatch", "spf_fail", "dkim_fail", "dmarc_fail",
    "password_form", "risky_attachment", "double_extension", "archive_attachment", "urgency", "credential_request",
    "sender_lookalike", "prize_wording",
};

/* Lower-case phrases; a hit is any occurrence in the lower-cased subject
 * and body. Kept short and common: the model learns the rest. */
static const char *const urgency_words[] = {
    "urgent", "immediately", "within 24 hours", "within 48 hours", "account will be", "suspended", "suspension",
    "locked", "final notice", "last warning", "expires today", "act now", "unusual activity", "unauthorized",
    "restricted", "deactivated", "verify within",
    "dringend", "sofort", "gesperrt", "innerhalb von 24 stunden",                 /* de */
    "urgente", "inmediatamente", "suspendida", "bloqueada",                       /* es */
    "immédiatement", "suspendu", "bloqué", "sous 24 heures", "dernier avis",      /* fr */
    "immediatamente", "sospeso", "bloccato",                                       /* it */
    "imediatamente", "suspensa", "bloqueado",                                      /* pt */
    "onmiddellijk", "geblokkeerd",                                                 /* nl */
    "срочно", "заблокирован",                                                       /* ru */
    "zablokowane", "w ciągu 24 godzin", "natychmiast",                             /* pl */
    "inom 24 timmar", "inom 48 timmar", "returneras",                              /* sv */
    "24時間以内", "停止されました", "至急", "直ちに",                                   /* ja */
    NULL,
};
static const char *const credential_words[] = {
    "password", "passcode", "verify your account", "confirm your account", "confirm your identity",
    "update your account", "update your payment", "login details", "log in to", "sign in to", "sign-in",
    "credentials", "security question", "social security", "card number",
    "passwort", "kennwort", "anmelden", "bestätigen sie",                          /* de */
    "contraseña", "iniciar sesión", "verifique su cuenta",                         /* es */
    "mot de passe", "identifiant", "connectez-vous", "vérifier votre compte",      /* fr */
    "accedi", "verifica il tuo account",                                           /* it */
    "senha", "verifique sua conta",                                                /* pt */
    "wachtwoord", "inloggen",                                                      /* nl */
    "пароль",                                                                       /* ru */
    "sign in with", "work account", "log in with", "recovery phrase", "seed phrase",
    "zaloguj", "potwierdź swoje dane", "hasło",                                    /* pl */
    "logga in", "lösenord", "bekräfta",                                            /* sv */
    "パスワード", "ログイン", "リカバリーフレーズ", "確認してください",                     /* ja */
    NULL,
};

/* Prizes, winnings and windfalls: the lure of scam mail. Only what genuine
 * marketing does not say as well ("bonus", "voucher", "gift card" and
 * "cashback" are left out). */
static const char *const prize_words[] = {
    "you have won", "you've won", "winner", "prize", "lottery", "jackpot", "free spins", "casino",
    "inheritance", "beneficiary", "compensation fund", "million dollars", "million usd", "next of kin",
    "claim your",
    "gewonnen", "gewinner", "freispiele", "erbschaft",                             /* de */
    "ganhou", "sorteio", "prêmio", "herança",                                      /* pt */
    "ha ganado", "premio", "lotería", "herencia",                                  /* es */
    "vous avez gagné", "gagnant", "loterie", "héritage",                           /* fr */
    "winnaar", "loterij", "erfenis",                                               /* nl */
    NULL,
};

static int count_phrases(const char *text, const char *const *words)
{
    int n = 0;
    for (const char *const *w = words; *w; w++) if (strstr(text, *w)) n++;
    return n;
}

/* ---- attachments ------------------------------------------------------- */

static const char *ext_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot[1] ? dot + 1 : "";
}

static int in_list(const char *ext, const char *const *list)
{
    for (; *list; list++) if (strcasecmp(ext, *list) == 0) return 1;
    return 0;
}

static const char *const risky_ext[] = {
    "exe", "scr", "com", "pif", "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "ps1", "msi", "jar",
    "lnk", "iso", "img", "vhd", "cpl", "reg", "docm", "xlsm", "pptm", "dotm", "xlsb", "xlam", "ppam", "htm", "html",
    "svg", "one", NULL,
};
static const char *const doc_ext[] = { "pdf", "doc", "docx", "xls", "xlsx", "txt", "jpg", "jpeg", "png", "rtf", "zip", NULL };
static const char *const archive_ext[] = { "zip", "rar", "7z", "gz", "tgz", "tar", "cab", "ace", "arj", NULL };

/* The indicators of one file name (attached, or inside an archive). */
static unsigned file_flags(const char *name, const char *type)
{
    unsigned f = 0;
    const char *ext = ext_of(name);
    if (in_list(ext, risky_ext)) f |= RK_PM_RISKY_ATTACHMENT;
    if (in_list(ext, archive_ext)) f |= RK_PM_ARCHIVE;
    if (type && (strstr(type, "x-msdownload") || strstr(type, "x-dosexec") || strstr(type, "macroenabled")))
        f |= RK_PM_RISKY_ATTACHMENT;
    /* "invoice.pdf.exe", "scan.pdf .js": a harmless-looking extension before a risky one. */
    const char *dot = strrchr(name, '.');
    if (dot && (f & RK_PM_RISKY_ATTACHMENT)) {
        const char *prev = dot;
        while (prev > name && prev[-1] != '.') prev--;
        if (prev > name) {
            char inner[16];
            size_t n = (size_t)(dot - prev);
            while (n && prev[n - 1] == ' ') n--;
            if (n < sizeof inner) {
                memcpy(inner, prev, n);
                inner[n] = '\0';
                if (in_list(inner, doc_ext)) f |= RK_PM_DOUBLE_EXTENSION;
            }
        }
    }
    return f;
}

/* An attachment's indicators, and those of the files its archive holds
 * (an archive's own flag stays: "archive_attachment"). */
static unsigned attachment_flags(const rk_phish_att_t *a)
{
    unsigned f = file_flags(a->name, a->type);
    for (int i = 0; i < a->ncontents; i++) {
        const char *base = strrchr(a->contents[i], '/');
        f |= file_flags(base ? base + 1 : a->contents[i], NULL) & ~(unsigned)RK_PM_ARCHIVE;
    }
    return f;
}

/* ---- senders ----------------------------------------------------------- */

static void addr_domain(const rk_phish_cfg_t *c, const char *addr, char *out, size_t cap)
{
    out[0] = '\0';
    const char *at = strrchr(addr, '@');
    if (!at || !at[1]) return;
    char host[256];
    snprintf(host, sizeof host, "%s", at + 1);
    for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
    size_t n = strlen(host);
    while (n && (host[n - 1] == '.' || host[n - 1] == '>')) host[--n] = '\0';
    rk_phish_registrable(c, host, out, cap);
}

/* Authentication-Results: "spf=fail", "dkim=fail", "dmarc=fail" (softfail
 * and permerror count); Received-SPF: its first word. */
static unsigned auth_flags(const rk_phish_msg_t *m)
{
    unsigned f = 0;
    for (int i = 0; i < m->nauth; i++) {
        char *v = g_ascii_strdown(m->auth[i], -1);
        if (strstr(v, "spf=fail") || strstr(v, "spf=softfail") || strstr(v, "spf=permerror") ||
            strncmp(v, "received-spf fail", 17) == 0 || strncmp(v, "received-spf softfail", 21) == 0)
            f |= RK_PM_SPF_FAIL;
        if (strstr(v, "dkim=fail") || strstr(v, "dkim=permerror")) f |= RK_PM_DKIM_FAIL;
        if (strstr(v, "dmarc=fail")) f |= RK_PM_DMARC_FAIL;
        g_free(v);
    }
    return f;
}

static unsigned sender_flags(const rk_phish_cfg_t *c, const rk_phish_msg_t *m, rk_phish_result_t *r)
{
    unsigned f = 0;
    char from[256], other[256];
    addr_domain(c, m->from_addr, from, sizeof from);
    if (from[0]) {
        addr_domain(c, m->reply_to, other, sizeof other);
        if (other[0] && strcmp(other, from) != 0) f |= RK_PM_REPLY_TO;
        addr_domain(c, m->return_path, other, sizeof other);
        if (other[0] && strcmp(other, from) != 0) f |= RK_PM_RETURN_PATH;
        const char *look = rk_phish_lookalike(c, from);
        if (!look) look = rk_phish_brand_in_domain(c, from);
        if (look) { f |= RK_PM_FROM_LOOKALIKE; r->from_brand = strdup(look); }
    }
    /* The display name shows an address or a domain other than the sender's,
     * or names a protected brand the sender's domain is not. */
    if (m->from_name[0] && from[0]) {
        char *name = g_ascii_strdown(m->from_name, -1);
        char shown[256] = "";
        const char *at = strchr(name, '@');
        if (at) addr_domain(c, name, shown, sizeof shown);
        else {
            for (char *tok = name; *tok;) {   /* a word with a dot: "paypal.com" */
                size_t n = strcspn(tok, " \t\"'()<>,;");
                if (n && memchr(tok, '.', n)) {
                    char host[256];
                    snprintf(host, sizeof host, "%.*s", (int)(n < 255 ? n : 255), tok);
                    char *dot = strrchr(host, '.');
                    if (dot && strlen(dot + 1) >= 2 && isalpha((unsigned char)dot[1]) && rk_phish_known_tld(c, host))
                        rk_phish_registrable(c, host, shown, sizeof shown);
                    if (shown[0]) break;
                }
                tok += n;
                while (*tok && strchr(" \t\"'()<>,;", *tok)) tok++;
            }
        }
        if (shown[0] && strcmp(shown, from) != 0) f |= RK_PM_DISPLAY_NAME;
        const char *brand = rk_phish_brand_named(c, name);
        if (brand && strcmp(brand, from) != 0) {
            /* "PayPal <service@paypal.de>" is the brand too when both are protected. */
            char bl[256], fl[256];
            snprintf(bl, sizeof bl, "%s", brand);
            snprintf(fl, sizeof fl, "%s", from);
            char *bd = strchr(bl, '.'), *fd = strchr(fl, '.');
            if (bd) *bd = '\0';
            if (fd) *fd = '\0';
            if (strcmp(bl, fl) != 0) f |= RK_PM_DISPLAY_NAME;
        }
        g_free(name);
    }
    r->from_domain = strdup(from);
    return f;
}

/* ---- links ------------------------------------------------------------- */

static int add_url(const rk_phish_cfg_t *c, rk_phish_result_t *r, const char *url, size_t len, const char *shown,
                   int form)
{
    for (int i = 0; i < r->nurls; i++)   /* the same link twice: one entry, every indicator */
        if (strlen(r->urls[i].url) == len && memcmp(r->urls[i].url, url, len) == 0) {
            if (shown && !r->urls[i].shown) {
                rk_phish_url_t u;
                if (rk_phish_url_analyze(c, url, len, shown, &u) < 0) return -1;
                r->urls[i].flags |= u.flags & RK_PU_TEXT_MISMATCH;
                if (u.shown) { r->urls[i].shown = u.shown; u.shown = NULL; }
                rk_phish_url_free(&u);
            }
            if (form) r->urls[i].flags |= RK_PU_FORM_ACTION;
            return 0;
        }
    if (r->nurls >= RK_PHISH_MAX_URLS) { r->truncated_urls = 1; return 0; }
    rk_phish_url_t u;
    int rc = rk_phish_url_analyze(c, url, len, shown, &u);
    if (rc != 0) return rc < 0 ? -1 : 0;
    if (form) u.flags |= RK_PU_FORM_ACTION;
    rk_phish_url_t *nu = realloc(r->urls, ((size_t)r->nurls + 1) * sizeof *nu);
    if (!nu) { rk_phish_url_free(&u); return -1; }
    r->urls = nu;
    r->urls[r->nurls++] = u;
    return 0;
}

/* URLs in plain text: "http://", "https://" and "www." up to white space
 * or a delimiter, without the punctuation that ends a sentence. */
static int scan_text_urls(const rk_phish_cfg_t *c, rk_phish_result_t *r, const char *t)
{
    for (const char *p = t; *p; p++) {
        if ((*p | 0x20) != 'h' && (*p | 0x20) != 'w') continue;
        if (p > t && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '/')) continue;
        if (strncasecmp(p, "http://", 7) != 0 && strncasecmp(p, "https://", 8) != 0 && strncasecmp(p, "www.", 4) != 0)
            continue;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]) && !strchr("<>\"'`{}|^", p[n])) n++;
        while (n && strchr(".,;:!?)]", p[n - 1])) n--;
        if (add_url(c, r, p, n, NULL, 0) < 0) return -1;
        p += n ? n - 1 : 0;
    }
    return 0;
}

/* ---- the analysis ------------------------------------------------------ */

int rk_phish_analyze(const rk_phish_cfg_t *c, const rk_phish_msg_t *m, rk_phish_result_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    rk_phish_html_t h;
    memset(&h, 0, sizeof h);
    int rc = -1;
    if (m->html[0] && rk_phish_html_scan(m->html, strlen(m->html), RK_PHISH_MAX_URLS, 256u << 10, &h) < 0) goto oom;
    if (scan_text_urls(c, out, m->text) < 0) goto oom;
    for (int i = 0; i < h.nlinks; i++)
        if (add_url(c, out, h.links[i].href, strlen(h.links[i].href), h.links[i].text, h.links[i].form) < 0) goto oom;
    if (h.password_form) out->flags |= RK_PM_PASSWORD_FORM;
    for (int i = 0; i < m->natts; i++) out->flags |= attachment_flags(&m->atts[i]);
    out->flags |= auth_flags(m);
    out->flags |= sender_flags(c, m, out);
    if (!out->from_domain) goto oom;
    out->from_known_tld = out->from_domain[0] && rk_phish_known_tld(c, out->from_domain);
    out->from_cheap_tld = out->from_known_tld && rk_phish_cheap_tld(out->from_domain);
    /* The body the model and the wording read: the plain text, else the
     * HTML's; without the recipient (phish_norm.h). */
    const char *body = m->text[0] ? m->text : h.text ? h.text : "";
    GString *s = g_string_new(m->subject);
    g_string_append_c(s, '\n');
    g_string_append(s, body);
    out->body_text = rk_phish_mask_recipient(s->str, m->to);
    char *lower = g_utf8_strdown(s->str, (gssize)s->len);
    g_string_free(s, TRUE);
    if (!out->body_text || !lower) { g_free(lower); goto oom; }
    out->urgency_hits = count_phrases(lower, urgency_words);
    out->credential_hits = count_phrases(lower, credential_words);
    out->prize_hits = count_phrases(lower, prize_words);
    g_free(lower);
    if (out->urgency_hits) out->flags |= RK_PM_URGENCY;
    if (out->credential_hits) out->flags |= RK_PM_CREDENTIALS;
    if (out->prize_hits) out->flags |= RK_PM_PRIZE;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    rk_phish_html_free(&h);
    return rc;
}

_Static_assert(__builtin_popcount(RK_PM_HEADER_FLAGS) == RK_PM_NFLAGS - RK_PM_MODEL_NFLAGS, "RK_PM_MODEL_NFLAGS");

void rk_phish_dense(const rk_phish_result_t *r, float out[RK_PHISH_NDENSE])
{
    int k = 0;
    for (int i = 0; i < RK_PM_NFLAGS; i++) if (!((RK_PM_HEADER_FLAGS >> i) & 1)) out[k++] = (r->flags >> i) & 1;
    unsigned any = 0;
    for (int i = 0; i < r->nurls; i++) any |= r->urls[i].flags;
    for (int i = 0; i < RK_PU_NFLAGS; i++) out[k++] = (any >> i) & 1;
    out[k++] = (float)(log1p((double)r->nurls) / 3);
    out[k++] = (float)(r->urgency_hits < 5 ? r->urgency_hits : 5) / 5;
    out[k++] = (float)(r->credential_hits < 5 ? r->credential_hits : 5) / 5;
}

const char *rk_phish_dense_name(int i)
{
    static const char *const tail[] = { "url_count", "urgency_words", "credential_words" };
    if (i < 0 || i >= RK_PHISH_NDENSE) return NULL;
    if (i < RK_PM_MODEL_NFLAGS) {
        for (int f = 0, k = 0; f < RK_PM_NFLAGS; f++)
            if (!((RK_PM_HEADER_FLAGS >> f) & 1) && k++ == i) return rk_phish_msg_flag_names[f];
    }
    if (i < RK_PM_MODEL_NFLAGS + RK_PU_NFLAGS) return rk_phish_url_flag_names[i - RK_PM_MODEL_NFLAGS];
    return tail[i - RK_PM_MODEL_NFLAGS - RK_PU_NFLAGS];
}

void rk_phish_result_free(rk_phish_result_t *r)
{
    if (!r) return;
    for (int i = 0; i < r->nurls; i++) rk_phish_url_free(&r->urls[i]);
    free(r->urls);
    free(r->body_text);
    free(r->from_domain);
    free(r->from_brand);
    memset(r, 0, sizeof *r);
}

/* GMime's own address list forgives "Name , <a@b>" (one mailbox); as
 * written it is two entries. */
int rk_phish_address_entries(const char *v)
{
    if (!v) return 0;
    int n = 0, quoted = 0, angle = 0, comment = 0, filled = 0;
    for (const char *p = v; *p; p++) {
        char c = *p;
        if (quoted) {
            if (c == '\\' && p[1]) p++;
            else if (c == '"') quoted = 0;
            continue;
        }
        if (c == '\\' && p[1]) { p++; filled = 1; continue; }
        if (comment) { if (c == '(') comment++; else if (c == ')') comment--; continue; }
        if (c == '(') { comment = 1; continue; }
        if (c == '"') { quoted = 1; filled = 1; continue; }
        if (c == '<') angle = 1;
        else if (c == '>') angle = 0;
        if (c == ',' && !angle) { n += filled; filled = 0; continue; }
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') filled = 1;
    }
    return n + filled;
}

/* Whether one encoded word (its charset, encoding letter and text) hides
 * plain ASCII: base64 of at least 8 printable ASCII bytes, or Q with at
 * least 4 letters or digits written as =XX. Mailers encode what ASCII
 * cannot say; encoding "Client ID" keeps it from word filters. */
static int plain_ascii_word(char enc, const char *text, size_t n)
{
    if (enc == 'B' || enc == 'b') {
        char *copy = g_strndup(text, n);
        gsize len = 0;
        guchar *d = g_base64_decode(copy, &len);
        g_free(copy);
        int plain = d && len >= 8;
        for (gsize i = 0; plain && i < len; i++) plain = d[i] >= 0x20 && d[i] < 0x7f;
        g_free(d);
        return plain;
    }
    int alnum = 0;
    for (size_t i = 0; i + 2 < n; i++) {
        if (text[i] != '=' || !isxdigit((unsigned char)text[i + 1]) || !isxdigit((unsigned char)text[i + 2])) continue;
        int c = (int)strtol((char[]){ text[i + 1], text[i + 2], 0 }, NULL, 16);
        alnum += isalnum(c) != 0;
        i += 2;
    }
    return alnum >= 4;
}

int rk_phish_needless_encoding(const char *raw)
{
    for (const char *p = raw ? strstr(raw, "=?") : NULL; p; p = strstr(p + 2, "=?")) {
        const char *q1 = strchr(p + 2, '?');                           /* after the charset */
        if (!q1 || !q1[1] || q1[2] != '?') continue;
        const char *end = strstr(q1 + 3, "?=");
        if (!end) break;
        char enc = q1[1];
        if ((enc == 'B' || enc == 'b' || enc == 'Q' || enc == 'q') && plain_ascii_word(enc, q1 + 3, (size_t)(end - q1 - 3)))
            return 1;
        p = end;
    }
    return 0;
}


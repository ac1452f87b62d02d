/* test_phish.c — phishing analysis cores: MIME parsing with GMime (encoded
 * words, multipart trees, quoted-printable and base64, charsets, attached
 * messages, attachments), hostile messages (nesting, size, broken
 * encodings, garbage), every indicator positive and negative, and the text
 * model (training reaches a floor, the file round-trips and refuses damage). */
#include "test_util.h"
#include "phish.h"
#include "phish_archive.h"
#include "phish_html.h"
#include "phish_norm.h"
#include "phish_url.h"
#include "hash.h"
#include "textmodel.h"

#include <archive.h>
#include <archive_entry.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const PROTECTED[] = { "paypal.com", "microsoft.com", "apple.com", "example-bank.com", "google.com", NULL };
static const char *const SHORT[] = { "bit.ly", "tinyurl.com", NULL };

static rk_phish_cfg_t *cfg(void)
{
    char err[256];
    rk_phish_cfg_t *c = rk_phish_cfg_new(PROTECTED, SHORT, err, sizeof err);
    if (!c) fail_msg("%s", err);
    return c;
}

static void parse_ok(const char *raw, rk_phish_msg_t *m)
{
    char err[256];
    int rc = rk_phish_parse(raw, strlen(raw), NULL, m, err, sizeof err);
    if (rc != 0) fail_msg("parse: %d %s", rc, err);
}

/* ---- MIME ---------------------------------------------------------------- */

static void mime_headers_and_encodings(void **st)
{
    (void)st;
    const char *raw =
        "From: =?UTF-8?B?UGF5UGFsIFNlcnZpY2U=?= <service@paypa1-secure.com>\r\n"
        "Reply-To: help@collector.example.net\r\n"
        "Return-Path: <bounce@mailer.example.org>\r\n"
        "To: Alice <alice@corp.example>\r\n"
        "Subject: =?ISO-8859-1?Q?Votre_compte_est_bloqu=E9?=\r\n"
        "Message-ID: <abc@x>\r\n"
        "Authentication-Results: mx.corp.example; spf=fail smtp.mailfrom=paypa1-secure.com; dkim=none; dmarc=fail\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n"
        "--OUT\r\n"
        "Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n"
        "--ALT\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Mot de passe expir=E9. Cliquez: http://paypa1-secure.com/login?x=1.\r\n"
        "--ALT\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "PGEgaHJlZj0iaHR0cHM6Ly9ldmlsLmV4YW1wbGUubmV0L3AiPnd3dy5wYXlwYWwuY29tPC9hPg==\r\n"
        "--ALT--\r\n"
        "--OUT\r\n"
        "Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\n"
        "Content-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
        "--OUT--\r\n";
    rk_phish_msg_t m;
    parse_ok(raw, &m);
    assert_string_equal(m.from_name, "PayPal Service");
    assert_string_equal(m.from_addr, "service@paypa1-secure.com");
    assert_string_equal(m.reply_to, "help@collector.example.net");
    assert_string_equal(m.return_path, "bounce@mailer.example.org");
    assert_string_equal(m.to, "alice@corp.example");
    assert_string_equal(m.subject, "Votre compte est bloqu\xc3\xa9");   /* Latin-1 to UTF-8 */
    assert_string_equal(m.message_id, "abc@x");
    assert_non_null(strstr(m.text, "Mot de passe expir\xc3\xa9"));
    assert_non_null(strstr(m.html, "<a href=\"https://evil.example.net/p\">www.paypal.com</a>"));
    assert_int_equal(m.natts, 1);
    assert_string_equal(m.atts[0].name, "invoice.pdf.exe");
    assert_int_equal(m.atts[0].size, 48);
    assert_int_equal(m.nauth, 1);
    assert_int_equal(m.nparts, 3);

    rk_phish_cfg_t *c = cfg();
    rk_phish_result_t r;
    char err[128];
    assert_int_equal(rk_phish_analyze(c, &m, &r, err, sizeof err), 0);
    unsigned want = RK_PM_DISPLAY_NAME | RK_PM_REPLY_TO | RK_PM_RETURN_PATH | RK_PM_SPF_FAIL | RK_PM_DMARC_FAIL |
                    RK_PM_RISKY_ATTACHMENT | RK_PM_DOUBLE_EXTENSION | RK_PM_URGENCY | RK_PM_CREDENTIALS |
                    RK_PM_FROM_LOOKALIKE;
    assert_int_equal(r.flags & want, want);
    assert_false(r.flags & RK_PM_DKIM_FAIL);   /* dkim=none is not a failure */
    assert_string_equal(r.from_domain, "paypa1-secure.com");
    assert_int_equal(r.nurls, 2);
    assert_string_equal(r.urls[0].url, "http://paypa1-secure.com/login?x=1");   /* the final dot is prose */
    assert_true(r.urls[0].flags & RK_PU_NO_TLS);
    assert_true(r.urls[0].flags & RK_PU_BRAND_IN_DOMAIN);
    assert_string_equal(r.urls[1].domain, "example.net");
    assert_true(r.urls[1].flags & RK_PU_TEXT_MISMATCH);
    assert_string_equal(r.urls[1].shown, "paypal.com");
    float d[RK_PHISH_NDENSE];
    rk_phish_dense(&r, d);
    assert_true(d[0] == 1 && d[RK_PM_MODEL_NFLAGS + 10] == 1);   /* display name, text mismatch */
    assert_string_equal(rk_phish_dense_name(RK_PHISH_NDENSE - 1), "credential_words");
    /* The model reads no header flags: where a message was received and kept is not phishing. */
    for (int i = 0; i < RK_PHISH_NDENSE; i++) {
        const char *name = rk_phish_dense_name(i);
        assert_non_null(name);
        assert_null(strstr(name, "spf_"));
        assert_null(strstr(name, "return_path"));
        assert_null(strstr(name, "reply_to"));
    }
    assert_string_equal(rk_phish_dense_name(1), "password_form");
    assert_string_equal(rk_phish_dense_name(RK_PM_MODEL_NFLAGS), "ip_host");
    rk_phish_result_free(&r);
    rk_phish_msg_free(&m);
    rk_phish_cfg_free(c);
}

/* The entries of From as written: a bare comma makes a name an entry of
 * its own, while commas in quotes, angle brackets and comments do not. */
static void from_entries(void **st)
{
    (void)st;
    static const struct { const char *from; int n; } cases[] = {
        { "Microsoft account team ,<no-reply@access.example>", 2 },
        { "Bahngutscheine, <>, Bahngutscheine, service@shop.example", 4 },
        { "\"Doe, John\" <john@x.example>", 1 },
        { "john@x.example (Doe, John)", 1 },
        { "<\"odd,local\"@x.example>", 1 },
        { "Ann <ann@x.example>,", 1 },
        { "Ann <ann@x.example>, Bob <bob@y.example>", 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char raw[512];
        snprintf(raw, sizeof raw, "From: %s\r\nSubject: s\r\n\r\nbody\r\n", cases[i].from);
        rk_phish_msg_t m;
        parse_ok(raw, &m);
        if (m.from_count != cases[i].n) fail_msg("From: %s: %d entries, not %d", cases[i].from, m.from_count, cases[i].n);
        rk_phish_msg_free(&m);
    }
    rk_phish_msg_t m;
    parse_ok("Subject: no sender\r\n\r\nbody\r\n", &m);
    assert_int_equal(m.from_count, 0);
    assert_false(m.needless_encoding);
    rk_phish_msg_free(&m);
    /* plain ASCII hidden in an encoded word, as the raw header has it */
    parse_ok("From: =?UTF-8?Q?=43=6C=69=65=6E=74?= <a@x.example>\r\nSubject: =?UTF-8?B?Q29uZ3JhdHVsYXRpb25z?=\r\n\r\nb\r\n", &m);
    assert_true(m.needless_encoding);
    assert_string_equal(m.subject, "Congratulations");
    rk_phish_msg_free(&m);
    parse_ok("From: =?UTF-8?Q?Jos=C3=A9_Garc=C3=ADa?= <j@x.example>\r\nSubject: =?UTF-8?B?w4lwaXNvZGUgMw==?=\r\n\r\nb\r\n", &m);
    assert_false(m.needless_encoding);   /* what ASCII cannot say */
    rk_phish_msg_free(&m);
}

/* Encoded words that hide plain ASCII, and the ones a mailer writes. */
static void needless_encoding(void **st)
{
    (void)st;
    assert_true(rk_phish_needless_encoding("=?UTF-8?B?Q29uZ3JhdHVsYXRpb25z?="));           /* "Congratulations" */
    assert_true(rk_phish_needless_encoding("x =?utf-8?q?=43=6C=69=65nt?= y"));                /* C, l, i, e */
    assert_false(rk_phish_needless_encoding("=?UTF-8?B?SGk=?="));                              /* "Hi": too short to say */
    assert_false(rk_phish_needless_encoding("=?UTF-8?B?w4lwaXNvZGUgMw==?="));                  /* "Épisode 3" */
    assert_false(rk_phish_needless_encoding("=?ISO-8859-1?Q?Caf=E9_cr=E8me?="));               /* accents only */
    assert_false(rk_phish_needless_encoding("=?UTF-8?Q?=20=2C=3A=2E?="));                      /* punctuation */
    assert_false(rk_phish_needless_encoding("plain subject"));
    assert_false(rk_phish_needless_encoding("=?UTF-8?B?unterminated"));
    assert_false(rk_phish_needless_encoding("=?x?"));
    assert_false(rk_phish_needless_encoding(NULL));
}

static void mime_attached_message_and_charsets(void **st)
{
    (void)st;
    const char *raw =
        "From: a@b.example\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xc1\xd2\xcf\xcc\xd8\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: x@y.example\r\nSubject: inner\r\nContent-Type: text/html\r\n\r\n<p>inner <b>html</b></p>\r\n"
        "--B--\r\n";
    rk_phish_msg_t m;
    parse_ok(raw, &m);
    assert_non_null(strstr(m.text, "\xd0\x9f\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c"));   /* "Пароль" */
    assert_non_null(strstr(m.html, "inner <b>html</b>"));
    rk_phish_msg_free(&m);
}

static void mime_lying_charset_and_no_body(void **st)
{
    (void)st;
    /* Declared UTF-8 but not: kept as valid UTF-8 anyway. */
    const char *raw = "From: a@b.example\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nab\xff\xfe cd\r\n";
    rk_phish_msg_t m;
    parse_ok(raw, &m);
    assert_non_null(strstr(m.text, "ab"));
    assert_non_null(strstr(m.text, "cd"));
    rk_phish_msg_free(&m);
    parse_ok("Subject: only a subject\r\n\r\n", &m);
    assert_string_equal(m.subject, "only a subject");
    assert_string_equal(m.from_addr, "");
    rk_phish_msg_free(&m);
}

static void mime_hostile(void **st)
{
    (void)st;
    char err[256];
    rk_phish_msg_t m;
    rk_phish_limits_t lim;
    rk_phish_limits_default(&lim);
    /* 5,000 nested multiparts: refused before GMime recurses. */
    size_t cap = 5000 * 80 + 100, n = 0;
    char *deep = malloc(cap);
    n += (size_t)sprintf(deep + n, "From: a@b.c\r\nSubject: deep\r\n");
    for (int i = 0; i < 5000; i++)
        n += (size_t)sprintf(deep + n, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    assert_int_equal(rk_phish_parse(deep, n, &lim, &m, err, sizeof err), RK_PHISH_TOO_COMPLEX);
    assert_non_null(strstr(err, "over the limit of 200"));
    rk_phish_msg_free(&m);
    /* 150 levels: under the limit, parsed. */
    n = 0;
    n += (size_t)sprintf(deep + n, "From: a@b.c\r\nSubject: deep\r\n");
    for (int i = 0; i < 150; i++)
        n += (size_t)sprintf(deep + n, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    n += (size_t)sprintf(deep + n, "Content-Type: text/plain\r\n\r\nbottom\r\n");
    assert_int_equal(rk_phish_parse(deep, n, &lim, &m, err, sizeof err), 0);
    assert_non_null(strstr(m.text, "bottom"));
    rk_phish_msg_free(&m);
    free(deep);
    /* Too big. */
    lim.max_bytes = 50;
    const char *big = "From: a@b.c\r\nSubject: a subject long enough to pass one hundred bytes when the body is added\r\n\r\nbody";
    assert_int_equal(rk_phish_parse(big, strlen(big), &lim, &m, err, sizeof err), RK_PHISH_TOO_BIG);
    rk_phish_msg_free(&m);
    rk_phish_limits_default(&lim);
    /* Garbage and empty input: refused as not a message, never a crash. */
    assert_int_equal(rk_phish_parse("", 0, &lim, &m, err, sizeof err), -1);
    rk_phish_msg_free(&m);
    const char bin[] = "\x00\x01\x02\xff\xfe garbage \x00 more";
    int rc = rk_phish_parse(bin, sizeof bin - 1, &lim, &m, err, sizeof err);
    assert_true(rc == -1 || rc == 0);
    rk_phish_msg_free(&m);
    /* 10,000 repeated headers and a broken base64 body. */
    size_t hn = 0, hcap = 10000 * 40 + 200;
    char *hdrs = malloc(hcap);
    hn += (size_t)sprintf(hdrs + hn, "From: a@b.c\r\n");
    for (int i = 0; i < 10000; i++) hn += (size_t)sprintf(hdrs + hn, "Authentication-Results: x; spf=pass\r\n");
    hn += (size_t)sprintf(hdrs + hn, "Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not*base64***\r\n");
    assert_int_equal(rk_phish_parse(hdrs, hn, &lim, &m, err, sizeof err), 0);
    assert_int_equal(m.nauth, 16);
    assert_true(m.truncated);
    rk_phish_msg_free(&m);
    free(hdrs);
    /* Text past max_text is cut on a character boundary. */
    lim.max_text = 10;
    const char *t = "From: a@b.c\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\r\n";
    assert_int_equal(rk_phish_parse(t, strlen(t), &lim, &m, err, sizeof err), 0);
    assert_int_equal(strlen(m.text), 10);
    assert_true(m.truncated);
    rk_phish_msg_free(&m);
}

/* ---- indicators ---------------------------------------------------------- */

static unsigned url_flags(rk_phish_cfg_t *c, const char *url, const char *shown, char *brand, size_t cap)
{
    rk_phish_url_t u;
    int rc = rk_phish_url_analyze(c, url, strlen(url), shown, &u);
    if (rc != 0) return 0x80000000u;
    unsigned f = u.flags;
    if (brand) snprintf(brand, cap, "%s", u.brand ? u.brand : "");
    rk_phish_url_free(&u);
    return f;
}

static void url_indicators(void **st)
{
    (void)st;
    rk_phish_cfg_t *c = cfg();
    char b[64];
    /* negatives: the brands' own links, ordinary ones */
    assert_int_equal(url_flags(c, "https://www.paypal.com/signin", NULL, b, sizeof b), 0);
    assert_int_equal(url_flags(c, "https://accounts.google.com/x", "accounts.google.com", b, sizeof b), 0);
    assert_int_equal(url_flags(c, "https://news.bbc.co.uk/story", "Read the story", b, sizeof b), 0);
    assert_int_equal(url_flags(c, "https://pineapple.example/", NULL, b, sizeof b), 0);
    assert_int_equal(url_flags(c, "mailto:x@y.z", NULL, NULL, 0), 0x80000000u);   /* not a web link */
    /* positives */
    assert_true(url_flags(c, "http://192.168.10.5/login", NULL, NULL, 0) & RK_PU_IP_HOST);
    assert_true(url_flags(c, "http://3232235777/", NULL, NULL, 0) & RK_PU_IP_HOST);
    assert_true(url_flags(c, "http://[2001:db8::1]:8080/", NULL, NULL, 0) & RK_PU_IP_HOST);
    assert_true(url_flags(c, "https://bit.ly/3xYz", NULL, NULL, 0) & RK_PU_SHORTENER);
    assert_true(url_flags(c, "https://a.b.c.d.example.com/", NULL, NULL, 0) & RK_PU_MANY_SUBDOMAINS);
    assert_false(url_flags(c, "https://www.b.example.com/", NULL, NULL, 0) & RK_PU_MANY_SUBDOMAINS);
    char longu[200];
    snprintf(longu, sizeof longu, "https://x.example.com/%0150d", 0);
    assert_true(url_flags(c, longu, NULL, NULL, 0) & RK_PU_LONG);
    assert_true(url_flags(c, "https://www.paypal.com@evil.example/", NULL, NULL, 0) & RK_PU_AT_SIGN);
    unsigned f = url_flags(c, "https://xn--pypal-4ve.com/", NULL, b, sizeof b);   /* "pаypal": Cyrillic а */
    assert_true(f & RK_PU_PUNYCODE);
    assert_true(f & RK_PU_MIXED_SCRIPT);
    assert_true(f & RK_PU_LOOKALIKE);
    assert_string_equal(b, "paypal.com");
    f = url_flags(c, "https://p\xd0\xb0ypal.com/", NULL, b, sizeof b);   /* written in Unicode */
    assert_true(f & RK_PU_PUNYCODE && f & RK_PU_LOOKALIKE);
    assert_true(url_flags(c, "https://rnicrosoft.com/", NULL, b, sizeof b) & RK_PU_LOOKALIKE);
    assert_string_equal(b, "microsoft.com");
    assert_true(url_flags(c, "https://micros0ft.com/", NULL, NULL, 0) & RK_PU_LOOKALIKE);
    assert_true(url_flags(c, "https://microsfot.com/", NULL, NULL, 0) & RK_PU_LOOKALIKE);   /* transposition */
    assert_true(url_flags(c, "https://paypal.co/", NULL, NULL, 0) & RK_PU_LOOKALIKE);      /* another suffix */
    assert_true(url_flags(c, "https://paypal.com.account-check.net/", NULL, b, sizeof b) & RK_PU_BRAND_IN_SUBDOMAIN);
    assert_string_equal(b, "paypal.com");
    assert_true(url_flags(c, "https://apple-id-verify.com/", NULL, NULL, 0) & RK_PU_BRAND_IN_DOMAIN);
    assert_true(url_flags(c, "https://evil.example/", "https://www.paypal.com/", NULL, 0) & RK_PU_TEXT_MISMATCH);
    assert_false(url_flags(c, "https://evil.example/", "Click here", NULL, 0) & RK_PU_TEXT_MISMATCH);
    assert_true(url_flags(c, "http://x.example/", NULL, NULL, 0) & RK_PU_NO_TLS);
    /* lure words and abused TLDs; the brands' own country sites are the brands */
    assert_true(url_flags(c, "https://metamask-wallet-verify.com/", NULL, NULL, 0) & RK_PU_DECEPTIVE_NAME);
    assert_false(url_flags(c, "https://booking-office.com/", NULL, NULL, 0) & RK_PU_DECEPTIVE_NAME);
    assert_false(url_flags(c, "https://verify.com/", NULL, NULL, 0) & RK_PU_DECEPTIVE_NAME);   /* no hyphen */
    assert_true(url_flags(c, "https://prize.top/", NULL, NULL, 0) & RK_PU_CHEAP_TLD);
    assert_false(url_flags(c, "https://prize.org/", NULL, NULL, 0) & RK_PU_CHEAP_TLD);
    assert_int_equal(url_flags(c, "https://www.paypal.de/", NULL, NULL, 0), 0);
    assert_int_equal(url_flags(c, "https://www.google.co.uk/", NULL, NULL, 0), 0);
    assert_true(url_flags(c, "https://paypal.support/", NULL, NULL, 0) & RK_PU_LOOKALIKE);
    assert_true(url_flags(c, "https://login-microsoftonline.docs-share.com/", NULL, NULL, 0) & RK_PU_BRAND_IN_SUBDOMAIN);
    /* What real legitimate mail showed: other real names one letter away
     * from a short brand, words in other domains, file names as link text. */
    assert_false(url_flags(c, "https://www.qmail.org/", NULL, NULL, 0) & RK_PU_LOOKALIKE);
    assert_false(url_flags(c, "https://www.pineapple.org/", NULL, NULL, 0) & RK_PU_BRAND_IN_DOMAIN);
    assert_false(url_flags(c, "https://github.com/x/iscsid.conf", "iscsid.conf", NULL, 0) & RK_PU_TEXT_MISMATCH);
    assert_true(url_flags(c, "https://github.com/x", "see gitlab.com", NULL, 0) & RK_PU_TEXT_MISMATCH);
    assert_true(rk_phish_known_tld(c, "paypal.com") && rk_phish_known_tld(c, "mail.corp.example"));
    assert_true(rk_phish_known_tld(c, "intranet.LOCAL"));
    assert_false(rk_phish_known_tld(c, "detran") || rk_phish_known_tld(c, "iscsid.conf") || rk_phish_known_tld(c, "x."));
    assert_int_equal(rk_phish_edit_distance("paypal", "paypla"), 1);
    assert_int_equal(rk_phish_edit_distance("kitten", "sitting"), 3);
    rk_phish_cfg_free(c);
}

static void analyze_fields(rk_phish_cfg_t *c, rk_phish_msg_t *m, rk_phish_result_t *r)
{
    char err[128];
    assert_int_equal(rk_phish_analyze(c, m, r, err, sizeof err), 0);
}

static void message_indicators(void **st)
{
    (void)st;
    rk_phish_cfg_t *c = cfg();
    rk_phish_msg_t m;
    rk_phish_result_t r;
    /* An initial and a surname is not a domain name in a display name. */
    assert_int_equal(rk_phish_msg_init(&m), 0);
    rk_phish_set(&m.from_name, "D.McMann", 8, 0);
    rk_phish_set(&m.from_addr, "craig@deersoft.com", 18, 0);
    analyze_fields(c, &m, &r);
    assert_false(r.flags & RK_PM_DISPLAY_NAME);
    rk_phish_result_free(&r);
    rk_phish_msg_free(&m);
    /* A clean newsletter: nothing. */
    assert_int_equal(rk_phish_msg_init(&m), 0);
    rk_phish_set(&m.from_name, "Example News", 12, 0);
    rk_phish_set(&m.from_addr, "news@example.org", 16, 0);
    rk_phish_set(&m.reply_to, "editor@example.org", 18, 0);
    const char *html = "<html><body><p>This week's stories.</p><a href=\"https://example.org/a\">Read more</a>"
                       "<script>var s='password';</script></body></html>";
    rk_phish_set(&m.html, html, strlen(html), 0);
    analyze_fields(c, &m, &r);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.nurls, 1);
    assert_null(strstr(r.body_text, "password"));   /* scripts are not text */
    rk_phish_result_free(&r);
    /* The display name shows another address; a password form; a zip; DKIM fails. */
    rk_phish_set(&m.from_name, "security@example-bank.com", 25, 0);
    html = "<form action=\"https://collect.example.net/p\"><input type=\"text\" name=u>"
           "<input type=PASSWORD name=p></form>";
    rk_phish_set(&m.html, html, strlen(html), 0);
    m.atts = calloc(1, sizeof *m.atts);
    m.natts = 1;
    m.atts[0].name = strdup("docs.zip");
    m.atts[0].type = strdup("application/zip");
    m.auth = calloc(1, sizeof *m.auth);
    m.nauth = 1;
    m.auth[0] = strdup("mx; spf=pass; DKIM=fail header.d=x");
    analyze_fields(c, &m, &r);
    unsigned want = RK_PM_DISPLAY_NAME | RK_PM_PASSWORD_FORM | RK_PM_ARCHIVE | RK_PM_DKIM_FAIL;
    assert_int_equal(r.flags, want);
    assert_true(r.urls[0].flags & RK_PU_FORM_ACTION);
    rk_phish_result_free(&r);
    /* The brand's own display name from the brand's domain: nothing. */
    rk_phish_set(&m.from_name, "PayPal", 6, 0);
    rk_phish_set(&m.from_addr, "service@paypal.com", 18, 0);
    rk_phish_set(&m.reply_to, "", 0, 0);
    rk_phish_set(&m.html, "", 0, 0);
    free(m.atts[0].name);
    m.atts[0].name = strdup("report.pdf");
    m.nauth = 0;
    free(m.auth[0]);
    analyze_fields(c, &m, &r);
    assert_int_equal(r.flags, 0);
    rk_phish_result_free(&r);
    /* Macro document, wording in German. */
    free(m.atts[0].name);
    m.atts[0].name = strdup("Rechnung.xlsm");
    rk_phish_set(&m.subject, "Dringend: Konto gesperrt", 24, 0);
    rk_phish_set(&m.text, "Bitte Passwort bestätigen Sie sofort", 37, 0);
    analyze_fields(c, &m, &r);
    assert_true(r.flags & RK_PM_RISKY_ATTACHMENT);
    assert_false(r.flags & RK_PM_DOUBLE_EXTENSION);
    assert_true(r.flags & RK_PM_URGENCY && r.flags & RK_PM_CREDENTIALS);
    assert_true(r.urgency_hits >= 2 && r.credential_hits >= 2);
    rk_phish_result_free(&r);
    rk_phish_msg_free(&m);
    rk_phish_cfg_free(c);
}

/* A zip holding the given names, written with libarchive. */
static size_t make_zip(const char *const *names, char *buf, size_t cap)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    size_t used = 0;
    archive_write_open_memory(a, buf, cap, &used);
    for (const char *const *n = names; *n; n++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, *n);
        archive_entry_set_size(e, 4);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, "data", 4);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static void archives(void **st)
{
    (void)st;
    static char zip[8192];
    const char *const inside[] = { "docs/readme.txt", "docs/invoice.pdf.exe", NULL };
    size_t n = make_zip(inside, zip, sizeof zip);
    char **names = NULL;
    int truncated = 0;
    assert_int_equal(rk_phish_archive_names(zip, n, 0, &names, &truncated), 2);
    assert_string_equal(names[1], "docs/invoice.pdf.exe");
    for (int i = 0; i < 2; i++) free(names[i]);
    free(names);
    assert_int_equal(rk_phish_archive_names("not an archive at all", 21, 0, &names, &truncated), 0);
    assert_true(rk_phish_is_archive("a.ZIP", "") && rk_phish_is_archive("x", "application/x-7z-compressed"));
    assert_false(rk_phish_is_archive("a.pdf", "application/pdf"));
    /* attached to a message: its names, and the risk inside */
    gchar *b64 = g_base64_encode((const guchar *)zip, n);
    char *raw = g_strdup_printf("From: a@b.example\r\nSubject: docs\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n"
                                "--Z\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--Z\r\nContent-Type: application/zip; name=\"docs.zip\"\r\n"
                                "Content-Disposition: attachment; filename=\"docs.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--Z--\r\n", b64);
    rk_phish_msg_t m;
    parse_ok(raw, &m);
    assert_int_equal(m.natts, 1);
    assert_int_equal(m.atts[0].ncontents, 2);
    rk_phish_cfg_t *c = cfg();
    rk_phish_result_t r;
    char err[128];
    assert_int_equal(rk_phish_analyze(c, &m, &r, err, sizeof err), 0);
    assert_int_equal(r.flags & (RK_PM_ARCHIVE | RK_PM_RISKY_ATTACHMENT | RK_PM_DOUBLE_EXTENSION),
                     RK_PM_ARCHIVE | RK_PM_RISKY_ATTACHMENT | RK_PM_DOUBLE_EXTENSION);
    rk_phish_result_free(&r);
    rk_phish_msg_free(&m);
    /* a harmless archive: only the archive flag */
    const char *const calm[] = { "photos/1.jpg", "photos/2.jpg", NULL };
    n = make_zip(calm, zip, sizeof zip);
    g_free(b64);
    g_free(raw);
    b64 = g_base64_encode((const guchar *)zip, n);
    raw = g_strdup_printf("From: a@b.example\r\nSubject: p\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\n"
                          "Content-Type: application/zip; name=\"p.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--Z--\r\n", b64);
    parse_ok(raw, &m);
    assert_int_equal(rk_phish_analyze(c, &m, &r, err, sizeof err), 0);
    assert_int_equal(r.flags & (RK_PM_ARCHIVE | RK_PM_RISKY_ATTACHMENT), RK_PM_ARCHIVE);
    rk_phish_result_free(&r);
    rk_phish_msg_free(&m);
    g_free(b64);
    g_free(raw);
    rk_phish_cfg_free(c);
}

/* tests/data/bombs: tar streams of zeros, gigabytes unpacked, kilobytes
 * packed (bzip2, xz, zstd), and gzip and zip bombs made here. Each
 * listing stops at the unpacked-byte cap, or at once past its deadline. */
static char *read_fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/bombs/%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1u << 20);
    *len = fread(buf, 1, 1u << 20, f);
    fclose(f);
    assert_true(*len > 0 && *len < (1u << 20));
    return buf;
}

/* A gzip'd tar (filter) and a zip (the format's own deflate) of `mb`
 * MiB of zeros, written with libarchive. */
static char *make_bomb(int zip, int mb, size_t *len)
{
    size_t cap = 4u << 20, used = 0;
    char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    if (zip) archive_write_set_format_zip(a);
    else { archive_write_set_format_ustar(a); archive_write_add_filter_gzip(a); }
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "zeros.bin");
    archive_entry_set_size(e, (la_int64_t)mb << 20);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    static char zeros[1 << 16];
    for (int i = 0; i < mb * 16; i++) assert_true(archive_write_data(a, zeros, sizeof zeros) == (la_ssize_t)sizeof zeros);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *len = used;
    return buf;
}

static void archive_bombs(void **st)
{
    (void)st;
    size_t len[5];
    char *bombs[5] = { read_fixture("zeros-2g.tar.bz2", &len[0]), read_fixture("zeros-2g.tar.zst", &len[1]),
                       read_fixture("zeros-512m.tar.xz", &len[2]), make_bomb(0, 200, &len[3]), make_bomb(1, 200, &len[4]) };
    for (int i = 0; i < 5; i++) {
        char **names = NULL;
        int truncated = 0;
        /* the byte cap */
        int n = rk_phish_archive_names(bombs[i], len[i], 0, &names, &truncated);
        if (n != 1 || !truncated) fail_msg("bomb %d: %d names, truncated %d", i, n, truncated);
        assert_true(strstr(names[0], ".bin") != NULL);
        free(names[0]);
        free(names);
        /* the deadline (already passed): stopped after one block */
        n = rk_phish_archive_names(bombs[i], len[i], 1, &names, &truncated);
        assert_int_equal(n, 1);
        assert_true(truncated);
        free(names[0]);
        free(names);
    }
    /* attached to a message, nested inside a zip inside a message: parsed
     * with its names listed and the message marked truncated. */
    gchar *b64 = g_base64_encode((const guchar *)bombs[0], len[0]);
    char *raw = g_strdup_printf("From: a@b.example\r\nSubject: bomb\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n"
                                "--Z\r\nContent-Type: application/x-bzip2; name=\"z.tar.bz2\"\r\n"
                                "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--Z--\r\n", b64);
    rk_phish_msg_t m;
    parse_ok(raw, &m);
    assert_int_equal(m.natts, 1);
    assert_int_equal(m.atts[0].ncontents, 1);
    assert_true(m.truncated);
    rk_phish_msg_free(&m);
    g_free(b64);
    g_free(raw);
    for (int i = 0; i < 5; i++) free(bombs[i]);
}

static void html_scan(void **st)
{
    (void)st;
    rk_phish_html_t h;
    /* 20,000 nested elements: walked without recursion. */
    size_t cap = 20000 * 5 + 64;
    char *deep = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 20000; i++) n += (size_t)sprintf(deep + n, "<div>");
    n += (size_t)sprintf(deep + n, "<a href='https://x.example/'>deep</a>");
    assert_int_equal(rk_phish_html_scan(deep, n, 10, 1000, &h), 0);
    rk_phish_html_free(&h);
    free(deep);
    const char *s = "<a href=x1>one</a><a href=x2>two <b>bold</b></a><a href=x3>3</a><area href=x4>";
    assert_int_equal(rk_phish_html_scan(s, strlen(s), 2, 1000, &h), 0);
    assert_int_equal(h.nlinks, 2);
    assert_true(h.truncated);
    assert_string_equal(h.links[1].text, "two bold");
    rk_phish_html_free(&h);
}

/* ---- the model ----------------------------------------------------------- */

static const char *const BAD[] = { "verify your password now or your account will be suspended",
                                   "urgent confirm your login details at the secure page",
                                   "your mailbox is full sign in to keep receiving mail",
                                   "unusual activity detected confirm your identity immediately" };
static const char *const GOOD[] = { "minutes of the meeting on tuesday attached for review",
                                    "lunch on friday with the team at the usual place",
                                    "the quarterly report draft is ready for comments",
                                    "thanks for the photos from the weekend trip" };

/* What says nothing about phishing is gone before anything reads it. */
static void normalisation(void **st)
{
    (void)st;
    size_t n;
    const char stored[] = "From MAILER-DAEMON Mon Jan  1 00:00:00 2002\r\nSubject: x\r\n\r\nbody\rline\r\n\r\n\n";
    char *c = rk_phish_normalize(stored, sizeof stored - 1, &n);
    assert_string_equal(c, "Subject: x\n\nbody\nline\n");
    assert_int_equal(n, strlen(c));
    free(c);
    c = rk_phish_normalize("", 0, &n);
    assert_string_equal(c, "");
    free(c);
    /* The same message stored two ways parses to the same text. */
    rk_phish_msg_t a, b;
    parse_ok("Subject: hi\nTo: phishing@pot\n\nDear phishing, verify at pot.\n", &a);
    parse_ok("From x\r\nSubject: hi\r\nTo: phishing@pot\r\n\r\nDear phishing, verify at pot.\r\n\r\n", &b);
    assert_string_equal(a.text, b.text);
    assert_string_equal(a.to, "phishing@pot");
    rk_phish_msg_free(&b);
    char *m = rk_phish_mask_recipient("Hello PHISHING@pot, phishingly yours\r\nsee pot, po", a.to);
    assert_string_equal(m, "Hello <recipient>, phishingly yours\nsee <recipient>, po");   /* whole words only */
    free(m);
    m = rk_phish_mask_recipient("Dear alice, alice@corp.example.com at corp: mycorp", "alice@corp.example.com");
    assert_string_equal(m, "Dear <recipient>, <recipient> at <recipient>: mycorp");
    free(m);
    m = rk_phish_mask_recipient("a\r\rb", NULL);
    assert_string_equal(m, "a\n\nb");
    free(m);
    /* The model's text: the recipient masked. */
    char err[256];
    rk_phish_cfg_t *cfg = rk_phish_cfg_new(PROTECTED, SHORT, err, sizeof err);
    rk_phish_result_t r;
    assert_int_equal(rk_phish_analyze(cfg, &a, &r, err, sizeof err), 0);
    assert_non_null(strstr(r.body_text, "Dear <recipient>,"));
    assert_null(strstr(r.body_text, "phishing"));
    rk_phish_result_free(&r);
    rk_phish_cfg_free(cfg);
    rk_phish_msg_free(&a);
}

static void model_trains_and_round_trips(void **st)
{
    (void)st;
    enum { N = 400 };
    rk_tm_vec_t rows[N];
    int labels[N];
    memset(rows, 0, sizeof rows);
    float dense[2];
    for (int i = 0; i < N; i++) {
        labels[i] = i % 2;
        char text[256];
        snprintf(text, sizeof text, "%s %d", labels[i] ? BAD[i % 4] : GOOD[i % 4], i);
        dense[0] = (float)labels[i] * (i % 3 == 0);   /* a weak signal */
        dense[1] = 0;
        assert_int_equal(rk_tm_featurize(text, dense, 2, &rows[i]), 0);
    }
    const char *names[] = { "hint", "zero" };
    char err[256];
    rk_textmodel_t *m = rk_tm_train(rows, labels, N, names, 2, NULL, err, sizeof err);
    assert_non_null(m);
    rk_tm_vec_t x = { 0 };
    dense[0] = 0;
    assert_int_equal(rk_tm_featurize("Please VERIFY your password, your account will be suspended", dense, 2, &x), 0);
    double bad = rk_tm_score(m, &x);
    assert_int_equal(rk_tm_featurize("the report of the meeting on friday", dense, 2, &x), 0);
    double good = rk_tm_score(m, &x);
    if (!(bad > 0.6 && good < 0.1)) fail_msg("bad %f good %f", bad, good);
    uint32_t idx[3];
    double contrib[3];
    assert_int_equal(rk_tm_top(m, &x, 3, idx, contrib), 3);
    assert_true(contrib[0] >= contrib[1] && contrib[1] >= contrib[2]);
    assert_int_equal(rk_tm_set_metric(m, "auc", 0.99), 0);
    assert_string_equal(rk_tm_provenance(m), "");
    assert_int_equal(rk_tm_set_provenance(m, "corpus x@1234: 2 sources, CC BY-NC 4.0"), 0);
    char path[] = "/tmp/riskd-tm-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(rk_tm_save(m, path, err, sizeof err), 0);
    rk_textmodel_t *l = rk_tm_load(path, err, sizeof err);
    assert_non_null(l);
    assert_true(rk_tm_score(l, &x) == rk_tm_score(m, &x));
    assert_string_equal(rk_tm_dense_name(l, 0), "hint");
    double v;
    assert_string_equal(rk_tm_metric(l, 0, &v), "auc");
    assert_true(v == 0.99);
    assert_string_equal(rk_tm_provenance(l), "corpus x@1234: 2 sources, CC BY-NC 4.0");
    rk_tm_release(l);
    /* A version 1 file (no provenance) still loads: the same bytes without
     * the provenance string, version 1, checksum again. */
    {
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *d = malloc((size_t)size);
        assert_int_equal(fread(d, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        const char *prov = "corpus x@1234: 2 sources, CC BY-NC 4.0";
        size_t plen = strlen(prov) + 2;
        unsigned char *at = memmem(d, (size_t)size, prov, strlen(prov)) - 2;
        memmove(at, at + plen, (size_t)(d + size - (at + plen)));
        size_t nsize = (size_t)size - plen;
        uint32_t one = 1;
        memcpy(d + 8, &one, 4);
        uint64_t sum = rk_fnv1a(d, nsize - 8);
        memcpy(d + nsize - 8, &sum, 8);
        rk_textmodel_t *v1 = rk_tm_parse(d, nsize, "v1", err, sizeof err);
        if (!v1) fail_msg("%s", err);
        assert_string_equal(rk_tm_provenance(v1), "");
        assert_true(rk_tm_score(v1, &x) == rk_tm_score(m, &x));
        rk_tm_release(v1);
        free(d);
    }
    /* A flipped byte: refused by the checksum. */
    FILE *f = fopen(path, "r+b");
    fseek(f, 4000, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    assert_null(rk_tm_load(path, err, sizeof err));
    assert_non_null(strstr(err, "checksum"));
    unlink(path);
    assert_null(rk_tm_load(path, err, sizeof err));
    assert_null(rk_tm_parse((const unsigned char *)"RKTEXTLR", 8, "x", err, sizeof err));
    /* One class only: no model. */
    for (int i = 0; i < N; i++) labels[i] = 1;
    assert_null(rk_tm_train(rows, labels, N, names, 2, NULL, err, sizeof err));
    rk_tm_release(m);
    rk_tm_release(rk_tm_retain(NULL));
    for (int i = 0; i < N; i++) rk_tm_vec_free(&rows[i]);
    rk_tm_vec_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mime_headers_and_encodings),
        cmocka_unit_test(from_entries),
        cmocka_unit_test(needless_encoding),
        cmocka_unit_test(mime_attached_message_and_charsets),
        cmocka_unit_test(mime_lying_charset_and_no_body),
        cmocka_unit_test(mime_hostile),
        cmocka_unit_test(normalisation),
        cmocka_unit_test(url_indicators),
        cmocka_unit_test(message_indicators),
        cmocka_unit_test(archives),
        cmocka_unit_test(archive_bombs),
        cmocka_unit_test(html_scan),
        cmocka_unit_test(model_trains_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

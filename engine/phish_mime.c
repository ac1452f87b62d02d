/* phish_mime.c — an RFC 5322 message into rk_phish_msg_t, with GMime: the
 * headers (RFC 2047 encoded words decoded), the MIME tree (multipart,
 * attached messages), transfer encodings and charsets to UTF-8, text and
 * HTML bodies, attachments. Nothing here parses MIME by hand: the only scan
 * of the raw bytes is the pre-check that bounds the tree before GMime,
 * whose parser recurses, sees it.
 */
#include "phish.h"
#include "clock.h"
#include "phish_archive.h"
#include "phish_norm.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void rk_phish_limits_default(rk_phish_limits_t *l)
{
    l->max_bytes = 10u << 20;
    l->max_parts = 200;
    l->max_text = 256u << 10;
    l->max_auth = 16;
    l->max_atts = 64;
    l->max_ms = 2000;
}

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;
static void gmime_start(void) { g_mime_init(); }

int rk_phish_set(char **field, const char *s, size_t len, size_t cap)
{
    if (cap && len > cap) {
        len = cap;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;   /* not inside a UTF-8 sequence */
    }
    char *p = malloc(len + 1);
    if (!p) return -1;
    memcpy(p, s, len);
    p[len] = '\0';
    free(*field);
    *field = p;
    return 0;
}

static int set_str(char **field, const char *s)
{
    return rk_phish_set(field, s ? s : "", s ? strlen(s) : 0, 4096);
}

int rk_phish_msg_init(rk_phish_msg_t *m)
{
    memset(m, 0, sizeof *m);
    char **fields[] = { &m->from_name, &m->from_addr, &m->reply_to, &m->return_path, &m->to,
                        &m->subject, &m->message_id, &m->date, &m->text, &m->html };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (set_str(fields[i], "") < 0) return -1;
    return 0;
}

void rk_phish_msg_free(rk_phish_msg_t *m)
{
    if (!m) return;
    free(m->from_name); free(m->from_addr); free(m->reply_to); free(m->return_path); free(m->to);
    free(m->subject); free(m->message_id); free(m->date); free(m->text); free(m->html);
    for (int i = 0; i < m->nauth; i++) free(m->auth[i]);
    free(m->auth);
    for (int i = 0; i < m->natts; i++) {
        free(m->atts[i].name);
        free(m->atts[i].type);
        for (int k = 0; k < m->atts[i].ncontents; k++) free(m->atts[i].contents[k]);
        free(m->atts[i].contents);
    }
    free(m->atts);
    memset(m, 0, sizeof *m);
}

/* Upper bound of the MIME containers: every multipart or attached message
 * names its type in a Content-Type header. Counting the type names in the
 * raw bytes (case-insensitively, wherever they are) over-counts, never
 * under-counts, so a tree too deep for GMime's recursion never reaches it.
 * The message types are those GMime parses as an attached message. */
static int count_containers(const char *raw, size_t len)
{
    static const char *const types[] = { "multipart/", "message/rfc822", "message/rfc2822", "message/news",
                                         "message/global", NULL };
    int n = 0;
    for (size_t i = 0; i + 10 <= len; i++) {
        if ((raw[i] | 0x20) != 'm') continue;
        for (const char *const *t = types; *t; t++) {
            size_t tl = strlen(*t);
            if (i + tl <= len && strncasecmp(raw + i, *t, tl) == 0) { n++; break; }
        }
    }
    return n;
}

/* The first mailbox of a list: display name and address. */
static int first_mailbox(InternetAddressList *list, char **name, char **addr)
{
    if (!list) return 0;
    int n = internet_address_list_length(list);
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            if (name && set_str(name, internet_address_get_name(ia)) < 0) return -1;
            return set_str(addr, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
        }
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            int rc = first_mailbox(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), name, addr);
            if (rc != 0 || (*addr && **addr)) return rc;
        }
    }
    return 0;
}

typedef struct {
    rk_phish_msg_t *m;
    const rk_phish_limits_t *lim;
    GString *text, *html;
    int failed;
    uint64_t deadline_ns;    /* parts after it are left out */
} walk_t;

static void append_capped(walk_t *w, GString *s, const char *add)
{
    if (!add) return;
    size_t room = w->lim->max_text > s->len ? w->lim->max_text - s->len : 0;
    size_t n = strlen(add);
    if (n > room) {
        w->m->truncated = 1;
        n = room;
        while (n > 0 && ((unsigned char)add[n] & 0xC0) == 0x80) n--;
    }
    if (n == 0) return;
    if (s->len) g_string_append_c(s, '\n');
    g_string_append_len(s, add, (gssize)n);
}

/* Decoded size of a part's content (transfer encoding undone). */
static size_t decoded_size(GMimePart *part)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    if (!dw) return 0;
    GMimeStream *null = g_mime_stream_null_new();
    ssize_t n = g_mime_data_wrapper_write_to_stream(dw, null);
    g_object_unref(null);
    return n > 0 ? (size_t)n : 0;
}

/* An attached archive's file names: its content decoded in memory (the
 * message's own size bounds it), then listed by libarchive. */
static int list_archive(GMimePart *part, rk_phish_att_t *a, uint64_t deadline_ns)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    if (!dw) return 0;
    GMimeStream *mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(dw, mem);
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    int truncated = 0;
    int n = bytes && bytes->len ? rk_phish_archive_names(bytes->data, bytes->len, deadline_ns, &a->contents, &truncated) : 0;
    g_object_unref(mem);
    if (n < 0) return -1;
    a->ncontents = n;
    return truncated;
}

static void add_attachment(walk_t *w, GMimePart *part, GMimeContentType *ct)
{
    rk_phish_msg_t *m = w->m;
    if (m->natts >= w->lim->max_atts) { m->truncated = 1; return; }
    rk_phish_att_t *na = realloc(m->atts, ((size_t)m->natts + 1) * sizeof *na);
    if (!na) { w->failed = 1; return; }
    m->atts = na;
    rk_phish_att_t *a = &m->atts[m->natts];
    memset(a, 0, sizeof *a);
    m->natts++;
    char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    if (set_str(&a->name, g_mime_part_get_filename(part)) < 0 || set_str(&a->type, type) < 0) w->failed = 1;
    if (!w->failed && rk_phish_is_archive(a->name, type)) {
        int rc = list_archive(part, a, w->deadline_ns);
        if (rc < 0) w->failed = 1;
        else if (rc > 0) m->truncated = 1;
    }
    g_free(type);
    a->size = decoded_size(part);
}

static void visit(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    (void)parent;
    walk_t *w = data;
    if (w->failed) return;
    if (rk_now_ns() >= w->deadline_ns) { w->m->truncated = 1; return; }
    if (GMIME_IS_MESSAGE_PART(part)) {   /* an attached message: its parts count as this one's */
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
        if (inner) g_mime_message_foreach(inner, visit, w);
        return;
    }
    if (!GMIME_IS_PART(part)) return;   /* multiparts: GMime walks into them */
    w->m->nparts++;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    int is_text = ct && g_mime_content_type_is_type(ct, "text", "plain");
    int is_html = ct && g_mime_content_type_is_type(ct, "text", "html");
    int attached = g_mime_part_is_attachment(GMIME_PART(part)) || g_mime_part_get_filename(GMIME_PART(part));
    if ((is_text || is_html) && !attached && GMIME_IS_TEXT_PART(part)) {
        char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));   /* charset to UTF-8 */
        if (t && !g_utf8_validate(t, -1, NULL)) {   /* a lying charset: keep what is valid */
            char *v = g_utf8_make_valid(t, -1);
            g_free(t);
            t = v;
        }
        append_capped(w, is_html ? w->html : w->text, t);
        g_free(t);
        return;
    }
    add_attachment(w, GMIME_PART(part), ct);
}

/* Every Authentication-Results and Received-SPF value. */
static int collect_auth(rk_phish_msg_t *m, GMimeObject *obj, int max)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
    int n = hl ? g_mime_header_list_get_count(hl) : 0;
    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = g_mime_header_get_name(h);
        if (!name || (strcasecmp(name, "Authentication-Results") != 0 && strcasecmp(name, "Received-SPF") != 0 &&
                      strcasecmp(name, "ARC-Authentication-Results") != 0))
            continue;
        if (m->nauth >= max) { m->truncated = 1; break; }
        char **na = realloc(m->auth, ((size_t)m->nauth + 1) * sizeof *na);
        if (!na) return -1;
        m->auth = na;
        m->auth[m->nauth] = NULL;
        const char *v = g_mime_header_get_value(h);
        size_t vlen = v ? strlen(v) : 0;
        /* Received-SPF's verdict is its first word: keep the header's name for the reader. */
        GString *s = g_string_new(strcasecmp(name, "Received-SPF") == 0 ? "received-spf " : "");
        g_string_append_len(s, v ? v : "", (gssize)(vlen > 2048 ? 2048 : vlen));
        int rc = set_str(&m->auth[m->nauth], s->str);
        g_string_free(s, TRUE);
        if (rc < 0) return -1;
        m->nauth++;
    }
    return 0;
}

/* The address inside "<...>" of Return-Path, or the value. */
static int set_return_path(rk_phish_msg_t *m, const char *v)
{
    if (!v) return 0;
    const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt) return rk_phish_set(&m->return_path, lt + 1, (size_t)(gt - lt - 1), 1024);
    while (*v == ' ' || *v == '\t') v++;
    return rk_phish_set(&m->return_path, v, strcspn(v, " \t\r\n"), 1024);
}

int rk_phish_parse(const char *raw, size_t len, const rk_phish_limits_t *lim, rk_phish_msg_t *out,
                   char *err, size_t errlen)
{
    rk_phish_limits_t dl;
    if (!lim) { rk_phish_limits_default(&dl); lim = &dl; }
    uint64_t deadline = rk_now_ns() + (uint64_t)(lim->max_ms > 0 ? lim->max_ms : 2000) * 1000000ULL;
    if (rk_phish_msg_init(out) < 0) { snprintf(err, errlen, "out of memory"); return -1; }
    if (len > lim->max_bytes) {
        snprintf(err, errlen, "the message is %zu bytes, over the limit of %zu", len, lim->max_bytes);
        return RK_PHISH_TOO_BIG;
    }
    int containers = count_containers(raw, len);
    if (containers > lim->max_parts) {
        snprintf(err, errlen, "the message nests %d or more MIME containers, over the limit of %d", containers,
                 lim->max_parts);
        return RK_PHISH_TOO_COMPLEX;
    }
    pthread_once(&gmime_once, gmime_start);
    int rc = -1;
    size_t nlen;
    char *norm = rk_phish_normalize(raw, len, &nlen);
    if (!norm) { snprintf(err, errlen, "out of memory"); return -1; }
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(norm, nlen);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    walk_t w = { out, lim, g_string_new(NULL), g_string_new(NULL), 0, deadline };
    if (!msg) { snprintf(err, errlen, "not an RFC 5322 message (no headers)"); goto done; }
    GMimeObject *obj = GMIME_OBJECT(msg);
    out->from_count = rk_phish_address_entries(g_mime_object_get_header(obj, "From"));
    GMimeHeaderList *headers = g_mime_object_get_header_list(obj);
    GMimeHeader *subject = g_mime_header_list_get_header(headers, "Subject"), *from = g_mime_header_list_get_header(headers, "From");
    out->needless_encoding = (subject && rk_phish_needless_encoding(g_mime_header_get_raw_value(subject))) ||
                             (from && rk_phish_needless_encoding(g_mime_header_get_raw_value(from)));
    if (first_mailbox(g_mime_message_get_from(msg), &out->from_name, &out->from_addr) < 0 ||
        first_mailbox(g_mime_message_get_reply_to(msg), NULL, &out->reply_to) < 0 ||
        first_mailbox(g_mime_message_get_to(msg), NULL, &out->to) < 0 ||
        set_str(&out->subject, g_mime_message_get_subject(msg)) < 0 ||
        set_str(&out->message_id, g_mime_message_get_message_id(msg)) < 0 ||
        set_str(&out->date, g_mime_object_get_header(obj, "Date")) < 0 ||
        set_return_path(out, g_mime_object_get_header(obj, "Return-Path")) < 0 ||
        collect_auth(out, obj, lim->max_auth) < 0)
        goto oom;
    if (!g_mime_message_get_mime_part(msg) && !g_mime_object_get_header(obj, "From") &&
        !g_mime_object_get_header(obj, "Subject")) {
        snprintf(err, errlen, "not an RFC 5322 message (no From, no Subject, no body)");
        goto done;
    }
    g_mime_message_foreach(msg, visit, &w);
    if (w.failed) goto oom;
    if (rk_phish_set(&out->text, w.text->str, w.text->len, 0) < 0 || rk_phish_set(&out->html, w.html->str, w.html->len, 0) < 0)
        goto oom;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    g_string_free(w.text, TRUE);
    g_string_free(w.html, TRUE);
    if (msg) g_object_unref(msg);
    g_object_unref(parser);
    g_object_unref(stream);
    free(norm);
    return rc;
}

/* ---- encoding, for writing messages (the generator) -------------------- */

int rk_phish_encode(const char *in, size_t len, const char *how, const char *charset, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    pthread_once(&gmime_once, gmime_start);
    char *conv = NULL;
    gsize clen = len;
    if (charset && g_ascii_strcasecmp(charset, "utf-8") != 0) {   /* into the message's charset first */
        conv = g_convert_with_fallback(in, (gssize)len, charset, "UTF-8", "?", NULL, &clen, NULL);
        if (!conv) return -1;
        in = conv;
        len = clen;
    }
    int rc = 0;
    if (strcmp(how, "header") == 0 || strcmp(how, "phrase") == 0) {
        char *tmp = g_strndup(in, len);
        char *e = how[0] == 'h' ? g_mime_utils_header_encode_text(NULL, tmp, charset)
                                : g_mime_utils_header_encode_phrase(NULL, tmp, charset);
        g_free(tmp);
        if (e) { *out = strdup(e); *outlen = strlen(e); }
        g_free(e);
        if (!*out) rc = -1;
    } else if (strcmp(how, "base64") == 0 || strcmp(how, "quoted-printable") == 0) {
        GMimeEncoding enc;
        g_mime_encoding_init_encode(&enc, how[0] == 'b' ? GMIME_CONTENT_ENCODING_BASE64 : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
        size_t cap = g_mime_encoding_outlen(&enc, len) + 16;
        *out = malloc(cap);
        if (*out) *outlen = g_mime_encoding_flush(&enc, in, len, *out);
        else rc = -1;
    } else if (strcmp(how, "none") == 0) {
        *out = malloc(len + 1);
        if (*out) { memcpy(*out, in, len); *outlen = len; } else rc = -1;
    } else {
        rc = -1;
    }
    g_free(conv);
    return rc;
}

/* phish_html.c — links, forms and visible text of a message's HTML, from
 * libxml2's HTML parser. The tree is walked without recursion (parent
 * pointers), so a hostile nesting depth costs no stack.
 */
#include "phish_html.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_start(void) { xmlInitParser(); }

typedef struct { char *p; size_t len, cap, max; int truncated, oom; } sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->max) {
        b->truncated = 1;
        n = b->max > b->len ? b->max - b->len : 0;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->len + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends text with runs of white space folded to one space. */
static void sb_add_text(sbuf_t *b, const char *s)
{
    int space = b->len == 0 || b->p[b->len - 1] == ' ';
    const char *run = s;
    for (const char *q = s;; q++) {
        int ws = *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f';
        if (ws || !*q) {
            if (q > run) { sb_add(b, run, (size_t)(q - run)); space = 0; }
            if (!*q) break;
            if (!space) { sb_add(b, " ", 1); space = 1; }
            run = q + 1;
        }
    }
}

static int is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name && strcasecmp((const char *)n->name, name) == 0;
}

static int hidden_text(const xmlNode *n)
{
    return is(n, "script") || is(n, "style") || is(n, "noscript") || is(n, "template");
}

static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp((xmlNodePtr)n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

/* The visible text under n (capped). */
static char *subtree_text(const xmlNode *top)
{
    sbuf_t b = { NULL, 0, 0, 256, 0, 0 };
    sb_add(&b, "", 0);
    const xmlNode *n = top->children;
    while (n && n != top) {
        if (n->type == XML_TEXT_NODE && n->content) sb_add_text(&b, (const char *)n->content);
        if (n->children && n->type == XML_ELEMENT_NODE && !hidden_text(n)) { n = n->children; continue; }
        while (n && n != top && !n->next) n = n->parent;
        if (n && n != top) n = n->next;
    }
    if (b.oom) { free(b.p); return NULL; }
    while (b.len > 0 && b.p[b.len - 1] == ' ') b.p[--b.len] = '\0';
    return b.p;
}

static int add_link(rk_phish_html_t *h, char *href, char *text, int form, int max)
{
    if (h->nlinks >= max) { h->truncated = 1; free(href); free(text); return 0; }
    rk_phish_link_t *nl = realloc(h->links, ((size_t)h->nlinks + 1) * sizeof *nl);
    if (!nl) { free(href); free(text); return -1; }
    h->links = nl;
    h->links[h->nlinks++] = (rk_phish_link_t){ href, text, form };
    return 0;
}

int rk_phish_html_scan(const char *html, size_t len, int max_links, size_t max_text, rk_phish_html_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_once(&xml_once, xml_start);
    sbuf_t text = { NULL, 0, 0, max_text, 0, 0 };
    sb_add(&text, "", 0);
    int rc = 0;
    htmlDocPtr doc = len && len < (size_t)1 << 30
        ? htmlReadMemory(html, (int)len, NULL, "UTF-8",
                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET)
        : NULL;
    const xmlNode *n = doc ? xmlDocGetRootElement(doc) : NULL;
    while (n && rc == 0) {
        int descend = 1;
        if (n->type == XML_TEXT_NODE && n->content) sb_add_text(&text, (const char *)n->content);
        else if (n->type == XML_ELEMENT_NODE) {
            if (hidden_text(n)) descend = 0;
            else if (is(n, "a") || is(n, "area")) {
                char *href = attr(n, "href");
                if (href) rc = add_link(out, href, subtree_text(n), 0, max_links);
            } else if (is(n, "form")) {
                char *action = attr(n, "action");
                if (action) rc = add_link(out, action, NULL, 1, max_links);
            } else if (is(n, "input")) {
                char *type = attr(n, "type");
                if (type && strcasecmp(type, "password") == 0) out->password_form = 1;
                free(type);
            } else if (is(n, "br") || is(n, "p") || is(n, "div") || is(n, "td") || is(n, "li")) {
                if (text.len && text.p[text.len - 1] != ' ') sb_add(&text, " ", 1);
            }
        }
        if (descend && n->children && n->type == XML_ELEMENT_NODE) { n = n->children; continue; }
        while (n && !n->next) n = n->parent;
        if (n) n = n->next;
    }
    if (doc) xmlFreeDoc(doc);
    out->text = text.p;
    out->truncated |= text.truncated;
    if (text.oom) rc = -1;
    return rc;
}

void rk_phish_html_free(rk_phish_html_t *h)
{
    if (!h) return;
    for (int i = 0; i < h->nlinks; i++) { free(h->links[i].href); free(h->links[i].text); }
    free(h->links);
    free(h->text);
    memset(h, 0, sizeof *h);
}

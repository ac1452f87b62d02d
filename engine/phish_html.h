/* phish_html.h — what a message's HTML shows and links to, read with
 * libxml2's HTML parser (forgiving, as mail clients are). Pure C. */
#ifndef RK_PHISH_HTML_H
#define RK_PHISH_HTML_H

#include <stddef.h>

typedef struct rk_phish_link {
    char *href;                      /* as written */
    char *text;                      /* the link's visible text, trimmed, capped at 256 bytes */
    int form;                        /* a form's action rather than a link */
} rk_phish_link_t;

typedef struct rk_phish_html {
    rk_phish_link_t *links;
    int nlinks;
    int password_form;               /* an <input type=password> */
    char *text;                      /* visible text (no script, style or comments), capped */
    int truncated;
} rk_phish_html_t;

/* 0, or -1 out of memory. *out is always safe to free. */
int rk_phish_html_scan(const char *html, size_t len, int max_links, size_t max_text, rk_phish_html_t *out);
void rk_phish_html_free(rk_phish_html_t *h);

#endif

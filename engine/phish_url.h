/* phish_url.h — one URL's host and what is wrong with it: registrable
 * domain (libpsl), IDN and punycode (libidn2), mixed scripts and
 * confusable characters, look-alikes of protected brands, IP literals,
 * shorteners. Internal to phish.c and its tests. Pure C. */
#ifndef RK_PHISH_URL_H
#define RK_PHISH_URL_H

#include "phish.h"

/* Fills u from url (copied) and the link text shown for it (NULL: none):
 * 0, 1 when url is not a web link (mailto:, a fragment…; u left empty), -1
 * out of memory. */
int rk_phish_url_analyze(const rk_phish_cfg_t *c, const char *url, size_t len, const char *shown_text,
                         rk_phish_url_t *u);
void rk_phish_url_free(rk_phish_url_t *u);
/* The protected domain that domain (a registrable domain, ASCII or
 * punycode) imitates, or NULL: confusable characters, substitutions
 * (0→o, rn→m…) or a small edit distance on the label. The protected domains
 * themselves imitate nothing. */
const char *rk_phish_lookalike(const rk_phish_cfg_t *c, const char *domain);
/* The protected domain whose name a domain's label contains
 * ("paypal-secure.com", "paypa1-login.net"), or NULL. */
const char *rk_phish_brand_in_domain(const rk_phish_cfg_t *c, const char *domain);
/* Whether a registrable domain's name joins lure words with hyphens
 * ("wallet-verify.com", "pko-weryfikacja.pl"). */
int rk_phish_deceptive_name(const rk_phish_cfg_t *c, const char *domain);
/* Whether its top-level domain is one mostly seen in abuse. */
int rk_phish_cheap_tld(const char *domain);
/* Whether domain is one of the protected ones. */
int rk_phish_is_protected(const rk_phish_cfg_t *c, const char *domain);
/* The protected brand label ("paypal") that text names, or NULL. */
const char *rk_phish_brand_named(const rk_phish_cfg_t *c, const char *text_lower);

#endif

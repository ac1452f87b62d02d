/* apikey.h — long-lived API keys for services: making one, and checking one
 * against what the store keeps. Pure C (OpenSSL's random bytes and SHA-256).
 *
 * A key reads "rk_" ID "_" SECRET: ID (16 hex digits) names the stored
 * record, SECRET (64 hex digits, 256 random bits) is never stored; the store
 * keeps its SHA-256. A salted slow hash (argon2, as for passwords) buys
 * nothing against 256 random bits and would cost ~40 ms per request. */
#ifndef RK_APIKEY_H
#define RK_APIKEY_H

#include <stddef.h>

#include "store.h"

#define RK_APIKEY_ID_LEN 16
#define RK_APIKEY_SECRET_LEN 64
#define RK_APIKEY_LEN (3 + RK_APIKEY_ID_LEN + 1 + RK_APIKEY_SECRET_LEN)
#define RK_APIKEY_HASH_LEN 64   /* SHA-256, hex */

/* A new key in key, its id and the hash of its secret: 0, or -1 when the
 * system has no randomness to give. */
int rk_apikey_new(char key[RK_APIKEY_LEN + 1], char id[RK_APIKEY_ID_LEN + 1], char hash[RK_APIKEY_HASH_LEN + 1]);
/* Whether text has the form of a key: 1 with its id and the hash of its
 * secret filled, else 0. */
int rk_apikey_parse(const char *text, size_t len, char id[RK_APIKEY_ID_LEN + 1], char hash[RK_APIKEY_HASH_LEN + 1]);
/* Two hashes compared in a time that does not depend on where they differ. */
int rk_apikey_hash_equal(const char *a, const char *b);

/* The role a key acts as: keys stand in for the passwords of the systems
 * that send logins and mail. */
#define RK_APIKEY_ROLE "service"
#define RK_APIKEY_NAME_MAX 64
/* Whether name may name a key: 1 to RK_APIKEY_NAME_MAX letters, digits, '.', '_', '-'. */
int rk_apikey_name_valid(const char *name);
/* A new key named name (for RK_APIKEY_ROLE), kept in the store: 0 with the
 * key (shown once, never kept) and its record (its strings not set), or the
 * store's error (conflict when a live key has that name). */
int rk_apikey_issue(rk_store_t *s, const char *name, char key[RK_APIKEY_LEN + 1], rk_apikey_t *rec, char *err, size_t errlen);
/* The live key that text is: 1 with its record (rk_store_key_free it), 0
 * when text is no such key (malformed, unknown, revoked or a wrong secret;
 * why in err), -1 when the store failed. */
int rk_apikey_check(rk_store_t *s, const char *text, size_t len, rk_apikey_t *rec, char *err, size_t errlen);

#endif

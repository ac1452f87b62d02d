/* apikey.c — see apikey.h. */
#include "apikey.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static const char HEX[] = "0123456789abcdef";

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) { out[2 * i] = HEX[b[i] >> 4]; out[2 * i + 1] = HEX[b[i] & 15]; }
    out[2 * n] = '\0';
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int hash_secret(const char *secret, char hash[RK_APIKEY_HASH_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(secret, RK_APIKEY_SECRET_LEN, md, &n, EVP_sha256(), NULL) || n * 2 != RK_APIKEY_HASH_LEN) return -1;
    to_hex(md, n, hash);
    return 0;
}

int rk_apikey_new(char key[RK_APIKEY_LEN + 1], char id[RK_APIKEY_ID_LEN + 1], char hash[RK_APIKEY_HASH_LEN + 1])
{
    unsigned char rid[RK_APIKEY_ID_LEN / 2], rs[RK_APIKEY_SECRET_LEN / 2];
    char secret[RK_APIKEY_SECRET_LEN + 1];
    if (RAND_bytes(rid, sizeof rid) != 1 || RAND_bytes(rs, sizeof rs) != 1) return -1;
    to_hex(rid, sizeof rid, id);
    to_hex(rs, sizeof rs, secret);
    int rc = hash_secret(secret, hash);
    if (rc == 0) {
        memcpy(key, "rk_", 3);
        memcpy(key + 3, id, RK_APIKEY_ID_LEN);
        key[3 + RK_APIKEY_ID_LEN] = '_';
        memcpy(key + 4 + RK_APIKEY_ID_LEN, secret, RK_APIKEY_SECRET_LEN + 1);
    }
    OPENSSL_cleanse(rs, sizeof rs);
    OPENSSL_cleanse(secret, sizeof secret);
    return rc;
}

int rk_apikey_parse(const char *text, size_t len, char id[RK_APIKEY_ID_LEN + 1], char hash[RK_APIKEY_HASH_LEN + 1])
{
    if (len != RK_APIKEY_LEN || memcmp(text, "rk_", 3) != 0 || text[3 + RK_APIKEY_ID_LEN] != '_') return 0;
    const char *i = text + 3, *s = text + 4 + RK_APIKEY_ID_LEN;
    if (!is_hex(i, RK_APIKEY_ID_LEN) || !is_hex(s, RK_APIKEY_SECRET_LEN)) return 0;
    memcpy(id, i, RK_APIKEY_ID_LEN);
    id[RK_APIKEY_ID_LEN] = '\0';
    return hash_secret(s, hash) == 0;
}

int rk_apikey_hash_equal(const char *a, const char *b)
{
    return strlen(a) == RK_APIKEY_HASH_LEN && strlen(b) == RK_APIKEY_HASH_LEN &&
           CRYPTO_memcmp(a, b, RK_APIKEY_HASH_LEN) == 0;
}

int rk_apikey_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > RK_APIKEY_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int rk_apikey_issue(rk_store_t *s, const char *name, char key[RK_APIKEY_LEN + 1], rk_apikey_t *rec, char *err, size_t errlen)
{
    char id[RK_APIKEY_ID_LEN + 1], hash[RK_APIKEY_HASH_LEN + 1];
    memset(rec, 0, sizeof *rec);
    if (rk_apikey_new(key, id, hash) != 0) { snprintf(err, errlen, "no random bytes for a key"); return -1; }
    snprintf(rec->id, sizeof rec->id, "%s", id);
    rec->name = (char *)name;
    rec->role = (char *)RK_APIKEY_ROLE;
    rec->hash = hash;
    int rc = rk_store_key_create(s, rec, err, errlen);
    rec->name = rec->role = rec->hash = NULL;   /* the caller's and this frame's, not the record's */
    if (rc != 0) OPENSSL_cleanse(key, RK_APIKEY_LEN + 1);
    return rc;
}

int rk_apikey_check(rk_store_t *s, const char *text, size_t len, rk_apikey_t *rec, char *err, size_t errlen)
{
    char id[RK_APIKEY_ID_LEN + 1], hash[RK_APIKEY_HASH_LEN + 1];
    memset(rec, 0, sizeof *rec);
    if (!rk_apikey_parse(text, len, id, hash)) { snprintf(err, errlen, "not an API key"); return 0; }
    int rc = rk_store_key_get(s, id, rec, err, errlen);
    if (rc == RK_STORE_NOT_FOUND) { snprintf(err, errlen, "unknown API key"); return 0; }
    if (rc != 0) return -1;
    const char *why = !rec->hash || !rk_apikey_hash_equal(rec->hash, hash) ? "unknown API key"
                    : rec->revoked_ms ? "the API key was revoked" : NULL;
    if (why) { rk_store_key_free(rec); snprintf(err, errlen, "%s", why); return 0; }
    return 1;
}

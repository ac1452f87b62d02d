/* jwt.c — see jwt.h. */
#include "jwt.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int secret_ok(const char *secret, char *err, size_t errlen)
{
    if (!secret || strlen(secret) < RK_JWT_MIN_SECRET) {
        snprintf(err, errlen, "JWT_SECRET must have at least %d characters", RK_JWT_MIN_SECRET);
        return -1;
    }
    return 0;
}

int rk_jwt_issue(const char *secret, rk_jwt_claims_t *c, int64_t now, int64_t ttl_s, char *out, size_t cap,
                 char *err, size_t errlen)
{
    if (secret_ok(secret, err, errlen) < 0) return -1;
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) { snprintf(err, errlen, "no randomness"); return -1; }
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(c->jti + 2 * i, 3, "%02x", rnd[i]);
    c->iat = now;
    c->exp = now + ttl_s;
    jwt_t *j = NULL;
    char *tok = NULL;
    int rc = -1;
    if (jwt_new(&j) != 0 ||
        jwt_add_grant(j, "sub", c->sub) != 0 || jwt_add_grant(j, "role", c->role) != 0 ||
        jwt_add_grant(j, "jti", c->jti) != 0 || jwt_add_grant(j, "iss", RK_JWT_ISSUER) != 0 ||
        jwt_add_grant(j, "pwv", c->pwv) != 0 || jwt_add_grant_int(j, "iat", (long)c->iat) != 0 ||
        jwt_add_grant_int(j, "exp", (long)c->exp) != 0 ||
        jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0 ||
        !(tok = jwt_encode_str(j))) {
        snprintf(err, errlen, "cannot make a token");
        goto done;
    }
    if (strlen(tok) >= cap) { snprintf(err, errlen, "token too long"); goto done; }
    memcpy(out, tok, strlen(tok) + 1);
    rc = 0;
done:
    free(tok);
    jwt_free(j);
    return rc;
}

static int copy_grant(jwt_t *j, const char *name, char *out, size_t cap)
{
    const char *v = jwt_get_grant(j, name);
    if (!v || strlen(v) >= cap) return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

int rk_jwt_verify(const char *secret, const char *token, int64_t now, rk_jwt_claims_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (secret_ok(secret, err, errlen) < 0) return -1;
    if (!token || strlen(token) > RK_JWT_MAX) { snprintf(err, errlen, "malformed token"); return -1; }
    jwt_t *j = NULL;
    /* With a key, libjwt checks the signature; the algorithm must still be
     * ours: a token that says "none" or anything else is refused. */
    if (jwt_decode(&j, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !j) {
        snprintf(err, errlen, "invalid token");
        return -1;
    }
    int rc = -1;
    if (jwt_get_alg(j) != JWT_ALG_HS256) { snprintf(err, errlen, "invalid token algorithm"); goto done; }
    if (copy_grant(j, "sub", out->sub, sizeof out->sub) < 0 || copy_grant(j, "role", out->role, sizeof out->role) < 0 ||
        copy_grant(j, "jti", out->jti, sizeof out->jti) < 0 || copy_grant(j, "pwv", out->pwv, sizeof out->pwv) < 0) {
        snprintf(err, errlen, "token lacks its claims");
        goto done;
    }
    const char *iss = jwt_get_grant(j, "iss");
    if (!iss || strcmp(iss, RK_JWT_ISSUER) != 0) { snprintf(err, errlen, "token from another issuer"); goto done; }
    out->iat = jwt_get_grant_int(j, "iat");
    out->exp = jwt_get_grant_int(j, "exp");
    if (out->exp <= now) { snprintf(err, errlen, "token expired"); goto done; }
    if (out->iat > now + RK_JWT_LEEWAY_S) { snprintf(err, errlen, "token not yet valid"); goto done; }
    rc = 0;
done:
    jwt_free(j);
    return rc;
}

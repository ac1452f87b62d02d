/* jwt.h — session tokens: HS256 JSON Web Tokens (libjwt) carrying the user,
 * the role, issue and expiry times and a unique id. Only HS256 is accepted
 * ("none" and every other algorithm are refused), iss is "riskd", the secret must be at
 * least 32 bytes, and expiry is checked against the caller's clock. Pure C.
 */
#ifndef RK_JWT_H
#define RK_JWT_H

#include <stddef.h>
#include <stdint.h>

#define RK_JWT_MIN_SECRET 32
#define RK_JWT_MAX 2048
#define RK_JWT_ISSUER "riskd"
#define RK_JWT_LEEWAY_S 60     /* clock skew allowed for iat in the future */

typedef struct rk_jwt_claims {
    char sub[128];       /* the user name */
    char role[16];
    char jti[40];        /* this token's id, to revoke it */
    char pwv[64];        /* the password's version (its salt): a new password voids older tokens */
    int64_t iat, exp;    /* Unix seconds */
} rk_jwt_claims_t;

/* Fills c->jti and c->iat/exp from now and ttl; writes the token into out. */
int rk_jwt_issue(const char *secret, rk_jwt_claims_t *c, int64_t now, int64_t ttl_s, char *out, size_t cap,
                 char *err, size_t errlen);
/* 0 with the claims, or -1 with why: bad signature, wrong algorithm or
 * issuer, expired, issued in the future, malformed. */
int rk_jwt_verify(const char *secret, const char *token, int64_t now, rk_jwt_claims_t *out, char *err, size_t errlen);

#endif

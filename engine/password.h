/* password.h — account passwords: argon2id (libargon2) with a random
 * per-password salt, the parameters kept in the encoded hash, verification in
 * constant time, and the password policy. Pure C.
 */
#ifndef RK_PASSWORD_H
#define RK_PASSWORD_H

#include <stddef.h>

#define RK_PASSWORD_MIN 12
#define RK_PASSWORD_MAX 1024
#define RK_PASSWORD_HASH_MAX 160

/* 0 when the password may be used by this user, else -1 with what is wrong. */
int rk_password_policy(const char *username, const char *password, char *err, size_t errlen);
/* Writes "$argon2id$v=19$m=...,t=...,p=...$salt$hash" into out. */
int rk_password_hash(const char *password, char *out, size_t cap, char *err, size_t errlen);
/* 1 on a match, 0 on a mismatch, -1 for a hash that is not argon2id. */
int rk_password_verify(const char *encoded, const char *password);

#endif

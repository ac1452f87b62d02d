/* password.c — see password.h. Parameters: OWASP's argon2id minimum
 * (19 MiB, 2 passes, 1 lane): about 20 ms a hash on the development machine,
 * slow enough to make guessing expensive, fast enough for a login. The
 * parameters travel in the encoded hash, so they can be raised later
 * without breaking stored hashes. */
#include "password.h"

#include <argon2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define T_COST 2
#define M_COST_KIB 19456
#define LANES 1
#define SALT_LEN 16
#define HASH_LEN 32

int rk_password_policy(const char *username, const char *password, char *err, size_t errlen)
{
    size_t n = strlen(password);
    if (n < RK_PASSWORD_MIN) {
        snprintf(err, errlen, "the password must have at least %d characters", RK_PASSWORD_MIN);
        return -1;
    }
    if (n > RK_PASSWORD_MAX) {
        snprintf(err, errlen, "the password must have at most %d characters", RK_PASSWORD_MAX);
        return -1;
    }
    if (username && strcmp(username, password) == 0) {
        snprintf(err, errlen, "the password must not be the user name");
        return -1;
    }
    return 0;
}

int rk_password_hash(const char *password, char *out, size_t cap, char *err, size_t errlen)
{
    uint8_t salt[SALT_LEN];
    if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
        snprintf(err, errlen, "no randomness for the salt");
        return -1;
    }
    size_t need = argon2_encodedlen(T_COST, M_COST_KIB, LANES, SALT_LEN, HASH_LEN, Argon2_id);
    if (need > cap) { snprintf(err, errlen, "hash buffer too small"); return -1; }
    int rc = argon2id_hash_encoded(T_COST, M_COST_KIB, LANES, password, strlen(password), salt, sizeof salt,
                                   HASH_LEN, out, cap);
    if (rc != ARGON2_OK) { snprintf(err, errlen, "argon2id: %s", argon2_error_message(rc)); return -1; }
    return 0;
}

int rk_password_verify(const char *encoded, const char *password)
{
    if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0) return -1;
    int rc = argon2id_verify(encoded, password, strlen(password));   /* constant-time compare inside */
    if (rc == ARGON2_OK) return 1;
    if (rc == ARGON2_VERIFY_MISMATCH) return 0;
    return -1;
}

/* hash.h — the one non-cryptographic hash of the engine: 64-bit FNV-1a, for
 * checksums of model files, digests of script snapshots and hash tables.
 * Pure C. */
#ifndef RK_HASH_H
#define RK_HASH_H

#include <stddef.h>
#include <stdint.h>

#define RK_FNV_OFFSET 1469598103934665603ULL

/* h with n more bytes folded in; start from RK_FNV_OFFSET. */
static inline uint64_t rk_fnv1a_add(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static inline uint64_t rk_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ULL; }
    return h;
}

static inline uint64_t rk_fnv1a(const void *data, size_t n) { return rk_fnv1a_add(RK_FNV_OFFSET, data, n); }

#endif

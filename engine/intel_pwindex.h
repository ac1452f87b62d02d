/* intel_pwindex.h — the breached-password index: SHA-1 hashes of leaked passwords
 * with how often each was seen, as breach corpora publish them ("HASH:COUNT"
 * per line, tens of GB). Pure C (SHA-1 from OpenSSL's libcrypto).
 *
 * File layout (little-endian), made to answer the k-anonymity range query
 * (the first 20 bits of a hash in, every hash sharing them out) with one
 * table read and a sequential scan, and a membership test with a binary
 * search inside that range:
 *   header   32 bytes: "RKPWIDX1", u32 version, u32 hash bytes (20), u64 hashes, u64 0
 *   offsets  (2^20 + 1) x u64: index of the first record of each 20-bit prefix
 *   records  hashes x 22 bytes: bytes 2..19 of the hash, u32 count (saturating)
 * so 22 bytes per hash plus 8 MiB: 22 GB per billion hashes.
 *
 * Import streams the input once into 256 temporary bucket files (by first
 * byte), then sorts one bucket at a time in memory (1/256 of the input),
 * merging duplicate hashes by adding their counts. The index is written to
 * a temporary name, synced, and renamed into place, so a reader never sees
 * half of one.
 */
#ifndef RK_INTEL_PWINDEX_H
#define RK_INTEL_PWINDEX_H

#include <stddef.h>
#include <stdint.h>

#define RK_PWINDEX_PREFIXES (1u << 20)

typedef struct rk_pwindex rk_pwindex_t;

typedef struct rk_pwimport_stats {
    uint64_t lines, hashes, duplicates, bad_lines, input_bytes, index_bytes;
    uint64_t first_bad_line;      /* 0 when none */
    char first_bad[96];
} rk_pwimport_stats_t;

/* input "-" reads standard input. 0, or -1 with err (nothing is replaced). */
int rk_pwindex_import(const char *input, const char *out_path, rk_pwimport_stats_t *st, char *err, size_t errlen);

rk_pwindex_t *rk_pwindex_open(const char *path, char *err, size_t errlen);
void rk_pwindex_close(rk_pwindex_t *x);
uint64_t rk_pwindex_hashes(const rk_pwindex_t *x);
uint64_t rk_pwindex_bytes(const rk_pwindex_t *x);

/* How often the hash was seen; 0 when it never was. */
uint32_t rk_pwindex_count(const rk_pwindex_t *x, const uint8_t sha1[20]);
uint32_t rk_pwindex_count_password(const rk_pwindex_t *x, const char *pw, size_t n);

/* The hashes starting with the 20-bit prefix: fn gets the 35 upper-case hex
 * characters after the prefix (NUL-terminated) and the count of each, in
 * order. Returns how many there were. */
size_t rk_pwindex_range(const rk_pwindex_t *x, uint32_t prefix,
                        void (*fn)(void *ud, const char *suffix, uint32_t count), void *ud);

/* Parses 5 hex digits; -1 otherwise. */
int64_t rk_pwindex_parse_prefix(const char *s, size_t n);
void rk_sha1(const void *data, size_t n, uint8_t out[20]);

#endif

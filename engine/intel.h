/* intel.h — the threat-intelligence folder (`--intel DIR`, default intel/):
 * what is known about addresses, clients and passwords, from files the
 * operator controls. Pure C; shared by every worker.
 *
 * Files at the top of the folder (hidden files and others ignored):
 *   NAME.txt|.netset|.ipset|.list   an IP set: addresses, CIDR ranges,
 *                                   first-last ranges, FireHOL and Tor lists
 *   NAME.auto                       an IP set riskd writes itself, each line
 *                                   "ADDRESS EXPIRY" (Unix seconds)
 *   NAME.patterns                   case-insensitive substrings (user agents
 *                                   of scripting tools and headless browsers)
 *   passwords.sha1.idx              the breached-password index (intel_pwindex.h)
 * A set's name is its file's name without the extension. rk_intel_reload()
 * rereads the folder into a new immutable snapshot and swaps it in; a
 * malformed line is reported with its file and line and skipped; a file that
 * fails entirely (unreadable, or no valid line among bad ones) keeps the
 * set it had before. Unchanged files (same size, time and inode) are not
 * compiled again, except .auto sets, whose entries expire. Readers take a
 * reference to the current snapshot for the length of one call, so a reload
 * never waits for them nor they for it.
 */
#ifndef RK_INTEL_H
#define RK_INTEL_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

#define RK_INTEL_MAX_ERRORS 8
#define RK_INTEL_AUTO_MAX 100000      /* entries kept in an automatic set */

typedef struct rk_intel rk_intel_t;

enum { RK_INTEL_IPS, RK_INTEL_PATTERNS };

typedef struct rk_intel_error { int line; char message[160]; } rk_intel_error_t;

typedef struct rk_intel_set_info {
    char name[64], file[256];
    int kind;                        /* RK_INTEL_IPS or RK_INTEL_PATTERNS */
    size_t entries, ranges_v4, ranges_v6, memory;
    int64_t loaded_ms;               /* when the set now in use was read */
    size_t nerrors;                  /* malformed lines in the file as last read */
    rk_intel_error_t errors[RK_INTEL_MAX_ERRORS];
    char failed[256];                /* set when the file as last read could not be used */
} rk_intel_set_info_t;

typedef struct rk_intel_info {
    char dir[1024];
    uint64_t generation;
    int64_t reloaded_ms;
    rk_intel_set_info_t *sets;       /* sorted by name; free() it */
    size_t nsets;
    int has_passwords;
    uint64_t password_hashes, password_bytes;
    int64_t passwords_loaded_ms;
    char passwords_failed[256];
} rk_intel_info_t;

/* dir is the user's folder; state_dir holds the automatic (.auto) sets riskd
 * writes itself (NULL: dir). A folder that does not exist is an empty intel
 * set, not an error (it is read again on each reload). */
rk_intel_t *rk_intel_open(const char *dir, const char *state_dir);
void rk_intel_close(rk_intel_t *in);
const char *rk_intel_dir(const rk_intel_t *in);
/* Rereads the folder; returns the number of files that had errors. */
int rk_intel_reload(rk_intel_t *in);

/* 1 or 0; -1 when there is no IP set of that name. */
int rk_intel_contains(rk_intel_t *in, const char *set, const rk_ip_t *ip);
/* 1 with the matching pattern copied into out, or 0; -1 when there is no
 * pattern set of that name. */
int rk_intel_match(rk_intel_t *in, const char *set, const char *text, size_t n, char *out, size_t cap);
/* Breached passwords: -1 when there is no index. */
int64_t rk_intel_password_count(rk_intel_t *in, const char *pw, size_t n);
int64_t rk_intel_password_range(rk_intel_t *in, uint32_t prefix,
                                void (*fn)(void *ud, const char *suffix, uint32_t count), void *ud);

/* Adds ip to the automatic set NAME.auto until expires_s (Unix seconds),
 * rewriting the file without its expired entries, and reloads. 0 or -1. */
int rk_intel_confirm(rk_intel_t *in, const char *set, const rk_ip_t *ip, int64_t expires_s,
                     char *err, size_t errlen);

int rk_intel_info(rk_intel_t *in, rk_intel_info_t *out);

#endif

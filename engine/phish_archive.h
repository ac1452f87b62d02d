/* phish_archive.h — the names of the files inside an attached archive
 * (zip, rar, 7z, tar, gzip, cab, iso…), read with libarchive: nothing is
 * extracted and nested archives are not opened. An entry's data is still
 * decompressed to reach the next header (a compressed tar is one stream),
 * so the reading has a byte cap and a deadline that hold inside an entry:
 * a bomb costs at most RK_ARCHIVE_MAX_UNPACKED bytes or the time left. Pure C. */
#ifndef RK_PHISH_ARCHIVE_H
#define RK_PHISH_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#define RK_ARCHIVE_MAX_NAMES 256
#define RK_ARCHIVE_MAX_UNPACKED (64u << 20)   /* compressed streams are read this far at most */

/* Whether a file name or MIME type says archive. */
int rk_phish_is_archive(const char *name, const char *type);
/* Fills *names (malloc'ed array of malloc'ed strings) with up to
 * RK_ARCHIVE_MAX_NAMES entry names. Returns how many, 0 when the data is
 * not an archive libarchive reads (or is damaged: what was read is kept),
 * -1 out of memory. *truncated is set when the caps stopped the listing:
 * names, unpacked bytes, or deadline_ns (CLOCK_MONOTONIC, 0 = none). */
int rk_phish_archive_names(const void *data, size_t len, uint64_t deadline_ns, char ***names, int *truncated);

#endif

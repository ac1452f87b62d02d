/* phish_archive.c — see phish_archive.h. A hostile archive costs at most
 * RK_ARCHIVE_MAX_UNPACKED bytes of decompression, RK_ARCHIVE_MAX_NAMES
 * headers, or the time to the deadline: entries' data are read block by
 * block, counted and dropped, never written anywhere. */
#include "phish_archive.h"
#include "clock.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int rk_phish_is_archive(const char *name, const char *type)
{
    static const char *const exts[] = { "zip", "rar", "7z", "gz", "tgz", "tar", "cab", "iso", "img", "bz2", "tbz2", "tbz",
                                        "xz", "txz", "zst", "tzst", "lz", "lzma", "arj", NULL };
    const char *dot = name ? strrchr(name, '.') : NULL;
    for (const char *const *e = exts; dot && *e; e++) if (strcasecmp(dot + 1, *e) == 0) return 1;
    return type && (strstr(type, "zip") || strstr(type, "rar") || strstr(type, "7z") || strstr(type, "x-tar") ||
                    strstr(type, "gzip") || strstr(type, "x-iso9660") || strstr(type, "vnd.ms-cab") ||
                    strstr(type, "bzip") || strstr(type, "x-xz") || strstr(type, "zstd") || strstr(type, "lzma"));
}

/* Reads past the current entry's data within the caps: 0 at its end, 1
 * when a cap stopped it, -1 when the archive is damaged. archive_read_data_skip
 * would decompress a whole entry in one call, past any cap. *unpacked counts
 * the entry data's bytes (a zip's deflate is the format's, not a filter's). */
static int skip_data(struct archive *a, uint64_t deadline_ns, uint64_t *unpacked)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int rc = archive_read_data_block(a, &buf, &size, &off);
        if (rc == ARCHIVE_EOF) return 0;
        if (rc < ARCHIVE_WARN) return -1;
        *unpacked += size;
        if (*unpacked > RK_ARCHIVE_MAX_UNPACKED || archive_filter_bytes(a, 0) > (la_int64_t)RK_ARCHIVE_MAX_UNPACKED)
            return 1;
        if (deadline_ns && rk_now_ns() >= deadline_ns) return 1;
    }
}

int rk_phish_archive_names(const void *data, size_t len, uint64_t deadline_ns, char ***names, int *truncated)
{
    *names = NULL;
    *truncated = 0;
    struct archive *a = archive_read_new();
    if (!a) return -1;
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    int n = 0, failed = 0;
    uint64_t unpacked = 0;
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) goto done;
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (n >= RK_ARCHIVE_MAX_NAMES || archive_filter_bytes(a, 0) > (la_int64_t)RK_ARCHIVE_MAX_UNPACKED) {
            *truncated = 1;
            break;
        }
        const char *p = archive_entry_pathname_utf8(e);
        if (!p) p = archive_entry_pathname(e);
        if (!p) p = "";
        char **nn = realloc(*names, ((size_t)n + 1) * sizeof *nn);
        if (!nn) { failed = 1; break; }
        *names = nn;
        if (!((*names)[n] = strdup(p))) { failed = 1; break; }
        n++;
        int rc = skip_data(a, deadline_ns, &unpacked);
        if (rc > 0) *truncated = 1;
        if (rc != 0) break;
    }
done:
    archive_read_free(a);
    if (failed) {
        for (int i = 0; i < n; i++) free((*names)[i]);
        free(*names);
        *names = NULL;
        return -1;
    }
    return n;
}

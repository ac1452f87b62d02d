/* phish_archive.c — see phish_archive.h. A hostile archive costs at most
 * RK_ARCHIVE_MAX_UNPACKED bytes of decompression and RK_ARCHIVE_MAX_NAMES
 * headers: entries' data are skipped, never written anywhere. */
#include "phish_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rk_phish_is_archive(const char *name, const char *type)
{
    static const char *const exts[] = { "zip", "rar", "7z", "gz", "tgz", "tar", "cab", "iso", "img", "bz2", "xz", "arj", NULL };
    const char *dot = name ? strrchr(name, '.') : NULL;
    for (const char *const *e = exts; dot && *e; e++) if (strcasecmp(dot + 1, *e) == 0) return 1;
    return type && (strstr(type, "zip") || strstr(type, "rar") || strstr(type, "7z") || strstr(type, "x-tar") ||
                    strstr(type, "gzip") || strstr(type, "x-iso9660") || strstr(type, "vnd.ms-cab"));
}

int rk_phish_archive_names(const void *data, size_t len, char ***names, int *truncated)
{
    *names = NULL;
    *truncated = 0;
    struct archive *a = archive_read_new();
    if (!a) return -1;
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    int n = 0, failed = 0;
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
        if (archive_read_data_skip(a) != ARCHIVE_OK) break;
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

/* vm_snapshot.h — an immutable, reference-counted snapshot of a script tree.
 *
 * Hot reload reads every *.lua file under a folder into memory at once, so a
 * Lua state built from one snapshot never mixes two versions of the code:
 * `require` is served from the snapshot, not from the disk. A snapshot is
 * shared between the reloader and every worker; the last release frees it.
 */
#ifndef RK_VM_SNAPSHOT_H
#define RK_VM_SNAPSHOT_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#define RK_SCRIPTS_MAX_FILE (4u << 20)   /* a single script over 4 MiB is refused */
#define RK_SCRIPTS_MAX_FILES 4096

typedef struct rk_script_file {
    char *path;    /* relative to the root, '/'-separated: "api/health.lua" */
    char *data;
    size_t len;
} rk_script_file_t;

typedef struct rk_scripts {
    char *root;                  /* the folder as given */
    rk_script_file_t *files;     /* sorted by path */
    size_t n;
    uint64_t digest;             /* FNV-1a over paths and contents */
    atomic_int refs;
} rk_snapshot_t;

/* Reads the tree. Hidden files and folders (".#x.lua", ".git") are skipped,
 * as are non-.lua files. Returns NULL with err filled on failure. */
rk_snapshot_t *rk_snapshot_load(const char *root, char *err, size_t errlen);
const rk_script_file_t *rk_snapshot_find(const rk_snapshot_t *s, const char *path);
/* Module name "api.health" → the file "api/health.lua" or "api/health/init.lua". */
const rk_script_file_t *rk_snapshot_find_module(const rk_snapshot_t *s, const char *mod);
/* A new snapshot: base with the file at path replaced by data (len
 * bytes), added when base has none, or dropped when data is NULL. NULL when
 * out of memory. */
rk_snapshot_t *rk_snapshot_with(const rk_snapshot_t *base, const char *path, const char *data, size_t len);
rk_snapshot_t *rk_snapshot_retain(rk_snapshot_t *s);
void rk_snapshot_release(rk_snapshot_t *s);  /* NULL is a no-op */

#endif

/* cmd_key.c — services' API keys from the command line:
 * `riskd key create NAME`, `riskd key list`, `riskd key revoke NAME`, each
 * with `--db URI` (else RISKD_DB / .env / the default). They work against a
 * running server's store: a new key is accepted and a revoked one refused at
 * the server's next request. The key is printed once, as the last line of
 * `create`'s output (scripts take it with tail -n 1); only the hash of its
 * secret is stored. */
#include "cmd_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apikey.h"
#include "config.h"
#include "store.h"

static int usage(void)
{
    fprintf(stderr, "usage:\n"
                    "  riskd key create NAME [--db URI]   a key for the service role, printed once (last line)\n"
                    "  riskd key list [--db URI]          every key: name, id, created, last use, revoked\n"
                    "  riskd key revoke NAME [--db URI]   its next request gets 401\n"
                    "Send it as X-API-Key: KEY or Authorization: Bearer KEY.\n");
    return 2;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *when(int64_t ms, char *buf, size_t cap)
{
    if (!ms) return "-";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int rk_cmd_key(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) return usage();
    const char *cmd = argv[2], *name = NULL, *db = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc) db = argv[++i];
        else if (argv[i][0] != '-' && !name) name = argv[i];
        else { fprintf(stderr, "riskd key: unexpected '%s'\n", argv[i]); return usage(); }
    }
    int list = !strcmp(cmd, "list"), create = !strcmp(cmd, "create"), revoke = !strcmp(cmd, "revoke");
    if (!(list || create || revoke) || (list && name) || (!list && !name)) return usage();
    if (create && !rk_apikey_name_valid(name)) {
        fprintf(stderr, "riskd key: a key's name is 1 to %d letters, digits, '.', '_' or '-'\n", RK_APIKEY_NAME_MAX);
        return 2;
    }
    rk_config_t cfg;
    char err[1024];
    if (rk_config_load(&cfg, 0, NULL, 0, err, sizeof err) < 0) { fprintf(stderr, "riskd key: %s\n", err); return 2; }
    if (!db) db = cfg.db;
    rk_store_t *s = rk_store_open(db, NULL, err, sizeof err);
    if (!s) { fprintf(stderr, "riskd key: %s\n", err); return 1; }
    int status = 1, rc;
    if (create) {
        char key[RK_APIKEY_LEN + 1];
        rk_apikey_t rec;
        rc = rk_apikey_issue(s, name, key, &rec, err, sizeof err);
        if (rc) { fprintf(stderr, "riskd key: %s\n", err); goto done; }
        printf("created key %s (id %s, role %s); it is shown only now:\n%s\n", name, rec.id, RK_APIKEY_ROLE, key);
    } else if (revoke) {
        char now[32];
        int64_t ms = now_ms();
        rc = rk_store_key_revoke(s, name, ms, err, sizeof err);
        if (rc) { fprintf(stderr, "riskd key: %s\n", err); goto done; }
        printf("revoked %s at %s\n", name, when(ms, now, sizeof now));
    } else {
        rk_apikey_t *keys;
        size_t n;
        if (rk_store_key_list(s, &keys, &n, err, sizeof err)) { fprintf(stderr, "riskd key: %s\n", err); goto done; }
        printf("%-24s %-16s %-8s %-20s %-20s %s\n", "name", "id", "role", "created", "last used", "revoked");
        for (size_t i = 0; i < n; i++) {
            char c[32], u[32], r[32];
            printf("%-24s %-16s %-8s %-20s %-20s %s\n", keys[i].name, keys[i].id, keys[i].role,
                   when(keys[i].created_ms, c, sizeof c), when(keys[i].last_used_ms, u, sizeof u),
                   when(keys[i].revoked_ms, r, sizeof r));
            rk_store_key_free(&keys[i]);
        }
        free(keys);
    }
    status = 0;
done:
    rk_store_close(s);
    return status;
}

/* config.h — `riskd serve` settings.
 *
 * Each setting comes, in order of precedence, from the command line, the
 * environment (RISKD_*), a `.env` file in the working folder (which never
 * overrides a variable already set), or its default.
 */
#ifndef RK_CONFIG_H
#define RK_CONFIG_H

#include <stddef.h>

typedef struct rk_config {
    char host[256];
    int port;
    int workers;
    char scripts[1024];
    char rules[1024];
    char models[1024];
    char db[1024];
    char trusted_proxies[1024];   /* comma-separated CIDR list */
    char proxy_header[32];        /* the header those proxies set: x-forwarded-for or forwarded */
    size_t body_limit;            /* bytes */
    size_t mail_limit;            /* bytes of one email message (phishing analysis) */
    int request_timeout_ms;       /* Lua time budget per request */
    size_t lua_memory_limit;      /* bytes per Lua state */
    int drain_timeout_ms;         /* graceful shutdown bound */
    int access_log;
    int retention_days;           /* login events older are purged; 0 keeps them */
    int store_timeout_ms;         /* longest wait for the store (SQLite's write lock) */
    char geoip_db[1024];          /* a MaxMind city or country .mmdb, or "" */
    char asn_db[1024];            /* a MaxMind ASN .mmdb, or "" */
    char intel[1024];             /* the threat-intelligence folder */
    char state[1024];             /* what riskd writes itself besides the store (the automatic intel sets) */
    char web[1024];               /* the web console's static files */
    char log_level[16];
    char jwt_secret[256];         /* HS256 key for session tokens (JWT_SECRET, environment only), or "" */
    int token_ttl_s;              /* session token lifetime */
    /* sign-in throttling (lockout.h) */
    int lockout_after, lockout_base_s, lockout_max_s;
    int lockout_account_ceiling, lockout_account_window_s, lockout_account_slow_s;
    int ip_max_failures, ip_window_s;
    int max_connections;              /* open HTTP connections per worker */
    int max_connections_per_address;  /* per client address, over all workers */
    int open_registration;            /* anyone may register an analyst account */
    int metrics_public;               /* /metrics for every client, not only loopback */
    char sqlite_sync[16];             /* "normal" (sync at checkpoints) or "full" (every commit) */
    int sqlite_checkpoint_pages;      /* the WAL's pages before the writer asks for a checkpoint */
    int sqlite_summary_ms;            /* how long the writer keeps summaries unwritten (rk_store_sync) */
    char compat[16];                  /* "" or "flask": the Flask system's request and response shapes (scripts/compat/) */
    char cors_origins[1024];          /* comma-separated origins whose pages may call the API (CORS) */
    /* alert delivery (deliver.h) */
    char webhooks[2048];              /* comma-separated http(s) URLs that get every new alert */
    char siem[1024];                  /* comma-separated udp://HOST:PORT, tcp://HOST:PORT (syslog) or file:PATH */
    char webhook_secret[256];         /* HMAC-SHA256 key of X-Riskd-Signature (RISKD_WEBHOOK_SECRET, environment only) */
    char webhook_ca[1024];            /* CA certificates for https webhooks, besides the system's */
    int webhook_retry_ms;             /* first retry after this, doubling, at most an hour */
    int webhook_max_attempts;         /* then the delivery is dead (GET /api/admin/deliveries?status=dead) */
    int webhook_timeout_ms;           /* one attempt's time */
} rk_config_t;

void rk_config_defaults(rk_config_t *c);
/* Loads KEY=VALUE lines from path into the environment without overriding.
 * A missing file is not an error. Returns -1 with err on a malformed line. */
int rk_config_load_dotenv(const char *path, char *err, size_t errlen);
int rk_config_from_env(rk_config_t *c, char *err, size_t errlen);
/* Parses argv[first..argc) ("--port 5000" or "--port=5000"); -1 with err. */
int rk_config_from_args(rk_config_t *c, int argc, char **argv, int first, char *err, size_t errlen);
/* The index of the first argument from first on that is not a setting
 * (--name, --name=value, --name value): where a command's own arguments
 * start after the settings it takes (riskd run --db URI SCRIPT.lua). */
int rk_config_args_end(int argc, char **argv, int first);
/* Fills c from all sources in order. */
int rk_config_load(rk_config_t *c, int argc, char **argv, int first, char *err, size_t errlen);
void rk_config_usage(void);
/* The store's settings (store.h), from these. */
struct rk_store_opts;
void rk_config_store_opts(const rk_config_t *c, struct rk_store_opts *out);
/* The sign-in throttling settings as lockout.h takes them. */
struct rk_lockout_cfg;
void rk_config_lockout(const rk_config_t *c, struct rk_lockout_cfg *out);

#endif

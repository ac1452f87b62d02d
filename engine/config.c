/* config.c — see config.h. One table describes every option, so the command
 * line, the environment and the usage text cannot drift apart. */
#include "config.h"
#include "lockout.h"
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { T_STR, T_INT, T_SIZE, T_BOOL } opt_type;

typedef struct {
    const char *flag;   /* --port */
    const char *env;    /* RISKD_PORT */
    opt_type type;
    size_t off, cap;    /* field offset; capacity for strings */
    long min, max;      /* range for numbers */
    const char *help;
} opt_t;

#define STR(f) T_STR, offsetof(rk_config_t, f), sizeof(((rk_config_t *)0)->f), 0, 0
#define NUM(t, f, lo, hi) t, offsetof(rk_config_t, f), 0, lo, hi

static const opt_t opts[] = {
    { "host", "RISKD_HOST", STR(host), "address to listen on (127.0.0.1)" },
    { "port", "RISKD_PORT", NUM(T_INT, port, 0, 65535), "TCP port (5000; 0 picks a free one)" },
    { "workers", "RISKD_WORKERS", NUM(T_INT, workers, 0, 256), "worker threads (0 = one per core)" },
    { "scripts", "RISKD_SCRIPTS", STR(scripts), "Lua route handlers folder (scripts)" },
    { "rules", "RISKD_RULES", STR(rules), "Lua risk rules folder (rules)" },
    { "models", "RISKD_MODELS", STR(models), "trained models folder (models)" },
    { "db", "RISKD_DB", STR(db), "store: sqlite:PATH or a mongodb:// URI (sqlite:data/riskd.db)" },
    { "trusted-proxies", "RISKD_TRUSTED_PROXIES", STR(trusted_proxies),
      "CIDR list whose forwarded-address header is believed (none)" },
    { "proxy-header", "RISKD_PROXY_HEADER", STR(proxy_header),
      "the header those proxies set: x-forwarded-for or forwarded, RFC 7239 (x-forwarded-for)" },
    { "body-limit", "RISKD_BODY_LIMIT", NUM(T_SIZE, body_limit, 1, 1L << 30), "largest request body in bytes (1048576)" },
    { "mail-limit", "RISKD_MAIL_LIMIT", NUM(T_SIZE, mail_limit, 1024, 1L << 30),
      "largest email message POST /api/phishing/analyze takes, in bytes (10485760)" },
    { "request-timeout", "RISKD_REQUEST_TIMEOUT_MS", NUM(T_INT, request_timeout_ms, 1, 600000),
      "Lua time budget per request in ms (5000)" },
    { "lua-memory", "RISKD_LUA_MEMORY", NUM(T_SIZE, lua_memory_limit, 1L << 20, 1L << 40),
      "memory cap per Lua state in bytes (268435456)" },
    { "drain-timeout", "RISKD_DRAIN_TIMEOUT_MS", NUM(T_INT, drain_timeout_ms, 0, 600000),
      "longest wait for in-flight requests at shutdown in ms (10000)" },
    { "access-log", "RISKD_ACCESS_LOG", NUM(T_BOOL, access_log, 0, 1), "log every request (0)" },
    { "store-timeout", "RISKD_STORE_TIMEOUT_MS", NUM(T_INT, store_timeout_ms, 1, 600000),
      "longest wait for the store before a degraded answer, in ms (1000)" },
    { "geoip-db", "RISKD_GEOIP_DB", STR(geoip_db), "a MaxMind/DB-IP city or country .mmdb (off)" },
    { "asn-db", "RISKD_ASN_DB", STR(asn_db), "a MaxMind/DB-IP ASN .mmdb (off)" },
    { "intel", "RISKD_INTEL", STR(intel), "threat-intelligence folder: IP sets, patterns, breached passwords (intel)" },
    { "state", "RISKD_STATE", STR(state), "folder for what riskd writes itself: the automatic intel sets (data)" },
    { "web", "RISKD_WEB", STR(web), "the web console's static files, served at / (web)" },
    { "retention-days", "RISKD_RETENTION_DAYS", NUM(T_INT, retention_days, 0, 36500),
      "purge login events older than this many days; 0 keeps them (90)" },
    { "log-level", "RISKD_LOG_LEVEL", STR(log_level), "debug, info, warn or error (info)" },
    { "token-ttl", "RISKD_TOKEN_TTL_S", NUM(T_INT, token_ttl_s, 60, 30 * 86400), "session token lifetime in seconds (3600)" },
    { "lockout-after", "RISKD_LOCKOUT_AFTER", NUM(T_INT, lockout_after, 1, 1000),
      "failed sign-ins in a row from one address to one account before that address waits (5)" },
    { "lockout-base", "RISKD_LOCKOUT_BASE_S", NUM(T_INT, lockout_base_s, 1, 86400),
      "its first wait in seconds, doubling per further failure (30)" },
    { "lockout-max", "RISKD_LOCKOUT_MAX_S", NUM(T_INT, lockout_max_s, 1, 86400), "the longest such wait in seconds (900)" },
    { "lockout-account-ceiling", "RISKD_LOCKOUT_ACCOUNT_CEILING", NUM(T_INT, lockout_account_ceiling, 1, 1000000),
      "failures to one account from addresses it never signed in from, within the window, before those are slowed (20)" },
    { "lockout-account-window", "RISKD_LOCKOUT_ACCOUNT_WINDOW_S", NUM(T_INT, lockout_account_window_s, 1, 86400),
      "that window in seconds (900)" },
    { "lockout-account-slow", "RISKD_LOCKOUT_ACCOUNT_SLOW_S", NUM(T_INT, lockout_account_slow_s, 1, 3600),
      "when slowed, seconds between two tries from such addresses (10); known addresses are never slowed" },
    { "ip-max-failures", "RISKD_IP_MAX_FAILURES", NUM(T_INT, ip_max_failures, 1, 1000000),
      "failed sign-ins from one address, to any accounts, within the window before it waits (100)" },
    { "ip-window", "RISKD_IP_WINDOW_S", NUM(T_INT, ip_window_s, 1, 86400), "that window in seconds (600)" },
    { "max-connections", "RISKD_MAX_CONNECTIONS", NUM(T_INT, max_connections, 1, 1000000),
      "open HTTP connections per worker; more are answered 503 (4096)" },
    { "max-connections-per-address", "RISKD_MAX_CONNECTIONS_PER_ADDRESS",
      NUM(T_INT, max_connections_per_address, 1, 1000000),
      "open HTTP connections from one client address over all workers (1024: room for a load balancer)" },
    { "open-registration", "RISKD_OPEN_REGISTRATION", NUM(T_BOOL, open_registration, 0, 1),
      "anyone may create an analyst account with POST /api/auth/register (0)" },
    { "metrics-public", "RISKD_METRICS_PUBLIC", NUM(T_BOOL, metrics_public, 0, 1),
      "serve /metrics to every client, not only loopback (0)" },
    { "sqlite-sync", "RISKD_SQLITE_SYNC", STR(sqlite_sync),
      "normal (SQLite syncs at checkpoints) or full (every commit, far fewer writes/s) (normal)" },
    { "sqlite-checkpoint-pages", "RISKD_SQLITE_CHECKPOINT_PAGES", NUM(T_INT, sqlite_checkpoint_pages, 1000, 1000000),
      "WAL pages (4 KB) before a checkpoint: more copies less and serves more analyses/s, with longer pauses at the tail (4000)" },
    { "sqlite-summary-ms", "RISKD_SQLITE_SUMMARY_MS", NUM(T_INT, sqlite_summary_ms, 0, 60000),
      "how long the writer sums the dashboards' hourly rows and the global value counts in memory before writing each once; 0 writes them with every commit (100)" },
    { "compat", "RISKD_COMPAT", STR(compat),
      "flask: serve the Flask system's request and response shapes on its paths (scripts/compat/flask.lua) (off)" },
    { "cors-origins", "RISKD_CORS_ORIGINS", STR(cors_origins),
      "comma-separated origins (https://console.example) whose pages may call the API from a browser (none)" },
    { "webhooks", "RISKD_WEBHOOKS", STR(webhooks),
      "comma-separated http(s) URLs that get a signed POST of every new alert (also PUT /api/admin/webhooks)" },
    { "siem", "RISKD_SIEM", STR(siem),
      "comma-separated udp://HOST:PORT, tcp://HOST:PORT (syslog, RFC 5424) or file:PATH (JSON lines) for alerts and high-risk events" },
    { "webhook-ca", "RISKD_WEBHOOK_CA", STR(webhook_ca), "a file of CA certificates for https webhooks, besides the system's" },
    { "webhook-retry-ms", "RISKD_WEBHOOK_RETRY_MS", NUM(T_INT, webhook_retry_ms, 10, 3600000),
      "first retry of a failed delivery after this, doubling up to an hour (5000)" },
    { "webhook-max-attempts", "RISKD_WEBHOOK_MAX_ATTEMPTS", NUM(T_INT, webhook_max_attempts, 1, 100),
      "attempts before a delivery is dead (12, about three hours)" },
    { "webhook-timeout-ms", "RISKD_WEBHOOK_TIMEOUT_MS", NUM(T_INT, webhook_timeout_ms, 100, 120000),
      "one delivery attempt's time (10000)" },
};
#define NOPTS (sizeof opts / sizeof opts[0])

void rk_config_defaults(rk_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = 5000;
    c->workers = 0;
    snprintf(c->scripts, sizeof c->scripts, "scripts");
    snprintf(c->rules, sizeof c->rules, "rules");
    snprintf(c->models, sizeof c->models, "models");
    snprintf(c->intel, sizeof c->intel, "intel");
    snprintf(c->state, sizeof c->state, "data");
    snprintf(c->web, sizeof c->web, "web");
    snprintf(c->db, sizeof c->db, "sqlite:data/riskd.db");
    c->body_limit = 1u << 20;
    c->mail_limit = 10u << 20;
    c->request_timeout_ms = 5000;
    c->lua_memory_limit = (size_t)256 << 20;
    c->drain_timeout_ms = 10000;
    c->access_log = 0;
    c->retention_days = 90;
    c->store_timeout_ms = 1000;
    c->token_ttl_s = 3600;
    snprintf(c->log_level, sizeof c->log_level, "info");
    snprintf(c->proxy_header, sizeof c->proxy_header, "x-forwarded-for");
    rk_lockout_cfg_t lo;
    rk_lockout_defaults(&lo);
    c->lockout_after = lo.pair_after;
    c->lockout_base_s = lo.pair_base_s;
    c->lockout_max_s = lo.pair_max_s;
    c->lockout_account_ceiling = lo.account_ceiling;
    c->lockout_account_window_s = lo.account_window_s;
    c->lockout_account_slow_s = lo.account_slow_s;
    c->ip_max_failures = lo.ip_max;
    c->ip_window_s = lo.ip_window_s;
    c->max_connections = 4096;
    c->max_connections_per_address = 1024;
    snprintf(c->sqlite_sync, sizeof c->sqlite_sync, "normal");
    rk_store_opts_t so;
    rk_store_defaults(&so);
    c->sqlite_checkpoint_pages = so.checkpoint_pages;
    c->sqlite_summary_ms = 100;
    c->webhook_retry_ms = 5000;
    c->webhook_max_attempts = 12;
    c->webhook_timeout_ms = 10000;
}

static int set_opt(rk_config_t *c, const opt_t *o, const char *val, const char *from,
                   char *err, size_t errlen)
{
    char *field = (char *)c + o->off;
    if (o->type == T_STR) {
        if (strlen(val) >= o->cap) {
            snprintf(err, errlen, "%s: value too long", from);
            return -1;
        }
        memcpy(field, val, strlen(val) + 1);
        return 0;
    }
    long long v;
    if (o->type == T_BOOL && (!strcasecmp(val, "true") || !strcasecmp(val, "yes") || !strcasecmp(val, "on"))) v = 1;
    else if (o->type == T_BOOL && (!strcasecmp(val, "false") || !strcasecmp(val, "no") || !strcasecmp(val, "off"))) v = 0;
    else {
        char *end = NULL;
        errno = 0;
        v = strtoll(val, &end, 10);
        if (errno || end == val || *end || v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: expected an integer from %ld to %ld, got '%s'", from, o->min, o->max, val);
            return -1;
        }
    }
    if (o->type == T_SIZE) *(size_t *)(void *)field = (size_t)v;
    else *(int *)(void *)field = (int)v;
    return 0;
}

int rk_config_load_dotenv(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *p = line, *eq, *v, *end;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '#' || *p == '\0') continue;
        if (strncmp(p, "export ", 7) == 0) p += 7;
        eq = strchr(p, '=');
        if (!eq || eq == p) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        for (end = eq; end > p && isspace((unsigned char)end[-1]); end--) {}
        *end = '\0';
        v = eq + 1;
        while (isspace((unsigned char)*v)) v++;
        end = v + strlen(v);
        while (end > v && isspace((unsigned char)end[-1])) end--;
        *end = '\0';
        if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) { v++; end[-1] = '\0'; }
        setenv(p, v, 0);
    }
    fclose(fp);
    return rc;
}

static const opt_t *find_opt(const char *flag, size_t len)
{
    for (size_t k = 0; k < NOPTS; k++)
        if (strlen(opts[k].flag) == len && strncmp(opts[k].flag, flag, len) == 0) return &opts[k];
    return NULL;
}

/* A secret from the environment variable name into dst, when set. */
static int env_secret(const char *name, char *dst, size_t cap, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "%s: longer than %zu characters", name, cap - 1);
        return -1;
    }
    snprintf(dst, cap, "%s", v);
    return 0;
}

int rk_config_from_env(rk_config_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = getenv(opts[i].env);
        if (v && *v && set_opt(c, &opts[i], v, opts[i].env, err, errlen) < 0) return -1;
    }
    /* The token secret and the webhooks' signing key come from the
     * environment (or .env) only: a command line is visible to every user of
     * the machine. */
    if (env_secret("JWT_SECRET", c->jwt_secret, sizeof c->jwt_secret, err, errlen) < 0 ||
        env_secret("RISKD_WEBHOOK_SECRET", c->webhook_secret, sizeof c->webhook_secret, err, errlen) < 0)
        return -1;
    /* MONGODB_URI names the store when RISKD_DB does not. */
    const char *m = getenv("MONGODB_URI");
    if (m && *m && !getenv("RISKD_DB") && set_opt(c, find_opt("db", 2), m, "MONGODB_URI", err, errlen) < 0)
        return -1;
    return 0;
}

int rk_config_from_args(rk_config_t *c, int argc, char **argv, int first, char *err, size_t errlen)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        const opt_t *o = find_opt(a, klen);
        if (!o) {
            snprintf(err, errlen, "unknown option '%s'", argv[i]);
            return -1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val && o->type == T_BOOL) val = "1";
        if (!val) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option --%s needs a value", o->flag);
                return -1;
            }
            val = argv[++i];
        }
        char from[64];
        snprintf(from, sizeof from, "--%s", o->flag);
        if (set_opt(c, o, val, from, err, errlen) < 0) return -1;
    }
    return 0;
}

int rk_config_args_end(int argc, char **argv, int first)
{
    int i = first;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *a = argv[i] + 2, *eq = strchr(a, '=');
        const opt_t *o = find_opt(a, eq ? (size_t)(eq - a) : strlen(a));
        i += (!o || eq || o->type == T_BOOL) ? 1 : 2;
    }
    return i < argc ? i : argc;
}

int rk_config_load(rk_config_t *c, int argc, char **argv, int first, char *err, size_t errlen)
{
    rk_config_defaults(c);
    if (rk_config_load_dotenv(".env", err, errlen) < 0) return -1;
    if (rk_config_from_env(c, err, errlen) < 0) return -1;
    return rk_config_from_args(c, argc, argv, first, err, errlen);
}

void rk_config_store_opts(const rk_config_t *c, rk_store_opts_t *out)
{
    rk_store_defaults(out);
    out->retention_days = c->retention_days;
    out->sync_full = strcmp(c->sqlite_sync, "full") == 0;
    out->checkpoint_pages = c->sqlite_checkpoint_pages;
}

void rk_config_lockout(const rk_config_t *c, rk_lockout_cfg_t *out)
{
    rk_lockout_defaults(out);
    out->pair_after = c->lockout_after;
    out->pair_base_s = c->lockout_base_s;
    out->pair_max_s = c->lockout_max_s > c->lockout_base_s ? c->lockout_max_s : c->lockout_base_s;
    out->account_ceiling = c->lockout_account_ceiling;
    out->account_window_s = c->lockout_account_window_s;
    out->account_slow_s = c->lockout_account_slow_s;
    out->ip_max = c->ip_max_failures;
    out->ip_window_s = c->ip_window_s;
}

void rk_config_usage(void)
{
    fprintf(stderr, "usage: riskd serve [options]\n\noptions (each also from the environment or .env):\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(stderr, "  --%-18s %-26s %s\n", opts[i].flag, opts[i].env, opts[i].help);
}

/* store.h — what riskd keeps: users, login events, behavioural profiles,
 * alerts, and the aggregates the dashboard reads. Pure C, no Lua.
 *
 * One contract, three backends chosen by URI: "sqlite:PATH" (store_sqlite.c),
 * "mongodb://…" (store_mongo.c) and "mem:" (store_mem.c: events, profiles
 * and alerts only, for the batch commands). The backends implement it domain
 * by domain (store_impl.h). A handle belongs to one thread (each worker opens
 * its own); the data behind it is shared.
 *
 * Times are UTC milliseconds since the epoch. Ids are strings: on SQLite a
 * sortable id (16 hex digits of milliseconds and 8 of sequence/randomness),
 * on MongoDB an ObjectId's hex. Records carry a few typed fields the store
 * indexes, filters and aggregates on, and `doc`: the rest of the record as
 * JSON text that the store keeps but never reads (reasons, rule results,
 * features, device details…). Strings returned in records are owned by the
 * record and freed with its *_free function.
 *
 * Every function returns 0 on success, RK_STORE_NOT_FOUND when a record does
 * not exist, RK_STORE_CONFLICT on a duplicate, or -1 with err filled.
 */
#ifndef RK_STORE_H
#define RK_STORE_H

#include <stddef.h>
#include <stdint.h>

#define RK_STORE_NOT_FOUND 1
#define RK_STORE_CONFLICT 2
#define RK_STORE_ID_LEN 32

/* Bounded per-user counts, least recently seen evicted first. */
typedef enum {
    RK_PK_DEVICE = 0, RK_PK_COUNTRY, RK_PK_PREFIX, RK_PK_UA, RK_PK_ASN, RK_PK_COUNT
} rk_profile_kind;
/* Their names, in that order: profiles' lists and global counts in Lua and in documents. */
extern const char *const rk_profile_kind_names[RK_PK_COUNT];
#define RK_PROFILE_MAX_ITEMS 32

typedef struct rk_store rk_store_t;

/* ---- users ---- */
typedef struct rk_user {
    char id[RK_STORE_ID_LEN];
    char *username, *email, *role, *password_hash;
    int64_t created_ms;
} rk_user_t;

/* A service's API key (apikey.h): the store keeps its id and the hash of its
 * secret, never the key. Names are unique among the keys not revoked. */
typedef struct rk_apikey {
    char id[RK_STORE_ID_LEN];
    char *name, *role, *hash;
    int64_t created_ms, last_used_ms, revoked_ms;   /* 0: never used, not revoked */
} rk_apikey_t;

/* ---- login events ---- */
typedef struct rk_event {
    char id[RK_STORE_ID_LEN];        /* set by insert */
    const char *user_id;             /* required */
    int64_t ts_ms;
    const char *ip;                  /* required */
    int success;
    const char *country, *city;      /* may be NULL */
    int has_geo;
    double lat, lon;
    const char *device_id, *user_agent, *asn, *ip_prefix;   /* may be NULL */
    double risk_score;               /* 0..100 */
    const char *risk_level;          /* low|medium|high|critical */
    const char *action;
    int is_anomaly;
    double anomaly_score;
    const char *alert_id;            /* may be NULL */
    const char *doc;                 /* JSON text, may be NULL */
    int held;                        /* RK_LEARN_*: when a success teaches the profile */
    int64_t learn_at;                /* RK_LEARN_ON_GRACE: learned from then on */
    const char *outcome;             /* what the service reported, may be NULL */
    void *owned;                     /* for records read back: the backing memory */
} rk_event_t;

/* When a successful attempt teaches its user's profile (habits, values,
 * last success) and the site's value counts. Failures always count as
 * failures; a held success counts as an attempt until it is settled. The
 * policy (which actions and outcomes teach) is the rules' config; the store
 * keeps the state. */
enum {
    RK_LEARN_NOW = 0,         /* learned as it is recorded */
    RK_LEARN_ON_GRACE = 1,    /* held: learned at learn_at unless an outcome settles it first */
    RK_LEARN_ON_OUTCOME = 2   /* held: learned only if an outcome says so */
};
#define RK_EVENT_LEARNS(e) ((e)->success && !(e)->held)

typedef struct rk_event_filter {
    const char *user_id;             /* NULL = any */
    const char *risk_level;          /* NULL = any */
    double min_risk;                 /* < 0 = any */
    int64_t since_ms, until_ms;      /* 0 = open */
    int anomaly_only;
    const char *ip, *country, *rule; /* NULL = any; country and rule only with since_ms (a bounded scan) */
    int page, per_page;              /* page from 1 */
} rk_event_filter_t;

typedef struct rk_event_list {
    rk_event_t *items;
    size_t n;
    int64_t total;                   /* matching records, all pages */
} rk_event_list_t;

/* ---- the dashboard's breakdowns ---- */
#define RK_BREAKDOWN_TOP 20
#define RK_BREAKDOWN_SAMPLE 5000   /* the newest events of the window that are counted */
typedef struct rk_count { char key[128]; int64_t n; } rk_count_t;
typedef struct rk_breakdown {
    rk_count_t levels[RK_BREAKDOWN_TOP], countries[RK_BREAKDOWN_TOP], rules[RK_BREAKDOWN_TOP];
    int nlevels, ncountries, nrules;   /* each most first */
    int64_t counted;                   /* events counted: at most RK_BREAKDOWN_SAMPLE */
} rk_breakdown_t;

/* ---- the outbox: alerts and high-risk events on their way out ---- */
/* A delivery to a webhook or a SIEM target (deliver.h), kept until it is
 * done so that a restart or a receiver that is down loses nothing. */
typedef struct rk_outbox_item {
    char id[RK_STORE_ID_LEN];
    char *dest, *kind, *body, *status, *last_error;   /* status: pending, delivered, dead */
    int attempts;
    int64_t created_ms, next_ms, done_ms;
} rk_outbox_item_t;

typedef struct rk_outbox_filter {
    const char *status;                  /* NULL: any */
    int page, per_page;
} rk_outbox_filter_t;

typedef struct rk_outbox_list {
    rk_outbox_item_t *items;
    size_t n;
    int64_t total;
} rk_outbox_list_t;

/* ---- profiles ---- */
typedef struct rk_profile_item {
    char value[128];
    int64_t count;
    int64_t last_ms;
} rk_profile_item_t;

typedef struct rk_profile {
    char user_id[128];
    int64_t attempts, successes, failures, anomalies;
    int64_t first_ms, last_ms;
    int64_t hours[24], weekdays[7];       /* successful logins, UTC */
    int64_t local_hours[24];              /* successful logins with coordinates, by local
                                             solar hour at the login's place (rk_profile_local_hour) */
    int has_last_success;
    int64_t last_success_ms;
    char last_ip[64], last_country[64], last_city[128];
    int last_has_geo;
    double last_lat, last_lon;
    double risk_sum, max_risk;
    int64_t high_risk;                    /* attempts at high or critical */
    /* what an analyst says of the account (rk_store_user_states), who and
     * when; kept beside the profile, never in its encoding */
    char state[16], state_by[128];
    int64_t state_ms;
    rk_profile_item_t items[RK_PK_COUNT][RK_PROFILE_MAX_ITEMS];
    int nitems[RK_PK_COUNT];              /* items[k][0..nitems[k]) in no order; when full, the
                                             least recently seen gives way */
} rk_profile_t;

/* ---- alerts ---- */
typedef struct rk_alert {
    char id[RK_STORE_ID_LEN];
    const char *user_id, *severity, *status, *cause;
    int64_t created_ms, updated_ms;
    int64_t event_count;
    const char *doc;                 /* JSON text: reasons, rules… */
    void *owned;
} rk_alert_t;

typedef struct rk_alert_filter {
    const char *status, *severity, *user_id;   /* NULL = any */
    int64_t since_ms, until_ms;                /* 0 = open */
    int page, per_page;
} rk_alert_filter_t;

typedef struct rk_alert_list {
    rk_alert_t *items;
    size_t n;
    int64_t total;
} rk_alert_list_t;

typedef struct rk_alert_change {
    int64_t ts_ms;
    char status[24], who[128];
    char *note;                      /* may be NULL */
} rk_alert_change_t;

typedef struct rk_alert_detail {
    rk_alert_t alert;
    rk_alert_change_t *history;      /* oldest first */
    size_t nhistory;
    char (*event_ids)[RK_STORE_ID_LEN];
    size_t nevents;
} rk_alert_detail_t;

/* ---- phishing analyses ---- */
typedef struct rk_phish_rec {
    char id[RK_STORE_ID_LEN];        /* set by insert */
    int64_t ts_ms;
    const char *verdict;             /* clean|suspicious|phishing */
    double score;                    /* 0..100 */
    const char *sender, *recipient, *subject, *message_id;   /* may be NULL */
    const char *alert_id;            /* may be NULL */
    const char *doc;                 /* JSON text: reasons, rules, urls, attachments… */
    void *owned;
} rk_phish_rec_t;

typedef struct rk_phish_filter {
    const char *verdict, *sender;    /* NULL = any */
    double min_score;                /* < 0 = any */
    int64_t since_ms, until_ms;      /* 0 = open */
    int page, per_page;
} rk_phish_filter_t;

typedef struct rk_phish_list {
    rk_phish_rec_t *items;
    size_t n;
    int64_t total;
} rk_phish_list_t;

/* ---- aggregates ---- */
#define RK_LEVELS 4                  /* low, medium, high, critical */
#define RK_ALERT_STATUSES 4          /* open, investigating, resolved, false_positive */
#define RK_SEVERITIES 4              /* = levels */

typedef struct rk_counts {
    int64_t attempts, failures, anomalies;
    double anomaly_rate;
    int64_t by_level[RK_LEVELS];
    int64_t alerts_by_status[RK_ALERT_STATUSES];
    int64_t alerts_by_severity[RK_SEVERITIES];
    int64_t distinct_users, distinct_ips;
} rk_counts_t;

typedef struct rk_stats { rk_counts_t all, last_24h; } rk_stats_t;

typedef struct rk_bucket {
    int64_t start_ms;
    int64_t attempts, failures, anomalies, alerts;
    double mean_risk;                /* 0 when no attempts */
} rk_bucket_t;

typedef struct rk_top_user {
    char user_id[128];
    double max_risk, mean_risk;
    int64_t attempts, anomalies, high_risk;   /* high_risk: attempts at high or critical */
} rk_top_user_t;

/* The network a profile counts an address in: "a.b.c.0/24" for IPv4,
 * "x:x:x::/48" for IPv6, "" for garbage. */
void rk_profile_ip_prefix(const char *ip, char *out, size_t cap);

/* The hour of day (0..23) at longitude lon at time ts_ms, by the sun (UTC
 * plus lon/15 hours): what a person there lives by, give or take the time
 * zone's offset from its meridian, without a time-zone database. */
int rk_profile_local_hour(int64_t ts_ms, double lon);

extern const char *const rk_store_levels[RK_LEVELS];   /* the risk levels, lowest first: defined here only */
#define RK_ROLES 3
extern const char *const rk_store_roles[RK_ROLES];     /* admin, analyst, service */
int rk_store_is_role(const char *role);
#define RK_USER_STATES 3
extern const char *const rk_store_user_states[RK_USER_STATES];   /* at_risk, compromised, safe: an analyst's word on an account */
int rk_store_is_user_state(const char *state);
extern const char *const rk_store_statuses[RK_ALERT_STATUSES];
int rk_store_level_index(const char *level);     /* -1 when unknown */
int rk_store_status_index(const char *status);

/* ---- the contract ---- */
typedef struct rk_store_opts {
    int busy_timeout_ms;             /* SQLite: wait for the write lock (5000) */
    int retention_days;              /* events older are purged by rk_store_purge (90; 0 = keep) */
    int manual_checkpoint;           /* SQLite: no checkpoint on commit; rk_store_checkpoint does it (0) */
    int sync_full;                   /* SQLite: sync every commit, not only at checkpoints (0) */
    int checkpoint_pages;            /* SQLite with a writer: checkpoint once the WAL holds this many pages (4000) */
    struct rk_live *live;            /* SQLite: the analysis's state in memory, shared by handles (store_live.h; NULL) */
    int live_owner;                  /* this handle writes it (the server's writer) */
    int summary_ms;                  /* SQLite, the live owner's batches: how long summaries may stay unwritten (0) */
} rk_store_opts_t;

void rk_store_defaults(rk_store_opts_t *o);
/* The sign-ins of riskd's own accounts (the console's admins and analysts)
 * are analysed like any login, under this prefix before the username; the
 * site's reports of its users (top risky users) leave them out. */
#define RK_STORE_OWN_PREFIX "riskd:"

rk_store_t *rk_store_open(const char *uri, const rk_store_opts_t *o, char *err, size_t errlen);
/* uri as it may be shown in logs and messages: a MongoDB password as "***". */
void rk_store_uri_display(const char *uri, char *out, size_t cap);
void rk_store_close(rk_store_t *s);
const char *rk_store_backend(const rk_store_t *s);     /* "sqlite" */
/* 0 when the store answers a read now (a round trip to a server's), else -1 with why. */
int rk_store_ping(rk_store_t *s, char *err, size_t errlen);
/* 0 when the backend does not keep events' JSON documents (mem:), so that
 * callers can skip building them. */
int rk_store_keeps_docs(const rk_store_t *s);

/* Site-wide hourly rates shared by the instances of one deployment
 * (rates_sync.c): 1 when the backend shares them (MongoDB). rate_add adds n
 * to `name`'s count of `hour` (hours since 1970, UTC); rate_counts fills
 * counts[0 .. to - from] with the counts of hours from..to (0 where none)
 * and *first with the earliest of them that has a count (INT64_MAX if none). */
int rk_store_shares_rates(const rk_store_t *s);
/* Whether the backend keeps the outbox of deliveries (not mem:). */
int rk_store_keeps_outbox(const rk_store_t *s);
int rk_store_rate_add(rk_store_t *s, const char *name, int64_t hour, int64_t n, char *err, size_t errlen);
int rk_store_rate_counts(rk_store_t *s, const char *name, int64_t from_hour, int64_t to_hour, int64_t *counts,
                         int64_t *first, char *err, size_t errlen);

int rk_store_user_create(rk_store_t *s, rk_user_t *u, char *err, size_t errlen);   /* fills id, created */
int rk_store_user_get(rk_store_t *s, const char *username, rk_user_t *out, char *err, size_t errlen);
int rk_store_user_set_password(rk_store_t *s, const char *username, const char *hash, char *err, size_t errlen);
int rk_store_user_delete(rk_store_t *s, const char *username, char *err, size_t errlen);
int rk_store_user_list(rk_store_t *s, rk_user_t **out, size_t *n, char *err, size_t errlen);
/* API keys: create (id, name, role, hash given; fills created; conflict when
 * a key of that name is live), get by id, list (by name), revoke the live key
 * of a name (not_found when none), touch (last use). */
int rk_store_key_create(rk_store_t *s, rk_apikey_t *k, char *err, size_t errlen);
int rk_store_key_get(rk_store_t *s, const char *id, rk_apikey_t *out, char *err, size_t errlen);
int rk_store_key_list(rk_store_t *s, rk_apikey_t **out, size_t *n, char *err, size_t errlen);
int rk_store_key_revoke(rk_store_t *s, const char *name, int64_t now_ms, char *err, size_t errlen);
int rk_store_key_touch(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen);
void rk_store_key_free(rk_apikey_t *k);
void rk_store_user_free(rk_user_t *u);

/* Inserts the event, updates the aggregates and, when update_profile, the
 * user's profile, in one transaction: all of it is durable, or none. */
int rk_store_event_record(rk_store_t *s, rk_event_t *e, int update_profile, char *err, size_t errlen);
/* Many events in one transaction (batch imports and replays): all or none. */
int rk_store_event_record_many(rk_store_t *s, rk_event_t *e, size_t n, int update_profile, char *err, size_t errlen);
/* A copy of e whose strings live in the same allocation (for handing an
 * event to another thread): one free() releases it. NULL when out of memory. */
rk_event_t *rk_event_dup(const rk_event_t *e);
int rk_store_event_get(rk_store_t *s, const char *id, rk_event_t *out, char *err, size_t errlen);
int rk_store_event_list(rk_store_t *s, const rk_event_filter_t *f, rk_event_list_t *out, char *err, size_t errlen);
int rk_store_event_set_alert(rk_store_t *s, const char *event_id, const char *alert_id, char *err, size_t errlen);
void rk_store_event_free(rk_event_t *e);
void rk_store_event_list_free(rk_event_list_t *l);
/* Recent activity for features: failures of a user, distinct users from an
 * IP, both since a time. */
int rk_store_recent(rk_store_t *s, const char *user_id, const char *ip, int64_t since_ms,
                    int64_t *user_failures, int64_t *ip_users, char *err, size_t errlen);

int rk_store_profile_get(rk_store_t *s, const char *user_id, rk_profile_t *out, char *err, size_t errlen);

/* Records the outcome the service reported for event id (outcome may be
 * NULL: settled by the grace period). A held success is settled at once:
 * learned when learn is set, dropped otherwise. An event already settled
 * keeps what it taught: learning is never undone. *learned (may be NULL)
 * says whether this call taught the profile. RK_STORE_NOT_FOUND for an
 * unknown id. */
int rk_store_event_outcome(rk_store_t *s, const char *id, const char *outcome, int learn, int *learned,
                           char *err, size_t errlen);
/* The grace period runs on the attempts' clock: now_ms is the time of the
 * attempt about to be analysed. Learns up to batch held successes whose
 * learn_at has come (no outcome within the grace period), oldest first;
 * *n says how many. */
int rk_store_events_settle(rk_store_t *s, int64_t now_ms, int batch, int64_t *n, char *err, size_t errlen);
/* *due: whether a held success has learn_at <= now_ms (a read, for the
 * analysis to call before every attempt; settling writes). */
int rk_store_events_due(rk_store_t *s, int64_t now_ms, int *due, char *err, size_t errlen);

/* How common a value is across all users' successful logins (for the
 * familiarity rule): count of logins with it, total logins counted for the
 * kind, and the number of distinct values of the kind. */
typedef struct rk_global_count { int64_t count, total, distinct; } rk_global_count_t;
int rk_store_global_count(rk_store_t *s, rk_profile_kind kind, const char *value, rk_global_count_t *out,
                          char *err, size_t errlen);
/* The same for every kind at once (vals[kind] NULL: skipped, out zeroed):
 * one read of the totals instead of one per kind. */
int rk_store_global_counts(rk_store_t *s, const char *const vals[RK_PK_COUNT], rk_global_count_t out[RK_PK_COUNT],
                           char *err, size_t errlen);
int rk_store_profile_update(rk_store_t *s, const rk_event_t *e, char *err, size_t errlen);
/* The attempts of the window (since since_ms) by risk level, country and the
 * rules that fired, over its newest RK_BREAKDOWN_SAMPLE events: a bounded
 * read on a busy site, exact on a quiet one. */
int rk_store_breakdown(rk_store_t *s, int64_t since_ms, rk_breakdown_t *out, char *err, size_t errlen);

/* The outbox. put: a pending delivery, due at once (fills id). claim: up to
 * max due deliveries (pending, next_ms <= now), each held from the other
 * claimers (threads, instances) for lease_ms. done: delivered. retry: due
 * again at next_ms, with the error. dead: given up, with the error. list:
 * newest first, filtered. requeue: a dead one pending again, due now. */
int rk_store_outbox_put(rk_store_t *s, rk_outbox_item_t *it, int64_t now_ms, char *err, size_t errlen);
int rk_store_outbox_claim(rk_store_t *s, int64_t now_ms, int64_t lease_ms, int max, rk_outbox_item_t **out, size_t *n,
                          char *err, size_t errlen);
int rk_store_outbox_done(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen);
int rk_store_outbox_retry(rk_store_t *s, const char *id, int attempts, int64_t next_ms, const char *error, char *err,
                          size_t errlen);
int rk_store_outbox_dead(rk_store_t *s, const char *id, int attempts, int64_t now_ms, const char *error, char *err,
                         size_t errlen);
int rk_store_outbox_list(rk_store_t *s, const rk_outbox_filter_t *f, rk_outbox_list_t *out, char *err, size_t errlen);
int rk_store_outbox_requeue(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen);
void rk_store_outbox_item_free(rk_outbox_item_t *it);
void rk_store_outbox_list_free(rk_outbox_list_t *l);

/* Sets (state one of rk_store_user_states) or clears (state NULL) what an
 * analyst says of a user riskd has a profile of; not_found otherwise. */
int rk_store_user_state_set(rk_store_t *s, const char *user_id, const char *state, const char *by, int64_t ts_ms,
                            char *err, size_t errlen);

int rk_store_alert_insert(rk_store_t *s, rk_alert_t *a, const char *event_id, char *err, size_t errlen);
int rk_store_alert_get(rk_store_t *s, const char *id, rk_alert_detail_t *out, char *err, size_t errlen);
int rk_store_alert_list(rk_store_t *s, const rk_alert_filter_t *f, rk_alert_list_t *out, char *err, size_t errlen);
/* The open (or investigating) alert of a user for a cause, updated since since_ms. */
int rk_store_alert_find_open(rk_store_t *s, const char *user_id, const char *cause, int64_t since_ms,
                             char id[RK_STORE_ID_LEN], char *err, size_t errlen);
int rk_store_alert_add_event(rk_store_t *s, const char *alert_id, const char *event_id,
                             const char *severity, int64_t ts_ms, char *err, size_t errlen);
int rk_store_alert_set_status(rk_store_t *s, const char *id, const char *status, const char *who,
                              const char *note, int64_t ts_ms, char *err, size_t errlen);
void rk_store_alert_free(rk_alert_t *a);
void rk_store_alert_list_free(rk_alert_list_t *l);
void rk_store_alert_detail_free(rk_alert_detail_t *d);

/* Phishing analyses: kept as analysed (newest first in lists), with the
 * alert a phishing verdict opened. */
/* ---- riskd's own state: small named documents (text), replaced whole ---- */
/* 0 with *value (free() it), or RK_STORE_NOT_FOUND. */
int rk_store_state_get(rk_store_t *s, const char *key, char **value, char *err, size_t errlen);
int rk_store_state_put(rk_store_t *s, const char *key, const char *value, char *err, size_t errlen);

int rk_store_phish_insert(rk_store_t *s, rk_phish_rec_t *r, char *err, size_t errlen);   /* fills id */
int rk_store_phish_get(rk_store_t *s, const char *id, rk_phish_rec_t *out, char *err, size_t errlen);
int rk_store_phish_list(rk_store_t *s, const rk_phish_filter_t *f, rk_phish_list_t *out, char *err, size_t errlen);
int rk_store_phish_set_alert(rk_store_t *s, const char *id, const char *alert_id, char *err, size_t errlen);
void rk_store_phish_free(rk_phish_rec_t *r);
void rk_store_phish_list_free(rk_phish_list_t *l);

int rk_store_stats(rk_store_t *s, int64_t now_ms, rk_stats_t *out, char *err, size_t errlen);
/* Buckets of bucket_ms (3600000 or 86400000) from since_ms to until_ms, every
 * bucket present. */
int rk_store_timeline(rk_store_t *s, int64_t since_ms, int64_t until_ms, int64_t bucket_ms,
                      rk_bucket_t **out, size_t *n, char *err, size_t errlen);
/* since_ms 0 = all time. */
int rk_store_top_users(rk_store_t *s, int64_t since_ms, int limit, rk_top_user_t **out, size_t *n,
                       char *err, size_t errlen);

/* Group commit, for the one writer thread of a server (store_writer.h):
 * between batch_begin and batch_end every write joins one transaction, yet
 * each stays all-or-nothing by itself (a savepoint), so a failing write
 * undoes only itself. batch_end commits; if that fails, every write of the
 * batch is lost and the caller must report them all as failed. Backends
 * without transactions (MongoDB: every write is durable on its own)
 * succeed and do nothing. */
int rk_store_batch_begin(rk_store_t *s, char *err, size_t errlen);
int rk_store_batch_end(rk_store_t *s, char *err, size_t errlen);
/* Whether batching pays on this backend (SQLite: one write lock). */
int rk_store_batches(const rk_store_t *s);
/* SQLite with manual_checkpoint: copies the WAL into the database without
 * blocking readers or writers (restart = 0), or copies all of it, waiting
 * briefly for writers and for readers of older snapshots, so that the next
 * commit starts the WAL over (restart = 1). 0: all of the WAL is in the
 * database; 1: not all (readers or writers busy); -1: an error. *frames
 * (if not NULL) gets how many pages the WAL held when it ran. wal_pages
 * says how many pages the WAL held after this handle's last commit.
 * Others: 0. */
int rk_store_checkpoint(rk_store_t *s, int restart, int *frames, char *err, size_t errlen);
int rk_store_wal_pages(rk_store_t *s);
/* A number that changes with every committed change to an account or an
 * API key, in any process on the store: what a cache of accounts is keyed
 * by. 1 and *gen set, or 0 when the backend keeps none (MongoDB, memory:
 * read the account every time). */
int rk_store_accounts_generation(rk_store_t *s, uint64_t *gen);
/* SQLite: a server's writer keeps the summaries (hourly rows, addresses,
 * global value counts) summed in memory for summary_ms and writes each key
 * once (a restart replays what a crash left unwritten). unflushed: whether
 * some are unwritten (on a reader's handle: its writer's); sync writes this
 * handle's now. The reports that read them sync through the writer first. */
int rk_store_sync(rk_store_t *s, char *err, size_t errlen);
int rk_store_unflushed(rk_store_t *s);

/* Deletes up to batch events older than the retention; *deleted says how many. */
int rk_store_purge(rk_store_t *s, int64_t now_ms, int batch, int64_t *deleted, char *err, size_t errlen);

#endif

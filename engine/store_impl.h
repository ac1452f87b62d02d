/* store_impl.h — the backend interface behind store.h, and what the
 * backends share (store.c). Not for callers of the store. */
#ifndef RK_STORE_IMPL_H
#define RK_STORE_IMPL_H

#include "store.h"

/* The backend interface, one table per domain. A backend that does not keep
 * a domain (or one call of it) leaves it NULL, and the store answers "the
 * memory store does not keep users" for it: no backend writes stubs. */
typedef struct rk_store_accounts {
    int (*create)(rk_store_t *, rk_user_t *, char *, size_t);
    int (*get)(rk_store_t *, const char *, rk_user_t *, char *, size_t);
    int (*set_password)(rk_store_t *, const char *, const char *, char *, size_t);
    int (*remove)(rk_store_t *, const char *, char *, size_t);
    int (*list)(rk_store_t *, rk_user_t **, size_t *, char *, size_t);
    int (*key_create)(rk_store_t *, rk_apikey_t *, char *, size_t);
    int (*key_get)(rk_store_t *, const char *, rk_apikey_t *, char *, size_t);
    int (*key_list)(rk_store_t *, rk_apikey_t **, size_t *, char *, size_t);
    int (*key_revoke)(rk_store_t *, const char *, int64_t, char *, size_t);
    int (*key_touch)(rk_store_t *, const char *, int64_t, char *, size_t);
    int (*generation)(rk_store_t *, uint64_t *);   /* NULL: not kept (read accounts every time) */
} rk_store_accounts_t;

/* Login events and the behavioural profiles they build. */
typedef struct rk_store_events {
    int (*record)(rk_store_t *, rk_event_t *, size_t, int, char *, size_t);
    int (*get)(rk_store_t *, const char *, rk_event_t *, char *, size_t);
    int (*list)(rk_store_t *, const rk_event_filter_t *, rk_event_list_t *, char *, size_t);
    int (*set_alert)(rk_store_t *, const char *, const char *, char *, size_t);
    int (*recent)(rk_store_t *, const char *, const char *, int64_t, int64_t *, int64_t *, char *, size_t);
    int (*profile_get)(rk_store_t *, const char *, rk_profile_t *, char *, size_t);
    int (*profile_update)(rk_store_t *, const rk_event_t *, char *, size_t);
    int (*global_count)(rk_store_t *, rk_profile_kind, const char *, rk_global_count_t *, char *, size_t);
    int (*global_counts)(rk_store_t *, const char *const *, rk_global_count_t *, char *, size_t);   /* NULL: per kind */
    int (*purge)(rk_store_t *, int64_t, int, int64_t *, char *, size_t);                        /* NULL: nothing kept */
    int (*outcome)(rk_store_t *, const char *, const char *, int, int *, char *, size_t);        /* NULL: events not kept */
    int (*settle)(rk_store_t *, int64_t, int, int64_t *, char *, size_t);                       /* NULL: events not kept */
    int (*due)(rk_store_t *, int64_t, int *, char *, size_t);                                   /* NULL: events not kept */
    int (*state_set)(rk_store_t *, const char *, const char *, const char *, int64_t, char *, size_t);
} rk_store_events_t;

typedef struct rk_store_alerts {
    int (*insert)(rk_store_t *, rk_alert_t *, const char *, char *, size_t);
    int (*get)(rk_store_t *, const char *, rk_alert_detail_t *, char *, size_t);
    int (*list)(rk_store_t *, const rk_alert_filter_t *, rk_alert_list_t *, char *, size_t);
    int (*find_open)(rk_store_t *, const char *, const char *, int64_t, char *, char *, size_t);
    int (*add_event)(rk_store_t *, const char *, const char *, const char *, int64_t, char *, size_t);
    int (*set_status)(rk_store_t *, const char *, const char *, const char *, const char *, int64_t, char *, size_t);
} rk_store_alerts_t;

/* The dashboard's summaries over events and alerts. */
typedef struct rk_store_reports {
    int (*stats)(rk_store_t *, int64_t, rk_stats_t *, char *, size_t);
    int (*timeline)(rk_store_t *, int64_t, int64_t, int64_t, rk_bucket_t **, size_t *, char *, size_t);
    int (*top_users)(rk_store_t *, int64_t, int, rk_top_user_t **, size_t *, char *, size_t);
    int (*breakdown)(rk_store_t *, int64_t, rk_breakdown_t *, char *, size_t);
} rk_store_reports_t;

typedef struct rk_store_phishing {
    int (*insert)(rk_store_t *, rk_phish_rec_t *, char *, size_t);
    int (*get)(rk_store_t *, const char *, rk_phish_rec_t *, char *, size_t);
    int (*list)(rk_store_t *, const rk_phish_filter_t *, rk_phish_list_t *, char *, size_t);
    int (*set_alert)(rk_store_t *, const char *, const char *, char *, size_t);
} rk_store_phishing_t;

/* Site-wide rates shared between instances. */
typedef struct rk_store_rates {
    int (*add)(rk_store_t *, const char *, int64_t, int64_t, char *, size_t);
    int (*counts)(rk_store_t *, const char *, int64_t, int64_t, int64_t *, int64_t *, char *, size_t);
} rk_store_rates_t;

/* Group commit and the write-ahead log, driven by the writer thread
 * (store_writer.h). NULL: every write commits alone, nothing to checkpoint. */
typedef struct rk_store_writes {
    int (*batch_begin)(rk_store_t *, char *, size_t);
    int (*batch_end)(rk_store_t *, char *, size_t);
    int (*checkpoint)(rk_store_t *, int, int *, char *, size_t);
    int (*wal_pages)(rk_store_t *);
    int (*sync)(rk_store_t *, char *, size_t);
    int64_t (*unflushed)(rk_store_t *);
} rk_store_writes_t;

/* Small named documents of riskd's own state (the calibrated levels). */
typedef struct rk_store_state {
    int (*get)(rk_store_t *, const char *, char **, char *, size_t);
    int (*put)(rk_store_t *, const char *, const char *, char *, size_t);
} rk_store_state_t;

/* The outbox of deliveries (deliver.h). NULL: not kept (mem:). */
typedef struct rk_store_outbox {
    int (*put)(rk_store_t *, rk_outbox_item_t *, int64_t, char *, size_t);
    int (*claim)(rk_store_t *, int64_t, int64_t, int, rk_outbox_item_t **, size_t *, char *, size_t);
    int (*done)(rk_store_t *, const char *, int64_t, char *, size_t);
    int (*retry)(rk_store_t *, const char *, int, int64_t, const char *, char *, size_t);
    int (*dead)(rk_store_t *, const char *, int, int64_t, const char *, char *, size_t);
    int (*list)(rk_store_t *, const rk_outbox_filter_t *, rk_outbox_list_t *, char *, size_t);
    int (*requeue)(rk_store_t *, const char *, int64_t, char *, size_t);
} rk_store_outbox_t;

typedef struct rk_store_ops {
    const char *name;
    void (*close)(rk_store_t *);
    int (*ping)(rk_store_t *, char *, size_t);   /* NULL: in the process, always answers */
    int drops_docs;   /* events' JSON documents are not kept (mem:): callers need not build them */
    const rk_store_accounts_t *accounts;
    const rk_store_events_t *events;
    const rk_store_alerts_t *alerts;
    const rk_store_reports_t *reports;
    const rk_store_phishing_t *phishing;
    const rk_store_rates_t *rates;
    const rk_store_writes_t *writes;
    const rk_store_state_t *state;
    const rk_store_outbox_t *outbox;
} rk_store_ops_t;

struct rk_store {
    const rk_store_ops_t *ops;
};

int rk_store_sqlite_plans(rk_store_t *s, char *buf, size_t cap);
rk_store_t *rk_store_mongo_open(const char *uri, const rk_store_opts_t *o, char *err, size_t errlen);
rk_store_t *rk_store_sqlite_open(const char *path, const rk_store_opts_t *o, char *err, size_t errlen);
rk_store_t *rk_store_mem_open(char *err, size_t errlen);

int64_t rk_store_now_ms(void);
int rk_store_verdict_valid(const char *v);
void rk_store_new_id(char out[RK_STORE_ID_LEN]);
/* An event a backend may record: user and address present, a known level. */
int rk_store_check_event(const rk_event_t *e, char *err, size_t errlen);
/* What one event adds to its user's profile — the single definition that
 * rk_profile_apply (SQLite, memory) and MongoDB's atomic update both use. */
typedef struct rk_profile_delta {
    int success, anomaly, high_risk;
    int learn;                          /* a success that teaches now (RK_EVENT_LEARNS) */
    int hour, weekday;                  /* UTC, of a success */
    int local_hour;                     /* -1: no coordinates, not counted */
    const char *vals[RK_PK_COUNT];      /* the bounded lists' values, NULL when absent (successes) */
    char prefix[80];
} rk_profile_delta_t;
void rk_profile_delta(const rk_event_t *e, rk_profile_delta_t *d);
void rk_profile_apply(rk_profile_t *p, const rk_event_t *e);
/* What a held success teaches once it is settled (the learning half of
 * rk_profile_apply; the attempt was counted when it was recorded). */
void rk_profile_learn(rk_profile_t *p, const rk_event_t *e);
/* Zeroes a profile but for its item arrays (23 KB no one reads past
 * nitems): a full memset was 15 % of the writer's instructions per event. */
void rk_profile_reset(rk_profile_t *p);
/* The values an event adds to the bounded lists (and to the global counts):
 * vals[kind], NULL when absent; the prefix is computed into buf. */
void rk_profile_values(const rk_event_t *e, const char *vals[RK_PK_COUNT], char *buf, size_t cap);
#define RK_PROFILE_MAX_BYTES 32768
size_t rk_profile_encode(const rk_profile_t *p, unsigned char *out, size_t cap);
int rk_profile_decode(rk_profile_t *p, const unsigned char *data, size_t len);

#endif

/* store_mongo.c — the MongoDB backend of store.h, on mongo-c-driver.
 *
 * Several riskd instances can share one deployment (replica set or sharded
 * cluster): every change is one atomic server-side operation ($inc, $max,
 * $push with $sort/$slice, conditional updates), never a read-modify-write
 * in riskd, so concurrent instances lose nothing. Writes use w: majority,
 * so an acknowledged event survives a failover. One mongoc_client_pool_t per
 * URI is shared by every handle in the process; a handle pops a client for
 * each operation and pushes it back.
 *
 * Collections: users, events, profiles, alerts (status history and event ids
 * embedded), hourly and user_hourly (the summaries that stats, timeline and
 * top users read), ips (last seen), meta (counters). Indexes are created at
 * open. Ids are ObjectId hex.
 */
#include "mongo_init.h"
#include "store_impl.h"
#include "mongo_watch.h"

#include <jansson.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL


/* ---- the process-wide pools ---------------------------------------------- */

typedef struct pool_ent {
    char *uri;
    mongoc_client_pool_t *pool;
    char *dbname;
    int refs;
    struct pool_ent *next;
} pool_ent_t;

static pthread_mutex_t pools_mu = PTHREAD_MUTEX_INITIALIZER;
static pool_ent_t *pools;

static pool_ent_t *pool_get(const char *uri, char *err, size_t errlen)
{
    rk_mongo_init();
    pthread_mutex_lock(&pools_mu);
    pool_ent_t *p;
    for (p = pools; p; p = p->next) if (strcmp(p->uri, uri) == 0) break;
    if (p) { p->refs++; pthread_mutex_unlock(&pools_mu); return p; }
    bson_error_t e;
    mongoc_uri_t *mu = mongoc_uri_new_with_error(uri, &e);
    if (!mu) { snprintf(err, errlen, "mongodb: %s", e.message); pthread_mutex_unlock(&pools_mu); return NULL; }
    /* Acknowledged means on a majority, unless the URI says otherwise. */
    if (!mongoc_uri_get_write_concern(mu) || mongoc_write_concern_get_w(mongoc_uri_get_write_concern(mu)) == MONGOC_WRITE_CONCERN_W_DEFAULT) {
        mongoc_write_concern_t *wc = mongoc_write_concern_new();
        mongoc_write_concern_set_wmajority(wc, 10000);
        mongoc_uri_set_write_concern(mu, wc);
        mongoc_write_concern_destroy(wc);
    }
    p = calloc(1, sizeof *p);
    const char *db = mongoc_uri_get_database(mu);
    if (p) {
        p->uri = strdup(uri);
        p->dbname = strdup(db ? db : "riskd");
        p->pool = mongoc_client_pool_new(mu);
    }
    mongoc_uri_destroy(mu);
    if (!p || !p->uri || !p->dbname || !p->pool) {
        if (p) { free(p->uri); free(p->dbname); if (p->pool) mongoc_client_pool_destroy(p->pool); free(p); }
        snprintf(err, errlen, "mongodb: cannot create a client pool");
        pthread_mutex_unlock(&pools_mu);
        return NULL;
    }
    mongoc_client_pool_set_error_api(p->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(p->pool, "riskd");
    p->refs = 1;
    p->next = pools;
    pools = p;
    pthread_mutex_unlock(&pools_mu);
    return p;
}

static void pool_put(pool_ent_t *p)
{
    pthread_mutex_lock(&pools_mu);
    if (--p->refs == 0) {
        pool_ent_t **pp = &pools;
        while (*pp != p) pp = &(*pp)->next;
        *pp = p->next;
        mongoc_client_pool_destroy(p->pool);
        free(p->uri);
        free(p->dbname);
        free(p);
    }
    pthread_mutex_unlock(&pools_mu);
}

typedef struct {
    rk_store_t base;
    pool_ent_t *pool;
    int retention_days;
    int phish_indexed;       /* the phishing collection's indexes, made on its first use */
    int rates_indexed;       /* the same for the shared rates */
} mg_t;

#define MG(s) ((mg_t *)(s))

/* A client and a collection for one operation. */
typedef struct { mongoc_client_t *client; mongoc_collection_t *coll; mg_t *m; } op_t;

static op_t op_begin(mg_t *m, const char *name)
{
    op_t o = { mongoc_client_pool_pop(m->pool->pool), NULL, m };
    o.coll = mongoc_client_get_collection(o.client, m->pool->dbname, name);
    return o;
}

static void op_end(op_t *o)
{
    if (o->coll) mongoc_collection_destroy(o->coll);
    if (o->client) mongoc_client_pool_push(o->m->pool->pool, o->client);
    o->coll = NULL;
    o->client = NULL;
}

static int mfail(const bson_error_t *e, char *err, size_t errlen, const char *what)
{
    if (e->code == 11000 || e->code == 11001) { snprintf(err, errlen, "%s: already exists", what); return RK_STORE_CONFLICT; }
    snprintf(err, errlen, "mongodb: %s: %s", what, e->message);
    return -1;
}

static int64_t reply_int(const bson_t *reply, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, reply, key) ? bson_iter_as_int64(&it) : 0;
}

static void oid_hex(const bson_iter_t *it, char out[RK_STORE_ID_LEN])
{
    if (BSON_ITER_HOLDS_OID(it)) bson_oid_to_string(bson_iter_oid(it), out);
    else out[0] = '\0';
}

static int parse_oid(const char *hex, bson_oid_t *oid)
{
    if (!hex || !bson_oid_is_valid(hex, strlen(hex))) return -1;
    bson_oid_init_from_string(oid, hex);
    return 0;
}

/* Runs update_one and reports the matched count (or -1 on error). */
static int64_t update1(op_t *o, const bson_t *filter, const bson_t *upd, int upsert, char *err, size_t errlen)
{
    bson_t reply, opts = BSON_INITIALIZER;
    bson_error_t e;
    if (upsert) BSON_APPEND_BOOL(&opts, "upsert", true);
    bool ok = mongoc_collection_update_one(o->coll, filter, upd, &opts, &reply, &e);
    bson_destroy(&opts);
    int64_t matched = ok ? reply_int(&reply, "matchedCount") + reply_int(&reply, "upsertedCount") : -1;
    bson_destroy(&reply);
    if (!ok) mfail(&e, err, errlen, mongoc_collection_get_name(o->coll));
    return matched;
}

/* ---- indexes ---------------------------------------------------------------- */

/* Runs a createIndexes command on coll; destroys cmd. */
static int index_command(mg_t *m, const char *coll, bson_t *cmd, char *err, size_t errlen)
{
    op_t o = op_begin(m, coll);
    bson_t reply;
    bson_error_t e;
    bool ok = mongoc_collection_write_command_with_opts(o.coll, cmd, NULL, &reply, &e);
    bson_destroy(&reply);
    bson_destroy(cmd);
    op_end(&o);
    return ok ? 0 : mfail(&e, err, errlen, "createIndexes");
}

static int create_indexes(mg_t *m, const char *coll, const char *const *keys_json, int n, int unique_first,
                          char *err, size_t errlen)
{
    bson_t cmd = BSON_INITIALIZER, arr;
    BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
    for (int i = 0; i < n; i++) {
        bson_error_t e;
        bson_t *keys = bson_new_from_json((const uint8_t *)keys_json[i], -1, &e);
        char key[16], *name = mongoc_collection_keys_to_index_string(keys);
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        bson_t idx;
        BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &idx);
        BSON_APPEND_DOCUMENT(&idx, "key", keys);
        BSON_APPEND_UTF8(&idx, "name", name);
        if (unique_first && i == 0) BSON_APPEND_BOOL(&idx, "unique", true);
        bson_append_document_end(&arr, &idx);
        bson_free(name);
        bson_destroy(keys);
    }
    bson_append_array_end(&cmd, &arr);
    return index_command(m, coll, &cmd, err, errlen);
}

static int ensure_indexes(mg_t *m, char *err, size_t errlen)
{
    static const char *users[] = { "{\"username\":1}" };
    static const char *events[] = { "{\"ts\":-1,\"_id\":-1}", "{\"user_id\":1,\"ts\":-1}", "{\"ip\":1,\"ts\":-1}",
                                     "{\"risk_level\":1,\"ts\":-1}", "{\"is_anomaly\":1,\"ts\":-1}", "{\"risk_score\":1}",
                                     "{\"held\":1,\"learn_at\":1}" };
    static const char *profiles[] = { "{\"last\":1}", "{\"max_risk\":-1}" };
    static const char *alerts[] = { "{\"created\":-1}", "{\"status\":1,\"created\":-1}", "{\"severity\":1,\"created\":-1}",
                                     "{\"user_id\":1,\"cause\":1,\"status\":1,\"updated\":-1}" };
    static const char *uh[] = { "{\"b\":1,\"u\":1}" };
    static const char *ips[] = { "{\"last\":1}" };
    if (create_indexes(m, "users", users, 1, 1, err, errlen) || create_indexes(m, "events", events, 7, 0, err, errlen) ||
        create_indexes(m, "profiles", profiles, 2, 0, err, errlen) || create_indexes(m, "alerts", alerts, 4, 0, err, errlen) ||
        create_indexes(m, "user_hourly", uh, 1, 0, err, errlen) || create_indexes(m, "ips", ips, 1, 0, err, errlen))
        return -1;
    static const char *outbox[] = { "{\"status\":1,\"next\":1}", "{\"created\":-1,\"_id\":-1}", "{\"status\":1,\"created\":-1}" };
    if (create_indexes(m, "outbox", outbox, 3, 0, err, errlen)) return -1;
    /* one live key per name: unique among the documents not revoked */
    bson_t *keys = BCON_NEW("createIndexes", BCON_UTF8("api_keys"), "indexes", "[", "{",
                            "key", "{", "name", BCON_INT32(1), "}", "name", BCON_UTF8("live_name"), "unique", BCON_BOOL(true),
                            "partialFilterExpression", "{", "revoked", BCON_INT64(0), "}", "}", "]");
    return index_command(m, "api_keys", keys, err, errlen);
}

static const rk_store_ops_t ops;

rk_store_t *rk_store_mongo_open(const char *uri, const rk_store_opts_t *o, char *err, size_t errlen)
{
    mg_t *m = calloc(1, sizeof *m);
    if (!m) { snprintf(err, errlen, "out of memory"); return NULL; }
    m->base.ops = &ops;
    m->retention_days = o->retention_days;
    m->pool = pool_get(uri, err, errlen);
    if (!m->pool) { free(m); return NULL; }
    if (ensure_indexes(m, err, errlen) != 0) { pool_put(m->pool); free(m); return NULL; }
    return &m->base;
}

static void mg_close(rk_store_t *s)
{
    mg_t *m = MG(s);
    pool_put(m->pool);
    free(m);
}

/* ---- users ---- */

static int mg_user_create(rk_store_t *s, rk_user_t *u, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "users");
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, u->id);
    u->created_ms = rk_store_now_ms();
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_OID(&d, "_id", &oid);
    BSON_APPEND_UTF8(&d, "username", u->username);
    if (u->email) BSON_APPEND_UTF8(&d, "email", u->email);
    BSON_APPEND_UTF8(&d, "role", u->role);
    if (u->password_hash) BSON_APPEND_UTF8(&d, "password_hash", u->password_hash);
    BSON_APPEND_DATE_TIME(&d, "created", u->created_ms);
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(o.coll, &d, NULL, NULL, &e);
    bson_destroy(&d);
    op_end(&o);
    return ok ? 0 : mfail(&e, err, errlen, "user");
}

static char *str_field(const bson_t *d, const char *k)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, k) && BSON_ITER_HOLDS_UTF8(&it) ? strdup(bson_iter_utf8(&it, NULL)) : NULL;
}

static void read_user(const bson_t *d, rk_user_t *u)
{
    bson_iter_t it;
    memset(u, 0, sizeof *u);
    if (bson_iter_init_find(&it, d, "_id")) oid_hex(&it, u->id);
    u->username = str_field(d, "username");
    u->email = str_field(d, "email");
    u->role = str_field(d, "role");
    u->password_hash = str_field(d, "password_hash");
    if (bson_iter_init_find(&it, d, "created")) u->created_ms = bson_iter_date_time(&it);
}

static int find_one(op_t *o, const bson_t *filter, bson_t *out, char *err, size_t errlen)
{
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o->coll, filter, &opts, NULL);
    const bson_t *doc;
    int rc = RK_STORE_NOT_FOUND;
    if (mongoc_cursor_next(c, &doc)) { bson_copy_to(doc, out); rc = 0; }
    bson_error_t e;
    if (rc && mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, mongoc_collection_get_name(o->coll));
    mongoc_cursor_destroy(c);
    bson_destroy(&opts);
    return rc;
}

static int mg_user_get(rk_store_t *s, const char *name, rk_user_t *out, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "users");
    bson_t *f = BCON_NEW("username", BCON_UTF8(name)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    memset(out, 0, sizeof *out);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no user '%s'", name);
    if (rc) return rc;
    read_user(&d, out);
    bson_destroy(&d);
    return 0;
}

static int mg_user_set_password(rk_store_t *s, const char *name, const char *hash, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "users");
    bson_t *f = BCON_NEW("username", BCON_UTF8(name));
    bson_t *u = BCON_NEW("$set", "{", "password_hash", BCON_UTF8(hash), "}");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f);
    bson_destroy(u);
    op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no user '%s'", name); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int mg_user_delete(rk_store_t *s, const char *name, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "users");
    bson_t *f = BCON_NEW("username", BCON_UTF8(name)), reply;
    bson_error_t e;
    bool ok = mongoc_collection_delete_one(o.coll, f, NULL, &reply, &e);
    int64_t n = ok ? reply_int(&reply, "deletedCount") : 0;
    bson_destroy(&reply);
    bson_destroy(f);
    op_end(&o);
    if (!ok) return mfail(&e, err, errlen, "user");
    if (n == 0) { snprintf(err, errlen, "no user '%s'", name); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int mg_user_list(rk_store_t *s, rk_user_t **out, size_t *n, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "users");
    bson_t f = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "username", BCON_INT32(1), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, &f, opts, NULL);
    const bson_t *doc;
    size_t cap = 8;
    *n = 0;
    *out = calloc(cap, sizeof **out);
    while (*out && mongoc_cursor_next(c, &doc)) {
        if (*n == cap) {
            rk_user_t *nu = realloc(*out, cap * 2 * sizeof *nu);
            if (!nu) break;
            *out = nu;
            cap *= 2;
        }
        read_user(doc, &(*out)[(*n)++]);
    }
    bson_error_t e;
    int rc = 0;
    if (mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "users");
    mongoc_cursor_destroy(c);
    bson_destroy(opts);
    op_end(&o);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    return rc;
}

/* ---- API keys ---- */

static int mg_key_create(rk_store_t *s, rk_apikey_t *k, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "api_keys");
    k->created_ms = rk_store_now_ms();
    k->last_used_ms = k->revoked_ms = 0;
    bson_t *d = BCON_NEW("_id", BCON_UTF8(k->id), "name", BCON_UTF8(k->name), "role", BCON_UTF8(k->role),
                         "hash", BCON_UTF8(k->hash), "created", BCON_DATE_TIME(k->created_ms),
                         "last_used", BCON_INT64(0), "revoked", BCON_INT64(0));
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(o.coll, d, NULL, NULL, &e);
    bson_destroy(d);
    op_end(&o);
    if (ok) return 0;
    int rc = mfail(&e, err, errlen, "API key");
    if (rc == RK_STORE_CONFLICT) snprintf(err, errlen, "a key named '%s' exists: revoke it first", k->name);
    return rc;
}

static void read_key(const bson_t *d, rk_apikey_t *k)
{
    bson_iter_t it;
    memset(k, 0, sizeof *k);
    if (bson_iter_init_find(&it, d, "_id") && BSON_ITER_HOLDS_UTF8(&it)) snprintf(k->id, sizeof k->id, "%s", bson_iter_utf8(&it, NULL));
    k->name = str_field(d, "name");
    k->role = str_field(d, "role");
    k->hash = str_field(d, "hash");
    if (bson_iter_init_find(&it, d, "created") && BSON_ITER_HOLDS_DATE_TIME(&it)) k->created_ms = bson_iter_date_time(&it);
    k->last_used_ms = reply_int(d, "last_used");
    k->revoked_ms = reply_int(d, "revoked");
}

static int mg_key_get(rk_store_t *s, const char *id, rk_apikey_t *out, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "api_keys");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no API key '%s'", id);
    if (rc) return rc;
    read_key(&d, out);
    bson_destroy(&d);
    return 0;
}

static int mg_key_list(rk_store_t *s, rk_apikey_t **out, size_t *n, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "api_keys");
    bson_t f = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "name", BCON_INT32(1), "revoked", BCON_INT32(1), "created", BCON_INT32(-1), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, &f, opts, NULL);
    const bson_t *doc;
    size_t cap = 8;
    *out = calloc(cap, sizeof **out);
    while (*out && mongoc_cursor_next(c, &doc)) {
        if (*n == cap) {
            rk_apikey_t *nk = realloc(*out, cap * 2 * sizeof *nk);
            if (!nk) break;
            *out = nk;
            cap *= 2;
        }
        read_key(doc, &(*out)[(*n)++]);
    }
    bson_error_t e;
    int rc = 0;
    if (mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "API keys");
    mongoc_cursor_destroy(c);
    bson_destroy(opts);
    op_end(&o);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    return rc;
}

static int mg_key_set(rk_store_t *s, bson_t *f, bson_t *u, const char *what, const char *key, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "api_keys");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f);
    bson_destroy(u);
    op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no %s '%s'", what, key); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int mg_key_revoke(rk_store_t *s, const char *name, int64_t now_ms, char *err, size_t errlen)
{
    return mg_key_set(s, BCON_NEW("name", BCON_UTF8(name), "revoked", BCON_INT64(0)),
                      BCON_NEW("$set", "{", "revoked", BCON_INT64(now_ms), "}"), "live API key", name, err, errlen);
}

static int mg_key_touch(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    return mg_key_set(s, BCON_NEW("_id", BCON_UTF8(id)), BCON_NEW("$max", "{", "last_used", BCON_INT64(now_ms), "}"),
                      "API key", id, err, errlen);
}

/* ---- breakdowns ---- */

static void read_counts(const bson_t *d, const char *field, rk_count_t *out, int *n)
{
    bson_iter_t it, arr;
    if (!bson_iter_init_find(&it, d, field) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) return;
    while (bson_iter_next(&arr) && *n < RK_BREAKDOWN_TOP) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&arr, &len, &data);
        bson_t g;
        if (!bson_init_static(&g, data, len)) continue;
        bson_iter_t k;
        const char *key = bson_iter_init_find(&k, &g, "_id") && BSON_ITER_HOLDS_UTF8(&k) ? bson_iter_utf8(&k, NULL) : "";
        snprintf(out[*n].key, sizeof out[*n].key, "%s", key);
        out[(*n)++].n = reply_int(&g, "n");
    }
}

/* One aggregation: the window's newest events, counted three ways ($facet). */
static int mg_breakdown(rk_store_t *s, int64_t since_ms, rk_breakdown_t *out, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "events");
    bson_t *pipe = BCON_NEW("pipeline", "[",
        "{", "$match", "{", "ts", "{", "$gte", BCON_DATE_TIME(since_ms), "}", "}", "}",
        "{", "$sort", "{", "ts", BCON_INT32(-1), "}", "}",
        "{", "$limit", BCON_INT32(RK_BREAKDOWN_SAMPLE), "}",
        "{", "$facet", "{",
            "levels", "[", "{", "$group", "{", "_id", BCON_UTF8("$risk_level"), "n", "{", "$sum", BCON_INT32(1), "}", "}", "}",
                           "{", "$sort", "{", "n", BCON_INT32(-1), "}", "}", "]",
            "countries", "[", "{", "$group", "{", "_id", "{", "$ifNull", "[", BCON_UTF8("$country"), BCON_UTF8(""), "]", "}",
                                               "n", "{", "$sum", BCON_INT32(1), "}", "}", "}",
                              "{", "$sort", "{", "n", BCON_INT32(-1), "_id", BCON_INT32(1), "}", "}",
                              "{", "$limit", BCON_INT32(RK_BREAKDOWN_TOP), "}", "]",
            "rules", "[", "{", "$unwind", BCON_UTF8("$rule_names"), "}",
                          "{", "$group", "{", "_id", BCON_UTF8("$rule_names"), "n", "{", "$sum", BCON_INT32(1), "}", "}", "}",
                          "{", "$sort", "{", "n", BCON_INT32(-1), "_id", BCON_INT32(1), "}", "}",
                          "{", "$limit", BCON_INT32(RK_BREAKDOWN_TOP), "}", "]",
        "}", "}", "]");
    mongoc_cursor_t *c = mongoc_collection_aggregate(o.coll, MONGOC_QUERY_NONE, pipe, NULL, NULL);
    const bson_t *d;
    if (mongoc_cursor_next(c, &d)) {
        read_counts(d, "levels", out->levels, &out->nlevels);
        read_counts(d, "countries", out->countries, &out->ncountries);
        read_counts(d, "rules", out->rules, &out->nrules);
    }
    bson_error_t e;
    int rc = mongoc_cursor_error(c, &e) ? mfail(&e, err, errlen, "breakdown") : 0;
    mongoc_cursor_destroy(c);
    bson_destroy(pipe);
    op_end(&o);
    for (int i = 0; i < out->nlevels; i++) out->counted += out->levels[i].n;
    return rc;
}

/* ---- the outbox ---- */

static void read_item(const bson_t *d, rk_outbox_item_t *it)
{
    bson_iter_t i;
    memset(it, 0, sizeof *it);
    if (bson_iter_init_find(&i, d, "_id") && BSON_ITER_HOLDS_UTF8(&i)) snprintf(it->id, sizeof it->id, "%s", bson_iter_utf8(&i, NULL));
    it->dest = str_field(d, "dest");
    it->kind = str_field(d, "kind");
    it->body = str_field(d, "body");
    it->status = str_field(d, "status");
    it->last_error = str_field(d, "last_error");
    it->attempts = (int)reply_int(d, "attempts");
    it->created_ms = reply_int(d, "created");
    it->next_ms = reply_int(d, "next");
    it->done_ms = reply_int(d, "done");
}

static int mg_outbox_put(rk_store_t *s, rk_outbox_item_t *it, int64_t now_ms, char *err, size_t errlen)
{
    rk_store_new_id(it->id);
    it->created_ms = it->next_ms = now_ms;
    op_t o = op_begin(MG(s), "outbox");
    bson_t *d = BCON_NEW("_id", BCON_UTF8(it->id), "dest", BCON_UTF8(it->dest), "kind", BCON_UTF8(it->kind),
                         "body", BCON_UTF8(it->body), "status", BCON_UTF8("pending"), "attempts", BCON_INT32(0),
                         "created", BCON_INT64(now_ms), "next", BCON_INT64(now_ms), "lease", BCON_INT64(0),
                         "done", BCON_INT64(0));
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(o.coll, d, NULL, NULL, &e);
    bson_destroy(d);
    op_end(&o);
    return ok ? 0 : mfail(&e, err, errlen, "outbox");
}

/* One findAndModify per delivery claimed: each is held atomically, so two
 * instances never both take one. */
static int mg_outbox_claim(rk_store_t *s, int64_t now_ms, int64_t lease_ms, int max, rk_outbox_item_t **out, size_t *n,
                           char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "outbox");
    int rc = 0;
    *out = calloc((size_t)(max > 0 ? max : 1), sizeof **out);
    if (!*out) { op_end(&o); snprintf(err, errlen, "out of memory"); return -1; }
    while ((int)*n < max) {
        bson_t *q = BCON_NEW("status", BCON_UTF8("pending"), "next", "{", "$lte", BCON_INT64(now_ms), "}",
                             "lease", "{", "$lte", BCON_INT64(now_ms), "}");
        bson_t *upd = BCON_NEW("$set", "{", "lease", BCON_INT64(now_ms + lease_ms), "}");
        bson_t *sort = BCON_NEW("next", BCON_INT32(1));
        mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
        mongoc_find_and_modify_opts_set_update(fam, upd);
        mongoc_find_and_modify_opts_set_sort(fam, sort);
        mongoc_find_and_modify_opts_set_flags(fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
        bson_t reply;
        bson_error_t be;
        bool ok = mongoc_collection_find_and_modify_with_opts(o.coll, q, fam, &reply, &be);
        mongoc_find_and_modify_opts_destroy(fam);
        bson_destroy(q); bson_destroy(upd); bson_destroy(sort);
        bson_iter_t it;
        int got = 0;
        if (!ok) rc = mfail(&be, err, errlen, "outbox");
        else if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_t doc;
            if (bson_init_static(&doc, data, len)) { read_item(&doc, &(*out)[(*n)++]); got = 1; }
        }
        bson_destroy(&reply);
        if (rc || !got) break;
    }
    op_end(&o);
    if (rc) {
        for (size_t i = 0; i < *n; i++) rk_store_outbox_item_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int outbox_update(rk_store_t *s, bson_t *f, bson_t *u, const char *what, const char *id, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "outbox");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f);
    bson_destroy(u);
    op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no %s '%s'", what, id); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int mg_outbox_done(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    return outbox_update(s, BCON_NEW("_id", BCON_UTF8(id)),
                         BCON_NEW("$set", "{", "status", BCON_UTF8("delivered"), "done", BCON_INT64(now_ms),
                                  "lease", BCON_INT64(0), "}", "$inc", "{", "attempts", BCON_INT32(1), "}",
                                  "$unset", "{", "last_error", BCON_UTF8(""), "}"),
                         "delivery", id, err, errlen);
}

static int mg_outbox_retry(rk_store_t *s, const char *id, int attempts, int64_t next_ms, const char *error, char *err,
                           size_t errlen)
{
    return outbox_update(s, BCON_NEW("_id", BCON_UTF8(id)),
                         BCON_NEW("$set", "{", "attempts", BCON_INT32(attempts), "next", BCON_INT64(next_ms),
                                  "lease", BCON_INT64(0), "last_error", BCON_UTF8(error ? error : ""), "}"),
                         "delivery", id, err, errlen);
}

static int mg_outbox_dead(rk_store_t *s, const char *id, int attempts, int64_t now_ms, const char *error, char *err,
                          size_t errlen)
{
    return outbox_update(s, BCON_NEW("_id", BCON_UTF8(id)),
                         BCON_NEW("$set", "{", "status", BCON_UTF8("dead"), "attempts", BCON_INT32(attempts),
                                  "done", BCON_INT64(now_ms), "lease", BCON_INT64(0),
                                  "last_error", BCON_UTF8(error ? error : ""), "}"),
                         "delivery", id, err, errlen);
}

static int mg_outbox_requeue(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    return outbox_update(s, BCON_NEW("_id", BCON_UTF8(id), "status", BCON_UTF8("dead")),
                         BCON_NEW("$set", "{", "status", BCON_UTF8("pending"), "next", BCON_INT64(now_ms),
                                  "lease", BCON_INT64(0), "done", BCON_INT64(0), "}"),
                         "dead delivery", id, err, errlen);
}

static int mg_outbox_list(rk_store_t *s, const rk_outbox_filter_t *f, rk_outbox_list_t *out, char *err, size_t errlen)
{
    int per = f->per_page > 0 ? f->per_page : 20, page = f->page > 0 ? f->page : 1;
    op_t o = op_begin(MG(s), "outbox");
    bson_t *q = f->status ? BCON_NEW("status", BCON_UTF8(f->status)) : bson_new();
    bson_error_t e;
    int64_t total = mongoc_collection_count_documents(o.coll, q, NULL, NULL, NULL, &e);
    int rc = 0;
    if (total < 0) rc = mfail(&e, err, errlen, "outbox");
    else {
        out->total = total;
        bson_t *opts = BCON_NEW("sort", "{", "created", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                                "skip", BCON_INT64((int64_t)(page - 1) * per), "limit", BCON_INT64(per));
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, q, opts, NULL);
        const bson_t *doc;
        size_t cap = 0;
        while (mongoc_cursor_next(c, &doc)) {
            if (out->n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                rk_outbox_item_t *a = realloc(out->items, ncap * sizeof *a);
                if (!a) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
                out->items = a;
                cap = ncap;
            }
            read_item(doc, &out->items[out->n++]);
        }
        if (!rc && mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "outbox");
        mongoc_cursor_destroy(c);
        bson_destroy(opts);
    }
    bson_destroy(q);
    op_end(&o);
    if (rc) rk_store_outbox_list_free(out);
    return rc;
}

/* ---- events ---- */

static void append_opt_utf8(bson_t *d, const char *k, const char *v) { if (v) BSON_APPEND_UTF8(d, k, v); }

/* The names of the rules that fired, from the event's JSON document, as an
 * array field: the event list filters on it and the breakdown counts it
 * (the document itself is kept as text). */
static void append_rule_names(bson_t *d, const char *doc)
{
    json_t *root = doc ? json_loads(doc, 0, NULL) : NULL;
    json_t *rules = json_object_get(root, "rules");
    if (json_is_array(rules) && json_array_size(rules) > 0) {
        bson_t arr;
        BSON_APPEND_ARRAY_BEGIN(d, "rule_names", &arr);
        size_t i;
        json_t *r;
        uint32_t k = 0;
        json_array_foreach(rules, i, r) {
            const char *name = json_string_value(json_object_get(r, "name"));
            if (!name) continue;
            char key[16];
            const char *ks;
            bson_uint32_to_string(k++, &ks, key, sizeof key);
            bson_append_utf8(&arr, ks, -1, name, -1);
        }
        bson_append_array_end(d, &arr);
    }
    json_decref(root);
}

static void event_doc(const rk_event_t *e, const bson_oid_t *oid, bson_t *d)
{
    BSON_APPEND_OID(d, "_id", oid);
    BSON_APPEND_UTF8(d, "user_id", e->user_id);
    BSON_APPEND_DATE_TIME(d, "ts", e->ts_ms);
    BSON_APPEND_UTF8(d, "ip", e->ip);
    BSON_APPEND_BOOL(d, "success", e->success != 0);
    BSON_APPEND_DOUBLE(d, "risk_score", e->risk_score);
    BSON_APPEND_UTF8(d, "risk_level", e->risk_level);
    BSON_APPEND_BOOL(d, "is_anomaly", e->is_anomaly != 0);
    BSON_APPEND_DOUBLE(d, "anomaly_score", e->anomaly_score);
    append_opt_utf8(d, "action", e->action);
    append_opt_utf8(d, "country", e->country);
    append_opt_utf8(d, "city", e->city);
    if (e->has_geo) { BSON_APPEND_DOUBLE(d, "lat", e->lat); BSON_APPEND_DOUBLE(d, "lon", e->lon); }
    append_opt_utf8(d, "device_id", e->device_id);
    append_opt_utf8(d, "user_agent", e->user_agent);
    append_opt_utf8(d, "asn", e->asn);
    append_opt_utf8(d, "ip_prefix", e->ip_prefix);
    append_opt_utf8(d, "alert_id", e->alert_id);
    append_opt_utf8(d, "doc", e->doc);
    append_rule_names(d, e->doc);
    if (e->held) BSON_APPEND_INT32(d, "held", e->held);
    if (e->held == RK_LEARN_ON_GRACE) BSON_APPEND_DATE_TIME(d, "learn_at", e->learn_at);
    append_opt_utf8(d, "outcome", e->outcome);
}

/* The summaries: hourly, per user and hour, the address, the counter. */
static int summaries(mg_t *m, const rk_event_t *e, char *err, size_t errlen)
{
    int lvl = rk_store_level_index(e->risk_level);
    int64_t b = e->ts_ms / HOUR_MS;
    op_t o = op_begin(m, "hourly");
    bson_t *f = BCON_NEW("_id", BCON_INT64(b));
    bson_t *u = BCON_NEW("$inc", "{", "attempts", BCON_INT64(1), "failures", BCON_INT64(!e->success),
                         "anomalies", BCON_INT64(e->is_anomaly != 0), "risk_sum", BCON_DOUBLE(e->risk_score),
                         rk_store_levels[lvl], BCON_INT64(1), "}");
    int64_t n = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    if (n < 0) return -1;
    o = op_begin(m, "user_hourly");
    f = BCON_NEW("_id", "{", "u", BCON_UTF8(e->user_id), "b", BCON_INT64(b), "}");
    u = BCON_NEW("$inc", "{", "attempts", BCON_INT64(1), "risk_sum", BCON_DOUBLE(e->risk_score),
                 "anomalies", BCON_INT64(e->is_anomaly != 0), "high", BCON_INT64(lvl >= 2), "}",
                 "$max", "{", "max_risk", BCON_DOUBLE(e->risk_score), "}",
                 "$setOnInsert", "{", "u", BCON_UTF8(e->user_id), "b", BCON_INT64(b), "}");
    n = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    if (n < 0) return -1;
    o = op_begin(m, "ips");
    f = BCON_NEW("_id", BCON_UTF8(e->ip));
    u = BCON_NEW("$max", "{", "last", BCON_INT64(e->ts_ms), "}");
    n = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    return n < 0 ? -1 : 0;
}

static int meta_inc(mg_t *m, const char *key, int64_t by, char *err, size_t errlen)
{
    op_t o = op_begin(m, "meta");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(key));
    bson_t *u = BCON_NEW("$inc", "{", "n", BCON_INT64(by), "}");
    int64_t n = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    return n < 0 ? -1 : 0;
}

/* Counts one value in a bounded list: increment it where it is, or push it
 * keeping the 32 most recently seen; the two steps retry if another writer
 * pushed the same value in between. */
static int bump_item(mg_t *m, const char *user, const char *kind, const char *value, int64_t ms, char *err, size_t errlen)
{
    if (!value || !*value) return 0;
    char vkey[64], nkey[64], lkey[64];
    snprintf(vkey, sizeof vkey, "%s.v", kind);
    snprintf(nkey, sizeof nkey, "%s.$.n", kind);
    snprintf(lkey, sizeof lkey, "%s.$.last", kind);
    for (int attempt = 0; attempt < 3; attempt++) {
        op_t o = op_begin(m, "profiles");
        bson_t *f = BCON_NEW("_id", BCON_UTF8(user), vkey, BCON_UTF8(value));
        bson_t *u = BCON_NEW("$inc", "{", nkey, BCON_INT64(1), "}", "$max", "{", lkey, BCON_INT64(ms), "}");
        int64_t n = update1(&o, f, u, 0, err, errlen);
        bson_destroy(f); bson_destroy(u);
        if (n != 0) { op_end(&o); return n < 0 ? -1 : 0; }
        f = BCON_NEW("_id", BCON_UTF8(user), vkey, "{", "$ne", BCON_UTF8(value), "}");
        u = BCON_NEW("$push", "{", kind, "{", "$each", "[", "{", "v", BCON_UTF8(value), "n", BCON_INT64(1),
                     "last", BCON_INT64(ms), "}", "]", "$sort", "{", "last", BCON_INT32(1), "}",
                     "$slice", BCON_INT32(-RK_PROFILE_MAX_ITEMS), "}", "}");
        n = update1(&o, f, u, 0, err, errlen);
        bson_destroy(f); bson_destroy(u); op_end(&o);
        if (n != 0) return n < 0 ? -1 : 0;
    }
    snprintf(err, errlen, "profile: %s '%s' kept changing", kind, value);
    return -1;
}

/* An event's share of its user's profile: the counts (counts), the
 * learning half (d->learn: a success that teaches, at once or when its hold
 * is settled), or both in one atomic $inc; then the last success and the
 * bounded lists. */
static int mg_profile_change(mg_t *m, const rk_event_t *e, const rk_profile_delta_t *d, int counts,
                             char *err, size_t errlen)
{
    char hk[32], wk[32], lk[32];
    snprintf(hk, sizeof hk, "hours.%d", d->hour);
    snprintf(wk, sizeof wk, "weekdays.%d", d->weekday);
    snprintf(lk, sizeof lk, "local_hours.%d", d->local_hour >= 0 ? d->local_hour : 0);
    bson_t u = BSON_INITIALIZER, inc, mx, mn;
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &inc);
    if (counts) {
        BSON_APPEND_INT64(&inc, "attempts", 1);
        BSON_APPEND_INT64(&inc, "failures", !d->success);
        BSON_APPEND_INT64(&inc, "anomalies", d->anomaly);
        BSON_APPEND_INT64(&inc, "high_risk", d->high_risk);
        BSON_APPEND_DOUBLE(&inc, "risk_sum", e->risk_score);
    }
    if (d->learn) {
        BSON_APPEND_INT64(&inc, "successes", 1);
        BSON_APPEND_INT64(&inc, hk, 1);
        BSON_APPEND_INT64(&inc, wk, 1);
        BSON_APPEND_INT64(&inc, lk, d->local_hour >= 0);
    }
    bson_append_document_end(&u, &inc);
    if (counts) {
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$max", &mx);
        BSON_APPEND_DOUBLE(&mx, "max_risk", e->risk_score);
        BSON_APPEND_INT64(&mx, "last", e->ts_ms);
        bson_append_document_end(&u, &mx);
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$min", &mn);
        BSON_APPEND_INT64(&mn, "first", e->ts_ms);
        bson_append_document_end(&u, &mn);
    }
    op_t o = op_begin(m, "profiles");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(e->user_id));
    int64_t n = update1(&o, f, &u, 1, err, errlen);
    bson_destroy(f); bson_destroy(&u);
    if (n < 0 || !d->learn) { op_end(&o); return n < 0 ? -1 : 0; }
    /* The last success moves only forward in time, atomically. */
    f = BCON_NEW("_id", BCON_UTF8(e->user_id), "$or", "[", "{", "ls.ts", "{", "$exists", BCON_BOOL(false), "}", "}",
                 "{", "ls.ts", "{", "$lte", BCON_INT64(e->ts_ms), "}", "}", "]");
    bson_t set = BSON_INITIALIZER, ls;
    BSON_APPEND_DOCUMENT_BEGIN(&set, "$set", &ls);
    bson_t lsd;
    BSON_APPEND_DOCUMENT_BEGIN(&ls, "ls", &lsd);
    BSON_APPEND_INT64(&lsd, "ts", e->ts_ms);
    BSON_APPEND_UTF8(&lsd, "ip", e->ip);
    append_opt_utf8(&lsd, "country", e->country);
    append_opt_utf8(&lsd, "city", e->city);
    if (e->has_geo) { BSON_APPEND_DOUBLE(&lsd, "lat", e->lat); BSON_APPEND_DOUBLE(&lsd, "lon", e->lon); }
    bson_append_document_end(&ls, &lsd);
    bson_append_document_end(&set, &ls);
    n = update1(&o, f, &set, 0, err, errlen);
    bson_destroy(f); bson_destroy(&set); op_end(&o);
    if (n < 0) return -1;
    for (int k = 0; k < RK_PK_COUNT; k++)
        if (bump_item(m, e->user_id, rk_profile_kind_names[k], d->vals[k], e->ts_ms, err, errlen) < 0) return -1;
    return 0;
}

static int mg_profile_update(rk_store_t *s, const rk_event_t *e, char *err, size_t errlen)
{
    rk_profile_delta_t d;
    rk_profile_delta(e, &d);
    return mg_profile_change(MG(s), e, &d, 1, err, errlen);
}

/* Global counts of a successful login's values: an upsert per value, with
 * per-kind totals and distinct counts in meta. */
static int count_values(mg_t *m, const rk_event_t *e, char *err, size_t errlen)
{
    if (!RK_EVENT_LEARNS(e)) return 0;
    char prefix[80], key[48];
    const char *vals[RK_PK_COUNT];
    rk_profile_values(e, vals, prefix, sizeof prefix);
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (!vals[k]) continue;
        op_t o = op_begin(m, "value_counts");
        bson_t *f = BCON_NEW("_id", "{", "k", BCON_INT32(k), "v", BCON_UTF8(vals[k]), "}");
        bson_t *u = BCON_NEW("$inc", "{", "n", BCON_INT64(1), "}");
        bson_t reply, opts = BSON_INITIALIZER;
        bson_error_t be;
        BSON_APPEND_BOOL(&opts, "upsert", true);
        bool ok = mongoc_collection_update_one(o.coll, f, u, &opts, &reply, &be);
        int64_t created = ok ? reply_int(&reply, "upsertedCount") : 0;
        bson_destroy(&reply); bson_destroy(&opts); bson_destroy(f); bson_destroy(u); op_end(&o);
        if (!ok) return mfail(&be, err, errlen, "value_counts");
        snprintf(key, sizeof key, "vc:%d:total", k);
        if (meta_inc(m, key, 1, err, errlen) < 0) return -1;
        snprintf(key, sizeof key, "vc:%d:distinct", k);
        if (created && meta_inc(m, key, 1, err, errlen) < 0) return -1;
    }
    return 0;
}

static int64_t meta_value(mg_t *m, const char *key, char *err, size_t errlen)
{
    op_t o = op_begin(m, "meta");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(key)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc) return rc == RK_STORE_NOT_FOUND ? 0 : -1;
    int64_t n = reply_int(&d, "n");
    bson_destroy(&d);
    return n;
}

static int mg_global_count(rk_store_t *s, rk_profile_kind k, const char *value, rk_global_count_t *out,
                           char *err, size_t errlen)
{
    mg_t *m = MG(s);
    char key[48];
    memset(out, 0, sizeof *out);
    op_t o = op_begin(m, "value_counts");
    bson_t *f = BCON_NEW("_id", "{", "k", BCON_INT32((int)k), "v", BCON_UTF8(value), "}"), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc < 0) return -1;
    if (rc == 0) { out->count = reply_int(&d, "n"); bson_destroy(&d); }
    snprintf(key, sizeof key, "vc:%d:total", (int)k);
    if ((out->total = meta_value(m, key, err, errlen)) < 0) return -1;
    snprintf(key, sizeof key, "vc:%d:distinct", (int)k);
    if ((out->distinct = meta_value(m, key, err, errlen)) < 0) return -1;
    return 0;
}

static int mg_event_record(rk_store_t *s, rk_event_t *ev, size_t n, int update_profile, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    for (size_t i = 0; i < n; i++) {
        rk_event_t *e = &ev[i];
        if (!e->user_id || !*e->user_id || !e->ip || !*e->ip || rk_store_level_index(e->risk_level) < 0) {
            snprintf(err, errlen, "an event needs user_id, ip and a known risk level");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        rk_event_t *e = &ev[i];
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        bson_oid_to_string(&oid, e->id);
        op_t o = op_begin(m, "events");
        bson_t d = BSON_INITIALIZER;
        event_doc(e, &oid, &d);
        bson_error_t be;
        bool ok = mongoc_collection_insert_one(o.coll, &d, NULL, NULL, &be);
        bson_destroy(&d);
        op_end(&o);
        /* The event is the acknowledged fact; summaries and the profile
         * follow it (each atomic on its own). */
        if (!ok) return mfail(&be, err, errlen, "event");
        if (summaries(m, e, err, errlen) < 0 || meta_inc(m, "events", 1, err, errlen) < 0) return -1;
        if (update_profile && (mg_profile_update(s, e, err, errlen) < 0 || count_values(m, e, err, errlen) < 0)) return -1;
    }
    return 0;
}

/* The UTF-8 fields keys[0..n) of d, copied into one block (the record's
 * `owned`): v[i] points into it, NULL when the field is absent or not a
 * string. Returns the block, NULL when out of memory. */
#define MAX_TEXT_FIELDS 16
static char *utf8_fields(const bson_t *d, const char *const *keys, int n, const char **v)
{
    const char *src[MAX_TEXT_FIELDS] = { 0 };
    uint32_t len[MAX_TEXT_FIELDS] = { 0 };
    size_t need = 0;
    bson_iter_t it;
    for (int i = 0; i < n; i++)
        if (bson_iter_init_find(&it, d, keys[i]) && BSON_ITER_HOLDS_UTF8(&it)) { src[i] = bson_iter_utf8(&it, &len[i]); need += len[i] + 1; }
    char *blk = malloc(need + 1), *p = blk;
    if (!blk) return NULL;
    for (int i = 0; i < n; i++) if (src[i]) { memcpy(p, src[i], len[i]); p[len[i]] = '\0'; v[i] = p; p += len[i] + 1; }
    return blk;
}

/* Copies an event document into a record that owns its strings. */
static int read_event(const bson_t *d, rk_event_t *e)
{
    static const char *const keys[] = { "user_id", "ip", "risk_level", "action", "country", "city", "device_id",
                                        "user_agent", "asn", "ip_prefix", "alert_id", "doc", "outcome" };
    enum { NK = sizeof keys / sizeof keys[0] };
    bson_iter_t it;
    memset(e, 0, sizeof *e);
    const char *v[NK] = { 0 };
    char *blk = utf8_fields(d, keys, NK, v);
    if (!blk) return -1;
    e->user_id = v[0]; e->ip = v[1]; e->risk_level = v[2]; e->action = v[3]; e->country = v[4]; e->city = v[5];
    e->device_id = v[6]; e->user_agent = v[7]; e->asn = v[8]; e->ip_prefix = v[9]; e->alert_id = v[10]; e->doc = v[11];
    e->outcome = v[12];
    e->owned = blk;
    if (bson_iter_init_find(&it, d, "_id")) oid_hex(&it, e->id);
    if (bson_iter_init_find(&it, d, "ts")) e->ts_ms = bson_iter_date_time(&it);
    if (bson_iter_init_find(&it, d, "success")) e->success = bson_iter_as_bool(&it);
    if (bson_iter_init_find(&it, d, "risk_score")) e->risk_score = bson_iter_as_double(&it);
    if (bson_iter_init_find(&it, d, "is_anomaly")) e->is_anomaly = bson_iter_as_bool(&it);
    if (bson_iter_init_find(&it, d, "anomaly_score")) e->anomaly_score = bson_iter_as_double(&it);
    if (bson_iter_init_find(&it, d, "lat")) { e->has_geo = 1; e->lat = bson_iter_as_double(&it); }
    if (bson_iter_init_find(&it, d, "lon")) e->lon = bson_iter_as_double(&it);
    if (bson_iter_init_find(&it, d, "held")) e->held = (int)bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, d, "learn_at") && BSON_ITER_HOLDS_DATE_TIME(&it)) e->learn_at = bson_iter_date_time(&it);
    return 0;
}

static int mg_event_get(rk_store_t *s, const char *id, rk_event_t *out, char *err, size_t errlen)
{
    bson_oid_t oid;
    memset(out, 0, sizeof *out);
    if (parse_oid(id, &oid) < 0) { snprintf(err, errlen, "no event '%s'", id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "events");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no event '%s'", id);
    if (rc) return rc;
    rc = read_event(&d, out);
    bson_destroy(&d);
    if (rc < 0) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

/* Settles event id: the hold is cleared by one atomic update that returns
 * the event as it was, so that of two settlements racing (an outcome and
 * the grace period, or two instances) exactly one learns. */
static int mg_event_outcome(rk_store_t *s, const char *id, const char *outcome, int learn, int *learned,
                            char *err, size_t errlen)
{
    mg_t *m = MG(s);
    bson_oid_t oid;
    if (parse_oid(id, &oid) < 0) { snprintf(err, errlen, "no event '%s'", id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(m, "events");
    bson_t *q = BCON_NEW("_id", BCON_OID(&oid), "held", "{", "$gt", BCON_INT32(0), "}");
    bson_t upd = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&upd, "$set", &set);
    BSON_APPEND_INT32(&set, "held", 0);
    append_opt_utf8(&set, "outcome", outcome);
    bson_append_document_end(&upd, &set);
    mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(fam, &upd);
    bson_t reply;
    bson_error_t be;
    bool ok = mongoc_collection_find_and_modify_with_opts(o.coll, q, fam, &reply, &be);
    mongoc_find_and_modify_opts_destroy(fam);
    bson_destroy(q);
    rk_event_t e;
    int was_held = 0, rc = 0;
    bson_iter_t it;
    if (!ok) rc = mfail(&be, err, errlen, "event");
    else if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        bson_t doc;
        if (bson_init_static(&doc, data, len) && read_event(&doc, &e) == 0) was_held = 1;
        else { snprintf(err, errlen, "out of memory"); rc = -1; }
    }
    bson_destroy(&reply);
    if (!rc && !was_held) {
        /* Settled already (or never held): the outcome is noted, nothing learned. */
        bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
        bson_t *u = outcome ? BCON_NEW("$set", "{", "outcome", BCON_UTF8(outcome), "}") : NULL;
        int64_t n;
        if (u) n = update1(&o, f, u, 0, err, errlen);
        else {
            bson_t found;
            int r = find_one(&o, f, &found, err, errlen);
            if (r == 0) bson_destroy(&found);
            n = r == 0 ? 1 : r == RK_STORE_NOT_FOUND ? 0 : -1;
        }
        bson_destroy(f);
        if (u) bson_destroy(u);
        if (n < 0) rc = -1;
        else if (n == 0) { snprintf(err, errlen, "no event '%s'", id); rc = RK_STORE_NOT_FOUND; }
    }
    bson_destroy(&upd);
    op_end(&o);
    if (rc || !was_held) return rc;
    if (learn && e.success) {
        e.held = RK_LEARN_NOW;
        rk_profile_delta_t d;
        rk_profile_delta(&e, &d);
        rc = mg_profile_change(m, &e, &d, 0, err, errlen) < 0 || count_values(m, &e, err, errlen) < 0 ? -1 : 0;
        *learned = rc == 0;
    }
    rk_store_event_free(&e);
    return rc;
}

static int mg_events_settle(rk_store_t *s, int64_t now_ms, int batch, int64_t *n, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    op_t o = op_begin(m, "events");
    bson_t *q = BCON_NEW("held", BCON_INT32(RK_LEARN_ON_GRACE), "learn_at", "{", "$lte", BCON_DATE_TIME(now_ms), "}");
    bson_t *opts = BCON_NEW("limit", BCON_INT64(batch), "projection", "{", "_id", BCON_INT32(1), "}",
                            "sort", "{", "learn_at", BCON_INT32(1), "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, q, opts, NULL);
    char (*ids)[RK_STORE_ID_LEN] = calloc((size_t)(batch > 0 ? batch : 1), sizeof *ids);
    int found = 0, rc = 0;
    const bson_t *d;
    while (ids && found < batch && mongoc_cursor_next(c, &d)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, d, "_id")) oid_hex(&it, ids[found++]);
    }
    bson_error_t be;
    if (!ids) { snprintf(err, errlen, "out of memory"); rc = -1; }
    else if (mongoc_cursor_error(c, &be)) rc = mfail(&be, err, errlen, "events");
    mongoc_cursor_destroy(c);
    bson_destroy(q); bson_destroy(opts);
    op_end(&o);
    for (int i = 0; i < found && !rc; i++) {
        int learned = 0;
        if (mg_event_outcome(s, ids[i], NULL, 1, &learned, err, errlen) < 0) rc = -1;
        *n += learned;
    }
    free(ids);
    return rc;
}

static int mg_events_due(rk_store_t *s, int64_t now_ms, int *due, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "events");
    bson_t *q = BCON_NEW("held", BCON_INT32(RK_LEARN_ON_GRACE), "learn_at", "{", "$lte", BCON_DATE_TIME(now_ms), "}"), d;
    int rc = find_one(&o, q, &d, err, errlen);
    bson_destroy(q);
    op_end(&o);
    if (rc == 0) bson_destroy(&d);
    *due = rc == 0;
    return rc < 0 ? -1 : 0;
}

static void event_filter(const rk_event_filter_t *f, bson_t *q)
{
    if (f->user_id) BSON_APPEND_UTF8(q, "user_id", f->user_id);
    if (f->risk_level) BSON_APPEND_UTF8(q, "risk_level", f->risk_level);
    if (f->min_risk >= 0) { bson_t c; BSON_APPEND_DOCUMENT_BEGIN(q, "risk_score", &c); BSON_APPEND_DOUBLE(&c, "$gte", f->min_risk); bson_append_document_end(q, &c); }
    if (f->since_ms || f->until_ms) {
        bson_t c;
        BSON_APPEND_DOCUMENT_BEGIN(q, "ts", &c);
        if (f->since_ms) BSON_APPEND_DATE_TIME(&c, "$gte", f->since_ms);
        if (f->until_ms) BSON_APPEND_DATE_TIME(&c, "$lt", f->until_ms);
        bson_append_document_end(q, &c);
    }
    if (f->anomaly_only) BSON_APPEND_BOOL(q, "is_anomaly", true);
    if (f->ip) BSON_APPEND_UTF8(q, "ip", f->ip);
    if (f->country) BSON_APPEND_UTF8(q, "country", f->country);
    if (f->rule) BSON_APPEND_UTF8(q, "rule_names", f->rule);
}

static int mg_event_list(rk_store_t *s, const rk_event_filter_t *f, rk_event_list_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if ((f->country || f->rule) && !f->since_ms) {   /* as on SQLite: a bounded scan */
        snprintf(err, errlen, "a country or rule filter needs since");
        return -1;
    }
    int page = f->page < 1 ? 1 : f->page, per = f->per_page < 1 ? 20 : f->per_page > 1000 ? 1000 : f->per_page;
    op_t o = op_begin(MG(s), "events");
    bson_t q = BSON_INITIALIZER;
    event_filter(f, &q);
    bson_error_t e;
    out->total = mongoc_collection_count_documents(o.coll, &q, NULL, NULL, NULL, &e);
    int rc = 0;
    if (out->total < 0) { rc = mfail(&e, err, errlen, "events"); out->total = 0; }
    out->items = rc ? NULL : calloc((size_t)per, sizeof *out->items);
    if (!rc && out->items) {
        bson_t *opts = BCON_NEW("sort", "{", "ts", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                                "skip", BCON_INT64((int64_t)(page - 1) * per), "limit", BCON_INT64(per));
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, &q, opts, NULL);
        const bson_t *d;
        while (mongoc_cursor_next(c, &d) && out->n < (size_t)per)
            if (read_event(d, &out->items[out->n]) == 0) out->n++;
        if (mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "events");
        mongoc_cursor_destroy(c);
        bson_destroy(opts);
    } else if (!rc) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    bson_destroy(&q);
    op_end(&o);
    if (rc) rk_store_event_list_free(out);
    return rc;
}

static int mg_event_set_alert(rk_store_t *s, const char *event_id, const char *alert_id, char *err, size_t errlen)
{
    bson_oid_t oid;
    if (parse_oid(event_id, &oid) < 0) { snprintf(err, errlen, "no event '%s'", event_id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "events");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    bson_t *u = BCON_NEW("$set", "{", "alert_id", BCON_UTF8(alert_id), "}");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no event '%s'", event_id); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int mg_recent(rk_store_t *s, const char *user_id, const char *ip, int64_t since_ms,
                     int64_t *user_failures, int64_t *ip_users, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "events");
    bson_error_t e;
    bson_t *q = BCON_NEW("user_id", BCON_UTF8(user_id), "ts", "{", "$gte", BCON_DATE_TIME(since_ms), "}",
                         "success", BCON_BOOL(false));
    *user_failures = mongoc_collection_count_documents(o.coll, q, NULL, NULL, NULL, &e);
    bson_destroy(q);
    int rc = *user_failures < 0 ? mfail(&e, err, errlen, "events") : 0;
    *ip_users = 0;
    if (!rc) {
        bson_t *pipe = BCON_NEW("pipeline", "[",
            "{", "$match", "{", "ip", BCON_UTF8(ip), "ts", "{", "$gte", BCON_DATE_TIME(since_ms), "}", "}", "}",
            "{", "$group", "{", "_id", BCON_UTF8("$user_id"), "}", "}",
            "{", "$count", BCON_UTF8("n"), "}", "]");
        mongoc_cursor_t *c = mongoc_collection_aggregate(o.coll, MONGOC_QUERY_NONE, pipe, NULL, NULL);
        const bson_t *d;
        if (mongoc_cursor_next(c, &d)) *ip_users = reply_int(d, "n");
        if (mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "events");
        mongoc_cursor_destroy(c);
        bson_destroy(pipe);
    }
    op_end(&o);
    return rc;
}

static int64_t int_at(const bson_t *d, const char *path)
{
    bson_iter_t it, f;
    if (bson_iter_init(&it, d) && bson_iter_find_descendant(&it, path, &f)) return bson_iter_as_int64(&f);
    return 0;
}

/* An analyst's word on the account, a field of its profile document: set
 * apart from the $inc updates of the analyses, so neither undoes the other. */
static int mg_user_state_set(rk_store_t *s, const char *user_id, const char *state, const char *by, int64_t ts_ms,
                             char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "profiles");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(user_id));
    bson_t *u = state ? BCON_NEW("$set", "{", "state", "{", "s", BCON_UTF8(state), "by", BCON_UTF8(by ? by : ""),
                                 "ts", BCON_INT64(ts_ms), "}", "}")
                      : BCON_NEW("$unset", "{", "state", BCON_UTF8(""), "}");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f);
    bson_destroy(u);
    op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no profile for '%s'", user_id); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int mg_profile_get(rk_store_t *s, const char *user_id, rk_profile_t *p, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "profiles");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(user_id)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    rk_profile_reset(p);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no profile for '%s'", user_id);
    if (rc) return rc;
    snprintf(p->user_id, sizeof p->user_id, "%s", user_id);
    p->attempts = int_at(&d, "attempts"); p->successes = int_at(&d, "successes"); p->failures = int_at(&d, "failures");
    p->anomalies = int_at(&d, "anomalies"); p->high_risk = int_at(&d, "high_risk");
    p->first_ms = int_at(&d, "first"); p->last_ms = int_at(&d, "last");
    bson_iter_t it, f2;
    if (bson_iter_init_find(&it, &d, "risk_sum")) p->risk_sum = bson_iter_as_double(&it);
    if (bson_iter_init_find(&it, &d, "max_risk")) p->max_risk = bson_iter_as_double(&it);
    for (int h = 0; h < 24; h++) { char k[32]; snprintf(k, sizeof k, "hours.%d", h); p->hours[h] = int_at(&d, k); }
    for (int w = 0; w < 7; w++) { char k[32]; snprintf(k, sizeof k, "weekdays.%d", w); p->weekdays[w] = int_at(&d, k); }
    for (int h = 0; h < 24; h++) {
        char k[32];
        snprintf(k, sizeof k, "local_hours.%d", h);
        p->local_hours[h] = int_at(&d, k);
    }
    if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "state.s", &f2) && BSON_ITER_HOLDS_UTF8(&f2)) {
        snprintf(p->state, sizeof p->state, "%s", bson_iter_utf8(&f2, NULL));
        if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "state.by", &f2) && BSON_ITER_HOLDS_UTF8(&f2))
            snprintf(p->state_by, sizeof p->state_by, "%s", bson_iter_utf8(&f2, NULL));
        if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "state.ts", &f2)) p->state_ms = bson_iter_as_int64(&f2);
    }
    if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "ls.ts", &f2)) {
        p->has_last_success = 1;
        p->last_success_ms = bson_iter_as_int64(&f2);
        static const struct { const char *k; size_t off, cap; } strs[] = {
            { "ls.ip", offsetof(rk_profile_t, last_ip), sizeof ((rk_profile_t *)0)->last_ip },
            { "ls.country", offsetof(rk_profile_t, last_country), sizeof ((rk_profile_t *)0)->last_country },
            { "ls.city", offsetof(rk_profile_t, last_city), sizeof ((rk_profile_t *)0)->last_city },
        };
        for (int i = 0; i < 3; i++)
            if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, strs[i].k, &f2) && BSON_ITER_HOLDS_UTF8(&f2))
                snprintf((char *)p + strs[i].off, strs[i].cap, "%s", bson_iter_utf8(&f2, NULL));
        if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "ls.lat", &f2)) {
            p->last_has_geo = 1;
            p->last_lat = bson_iter_as_double(&f2);
            if (bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "ls.lon", &f2)) p->last_lon = bson_iter_as_double(&f2);
        }
    }
    for (int k = 0; k < RK_PK_COUNT; k++) {
        bson_iter_t arr, item, fld;
        if (!bson_iter_init_find(&it, &d, rk_profile_kind_names[k]) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) continue;
        while (bson_iter_next(&arr) && p->nitems[k] < RK_PROFILE_MAX_ITEMS) {
            if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &item)) continue;
            rk_profile_item_t *x = &p->items[k][p->nitems[k]++];
            while (bson_iter_next(&item)) {
                const char *key = bson_iter_key(&item);
                fld = item;
                if (!strcmp(key, "v") && BSON_ITER_HOLDS_UTF8(&fld)) snprintf(x->value, sizeof x->value, "%s", bson_iter_utf8(&fld, NULL));
                else if (!strcmp(key, "n")) x->count = bson_iter_as_int64(&fld);
                else if (!strcmp(key, "last")) x->last_ms = bson_iter_as_int64(&fld);
            }
        }
    }
    bson_destroy(&d);
    return 0;
}

/* ---- alerts ---- */

static int mg_alert_insert(rk_store_t *s, rk_alert_t *a, const char *event_id, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    int lvl = rk_store_level_index(a->severity);
    if (!a->user_id || lvl < 0 || !a->cause) { snprintf(err, errlen, "an alert needs user_id, a known severity and a cause"); return -1; }
    if (!a->status) a->status = "open";
    if (rk_store_status_index(a->status) < 0) { snprintf(err, errlen, "unknown status '%s'", a->status); return -1; }
    if (!a->created_ms) a->created_ms = rk_store_now_ms();
    a->updated_ms = a->created_ms;
    a->event_count = event_id ? 1 : 0;
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, a->id);
    bson_t d = BSON_INITIALIZER, arr, h, hd;
    BSON_APPEND_OID(&d, "_id", &oid);
    BSON_APPEND_UTF8(&d, "user_id", a->user_id);
    BSON_APPEND_UTF8(&d, "severity", a->severity);
    BSON_APPEND_INT32(&d, "sev_rank", lvl);
    BSON_APPEND_UTF8(&d, "status", a->status);
    BSON_APPEND_UTF8(&d, "cause", a->cause);
    BSON_APPEND_DATE_TIME(&d, "created", a->created_ms);
    BSON_APPEND_DATE_TIME(&d, "updated", a->updated_ms);
    BSON_APPEND_INT64(&d, "event_count", a->event_count);
    BSON_APPEND_ARRAY_BEGIN(&d, "event_ids", &arr);
    if (event_id) BSON_APPEND_UTF8(&arr, "0", event_id);
    bson_append_array_end(&d, &arr);
    BSON_APPEND_ARRAY_BEGIN(&d, "history", &h);
    BSON_APPEND_DOCUMENT_BEGIN(&h, "0", &hd);
    BSON_APPEND_DATE_TIME(&hd, "ts", a->created_ms);
    BSON_APPEND_UTF8(&hd, "status", a->status);
    BSON_APPEND_UTF8(&hd, "who", "riskd");
    bson_append_document_end(&h, &hd);
    bson_append_array_end(&d, &h);
    append_opt_utf8(&d, "doc", a->doc);
    BSON_APPEND_UTF8(&d, "origin", rk_mongo_origin());   /* mongo_watch.h: whose change this is */
    op_t o = op_begin(m, "alerts");
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(o.coll, &d, NULL, NULL, &e);
    bson_destroy(&d);
    op_end(&o);
    if (!ok) return mfail(&e, err, errlen, "alert");
    o = op_begin(m, "hourly");
    bson_t *f = BCON_NEW("_id", BCON_INT64(a->created_ms / HOUR_MS));
    bson_t *u = BCON_NEW("$inc", "{", "alerts", BCON_INT64(1), "}");
    int64_t n = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    if (n < 0) return -1;
    return event_id ? mg_event_set_alert(s, event_id, a->id, err, errlen) == -1 ? -1 : 0 : 0;
}

static int read_alert(const bson_t *d, rk_alert_t *a)
{
    static const char *const keys[] = { "user_id", "severity", "status", "cause", "doc" };
    bson_iter_t it;
    memset(a, 0, sizeof *a);
    const char *v[5] = { 0 };
    char *blk = utf8_fields(d, keys, 5, v);
    if (!blk) return -1;
    a->user_id = v[0]; a->severity = v[1]; a->status = v[2]; a->cause = v[3]; a->doc = v[4];
    a->owned = blk;
    if (bson_iter_init_find(&it, d, "_id")) oid_hex(&it, a->id);
    if (bson_iter_init_find(&it, d, "created")) a->created_ms = bson_iter_date_time(&it);
    if (bson_iter_init_find(&it, d, "updated")) a->updated_ms = bson_iter_date_time(&it);
    a->event_count = reply_int(d, "event_count");
    return 0;
}

static int mg_alert_get(rk_store_t *s, const char *id, rk_alert_detail_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    bson_oid_t oid;
    if (parse_oid(id, &oid) < 0) { snprintf(err, errlen, "no alert '%s'", id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "alerts");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no alert '%s'", id);
    if (rc) return rc;
    bson_iter_t it, arr, h;
    if (read_alert(&d, &out->alert) < 0) goto oom;
    out->history = calloc(64, sizeof *out->history);
    out->event_ids = calloc(1024, sizeof *out->event_ids);
    if (!out->history || !out->event_ids) goto oom;
    if (bson_iter_init_find(&it, &d, "history") && bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr) && out->nhistory < 64) {
            rk_alert_change_t *c = &out->history[out->nhistory++];
            if (!bson_iter_recurse(&arr, &h)) continue;
            while (bson_iter_next(&h)) {
                const char *k = bson_iter_key(&h);
                if (!strcmp(k, "ts")) c->ts_ms = bson_iter_date_time(&h);
                else if (!strcmp(k, "status") && BSON_ITER_HOLDS_UTF8(&h)) snprintf(c->status, sizeof c->status, "%s", bson_iter_utf8(&h, NULL));
                else if (!strcmp(k, "who") && BSON_ITER_HOLDS_UTF8(&h)) snprintf(c->who, sizeof c->who, "%s", bson_iter_utf8(&h, NULL));
                else if (!strcmp(k, "note") && BSON_ITER_HOLDS_UTF8(&h)) c->note = strdup(bson_iter_utf8(&h, NULL));
            }
        }
    }
    if (bson_iter_init_find(&it, &d, "event_ids") && bson_iter_recurse(&it, &arr))
        while (bson_iter_next(&arr) && out->nevents < 1024)
            if (BSON_ITER_HOLDS_UTF8(&arr)) snprintf(out->event_ids[out->nevents++], RK_STORE_ID_LEN, "%s", bson_iter_utf8(&arr, NULL));
    bson_destroy(&d);
    return 0;
oom:
    bson_destroy(&d);
    rk_store_alert_detail_free(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int mg_alert_list(rk_store_t *s, const rk_alert_filter_t *f, rk_alert_list_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int page = f->page < 1 ? 1 : f->page, per = f->per_page < 1 ? 20 : f->per_page > 1000 ? 1000 : f->per_page;
    bson_t q = BSON_INITIALIZER;
    if (f->status) BSON_APPEND_UTF8(&q, "status", f->status);
    if (f->severity) BSON_APPEND_UTF8(&q, "severity", f->severity);
    if (f->user_id) BSON_APPEND_UTF8(&q, "user_id", f->user_id);
    if (f->since_ms || f->until_ms) {
        bson_t c;
        BSON_APPEND_DOCUMENT_BEGIN(&q, "created", &c);
        if (f->since_ms) BSON_APPEND_DATE_TIME(&c, "$gte", f->since_ms);
        if (f->until_ms) BSON_APPEND_DATE_TIME(&c, "$lt", f->until_ms);
        bson_append_document_end(&q, &c);
    }
    op_t o = op_begin(MG(s), "alerts");
    bson_error_t e;
    int rc = 0;
    out->total = mongoc_collection_count_documents(o.coll, &q, NULL, NULL, NULL, &e);
    if (out->total < 0) { rc = mfail(&e, err, errlen, "alerts"); out->total = 0; }
    if (!rc && !(out->items = calloc((size_t)per, sizeof *out->items))) { snprintf(err, errlen, "out of memory"); rc = -1; }
    if (!rc) {
        bson_t *opts = BCON_NEW("sort", "{", "created", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                                "skip", BCON_INT64((int64_t)(page - 1) * per), "limit", BCON_INT64(per),
                                "projection", "{", "history", BCON_INT32(0), "event_ids", BCON_INT32(0), "}");
        mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, &q, opts, NULL);
        const bson_t *d;
        while (mongoc_cursor_next(c, &d) && out->n < (size_t)per)
            if (read_alert(d, &out->items[out->n]) == 0) out->n++;
        if (mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "alerts");
        mongoc_cursor_destroy(c);
        bson_destroy(opts);
    }
    bson_destroy(&q);
    op_end(&o);
    if (rc) rk_store_alert_list_free(out);
    return rc;
}

static int mg_alert_find_open(rk_store_t *s, const char *user_id, const char *cause, int64_t since_ms,
                              char *id, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "alerts");
    bson_t *q = BCON_NEW("user_id", BCON_UTF8(user_id), "cause", BCON_UTF8(cause),
                         "status", "{", "$in", "[", BCON_UTF8("open"), BCON_UTF8("investigating"), "]", "}",
                         "updated", "{", "$gte", BCON_DATE_TIME(since_ms), "}");
    bson_t *opts = BCON_NEW("sort", "{", "updated", BCON_INT32(-1), "}", "limit", BCON_INT64(1),
                            "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, q, opts, NULL);
    const bson_t *d;
    int rc = RK_STORE_NOT_FOUND;
    bson_iter_t it;
    if (mongoc_cursor_next(c, &d) && bson_iter_init_find(&it, d, "_id")) { oid_hex(&it, id); rc = 0; }
    bson_error_t e;
    if (rc && mongoc_cursor_error(c, &e)) rc = mfail(&e, err, errlen, "alerts");
    else if (rc) snprintf(err, errlen, "no open alert");
    mongoc_cursor_destroy(c);
    bson_destroy(q); bson_destroy(opts);
    op_end(&o);
    return rc;
}

static int mg_alert_add_event(rk_store_t *s, const char *alert_id, const char *event_id,
                              const char *severity, int64_t ts_ms, char *err, size_t errlen)
{
    int lvl = rk_store_level_index(severity);
    bson_oid_t oid;
    if (lvl < 0) { snprintf(err, errlen, "unknown severity '%s'", severity ? severity : "(null)"); return -1; }
    if (parse_oid(alert_id, &oid) < 0) { snprintf(err, errlen, "no alert '%s'", alert_id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "alerts");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    bson_t *u = BCON_NEW("$inc", "{", "event_count", BCON_INT64(1), "}", "$max", "{", "updated", BCON_DATE_TIME(ts_ms), "}",
                         "$addToSet", "{", "event_ids", BCON_UTF8(event_id), "}",
                         "$set", "{", "origin", BCON_UTF8(rk_mongo_origin()), "}");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f); bson_destroy(u);
    if (n == 1) {   /* raise the severity, never lower it: a conditional $set */
        f = BCON_NEW("_id", BCON_OID(&oid), "sev_rank", "{", "$lt", BCON_INT32(lvl), "}");
        u = BCON_NEW("$set", "{", "severity", BCON_UTF8(severity), "sev_rank", BCON_INT32(lvl),
                     "origin", BCON_UTF8(rk_mongo_origin()), "}");
        if (update1(&o, f, u, 0, err, errlen) < 0) n = -1;
        bson_destroy(f); bson_destroy(u);
    }
    op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no alert '%s'", alert_id); return RK_STORE_NOT_FOUND; }
    return mg_event_set_alert(s, event_id, alert_id, err, errlen) == -1 ? -1 : 0;
}

static int mg_alert_set_status(rk_store_t *s, const char *id, const char *status, const char *who,
                               const char *note, int64_t ts_ms, char *err, size_t errlen)
{
    bson_oid_t oid;
    if (rk_store_status_index(status) < 0) { snprintf(err, errlen, "unknown status '%s'", status ? status : "(null)"); return -1; }
    if (parse_oid(id, &oid) < 0) { snprintf(err, errlen, "no alert '%s'", id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "alerts");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    bson_t u = BSON_INITIALIZER, set, push, h;
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
    BSON_APPEND_UTF8(&set, "status", status);
    BSON_APPEND_DATE_TIME(&set, "updated", ts_ms);
    BSON_APPEND_UTF8(&set, "origin", rk_mongo_origin());
    bson_append_document_end(&u, &set);
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$push", &push);
    BSON_APPEND_DOCUMENT_BEGIN(&push, "history", &h);
    BSON_APPEND_DATE_TIME(&h, "ts", ts_ms);
    BSON_APPEND_UTF8(&h, "status", status);
    BSON_APPEND_UTF8(&h, "who", who ? who : "");
    append_opt_utf8(&h, "note", note);
    bson_append_document_end(&push, &h);
    bson_append_document_end(&u, &push);
    int64_t n = update1(&o, f, &u, 0, err, errlen);
    bson_destroy(f); bson_destroy(&u); op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no alert '%s'", id); return RK_STORE_NOT_FOUND; }
    return 0;
}

/* ---- aggregates ---- */

static int agg_counts(mg_t *m, int64_t since_ms, rk_counts_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    bson_error_t e;
    int rc = 0;
    op_t o = op_begin(m, "hourly");
    bson_t *pipe = BCON_NEW("pipeline", "[",
        "{", "$match", "{", "_id", "{", "$gte", BCON_INT64(since_ms / HOUR_MS), "}", "}", "}",
        "{", "$group", "{", "_id", BCON_NULL, "attempts", "{", "$sum", BCON_UTF8("$attempts"), "}",
        "failures", "{", "$sum", BCON_UTF8("$failures"), "}", "anomalies", "{", "$sum", BCON_UTF8("$anomalies"), "}",
        "low", "{", "$sum", BCON_UTF8("$low"), "}", "medium", "{", "$sum", BCON_UTF8("$medium"), "}",
        "high", "{", "$sum", BCON_UTF8("$high"), "}", "critical", "{", "$sum", BCON_UTF8("$critical"), "}", "}", "}", "]");
    mongoc_cursor_t *cur = mongoc_collection_aggregate(o.coll, MONGOC_QUERY_NONE, pipe, NULL, NULL);
    const bson_t *d;
    if (mongoc_cursor_next(cur, &d)) {
        c->attempts = reply_int(d, "attempts"); c->failures = reply_int(d, "failures"); c->anomalies = reply_int(d, "anomalies");
        for (int l = 0; l < RK_LEVELS; l++) c->by_level[l] = reply_int(d, rk_store_levels[l]);
    }
    if (mongoc_cursor_error(cur, &e)) rc = mfail(&e, err, errlen, "hourly");
    mongoc_cursor_destroy(cur);
    bson_destroy(pipe);
    op_end(&o);
    c->anomaly_rate = c->attempts ? (double)c->anomalies / (double)c->attempts : 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        o = op_begin(m, "alerts");
        pipe = BCON_NEW("pipeline", "[", "{", "$match", "{", "created", "{", "$gte", BCON_DATE_TIME(since_ms), "}", "}", "}",
                        "{", "$group", "{", "_id", BCON_UTF8(pass ? "$severity" : "$status"), "n", "{", "$sum", BCON_INT32(1), "}", "}", "}", "]");
        cur = mongoc_collection_aggregate(o.coll, MONGOC_QUERY_NONE, pipe, NULL, NULL);
        while (mongoc_cursor_next(cur, &d)) {
            bson_iter_t it;
            if (!bson_iter_init_find(&it, d, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
            const char *k = bson_iter_utf8(&it, NULL);
            int i = pass ? rk_store_level_index(k) : rk_store_status_index(k);
            if (i >= 0) (pass ? c->alerts_by_severity : c->alerts_by_status)[i] = reply_int(d, "n");
        }
        if (mongoc_cursor_error(cur, &e)) rc = mfail(&e, err, errlen, "alerts");
        mongoc_cursor_destroy(cur);
        bson_destroy(pipe);
        op_end(&o);
    }
    static const char *const colls[2] = { "profiles", "ips" };
    for (int i = 0; i < 2 && !rc; i++) {
        o = op_begin(m, colls[i]);
        bson_t *q = BCON_NEW("last", "{", "$gte", BCON_INT64(since_ms), "}");
        int64_t n = mongoc_collection_count_documents(o.coll, q, NULL, NULL, NULL, &e);
        bson_destroy(q);
        op_end(&o);
        if (n < 0) rc = mfail(&e, err, errlen, colls[i]);
        else if (i == 0) c->distinct_users = n;
        else c->distinct_ips = n;
    }
    return rc;
}

static int mg_stats(rk_store_t *s, int64_t now_ms, rk_stats_t *out, char *err, size_t errlen)
{
    int64_t since = (now_ms / HOUR_MS - 23) * HOUR_MS;
    if (agg_counts(MG(s), 0, &out->all, err, errlen)) return -1;
    return agg_counts(MG(s), since, &out->last_24h, err, errlen);
}

static int mg_timeline(rk_store_t *s, int64_t since_ms, int64_t until_ms, int64_t bucket_ms,
                       rk_bucket_t **out, size_t *n, char *err, size_t errlen)
{
    if (bucket_ms != HOUR_MS && bucket_ms != 24 * HOUR_MS) { snprintf(err, errlen, "bucket must be an hour or a day"); return -1; }
    int64_t first = since_ms / bucket_ms, last = (until_ms - 1) / bucket_ms;
    if (until_ms <= since_ms || last - first >= 100000) { snprintf(err, errlen, "bad time range"); return -1; }
    *n = (size_t)(last - first + 1);
    *out = calloc(*n, sizeof **out);
    double *risk = calloc(*n, sizeof *risk);
    if (!*out || !risk) { free(*out); free(risk); *out = NULL; snprintf(err, errlen, "out of memory"); return -1; }
    for (size_t i = 0; i < *n; i++) (*out)[i].start_ms = (first + (int64_t)i) * bucket_ms;
    op_t o = op_begin(MG(s), "hourly");
    bson_t *q = BCON_NEW("_id", "{", "$gte", BCON_INT64(first * bucket_ms / HOUR_MS), "$lt", BCON_INT64((last + 1) * bucket_ms / HOUR_MS), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, q, NULL, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(c, &d)) {
        int64_t i = reply_int(d, "_id") * HOUR_MS / bucket_ms - first;
        if (i < 0 || i >= (int64_t)*n) continue;
        rk_bucket_t *b = &(*out)[i];
        b->attempts += reply_int(d, "attempts"); b->failures += reply_int(d, "failures");
        b->anomalies += reply_int(d, "anomalies"); b->alerts += reply_int(d, "alerts");
        bson_iter_t it;
        if (bson_iter_init_find(&it, d, "risk_sum")) risk[i] += bson_iter_as_double(&it);
    }
    bson_error_t e;
    int rc = mongoc_cursor_error(c, &e) ? mfail(&e, err, errlen, "hourly") : 0;
    mongoc_cursor_destroy(c);
    bson_destroy(q);
    op_end(&o);
    for (size_t i = 0; i < *n; i++) (*out)[i].mean_risk = (*out)[i].attempts ? risk[i] / (double)(*out)[i].attempts : 0;
    free(risk);
    if (rc) { free(*out); *out = NULL; }
    return rc;
}

static int mg_top_users(rk_store_t *s, int64_t since_ms, int limit, rk_top_user_t **out, size_t *n,
                        char *err, size_t errlen)
{
    if (limit < 1) limit = 10;
    if (limit > 1000) limit = 1000;
    *n = 0;
    *out = calloc((size_t)limit, sizeof **out);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    op_t o;
    bson_t *pipe;
    if (since_ms) {
        o = op_begin(MG(s), "user_hourly");
        pipe = BCON_NEW("pipeline", "[",
            "{", "$match", "{", "b", "{", "$gte", BCON_INT64(since_ms / HOUR_MS), "}",
                                 "u", "{", "$not", BCON_REGEX("^" RK_STORE_OWN_PREFIX, ""), "}", "}", "}",
            "{", "$group", "{", "_id", BCON_UTF8("$u"), "max_risk", "{", "$max", BCON_UTF8("$max_risk"), "}",
            "risk_sum", "{", "$sum", BCON_UTF8("$risk_sum"), "}", "attempts", "{", "$sum", BCON_UTF8("$attempts"), "}",
            "anomalies", "{", "$sum", BCON_UTF8("$anomalies"), "}", "high", "{", "$sum", BCON_UTF8("$high"), "}", "}", "}",
            "{", "$sort", "{", "max_risk", BCON_INT32(-1), "high", BCON_INT32(-1), "_id", BCON_INT32(1), "}", "}",
            "{", "$limit", BCON_INT32(limit), "}", "]");
    } else {
        o = op_begin(MG(s), "profiles");
        pipe = BCON_NEW("pipeline", "[", "{", "$match", "{", "attempts", "{", "$gt", BCON_INT32(0), "}",
                                                     "_id", "{", "$not", BCON_REGEX("^" RK_STORE_OWN_PREFIX, ""), "}", "}", "}",
            "{", "$sort", "{", "max_risk", BCON_INT32(-1), "high_risk", BCON_INT32(-1), "_id", BCON_INT32(1), "}", "}",
            "{", "$limit", BCON_INT32(limit), "}",
            "{", "$project", "{", "max_risk", BCON_INT32(1), "risk_sum", BCON_INT32(1), "attempts", BCON_INT32(1),
            "anomalies", BCON_INT32(1), "high", BCON_UTF8("$high_risk"), "}", "}", "]");
    }
    mongoc_cursor_t *c = mongoc_collection_aggregate(o.coll, MONGOC_QUERY_NONE, pipe, NULL, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(c, &d) && *n < (size_t)limit) {
        rk_top_user_t *u = &(*out)[(*n)++];
        bson_iter_t it;
        if (bson_iter_init_find(&it, d, "_id") && BSON_ITER_HOLDS_UTF8(&it)) snprintf(u->user_id, sizeof u->user_id, "%s", bson_iter_utf8(&it, NULL));
        if (bson_iter_init_find(&it, d, "max_risk")) u->max_risk = bson_iter_as_double(&it);
        u->attempts = reply_int(d, "attempts");
        u->anomalies = reply_int(d, "anomalies");
        u->high_risk = reply_int(d, "high");
        if (bson_iter_init_find(&it, d, "risk_sum") && u->attempts) u->mean_risk = bson_iter_as_double(&it) / (double)u->attempts;
    }
    bson_error_t e;
    int rc = mongoc_cursor_error(c, &e) ? mfail(&e, err, errlen, "top users") : 0;
    mongoc_cursor_destroy(c);
    bson_destroy(pipe);
    op_end(&o);
    return rc;
}

static int mg_purge(rk_store_t *s, int64_t now_ms, int batch, int64_t *deleted, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    *deleted = 0;
    if (m->retention_days <= 0) return 0;
    int64_t cutoff = now_ms - (int64_t)m->retention_days * 24 * HOUR_MS;
    /* A batch: the ids of the oldest events, then delete exactly those. */
    op_t o = op_begin(m, "events");
    bson_t *q = BCON_NEW("ts", "{", "$lt", BCON_DATE_TIME(cutoff), "}");
    bson_t *opts = BCON_NEW("limit", BCON_INT64(batch), "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, q, opts, NULL);
    bson_t del = BSON_INITIALIZER, idf, in;
    BSON_APPEND_DOCUMENT_BEGIN(&del, "_id", &idf);
    BSON_APPEND_ARRAY_BEGIN(&idf, "$in", &in);
    const bson_t *d;
    uint32_t i = 0;
    while (mongoc_cursor_next(c, &d)) {
        bson_iter_t it;
        char k[16];
        const char *key;
        bson_uint32_to_string(i++, &key, k, sizeof k);
        if (bson_iter_init_find(&it, d, "_id")) bson_append_iter(&in, key, -1, &it);
    }
    bson_append_array_end(&idf, &in);
    bson_append_document_end(&del, &idf);
    bson_error_t e;
    int rc = mongoc_cursor_error(c, &e) ? mfail(&e, err, errlen, "purge") : 0;
    mongoc_cursor_destroy(c);
    if (!rc && i > 0) {
        bson_t reply;
        if (!mongoc_collection_delete_many(o.coll, &del, NULL, &reply, &e)) rc = mfail(&e, err, errlen, "purge");
        else *deleted = reply_int(&reply, "deletedCount");
        bson_destroy(&reply);
    }
    op_end(&o);
    bson_destroy(q); bson_destroy(opts); bson_destroy(&del);
    if (!rc && *deleted) rc = meta_inc(m, "events", -*deleted, err, errlen);
    if (!rc) {
        o = op_begin(m, "ips");
        bson_t *iq = BCON_NEW("last", "{", "$lt", BCON_INT64(cutoff), "}");
        bson_t reply;
        if (!mongoc_collection_delete_many(o.coll, iq, NULL, &reply, &e)) rc = mfail(&e, err, errlen, "purge");
        bson_destroy(&reply);
        bson_destroy(iq);
        op_end(&o);
    }
    if (!rc) {   /* deliveries done with (sent, or dead): the same retention */
        o = op_begin(m, "outbox");
        bson_t *oq = BCON_NEW("created", "{", "$lt", BCON_INT64(cutoff), "}", "status", "{", "$ne", BCON_UTF8("pending"), "}");
        bson_t reply;
        if (!mongoc_collection_delete_many(o.coll, oq, NULL, &reply, &e)) rc = mfail(&e, err, errlen, "purge");
        bson_destroy(&reply);
        bson_destroy(oq);
        op_end(&o);
    }
    return rc;
}

/* ---- phishing analyses ----------------------------------------------------- */

/* Made when the collection is first used rather than at start-up: a
 * deployment that never analyses mail sends nothing more. With retention,
 * a TTL index on the time expires analyses as --retention-days says (set
 * when the index is first made). */
static int phish_indexes(mg_t *m, char *err, size_t errlen)
{
    static const char *keys[] = { "{\"ts\":-1,\"_id\":-1}", "{\"verdict\":1,\"ts\":-1}", "{\"sender\":1,\"ts\":-1}" };
    if (m->phish_indexed) return 0;
    if (create_indexes(m, "phishing", keys, 3, 0, err, errlen)) return -1;
    if (m->retention_days > 0) {   /* analyses hold addresses and subjects: the server expires them */
        bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8("phishing"), "indexes", "[", "{",
                               "key", "{", "ts", BCON_INT32(1), "}", "name", BCON_UTF8("ts_ttl"),
                               "expireAfterSeconds", BCON_INT64((int64_t)m->retention_days * 86400), "}", "]");
        if (index_command(m, "phishing", cmd, err, errlen)) return -1;
    }
    m->phish_indexed = 1;
    return 0;
}

static int mg_phish_insert(rk_store_t *s, rk_phish_rec_t *r, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    if (!rk_store_verdict_valid(r->verdict)) { snprintf(err, errlen, "a phishing analysis needs a verdict"); return -1; }
    if (phish_indexes(m, err, errlen)) return -1;
    if (!r->ts_ms) r->ts_ms = rk_store_now_ms();
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, r->id);
    bson_t d = BSON_INITIALIZER;
    BSON_APPEND_OID(&d, "_id", &oid);
    BSON_APPEND_DATE_TIME(&d, "ts", r->ts_ms);
    BSON_APPEND_UTF8(&d, "verdict", r->verdict);
    BSON_APPEND_DOUBLE(&d, "score", r->score);
    append_opt_utf8(&d, "sender", r->sender);
    append_opt_utf8(&d, "recipient", r->recipient);
    append_opt_utf8(&d, "subject", r->subject);
    append_opt_utf8(&d, "message_id", r->message_id);
    append_opt_utf8(&d, "alert_id", r->alert_id);
    append_opt_utf8(&d, "doc", r->doc);
    op_t o = op_begin(m, "phishing");
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(o.coll, &d, NULL, NULL, &e);
    bson_destroy(&d);
    op_end(&o);
    return ok ? 0 : mfail(&e, err, errlen, "phishing");
}

static int read_phish(const bson_t *d, rk_phish_rec_t *r)
{
    static const char *const keys[] = { "verdict", "sender", "recipient", "subject", "message_id", "alert_id", "doc" };
    bson_iter_t it;
    memset(r, 0, sizeof *r);
    const char *v[7] = { 0 };
    char *blk = utf8_fields(d, keys, 7, v);
    if (!blk) return -1;
    r->verdict = v[0]; r->sender = v[1]; r->recipient = v[2]; r->subject = v[3]; r->message_id = v[4];
    r->alert_id = v[5]; r->doc = v[6];
    r->owned = blk;
    if (bson_iter_init_find(&it, d, "_id")) oid_hex(&it, r->id);
    if (bson_iter_init_find(&it, d, "ts") && BSON_ITER_HOLDS_DATE_TIME(&it)) r->ts_ms = bson_iter_date_time(&it);
    if (bson_iter_init_find(&it, d, "score") && BSON_ITER_HOLDS_NUMBER(&it)) r->score = bson_iter_as_double(&it);
    return 0;
}

static int mg_phish_get(rk_store_t *s, const char *id, rk_phish_rec_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    bson_oid_t oid;
    if (parse_oid(id, &oid) < 0) { snprintf(err, errlen, "no phishing analysis '%s'", id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "phishing");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no phishing analysis '%s'", id);
    if (rc) return rc;
    rc = read_phish(&d, out);
    bson_destroy(&d);
    if (rc < 0) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

static int mg_phish_list(rk_store_t *s, const rk_phish_filter_t *f, rk_phish_list_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int page = f->page < 1 ? 1 : f->page, per = f->per_page < 1 ? 20 : f->per_page > 1000 ? 1000 : f->per_page;
    bson_t q = BSON_INITIALIZER, c;
    if (f->verdict) BSON_APPEND_UTF8(&q, "verdict", f->verdict);
    if (f->sender) BSON_APPEND_UTF8(&q, "sender", f->sender);
    if (f->min_score >= 0) { BSON_APPEND_DOCUMENT_BEGIN(&q, "score", &c); BSON_APPEND_DOUBLE(&c, "$gte", f->min_score); bson_append_document_end(&q, &c); }
    if (f->since_ms || f->until_ms) {
        BSON_APPEND_DOCUMENT_BEGIN(&q, "ts", &c);
        if (f->since_ms) BSON_APPEND_DATE_TIME(&c, "$gte", f->since_ms);
        if (f->until_ms) BSON_APPEND_DATE_TIME(&c, "$lt", f->until_ms);
        bson_append_document_end(&q, &c);
    }
    op_t o = op_begin(MG(s), "phishing");
    bson_error_t e;
    int rc = 0;
    out->total = mongoc_collection_count_documents(o.coll, &q, NULL, NULL, NULL, &e);
    if (out->total < 0) { rc = mfail(&e, err, errlen, "phishing"); out->total = 0; }
    if (!rc && !(out->items = calloc((size_t)per, sizeof *out->items))) { snprintf(err, errlen, "out of memory"); rc = -1; }
    if (!rc) {
        bson_t *opts = BCON_NEW("sort", "{", "ts", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                                "skip", BCON_INT64((int64_t)(page - 1) * per), "limit", BCON_INT64(per));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(o.coll, &q, opts, NULL);
        const bson_t *d;
        while (mongoc_cursor_next(cur, &d) && out->n < (size_t)per)
            if (read_phish(d, &out->items[out->n]) == 0) out->n++;
        if (mongoc_cursor_error(cur, &e)) rc = mfail(&e, err, errlen, "phishing");
        mongoc_cursor_destroy(cur);
        bson_destroy(opts);
    }
    bson_destroy(&q);
    op_end(&o);
    if (rc) rk_store_phish_list_free(out);
    return rc;
}

static int mg_phish_set_alert(rk_store_t *s, const char *id, const char *alert_id, char *err, size_t errlen)
{
    bson_oid_t oid;
    if (parse_oid(id, &oid) < 0) { snprintf(err, errlen, "no phishing analysis '%s'", id); return RK_STORE_NOT_FOUND; }
    op_t o = op_begin(MG(s), "phishing");
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    bson_t *u = BCON_NEW("$set", "{", "alert_id", BCON_UTF8(alert_id), "}");
    int64_t n = update1(&o, f, u, 0, err, errlen);
    bson_destroy(f); bson_destroy(u); op_end(&o);
    if (n < 0) return -1;
    if (n == 0) { snprintf(err, errlen, "no phishing analysis '%s'", id); return RK_STORE_NOT_FOUND; }
    return 0;
}

/* ---- shared rates (rates_sync.c) ------------------------------------------------
 * One document per name and hour, {_id: "name:hour", name, hour, n, at}:
 * instances $inc n; a TTL index on `at` (the hour, as a date) drops them
 * after 30 days, so the collection stays bounded. Indexes made on first use. */
#define RATES_TTL_S (30 * 86400)

static int rates_indexes(mg_t *m, char *err, size_t errlen)
{
    if (m->rates_indexed) return 0;
    bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8("rates"), "indexes", "[",
                           "{", "key", "{", "name", BCON_INT32(1), "hour", BCON_INT32(1), "}",
                           "name", BCON_UTF8("name_1_hour_1"), "}",
                           "{", "key", "{", "at", BCON_INT32(1), "}", "name", BCON_UTF8("at_ttl"),
                           "expireAfterSeconds", BCON_INT64(RATES_TTL_S), "}", "]");
    if (index_command(m, "rates", cmd, err, errlen)) return -1;
    m->rates_indexed = 1;
    return 0;
}

static int mg_rate_add(rk_store_t *s, const char *name, int64_t hour, int64_t n, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    if (rates_indexes(m, err, errlen) != 0) return -1;
    char id[96];
    snprintf(id, sizeof id, "%s:%lld", name, (long long)hour);
    op_t o = op_begin(m, "rates");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *u = BCON_NEW("$inc", "{", "n", BCON_INT64(n), "}",
                         "$setOnInsert", "{", "name", BCON_UTF8(name), "hour", BCON_INT64(hour),
                         "at", BCON_DATE_TIME(hour * 3600000), "}");
    int64_t matched = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f);
    bson_destroy(u);
    op_end(&o);
    return matched < 0 ? -1 : 0;
}

static int mg_rate_counts(rk_store_t *s, const char *name, int64_t from, int64_t to, int64_t *counts, int64_t *first,
                          char *err, size_t errlen)
{
    mg_t *m = MG(s);
    for (int64_t h = from; h <= to; h++) counts[h - from] = 0;
    *first = INT64_MAX;
    op_t o = op_begin(m, "rates");
    bson_t *f = BCON_NEW("name", BCON_UTF8(name), "hour", "{", "$gte", BCON_INT64(from), "$lte", BCON_INT64(to), "}");
    bson_t *opts = BCON_NEW("projection", "{", "hour", BCON_INT32(1), "n", BCON_INT32(1), "}");
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(o.coll, f, opts, NULL);
    const bson_t *d;
    while (mongoc_cursor_next(c, &d)) {
        int64_t h = int_at(d, "hour");
        if (h < from || h > to) continue;
        counts[h - from] += int_at(d, "n");
        if (h < *first) *first = h;
    }
    bson_error_t e;
    int rc = mongoc_cursor_error(c, &e) ? mfail(&e, err, errlen, "rates") : 0;
    mongoc_cursor_destroy(c);
    bson_destroy(f);
    bson_destroy(opts);
    op_end(&o);
    return rc;
}

static int mg_state_get(rk_store_t *s, const char *key, char **value, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "state");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(key)), d;
    int rc = find_one(&o, f, &d, err, errlen);
    bson_destroy(f);
    op_end(&o);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no state '%s'", key);
    if (rc) return rc;
    bson_iter_t it;
    const char *v = bson_iter_init_find(&it, &d, "value") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    *value = strdup(v);
    bson_destroy(&d);
    if (!*value) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

static int mg_state_put(rk_store_t *s, const char *key, const char *value, char *err, size_t errlen)
{
    op_t o = op_begin(MG(s), "state");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(key));
    bson_t *u = BCON_NEW("$set", "{", "value", BCON_UTF8(value), "}");
    int64_t n = update1(&o, f, u, 1, err, errlen);
    bson_destroy(f);
    bson_destroy(u);
    op_end(&o);
    return n < 0 ? -1 : 0;
}

static const rk_store_accounts_t accounts_ops = {
    .create = mg_user_create, .get = mg_user_get, .set_password = mg_user_set_password,
    .remove = mg_user_delete, .list = mg_user_list,
    .key_create = mg_key_create, .key_get = mg_key_get, .key_list = mg_key_list, .key_revoke = mg_key_revoke,
    .key_touch = mg_key_touch,
};
static const rk_store_events_t events_ops = {
    .record = mg_event_record, .get = mg_event_get, .list = mg_event_list, .set_alert = mg_event_set_alert,
    .recent = mg_recent, .profile_get = mg_profile_get, .profile_update = mg_profile_update,
    .global_count = mg_global_count, .purge = mg_purge,
    .outcome = mg_event_outcome, .settle = mg_events_settle, .due = mg_events_due,
    .state_set = mg_user_state_set,
};
static const rk_store_alerts_t alerts_ops = {
    .insert = mg_alert_insert, .get = mg_alert_get, .list = mg_alert_list, .find_open = mg_alert_find_open,
    .add_event = mg_alert_add_event, .set_status = mg_alert_set_status,
};
static const rk_store_reports_t reports_ops = {
    .stats = mg_stats, .timeline = mg_timeline, .top_users = mg_top_users,
    .breakdown = mg_breakdown,
};
static const rk_store_phishing_t phishing_ops = {
    .insert = mg_phish_insert, .get = mg_phish_get, .list = mg_phish_list, .set_alert = mg_phish_set_alert,
};
static const rk_store_rates_t rates_ops = {
    .add = mg_rate_add, .counts = mg_rate_counts,
};

static const rk_store_state_t state_ops = { .get = mg_state_get, .put = mg_state_put };

/* The server's ping command: a round trip, with the pool's timeouts. */
static int mg_ping(rk_store_t *s, char *err, size_t errlen)
{
    mg_t *m = MG(s);
    mongoc_client_t *c = mongoc_client_pool_pop(m->pool->pool);
    bson_t cmd = BSON_INITIALIZER;
    bson_error_t e;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bool ok = mongoc_client_command_simple(c, m->pool->dbname, &cmd, NULL, NULL, &e);
    bson_destroy(&cmd);
    mongoc_client_pool_push(m->pool->pool, c);
    return ok ? 0 : mfail(&e, err, errlen, "ping");
}

static const rk_store_outbox_t outbox_ops = {
    .put = mg_outbox_put, .claim = mg_outbox_claim, .done = mg_outbox_done, .retry = mg_outbox_retry,
    .dead = mg_outbox_dead, .list = mg_outbox_list, .requeue = mg_outbox_requeue,
};

static const rk_store_ops_t ops = {
    .name = "mongodb", .close = mg_close, .ping = mg_ping, .outbox = &outbox_ops, .state = &state_ops,
    .accounts = &accounts_ops, .events = &events_ops, .alerts = &alerts_ops, .reports = &reports_ops,
    .phishing = &phishing_ops, .rates = &rates_ops,
};

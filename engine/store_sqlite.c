/* store_sqlite.c — the embedded backend of store.h.
 *
 * One connection per handle (so one per worker thread), WAL journal, a busy
 * time-out for the single write lock, every fixed statement prepared once
 * per connection. Aggregates never scan the events: each recorded event also
 * updates, in the same transaction, an hourly summary row, a per-user hourly
 * row, the IP's last-seen row and the user's profile, and stats, timeline
 * and top users read those.
 *
 * Durability: WAL with synchronous=NORMAL. A committed transaction is in the
 * WAL file before riskd answers, so killing the process (kill -9) loses
 * nothing acknowledged; a power cut or kernel crash can lose the
 * transactions committed since the last WAL sync, which every checkpoint
 * makes (the server's writer asks for one each 4,000 WAL pages, about 0.1 s
 * of traffic in the analyze bench; store_writer.c). Set
 * --sqlite-sync full (opts.sync_full) for fsync on every commit (about 10x fewer inserts/s).
 */
#include "log.h"
#include "store_live.h"
#include "store_sums.h"
#include "store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL

/* The events' indexes of schema 1, made again when schema 9 rebuilt the table. */
#define EVENT_INDEXES \
    "CREATE INDEX events_ts ON events(ts_ms);" \
    "CREATE INDEX events_user_ts ON events(user_id, ts_ms);" \
    "CREATE INDEX events_ip_ts ON events(ip, ts_ms);" \
    "CREATE INDEX events_level_ts ON events(risk_level, ts_ms);" \
    "CREATE INDEX events_anomaly_ts ON events(ts_ms) WHERE is_anomaly = 1;" \
    "CREATE INDEX events_risk ON events(risk_score);"

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE users(id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT,"
    "  role TEXT NOT NULL, password_hash TEXT, created_ms INTEGER NOT NULL);"
    "CREATE TABLE events(id TEXT PRIMARY KEY, user_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    "  ip TEXT NOT NULL, success INTEGER NOT NULL, risk_score REAL NOT NULL, risk_level TEXT NOT NULL,"
    "  is_anomaly INTEGER NOT NULL, anomaly_score REAL, action TEXT, country TEXT, city TEXT,"
    "  has_geo INTEGER NOT NULL DEFAULT 0, lat REAL, lon REAL, device_id TEXT, user_agent TEXT,"
    "  asn TEXT, ip_prefix TEXT, alert_id TEXT, doc TEXT) WITHOUT ROWID;"
    EVENT_INDEXES
    "CREATE TABLE hourly(bucket INTEGER PRIMARY KEY, attempts INTEGER NOT NULL DEFAULT 0,"
    "  failures INTEGER NOT NULL DEFAULT 0, anomalies INTEGER NOT NULL DEFAULT 0,"
    "  risk_sum REAL NOT NULL DEFAULT 0, low INTEGER NOT NULL DEFAULT 0, medium INTEGER NOT NULL DEFAULT 0,"
    "  high INTEGER NOT NULL DEFAULT 0, critical INTEGER NOT NULL DEFAULT 0, alerts INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE user_hourly(user_id TEXT NOT NULL, bucket INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  risk_sum REAL NOT NULL, max_risk REAL NOT NULL, anomalies INTEGER NOT NULL, high INTEGER NOT NULL,"
    "  PRIMARY KEY(user_id, bucket)) WITHOUT ROWID;"
    "CREATE INDEX user_hourly_bucket ON user_hourly(bucket, user_id, max_risk, risk_sum, attempts, anomalies, high);"
    "CREATE TABLE ips(ip TEXT PRIMARY KEY, last_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX ips_last ON ips(last_ms);"
    "CREATE TABLE profiles(user_id TEXT PRIMARY KEY, last_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  anomalies INTEGER NOT NULL, risk_sum REAL NOT NULL, max_risk REAL NOT NULL, high INTEGER NOT NULL,"
    "  data BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX profiles_last ON profiles(last_ms);"
    "CREATE INDEX profiles_risk ON profiles(max_risk);"
    "CREATE TABLE alerts(id TEXT PRIMARY KEY, user_id TEXT NOT NULL, severity TEXT NOT NULL,"
    "  status TEXT NOT NULL, cause TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  event_count INTEGER NOT NULL DEFAULT 0, doc TEXT) WITHOUT ROWID;"
    "CREATE INDEX alerts_created ON alerts(created_ms);"
    "CREATE INDEX alerts_status ON alerts(status, created_ms);"
    "CREATE INDEX alerts_severity ON alerts(severity, created_ms);"
    "CREATE INDEX alerts_user ON alerts(user_id, cause, status, updated_ms);"
    "CREATE TABLE alert_events(alert_id TEXT NOT NULL, event_id TEXT NOT NULL,"
    "  PRIMARY KEY(alert_id, event_id)) WITHOUT ROWID;"
    "CREATE TABLE alert_history(alert_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, status TEXT NOT NULL,"
    "  who TEXT NOT NULL, note TEXT);"
    "CREATE INDEX alert_history_alert ON alert_history(alert_id, ts_ms);",
    /* 1 -> 2: how common each device, country, prefix, user agent and network
     * is across all users (the familiarity rule) */
    "CREATE TABLE value_counts(kind INTEGER NOT NULL, value TEXT NOT NULL, count INTEGER NOT NULL,"
    "  PRIMARY KEY(kind, value)) WITHOUT ROWID;",
    /* 2 -> 3: fewer pages written per event (each commit writes every page
     * it dirtied, and random ones dominate). user_hourly is clustered by
     * hour, so an event's update lands among the current hour's rows instead
     * of at a random user's, and needs no second index; the distinct users
     * of a period come from it (to the hour, like every other 24 h figure)
     * and the all-time count from a counter, so profiles lose the index on
     * last_ms that every event moved. */
    "CREATE TABLE user_hourly_new(bucket INTEGER NOT NULL, user_id TEXT NOT NULL, attempts INTEGER NOT NULL,"
    "  risk_sum REAL NOT NULL, max_risk REAL NOT NULL, anomalies INTEGER NOT NULL, high INTEGER NOT NULL,"
    "  PRIMARY KEY(bucket, user_id)) WITHOUT ROWID;"
    "INSERT INTO user_hourly_new SELECT bucket, user_id, attempts, risk_sum, max_risk, anomalies, high FROM user_hourly;"
    "DROP TABLE user_hourly;"
    "ALTER TABLE user_hourly_new RENAME TO user_hourly;"
    "DROP INDEX profiles_last;"
    "INSERT OR REPLACE INTO meta(key, value) VALUES('users', (SELECT count(*) FROM profiles));",
    /* 3 -> 4: phishing analyses (POST /api/phishing/analyze) */
    "CREATE TABLE phishing(id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, verdict TEXT NOT NULL, score REAL NOT NULL,"
    "  sender TEXT, recipient TEXT, subject TEXT, message_id TEXT, alert_id TEXT, doc TEXT) WITHOUT ROWID;"
    "CREATE INDEX phishing_ts ON phishing(ts_ms);"
    "CREATE INDEX phishing_verdict_ts ON phishing(verdict, ts_ms);"
    "CREATE INDEX phishing_sender_ts ON phishing(sender, ts_ms);"
    "CREATE INDEX phishing_score ON phishing(score);",
    /* 4 -> 5: learning from verified attempts: a success held until the
     * service reports its outcome, or until its grace period ends */
    "ALTER TABLE events ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE events ADD COLUMN learn_at INTEGER;"
    "ALTER TABLE events ADD COLUMN outcome TEXT;"
    "CREATE INDEX events_held ON events(learn_at) WHERE held = 1;",
    /* 5 -> 6: services' API keys (the hash of the secret, never the key) */
    "CREATE TABLE api_keys(id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0, revoked_ms INTEGER NOT NULL DEFAULT 0)"
    "  WITHOUT ROWID;"
    "CREATE UNIQUE INDEX api_keys_live_name ON api_keys(name) WHERE revoked_ms = 0;"
    "CREATE INDEX api_keys_name ON api_keys(name, revoked_ms, created_ms);",
    /* 6 -> 7: what analysts say of accounts (at risk, compromised, safe),
     * beside the profiles that the writer rewrites */
    "CREATE TABLE user_states(user_id TEXT PRIMARY KEY, state TEXT NOT NULL, by_name TEXT, ts_ms INTEGER NOT NULL)"
    "  WITHOUT ROWID;",
    /* 7 -> 8: the outbox of deliveries to webhooks and SIEM targets */
    "CREATE TABLE outbox(id TEXT PRIMARY KEY, dest TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,"
    "  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
    "  next_ms INTEGER NOT NULL, lease_ms INTEGER NOT NULL DEFAULT 0, done_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT) WITHOUT ROWID;"
    "CREATE INDEX outbox_due ON outbox(next_ms) WHERE status = 'pending';"
    "CREATE INDEX outbox_status ON outbox(status, created_ms);"
    "CREATE INDEX outbox_created ON outbox(created_ms);",
    /* 8 -> 9: events and profiles as rowid tables, keyed by a unique index.
     * A WITHOUT ROWID row keeps at most about a quarter of a page in its
     * b-tree and spills the rest to an overflow page: an analysis's row
     * (its document) and a profile's (its blob) both spilled, so every
     * insert or profile update wrote a mostly empty overflow page besides
     * its leaf. A rowid table keeps rows of a few KB in the leaf. */
    "CREATE TABLE events_new(id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    "  ip TEXT NOT NULL, success INTEGER NOT NULL, risk_score REAL NOT NULL, risk_level TEXT NOT NULL,"
    "  is_anomaly INTEGER NOT NULL, anomaly_score REAL, action TEXT, country TEXT, city TEXT,"
    "  has_geo INTEGER NOT NULL DEFAULT 0, lat REAL, lon REAL, device_id TEXT, user_agent TEXT,"
    "  asn TEXT, ip_prefix TEXT, alert_id TEXT, doc TEXT, held INTEGER NOT NULL DEFAULT 0, learn_at INTEGER,"
    "  outcome TEXT);"
    "INSERT INTO events_new SELECT * FROM events ORDER BY id;"
    "DROP TABLE events;"
    "ALTER TABLE events_new RENAME TO events;"
    EVENT_INDEXES
    "CREATE INDEX events_held ON events(learn_at) WHERE held = 1;"
    "CREATE TABLE profiles_new(user_id TEXT NOT NULL UNIQUE, last_ms INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  anomalies INTEGER NOT NULL, risk_sum REAL NOT NULL, max_risk REAL NOT NULL, high INTEGER NOT NULL,"
    "  data BLOB NOT NULL);"
    "INSERT INTO profiles_new SELECT * FROM profiles ORDER BY user_id;"
    "DROP TABLE profiles;"
    "ALTER TABLE profiles_new RENAME TO profiles;"
    "CREATE INDEX profiles_risk ON profiles(max_risk);",
};
#define NMIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

#define EVENT_COLS "id, user_id, ts_ms, ip, success, risk_score, risk_level, is_anomaly, anomaly_score," \
    " action, country, city, has_geo, lat, lon, device_id, user_agent, asn, ip_prefix, alert_id, doc," \
    " held, learn_at, outcome"
#define ALERT_COLS "id, user_id, severity, status, cause, created_ms, updated_ms, event_count, doc"
#define PHISH_COLS "id, ts_ms, verdict, score, sender, recipient, subject, message_id, alert_id, doc"

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
    S_USER_INSERT, S_USER_GET, S_USER_SETPW, S_USER_DEL, S_USER_LIST,
    S_KEY_INSERT, S_KEY_GET, S_KEY_LIST, S_KEY_REVOKE, S_KEY_TOUCH,
    S_OB_PUT, S_OB_CLAIM, S_OB_DONE, S_OB_RETRY, S_OB_DEAD, S_OB_LIST, S_OB_LIST_STATUS, S_OB_COUNT, S_OB_COUNT_STATUS,
    S_OB_REQUEUE, S_OB_ANY_DUE, S_OB_PURGE, S_BD_LEVEL, S_BD_COUNTRY, S_BD_RULE,
    S_EV_INSERT, S_EV_GET, S_EV_SET_ALERT, S_EV_OUTCOME, S_EV_DUE, S_EV_ANY_DUE,
    S_HOURLY, S_USER_HOURLY, S_IP,
    S_PROFILE_GET, S_PROFILE_PUT, S_PROFILE_MAX, S_STATE_HAS_PROFILE, S_STATE_PUT, S_STATE_DEL,
    S_RECENT_FAIL, S_RECENT_IPUSERS,
    S_ALERT_INSERT, S_ALERT_EVENT, S_ALERT_HIST, S_ALERT_GET, S_ALERT_EVENTS, S_ALERT_HISTORY,
    S_ALERT_FIND, S_ALERT_TOUCH, S_ALERT_STATUS, S_HOURLY_ALERT,
    S_SUM_HOURLY, S_ALERTS_BY_STATUS, S_ALERTS_BY_SEVERITY, S_USERS_SINCE, S_IPS_SINCE,
    S_TIMELINE, S_TOP_ALL, S_TOP_SINCE, S_PURGE, S_PURGE_IPS, S_EV_TOTAL,
    S_IP_TOUCH, S_META_ADD, S_META_GET, S_VC_ADD, S_VC_NEW, S_VC_GET, S_VC_TOTALS,
    S_EV_ROWID, S_EV_RANGE, S_META_SET, S_META_TEXT, S_META_DEL,
    S_PH_INSERT, S_PH_GET, S_PH_SET_ALERT, S_PH_PURGE,
    S_COUNT
};

/* Not one of riskd's own accounts (RK_STORE_OWN_PREFIX), for the reports of the site's users. */
#define NOT_OWN "substr(user_id, 1, length('" RK_STORE_OWN_PREFIX "')) <> '" RK_STORE_OWN_PREFIX "'"

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    /* Inside a group commit (rk_store_batch_begin) each write is a savepoint. */
    [S_SAVEPOINT] = "SAVEPOINT w",
    [S_RELEASE] = "RELEASE w",
    [S_ROLLBACK_TO] = "ROLLBACK TO w",
    [S_USER_INSERT] = "INSERT INTO users(id, username, email, role, password_hash, created_ms) VALUES(?,?,?,?,?,?)",
    [S_USER_GET] = "SELECT id, username, email, role, password_hash, created_ms FROM users WHERE username = ?",
    [S_USER_SETPW] = "UPDATE users SET password_hash = ? WHERE username = ?",
    [S_USER_DEL] = "DELETE FROM users WHERE username = ?",
    [S_USER_LIST] = "SELECT id, username, email, role, password_hash, created_ms FROM users ORDER BY username",
    [S_KEY_INSERT] = "INSERT INTO api_keys(id, name, role, hash, created_ms) VALUES(?,?,?,?,?)",
    [S_KEY_GET] = "SELECT id, name, role, hash, created_ms, last_used_ms, revoked_ms FROM api_keys WHERE id = ?",
    [S_KEY_LIST] = "SELECT id, name, role, hash, created_ms, last_used_ms, revoked_ms FROM api_keys"
                   " ORDER BY name, revoked_ms, created_ms DESC",   /* the live key (0) first */
    [S_KEY_REVOKE] = "UPDATE api_keys SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms = 0",
    [S_KEY_TOUCH] = "UPDATE api_keys SET last_used_ms = max(last_used_ms, ?2) WHERE id = ?1",
#define OB_COLS "id, dest, kind, body, status, attempts, created_ms, next_ms, done_ms, last_error"
    [S_OB_PUT] = "INSERT INTO outbox(id, dest, kind, body, status, created_ms, next_ms) VALUES(?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
    /* claims: held for a lease, so another thread or instance skips them */
    [S_OB_CLAIM] = "UPDATE outbox SET lease_ms = ?2 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending'"
                   " AND next_ms <= ?1 AND lease_ms <= ?1 ORDER BY next_ms LIMIT ?3) RETURNING " OB_COLS,
    [S_OB_DONE] = "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, done_ms = ?2, lease_ms = 0,"
                  " last_error = NULL WHERE id = ?1",
    [S_OB_RETRY] = "UPDATE outbox SET attempts = ?2, next_ms = ?3, lease_ms = 0, last_error = ?4 WHERE id = ?1",
    [S_OB_DEAD] = "UPDATE outbox SET status = 'dead', attempts = ?2, done_ms = ?3, lease_ms = 0, last_error = ?4 WHERE id = ?1",
    [S_OB_LIST] = "SELECT " OB_COLS " FROM outbox ORDER BY created_ms DESC, id DESC LIMIT ? OFFSET ?",
    [S_OB_LIST_STATUS] = "SELECT " OB_COLS " FROM outbox WHERE status = ? ORDER BY created_ms DESC, id DESC LIMIT ? OFFSET ?",
    [S_OB_COUNT] = "SELECT count(*) FROM outbox",
    [S_OB_COUNT_STATUS] = "SELECT count(*) FROM outbox WHERE status = ?",
    /* a read first: the claim is a write, which would take the write lock four times a second for nothing */
    [S_OB_ANY_DUE] = "SELECT 1 FROM outbox WHERE status = 'pending' AND next_ms <= ?1 AND lease_ms <= ?1 LIMIT 1",
    /* breakdowns over the window's newest events (RK_BREAKDOWN_SAMPLE), walking events_ts */
#define BD_WINDOW "(SELECT * FROM events WHERE ts_ms >= ?1 ORDER BY ts_ms DESC LIMIT ?2)"
    [S_BD_LEVEL] = "SELECT risk_level, count(*) FROM " BD_WINDOW " GROUP BY risk_level ORDER BY 2 DESC",
    [S_BD_COUNTRY] = "SELECT coalesce(country, ''), count(*) FROM " BD_WINDOW " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?3",
    [S_BD_RULE] = "SELECT r.value ->> '$.name', count(*) FROM " BD_WINDOW " w, json_each(w.doc, '$.rules') r"
                  " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?3",
    [S_OB_PURGE] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_ms < ? AND status <> 'pending' LIMIT ?)",
    [S_OB_REQUEUE] = "UPDATE outbox SET status = 'pending', next_ms = ?2, lease_ms = 0, done_ms = 0 WHERE id = ?1 AND status = 'dead'",
    [S_EV_INSERT] = "INSERT INTO events(" EVENT_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_EV_OUTCOME] = "UPDATE events SET outcome = coalesce(?2, outcome), held = 0 WHERE id = ?1",
    [S_EV_DUE] = "SELECT id FROM events WHERE held = 1 AND learn_at <= ? ORDER BY learn_at, id LIMIT ?",
    [S_EV_ANY_DUE] = "SELECT 1 FROM events WHERE held = 1 AND learn_at <= ? LIMIT 1",
    [S_EV_GET] = "SELECT " EVENT_COLS " FROM events WHERE id = ?",
    [S_EV_SET_ALERT] = "UPDATE events SET alert_id = ? WHERE id = ?",
    /* The summaries are written summed, a key at a time (store_sums.h). */
    [S_HOURLY] = "INSERT INTO hourly(bucket, attempts, failures, anomalies, risk_sum, low, medium, high, critical)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(bucket) DO UPDATE SET"
                 " attempts = attempts + ?2, failures = failures + ?3, anomalies = anomalies + ?4,"
                 " risk_sum = risk_sum + ?5, low = low + ?6, medium = medium + ?7, high = high + ?8,"
                 " critical = critical + ?9",
    [S_USER_HOURLY] = "INSERT INTO user_hourly(user_id, bucket, attempts, risk_sum, max_risk, anomalies, high)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(bucket, user_id) DO UPDATE SET"
                      " attempts = attempts + ?3, risk_sum = risk_sum + ?4, max_risk = max(max_risk, ?5),"
                      " anomalies = anomalies + ?6, high = high + ?7",
    /* New addresses are counted as they come (meta 'ips'), so that the
     * all-time distinct count never counts a million rows. */
    [S_IP] = "INSERT OR IGNORE INTO ips(ip, last_ms) VALUES(?1, ?2)",
    /* To the hour, like the other 24 h figures: an address seen again
     * within the hour costs no write (its index entry would move). */
    [S_IP_TOUCH] = "UPDATE ips SET last_ms = ?2 WHERE ip = ?1 AND last_ms < ?2 - 3600000",
    [S_META_ADD] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE"
                   " SET value = CAST(value AS INTEGER) + ?2",
    [S_META_GET] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?",
    /* An UPDATE, and an INSERT only for a value never seen: cheaper than an
     * upsert for what is almost always a known value. Its RETURNING gives
     * the state in memory (store_live.h) the new count. */
    [S_VC_ADD] = "UPDATE value_counts SET count = count + ?3 WHERE kind = ?1 AND value = ?2 RETURNING count",
    [S_VC_NEW] = "INSERT INTO value_counts(kind, value, count) VALUES(?1, ?2, ?3)",
    [S_EV_ROWID] = "SELECT rowid FROM events WHERE id = ?",
    [S_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
    [S_META_TEXT] = "SELECT value FROM meta WHERE key = ?",
    [S_META_DEL] = "DELETE FROM meta WHERE key = ?",
    [S_EV_RANGE] = "SELECT " EVENT_COLS " FROM events WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid",
    [S_VC_GET] = "SELECT count FROM value_counts WHERE kind = ? AND value = ?",
    [S_VC_TOTALS] = "SELECT key, CAST(value AS INTEGER) FROM meta WHERE key > 'vc:' AND key < 'vc;'",
    [S_PROFILE_GET] = "SELECT p.data, s.state, s.by_name, s.ts_ms FROM profiles p"
                      " LEFT JOIN user_states s ON s.user_id = p.user_id WHERE p.user_id = ?",
    [S_STATE_HAS_PROFILE] = "SELECT 1 FROM profiles WHERE user_id = ?",
    [S_STATE_PUT] = "INSERT OR REPLACE INTO user_states(user_id, state, by_name, ts_ms) VALUES(?,?,?,?)",
    [S_STATE_DEL] = "DELETE FROM user_states WHERE user_id = ?",
    /* An upsert, not INSERT OR REPLACE: REPLACE deletes and reinserts, which
     * rewrote every index entry of the row. The update leaves max_risk out:
     * SQLite rewrites the entry of every index whose column is assigned,
     * even to its own value (measured on a table of spread values: 2 WAL
     * pages an update instead of 1; in the analyze bench, where many users
     * share a maximum, it makes no difference), and max_risk
     * (profiles_risk) seldom changes: S_PROFILE_MAX sets it when it does. */
    [S_PROFILE_PUT] = "INSERT INTO profiles(user_id, last_ms, attempts, anomalies, risk_sum, max_risk, high, data)"
                      " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(user_id) DO UPDATE SET last_ms = ?2,"
                      " attempts = ?3, anomalies = ?4, risk_sum = ?5, high = ?7, data = ?8",
    [S_PROFILE_MAX] = "UPDATE profiles SET max_risk = ?2 WHERE user_id = ?1 AND max_risk < ?2",
    [S_RECENT_FAIL] = "SELECT count(*) FROM events WHERE user_id = ? AND ts_ms >= ? AND success = 0",
    [S_RECENT_IPUSERS] = "SELECT count(DISTINCT user_id) FROM events WHERE ip = ? AND ts_ms >= ?",
    [S_ALERT_INSERT] = "INSERT INTO alerts(" ALERT_COLS ") VALUES(?,?,?,?,?,?,?,?,?)",
    [S_PH_INSERT] = "INSERT INTO phishing(" PHISH_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?)",
    [S_PH_GET] = "SELECT " PHISH_COLS " FROM phishing WHERE id = ?",
    [S_PH_SET_ALERT] = "UPDATE phishing SET alert_id = ?1 WHERE id = ?2",
    [S_PH_PURGE] = "DELETE FROM phishing WHERE id IN (SELECT id FROM phishing WHERE ts_ms < ? LIMIT ?)",
    [S_ALERT_EVENT] = "INSERT OR IGNORE INTO alert_events(alert_id, event_id) VALUES(?,?)",
    [S_ALERT_HIST] = "INSERT INTO alert_history(alert_id, ts_ms, status, who, note) VALUES(?,?,?,?,?)",
    [S_ALERT_GET] = "SELECT " ALERT_COLS " FROM alerts WHERE id = ?",
    [S_ALERT_EVENTS] = "SELECT event_id FROM alert_events WHERE alert_id = ? ORDER BY event_id",
    [S_ALERT_HISTORY] = "SELECT ts_ms, status, who, note FROM alert_history WHERE alert_id = ? ORDER BY ts_ms, rowid",
    [S_ALERT_FIND] = "SELECT id FROM alerts WHERE user_id = ? AND cause = ? AND status IN ('open', 'investigating')"
                     " AND updated_ms >= ? ORDER BY updated_ms DESC LIMIT 1",
    [S_ALERT_TOUCH] = "UPDATE alerts SET event_count = event_count + 1, updated_ms = max(updated_ms, ?2),"
                      " severity = CASE WHEN ?3 > (CASE severity WHEN 'low' THEN 0 WHEN 'medium' THEN 1"
                      " WHEN 'high' THEN 2 ELSE 3 END) THEN ?4 ELSE severity END WHERE id = ?1",
    [S_ALERT_STATUS] = "UPDATE alerts SET status = ?, updated_ms = ? WHERE id = ?",
    [S_HOURLY_ALERT] = "INSERT INTO hourly(bucket, alerts) VALUES(?1, 1) ON CONFLICT(bucket) DO UPDATE SET alerts = alerts + 1",
    [S_SUM_HOURLY] = "SELECT total(attempts), total(failures), total(anomalies), total(low), total(medium),"
                     " total(high), total(critical) FROM hourly WHERE bucket >= ?",
    [S_ALERTS_BY_STATUS] = "SELECT status, count(*) FROM alerts WHERE created_ms >= ? GROUP BY status",
    [S_ALERTS_BY_SEVERITY] = "SELECT severity, count(*) FROM alerts WHERE created_ms >= ? GROUP BY severity",
    [S_USERS_SINCE] = "SELECT count(DISTINCT user_id) FROM user_hourly WHERE bucket >= ?",
    [S_IPS_SINCE] = "SELECT count(*) FROM ips WHERE last_ms >= ?",
    [S_TIMELINE] = "SELECT bucket, attempts, failures, anomalies, risk_sum, alerts FROM hourly"
                   " WHERE bucket >= ? AND bucket < ? ORDER BY bucket",
    [S_TOP_ALL] = "SELECT user_id, max_risk, risk_sum / attempts, attempts, anomalies, high FROM profiles"
                  " WHERE attempts > 0 AND " NOT_OWN " ORDER BY max_risk DESC, high DESC, user_id LIMIT ?",
    [S_TOP_SINCE] = "SELECT user_id, max(max_risk) AS m, total(risk_sum) / total(attempts), total(attempts),"
                    " total(anomalies), total(high) AS h FROM user_hourly"
                    " WHERE bucket >= ? AND " NOT_OWN " GROUP BY user_id"
                    " ORDER BY m DESC, h DESC, user_id LIMIT ?",
    [S_PURGE] = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_ms < ? LIMIT ?)",
    [S_PURGE_IPS] = "DELETE FROM ips WHERE ip IN (SELECT ip FROM ips WHERE last_ms < ? LIMIT ?)",
    /* The unfiltered event count, kept with every insert and purge so that
     * the first page of the event list never counts a million rows. */
    [S_EV_TOTAL] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events'",
};

/* The counters kept in meta (see sq_t.wdelta): the unfiltered event count,
 * the distinct addresses and users, and per profile kind the total and distinct
 * values of successful logins (the familiarity rule). */
enum { M_EVENTS, M_IPS, M_USERS, M_VC_TOTAL, M_VC_DISTINCT = M_VC_TOTAL + RK_PK_COUNT, M_COUNT = M_VC_DISTINCT + RK_PK_COUNT };

static void meta_key(int m, char *key, size_t cap)
{
    if (m == M_EVENTS) snprintf(key, cap, "events");
    else if (m == M_IPS) snprintf(key, cap, "ips");
    else if (m == M_USERS) snprintf(key, cap, "users");
    else if (m < M_VC_DISTINCT) snprintf(key, cap, "vc:%d:total", m - M_VC_TOTAL);
    else snprintf(key, cap, "vc:%d:distinct", m - M_VC_DISTINCT);
}

/* Rowid ranges of events, oldest first. Past SUMS_RANGES (other writers'
 * events between this one's) the sums are flushed. */
#define SUMS_RANGES 32
typedef struct { int n; int64_t r[SUMS_RANGES][2]; } ranges_t;

/* Adds rowid; when the list is full the last range stretches over it (a
 * replay would then read other writers' events too: the batch that sees
 * the list full flushes, so that never reaches disk). */
static void ranges_add(ranges_t *p, int64_t rowid)
{
    if (p->n > 0 && rowid >= p->r[p->n - 1][0] && rowid <= p->r[p->n - 1][1] + 1) {
        if (rowid > p->r[p->n - 1][1]) p->r[p->n - 1][1] = rowid;
        return;
    }
    if (p->n == SUMS_RANGES) { if (rowid > p->r[p->n - 1][1]) p->r[p->n - 1][1] = rowid; return; }
    p->r[p->n][0] = p->r[p->n][1] = rowid;
    p->n++;
}

static int ranges_has(const ranges_t *p, int64_t rowid)
{
    for (int i = 0; i < p->n; i++) if (rowid >= p->r[i][0] && rowid <= p->r[i][1]) return 1;
    return 0;
}

/* Filter mask bits: bit i selects conds[i] of the query shapes below. */
#define EVF_USER 1
#define EVF_LEVEL 2
#define EVF_MINRISK 4
#define EVF_SINCE 8
#define EVF_UNTIL 16
#define EVF_ANOMALY 32
#define EVF_IP 64
#define EVF_COUNTRY 128
#define EVF_RULE 256
#define EVF_MASKS 512
/* country and rule have no index of their own: only within a time range */
#define EVF_NEEDS_SINCE (EVF_COUNTRY | EVF_RULE)
#define ALF_STATUS 1
#define ALF_SEVERITY 2
#define ALF_USER 4
#define ALF_SINCE 8
#define ALF_UNTIL 16
#define ALF_MASKS 32
#define PHF_VERDICT 1
#define PHF_SENDER 2
#define PHF_MINSCORE 4
#define PHF_SINCE 8
#define PHF_UNTIL 16

typedef struct {
    rk_store_t base;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    sqlite3_stmt *ev_list[EVF_MASKS], *ev_count[EVF_MASKS], *al_list[ALF_MASKS], *al_count[ALF_MASKS], *ph_list[32], *ph_count[32];
    int retention_days;
    unsigned char *blob;     /* profile encoding scratch */
    rk_profile_t *profile;   /* the profile being updated (~24 KiB: once, not per event) */
    int batch;               /* inside rk_store_batch_begin/end */
    int wal_pages;           /* after the last commit, when checkpoints are manual */
    int busy_timeout_ms;     /* as opened (a restart checkpoint waits less) */
    /* Counters in meta, added up in memory and written once per
     * transaction: a dozen one-row UPDATEs per event were a third of the
     * statements an insert ran. wdelta: the current write's; bdelta: the
     * released writes of the open batch. */
    int64_t wdelta[M_COUNT], bdelta[M_COUNT];
    /* The analysis's state in memory (store_live.h): read before SQLite, fed
     * with every write this connection makes to it. live_fed: this
     * transaction (or savepoint) has fed it, so undoing it must turn it off. */
    rk_live_t *live;
    int live_owner, live_fed;
    /* The summaries and global value counts added since the last flush
     * (store_sums.h), with their meta counters (sdelta) and the rowids of
     * the events they came from (pend: in meta 'sums_pending' once
     * committed, so that a restart replays exactly those). A server's
     * writer flushes every defer_ms (its readers ask for a flush first:
     * rk_store_sync); any other handle at every commit. pend_write and
     * pend_batch: pend when the write and the batch began, for a rollback,
     * after which the sums are rebuilt from pend (sums_bad). */
    rk_sums_t *sums;
    int64_t sdelta[M_COUNT];
    ranges_t pend, pend_write, pend_batch;
    int defer_ms, sums_bad, sums_touched;   /* touched: by the current write */
    int pending_row;         /* meta 'sums_pending' may be on disk: a flush deletes it */
    /* The accounts' generation (store.h: rk_store_accounts_generation): a
     * counter in the file PATH-accounts, mapped shared by every handle of
     * every process on the store, so a change made by `riskd user` or
     * `riskd key` reaches a running server's caches with no read at all.
     * NULL when the file cannot be had: nothing is cached then. */
    _Atomic uint64_t *acct;
    char acct_err[1200];     /* why acct is NULL: account changes are refused then */
    int64_t flushed_ms;
} sq_t;

static const rk_store_ops_t ops;

#define SQ(s) ((sq_t *)(s))

static int fail(sq_t *q, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "sqlite: %s: %s", what, sqlite3_errmsg(q->db));
    return -1;
}

static sqlite3_stmt *stmt(sq_t *q, int i)
{
    sqlite3_stmt *s = q->st[i];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows. */
static int exec(sq_t *q, sqlite3_stmt *s, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        if (rc == SQLITE_CONSTRAINT) { snprintf(err, errlen, "%s: already exists", what); sqlite3_reset(s); return RK_STORE_CONFLICT; }
        fail(q, err, errlen, what);
        sqlite3_reset(s);
        return -1;
    }
    sqlite3_reset(s);
    return 0;
}

static int flush_meta(sq_t *q, int64_t *delta, char *err, size_t errlen)
{
    char key[32];
    for (int m = 0; m < M_COUNT; m++) {
        if (!delta[m]) continue;
        meta_key(m, key, sizeof key);
        sqlite3_stmt *st = stmt(q, S_META_ADD);
        bind_text(st, 1, key);
        sqlite3_bind_int64(st, 2, delta[m]);
        if (exec(q, st, err, errlen, "meta") != 0) return -1;
        delta[m] = 0;
    }
    return 0;
}

/* Past this many keys the writer's next batch writes them whatever the time. */
#define RK_STORE_SUMS_MAX_KEYS 200000

static int flush_sums(sq_t *q, char *err, size_t errlen);
static int replay_sums(sq_t *q, char *err, size_t errlen);
static int write_pending(sq_t *q, char *err, size_t errlen);
static void sums_flushed(sq_t *q);

/* A write: its own transaction, or a savepoint inside a group commit, so
 * that one failing write never undoes the others of its batch. */
static int begin(sq_t *q, char *err, size_t errlen)
{
    memset(q->wdelta, 0, sizeof q->wdelta);
    q->pend_write = q->pend;
    q->sums_touched = 0;
    q->live_fed = 0;
    if (q->live && q->live_owner && !q->batch) rk_live_write_begin(q->live);
    return exec(q, stmt(q, q->batch ? S_SAVEPOINT : S_BEGIN), err, errlen, "begin");
}

static int commit(sq_t *q, char *err, size_t errlen)
{
    if (q->batch) {
        if (exec(q, stmt(q, S_RELEASE), err, errlen, "release") != 0) return -1;
        for (int m = 0; m < M_COUNT; m++) q->bdelta[m] += q->wdelta[m];
        memset(q->wdelta, 0, sizeof q->wdelta);
        q->live_fed = 0;   /* the batch's commit answers for it now */
        return 0;
    }
    if (flush_sums(q, err, errlen) != 0 || flush_meta(q, q->wdelta, err, errlen) != 0) return -1;
    if (exec(q, stmt(q, S_COMMIT), err, errlen, "commit") != 0) return -1;
    sums_flushed(q);
    q->live_fed = 0;
    if (q->live && q->live_owner) rk_live_write_done(q->live);
    return 0;
}

static void rollback(sq_t *q)
{
    char e[64];
    memset(q->wdelta, 0, sizeof q->wdelta);
    if (q->live_fed) rk_live_off(q->live);
    q->live_fed = 0;
    q->pend = q->pend_write;
    if (q->sums_touched) q->sums_bad = 1;   /* they hold some of what was undone */
    if (q->defer_ms > 0) q->pending_row = 1;   /* a flush's deletion of it may be undone too */
    if (q->batch) {
        exec(q, stmt(q, S_ROLLBACK_TO), e, sizeof e, "rollback");
        exec(q, stmt(q, S_RELEASE), e, sizeof e, "release");
    } else {
        exec(q, stmt(q, S_ROLLBACK), e, sizeof e, "rollback");
    }
}

/* After each commit: how many pages the WAL holds (replaces SQLite's
 * automatic checkpoint on this connection). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db; (void)name;
    ((sq_t *)arg)->wal_pages = pages;
    return SQLITE_OK;
}

static int sq_wal_pages(rk_store_t *s) { return SQ(s)->wal_pages; }

/* PASSIVE copies what it can without waiting for, or blocking, writers and
 * readers. RESTART also waits for the write lock and for readers of older
 * snapshots, so that the next commit writes the WAL from its start again:
 * under steady writes a passive checkpoint never catches up, and without a
 * restart the WAL grew without end (3 GB in 25 s of the analyze bench),
 * with every page read searching a longer WAL index. A restart waits for
 * readers RESTART_WAIT_MS at most: the caller holds writes back meanwhile,
 * and a long reader (an export, `riskd retrain` on the same file) pins the
 * WAL anyway. Returns 0 when all of the WAL is copied, 1 when not (busy),
 * -1 on error; *frames (if not NULL) gets how many frames the WAL held. */
#define RESTART_WAIT_MS 10
static int sq_checkpoint(rk_store_t *s, int restart, int *frames, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    int log = 0, copied = 0;
    if (restart) sqlite3_busy_timeout(q->db, RESTART_WAIT_MS);
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &copied);
    if (restart) sqlite3_busy_timeout(q->db, q->busy_timeout_ms);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) return fail(q, err, errlen, "checkpoint");
    if (frames) *frames = log;
    return rc == SQLITE_OK && copied >= log ? 0 : 1;
}

static int sq_batch_begin(rk_store_t *s, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (q->batch) { snprintf(err, errlen, "a batch is already open"); return -1; }
    memset(q->bdelta, 0, sizeof q->bdelta);
    if (exec(q, stmt(q, S_BEGIN), err, errlen, "begin") != 0) return -1;
    q->pend_batch = q->pend;
    q->batch = 1;
    if (q->live && q->live_owner) rk_live_write_begin(q->live);
    return 0;
}

/* Commits the batch; when that fails every write of it is gone. */
static int sq_batch_end(rk_store_t *s, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (!q->batch) { snprintf(err, errlen, "no batch is open"); return -1; }
    q->batch = 0;
    int due = q->defer_ms <= 0 || q->sums_bad || q->pend.n >= SUMS_RANGES ||
              rk_store_now_ms() - q->flushed_ms >= q->defer_ms || rk_sums_keys(q->sums) >= RK_STORE_SUMS_MAX_KEYS;
    if ((due ? flush_sums(q, err, errlen) : write_pending(q, err, errlen)) != 0 ||
        flush_meta(q, q->bdelta, err, errlen) != 0 || exec(q, stmt(q, S_COMMIT), err, errlen, "commit") != 0) {
        char e[64];
        exec(q, stmt(q, S_ROLLBACK), e, sizeof e, "rollback");
        if (q->live) rk_live_off(q->live);
        q->pend = q->pend_batch;
        q->sums_bad = 1;
        if (q->defer_ms > 0) q->pending_row = 1;
        return -1;
    }
    if (due) sums_flushed(q);
    else if (q->live && q->live_owner && q->pend.n) rk_live_deferred_set(q->live, 1);
    /* What the live state holds of unwritten sums stays until written. */
    if (q->live && q->live_owner && rk_sums_keys(q->sums) == 0) rk_live_write_done(q->live);
    return 0;
}

static char *dup_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

/* ---- open / close ---------------------------------------------------------- */

/* Brings the schema up to date. The version is read inside the write
 * transaction, so two processes or threads opening a new file at once do
 * not both migrate it. */
static int migrate(sq_t *q, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int version = 0;
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", 0, 0, 0) != SQLITE_OK) return fail(q, err, errlen, "migration");
    if (sqlite3_exec(q->db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)", 0, 0, 0) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &s, NULL) != SQLITE_OK)
        goto failed;
    if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > NMIGRATIONS) {
        snprintf(err, errlen, "sqlite: the database has schema version %d, newer than this riskd (%d)", version, NMIGRATIONS);
        sqlite3_exec(q->db, "ROLLBACK", 0, 0, 0);
        return -1;
    }
    for (int v = version; v < NMIGRATIONS; v++) {
        char set[128];
        snprintf(set, sizeof set, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '%d')", v + 1);
        if (sqlite3_exec(q->db, migrations[v], 0, 0, 0) != SQLITE_OK || sqlite3_exec(q->db, set, 0, 0, 0) != SQLITE_OK)
            goto failed;
    }
    if (sqlite3_exec(q->db, "COMMIT", 0, 0, 0) != SQLITE_OK) goto failed;
    return 0;
failed:
    fail(q, err, errlen, "migration");
    sqlite3_exec(q->db, "ROLLBACK", 0, 0, 0);
    return -1;
}

static int sq_sync(rk_store_t *s, char *err, size_t errlen);

/* PATH-accounts, made with the database's own permissions, mapped shared
 * (it holds the one counter and stays in place: a file put there anew
 * would leave running servers counting on the old one). */
static _Atomic uint64_t *map_accounts(const char *path, char *why, size_t cap)
{
    char name[1100];
    struct stat sb;
    if (!path || !*path) {
        /* An in-memory database (":memory:", a memory URI): no other process
         * can open it, so no file beside it; the counter still serves this
         * process's handles. */
        void *a = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED) snprintf(why, cap, "%s", strerror(errno));
        return a == MAP_FAILED ? NULL : a;
    }
    snprintf(name, sizeof name, "%s-accounts", path);
    int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, stat(path, &sb) == 0 ? sb.st_mode & 0666 : 0640);
    void *m = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &sb) == 0 && (sb.st_size >= (off_t)sizeof(uint64_t) || ftruncate(fd, sizeof(uint64_t)) == 0))
        m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) snprintf(why, cap, "%s: %s", name, strerror(errno));
    if (fd >= 0) close(fd);
    return m == MAP_FAILED ? NULL : m;
}

static void sq_close(rk_store_t *s)
{
    sq_t *q = SQ(s);
    char err[256];
    if (q->st[S_COMMIT] && !q->batch && sq_sync(s, err, sizeof err) != 0)   /* else the next owner replays them */
        rk_log_msg(RK_LOG_WARN, "store: summaries not written at close", "error", err);
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(q->st[i]);
    for (int i = 0; i < EVF_MASKS; i++) { sqlite3_finalize(q->ev_list[i]); sqlite3_finalize(q->ev_count[i]); }
    for (int i = 0; i < ALF_MASKS; i++) { sqlite3_finalize(q->al_list[i]); sqlite3_finalize(q->al_count[i]); }
    for (int i = 0; i < 32; i++) { sqlite3_finalize(q->ph_list[i]); sqlite3_finalize(q->ph_count[i]); }
    sqlite3_close(q->db);
    free(q->blob);
    free(q->profile);
    rk_sums_free(q->sums);
    if (q->acct) munmap((void *)q->acct, sizeof(uint64_t));
    free(q);
}

/* One integer from a query with at most one ?1 (bound to arg); *found 0 for NULL. */
static int query_int(sq_t *q, const char *text, int64_t arg, int64_t *out, int *found, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(q->db, text, -1, &st, NULL) != SQLITE_OK) return fail(q, err, errlen, text);
    if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    *out = *found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(q, err, errlen, text);
}

/* The owner starts the state's recent window with the last hour and a
 * margin of what is on disk (the attempts after a restart are counted from
 * memory at once), or after the newest event when that hour is more than
 * half the window's bound; from there on it sees every event as it writes it. */
#define LIVE_RELOAD_MS (HOUR_MS + 5 * 60000)
static int attach_live(sq_t *q, rk_live_t *lv, int owner, char *err, size_t errlen)
{
    q->live = lv;
    q->live_owner = owner;
    if (!owner) return 0;
    int64_t newest, n = 0;
    int found, any;
    if (query_int(q, "SELECT max(ts_ms) FROM events", 0, &newest, &found, err, errlen) != 0) return -1;
    if (!found) { rk_live_start(lv, INT64_MIN); return 0; }
    int64_t h = newest - LIVE_RELOAD_MS;
    if (query_int(q, "SELECT count(*) FROM events WHERE ts_ms >= ?1", h, &n, &any, err, errlen) != 0) return -1;
    if ((size_t)n > rk_live_window_limit(lv) / 2) { rk_live_start(lv, newest + 1); return 0; }
    rk_live_start(lv, h);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(q->db, "SELECT user_id, ip, ts_ms, success FROM events WHERE ts_ms >= ?1", -1, &st, NULL) != SQLITE_OK)
        return fail(q, err, errlen, "recent events");
    sqlite3_bind_int64(st, 1, h);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        rk_live_note(lv, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                     sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(q, err, errlen, "recent events");
}

rk_store_t *rk_store_sqlite_open(const char *path, const rk_store_opts_t *o, char *err, size_t errlen)
{
    sq_t *q = calloc(1, sizeof *q);
    if (!q || !(q->blob = malloc(RK_PROFILE_MAX_BYTES)) || !(q->profile = malloc(sizeof *q->profile)) ||
        !(q->sums = rk_sums_new())) {
        if (q) { free(q->blob); free(q->profile); }
        free(q);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->base.ops = &ops;
    q->retention_days = o->retention_days;
    q->busy_timeout_ms = o->busy_timeout_ms;
    /* The embedded default must work with no set-up: make the folder. */
    char dirbuf[1024];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    char *slash = strrchr(dirbuf, '/');
    if (slash && slash != dirbuf) { *slash = '\0'; mkdir(dirbuf, 0750); }
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot open %s: %s", path, q->db ? sqlite3_errmsg(q->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(q->db, o->busy_timeout_ms);
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
             " PRAGMA cache_size=-65536;",
             o->sync_full ? "FULL" : "NORMAL");
    /* Switching to WAL and migrating take locks that SQLite's busy handler
     * does not always wait for (two threads opening a new file at once):
     * retry for up to a second before giving up. */
    int tries = 0, rc;
    while ((rc = sqlite3_exec(q->db, pragmas, 0, 0, 0)) == SQLITE_BUSY && tries++ < 50) sqlite3_sleep(20);
    if (rc != SQLITE_OK) { fail(q, err, errlen, "pragmas"); goto fail; }
    for (tries = 0; (rc = migrate(q, err, errlen)) < 0 && sqlite3_errcode(q->db) == SQLITE_BUSY && tries < 50; tries++)
        sqlite3_sleep(20);
    if (rc < 0) goto fail;
    /* The server's connections never checkpoint on commit (a request
     * would wait for it): the writer's checkpoint thread does. */
    if (o->manual_checkpoint) sqlite3_wal_hook(q->db, wal_hook, q);
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(q->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL) != SQLITE_OK) {
            fail(q, err, errlen, sql[i]);
            goto fail;
        }
    }
    q->acct = map_accounts(sqlite3_db_filename(q->db, "main"), q->acct_err, sizeof q->acct_err);
    q->defer_ms = o->live_owner ? o->summary_ms : 0;   /* the owner alone replays what a crash left */
    q->flushed_ms = rk_store_now_ms();
    if (o->live_owner && replay_sums(q, err, errlen) != 0) goto fail;
    if (o->live && attach_live(q, o->live, o->live_owner, err, errlen) != 0) goto fail;
    return &q->base;
fail:
    sq_close(&q->base);
    return NULL;
}

/* ---- users --------------------------------------------------------------- */

/* After a committed change to an account or a key (each statement here
 * commits by itself): the caches of every process drop what they hold. */
static void accounts_changed(sq_t *q)
{
    if (q->acct) atomic_fetch_add(q->acct, 1);
}

/* Before one: a change no running server would hear of (a deleted account
 * or a revoked key still taken from its cache) is refused. */
static int accounts_can_change(sq_t *q, char *err, size_t errlen)
{
    if (q->acct) return 0;
    snprintf(err, errlen, "cannot tell running servers of account changes (%s)", q->acct_err);
    return -1;
}

static int sq_accounts_generation(rk_store_t *s, uint64_t *gen)
{
    sq_t *q = SQ(s);
    if (!q->acct) return 0;
    *gen = atomic_load(q->acct);
    return 1;
}

static int sq_user_create(rk_store_t *s, rk_user_t *u, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (accounts_can_change(q, err, errlen) != 0) return -1;
    rk_store_new_id(u->id);
    u->created_ms = rk_store_now_ms();
    sqlite3_stmt *st = stmt(q, S_USER_INSERT);
    bind_text(st, 1, u->id);
    bind_text(st, 2, u->username);
    bind_text(st, 3, u->email);
    bind_text(st, 4, u->role);
    bind_text(st, 5, u->password_hash);
    sqlite3_bind_int64(st, 6, u->created_ms);
    int rc = exec(q, st, err, errlen, "user");
    if (rc == 0) accounts_changed(q);
    return rc;
}

static void read_user(sqlite3_stmt *st, rk_user_t *u)
{
    snprintf(u->id, sizeof u->id, "%s", (const char *)sqlite3_column_text(st, 0));
    u->username = dup_col(st, 1);
    u->email = dup_col(st, 2);
    u->role = dup_col(st, 3);
    u->password_hash = dup_col(st, 4);
    u->created_ms = sqlite3_column_int64(st, 5);
}

static int sq_user_get(rk_store_t *s, const char *name, rk_user_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_USER_GET);
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    memset(out, 0, sizeof *out);
    if (rc == SQLITE_ROW) { read_user(st, out); sqlite3_reset(st); return 0; }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) { snprintf(err, errlen, "no user '%s'", name); return RK_STORE_NOT_FOUND; }
    return fail(q, err, errlen, "user");
}

static int changed_or_missing(sq_t *q, int rc, const char *what, const char *key, char *err, size_t errlen)
{
    if (rc != 0) return rc;
    if (sqlite3_changes(q->db) == 0) { snprintf(err, errlen, "no %s '%s'", what, key); return RK_STORE_NOT_FOUND; }
    return 0;
}

static int sq_user_set_password(rk_store_t *s, const char *name, const char *hash, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (accounts_can_change(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_USER_SETPW);
    bind_text(st, 1, hash);
    bind_text(st, 2, name);
    int rc = changed_or_missing(q, exec(q, st, err, errlen, "user"), "user", name, err, errlen);
    if (rc == 0) accounts_changed(q);
    return rc;
}

static int sq_user_delete(rk_store_t *s, const char *name, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (accounts_can_change(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_USER_DEL);
    bind_text(st, 1, name);
    int rc = changed_or_missing(q, exec(q, st, err, errlen, "user"), "user", name, err, errlen);
    if (rc == 0) accounts_changed(q);
    return rc;
}

static int sq_user_list(rk_store_t *s, rk_user_t **out, size_t *n, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_USER_LIST);
    size_t cap = 8;
    *n = 0;
    *out = calloc(cap, sizeof **out);
    int rc;
    while (*out && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            rk_user_t *nu = realloc(*out, cap * 2 * sizeof *nu);
            if (!nu) break;
            *out = nu;
            cap *= 2;
        }
        memset(&(*out)[*n], 0, sizeof **out);
        read_user(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

/* ---- API keys -------------------------------------------------------------- */

static int sq_key_create(rk_store_t *s, rk_apikey_t *k, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (accounts_can_change(q, err, errlen) != 0) return -1;
    k->created_ms = rk_store_now_ms();
    k->last_used_ms = k->revoked_ms = 0;
    sqlite3_stmt *st = stmt(q, S_KEY_INSERT);
    bind_text(st, 1, k->id);
    bind_text(st, 2, k->name);
    bind_text(st, 3, k->role);
    bind_text(st, 4, k->hash);
    sqlite3_bind_int64(st, 5, k->created_ms);
    int rc = exec(q, st, err, errlen, "API key");
    if (rc == RK_STORE_CONFLICT) snprintf(err, errlen, "a key named '%s' exists: revoke it first", k->name);
    if (rc == 0) accounts_changed(q);
    return rc;
}

static void read_key(sqlite3_stmt *st, rk_apikey_t *k)
{
    snprintf(k->id, sizeof k->id, "%s", (const char *)sqlite3_column_text(st, 0));
    k->name = dup_col(st, 1);
    k->role = dup_col(st, 2);
    k->hash = dup_col(st, 3);
    k->created_ms = sqlite3_column_int64(st, 4);
    k->last_used_ms = sqlite3_column_int64(st, 5);
    k->revoked_ms = sqlite3_column_int64(st, 6);
}

static int sq_key_get(rk_store_t *s, const char *id, rk_apikey_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_KEY_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) { read_key(st, out); sqlite3_reset(st); return 0; }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) { snprintf(err, errlen, "no API key '%s'", id); return RK_STORE_NOT_FOUND; }
    return fail(q, err, errlen, "API key");
}

static int sq_key_list(rk_store_t *s, rk_apikey_t **out, size_t *n, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_KEY_LIST);
    size_t cap = 8;
    *out = calloc(cap, sizeof **out);
    int rc = SQLITE_DONE;
    while (*out && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            rk_apikey_t *nk = realloc(*out, cap * 2 * sizeof *nk);
            if (!nk) break;
            *out = nk;
            cap *= 2;
        }
        memset(&(*out)[*n], 0, sizeof **out);
        read_key(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    if (!*out || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
        for (size_t i = 0; *out && i < *n; i++) rk_store_key_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail(q, err, errlen, "API keys");
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int sq_key_revoke(rk_store_t *s, const char *name, int64_t now_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (accounts_can_change(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_KEY_REVOKE);
    bind_text(st, 1, name);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = changed_or_missing(q, exec(q, st, err, errlen, "API key"), "live API key", name, err, errlen);
    if (rc == 0) accounts_changed(q);
    return rc;
}

static int sq_key_touch(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_KEY_TOUCH);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return changed_or_missing(q, exec(q, st, err, errlen, "API key"), "API key", id, err, errlen);
}

/* ---- breakdowns ---------------------------------------------------------------- */

static int count_rows(sq_t *q, int which, int64_t since_ms, rk_count_t *out, int *n, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(q, which);
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int(st, 2, RK_BREAKDOWN_SAMPLE);
    if (which != S_BD_LEVEL) sqlite3_bind_int(st, 3, RK_BREAKDOWN_TOP);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < RK_BREAKDOWN_TOP) {
        const unsigned char *k = sqlite3_column_text(st, 0);
        snprintf(out[*n].key, sizeof out[*n].key, "%s", k ? (const char *)k : "");
        out[(*n)++].n = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(q, err, errlen, "breakdown");
}

static int sq_breakdown(rk_store_t *s, int64_t since_ms, rk_breakdown_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (count_rows(q, S_BD_LEVEL, since_ms, out->levels, &out->nlevels, err, errlen) ||
        count_rows(q, S_BD_COUNTRY, since_ms, out->countries, &out->ncountries, err, errlen) ||
        count_rows(q, S_BD_RULE, since_ms, out->rules, &out->nrules, err, errlen))
        return -1;
    for (int i = 0; i < out->nlevels; i++) out->counted += out->levels[i].n;
    return 0;
}

/* ---- the outbox ------------------------------------------------------------- */

static void read_item(sqlite3_stmt *st, rk_outbox_item_t *it)
{
    memset(it, 0, sizeof *it);
    snprintf(it->id, sizeof it->id, "%s", (const char *)sqlite3_column_text(st, 0));
    it->dest = dup_col(st, 1);
    it->kind = dup_col(st, 2);
    it->body = dup_col(st, 3);
    it->status = dup_col(st, 4);
    it->attempts = sqlite3_column_int(st, 5);
    it->created_ms = sqlite3_column_int64(st, 6);
    it->next_ms = sqlite3_column_int64(st, 7);
    it->done_ms = sqlite3_column_int64(st, 8);
    it->last_error = dup_col(st, 9);
}

/* Reads the rows of st into a growing array; 0, or -1 with err. */
static int read_items(sq_t *q, sqlite3_stmt *st, rk_outbox_item_t **out, size_t *n, char *err, size_t errlen)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            rk_outbox_item_t *a = realloc(*out, ncap * sizeof *a);
            if (!a) { sqlite3_reset(st); snprintf(err, errlen, "out of memory"); return -1; }
            *out = a;
            cap = ncap;
        }
        read_item(st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(q, err, errlen, "outbox");
}

static int sq_outbox_put(rk_store_t *s, rk_outbox_item_t *it, int64_t now_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    rk_store_new_id(it->id);
    it->created_ms = it->next_ms = now_ms;
    sqlite3_stmt *st = stmt(q, S_OB_PUT);
    bind_text(st, 1, it->id);
    bind_text(st, 2, it->dest);
    bind_text(st, 3, it->kind);
    bind_text(st, 4, it->body);
    sqlite3_bind_int64(st, 5, now_ms);
    return exec(q, st, err, errlen, "outbox");
}

static int sq_outbox_claim(rk_store_t *s, int64_t now_ms, int64_t lease_ms, int max, rk_outbox_item_t **out, size_t *n,
                           char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_OB_ANY_DUE);
    sqlite3_bind_int64(st, 1, now_ms);
    int due = sqlite3_step(st);
    sqlite3_reset(st);
    if (due == SQLITE_DONE) return 0;
    if (due != SQLITE_ROW) return fail(q, err, errlen, "outbox");
    st = stmt(q, S_OB_CLAIM);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, now_ms + lease_ms);
    sqlite3_bind_int(st, 3, max);
    int rc = read_items(q, st, out, n, err, errlen);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++) rk_store_outbox_item_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sq_outbox_done(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_OB_DONE);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return changed_or_missing(q, exec(q, st, err, errlen, "outbox"), "delivery", id, err, errlen);
}

static int sq_outbox_retry(rk_store_t *s, const char *id, int attempts, int64_t next_ms, const char *error, char *err,
                           size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_OB_RETRY);
    bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, next_ms);
    bind_text(st, 4, error);
    return changed_or_missing(q, exec(q, st, err, errlen, "outbox"), "delivery", id, err, errlen);
}

static int sq_outbox_dead(rk_store_t *s, const char *id, int attempts, int64_t now_ms, const char *error, char *err,
                          size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_OB_DEAD);
    bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, now_ms);
    bind_text(st, 4, error);
    return changed_or_missing(q, exec(q, st, err, errlen, "outbox"), "delivery", id, err, errlen);
}

static int sq_outbox_list(rk_store_t *s, const rk_outbox_filter_t *f, rk_outbox_list_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    int per = f->per_page > 0 ? f->per_page : 20, page = f->page > 0 ? f->page : 1;
    sqlite3_stmt *st = stmt(q, f->status ? S_OB_COUNT_STATUS : S_OB_COUNT);
    if (f->status) bind_text(st, 1, f->status);
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_reset(st); return fail(q, err, errlen, "outbox"); }
    out->total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = stmt(q, f->status ? S_OB_LIST_STATUS : S_OB_LIST);
    int i = 1;
    if (f->status) bind_text(st, i++, f->status);
    sqlite3_bind_int(st, i++, per);
    sqlite3_bind_int64(st, i, (int64_t)(page - 1) * per);
    int rc = read_items(q, st, &out->items, &out->n, err, errlen);
    if (rc != 0) rk_store_outbox_list_free(out);
    return rc;
}

static int sq_outbox_requeue(rk_store_t *s, const char *id, int64_t now_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_OB_REQUEUE);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return changed_or_missing(q, exec(q, st, err, errlen, "outbox"), "dead delivery", id, err, errlen);
}

/* ---- events ---------------------------------------------------------------- */

static int insert_event(sq_t *q, rk_event_t *e, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(q, S_EV_INSERT);
    bind_text(st, 1, e->id);
    bind_text(st, 2, e->user_id);
    sqlite3_bind_int64(st, 3, e->ts_ms);
    bind_text(st, 4, e->ip);
    sqlite3_bind_int(st, 5, e->success != 0);
    sqlite3_bind_double(st, 6, e->risk_score);
    bind_text(st, 7, e->risk_level);
    sqlite3_bind_int(st, 8, e->is_anomaly != 0);
    sqlite3_bind_double(st, 9, e->anomaly_score);
    bind_text(st, 10, e->action);
    bind_text(st, 11, e->country);
    bind_text(st, 12, e->city);
    sqlite3_bind_int(st, 13, e->has_geo != 0);
    if (e->has_geo) { sqlite3_bind_double(st, 14, e->lat); sqlite3_bind_double(st, 15, e->lon); }
    bind_text(st, 16, e->device_id);
    bind_text(st, 17, e->user_agent);
    bind_text(st, 18, e->asn);
    bind_text(st, 19, e->ip_prefix);
    bind_text(st, 20, e->alert_id);
    bind_text(st, 21, e->doc);
    sqlite3_bind_int(st, 22, e->held);
    if (e->held == RK_LEARN_ON_GRACE) sqlite3_bind_int64(st, 23, e->learn_at);
    bind_text(st, 24, e->outcome);
    if (exec(q, st, err, errlen, "event") != 0) return -1;
    ranges_add(&q->pend, sqlite3_last_insert_rowid(q->db));
    if (q->live) {
        rk_live_note(q->live, e->user_id, e->ip, e->ts_ms, e->success);
        q->live_fed = 1;
    }
    return 0;
}

/* What this connection has added to counter m and not yet written: a
 * reader on the same connection inside a batch must see its own writes. */
static int64_t pending(const sq_t *q, int m) { return q->bdelta[m] + q->wdelta[m] + q->sdelta[m]; }

static int64_t meta_get(sq_t *q, int m)
{
    char key[32];
    meta_key(m, key, sizeof key);
    sqlite3_stmt *st = stmt(q, S_META_GET);
    bind_text(st, 1, key);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return v + pending(q, m);
}

static void update_aggregates(sq_t *q, const rk_event_t *e)
{
    q->sums_touched = 1;
    rk_sums_event(q->sums, e->user_id, e->ip, e->ts_ms, e->ts_ms / HOUR_MS, !e->success, e->is_anomaly != 0,
                  e->risk_score, rk_store_level_index(e->risk_level));
}

static int load_profile(sq_t *q, const char *user_id, rk_profile_t *p, char *err, size_t errlen)
{
    if (q->live && rk_live_profile_get(q->live, user_id, p)) return 0;
    sqlite3_stmt *st = stmt(q, S_PROFILE_GET);
    bind_text(st, 1, user_id);
    int rc = sqlite3_step(st);
    rk_profile_reset(p);
    snprintf(p->user_id, sizeof p->user_id, "%s", user_id);
    if (rc == SQLITE_ROW) {
        int bad = rk_profile_decode(p, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        if (sqlite3_column_type(st, 1) == SQLITE_TEXT) {
            snprintf(p->state, sizeof p->state, "%s", (const char *)sqlite3_column_text(st, 1));
            const unsigned char *by = sqlite3_column_text(st, 2);
            snprintf(p->state_by, sizeof p->state_by, "%s", by ? (const char *)by : "");
            p->state_ms = sqlite3_column_int64(st, 3);
        }
        sqlite3_reset(st);
        if (bad) { snprintf(err, errlen, "profile of '%s' is unreadable", user_id); return -1; }
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return RK_STORE_NOT_FOUND;
    return fail(q, err, errlen, "profile");
}

static int sq_user_state_set(rk_store_t *s, const char *user_id, const char *state, const char *by, int64_t ts_ms,
                             char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_STATE_HAS_PROFILE);
    bind_text(st, 1, user_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) { snprintf(err, errlen, "no profile for '%s'", user_id); return RK_STORE_NOT_FOUND; }
    if (rc != SQLITE_ROW) return fail(q, err, errlen, "user state");
    st = stmt(q, state ? S_STATE_PUT : S_STATE_DEL);
    bind_text(st, 1, user_id);
    if (state) {
        bind_text(st, 2, state);
        bind_text(st, 3, by);
        sqlite3_bind_int64(st, 4, ts_ms);
    }
    if (exec(q, st, err, errlen, "user state") != 0) return -1;
    if (q->live) rk_live_state(q->live, user_id, state, by, ts_ms);
    return 0;
}

static int value_count(sq_t *q, int k, const char *value, int64_t *count, char *err, size_t errlen);

/* The global counts of the values of a successful login, with per-kind
 * totals and distinct counts in meta ("vc:<kind>:total", "vc:<kind>:distinct"):
 * added to the sums, or (direct, for an event the sums no longer hold)
 * written at once. */
static int count_values(sq_t *q, const rk_event_t *e, int direct, char *err, size_t errlen)
{
    if (!RK_EVENT_LEARNS(e)) return 0;
    char prefix[80];
    const char *vals[RK_PK_COUNT];
    rk_profile_values(e, vals, prefix, sizeof prefix);
    if (q->live && q->live_owner && rk_live_is_on(q->live)) {   /* the totals so far, once, before this event adds to them */
        int64_t t[RK_PK_COUNT], d[RK_PK_COUNT];
        if (!rk_live_totals(q->live, t, d)) {
            for (int k = 0; k < RK_PK_COUNT; k++) { t[k] = meta_get(q, M_VC_TOTAL + k); d[k] = meta_get(q, M_VC_DISTINCT + k); }
            rk_live_totals_set(q->live, t, d);
        }
    }
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (!vals[k]) continue;
        rk_sums_value_t *v = rk_sums_value(q->sums, k, vals[k]);
        int64_t count;
        int fresh;
        if (direct) {
            sqlite3_stmt *st = stmt(q, S_VC_ADD);
            sqlite3_bind_int(st, 1, k);
            bind_text(st, 2, vals[k]);
            sqlite3_bind_int64(st, 3, 1);
            int rc = sqlite3_step(st);
            count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(q, err, errlen, "value_counts");
            fresh = rc == SQLITE_DONE;
            if (fresh) {
                st = stmt(q, S_VC_NEW);
                sqlite3_bind_int(st, 1, k);
                bind_text(st, 2, vals[k]);
                sqlite3_bind_int64(st, 3, 1);
                if (exec(q, st, err, errlen, "value_counts") != 0) return -1;
                q->wdelta[M_VC_DISTINCT + k]++;
            }
            q->wdelta[M_VC_TOTAL + k]++;
            if (v) {   /* the unwritten part comes on top */
                fresh = v->count == 0;
                count = ++v->count;
                q->sums_touched = 1;
            }
        } else {
            if (!v) {
                int64_t base;
                if (value_count(q, k, vals[k], &base, err, errlen) != 0) return -1;
                v = rk_sums_value_new(q->sums, k, vals[k], base);
            }
            fresh = v->count == 0;
            count = ++v->count;
            v->delta++;
            q->sums_touched = 1;
            q->sdelta[M_VC_TOTAL + k]++;
            q->sdelta[M_VC_DISTINCT + k] += fresh;
        }
        if (q->live) {
            if (q->live_owner) rk_live_value_put(q->live, k, vals[k], count);
            else rk_live_value_drop(q->live, k, vals[k]);
            rk_live_totals_add(q->live, k, 1, fresh);
            q->live_fed = 1;
        }
    }
    return 0;
}

/* How many successful logins had value (0 for none), from memory when held. */
static int value_count(sq_t *q, int k, const char *value, int64_t *count, char *err, size_t errlen)
{
    *count = 0;
    rk_sums_value_t *v = rk_sums_keys(q->sums) ? rk_sums_value(q->sums, k, value) : NULL;   /* a worker's are empty */
    if (v) { *count = v->count; return 0; }
    if (q->live && rk_live_value_get(q->live, k, value, count)) return 0;
    sqlite3_stmt *st = stmt(q, S_VC_GET);
    sqlite3_bind_int(st, 1, k);
    bind_text(st, 2, value);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *count = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(q, err, errlen, "value_counts");
}

static int sq_global_count(rk_store_t *s, rk_profile_kind k, const char *value, rk_global_count_t *out,
                           char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    memset(out, 0, sizeof *out);
    if (value_count(q, (int)k, value, &out->count, err, errlen) != 0) return -1;
    int64_t t[RK_PK_COUNT], d[RK_PK_COUNT];
    if (q->live && rk_live_totals(q->live, t, d)) {
        out->total = t[k];
        out->distinct = d[k];
        return 0;
    }
    out->total = meta_get(q, M_VC_TOTAL + (int)k);
    out->distinct = meta_get(q, M_VC_DISTINCT + (int)k);
    return 0;
}

static int sq_global_counts(rk_store_t *s, const char *const *vals, rk_global_count_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    int64_t total[RK_PK_COUNT] = { 0 }, distinct[RK_PK_COUNT] = { 0 };
    memset(out, 0, sizeof *out * RK_PK_COUNT);
    if (q->live && rk_live_totals(q->live, total, distinct)) {
        for (int k = 0; k < RK_PK_COUNT; k++) {
            if (!vals[k]) continue;
            out[k].total = total[k];
            out[k].distinct = distinct[k];
            if (value_count(q, k, vals[k], &out[k].count, err, errlen) != 0) return -1;
        }
        return 0;
    }
    sqlite3_stmt *st = stmt(q, S_VC_TOTALS);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k;
        char which[16];
        if (sscanf((const char *)sqlite3_column_text(st, 0), "vc:%d:%15s", &k, which) != 2 || k < 0 || k >= RK_PK_COUNT)
            continue;
        (strcmp(which, "total") == 0 ? total : distinct)[k] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return fail(q, err, errlen, "meta");
    for (int k = 0; k < RK_PK_COUNT; k++) {
        if (!vals[k]) continue;
        out[k].total = total[k] + pending(q, M_VC_TOTAL + k);
        out[k].distinct = distinct[k] + pending(q, M_VC_DISTINCT + k);
        if (value_count(q, k, vals[k], &out[k].count, err, errlen) != 0) return -1;
    }
    return 0;
}

/* The event's share of its user's profile: all of it, or (learn_only, for
 * a held success being settled) the learning half; its values counted into
 * the sums, or (direct) in the tables at once. */
static int apply_profile(sq_t *q, const rk_event_t *e, int learn_only, int direct, char *err, size_t errlen)
{
    if (count_values(q, e, direct, err, errlen) < 0) return -1;
    rk_profile_t *p = q->profile;
    int rc = load_profile(q, e->user_id, p, err, errlen);
    if (rc < 0) return -1;
    if (rc == RK_STORE_NOT_FOUND) q->wdelta[M_USERS]++;
    int raised = rc == 0 && e->risk_score > p->max_risk;   /* an existing row's max_risk to set */
    if (learn_only) rk_profile_learn(p, e);
    else rk_profile_apply(p, e);
    size_t len = rk_profile_encode(p, q->blob, RK_PROFILE_MAX_BYTES);
    sqlite3_stmt *st = stmt(q, S_PROFILE_PUT);
    bind_text(st, 1, e->user_id);
    sqlite3_bind_int64(st, 2, p->last_ms);
    sqlite3_bind_int64(st, 3, p->attempts);
    sqlite3_bind_int64(st, 4, p->anomalies);
    sqlite3_bind_double(st, 5, p->risk_sum);
    sqlite3_bind_double(st, 6, p->max_risk);
    sqlite3_bind_int64(st, 7, p->high_risk);
    sqlite3_bind_blob(st, 8, q->blob, (int)len, SQLITE_STATIC);
    double max_risk = p->max_risk;
    if (exec(q, st, err, errlen, "profile") != 0) return -1;
    if (q->live) {
        if (q->live_owner) rk_live_profile_put(q->live, p, q->blob, len);
        else rk_live_profile_drop(q->live, e->user_id);
        q->live_fed = 1;
    }
    if (!raised) return 0;
    st = stmt(q, S_PROFILE_MAX);
    bind_text(st, 1, e->user_id);
    sqlite3_bind_double(st, 2, max_risk);
    return exec(q, st, err, errlen, "profile") != 0 ? -1 : 0;
}

/* ---- summaries: flushed sums, and their replay ---------------------------- */

static int read_event(sqlite3_stmt *st, rk_event_t *e);

/* meta 'sums_pending': "lo-hi lo-hi ..." */
static int write_pending(sq_t *q, char *err, size_t errlen)
{
    if (q->pend.n == 0) return 0;
    char text[SUMS_RANGES * 42 + 1];
    size_t used = 0;
    for (int i = 0; i < q->pend.n; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%lld-%lld", i ? " " : "",
                                 (long long)q->pend.r[i][0], (long long)q->pend.r[i][1]);
    sqlite3_stmt *st = stmt(q, S_META_SET);
    bind_text(st, 1, "sums_pending");
    bind_text(st, 2, text);
    q->pending_row = 1;
    return exec(q, st, err, errlen, "meta");
}

static int read_pending(sq_t *q, ranges_t *out, char *err, size_t errlen)
{
    out->n = 0;
    sqlite3_stmt *st = stmt(q, S_META_TEXT);
    bind_text(st, 1, "sums_pending");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        long long lo, hi;
        int used;
        while (out->n < SUMS_RANGES && sscanf(t, " %lld-%lld%n", &lo, &hi, &used) == 2) {
            out->r[out->n][0] = lo;
            out->r[out->n][1] = hi;
            out->n++;
            t += used;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(q, err, errlen, "meta");
}

/* The sums again from the events of pend, read back on this connection
 * (which sees its own uncommitted writes). The live state already counted
 * them: it is left alone. */
static int rebuild_sums(sq_t *q, char *err, size_t errlen)
{
    rk_sums_clear(q->sums);
    memset(q->sdelta, 0, sizeof q->sdelta);
    rk_live_t *lv = q->live;
    q->live = NULL;
    int rc = 0;
    sqlite3_stmt *st = stmt(q, S_EV_RANGE);
    for (int i = 0; i < q->pend.n && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, q->pend.r[i][0]);
        sqlite3_bind_int64(st, 2, q->pend.r[i][1]);
        int step;
        while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
            rk_event_t e;
            if (read_event(st, &e) != 0) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
            update_aggregates(q, &e);
            rc = count_values(q, &e, 0, err, errlen);
            rk_store_event_free(&e);
        }
        if (rc == 0 && step != SQLITE_DONE) rc = fail(q, err, errlen, "events");
    }
    sqlite3_reset(st);
    q->live = lv;
    if (rc == 0) q->sums_bad = 0;
    return rc;
}

typedef struct { sq_t *q; char *err; size_t errlen; } flush_arg;

static int flush_hour(void *arg, int64_t bucket, const rk_sums_hour_t *h)
{
    flush_arg *a = arg;
    sqlite3_stmt *st = stmt(a->q, S_HOURLY);
    sqlite3_bind_int64(st, 1, bucket);
    sqlite3_bind_int64(st, 2, h->attempts);
    sqlite3_bind_int64(st, 3, h->failures);
    sqlite3_bind_int64(st, 4, h->anomalies);
    sqlite3_bind_double(st, 5, h->risk_sum);
    for (int l = 0; l < 4; l++) sqlite3_bind_int64(st, 6 + l, h->levels[l]);
    return exec(a->q, st, a->err, a->errlen, "hourly");
}

static int flush_user_hour(void *arg, const char *user, int64_t bucket, const rk_sums_user_hour_t *u)
{
    flush_arg *a = arg;
    sqlite3_stmt *st = stmt(a->q, S_USER_HOURLY);
    bind_text(st, 1, user);
    sqlite3_bind_int64(st, 2, bucket);
    sqlite3_bind_int64(st, 3, u->attempts);
    sqlite3_bind_double(st, 4, u->risk_sum);
    sqlite3_bind_double(st, 5, u->max_risk);
    sqlite3_bind_int64(st, 6, u->anomalies);
    sqlite3_bind_int64(st, 7, u->high);
    return exec(a->q, st, a->err, a->errlen, "user_hourly");
}

/* A new address is counted as it is first written (meta 'ips'); a known
 * one's last sighting moves to the hour. */
static int flush_ip(void *arg, const char *ip, const rk_sums_ip_t *s)
{
    flush_arg *a = arg;
    sqlite3_stmt *st = stmt(a->q, S_IP);
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, s->first_ms);
    if (exec(a->q, st, a->err, a->errlen, "ips") != 0) return -1;
    if (sqlite3_changes(a->q->db) == 1) a->q->sdelta[M_IPS]++;
    st = stmt(a->q, S_IP_TOUCH);
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, s->last_ms);
    return exec(a->q, st, a->err, a->errlen, "ips");
}

static int flush_value(void *arg, int kind, const char *value, const rk_sums_value_t *v)
{
    flush_arg *a = arg;
    if (v->delta == 0) return 0;
    sqlite3_stmt *st = stmt(a->q, S_VC_ADD);
    sqlite3_bind_int(st, 1, kind);
    bind_text(st, 2, value);
    sqlite3_bind_int64(st, 3, v->delta);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return fail(a->q, a->err, a->errlen, "value_counts");
    st = stmt(a->q, S_VC_NEW);
    sqlite3_bind_int(st, 1, kind);
    bind_text(st, 2, value);
    sqlite3_bind_int64(st, 3, v->delta);
    return exec(a->q, st, a->err, a->errlen, "value_counts");
}

/* Writes what the sums hold, with their counters, inside the current
 * transaction; sums_flushed empties them once that is committed (or at
 * once inside a batch's write: a rollback rebuilds them from pend). */
static int flush_sums(sq_t *q, char *err, size_t errlen)
{
    if (q->sums_bad && rebuild_sums(q, err, errlen) != 0) return -1;
    if (rk_sums_keys(q->sums) == 0 && q->pend.n == 0) return 0;
    flush_arg a = { q, err, errlen };
    static const rk_sums_visit_t vis = { flush_hour, flush_user_hour, flush_ip, flush_value };
    if (rk_sums_each(q->sums, &vis, &a) != 0 || flush_meta(q, q->sdelta, err, errlen) != 0) return -1;
    if (!q->pending_row) return 0;   /* a handle that writes with every commit never has one */
    sqlite3_stmt *st = stmt(q, S_META_DEL);
    bind_text(st, 1, "sums_pending");
    return exec(q, st, err, errlen, "meta");
}

static void sums_flushed(sq_t *q)
{
    rk_sums_clear(q->sums);
    memset(q->sdelta, 0, sizeof q->sdelta);
    q->pend.n = 0;
    q->pending_row = 0;
    q->flushed_ms = rk_store_now_ms();
    if (q->live && q->live_owner) rk_live_deferred_set(q->live, 0);
}

/* Flushes inside a write of a batch (before what would otherwise read or
 * undo events the sums hold). */
static int flush_now(sq_t *q, char *err, size_t errlen)
{
    q->sums_touched = 1;
    if (flush_sums(q, err, errlen) != 0) return -1;
    sums_flushed(q);
    return 0;
}

static int sq_sync(rk_store_t *s, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (rk_sums_keys(q->sums) == 0 && q->pend.n == 0 && !q->sums_bad) return 0;
    if (begin(q, err, errlen) != 0) return -1;
    if ((q->batch && flush_now(q, err, errlen) != 0) || commit(q, err, errlen) != 0) { rollback(q); return -1; }
    return 0;
}

/* Unwritten sums: this handle's, or (a reader of a server's store) its writer's. */
static int64_t sq_unflushed(rk_store_t *s)
{
    sq_t *q = SQ(s);
    if (q->pend.n) return 1;
    return q->live && !q->live_owner ? rk_live_deferred(q->live) : 0;
}

/* After a crash: the sums of the events recorded since the last flush,
 * from the events themselves, written. */
static int replay_sums(sq_t *q, char *err, size_t errlen)
{
    if (exec(q, stmt(q, S_BEGIN), err, errlen, "begin") != 0) return -1;
    int rc = read_pending(q, &q->pend, err, errlen);
    q->sums_bad = 1;   /* flush_sums rebuilds them from pend first */
    q->pending_row = 1;
    if (rc != 0 || flush_sums(q, err, errlen) != 0 || exec(q, stmt(q, S_COMMIT), err, errlen, "commit") != 0) {
        char e[64];
        exec(q, stmt(q, S_ROLLBACK), e, sizeof e, "rollback");
        return -1;
    }
    if (q->pend.n) {
        long long n = 0;
        for (int i = 0; i < q->pend.n; i++) n += q->pend.r[i][1] - q->pend.r[i][0] + 1;
        rk_log_t lg;
        rk_log_begin(&lg, RK_LOG_WARN, "store: summaries rebuilt from the events an unclean stop left unsummed");
        rk_log_int(&lg, "events", n);
        rk_log_end(&lg);
    }
    sums_flushed(q);
    return 0;
}

static int sq_event_record(rk_store_t *s, rk_event_t *ev, size_t n, int update_profile, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    for (size_t i = 0; i < n; i++) if (rk_store_check_event(&ev[i], err, errlen) < 0) return -1;
    if (begin(q, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        rk_event_t *e = &ev[i];
        rk_store_new_id(e->id);
        if (insert_event(q, e, err, errlen) != 0) {
            rollback(q);
            return -1;
        }
        update_aggregates(q, e);
        if (update_profile && apply_profile(q, e, 0, 0, err, errlen) != 0) {
            rollback(q);
            return -1;
        }
    }
    q->wdelta[M_EVENTS] += (int64_t)n;
    if (commit(q, err, errlen) != 0) {
        rollback(q);
        return -1;
    }
    return 0;
}

static int sq_profile_update(rk_store_t *s, const rk_event_t *e, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (begin(q, err, errlen) != 0) return -1;
    if (apply_profile(q, e, 0, 1, err, errlen) != 0 || commit(q, err, errlen) != 0) { rollback(q); return -1; }
    return 0;
}

static int read_event(sqlite3_stmt *st, rk_event_t *e);

/* Settles event id inside the caller's transaction: the outcome noted, a
 * held success learned (learn) or dropped. */
static int settle(sq_t *q, const char *id, const char *outcome, int learn, int *learned, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(q, S_EV_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) { sqlite3_reset(st); snprintf(err, errlen, "no event '%s'", id); return RK_STORE_NOT_FOUND; }
    rk_event_t e;
    if (rc != SQLITE_ROW) { sqlite3_reset(st); return fail(q, err, errlen, "event"); }
    if (read_event(st, &e) != 0) { sqlite3_reset(st); snprintf(err, errlen, "out of memory"); return -1; }
    sqlite3_reset(st);
    int held = e.held;
    /* A replay after a crash recounts an event the sums hold from its row,
     * where a settled success reads as learned: one learned now is counted
     * into the sums, one dropped must leave them first (a flush), and one
     * they no longer hold is counted in the tables at once. */
    int pending_event = 0;
    if (held && e.success && q->pend.n) {
        st = stmt(q, S_EV_ROWID);
        bind_text(st, 1, id);
        int64_t rowid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        pending_event = ranges_has(&q->pend, rowid);
        if (pending_event && !learn) {
            if (flush_now(q, err, errlen) != 0) { rk_store_event_free(&e); return -1; }
            pending_event = 0;
        }
    }
    st = stmt(q, S_EV_OUTCOME);
    bind_text(st, 1, id);
    bind_text(st, 2, outcome);
    rc = exec(q, st, err, errlen, "event");
    if (rc == 0 && held && learn && e.success) {
        e.held = RK_LEARN_NOW;
        rc = apply_profile(q, &e, 1, !pending_event, err, errlen);
        *learned = rc == 0;
    }
    rk_store_event_free(&e);
    return rc;
}

static int sq_event_outcome(rk_store_t *s, const char *id, const char *outcome, int learn, int *learned,
                            char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (begin(q, err, errlen) != 0) return -1;
    int rc = settle(q, id, outcome, learn, learned, err, errlen);
    if (rc != 0 || commit(q, err, errlen) != 0) {
        rollback(q);
        *learned = 0;
        return rc ? rc : -1;
    }
    return 0;
}

/* The held successes whose grace period has ended, learned in one
 * transaction. */
static int sq_events_settle(rk_store_t *s, int64_t now_ms, int batch, int64_t *n, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    char (*ids)[RK_STORE_ID_LEN] = calloc((size_t)(batch > 0 ? batch : 1), sizeof *ids);
    if (!ids) { snprintf(err, errlen, "out of memory"); return -1; }
    if (begin(q, err, errlen) != 0) { free(ids); return -1; }
    sqlite3_stmt *st = stmt(q, S_EV_DUE);
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, batch);
    int found = 0, rc;
    while (found < batch && (rc = sqlite3_step(st)) == SQLITE_ROW)
        snprintf(ids[found++], RK_STORE_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    int bad = 0;
    for (int i = 0; i < found && !bad; i++) {
        int learned = 0;
        bad = settle(q, ids[i], NULL, 1, &learned, err, errlen) < 0;
        *n += learned;
    }
    free(ids);
    if (bad || commit(q, err, errlen) != 0) { rollback(q); *n = 0; return -1; }
    return 0;
}

static int sq_profile_get(rk_store_t *s, const char *user_id, rk_profile_t *out, char *err, size_t errlen)
{
    int rc = load_profile(SQ(s), user_id, out, err, errlen);
    if (rc == RK_STORE_NOT_FOUND) snprintf(err, errlen, "no profile for '%s'", user_id);
    return rc;
}

/* The text columns cols[0..n) of the current row, copied into one block
 * (the record's `owned`): vals[col] points into it, NULL for NULL columns.
 * Returns the block, NULL when out of memory. */
static char *text_columns(sqlite3_stmt *st, const int *cols, size_t n, const char **vals)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++) need += (size_t)sqlite3_column_bytes(st, cols[i]) + 1;
    char *blk = malloc(need), *p = blk;
    if (!blk) return NULL;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *t = sqlite3_column_text(st, cols[i]);
        if (!t) continue;
        size_t len = (size_t)sqlite3_column_bytes(st, cols[i]);
        memcpy(p, t, len + 1);
        vals[cols[i]] = p;
        p += len + 1;
    }
    return blk;
}

/* Copies the text columns of an event row into one block the event owns. */
static int read_event(sqlite3_stmt *st, rk_event_t *e)
{
    static const int text_cols[] = { 1, 3, 6, 9, 10, 11, 15, 16, 17, 18, 19, 20, 23 };
    const char *vals[24] = { 0 };
    char *blk = text_columns(st, text_cols, sizeof text_cols / sizeof *text_cols, vals);
    if (!blk) return -1;
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", (const char *)sqlite3_column_text(st, 0));
    e->user_id = vals[1];
    e->ts_ms = sqlite3_column_int64(st, 2);
    e->ip = vals[3];
    e->success = sqlite3_column_int(st, 4);
    e->risk_score = sqlite3_column_double(st, 5);
    e->risk_level = vals[6];
    e->is_anomaly = sqlite3_column_int(st, 7);
    e->anomaly_score = sqlite3_column_double(st, 8);
    e->action = vals[9];
    e->country = vals[10];
    e->city = vals[11];
    e->has_geo = sqlite3_column_int(st, 12);
    e->lat = sqlite3_column_double(st, 13);
    e->lon = sqlite3_column_double(st, 14);
    e->device_id = vals[15];
    e->user_agent = vals[16];
    e->asn = vals[17];
    e->ip_prefix = vals[18];
    e->alert_id = vals[19];
    e->doc = vals[20];
    e->held = sqlite3_column_int(st, 21);
    e->learn_at = sqlite3_column_int64(st, 22);
    e->outcome = vals[23];
    e->owned = blk;
    return 0;
}

static int sq_event_get(rk_store_t *s, const char *id, rk_event_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_EV_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    memset(out, 0, sizeof *out);
    if (rc == SQLITE_ROW) {
        rc = read_event(st, out);
        sqlite3_reset(st);
        if (rc < 0) { snprintf(err, errlen, "out of memory"); return -1; }
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) { snprintf(err, errlen, "no event '%s'", id); return RK_STORE_NOT_FOUND; }
    return fail(q, err, errlen, "event");
}

static int sq_event_set_alert(rk_store_t *s, const char *event_id, const char *alert_id, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_EV_SET_ALERT);
    bind_text(st, 1, alert_id);
    bind_text(st, 2, event_id);
    return changed_or_missing(q, exec(q, st, err, errlen, "event"), "event", event_id, err, errlen);
}

/* A list query: its filter conditions (one per mask bit, each with its own
 * parameter number), its columns and its order. */
typedef struct {
    const char *table, *cols, *order;   /* order ends with the LIMIT/OFFSET parameters */
    const char *const *conds;
    int nconds;
} query_shape_t;

static const char *const event_conds[] = { "user_id = ?1", "risk_level = ?2", "risk_score >= ?3",
                                           "ts_ms >= ?4", "ts_ms < ?5", "is_anomaly = 1", "ip = ?8", "country = ?9",
                                           ("EXISTS (SELECT 1 FROM json_each(events.doc, '$.rules') r"
                                            " WHERE r.value ->> '$.name' = ?10)") };
static const query_shape_t event_shape = { "events", EVENT_COLS, "ORDER BY ts_ms DESC, id DESC LIMIT ?6 OFFSET ?7",
                                           event_conds, 9 };
static const char *const alert_conds[] = { "status = ?1", "severity = ?2", "user_id = ?3", "created_ms >= ?4",
                                           "created_ms < ?7" };
static const query_shape_t alert_shape = { "alerts", ALERT_COLS, "ORDER BY created_ms DESC, id DESC LIMIT ?5 OFFSET ?6",
                                           alert_conds, 5 };
static const char *const phish_conds[] = { "verdict = ?1", "sender = ?2", "score >= ?3", "ts_ms >= ?4", "ts_ms < ?5" };
static const query_shape_t phish_shape = { "phishing", PHISH_COLS, "ORDER BY ts_ms DESC, id DESC LIMIT ?6 OFFSET ?7",
                                           phish_conds, 5 };

/* The statement for a filter mask: built and prepared the first time, then
 * kept in *slot for the life of the connection. */
static sqlite3_stmt *filtered_query(sq_t *q, sqlite3_stmt **slot, const query_shape_t *qs, int mask, int count,
                                    char *err, size_t errlen)
{
    if (*slot) { sqlite3_reset(*slot); sqlite3_clear_bindings(*slot); return *slot; }
    char w[512] = "";
    size_t n = 0;
    for (int i = 0; i < qs->nconds; i++)
        if (mask & (1 << i)) n += (size_t)snprintf(w + n, sizeof w - n, "%s%s", n ? " AND " : " WHERE ", qs->conds[i]);
    char text[1024];
    if (count) snprintf(text, sizeof text, "SELECT count(*) FROM %s%s", qs->table, w);
    else snprintf(text, sizeof text, "SELECT %s FROM %s%s %s", qs->cols, qs->table, w, qs->order);
    if (sqlite3_prepare_v3(q->db, text, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        fail(q, err, errlen, qs->table);
        return NULL;
    }
    return *slot;
}

static sqlite3_stmt *event_query(sq_t *q, int mask, int count, char *err, size_t errlen)
{
    return filtered_query(q, count ? &q->ev_count[mask] : &q->ev_list[mask], &event_shape, mask, count, err, errlen);
}

static void bind_event_filter(sqlite3_stmt *st, const rk_event_filter_t *f, int mask)
{
    if (mask & EVF_USER) bind_text(st, 1, f->user_id);
    if (mask & EVF_LEVEL) bind_text(st, 2, f->risk_level);
    if (mask & EVF_MINRISK) sqlite3_bind_double(st, 3, f->min_risk);
    if (mask & EVF_SINCE) sqlite3_bind_int64(st, 4, f->since_ms);
    if (mask & EVF_UNTIL) sqlite3_bind_int64(st, 5, f->until_ms);
    if (mask & EVF_IP) bind_text(st, 8, f->ip);
    if (mask & EVF_COUNTRY) bind_text(st, 9, f->country);
    if (mask & EVF_RULE) bind_text(st, 10, f->rule);
}

static int paging(int *page, int *per_page)
{
    if (*page < 1) *page = 1;
    if (*per_page < 1) *per_page = 20;
    if (*per_page > 1000) *per_page = 1000;
    return 0;
}

static int sq_event_list(rk_store_t *s, const rk_event_filter_t *f, rk_event_list_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    memset(out, 0, sizeof *out);
    int mask = (f->user_id ? EVF_USER : 0) | (f->risk_level ? EVF_LEVEL : 0) | (f->min_risk >= 0 ? EVF_MINRISK : 0) |
               (f->since_ms ? EVF_SINCE : 0) | (f->until_ms ? EVF_UNTIL : 0) | (f->anomaly_only ? EVF_ANOMALY : 0) |
               (f->ip ? EVF_IP : 0) | (f->country ? EVF_COUNTRY : 0) | (f->rule ? EVF_RULE : 0);
    if ((mask & EVF_NEEDS_SINCE) && !(mask & EVF_SINCE)) {
        snprintf(err, errlen, "a country or rule filter needs since");
        return -1;
    }
    int page = f->page, per = f->per_page;
    paging(&page, &per);
    sqlite3_stmt *c = mask ? event_query(q, mask, 1, err, errlen) : stmt(q, S_EV_TOTAL);
    if (!c) return -1;
    bind_event_filter(c, f, mask);
    int crc = sqlite3_step(c);
    if (mask && crc != SQLITE_ROW) { sqlite3_reset(c); return fail(q, err, errlen, "events"); }
    /* Unfiltered: the counter (no row before the first event), plus what a
     * batch on this connection has added. */
    out->total = crc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    if (!mask) out->total += pending(q, M_EVENTS);
    sqlite3_reset(c);
    sqlite3_stmt *st = event_query(q, mask, 0, err, errlen);
    if (!st) return -1;
    bind_event_filter(st, f, mask);
    sqlite3_bind_int(st, 6, per);
    sqlite3_bind_int64(st, 7, (int64_t)(page - 1) * per);
    out->items = calloc((size_t)per, sizeof *out->items);
    if (!out->items) { snprintf(err, errlen, "out of memory"); return -1; }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (read_event(st, &out->items[out->n]) < 0) { sqlite3_reset(st); rk_store_event_list_free(out); snprintf(err, errlen, "out of memory"); return -1; }
        out->n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) { rk_store_event_list_free(out); return fail(q, err, errlen, "events"); }
    return 0;
}

static int sq_recent(rk_store_t *s, const char *user_id, const char *ip, int64_t since_ms,
                     int64_t *user_failures, int64_t *ip_users, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (q->live && rk_live_recent(q->live, user_id, ip, since_ms, user_failures, ip_users)) return 0;
    sqlite3_stmt *st = stmt(q, S_RECENT_FAIL);
    bind_text(st, 1, user_id);
    sqlite3_bind_int64(st, 2, since_ms);
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_reset(st); return fail(q, err, errlen, "recent"); }
    *user_failures = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = stmt(q, S_RECENT_IPUSERS);
    bind_text(st, 1, ip);
    sqlite3_bind_int64(st, 2, since_ms);
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_reset(st); return fail(q, err, errlen, "recent"); }
    *ip_users = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* ---- alerts ---------------------------------------------------------------- */

static int add_history(sq_t *q, const char *id, int64_t ts, const char *status, const char *who,
                       const char *note, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(q, S_ALERT_HIST);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, ts);
    bind_text(st, 3, status);
    bind_text(st, 4, who);
    bind_text(st, 5, note);
    return exec(q, st, err, errlen, "alert history");
}

static int link_event(sq_t *q, const char *alert_id, const char *event_id, char *err, size_t errlen)
{
    if (!event_id) return 0;
    sqlite3_stmt *st = stmt(q, S_ALERT_EVENT);
    bind_text(st, 1, alert_id);
    bind_text(st, 2, event_id);
    if (exec(q, st, err, errlen, "alert event") != 0) return -1;
    st = stmt(q, S_EV_SET_ALERT);
    bind_text(st, 1, alert_id);
    bind_text(st, 2, event_id);
    return exec(q, st, err, errlen, "event") != 0 ? -1 : 0;
}

static int sq_alert_insert(rk_store_t *s, rk_alert_t *a, const char *event_id, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (!a->user_id || rk_store_level_index(a->severity) < 0 || !a->cause) {
        snprintf(err, errlen, "an alert needs user_id, a known severity and a cause");
        return -1;
    }
    rk_store_new_id(a->id);
    if (!a->status) a->status = "open";
    if (rk_store_status_index(a->status) < 0) { snprintf(err, errlen, "unknown status '%s'", a->status); return -1; }
    if (!a->created_ms) a->created_ms = rk_store_now_ms();
    a->updated_ms = a->created_ms;
    a->event_count = event_id ? 1 : 0;
    if (begin(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_ALERT_INSERT);
    bind_text(st, 1, a->id);
    bind_text(st, 2, a->user_id);
    bind_text(st, 3, a->severity);
    bind_text(st, 4, a->status);
    bind_text(st, 5, a->cause);
    sqlite3_bind_int64(st, 6, a->created_ms);
    sqlite3_bind_int64(st, 7, a->updated_ms);
    sqlite3_bind_int64(st, 8, a->event_count);
    bind_text(st, 9, a->doc);
    int rc = exec(q, st, err, errlen, "alert");
    if (rc == 0) rc = add_history(q, a->id, a->created_ms, a->status, "riskd", NULL, err, errlen);
    if (rc == 0) rc = link_event(q, a->id, event_id, err, errlen);
    if (rc == 0) {
        st = stmt(q, S_HOURLY_ALERT);
        sqlite3_bind_int64(st, 1, a->created_ms / HOUR_MS);
        rc = exec(q, st, err, errlen, "hourly");
    }
    if (rc == 0) rc = commit(q, err, errlen);
    if (rc != 0) { rollback(q); return -1; }
    return 0;
}

static int read_alert(sqlite3_stmt *st, rk_alert_t *a)
{
    static const int text_cols[] = { 1, 2, 3, 4, 8 };
    const char *vals[9] = { 0 };
    char *blk = text_columns(st, text_cols, 5, vals);
    if (!blk) return -1;
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", (const char *)sqlite3_column_text(st, 0));
    a->user_id = vals[1];
    a->severity = vals[2];
    a->status = vals[3];
    a->cause = vals[4];
    a->created_ms = sqlite3_column_int64(st, 5);
    a->updated_ms = sqlite3_column_int64(st, 6);
    a->event_count = sqlite3_column_int64(st, 7);
    a->doc = vals[8];
    a->owned = blk;
    return 0;
}

static int sq_alert_get(rk_store_t *s, const char *id, rk_alert_detail_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(q, S_ALERT_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) { snprintf(err, errlen, "no alert '%s'", id); return RK_STORE_NOT_FOUND; }
        return fail(q, err, errlen, "alert");
    }
    rc = read_alert(st, &out->alert);
    sqlite3_reset(st);
    if (rc < 0) goto oom;
    size_t cap = 4;
    out->history = calloc(cap, sizeof *out->history);
    if (!out->history) goto oom;
    st = stmt(q, S_ALERT_HISTORY);
    bind_text(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (out->nhistory == cap) {
            rk_alert_change_t *nh = realloc(out->history, cap * 2 * sizeof *nh);
            if (!nh) { sqlite3_reset(st); goto oom; }
            out->history = nh;
            cap *= 2;
        }
        rk_alert_change_t *c = &out->history[out->nhistory++];
        memset(c, 0, sizeof *c);
        c->ts_ms = sqlite3_column_int64(st, 0);
        snprintf(c->status, sizeof c->status, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(c->who, sizeof c->who, "%s", (const char *)sqlite3_column_text(st, 2));
        c->note = dup_col(st, 3);
    }
    sqlite3_reset(st);
    cap = 4;
    out->event_ids = calloc(cap, sizeof *out->event_ids);
    if (!out->event_ids) goto oom;
    st = stmt(q, S_ALERT_EVENTS);
    bind_text(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (out->nevents == cap) {
            char (*ne)[RK_STORE_ID_LEN] = realloc(out->event_ids, cap * 2 * sizeof *ne);
            if (!ne) { sqlite3_reset(st); goto oom; }
            out->event_ids = ne;
            cap *= 2;
        }
        snprintf(out->event_ids[out->nevents++], RK_STORE_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_reset(st);
    return 0;
oom:
    rk_store_alert_detail_free(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static sqlite3_stmt *alert_query(sq_t *q, int mask, int count, char *err, size_t errlen)
{
    return filtered_query(q, count ? &q->al_count[mask] : &q->al_list[mask], &alert_shape, mask, count, err, errlen);
}

static void bind_alert_filter(sqlite3_stmt *st, const rk_alert_filter_t *f)
{
    if (f->status) bind_text(st, 1, f->status);
    if (f->severity) bind_text(st, 2, f->severity);
    if (f->user_id) bind_text(st, 3, f->user_id);
    if (f->since_ms) sqlite3_bind_int64(st, 4, f->since_ms);
    if (f->until_ms) sqlite3_bind_int64(st, 7, f->until_ms);
}

static int sq_alert_list(rk_store_t *s, const rk_alert_filter_t *f, rk_alert_list_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    memset(out, 0, sizeof *out);
    int mask = (f->status ? ALF_STATUS : 0) | (f->severity ? ALF_SEVERITY : 0) | (f->user_id ? ALF_USER : 0) |
               (f->since_ms ? ALF_SINCE : 0) | (f->until_ms ? ALF_UNTIL : 0);
    int page = f->page, per = f->per_page;
    paging(&page, &per);
    sqlite3_stmt *c = alert_query(q, mask, 1, err, errlen);
    if (!c) return -1;
    bind_alert_filter(c, f);
    if (sqlite3_step(c) != SQLITE_ROW) { sqlite3_reset(c); return fail(q, err, errlen, "alerts"); }
    out->total = sqlite3_column_int64(c, 0);
    sqlite3_reset(c);
    sqlite3_stmt *st = alert_query(q, mask, 0, err, errlen);
    if (!st) return -1;
    bind_alert_filter(st, f);
    sqlite3_bind_int(st, 5, per);
    sqlite3_bind_int64(st, 6, (int64_t)(page - 1) * per);
    out->items = calloc((size_t)per, sizeof *out->items);
    if (!out->items) { snprintf(err, errlen, "out of memory"); return -1; }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (read_alert(st, &out->items[out->n]) < 0) { sqlite3_reset(st); rk_store_alert_list_free(out); snprintf(err, errlen, "out of memory"); return -1; }
        out->n++;
    }
    sqlite3_reset(st);
    return 0;
}

static int sq_alert_find_open(rk_store_t *s, const char *user_id, const char *cause, int64_t since_ms,
                              char *id, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_ALERT_FIND);
    bind_text(st, 1, user_id);
    bind_text(st, 2, cause);
    sqlite3_bind_int64(st, 3, since_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(id, RK_STORE_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) { snprintf(err, errlen, "no open alert"); return RK_STORE_NOT_FOUND; }
    return fail(q, err, errlen, "alert");
}

static int sq_alert_add_event(rk_store_t *s, const char *alert_id, const char *event_id,
                              const char *severity, int64_t ts_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    int lvl = rk_store_level_index(severity);
    if (lvl < 0) { snprintf(err, errlen, "unknown severity '%s'", severity ? severity : "(null)"); return -1; }
    if (begin(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_ALERT_TOUCH);
    bind_text(st, 1, alert_id);
    sqlite3_bind_int64(st, 2, ts_ms);
    sqlite3_bind_int(st, 3, lvl);
    bind_text(st, 4, severity);
    int rc = changed_or_missing(q, exec(q, st, err, errlen, "alert"), "alert", alert_id, err, errlen);
    if (rc == 0) rc = link_event(q, alert_id, event_id, err, errlen);
    if (rc == 0) rc = commit(q, err, errlen);
    if (rc != 0) rollback(q);
    return rc;
}

static int sq_alert_set_status(rk_store_t *s, const char *id, const char *status, const char *who,
                               const char *note, int64_t ts_ms, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (rk_store_status_index(status) < 0) { snprintf(err, errlen, "unknown status '%s'", status ? status : "(null)"); return -1; }
    if (begin(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_ALERT_STATUS);
    bind_text(st, 1, status);
    sqlite3_bind_int64(st, 2, ts_ms);
    bind_text(st, 3, id);
    int rc = changed_or_missing(q, exec(q, st, err, errlen, "alert"), "alert", id, err, errlen);
    if (rc == 0) rc = add_history(q, id, ts_ms, status, who ? who : "", note, err, errlen);
    if (rc == 0) rc = commit(q, err, errlen);
    if (rc != 0) rollback(q);
    return rc;
}

/* ---- aggregates ------------------------------------------------------------ */

static int count_one(sq_t *q, int which, int64_t since, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(q, which);
    sqlite3_bind_int64(st, 1, since);
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_reset(st); return fail(q, err, errlen, "stats"); }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int counts(sq_t *q, int64_t since_ms, rk_counts_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = stmt(q, S_SUM_HOURLY);
    sqlite3_bind_int64(st, 1, since_ms / HOUR_MS);
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_reset(st); return fail(q, err, errlen, "stats"); }
    c->attempts = (int64_t)sqlite3_column_double(st, 0);
    c->failures = (int64_t)sqlite3_column_double(st, 1);
    c->anomalies = (int64_t)sqlite3_column_double(st, 2);
    for (int l = 0; l < RK_LEVELS; l++) c->by_level[l] = (int64_t)sqlite3_column_double(st, 3 + l);
    sqlite3_reset(st);
    c->anomaly_rate = c->attempts ? (double)c->anomalies / (double)c->attempts : 0;
    for (int pass = 0; pass < 2; pass++) {
        st = stmt(q, pass ? S_ALERTS_BY_SEVERITY : S_ALERTS_BY_STATUS);
        sqlite3_bind_int64(st, 1, since_ms);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(st, 0);
            int i = pass ? rk_store_level_index(k) : rk_store_status_index(k);
            if (i >= 0) (pass ? c->alerts_by_severity : c->alerts_by_status)[i] = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
    }
    if (since_ms == 0) c->distinct_users = meta_get(q, M_USERS);
    else if (count_one(q, S_USERS_SINCE, since_ms / HOUR_MS, &c->distinct_users, err, errlen) < 0) return -1;
    if (since_ms == 0) { c->distinct_ips = meta_get(q, M_IPS); return 0; }
    return count_one(q, S_IPS_SINCE, since_ms, &c->distinct_ips, err, errlen);
}

static int sq_stats(rk_store_t *s, int64_t now_ms, rk_stats_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (sq_sync(s, err, errlen) != 0) return -1;   /* this handle's own sums first */
    /* "Last 24 h" is the current hour and the 23 before it: the hourly
     * summaries are what make it fast, and their grain is the hour. */
    int64_t since = (now_ms / HOUR_MS - 23) * HOUR_MS;
    if (counts(q, 0, &out->all, err, errlen) < 0) return -1;
    return counts(q, since, &out->last_24h, err, errlen);
}

static int sq_timeline(rk_store_t *s, int64_t since_ms, int64_t until_ms, int64_t bucket_ms,
                       rk_bucket_t **out, size_t *n, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (sq_sync(s, err, errlen) != 0) return -1;   /* this handle's own sums first */
    if (bucket_ms != HOUR_MS && bucket_ms != 24 * HOUR_MS) { snprintf(err, errlen, "bucket must be an hour or a day"); return -1; }
    int64_t first = since_ms / bucket_ms, last = (until_ms - 1) / bucket_ms;
    if (until_ms <= since_ms || last - first >= 100000) { snprintf(err, errlen, "bad time range"); return -1; }
    *n = (size_t)(last - first + 1);
    *out = calloc(*n, sizeof **out);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    double *risk = calloc(*n, sizeof *risk);
    if (!risk) { free(*out); *out = NULL; snprintf(err, errlen, "out of memory"); return -1; }
    for (size_t i = 0; i < *n; i++) (*out)[i].start_ms = (first + (int64_t)i) * bucket_ms;
    sqlite3_stmt *st = stmt(q, S_TIMELINE);
    sqlite3_bind_int64(st, 1, first * bucket_ms / HOUR_MS);
    sqlite3_bind_int64(st, 2, (last + 1) * bucket_ms / HOUR_MS);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(st, 0) * HOUR_MS / bucket_ms - first;
        if (i < 0 || i >= (int64_t)*n) continue;
        rk_bucket_t *b = &(*out)[i];
        b->attempts += sqlite3_column_int64(st, 1);
        b->failures += sqlite3_column_int64(st, 2);
        b->anomalies += sqlite3_column_int64(st, 3);
        risk[i] += sqlite3_column_double(st, 4);
        b->alerts += sqlite3_column_int64(st, 5);
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < *n; i++) (*out)[i].mean_risk = (*out)[i].attempts ? risk[i] / (double)(*out)[i].attempts : 0;
    free(risk);
    return 0;
}

static int sq_top_users(rk_store_t *s, int64_t since_ms, int limit, rk_top_user_t **out, size_t *n,
                        char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (sq_sync(s, err, errlen) != 0) return -1;   /* this handle's own sums first */
    if (limit < 1) limit = 10;
    if (limit > 1000) limit = 1000;
    *n = 0;
    *out = calloc((size_t)limit, sizeof **out);
    if (!*out) { snprintf(err, errlen, "out of memory"); return -1; }
    sqlite3_stmt *st;
    if (since_ms) {
        st = stmt(q, S_TOP_SINCE);
        sqlite3_bind_int64(st, 1, since_ms / HOUR_MS);
        sqlite3_bind_int(st, 2, limit);
    } else {
        st = stmt(q, S_TOP_ALL);
        sqlite3_bind_int(st, 1, limit);
    }
    while (sqlite3_step(st) == SQLITE_ROW && *n < (size_t)limit) {
        rk_top_user_t *u = &(*out)[(*n)++];
        snprintf(u->user_id, sizeof u->user_id, "%s", (const char *)sqlite3_column_text(st, 0));
        u->max_risk = sqlite3_column_double(st, 1);
        u->mean_risk = sqlite3_column_double(st, 2);
        u->attempts = (int64_t)sqlite3_column_double(st, 3);
        u->anomalies = (int64_t)sqlite3_column_double(st, 4);
        u->high_risk = (int64_t)sqlite3_column_double(st, 5);
    }
    sqlite3_reset(st);
    return 0;
}

static int sq_purge(rk_store_t *s, int64_t now_ms, int batch, int64_t *deleted, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    *deleted = 0;
    if (q->retention_days <= 0) return 0;
    int64_t cutoff = now_ms - (int64_t)q->retention_days * 24 * HOUR_MS;
    if (begin(q, err, errlen) != 0) return -1;
    if (q->pend.n && flush_now(q, err, errlen) != 0) { rollback(q); return -1; }   /* a replay reads the events */
    sqlite3_stmt *st = stmt(q, S_PURGE);
    sqlite3_bind_int64(st, 1, cutoff);
    sqlite3_bind_int(st, 2, batch);
    int rc = exec(q, st, err, errlen, "purge");
    *deleted = sqlite3_changes(q->db);
    q->wdelta[M_EVENTS] -= *deleted;
    if (rc == 0) {
        st = stmt(q, S_PURGE_IPS);
        sqlite3_bind_int64(st, 1, cutoff);
        sqlite3_bind_int(st, 2, batch);
        rc = exec(q, st, err, errlen, "purge");
        int gone = sqlite3_changes(q->db);
        q->wdelta[M_IPS] -= gone;
    }
    if (rc == 0) {   /* phishing analyses hold addresses and subjects: the same retention */
        st = stmt(q, S_PH_PURGE);
        sqlite3_bind_int64(st, 1, cutoff);
        sqlite3_bind_int(st, 2, batch);
        rc = exec(q, st, err, errlen, "purge");
        *deleted += sqlite3_changes(q->db);
    }
    if (rc == 0) {   /* deliveries done with (sent, or dead) hold the same: the same retention */
        st = stmt(q, S_OB_PURGE);
        sqlite3_bind_int64(st, 1, cutoff);
        sqlite3_bind_int(st, 2, batch);
        rc = exec(q, st, err, errlen, "purge");
        *deleted += sqlite3_changes(q->db);
    }
    if (rc == 0) rc = commit(q, err, errlen);
    if (rc != 0) { rollback(q); return -1; }
    if (q->live) rk_live_raise_horizon(q->live, cutoff);   /* what the window holds before it is gone from disk */
    return 0;
}

/* Every query riskd runs, with SQLite's plan for it: the test asserts that
 * none scans a whole table. One "sql\tplan-step" line per step. */
int rk_store_sqlite_plans(rk_store_t *s, char *buf, size_t cap)
{
    sq_t *q = SQ(s);
    char err[256];
    size_t len = 0;
    buf[0] = '\0';
    /* the event masks a list can use: country and rule only with since */
#define EVF_USED(m) (!((m) & EVF_NEEDS_SINCE) || ((m) & EVF_SINCE))
    for (int m = 0; m < EVF_MASKS; m++)
        if (EVF_USED(m)) { event_query(q, m, 0, err, sizeof err); event_query(q, m, 1, err, sizeof err); }
    for (int m = 0; m < ALF_MASKS; m++) { alert_query(q, m, 0, err, sizeof err); alert_query(q, m, 1, err, sizeof err); }
    for (int m = 0; m < 32; m++) {
        filtered_query(q, &q->ph_list[m], &phish_shape, m, 0, err, sizeof err);
        filtered_query(q, &q->ph_count[m], &phish_shape, m, 1, err, sizeof err);
    }
    sqlite3_stmt *all[S_COUNT + 2 * EVF_MASKS + 2 * ALF_MASKS + 70];
    int n = 0;
    for (int i = S_USER_GET; i < S_COUNT; i++) all[n++] = q->st[i];
    for (int m = 1; m < EVF_MASKS; m++) if (EVF_USED(m)) { all[n++] = q->ev_list[m]; all[n++] = q->ev_count[m]; }
    all[n++] = q->ev_list[0];
    for (int m = 0; m < ALF_MASKS; m++) { all[n++] = q->al_list[m]; all[n++] = q->al_count[m]; }
    for (int m = 1; m < 32; m++) { all[n++] = q->ph_list[m]; all[n++] = q->ph_count[m]; }
    all[n++] = q->ph_list[0];
    for (int i = 0; i < n; i++) {
        if (!all[i]) continue;
        char text[1200];
        snprintf(text, sizeof text, "EXPLAIN QUERY PLAN %s", sqlite3_sql(all[i]));
        sqlite3_stmt *ex = NULL;
        if (sqlite3_prepare_v2(q->db, text, -1, &ex, NULL) != SQLITE_OK) {   /* a query that does not prepare is a bug */
            len += (size_t)snprintf(buf + len, cap - len, "%s\tSCAN (does not prepare: %s)\n", sqlite3_sql(all[i]),
                                    sqlite3_errmsg(q->db));
            continue;
        }
        while (sqlite3_step(ex) == SQLITE_ROW && len + 1 < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s\t%s\n", sqlite3_sql(all[i]),
                                    (const char *)sqlite3_column_text(ex, 3));
        sqlite3_finalize(ex);
    }
    return 0;
}

/* ---- phishing analyses ----------------------------------------------------- */

static int sq_phish_insert(rk_store_t *s, rk_phish_rec_t *r, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (!rk_store_verdict_valid(r->verdict)) { snprintf(err, errlen, "a phishing analysis needs a verdict"); return -1; }
    rk_store_new_id(r->id);
    if (!r->ts_ms) r->ts_ms = rk_store_now_ms();
    if (begin(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_PH_INSERT);
    bind_text(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->ts_ms);
    bind_text(st, 3, r->verdict);
    sqlite3_bind_double(st, 4, r->score);
    bind_text(st, 5, r->sender);
    bind_text(st, 6, r->recipient);
    bind_text(st, 7, r->subject);
    bind_text(st, 8, r->message_id);
    bind_text(st, 9, r->alert_id);
    bind_text(st, 10, r->doc);
    int rc = exec(q, st, err, errlen, "phishing");
    if (rc == 0) rc = commit(q, err, errlen);
    if (rc != 0) { rollback(q); return -1; }
    return 0;
}

/* One row into r, its strings in one block r->owned. */
static int read_phish(sqlite3_stmt *st, rk_phish_rec_t *r)
{
    static const int text_cols[] = { 2, 4, 5, 6, 7, 8, 9 };
    const char *vals[10] = { 0 };
    char *blk = text_columns(st, text_cols, 7, vals);
    if (!blk) return -1;
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", (const char *)sqlite3_column_text(st, 0));
    r->ts_ms = sqlite3_column_int64(st, 1);
    r->verdict = vals[2];
    r->score = sqlite3_column_double(st, 3);
    r->sender = vals[4];
    r->recipient = vals[5];
    r->subject = vals[6];
    r->message_id = vals[7];
    r->alert_id = vals[8];
    r->doc = vals[9];
    r->owned = blk;
    return 0;
}

static int sq_phish_get(rk_store_t *s, const char *id, rk_phish_rec_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(q, S_PH_GET);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) { snprintf(err, errlen, "no phishing analysis '%s'", id); return RK_STORE_NOT_FOUND; }
        return fail(q, err, errlen, "phishing");
    }
    rc = read_phish(st, out);
    sqlite3_reset(st);
    if (rc < 0) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

static void bind_phish_filter(sqlite3_stmt *st, const rk_phish_filter_t *f, int mask)
{
    if (mask & PHF_VERDICT) bind_text(st, 1, f->verdict);
    if (mask & PHF_SENDER) bind_text(st, 2, f->sender);
    if (mask & PHF_MINSCORE) sqlite3_bind_double(st, 3, f->min_score);
    if (mask & PHF_SINCE) sqlite3_bind_int64(st, 4, f->since_ms);
    if (mask & PHF_UNTIL) sqlite3_bind_int64(st, 5, f->until_ms);
}

static int sq_phish_list(rk_store_t *s, const rk_phish_filter_t *f, rk_phish_list_t *out, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    memset(out, 0, sizeof *out);
    int mask = (f->verdict ? PHF_VERDICT : 0) | (f->sender ? PHF_SENDER : 0) | (f->min_score >= 0 ? PHF_MINSCORE : 0) |
               (f->since_ms ? PHF_SINCE : 0) | (f->until_ms ? PHF_UNTIL : 0);
    int page = f->page, per = f->per_page;
    paging(&page, &per);
    sqlite3_stmt *c = filtered_query(q, &q->ph_count[mask], &phish_shape, mask, 1, err, errlen);
    if (!c) return -1;
    bind_phish_filter(c, f, mask);
    if (sqlite3_step(c) != SQLITE_ROW) { sqlite3_reset(c); return fail(q, err, errlen, "phishing"); }
    out->total = sqlite3_column_int64(c, 0);
    sqlite3_reset(c);
    sqlite3_stmt *st = filtered_query(q, &q->ph_list[mask], &phish_shape, mask, 0, err, errlen);
    if (!st) return -1;
    bind_phish_filter(st, f, mask);
    sqlite3_bind_int(st, 6, per);
    sqlite3_bind_int64(st, 7, (int64_t)(page - 1) * per);
    out->items = calloc((size_t)per, sizeof *out->items);
    if (!out->items) { snprintf(err, errlen, "out of memory"); return -1; }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (read_phish(st, &out->items[out->n]) < 0) {
            sqlite3_reset(st);
            rk_store_phish_list_free(out);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        out->n++;
    }
    sqlite3_reset(st);
    return 0;
}

static int sq_phish_set_alert(rk_store_t *s, const char *id, const char *alert_id, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (begin(q, err, errlen) != 0) return -1;
    sqlite3_stmt *st = stmt(q, S_PH_SET_ALERT);
    bind_text(st, 1, alert_id);
    bind_text(st, 2, id);
    int rc = exec(q, st, err, errlen, "phishing");
    if (rc == 0 && sqlite3_changes(q->db) == 0) {
        snprintf(err, errlen, "no phishing analysis '%s'", id);
        rollback(q);
        return RK_STORE_NOT_FOUND;
    }
    if (rc == 0) rc = commit(q, err, errlen);
    if (rc != 0) { rollback(q); return -1; }
    return 0;
}

/* riskd's state documents live in meta, under "state:" (rare calls: no
 * prepared statement kept). */
static int sq_state_get(rk_store_t *s, const char *key, char **value, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = NULL;
    char k[200];
    snprintf(k, sizeof k, "state:%s", key);
    if (sqlite3_prepare_v2(q->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, k, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!(*value = strdup(v ? v : ""))) { snprintf(err, errlen, "out of memory"); out = -1; }
    } else if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "no state '%s'", key);
        out = RK_STORE_NOT_FOUND;
    } else {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(q->db));
        out = -1;
    }
    sqlite3_finalize(st);
    return out;
}

static int sq_state_put(rk_store_t *s, const char *key, const char *value, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = NULL;
    char k[200];
    snprintf(k, sizeof k, "state:%s", key);
    if (sqlite3_prepare_v2(q->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, k, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(q->db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static const rk_store_accounts_t accounts_ops = {
    .create = sq_user_create, .get = sq_user_get, .set_password = sq_user_set_password,
    .remove = sq_user_delete, .list = sq_user_list,
    .key_create = sq_key_create, .key_get = sq_key_get, .key_list = sq_key_list, .key_revoke = sq_key_revoke,
    .key_touch = sq_key_touch, .generation = sq_accounts_generation,
};
static int sq_events_due(rk_store_t *s, int64_t now_ms, int *due, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    sqlite3_stmt *st = stmt(q, S_EV_ANY_DUE);
    sqlite3_bind_int64(st, 1, now_ms);
    int rc = sqlite3_step(st);
    *due = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(q, err, errlen, "events");
}

static const rk_store_events_t events_ops = {
    .record = sq_event_record, .get = sq_event_get, .list = sq_event_list, .set_alert = sq_event_set_alert,
    .recent = sq_recent, .profile_get = sq_profile_get, .profile_update = sq_profile_update,
    .outcome = sq_event_outcome, .settle = sq_events_settle, .due = sq_events_due,
    .global_count = sq_global_count, .global_counts = sq_global_counts, .purge = sq_purge,
    .state_set = sq_user_state_set,
};
static const rk_store_alerts_t alerts_ops = {
    .insert = sq_alert_insert, .get = sq_alert_get, .list = sq_alert_list, .find_open = sq_alert_find_open,
    .add_event = sq_alert_add_event, .set_status = sq_alert_set_status,
};
static const rk_store_reports_t reports_ops = {
    .stats = sq_stats, .timeline = sq_timeline, .top_users = sq_top_users,
    .breakdown = sq_breakdown,
};
static const rk_store_phishing_t phishing_ops = {
    .insert = sq_phish_insert, .get = sq_phish_get, .list = sq_phish_list, .set_alert = sq_phish_set_alert,
};
static const rk_store_writes_t writes_ops = {
    .batch_begin = sq_batch_begin, .batch_end = sq_batch_end, .checkpoint = sq_checkpoint,
    .wal_pages = sq_wal_pages, .sync = sq_sync, .unflushed = sq_unflushed,
};

static const rk_store_state_t state_ops = { .get = sq_state_get, .put = sq_state_put };
static const rk_store_outbox_t outbox_ops = {
    .put = sq_outbox_put, .claim = sq_outbox_claim, .done = sq_outbox_done, .retry = sq_outbox_retry,
    .dead = sq_outbox_dead, .list = sq_outbox_list, .requeue = sq_outbox_requeue,
};

/* A read of the database file: a page of meta, under the same locks as any. */
static int sq_ping(rk_store_t *s, char *err, size_t errlen)
{
    sq_t *q = SQ(s);
    if (sqlite3_exec(q->db, "SELECT count(*) FROM (SELECT 1 FROM meta LIMIT 1)", NULL, NULL, NULL) != SQLITE_OK)
        return fail(q, err, errlen, "ping");
    return 0;
}

static const rk_store_ops_t ops = {
    .name = "sqlite", .close = sq_close, .ping = sq_ping, .state = &state_ops, .outbox = &outbox_ops,
    .accounts = &accounts_ops, .events = &events_ops, .alerts = &alerts_ops, .reports = &reports_ops,
    .phishing = &phishing_ops, .writes = &writes_ops,
};

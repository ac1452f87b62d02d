/* server.c — see server.h.
 *
 * Threads: the main thread owns the listening socket, the inotify watcher,
 * the reloader and the signals; each worker thread owns an event_base, an
 * evhttp accepting on its own dup() of the listening socket, and a Lua state.
 * The main thread talks to workers only by activating events on their bases
 * (reload, stop), which libevent makes thread-safe with evthread_use_pthreads.
 *
 * Hot reload: a change under the scripts folder is debounced (50 ms), the
 * tree is read into a snapshot and loaded in a scratch Lua state here on the
 * main thread. Only if that succeeds is the snapshot published with a new
 * generation; each worker then builds its own state from it between two
 * requests and swaps. A bad change is logged and the old code keeps serving.
 */
#include "server.h"
#include "hash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <lauxlib.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_admit.h"
#include "lockout.h"
#include "calib.h"
#include "xacct.h"
#include "store_live.h"
#include "sandbox.h"
#include "log.h"
#include "models.h"
#include "vm_snapshot.h"
#include "features.h"
#include "geo.h"
#include "intel.h"
#include "rt_hub.h"
#include "mongo_watch.h"
#include "rt_stream.h"
#include "rt_ws.h"
#include "iforest.h"
#include "store.h"
#include "rates_sync.h"
#include "deliver.h"
#include "store_writer.h"
#include "version.h"
#include "watch.h"
#include "watchdog.h"
#include "worker.h"

#define ENTRY_MODULE "lib.dispatch"
#define LOAD_TIMEOUT_MS 2000
#define DEBOUNCE_MS 50
#define IDLE_TIMEOUT_S 60
#define TAG_SCRIPTS 1u
#define TAG_RULES 2u
#define TAG_MODELS 4u
#define TAG_INTEL 8u
#define INTEL_EVERY_S 600    /* automatic intel entries expire: reread that often anyway */
#define PURGE_EVERY_S 60      /* retention runs this often... */
#define CALIB_SAVE_EVERY_S 60 /* the calibration and the rates are saved this often (and at exit) */
#define XACCT_SLOTS (1u << 16) /* networks and addresses the cross-account memory keeps */
#define PURGE_BATCH 500       /* ...deleting this many events per transaction... */
#define PURGE_BATCHES 40      /* ...and at most this many batches per run */

/* What a Lua state is built from: the scripts and the rules, as one
 * generation. Immutable and shared by the workers; the last release frees. */
typedef struct codeset {
    rk_snapshot_t *scripts, *rules;   /* rules may be NULL: no rules folder; vetted (vet_rules) */
    uint64_t rules_read;             /* the digest of the rules folder as read, before vetting */
    rk_iforest_t *model;             /* may be NULL: no model trained yet */
    uint64_t model_stamp;            /* the model file's mtime and size, to see changes */
    uint64_t generation;
    atomic_int refs;
} codeset_t;

static codeset_t *codeset_new(rk_snapshot_t *scripts, rk_snapshot_t *rules, rk_iforest_t *model,
                              uint64_t stamp, uint64_t generation)
{
    codeset_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->scripts = rk_snapshot_retain(scripts);
    c->rules = rk_snapshot_retain(rules);
    c->model = rk_iforest_retain(model);
    c->model_stamp = stamp;
    c->generation = generation;
    atomic_init(&c->refs, 1);
    return c;
}

static void codeset_release(codeset_t *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    rk_snapshot_release(c->scripts);
    rk_snapshot_release(c->rules);
    rk_iforest_release(c->model);
    free(c);
}

typedef struct rk_server {
    const rk_config_t *cfg;
    rk_cidr_list_t trusted;
    rk_metrics_t *metrics;
    int listen_fd;
    int port;
    int nworkers;
    rk_worker_t *workers;

    pthread_mutex_t mu;             /* guards current */
    codeset_t *current;

    struct event_base *base;
    rk_watch_t *watch;
    struct event *watch_ev, *debounce_ev, *sigterm_ev, *sigint_ev, *purge_ev, *calib_ev;
    rk_store_t *store;              /* the main thread's own handle: retention */
    rk_writer_t *writer;            /* group commit of the workers' writes (SQLite), or NULL */
    rk_pool_t *pool;                /* password hashing off the event loops */
    rk_lockout_t *lockout;          /* sign-in throttling, shared by the workers, kept across reloads */
    rk_calib_t *calib;              /* calibrated levels, shared by the workers, kept across reloads */
    rk_xacct_t *xacct;              /* cross-account memory, shared by the workers, kept across reloads */
    rk_live_t *live;                /* the embedded store's analysis state in memory (store_live.h), shared by its handles */
    rk_addrcount_t *addrcount;      /* open connections per client address, over all workers */
    rk_watchdog_t *watchdog;        /* the workers' Lua deadlines, seen from outside */
    rk_geo_t *geo;                  /* IP databases shared by the workers, or NULL */
    rk_intel_t *intel;              /* the intel folder, shared by the workers */
    rk_hub_t *hub;                  /* real-time messages to every worker's streams */
    rk_mongo_watch_t *mwatch;       /* MongoDB: other instances' alerts, into the hub */
    rk_rates_syncer_t *rates_sync;  /* MongoDB: site-wide rates shared with the other instances */
    rk_deliverer_t *deliverer;      /* the outbox's deliveries to webhooks and SIEM targets, or NULL (mem:) */
    struct event *intel_ev;         /* rereads it now and then: automatic entries expire */
    unsigned pending_tags;          /* trees changed since the last reload */
    int exit_code;
} rk_server_t;

static codeset_t *current_set(rk_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    codeset_t *cur = s->current;
    atomic_fetch_add(&cur->refs, 1);
    pthread_mutex_unlock(&s->mu);
    return cur;
}

/* ---- Lua states ------------------------------------------------------- */

/* Builds a state from a code set and resolves dispatch.handle; NULL with err. */
static rk_vm_t *build_vm(rk_server_t *s, const codeset_t *set, const rk_vm_host_t *host,
                         int *handle_ref, char *err, size_t errlen)
{
    rk_vm_opts_t o = { set->scripts, s->cfg->lua_memory_limit, LOAD_TIMEOUT_MS, host, ENTRY_MODULE,
                       set->rules, set->generation, set->model };
    rk_vm_t *vm = rk_vm_new(&o, err, errlen);
    if (!vm) return NULL;
    lua_State *L = rk_vm_state(vm);
    rk_vm_push_entry(vm);
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "handle") != LUA_TFUNCTION) {
        snprintf(err, errlen, "%s must return a table with a function 'handle'", ENTRY_MODULE);
        rk_vm_free(vm);
        return NULL;
    }
    *handle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    return vm;
}

/* What the server serves of a rule file (rk_vm_host_t.rule_state): on any
 * thread, from the set published now. */
static int rule_state(void *arg, const char *path, const char *data, size_t len, uint64_t *gen, char *why, size_t whylen)
{
    rk_server_t *s = arg;
    codeset_t *set = current_set(s);
    int st = 0;
    *gen = set->generation;
    const rk_script_file_t *f = set->rules ? rk_snapshot_find(set->rules, path) : NULL;
    const rk_script_file_t *pf = set->rules ? rk_snapshot_find(set->rules, RK_SANDBOX_PROBLEMS) : NULL;
    size_t plen = strlen(path);
    for (const char *line = pf ? pf->data : NULL; line && *line && st == 0;) {   /* file TAB serving TAB why */
        const char *end = strchr(line, '\n');
        if (strncmp(line, path, plen) == 0 && line[plen] == '\t') {
            const char *w = strchr(line + plen + 1, '\t');
            snprintf(why, whylen, "%.*s", w ? (int)((end ? end : w + strlen(w)) - w - 1) : 0, w ? w + 1 : "");
            st = -1;
        }
        line = end ? end + 1 : NULL;
    }
    if (st == 0 && data && f && f->len == len && memcmp(f->data, data, len) == 0) st = 1;
    codeset_release(set);
    return st;
}

/* ---- workers ------------------------------------------------------------ */

/* The routes the live code declares body = "mail" (lib/dispatch.lua's
 * mail_paths) get the mail limit before their body is read. */
static void admit_mail_paths(rk_worker_t *w)
{
    if (!w->admit || !w->vm) return;
    lua_State *L = rk_vm_state(w->vm);
    int top = lua_gettop(L);
    const char *paths[RK_ADMIT_MAX_MAIL_PATHS];
    int n = 0;
    rk_vm_push_entry(w->vm);
    if (lua_istable(L, -1) && lua_getfield(L, -1, "mail_paths") == LUA_TTABLE) {
        for (int i = 1; n < RK_ADMIT_MAX_MAIL_PATHS && lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
            paths[n++] = lua_tostring(L, -1);   /* kept alive by the table until the copy below */
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    rk_admit_set_mail_paths(w->admit, paths, n);
    lua_settop(L, top);
}

/* Runs on the worker when the main thread published new scripts. */
static void on_reload(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_worker_t *w = arg;
    rk_server_t *s = w->server;
    codeset_t *set = current_set(s);
    char err[2048];
    int ref = LUA_NOREF;
    if (set->generation == rk_vm_generation(w->vm)) {
        codeset_release(set);
        return;
    }
    rk_vm_t *vm = build_vm(s, set, &w->host, &ref, err, sizeof err);
    codeset_release(set);
    if (!vm) {
        /* Validated on the main thread, so this is rare (a time-out under
         * load, or the memory cap): keep serving the old state. */
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_ERROR, "worker kept old scripts");
        rk_log_int(&e, "worker", w->id);
        rk_log_str(&e, "error", err);
        rk_log_end(&e);
        return;
    }
    rk_vm_free(w->vm);
    w->vm = vm;
    w->handle_ref = ref;
    admit_mail_paths(w);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_worker_t *w = arg;
    if (w->pending > 0 && rk_now_ns() < w->drain_deadline) return;
    if (w->pending > 0) {
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_WARN, "drain timed out");
        rk_log_int(&e, "worker", w->id);
        rk_log_int(&e, "pending", w->pending);
        rk_log_end(&e);
    }
    event_del(w->drain_ev);
    event_base_loopexit(w->base, NULL);
}

/* Runs on the worker at shutdown: stop accepting, let queued responses go
 * out, then leave the loop (evhttp_free afterwards closes idle keep-alives). */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_worker_t *w = arg;
    if (w->draining) return;
    w->draining = 1;
    rk_streams_close_all(w->streams);   /* they never end by themselves */
    rk_ws_close_all(w->ws);
    if (w->bound) {
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
    w->drain_deadline = rk_now_ns() + (uint64_t)w->cfg->drain_timeout_ms * 1000000ULL;
    struct timeval tick = { 0, 10000 };
    event_add(w->drain_ev, &tick);
    on_drain_tick(-1, 0, w);
}

static void *worker_main(void *arg)
{
    rk_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof name, "riskd-http-%d", w->id);
    pthread_setname_np(pthread_self(), name);   /* for top -H, perf, gdb */
    rk_admit_bind_thread(w->admit);
    rk_server_t *s = w->server;
    int watched = s->watchdog && rk_watchdog_join(s->watchdog) == 0;
    event_base_dispatch(w->base);
    if (watched) rk_watchdog_leave();
    return NULL;
}

static int worker_init(rk_server_t *s, rk_worker_t *w, int id, char *err, size_t errlen)
{
    w->id = id;
    w->cfg = s->cfg;
    w->trusted = &s->trusted;
    w->proxy_forwarded = strcasecmp(s->cfg->proxy_header, "forwarded") == 0;
    w->metrics = s->metrics;
    w->server = s;
    w->host = (rk_vm_host_t){ s->metrics, id, s->cfg, NULL, s->geo, s->writer, s->pool, s->intel, s->hub, s->rates_sync,
                              s->lockout, s->calib, s->xacct, rule_state, s, s->deliverer, s->live };
    w->handle_ref = LUA_NOREF;
    /* Each worker has its own store handle: one SQLite connection per
     * thread; with MongoDB, handles share one client pool. */
    rk_store_opts_t so;
    rk_config_store_opts(s->cfg, &so);
    so.busy_timeout_ms = s->cfg->store_timeout_ms;   /* then a degraded answer, not a late one */
    rk_writer_handle_opts(&so);
    so.live = s->live;
    w->host.store = rk_store_open(s->cfg->db, &so, err, errlen);
    if (!w->host.store) return -1;

    codeset_t *set = current_set(s);
    w->vm = build_vm(s, set, &w->host, &w->handle_ref, err, errlen);
    codeset_release(set);
    if (!w->vm) return -1;

    w->base = event_base_new();
    w->http = w->base ? evhttp_new(w->base) : NULL;
    w->mailbox = w->base ? rk_mailbox_new(w->base, rk_http_deliver, w) : NULL;
    w->streams = w->base ? rk_streams_new(w->base, s->hub, w->host.store) : NULL;
    w->ws = w->base ? rk_ws_new(w->base, s->hub, s->cfg, w->host.store) : NULL;
    if (!w->http || !w->mailbox || !w->streams || !w->ws) { snprintf(err, errlen, "cannot create the event loop"); return -1; }
    evhttp_set_gencb(w->http, rk_http_handle, w);
    /* Body limits per route and connection caps, before a request is read. */
    w->admit = rk_admit_new(w->http, s->cfg->body_limit, s->cfg->mail_limit, s->cfg->max_connections, s->addrcount);
    if (!w->admit) { snprintf(err, errlen, "out of memory"); return -1; }
    admit_mail_paths(w);
    /* Read and drop an oversized body so the client sees the 413 instead of
     * a reset. (libevent 2.1 writes that 413's body itself, as HTML: it has
     * no hook for it; 2.2's evhttp_set_errorcb would make it JSON.) */
    evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_max_headers_size(w->http, 64 * 1024);
    evhttp_set_timeout(w->http, IDLE_TIMEOUT_S);
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    /* Each worker gets its own descriptor for the same socket: the kernel
     * hands each connection to whichever worker accepts first. */
    int fd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);   /* not inherited by riskd retrain */
    if (fd < 0 || !(w->bound = evhttp_accept_socket_with_handle(w->http, fd))) {
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "cannot accept on the listening socket");
        return -1;
    }
    w->reload_ev = event_new(w->base, -1, 0, on_reload, w);
    w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
    w->drain_ev = event_new(w->base, -1, EV_PERSIST, on_drain_tick, w);
    if (!w->reload_ev || !w->stop_ev || !w->drain_ev) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void worker_free(rk_worker_t *w)
{
    /* Requests still waiting (a drain that timed out) finish now: the
     * writer and the pool have stopped, so every task is in the box. */
    rk_mailbox_free(w->mailbox);
    if (w->reload_ev) event_free(w->reload_ev);
    if (w->stop_ev) event_free(w->stop_ev);
    if (w->drain_ev) event_free(w->drain_ev);
    rk_streams_free(w->streams);
    rk_ws_free(w->ws);
    if (w->http) evhttp_free(w->http);
    rk_admit_free(w->admit);   /* after evhttp_free: its connections report their close */
    if (w->base) event_base_free(w->base);
    rk_vm_free(w->vm);
    rk_store_close(w->host.store);   /* after the state: it may still hold the handle */
}

/* ---- reload (main thread) ---------------------------------------------- */

/* Tells the real-time clients (topic rules or models) what a reload did:
 * {"type":"reloaded"|"rejected","topic","data":{"what","generation"[,"error"]},"ts"}. */
static void publish_reload(rk_server_t *s, const char *topic, const char *type, const char *what,
                           uint64_t generation, const char *error)
{
    if (!s->hub || !rk_hub_subscribers(s->hub, topic)) return;
    char msg[4096], esc[2048], ts[32];
    size_t elen = 0;
    esc[0] = '\0';
    if (error) rk_json_escape(esc, &elen, sizeof esc, error, strlen(error));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(msg, sizeof msg, "{\"type\":\"%s\",\"topic\":\"%s\",\"data\":{\"what\":\"%s\",\"generation\":%llu%s%.*s%s},\"ts\":\"%s\"}",
                     type, topic, what, (unsigned long long)generation, error ? ",\"error\":\"" : "", (int)elen, esc,
                     error ? "\"" : "", ts);
    if (n > 0 && (size_t)n < sizeof msg) rk_hub_publish(s->hub, topic, 0, msg, (size_t)n);
}

/* Loads the live model (models.h) if there is one: NULL without error when
 * there is none; a file that fails its checks, or was trained on other
 * features, is an error. stamp identifies the file's version (name, mtime
 * and size), so that switching models or replacing the file is a change. */
static rk_iforest_t *load_model(rk_server_t *s, uint64_t *stamp, int *failed, char *err, size_t errlen)
{
    char path[1200];
    struct stat st;
    *failed = 0;
    *stamp = 0;
    int rc = rk_models_active(s->cfg->models, path, sizeof path, err, errlen);
    if (rc < 0) { *failed = 1; return NULL; }
    if (rc > 0 || stat(path, &st) < 0) return NULL;
    *stamp = rk_fnv1a_str(RK_FNV_OFFSET, path) ^ ((uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec + (uint64_t)st.st_size);
    rk_iforest_t *m = rk_iforest_load(path, rk_features_names, RK_F_COUNT, err, errlen);
    if (!m) *failed = 1;
    return m;
}

/* Loads the rules folder: NULL without error when there is none. */
static rk_snapshot_t *load_rules(rk_server_t *s, int *failed, char *err, size_t errlen)
{
    struct stat st;
    *failed = 0;
    if (stat(s->cfg->rules, &st) < 0 || !S_ISDIR(st.st_mode)) return NULL;
    rk_snapshot_t *r = rk_snapshot_load(s->cfg->rules, err, errlen);
    if (!r) *failed = 1;
    return r;
}

/* The newest saved version of a rule file (rules/.history/NAME.jsonl, which
 * the console's editor keeps) other than `not`, malloc'd, or NULL. */
static char *history_version(rk_server_t *s, const char *path, const char *not, size_t notlen, size_t *len)
{
    if (strchr(path, '/')) return NULL;   /* the editor keeps history for top-level files */
    char hp[1200];
    snprintf(hp, sizeof hp, "%s/.history/%.*s.jsonl", s->cfg->rules, (int)(strlen(path) - 4), path);
    FILE *f = fopen(hp, "r");
    if (!f) return NULL;
    char *best = NULL, *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const char *src = j ? json_string_value(json_object_get(j, "source")) : NULL;
        size_t n = src ? json_string_length(json_object_get(j, "source")) : 0;
        if (src && !(n == notlen && memcmp(src, not, n) == 0)) {
            char *copy = malloc(n + 1);
            if (copy) { memcpy(copy, src, n); copy[n] = '\0'; free(best); best = copy; *len = n; }
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return best;
}

/* Appends "file TAB serving TAB why" (why on one line) to the problems text. */
static void note_problem(char **text, size_t *len, const char *path, const char *serving, const char *why)
{
    char flat[1024];
    snprintf(flat, sizeof flat, "%s", why);
    for (char *c = flat; *c; c++) if (*c == '\n' || *c == '\t') *c = ' ';
    size_t add = strlen(path) + strlen(serving) + strlen(flat) + 3;
    char *t = realloc(*text, *len + add + 1);
    if (!t) return;
    *text = t;
    *len += (size_t)snprintf(t + *len, add + 1, "%s\t%s\t%s\n", path, serving, flat);
}

/* The rules as the workers will run them. Every file is loaded as the
 * workers load it; one that does not load is replaced by its last version
 * that did (from prev, the set serving now), or at start-up by the newest
 * saved version that loads, or left out — and never holds the other files
 * back. What was left out or replaced, and why, goes in the snapshot as
 * RK_SANDBOX_PROBLEMS for rules.broken(), the console and the log.
 * Returns a new reference, or NULL with err when the scripts themselves
 * do not load. */
static rk_snapshot_t *vet_rules(rk_server_t *s, rk_snapshot_t *scripts, rk_snapshot_t *read, const rk_snapshot_t *prev,
                               int *nproblems, char *err, size_t errlen)
{
    *nproblems = 0;
    if (!read) return NULL;
    rk_snapshot_t *cur = rk_snapshot_retain(read);
    char *problems = NULL, done[64][160];
    size_t plen = 0;
    int ndone = 0;
    for (int round = 0; round < 8; round++) {
        rk_vm_opts_t o = { scripts, s->cfg->lua_memory_limit, LOAD_TIMEOUT_MS, NULL, ENTRY_MODULE, cur, 0, NULL };
        rk_vm_t *vm = rk_vm_new(&o, err, errlen);
        if (!vm) { rk_snapshot_release(cur); free(problems); return NULL; }
        int n = rk_sandbox_broken_count(vm);
        for (int i = 0; i < n; i++) {
            const char *why, *path = rk_sandbox_broken_at(vm, i, &why);
            if (!path) continue;
            const rk_script_file_t *now = rk_snapshot_find(cur, path);
            const rk_script_file_t *good = prev ? rk_snapshot_find(prev, path) : NULL;
            int seen = 0;
            for (int k = 0; k < ndone; k++) if (strcmp(done[k], path) == 0) seen = 1;
            const char *serving = "none";
            char *hist = NULL;
            size_t hlen = 0;
            rk_snapshot_t *next = NULL;
            if (!seen && good && now && !(good->len == now->len && memcmp(good->data, now->data, now->len) == 0)) {
                serving = "previous";
                next = rk_snapshot_with(cur, path, good->data, good->len);
            } else if (!seen && now && (hist = history_version(s, path, now->data, now->len, &hlen))) {
                serving = "history";
                next = rk_snapshot_with(cur, path, hist, hlen);
            } else {
                next = rk_snapshot_with(cur, path, NULL, 0);
            }
            free(hist);
            if (!seen) {
                note_problem(&problems, &plen, path, serving, why ? why : "");
                (*nproblems)++;
                if (ndone < 64) snprintf(done[ndone++], sizeof done[0], "%s", path);
            }
            if (next) { rk_snapshot_release(cur); cur = next; }
        }
        rk_vm_free(vm);
        if (n == 0) break;
    }
    if (problems) {
        rk_snapshot_t *with = rk_snapshot_with(cur, RK_SANDBOX_PROBLEMS, problems, plen);
        if (with) { rk_snapshot_release(cur); cur = with; }
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_ERROR, "rule files left out or replaced by an earlier version");
        rk_log_str(&e, "problems", problems);
        rk_log_end(&e);
    }
    free(problems);
    return cur;
}

/* Rereads the trees in `which`, validates the new set in a scratch state and
 * publishes it; a set that fails keeps the old one serving. */
static void reload(rk_server_t *s, unsigned which)
{
    char err[2048] = "";
    codeset_t *cur = current_set(s), *next = NULL;
    rk_snapshot_t *scripts = NULL, *rules = NULL;
    rk_iforest_t *model = NULL;
    uint64_t stamp = cur->model_stamp;
    rk_vm_t *vm = NULL;
    int ref, failed = 0;
    if (which & TAG_SCRIPTS) failed = !(scripts = rk_snapshot_load(s->cfg->scripts, err, sizeof err));
    else scripts = rk_snapshot_retain(cur->scripts);
    uint64_t read = cur->rules_read;
    int nproblems = -1;
    if (!failed && (which & TAG_RULES)) {
        rk_snapshot_t *raw = load_rules(s, &failed, err, sizeof err);
        read = raw ? raw->digest : 0;
        if (!failed && raw && (read != cur->rules_read || scripts->digest != cur->scripts->digest)) {
            rules = vet_rules(s, scripts, raw, cur->rules, &nproblems, err, sizeof err);
            if (!rules) failed = 1;
        } else if (!failed && raw) {
            rules = rk_snapshot_retain(cur->rules);
        }
        rk_snapshot_release(raw);
    } else if (!failed) {
        rules = rk_snapshot_retain(cur->rules);
    }
    if (!failed && (which & TAG_MODELS)) model = load_model(s, &stamp, &failed, err, sizeof err);
    else if (!failed) model = rk_iforest_retain(cur->model);
    if (!failed && scripts->digest == cur->scripts->digest && read == cur->rules_read &&
        (rules ? rules->digest : 0) == (cur->rules ? cur->rules->digest : 0) && stamp == cur->model_stamp)
        goto done;   /* touched, not changed */
    if (!failed) {
        next = codeset_new(scripts, rules, model, stamp, cur->generation + 1);
        if (next) next->rules_read = read;
        if (next) vm = build_vm(s, next, NULL, &ref, err, sizeof err);
    }
    const char *what = (which & TAG_SCRIPTS) ? "scripts" : (which & TAG_RULES) ? "rules" : "model";
    if (!vm) {
        rk_metrics_inc(s->metrics, RK_M_RELOAD_FAILURES);
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_ERROR, "change rejected, previous version keeps serving");
        rk_log_str(&e, "what", what);
        rk_log_str(&e, "error", err);
        rk_log_int(&e, "generation", (long long)cur->generation);
        rk_log_end(&e);
        publish_reload(s, (which & TAG_MODELS) && !(which & (TAG_SCRIPTS | TAG_RULES)) ? "models" : "rules", "rejected",
                       what, cur->generation, err);
        goto done;
    }
    rk_vm_free(vm);
    pthread_mutex_lock(&s->mu);
    codeset_t *old = s->current;
    s->current = next;
    next = NULL;
    pthread_mutex_unlock(&s->mu);
    codeset_release(old);
    rk_metrics_inc(s->metrics, RK_M_RELOADS);
    rk_metrics_set_generation(s->metrics, cur->generation + 1);
    if (nproblems >= 0) rk_metrics_set_rule_problems(s->metrics, (unsigned long long)nproblems);
    rk_log_t e;
    rk_log_begin(&e, RK_LOG_INFO, "reloaded");
    rk_log_str(&e, "what", what);
    rk_log_int(&e, "generation", (long long)cur->generation + 1);
    rk_log_int(&e, "scripts", (long long)scripts->n);
    rk_log_int(&e, "rules", rules ? (long long)rules->n : 0);
    rk_log_bool(&e, "model", model != NULL);
    rk_log_end(&e);
    for (int i = 0; i < s->nworkers; i++) event_active(s->workers[i].reload_ev, EV_READ, 0);
    if (nproblems > 0) {   /* files of the edit that do not load: an earlier version or none serves */
        const rk_script_file_t *pf = rk_snapshot_find(rules, RK_SANDBOX_PROBLEMS);
        publish_reload(s, "rules", "rejected", what, cur->generation + 1, pf ? pf->data : "");
    }
    if (which & (TAG_SCRIPTS | TAG_RULES)) publish_reload(s, "rules", "reloaded", what, cur->generation + 1, NULL);
    if (which & TAG_MODELS) publish_reload(s, "models", "reloaded", "model", cur->generation + 1, NULL);
done:
    codeset_release(next);
    rk_snapshot_release(scripts);
    rk_snapshot_release(rules);
    rk_iforest_release(model);
    codeset_release(cur);
}

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_server_t *s = arg;
    unsigned which = s->pending_tags;
    s->pending_tags = 0;
    /* The intel folder is data, not code: it swaps on its own. */
    if (which & TAG_INTEL) rk_intel_reload(s->intel);
    if (which & ~TAG_INTEL) reload(s, which & ~TAG_INTEL);
}

static void on_intel_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_intel_reload(((rk_server_t *)arg)->intel);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_server_t *s = arg;
    unsigned tags = rk_watch_drain(s->watch);
    s->pending_tags |= tags;
    if (tags) {
        /* Editors write in several steps; wait for the burst to settle. */
        struct timeval tv = { 0, DEBOUNCE_MS * 1000 };
        event_add(s->debounce_ev, &tv);
    }
}

/* Retention: old login events go in small transactions, so the write lock
 * is never held for long and requests keep flowing between batches. */
static void on_purge(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    rk_server_t *s = arg;
    char err[512];
    int64_t total = 0, n = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (int i = 0; i < PURGE_BATCHES; i++) {
        if (rk_store_purge(s->store, now_ms, PURGE_BATCH, &n, err, sizeof err) != 0) {
            rk_log_msg(RK_LOG_ERROR, "retention purge failed", "error", err);
            break;
        }
        total += n;
        if (n < PURGE_BATCH) break;
    }
    if (total) {
        rk_log_t e;
        rk_log_begin(&e, RK_LOG_INFO, "retention purge");
        rk_log_int(&e, "events", total);
        rk_log_int(&e, "retention_days", s->cfg->retention_days);
        rk_log_end(&e);
    }
}

/* The calibrated levels (calib.h) are kept in the store, so that a restart
 * does not begin a warm-up again. */
static void calib_load(rk_server_t *s)
{
    char *text = NULL, err[256];
    int rc = rk_store_state_get(s->store, RK_CALIB_STATE_KEY, &text, err, sizeof err);
    if (rc == 0 && rk_calib_decode(s->calib, text) != 0) rk_log_msg(RK_LOG_WARN, "the stored calibration is unreadable: starting again", NULL, NULL);
    else if (rc < 0) rk_log_msg(RK_LOG_WARN, "cannot read the stored calibration", "error", err);
    free(text);
}

static void calib_save(rk_server_t *s)
{
    if (!s->store || !s->calib) return;
    char *text = rk_calib_encode(s->calib), err[256];
    if (text && rk_store_state_put(s->store, RK_CALIB_STATE_KEY, text, err, sizeof err) != 0)
        rk_log_msg(RK_LOG_WARN, "cannot save the calibration", "error", err);
    free(text);
}

/* The site-wide rates' baselines (rates.h) likewise, where the store does not
 * share them between instances (SQLite: rates_sync.h does it for MongoDB),
 * so that a restart does not leave the spike rules a day without a baseline. */
static void rates_load(rk_server_t *s)
{
    if (rk_store_shares_rates(s->store)) return;
    char *text = NULL, err[256];
    int rc = rk_store_state_get(s->store, RK_RATES_STATE_KEY, &text, err, sizeof err);
    if (rc == 0 && rk_rates_decode(rk_rates_global(), text) != 0)
        rk_log_msg(RK_LOG_WARN, "the stored site-wide rates are unreadable: starting again", NULL, NULL);
    else if (rc < 0) rk_log_msg(RK_LOG_WARN, "cannot read the stored site-wide rates", "error", err);
    free(text);
}

static void rates_save(rk_server_t *s)
{
    if (!s->store || rk_store_shares_rates(s->store)) return;
    char *text = rk_rates_encode(rk_rates_global()), err[256];
    if (text && rk_store_state_put(s->store, RK_RATES_STATE_KEY, text, err, sizeof err) != 0)
        rk_log_msg(RK_LOG_WARN, "cannot save the site-wide rates", "error", err);
    free(text);
}

static void on_calib_save(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    calib_save(arg);
    rates_save(arg);
}

static int open_store(rk_server_t *s, char *err, size_t errlen)
{
    rk_store_opts_t o;
    rk_config_store_opts(s->cfg, &o);
    rk_writer_handle_opts(&o);
    /* The embedded store's handles share the analysis's state in memory;
     * the writer's handle (below) feeds it. */
    if (strncmp(s->cfg->db, "sqlite:", 7) == 0 && !(s->live = rk_live_new(NULL))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o.live = s->live;
    s->store = rk_store_open(s->cfg->db, &o, err, errlen);
    if (!s->store) return -1;
    if (s->cfg->retention_days > 0) {
        struct timeval every = { PURGE_EVERY_S, 0 };
        s->purge_ev = event_new(s->base, -1, EV_PERSIST, on_purge, s);
        if (!s->purge_ev || event_add(s->purge_ev, &every) < 0) { snprintf(err, errlen, "cannot schedule retention"); return -1; }
        event_active(s->purge_ev, EV_TIMEOUT, 0);   /* once at start-up too */
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    rk_server_t *s = arg;
    rk_log_msg(RK_LOG_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    for (int i = 0; i < s->nworkers; i++) event_active(s->workers[i].stop_ev, EV_READ, 0);
    event_base_loopexit(s->base, NULL);
}

/* ---- start-up ----------------------------------------------------------- */

static int open_listener(rk_server_t *s, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char port[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", s->cfg->port);
    int rc = getaddrinfo(s->cfg->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", s->cfg->host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->cfg->host, s->cfg->port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return 0;
}

static int load_initial_code(rk_server_t *s, char *err, size_t errlen)
{
    int failed = 0, ref;
    uint64_t stamp = 0;
    /* A folder named that is not there is a mistake, not an empty set; the
     * defaults may be absent (a server with no rules or no model yet). */
    rk_config_t defaults;
    rk_config_defaults(&defaults);
    const char *const folders[][3] = { { "--scripts", s->cfg->scripts, "" },
                                       { "--rules", s->cfg->rules, defaults.rules },
                                       { "--models", s->cfg->models, defaults.models } };
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        struct stat st;
        if (stat(folders[i][1], &st) == 0 && S_ISDIR(st.st_mode)) continue;
        if (strcmp(folders[i][1], folders[i][2]) != 0) {
            snprintf(err, errlen, "%s %s: no such folder", folders[i][0], folders[i][1]);
            return -1;
        }
        char msg[1200];
        snprintf(msg, sizeof msg, "no %s folder: serving without it", folders[i][1]);
        rk_log_msg(RK_LOG_WARN, msg, "option", folders[i][0]);
    }
    rk_snapshot_t *scripts = rk_snapshot_load(s->cfg->scripts, err, errlen);
    if (!scripts) return -1;
    rk_snapshot_t *raw = load_rules(s, &failed, err, errlen);
    int nproblems = 0;
    rk_snapshot_t *rules = failed ? NULL : vet_rules(s, scripts, raw, NULL, &nproblems, err, errlen);
    if (raw && !rules) failed = 1;
    rk_iforest_t *model = NULL;
    if (!failed) {
        /* A model that does not load is no reason not to serve: say so
         * loudly and score without it until a good one is in place. */
        char merr[512];
        int mfailed = 0;
        model = load_model(s, &stamp, &mfailed, merr, sizeof merr);
        if (mfailed) rk_log_msg(RK_LOG_ERROR, "the live model does not load: serving without a model", "error", merr);
    }
    codeset_t *set = failed ? NULL : codeset_new(scripts, rules, model, stamp, 1);
    if (set) set->rules_read = raw ? raw->digest : 0;
    rk_metrics_set_rule_problems(s->metrics, (unsigned long long)nproblems);
    rk_snapshot_release(scripts);
    rk_snapshot_release(raw);
    rk_snapshot_release(rules);
    rk_iforest_release(model);
    if (!set) return -1;
    rk_vm_t *vm = build_vm(s, set, NULL, &ref, err, errlen);
    if (!vm) { codeset_release(set); return -1; }
    rk_vm_free(vm);
    s->current = set;
    rk_metrics_set_generation(s->metrics, 1);
    return 0;
}

static int start_watching(rk_server_t *s, char *err, size_t errlen)
{
    s->watch = rk_watch_new(err, errlen);
    if (!s->watch || rk_watch_add_tree(s->watch, s->cfg->scripts, TAG_SCRIPTS, err, errlen) < 0)
        return -1;
    if (s->current->rules && rk_watch_add_tree(s->watch, s->cfg->rules, TAG_RULES, err, errlen) < 0)
        return -1;
    struct stat st;
    if (stat(s->cfg->models, &st) == 0 && S_ISDIR(st.st_mode) &&
        rk_watch_add_tree(s->watch, s->cfg->models, TAG_MODELS, err, errlen) < 0)
        return -1;
    if (stat(s->cfg->intel, &st) == 0 && S_ISDIR(st.st_mode) &&
        rk_watch_add_tree(s->watch, s->cfg->intel, TAG_INTEL, err, errlen) < 0)
        return -1;
    s->watch_ev = event_new(s->base, rk_watch_fd(s->watch), EV_READ | EV_PERSIST, on_watch, s);
    s->debounce_ev = evtimer_new(s->base, on_debounce, s);
    if (!s->watch_ev || !s->debounce_ev || event_add(s->watch_ev, NULL) < 0) {
        snprintf(err, errlen, "cannot watch %s", s->cfg->scripts);
        return -1;
    }
    return 0;
}

static void server_free(rk_server_t *s)
{
    /* The workers have stopped taking requests: finish the queued writes
     * and hashes first, so their answers are in the mailboxes. */
    rk_writer_stop(s->writer);
    rk_rates_syncer_stop(s->rates_sync);   /* a last round: the hits counted are shared */
    rk_deliverer_stop(s->deliverer);
    rk_mongo_watch_stop(s->mwatch);   /* before the hub it publishes to */
    rk_pool_free(s->pool);
    for (int i = 0; s->workers && i < s->nworkers; i++) worker_free(&s->workers[i]);
    free(s->workers);
    rk_lockout_free(s->lockout);
    if (s->calib_ev) { event_free(s->calib_ev); calib_save(s); rates_save(s); }   /* what the workers counted last */
    rk_calib_free(s->calib);
    rk_xacct_free(s->xacct);
    rk_addrcount_free(s->addrcount);
    rk_watchdog_stop(s->watchdog);
    if (s->watch_ev) event_free(s->watch_ev);
    if (s->debounce_ev) event_free(s->debounce_ev);
    if (s->sigterm_ev) event_free(s->sigterm_ev);
    if (s->sigint_ev) event_free(s->sigint_ev);
    if (s->purge_ev) event_free(s->purge_ev);
    if (s->intel_ev) event_free(s->intel_ev);
    rk_store_close(s->store);
    rk_live_free(s->live);   /* after every handle that reads it */
    rk_geo_close(s->geo);
    rk_watch_free(s->watch);
    rk_intel_close(s->intel);
    rk_hub_free(s->hub);
    if (s->base) event_base_free(s->base);
    if (s->listen_fd >= 0) close(s->listen_fd);
    codeset_release(s->current);
    rk_metrics_free(s->metrics);
    rk_cidr_list_free(&s->trusted);
    pthread_mutex_destroy(&s->mu);
}

/* A store without an admin account: nobody can sign in to the console or
 * manage the others yet, so the first start says how to make one. A store
 * that keeps no accounts (mem:) or does not answer says nothing here. */
static void first_admin_hint(rk_store_t *store, const char *db)
{
    rk_user_t *users = NULL;
    size_t n = 0;
    char err[256];
    if (rk_store_user_list(store, &users, &n, err, sizeof err) != 0) return;
    int admins = 0;
    for (size_t i = 0; i < n; i++) {
        admins += users[i].role && strcmp(users[i].role, "admin") == 0;
        rk_store_user_free(&users[i]);
    }
    free(users);
    if (admins) return;
    char shown[1100], cmd[1300];
    rk_store_uri_display(db, shown, sizeof shown);
    snprintf(cmd, sizeof cmd, "riskd user add NAME --role admin --db '%s'", shown);
    rk_log_t e;
    rk_log_begin(&e, RK_LOG_WARN, "no admin account yet: create the first one");
    rk_log_str(&e, "run", cmd);
    rk_log_end(&e);
}

int rk_server_run(const rk_config_t *cfg)
{
    rk_server_t s;
    char err[2048];
    int started = 0;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.listen_fd = -1;
    s.exit_code = 1;
    pthread_mutex_init(&s.mu, NULL);
    s.nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s.nworkers < 1) s.nworkers = 1;

    /* The memory store is one replay's scratch (riskd score): each worker
     * would have its own, and a restart would forget everything. */
    if (strncmp(cfg->db, "mem:", 4) == 0) {
        snprintf(err, sizeof err, "--db mem: keeps nothing and is for riskd score, eval and train; serve needs"
                 " sqlite:PATH or a mongodb:// URI");
        goto fail;
    }
    /* Fail closed at the door: without a secret no token can be issued or
     * checked, and a short one can be guessed. (`make run` writes a random
     * one to .env the first time.) */
    if (strlen(cfg->jwt_secret) < 32) {
        snprintf(err, sizeof err, "JWT_SECRET %s: riskd serve needs a secret of at least 32 bytes in the"
                 " environment or .env (make run creates one)", cfg->jwt_secret[0] ? "is too short" : "is not set");
        goto fail;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);   /* background jobs (riskd retrain) are reaped by the kernel */
    if (evthread_use_pthreads() < 0) { snprintf(err, sizeof err, "libevent has no thread support"); goto fail; }
    if (rk_cidr_list_parse(&s.trusted, cfg->trusted_proxies, err, sizeof err) < 0) goto fail;
    if (strcmp(cfg->sqlite_sync, "normal") != 0 && strcmp(cfg->sqlite_sync, "full") != 0) {
        snprintf(err, sizeof err, "--sqlite-sync: expected normal or full, got '%s'", cfg->sqlite_sync);
        goto fail;
    }
    if (strcasecmp(cfg->proxy_header, "x-forwarded-for") != 0 && strcasecmp(cfg->proxy_header, "forwarded") != 0) {
        snprintf(err, sizeof err, "--proxy-header: expected x-forwarded-for or forwarded, got '%s'", cfg->proxy_header);
        goto fail;
    }
    s.metrics = rk_metrics_new(s.nworkers);
    s.base = event_base_new();
    s.workers = calloc((size_t)s.nworkers, sizeof *s.workers);
    if (!s.metrics || !s.base || !s.workers) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (open_store(&s, err, sizeof err) < 0) goto fail;
    if (rk_store_batches(s.store)) {
        rk_store_opts_t so;
        rk_config_store_opts(cfg, &so);
        so.busy_timeout_ms = cfg->store_timeout_ms;
        so.live = s.live;
        so.live_owner = 1;
        so.summary_ms = cfg->sqlite_summary_ms;
        if (!(s.writer = rk_writer_start(cfg->db, &so, err, sizeof err))) goto fail;
    }
    if (!(s.pool = rk_pool_new(s.nworkers, err, sizeof err))) goto fail;
    rk_lockout_cfg_t lockout_cfg;
    rk_config_lockout(cfg, &lockout_cfg);
    if (!(s.lockout = rk_lockout_new(&lockout_cfg))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (!(s.calib = rk_calib_new())) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    calib_load(&s);
    rates_load(&s);
    if (!(s.xacct = rk_xacct_new(XACCT_SLOTS))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    struct timeval calib_every = { CALIB_SAVE_EVERY_S, 0 };
    if (!(s.calib_ev = event_new(s.base, -1, EV_PERSIST, on_calib_save, &s)) || event_add(s.calib_ev, &calib_every) < 0) {
        snprintf(err, sizeof err, "cannot schedule saving the calibration");
        goto fail;
    }
    if (!(s.addrcount = rk_addrcount_new(cfg->max_connections_per_address))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (!(s.watchdog = rk_watchdog_start(rk_vm_watchdog_fire, s.metrics, err, sizeof err))) goto fail;
    err[0] = '\0';
    s.geo = rk_geo_open(cfg->geoip_db, cfg->asn_db, err, sizeof err);
    if (!s.geo && err[0]) goto fail;
    if (!(s.intel = rk_intel_open(cfg->intel, cfg->state))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (!(s.hub = rk_hub_new(RK_HUB_BACKLOG))) { snprintf(err, sizeof err, "out of memory"); goto fail; }
    if (strcmp(rk_store_backend(s.store), "mongodb") == 0 && !(s.mwatch = rk_mongo_watch_start(cfg->db, s.hub, err, sizeof err)))
        goto fail;
    if (rk_store_shares_rates(s.store)) {
        int off;
        if (!(s.rates_sync = rk_rates_syncer_start(rk_rates_global(), cfg->db, RK_RATES_SYNC_MS, &off, err, sizeof err)))
            goto fail;
    }
    {
        rk_deliver_opts_t dopt = { cfg->webhook_secret, cfg->webhook_ca, cfg->webhook_retry_ms, cfg->webhook_max_attempts,
                                   cfg->webhook_timeout_ms };
        int off;
        if (!(s.deliverer = rk_deliverer_start(cfg->db, &dopt, &off, err, sizeof err)) && !off) goto fail;
    }
    struct timeval every = { INTEL_EVERY_S, 0 };
    s.intel_ev = event_new(s.base, -1, EV_PERSIST, on_intel_timer, &s);
    if (!s.intel_ev || event_add(s.intel_ev, &every) < 0) { snprintf(err, sizeof err, "cannot schedule intel reloads"); goto fail; }
    if (load_initial_code(&s, err, sizeof err) < 0) goto fail;
    if (open_listener(&s, err, sizeof err) < 0) goto fail;
    for (int i = 0; i < s.nworkers; i++)
        if (worker_init(&s, &s.workers[i], i, err, sizeof err) < 0) goto fail;
    if (start_watching(&s, err, sizeof err) < 0) goto fail;
    s.sigterm_ev = evsignal_new(s.base, SIGTERM, on_signal, &s);
    s.sigint_ev = evsignal_new(s.base, SIGINT, on_signal, &s);
    if (!s.sigterm_ev || !s.sigint_ev || evsignal_add(s.sigterm_ev, NULL) < 0 || evsignal_add(s.sigint_ev, NULL) < 0) {
        snprintf(err, sizeof err, "cannot install signal handlers");
        goto fail;
    }
    for (int i = 0; i < s.nworkers; i++) {
        if (pthread_create(&s.workers[i].thread, NULL, worker_main, &s.workers[i]) != 0) {
            snprintf(err, sizeof err, "cannot start worker %d", i);
            for (int j = 0; j < i; j++) event_active(s.workers[j].stop_ev, EV_READ, 0);
            for (int j = 0; j < i; j++) pthread_join(s.workers[j].thread, NULL);
            goto fail;
        }
        started++;
    }

    first_admin_hint(s.store, cfg->db);

    rk_log_t e;
    rk_log_begin(&e, RK_LOG_INFO, "listening");
    rk_log_str(&e, "host", cfg->host);
    rk_log_int(&e, "port", s.port);
    rk_log_int(&e, "workers", s.nworkers);
    rk_log_str(&e, "scripts", cfg->scripts);
    rk_log_str(&e, "store", rk_store_backend(s.store));
    char shown[1100];
    rk_store_uri_display(cfg->db, shown, sizeof shown);
    rk_log_str(&e, "db", shown);
    if (s.mwatch) rk_log_str(&e, "origin", rk_mongo_origin());   /* its tag on the alerts it writes */
    rk_log_bool(&e, "enrichment", s.geo != NULL);
    rk_log_str(&e, "intel", cfg->intel);
    rk_log_str(&e, "version", RK_VERSION);
    rk_log_end(&e);

    event_base_dispatch(s.base);
    for (int i = 0; i < started; i++) pthread_join(s.workers[i].thread, NULL);
    rk_log_msg(RK_LOG_INFO, "stopped", NULL, NULL);
    server_free(&s);
    return 0;

fail:
    rk_log_msg(RK_LOG_ERROR, "cannot start", "error", err);
    server_free(&s);
    return 1;
}

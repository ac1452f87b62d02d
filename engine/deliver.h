/* deliver.h — alerts and high-risk events on their way to the site's
 * webhooks and SIEM. Pure C (libevent's HTTP client, OpenSSL).
 *
 * The analysis puts each delivery in the store's outbox (store.h); a thread
 * of the server takes the due ones every RK_DELIVER_POLL_MS and sends them:
 *   http://, https://   a POST of the JSON body, signed with
 *                       X-Riskd-Signature: sha256=HEX (HMAC-SHA256 of the body)
 *   udp://, tcp://      one syslog message (RFC 5424; over TCP framed by
 *                       octet counting, RFC 6587) whose MSG is the JSON
 *   file:PATH           one JSON line appended
 * A delivery that fails is tried again after retry_ms, doubling up to
 * RK_DELIVER_MAX_BACKOFF_MS, and after max_attempts it is dead: kept, shown
 * in the dead-letter view, sent again only when an admin asks. The outbox
 * is in the store, so a restart, or a receiver down for hours, loses
 * nothing. */
#ifndef RK_DELIVER_H
#define RK_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define RK_DELIVER_POLL_MS 250
#define RK_DELIVER_BATCH 32
#define RK_DELIVER_MAX_BACKOFF_MS 3600000LL
#define RK_DELIVER_SIG_LEN (7 + 64)   /* "sha256=" and the hex digest */

typedef struct rk_deliver_opts {
    const char *secret;       /* the HMAC key; "" or NULL: deliveries go unsigned */
    const char *ca_file;      /* more CA certificates for https, or "" */
    int retry_ms, max_attempts, timeout_ms;
} rk_deliver_opts_t;

/* "sha256=" and the hex HMAC-SHA256 of body under secret, in out. */
void rk_deliver_sign(const char *secret, const char *body, size_t len, char out[RK_DELIVER_SIG_LEN + 1]);
/* When a delivery that failed for the attempts-th time is tried again. */
int64_t rk_deliver_next(int attempts, int retry_ms, int64_t now_ms);
/* One RFC 5424 message: <PRI>1 TIMESTAMP HOST riskd - MSGID - MSG, with
 * facility authpriv and the severity given (0-7); the length, or 0 when it
 * does not fit in cap. */
size_t rk_deliver_syslog(char *out, size_t cap, int severity, int64_t ts_ms, const char *host, const char *msgid,
                         const char *msg);
/* Whether dest is a destination riskd can deliver to. */
int rk_deliver_dest_valid(const char *dest);

typedef struct rk_deliverer rk_deliverer_t;

/* Sends one claimed delivery now: 0 when delivered, or -1 with why in err.
 * The deliverer's own connections and TLS context are used. */
int rk_deliver_once(rk_deliverer_t *d, const rk_outbox_item_t *it, char *err, size_t errlen);

/* Starts the thread with its own store connection to uri; NULL with err, or
 * NULL with err empty and *off set when the store keeps no outbox (mem:). */
rk_deliverer_t *rk_deliverer_start(const char *uri, const rk_deliver_opts_t *o, int *off, char *err, size_t errlen);
/* A deliverer without a thread or a store, for rk_deliver_once (tests). */
rk_deliverer_t *rk_deliverer_new(const rk_deliver_opts_t *o, char *err, size_t errlen);
/* Deliveries done, retried and given up so far (for /metrics). */
void rk_deliverer_counts(rk_deliverer_t *d, int64_t *delivered, int64_t *retried, int64_t *dead);
/* Stops the thread (a delivery under way finishes or times out); frees. */
void rk_deliverer_stop(rk_deliverer_t *d);

#endif

/* log.h — structured logs: one JSON object per line on stderr.
 *
 * A line is built in a fixed buffer on the caller's stack and written with a
 * single write(2), so lines from different threads never interleave.
 *
 *   rk_log_t e; rk_log_begin(&e, RK_LOG_INFO, "listening");
 *   rk_log_str(&e, "host", host); rk_log_int(&e, "port", port);
 *   rk_log_end(&e);
 */
#ifndef RK_LOG_H
#define RK_LOG_H

#include <stddef.h>

typedef enum { RK_LOG_DEBUG = 0, RK_LOG_INFO, RK_LOG_WARN, RK_LOG_ERROR } rk_log_level;

#define RK_LOG_LINE_MAX 4096

typedef struct rk_log {
    char buf[RK_LOG_LINE_MAX];
    size_t len;
    int skip;       /* below the threshold: every call is a no-op */
    int truncated;  /* the line hit RK_LOG_LINE_MAX */
} rk_log_t;

void rk_log_set_level(rk_log_level lvl);
void rk_log_set_fd(int fd);                 /* default 2; tests redirect it */
int rk_log_parse_level(const char *s, rk_log_level *out);

void rk_log_begin(rk_log_t *e, rk_log_level lvl, const char *msg);
void rk_log_str(rk_log_t *e, const char *key, const char *val);
void rk_log_strn(rk_log_t *e, const char *key, const char *val, size_t n);
void rk_log_int(rk_log_t *e, const char *key, long long val);
void rk_log_num(rk_log_t *e, const char *key, double val);
void rk_log_bool(rk_log_t *e, const char *key, int val);
void rk_log_end(rk_log_t *e);

/* One-liners for the common case of a message with one string field. */
void rk_log_msg(rk_log_level lvl, const char *msg, const char *key, const char *val);

/* Appends val to buf[*len..cap) as a JSON string body (no quotes), escaping
 * control characters, quotes, backslashes and invalid UTF-8 bytes (as
 * U+FFFD). Returns 0, or -1 when it had to stop at cap. Shared with metrics. */
int rk_json_escape(char *buf, size_t *len, size_t cap, const char *s, size_t n);

#endif

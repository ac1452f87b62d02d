/* log.c — JSON-lines logger; see log.h. */
#include "log.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = RK_LOG_INFO;
static atomic_int g_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void rk_log_set_level(rk_log_level lvl) { atomic_store(&g_level, (int)lvl); }
void rk_log_set_fd(int fd) { atomic_store(&g_fd, fd); }

int rk_log_parse_level(const char *s, rk_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (rk_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Room always kept at the end of a line for the truncation mark and "}\n",
 * so a cut line is still one valid JSON object. */
#define TRUNC_MARK ",\"truncated\":true"
#define RESERVE (sizeof TRUNC_MARK - 1 + 2)

static void put(rk_log_t *e, const char *s, size_t n)
{
    if (e->truncated) return;
    if (e->len + n + RESERVE > sizeof e->buf) {
        e->truncated = 1;
        return;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
}

static size_t utf8_len(const unsigned char *p, size_t n)
{
    /* Length of a valid UTF-8 sequence at p, or 0 when invalid. */
    unsigned c = p[0];
    size_t need;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) { need = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { need = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { need = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return need;
}

int rk_json_escape(char *buf, size_t *len, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        char tmp[8];
        const char *out = tmp;
        size_t outn;
        unsigned char c = p[i];
        size_t ul = 1;
        if (c == '"' || c == '\\') { tmp[0] = '\\'; tmp[1] = (char)c; outn = 2; }
        else if (c == '\n') { out = "\\n"; outn = 2; }
        else if (c == '\r') { out = "\\r"; outn = 2; }
        else if (c == '\t') { out = "\\t"; outn = 2; }
        else if (c < 0x20 || c == 0x7F) { outn = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c); }
        else if (c < 0x80) { tmp[0] = (char)c; outn = 1; }
        else if ((ul = utf8_len(p + i, n - i)) == 0) { out = "\\ufffd"; outn = 6; ul = 1; }
        else { out = s + i; outn = ul; }
        if (*len + outn > cap) return -1;
        memcpy(buf + *len, out, outn);
        *len += outn;
        i += ul;
    }
    return 0;
}

/* Writes ,"key": and reserves room for `after` more bytes, all or nothing,
 * so a line is never cut between a key and its value. */
static int key(rk_log_t *e, const char *k, size_t after)
{
    char tmp[128];
    int n = snprintf(tmp, sizeof tmp, ",\"%s\":", k);
    if (n < 0 || (size_t)n >= sizeof tmp || e->len + (size_t)n + after + RESERVE > sizeof e->buf) {
        e->truncated = 1;
        return -1;
    }
    put(e, tmp, (size_t)n);
    return 0;
}

void rk_log_begin(rk_log_t *e, rk_log_level lvl, const char *msg)
{
    e->len = 0;
    e->truncated = 0;
    e->skip = (int)lvl < atomic_load(&g_level);
    if (e->skip) return;

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    e->len = (size_t)snprintf(e->buf, sizeof e->buf,
        "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, ts.tv_nsec / 1000000L, level_names[lvl]);
    rk_log_str(e, "msg", msg);
}

void rk_log_strn(rk_log_t *e, const char *k, const char *v, size_t n)
{
    if (e->skip || e->truncated) return;
    if (key(e, k, v ? 3 : 4) < 0) return;
    if (v == NULL) { put(e, "null", 4); return; }
    put(e, "\"", 1);
    /* One byte more than RESERVE stays free for the closing quote. */
    if (rk_json_escape(e->buf, &e->len, sizeof e->buf - RESERVE - 1, v, n) < 0) {
        e->buf[e->len++] = '"';
        e->truncated = 1;
        return;
    }
    put(e, "\"", 1);
}

void rk_log_str(rk_log_t *e, const char *k, const char *v)
{
    rk_log_strn(e, k, v, v ? strlen(v) : 0);
}

void rk_log_int(rk_log_t *e, const char *k, long long v)
{
    if (e->skip) return;
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    if (key(e, k, (size_t)n) == 0) put(e, tmp, (size_t)n);
}

void rk_log_num(rk_log_t *e, const char *k, double v)
{
    if (e->skip) return;
    char tmp[40];
    int n = isfinite(v) ? snprintf(tmp, sizeof tmp, "%.17g", v) : snprintf(tmp, sizeof tmp, "null");
    if (key(e, k, (size_t)n) == 0) put(e, tmp, (size_t)n);
}

void rk_log_bool(rk_log_t *e, const char *k, int v)
{
    if (e->skip) return;
    if (key(e, k, 5) < 0) return;
    if (v) put(e, "true", 4); else put(e, "false", 5);
}

void rk_log_end(rk_log_t *e)
{
    if (e->skip) return;
    if (e->truncated) {
        memcpy(e->buf + e->len, TRUNC_MARK, sizeof TRUNC_MARK - 1);
        e->len += sizeof TRUNC_MARK - 1;
    }
    e->buf[e->len++] = '}';
    e->buf[e->len++] = '\n';
    /* One write per line; a short write to a pipe under PIPE_BUF cannot happen. */
    ssize_t w = write(atomic_load(&g_fd), e->buf, e->len);
    (void)w;
}

void rk_log_msg(rk_log_level lvl, const char *msg, const char *k, const char *v)
{
    rk_log_t e;
    rk_log_begin(&e, lvl, msg);
    if (k) rk_log_str(&e, k, v);
    rk_log_end(&e);
}

/* ws_latency.c PORT ADMIN_TOKEN SERVICE_TOKEN [SECONDS | --hold SECONDS] —
 * `make bench`: delivery latency of alerts to WebSocket subscribers. Opens
 * BENCH_WS_SUBSCRIBERS (1,000) subscribers to the alerts topic, then posts
 * high-risk analyses at 100/s and times, on every subscriber, each alert
 * from sending its analysis to receiving it (p50, p99, max), beside the
 * analysis's own HTTP answer. In C with epoll, frames read by wslay's frame
 * decoder: the Python client it replaces spent a core parsing 100,000
 * frames a second on the same two cores as the server, and measured itself.
 * With --hold it only keeps the subscribers connected and read (for the
 * analyze benchmark beside it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define MAX_POSTS 100000

typedef struct {
    int fd;
    wslay_frame_context_ptr fc;
    char msg[65536];
    size_t len;
    uint64_t got;   /* of the current frame's payload */
} conn_t;

static int port;
static double sent_at[MAX_POSTS], answered_ms[MAX_POSTS];
static int alerted[MAX_POSTS], nposts;
static double *lat;
static size_t nlat, caplat;
static volatile int stop_reading;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(1); }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        if (w <= 0) { perror("write"); exit(1); }
        off += (size_t)w;
    }
}

/* ---- wslay's frame codec over a socket ---- */

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *arg)
{
    (void)flags;
    ssize_t n = recv(((conn_t *)arg)->fd, buf, len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return WSLAY_ERR_WOULDBLOCK;
    return n <= 0 ? WSLAY_ERR_INVALID_CALLBACK : n;
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *arg)
{
    (void)flags;
    write_all(((conn_t *)arg)->fd, data, len);
    return (ssize_t)len;
}

static int mask_cb(uint8_t *buf, size_t len, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rand();
    return 0;
}

static void send_text(conn_t *c, const char *text)
{
    struct wslay_frame_iocb io = { 1, 0, WSLAY_TEXT_FRAME, strlen(text), 1, (const uint8_t *)text, strlen(text) };
    while (io.data_length) {
        ssize_t r = wslay_frame_send(c->fc, &io);
        if (r < 0) { fprintf(stderr, "cannot send a frame\n"); exit(1); }
        io.data += r;
        io.data_length -= (size_t)r;
    }
}

/* One whole text message: an alert for latency-N is timed. */
static void on_text(const char *m, size_t n, double t)
{
    (void)n;
    const char *u = strstr(m, "\"user_id\":\"latency-");
    if (!u || !strstr(m, "\"type\":\"created\"")) return;
    int i = atoi(u + 19);
    if (i < 0 || i >= MAX_POSTS || sent_at[i] == 0) return;
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 65536;
        lat = realloc(lat, caplat * sizeof *lat);
        if (!lat) exit(1);
    }
    lat[nlat++] = (t - sent_at[i]) * 1000;
}

/* Reads frames until the socket has no more; 0, or -1 when it closed. */
static int read_frames(conn_t *c, int timed)
{
    for (;;) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof io);
        ssize_t r = wslay_frame_recv(c->fc, &io);
        if (r == WSLAY_ERR_WANT_READ) return 0;
        if (r < 0) return -1;
        if (c->len + io.data_length < sizeof c->msg) {
            memcpy(c->msg + c->len, io.data, io.data_length);
            c->len += io.data_length;
        }
        /* the frame is whole when all of its payload has come */
        c->got += io.data_length;
        if (c->got < io.payload_length) continue;
        c->got = 0;
        if (io.opcode == WSLAY_TEXT_FRAME && io.fin) {
            c->msg[c->len] = '\0';
            if (timed) on_text(c->msg, c->len, now());
        }
        c->len = 0;
    }
}

static conn_t *subscribe(const char *token)
{
    conn_t *c = calloc(1, sizeof *c);
    static const struct wslay_frame_callbacks cbs = { send_cb, recv_cb, mask_cb };
    c->fd = dial();
    wslay_frame_context_init(&c->fc, &cbs, c);
    char req[4096];
    int n = snprintf(req, sizeof req, "GET /api/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Bearer %s\r\n\r\n", token);
    write_all(c->fd, req, (size_t)n);
    /* the handshake's answer byte by byte, so that no frame is read with it */
    char head[1024];
    size_t h = 0;
    while (h < sizeof head - 1 && (h < 4 || memcmp(head + h - 4, "\r\n\r\n", 4) != 0))
        if (read(c->fd, head + h, 1) == 1) h++; else { fprintf(stderr, "handshake failed\n"); exit(1); }
    head[h] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) { fprintf(stderr, "handshake: %s\n", head); exit(1); }
    send_text(c, "{\"type\":\"subscribe\",\"topic\":\"alerts\"}");
    return c;
}

static void *poster(void *arg)
{
    const char *token = arg;
    int fd = dial();
    char req[2048], resp[65536];
    double t0 = now();
    for (int i = 0; i < nposts; i++) {
        char body[512];
        int bl = snprintf(body, sizeof body, "{\"user_id\":\"latency-%d\",\"ip_address\":\"192.0.2.%d\",\"password_breached\":true,"
                          "\"device\":{\"user_agent\":\"python-requests/2.31\"}}", i, i % 250 + 1);
        int n = snprintf(req, sizeof req, "POST /api/login/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", token, bl, body);
        sent_at[i] = now();
        write_all(fd, req, (size_t)n);
        size_t got = 0;
        char *end;
        long clen = -1;
        for (;;) {   /* headers, then Content-Length bytes */
            ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
            if (r <= 0) { fprintf(stderr, "analyze: connection closed\n"); exit(1); }
            got += (size_t)r;
            resp[got] = '\0';
            if ((end = strstr(resp, "\r\n\r\n"))) {
                char *cl = strcasestr(resp, "content-length:");
                clen = cl ? atol(cl + 15) : 0;
                if ((long)(got - (size_t)(end + 4 - resp)) >= clen) break;
            }
        }
        answered_ms[i] = (now() - sent_at[i]) * 1000;
        alerted[i] = strstr(end, "\"alert_id\":\"") != NULL;
        double next = t0 + (i + 1) / 100.0;   /* 100 per second */
        while (now() < next) usleep(200);
    }
    close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: ws_latency PORT ADMIN_TOKEN SERVICE_TOKEN [SECONDS | --hold SECONDS]\n"); return 2; }
    port = atoi(argv[1]);
    int hold = argc > 5 && strcmp(argv[4], "--hold") == 0;
    double secs = hold ? atof(argv[5]) : argc > 4 ? atof(argv[4]) : 10;
    int n = getenv("BENCH_WS_SUBSCRIBERS") ? atoi(getenv("BENCH_WS_SUBSCRIBERS")) : 1000;
    conn_t **conns = calloc((size_t)n, sizeof *conns);
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        conns[i] = subscribe(argv[2]);
        struct timeval tv = { 5, 0 };
        setsockopt(conns[i]->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        /* the auth and subscribed replies, read blocking */
        int seen = 0;
        double give_up = now() + 10;
        while (seen < 2) {
            if (now() > give_up) { fprintf(stderr, "subscriber %d: no reply\n", i); return 1; }
            struct wslay_frame_iocb io;
            memset(&io, 0, sizeof io);
            ssize_t r = wslay_frame_recv(conns[i]->fc, &io);
            if (r < 0 && r != WSLAY_ERR_WANT_READ) { fprintf(stderr, "subscriber %d: no reply\n", i); return 1; }
            if (r >= 0 && io.fin && io.data_length == io.payload_length) seen++;
        }
        if (fcntl(conns[i]->fd, F_SETFL, O_NONBLOCK) != 0) { perror("O_NONBLOCK"); return 1; }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conns[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i]->fd, &ev);
    }
    if (hold) fprintf(stderr, "holding %d subscribers for %.0f s\n", n, secs);
    nposts = hold ? 0 : (int)(secs * 100);
    if (nposts > MAX_POSTS) nposts = MAX_POSTS;
    pthread_t pt;
    if (!hold) pthread_create(&pt, NULL, poster, argv[3]);
    double until = now() + secs + 2;
    struct epoll_event evs[256];
    while (now() < until) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            conn_t *c = evs[i].data.ptr;
            if (read_frames(c, !hold) < 0) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); c->fd = -1; }
        }
    }
    if (hold) return 0;
    pthread_join(pt, NULL);
    int alerts = 0;
    for (int i = 0; i < nposts; i++) alerts += alerted[i];
    if (!nlat) { printf("no alert was delivered\n"); return 1; }
    qsort(lat, nlat, sizeof *lat, cmp);
    qsort(answered_ms, (size_t)nposts, sizeof *answered_ms, cmp);
    printf("WebSocket delivery, %d subscribers, %d alerts at 100/s: %zu of %d deliveries; p50 %.1f ms, p99 %.1f ms,"
           " max %.1f ms, from sending the analysis (target p99 < 20 ms)\n",
           n, alerts, nlat, alerts * n, lat[nlat / 2], lat[(size_t)(0.99 * (double)(nlat - 1))], lat[nlat - 1]);
    printf("  of which the analysis itself (its HTTP answer): p50 %.1f ms, p99 %.1f ms\n",
           answered_ms[nposts / 2], answered_ms[(int)(0.99 * (nposts - 1))]);
    for (int i = 0; i < n; i++) if (conns[i]->fd >= 0) close(conns[i]->fd);
    return 0;
}

/* bare.c — the reference for `make bench`: libevent's evhttp with one thread
 * per core on one listening socket, each calling one Lua function per request
 * and returning its string. No routing, no logging, no request table: the
 * floor that riskd's own work is measured against. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <lauxlib.h>
#include <lualib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct { int fd; lua_State *L; struct event_base *base; } worker_t;

static void handle(struct evhttp_request *req, void *arg)
{
    worker_t *w = arg;
    size_t len;
    lua_getglobal(w->L, "handle");
    lua_call(w->L, 0, 1);
    const char *s = lua_tolstring(w->L, -1, &len);
    struct evbuffer *buf = evhttp_request_get_output_buffer(req);
    evbuffer_add(buf, s, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    lua_pop(w->L, 1);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void *run(void *arg)
{
    worker_t *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 5100;
    int n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        perror("bare: listen");
        return 1;
    }
    worker_t *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    for (int i = 0; i < n; i++) {
        ws[i].L = luaL_newstate();
        luaL_openlibs(ws[i].L);
        if (luaL_dostring(ws[i].L, "function handle() return '{\"pong\":true}' end") != LUA_OK) return 1;
        ws[i].base = event_base_new();
        struct evhttp *http = evhttp_new(ws[i].base);
        evhttp_set_gencb(http, handle, &ws[i]);
        evhttp_accept_socket_with_handle(http, dup(fd));
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    fprintf(stderr, "bare: listening on %d with %d threads\n", port, n);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    return 0;
}

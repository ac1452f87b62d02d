/* cmd_health.c — `riskd health [--port N] [--host H]`: exit 0 when the
 * server's GET /healthz answers 200 within two seconds, 1 otherwise. It is
 * the container image's HEALTHCHECK, so that the image needs no HTTP client
 * of its own. The port and host come from the same flags, environment and
 * .env as `riskd serve`; a server listening on every address (0.0.0.0, ::)
 * is asked on loopback. */
#include "cmd_health.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"

static int ask(const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    char service[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0) return -1;
    int ok = -1;
    for (struct addrinfo *a = res; a && ok < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = { 2, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        static const char req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
        char buf[64] = "";
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 && write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
            size_t n = 0;
            ssize_t r;
            while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
            buf[n] = '\0';
            /* "HTTP/1.x 200 " */
            ok = strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0 ? 0 : -1;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

int rk_cmd_health(int argc, char **argv)
{
    rk_config_t cfg;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fprintf(stderr, "usage: riskd health [--port N] [--host H]\n"
                            "exit 0 when the server's /healthz answers 200 within 2 s (a container HEALTHCHECK)\n");
            return 2;
        }
    }
    if (rk_config_load(&cfg, argc, argv, 2, err, sizeof err) < 0) { fprintf(stderr, "riskd health: %s\n", err); return 2; }
    const char *host = cfg.host;
    if (!strcmp(host, "0.0.0.0") || !*host) host = "127.0.0.1";
    else if (!strcmp(host, "::")) host = "::1";
    if (ask(host, cfg.port) != 0) {
        fprintf(stderr, "riskd health: no healthy answer from %s:%d\n", host, cfg.port);
        return 1;
    }
    return 0;
}

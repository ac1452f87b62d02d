/* cmd_user.c — accounts from the command line, for the first admin and for
 * operators: `riskd user add NAME --role admin|analyst|service [--email E]`,
 * `riskd user list`, `riskd user passwd NAME`, `riskd user del NAME`, each
 * with `--db URI` (else RISKD_DB / .env / the default). The password is read
 * as one line from standard input when it is not a terminal, else asked
 * twice with echo off. No JWT secret is needed offline. */
#include "cmd_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "password.h"
#include "intel_pwindex.h"
#include "store.h"

static int usage(void)
{
    fprintf(stderr, "usage:\n"
                    "  riskd user add NAME --role admin|analyst|service [--email EMAIL] [--db URI]\n"
                    "  riskd user list [--db URI]\n"
                    "  riskd user passwd NAME [--db URI]\n"
                    "  riskd user del NAME [--db URI]\n"
                    "The password is read from standard input (one line), or asked on a terminal.\n");
    return 2;
}

static int read_line(const char *prompt, char *buf, size_t cap)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *r = fgets(buf, (int)cap, stdin);
    if (tty) { tcsetattr(STDIN_FILENO, TCSANOW, &old); fputc('\n', stderr); }
    if (!r) return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* A password seen in a breach is among the first an attacker tries: refused
 * when the intel folder has a breached-password index. */
static int not_breached(const char *intel_dir, const char *pw, char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/passwords.sha1.idx", intel_dir);
    rk_pwindex_t *x = rk_pwindex_open(path, err, errlen);
    if (!x) return 0;   /* no index (or an unusable one): nothing to check against */
    uint32_t n = rk_pwindex_count_password(x, pw, strlen(pw));
    rk_pwindex_close(x);
    if (!n) return 0;
    snprintf(err, errlen, "this password appears %u times in breached-password lists; choose another", n);
    return -1;
}

/* The new password, checked against the policy, hashed into hash. */
static int new_password(const char *user, const char *intel_dir, char *hash, size_t cap)
{
    char pw[RK_PASSWORD_MAX + 2], again[RK_PASSWORD_MAX + 2], err[256];
    if (read_line("password: ", pw, sizeof pw) < 0) { fprintf(stderr, "riskd user: no password given\n"); return -1; }
    if (isatty(STDIN_FILENO)) {
        if (read_line("again: ", again, sizeof again) < 0 || strcmp(pw, again) != 0) {
            fprintf(stderr, "riskd user: the passwords differ\n");
            return -1;
        }
    }
    int rc = rk_password_policy(user, pw, err, sizeof err) == 0 && not_breached(intel_dir, pw, err, sizeof err) == 0
                 ? rk_password_hash(pw, hash, cap, err, sizeof err) : -1;
    memset(pw, 0, sizeof pw);
    memset(again, 0, sizeof again);
    if (rc < 0) { fprintf(stderr, "riskd user: %s\n", err); return -1; }
    return 0;
}

int rk_cmd_user(int argc, char **argv)
{
    if (argc < 3) return usage();
    const char *cmd = argv[2], *name = NULL, *role = NULL, *email = NULL, *db = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--role") && i + 1 < argc) role = argv[++i];
        else if (!strcmp(argv[i], "--email") && i + 1 < argc) email = argv[++i];
        else if (!strcmp(argv[i], "--db") && i + 1 < argc) db = argv[++i];
        else if (argv[i][0] != '-' && !name) name = argv[i];
        else { fprintf(stderr, "riskd user: unexpected '%s'\n", argv[i]); return usage(); }
    }
    rk_config_t cfg;
    char err[1024];
    if (rk_config_load(&cfg, 0, NULL, 0, err, sizeof err) < 0) { fprintf(stderr, "riskd user: %s\n", err); return 2; }
    if (!db) db = cfg.db;
    int list = !strcmp(cmd, "list");
    if (!list && !name) return usage();
    if (!strcmp(cmd, "add") && !rk_store_is_role(role)) {
        fprintf(stderr, "riskd user: --role must be admin, analyst or service\n");
        return 2;
    }
    if (!list && strcmp(cmd, "add") && strcmp(cmd, "passwd") && strcmp(cmd, "del")) return usage();
    rk_store_t *s = rk_store_open(db, NULL, err, sizeof err);
    if (!s) { fprintf(stderr, "riskd user: %s\n", err); return 1; }
    int status = 1, rc;
    char hash[RK_PASSWORD_HASH_MAX];
    if (!strcmp(cmd, "add")) {
        if (new_password(name, cfg.intel, hash, sizeof hash) < 0) goto done;
        rk_user_t u = { .username = (char *)name, .email = (char *)email, .role = (char *)role, .password_hash = hash };
        rc = rk_store_user_create(s, &u, err, sizeof err);
        if (rc == RK_STORE_CONFLICT) { fprintf(stderr, "riskd user: '%s' already exists\n", name); goto done; }
        if (rc) { fprintf(stderr, "riskd user: %s\n", err); goto done; }
        printf("created %s (%s)\n", name, role);
    } else if (!strcmp(cmd, "passwd")) {
        if (new_password(name, cfg.intel, hash, sizeof hash) < 0) goto done;
        rc = rk_store_user_set_password(s, name, hash, err, sizeof err);
        if (rc) { fprintf(stderr, "riskd user: %s\n", err); goto done; }
        printf("password changed for %s\n", name);
    } else if (!strcmp(cmd, "del")) {
        rc = rk_store_user_delete(s, name, err, sizeof err);
        if (rc) { fprintf(stderr, "riskd user: %s\n", err); goto done; }
        printf("deleted %s\n", name);
    } else {
        rk_user_t *users;
        size_t n;
        if (rk_store_user_list(s, &users, &n, err, sizeof err)) { fprintf(stderr, "riskd user: %s\n", err); goto done; }
        for (size_t i = 0; i < n; i++) {
            char when[32];
            time_t t = (time_t)(users[i].created_ms / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("%-24s %-8s %-32s %s\n", users[i].username, users[i].role, users[i].email ? users[i].email : "-", when);
            rk_store_user_free(&users[i]);
        }
        free(users);
    }
    status = 0;
done:
    rk_store_close(s);
    return status;
}

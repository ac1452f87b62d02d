/* main.c — the `riskd` command. Each sub-command lives in its own file; this
 * one only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cmd_iforest.h"
#include "cmd_run.h"
#include "cmd_user.h"
#include "cmd_key.h"
#include "cmd_intel.h"
#include "cmd_health.h"
#include <unistd.h>
#include "config.h"
#include "log.h"
#include "server.h"
#include "version.h"

static int cmd_serve(int argc, char **argv)
{
    rk_config_t cfg;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            rk_config_usage();
            return 0;
        }
    }
    if (rk_config_load(&cfg, argc, argv, 2, err, sizeof err) < 0) {
        fprintf(stderr, "riskd serve: %s\n", err);
        rk_config_usage();
        return 2;
    }
    rk_log_level lvl;
    if (rk_log_parse_level(cfg.log_level, &lvl) < 0) {
        fprintf(stderr, "riskd serve: unknown log level '%s'\n", cfg.log_level);
        return 2;
    }
    rk_log_set_level(lvl);
    return rk_server_run(&cfg);
}

static void usage(void)
{
    fprintf(stderr,
        "riskd %s — login-risk analysis engine\n\n"
        "usage: riskd <command> [options]\n\n"
        "commands:\n"
        "  serve      run the HTTP server (riskd serve --help for options)\n"
        "  iforest    train, score and evaluate Isolation Forests on CSV files\n"
        "  run        run a Lua script with the scripts, rules, model and store, no HTTP\n"
        "  generate   write synthetic logins with labelled attacks (JSON lines)\n"
        "  train      train and evaluate the login model, save it to the models folder\n"
        "  score      analyse a file of attempts through the full pipeline\n"
        "  eval       detection benchmark on labelled attempts, beside a familiarity reference\n"
        "  retrain    train a model from the stored events; activate it unless it is worse\n"
        "  phishing   train the phishing text model on mail, or score mail (train|score)\n"
        "  user       add, list, change the password of, or delete accounts\n"
        "  key        create, list or revoke services' API keys\n"
        "  intel      import breached passwords, check the intel folder\n"
        "  health     exit 0 when a running server's /healthz answers (container HEALTHCHECK)\n"
        "  help CMD   the options of a command\n"
        "  version    print the version\n",
        RK_VERSION);
}

static int dispatch(int argc, char **argv);

/* `riskd help CMD`: the command's own usage, on standard output. */
static int help(const char *cmd)
{
    static const char *const known[] = { "serve", "iforest", "run", "generate", "train", "score", "eval", "retrain",
                                         "phishing", "user", "key", "intel", "health", NULL };
    for (int i = 0; known[i]; i++) {
        if (strcmp(cmd, known[i]) != 0) continue;
        char *args[] = { "riskd", (char *)cmd, "--help", NULL };
        fflush(stderr);
        dup2(STDOUT_FILENO, STDERR_FILENO);   /* the commands print their usage on stderr */
        dispatch(3, args);
        return 0;
    }
    fprintf(stderr, "riskd help: no command '%s'\n\n", cmd);
    usage();
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(); return 2; }
    if (!strcmp(argv[1], "help") && argc >= 3) return help(argv[2]);
    return dispatch(argc, argv);
}

static int dispatch(int argc, char **argv)
{
    if (!strcmp(argv[1], "serve")) return cmd_serve(argc, argv);
    if (!strcmp(argv[1], "iforest")) return rk_cmd_iforest(argc, argv);
    if (!strcmp(argv[1], "run")) return rk_cmd_run(argc, argv);
    if (!strcmp(argv[1], "generate")) return rk_cmd_script(argc, argv, "cli.generate");
    if (!strcmp(argv[1], "train")) return rk_cmd_script(argc, argv, "cli.train");
    if (!strcmp(argv[1], "score")) return rk_cmd_script(argc, argv, "cli.score");
    if (!strcmp(argv[1], "eval")) return rk_cmd_script(argc, argv, "cli.eval");
    if (!strcmp(argv[1], "retrain")) return rk_cmd_script(argc, argv, "cli.retrain");
    if (!strcmp(argv[1], "phishing")) return rk_cmd_script(argc, argv, "cli.phishing");
    if (!strcmp(argv[1], "user")) return rk_cmd_user(argc, argv);
    if (!strcmp(argv[1], "key")) return rk_cmd_key(argc, argv);
    if (!strcmp(argv[1], "intel")) return rk_cmd_intel(argc, argv);
    if (!strcmp(argv[1], "health")) return rk_cmd_health(argc, argv);
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("riskd %s\n", RK_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return 0;
    }
    fprintf(stderr, "riskd: unknown command '%s'\n\n", argv[1]);
    usage();
    return 2;
}

/* cmd_intel.c — the intel folder from the command line:
 *
 *   riskd intel passwords import FILE|- [--intel DIR]
 *       builds DIR/passwords.sha1.idx from "SHA1:COUNT" lines (the Have I
 *       Been Pwned format; bare hashes count once), streaming the input; a
 *       running server picks the new index up without a restart.
 *   riskd intel check [--intel DIR] [--state DIR]
 *       reads the folder as the server would and prints every set, its size
 *       and its malformed lines; exit 1 when a file has errors.
 */
#include "cmd_intel.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "intel.h"
#include "intel_pwindex.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: riskd intel passwords import FILE|- [--intel DIR]\n"
            "       riskd intel check [--intel DIR] [--state DIR]\n"
            "DIR defaults to RISKD_INTEL or intel/.\n");
    return 2;
}

static double now_s(void) { return (double)rk_now_ns() / 1e9; }

static int import(const char *input, const char *dir)
{
    char out[1200], err[1400];
    mkdir(dir, 0750);
    snprintf(out, sizeof out, "%s/passwords.sha1.idx", dir);
    rk_pwimport_stats_t st;
    double t0 = now_s();
    if (rk_pwindex_import(input, out, &st, err, sizeof err) != 0) {
        fprintf(stderr, "riskd intel: %s\n", err);
        return 1;
    }
    double secs = now_s() - t0;
    printf("imported %llu hashes (%llu lines, %llu duplicates merged, %llu malformed) into %s\n",
           (unsigned long long)st.hashes, (unsigned long long)st.lines, (unsigned long long)st.duplicates,
           (unsigned long long)st.bad_lines, out);
    printf("index %.1f MB (%.1f bytes per hash); %.2f s, %.0f hashes/s\n", (double)st.index_bytes / 1e6,
           st.hashes ? (double)st.index_bytes / (double)st.hashes : 0.0, secs, (double)st.lines / (secs > 0 ? secs : 1e-9));
    if (st.bad_lines)
        fprintf(stderr, "riskd intel: line %llu is not HASH or HASH:COUNT: '%s' (and %llu more)\n",
                (unsigned long long)st.first_bad_line, st.first_bad, (unsigned long long)(st.bad_lines - 1));
    return 0;
}

static int check(const char *dir, const char *state)
{
    rk_intel_t *in = rk_intel_open(dir, state);
    rk_intel_info_t info;
    if (!in || rk_intel_info(in, &info) != 0) { fprintf(stderr, "riskd intel: out of memory\n"); rk_intel_close(in); return 1; }
    int bad = 0;
    printf("%s: %zu sets\n", dir, info.nsets);
    for (size_t i = 0; i < info.nsets; i++) {
        const rk_intel_set_info_t *s = &info.sets[i];
        if (s->kind == RK_INTEL_IPS)
            printf("  %-24s %-9s %8zu entries  %8zu IPv4 and %zu IPv6 ranges  %s\n", s->name, "ips", s->entries,
                   s->ranges_v4, s->ranges_v6, s->file);
        else
            printf("  %-24s %-9s %8zu patterns  %s\n", s->name, "patterns", s->entries, s->file);
        for (size_t k = 0; k < s->nerrors && k < RK_INTEL_MAX_ERRORS; k++)
            printf("    %s:%d: %s\n", s->file, s->errors[k].line, s->errors[k].message);
        if (s->nerrors > RK_INTEL_MAX_ERRORS) printf("    ... %zu malformed lines in all\n", s->nerrors);
        if (s->failed[0]) printf("    rejected: %s\n", s->failed);
        bad |= s->nerrors > 0 || s->failed[0];
    }
    if (info.has_passwords)
        printf("  breached passwords: %llu hashes, %.1f MB\n", (unsigned long long)info.password_hashes,
               (double)info.password_bytes / 1e6);
    if (info.passwords_failed[0]) { printf("  breached passwords rejected: %s\n", info.passwords_failed); bad = 1; }
    free(info.sets);
    rk_intel_close(in);
    return bad;
}

int rk_cmd_intel(int argc, char **argv)
{
    rk_config_t cfg;
    char err[1024];
    if (rk_config_load(&cfg, 0, NULL, 0, err, sizeof err) < 0) { fprintf(stderr, "riskd intel: %s\n", err); return 2; }
    const char *dir = cfg.intel, *state = cfg.state, *pos[3] = { NULL, NULL, NULL };
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage();
        if (!strcmp(argv[i], "--intel") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--state") && i + 1 < argc) state = argv[++i];
        else if ((argv[i][0] != '-' || !strcmp(argv[i], "-")) && npos < 3) pos[npos++] = argv[i];
        else { fprintf(stderr, "riskd intel: unexpected '%s'\n", argv[i]); return usage(); }
    }
    if (npos == 3 && !strcmp(pos[0], "passwords") && !strcmp(pos[1], "import")) return import(pos[2], dir);
    if (npos == 1 && !strcmp(pos[0], "check")) return check(dir, state);
    return usage();
}

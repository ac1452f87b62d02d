/* cmd_iforest.c — `riskd iforest train|score|eval`: the forest on CSV files,
 * for scripted and batch use. */
#include "cmd_iforest.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "iforest.h"
#include "roc.h"

typedef struct {
    const char *input, *model, *label, *output;
    rk_iforest_params_t p;
} opts_t;

static double now(void) { return (double)rk_now_ns() / 1e9; }

static int usage(void)
{
    fprintf(stderr,
        "usage:\n"
        "  riskd iforest train --input DATA.csv --model OUT.model [--label COL] [--trees N]\n"
        "                      [--sample-size N] [--seed N] [--threads N]\n"
        "  riskd iforest score --model M.model --input DATA.csv [--label COL] [--output FILE] [--threads N]\n"
        "  riskd iforest eval  --input DATA.csv --label COL [--trees N] [--sample-size N] [--seed N]\n"
        "\nCSV: a header row, then numeric columns; --label names a 0/1 column (1 = anomaly)\n"
        "that is not a feature. score writes one score per input row, in order.\n");
    return 2;
}

static int int_arg(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *e = NULL;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (errno || e == v || *e || x < lo || x > hi) {
        fprintf(stderr, "riskd iforest: %s expects an integer from %ld to %ld, got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    rk_iforest_defaults(&o->p);
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) { fprintf(stderr, "riskd iforest: %s needs a value\n", a); return -1; }
        const char *v = argv[++i];
        long x;
        if (!strcmp(a, "--input")) o->input = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--label")) o->label = v;
        else if (!strcmp(a, "--output")) o->output = v;
        else if (!strcmp(a, "--trees")) { if (int_arg(a, v, 1, 100000, &x)) return -1; o->p.trees = (int)x; }
        else if (!strcmp(a, "--sample-size")) { if (int_arg(a, v, 2, 1 << 24, &x)) return -1; o->p.sample_size = (int)x; }
        else if (!strcmp(a, "--seed")) { if (int_arg(a, v, 0, 0x7fffffffffffffffL, &x)) return -1; o->p.seed = (uint64_t)x; }
        else if (!strcmp(a, "--threads")) { if (int_arg(a, v, 0, 256, &x)) return -1; o->p.threads = (int)x; }
        else { fprintf(stderr, "riskd iforest: unknown option '%s'\n", a); return -1; }
    }
    return 0;
}

static int need(const char *what, const char *v)
{
    if (v) return 0;
    fprintf(stderr, "riskd iforest: %s is required\n", what);
    return -1;
}

static int train(opts_t *o)
{
    char err[1024];
    rk_csv_t t;
    int rc = 1;
    if (need("--input", o->input) || need("--model", o->model)) return 2;
    double t0 = now();
    if (rk_csv_read(o->input, o->label, &t, err, sizeof err) < 0) { fprintf(stderr, "riskd iforest: %s\n", err); return 1; }
    double t1 = now();
    rk_iforest_t *m = rk_iforest_train(t.X, t.n, t.d, (const char *const *)t.names, &o->p, err, sizeof err);
    double t2 = now();
    if (!m) { fprintf(stderr, "riskd iforest: %s: %s\n", o->input, err); goto done; }
    rk_iforest_set_metric(m, "train_seconds", t2 - t1);
    if (t.labels) {
        double *s = malloc(t.n * sizeof *s);
        if (s && rk_iforest_score(m, t.X, t.n, s, o->p.threads, err, sizeof err) == 0) {
            double auc = rk_roc_auc(s, t.labels, t.n);
            if (auc >= 0) rk_iforest_set_metric(m, "train_auc", auc);
            if (auc >= 0) printf("train AUC %.4f\n", auc);
        }
        free(s);
    }
    if (rk_iforest_save(m, o->model, err, sizeof err) < 0) { fprintf(stderr, "riskd iforest: %s\n", err); goto done; }
    rk_iforest_info_t info;
    rk_iforest_info(m, &info);
    printf("trained %d trees (sample %d, depth %d, seed %llu) on %zu rows × %d features in %.3f s "
           "(read %.3f s); expected score %.4f; saved %s\n",
           info.trees, info.sample_size, info.max_depth, (unsigned long long)info.seed, t.n, t.d,
           t2 - t1, t1 - t0, info.expected_score, o->model);
    rc = 0;
done:
    rk_iforest_release(m);
    rk_csv_free(&t);
    return rc;
}

/* Writes scores, one per line, with a large buffer. */
static int write_scores(const char *path, const double *s, size_t n, char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    static char buf[1 << 20];
    size_t len = 0;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        len += (size_t)rk_csv_format_unit(s[i], buf + len);
        buf[len++] = '\n';
        if (len > sizeof buf - 64) { ok = fwrite(buf, 1, len, f) == len; len = 0; }
    }
    if (ok && len) ok = fwrite(buf, 1, len, f) == len;
    if (path) { if (fclose(f) != 0) ok = 0; } else if (fflush(f) != 0) ok = 0;
    if (!ok) { snprintf(err, errlen, "%s: write failed", path ? path : "stdout"); return -1; }
    return 0;
}

static int score(opts_t *o)
{
    char err[1024];
    rk_csv_t t;
    int rc = 1;
    double *s = NULL;
    if (need("--input", o->input) || need("--model", o->model)) return 2;
    if (rk_csv_read(o->input, o->label, &t, err, sizeof err) < 0) { fprintf(stderr, "riskd iforest: %s\n", err); return 1; }
    rk_iforest_t *m = rk_iforest_load(o->model, (const char *const *)t.names, t.d, err, sizeof err);
    if (!m) { fprintf(stderr, "riskd iforest: %s\n", err); goto done; }
    s = malloc(t.n * sizeof *s);
    if (!s) { fprintf(stderr, "riskd iforest: out of memory\n"); goto done; }
    if (rk_iforest_score(m, t.X, t.n, s, o->p.threads, err, sizeof err) < 0) {
        fprintf(stderr, "riskd iforest: %s: %s\n", o->input, err);
        goto done;
    }
    if (write_scores(o->output, s, t.n, err, sizeof err) < 0) { fprintf(stderr, "riskd iforest: %s\n", err); goto done; }
    rc = 0;
done:
    free(s);
    rk_iforest_release(m);
    rk_csv_free(&t);
    return rc;
}

static int eval(opts_t *o)
{
    char err[1024];
    rk_csv_t t;
    int rc = 1;
    double *s = NULL;
    if (need("--input", o->input) || need("--label", o->label)) return 2;
    double t0 = now();
    if (rk_csv_read(o->input, o->label, &t, err, sizeof err) < 0) { fprintf(stderr, "riskd iforest: %s\n", err); return 1; }
    double t1 = now();
    rk_iforest_t *m = rk_iforest_train(t.X, t.n, t.d, (const char *const *)t.names, &o->p, err, sizeof err);
    double t2 = now();
    s = malloc(t.n * sizeof *s);
    if (!m || !s) { fprintf(stderr, "riskd iforest: %s\n", m ? "out of memory" : err); goto done; }
    if (rk_iforest_score(m, t.X, t.n, s, o->p.threads, err, sizeof err) < 0) { fprintf(stderr, "riskd iforest: %s\n", err); goto done; }
    double t3 = now();
    double auc = rk_roc_auc(s, t.labels, t.n);
    if (auc < 0) { fprintf(stderr, "riskd iforest: %s: the label column needs both 0 and 1\n", o->input); goto done; }
    size_t anomalies = 0;
    for (size_t i = 0; i < t.n; i++) anomalies += (size_t)t.labels[i];
    printf("rows %zu features %d anomalies %zu\nAUC %.6f\nread %.3f s train %.3f s score %.3f s (%.0f rows/s)\n",
           t.n, t.d, anomalies, auc, t1 - t0, t2 - t1, t3 - t2, (double)t.n / (t3 - t2));
    rc = 0;
done:
    free(s);
    rk_iforest_release(m);
    rk_csv_free(&t);
    return rc;
}

int rk_cmd_iforest(int argc, char **argv)
{
    opts_t o;
    if (argc < 3 || !strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) return usage();
    if (parse(argc, argv, &o) < 0) return 2;
    if (!strcmp(argv[2], "train")) return train(&o);
    if (!strcmp(argv[2], "score")) return score(&o);
    if (!strcmp(argv[2], "eval")) return eval(&o);
    fprintf(stderr, "riskd iforest: unknown command '%s'\n", argv[2]);
    return usage();
}

/* test_iforest.c — the Isolation Forest core: c(n), determinism, accuracy,
 * scoring, explanations and every way a model file can be wrong. */
#include "test_util.h"
#include "iforest.h"
#include "roc.h"

#include <math.h>

/* Test data: seeded gaussian clusters plus scattered uniform outliers. */
static uint64_t lcg = 1;
static double unif(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * 0x1.0p-53;
}
static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static double *make_data(size_t n, int d, size_t outliers, int *labels, uint64_t seed)
{
    lcg = seed;
    double *X = malloc(n * (size_t)d * sizeof *X);
    for (size_t i = 0; i < n; i++) {
        int out = i >= n - outliers;
        int cluster = (int)(unif() * 3);
        for (int j = 0; j < d; j++)
            X[i * d + j] = out ? unif() * 40 - 20 : cluster * 6.0 + gauss() * 0.8;
        if (labels) labels[i] = out;
    }
    return X;
}

static rk_iforest_params_t params(uint64_t seed, int threads)
{
    rk_iforest_params_t p;
    rk_iforest_defaults(&p);
    p.seed = seed;
    p.threads = threads;
    return p;
}

static void c_matches_harmonic_closed_form(void **st)
{
    (void)st;
    assert_true(rk_iforest_c(1) == 0);
    assert_true(rk_iforest_c(2) == 1);
    long double h = 0;
    for (int n = 3; n <= 20000; n++) {
        h += 1.0L / (n - 2);           /* h = H(n-2) */
        long double H = h + 1.0L / (n - 1);
        double want = (double)(2 * H - 2.0L * (n - 1) / n);
        double got = rk_iforest_c(n);
        if (fabs(got - want) > 1e-12 * want) fail_msg("c(%d) = %.17g, closed form %.17g", n, got, want);
    }
    /* The value scikit-learn's approximation gives for 256, to 1e-2. */
    assert_true(fabs(rk_iforest_c(256) - 10.2447) < 1e-2);
}

static void same_seed_same_model_whatever_the_threads(void **st)
{
    (void)st;
    char err[256];
    size_t n = 3000;
    double *X = make_data(n, 4, 30, NULL, 7);
    rk_iforest_params_t p1 = params(11, 1), p4 = params(11, 4), p5 = params(12, 2);
    rk_iforest_t *a = rk_iforest_train(X, n, 4, NULL, &p1, err, sizeof err);
    rk_iforest_t *b = rk_iforest_train(X, n, 4, NULL, &p4, err, sizeof err);
    rk_iforest_t *c = rk_iforest_train(X, n, 4, NULL, &p5, err, sizeof err);
    assert_true(a && b && c);
    double *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb), *sc = malloc(n * sizeof *sc);
    assert_int_equal(rk_iforest_score(a, X, n, sa, 1, err, sizeof err), 0);
    assert_int_equal(rk_iforest_score(b, X, n, sb, 3, err, sizeof err), 0);
    assert_int_equal(rk_iforest_score(c, X, n, sc, 0, err, sizeof err), 0);
    assert_memory_equal(sa, sb, n * sizeof *sa);
    int differ = 0;
    for (size_t i = 0; i < n; i++) differ += sa[i] != sc[i];
    assert_true(differ > (int)n / 2);
    /* Batch scoring equals one row at a time. */
    for (size_t i = 0; i < n; i += 97) assert_true(sa[i] == rk_iforest_score_row(a, X + i * 4));
    free(sa); free(sb); free(sc); free(X);
    rk_iforest_release(a); rk_iforest_release(b); rk_iforest_release(c);
}

static void finds_scattered_outliers(void **st)
{
    (void)st;
    char err[256];
    size_t n = 5000;
    int *y = malloc(n * sizeof *y);
    double *X = make_data(n, 6, 50, y, 99);
    rk_iforest_params_t p = params(3, 0);
    rk_iforest_t *m = rk_iforest_train(X, n, 6, NULL, &p, err, sizeof err);
    assert_non_null(m);
    double *s = malloc(n * sizeof *s);
    assert_int_equal(rk_iforest_score(m, X, n, s, 0, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++) assert_true(s[i] > 0 && s[i] < 1);
    double auc = rk_roc_auc(s, y, n);
    print_message("# AUC %.4f\n", auc);
    assert_true(auc >= 0.95);
    rk_iforest_info_t info;
    rk_iforest_info(m, &info);
    assert_int_equal(info.trees, 100);
    assert_int_equal(info.sample_size, 256);
    assert_int_equal(info.max_depth, 8);
    assert_int_equal(info.train_rows, n);
    assert_true(info.nodes > 100 && info.nodes <= 100 * 511);
    free(s); free(X); free(y);
    rk_iforest_release(m);
}

static void auc_handles_ties_and_degenerate_input(void **st)
{
    (void)st;
    double s[] = { 0.1, 0.4, 0.35, 0.8, 0.5, 0.5 };
    int y[] = { 0, 0, 1, 1, 1, 0 };
    /* positives 0.35, 0.8, 0.5 vs negatives 0.1, 0.4, 0.5: wins 1+0+0, 1+1+1, 1+1+0.5 = 6.5 of 9 */
    assert_true(fabs(rk_roc_auc(s, y, 6) - 6.5 / 9) < 1e-12);
    int none[] = { 0, 0, 0, 0, 0, 0 };
    assert_true(rk_roc_auc(s, none, 6) == -1);
}

static void nan_is_an_error(void **st)
{
    (void)st;
    char err[256];
    double *X = make_data(100, 3, 0, NULL, 5);
    X[41 * 3 + 2] = NAN;
    rk_iforest_params_t p = params(1, 1);
    assert_null(rk_iforest_train(X, 100, 3, NULL, &p, err, sizeof err));
    assert_string_equal(err, "row 42, column 3 is NaN");
    X[41 * 3 + 2] = 0;
    rk_iforest_t *m = rk_iforest_train(X, 100, 3, NULL, &p, err, sizeof err);
    assert_non_null(m);
    double out[100] = { 0 };
    X[7 * 3] = NAN;
    assert_int_equal(rk_iforest_score(m, X, 100, out, 1, err, sizeof err), -1);
    assert_string_equal(err, "row 8, column 1 is NaN");
    double phi[3];
    assert_int_equal(rk_iforest_explain(m, X + 7 * 3, phi, err, sizeof err), -1);
    /* Bad shapes and parameters. */
    assert_null(rk_iforest_train(X, 1, 3, NULL, &p, err, sizeof err));
    p.trees = 0;
    assert_null(rk_iforest_train(X + 9, 50, 3, NULL, &p, err, sizeof err));
    free(X);
    rk_iforest_release(m);
}

static void explanations_are_exact_and_point_at_the_cause(void **st)
{
    (void)st;
    char err[256];
    size_t n = 2000;
    int d = 8;
    double *X = make_data(n, d, 0, NULL, 21);
    rk_iforest_params_t p = params(5, 0);
    rk_iforest_t *m = rk_iforest_train(X, n, d, NULL, &p, err, sizeof err);
    assert_non_null(m);
    double phi[16];
    for (size_t r = 0; r < n; r += 211) {
        const double *x = X + r * d;
        assert_int_equal(rk_iforest_explain(m, x, phi, err, sizeof err), 0);
        double sum = 0;
        for (int j = 0; j < d; j++) sum += phi[j];
        double want = rk_iforest_score_row(m, x) - rk_iforest_expected(m);
        if (fabs(sum - want) > 1e-9) fail_msg("row %zu: sum %.15g, expected %.15g", r, sum, want);
    }
    /* A normal point with feature 5 pushed far out of range. */
    double x[8];
    memcpy(x, X, sizeof x);
    x[5] = 1000;
    assert_int_equal(rk_iforest_explain(m, x, phi, err, sizeof err), 0);
    int best = 0;
    for (int j = 1; j < d; j++) if (phi[j] > phi[best]) best = j;
    assert_int_equal(best, 5);
    assert_true(phi[5] > 0);
    double sum = 0;
    for (int j = 0; j < d; j++) sum += phi[j];
    assert_true(fabs(sum - (rk_iforest_score_row(m, x) - rk_iforest_expected(m))) < 1e-9);
    free(X);
    rk_iforest_release(m);

    /* More than 16 features: refused, not approximated. */
    X = make_data(100, 17, 0, NULL, 3);
    m = rk_iforest_train(X, 100, 17, NULL, &p, err, sizeof err);
    assert_int_equal(rk_iforest_explain(m, X, phi, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most 16"));
    free(X);
    rk_iforest_release(m);
}

/* ---- model files ---- */

static const char *NAMES[] = { "hour", "new_device", "distance_km" };

static rk_iforest_t *small_model(double **Xout)
{
    char err[256];
    double *X = make_data(500, 3, 5, NULL, 77);
    rk_iforest_params_t p = params(9, 2);
    p.trees = 20;
    rk_iforest_t *m = rk_iforest_train(X, 500, 3, NAMES, &p, err, sizeof err);
    assert_non_null(m);
    *Xout = X;
    return m;
}

static unsigned char *slurp(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*size);
    assert_int_equal(fread(b, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, long size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)size, f), (size_t)size);
    fclose(f);
}

static void reseal(unsigned char *b, long size)  /* recompute the checksum */
{
    uint64_t h = 1469598103934665603ULL;
    for (long i = 0; i < size - 8; i++) { h ^= b[i]; h *= 1099511628211ULL; }
    memcpy(b + size - 8, &h, 8);
}

static void file_round_trip(void **st)
{
    (void)st;
    char *dir = tmp_dir(), path[1024], err[256];
    double *X;
    rk_iforest_t *m = small_model(&X);
    assert_int_equal(rk_iforest_set_metric(m, "auc", 0.97), 0);
    assert_int_equal(rk_iforest_set_metric(m, "auc", 0.98), 0);   /* replaced, not added */
    snprintf(path, sizeof path, "%s/m.model", dir);
    assert_int_equal(rk_iforest_save(m, path, err, sizeof err), 0);
    rk_iforest_t *l = rk_iforest_load(path, NAMES, 3, err, sizeof err);
    assert_non_null(l);
    for (size_t i = 0; i < 500; i++)
        assert_true(rk_iforest_score_row(m, X + i * 3) == rk_iforest_score_row(l, X + i * 3));
    rk_iforest_info_t a, b;
    rk_iforest_info(m, &a);
    rk_iforest_info(l, &b);
    assert_int_equal(a.trees, b.trees);
    assert_int_equal(a.seed, b.seed);
    assert_int_equal(a.created_at, b.created_at);
    assert_true(a.expected_score == b.expected_score);
    assert_int_equal(b.nmetrics, 1);
    assert_string_equal(b.metric_names[0], "auc");
    assert_true(b.metric_values[0] == 0.98);
    assert_string_equal(rk_iforest_name(l, 2), "distance_km");
    double p1[3], p2[3];
    assert_int_equal(rk_iforest_explain(m, X, p1, err, sizeof err), 0);
    assert_int_equal(rk_iforest_explain(l, X, p2, err, sizeof err), 0);
    assert_memory_equal(p1, p2, sizeof p1);
    rk_iforest_release(l);
    rk_iforest_release(m);
    free(X);
    rm_tree(dir);
}

static void bad_files_fail_clearly(void **st)
{
    (void)st;
    char *dir = tmp_dir(), path[1024], bad[1024], err[256];
    double *X;
    rk_iforest_t *m = small_model(&X);
    snprintf(path, sizeof path, "%s/m.model", dir);
    snprintf(bad, sizeof bad, "%s/bad.model", dir);
    assert_int_equal(rk_iforest_save(m, path, err, sizeof err), 0);
    long size;
    unsigned char *orig = slurp(path, &size);
    unsigned char *b = malloc((size_t)size);

    /* Missing file. */
    assert_null(rk_iforest_load("/nonexistent/x.model", NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    /* Every truncation. */
    for (long cut = 0; cut < size; cut += (cut < 64 ? 1 : 97)) {
        spit(bad, orig, cut);
        assert_null(rk_iforest_load(bad, NULL, 0, err, sizeof err));
    }
    /* A flipped byte anywhere: the checksum catches it. */
    for (long at = 8 + 4; at < size - 8; at += 131) {
        memcpy(b, orig, (size_t)size);
        b[at] ^= 0x40;
        spit(bad, b, size);
        assert_null(rk_iforest_load(bad, NULL, 0, err, sizeof err));
        assert_non_null(strstr(err, "checksum"));
    }
    /* Another version, even with a good checksum. */
    memcpy(b, orig, (size_t)size);
    b[8] = 2;
    reseal(b, size);
    spit(bad, b, size);
    assert_null(rk_iforest_load(bad, NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "version 2"));
    /* Not a model at all. */
    memcpy(b, orig, (size_t)size);
    memcpy(b, "PK\x03\x04", 4);
    spit(bad, b, size);
    assert_null(rk_iforest_load(bad, NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "bad magic"));
    /* A forged structure with a valid checksum: a child pointer out of its tree.
     * The first node of the first tree sits right after the offsets. */
    {
        rk_iforest_info_t info;
        rk_iforest_info(m, &info);
        long nodes_at = size - 8 - (long)(info.baseline_rows * 3 * 8) - (long)(info.nodes * 16);
        memcpy(b, orig, (size_t)size);
        int32_t huge = 1 << 30;
        memcpy(b + nodes_at + 12, &huge, 4);   /* root's right child */
        reseal(b, size);
        spit(bad, b, size);
        assert_null(rk_iforest_load(bad, NULL, 0, err, sizeof err));
        assert_non_null(strstr(err, "malformed"));
        memcpy(b, orig, (size_t)size);
        int32_t feat = 3;                      /* a feature the model does not have */
        memcpy(b + nodes_at + 8, &feat, 4);
        reseal(b, size);
        spit(bad, b, size);
        assert_null(rk_iforest_load(bad, NULL, 0, err, sizeof err));
    }
    /* Feature names that do not match the caller's. */
    const char *other[] = { "hour", "new_device", "km" };
    assert_null(rk_iforest_load(path, other, 3, err, sizeof err));
    assert_non_null(strstr(err, "feature 3 is 'distance_km', expected 'km'"));
    assert_null(rk_iforest_load(path, other, 2, err, sizeof err));
    assert_non_null(strstr(err, "expected 2"));
    /* The untouched file still loads. */
    rk_iforest_t *l = rk_iforest_load(path, NULL, 0, err, sizeof err);
    assert_non_null(l);
    rk_iforest_release(l);
    free(b); free(orig); free(X);
    rk_iforest_release(m);
    rm_tree(dir);
}

static void refcount(void **st)
{
    (void)st;
    double *X;
    rk_iforest_t *m = small_model(&X);
    assert_ptr_equal(rk_iforest_retain(m), m);
    rk_iforest_release(m);
    assert_int_equal(rk_iforest_features(m), 3);
    rk_iforest_release(m);
    rk_iforest_release(NULL);
    free(X);
}

/* Against the definition, by brute force: with the whole (small) training
 * set as the baseline, v(S) is the mean score of the rows that take x's
 * values on S and each baseline row's elsewhere, and phi_j the Shapley sum
 * over all subsets. The efficiency check above would not see a wrong value
 * for an intermediate subset; this does. */
static void explanations_match_the_definition(void **st)
{
    (void)st;
    char err[256];
    enum { N = 24, D = 5 };
    double *X = make_data(N, D, 2, NULL, 77);
    rk_iforest_params_t p = params(9, 1);
    p.trees = 7;
    p.sample_size = 16;
    p.baseline = N;   /* every training row */
    rk_iforest_t *m = rk_iforest_train(X, N, D, NULL, &p, err, sizeof err);
    assert_non_null(m);
    double v[1 << D], fact[D + 1] = { 1 };
    for (int i = 1; i <= D; i++) fact[i] = fact[i - 1] * i;
    for (int r = 0; r < 6; r++) {
        double x[D];
        for (int j = 0; j < D; j++) x[j] = r < 3 ? X[r * 7 * D + j] : X[r * D + j] + (j == r % D ? 30 : 0);
        for (int S = 0; S < (1 << D); S++) {
            double sum = 0;
            for (int b = 0; b < N; b++) {
                double h[D];
                for (int j = 0; j < D; j++) h[j] = (S >> j) & 1 ? x[j] : X[b * D + j];
                sum += rk_iforest_score_row(m, h);
            }
            v[S] = sum / N;
        }
        double phi[16];
        assert_int_equal(rk_iforest_explain(m, x, phi, err, sizeof err), 0);
        for (int j = 0; j < D; j++) {
            double want = 0;
            for (int S = 0; S < (1 << D); S++) {
                if ((S >> j) & 1) continue;
                int k = __builtin_popcount((unsigned)S);
                want += fact[k] * fact[D - k - 1] / fact[D] * (v[S | (1 << j)] - v[S]);
            }
            if (fabs(phi[j] - want) > 1e-9) fail_msg("row %d feature %d: %.15g, by definition %.15g", r, j, phi[j], want);
        }
    }
    free(X);
    rk_iforest_release(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(c_matches_harmonic_closed_form),
        cmocka_unit_test(same_seed_same_model_whatever_the_threads),
        cmocka_unit_test(finds_scattered_outliers),
        cmocka_unit_test(auc_handles_ties_and_degenerate_input),
        cmocka_unit_test(nan_is_an_error),
        cmocka_unit_test(explanations_are_exact_and_point_at_the_cause),
        cmocka_unit_test(explanations_match_the_definition),
        cmocka_unit_test(file_round_trip),
        cmocka_unit_test(bad_files_fail_clearly),
        cmocka_unit_test(refcount),
    };
    return cmocka_run_group_tests_name("iforest", tests, NULL, NULL);
}

/* iforest.h — Isolation Forest (Liu, Ting & Zhou, ICDM 2008): training,
 * scoring, exact explanations and a checked model file. Pure C, no Lua.
 *
 * Score convention: 2^(-E[h(x)] / c(sample_size)) in (0,1), higher is more
 * anomalous — the same as `-score_samples` in scikit-learn. h(x) is the depth
 * of the leaf x falls in plus c(leaf size), the expected depth of the subtree
 * the height limit cut off.
 *
 * A model is immutable once trained or loaded and reference-counted, so the
 * server's workers can share one and the reloader can swap it atomically.
 */
#ifndef RK_IFOREST_H
#define RK_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#define RK_IFOREST_MAX_FEATURES 4096
#define RK_IFOREST_EXPLAIN_MAX_FEATURES 16  /* exact Shapley: 2^d coalitions */
#define RK_IFOREST_MAX_METRICS 16
#define RK_IFOREST_FILE_VERSION 1

typedef struct rk_iforest rk_iforest_t;

typedef struct rk_iforest_params {
    int trees;          /* 100 */
    int sample_size;    /* 256, capped at n */
    int max_depth;      /* 0 = ceil(log2(sample_size)) */
    uint64_t seed;      /* same seed and data, same model, whatever the threads */
    int threads;        /* 0 = one per core */
    int baseline;       /* rows kept for explanations and the expected score (64) */
} rk_iforest_params_t;

void rk_iforest_defaults(rk_iforest_params_t *p);

/* c(n): the average path length of an unsuccessful search in a binary search
 * tree of n points, 2 H(n-1) - 2 (n-1)/n, with c(1) = 0 and c(2) = 1. */
double rk_iforest_c(double n);

/* Trains on the n×d row-major matrix X (copied as needed, not kept). NaN is
 * an error naming its row and column. names may be NULL. */
rk_iforest_t *rk_iforest_train(const double *X, size_t n, int d, const char *const *names,
                               const rk_iforest_params_t *p, char *err, size_t errlen);

/* Scores n rows into out, using `threads` threads (0 = one per core). Fails
 * without writing out when any input is NaN. */
int rk_iforest_score(const rk_iforest_t *m, const double *X, size_t n, double *out,
                     int threads, char *err, size_t errlen);
/* One row, already known to hold no NaN. */
double rk_iforest_score_row(const rk_iforest_t *m, const double *x);

/* Exact Shapley values of the score for one row, against the model's
 * baseline rows: phi[j] for each of the d features, with
 * sum(phi) == score(x) - rk_iforest_expected(m) up to rounding. d must be at
 * most RK_IFOREST_EXPLAIN_MAX_FEATURES. */
int rk_iforest_explain(const rk_iforest_t *m, const double *x, double *phi, char *err, size_t errlen);

int rk_iforest_save(const rk_iforest_t *m, const char *path, char *err, size_t errlen);
/* Loads and checks a model file (magic, version, checksum, structure). When
 * names is not NULL the model's feature names must equal them. */
rk_iforest_t *rk_iforest_load(const char *path, const char *const *names, int nnames,
                              char *err, size_t errlen);
/* The same from a file's bytes in memory (path only names it in errors). */
rk_iforest_t *rk_iforest_parse(const unsigned char *data, size_t size, const char *path,
                               const char *const *names, int nnames, char *err, size_t errlen);

/* A metric stored in the file's header (for example "auc"); replaces one of
 * the same name. Only before the model is shared. -1 when full. */
int rk_iforest_set_metric(rk_iforest_t *m, const char *name, double value);

rk_iforest_t *rk_iforest_retain(rk_iforest_t *m);
void rk_iforest_release(rk_iforest_t *m);  /* NULL is a no-op */

typedef struct rk_iforest_info {
    int d, trees, sample_size, max_depth, baseline_rows, nmetrics;
    uint64_t seed, train_rows;
    int64_t created_at;         /* Unix seconds */
    size_t nodes;
    double expected_score;      /* mean score of the baseline rows */
    const char *metric_names[RK_IFOREST_MAX_METRICS];
    double metric_values[RK_IFOREST_MAX_METRICS];
} rk_iforest_info_t;

void rk_iforest_info(const rk_iforest_t *m, rk_iforest_info_t *out);
/* Feature name i, or NULL when the model has none. */
const char *rk_iforest_name(const rk_iforest_t *m, int i);
int rk_iforest_features(const rk_iforest_t *m);
double rk_iforest_expected(const rk_iforest_t *m);

#endif

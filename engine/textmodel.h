/* textmodel.h — a linear text classifier: logistic regression over hashed
 * word unigrams and bigrams and character 4-grams (which carry across
 * languages and spellings), plus a few dense features, trained with
 * AdaGrad; a checked, versioned model file. Pure C, no Lua.
 *
 * A model is immutable once trained or loaded and reference-counted, so
 * the server's workers share one and a reload swaps it atomically.
 */
#ifndef RK_TEXTMODEL_H
#define RK_TEXTMODEL_H

#include <stddef.h>
#include <stdint.h>

#define RK_TM_BITS 18                     /* 262,144 hashed text features */
#define RK_TM_MAX_DENSE 64
#define RK_TM_MAX_TEXT (16u << 10)        /* bytes of text read per message */
#define RK_TM_MAX_METRICS 64
#define RK_TM_FILE_VERSION 2               /* 2 added the provenance; 1 still reads */

/* A sparse row: sorted distinct indices and their values. */
typedef struct rk_tm_vec {
    uint32_t *idx;
    float *val;
    int n, cap;
} rk_tm_vec_t;

void rk_tm_vec_free(rk_tm_vec_t *v);
/* text (UTF-8) and dense[ndense] into v (reused: its memory is kept).
 * Text features are 1 + log(count), scaled to unit length; dense ones
 * follow at index 2^RK_TM_BITS + i as given. 0, or -1 out of memory. */
int rk_tm_featurize(const char *text, const float *dense, int ndense, rk_tm_vec_t *v);

typedef struct rk_textmodel rk_textmodel_t;

typedef struct rk_tm_params {
    int epochs;                       /* 6 */
    double rate;                      /* AdaGrad's 0.5 */
    double l2;                        /* 1e-6 per example */
    uint64_t seed;                    /* the shuffle's */
} rk_tm_params_t;

void rk_tm_defaults(rk_tm_params_t *p);
/* Trains on n rows with labels 0/1 (classes weighted to balance). names:
 * the dense features' names (ndense of them), kept in the file. NULL with
 * err when the data cannot train a model (one class only, no rows). */
rk_textmodel_t *rk_tm_train(const rk_tm_vec_t *rows, const int *labels, size_t n, const char *const *names,
                            int ndense, const rk_tm_params_t *p, char *err, size_t errlen);
/* Probability (0..1) that the row is of class 1. */
double rk_tm_score(const rk_textmodel_t *m, const rk_tm_vec_t *x);
/* The largest text and dense contributions (weight × value) of x, most
 * positive first: k at most; fills idx (feature index) and contrib. */
int rk_tm_top(const rk_textmodel_t *m, const rk_tm_vec_t *x, int k, uint32_t *idx, double *contrib);

int rk_tm_ndense(const rk_textmodel_t *m);
const char *rk_tm_dense_name(const rk_textmodel_t *m, int i);
int64_t rk_tm_created(const rk_textmodel_t *m);
int rk_tm_set_metric(rk_textmodel_t *m, const char *name, double value);   /* before sharing */
/* Where the model comes from (sources, counts, licences, the corpus's
 * commit): free text kept in the file, up to 65,535 bytes; "" when none. */
int rk_tm_set_provenance(rk_textmodel_t *m, const char *text);              /* before sharing */
const char *rk_tm_provenance(const rk_textmodel_t *m);
int rk_tm_nmetrics(const rk_textmodel_t *m);
const char *rk_tm_metric(const rk_textmodel_t *m, int i, double *value);

int rk_tm_save(const rk_textmodel_t *m, const char *path, char *err, size_t errlen);
rk_textmodel_t *rk_tm_load(const char *path, char *err, size_t errlen);
rk_textmodel_t *rk_tm_parse(const unsigned char *data, size_t size, const char *path, char *err, size_t errlen);
rk_textmodel_t *rk_tm_retain(rk_textmodel_t *m);   /* NULL-safe */
void rk_tm_release(rk_textmodel_t *m);             /* NULL-safe; frees at the last */

#endif

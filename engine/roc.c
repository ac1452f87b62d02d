/* roc.c — see roc.h. */
#include "roc.h"

#include <stdlib.h>

typedef struct { double s; int y; } pair_t;

static int by_score(const void *a, const void *b)
{
    double x = ((const pair_t *)a)->s, y = ((const pair_t *)b)->s;
    return (x > y) - (x < y);
}

double rk_roc_auc(const double *scores, const int *labels, size_t n)
{
    pair_t *p = malloc(n * sizeof *p);
    if (!p) return -1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        p[i].s = scores[i];
        p[i].y = labels[i] != 0;
        pos += (size_t)p[i].y;
    }
    size_t neg = n - pos;
    if (pos == 0 || neg == 0) { free(p); return -1; }
    qsort(p, n, sizeof *p, by_score);
    /* Sum of the positives' ranks, ties sharing the average rank. */
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s) j++;
        double avg = (double)(i + 1 + j) / 2.0;   /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++) if (p[k].y) rank_sum += avg;
        i = j;
    }
    free(p);
    return (rank_sum - (double)pos * (double)(pos + 1) / 2.0) / ((double)pos * (double)neg);
}

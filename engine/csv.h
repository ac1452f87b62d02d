/* csv.h — numeric CSV tables for batch work: a header row of column names,
 * then rows of numbers. Every error names the file, the line and the column.
 *
 * Numbers are parsed with an exact fast path (up to 15 significant digits and
 * a decimal exponent within ±22: one correctly rounded multiplication or
 * division, Clinger 1990) and strtod for everything else.
 */
#ifndef RK_CSV_H
#define RK_CSV_H

#include <stddef.h>

typedef struct rk_csv {
    double *X;        /* n × d, row-major: every column but the label */
    size_t n;
    int d;
    char **names;     /* d column names */
    int *labels;      /* n labels (non-zero = 1) when a label column was named, else NULL */
} rk_csv_t;

/* Reads path; label (may be NULL) names a column to take out as labels. */
int rk_csv_read(const char *path, const char *label, rk_csv_t *out, char *err, size_t errlen);
void rk_csv_free(rk_csv_t *t);

/* Parses one number from [s, end); returns the end of it or NULL. */
const char *rk_csv_number(const char *s, const char *end, double *out);

/* Formats v in [0, 1] as "0.ddddddddddddddd" (15 decimals); returns the length. */
int rk_csv_format_unit(double v, char *buf);

#endif

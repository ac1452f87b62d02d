/* roc.h — ROC AUC of scores against 0/1 labels (the Mann–Whitney U, with
 * tied scores given their average rank). Used by `riskd iforest eval`, the
 * training report and the tests. */
#ifndef RK_ROC_H
#define RK_ROC_H

#include <stddef.h>

/* Returns the AUC in [0,1], or -1 when either class is empty or memory runs out. */
double rk_roc_auc(const double *scores, const int *labels, size_t n);

#endif

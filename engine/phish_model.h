/* phish_model.h — the live phishing text model of a models folder: the file
 * <dir>/phishing.model, shared by every worker and swapped when the file
 * changes (it is replaced by a rename, so a reader sees the old file or
 * the new one). A file that fails its checks leaves the previous model
 * serving and is reported once. Pure C. */
#ifndef RK_PHISH_MODEL_H
#define RK_PHISH_MODEL_H

#include <stddef.h>

#include "textmodel.h"

#define RK_TM_LIVE_FILE "phishing.model"

/* The live model of dir, retained (release it with rk_tm_release), or NULL
 * when there is none. The file is looked at again at most once a second.
 * err gets the reason a new file was refused, once per file version;
 * "" otherwise. */
rk_textmodel_t *rk_phish_model_live(const char *dir, char *err, size_t errlen);
/* Forget the cached model (tests). */
void rk_phish_model_reset(void);

#endif

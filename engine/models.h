/* models.h — which model in a models folder is live. Pure C.
 *
 * The folder keeps every model version (`default.model`, made by `make`;
 * `login-<stamp>.model`, made by retraining). The live one is named by the
 * one-line file ACTIVE in the folder, or is `default.model` when there is no
 * ACTIVE. Switching is writing ACTIVE (atomically: a temporary file renamed
 * over it), which the server's watcher sees and hot-swaps. */
#ifndef RK_MODELS_H
#define RK_MODELS_H

#include <stddef.h>

#define RK_MODELS_DEFAULT "default.model"
#define RK_MODELS_ACTIVE "ACTIVE"

/* Fills path with the live model's path. 0 when that file exists, 1 when
 * there is none (no model yet), -1 with err when ACTIVE is unreadable or
 * names something that is not a model file name. */
int rk_models_active(const char *dir, char *path, size_t cap, char *err, size_t errlen);
/* Makes file (a name in dir, which must exist) the live model. */
int rk_models_activate(const char *dir, const char *file, char *err, size_t errlen);
/* Whether name is a plain model file name: [A-Za-z0-9._-]+ ending in .model. */
int rk_models_valid_name(const char *name);

#endif

/* models.c — see models.h. */
#include "models.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rk_models_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 7 || n > 128 || strcmp(name + n - 6, ".model") != 0 || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int rk_models_active(const char *dir, char *path, size_t cap, char *err, size_t errlen)
{
    char file[160] = RK_MODELS_DEFAULT, apath[1200];
    snprintf(apath, sizeof apath, "%s/%s", dir, RK_MODELS_ACTIVE);
    FILE *f = fopen(apath, "r");
    if (f) {
        char line[160] = "";
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (!rk_models_valid_name(line)) {
            snprintf(err, errlen, "%s: '%s' is not a model file name", apath, line);
            return -1;
        }
        snprintf(file, sizeof file, "%s", line);
    }
    snprintf(path, cap, "%s/%s", dir, file);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 0 : 1;
}

int rk_models_activate(const char *dir, const char *file, char *err, size_t errlen)
{
    char path[1200], tmp[1200], apath[1200];
    if (!rk_models_valid_name(file)) { snprintf(err, errlen, "'%s' is not a model file name", file); return -1; }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct stat st;
    if (stat(path, &st) != 0) { snprintf(err, errlen, "no model %s", path); return -1; }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, RK_MODELS_ACTIVE);
    snprintf(apath, sizeof apath, "%s/%s", dir, RK_MODELS_ACTIVE);
    FILE *f = fopen(tmp, "w");
    if (!f) { snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); return -1; }
    int bad = fprintf(f, "%s\n", file) < 0;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, apath) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", apath, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

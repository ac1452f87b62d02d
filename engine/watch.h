/* watch.h — recursive inotify watches over folder trees.
 *
 * The caller polls rk_watch_fd() in its event loop and calls rk_watch_drain()
 * when it is readable; drain reports which trees changed as a bit mask of the
 * tags given to rk_watch_add_tree(). Sub-folders created later are watched as
 * they appear. The watcher does not say which file changed: the reloader
 * rereads the tree, which also covers events the kernel dropped (IN_Q_OVERFLOW).
 */
#ifndef RK_WATCH_H
#define RK_WATCH_H

#include <stddef.h>

typedef struct rk_watch rk_watch_t;

rk_watch_t *rk_watch_new(char *err, size_t errlen);
int rk_watch_add_tree(rk_watch_t *w, const char *root, unsigned tag, char *err, size_t errlen);
int rk_watch_fd(const rk_watch_t *w);
/* Reads all pending events; returns the OR of the tags of changed trees
 * (0 when none; every tag on queue overflow). */
unsigned rk_watch_drain(rk_watch_t *w);
void rk_watch_free(rk_watch_t *w);

#endif

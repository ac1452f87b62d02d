/* server.h — `riskd serve`: the listening socket, the workers, hot reload and
 * graceful shutdown. */
#ifndef RK_SERVER_H
#define RK_SERVER_H

#include "config.h"

/* Runs until SIGTERM or SIGINT; returns the process exit status. */
int rk_server_run(const rk_config_t *cfg);

#endif

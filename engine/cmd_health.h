/* cmd_health.h — `riskd health` (see cmd_health.c). */
#ifndef RK_CMD_HEALTH_H
#define RK_CMD_HEALTH_H

int rk_cmd_health(int argc, char **argv);

#endif

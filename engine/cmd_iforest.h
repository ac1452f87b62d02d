/* cmd_iforest.h — `riskd iforest …` (see cmd_iforest.c). */
#ifndef RK_CMD_IFOREST_H
#define RK_CMD_IFOREST_H

int rk_cmd_iforest(int argc, char **argv);

#endif

/* cmd_run.h — `riskd run SCRIPT.lua [ARGS...]` (see cmd_run.c). */
#ifndef RK_CMD_RUN_H
#define RK_CMD_RUN_H

int rk_cmd_run(int argc, char **argv);

#endif

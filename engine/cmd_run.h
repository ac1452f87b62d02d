/* cmd_run.h — `riskd run SCRIPT.lua [ARGS...]` (see cmd_run.c). */
#ifndef RK_CMD_RUN_H
#define RK_CMD_RUN_H

int rk_cmd_run(int argc, char **argv);
/* `riskd generate|train|score|retrain ...`: the function module (e.g.
 * "cli.train") returns, called with argv[2...]. */
int rk_cmd_script(int argc, char **argv, const char *module);

#endif

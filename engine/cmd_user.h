/* cmd_user.h — `riskd user add|list|passwd|del` (see cmd_user.c). */
#ifndef RK_CMD_USER_H
#define RK_CMD_USER_H

int rk_cmd_user(int argc, char **argv);

#endif

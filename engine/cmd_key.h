/* cmd_key.h — `riskd key create|list|revoke` (see cmd_key.c). */
#ifndef RK_CMD_KEY_H
#define RK_CMD_KEY_H

int rk_cmd_key(int argc, char **argv);

#endif

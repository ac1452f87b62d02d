/* cmd_intel.h — `riskd intel passwords import FILE` and `riskd intel check` (see cmd_intel.c). */
#ifndef RK_CMD_INTEL_H
#define RK_CMD_INTEL_H

int rk_cmd_intel(int argc, char **argv);

#endif

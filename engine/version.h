/* version.h — the version riskd reports (healthz, riskd version). */
#ifndef RK_VERSION_H
#define RK_VERSION_H
#define RK_VERSION "0.1.0"
#endif

/* features.h — the numbers the model and the rules see for one login
 * attempt, computed from the attempt, the user's profile and recent activity.
 * Pure C, no Lua. Every feature has a stable name (rk_features_names), and
 * the order of the array is the column order of models trained on it.
 */
#ifndef RK_FEATURES_H
#define RK_FEATURES_H

#include <stdint.h>

#include "store.h"

typedef enum {
    RK_F_HOUR_SIN = 0,      /* time of day on the circle, so 23:59 is next to 00:00 */
    RK_F_HOUR_COS,
    RK_F_WEEKDAY,           /* 0 = Sunday .. 6, UTC */
    RK_F_WEEKEND,
    RK_F_HOUR_SURPRISE,     /* bits of surprise of this hour against the user's habit (0 = usual) */
    RK_F_NEW_DEVICE,        /* 1 when the user has history and never used this device */
    RK_F_NEW_COUNTRY,
    RK_F_NEW_PREFIX,        /* the /24 (IPv4) or /48 (IPv6) */
    RK_F_UA_NOVELTY,        /* 1 - share of the user's logins with this user agent */
    RK_F_DISTANCE_KM,       /* from the last successful login */
    RK_F_SPEED_KMH,         /* that distance over the time between the two */
    RK_F_FAILURES_1H,       /* failed attempts of this user in the hour before */
    RK_F_IP_USERS_1H,       /* distinct users tried from this address in the hour before */
    RK_F_LOG_HOURS_SINCE,   /* log(1 + hours since the user's last attempt) */
    RK_F_LOG_MATURITY,      /* log(1 + successful logins before this one) */
    RK_F_COUNT
} rk_feature;

extern const char *const rk_features_names[RK_F_COUNT];

typedef struct rk_attempt {
    int64_t ts_ms;
    const char *ip;            /* required, already validated */
    int success;
    const char *country;       /* may be NULL */
    int has_geo;
    double lat, lon;
    const char *device_id, *user_agent;   /* may be NULL */
} rk_attempt_t;

typedef struct rk_recent {
    int64_t user_failures_1h, ip_users_1h;
} rk_recent_t;

/* Fills out[RK_F_COUNT]. profile may be NULL (a user never seen). */
void rk_features_extract(const rk_attempt_t *a, const rk_profile_t *profile, const rk_recent_t *recent,
                         double out[RK_F_COUNT]);

/* The attempt's local solar hour and the user's successful logins around
 * it by the local clock where each happened (store.h: local_hours). For
 * rules: not model columns, so models keep their feature list. */
typedef struct rk_local_hour {
    int hour;                  /* 0..23 at the attempt's longitude */
    int64_t near;              /* the user's located logins at hour - 1, hour or hour + 1 */
    int64_t located;           /* all the user's located logins */
} rk_local_hour_t;

/* Fills out; returns 0 (out zeroed) when the attempt has no coordinates.
 * profile may be NULL. */
int rk_features_local_hour(const rk_attempt_t *a, const rk_profile_t *profile, rk_local_hour_t *out);

/* Great-circle distance in km (haversine, mean Earth radius 6371.0088 km). */
double rk_features_distance_km(double lat1, double lon1, double lat2, double lon2);

#endif

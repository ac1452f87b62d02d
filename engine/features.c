/* features.c — see features.h. Choices, and why:
 * - New-user neutrality: with no successful login on record there is nothing
 *   to be new against, so the novelty features are 0 and the first login is
 *   not an anomaly by itself; maturity says how much history there is.
 * - Hour surprise: the user's successful logins by hour, smoothed over the
 *   neighbouring hours (0.25/0.5/0.25) and with half a login added to every
 *   hour (Laplace), give p(hour); surprise = max(0, -log2(24 p)), i.e. bits
 *   below the uniform. A habitual hour scores 0, an hour never seen in a
 *   long history scores several bits; a short history cannot score high.
 * - Local hour (rules only, not a model column): the solar hour where the
 *   attempt comes from, and how many of the user's located logins came
 *   within an hour of it, by the local clock where each happened. Someone
 *   abroad keeps living by the local clock, so a traveller's first login
 *   there comes at a habitual local hour while in UTC it looks odd; an
 *   attacker elsewhere keeps the attacker's own hours.
 * - Speed uses the absolute time between the two logins (attempts arrive out
 *   of order) and at least one minute, so two logins in the same second from
 *   the same city do not make an infinite speed.
 */
#include "features.h"

#include <math.h>
#include <string.h>
#include <time.h>

const char *const rk_features_names[RK_F_COUNT] = {
    "hour_sin", "hour_cos", "weekday", "weekend", "hour_surprise", "new_device", "new_country",
    "new_prefix", "ua_novelty", "distance_km", "speed_kmh", "failures_1h", "ip_users_1h",
    "log_hours_since", "log_maturity",
};

#define EARTH_KM 6371.0088
#define PI 3.14159265358979323846

double rk_features_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * PI / 180, p2 = lat2 * PI / 180;
    double dp = (lat2 - lat1) * PI / 180, dl = (lon2 - lon1) * PI / 180;
    double h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    if (h > 1) h = 1;
    return 2 * EARTH_KM * asin(sqrt(h));
}

static const rk_profile_item_t *find_item(const rk_profile_t *p, rk_profile_kind k, const char *v)
{
    if (!v || !*v) return NULL;
    for (int i = 0; i < p->nitems[k]; i++)
        if (strcmp(p->items[k][i].value, v) == 0) return &p->items[k][i];
    return NULL;
}

/* 1 when the value is given and unknown to a user with history. */
static double is_new(const rk_profile_t *p, rk_profile_kind k, const char *v)
{
    if (!p || p->successes == 0 || !v || !*v) return 0;
    return find_item(p, k, v) ? 0 : 1;
}

static double surprise_in(const int64_t hours[24], int hour)
{
    double n = 0;
    for (int h = 0; h < 24; h++) n += (double)hours[h];
    double c = 0.25 * (double)hours[(hour + 23) % 24] + 0.5 * (double)hours[hour] +
               0.25 * (double)hours[(hour + 1) % 24];
    double prob = (c + 0.5) / (n + 12.0);   /* 24 hours × 0.5 */
    double bits = -log2(24 * prob);
    return bits > 0 ? bits : 0;
}

int rk_features_local_hour(const rk_attempt_t *a, const rk_profile_t *p, rk_local_hour_t *out)
{
    memset(out, 0, sizeof *out);
    if (!a->has_geo) return 0;
    out->hour = rk_profile_local_hour(a->ts_ms, a->lon);
    if (p) {
        for (int h = 0; h < 24; h++) out->located += p->local_hours[h];
        for (int d = -1; d <= 1; d++) out->near += p->local_hours[(out->hour + d + 24) % 24];
    }
    return 1;
}

void rk_features_extract(const rk_attempt_t *a, const rk_profile_t *p, const rk_recent_t *r, double out[RK_F_COUNT])
{
    memset(out, 0, sizeof(double) * RK_F_COUNT);
    time_t t = (time_t)(a->ts_ms >= 0 ? a->ts_ms / 1000 : (a->ts_ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    double h = tm.tm_hour + tm.tm_min / 60.0;
    out[RK_F_HOUR_SIN] = sin(2 * PI * h / 24);
    out[RK_F_HOUR_COS] = cos(2 * PI * h / 24);
    out[RK_F_WEEKDAY] = tm.tm_wday;
    out[RK_F_WEEKEND] = tm.tm_wday == 0 || tm.tm_wday == 6;
    out[RK_F_HOUR_SURPRISE] = p ? surprise_in(p->hours, tm.tm_hour) : 0;
    out[RK_F_NEW_DEVICE] = is_new(p, RK_PK_DEVICE, a->device_id);
    out[RK_F_NEW_COUNTRY] = is_new(p, RK_PK_COUNTRY, a->country);
    char prefix[80];
    rk_profile_ip_prefix(a->ip, prefix, sizeof prefix);
    out[RK_F_NEW_PREFIX] = is_new(p, RK_PK_PREFIX, prefix);
    if (p && p->successes > 0 && a->user_agent && *a->user_agent) {
        const rk_profile_item_t *ua = find_item(p, RK_PK_UA, a->user_agent);
        double share = ua ? (double)ua->count / (double)p->successes : 0;
        out[RK_F_UA_NOVELTY] = share >= 1 ? 0 : 1 - share;
    }
    if (p && p->has_last_success && p->last_has_geo && a->has_geo) {
        double km = rk_features_distance_km(p->last_lat, p->last_lon, a->lat, a->lon);
        double hours = fabs((double)(a->ts_ms - p->last_success_ms)) / 3600000.0;
        if (hours < 1.0 / 60) hours = 1.0 / 60;
        out[RK_F_DISTANCE_KM] = km;
        out[RK_F_SPEED_KMH] = km / hours;
    }
    if (r) {
        out[RK_F_FAILURES_1H] = (double)r->user_failures_1h;
        out[RK_F_IP_USERS_1H] = (double)r->ip_users_1h;
    }
    if (p && p->attempts > 0) {
        double hours = fabs((double)(a->ts_ms - p->last_ms)) / 3600000.0;
        out[RK_F_LOG_HOURS_SINCE] = log1p(hours);
        out[RK_F_LOG_MATURITY] = log1p((double)p->successes);
    }
}

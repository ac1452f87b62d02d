/* geo.c — see geo.h. */
#include "geo.h"

#include <maxminddb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rk_geo {
    MMDB_s city, asn;
    int has_city, has_asn;
};

static int open_db(const char *path, MMDB_s *db, char *err, size_t errlen)
{
    int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "%s: %s", path, MMDB_strerror(rc));
        return -1;
    }
    return 0;
}

rk_geo_t *rk_geo_open(const char *city_path, const char *asn_path, char *err, size_t errlen)
{
    int want_city = city_path && *city_path, want_asn = asn_path && *asn_path;
    if (!want_city && !want_asn) return NULL;
    rk_geo_t *g = calloc(1, sizeof *g);
    if (!g) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (want_city) {
        if (open_db(city_path, &g->city, err, errlen) < 0) { free(g); return NULL; }
        g->has_city = 1;
    }
    if (want_asn) {
        if (open_db(asn_path, &g->asn, err, errlen) < 0) { rk_geo_close(g); return NULL; }
        g->has_asn = 1;
    }
    return g;
}

void rk_geo_close(rk_geo_t *g)
{
    if (!g) return;
    if (g->has_city) MMDB_close(&g->city);
    if (g->has_asn) MMDB_close(&g->asn);
    free(g);
}

static void get_str(MMDB_entry_s *e, char *out, size_t cap, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) == MMDB_SUCCESS && d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING) {
        size_t n = d.data_size < cap - 1 ? d.data_size : cap - 1;
        memcpy(out, d.utf8_string, n);
        out[n] = '\0';
    }
}

static int get_double(MMDB_entry_s *e, double *out, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) == MMDB_SUCCESS && d.has_data && d.type == MMDB_DATA_TYPE_DOUBLE) {
        *out = d.double_value;
        return 1;
    }
    return 0;
}

int rk_geo_lookup(const rk_geo_t *g, const char *ip, rk_geo_result_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int gai, mmdb;
    if (g->has_city) {
        MMDB_lookup_result_s r = MMDB_lookup_string((MMDB_s *)&g->city, ip, &gai, &mmdb);
        if (gai != 0) { snprintf(err, errlen, "not an IP address: '%s'", ip); return -1; }
        if (mmdb == MMDB_SUCCESS && r.found_entry) {
            static const char *const cc[] = { "country", "iso_code", NULL };
            static const char *const city[] = { "city", "names", "en", NULL };
            static const char *const lat[] = { "location", "latitude", NULL };
            static const char *const lon[] = { "location", "longitude", NULL };
            out->found = 1;
            get_str(&r.entry, out->country, sizeof out->country, cc);
            get_str(&r.entry, out->city, sizeof out->city, city);
            out->has_location = get_double(&r.entry, &out->latitude, lat) & get_double(&r.entry, &out->longitude, lon);
        }
    }
    if (g->has_asn) {
        MMDB_lookup_result_s r = MMDB_lookup_string((MMDB_s *)&g->asn, ip, &gai, &mmdb);
        if (gai != 0) { snprintf(err, errlen, "not an IP address: '%s'", ip); return -1; }
        if (mmdb == MMDB_SUCCESS && r.found_entry) {
            static const char *const num[] = { "autonomous_system_number", NULL };
            static const char *const org[] = { "autonomous_system_organization", NULL };
            MMDB_entry_data_s d;
            if (MMDB_aget_value(&r.entry, &d, num) == MMDB_SUCCESS && d.has_data && d.type == MMDB_DATA_TYPE_UINT32) {
                out->has_asn = 1;
                out->asn = d.uint32;
            }
            get_str(&r.entry, out->asn_org, sizeof out->asn_org, org);
        }
    }
    return 0;
}

const char *rk_geo_city_type(const rk_geo_t *g) { return g && g->has_city ? g->city.metadata.database_type : NULL; }
const char *rk_geo_asn_type(const rk_geo_t *g) { return g && g->has_asn ? g->asn.metadata.database_type : NULL; }

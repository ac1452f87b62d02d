/* geo.h — where an address is, from MaxMind databases (GeoLite2 or DB-IP
 * City/Country and ASN .mmdb files) read with libmaxminddb. Pure C. An opened
 * rk_geo_t is read-only and its lookups are safe from any thread.
 */
#ifndef RK_GEO_H
#define RK_GEO_H

#include <stddef.h>
#include <stdint.h>

typedef struct rk_geo rk_geo_t;

typedef struct rk_geo_result {
    int found;                  /* the city/country database knows the address */
    char country[8];            /* ISO 3166-1 alpha-2 */
    char city[128];
    int has_location;
    double latitude, longitude;
    int has_asn;
    uint32_t asn;
    char asn_org[128];
} rk_geo_result_t;

/* Either path may be NULL or empty; with neither, returns NULL and no error
 * (enrichment is off). A file that cannot be opened is an error. */
rk_geo_t *rk_geo_open(const char *city_path, const char *asn_path, char *err, size_t errlen);
void rk_geo_close(rk_geo_t *g);
/* 0 (out->found and out->has_asn say what was known), or -1 for an address
 * that does not parse. */
int rk_geo_lookup(const rk_geo_t *g, const char *ip, rk_geo_result_t *out, char *err, size_t errlen);
/* The database types ("GeoLite2-City", ...), for /healthz; NULL when absent. */
const char *rk_geo_city_type(const rk_geo_t *g);
const char *rk_geo_asn_type(const rk_geo_t *g);

#endif

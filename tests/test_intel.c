/* test_intel.c — IP sets against a brute-force reference, the list formats,
 * the breached-password index (import of a million generated hashes, counts
 * and k-anonymity ranges against what the test computed), and the intel
 * folder: reload, malformed lines, a file that fails keeping its old set,
 * unchanged files not compiled again, automatic sets with expiry. */
#include "test_util.h"
#include "intel.h"
#include "intel_ipset.h"
#include "intel_pwindex.h"

#include <sys/stat.h>
#include <time.h>

static uint64_t seed = 88172645463325252ULL;
static uint64_t rnd(void)
{
    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
    return seed;
}

static rk_ip_t ip_of(const char *s)
{
    rk_ip_t ip;
    assert_int_equal(rk_ip_parse(s, strlen(s), &ip), 0);
    return ip;
}

static int line(rk_ipset_builder_t *b, const char *s)
{
    char err[200];
    return rk_ipset_builder_line(b, s, strlen(s), 0, 0, err, sizeof err);
}

/* Random ranges of every width, overlapping, in both families, checked
 * address by address against rk_cidr_contains over the raw list. */
static void brute_force(void **st)
{
    (void)st;
    for (int family = 0; family < 2; family++) {
        enum { N = 400, PROBES = 20000 };
        rk_cidr_t list[N];
        rk_ipset_builder_t *b = rk_ipset_builder_new();
        for (int i = 0; i < N; i++) {
            char text[80], addr[64];
            rk_ip_t ip;
            memset(&ip, 0, sizeof ip);
            int bits;
            if (family == 0) {
                /* clustered in 10.0.0.0/12 so ranges overlap and share /16s */
                uint32_t a = 0x0a000000u | (uint32_t)(rnd() & 0xfffff);
                snprintf(addr, sizeof addr, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
                bits = 14 + (int)(rnd() % 19);                 /* /14 .. /32 */
            } else {
                snprintf(addr, sizeof addr, "2001:db8:%x:%x::%x", (unsigned)(rnd() & 0xf), (unsigned)(rnd() & 0xff),
                         (unsigned)(rnd() & 0xffff));
                bits = 44 + (int)(rnd() % 85);                 /* /44 .. /128 */
            }
            snprintf(text, sizeof text, "%s/%d", addr, bits);
            assert_int_equal(rk_cidr_parse(text, strlen(text), &list[i]), 0);
            assert_int_equal(line(b, text), 1);
        }
        rk_ipset_t *s = rk_ipset_build(b);
        assert_non_null(s);
        int hits = 0;
        for (int p = 0; p < PROBES; p++) {
            rk_ip_t ip;
            char text[64];
            if (family == 0) {
                uint32_t a = p % 4 == 0 ? (uint32_t)rnd() : 0x0a000000u | (uint32_t)(rnd() & 0x1fffff);
                snprintf(text, sizeof text, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
            } else {
                snprintf(text, sizeof text, "2001:db8:%x:%x::%x", (unsigned)(rnd() & 0x1f), (unsigned)(rnd() & 0xff),
                         (unsigned)(rnd() & 0xffff));
            }
            ip = ip_of(text);
            int want = 0;
            for (int i = 0; i < N && !want; i++) want = rk_cidr_contains(&list[i], &ip);
            if (rk_ipset_contains(s, &ip) != want) fail_msg("%s: set says %d, reference %d", text, !want, want);
            hits += want;
        }
        /* the probes must exercise both answers */
        print_message("family %d: %d of %d probes in\n", family, hits, PROBES);
        assert_true(hits > PROBES / 20 && hits < PROBES - PROBES / 20);
        rk_ipset_info_t info;
        rk_ipset_info(s, &info);
        assert_int_equal(info.entries, N);
        assert_true(family == 0 ? info.ranges_v4 < N && info.ranges_v6 == 0 : info.ranges_v6 < N && info.ranges_v4 == 0);
        rk_ipset_free(s);
    }
}

static void edges(void **st)
{
    (void)st;
    rk_ipset_builder_t *b = rk_ipset_builder_new();
    assert_int_equal(line(b, "0.0.0.0/0"), 1);
    rk_ipset_t *s = rk_ipset_build(b);
    assert_true(rk_ipset_contains_v4(s, 0) && rk_ipset_contains_v4(s, UINT32_MAX));
    rk_ip_t v6 = ip_of("2001:db8::1");
    assert_false(rk_ipset_contains(s, &v6));   /* the families are apart */
    rk_ipset_free(s);

    b = rk_ipset_builder_new();
    assert_int_equal(line(b, "::/0"), 1);
    assert_int_equal(line(b, "255.255.255.255/32"), 1);
    assert_int_equal(line(b, "0.0.0.0"), 1);
    s = rk_ipset_build(b);
    rk_ip_t top = ip_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), zero = ip_of("::"), v4 = ip_of("1.2.3.4");
    assert_true(rk_ipset_contains(s, &top) && rk_ipset_contains(s, &zero));
    assert_false(rk_ipset_contains(s, &v4));
    assert_true(rk_ipset_contains_v4(s, UINT32_MAX) && rk_ipset_contains_v4(s, 0));
    assert_false(rk_ipset_contains_v4(s, 1) || rk_ipset_contains_v4(s, UINT32_MAX - 1));
    rk_ipset_free(s);

    /* a /128, a /32, adjacent ranges merged, an IPv4-mapped address is IPv4 */
    b = rk_ipset_builder_new();
    assert_int_equal(line(b, "2001:db8::5/128"), 1);
    assert_int_equal(line(b, "192.0.2.0/25"), 1);
    assert_int_equal(line(b, "192.0.2.128/25"), 1);
    assert_int_equal(line(b, "198.51.100.7/32"), 1);
    s = rk_ipset_build(b);
    rk_ipset_info_t info;
    rk_ipset_info(s, &info);
    assert_int_equal(info.ranges_v4, 2);
    rk_ip_t a = ip_of("2001:db8::5"), a1 = ip_of("2001:db8::6"), a0 = ip_of("2001:db8::4"), m = ip_of("::ffff:192.0.2.200");
    assert_true(rk_ipset_contains(s, &a));
    assert_false(rk_ipset_contains(s, &a1) || rk_ipset_contains(s, &a0));
    assert_true(rk_ipset_contains(s, &m));
    rk_ip_t x = ip_of("198.51.100.7"), y = ip_of("198.51.100.8"), z = ip_of("198.51.100.6");
    assert_true(rk_ipset_contains(s, &x));
    assert_false(rk_ipset_contains(s, &y) || rk_ipset_contains(s, &z));
    rk_ipset_free(s);
}

static void formats(void **st)
{
    (void)st;
    rk_ipset_builder_t *b = rk_ipset_builder_new();
    char err[200];
    /* FireHOL netset: comments, CIDRs */
    assert_int_equal(line(b, "# firehol_level1"), 0);
    assert_int_equal(line(b, ""), 0);
    assert_int_equal(line(b, "   "), 0);
    assert_int_equal(line(b, "203.0.113.0/24   # a comment after it"), 1);
    assert_int_equal(line(b, "; also a comment"), 0);
    /* ranges and Tor's exit-addresses */
    assert_int_equal(line(b, "100.64.0.10-100.64.0.20"), 1);
    assert_int_equal(line(b, "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E"), 0);
    assert_int_equal(line(b, "Published 2026-11-01 00:00:00"), 0);
    assert_int_equal(line(b, "LastStatus 2026-11-01 01:00:00"), 0);
    assert_int_equal(line(b, "ExitAddress 185.220.101.1 2026-11-01 01:02:03"), 1);
    assert_int_equal(line(b, "2a0b:f4c2::/40\r"), 1);
    /* malformed */
    assert_int_equal(rk_ipset_builder_line(b, "300.1.1.1", 9, 0, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "300.1.1.1"));
    assert_int_equal(line(b, "10.0.0.0/33"), -1);
    assert_int_equal(line(b, "10.0.0.9-10.0.0.1"), -1);
    assert_int_equal(line(b, "10.0.0.1-2001:db8::1"), -1);
    assert_int_equal(line(b, "ExitAddress"), -1);
    assert_int_equal(rk_ipset_builder_line(b, "1.2.3.4 5.6.7.8", 15, 0, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "one address"));
    /* expiring lines */
    assert_int_equal(rk_ipset_builder_line(b, "192.0.2.1 2000", 14, 1, 1000, err, sizeof err), 1);
    assert_int_equal(rk_ipset_builder_line(b, "192.0.2.2 999", 13, 1, 1000, err, sizeof err), 0);
    assert_int_equal(rk_ipset_builder_line(b, "192.0.2.3", 9, 1, 1000, err, sizeof err), -1);
    assert_int_equal(rk_ipset_builder_line(b, "192.0.2.3 soon", 14, 1, 1000, err, sizeof err), -1);
    rk_ipset_t *s = rk_ipset_build(b);
    const char *in[] = { "203.0.113.77", "100.64.0.10", "100.64.0.20", "185.220.101.1", "2a0b:f4c2:00ff::1", "192.0.2.1" };
    const char *out[] = { "100.64.0.21", "100.64.0.9", "185.220.101.2", "2a0b:f4c3::1", "192.0.2.2", "10.0.0.1" };
    for (size_t i = 0; i < 6; i++) {
        rk_ip_t p = ip_of(in[i]), q = ip_of(out[i]);
        if (!rk_ipset_contains(s, &p)) fail_msg("%s should be in", in[i]);
        if (rk_ipset_contains(s, &q)) fail_msg("%s should be out", out[i]);
    }
    rk_ipset_free(s);
}

/* ---- breached passwords ---------------------------------------------------- */

static char hex_of(int v) { return "0123456789ABCDEF"[v & 15]; }
static void to_hex(const uint8_t *h, char *out)
{
    for (int i = 0; i < 20; i++) { out[2 * i] = hex_of(h[i] >> 4); out[2 * i + 1] = hex_of(h[i]); }
    out[40] = '\0';
}

typedef struct { int n; char first[40]; uint32_t first_count; int sorted; char last[40]; } range_seen_t;
static void on_range(void *ud, const char *suffix, uint32_t count)
{
    range_seen_t *r = ud;
    assert_int_equal(strlen(suffix), 35);
    if (r->n == 0) { snprintf(r->first, sizeof r->first, "%s", suffix); r->first_count = count; }
    if (r->n > 0 && strcmp(r->last, suffix) >= 0) r->sorted = 0;
    snprintf(r->last, sizeof r->last, "%s", suffix);
    r->n++;
}

static void passwords(void **st)
{
    (void)st;
    char *dir = tmp_dir(), in[1100], idx[1100], err[512];
    snprintf(in, sizeof in, "%s/list.txt", dir);
    snprintf(idx, sizeof idx, "%s/passwords.sha1.idx", dir);
    enum { N = 1000000 };
    /* a million hashes of "pw<i>" with count i % 1000 + 1, lower case for
     * some lines, one hash repeated (counts add), one bad line, one bare hash */
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    char hex[41];
    uint8_t h[20];
    for (int i = 0; i < N; i++) {
        char pw[32];
        int n = snprintf(pw, sizeof pw, "pw%d", i);
        rk_sha1(pw, (size_t)n, h);
        to_hex(h, hex);
        if (i % 7 == 0) for (char *c = hex; *c; c++) if (*c >= 'A') *c = (char)(*c - 'A' + 'a');
        fprintf(f, "%s:%d\r\n", hex, i % 1000 + 1);
    }
    rk_sha1("pw5", 3, h);
    to_hex(h, hex);
    fprintf(f, "%s:10\nnot a hash\n", hex);
    rk_sha1("bare", 4, h);
    to_hex(h, hex);
    fprintf(f, "%s\n", hex);
    fclose(f);

    rk_pwimport_stats_t stt;
    assert_int_equal(rk_pwindex_import(in, idx, &stt, err, sizeof err), 0);
    assert_int_equal(stt.hashes, N + 1);
    assert_int_equal(stt.duplicates, 1);
    assert_int_equal(stt.bad_lines, 1);
    assert_int_equal(stt.first_bad_line, N + 2);
    assert_string_equal(stt.first_bad, "not a hash");
    assert_int_equal(stt.index_bytes, 32 + 8 * ((1 << 20) + 1) + (uint64_t)(N + 1) * 22);

    rk_pwindex_t *x = rk_pwindex_open(idx, err, sizeof err);
    assert_non_null(x);
    assert_int_equal(rk_pwindex_hashes(x), N + 1);
    for (int i = 0; i < N; i += 997) {
        char pw[32];
        int n = snprintf(pw, sizeof pw, "pw%d", i);
        uint32_t want = (uint32_t)(i % 1000 + 1) + (i == 5 ? 10 : 0);
        if (rk_pwindex_count_password(x, pw, (size_t)n) != want) fail_msg("%s: %u, not %u", pw, rk_pwindex_count_password(x, pw, (size_t)n), want);
    }
    assert_int_equal(rk_pwindex_count_password(x, "pw5", 3), 6 + 10);
    assert_int_equal(rk_pwindex_count_password(x, "bare", 4), 1);
    assert_int_equal(rk_pwindex_count_password(x, "pw1000000", 9), 0);
    assert_int_equal(rk_pwindex_count_password(x, "correct horse battery staple", 28), 0);

    /* the range of pw42's prefix: every hash of the list with that prefix,
     * counted by the test, and sorted */
    rk_sha1("pw42", 4, h);
    to_hex(h, hex);
    int64_t prefix = rk_pwindex_parse_prefix(hex, 5);
    assert_true(prefix >= 0);
    int expect = 0;
    for (int i = 0; i < N; i++) {
        char pw[32], hx[41];
        uint8_t g[20];
        int n = snprintf(pw, sizeof pw, "pw%d", i);
        rk_sha1(pw, (size_t)n, g);
        to_hex(g, hx);
        expect += memcmp(hx, hex, 5) == 0;
    }
    range_seen_t seen = { 0, "", 0, 1, "" };
    assert_int_equal(rk_pwindex_range(x, (uint32_t)prefix, on_range, &seen), (size_t)expect);
    assert_int_equal(seen.n, expect);
    assert_true(seen.sorted);
    assert_int_equal(rk_pwindex_parse_prefix("00G00", 5), -1);
    assert_int_equal(rk_pwindex_parse_prefix("0000", 4), -1);
    rk_pwindex_close(x);

    /* a damaged index is refused, never read out of bounds */
    f = fopen(idx, "r+");
    fseek(f, 32 + 8 * 1000, SEEK_SET);
    uint8_t big[8] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
    fwrite(big, 8, 1, f);
    fclose(f);
    assert_null(rk_pwindex_open(idx, err, sizeof err));
    assert_non_null(strstr(err, "prefix table"));
    assert_int_equal(truncate(idx, 1000), 0);
    assert_null(rk_pwindex_open(idx, err, sizeof err));
    /* an input of nothing but garbage replaces nothing */
    f = fopen(in, "w");
    fprintf(f, "hello\nworld\n");
    fclose(f);
    assert_int_equal(rk_pwindex_import(in, idx, &stt, err, sizeof err), -1);
    assert_non_null(strstr(err, "no line"));
    assert_int_equal(rk_pwindex_import("/nonexistent/x", idx, &stt, err, sizeof err), -1);
    rm_tree(dir);
}

/* ---- the folder ------------------------------------------------------------ */

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[1200], tmp[1300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, p), 0);
}

static const rk_intel_set_info_t *set_info(const rk_intel_info_t *info, const char *name)
{
    for (size_t i = 0; i < info->nsets; i++) if (!strcmp(info->sets[i].name, name)) return &info->sets[i];
    fail_msg("no set %s", name);
    return &info->sets[0];
}

static void folder(void **st)
{
    (void)st;
    char *dir = tmp_dir(), sub[1200];
    put_file(dir, "tor_exits.txt", "# tor\n185.220.101.1\n185.220.101.0/24\nnot-an-ip\n");
    put_file(dir, "hosting.netset", "203.0.113.0/24\n2001:db8::/32\n");
    put_file(dir, "bots.patterns", "# tools\ncurl/\nPython-Requests\n  HeadlessChrome  \n");
    put_file(dir, "README.md", "not a set\n");
    put_file(dir, ".hidden.txt", "10.0.0.1\n");
    put_file(dir, "bad name!.txt", "10.0.0.1\n");
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0700);
    put_file(sub, "inner.txt", "10.0.0.1\n");
    rk_intel_t *in = rk_intel_open(dir, NULL);
    assert_non_null(in);
    rk_ip_t tor = ip_of("185.220.101.77"), host6 = ip_of("2001:db8:1::1"), other = ip_of("8.8.8.8");
    assert_int_equal(rk_intel_contains(in, "tor_exits", &tor), 1);
    assert_int_equal(rk_intel_contains(in, "tor_exits", &other), 0);
    assert_int_equal(rk_intel_contains(in, "hosting", &host6), 1);
    assert_int_equal(rk_intel_contains(in, "inner", &other), -1);
    assert_int_equal(rk_intel_contains(in, "hidden", &other), -1);
    assert_int_equal(rk_intel_contains(in, "bots", &other), -1);   /* a pattern set is not an IP set */
    char pat[64];
    const char *ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36";
    assert_int_equal(rk_intel_match(in, "bots", ua, strlen(ua), pat, sizeof pat), 1);
    assert_string_equal(pat, "headlesschrome");
    assert_int_equal(rk_intel_match(in, "bots", "python-requests/2.31", 20, pat, sizeof pat), 1);
    assert_int_equal(rk_intel_match(in, "bots", "Mozilla/5.0 Firefox", 19, pat, sizeof pat), 0);
    assert_int_equal(rk_intel_match(in, "nope", "x", 1, pat, sizeof pat), -1);
    assert_int_equal(rk_intel_password_count(in, "x", 1), -1);

    rk_intel_info_t info;
    assert_int_equal(rk_intel_info(in, &info), 0);
    assert_int_equal(info.nsets, 3);
    const rk_intel_set_info_t *t = set_info(&info, "tor_exits");
    assert_non_null(t);
    assert_int_equal(t->entries, 2);
    assert_int_equal(t->ranges_v4, 1);
    assert_int_equal(t->nerrors, 1);
    assert_int_equal(t->errors[0].line, 4);
    assert_non_null(strstr(t->errors[0].message, "not-an-ip"));
    assert_int_equal(set_info(&info, "bots")->entries, 3);
    int64_t loaded = set_info(&info, "hosting")->loaded_ms;
    uint64_t gen = info.generation;
    free(info.sets);

    /* a file that fails entirely keeps its old set; an unchanged one is not
     * read again; a new file appears; a removed one goes */
    put_file(dir, "tor_exits.txt", "garbage\nmore garbage\n");
    put_file(dir, "known_bad.list", "192.0.2.0/24\n");
    char p[1300];
    snprintf(p, sizeof p, "%s/bots.patterns", dir);
    unlink(p);
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    assert_true(rk_intel_reload(in) >= 1);
    assert_int_equal(rk_intel_contains(in, "tor_exits", &tor), 1);
    rk_ip_t bad = ip_of("192.0.2.9");
    assert_int_equal(rk_intel_contains(in, "known_bad", &bad), 1);
    assert_int_equal(rk_intel_match(in, "bots", ua, strlen(ua), pat, sizeof pat), -1);
    assert_int_equal(rk_intel_info(in, &info), 0);
    assert_true(info.generation > gen);
    t = set_info(&info, "tor_exits");
    assert_non_null(strstr(t->failed, "no valid line"));
    assert_int_equal(t->nerrors, 2);
    assert_int_equal(t->entries, 2);   /* the old set's */
    assert_int_equal(set_info(&info, "hosting")->loaded_ms, loaded);
    free(info.sets);
    /* fixed again */
    put_file(dir, "tor_exits.txt", "198.51.100.1\n");
    rk_intel_reload(in);
    rk_ip_t fixed = ip_of("198.51.100.1");
    assert_int_equal(rk_intel_contains(in, "tor_exits", &fixed), 1);
    assert_int_equal(rk_intel_contains(in, "tor_exits", &tor), 0);

    /* automatic sets: added, kept across reloads, gone when expired */
    char err[256];
    rk_ip_t a1 = ip_of("198.18.0.1"), a2 = ip_of("198.18.0.2");
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a1), -1);
    assert_int_equal(rk_intel_confirm(in, "confirmed_attacks", &a1, (int64_t)time(NULL) + 3600, err, sizeof err), 0);
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a1), 1);
    assert_int_equal(rk_intel_confirm(in, "confirmed_attacks", &a2, (int64_t)time(NULL) + 3600, err, sizeof err), 0);
    assert_int_equal(rk_intel_confirm(in, "confirmed_attacks", &a1, (int64_t)time(NULL) + 7200, err, sizeof err), 0);
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a2), 1);
    assert_int_equal(rk_intel_info(in, &info), 0);
    assert_int_equal(set_info(&info, "confirmed_attacks")->entries, 2);   /* a1 once */
    free(info.sets);
    put_file(dir, "confirmed_attacks.auto", "198.18.0.1 1000\n198.18.0.2 99999999999\n");
    rk_intel_reload(in);
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a1), 0);
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a2), 1);
    assert_int_equal(rk_intel_confirm(in, "bad name", &a1, 1, err, sizeof err), -1);
    rk_intel_close(in);

    /* a folder that does not exist is empty, not an error */
    in = rk_intel_open("/nonexistent/intel", NULL);
    assert_non_null(in);
    assert_int_equal(rk_intel_contains(in, "tor_exits", &tor), -1);
    rk_intel_close(in);
    rm_tree(dir);
}

/* The automatic sets live in the state folder, apart from the files users edit. */
static void state_folder(void **unused)
{
    (void)unused;
    char *dir = tmp_dir(), state[1200], path[1300], err[256];
    snprintf(state, sizeof state, "%s/state", dir);
    put_file(dir, "tor_exits.txt", "185.220.101.1\n");
    put_file(dir, "stale.auto", "198.18.0.9 99999999999\n");    /* misplaced: not read */
    rk_intel_t *in = rk_intel_open(dir, state);
    rk_ip_t a = ip_of("198.18.0.1"), stale = ip_of("198.18.0.9"), tor = ip_of("185.220.101.1");
    assert_int_equal(rk_intel_contains(in, "stale", &stale), -1);
    assert_int_equal(rk_intel_contains(in, "tor_exits", &tor), 1);
    assert_int_equal(rk_intel_confirm(in, "confirmed_attacks", &a, (int64_t)time(NULL) + 3600, err, sizeof err), 0);
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a), 1);
    struct stat st;
    snprintf(path, sizeof path, "%s/confirmed_attacks.auto", state);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/confirmed_attacks.auto", dir);
    assert_int_not_equal(stat(path, &st), 0);
    rk_intel_close(in);
    /* a later start finds them again */
    in = rk_intel_open(dir, state);
    assert_int_equal(rk_intel_contains(in, "confirmed_attacks", &a), 1);
    /* a user's file giving a set the same name is a clash, reported */
    put_file(dir, "confirmed_attacks.txt", "10.0.0.1\n");
    assert_true(rk_intel_reload(in) > 0);
    rk_intel_close(in);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(brute_force),
        cmocka_unit_test(edges),
        cmocka_unit_test(formats),
        cmocka_unit_test(passwords),
        cmocka_unit_test(folder),
        cmocka_unit_test(state_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* store_reads.h — what the tests that compare two stores share: a small
 * deterministic generator (xorshift, so that a failure replays) and the
 * check that the analysis's reads of both agree. Needs test_util.h and
 * store_impl.h first. */
#ifndef RK_TEST_STORE_READS_H
#define RK_TEST_STORE_READS_H

static uint64_t rng = 88172645463325252ULL;
static unsigned next(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* The recent counts, the profile (its encoding, and an analyst's state)
 * and the global counts of vals (every kind but the last) agree. */
static void same_reads(rk_store_t *a, rk_store_t *b, const char *user, const char *ip, int64_t since,
                       const char *const vals[RK_PK_COUNT])
{
    char err[512];
    int64_t fa, ua, fb, ub;
    assert_int_equal(rk_store_recent(a, user, ip, since, &fa, &ua, err, sizeof err), 0);
    assert_int_equal(rk_store_recent(b, user, ip, since, &fb, &ub, err, sizeof err), 0);
    assert_int_equal(fa, fb);
    assert_int_equal(ua, ub);
    static rk_profile_t pa, pb;
    int ra = rk_store_profile_get(a, user, &pa, err, sizeof err);
    int rb = rk_store_profile_get(b, user, &pb, err, sizeof err);
    assert_int_equal(ra, rb);
    if (ra == 0) {
        static unsigned char ea[RK_PROFILE_MAX_BYTES], eb[RK_PROFILE_MAX_BYTES];
        size_t la = rk_profile_encode(&pa, ea, sizeof ea), lb = rk_profile_encode(&pb, eb, sizeof eb);
        assert_int_equal(la, lb);
        assert_memory_equal(ea, eb, la);
        assert_string_equal(pa.state, pb.state);
        assert_string_equal(pa.state_by, pb.state_by);
        assert_int_equal(pa.state_ms, pb.state_ms);
    }
    rk_global_count_t ga[RK_PK_COUNT], gb[RK_PK_COUNT];
    assert_int_equal(rk_store_global_counts(a, vals, ga, err, sizeof err), 0);
    assert_int_equal(rk_store_global_counts(b, vals, gb, err, sizeof err), 0);
    for (int k = 0; k < RK_PK_COUNT - 1; k++) {
        assert_int_equal(ga[k].count, gb[k].count);
        assert_int_equal(ga[k].total, gb[k].total);
        assert_int_equal(ga[k].distinct, gb[k].distinct);
    }
}

#endif

-- Many failed attempts on one account in the last hour. Failing again from
-- a device the account never used successfully weighs more, from fewer
-- failures: a user who forgot the password fails on the user's own device
-- (measured on `riskd generate --realistic`: bursts of 3-8 failures on 0.4 %
-- of logins, nearly all on a known device).
return {
    name = "brute_force",
    family = "velocity",
    description = "failed attempts on this account in the last hour reach the threshold",
    weights = {
        brute_force = 30,              -- at the threshold, growing with each further failure
        brute_force_stranger = 45,     -- the same, failing again from a device the account never used
    },
    evaluate = function(ctx)
        local n = ctx.features.failures_1h
        local stranger = not ctx.attempt.success and ctx.site and ctx.site.never_seen_device
        local from, weight = config.brute_force_failures, config.weights.brute_force
        if stranger then from, weight = config.brute_force_failures_stranger, config.weights.brute_force_stranger end
        if n < from then return nil end
        return math.min(config.brute_force_max, weight + config.brute_force_step * (n - from)),
            string.format("%d failed attempts in the last hour", math.floor(n))
    end,
}

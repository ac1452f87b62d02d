-- Many failed attempts on one account in the last hour.
return {
    name = "brute_force",
    description = "failed attempts on this account in the last hour reach the threshold",
    evaluate = function(ctx)
        local n = ctx.features.failures_1h
        if n < config.brute_force_failures then return nil end
        local extra = n - config.brute_force_failures
        return math.min(95, config.weights.brute_force + 8 * extra),
            string.format("%d failed attempts in the last hour", math.floor(n))
    end,
}

-- An hour of the day the user (with enough history) does not log in at.
return {
    name = "unusual_hour",
    description = "the hour of the attempt is far from the user's habit",
    evaluate = function(ctx)
        local bits = ctx.features.hour_surprise
        if bits < config.unusual_hour_bits then return nil end
        local hour = os.date("!%H:%M", ctx.attempt.ts // 1000)
        return math.min(40, config.weights.unusual_hour + 5 * (bits - config.unusual_hour_bits)),
            "unusual hour for this user (" .. hour .. " UTC)"
    end,
}

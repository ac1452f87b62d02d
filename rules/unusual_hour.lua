-- An hour of the day the user (with enough history) does not log in at.
return {
    name = "unusual_hour",
    family = "time_habits",
    description = "the hour of the attempt is far from the user's habit",
    weight = 15,
    evaluate = function(ctx)
        local bits = ctx.features.hour_surprise
        if bits < config.unusual_hour_bits then return nil end
        local hour = os.date("!%H:%M", ctx.attempt.ts // 1000)
        return math.min(config.unusual_hour_max, config.weights.unusual_hour + config.unusual_hour_step * (bits - config.unusual_hour_bits)),
            "unusual hour for this user (" .. hour .. " UTC)"
    end,
}

-- examples/night_owl_rule.lua — a candidate rule for backtest_rule.lua: a
-- success between 01:00 and 05:00 UTC from a device the user never used.
return {
    name = "night_new_device",
    description = "a new device at night",
    weight = 40,
    evaluate = function(ctx)
        local f = ctx.features
        local hour = (ctx.attempt.ts // 3600000) % 24
        if ctx.attempt.success and f.new_device and hour >= 1 and hour < 5 then
            return config.weights.night_new_device, "a device never seen before, at night"
        end
    end,
}

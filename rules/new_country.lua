-- A country the user has never logged in from.
return {
    name = "new_country",
    description = "the user has history but never logged in from this country",
    evaluate = function(ctx)
        if ctx.features.new_country == 1 then
            return config.weights.new_country, "login from a new country (" .. tostring(ctx.attempt.country) .. ")"
        end
    end,
}

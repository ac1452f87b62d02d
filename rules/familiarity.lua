-- Familiarity, after Freeman et al. (NDSS 2016): the log2 likelihood ratio,
-- attacker against this user, of the attempt's network, country, device,
-- browser and network owner, summed (computed by the pipeline,
-- lib/analyze.lua M.familiarity, as ctx.familiarity). Fires from
-- config.familiarity_bits, once the user has a history.
local LABELS = { prefixes = "network", countries = "country", devices = "device", user_agents = "browser",
                 asns = "network owner" }

return {
    name = "familiarity",
    family = "familiarity",
    description = "the attempt's network, country, device and browser are unlike the user's (Freeman et al. 2016)",
    evaluate = function(ctx)
        local f = ctx.familiarity
        if not f or f.logins < config.familiarity_min_logins or f.bits < config.familiarity_bits then return nil end
        local strange = {}
        for i, kind in ipairs(f.strange) do strange[i] = LABELS[kind] or kind end
        table.sort(strange)
        return math.min(config.familiarity_max, config.familiarity_base + config.familiarity_step * (f.bits - config.familiarity_bits)),
            string.format("unfamiliar %s for this user (%.1f bits)", table.concat(strange, ", "), f.bits)
    end,
}

-- Familiarity, after Freeman et al., "Who Are You? A Statistical Approach to
-- Measuring User Authenticity" (NDSS 2016). For each of the attempt's
-- values (IP prefix, country, device, user agent), compare how likely it is
-- from an attacker, whom the whole population stands in for (the value's
-- global frequency), with how likely it is from this user (the user's own
-- frequency, smoothed towards the global one by one pseudo-login). The
-- log2 likelihood ratios add up: familiar values count against the alarm,
-- strange ones for it.
local LABELS = { prefixes = "network", countries = "country", devices = "device", user_agents = "browser",
                 asns = "network owner" }

return {
    name = "familiarity",
    description = "the attempt's network, country, device and browser are unlike the user's (Freeman et al. 2016)",
    evaluate = function(ctx)
        local p = ctx.profile
        if not p or (p.successes or 0) < config.familiarity_min_logins then return nil end
        local bits, strange = 0, {}
        for kind, value in pairs(ctx.values or {}) do
            local g = ctx.global and ctx.global[kind]
            if g and g.total > 0 then
                local p_global = (g.count + 1) / (g.total + g.distinct + 1)
                local mine = p[kind] and p[kind][value]
                local p_user = ((mine and mine.count or 0) + p_global) / (p.successes + 1)
                local r = math.log(p_global / p_user, 2)
                bits = bits + r
                if r > 1 then strange[#strange + 1] = LABELS[kind] or kind end
            end
        end
        if bits < config.familiarity_bits then return nil end
        table.sort(strange)
        return math.min(config.familiarity_max, 10 + 4 * (bits - config.familiarity_bits)),
            string.format("unfamiliar %s for this user (%.1f bits)", table.concat(strange, ", "), bits)
    end,
}

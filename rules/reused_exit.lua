-- A device and a network new to the user, from a network through which
-- other accounts also signed in with devices new to them in the last days,
-- and no account as a network of its own: a proxy exit an attacker reuses
-- for a few victims. Offices, VPN exits and carrier blocks have regulars
-- (accounts coming back to a network they know) and do not fire; nor does
-- a network the user already knows. Needs a history
-- (config.familiarity_min_logins).
local signals = require("signals")

return {
    name = "reused_exit",
    family = "cross_account",
    description = "a new device on a new network that other accounts also reached with new devices in the last days, and none as a usual network",
    weight = 45,
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        local f, p, c = ctx.features, ctx.profile, ctx.cross
        if not f.new_device or not f.new_prefix or not c or c.network_regulars > 0 then return nil end
        local n = c.network_new_device_accounts
        if n < config.reused_exit_accounts then return nil end
        if not p or (p.successes or 0) < config.familiarity_min_logins then return nil end
        return config.weights.reused_exit, string.format(
            "%d other account%s signed in with new devices from this network in the last %d days, none as a usual network",
            n, n == 1 and "" or "s", config.cross_account_days)
    end,
}

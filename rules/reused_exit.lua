-- A device and a network new to the user, from a network through which
-- other accounts also signed in with devices new to them in the last days:
-- a proxy exit an attacker reuses for a few victims. An office or a
-- carrier block the user already knows does not fire (the network must be
-- new to the user); needs a history (config.familiarity_min_logins).
return {
    name = "reused_exit",
    family = "cross_account",
    description = "a new device on a new network that other accounts also reached with new devices in the last days",
    weight = 45,
    evaluate = function(ctx)
        local f, p, n = ctx.features, ctx.profile, ctx.cross and ctx.cross.network_new_device_accounts or 0
        if not f.new_device or not f.new_prefix or n < config.reused_exit_accounts then return nil end
        if not p or (p.successes or 0) < config.familiarity_min_logins then return nil end
        return config.weights.reused_exit, string.format(
            "%d other account%s signed in with new devices from this network in the last %d days",
            n, n == 1 and "" or "s", config.cross_account_days)
    end,
}

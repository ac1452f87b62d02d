-- The user's own device, from an address new to the user that other
-- accounts also signed in from in the last days, and that no account comes
-- back to as a network of its own: a stolen session cookie, replayed by a
-- buyer whose exit serves the cookies of several victims. A household, an
-- office, a carrier block or a listed VPN exit is shared infrastructure or
-- has regulars, and does not fire; an unlisted VPN exit can, which is why
-- a site's VPN list (config.shared_address_sets) matters here.
local signals = require("signals")

return {
    name = "shared_session_exit",
    family = "cross_account",
    description = "a known device from a new address that other accounts also used in the last days, none as a usual network",
    weights = { shared_session_exit = 55, shared_session_exit_step = 10, shared_session_exit_max = 80 },
    evaluate = function(ctx)
        if signals.shared_network(ctx) then return nil end   -- busy networks, trusted ones, listed VPN exits
        local f, c = ctx.features, ctx.cross
        if f.new_device or not f.new_prefix or not c or c.network_regulars > 0 then return nil end
        if not signals.known_device(ctx) then return nil end
        local n = c.address_accounts
        if n < config.shared_exit_accounts then return nil end
        local w = config.weights
        return math.min(w.shared_session_exit_max,
                        w.shared_session_exit + w.shared_session_exit_step * (n - config.shared_exit_accounts)),
            string.format("this device of the user's came from an address %d other account%s used in the last %d days, "
                          .. "none as a usual network", n, n == 1 and "" or "s", config.cross_account_days)
    end,
}

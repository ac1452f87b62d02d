-- A device the account never signed in with, from a wide network (/16)
-- where several other accounts failed with such devices in the last hours,
-- and that no account comes back to as a network of its own: a spray spread
-- over many addresses of one operator, too slow for any one address or
-- hour to stand out. Carriers, offices and VPN exits have regulars and do
-- not fire. Failures and the rare success alike. For an account without a
-- history every device is one it never signed in with: a spray in a site's
-- first hours, before anyone has a history, counts too.
local signals = require("signals")

return {
    name = "network_spray",
    family = "velocity",
    description = "accounts fail with devices they never signed in with from many addresses of one wide network, which no account uses as its own",
    -- the cross-account memory holds the last 8 accounts of a network, so
    -- the weight reaches its most within that many
    weights = { network_spray = 50, network_spray_step = 7.5, network_spray_max = 80 },
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        local c = ctx.cross
        if not (ctx.site and ctx.site.never_seen_device) or not c or c.wide_regulars > 0 then return nil end
        local n = c.wide_failing_accounts
        if n < config.spray_accounts then return nil end
        local w = config.weights
        return math.min(w.network_spray_max, w.network_spray + w.network_spray_step * (n - config.spray_accounts)),
            string.format("%d other accounts failed with new devices from this wide network in the last %d hours, "
                          .. "none uses it as its own", n, config.spray_hours)
    end,
}

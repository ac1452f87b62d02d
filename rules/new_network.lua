-- An address range (/24 or /48) the user has never logged in from. Weak on
-- its own: phones and home lines change addresses.
local signals = require("signals")

return {
    name = "new_network",
    family = "network_novelty",
    description = "the user never logged in from this /24 (IPv4) or /48 (IPv6)",
    weights = { new_prefix = 10 },
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        if ctx.features.new_prefix then return config.weights.new_prefix, "new network" end
    end,
}

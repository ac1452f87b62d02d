-- The address is in an anonymising or rented network: Tor exits, VPN
-- providers, hosting and cloud ranges, proxies. Which sets count and how much
-- is config.intel_anonymous; the sets are files of the intel folder
-- (tor_exits.txt, a FireHOL .netset, ...), absent sets never match.
local signals = require("signals")

return {
    name = "anonymous_network",
    family = "reputation",
    description = "the address is in a Tor, VPN, proxy or hosting IP set of the intel folder",
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        return ctx.intel.heaviest(config.intel_anonymous, ctx.attempt.ip_address)
    end,
}

-- rules/lib/signals.lua — what several rules ask of an attempt, answered in
-- one place. A rule reads it with `local signals = require("signals")`.
local M = {}

-- The address is in the site's own trusted networks (config.trusted_networks,
-- an IP set of the intel folder: its offices, its VPN egress): being new to
-- a user there is no evidence, and where it geolocates says nothing.
function M.trusted_network(ctx)
    local set = config.trusted_networks
    return set ~= nil and ctx.intel.contains(set, ctx.attempt.ip_address)
end

-- The attempt's network (/24, /48) is shared infrastructure — a VPN exit, a
-- carrier, an office NAT: config.shared_network_logins or more successful
-- logins of any users came from it, or the site trusts it, so where it
-- geolocates, and its clock, say little about where the user is.
function M.shared_network(ctx)
    local g = ctx.global and ctx.global.prefixes
    return (g ~= nil and g.count >= config.shared_network_logins) or M.trusted_network(ctx)
end

-- The attempt comes with a device id the user has logged in with before.
function M.known_device(ctx)
    local device = ctx.attempt.device_id
    return device ~= nil and device ~= "" and not ctx.features.new_device
end

return M

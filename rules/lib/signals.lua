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

-- The address is in an IP set of config.shared_address_sets: one that many
-- unrelated people share, as the exits of a commercial VPN.
function M.shared_address(ctx)
    for _, set in ipairs(config.shared_address_sets or {}) do
        if ctx.intel.contains(set, ctx.attempt.ip_address) then return true end
    end
    return false
end

-- The attempt's network (/24, /48) is shared infrastructure — a VPN exit, a
-- carrier, an office NAT: config.shared_network_logins or more successful
-- logins of any users came from it, the site trusts it, or it is on a list
-- of shared addresses, so where it geolocates, and its clock, say little
-- about where the user is.
function M.shared_network(ctx)
    local g = ctx.global and ctx.global.prefixes
    return (g ~= nil and g.count >= config.shared_network_logins) or M.trusted_network(ctx) or M.shared_address(ctx)
end

-- How much a new device id says of this user: 1 for a user whose history
-- shows as many device ids as browsers, less for one who turns up with new
-- ids for the same browsers again and again (cleared cookies, private
-- windows, reinstalled apps), for whom a new id is a habit, not news:
-- config.device_churn_usual over the ids beyond one per user agent, per
-- successful login, at most 1, for a new id with a browser the user has. A
-- laptop, a phone and a tablet each have a browser of their own: they are
-- devices, not churn.
function M.device_novelty_weight(ctx)
    local p = ctx.profile
    local n = p and p.successes or 0
    if n < config.familiarity_min_logins or not p.devices then return 1 end
    -- the habit is a browser the user has, under a new id; a browser the
    -- user never used is news whatever the habit
    local ua = ctx.attempt.user_agent
    if not (ua and p.user_agents and p.user_agents[ua]) then return 1 end
    local ids, agents = 0, 0
    for _ in pairs(p.devices) do ids = ids + 1 end
    for _ in pairs(p.user_agents) do agents = agents + 1 end
    local churn = math.max(0, ids - agents) / n
    return churn > config.device_churn_usual and config.device_churn_usual / churn or 1
end

-- The attempt comes from a country the user never logged in from: every
-- network there is new to the user, and mostly to the site too, so a new
-- network says nothing more than the trip does (new_country and the
-- geography family speak for that).
function M.abroad(ctx)
    return ctx.features.new_country == true
end

-- The attempt's network is new to the user but not its owner: with an ASN
-- database (--asn-db), the user signed in through this autonomous system
-- before (a phone's new carrier block, a home line renumbered), which a
-- residential proxy in the user's city seldom shares.
function M.known_owner(ctx)
    return ctx.attempt.asn ~= nil and not ctx.features.new_asn
end

-- The attempt comes with a device id the user has logged in with before.
function M.known_device(ctx)
    local device = ctx.attempt.device_id
    return device ~= nil and device ~= "" and not ctx.features.new_device
end

return M

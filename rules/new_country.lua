-- A country the user has never logged in from. Weaker from a network many
-- users log in from (config.shared_network_logins: a VPN exit, a carrier):
-- its location is the provider's, not the user's.
local signals = require("signals")

return {
    name = "new_country",
    family = "geography",
    description = "the user has history but never logged in from this country",
    weights = { new_country = 30, new_country_known_device = 25 },   -- the user's own device abroad: travel, mostly
    evaluate = function(ctx)
        if not ctx.features.new_country then return nil end
        if signals.shared_network(ctx) then
            return config.shared_network_country, "login from a new country (" .. tostring(ctx.attempt.country)
                .. ") through a network many users log in from (VPN, carrier or office)"
        end
        -- The user's own device abroad is mostly the user travelling (or a
        -- replayed cookie, which looks the same): a challenge, seldom an alert.
        if signals.known_device(ctx) then
            return config.weights.new_country_known_device,
                "login from a new country (" .. tostring(ctx.attempt.country) .. ") on a known device"
        end
        return config.weights.new_country, "login from a new country (" .. tostring(ctx.attempt.country) .. ")"
    end,
}

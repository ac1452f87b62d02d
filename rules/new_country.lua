-- A country the user has never logged in from. Weaker from a network many
-- users log in from (config.shared_network_logins: a VPN exit, a carrier):
-- its location is the provider's, not the user's.
return {
    name = "new_country",
    description = "the user has history but never logged in from this country",
    evaluate = function(ctx)
        if ctx.features.new_country ~= 1 then return nil end
        local g = ctx.global and ctx.global.prefixes
        if g and g.count >= config.shared_network_logins then
            return config.shared_network_country, "login from a new country (" .. tostring(ctx.attempt.country)
                .. ") through a network many users log in from (VPN, carrier or office)"
        end
        -- The user's own device abroad is mostly the user travelling (or a
        -- replayed cookie, which looks the same): a challenge, seldom an alert.
        local device = ctx.attempt.device_id
        if device and device ~= "" and ctx.features.new_device == 0 then
            return config.weights.new_country_known_device,
                "login from a new country (" .. tostring(ctx.attempt.country) .. ") on a known device"
        end
        return config.weights.new_country, "login from a new country (" .. tostring(ctx.attempt.country) .. ")"
    end,
}

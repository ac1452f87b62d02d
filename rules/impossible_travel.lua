-- Two logins too far apart for the time between them.
local signals = require("signals")

local function duration(hours)
    local minutes = math.floor(hours * 60 + 0.5)
    return string.format("%d h %d min", minutes // 60, minutes % 60)
end

local function km(x)
    local s = string.format("%d", math.floor(x + 0.5))
    return s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
end

return {
    name = "impossible_travel",
    family = "geography",
    description = "the distance from the last successful login needs an implausible speed",
    weight = 75,
    evaluate = function(ctx)
        local f = ctx.features
        if f.distance_km < config.min_travel_km or f.speed_kmh <= config.max_speed_kmh then return nil end
        -- Back and forth between two networks the user already logs in from
        -- (a VPN switched on and off, a corporate tunnel) is not travel: only
        -- a jump to a network new to the user is.
        if not f.new_prefix then return nil end
        -- nor is a jump to shared infrastructure (config.shared_network_logins)
        if signals.shared_network(ctx) then return nil end
        -- nor is a known device back in the country the user logs in from
        -- most: of two logins too far apart one is not the user's, and
        -- that is the earlier one, scored when it came (a VPN exit, a
        -- stolen cookie) -- not the return home.
        local p, country = ctx.profile, ctx.attempt.country
        local seen = p and country and p.countries and p.countries[country]
        if signals.known_device(ctx) and seen and seen.count >= config.home_country_share * (p.successes or 0) then
            return nil
        end
        -- nor is a known device in a country the user has signed in from
        -- again and again: a VPN whose exits change, a commute across a
        -- border. A stolen cookie replayed abroad lands in a country new to
        -- the user.
        if signals.known_device(ctx) and seen and seen.count >= config.travel_habit_logins then return nil end
        local hours = f.distance_km / f.speed_kmh
        return config.weights.impossible_travel,
            "impossible travel: " .. km(f.distance_km) .. " km in " .. duration(hours)
    end,
}

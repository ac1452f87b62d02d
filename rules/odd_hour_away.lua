-- A new country or a new device at an hour the user is never active at, by
-- the local clock where the attempt comes from: none of the user's located
-- logins came within an hour of it, by the clock where each happened
-- (features.local_hour_logins). A traveller keeps living by the local clock,
-- so the first login abroad comes at one of the user's usual local hours,
-- while in UTC it looks odd; a replayed session cookie or a stolen password
-- used from another country, or a takeover at 3 am, keeps the attacker's
-- hours. The score is flat: growing it with the user's located history
-- pushed travellers up more than replays.
local signals = require("signals")

return {
    name = "odd_hour_away",
    family = "time_habits",
    description = "a new country or device at an hour the user is not active at, local time there",
    weight = 40,                       -- flat, not graded (see above)
    evaluate = function(ctx)
        local f = ctx.features
        if not f.new_country and not f.new_device then return nil end
        if not f.local_hour_logins or f.located_logins < config.odd_hour_min_logins then return nil end
        if f.local_hour_logins > 0 then return nil end
        -- a network many users log in from (a VPN exit): its place is the
        -- provider's, and so is its clock
        if signals.shared_network(ctx) then return nil end
        local what = f.new_country and "a new country" or "a new device"
        return config.weights.odd_hour_away,
            string.format("login from %s at %02d h local time, an hour this user is never active at", what, f.local_hour)
    end,
}

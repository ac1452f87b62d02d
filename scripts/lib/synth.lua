-- lib/synth.lua — synthetic login traffic with labelled attacks, for
-- training and evaluating the login model (`riskd generate`, `riskd train`).
--
-- Seeded: the same options give the same attempts, byte for byte (Lua 5.4's
-- math.random is xoshiro256**, reseeded here).
--
-- Legitimate users (label "normal") have a home city and its country, an
-- address block at home and a carrier block for their phone, one to three
-- devices (one used most), their own working hours in local time (so in UTC
-- they depend on the city), fewer logins at weekends, a few typos, and now
-- and then a trip to another city, reached no faster than a plane flies.
-- Attacks are labelled with their kind:
--   account_takeover     a new country, a new device, an address never seen; a guess or two then in
--   impossible_travel    minutes after the victim's own login, a success from a city thousands of km away
--   brute_force          one address, 15-40 failures on one account within minutes, sometimes a success
--   credential_stuffing  one address, one attempt on each of 20-60 accounts (real and not), rare successes
--   password_spraying    a few addresses of one network, one or two attempts per account over hours
--   quiet_takeover       the victim's own country, a nearby city, a new device, at 1-5 am local time
--
-- With opts.realistic (`riskd generate --realistic`), legitimate traffic is
-- as noisy as real traffic, with these rates (per login unless said; chosen
-- from what login telemetry commonly shows, as round figures, and meant to
-- be argued with):
--   cookies cleared      1 % of logins come with a fresh device id, same browser and user agent (private
--                        windows, cleaned browsers, new phones restored from backup)
--   browser updates      each device's browser moves up a version about every 45 days (a daily 1/45 chance)
--   carrier networks     phones use 1-3 carrier /24 blocks, and 4 % of days add another (up to 6): mobile
--                        addresses change prefix far more often than home ones, but stay with one carrier
--   network owners       every /24 has an owner, as an ASN database names it (see `nets` below)
--   office NAT           30 % of users work in one of a few offices (20-60 people each); on weekdays 60 %
--                        of their logins come from the office's single NAT address, shared by all of them
--   VPN                  10 % of users use a commercial VPN for 20 % of their logins: an exit address in
--                        another country, shared with the VPN's other users; 80 % of the exits are on
--                        the VPN list `riskd generate --intel DIR` writes, as a bought list would be
--   travel               as above (2 % of days start a 2-7 day trip, no faster than a plane)
--   typos                3 % of logins follow one failure (as above)
--   forgotten password   0.4 % of logins follow a burst of 3-8 failures over minutes and a reset
-- and four modern attacks join the kinds above:
--   session_replay       the victim's own device id and user agent (a stolen cookie or session) from a
--                        foreign address and country
--   proxy_takeover       a residential proxy in the victim's own city, the victim's exact user agent on a
--                        new device id, at the victim's usual hour
--   botnet_stuffing      one attempt on each of 50-200 accounts, each from a different address, browser-like
--                        user agents, 2 % successes, over an hour
--   slow_spraying        one attempt on each of 40-120 accounts over 12-36 hours, each from another address
--                        of one /16 network, 1 % successes
local time = require("lib.time")

local M = {}

-- The realistic mode's rates and attack knobs: { as shipped, low, high }.
-- `riskd generate --realistic --vary N` draws each from its range (seeded by
-- N, apart from --seed), a family of traffic variants to judge detection on
-- data it was not tuned on.
M.RATES = {
    cookies_cleared = { 0.01, 0.01, 0.15 },   -- logins with a fresh device id, same browser
    update_days = { 45, 20, 90 },             -- a browser's days between versions
    carrier_churn = { 0.04, 0.01, 0.10 },     -- daily chance a phone meets a new carrier block
    office_users = { 0.3, 0.1, 0.5 },         -- users working in an office behind one NAT address
    office_size = { 40, 10, 120 },            -- people per office
    office_share = { 0.6, 0.3, 0.9 },         -- their weekday office-hours logins from the office
    vpn_users = { 0.1, 0.02, 0.2 },           -- users of a commercial VPN
    vpn_share = { 0.2, 0.1, 0.5 },            -- their logins through it
    trips = { 0.02, 0.005, 0.05 },            -- daily chance a trip starts
    typos = { 0.03, 0.01, 0.06 },             -- logins after one failure
    forgotten = { 0.004, 0.001, 0.01 },       -- logins after a forgotten password's burst of failures
    -- attacks
    victims_per_exit = { 1, 1, 6 },           -- proxy takeovers through one residential exit
    cookie_buyers = { 0, 1, 4 },              -- session replays share this many buyers' exits (0: each its own)
    quiet_same_city = { 0, 0, 0.5 },          -- quiet takeovers from the victim's own city, not a nearby one
    quiet_usual_hours = { 0, 0, 0.5 },        -- quiet takeovers at the victim's usual hours, not 1-5 am
    attackers_pass = { 0.05, 0, 0.2 },        -- attackers who get through a challenge (MFA fatigue, a phished code)
    -- intelligence a site would have
    vpn_listed = { 0.8, 0.5, 1 },             -- VPN exits on the commercial VPN list (`riskd generate --intel DIR`)
}
-- Drawn after the others, so that adding one leaves the earlier variants as they were.
local LATER_RATES = { "attackers_pass", "vpn_listed" }
local INTEGER_RATES = { update_days = true, office_size = true, victims_per_exit = true, cookie_buyers = true }

-- The rates of variant n (nil: as shipped).
function M.rates(n)
    local r = {}
    if n then
        math.randomseed(1000003 + n)
        for _ = 1, 64 do math.random() end   -- the first draws of near seeds are alike
    end
    local keys, later = {}, {}
    for _, k in ipairs(LATER_RATES) do later[k] = true end
    for k in pairs(M.RATES) do if not later[k] then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(LATER_RATES) do keys[#keys + 1] = k end
    for _, k in ipairs(keys) do
        local d = M.RATES[k]
        if not n then r[k] = d[1]
        elseif INTEGER_RATES[k] then r[k] = math.random(d[2], d[3])
        else r[k] = d[2] + math.random() * (d[3] - d[2]) end
    end
    return r
end

local HOUR, DAY = 3600000, 86400000

-- name, country, latitude, longitude; the first 16 are where most users live.
M.CITIES = {
    { "Paris", "FR", 48.8566, 2.3522 }, { "Lyon", "FR", 45.7640, 4.8357 }, { "Berlin", "DE", 52.5200, 13.4050 },
    { "Munich", "DE", 48.1351, 11.5820 }, { "London", "GB", 51.5074, -0.1278 }, { "Manchester", "GB", 53.4808, -2.2426 },
    { "Madrid", "ES", 40.4168, -3.7038 }, { "Barcelona", "ES", 41.3851, 2.1734 }, { "Milan", "IT", 45.4642, 9.1900 },
    { "Amsterdam", "NL", 52.3676, 4.9041 }, { "New York", "US", 40.7128, -74.0060 }, { "Chicago", "US", 41.8781, -87.6298 },
    { "San Francisco", "US", 37.7749, -122.4194 }, { "Austin", "US", 30.2672, -97.7431 }, { "Toronto", "CA", 43.6532, -79.3832 },
    { "Sao Paulo", "BR", -23.5505, -46.6333 },
    { "Rome", "IT", 41.9028, 12.4964 }, { "Mexico City", "MX", 19.4326, -99.1332 }, { "Tokyo", "JP", 35.6762, 139.6503 },
    { "Osaka", "JP", 34.6937, 135.5023 }, { "Seoul", "KR", 37.5665, 126.9780 }, { "Singapore", "SG", 1.3521, 103.8198 },
    { "Sydney", "AU", -33.8688, 151.2093 }, { "Mumbai", "IN", 19.0760, 72.8777 }, { "Bangalore", "IN", 12.9716, 77.5946 },
    { "Johannesburg", "ZA", -26.2041, 28.0473 }, { "Lagos", "NG", 6.5244, 3.3792 }, { "Moscow", "RU", 55.7558, 37.6173 },
    { "Beijing", "CN", 39.9042, 116.4074 }, { "Dubai", "AE", 25.2048, 55.2708 }, { "Hanoi", "VN", 21.0278, 105.8342 },
    { "Kyiv", "UA", 50.4501, 30.5234 },
}
local HOMES = 16

local BROWSERS = {
    { "Chrome", "Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/%d.0 Safari/537.36", 118 },
    { "Firefox", "Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", 119 },
    { "Safari", "macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/%d.0 Safari/605.1.15", 17 },
    { "Safari", "iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/%d.0 Mobile Safari", 17 },
    { "Chrome", "Android", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/%d.0 Mobile Safari/537.36", 118 },
}

local rand = math.random

local function pick(t) return t[rand(#t)] end

-- Who owns each network (its autonomous system), as an ASN database would
-- say: four ISPs per city (homes, offices, hotels, residential proxies),
-- three carriers per country (a phone's new blocks stay with its carrier),
-- ten hosting providers (VPN exits, attackers' servers). Chosen by a hash
-- of the network, not the generator's stream, so the traffic is the same
-- whatever the owners.
local nets   -- /24 -> { asn, org }, for the traffic being generated
local function hash(s)
    local x = 0
    for i = 1, #s do x = (x * 31 + s:byte(i)) % 1000003 end
    return x
end
local function slash24(ip) return ip:match("^(%d+%.%d+%.%d+)") end
local CITY_INDEX, COUNTRY_INDEX, ncountries = {}, {}, 0
for i, c in ipairs(M.CITIES) do
    CITY_INDEX[c] = i - 1
    if not COUNTRY_INDEX[c[2]] then COUNTRY_INDEX[c[2]] = ncountries; ncountries = ncountries + 1 end
end
local function own(ip, asn, org)
    local k = slash24(ip)
    if nets and not nets[k] then nets[k] = { asn = asn, org = org } end
    return ip
end
local function isp(city, ip)
    local k = hash(slash24(ip)) % 4
    return own(ip, 64512 + CITY_INDEX[city] * 4 + k, string.format("%s ISP %d", city[1], k + 1))
end
local function carrier(country, uid, ip)
    local k = hash(uid) % 3
    return own(ip, 65000 + COUNTRY_INDEX[country] * 3 + k, string.format("%s Mobile %d", country, k + 1))
end
local function hosting(ip, net)
    local k = hash(net or slash24(ip)) % 10
    return own(ip, 65400 + k, string.format("Hosting %d", k + 1))
end

local function normal(mu, sd)
    -- Box-Muller; one value is enough here.
    local u1, u2 = rand(), rand()
    if u1 < 1e-12 then u1 = 1e-12 end
    return mu + sd * math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

local function poisson(lambda)
    local l, k, p = math.exp(-lambda), 0, 1
    repeat k = k + 1; p = p * rand() until p <= l
    return k - 1
end

local function haversine(a, b)
    local r = math.pi / 180
    local dlat, dlon = (b[3] - a[3]) * r, (b[4] - a[4]) * r
    local h = math.sin(dlat / 2) ^ 2 + math.cos(a[3] * r) * math.cos(b[3] * r) * math.sin(dlon / 2) ^ 2
    return 2 * 6371 * math.asin(math.min(1, math.sqrt(h)))
end
M.distance_km = haversine

local function tz(city) return math.floor(city[4] / 15 + 0.5) end   -- hours east of UTC, roughly

local function device(owner, k)
    local b = pick(BROWSERS)
    local v = b[4] + rand(0, 2)
    local ua = string.format(b[3], v, b[4] + rand(0, 2))
    return { id = string.format("dev-%s-%d", owner, k), ua = ua, os = b[2], browser = b[1], tmpl = b[3], ver = v }
end

local function new_user(i)
    local u = { id = string.format("user%05d", i), home = M.CITIES[rand(HOMES)], devices = {} }
    u.block = string.format("%d.%d.%d", 11 + rand(0, 100), rand(0, 255), rand(0, 255))   -- home /24
    u.mobile = string.format("100.%d.%d", 64 + rand(0, 63), rand(0, 255))                -- carrier /24
    for k = 1, rand(1, 3) do u.devices[k] = device(u.id, k) end
    u.start_local = normal(9, 1.2)                  -- first login of a working day, local time
    u.span = 6 + rand() * 5                         -- logins spread over this many hours
    u.per_day = 0.6 + rand() * 2.4                  -- weekday logins (Poisson mean)
    u.weekend = 0.15 + rand() * 0.35                -- weekend share of that
    u.night_owl = rand() < 0.05
    return u
end

-- One attempt as the API takes it, plus its label.
local function attempt(u, ts, city, ip, dev, success, label)
    return { ts = ts, user_id = u.id or u, ip = ip, city = city, dev = dev, success = success, label = label }
end

-- Realistic mode: where a login comes from when the user is not travelling
-- (see the rates at the top). Returns ip and, for a VPN, the exit's city.
local function realistic_ip(ctx, u, dev, lh, weekday)
    local R = ctx.rates
    if u.vpn and rand() < R.vpn_share then
        local exit = pick(ctx.vpn_exits)
        return exit.ip, exit.city
    end
    if dev.os == "iOS" or dev.os == "Android" or rand() < 0.1 then return pick(u.mobiles) .. "." .. rand(2, 254) end
    if u.office and weekday < 5 and lh >= 8 and lh < 18 and rand() < R.office_share then return u.office.ip end
    return u.block .. "." .. rand(2, 20)
end

-- Realistic mode, once a day: browsers update, phones meet new carrier blocks.
local function realistic_day(u, R)
    for _, d in ipairs(u.devices) do
        if rand() < 1 / R.update_days then
            d.ver = d.ver + 1
            d.ua = string.format(d.tmpl, d.ver, d.ver)
        end
    end
    if #u.mobiles < 6 and rand() < R.carrier_churn then
        u.mobiles[#u.mobiles + 1] = carrier(u.home[2], u.id, string.format("100.%d.%d", 64 + rand(0, 63), rand(0, 255)))
    end
end

local function legit_day(u, day0, weekday, out, ctx)
    local lambda = u.per_day * ((weekday >= 5) and u.weekend or 1)
    local city = u.trip_city or u.home
    for _ = 1, poisson(lambda) do
        local lh = u.night_owl and rand() * 24 or (u.start_local + rand() * u.span)
        local ts = day0 + math.floor(((lh - tz(city)) % 24) * HOUR) + rand(0, 59999)
        if u.trip_city and ts < u.trip_from then goto continue end   -- still in the air
        local dev = rand() < 0.7 and u.devices[1] or pick(u.devices)
        local ip, at = nil, city
        if ctx.realistic and rand() < ctx.rates.cookies_cleared then   -- cookies cleared: a new id, the same browser
            u.cleared = (u.cleared or 0) + 1
            local fresh = { id = string.format("dev-%s-c%d", u.id, u.cleared), ua = dev.ua, os = dev.os,
                            browser = dev.browser, tmpl = dev.tmpl, ver = dev.ver }
            for k, d in ipairs(u.devices) do if d == dev then u.devices[k] = fresh end end
            dev = fresh
        end
        if u.trip_city then ip = u.trip_block .. "." .. rand(2, 254)
        elseif ctx.realistic then
            local vpn_city
            ip, vpn_city = realistic_ip(ctx, u, dev, lh, weekday)
            at = vpn_city or city
        elseif dev.os == "iOS" or dev.os == "Android" or rand() < 0.1 then ip = u.mobile .. "." .. rand(2, 254)
        else ip = u.block .. "." .. rand(2, 20) end
        if ctx.realistic and rand() < ctx.rates.forgotten then   -- a forgotten password: a burst of failures, a reset
            for _ = 1, rand(3, 8) do
                out[#out + 1] = attempt(u, ts, at, ip, dev, false, "normal")
                ts = ts + rand(10000, 60000)
            end
            ts = ts + rand(120000, 600000)
        elseif rand() < ctx.rates.typos then   -- a typo, then the right password
            out[#out + 1] = attempt(u, ts, at, ip, dev, false, "normal")
            ts = ts + rand(5000, 40000)
        end
        out[#out + 1] = attempt(u, ts, at, ip, dev, true, "normal")
        u.last_ts, u.last_city = ts, city
        ::continue::
    end
end

-- Trips: start with a small daily chance, last 2-7 days, and the first
-- login there is no sooner than a flight from the last login allows.
local function travel(u, day0, R)
    if u.trip_city then
        u.trip_days = u.trip_days - 1
        if u.trip_days <= 0 then u.trip_city = nil end
        return
    end
    if rand() >= R.trips then return end
    local c = M.CITIES[rand(#M.CITIES)]
    if c == u.home then return end
    u.trip_city, u.trip_days = c, rand(2, 7)
    u.trip_block = isp(c, string.format("%d.%d.%d", 150 + rand(0, 50), rand(0, 255), rand(0, 255)))
    local last = u.last_ts or day0
    u.trip_from = last + math.floor((haversine(u.last_city or u.home, c) / 800 + 2) * HOUR)
end

local function foreign_ip() return hosting(string.format("%d.%d.%d.%d", rand(31, 95), rand(0, 255), rand(0, 255), rand(2, 254))) end

local function far_city(from, km)
    for _ = 1, 50 do
        local c = M.CITIES[rand(#M.CITIES)]
        if c[2] ~= from[2] and haversine(from, c) >= km then return c end
    end
    return M.CITIES[#M.CITIES]
end

local function stranger_device(tag) return device("x" .. tag, rand(1, 1e6)) end

-- The attacks: each appends its attempts to out, all labelled with its kind.
local attacks = {}

function attacks.account_takeover(ctx, day0, out)
    local v = pick(ctx.users)
    local c = far_city(v.home, 1500)
    local ip, dev, ts = foreign_ip(), stranger_device("ato"), day0 + rand(0, DAY - 1)
    for _ = 1, rand(0, 2) do
        out[#out + 1] = attempt(v, ts, c, ip, dev, false, "account_takeover")
        ts = ts + rand(20000, 120000)
    end
    out[#out + 1] = attempt(v, ts, c, ip, dev, true, "account_takeover")
end

function attacks.impossible_travel(ctx, day0, out)
    local v = pick(ctx.users)
    if not v.last_ts or v.last_ts < day0 - DAY then return attacks.account_takeover(ctx, day0, out) end
    local c = far_city(v.last_city or v.home, 3000)
    local ts = v.last_ts + rand(10, 90) * 60000
    out[#out + 1] = attempt(v, ts, c, foreign_ip(), stranger_device("it"), true, "impossible_travel")
end

function attacks.brute_force(ctx, day0, out)
    local v = pick(ctx.users)
    local c, ip, dev = far_city(v.home, 500), foreign_ip(), stranger_device("bf")
    local ts = day0 + rand(0, DAY - 1)
    for _ = 1, rand(15, 40) do
        out[#out + 1] = attempt(v, ts, c, ip, dev, false, "brute_force")
        ts = ts + rand(3000, 30000)
    end
    if rand() < 0.3 then out[#out + 1] = attempt(v, ts, c, ip, dev, true, "brute_force") end
end

function attacks.credential_stuffing(ctx, day0, out)
    local c, ip = far_city(M.CITIES[1], 0), foreign_ip()
    local ts = day0 + rand(0, DAY - 1)
    for _ = 1, rand(20, 60) do
        local who = rand() < 0.6 and pick(ctx.users) or string.format("user%05d", ctx.nusers + rand(1, 100000))
        out[#out + 1] = attempt(who, ts, c, ip, stranger_device("cs"), rand() < 0.02, "credential_stuffing")
        ts = ts + rand(5000, 40000)
    end
end

function attacks.password_spraying(ctx, day0, out)
    local net = string.format("%d.%d.%d", rand(31, 95), rand(0, 255), rand(0, 255))
    local c = far_city(M.CITIES[1], 0)
    local start = day0 + rand(0, DAY - 1)
    for _ = 1, rand(30, 80) do
        local v = pick(ctx.users)
        local ip = net .. "." .. rand(2, 6)
        for _ = 1, rand(1, 2) do
            out[#out + 1] = attempt(v, start + rand(0, 3 * HOUR), c, ip, stranger_device("ps"), rand() < 0.01,
                                    "password_spraying")
        end
    end
end

function attacks.quiet_takeover(ctx, day0, out)
    local v = pick(ctx.users)
    local near
    for _, c in ipairs(M.CITIES) do
        if c[2] == v.home[2] and c ~= v.home then near = c break end
    end
    near = near or v.home
    local R = ctx.rates
    if R.quiet_same_city > 0 and rand() < R.quiet_same_city then near = v.home end
    local lh = rand(1, 4) + rand()
    if R.quiet_usual_hours > 0 and rand() < R.quiet_usual_hours then lh = v.start_local + rand() * v.span end
    local ts = day0 + math.floor(((lh - tz(near)) % 24) * HOUR)
    local ip = isp(near, string.format("%d.%d.%d.%d", 11 + rand(0, 100), rand(0, 255), rand(0, 255), rand(2, 254)))
    out[#out + 1] = attempt(v, ts, near, ip, stranger_device("qt"), true, "quiet_takeover")
end

-- Modern attacks (realistic mode).
local function residential_ip(city) return isp(city, string.format("%d.%d.%d.%d", 11 + rand(0, 100), rand(0, 255), rand(0, 255), rand(2, 254))) end

function attacks.session_replay(ctx, day0, out)
    local v = pick(ctx.users)
    local dev = v.devices[1]   -- the victim's own cookie: its device id and user agent
    local c, ip = far_city(v.home, 1500), nil
    local ts = day0 + rand(0, DAY - 1)
    if ctx.rates.cookie_buyers > 0 then
        -- the cookies are sold to a few buyers, each behind an exit of their own
        ctx.buyers = ctx.buyers or {}
        local b = rand(ctx.rates.cookie_buyers)
        ctx.buyers[b] = ctx.buyers[b] or { ip = foreign_ip(), city = c }
        ip, c = ctx.buyers[b].ip, ctx.buyers[b].city
    else
        ip = foreign_ip()
    end
    out[#out + 1] = attempt(v, ts, c, ip, dev, true, "session_replay")
end

function attacks.proxy_takeover(ctx, day0, out)
    local v = pick(ctx.users)
    local own = v.devices[1]
    local dev = { id = string.format("dev-xpt-%d", rand(1, 1e6)), ua = own.ua, os = own.os, browser = own.browser }
    local lh = v.start_local + rand() * v.span   -- the victim's usual hours
    local ts = day0 + math.floor(((lh - tz(v.home)) % 24) * HOUR) + rand(0, 59999)
    local ip
    if ctx.rates.victims_per_exit > 1 then
        -- one residential exit serves a few victims before the attacker moves on
        local e = ctx.exit
        if not e or e.left <= 0 then e = { ip = residential_ip(v.home), left = ctx.rates.victims_per_exit }; ctx.exit = e end
        e.left = e.left - 1
        ip = e.ip
    else
        ip = residential_ip(v.home)
    end
    out[#out + 1] = attempt(v, ts, v.home, ip, dev, true, "proxy_takeover")
end

function attacks.botnet_stuffing(ctx, day0, out)
    local start = day0 + rand(0, DAY - 1)
    for _ = 1, rand(50, 200) do
        local who = rand() < 0.6 and pick(ctx.users) or string.format("user%05d", ctx.nusers + rand(1, 100000))
        local b = pick(BROWSERS)
        local v = b[4] + rand(-3, 2)
        local dev = { id = string.format("dev-xbn-%d", rand(1, 1e7)), ua = string.format(b[3], v, v), os = b[2], browser = b[1] }
        local c = pick(M.CITIES)
        out[#out + 1] = attempt(who, start + rand(0, HOUR), c, residential_ip(c), dev, rand() < 0.02,
                                "botnet_stuffing")
    end
end

function attacks.slow_spraying(ctx, day0, out)
    local net = string.format("%d.%d", rand(31, 95), rand(0, 255))
    local c = far_city(M.CITIES[1], 0)
    local start, span = day0 + rand(0, DAY - 1), rand(12, 36) * HOUR
    for _ = 1, rand(40, 120) do
        local ip = hosting(string.format("%s.%d.%d", net, rand(0, 255), rand(2, 254)), net)
        out[#out + 1] = attempt(pick(ctx.users), start + rand(0, span), c, ip, stranger_device("ss"), rand() < 0.01,
                                "slow_spraying")
    end
end

M.KINDS = { "account_takeover", "impossible_travel", "brute_force", "credential_stuffing", "password_spraying",
            "quiet_takeover" }
M.MODERN_KINDS = { "session_replay", "proxy_takeover", "botnet_stuffing", "slow_spraying" }
-- Attempts per incident, on average, to turn --attack-rate into incidents,
-- and each kind's share of the attack attempts (the bursty kinds would
-- otherwise take the whole budget in a few incidents).
local SIZE = { account_takeover = 2, impossible_travel = 1, brute_force = 28, credential_stuffing = 40,
               password_spraying = 82, quiet_takeover = 1 }
local SHARE = { account_takeover = 0.2, impossible_travel = 0.15, brute_force = 0.2, credential_stuffing = 0.15,
                password_spraying = 0.15, quiet_takeover = 0.15 }
-- Realistic mode: ten kinds; the bursty ones take less of the budget.
local SIZE_R = { session_replay = 1, proxy_takeover = 1, botnet_stuffing = 125, slow_spraying = 80 }
local SHARE_R = { account_takeover = 0.1, impossible_travel = 0.08, brute_force = 0.1, credential_stuffing = 0.1,
                  password_spraying = 0.1, quiet_takeover = 0.1, session_replay = 0.1, proxy_takeover = 0.1,
                  botnet_stuffing = 0.11, slow_spraying = 0.11 }

-- How a challenge would end (the `challenge` field): legitimate users pass;
-- attackers fail but for a share rates.attackers_pass. Drawn from a hash of
-- the attempt, not the generator's stream, so that the rest of the traffic
-- is the same with or without it.
local function challenge(a, rates)
    if a.label == "normal" then return "pass" end
    local h = (a.ts // 1000 * 2654435761 + #a.user_id * 40503 + a.user_id:byte(-1)) % 1000003
    return h / 1000003 < rates.attackers_pass and "pass" or "fail"
end

-- The VPN exits a commercial VPN list would name: a share rates.vpn_listed
-- of them, chosen by a hash of the address, not the generator's stream, so
-- that the traffic is the same whatever the share.
local function vpn_list(exits, rates)
    local out = {}
    for _, e in ipairs(exits or {}) do
        if hash(e.ip) / 1000003 < rates.vpn_listed then out[#out + 1] = e.ip end
    end
    table.sort(out)
    return out
end

-- opts: users, days, seed, attack_rate, start (ms, a Monday 00:00 UTC),
-- realistic (the noisy legitimate traffic and the modern attacks), vary (the
-- variant of M.RATES; nil: as shipped). Calls emit(attempts) once per day
-- with that day's attempts in time order. Returns the intelligence a site
-- would have of this traffic (realistic mode; empty otherwise): { vpn =
-- { address, ... }, networks = { ["a.b.c"] = { asn, org }, ... } }, the
-- owner of every /24 the traffic uses, as an ASN database would name it.
function M.generate(opts, emit)
    local rates = M.rates(opts.vary)
    math.randomseed(opts.seed or 1)
    local ctx = { users = {}, nusers = opts.users, realistic = opts.realistic, rates = rates }
    for i = 1, opts.users do ctx.users[i] = new_user(i) end
    local kinds, size, share = M.KINDS, SIZE, SHARE
    nets = nil
    if ctx.realistic then
        nets = {}
        kinds, size, share = {}, {}, SHARE_R
        for _, k in ipairs(M.KINDS) do kinds[#kinds + 1] = k; size[k] = SIZE[k] end
        for _, k in ipairs(M.MODERN_KINDS) do kinds[#kinds + 1] = k; size[k] = SIZE_R[k] end
        -- offices of 20-60 people behind one NAT address; VPN exits shared by their users
        local offices = {}
        for _ = 1, math.max(1, opts.users * rates.office_users // rates.office_size) do
            local ip = string.format("%d.%d.%d.%d", 11 + rand(0, 100), rand(0, 255), rand(0, 255), rand(2, 254))
            offices[#offices + 1] = { ip = isp(M.CITIES[1 + hash(ip) % HOMES], ip) }
        end
        ctx.vpn_exits = {}
        for k = 1, 24 do
            ctx.vpn_exits[k] = { ip = hosting(string.format("%d.%d.%d.%d", 185 + rand(0, 10), rand(0, 255), rand(0, 255), rand(2, 254))),
                                 city = M.CITIES[({ 10, 3, 11, 22, 5, 15 })[rand(6)]] }
        end
        for _, u in ipairs(ctx.users) do
            isp(u.home, u.block)
            u.mobiles = { carrier(u.home[2], u.id, u.mobile) }
            for _ = 2, rand(1, 3) do
                u.mobiles[#u.mobiles + 1] = carrier(u.home[2], u.id, string.format("100.%d.%d", 64 + rand(0, 63), rand(0, 255)))
            end
            if rand() < rates.office_users then u.office = pick(offices) end
            u.vpn = rand() < rates.vpn_users
        end
    end
    local rate = opts.attack_rate or 0.02
    -- Each kind gets an equal share of the attack attempts.
    local per_day_legit = 0
    for _, u in ipairs(ctx.users) do per_day_legit = per_day_legit + u.per_day * (5 + 2 * u.weekend) / 7 end
    local attack_attempts = per_day_legit * rate / (1 - rate)
    local start = opts.start or time.parse("2026-01-05T00:00:00Z")
    -- Incidents come when a kind's expected count crosses a whole number, so
    -- every kind shows up at its rate even in a small set (a phase per kind
    -- keeps them from all landing on the same day).
    local acc = {}
    for _, kind in ipairs(kinds) do acc[kind] = rand() end
    for d = 0, opts.days - 1 do
        local day0 = start + d * DAY
        local out = {}
        for _, u in ipairs(ctx.users) do
            travel(u, day0, rates)
            if ctx.realistic then realistic_day(u, rates) end
            legit_day(u, day0, d % 7, out, ctx)
        end
        for _, kind in ipairs(kinds) do
            acc[kind] = acc[kind] + attack_attempts * share[kind] / size[kind]
            while acc[kind] >= 1 do
                attacks[kind](ctx, day0, out)
                acc[kind] = acc[kind] - 1
            end
        end
        table.sort(out, function(a, b) return a.ts < b.ts end)
        if ctx.realistic then for _, a in ipairs(out) do a.challenge = challenge(a, rates) end end
        emit(out)
    end
    local owners = nets or {}
    nets = nil
    return { vpn = vpn_list(ctx.vpn_exits, rates), networks = owners }
end

-- One attempt as a JSON line (the body POST /api/login/analyze takes, with
-- "label"). Built by hand for speed; every string here is plain ASCII.
function M.json_line(a)
    local c, d = a.city, a.dev
    return string.format('{"user_id":"%s","timestamp":"%s","ip_address":"%s","success":%s,'
        .. '"location":{"country":"%s","city":"%s","latitude":%.4f,"longitude":%.4f},'
        .. '"device":{"device_id":"%s","user_agent":"%s","os":"%s","browser":"%s"},"label":"%s"',
        a.user_id, time.format(a.ts), a.ip, a.success and "true" or "false", c[2], c[1], c[3], c[4],
        d.id, d.ua, d.os, d.browser, a.label) .. (a.challenge and (',"challenge":"' .. a.challenge .. '"}') or "}")
end

-- The same attempt as the table the JSON line decodes to.
function M.body(a)
    local c, d = a.city, a.dev
    return { user_id = a.user_id, timestamp = time.format(a.ts), ip_address = a.ip, success = a.success,
             location = { country = c[2], city = c[1], latitude = math.floor(c[3] * 1e4 + 0.5) / 1e4,
                          longitude = math.floor(c[4] * 1e4 + 0.5) / 1e4 },
             device = { device_id = d.id, user_agent = d.ua, os = d.os, browser = d.browser }, label = a.label,
             challenge = a.challenge }
end

return M

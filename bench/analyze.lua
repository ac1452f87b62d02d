-- bench/analyze.lua — a wrk script: POST /api/login/analyze with varied
-- users (10,000), devices, places and times, as a busy estate sends them.
local cities = {
    { "FR", "Paris", 48.8566, 2.3522 }, { "DE", "Berlin", 52.52, 13.405 }, { "GB", "London", 51.5074, -0.1278 },
    { "US", "New York", 40.7128, -74.006 }, { "JP", "Tokyo", 35.6762, 139.6503 }, { "BR", "Sao Paulo", -23.55, -46.63 },
}
local n = 0
local thread_id = 0

function setup(thread)
    thread:set("id", thread_id)
    thread_id = thread_id + 1
end

function init()
    math.randomseed(1000 + (id or 0))
end

request = function()
    n = n + 1
    local u = math.random(10000)
    local c = cities[(u % #cities) + 1]
    if math.random(50) == 1 then c = cities[math.random(#cities)] end   -- some travel
    local day = 1 + math.floor(n / 5000) % 28   -- wrk runs LuaJIT (Lua 5.1): no //
    local body = string.format(
        '{"user_id":"user%05d","ip_address":"10.%d.%d.%d","timestamp":"2026-10-%02dT%02d:%02d:00Z",' ..
        '"success":%s,"location":{"country":"%s","city":"%s","latitude":%.4f,"longitude":%.4f},' ..
        '"device":{"device_id":"dev-%d-%d","user_agent":"Mozilla/5.0 Firefox/%d"}}',
        u, u % 200, math.random(0, 255), math.random(1, 254), day, 7 + u % 12, math.random(0, 59),
        math.random(20) == 1 and "false" or "true", c[1], c[2], c[3], c[4], u, math.random(2), 118 + u % 3)
    return wrk.format("POST", "/api/login/analyze", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("RISKD_TOKEN") }, body)
end

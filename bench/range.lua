-- bench/range.lua — a wrk script: GET /api/passwords/range/:prefix with a
-- random 5-hex-digit prefix each time, as clients checking passwords send.
local thread_id = 0

function setup(thread)
    thread:set("id", thread_id)
    thread_id = thread_id + 1
end

function init()
    math.randomseed(2000 + (id or 0))
end

request = function()
    local path = string.format("/api/passwords/range/%05X", math.random(0, 0xFFFFF))
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. os.getenv("RISKD_TOKEN") })
end

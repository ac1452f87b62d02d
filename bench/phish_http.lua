-- bench/phish_http.lua — a wrk script: POST /api/phishing/analyze with the
-- 20 messages (about 20 KB each, multipart, HTML, 10 links) that
-- `riskd run bench/phishing.lua 20 1 --write DIR` wrote, as message/rfc822.
local bodies = {}
local n = 0

function init()
    local dir = os.getenv("BENCH_MAIL_DIR")
    for i = 1, 20 do
        local f = assert(io.open(dir .. "/mail-" .. i .. ".eml", "rb"))
        bodies[i] = f:read("*a")
        f:close()
    end
end

request = function()
    n = n + 1
    return wrk.format("POST", "/api/phishing/analyze", {
        ["Content-Type"] = "message/rfc822",
        ["Authorization"] = "Bearer " .. os.getenv("RISKD_TOKEN"),
    }, bodies[(n % 20) + 1])
end

-- lib/query.lua — what the list handlers read alike from a query string:
-- a time range (since, until) and paging (page, per_page up to 100).
local response = require("lib.response")
local time = require("lib.time")

local M = {}

-- An integer parameter: default when absent, else one from lo to hi; nil,
-- why when it is not.
function M.int(q, name, default, lo, hi)
    if q[name] == nil then return default end
    local v = math.tointeger(tonumber(q[name]))
    if not v or v < lo or v > hi then return nil, name .. " must be an integer from " .. lo .. " to " .. hi end
    return v
end

-- Sets f.since and f.until from q. Returns nothing, or the 400 answer.
function M.range(q, f)
    for _, k in ipairs({ "since", "until" }) do
        if q[k] then
            local ms, why = time.parse(q[k])
            if not ms then return response.bad_request(k .. ": " .. why, "invalid_field") end
            f[k] = ms
        end
    end
end

-- Sets f.since, f.until, f.page and f.per_page from q. Returns nothing, or
-- the 400 answer (status, body) naming what is wrong.
function M.range_and_page(q, f)
    local s, b = M.range(q, f)
    if s then return s, b end
    f.page = math.tointeger(tonumber(q.page or "1"))
    f.per_page = math.tointeger(tonumber(q.per_page or "20"))
    if not f.page or f.page < 1 then return response.bad_request("page must be a positive integer", "invalid_field") end
    if not f.per_page or f.per_page < 1 or f.per_page > 100 then
        return response.bad_request("per_page must be an integer from 1 to 100", "invalid_field")
    end
end

return M

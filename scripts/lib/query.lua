-- lib/query.lua — what the list handlers read alike from a query string:
-- a time range (since, until) and paging (page, per_page up to 100).
local response = require("lib.response")
local time = require("lib.time")

local M = {}

-- Sets f.since, f.until, f.page and f.per_page from q. Returns nothing, or
-- the 400 answer (status, body) naming what is wrong.
function M.range_and_page(q, f)
    for _, k in ipairs({ "since", "until" }) do
        if q[k] then
            local ms, why = time.parse(q[k])
            if not ms then return response.bad_request(k .. ": " .. why, "invalid_field") end
            f[k] = ms
        end
    end
    f.page = math.tointeger(tonumber(q.page or "1"))
    f.per_page = math.tointeger(tonumber(q.per_page or "20"))
    if not f.page or f.page < 1 then return response.bad_request("page must be a positive integer", "invalid_field") end
    if not f.per_page or f.per_page < 1 or f.per_page > 100 then
        return response.bad_request("per_page must be an integer from 1 to 100", "invalid_field")
    end
end

return M

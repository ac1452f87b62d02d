-- api/admin.lua — what an operator needs to see of the engine.
local cjson = require("cjson")
local response = require("lib.response")
local rules = require("riskd.rules")

local M = {}

-- GET /api/admin/rules: every loaded rule, with this worker's counters.
function M.rules()
    local list = rules.list()
    for _, r in ipairs(list) do r.last_error = r.last_error or cjson.null end
    return 200, { rules = response.array(list) }
end

return M

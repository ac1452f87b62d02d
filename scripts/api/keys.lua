-- api/keys.lua — services' API keys, for admins (the same as `riskd key`).
--
-- GET    /api/admin/keys          every key, live and revoked, without secrets
-- POST   /api/admin/keys {name}   a new key for the service role: the key is
--                                 in this answer only, the store keeps a hash
-- DELETE /api/admin/keys/:name    revokes the live key of that name: its next
--                                 request gets 401
local cjson = require("cjson")
local response = require("lib.response")
local time = require("lib.time")

local M = {}

local handle = require("lib.worker_store").new()
M.use = handle.use   -- specs
local get_db = handle.get

M.clock = os.time   -- specs replace it

local function view(k)
    return { id = k.id, name = k.name, role = k.role, created_at = time.format(k.created),
             last_used_at = k.last_used and time.format(k.last_used) or cjson.null,
             revoked_at = k.revoked and time.format(k.revoked) or cjson.null, live = k.revoked == nil }
end

function M.list()
    local d = get_db()
    if not d then return response.unavailable() end
    local keys, err = d:keys()
    if not keys then return response.unavailable(err) end
    local out = {}
    for i, k in ipairs(keys) do out[i] = view(k) end
    return 200, { keys = response.array(out) }
end

function M.create(req)
    local b = req.body
    if type(b) ~= "table" or type(b.name) ~= "string" then return response.bad_request("name is a required string") end
    local d = get_db()
    if not d then return response.unavailable() end
    local key, rec, code = d:key_issue(b.name)
    if not key then
        if code == "invalid" then return response.bad_request(rec, "invalid_field") end
        if code == "conflict" then return response.error(409, "conflict", rec) end
        return response.unavailable(rec)
    end
    local out = view(rec)
    out.key = key
    return 201, out, { ["Cache-Control"] = "no-store" }
end

function M.revoke(req)
    local d = get_db()
    if not d then return response.unavailable() end
    local now = math.floor(M.clock() * 1000)
    local ok, err, code = d:key_revoke(req.params.name, now)
    if not ok then
        if code == "not_found" then return response.error(404, "not_found", "no live key named '" .. req.params.name .. "'") end
        return response.unavailable(err)
    end
    return 200, { name = req.params.name, revoked_at = time.format(now) }
end

return M

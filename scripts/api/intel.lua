-- api/intel.lua — the threat-intelligence folder over HTTP: what is loaded
-- (admins) and the breached-password range query (any signed-in caller).
local cjson = require("cjson")
local response = require("lib.response")
local time = require("lib.time")
local intel = require("riskd.intel")

local M = {}

local function no_folder()
    return response.error(503, "intel_unavailable", "the server has no intel folder")
end

-- GET /api/admin/intel: every set with its size, when it was read and its
-- malformed lines; the breached-password index.
function M.status()
    local h = intel.current()
    if not h then return no_folder() end
    local info = h:info()
    local sets = {}
    for i, s in ipairs(info.sets) do
        sets[i] = {
            name = s.name, file = s.file, kind = s.kind, entries = s.entries,
            ranges_v4 = s.ranges_v4, ranges_v6 = s.ranges_v6, memory_bytes = s.memory_bytes,
            loaded_at = s.loaded_ms and time.format(s.loaded_ms) or cjson.null,
            malformed_lines = s.malformed_lines, errors = response.array(s.errors),
            failed = s.failed or cjson.null,
        }
    end
    local pw = cjson.null
    if info.passwords then
        local p = info.passwords
        pw = { hashes = p.hashes or 0, bytes = p.bytes or 0,
               loaded_at = p.loaded_ms and time.format(p.loaded_ms) or cjson.null, failed = p.failed or cjson.null }
    end
    return 200, { dir = info.dir, generation = info.generation, reloaded_at = time.format(info.reloaded_ms),
                  sets = response.array(sets), passwords = pw }
end

-- GET /api/passwords/range/:prefix — the k-anonymity query: the first five
-- hex digits of a password's SHA-1 in, every breached hash sharing them out
-- as "SUFFIX:COUNT" lines (the Have I Been Pwned range format, so its client
-- libraries work unchanged). The caller compares the rest of its hash
-- locally: riskd never sees a password or a whole hash.
function M.range(req)
    local h = intel.current()
    if not h then return no_folder() end
    local text, n, code = h:password_range(req.params.prefix)
    if not text then
        if code == "invalid_prefix" then return response.bad_request(n, "invalid_prefix") end
        return response.error(503, "no_password_index", n)
    end
    return 200, text, { ["Content-Type"] = "text/plain; charset=utf-8", ["X-Hash-Count"] = tostring(n) }
end

-- For api/auth.lua: nil when the password may be used, else a message.
function M.breached(password)
    local h = intel.current()
    if not h then return nil end
    local n = h:password_count(password)
    if n and n > 0 then
        return string.format("this password appears %d times in breached-password lists; choose another", n)
    end
    return nil
end

return M

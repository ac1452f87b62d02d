-- lib/response.lua — the shapes of responses, so every handler answers alike.
local M = {}

-- lua-cjson 2.1.0 (Debian 12) writes an empty table as {}; a list that may be
-- empty goes through array(), and the dispatcher turns the marker into [].
M.EMPTY_ARRAY = "@@riskd:empty-array@@"
local EMPTY_QUOTED = '"' .. M.EMPTY_ARRAY .. '"'

-- JSON text from an encoder's output: the empty-array markers become [].
-- Plain finds, not a pattern: gsub tried the pattern at every byte of every
-- answer (most answers carry one marker, an empty rule_errors).
function M.fix_empty(out)
    local i, j = out:find(EMPTY_QUOTED, 1, true)
    if not i then return out end
    local parts, pos = {}, 1
    while i do
        parts[#parts + 1] = out:sub(pos, i - 1)
        parts[#parts + 1] = "[]"
        pos = j + 1
        i, j = out:find(EMPTY_QUOTED, pos, true)
    end
    parts[#parts + 1] = out:sub(pos)
    return table.concat(parts)
end

function M.array(t)
    if t == nil or next(t) == nil then return M.EMPTY_ARRAY end
    return t
end

-- Every error body is {"error":{"code":...,"message":...}}.
function M.error(status, code, message, headers)
    return status, { error = { code = code, message = message } }, headers
end

function M.bad_request(message, code)
    return M.error(400, code or "bad_request", message)
end

-- The store is missing or failing: the request may be retried.
function M.unavailable(message)
    return M.error(503, "store_unavailable", message or "no store")
end

function M.not_found(message)
    return M.error(404, "not_found", message or "not found")
end

return M

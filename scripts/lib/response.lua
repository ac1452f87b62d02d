-- lib/response.lua — the shapes of responses, so every handler answers alike.
local M = {}

-- Every error body is {"error":{"code":...,"message":...}}.
function M.error(status, code, message, headers)
    return status, { error = { code = code, message = message } }, headers
end

function M.bad_request(message, code)
    return M.error(400, code or "bad_request", message)
end

function M.not_found(message)
    return M.error(404, "not_found", message or "not found")
end

return M

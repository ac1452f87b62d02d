-- api/web.lua — the web console's static files (--web, default web/), for
-- every GET or HEAD that no route claims outside /api/ (lib/dispatch.lua).
-- Each answer is read from disk, so an edited file is live at once; the
-- ETag (size and modification time) turns an unchanged one into a 304.
-- Every file comes with a strict Content-Security-Policy: only this
-- origin's scripts, styles, images and connections, no inline script, no
-- framing.
local response = require("lib.response")
local web = require("riskd.web")

local M = {}

M.CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
    .. " connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

function M.file(req)
    local path = req.path:gsub("^/+", "")
    local body, ctype, etag = web.file(path)
    if not body then
        local code = etag
        if code == "forbidden" then return response.error(403, "forbidden", ctype) end
        if code == "too_big" then return response.error(500, "too_big", ctype) end
        return response.not_found(ctype)
    end
    local headers = {
        ["Content-Type"] = ctype, ETag = etag,
        -- revalidate every time: edits show at once, unchanged files cost a 304
        ["Cache-Control"] = "no-cache", ["Content-Security-Policy"] = M.CSP,
        ["Referrer-Policy"] = "no-referrer", ["X-Frame-Options"] = "DENY",
    }
    local inm = req.headers["if-none-match"]
    if inm and inm == etag then return 304, "", headers end
    return 200, body, headers
end

return M

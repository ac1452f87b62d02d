-- api/ws.lua — the WebSocket handshake at GET /api/ws (RFC 6455). This
-- checks the request; engine/rt_ws.c then takes the connection over and speaks
-- the protocol (see its header for the messages). A client that can send
-- headers authenticates with "Authorization: Bearer <token>" here; a
-- browser sends {"type":"auth","token":...} as its first message instead.
local response = require("lib.response")

local M = {}

local function upgrade_required(message)
    return response.error(426, "upgrade_required", message, { Upgrade = "websocket", ["Sec-WebSocket-Version"] = "13" })
end

function M.open(req)
    local h = req.headers
    if (h.upgrade or ""):lower() ~= "websocket" or not (h.connection or ""):lower():find("upgrade", 1, true) then
        return upgrade_required("GET /api/ws is a WebSocket: send Connection: Upgrade and Upgrade: websocket")
    end
    if h["sec-websocket-version"] ~= "13" then return upgrade_required("only WebSocket version 13 is spoken") end
    local key = h["sec-websocket-key"]
    if not key or #key ~= 24 or not key:match("^[A-Za-z0-9+/]+==$") then
        return response.bad_request("Sec-WebSocket-Key must be 16 bytes in base64", "bad_handshake")
    end
    local who
    if h.authorization then
        local claims, s, body, headers = require("api.auth").authenticate(req)
        if not claims then return s, body, headers end
        if claims.role ~= "admin" and claims.role ~= "analyst" then
            return response.error(403, "forbidden", "the real-time feed is for analysts and admins")
        end
        who = { user = claims.sub, role = claims.role, pwv = claims.pwv, expires = claims.exp }
    end
    require("riskd.web").upgrade(req, who)   -- the server takes the connection over
    return 200, ""
end

return M

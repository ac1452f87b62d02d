-- api/stream.lua — Server-Sent Events for simple consumers:
--   curl -N -H "Authorization: Bearer $TOKEN" localhost:5000/api/stream/alerts
-- The handler checks the request and names the stream (riskd.web.stream);
-- the engine (engine/rt_stream.c) keeps the response open and writes each message as
--   id: <n>\nevent: <topic>\ndata: {"type","topic","data","ts"}\n\n
-- A client that reconnects with Last-Event-ID (EventSource does) gets what
-- it missed from the last 1,024 messages, or a "missed" record when they
-- are gone.
local response = require("lib.response")
local realtime = require("lib.realtime")
local web = require("riskd.web")

local M = {}

local function open(req, topic)
    local last = req.headers["last-event-id"] or req.query.last_event_id
    if last ~= nil and not tostring(last):match("^%d+$") then
        return response.bad_request("Last-Event-ID must be a message id (digits)", "invalid_field")
    end
    local level = 0
    if req.query.min_level ~= nil then
        level = realtime.LEVELS[req.query.min_level]
        if not level then return response.bad_request("min_level must be low, medium, high or critical", "invalid_field") end
    end
    -- the server turns the answer into a stream, which ends with
    -- `event: revoked` when the caller's token or account does
    local u = req.user or {}
    web.stream(req, { topic = topic, min_level = level, last_event_id = last and math.tointeger(tonumber(last)),
                      user = u.username, role = u.role, pwv = u.pwv, expires = u.exp })
    return 200, "", { ["Content-Type"] = "text/event-stream" }
end

function M.alerts(req) return open(req, "alerts") end
function M.events(req) return open(req, "events") end
function M.rules(req) return open(req, "rules") end
function M.models(req) return open(req, "models") end

return M

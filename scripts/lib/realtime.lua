-- lib/realtime.lua — messages to the real-time clients (Server-Sent Events
-- at /api/stream/*): {"type","topic","data","ts"}, the same shape the
-- WebSocket will carry. Nothing is encoded when nobody listens to the topic
-- (engine.listeners counts the streams of the whole server), so the
-- analysis pays nothing for an idle console.
local cjson = require("cjson")
local engine = require("riskd.engine")
local time = require("lib.time")

local M = {}

M.LEVELS = require("lib.vocab").level_rank

-- Publishes; returns the message's id, or nil when nobody listens or there
-- is no server (batch commands, specs).
function M.publish(topic, kind, data, level)
    if engine.listeners(topic) == 0 then return nil end
    local text = cjson.encode({ type = kind, topic = topic, data = data, ts = time.format(math.floor(os.time() * 1000)) })
    return (engine.publish(topic, text, level or 0))
end

return M

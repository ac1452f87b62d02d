-- lib/replay_stage.lua — the parts of a replay (lib/replay.lua) that do not
-- depend on the order of the attempts: a line read into an attempt (the
-- strict JSON check, decoding, the API's field validation) and an answer
-- written as a line (JSON encoding). When there are cores to spare they run
-- on helper threads (riskd.parallel, with this module as their entry) while
-- the caller's thread runs the pipeline itself, which must see the attempts
-- one after the other; otherwise on the caller's thread. Same results
-- either way: the helpers run this same code on the same lines.
local cjson = require("cjson")
local login = require("api.login")
local strict = require("riskd.json")
local clock = require("riskd.parallel").thread_clock

local M = {}

-- The dispatcher's decoder settings (lib/dispatch.lua).
local json = cjson.new()
json.encode_sparse_array(true)
json.decode_max_depth(64)
json.decode_invalid_numbers(false)
M.json = json

-- Extra checks a caller asks for by name (a function cannot go to another
-- thread): body -> true | nil, why.
M.checks = {
    -- riskd eval: labelled attempts only
    label = function(body)
        local l = body.label
        if type(l) ~= "string" or l == "" or #l > 64 then return nil, "no label (\"normal\" or the attack kind)" end
        return true
    end,
}

-- One line: the attempt and the decoded line, or nil, why it was refused.
-- check: a name in M.checks, or nil. now: the default time (ms).
function M.parse(line, check, now)
    local good, why = strict.check(line)
    if not good then return nil, "not valid JSON: " .. why end
    local ok, body = pcall(json.decode, line)
    if not ok then return nil, "not valid JSON: " .. tostring(body):gsub("^.-: ", "") end
    if type(body) ~= "table" then return nil, "not a JSON object" end
    if check then
        local passed, msg = M.checks[check](body)
        if not passed then return nil, msg end
    end
    local a, msg = login.attempt(body, now)
    if not a then return nil, msg end
    return a, body
end

-- One answer as its output line: the input's fields, unknown ones too, with
-- the answer's fields added.
function M.line(body, response)
    for k, v in pairs(response) do body[k] = v end
    return strict.encode(body)   -- as json.encode then fix_empty wrote it (lib/dispatch.lua)
end

-- A helper's work, one chunk at a time:
--   { op = "parse", lines = {...}, check = name, now = ms }
--     --> { items = { { a = attempt, body = decoded } | { bad = why }, ... }, cpu = seconds }
--   { op = "encode", items = { { body, response }, ... } }
--     --> { text = the lines joined by "\n", cpu = seconds }
function M.handle(msg)
    local t0 = clock()
    if msg.op == "parse" then
        local items = {}
        for i, line in ipairs(msg.lines) do
            local a, body = M.parse(line, msg.check, msg.now)
            items[i] = a and { a = a, body = body } or { bad = body }
        end
        return { items = items, cpu = clock() - t0 }
    end
    assert(msg.op == "encode", "unknown operation")
    local out = {}
    for i, it in ipairs(msg.items) do out[i] = M.line(it[1], it[2]) end
    return { text = table.concat(out, "\n"), cpu = clock() - t0 }
end

return setmetatable(M, { __call = function(_, msg) return M.handle(msg) end })

-- lib/dispatch.lua — where every HTTP request enters Lua (engine/http.c calls
-- handle(req)). It routes the request, decodes a JSON body, calls the handler
-- from scripts/api/ and encodes what it returns.
--
-- req = { method, path, query = {}, headers = {lower-case names},
--         raw_body (string or nil), remote_addr, params (set here), body (set
--         here from JSON), route (the matched pattern, for metrics) }
-- A handler returns status, body (table → JSON, string → as is), headers.
-- handle() returns to C: status, body string, content type, headers table
-- (or nil), and the matched route pattern (for metrics).
local cjson = require("cjson")
local Router = require("lib.router")
local response = require("lib.response")
-- The route table: scripts/routes.lua, or with --compat NAME the table
-- scripts/compat/NAME.lua makes of it (the Flask system's shapes).
local compat
do
    local ok, cfg = pcall(require("riskd.engine").config)
    compat = ok and cfg and cfg.compat ~= "" and cfg.compat or nil
end
local routes = require("routes")
if compat then
    assert(compat:match("^[%w_]+$"), "compat: a name of scripts/compat/")
    routes = require("compat." .. compat).routes(routes)
end

local strict = require("riskd.json")

-- lua-cjson decodes request bodies (riskd.json checks them first and
-- encodes the answers, as this instance with encode_sparse_array(true) did)
local json = cjson.new()
json.decode_max_depth(64)  -- deeper documents are hostile, not logins
json.decode_invalid_numbers(false)   -- no NaN, Infinity or hex (riskd.json refuses them first anyway)

local MAX_QUERY_VALUE = 2048   -- bytes; longer query values are refused

local M = {}

local KNOWN_ROLES = require("lib.vocab").is_role

-- Routes with roles = {...}: their handler (a closure of its own) -> the
-- set of roles that may call it. Checked before the body is even decoded.
local roles_of = setmetatable({}, { __mode = "k" })
-- Routes with body = "mail": their handler -> true. They take an email
-- message up to the mail limit; every other route holds to body_limit.
local mail_of = setmetatable({}, { __mode = "k" })
-- The query parameters and top-level body fields a route takes: handler ->
-- set. Anything else is answered 400 naming it, never silently dropped.
local query_of = setmetatable({}, { __mode = "k" })
local fields_of = setmetatable({}, { __mode = "k" })

local function name_set(list, what, i)
    assert(list == nil or type(list) == "table", "routes.lua entry " .. i .. ": " .. what .. " must be a list of names")
    local set = { names = table.concat(list or {}, ", ") }
    for _, n in ipairs(list or {}) do set[n] = true end
    return set
end

-- The server's body limit, read once (a state lives within one configuration).
local limit
local function body_limit()
    if not limit then
        local ok, cfg = pcall(require("riskd.engine").config)
        limit = ok and cfg and cfg.body_limit or math.huge   -- no server (specs): evhttp's own limit only
    end
    return limit
end

-- nil when the caller may go on (req.user set), else status, body, headers:
-- 401 without a valid token, 403 with a role not in the set.
local function authorize(req, roles)
    local claims, s, body, headers = require("api.auth").authenticate(req)
    if not claims then return s, body, headers end
    if not roles[claims.role] then
        return response.error(403, "forbidden", "this needs the role " .. table.concat(roles, " or "))
    end
    -- pwv and exp go with a stream this request opens, which the engine
    -- checks again every second (engine/rt_session.h)
    req.user = { username = claims.sub, role = claims.role, pwv = claims.pwv, exp = claims.exp }
end

-- Resolve "module.function" handlers now, so a missing one fails the load
-- (and a hot reload is rejected) instead of failing requests later.
local function build(table_)
    local resolved = {}
    M.mail_paths = {}
    for i, r in ipairs(table_) do
        local mod, fn = tostring(r[3]):match("^([%w_%.]+)%.([%w_]+)$")
        assert(mod, "routes.lua entry " .. i .. ": handler must be 'module.function'")
        local m = require(mod:find("^compat%.") and mod or "api." .. mod)
        assert(type(m) == "table" and type(m[fn]) == "function",
            "routes.lua entry " .. i .. ": no function " .. fn .. " in api/" .. mod .. ".lua")
        -- each entry its own function, so that the sets below are its own
        local inner = m[fn]
        local handler = function(req) return inner(req) end
        if r.roles ~= nil then
            assert(type(r.roles) == "table" and #r.roles > 0, "routes.lua entry " .. i .. ": roles must be a non-empty list")
            local set = {}
            for _, role in ipairs(r.roles) do
                assert(KNOWN_ROLES[role], "routes.lua entry " .. i .. ": unknown role " .. tostring(role))
                set[role] = true
                set[#set + 1] = role
            end
            roles_of[handler] = set
        end
        query_of[handler] = name_set(r.query, "query", i)
        fields_of[handler] = r.fields and name_set(r.fields, "fields", i)
        if r.body ~= nil then
            assert(r.body == "mail", "routes.lua entry " .. i .. ": body must be \"mail\" when set")
            assert(r[1] == "POST" and not r[2]:find(":", 1, true),
                "routes.lua entry " .. i .. ": a mail body needs a POST route with a fixed path")
            mail_of[handler] = true
            -- the engine gives these paths the mail limit before reading (engine/http_admit.h)
            M.mail_paths[#M.mail_paths + 1] = r[2]
        end
        resolved[i] = { r[1], r[2], handler }
    end
    return Router.new(resolved)
end

M.router = build(routes)

local JSON_TYPE = "application/json"

local TEXT_TYPE = "text/plain; charset=utf-8"

-- A Content-Type the handler set in its headers wins over the default.
-- In a compatibility mode, errors take that system's shape.
local function encode(route, status, body, headers)
    local ctype = headers and headers["Content-Type"]
    if compat and type(body) == "table" and type(body.error) == "table" then
        body = require("compat." .. compat).error_body(body)
    end
    if type(body) == "table" then
        -- riskd.json writes what this cjson instance would, the empty-list
        -- markers (response.array) already as [], and numbers faster
        local out = strict.encode(body)
        return status, out, ctype or JSON_TYPE, headers, route
    elseif type(body) == "string" then
        return status, body, ctype or TEXT_TYPE, headers, route
    elseif body == nil then
        return status, nil, ctype, headers, route
    end
    error("handler returned a body of type " .. type(body))
end

-- JSON unless the client said it is something else; curl -d's default form
-- type is taken as JSON too, since that is what it almost always carries.
local function is_json(ct)
    return ct == nil or ct:find("json", 1, true) ~= nil or ct:find("x-www-form-urlencoded", 1, true) ~= nil
end

local function handle(req)
    local route, params = M.router:match(req.method, req.path)
    if not route then
        if params then  -- the path exists under other methods
            if req.method == "OPTIONS" then return 204, nil, nil, { Allow = params } end
            return encode(nil, response.error(405, "method_not_allowed",
                "method " .. req.method .. " is not allowed on " .. req.path, { Allow = params }))
        end
        -- the web console: any other GET outside the API is a file of web/
        if (req.method == "GET" or req.method == "HEAD") and not req.path:find("^/api/") then
            return encode("web", require("api.web").file(req))
        end
        return encode(nil, response.error(404, "not_found", "no route for " .. req.path))
    end
    req.route, req.params = route.pattern, params
    local roles = roles_of[route.fn]
    if roles then
        local s, body, headers = authorize(req, roles)
        if s then return encode(route.pattern, s, body, headers) end
    end
    for k, v in pairs(req.query) do
        if #v > MAX_QUERY_VALUE then
            return encode(route.pattern, response.error(400, "invalid_query",
                "query parameter '" .. tostring(k):sub(1, 64) .. "' is longer than " .. MAX_QUERY_VALUE .. " bytes"))
        end
    end
    local takes = query_of[route.fn]
    for k in pairs(req.query) do
        if takes and not takes[k] then
            return encode(route.pattern, response.error(400, "unknown_parameter", "unknown query parameter '"
                .. tostring(k):sub(1, 64) .. "'" .. (takes.names ~= "" and (": this route takes " .. takes.names) or
                ": this route takes none")))
        end
    end
    if req.raw_body and #req.raw_body > body_limit() and not mail_of[route.fn] then
        return encode(route.pattern, response.error(413, "payload_too_large",
            "the request body is over " .. body_limit() .. " bytes"))
    end
    if req.raw_body and is_json(req.headers["content-type"]) then
        -- Strict first: duplicate keys, invalid UTF-8, NaN and the like are
        -- refused here; cjson (lenient about them) then builds the tables.
        local good, why = strict.check(req.raw_body)
        if not good then
            return encode(route.pattern, response.error(400, "invalid_json", "request body is not valid JSON: " .. why))
        end
        local ok, value = pcall(json.decode, req.raw_body)
        if not ok then
            return encode(route.pattern, response.error(400, "invalid_json",
                "request body is not valid JSON: " .. tostring(value):gsub("^.-: ", "")))
        end
        req.body = value
        local fields = fields_of[route.fn]
        if fields and type(value) == "table" then
            for k in pairs(value) do
                if type(k) == "string" and not fields[k] then
                    return encode(route.pattern, response.error(400, "unknown_field", "unknown field '"
                        .. tostring(k):sub(1, 64) .. "': this route takes " .. fields.names,
                        { ["X-Invalid-Field"] = tostring(k):sub(1, 64) }))
                end
            end
        end
    end
    return encode(route.pattern, route.fn(req))
end


-- CORS: the origins of --cors-origins (a console served from elsewhere) may
-- call the API from a browser. Read once: a state lives within one
-- configuration. Tokens travel in headers, never cookies: no credentials.
local cors
local function cors_origins()
    if not cors then
        cors = {}
        local ok, cfg = pcall(require("riskd.engine").config)
        for o in ((ok and cfg and cfg.cors_origins) or ""):gmatch("[^,%s]+") do cors[o] = true end
    end
    return cors
end
M.CORS_HEADERS = "Authorization, Content-Type, X-API-Key, Last-Event-ID"
M.CORS_EXPOSE = "Retry-After, X-Invalid-Field, WWW-Authenticate"

function M.handle(req)
    local origin = req.headers and req.headers.origin
    if not (origin and cors_origins()[origin]) then return handle(req) end
    local want = req.headers["access-control-request-method"]
    if req.method == "OPTIONS" and want then
        local _, allow = M.router:match("OPTIONS", req.path)
        if not allow then return handle(req) end
        return 204, nil, nil, { ["Access-Control-Allow-Origin"] = origin, ["Access-Control-Allow-Methods"] = allow,
                                ["Access-Control-Allow-Headers"] = M.CORS_HEADERS, ["Access-Control-Max-Age"] = "600",
                                Vary = "Origin" }
    end
    local status, body, ctype, headers, route = handle(req)
    headers = headers or {}
    headers["Access-Control-Allow-Origin"], headers.Vary = origin, "Origin"
    headers["Access-Control-Expose-Headers"] = M.CORS_EXPOSE
    return status, body, ctype, headers, route
end

return M

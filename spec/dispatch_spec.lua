-- spec/dispatch_spec.lua — lib/dispatch.lua with the real route table and
-- handlers (outside a server, riskd.engine answers "no_server").
local cjson = require("cjson")
local dispatch = require("lib.dispatch")

local function call(method, path, body, headers)
    local req = { method = method, path = path, query = {}, headers = headers or {},
                  raw_body = body, remote_addr = "127.0.0.1" }
    local status, out, ctype, hdrs, route = dispatch.handle(req)
    return { status = status, body = out, ctype = ctype, headers = hdrs, route = route, req = req }
end

describe("dispatch", function()
    it("routes to a handler and encodes its table as JSON", function()
        local r = call("GET", "/api/ping")
        assert.are.equal(200, r.status)
        assert.are.same({ pong = true }, cjson.decode(r.body))
        assert.are.equal("application/json", r.ctype)
        assert.are.equal("/api/ping", r.route)
    end)

    it("answers 404 and 405 with the error shape", function()
        local r = call("GET", "/api/nothing")
        assert.are.equal(404, r.status)
        assert.are.equal("not_found", cjson.decode(r.body).error.code)
        assert.is_nil(r.route)
        -- outside /api/, a GET is a file of the console folder, or a 404 of the same shape
        r = call("GET", "/nothing.html")
        assert.are.equal(404, r.status)
        assert.are.equal("not_found", cjson.decode(r.body).error.code)
        assert.are.equal("web", r.route)
        r = call("DELETE", "/healthz")
        assert.are.equal(405, r.status)
        assert.are.equal("GET, HEAD, OPTIONS", r.headers.Allow)
        assert.are.equal("method_not_allowed", cjson.decode(r.body).error.code)
    end)

    it("answers OPTIONS with Allow and no body", function()
        local r = call("OPTIONS", "/api/ping")
        assert.are.equal(204, r.status)
        assert.is_nil(r.body)
        assert.are.equal("GET, HEAD, OPTIONS", r.headers.Allow)
    end)

    it("decodes JSON bodies and refuses invalid ones", function()
        local r = call("GET", "/api/ping", '{"a":1}')
        assert.are.same({ a = 1 }, r.req.body)
        r = call("GET", "/api/ping", '{"a":')
        assert.are.equal(400, r.status)
        assert.are.equal("invalid_json", cjson.decode(r.body).error.code)
        assert.are.equal("/api/ping", r.route)
        r = call("GET", "/api/ping", "plain", { ["content-type"] = "text/plain" })
        assert.are.equal(200, r.status)
        assert.is_nil(r.req.body)
    end)

    it("refuses what cjson would let through: duplicate keys, bad UTF-8, NaN", function()
        for _, body in ipairs({ '{"a":1,"a":2}', '{"a":"\255"}', '{"a":NaN}', '{"a":0x1}' }) do
            local r = call("GET", "/api/ping", body)
            assert.are.equal(400, r.status)
            assert.are.equal("invalid_json", cjson.decode(r.body).error.code)
            assert.is_nil(r.req.body)
        end
        local ok, msg, code = require("riskd.json").check('{"k":1,"k":1}')
        assert.is_nil(ok)
        assert.matches("duplicate", msg)
        assert.are.equal("invalid_json", code)
        assert.is_true(require("riskd.json").check("[1, 2.5, \"\"]"))
    end)

    it("refuses over-long query values", function()
        local req = { method = "GET", path = "/api/ping", query = { q = string.rep("x", 2049) }, headers = {},
                      remote_addr = "127.0.0.1" }
        local status, out = dispatch.handle(req)
        assert.are.equal(400, status)
        assert.are.equal("invalid_query", cjson.decode(out).error.code)
    end)

    it("names a query parameter or a body field the route does not take (routes.lua query, fields)", function()
        local req = { method = "GET", path = "/api/ping", query = { hours = "24" }, headers = {}, remote_addr = "127.0.0.1" }
        local status, out = dispatch.handle(req)
        assert.are.equal(400, status)
        local e = cjson.decode(out).error
        assert.are.equal("unknown_parameter", e.code)
        assert.are.equal("unknown query parameter 'hours': this route takes none", e.message)
        req = { method = "POST", path = "/api/auth/login", query = {}, headers = { ["content-type"] = "application/json" },
                raw_body = '{"username":"a","password":"b","remember":true}', remote_addr = "127.0.0.1" }
        local s2, out2, _, h2 = dispatch.handle(req)
        assert.are.equal(400, s2)
        e = cjson.decode(out2).error
        assert.are.equal("unknown_field", e.code)
        assert.are.equal("unknown field 'remember': this route takes username, password", e.message)
        assert.are.equal("remember", h2["X-Invalid-Field"])
        -- a declared field reaches the handler, which says what is wrong with it
        req.raw_body = '{"username":"a"}'
        local s3, out3 = dispatch.handle(req)
        assert.are.equal(400, s3)
        assert.are.equal("username and password are required strings", cjson.decode(out3).error.message)
    end)

    it("passes text bodies through with the handler's content type", function()
        -- /metrics fails outside a server: the handler raises, as it should.
        assert.has_error(function() call("GET", "/metrics") end, "not running in a server")
    end)

    it("serves /metrics to loopback clients only", function()
        for _, addr in ipairs({ "192.0.2.1", "::ffff:10.0.0.1", "2001:db8::1" }) do
            local s, out = dispatch.handle({ method = "GET", path = "/metrics", query = {}, headers = {}, remote_addr = addr })
            assert.are.equal(403, s)
            assert.matches("loopback", cjson.decode(out).error.message)
        end
        for _, addr in ipairs({ "::1", "::ffff:127.0.0.1" }) do
            local req = { method = "GET", path = "/metrics", query = {}, headers = {}, remote_addr = addr }
            assert.has_error(function() dispatch.handle(req) end, "not running in a server")   -- past the check
        end
    end)

    it("refuses writes to the shared empty params", function()
        local r = call("GET", "/api/ping")
        assert.has_error(function() r.req.params.x = 1 end)
    end)

    it("reports health outside a server without a generation", function()
        local health = require("api.health")
        health.use(assert(require("riskd.store").open("mem:")))
        local r = call("GET", "/healthz")
        local doc = cjson.decode(r.body)
        assert.are.equal(200, r.status)
        assert.are.equal("ok", doc.status)
        assert.are.equal("memory", doc.store)
        assert.matches("^%d+%.%d+%.%d+$", doc.version)
        assert.is_nil(doc.generation)
        -- a store that does not answer: 503, so that a load balancer takes the instance out
        health.use({ ping = function() return nil, "mongodb: ping: No suitable servers found", "store_error" end })
        r = call("GET", "/healthz")
        doc = cjson.decode(r.body)
        assert.are.equal(503, r.status)
        assert.are.equal("unavailable", doc.status)
        assert.are.equal("store_unavailable", doc.error.code)
        assert.matches("No suitable servers", doc.error.message, 1, true)
        health.use(nil)
    end)

describe("dispatch roles", function()
    local auth = require("riskd.auth")
    local secret = ("r"):rep(32)
    local path = os.tmpname()
    os.remove(path)
    local db = assert(require("riskd.store").open("sqlite:" .. path))
    for _, role in ipairs({ "admin", "analyst", "service" }) do
        assert(db:user_create({ username = role .. "1", role = role, password_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA" }))
    end
    setup(function() require("api.auth").use(db, secret) end)
    teardown(function()
        require("api.auth").use(nil, nil)
        db:close() os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") os.remove(path .. "-accounts")
    end)
    local function bearer(role)
        return { authorization = "Bearer " .. assert(auth.issue(role .. "1", role, { secret = secret, pwv = "c2FsdA" })) }
    end

    it("needs a token before anything else, even reading the body", function()
        local r = call("POST", "/api/login/analyze", "{not json")
        assert.are.equal(401, r.status)
        assert.are.equal("unauthorized", cjson.decode(r.body).error.code)
        assert.matches("^Bearer", r.headers["WWW-Authenticate"])
        assert.are.equal("/api/login/analyze", r.route)
    end)

    it("refuses other roles with 403 and lets the right ones in", function()
        local r = call("GET", "/api/dashboard/stats", nil, bearer("service"))
        assert.are.equal(403, r.status)
        assert.matches("admin or analyst", cjson.decode(r.body).error.message)
        assert.are.equal(403, call("GET", "/api/admin/rules", nil, bearer("analyst")).status)
        local ok = call("POST", "/api/login/analyze", "{not json", bearer("service"))
        assert.are.equal(400, ok.status)   -- past the guard: now the body is read
        local u = ok.req.user
        assert.are.same({ "service1", "service" }, { u.username, u.role })
        assert.is_true(u.exp > os.time() and #u.pwv > 0)   -- for a stream it opens, checked again every second
        assert.are.equal(200, call("GET", "/api/ping").status)   -- public
    end)
end)
end)

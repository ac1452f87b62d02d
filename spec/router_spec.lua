-- spec/router_spec.lua — lib/router.lua: static and parameterised routes,
-- 405 allow lists, HEAD and bad tables.
local Router = require("lib.router")

local function h() end

describe("router", function()
    local r = Router.new({
        { "GET", "/healthz", h },
        { "POST", "/api/login/analyze", h },
        { "GET", "/api/login/events", h },
        { "GET", "/api/login/events/:id", h },
        { "PUT", "/api/dashboard/alerts/:id", h },
        { "GET", "/api/users/:user/events/:id", h },
        { "GET", "/static/*file", h },
    })

    it("matches static paths", function()
        local route, params = r:match("GET", "/healthz")
        assert.are.equal("/healthz", route.pattern)
        assert.are.same({}, params)
    end)

    it("ignores a trailing slash and repeated slashes", function()
        assert.are.equal("/healthz", r:match("GET", "/healthz/").pattern)
        assert.are.equal("/api/login/events", r:match("GET", "//api/login//events").pattern)
    end)

    it("captures parameters", function()
        local route, params = r:match("GET", "/api/users/alice/events/42")
        assert.are.equal("/api/users/:user/events/:id", route.pattern)
        assert.are.same({ user = "alice", id = "42" }, params)
        assert.are.same({ id = "e1" }, select(2, r:match("GET", "/api/login/events/e1")))
    end)

    it("captures the rest of the path with *", function()
        local _, params = r:match("GET", "/static/css/app.css")
        assert.are.same({ file = "css/app.css" }, params)
    end)

    it("prefers the static route over a parameter", function()
        assert.are.equal("/api/login/events", r:match("GET", "/api/login/events").pattern)
    end)

    it("answers HEAD with the GET route", function()
        assert.are.equal("/healthz", r:match("HEAD", "/healthz").pattern)
    end)

    it("reports allowed methods when only the method is wrong", function()
        local route, allow = r:match("DELETE", "/api/login/analyze")
        assert.is_nil(route)
        assert.are.equal("OPTIONS, POST", allow)
        route, allow = r:match("POST", "/api/login/events/7")
        assert.is_nil(route)
        assert.are.equal("GET, HEAD, OPTIONS", allow)
    end)

    it("returns nothing for unknown paths", function()
        local route, allow = r:match("GET", "/api/nothing")
        assert.is_nil(route)
        assert.is_nil(allow)
        assert.is_nil((r:match("GET", "/api/login/events/1/extra")))
        assert.is_nil((r:match("GET", "/api/users/alice/events")))
    end)

    it("rejects malformed tables", function()
        assert.has_error(function() Router.new({ { "GET", "/x" } }) end)
        assert.has_error(function() Router.new({ { "GET", "/a/*rest/b", h } }) end)
        assert.has_error(function() Router.new({ { "GET", "/a/:", h } }) end)
        assert.has_error(function() Router.new({ { "GET", "/x", h }, { "get", "/x", h } }) end)
    end)
end)

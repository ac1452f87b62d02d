-- routes.lua — the route table: method, path pattern, handler.
--
-- A pattern is literal segments, ":name" segments (one segment, given to the
-- handler as req.params.name) and an optional final "*name" (the rest of the
-- path). A handler is "module.function" in scripts/api/. HEAD is served by
-- the GET route; OPTIONS by the router itself.
--
-- Edit this file while the server runs: the change is live within a second,
-- and a version that fails to load is rejected while the old one keeps serving.
return {
    { "GET", "/healthz", "health.healthz" },
    { "GET", "/metrics", "health.metrics" },
    { "GET", "/api/ping", "health.ping" },

    { "POST", "/api/auth/login", "auth.login" },
    { "GET", "/api/auth/me", "auth.me" },
    { "POST", "/api/auth/register", "auth.register" },

    { "POST", "/api/login/analyze", "login.analyze" },
    { "GET", "/api/login/events", "login.events" },
    { "GET", "/api/login/events/:id", "login.event" },
    { "GET", "/api/login/events/:id/explain", "login.explain" },

    { "GET", "/api/dashboard/stats", "dashboard.stats" },
    { "GET", "/api/dashboard/alerts", "dashboard.alerts" },
    { "GET", "/api/dashboard/alerts/:id", "dashboard.alert" },
    { "PUT", "/api/dashboard/alerts/:id", "dashboard.update_alert" },
    { "GET", "/api/dashboard/timeline", "dashboard.timeline" },
    { "GET", "/api/dashboard/top-risks", "dashboard.top_risks" },

    { "GET", "/api/admin/rules", "admin.rules" },
}

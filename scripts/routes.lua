-- routes.lua — the route table: method, path pattern, handler.
--
-- A pattern is literal segments, ":name" segments (one segment, given to the
-- handler as req.params.name) and an optional final "*name" (the rest of the
-- path). A handler is "module.function" in scripts/api/. HEAD is served by
-- the GET route; OPTIONS by the router itself.
--
-- roles = {...} makes a route need a Bearer token (POST /api/auth/login) of
-- one of those roles: admin, analyst (the console), service (the systems
-- that send logins, also with an API key). A route without roles is public.
--
-- Edit this file while the server runs: the change is live within a second,
-- and a version that fails to load is rejected while the old one keeps serving.
local STAFF = { "admin", "analyst" }
local SENDERS = { "admin", "service" }
-- query = {...} and fields = {...}: the query parameters and the top-level
-- JSON body fields a route takes; any other is answered 400 naming it
-- (a route without query takes none; one without fields is not checked).
local ATTEMPT = { "user_id", "ip_address", "timestamp", "success", "location", "device", "password_breached",
                  "outcome", "challenge", "headers" }
local STREAM = { "last_event_id", "min_level" }

return {
    { "GET", "/healthz", "health.healthz" },
    { "GET", "/metrics", "health.metrics" },
    { "GET", "/api/ping", "health.ping" },

    { "POST", "/api/auth/login", "auth.login", fields = { "username", "password" } },
    { "GET", "/api/auth/me", "auth.me" },
    { "GET", "/api/auth/verify", "auth.verify" },
    { "POST", "/api/auth/register", "auth.register", fields = { "username", "password", "email", "role" } },

    { "POST", "/api/login/analyze", "login.analyze", roles = SENDERS, query = { "explain" }, fields = ATTEMPT },
    { "GET", "/api/login/events", "login.events", roles = STAFF,
      query = { "user_id", "risk_level", "min_risk", "anomaly", "ip_address", "country", "rule", "since", "until", "page",
                "per_page" } },
    { "GET", "/api/login/events/:id", "login.event", roles = STAFF },
    { "GET", "/api/login/events/:id/explain", "login.explain", roles = STAFF },
    -- what the service did with an answer (the challenge passed, the login blocked)
    { "POST", "/api/login/events/:id/outcome", "login.outcome", roles = SENDERS, fields = { "outcome" } },

    -- email messages: the mail gateway or a "report phishing" button (service), an analyst
    { "POST", "/api/phishing/analyze", "phishing.analyze", roles = { "admin", "analyst", "service" }, body = "mail",
      fields = { "raw", "from", "to", "reply_to", "return_path", "subject", "text", "html", "urls", "headers", "attachments" } },
    { "GET", "/api/phishing/events", "phishing.events", roles = STAFF,
      query = { "verdict", "sender", "min_score", "since", "until", "page", "per_page" } },
    { "GET", "/api/phishing/events/:id", "phishing.event", roles = STAFF },

    { "GET", "/api/dashboard/stats", "dashboard.stats", roles = STAFF },
    { "GET", "/api/dashboard/alerts", "dashboard.alerts", roles = STAFF,
      query = { "status", "severity", "user_id", "since", "until", "page", "per_page" } },
    { "GET", "/api/dashboard/alerts/:id", "dashboard.alert", roles = STAFF },
    { "PUT", "/api/dashboard/alerts/:id", "dashboard.update_alert", roles = STAFF, fields = { "status", "note", "user_state" } },
    { "GET", "/api/dashboard/timeline", "dashboard.timeline", roles = STAFF, query = { "hours", "bucket" } },
    { "GET", "/api/dashboard/top-risks", "dashboard.top_risks", roles = STAFF, query = { "limit", "hours" } },
    { "GET", "/api/dashboard/breakdown", "dashboard.breakdown", roles = STAFF, query = { "hours" } },
    -- what riskd knows of one of the site's users (devices, countries, networks, habits)
    { "GET", "/api/users/:id/profile", "users.profile", roles = STAFF },
    -- an analyst's word on the account: at_risk, compromised, safe or null
    { "PUT", "/api/users/:id/state", "users.state", roles = STAFF, fields = { "state" } },

    { "GET", "/api/ws", "ws.open" },   -- a WebSocket; the token comes with it or as its first message
    { "GET", "/api/stream/alerts", "stream.alerts", roles = STAFF, query = STREAM },
    { "GET", "/api/stream/events", "stream.events", roles = STAFF, query = STREAM },
    { "GET", "/api/stream/rules", "stream.rules", roles = { "admin" }, query = STREAM },
    { "GET", "/api/stream/models", "stream.models", roles = { "admin" }, query = STREAM },

    { "GET", "/api/passwords/range/:prefix", "intel.range", roles = { "admin", "analyst", "service" } },

    { "GET", "/api/admin/rules", "admin.rules", roles = { "admin" } },
    -- where alerts go (webhooks, SIEM) and what became of each delivery
    { "GET", "/api/admin/webhooks", "deliveries.webhooks", roles = { "admin" } },
    { "PUT", "/api/admin/webhooks", "deliveries.set_webhooks", roles = { "admin" }, fields = { "urls" } },
    { "GET", "/api/admin/deliveries", "deliveries.list", roles = { "admin" }, query = { "status", "page", "per_page" } },
    { "POST", "/api/admin/deliveries/:id/retry", "deliveries.retry", roles = { "admin" } },
    -- services' API keys (riskd key create|list|revoke does the same)
    { "GET", "/api/admin/keys", "keys.list", roles = { "admin" } },
    { "POST", "/api/admin/keys", "keys.create", roles = { "admin" }, fields = { "name" } },
    { "DELETE", "/api/admin/keys/:name", "keys.revoke", roles = { "admin" } },
    { "GET", "/api/admin/intel", "intel.status", roles = { "admin" } },
    { "GET", "/api/admin/rules/:name/source", "rule_source.get", roles = { "admin" } },
    { "PUT", "/api/admin/rules/:name/source", "rule_source.put", roles = { "admin" }, fields = { "source", "note" } },
    { "POST", "/api/admin/rules/:name/restore", "rule_source.restore", roles = { "admin" }, fields = { "version" } },
    { "GET", "/api/admin/models", "admin.models", roles = { "admin" } },
    { "PUT", "/api/admin/models/:id", "admin.activate", roles = { "admin" } },
    { "POST", "/api/admin/model/retrain", "admin.retrain", roles = { "admin" }, fields = { "since", "margin" } },
    { "GET", "/api/admin/model/retrain/:id", "admin.retrain_status", roles = { "admin" } },
}

#!/usr/bin/python3
"""Services' API keys on a running server: `riskd key create` against the
server's store prints the key as its last line and the next request takes it
(as X-API-Key and as a Bearer token); it acts as the service role only; its
last use shows in `riskd key list`; `riskd key revoke` refuses it at the next
request; the admin API creates (the key once), lists (never the key) and
revokes the same way. TAP."""
import http.client
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_story import BIN, Server, check_clean_exit  # noqa: E402


def call(srv, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null"), dict(r.getheaders())
    finally:
        c.close()


ATTEMPT = {"user_id": "dora", "ip_address": "192.0.2.44", "timestamp": "2024-03-01T09:00:00Z"}


def main():
    srv = Server(env={"RISKD_CORS_ORIGINS": "https://console.example"})
    db = "sqlite:" + os.path.join(srv.tmp, "db")

    def key_cmd(*args):
        return subprocess.run([BIN, "key", *args, "--db", db], capture_output=True, text=True, timeout=30)

    state = {}

    def cli_create():
        p = key_cmd("create", "checkout")
        assert p.returncode == 0, p
        key = p.stdout.strip().splitlines()[-1]
        assert key.startswith("rk_") and len(key) == 84, p.stdout
        state["key"] = key
        s, d, _ = call(srv, "POST", "/api/login/analyze", ATTEMPT, {"X-API-Key": key})
        assert s == 200 and d["event_id"], (s, d)
        s, d, _ = call(srv, "POST", "/api/login/analyze", ATTEMPT, {"Authorization": "Bearer " + key})
        assert s == 200, (s, d)
        s, d, _ = call(srv, "GET", "/api/auth/me", headers={"X-API-Key": key})
        assert s == 200 and d["username"] == "checkout" and d["role"] == "service" and d["key"]["name"] == "checkout", d
    check("riskd key create against the running server's store: the key is the last line, taken at the next request",
          cli_create)

    def service_only():
        for path in ("/api/admin/keys", "/api/login/events", "/api/dashboard/stats"):
            s, d, _ = call(srv, "GET", path, headers={"X-API-Key": state["key"]})
            assert s == 403 and d["error"]["code"] == "forbidden", (path, s, d)
    check("a key acts as the service role: the console's and the admin's routes answer 403", service_only)

    def listed():
        p = key_cmd("list")
        assert p.returncode == 0, p
        row = [l.split() for l in p.stdout.splitlines() if l.startswith("checkout")][0]
        assert row[2] == "service" and row[4] != "-" and row[5] == "-", p.stdout   # used, not revoked
        assert state["key"] not in p.stdout and state["key"][20:] not in p.stdout, "the secret is listed"
    check("riskd key list shows the last use and never the key", listed)

    def bad_keys():
        key = state["key"]
        wrong = key[:-1] + ("1" if key[-1] == "0" else "0")
        for h in ({"X-API-Key": wrong}, {"X-API-Key": "rk_" + "0" * 16 + "_" + "0" * 64}, {"X-API-Key": "x"},
                  {"Authorization": "Bearer " + wrong}):
            s, d, hd = call(srv, "POST", "/api/login/analyze", ATTEMPT, h)
            assert s == 401 and d["error"]["code"] == "unauthorized", (h, s, d)
            assert "WWW-Authenticate" in hd, hd
    check("a wrong secret, an unknown id or garbage: 401", bad_keys)

    def cli_revoke():
        p = key_cmd("revoke", "checkout")
        assert p.returncode == 0 and "revoked checkout" in p.stdout, p
        s, d, _ = call(srv, "POST", "/api/login/analyze", ATTEMPT, {"X-API-Key": state["key"]})
        assert s == 401 and "revoked" in d["error"]["message"], (s, d)
        assert key_cmd("revoke", "checkout").returncode == 1
    check("riskd key revoke: the very next request gets 401", cli_revoke)

    def admin_api():
        s, d, h = call(srv, "POST", "/api/admin/keys", {"name": "batch"}, {"Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 201 and d["key"].startswith("rk_") and d["live"] is True and h.get("Cache-Control") == "no-store", (s, d)
        key = d["key"]
        s, d2, _ = call(srv, "POST", "/api/admin/keys", {"name": "batch"}, {"Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 409, (s, d2)
        s, d2, _ = call(srv, "POST", "/api/admin/keys", {"name": "../x"}, {"Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 400, (s, d2)
        s, _, _ = call(srv, "POST", "/api/login/analyze", ATTEMPT, {"X-API-Key": key})
        assert s == 200
        s, lst, _ = call(srv, "GET", "/api/admin/keys", headers={"Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 200 and {k["name"] for k in lst["keys"]} == {"batch", "checkout"}, lst
        assert all("key" not in k for k in lst["keys"]), lst
        assert [k["live"] for k in lst["keys"] if k["name"] == "checkout"] == [False], lst
        s, d2, _ = call(srv, "DELETE", "/api/admin/keys/batch", headers={"Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 200 and d2["name"] == "batch", (s, d2)
        s, _, _ = call(srv, "POST", "/api/login/analyze", ATTEMPT, {"X-API-Key": key})
        assert s == 401
        s, _, _ = call(srv, "DELETE", "/api/admin/keys/batch", headers={"Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 404
        s, _, _ = call(srv, "POST", "/api/admin/keys", {"name": "svc2"}, {"Authorization": "Bearer " + srv.tokens["svc"]})
        assert s == 403
    check("the admin API: create (the key once), list (never the key), revoke, 409 and 400 and 403 where due", admin_api)

    def cors():
        h = {"Origin": "https://console.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "x-api-key, content-type"}
        s, _, hd = call(srv, "OPTIONS", "/api/login/analyze", headers=h)
        assert s == 204 and hd.get("Access-Control-Allow-Origin") == "https://console.example", (s, hd)
        assert "POST" in hd["Access-Control-Allow-Methods"] and "X-API-Key" in hd["Access-Control-Allow-Headers"], hd
        s, _, hd = call(srv, "GET", "/api/auth/me", headers={"Origin": "https://console.example",
                                                                "Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 200 and hd.get("Access-Control-Allow-Origin") == "https://console.example", hd
        assert hd.get("Vary") == "Origin" and "Retry-After" in hd["Access-Control-Expose-Headers"], hd
        s, _, hd = call(srv, "GET", "/api/auth/me", headers={"Origin": "https://evil.example",
                                                                "Authorization": "Bearer " + srv.tokens["root"]})
        assert s == 200 and "Access-Control-Allow-Origin" not in hd, hd          # another origin: no CORS
        s, _, hd = call(srv, "OPTIONS", "/api/login/analyze", headers=dict(h, Origin="https://evil.example"))
        assert "Access-Control-Allow-Origin" not in hd, hd
    check("CORS for the configured console origins only (RISKD_CORS_ORIGINS): preflight and answers", cors)

    check_clean_exit(srv)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

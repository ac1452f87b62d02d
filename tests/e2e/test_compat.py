#!/usr/bin/python3
"""--compat flask: a client written for the Flask system works unchanged.
The calls below are what such a client makes (open registration, sign-in,
token check, analyses with device_info and username, the event and alert
lists with limit/skip/is_anomaly/resolved, resolving an alert), replayed
against riskd, with the Flask system's shapes checked; every error on every
route is {"error": "text"}. TAP."""
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_story import Server, check_clean_exit  # noqa: E402


def call(srv, method, path, body=None, token=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=raw if raw is not None else (json.dumps(body) if body is not None else None), headers=h)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


HOME = {"latitude": 48.8566, "longitude": 2.3522, "city": "Paris", "country": "FR"}
LAPTOP = {"browser": "Chrome", "os": "Windows", "device_type": "desktop"}


def login_event(ts, ip="192.0.2.44", loc=HOME, dev=LAPTOP, success=True):
    return {"user_id": "user_001", "username": "john.doe", "ip_address": ip, "device_info": dev, "location": loc,
            "timestamp": ts, "success": success}


def is_error(doc):
    return isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"]


def main():
    srv = Server(env={"RISKD_COMPAT": "flask"})
    st = {}

    def register():
        s, d = call(srv, "POST", "/api/auth/register", {"username": "john.doe", "password": "a long enough passphrase",
                                                        "email": "john@example.com"}, token="")
        assert s == 201 and d["message"] == "User registered successfully" and d["user_id"], (s, d)
        s, d = call(srv, "POST", "/api/auth/register", {"username": "john.doe", "password": "a long enough passphrase"}, token="")
        assert s == 409 and d == {"error": "Username already exists"}, (s, d)
        s, d = call(srv, "POST", "/api/auth/register", {"username": "x"}, token="")
        assert s == 400 and is_error(d), (s, d)
    check("POST /api/auth/register is open: 201 {message, user_id}; a taken name 409, bad input 400, as {error}", register)

    def sign_in():
        s, d = call(srv, "POST", "/api/auth/login", {"username": "john.doe", "password": "a long enough passphrase"}, token="")
        assert s == 200 and d["token"], (s, d)
        st["token"] = d["token"]
        s, d = call(srv, "GET", "/api/auth/verify", token=st["token"])
        assert s == 200 and d["valid"] is True and d["user"]["username"] == "john.doe", (s, d)
        s, d = call(srv, "GET", "/api/auth/verify", token="not.a.token")
        assert s == 401 and d["valid"] is False, (s, d)
        s, d = call(srv, "POST", "/api/auth/login", {"username": "john.doe", "password": "wrong password here"}, token="")
        assert s == 401 and is_error(d), (s, d)
    check("sign-in and GET /api/auth/verify: {valid: true, user}, or {valid: false} for a bad token", sign_in)

    def analyze():
        tok = st["token"]
        first = None
        for day in range(1, 9):
            s, d = call(srv, "POST", "/api/login/analyze", login_event("2024-01-%02dT09:00:00" % day), token=tok)
            assert s == 200, (s, d)
            first = first or d
        assert set(first) == {"login_event_id", "is_anomaly", "risk_score", "severity", "reasons", "alert_id", "message"}, first
        assert first["message"] == "Login analyzed successfully" and first["alert_id"] is None, first
        assert d["is_anomaly"] is False and d["severity"] == "normal" and 0 <= d["risk_score"] < 0.3, d
        far = login_event("2024-01-08T11:00:00", ip="203.0.113.77",
                          loc={"latitude": -33.87, "longitude": 151.21, "city": "Sydney", "country": "AU"},
                          dev={"browser": "Firefox", "os": "Linux", "device_type": "mobile"})
        s, d = call(srv, "POST", "/api/login/analyze", far, token=tok)
        assert s == 200 and d["is_anomaly"] is True and d["alert_id"], (s, d)
        assert 0.6 <= d["risk_score"] <= 1 and d["severity"] in ("medium", "high"), d
        assert any("impossible travel" in r for r in d["reasons"]), d
        st["anomaly"], st["first"] = d, first
        s, d = call(srv, "POST", "/api/login/analyze", {"user_id": "user_001", "device_info": "x"}, token=tok)
        assert s == 400 and is_error(d).startswith("Invalid input"), (s, d)
        s, d = call(srv, "POST", "/api/login/analyze", dict(login_event("2024-01-10T09:00:00"), mfa=True), token=tok)
        assert s == 400 and is_error(d), (s, d)
    check("POST /api/login/analyze takes username and device_info; answers login_event_id, is_anomaly, 0-1 risk, severity",
          analyze)

    def events():
        tok = st["token"]
        s, d = call(srv, "GET", "/api/login/events?user_id=user_001&limit=3&skip=1", token=tok)
        assert s == 200 and d["count"] == 3 and d["total"] == 9, (s, d)
        e = d["events"][0]
        assert set(e) >= {"_id", "user_id", "username", "timestamp", "ip_address", "location", "device_info", "success",
                          "risk_score", "is_anomaly", "anomaly_reasons"}, e
        assert e["timestamp"] == "2024-01-08T09:00:00.000Z" and e["device_info"] == LAPTOP, e   # newest first, one skipped
        s, d = call(srv, "GET", "/api/login/events?is_anomaly=true", token=tok)
        assert s == 200 and d["total"] == 1 and d["events"][0]["_id"] == st["anomaly"]["login_event_id"], d
        s, d = call(srv, "GET", "/api/login/events?is_anomaly=false&limit=100", token=tok)
        assert s == 200 and d["total"] >= 8 and not any(x["is_anomaly"] for x in d["events"]), d
        s, d = call(srv, "GET", "/api/login/events/" + st["first"]["login_event_id"], token=tok)
        assert s == 200 and d["username"] == "user_001" and d["location"]["city"] == "Paris", (s, d)
        s, d = call(srv, "GET", "/api/login/events/ffffffffffffffffffffffff", token=tok)
        assert s == 404 and d == {"error": "Login event not found"}, (s, d)
        s, d = call(srv, "GET", "/api/login/events?limit=0", token=tok)
        assert s == 400 and is_error(d), (s, d)
    check("GET /api/login/events with user_id, is_anomaly, limit and skip: {events, count, total} in the Flask shape", events)

    def alerts():
        tok = st["token"]
        s, d = call(srv, "GET", "/api/dashboard/alerts?resolved=false", token=tok)
        mine = [a for a in d["alerts"] if a["_id"] == st["anomaly"]["alert_id"]]
        assert s == 200 and len(mine) == 1 and mine[0]["resolved"] is False, (s, d)
        a = mine[0]
        assert a["alert_type"] == "suspicious_login" and a["login_event_id"] == st["anomaly"]["login_event_id"], a
        assert a["details"]["risk_score"] == st["anomaly"]["risk_score"] and a["details"]["ip_address"] == "203.0.113.77", a
        s, d = call(srv, "PUT", "/api/dashboard/alerts/" + a["_id"], {"resolved": True}, token=tok)
        assert s == 200 and d["message"] == "Alert updated successfully", (s, d)
        s, d = call(srv, "GET", "/api/dashboard/alerts?resolved=true&limit=10&skip=0", token=tok)
        assert s == 200 and [x["_id"] for x in d["alerts"]] == [a["_id"]] and d["alerts"][0]["resolved"] is True, d
        s, d = call(srv, "GET", "/api/dashboard/alerts?resolved=false", token=tok)
        assert a["_id"] not in [x["_id"] for x in d["alerts"]], d
        s, d = call(srv, "PUT", "/api/dashboard/alerts/" + a["_id"], {"resolved": "yes"}, token=tok)
        assert s == 400 and is_error(d), (s, d)
        s, d = call(srv, "GET", "/api/dashboard/timeline?hours=48", token=tok)
        assert s == 200 and d["hours"] == 48, (s, d)
    check("alerts: ?resolved and PUT {resolved: true}; ?hours on the dashboard", alerts)

    def errors():
        for method, path, body, raw, token, status in (
                ("GET", "/api/nothing", None, None, st["token"], 404),
                ("POST", "/api/login/analyze", None, "{not json", st["token"], 400),
                ("GET", "/api/login/events", None, None, "", 401),
                ("DELETE", "/api/login/events", None, None, st["token"], 405),
                ("GET", "/api/admin/rules", None, None, st["token"], 403)):
            s, d = call(srv, method, path, body, token=token, raw=raw)
            assert s == status and is_error(d), (method, path, s, d)
    check("every error on every route is {\"error\": \"text\"}", errors)

    check_clean_exit(srv)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

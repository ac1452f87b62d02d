#!/usr/bin/python3
"""Learning only from what was verified, on a running server: a blocked
attacker's success does not teach the victim's profile (the second try
scores as high as the first); a challenged login is learned when the
service reports the challenge passed, never when it failed, and after the
grace period (on the attempts' clock) when nothing is reported; POST /api/login/events/:id/outcome
answers 400, 404 and 409 where it should. The config is scaled for a test:
challenges from 20 points, high blocks, a grace period of about a second."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_calibration import Proc, check_clean_exit, cleanup, prepare  # noqa: E402


# Each of kim's devices has a browser of its own, as real ones do (the same
# browser on new device ids again and again is a habit riskd discounts).
AGENTS = {
    "kim-phone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Mobile Safari/604.1",
    "kim-tablet": "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) Version/17.1 Mobile Safari/604.1",
    "kim-desktop": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Version/17.1 Safari/605.1.15",
}


def attempt(ts, ip, device, city="Paris", country="FR", lat=48.85, lon=2.35, ua=None, user="kim"):
    ua = ua or AGENTS.get(device, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0")
    return {"user_id": user, "ip_address": ip, "timestamp": ts, "success": True,
            "location": {"country": country, "city": city, "latitude": lat, "longitude": lon},
            "device": {"device_id": device, "user_agent": ua}}


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-outcomes-")
    state = {}
    try:
        def scaled(cfg):
            cfg = re.sub(r"levels = \{ medium = \d+,", "levels = { medium = 20,", cfg)
            cfg = cfg.replace('high = "challenge", critical = "block" }', 'high = "block", critical = "block" }')
            cfg = cfg.replace("grace_minutes = 15", "grace_minutes = 0.02")
            assert "medium = 20," in cfg and 'high = "block"' in cfg and "grace_minutes = 0.02" in cfg
            return cfg
        prepare(tmp, scaled)
        srv = state["srv"] = Proc(tmp)
        svc = srv.tokens["svc"]

        def analyze(a):
            s, d = srv.call("POST", "/api/login/analyze", a, token=svc)
            assert s == 200, (s, d)
            return d

        def warm_up():
            for day in range(1, 9):
                d = analyze(attempt("2026-11-%02dT09:%02d:00Z" % (day, day), "203.0.113.10", "kim-laptop"))
            assert d["action"] == "allow" and d["risk_score"] < 20, d
        check("a user's usual logins are allowed and learned at once", warm_up)

        def blocked_attacker():
            first = analyze(attempt("2026-11-10T03:00:00Z", "41.58.1.7", "evil", "Lagos", "NG", 6.5, 3.4, "curl/8"))
            assert first["action"] == "block", first
            second = analyze(attempt("2026-11-10T03:05:00Z", "41.58.1.8", "evil", "Lagos", "NG", 6.5, 3.4, "curl/8"))
            assert second["action"] == "block" and second["risk_score"] >= first["risk_score"] - 1, (first, second)
            s, e = srv.call("GET", "/api/login/events/" + second["event_id"])
            assert s == 200 and e["outcome_pending"] is True and e["outcome"] is None, e
        check("a blocked attacker's success is not learned: the second try scores as the first", blocked_attacker)

        def passed_and_failed():
            d = analyze(attempt("2026-11-11T10:00:00Z", "203.0.113.10", "kim-phone"))
            assert d["action"] == "challenge" and "new device" in d["reasons"], d
            s, r = srv.call("POST", "/api/login/events/%s/outcome" % d["event_id"], {"outcome": "passed_challenge"}, token=svc)
            assert s == 200 and r == {"event_id": d["event_id"], "outcome": "passed_challenge", "learned": True}, (s, r)
            again = analyze(attempt("2026-11-11T11:00:00Z", "203.0.113.10", "kim-phone"))
            assert "new device" not in again["reasons"] and again["action"] == "allow", again
            bad = analyze(attempt("2026-11-11T12:00:00Z", "203.0.113.10", "kim-tablet"))
            assert bad["action"] == "challenge", bad
            s, r = srv.call("POST", "/api/login/events/%s/outcome" % bad["event_id"], {"outcome": "failed_challenge"}, token=svc)
            assert s == 200 and r["learned"] is False, (s, r)
            again = analyze(attempt("2026-11-11T12:05:00Z", "203.0.113.10", "kim-tablet"))
            assert "new device" in again["reasons"], again
            s, e = srv.call("GET", "/api/login/events/" + bad["event_id"])
            assert e["outcome"] == "failed_challenge" and e["outcome_pending"] is False, e
        check("a challenge passed teaches the profile at once; a failed one never", passed_and_failed)

        def grace():
            d = analyze(attempt("2026-11-12T10:00:00Z", "203.0.113.10", "kim-desktop"))
            assert d["action"] == "challenge", d
            # within the grace period (on the attempts' clock): still held, still new
            soon = analyze(attempt("2026-11-12T10:00:01Z", "203.0.113.10", "kim-desktop"))
            assert "new device" in soon["reasons"], soon
            s, e = srv.call("GET", "/api/login/events/" + d["event_id"])
            assert e["outcome_pending"] is True, e
            # an attempt after it (anyone's) settles it first: learned
            other = analyze(attempt("2026-11-12T11:00:00Z", "198.51.100.3", "lee-laptop", user="lee"))
            assert other["event_id"], other
            s, e = srv.call("GET", "/api/login/events/" + d["event_id"])
            assert e["outcome_pending"] is False and e["outcome"] is None, e
            again = analyze(attempt("2026-11-12T11:05:00Z", "203.0.113.10", "kim-desktop"))
            assert "new device" not in again["reasons"], again
        check("a challenge with no outcome is learned once the attempts' clock passes its grace period", grace)

        def errors():
            d = analyze(attempt("2026-11-13T10:00:00Z", "203.0.113.10", "kim-laptop"))
            path = "/api/login/events/%s/outcome" % d["event_id"]
            assert srv.call("POST", path, {"outcome": "passed"}, token=svc)[0] == 400
            assert srv.call("POST", path, ["allowed"], token=svc)[0] == 400
            assert srv.call("POST", "/api/login/events/ffffffffffffffffffffffff/outcome", {"outcome": "allowed"},
                            token=svc)[0] == 404
            s, r = srv.call("POST", path, {"outcome": "allowed"}, token=svc)
            assert s == 200 and r["learned"] is False, (s, r)          # allowed and learned already
            assert srv.call("POST", path, {"outcome": "allowed"}, token=svc)[0] == 200    # the same again
            s, r = srv.call("POST", path, {"outcome": "blocked"}, token=svc)
            assert s == 409 and r["error"]["code"] == "conflict", (s, r)
            assert srv.call("POST", path, {"outcome": "allowed"}, token="")[0] == 401
        check("the outcome endpoint: 400 for a bad outcome, 404, 409 for a different one, 401 without a token", errors)

        def analyst_states():
            # kim really did fly to Lisbon with a new phone: blocked, an alert
            trip = analyze(attempt("2026-11-14T10:00:00Z", "85.240.1.9", "kim-newphone", "Lisbon", "PT", 38.7, -9.1))
            assert trip["action"] == "block" and trip["alert_id"], trip
            s, a = srv.call("PUT", "/api/dashboard/alerts/" + trip["alert_id"], {"status": "false_positive", "user_state": "sideways"})
            assert s == 400, (s, a)
            s, a = srv.call("GET", "/api/dashboard/alerts/" + trip["alert_id"])
            assert a["status"] == "open", a                                # a bad user_state changes nothing
            s, a = srv.call("PUT", "/api/dashboard/alerts/" + trip["alert_id"], {"status": "false_positive", "user_state": "safe"})
            assert s == 200 and a["status"] == "false_positive", (s, a)
            assert a["user_state"]["state"] == "safe" and a["user_state"]["learned_events"] == 1, a
            again = analyze(attempt("2026-11-14T12:00:00Z", "85.240.1.9", "kim-newphone", "Lisbon", "PT", 38.7, -9.1))
            assert "new device" not in again["reasons"] and again["risk_score"] < trip["risk_score"], (trip, again)
            s, p = srv.call("GET", "/api/users/kim/profile")
            assert s == 200 and p["risk_state"]["state"] == "safe" and p["risk_state"]["set_by"] == "root", p
            assert "kim-newphone" in [d["device_id"] for d in p["devices"]], p["devices"]
            # then the account is found compromised: every attempt high until cleared
            s, r = srv.call("PUT", "/api/users/kim/state", {"state": "compromised"})
            assert s == 200 and r["state"] == "compromised" and r["set_by"] == "root", (s, r)
            d = analyze(attempt("2026-11-15T09:00:00Z", "203.0.113.10", "kim-laptop"))
            assert d["action"] == "block" and d["rules"][0]["name"] == "account_state", d
            assert d["reasons"][0].startswith("an analyst (root) marked this account compromised on"), d["reasons"]
            s, r = srv.call("PUT", "/api/users/kim/state", {"state": "at_risk"})
            d = analyze(attempt("2026-11-15T09:30:00Z", "203.0.113.10", "kim-laptop"))
            assert d["action"] == "challenge" and "account_state" in [x["name"] for x in d["rules"]], d
            s, r = srv.call("PUT", "/api/users/kim/state", {"state": None})
            assert s == 200 and r["state"] is None, (s, r)
            d = analyze(attempt("2026-11-15T10:00:00Z", "203.0.113.10", "kim-laptop"))
            assert d["action"] == "allow", d
            assert srv.call("PUT", "/api/users/nobody/state", {"state": "at_risk"})[0] == 404
            assert srv.call("PUT", "/api/users/kim/state", {"state": "hacked"})[0] == 400
            assert srv.call("PUT", "/api/users/kim/state", {"state": "safe", "why": "x"})[0] == 400
            assert srv.call("PUT", "/api/users/kim/state", {"state": "safe"}, token=svc)[0] == 403
        check("analysts' word on an account: safe from an alert learns its attempt; compromised and at risk weigh on every "
              "attempt until cleared", analyst_states)

        check_clean_exit(state)
    finally:
        cleanup(state, tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

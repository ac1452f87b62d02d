#!/usr/bin/env python3
"""End-to-end: alerts and the dashboard. Starts from an empty database, plays
a short story with times around now, and checks the alerts (count,
severity, dedupe), their triage and the dashboard's numbers against values
counted by hand. TAP."""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, finish  # noqa: E402
from test_story import Server, PARIS, SYDNEY, LAPTOP  # noqa: E402


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    srv = Server()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    try:
        # The server helper signs in its two accounts (root, svc) from
        # 127.0.0.1: riskd records its own sign-ins as login events of the
        # users riskd:root and riskd:svc, so every count below has them.
        OWN = 2

        def empty():
            s, st = srv.call("GET", "/api/dashboard/stats")
            assert s == 200 and st["total"]["attempts"] == OWN and st["last_24h"]["distinct_users"] == OWN, st
            assert st["total"]["by_risk_level"]["low"] == OWN and st["total"]["distinct_ips"] == 1, st
            s, ev = srv.call("GET", "/api/login/events?user_id=riskd:root")
            assert s == 200 and ev["total"] == 1 and ev["events"][0]["success"] is True, ev
            s, al = srv.call("GET", "/api/dashboard/alerts")
            assert s == 200 and al == {"alerts": [], "total": 0, "page": 1, "per_page": 20}, al
            s, tl = srv.call("GET", "/api/dashboard/timeline?hours=24")
            assert s == 200 and len(tl["buckets"]) in (24, 25) and sum(b["attempts"] for b in tl["buckets"]) == OWN, tl
            s, top = srv.call("GET", "/api/dashboard/top-risks")
            assert s == 200 and top["users"] == [], top     # riskd's own accounts are not the site's users
            s, top = srv.call("GET", "/api/dashboard/top-risks?hours=0")
            assert s == 200 and top["users"] == [], top
        check("a fresh database: only the test accounts' own sign-ins, no alerts, every bucket present", empty)

        story = {}

        def alerts_open_and_dedupe():
            # carol: normal logins 5, 4, 3 and 2 days ago and 4 hours ago, from Paris on her laptop
            times = [now - datetime.timedelta(days=d) for d in (5, 4, 3, 2)] + [now - datetime.timedelta(hours=4)]
            for t in times:
                d = srv.analyze(user_id="carol", ip_address="192.0.2.50", timestamp=iso(t), location=PARIS, device=LAPTOP)
                assert d["alert_id"] is None and d["risk_level"] == "low", d
            # a takeover from Sydney an hour later: impossible travel, critical, one alert
            a = srv.analyze(user_id="carol", ip_address="203.0.113.66", timestamp=iso(now - datetime.timedelta(hours=3)),
                            location=SYDNEY, device={"device_id": "x-phone", "user_agent": "Chrome/119"})
            assert a["risk_level"] == "critical" and a["alert_id"], a
            assert a["rules"][0]["name"] == "impossible_travel", a["rules"]
            # bob: 12 failed attempts in 12 minutes on an account never used from any device:
            # brute force from the 6th (5 failures before it), high at the 8th, critical at the 11th
            base = (now - datetime.timedelta(hours=2)).replace(minute=5, second=0)
            bob = [srv.analyze(user_id="bob", ip_address="198.51.100.7", success=False,
                               timestamp=iso(base + datetime.timedelta(minutes=k))) for k in range(12)]
            levels = [d["risk_level"] for d in bob]
            assert levels == ["low"] * 5 + ["medium"] * 2 + ["high"] * 3 + ["critical"] * 2, levels
            ids = {d["alert_id"] for d in bob[7:]}
            assert len(ids) == 1 and None not in ids and all(d["alert_id"] is None for d in bob[:7]), [d["alert_id"] for d in bob]
            story.update(alert=a["alert_id"], bob_alert=ids.pop(), takeover=a, bob=bob)
            s, al = srv.call("GET", "/api/dashboard/alerts")
            assert al["total"] == 2, al
            by_id = {x["alert_id"]: x for x in al["alerts"]}
            x = by_id[story["alert"]]
            assert x["severity"] == "critical" and x["status"] == "open" and x["event_count"] == 1, x
            assert x["cause"] == "impossible_travel", x
            y = by_id[story["bob_alert"]]
            # opened at high, raised to critical by the events that joined it
            assert y["severity"] == "critical" and y["event_count"] == 5 and y["cause"] == "brute_force", y
            assert al["alerts"][0]["alert_id"] == story["bob_alert"], al   # newest first
            s, f = srv.call("GET", "/api/dashboard/alerts?severity=critical&user_id=carol")
            assert f["total"] == 1 and f["alerts"][0]["alert_id"] == story["alert"], f
        check("a takeover opens one critical alert; a brute-force burst opens one alert its repeats join and raise",
              alerts_open_and_dedupe)

        def detail_and_triage():
            aid = story["alert"]
            s, d = srv.call("GET", "/api/dashboard/alerts/" + aid)
            assert s == 200 and len(d["events"]) == 1 and d["history"][0]["status"] == "open", d
            assert d["history"][0]["by"] == "riskd" and d["reasons"], d
            s, d = srv.call("GET", "/api/dashboard/alerts/" + story["bob_alert"])
            assert len(d["events"]) == 5, d
            steps = [("investigating", 200), ("investigating", 400), ("resolved", 200), ("investigating", 400),
                     ("open", 200), ("false_positive", 200), ("bogus", 400)]
            for status, want in steps:
                s, r = srv.call("PUT", "/api/dashboard/alerts/" + aid, {"status": status, "note": "step " + status})
                assert s == want, (status, s, r)
            s, d = srv.call("GET", "/api/dashboard/alerts/" + aid)
            assert [h["status"] for h in d["history"]] == ["open", "investigating", "resolved", "open", "false_positive"], d["history"]
            assert d["history"][1]["note"] == "step investigating" and d["history"][1]["by"] == "root", d["history"][1]
            assert d["status"] == "false_positive", d
            assert srv.call("PUT", "/api/dashboard/alerts/000000000000000000000000", {"status": "open"})[0] == 404
            assert srv.call("GET", "/api/dashboard/alerts/nope")[0] == 404
            assert srv.call("PUT", "/api/dashboard/alerts/" + aid, {"note": "no status"})[0] == 400
        check("an alert's detail and triage: allowed and refused transitions, with who, when and notes", detail_and_triage)

        def numbers():
            s, st = srv.call("GET", "/api/dashboard/stats")
            t = st["total"]
            assert t["attempts"] == 18 + OWN and t["failures"] == 12 and t["distinct_users"] == 2 + OWN, t
            assert t["by_risk_level"] == {"low": 10 + OWN, "medium": 2, "high": 3, "critical": 3}, t
            assert t["alerts_by_status"] == {"open": 1, "investigating": 0, "resolved": 0, "false_positive": 1}, t
            assert t["alerts_by_severity"] == {"low": 0, "medium": 0, "high": 0, "critical": 2}, t
            assert t["distinct_ips"] == 3 + 1, t
            l24 = st["last_24h"]
            assert l24["attempts"] == 14 + OWN and l24["failures"] == 12 and l24["distinct_users"] == 2 + OWN, l24
            s, tl = srv.call("GET", "/api/dashboard/timeline?hours=6")
            assert sum(b["attempts"] for b in tl["buckets"]) == 14 + OWN and sum(b["alerts"] for b in tl["buckets"]) == 2, tl
            bob_bucket = [b for b in tl["buckets"] if b["attempts"] == 12]
            assert len(bob_bucket) == 1 and bob_bucket[0]["failures"] == 12, tl
            want = round(sum(d["risk_score"] for d in story["bob"]) / 12, 2)
            assert abs(bob_bucket[0]["mean_risk"] - want) < 0.011, (bob_bucket, want)
            s, tl = srv.call("GET", "/api/dashboard/timeline?hours=168&bucket=day")
            assert sum(b["attempts"] for b in tl["buckets"]) == 18 + OWN and len(tl["buckets"]) in (7, 8), tl  # a week: all of it
            s, top = srv.call("GET", "/api/dashboard/top-risks?hours=24")
            users = [u["user_id"] for u in top["users"]]
            assert users == ["bob", "carol"], top   # bob's burst tops out above carol's takeover
            assert top["users"][1]["max_risk"] == story["takeover"]["risk_score"] and top["users"][1]["open_alerts"] == 0, top
            assert top["users"][0]["max_risk"] == story["bob"][-1]["risk_score"] and top["users"][0]["open_alerts"] == 1, top
            s, top = srv.call("GET", "/api/dashboard/top-risks?hours=0&limit=1")
            assert len(top["users"]) == 1 and top["users"][0]["attempts"] == 12, top   # bob, all time
            for bad in ("/api/dashboard/timeline?bucket=week", "/api/dashboard/timeline?hours=0",
                        "/api/dashboard/top-risks?limit=0", "/api/dashboard/alerts?status=closed",
                        "/api/dashboard/alerts?per_page=101", "/api/dashboard/alerts?since=today"):
                assert srv.call("GET", bad)[0] == 400, bad
            s, none = srv.call("GET", "/api/dashboard/alerts?user_id=nobody&page=3")
            assert none["alerts"] == [] and none["total"] == 0, none
        check("the dashboard's numbers match the story, and bad parameters are 400", numbers)

        def stuffing():
            # one address tries eight new accounts in eight minutes, half an hour ago
            base = (now - datetime.timedelta(minutes=30)).replace(second=0)
            docs = [srv.analyze(user_id="victim%d" % i, ip_address="198.51.100.66", success=False,
                                timestamp=iso(base + datetime.timedelta(minutes=i))) for i in range(8)]
            # failing on accounts never used from any device: the stuffing itself, counted from the
            # third account tried before (rules/credential_stuffing.lua)
            assert all("credential_stuffing" in {r["name"] for r in d["rules"]} for d in docs[3:]), docs[3]["rules"]
            assert not any("credential_stuffing" in {r["name"] for r in d["rules"]} for d in docs[:3]), docs[2]["rules"]
            opened = {d["alert_id"] for d in docs if d["alert_id"]}
            levels = [d["risk_level"] for d in docs]
            s, st = srv.call("GET", "/api/dashboard/stats")
            t = st["total"]
            assert t["attempts"] == 26 + OWN and t["failures"] == 20 and t["distinct_users"] == 10 + OWN, t
            assert t["distinct_ips"] == 4 + 1, t
            for lv in ("low", "medium", "high", "critical"):
                base_n = {"low": 10 + OWN, "medium": 2, "high": 3, "critical": 3}[lv]
                assert t["by_risk_level"][lv] == base_n + levels.count(lv), (lv, t, levels)
            s, al = srv.call("GET", "/api/dashboard/alerts")
            assert al["total"] == 2 + len(opened), (al["total"], opened)   # each victim is a new user: one alert each at most
            s, top = srv.call("GET", "/api/dashboard/top-risks?hours=1&limit=20")
            assert {u["user_id"] for u in top["users"]} == {"victim%d" % i for i in range(8)}, top
        check("one address trying many users: credential stuffing on every attempt from the 4th, counted everywhere",
              stuffing)
    finally:
        srv.stop()
    crash_replay(now)
    return finish()


def crash_replay(now):
    """The writer sums the dashboard's summaries in memory (here for a minute):
    a report has them written first, and after kill -9 the next start
    rebuilds the unwritten ones from the events, exactly once."""
    srv = Server(env={"RISKD_SQLITE_SUMMARY_MS": "60000"})
    try:
        answered = []

        def send(first, n):
            for i in range(first, first + n):
                d = srv.analyze(user_id="crash%d" % (i % 7), ip_address="192.0.2.%d" % (10 + i % 5), success=i % 4 != 0,
                                timestamp=iso(now - datetime.timedelta(minutes=90 - i)), location=PARIS, device=LAPTOP)
                answered.append(d["event_id"])

        def counts():
            s, st = srv.call("GET", "/api/dashboard/stats")
            assert s == 200, st
            s, ev = srv.call("GET", "/api/login/events?per_page=1")
            assert s == 200, ev
            return st["total"], ev["total"]

        def reports_see_every_answer():
            send(0, 30)
            t, events = counts()
            assert t["attempts"] == events == 30 + 2, (t, events)   # and the test accounts' own sign-ins
            assert t["failures"] == 8 and t["distinct_users"] == 7 + 2 and t["distinct_ips"] == 5 + 1, t
        check("summaries summed in memory: the dashboard still counts every answered analysis", reports_see_every_answer)

        def replayed_once():
            send(30, 30)
            srv.crash_and_restart()
            for eid in answered:
                s, d = srv.call("GET", "/api/login/events/" + eid)
                assert s == 200, (eid, s, d)
            t, events = counts()
            assert events >= 60 + 2 and t["attempts"] == events, (t, events)
            assert t["failures"] == 15 and t["distinct_users"] == 7 + 2 and t["distinct_ips"] == 5 + 1, t
            srv.crash_and_restart()
            t2, _ = counts()
            assert t2 == t, (t, t2)
        check("kill -9 with summaries unwritten: every answer kept, the summaries rebuilt from the events once",
              replayed_once)
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())

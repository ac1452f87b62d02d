#!/usr/bin/env python3
"""End-to-end: a scripted story replayed through POST /api/login/analyze on
a real server (SQLite store, the shipped rules, no model): a user's normal
week, then a takeover from another continent on a new device, impossible
travel, a brute-force burst and one address trying many users. Checks the
levels, actions, reasons and rule results the story must produce. TAP."""
import http.client
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "riskd")))
from tap import check, finish


E2E_SECRET = "e2e-secret-that-is-long-enough-0123456789"
ADMIN_PW = "correct horse battery staple"


def listening_port(path, start=0):
    """The port of the server's "listening" line in its log from offset start,
    or None yet. Only whole lines are read (the server may be writing one);
    a line that is not JSON fails the test with the whole log."""
    with open(path) as f:
        f.seek(start)
        for line in f:
            if not line.endswith("\n"):
                return None          # a line the server is writing right now: read it next time
            try:
                d = json.loads(line)
            except ValueError:
                raise AssertionError("a log line that is not JSON: %r\n%s" % (line, open(path).read()))
            if d.get("msg") == "listening":
                return d["port"]
    return None


class Server:
    """A server on a fresh SQLite store with two accounts: root (admin), whose
    token call() sends, and svc (service), whose token analyze() sends."""

    def __init__(self, env=None, models=None, sign_in=True, hostile_rule=True, extra_rules=None, rules_from=None):
        self.tmp = tempfile.mkdtemp(prefix="riskd-story-")
        env = dict({"JWT_SECRET": E2E_SECRET}, **(env or {}))
        for name, role in (("root", "admin"), ("svc", "service")):
            p = subprocess.run([BIN, "user", "add", name, "--role", role, "--db", "sqlite:" + os.path.join(self.tmp, "db")],
                               input=ADMIN_PW + "\n", capture_output=True, text=True, timeout=30, cwd=self.tmp)
            assert p.returncode == 0, p
        self.rules = os.path.join(self.tmp, "rules")
        shutil.copytree(rules_from or os.path.join(ROOT, "rules"), self.rules)
        # A hostile rule: it loops. The request must still succeed.
        with open(os.path.join(self.rules, "zz_loops.lua"), "w") if hostile_rule else open(os.devnull, "w") as f:
            f.write("return { name = 'loops', description = 'test', evaluate = function() while true do end end }\n")
        for name, text in (extra_rules or {}).items():
            with open(os.path.join(self.rules, name), "w") as f:
                f.write(text)
        os.makedirs(os.path.join(self.tmp, "models"), exist_ok=True)   # a named folder must exist
        self.log = open(os.path.join(self.tmp, "log"), "w+")
        self.argv = [BIN, "serve", "--port", "0", "--workers", "2", "--scripts",
                     os.path.join(ROOT, "scripts"), "--rules", self.rules, "--models",
                     models or os.path.join(self.tmp, "models"), "--db", "sqlite:" + os.path.join(self.tmp, "db")]
        self.env = dict(os.environ, **env)
        self._start()
        self.tokens = {}
        if env["JWT_SECRET"] and sign_in:
            for name in ("root", "svc"):
                status, d = self.call("POST", "/api/auth/login", {"username": name, "password": ADMIN_PW}, token="")
                assert status == 200, (status, d)
                self.tokens[name] = d["token"]

    def _start(self):
        start = self.log.seek(0, os.SEEK_END)
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=self.log, cwd=self.tmp, env=self.env)
        deadline = time.time() + 10
        self.port = None
        while time.time() < deadline and not self.port:
            time.sleep(0.05)
            self.port = listening_port(os.path.join(self.tmp, "log"), start)
        assert self.port, open(os.path.join(self.tmp, "log")).read()

    def crash_and_restart(self):
        """kill -9, then a new process on the same database (tokens stay valid)."""
        self.proc.kill()
        self.proc.wait(15)
        self._start()

    def call(self, method, path, body=None, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        if token is None:
            token = self.tokens.get("root", "")
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def analyze(self, **kw):
        status, doc = self.call("POST", "/api/login/analyze", kw, token=self.tokens["svc"])
        assert status == 200, (status, doc)
        return doc

    def stop(self):
        """Stops the server; returns what was wrong with its exit (a status
        other than 0, a sanitizer report in its log), or None."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(15)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if code != 0 or "Sanitizer" in text or "runtime error:" in text:
            return "exit status %d; log tail:\n%s" % (code, text[-12000:])
        return None


def check_clean_exit(srv):
    """The last check of a suite: the server stopped cleanly (under ASan and
    UBSan, with no leak or error report)."""
    why = srv.stop()

    def clean():
        assert why is None, why
    check("the server exits 0 on SIGTERM with no sanitizer report", clean)


PARIS = {"country": "FR", "city": "Paris", "latitude": 48.8566, "longitude": 2.3522}
SYDNEY = {"country": "AU", "city": "Sydney", "latitude": -33.8688, "longitude": 151.2093}
NEW_YORK = {"country": "US", "city": "New York", "latitude": 40.7128, "longitude": -74.0060}
LAPTOP = {"device_id": "alice-laptop", "user_agent": "Mozilla/5.0 Firefox/120.0", "os": "Linux", "browser": "Firefox"}


def rules_of(doc):
    return {r["name"] for r in doc["rules"]}


def degraded():
    """With the database locked by someone else, the answer still comes in
    time, degraded, with the configured action."""
    import sqlite3
    srv = Server()
    try:
        def locked():
            srv.analyze(user_id="carol", ip_address="192.0.2.5", timestamp="2023-11-10T09:00:00Z")
            holder = sqlite3.connect(os.path.join(srv.tmp, "db"), timeout=1, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                t0 = time.time()
                d = srv.analyze(user_id="carol", ip_address="192.0.2.5", timestamp="2023-11-10T10:00:00Z")
                took = time.time() - t0
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert d.get("degraded") is True and d["action"] == "challenge" and d["event_id"] is None, d
            assert took < 4, "took %.1f s" % took   # the store's 1 s wait, not the 5 s request budget
            d = srv.analyze(user_id="carol", ip_address="192.0.2.5", timestamp="2023-11-10T11:00:00Z")
            assert "degraded" not in d and d["event_id"], d
        check("a locked store gives a degraded answer in time, then recovers", locked)
    finally:
        srv.stop()


def run_command():
    """riskd run: the same pipeline without HTTP."""
    tmp = tempfile.mkdtemp(prefix="riskd-run-")
    try:
        def batch():
            script = os.path.join(tmp, "batch.lua")
            with open(script, "w") as f:
                f.write("""
local analyze = require("lib.analyze")
local time = require("lib.time")
local rules = require("riskd.rules")
local deps = { store = require("riskd.store").worker(), rules = rules, features = require("riskd.features"),
               config = rules.config(), format_time = time.format }
local levels = {}
for i = 1, tonumber(arg[1]) do
    local r = analyze.analyze({ user_id = "u", ip_address = "192.0.2.1", ts = 1700000000000 + i * 60000,
                                success = false }, deps)
    levels[#levels + 1] = r.risk_level
end
print(table.concat(levels, " "))
return 3
""")
            env = dict(os.environ, RISKD_DB="sqlite:" + os.path.join(tmp, "db"), RISKD_SCRIPTS=os.path.join(ROOT, "scripts"),
                       RISKD_RULES=os.path.join(ROOT, "rules"), RISKD_MODELS=os.path.join(tmp, "models"))
            p = subprocess.run([BIN, "run", script, "8"], capture_output=True, text=True, env=env, timeout=60)
            assert p.returncode == 3, (p.returncode, p.stderr)        # the script's return value
            levels = p.stdout.split()
            assert len(levels) == 8 and levels[0] == "low" and levels[-1] != "low", levels  # brute force builds up
            assert "riskd run: store sqlite:%s (sqlite)" % os.path.join(tmp, "db") in p.stderr, p.stderr
            p = subprocess.run([BIN, "run", os.path.join(tmp, "missing.lua")], capture_output=True, text=True, env=env)
            assert p.returncode == 1 and "missing.lua" in p.stderr, p.stderr
        check("riskd run drives the pipeline without HTTP", batch)

        def settings():
            script = os.path.join(tmp, "which.lua")
            with open(script, "w") as f:
                f.write('print(require("riskd.store").worker():backend(), ...)\n')
            env = dict(os.environ, RISKD_DB="sqlite:" + os.path.join(tmp, "db"), RISKD_SCRIPTS=os.path.join(ROOT, "scripts"),
                       RISKD_RULES=os.path.join(ROOT, "rules"), RISKD_MODELS=os.path.join(tmp, "models"))
            p = subprocess.run([BIN, "run", "--db", "mem:", script, "--db", "x"], capture_output=True, text=True, env=env, timeout=60)
            assert p.returncode == 0 and p.stdout.split() == ["memory", "--db", "x"], (p.stdout, p.stderr)  # after the script: its own
            assert "riskd run: store mem: (memory)" in p.stderr, p.stderr
            p = subprocess.run([BIN, "run", "--db=mongodb://ops:s3cret@127.0.0.1:1/riskd?serverSelectionTimeoutMS=300", script],
                               capture_output=True, text=True, env=env, timeout=60)
            assert "s3cret" not in p.stderr, p.stderr                   # never the password
            p = subprocess.run([BIN, "run", "--no-such-setting", "1", script], capture_output=True, text=True, env=env)
            assert p.returncode == 2 and "unknown option '--no-such-setting'" in p.stderr, p.stderr
        check("riskd run --db URI SCRIPT: the server's settings before the script, the store it opened on stderr", settings)
    finally:
        shutil.rmtree(tmp)


def enrichment():
    """With MaxMind databases (built by tests/data/make_mmdb.pl), attempts
    without a location are placed, and the network owner feeds rules."""
    mm = tempfile.mkdtemp(prefix="riskd-mmdb-")
    subprocess.run(["perl", os.path.join(ROOT, "tests", "data", "make_mmdb.pl"), mm], check=True)
    srv = Server(env={"RISKD_GEOIP_DB": os.path.join(mm, "city.mmdb"), "RISKD_ASN_DB": os.path.join(mm, "asn.mmdb")})
    try:
        def placed():
            status, h = srv.call("GET", "/healthz")
            assert status == 200 and h["enrichment"] == "on" and h["store"] == "sqlite", h
            for day in range(1, 7):   # dana lives in Paris (203.0.113.0/24 in the test database)
                d = srv.analyze(user_id="dana", ip_address="203.0.113.%d" % day, timestamp="2023-11-%02dT09:00:00Z" % day,
                                device={"device_id": "d-laptop"})
                assert d["risk_level"] == "low", d
            d = srv.analyze(user_id="dana", ip_address="198.51.100.9", timestamp="2023-11-06T11:00:00Z",
                            device={"device_id": "d-laptop"})
            assert "impossible_travel" in rules_of(d), d["rules"]          # Sydney two hours after Paris
            assert "new_asn" in rules_of(d) and "new network owner (AS64500 Example Hosting)" in d["reasons"], d
            assert d["features"]["new_asn"] == 1, d["features"]
            status, page = srv.call("GET", "/api/login/events?user_id=dana&per_page=1")
            assert page["events"][0]["location"]["city"] == "Sydney", page["events"][0]
        check("enrichment places attempts without a location and spots a new network owner", placed)
    finally:
        srv.stop()
        shutil.rmtree(mm)
    def off():
        srv2 = Server()
        try:
            assert srv2.call("GET", "/healthz")[1]["enrichment"] == "off"
        finally:
            srv2.stop()
    check("without databases /healthz says enrichment is off", off)


def main():
    enrichment()
    run_command()
    degraded()
    srv = Server()
    try:
        week = []

        def normal_week():
            for day in range(6, 11):          # Mon 6 .. Fri 10 Nov 2023, 08:55 and 13:30 UTC
                for hm in ("08:55", "13:30"):
                    week.append(srv.analyze(user_id="alice", ip_address="192.0.2.%d" % (10 + day),
                                            timestamp="2023-11-%02dT%s:00Z" % (day, hm), location=PARIS, device=LAPTOP))
            for d in week:
                assert d["risk_level"] == "low" and d["action"] == "allow", d
                assert d["event_id"] and d["alert_id"] is None, d
                assert [e["rule"] for e in d["rule_errors"]] == ["loops"], d["rule_errors"]
            assert week[0]["reasons"] == [], week[0]   # the very first login is not suspicious by itself
        check("a normal week: every login low and allowed, the first one included", normal_week)

        def takeover():
            d = srv.analyze(user_id="alice", ip_address="203.0.113.77", timestamp="2023-11-10T15:30:00Z",
                            location=SYDNEY, device={"device_id": "unknown-phone", "user_agent": "Chrome/119 Android"})
            assert d["risk_level"] == "critical" and d["action"] == "block", d
            assert {"new_country", "new_device", "impossible_travel", "new_network", "familiarity"} <= rules_of(d), d["rules"]
            assert any(r.startswith("impossible travel: 16,9") for r in d["reasons"]), d["reasons"]
            assert d["reasons"][0].startswith("impossible travel"), d["reasons"]   # strongest first
            assert 80 <= d["risk_score"] <= 100 and d["risk_score"] != round(d["risk_score"]), d["risk_score"]
            fams = {r["name"]: r["family"] for r in d["rules"]}
            assert fams["impossible_travel"] == "geography" and fams["new_device"] == "device_novelty", fams
            # the score: within a family the strongest rule, families multiplied as likelihood ratios;
            # geography as its rules counted for alice's week of history (history_logins)
            assert all(("counted" in r) == (r["family"] == "geography") for r in d["rules"]), d["rules"]
            travel = next(r for r in d["rules"] if r["name"] == "impossible_travel")
            assert 50 < travel["counted"] < travel["score"], travel
            strongest = {}
            for r in d["rules"]:
                strongest[r["family"]] = max(strongest.get(r["family"], 0), r.get("counted", r["score"]))
            keep = 1.0
            for s in strongest.values():
                keep *= 1 - s / 100
            assert abs(d["risk_score"] - 100 * (1 - keep)) < 0.01, (d["risk_score"], d["rules"])
        check("a takeover from another continent on a new device: critical, blocked, with reasons", takeover)

        def travel_known_device():
            d = srv.analyze(user_id="alice", ip_address="198.51.100.20", timestamp="2023-11-10T16:00:00Z",
                            location=NEW_YORK, device=LAPTOP)
            assert "impossible_travel" in rules_of(d) and "new_device" not in rules_of(d), d["rules"]
            assert d["risk_level"] in ("high", "critical") and d["action"] in ("challenge", "block"), d
        check("impossible travel on a known device is still high risk", travel_known_device)

        def brute_force():
            srv.analyze(user_id="bob", ip_address="192.0.2.200", timestamp="2023-11-10T09:00:00Z", location=PARIS)
            docs = [srv.analyze(user_id="bob", ip_address="203.0.113.%d" % i, success=False,
                                timestamp="2023-11-10T10:%02d:00Z" % i) for i in range(1, 8)]
            assert "brute_force" not in rules_of(docs[3]), docs[3]["rules"]      # 4 failures before it
            assert "brute_force" in rules_of(docs[5]), docs[5]["rules"]          # 5 failures before it
            assert "5 failed attempts in the last hour" in docs[5]["reasons"], docs[5]["reasons"]
            assert docs[6]["risk_score"] > docs[5]["risk_score"], (docs[5]["risk_score"], docs[6]["risk_score"])
            later = srv.analyze(user_id="bob", ip_address="192.0.2.200", timestamp="2023-11-10T12:30:00Z", location=PARIS)
            assert "brute_force" not in rules_of(later), later["rules"]        # the hour has passed
        check("a brute-force burst raises the risk with each failure, and then fades", brute_force)

        def stuffing():
            docs = [srv.analyze(user_id="victim%d" % i, ip_address="198.51.100.66", success=False,
                                timestamp="2023-11-10T20:%02d:00Z" % i) for i in range(8)]
            # accounts never used from any device, failing: the stuffing itself, counted from the
            # third account tried before (a busy office address needs five, rules/config.lua)
            assert "credential_stuffing" not in rules_of(docs[2]), docs[2]["rules"]
            assert "credential_stuffing" in rules_of(docs[3]), docs[3]["rules"]
            assert "this address tried 3 accounts in the last hour" in docs[3]["reasons"], docs[3]["reasons"]
            assert [d["risk_score"] for d in docs[3:]] == [60, 65, 70, 75, 80], docs[3:]
            assert docs[7]["risk_level"] == "critical", docs[7]
        check("one address trying many users is credential stuffing", stuffing)

        def history():
            status, page = srv.call("GET", "/api/login/events?user_id=alice&per_page=5")
            assert status == 200 and page["total"] == 12 and len(page["events"]) == 5, page
            assert page["events"][0]["timestamp"] == "2023-11-10T16:00:00.000Z", page["events"][0]
            status, hi = srv.call("GET", "/api/login/events?user_id=alice&risk_level=critical")
            assert status == 200 and hi["total"] >= 1, hi
            eid = hi["events"][0]["event_id"]
            status, e = srv.call("GET", "/api/login/events/" + eid)
            assert status == 200 and e["risk_level"] == "critical" and e["location"]["country"] in ("AU", "US"), e
            assert e["user_id"] == "alice" and e["ip_address"] and e["device"]["user_agent"], e
            assert e["risk_score"] >= 80 and e["action"] == "block" and e["features"], e
            # the stored document leaves out what the event's columns hold; reading puts it back (above)
            import sqlite3
            db = sqlite3.connect(os.path.join(srv.tmp, "db"), timeout=5)
            try:
                stored = json.loads(db.execute("SELECT doc FROM events WHERE id = ?", (eid,)).fetchone()[0])
            finally:
                db.close()
            assert not {"user_id", "ts", "ip_address", "user_agent", "risk_score", "risk_level"} & set(stored), stored
            assert stored["features"] and stored["rules"] and stored["reasons"], stored
            status, x = srv.call("GET", "/api/login/events/%s/explain" % eid)
            assert status == 200 and x["rules"] and "features" in x, x
            assert srv.call("GET", "/api/login/events/nope")[0] == 404
            assert srv.call("GET", "/api/login/events?per_page=500")[0] == 400
            assert srv.call("GET", "/api/login/events?risk_level=severe")[0] == 400
        check("the events are listed, filtered, fetched and explained", history)

        def bad_input():
            for body, field in [({"ip_address": "1.2.3.4"}, "user_id"), ({"user_id": "x"}, "ip_address"),
                                ({"user_id": "x", "ip_address": "1.2.3.4", "timestamp": "yesterday"}, "timestamp"),
                                ({"user_id": "x", "ip_address": "1.2.3.4", "location": {"latitude": 100, "longitude": 0}},
                                 "location.latitude")]:
                status, doc = srv.call("POST", "/api/login/analyze", body)
                assert status == 400 and doc["error"]["code"] == "invalid_field", doc
                assert field in doc["error"]["message"], (field, doc)
            status, doc = srv.call("POST", "/api/login/analyze", {"user_id": "x", "ip_address": "999.1.1.1"})
            assert status == 400 and "ip_address" in doc["error"]["message"], doc
        check("bad input is a 400 naming the field", bad_input)

        def admin_rules():
            # errors are the server's; last_error the answering worker's own (docs/api.md), and a
            # worker that ran no analysis has none: ask until one that did answers
            for _ in range(20):
                status, doc = srv.call("GET", "/api/admin/rules")
                names = {r["name"]: r for r in doc["rules"]}
                if names.get("loops", {}).get("last_error"):
                    break
            assert status == 200 and {"impossible_travel", "brute_force", "loops"} <= set(names), names.keys()
            assert names["loops"]["errors"] >= 1 and "stopped" in names["loops"]["last_error"], names["loops"]
        check("the rules are listed with their hits and errors", admin_rules)

        def rule_metrics():
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
            c.close()
            n = [int(l.split()[-1]) for l in text.splitlines() if l.startswith("riskd_rule_errors_total ")]
            assert n and n[0] >= 20, n   # the looping rule, stopped on every attempt
            per_rule = {l.split('"')[1]: int(l.split()[-1]) for l in text.splitlines()
                        if l.startswith("riskd_rule_failures_total{")}
            hits = {l.split('"')[1]: int(l.split()[-1]) for l in text.splitlines() if l.startswith("riskd_rule_hits_total{")}
            # counted for the whole server (two workers), the same in /api/admin/rules
            s, doc = srv.call("GET", "/api/admin/rules")
            names = {r["name"]: r for r in doc["rules"]}
            assert per_rule["loops"] == n[0] == names["loops"]["errors"], (per_rule, n, names["loops"])
            assert hits["impossible_travel"] >= 1 and hits["impossible_travel"] == names["impossible_travel"]["hits"], hits
            # every analysed attempt was recorded through the store writer, several per commit at times
            value = lambda name: int(re.search(r"^%s (\d+)$" % name, text, re.M).group(1))
            analysed = sum(int(l.split()[-1]) for l in text.splitlines()
                           if l.startswith('riskd_http_requests_total{route="/api/login/analyze",status="200"}'))
            assert analysed >= 20 and value("riskd_store_writes_total") >= analysed, (analysed, text)
            assert 1 <= value("riskd_store_commits_total") <= value("riskd_store_writes_total"), text
            assert value("riskd_store_largest_commit") >= 1 and value("riskd_store_commit_failures_total") == 0, text
        check("rule hits and failures are counted for the whole server, in /metrics and /api/admin/rules; the store writer's commits",
              rule_metrics)

        def rules_hot_reload():
            path = os.path.join(srv.rules, "new_device.lua")
            src = open(path).read()
            with open(path + ".tmp", "w") as f:
                f.write(src.replace('"new device"', '"a device never seen before"'))
            os.rename(path + ".tmp", path)
            tries = [0]

            def reason():
                tries[0] += 1   # a device never used before, every time
                d = srv.analyze(user_id="alice", ip_address="192.0.2.16", timestamp="2023-11-10T17:00:00Z",
                                location=PARIS, device={"device_id": "laptop-%d" % tries[0]})
                return "a device never seen before" in d["reasons"]
            deadline = time.time() + 2
            while not reason():
                assert time.time() < deadline, "edited rule not live"
                time.sleep(0.05)
            with open(path + ".tmp", "w") as f:
                f.write("return { name = 'new_device', evaluate = function( end }")
            os.rename(path + ".tmp", path)
            time.sleep(0.5)
            assert reason(), "a broken edit replaced the rule"
            log = open(os.path.join(srv.tmp, "log")).read()
            assert '"what":"rules"' in log and "new_device.lua:1:" in log, log[-500:]
        check("an edited rule is live at once; a broken edit keeps the old rule", rules_hot_reload)
    except BaseException:
        srv.stop()
        raise
    check_clean_exit(srv)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

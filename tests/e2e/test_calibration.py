#!/usr/bin/python3
"""Calibrated levels on a running server: a generated stream of logins sent
to POST /api/login/analyze in order; once the calibration has its history,
the share of legitimate attempts answered high stays within the budget
(+50 %); the thresholds are in GET /api/admin/rules and /metrics, and
survive a restart (they are kept in the store), as do the site-wide rates'
baselines the spike rules judge an hour by (in /metrics), and history
replayed with `riskd score --db` into a new store leaves the server
calibrated, and with the rates learned, as if it had seen it. The config is scaled down
(a history of 300 attempts, a window of 5,000) so that a few thousand attempts
show it."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_story import BIN, ROOT, ADMIN_PW, E2E_SECRET, listening_port  # noqa: E402

BUDGET = 0.004


class Proc:
    def __init__(self, tmp, env=None):
        self.tmp = tmp
        self.log = open(os.path.join(tmp, "log"), "a+")
        start = self.log.tell()
        self.proc = subprocess.Popen([BIN, "serve", "--port", "0", "--workers", "2", "--scripts", os.path.join(ROOT, "scripts"),
                                      "--rules", os.path.join(tmp, "rules"), "--models", os.path.join(tmp, "models"),
                                      "--db", "sqlite:" + os.path.join(tmp, "db")],
                                     stdout=self.log, stderr=self.log, cwd=tmp,
                                     env=dict(os.environ, JWT_SECRET=E2E_SECRET, **(env or {})))
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline and not self.port:
            time.sleep(0.05)
            self.port = listening_port(os.path.join(tmp, "log"), start)
        assert self.port, open(os.path.join(tmp, "log")).read()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.tokens = {}
        for name in ("root", "svc"):
            s, d = self.call("POST", "/api/auth/login", {"username": name, "password": ADMIN_PW}, token="")
            assert s == 200, (s, d)
            self.tokens[name] = d["token"]

    def call(self, method, path, body=None, token=None, raw=False):
        token = self.tokens.get("root", "") if token is None else token
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, (data.decode() if raw else json.loads(data or b"null"))

    def stop(self):
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(15)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        assert code == 0 and "Sanitizer" not in text and "runtime error:" not in text, text[-8000:]


def prepare(tmp, edit_config):
    """A server folder in tmp: the accounts root (admin) and svc (service), a
    copy of rules/ whose config.lua edit_config(text) rewrites, no models."""
    for name, role in (("root", "admin"), ("svc", "service")):
        p = subprocess.run([BIN, "user", "add", name, "--role", role, "--db", "sqlite:" + os.path.join(tmp, "db")],
                           input=ADMIN_PW + "\n", capture_output=True, text=True, timeout=30, cwd=tmp)
        assert p.returncode == 0, p
    shutil.copytree(os.path.join(ROOT, "rules"), os.path.join(tmp, "rules"))
    os.makedirs(os.path.join(tmp, "models"))
    cfg_path = os.path.join(tmp, "rules", "config.lua")
    with open(cfg_path) as f:
        cfg = edit_config(f.read())
    with open(cfg_path, "w") as f:
        f.write(cfg)


def site_rates(srv):
    """The site-wide rates in /metrics: {(baseline | history_hours, name): value}."""
    s, text = srv.call("GET", "/metrics", raw=True)
    assert s == 200, (s, text)
    return {(m.group(1), m.group(2)): float(m.group(3))
            for m in re.finditer(r'^riskd_site_rate_(baseline|history_hours)\{name="([a-z_]+)"\} (\S+)$', text, re.M)}


def check_clean_exit(state):
    """The TAP check that the server (state["srv"]) exits 0 on SIGTERM."""
    def clean_exit():
        srv, state["srv"] = state["srv"], None
        srv.stop()
    check("the server exits 0 on SIGTERM", clean_exit)


def cleanup(state, tmp):
    if state.get("srv"):
        try:
            state["srv"].stop()
        except Exception:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-calib-")
    state = {}
    try:
        def scaled(cfg):
            cfg = re.sub(r"level_budget = \{[^}]*\}", "level_budget = { high = %g, critical = 0.001 }" % BUDGET, cfg)
            cfg = re.sub(r"calibration_min_attempts = \d+", "calibration_min_attempts = 300", cfg)
            cfg = cfg.replace("calibration_window = 100000", "calibration_window = 5000")
            assert "calibration_min_attempts = 300" in cfg and "high = %g" % BUDGET in cfg
            return cfg
        prepare(tmp, scaled)
        stream = os.path.join(tmp, "stream.jsonl")
        p = subprocess.run([BIN, "generate", "--users", "150", "--days", "20", "--seed", "11", "--attack-rate", "0.03",
                            "--realistic", "--output", stream], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        attempts = [json.loads(line) for line in open(stream)]
        state["srv"] = Proc(tmp)

        levels = {}

        def warm_up_then_budget():
            srv = state["srv"]
            s, before = srv.call("GET", "/api/admin/rules")
            assert s == 200 and before["levels"]["calibrated"] is False, before["levels"]
            assert before["levels"]["high"] == 60 and before["levels"]["critical"] == 80, before["levels"]
            legit = high = fixed = 0
            for i, a in enumerate(attempts):
                label = a.pop("label")
                s, d = srv.call("POST", "/api/login/analyze", a, token=srv.tokens["svc"])
                assert s == 200, (s, d)
                if i >= 600 and label == "normal":          # after the history the calibration needs
                    legit += 1
                    high += d["risk_level"] in ("high", "critical")
                    fixed += d["risk_score"] >= 60                  # what the fixed levels would have said
            share = high / legit
            assert share <= BUDGET * 1.5, (share, high, legit)
            assert high < fixed, (high, fixed)
            s, after = srv.call("GET", "/api/admin/rules")
            assert after["levels"]["calibrated"] is True and after["levels"]["attempts"] > 300, after["levels"]
            assert 60 <= after["levels"]["high"] <= 90, after["levels"]               # the floor and the ceiling
            levels.update(after["levels"])
            print("# %d attempts, %.2f %% of %d legitimate ones after the warm-up at high (%.2f %% on fixed levels); high from %.2f"
                  % (len(attempts), 100 * share, legit, 100 * fixed / legit, after["levels"]["high"]))
        check("after the warm-up, legitimate attempts at high stay within the budget", warm_up_then_budget)

        def metrics():
            s, text = state["srv"].call("GET", "/metrics", raw=True)
            assert s == 200, (s, text)
            assert 'riskd_level_threshold{level="high"} %g' % levels["high"] in text, text[-2000:]
            assert "riskd_levels_calibrated 1" in text
        check("/metrics shows the thresholds in force", metrics)

        def site_rates_shown():
            got = site_rates(state["srv"])
            # 20 days of the stream's own time behind the baselines of the spike rules' rates
            assert got.get(("history_hours", "new_device_failures"), 0) > 400, got
            assert got.get(("history_hours", "new_device_attempts"), 0) > 400, got
            assert got[("baseline", "new_device_attempts")] > got[("baseline", "new_device_failures")] > 0, got
            rates.update(got)
        rates = {}
        check("/metrics shows the site-wide rates' baselines and their hours of history", site_rates_shown)

        def restart():
            state["srv"].stop()
            state["srv"] = Proc(tmp)
            s, d = state["srv"].call("GET", "/api/admin/rules")
            assert s == 200 and d["levels"]["calibrated"] is True, d["levels"]
            assert d["levels"]["high"] == levels["high"] and d["levels"]["critical"] == levels["critical"], (d["levels"], levels)
            got = site_rates(state["srv"])
            assert got == rates, (got, rates)
        check("the thresholds and the site-wide rates survive a restart (kept in the store)", restart)
        check_clean_exit(state)

        def history_before_going_live():
            # the same stream replayed into a new store with riskd score --db, then a server on it
            live = os.path.join(tmp, "live")
            os.makedirs(live)
            prepare(live, scaled)
            env = dict(os.environ, RISKD_RULES=os.path.join(live, "rules"), RISKD_SCRIPTS=os.path.join(ROOT, "scripts"),
                       RISKD_MODELS=os.path.join(live, "models"))

            def replay():
                p = subprocess.run([BIN, "score", "--input", stream, "--output", os.devnull,
                                    "--db", "sqlite:" + os.path.join(live, "db")],
                                   capture_output=True, text=True, timeout=300, env=env, cwd=live)
                assert p.returncode == 0, p.stderr
            replay()
            state["srv"] = Proc(live)
            s, d = state["srv"].call("GET", "/api/admin/rules")
            assert s == 200 and d["levels"]["calibrated"] is True, d["levels"]
            # the replay calibrated as the server did on the same attempts in the same order
            assert d["levels"]["high"] == levels["high"] and d["levels"]["attempts"] == levels["attempts"], (d["levels"], levels)
            # and learned the same site-wide rates
            got = site_rates(state["srv"])
            assert got == rates, (got, rates)
            # and a second replay goes on from there: a new start would count what the first did (the
            # window halves what it holds past calibration_window, so the count need not grow)
            state["srv"].stop()
            state["srv"] = None
            replay()
            state["srv"] = Proc(live)
            s, again = state["srv"].call("GET", "/api/admin/rules")
            assert again["levels"]["calibrated"] is True and again["levels"]["attempts"] != levels["attempts"], again["levels"]
        check("history replayed with riskd score --db before going live: the server starts calibrated", history_before_going_live)
        check_clean_exit(state)
    finally:
        cleanup(state, tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: the rule workflow never lies. A save answers 200 only once the
new version is live, 422 with file, line and message otherwise (nothing
written); a file that does not load never holds the others back and is shown
with its error; a server starts with a broken rule, serving its last saved
version; a folder named that does not exist is an error; the model page does
not activate a file that is not a login model. TAP."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, finish  # noqa: E402
from test_story import Server, ROOT, BIN  # noqa: E402

NEW_DEVICE = """return {
    name = "new_device",
    description = "the user has history but never used this device",
    weight = 25,
    evaluate = function(ctx)
        if ctx.features.new_device then return config.weights.new_device, "%s" end
    end,
}
"""


def seed_history(srv, user):
    """A user with a history, then an attempt from a device never seen."""
    for i in range(6):
        srv.analyze(user_id=user, ip_address="192.0.2.20", device={"device_id": "laptop", "user_agent": "UA/1"},
                    timestamp="2026-11-0%dT10:00:00Z" % (i + 1))


def new_device_reason(srv, user, n):
    d = srv.analyze(user_id=user, ip_address="192.0.2.20", device={"device_id": "phone-%d" % n, "user_agent": "UA/1"},
                    timestamp="2026-11-10T10:%02d:00Z" % n)
    return [r["reason"] for r in d["rules"] if r["name"] == "new_device"]


def main():
    srv = Server(hostile_rule=False)
    second = None
    stopped = {}
    try:
        put = lambda name, source: srv.call("PUT", "/api/admin/rules/%s/source" % name, {"source": source})  # noqa: E731
        seed_history(srv, "wanda")
        state = {"n": 0}

        def reason():
            state["n"] += 1
            return new_device_reason(srv, "wanda", state["n"])

        def refused_before_writing():
            before = srv.call("GET", "/api/admin/rules/new_device/source")[1]["source"]
            for source, text, line in (("return 42", "must return a table", None),
                                       ("return { name = 'x' }", "needs a function 'evaluate'", None),
                                       ("return { name = 'familiarity', evaluate = function() end }",
                                        "name of another rule", None),
                                       ("return {\n  name = 'new_device',\n  evaluate = function( end }\n", "", 3),
                                       ("while true do end", "budget exceeded", None)):
                s, d = put("new_device", source)
                assert s == 422 and d["error"]["code"] == "invalid_rule", (source, s, d)
                assert d["error"]["file"] == "new_device.lua" and text in d["error"]["message"], d
                if line:
                    assert d["error"]["line"] == line, d
            assert srv.call("GET", "/api/admin/rules/new_device/source")[1]["source"] == before
            assert srv.call("GET", "/api/admin/rules")[1]["broken"] == []
        check("a source that would not load (not a rule, a taken name, a syntax error, a loop) is 422 with file, "
              "line and message, and nothing is written", refused_before_writing)

        def live_when_answered():
            s, d = put("new_device", NEW_DEVICE % "a device first seen now")
            assert s == 200 and d["version"] >= 2, (s, d)
            assert reason() == ["a device first seen now"]   # the very next analysis, no wait
        check("a good save answers 200 once the new version is live: the next analysis uses it", live_when_answered)

        def broken_file_holds_nothing_back():
            with open(os.path.join(srv.rules, "zz_broken.lua"), "w") as f:
                f.write("return 42\n")
            deadline = time.time() + 5
            while time.time() < deadline:
                broken = srv.call("GET", "/api/admin/rules")[1]["broken"]
                if broken:
                    break
                time.sleep(0.1)
            assert [(b["file"], b["serving"]) for b in broken] == [("zz_broken.lua", "none")], broken
            assert "must return a table" in broken[0]["error"], broken
            metrics = subprocess.run(["curl", "-s", "http://127.0.0.1:%d/metrics" % srv.port], capture_output=True,
                                     text=True, timeout=10).stdout
            assert re.search(r"^riskd_rule_files_broken 1$", metrics, re.M), metrics[-500:]
            s, d = put("new_device", NEW_DEVICE % "another wording")   # later edits still go live
            assert s == 200, (s, d)
            assert reason() == ["another wording"]
            # an existing rule broken on disk: its last good version serves, and says so
            with open(os.path.join(srv.rules, "new_device.lua"), "w") as f:
                f.write("return { name = 'new_device', evaluate = function( end }\n")
            deadline = time.time() + 5
            while time.time() < deadline:
                broken = {b["file"]: b for b in srv.call("GET", "/api/admin/rules")[1]["broken"]}
                if "new_device.lua" in broken:
                    break
                time.sleep(0.1)
            assert broken["new_device.lua"]["serving"] == "previous" and ":1:" in broken["new_device.lua"]["error"]
            assert reason() == ["another wording"]
            os.remove(os.path.join(srv.rules, "zz_broken.lua"))
        check("a file that does not load is left out and shown with its error (API, metrics); other edits still "
              "go live; a broken edit of a rule leaves its last good version serving", broken_file_holds_nothing_back)

        def config_editable():
            s, d = put("config", "return 1")
            assert s == 422 and "must return a table" in d["error"]["message"], (s, d)
            cfg = srv.call("GET", "/api/admin/rules/config/source")[1]["source"]
            assert "weights = {}," in cfg
            s, d = put("config", cfg.replace("weights = {},", "weights = { new_device = 26 },"))
            assert s == 200, (s, d)
            assert reason() == ["another wording"]
            seed = srv.analyze(user_id="wanda", ip_address="192.0.2.20", timestamp="2026-11-11T10:00:00Z",
                               device={"device_id": "tablet", "user_agent": "UA/1"})
            assert [r["score"] for r in seed["rules"] if r["name"] == "new_device"] == [26], seed["rules"]
        check("config.lua is edited like a rule: refused when it would not load, live when answered", config_editable)

        def starts_with_a_broken_rule():
            nonlocal second
            rules = tempfile.mkdtemp(prefix="riskd-wf-rules-")
            shutil.rmtree(rules)
            shutil.copytree(srv.rules, rules)   # new_device.lua is broken on disk; its history holds "another wording"
            stopped["srv"] = True
            srv.stop()
            second = Server(hostile_rule=False, rules_from=rules)
            broken = {b["file"]: b for b in second.call("GET", "/api/admin/rules")[1]["broken"]}
            assert broken["new_device.lua"]["serving"] == "history", broken
            seed_history(second, "xena")
            assert new_device_reason(second, "xena", 1) == ["another wording"]
        check("a server starts with a broken rule on disk, serving its last saved version, and says so",
              starts_with_a_broken_rule)

        def missing_folders():
            for flag in ("--rules", "--scripts", "--models"):
                p = subprocess.run([BIN, "serve", "--port", "0", flag, "./typo"], capture_output=True, text=True,
                                   timeout=20, cwd=tempfile.gettempdir(), env=dict(os.environ, JWT_SECRET="x" * 40))
                assert p.returncode != 0 and "no such folder" in p.stderr, (flag, p.returncode, p.stderr[-300:])
        check("a --rules, --scripts or --models folder that does not exist is an error at start", missing_folders)

        def model_page():
            models = tempfile.mkdtemp(prefix="riskd-wf-models-")
            for m in ("default.model", "phishing.model"):
                shutil.copy(os.path.join(ROOT, "models", m), models)
            third = Server(hostile_rule=False, models=models)
            try:
                listed = {m["version"]: m for m in third.call("GET", "/api/admin/models")[1]["models"]}
                assert listed["default.model"]["login"] is True and listed["phishing.model"]["login"] is False, listed
                s, d = third.call("PUT", "/api/admin/models/phishing.model")
                assert s == 400 and d["error"]["code"] == "not_a_login_model", (s, d)
                assert not os.path.exists(os.path.join(models, "ACTIVE"))
            finally:
                third.stop()
        check("the model page offers and activates login models only (the phishing model is refused)", model_page)
    finally:
        if second:
            second.stop()
        if not stopped:
            srv.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())

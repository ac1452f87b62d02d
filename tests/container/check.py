#!/usr/bin/env python3
"""The container image, for real (run by tools/container-test.sh with its
podman configuration): build it from the Dockerfile, run it with the rules
and data folders mounted from the host, and check from the host that
/healthz answers, that it runs as a non-root user, that an analysis works,
that a rule written into the mounted rules folder is live in the container
without a restart, and that the data survive a restart of the container.
docker-compose.yml is validated with docker-compose. TAP, then one line
"N passed, N failed"."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from tap import check, results  # noqa: E402

IMAGE = "localhost/riskd:test"
NAME = "riskd-container-test"
SECRET = "container-test-secret-0123456789abcdef"
PASSWORD = "container test passphrase"


def podman(*args, timeout=120, input=None, check_rc=True):
    p = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, input=input)
    if check_rc and p.returncode != 0:
        raise AssertionError("podman %s: %s" % (" ".join(args), (p.stderr or p.stdout)[-2000:]))
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    def __init__(self, port):
        self.port = port
        self.token = ""

    def call(self, method, path, body=None, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        headers = {"Content-Type": "application/json"}
        tok = self.token if token is None else token
        if tok:
            headers["Authorization"] = "Bearer " + tok
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def healthy(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def sign_in(self, name):
        s, d = self.call("POST", "/api/auth/login", {"username": name, "password": PASSWORD}, token="")
        assert s == 200, (s, d)
        return d["token"]


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-container-")
    rules = os.path.join(tmp, "rules")
    data = os.path.join(tmp, "data")
    shutil.copytree(os.path.join(ROOT, "rules"), rules)
    os.makedirs(data)
    os.chown(data, 10001, 10001)          # the image's riskd user
    port = free_port()
    cli = Client(port)
    state = {}
    podman("rm", "-f", NAME, check_rc=False)

    def build():
        t0 = time.time()
        p = podman("build", "--format", "docker", "--pull=never", "--network=host", "-t", IMAGE, "-f", "Dockerfile", ROOT, timeout=1800)
        state["build_s"] = time.time() - t0
        size = int(podman("image", "inspect", IMAGE, "--format", "{{.Size}}").stdout.strip())
        state["size_mb"] = size / 1e6
        assert p.returncode == 0
    check("the image builds from the Dockerfile, offline from image registries", build)
    if "size_mb" in state:
        print("# image %s: %.0f MB, built in %.0f s" % (IMAGE, state["size_mb"], state["build_s"]), flush=True)

    def start():
        t0 = time.time()
        podman("run", "-d", "--name", NAME, "-e", "JWT_SECRET=" + SECRET, "-e", "RISKD_PORT=%d" % port,
               "-v", rules + ":/opt/riskd/rules", "-v", data + ":/opt/riskd/data", IMAGE)
        assert cli.healthy(20), podman("logs", NAME, check_rc=False).stderr[-2000:]
        state["start_s"] = time.time() - t0
        print("# from podman run to /healthz 200: %.2f s" % state["start_s"], flush=True)
    check("the container starts and /healthz answers from the host", start)

    def healthcheck():
        p = podman("healthcheck", "run", NAME, check_rc=False)
        assert p.returncode == 0, p
        uid = podman("exec", NAME, "id", "-u").stdout.strip()
        assert uid == "10001", uid
        cfg = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
        assert cfg.get("User") == "riskd", cfg.get("User")
        assert set(cfg.get("Volumes", {})) >= {"/opt/riskd/data", "/opt/riskd/rules", "/opt/riskd/scripts",
                                                 "/opt/riskd/models"}, cfg.get("Volumes")
    check("HEALTHCHECK passes; the server runs as the non-root user riskd; data, rules, scripts, models are volumes",
          healthcheck)

    def analysis():
        for name, role in (("ops", "admin"), ("svc", "service")):
            podman("exec", "-i", NAME, "riskd", "user", "add", name, "--role", role, input=PASSWORD + "\n")
        state["admin"] = cli.sign_in("ops")
        cli.token = cli.sign_in("svc")
        s, d = cli.call("POST", "/api/login/analyze", {
            "user_id": "alice", "ip_address": "203.0.113.9", "timestamp": "2026-11-20T09:00:00Z",
            "location": {"country": "FR", "city": "Paris", "latitude": 48.85, "longitude": 2.35},
            "device": {"device_id": "laptop", "user_agent": "Mozilla/5.0 Firefox/120.0"}})
        assert s == 200 and d["event_id"] and d["risk_level"] in ("low", "medium", "high", "critical"), (s, d)
        state["event"] = d["event_id"]
        s, h = cli.call("GET", "/healthz")
        assert h.get("model") == "on", h   # the image carries the default model
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/")
        r = c.getresponse()
        page = r.read().decode()
        assert r.status == 200 and "riskd console" in page and "script-src 'self'" in r.getheader("Content-Security-Policy"), r.status
        c.request("GET", "/vendor/chart.umd.min.js")
        r = c.getresponse()
        js = r.read()
        assert r.status == 200 and b"Chart.js v4" in js[:200], (r.status, js[:200])   # the console's chart library
        c.request("GET", "/node_modules/chart.js/package.json")
        r = c.getresponse()
        r.read()
        assert r.status == 404, r.status   # only what the console uses is in the image
    check("accounts made in the container sign in, an analysis is scored with the default model, the console and its"
          " chart library are served", analysis)

    def phishing():
        msg = ("From: PayPal <service@paypa1-secure.com>\r\nTo: alice@corp.example\r\nSubject: Account suspended\r\n"
               "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Verify your password within 24 hours:</p>"
               "<a href='http://paypa1-secure.com/login'>https://www.paypal.com/</a>\r\n")
        s, d = cli.call("POST", "/api/phishing/analyze", {"raw": msg})
        assert s == 200 and d["verdict"] == "phishing" and d["model_score"] is not None, (s, d)   # GMime, libpsl, the model
        assert d["urls"][0]["imitates"] == "paypal.com", d
    check("a phishing message is analysed in the container with the default phishing model", phishing)

    def live_rule():
        path = os.path.join(rules, "zz_container_probe.lua")
        with open(path + ".tmp", "w") as f:
            f.write("return { name = 'container_probe', description = 'test',"
                    " evaluate = function() return 1, 'edited on the host' end }\n")
        os.rename(path + ".tmp", path)
        deadline = time.time() + 10
        while True:
            s, d = cli.call("POST", "/api/login/analyze", {"user_id": "bob", "ip_address": "192.0.2.7"})
            assert s == 200, (s, d)
            if "container_probe" in [r["name"] for r in d["rules"]]:
                break
            assert time.time() < deadline, "the rule written on the host never became live"
            time.sleep(0.2)
    check("a rule written into the mounted rules folder is live in the container without a restart", live_rule)

    def survives_restart():
        podman("restart", "--time", "10", NAME)
        assert cli.healthy(20), podman("logs", NAME, check_rc=False).stderr[-2000:]
        s, d = cli.call("GET", "/api/login/events/" + state["event"], token=state["admin"])
        assert s == 200 and d["user_id"] == "alice", (s, d)
        cli.token = cli.sign_in("svc")     # the accounts are in the mounted data folder too
    check("events and accounts survive a restart of the container", survives_restart)

    def stops_cleanly():
        podman("stop", "--time", "15", NAME)
        code = podman("inspect", NAME, "--format", "{{.State.ExitCode}}").stdout.strip()
        assert code == "0", code
    check("SIGTERM stops the container with exit status 0", stops_cleanly)

    def compose():
        d = tempfile.mkdtemp(prefix="riskd-compose-")
        try:
            shutil.copy(os.path.join(ROOT, "docker-compose.yml"), d)
            with open(os.path.join(d, ".env"), "w") as f:
                f.write("JWT_SECRET=%s\n" % SECRET)
            for args in (["config", "--quiet"], ["--profile", "sqlite", "config", "--services"]):
                p = subprocess.run(["docker-compose", *args], cwd=d, capture_output=True, text=True, timeout=60)
                assert p.returncode == 0, p.stderr
            assert set(p.stdout.split()) == {"mongo", "mongo-init", "riskd", "riskd-sqlite"}, p.stdout
        finally:
            shutil.rmtree(d)
    check("docker-compose.yml is valid (docker-compose config), with the sqlite profile", compose)

    podman("rm", "-f", NAME, check_rc=False)
    shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % len(results))
    passed = sum(1 for r in results if r)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

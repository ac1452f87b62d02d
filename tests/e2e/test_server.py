#!/usr/bin/env python3
"""End-to-end tests: start `riskd serve` on a free loopback port and speak
HTTP to it. Routing and error cases are data (cases.json); hot reload, limits
and graceful shutdown are written out below. Prints TAP."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "riskd")))
# `riskd serve` refuses to start without a secret; every server here inherits this one.
os.environ["JWT_SECRET"] = "e2e-server-secret-0123456789abcdef0123"

from tap import check, finish, report


class Server:
    """A riskd process on its own copy of scripts/ with the test fixtures."""

    def __init__(self, *extra, trusted=None):
        self.tmp = tempfile.mkdtemp(prefix="riskd-e2e-")
        self.scripts = os.path.join(self.tmp, "scripts")
        shutil.copytree(os.path.join(ROOT, "scripts"), self.scripts)
        os.rename(os.path.join(self.scripts, "routes.lua"), os.path.join(self.scripts, "routes_app.lua"))
        fixture = os.path.join(HERE, "fixture")
        for dirpath, _, files in os.walk(fixture):
            for f in files:
                src = os.path.join(dirpath, f)
                dst = os.path.join(self.scripts, os.path.relpath(src, fixture))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(src, dst)
        args = [BIN, "serve", "--port", "0", "--workers", "2", "--scripts", self.scripts,
                "--request-timeout", "1000", "--lua-memory", str(64 << 20), *extra]
        if trusted:
            args += ["--trusted-proxies", trusted]
        self.log_path = os.path.join(self.tmp, "server.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, cwd=self.tmp)
        self.port = self._wait_port()

    def _wait_port(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            for line in self.lines():
                if line.get("msg") == "listening":
                    return line["port"]
            if self.proc.poll() is not None:
                raise RuntimeError("riskd exited: " + open(self.log_path).read())
            time.sleep(0.02)
        raise RuntimeError("riskd did not start")

    def lines(self):
        out = []
        with open(self.log_path) as f:
            for raw in f:
                out.append(json.loads(raw))  # every log line must be JSON
        return out

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def get_json(self, path):
        status, _, body = self.request("GET", path)
        return status, json.loads(body)

    def write(self, rel, text):
        path = os.path.join(self.scripts, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp~"
        with open(tmp, "w") as f:  # write then rename, as editors do
            f.write(text)
        os.rename(tmp, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wait_for(fn, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    return fn()


def subset(expected, actual, where="body"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), "%s: expected an object, got %r" % (where, actual)
        for k, v in expected.items():
            assert k in actual, "%s: missing key %r in %r" % (where, k, actual)
            subset(v, actual[k], where + "." + k)
    else:
        assert expected == actual, "%s: expected %r, got %r" % (where, expected, actual)


def run_case(srv, case):
    body = case.get("body") if case["method"] != "GET" else None
    if body == "DEEP":
        body = "[" * 100 + "]" * 100
    status, headers, raw = srv.request(case["method"], case["path"],
                                       body=body if body is None else body.encode(),
                                       headers=case.get("req_headers"))
    assert status == case["status"], "status %d, expected %d: %r" % (status, case["status"], raw[:300])
    for k, v in case.get("headers", {}).items():
        assert headers.get(k) == v, "header %s: %r, expected %r" % (k, headers.get(k), v)
    if "body" in case and case["method"] in ("GET", "HEAD"):
        assert raw.decode() == case["body"], "body %r" % raw
    if "json" in case:
        subset(case["json"], json.loads(raw))
    if "error" in case:
        doc = json.loads(raw)
        assert doc["error"]["code"] == case["error"], doc
        assert isinstance(doc["error"]["message"], str) and doc["error"]["message"], doc
    if "absent" in case:
        assert case["absent"].encode() not in raw, raw


def test_cases():
    srv = Server()
    try:
        with open(os.path.join(HERE, "cases.json")) as f:
            for case in json.load(f):
                check(case["name"], lambda c=case: run_case(srv, c))

        def handler_errors_logged():
            lines = srv.lines()
            failed = [l for l in lines if l.get("msg") == "handler failed"]
            assert any("e2e.lua:" in l["error"] and "secret internal detail" in l["error"] for l in failed), failed
            assert any(l.get("msg") == "handler timed out" for l in lines), "no time-out logged"
            assert any("not enough memory" in l.get("error", "") for l in failed), "no memory error logged"
        check("handler errors are logged with file and line", handler_errors_logged)

        def body_limit():
            # Just over the 1 MiB default: refused with 413, before the handler.
            try:
                status, _, _ = srv.request("POST", "/e2e/echo", body=b"x" * ((1 << 20) + 1),
                                           headers={"Content-Type": "application/json"})
            except (ConnectionResetError, BrokenPipeError):
                raise AssertionError("connection reset instead of a 413")
            assert status == 413, status
            body = b'{"s":"' + b"x" * ((1 << 20) - 8) + b'"}'   # exactly 1 MiB
            assert len(body) == 1 << 20
            status, _, _ = srv.request("POST", "/e2e/echo", body=body)
            assert status == 200, status
        check("a body over the limit is 413, one under it is served", body_limit)

        def metrics():
            status, headers, raw = srv.request("GET", "/metrics")
            text = raw.decode()
            assert status == 200 and headers["Content-Type"].startswith("text/plain"), headers
            assert re.search(r'riskd_http_requests_total\{route="/healthz",status="200"\} [1-9]', text), text
            assert re.search(r'riskd_http_requests_total\{route="unmatched",status="404"\} 1', text), text
            assert re.search(r'riskd_http_requests_total\{route="/e2e/error",status="500"\} 1', text), text
            assert 'riskd_http_request_duration_seconds_bucket{route="/api/ping",le="+Inf"} 1' in text, text
            assert re.search(r"riskd_lua_errors_total [1-9]", text), text
            assert re.search(r"riskd_lua_timeouts_total 1", text), text
            assert re.search(r'riskd_lua_memory_bytes\{worker="[01]"\} [1-9]', text), text
            # the store writer's group commit (SQLite): the user created at start-up went through it or
            # not, but the counters are there and commits never outnumber writes
            w = int(re.search(r"^riskd_store_writes_total (\d+)$", text, re.M).group(1))
            c = int(re.search(r"^riskd_store_commits_total (\d+)$", text, re.M).group(1))
            assert c <= w and re.search(r"^riskd_store_checkpoint_waits_total \d+$", text, re.M), text
        check("metrics count requests by route and status, errors, memory and the store writer", metrics)
    finally:
        srv.stop()


def test_trusted_proxy():
    srv = Server(trusted="127.0.0.0/8")
    try:
        def forwarded():
            status, _, raw = srv.request("POST", "/e2e/echo", body=b"{}",
                                         headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.4"})
            assert status == 200
            assert json.loads(raw)["remote_addr"] == "198.51.100.4", raw
        check("X-Forwarded-For from a trusted proxy gives the client address", forwarded)

        def two_lines():
            # The client's own line first, then the proxy's: one list, walked from the right.
            raw = echo_with_lines(srv.port, [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.5")])
            assert json.loads(raw)["remote_addr"] == "203.0.113.5", raw
            raw = echo_with_lines(srv.port, [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-For", "203.0.113.5, 127.0.0.9")])
            assert json.loads(raw)["remote_addr"] == "203.0.113.5", raw
        check("several X-Forwarded-For lines are one list: a forged first line is not the client", two_lines)
    finally:
        srv.stop()
    srv = Server("--proxy-header", "forwarded", trusted="127.0.0.0/8")
    try:
        def rfc7239():
            raw = echo_with_lines(srv.port, [("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", "1.1.1.1"),
                                             ("Forwarded", 'for="[2001:db8::5]:4711";proto=https')])
            assert json.loads(raw)["remote_addr"] == "2001:db8::5", raw
            raw = echo_with_lines(srv.port, [("Forwarded", "for=6.6.6.6, for=_gateway")])
            assert json.loads(raw)["remote_addr"] == "127.0.0.1", raw
        check("--proxy-header forwarded: RFC 7239 for= read from the right, X-Forwarded-For ignored", rfc7239)
    finally:
        srv.stop()


def test_connection_caps():
    srv = Server("--max-connections-per-address", "3", "--max-connections", "50")
    try:
        def per_address():
            """Three open connections from one address are served (on either
            worker); a fourth is answered 503 too_many_connections and closed;
            once one of the three closes, a new one is served again."""
            def open_one():
                c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
                c.request("GET", "/api/ping")
                r = c.getresponse()
                return c, r.status, r.read()
            held = []
            for _ in range(3):
                c, status, _ = open_one()
                assert status == 200, status
                held.append(c)
            c, status, body = open_one()
            assert status == 503 and json.loads(body)["error"]["code"] == "too_many_connections", (status, body)
            c.close()
            held.pop().close()
            deadline = time.time() + 3
            while True:
                c, status, _ = open_one()
                c.close()
                if status == 200 or time.time() > deadline:
                    break
                time.sleep(0.05)
            assert status == 200, status
            for c in held:
                c.close()
        check("--max-connections-per-address: the connection over the cap gets 503, a freed place is taken again",
              per_address)
    finally:
        srv.stop()


def echo_with_lines(port, headers):
    """POST /e2e/echo with header lines exactly as given (repeats kept)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest("POST", "/e2e/echo")
        for k, v in headers:
            c.putheader(k, v)
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", "2")
        c.endheaders(b"{}")
        r = c.getresponse()
        assert r.status == 200, r.status
        return r.read()
    finally:
        c.close()


def test_reload():
    srv = Server()
    try:
        stop = threading.Event()
        failures, seen = [], set()

        def hammer():
            # Requests keep flowing through every reload; none may fail.
            while not stop.is_set():
                try:
                    status, _, raw = srv.request("GET", "/e2e/version", timeout=5)
                    if status != 200:
                        failures.append((status, raw))
                    else:
                        seen.add(json.loads(raw)["version"])
                except Exception as e:
                    failures.append(repr(e))
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()

        handler = open(os.path.join(srv.scripts, "api", "e2e.lua")).read()

        def edit_takes_effect():
            t0 = time.time()
            srv.write("api/e2e.lua", handler.replace('version = "v1"', 'version = "v2"'))
            v = wait_for(lambda: srv.get_json("/e2e/version")[1]["version"] == "v2", 1.0)
            assert v, "edit not live after 1 s"
            # Every worker switches: repeated requests all see v2.
            for _ in range(20):
                assert srv.get_json("/e2e/version")[1]["version"] == "v2"
            assert srv.get_json("/healthz")[1]["generation"] == 2
            print("# reload visible after %.0f ms" % ((time.time() - t0) * 1000))
        check("an edited handler is live within a second on every worker", edit_takes_effect)

        def broken_is_rejected():
            srv.write("api/e2e.lua", handler.replace('version = "v1"', 'version = "v3"') + "\nthis is not lua\n")
            ok = wait_for(lambda: any(l.get("msg", "").startswith("change rejected") and l.get("what") == "scripts" for l in srv.lines()), 2.0)
            assert ok, "no rejection logged"
            rej = [l for l in srv.lines() if l.get("msg", "").startswith("change rejected") and l.get("what") == "scripts"][-1]
            assert re.search(r"api/e2e\.lua:\d+:", rej["error"]), rej
            for _ in range(10):
                assert srv.get_json("/e2e/version")[1]["version"] == "v2"
            assert srv.get_json("/healthz")[1]["generation"] == 2
        check("a broken handler is rejected with file and line, the old one keeps serving", broken_is_rejected)

        def missing_handler_rejected():
            srv.write("e2e_routes.lua", 'return { { "GET", "/e2e/version", "e2e.nothing" } }')
            ok = wait_for(lambda: sum(1 for l in srv.lines() if l.get("msg", "").startswith("change rejected") and l.get("what") == "scripts") >= 2, 2.0)
            assert ok, "route to a missing handler was not rejected"
            assert srv.get_json("/e2e/version")[1]["version"] == "v2"
        check("a route to a missing handler is rejected", missing_handler_rejected)

        def add_route_and_file():
            fixture_routes = open(os.path.join(HERE, "fixture", "e2e_routes.lua")).read()
            srv.write("api/extra.lua", 'return { hello = function(req) return 200, { hello = req.params.name } end }')
            srv.write("e2e_routes.lua", fixture_routes.replace(
                "return {", 'return {\n    { "GET", "/e2e/hello/:name", "extra.hello" },'))
            srv.write("api/e2e.lua", handler.replace('version = "v1"', 'version = "v4"'))
            ok = wait_for(lambda: srv.request("GET", "/e2e/hello/bob")[0] == 200, 1.5)
            assert ok, "new route not live"
            assert srv.get_json("/e2e/hello/bob")[1] == {"hello": "bob"}
            assert srv.get_json("/e2e/version")[1]["version"] == "v4"
        check("a new file and route are picked up", add_route_and_file)

        def delete_file():
            fixture_routes = open(os.path.join(HERE, "fixture", "e2e_routes.lua")).read()
            srv.write("e2e_routes.lua", fixture_routes)
            os.unlink(os.path.join(srv.scripts, "api", "extra.lua"))
            ok = wait_for(lambda: srv.request("GET", "/e2e/hello/bob")[0] == 404, 1.5)
            assert ok, "deleted route still served"
        check("deleting a file and its route takes effect", delete_file)

        stop.set()
        for t in threads:
            t.join()

        def no_request_failed():
            assert not failures, failures[:5]
            assert seen >= {"v1", "v2"}, seen
        check("no request failed or saw half a reload during reloads", no_request_failed)

        def reload_metrics():
            text = srv.request("GET", "/metrics")[2].decode()
            assert re.search(r"riskd_reloads_total [3-9]", text), text
            assert re.search(r"riskd_reload_failures_total [2-9]", text), text
        check("reloads and reload failures are counted", reload_metrics)
    finally:
        srv.stop()


def test_shutdown():
    srv = Server()
    try:
        def graceful():
            result = {}

            def slow():
                try:
                    result["r"] = srv.request("GET", "/e2e/slow", timeout=10)
                except Exception as e:
                    result["e"] = e
            t = threading.Thread(target=slow)
            t.start()
            time.sleep(0.2)  # the slow request is now in its handler
            srv.proc.send_signal(signal.SIGTERM)
            t.join()
            assert "r" in result, "in-flight request failed: %r" % result.get("e")
            assert result["r"][0] == 200 and json.loads(result["r"][2]) == {"slow": True}, result
            code = srv.proc.wait(10)
            assert code == 0, "exit code %d" % code
            s = socket.socket()
            try:
                refused = s.connect_ex(("127.0.0.1", srv.port)) != 0
            finally:
                s.close()
            assert refused, "still accepting after shutdown"
            msgs = [l["msg"] for l in srv.lines()]
            assert "shutting down" in msgs and msgs[-1] == "stopped", msgs
        check("SIGTERM finishes the in-flight request, stops accepting and exits 0", graceful)
    finally:
        srv.stop()


def lua(code):
    """Runs Lua with the engine module (build/riskd.so) and returns stdout."""
    p = subprocess.run(["lua5.4", "-e", 'package.cpath = "%s/build/?.so;" .. package.cpath' % ROOT, "-e", code],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_retention():
    tmp = tempfile.mkdtemp(prefix="riskd-e2e-")
    db = os.path.join(tmp, "data", "riskd.db")
    try:
        def purges_old_events():
            now = int(time.time() * 1000)
            ids = lua("""
                local db = assert(require("riskd.store").open("sqlite:%s"))
                print(assert(db:record({ user_id = "old", ip_address = "192.0.2.1", ts = %d })))
                print(assert(db:record({ user_id = "new", ip_address = "192.0.2.2", ts = %d })))
            """ % (db, now - 3 * 86400000, now)).split()
            srv = subprocess.Popen([BIN, "serve", "--port", "0", "--scripts", os.path.join(ROOT, "scripts"),
                                    "--db", "sqlite:" + db, "--retention-days", "2"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                def gone():
                    out = lua("""
                        local db = assert(require("riskd.store").open("sqlite:%s"))
                        print(db:event("%s") == nil, db:event("%s") ~= nil)
                    """ % (db, ids[0], ids[1]))
                    return out.split() == ["true", "true"]
                assert wait_for(gone, 5), "the 3-day-old event was not purged"
            finally:
                srv.send_signal(signal.SIGTERM)
                _, err = srv.communicate(timeout=15)
            assert srv.returncode == 0, err
            msgs = [json.loads(l) for l in err.splitlines()]
            assert any(m["msg"] == "retention purge" and m["events"] == 1 for m in msgs), msgs
            assert any(m["msg"] == "listening" and m["store"] == "sqlite" for m in msgs), msgs
        check("events older than --retention-days are purged in the background", purges_old_events)

        def bad_store():
            p = subprocess.run([BIN, "serve", "--port", "0", "--db", "postgres://x"], capture_output=True,
                               text=True, timeout=10)
            assert p.returncode == 1 and "unknown store" in p.stderr, p.stderr
        check("an unusable store stops start-up with the reason", bad_store)
    finally:
        shutil.rmtree(tmp)


def test_startup_errors():
    def bad_scripts():
        tmp = tempfile.mkdtemp(prefix="riskd-e2e-")
        try:
            os.makedirs(os.path.join(tmp, "lib"))
            with open(os.path.join(tmp, "lib", "dispatch.lua"), "w") as f:
                f.write("return {")
            p = subprocess.run([BIN, "serve", "--port", "0", "--scripts", tmp], capture_output=True, timeout=10)
            assert p.returncode == 1, p.returncode
            line = json.loads(p.stderr.decode().strip().splitlines()[-1])
            assert line["msg"] == "cannot start" and "dispatch.lua:1:" in line["error"], line
        finally:
            shutil.rmtree(tmp)
    check("broken scripts at start-up: exit 1 with file and line", bad_scripts)

    def bad_option():
        p = subprocess.run([BIN, "serve", "--port", "nope"], capture_output=True, timeout=10)
        assert p.returncode == 2 and b"--port" in p.stderr, p
    check("a bad option is refused with its name", bad_option)

    def no_secret():
        for secret, why in (("", "is not set"), ("too-short-0123456789", "is too short")):
            p = subprocess.run([BIN, "serve", "--port", "0", "--scripts", os.path.join(ROOT, "scripts")],
                               capture_output=True, timeout=10, text=True, cwd=tempfile.gettempdir(),
                               env=dict(os.environ, JWT_SECRET=secret))
            line = json.loads(p.stderr.strip().splitlines()[-1])
            assert p.returncode == 1 and line["msg"] == "cannot start" and why in line["error"], (p.returncode, line)
            assert secret == "" or secret not in p.stderr, p.stderr   # a secret is never logged
    check("without a JWT_SECRET of at least 32 bytes the server refuses to start, and never logs it", no_secret)

    def first_admin():
        tmp = tempfile.mkdtemp(prefix="riskd-e2e-")
        db = "sqlite:" + os.path.join(tmp, "db")

        def hints(srv):
            try:
                return [l for l in srv.lines() if l.get("msg", "").startswith("no admin account yet")]
            finally:
                srv.stop()
        try:
            h = hints(Server("--db", db))
            assert len(h) == 1 and h[0]["level"] == "warn", h
            assert h[0]["run"] == "riskd user add NAME --role admin --db '%s'" % db, h
            p = subprocess.run([BIN, "user", "add", "boss", "--role", "analyst", "--db", db],
                               input="a long enough passphrase\n", capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p
            assert len(hints(Server("--db", db))) == 1          # an analyst cannot manage accounts
            p = subprocess.run([BIN, "user", "add", "chief", "--role", "admin", "--db", db],
                               input="a long enough passphrase\n", capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p
            assert hints(Server("--db", db)) == []
        finally:
            shutil.rmtree(tmp)
    check("the first start on a store without an admin says how to create one", first_admin)


def main():
    for t in (test_cases, test_trusted_proxy, test_connection_caps, test_reload, test_shutdown, test_retention,
              test_startup_errors):
        try:
            t()
        except Exception as e:
            report(t.__name__, False, "%s: %s" % (type(e).__name__, e))
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Alert delivery on a running server, against local receivers: a webhook
gets each new alert within 2 s as a POST signed with X-Riskd-Signature
(HMAC-SHA256 of the body); the SIEM targets get the alert and the high-risk
event as RFC 5424 syslog over UDP and TCP (octet counting) and as JSON lines
in a file, with Elastic Common Schema names; while the webhook answers 500,
or is down, the delivery is retried with back-off and survives a restart of
riskd, then arrives once the receiver is back; one that keeps failing ends in
the dead-letter view, from which an admin sends it again; the admin's
webhook list. TAP."""
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_calibration import Proc, check_clean_exit, cleanup, prepare  # noqa: E402
from test_story import ROOT  # noqa: E402

SECRET = "webhook-secret-for-the-e2e-test"


class Receiver:
    """An HTTP server that records POSTs; answer is the status it gives."""

    def __init__(self, port=0):
        self.got, self.answer = [], 200
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                rec.got.append((time.time(), dict(self.headers), body))
                self.send_response(rec.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


class TlsReceiver(Receiver):
    """The same over TLS, with a certificate of its own for 127.0.0.1."""

    def __init__(self, tmp, name):
        import ssl
        import subprocess
        cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + name,
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        super().__init__()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.cert = cert


class TcpSyslog(socketserver.ThreadingTCPServer):
    allow_reuse_address = True


def attack(i):
    """A login that is high at once (an alert): a Tor exit, a breached password, a script."""
    return {"user_id": "victim%d" % i, "ip_address": "185.220.101.%d" % (10 + i), "password_breached": True,
            "device": {"user_agent": "python-requests/2.31"}, "timestamp": "2026-12-01T10:%02d:00Z" % i}


def wait_for(what, seconds=10.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = what()
        if v:
            return v
        time.sleep(0.05)
    return what()


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-delivery-")
    state = {}
    hook = Receiver()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    tcp_frames = []

    class TcpHandler(socketserver.StreamRequestHandler):
        def handle(self):
            data = self.rfile.read()
            while data:
                n, _, rest = data.partition(b" ")
                tcp_frames.append(rest[:int(n)])
                data = rest[int(n):]
    tcp = TcpSyslog(("127.0.0.1", 0), TcpHandler)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    siem_file = os.path.join(tmp, "siem.jsonl")
    dead_port = socket.socket()
    dead_port.bind(("127.0.0.1", 0))
    closed = dead_port.getsockname()[1]
    dead_port.close()                       # nothing listens there
    trusted, stranger = TlsReceiver(tmp, "trusted"), TlsReceiver(tmp, "stranger")
    intel = os.path.join(tmp, "intel")
    os.makedirs(intel)
    shutil.copy(os.path.join(ROOT, "intel", "bot_agents.patterns"), intel)
    with open(os.path.join(intel, "tor_exits.txt"), "w") as f:
        f.write("185.220.101.0/24\n")
    env = {"RISKD_WEBHOOKS": "http://127.0.0.1:%d/hook" % hook.port, "RISKD_WEBHOOK_SECRET": SECRET,
           "RISKD_SIEM": "udp://127.0.0.1:%d,tcp://127.0.0.1:%d,file:%s" % (udp.getsockname()[1], tcp.server_address[1],
                                                                           siem_file),
           "RISKD_WEBHOOK_RETRY_MS": "300", "RISKD_WEBHOOK_MAX_ATTEMPTS": "6", "RISKD_INTEL": intel,
           "RISKD_WEBHOOK_CA": trusted.cert}
    try:
        prepare(tmp, lambda cfg: cfg)
        srv = state["srv"] = Proc(tmp, env)

        def analyze(a):
            s, d = srv.call("POST", "/api/login/analyze", a, token=srv.tokens["svc"])
            assert s == 200, (s, d)
            return d

        def webhook():
            t0 = time.time()
            d = analyze(attack(1))
            assert d["risk_level"] in ("high", "critical") and d["alert_id"], d
            got = wait_for(lambda: hook.got, 5)
            assert got, "no webhook"
            at, headers, body = got[0]
            assert at - t0 < 2.0, "the first attempt came %.2f s after the alert" % (at - t0)
            want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Riskd-Signature"] == want, (headers, want)
            doc = json.loads(body)
            assert doc["type"] == "alert.created" and doc["alert"]["alert_id"] == d["alert_id"], doc
            assert doc["alert"]["user_id"] == "victim1" and doc["alert"]["severity"] == d["risk_level"], doc
            assert doc["event"]["event_id"] == d["event_id"] and doc["event"]["ip_address"] == "185.220.101.11", doc
            assert headers["Content-Type"] == "application/json" and headers["X-Riskd-Kind"] == "alert", headers
            state["first"] = d
        check("a new alert is POSTed to the webhook within 2 s, signed with HMAC-SHA256 of the body", webhook)

        def siem():
            d = state["first"]
            msgs = []
            while len(msgs) < 2:
                msgs.append(udp.recv(65536).decode())
            by_kind = {}
            for m in msgs:
                g = re.match(r"^<(\d+)>1 (\S+) (\S+) riskd - (alert|event) - (\{.*\})$", m)
                assert g, m
                assert int(g.group(1)) // 8 == 10 and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", g.group(2)), m
                by_kind[g.group(4)] = json.loads(g.group(5))
            a, e = by_kind["alert"], by_kind["event"]
            assert a["event"]["kind"] == "alert" and a["event"]["id"] == d["alert_id"], a
            assert a["user"]["name"] == "victim1" and a["source"]["ip"] == "185.220.101.11", a
            assert e["event"]["kind"] == "event" and e["event"]["category"] == ["authentication"], e
            assert e["event"]["outcome"] == "success" and e["event"]["action"] == d["action"], e
            assert e["event"]["risk_score"] == d["risk_score"] and e["user_agent"]["original"] == "python-requests/2.31", e
            assert e["@timestamp"] == "2026-12-01T10:01:00.000Z", e
            frames = wait_for(lambda: len(tcp_frames) >= 2 and tcp_frames, 5)
            assert frames and all(f.startswith(b"<") for f in frames), tcp_frames
            lines = wait_for(lambda: os.path.exists(siem_file) and open(siem_file).read().splitlines(), 5)
            assert len(lines) == 2 and {json.loads(x)["event"]["kind"] for x in lines} == {"alert", "event"}, lines
        check("the SIEM targets get the alert and the high-risk event: syslog RFC 5424 over UDP and TCP, JSON lines, ECS names",
              siem)

        def receiver_down():
            hook.answer = 500
            d = analyze(attack(2))
            assert d["alert_id"], d

            def failing():
                s, l = srv.call("GET", "/api/admin/deliveries?status=pending")
                hooks = [x for x in l["deliveries"] if x["dest"].endswith("/hook")]
                return hooks and hooks[0]["attempts"] >= 2 and hooks[0]
            pend = wait_for(failing, 10)
            assert pend and pend["last_error"] == "HTTP 500" and pend["body"]["alert"]["alert_id"] == d["alert_id"], pend
            tries = len([g for g in hook.got if json.loads(g[2])["alert"]["alert_id"] == d["alert_id"]])
            assert tries >= 2, tries
            # riskd restarts while the receiver is still failing, then the receiver comes back
            srv.stop()
            hook.stop()
            state["srv"] = Proc(tmp, env)
            time.sleep(0.5)
            back = Receiver(hook.port)
            state["back"] = back
            got = wait_for(lambda: [g for g in back.got if json.loads(g[2])["alert"]["alert_id"] == d["alert_id"]], 10)
            assert got, "not delivered after the restart"
            s, l = state["srv"].call("GET", "/api/admin/deliveries?status=delivered")
            mine = [x for x in l["deliveries"] if x["dest"].endswith("/hook") and x["body"]["alert"]["alert_id"] == d["alert_id"]]
            assert mine and mine[0]["attempts"] >= 3, mine
        check("a receiver that answers 500, then is down across a restart of riskd: retried, then delivered once back",
              receiver_down)

        def dead_letters():
            srv2 = state["srv"]
            s, w = srv2.call("PUT", "/api/admin/webhooks", {"urls": ["http://127.0.0.1:%d/never" % closed]})
            assert s == 200 and [x["source"] for x in w["webhooks"]] == ["settings", "admin"], (s, w)
            assert srv2.call("PUT", "/api/admin/webhooks", {"urls": ["ftp://x"]})[0] == 400
            assert srv2.call("PUT", "/api/admin/webhooks", {"urls": "http://x"})[0] == 400
            d = analyze_on(srv2, attack(3))

            def dead():
                s, l = srv2.call("GET", "/api/admin/deliveries?status=dead")
                return l["total"] >= 1 and l["deliveries"][0]
            item = wait_for(dead, 30)
            assert item and item["attempts"] == 6 and "no answer" in item["last_error"], item
            assert item["body"]["alert"]["alert_id"] == d["alert_id"], item
            s, r = srv2.call("POST", "/api/admin/deliveries/%s/retry" % item["id"], {})
            assert s == 200 and r["status"] == "pending", (s, r)
            assert srv2.call("POST", "/api/admin/deliveries/%s/retry" % item["id"], {})[0] == 404   # pending now
            assert srv2.call("GET", "/api/admin/deliveries?status=lost")[0] == 400
            s, m = srv2.call("GET", "/metrics", raw=True)
            assert re.search(r'riskd_deliveries_total\{result="dead"\} [1-9]', m), m[-2000:]
            assert srv2.call("GET", "/api/admin/deliveries", token=srv2.tokens["svc"])[0] == 403
        check("a webhook that never answers: retried with back-off, then dead; an admin sends it again", dead_letters)

        def https():
            srv3 = state["srv"]
            urls = ["https://127.0.0.1:%d/tls" % trusted.port, "https://127.0.0.1:%d/tls" % stranger.port]
            s, w = srv3.call("PUT", "/api/admin/webhooks", {"urls": urls})
            assert s == 200, (s, w)
            d = analyze_on(srv3, attack(4))
            got = wait_for(lambda: trusted.got, 5)
            assert got and json.loads(got[0][2])["alert"]["alert_id"] == d["alert_id"], trusted.got
            assert not stranger.got, "a certificate riskd does not trust was accepted"

            def refused():
                s, l = srv3.call("GET", "/api/admin/deliveries?status=pending")
                return [x for x in l["deliveries"] if str(stranger.port) in x["dest"] and x["last_error"]]
            bad = wait_for(refused, 5)
            assert bad and "TLS" in bad[0]["last_error"], bad
        check("https webhooks: a certificate from RISKD_WEBHOOK_CA is trusted, a stranger's is refused", https)

        check_clean_exit(state)
    finally:
        trusted.stop()
        stranger.stop()
        for k in ("back",):
            if k in state:
                state[k].stop()
        cleanup(state, tmp)
        tcp.shutdown()
        udp.close()
    return finish()


def analyze_on(srv, a):
    s, d = srv.call("POST", "/api/login/analyze", a, token=srv.tokens["svc"])
    assert s == 200, (s, d)
    return d


if __name__ == "__main__":
    sys.exit(main())

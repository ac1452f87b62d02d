#!/usr/bin/env python3
"""End-to-end: real-time messages over Server-Sent Events (/api/stream/*).
An alert raised by an analysis and its triage reach every open stream,
whichever worker holds it; Last-Event-ID resumes from the backlog; the
events stream honours min_level; rule reloads and rejections reach the
rules stream; roles and bad parameters are refused; SIGTERM ends the
streams and the server exits cleanly. TAP."""
import base64
import hashlib
import hmac
import http.client
import json
import subprocess
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_story import Server, PARIS, LAPTOP, check_clean_exit, BIN, ADMIN_PW, E2E_SECRET  # noqa: E402
from wsclient import WS  # noqa: E402


class Stream:
    """An SSE client on a raw socket: records as dicts {id, event, data}."""

    def __init__(self, port, path, token, last_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        hdrs = "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n" % path
        if token:
            hdrs += "Authorization: Bearer %s\r\n" % token
        if last_id is not None:
            hdrs += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((hdrs + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        self.text = ""
        self.ended = False

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("stream closed")
        return d

    def _dechunk(self):
        # chunked transfer: size line, data, CRLF
        while True:
            if b"\r\n" not in self.buf:
                return
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.text += rest[:size].decode()
            self.buf = rest[size + 2:]
            if size == 0:
                self.ended = True   # the last chunk: the response is over
                return

    def record(self, timeout=5):
        """The next record (comments skipped)."""
        deadline = time.time() + timeout
        while True:
            self._dechunk()
            while "\n\n" in self.text:
                block, self.text = self.text.split("\n\n", 1)
                rec = {}
                for line in block.split("\n"):
                    if line.startswith(":") or not line:
                        continue
                    k, _, v = line.partition(": ")
                    rec[k] = v
                if "data" in rec:
                    rec["data"] = json.loads(rec["data"])
                    return rec
            left = deadline - time.time()
            assert left > 0, "no record within %.0f s" % timeout
            self.sock.settimeout(left)
            self.buf += self._recv()

    def body_json(self):
        """The body of a plain (not streamed) answer."""
        n = int(self.headers["content-length"])
        while len(self.buf) < n:
            self.buf += self._recv()
        return json.loads(self.buf[:n])

    def close(self):
        self.sock.close()


def main():
    # 1,000 connections each side: the server inherits this limit
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))
    intel = tempfile.mkdtemp(prefix="riskd-rt-intel-")
    with open(os.path.join(intel, "tor_exits.txt"), "w") as f:
        f.write("185.220.101.0/24\n")
    srv = Server(env={"RISKD_INTEL": intel})
    admin = srv.tokens["root"]
    try:
        streams = []

        def refusals():
            s = Stream(srv.port, "/api/stream/alerts", None)
            assert s.status == 401, s.status
            s.close()
            s = Stream(srv.port, "/api/stream/alerts", srv.tokens["svc"])
            assert s.status == 403, s.status
            s.close()
            s = Stream(srv.port, "/api/stream/alerts", admin, last_id="abc")
            assert s.status == 400 and s.body_json()["error"]["code"] == "invalid_field", s.status
            s.close()
            s = Stream(srv.port, "/api/stream/events?min_level=extreme", admin)
            assert s.status == 400, s.status
            s.close()
        check("streams need an analyst or admin token; bad Last-Event-ID or min_level are a 400", refusals)

        state = {}

        def alert_reaches_every_stream():
            for _ in range(4):      # spread over the workers
                s = Stream(srv.port, "/api/stream/alerts", admin)
                assert s.status == 200 and s.headers["content-type"].startswith("text/event-stream"), s.headers
                streams.append(s)
            d = srv.analyze(user_id="rt-user", ip_address="185.220.101.9", password_breached=True,
                            location=PARIS, device=LAPTOP)
            assert d["alert_id"], d
            state["alert"] = d["alert_id"]
            for s in streams:
                r = s.record()
                assert r["event"] == "alerts" and r["data"]["type"] == "created", r
                assert r["data"]["topic"] == "alerts" and r["data"]["data"]["alert_id"] == d["alert_id"], r
                assert r["data"]["data"]["severity"] == d["risk_level"] and r["data"]["ts"].endswith("Z"), r
                state["first_id"] = int(r["id"])
        check("an alert raised by an analysis reaches all four open streams at once", alert_reaches_every_stream)

        def triage_reaches_streams():
            s, a = srv.call("PUT", "/api/dashboard/alerts/" + state["alert"], {"status": "investigating", "note": "on it"})
            assert s == 200, (s, a)
            for st in streams:
                r = st.record()
                m = r["data"]
                assert m["type"] == "status_changed" and m["data"]["status"] == "investigating", m
                assert m["data"]["previous"] == "open" and m["data"]["by"] == "root", m
        check("a status change reaches the streams with who made it", triage_reaches_streams)

        def resume():
            s = Stream(srv.port, "/api/stream/alerts", admin, last_id=state["first_id"])
            r = s.record()
            assert int(r["id"]) == state["first_id"] + 1 and r["data"]["type"] == "status_changed", r
            s.close()
            s = Stream(srv.port, "/api/stream/alerts", admin, last_id=0)   # 0: from now on
            d = srv.analyze(user_id="rt-user", ip_address="185.220.101.9", password_breached=True)
            r = s.record()
            assert r["data"]["data"]["alert_id"] == d["alert_id"], (r, d)
            s.close()
        check("Last-Event-ID resumes after the message it names", resume)

        def events_min_level():
            s = Stream(srv.port, "/api/stream/events?min_level=high", admin)
            low = srv.analyze(user_id="rt-calm", ip_address="192.0.2.44", location=PARIS, device=LAPTOP)
            high = srv.analyze(user_id="rt-user2", ip_address="185.220.101.10", password_breached=True)
            assert low["risk_level"] == "low" and high["risk_level"] in ("high", "critical"), (low, high)
            r = s.record()
            assert r["event"] == "events" and r["data"]["data"]["event_id"] == high["event_id"], r
            assert r["data"]["type"] == "analyzed" and r["data"]["data"]["risk_score"] == high["risk_score"], r
            s.close()
        check("the events stream carries analyses at or above min_level only", events_min_level)

        def rules_stream():
            s = Stream(srv.port, "/api/stream/rules", admin)
            path = os.path.join(srv.rules, "zz_rt.lua")
            with open(path + ".tmp", "w") as f:
                f.write("return { name = 'rt_probe', description = 't', evaluate = function() end }\n")
            os.rename(path + ".tmp", path)
            r = s.record()
            assert r["data"]["type"] == "reloaded" and r["data"]["data"]["what"] == "rules", r
            with open(path + ".tmp", "w") as f:
                f.write("return { name = 'rt_probe', evaluate = function( end }\n")
            os.rename(path + ".tmp", path)
            r = s.record()
            assert r["data"]["type"] == "rejected" and "zz_rt.lua" in r["data"]["data"]["error"], r
            os.remove(path)
            s.close()
            a = Stream(srv.port, "/api/stream/rules", srv.tokens["svc"])
            assert a.status == 403
            a.close()
        check("rule reloads and rejected edits reach the admins' rules stream", rules_stream)

        def ws_handshake():
            w = WS(srv.port, token=admin)
            assert w.status == 101 and w.accept_ok(), (w.status, w.headers)
            m = w.recv()
            assert m == {"type": "auth", "data": {"user": "root", "role": "admin"}}, m
            w.close()
            assert w.recv()[0:2] == ("close", 1000)
            for token, status in ((srv.tokens["svc"], 403), ("not-a-token", 401)):
                w = WS(srv.port, token=token)
                assert w.status == status, (w.status, w.body)
            w = WS(srv.port, extra=[], key="short")
            assert w.status == 400 and w.body["error"]["code"] == "bad_handshake", w.status
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            c.request("GET", "/api/ws")
            r = c.getresponse()
            assert r.status == 426 and r.getheader("Upgrade") == "websocket", r.status
            r.read()
        check("WebSocket handshake: 101 with the right accept key and the caller; 401, 403, 400 and 426 otherwise",
              ws_handshake)

        def ws_first_message_auth():
            w = WS(srv.port)                                 # a browser: no header
            assert w.status == 101
            w.send({"type": "subscribe", "topic": "alerts"})  # before auth: refused
            assert w.recv()[:2] == ("close", 1008)
            w = WS(srv.port)
            w.send({"type": "auth", "token": srv.tokens["svc"]})
            assert w.recv()[:2] == ("close", 1008)            # a service is not staff
            w = WS(srv.port)
            w.send({"type": "auth", "token": admin})
            assert w.recv()["type"] == "auth"
            w.send({"type": "ping"})
            assert w.recv() == {"type": "pong"}
            w.close()
            w = WS(srv.port, timeout=12)                     # says nothing for 2 s
            t0 = time.time()
            m = w.recv()
            assert m[:2] == ("close", 1008) and 1.5 <= time.time() - t0 < 4, (m, time.time() - t0)
            assert w.eof(timeout=3) and time.time() - t0 < 4.5, time.time() - t0   # and its slot is free
        check("browsers authenticate with their first message; nothing else first, no service role, 2 s to do it",
              ws_first_message_auth)

        def user_cli(*args, pw=ADMIN_PW):
            p = subprocess.run([BIN, "user", *args, "--db", "sqlite:" + os.path.join(srv.tmp, "db")],
                               input=pw + "\n", capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p

        def sign_in(name, pw=ADMIN_PW):
            st, d = srv.call("POST", "/api/auth/login", {"username": name, "password": pw}, token="")
            assert st == 200, (st, d)
            return d["token"]

        def revoked_sse(stream, text, within):
            t0 = time.time()
            rec = stream.record(timeout=within + 2)
            while rec.get("event") != "revoked":
                rec = stream.record(timeout=within + 2)
            assert rec["data"]["type"] == "revoked" and text in rec["data"]["reason"], rec
            while not stream.ended:                         # and the response ends
                stream.buf += stream._recv()
                stream._dechunk()
            return time.time() - t0

        def streams_end_with_the_account():
            """Another process deletes the account or changes its password:
            its open SSE and WebSocket connections end within a second or so."""
            user_cli("add", "gone", "--role", "analyst")
            tok = sign_in("gone")
            sse = Stream(srv.port, "/api/stream/alerts", tok)
            assert sse.status == 200
            ws_header = WS(srv.port, token=tok)
            assert ws_header.recv()["type"] == "auth"
            ws_msg = WS(srv.port)
            ws_msg.send({"type": "auth", "token": tok})
            assert ws_msg.recv()["type"] == "auth"
            time.sleep(1.2)                                  # still standing
            user_cli("del", "gone")
            t0 = time.time()
            took = revoked_sse(sse, "no longer exists", 2)
            for w in (ws_header, ws_msg):
                m = w.recv()
                assert m[:2] == ("close", 1008) and "no longer exists" in m[2], m
            assert took < 2.5 and time.time() - t0 < 2.5, (took, time.time() - t0)
            # a changed password ends the streams of the old tokens
            user_cli("add", "moved", "--role", "analyst")
            tok = sign_in("moved")
            sse = Stream(srv.port, "/api/stream/events", tok)
            ws = WS(srv.port, token=tok)
            assert ws.recv()["type"] == "auth"
            user_cli("passwd", "moved", pw="another horse battery staple")
            assert revoked_sse(sse, "password changed", 2) < 2.5
            m = ws.recv()
            assert m[:2] == ("close", 1008) and "password changed" in m[2], m
        check("deleting an account or changing its password (riskd user, another process) ends its open SSE "
              "(event: revoked) and WebSocket (1008) connections within 2 s", streams_end_with_the_account)

        def streams_end_with_the_token():
            # the same claims, signed with the server's secret, expiring in 2 s
            def b64(b):
                return base64.urlsafe_b64encode(b).rstrip(b"=")
            head, payload, _ = admin.split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["exp"] = int(time.time()) + 2
            body = head.encode() + b"." + b64(json.dumps(claims).encode())
            short = (body + b"." + b64(hmac.new(E2E_SECRET.encode(), body, hashlib.sha256).digest())).decode()
            sse = Stream(srv.port, "/api/stream/alerts", short)
            assert sse.status == 200, sse.status
            ws = WS(srv.port, token=short)
            assert ws.recv()["type"] == "auth"
            assert revoked_sse(sse, "expired", 4) < 4.5
            m = ws.recv()
            assert m[:2] == ("close", 1008) and "expired" in m[2], m
        check("a token's expiry ends the streams it opened", streams_end_with_the_token)

        def ws_messages():
            w = WS(srv.port, token=admin)
            w.recv()
            w.send({"type": "subscribe", "topic": "alerts"})
            assert w.recv() == {"type": "subscribed", "topic": "alerts"}
            w.send({"type": "subscribe", "topic": "events", "min_level": "critical"})
            assert w.recv() == {"type": "subscribed", "topic": "events"}
            w.send({"type": "subscribe", "topic": "weather"})
            assert w.recv()["data"]["code"] == "bad_topic"
            w.send({"type": "dance"})
            assert w.recv()["data"]["code"] == "bad_message"
            d = srv.analyze(user_id="ws-user", ip_address="185.220.101.11", password_breached=True)
            m = w.recv()
            assert m["topic"] == "alerts" and m["type"] == "created" and m["data"]["alert_id"] == d["alert_id"], m
            if d["risk_level"] == "critical":
                m = w.recv()
                assert m["topic"] == "events", m
            w.send({"type": "unsubscribe", "topic": "alerts"})
            assert w.recv() == {"type": "unsubscribed", "topic": "alerts"}
            srv.call("PUT", "/api/dashboard/alerts/" + d["alert_id"], {"status": "resolved"})
            w.send({"type": "ping"})
            assert w.recv() == {"type": "pong"}                # nothing about the alert came first
            a = WS(srv.port, token=srv.tokens.get("analyst") or admin)
            a.recv()
            w.close()
        check("subscribe and unsubscribe: alerts arrive while subscribed, not after; bad topics and types answered",
              ws_messages)

        def ws_limits():
            w = WS(srv.port, token=admin)
            w.recv()
            w.send_frame(1, b"{\"type\": \"\xff\xfe\"}")
            assert w.recv()[:2] == ("close", 1007)
            w = WS(srv.port, token=admin)
            w.recv()
            w.send_frame(1, b"x" * (64 * 1024 + 1))
            assert w.recv()[:2] == ("close", 1009)
            w = WS(srv.port, token=admin)
            w.recv()
            w.send_frame(2, b"\x00\x01")
            assert w.recv()[:2] == ("close", 1003)
            w = WS(srv.port, token=admin)
            w.recv()
            w.send_frame(9, b"are you there")                  # a ping is answered with its payload
            op, p = w.frame()
            assert op == 10 and p == b"are you there", (op, p)
            w.send_frame(1, b'{"type":"ping"}', mask=False)    # clients must mask: protocol error
            assert w.recv()[:2] == ("close", 1002)
        check("invalid UTF-8 closes with 1007, over 64 KiB with 1009, binary with 1003, unmasked with 1002; pings answered",
              ws_limits)

        def ws_slow_client():
            w = WS(srv.port, token=admin, rcvbuf=4096)
            w.recv()
            w.send({"type": "subscribe", "topic": "events"})
            w.recv()
            # the client stops reading; the server must drop it, not buffer forever
            # (each message carries a 128-character user id: about 500 bytes)
            for i in range(8000):
                srv.call("POST", "/api/login/analyze", {"user_id": ("f%d-" % (i % 50)) + "x" * 120, "ip_address": "192.0.2.200"},
                         token=srv.tokens["svc"])
                if i % 250 == 249 and w.eof(timeout=0.01):
                    break
            assert w.eof(timeout=5), "a client that does not read was never dropped"
        check("a subscriber that stops reading is dropped once 1 MiB waits for it", ws_slow_client)

        def ws_fragments_and_handshake_errors():
            w = WS(srv.port, token=admin)
            w.recv()
            msg = json.dumps({"type": "subscribe", "topic": "models"}).encode()
            w.send_frame(1, msg[:10], fin=False)               # a message in three frames
            w.send_frame(9, b"between")                        # a control frame may come between them
            w.send_frame(0, msg[10:20], fin=False)
            w.send_frame(0, msg[20:], fin=True)
            op, p = w.frame()
            assert op == 10 and p == b"between", (op, p)
            assert w.recv() == {"type": "subscribed", "topic": "models"}
            w.close()
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            c.sendall(b"GET /api/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            head = c.recv(4096).decode()
            assert head.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in head, head
            c.close()
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            c.sendall(b"GET /api/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = c.recv(4096).decode()
            assert head.startswith("HTTP/1.1 400") and "bad_handshake" in head, head
            c.close()
        check("fragmented messages are reassembled (a ping between fragments answered); missing key 400, version 8 426",
              ws_fragments_and_handshake_errors)

        def ws_thousand():
            conns = []
            for i in range(1000):
                w = WS(srv.port)
                assert w.status == 101, w.status
                w.send({"type": "auth", "token": admin})
                conns.append(w)
            for w in conns:
                assert w.recv()["type"] == "auth"
                w.send({"type": "subscribe", "topic": "alerts"})
            for w in conns:
                assert w.recv()["type"] == "subscribed"
            t0 = time.time()
            d = srv.analyze(user_id="ws-crowd", ip_address="185.220.101.12", password_breached=True)
            for w in conns:
                m = w.recv()
                assert m["type"] == "created" and m["data"]["alert_id"] == d["alert_id"], m
            print("# 1,000 WebSocket subscribers all had the alert %.0f ms after the analysis answered"
                  % ((time.time() - t0) * 1000), flush=True)
            for w in conns:
                w.sock.close()
        check("1,000 concurrent WebSocket connections, over both workers, each receive the alert", ws_thousand)
    except BaseException:
        srv.stop()
        raise
    finally:
        shutil.rmtree(intel, ignore_errors=True)
    # streams still open: SIGTERM must end them and exit promptly
    ws_open = WS(srv.port, token=admin)
    ws_open.recv()
    t0 = time.time()
    check_clean_exit(srv)

    def ended():
        assert time.time() - t0 < 5, "shutdown took %.1f s with streams open" % (time.time() - t0)
        for s in streams:
            try:
                while True:
                    s.record(timeout=2)
            except EOFError:
                pass
    check("open streams are ended at shutdown, promptly", ended)

    def ws_going_away():
        m = ws_open.recv()
        assert m[:2] == ("close", 1001), m
    check("an open WebSocket is closed with 1001 (going away) at shutdown", ws_going_away)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

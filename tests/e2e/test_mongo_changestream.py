#!/usr/bin/python3
"""End-to-end: alerts raised or triaged by another riskd instance reach this
instance's WebSocket subscribers through a MongoDB change stream. A real
`riskd serve` runs on the MongoDB store against MockupDB (Debian
python3-mockupdb), which plays a one-node replica set and, for the change
stream, the other instance's changes. Checks the aggregate riskd opens (only
other origins, full documents looked up), the messages subscribers get for
an insert, an update and a status change, the resume after a resumable
error (resumeAfter with the last token), and that a deployment without
change streams (a standalone server's error) leaves the server serving and
says why in the log. TAP."""
import base64
import hashlib
import hmac
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from bson import ObjectId  # noqa: E402
from tap import check, finish  # noqa: E402
from test_store_mongo_wire import Mock  # noqa: E402
from wsclient import WS  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "riskd")))
SECRET = "changestream-secret-that-is-long-enough-0123"
SALT = "c2FsdHNhbHRzYWx0"
HASH = "$argon2id$v=19$m=65536,t=3,p=1$%s$aGFzaGhhc2hoYXNoaGFzaA" % SALT
OTHER = "0123456789abcdef01234567"   # the other instance's origin


def token(user, role):
    """A token as riskd issues them (HS256, iss riskd, pwv = the salt)."""
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=")
    now = int(time.time())
    head = b64({"alg": "HS256", "typ": "JWT"})
    body = b64({"sub": user, "role": role, "jti": "t1", "pwv": SALT, "iat": now, "exp": now + 600, "iss": "riskd"})
    sig = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), head + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    return (head + b"." + body + b"." + sig).decode()


class Replica:
    """The mock deployment: answers every command riskd sends (as an empty
    database would), the users find with one analyst, and the change stream
    from a queue of changes the test pushes."""

    def __init__(self, aggregate_error=None):
        self.mock = Mock()
        self.changes = queue.Queue()
        self.streams = []          # the $changeStream aggregates, as dicts
        self.getmore_errors = queue.Queue()
        self.aggregate_error = aggregate_error
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                r = self.mock.server.receives(timeout=0.2)
            except Exception:
                continue
            try:
                self.answer(r)
            except Exception:
                pass

    def answer(self, r):
        doc = dict(r.doc)
        name = next(iter(doc))
        if name == "aggregate" and doc.get("pipeline") and "$changeStream" in doc["pipeline"][0]:
            self.streams.append(doc)
            if self.aggregate_error:
                code, msg = self.aggregate_error
                return r.reply({"ok": 0, "code": code, "errmsg": msg})
            return r.ok(cursor={"id": 4242, "ns": "riskd.alerts", "firstBatch": []})
        if name == "getMore":
            try:
                code = self.getmore_errors.get_nowait()
                return r.reply({"ok": 0, "code": code, "errmsg": "primary stepped down",
                                "errorLabels": ["ResumableChangeStreamError"]})
            except queue.Empty:
                pass
            try:
                batch = [self.changes.get(timeout=0.3)]
            except queue.Empty:
                batch = []
            token = {"_data": "tok%d" % time.monotonic_ns()}
            for c in batch:
                c["_id"] = token
            return r.ok(cursor={"id": 4242, "ns": "riskd.alerts", "nextBatch": batch, "postBatchResumeToken": token})
        if name == "find" and doc.get("find") == "users":
            user = {"_id": ObjectId(), "username": "ann", "role": "analyst", "password_hash": HASH}
            return r.ok(cursor={"id": 0, "ns": "riskd.users", "firstBatch": [user]})
        if name in ("find", "aggregate"):
            return r.ok(cursor={"id": 0, "ns": "riskd." + str(doc[name]), "firstBatch": []})
        if name == "insert":
            return r.ok(n=1)
        if name == "update":
            return r.ok(n=1, nModified=1)
        if name == "killCursors":
            return r.ok(cursorsKilled=[4242])
        return r.ok()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.mock.stop()


class Riskd:
    def __init__(self, uri):
        self.tmp = tempfile.mkdtemp(prefix="riskd-cs-")
        os.makedirs(os.path.join(self.tmp, "models"))
        self.log = open(os.path.join(self.tmp, "log"), "w+")
        self.proc = subprocess.Popen([BIN, "serve", "--port", "0", "--workers", "2", "--db", uri,
                                      "--scripts", os.path.join(ROOT, "scripts"), "--rules", os.path.join(ROOT, "rules"),
                                      "--models", os.path.join(self.tmp, "models")],
                                     stdout=self.log, stderr=self.log, cwd=self.tmp,
                                     env=dict(os.environ, JWT_SECRET=SECRET))
        self.port = self.origin = None
        deadline = time.time() + 15
        while time.time() < deadline and not self.port:
            time.sleep(0.05)
            for d in self.lines():
                if d.get("msg") == "listening":
                    self.port, self.origin = d["port"], d.get("origin")
        assert self.port, self.text()

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def lines(self):
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        text = self.text()
        if code != 0 or "Sanitizer" in text or "runtime error:" in text:
            return "exit status %d; log tail:\n%s" % (code, text[-8000:])
        return None


def alert_doc(oid, **kw):
    d = {"_id": oid, "user_id": "bob", "severity": "high", "sev_rank": 2, "status": "open", "cause": "new_country",
         "event_count": 1, "event_ids": ["ev1"], "origin": OTHER,
         "history": [{"status": "open", "who": "riskd"}],
         "doc": json.dumps({"reasons": ["Login from a country never seen for this user"], "rules": ["new_country"]})}
    d.update(kw)
    return d


def next_alert(ws, timeout=8):
    ws.sock.settimeout(timeout)
    while True:
        m = ws.recv()
        if isinstance(m, dict) and m.get("topic") == "alerts" and m.get("type") != "subscribed":
            return m


def main():
    rep = Replica()
    srv = Riskd(rep.mock.uri)
    ws = None
    try:
        def subscribed():
            nonlocal ws
            ws = WS(srv.port, token=token("ann", "analyst"))
            assert ws.status == 101, (ws.status, getattr(ws, "body", None))
            m = ws.recv()
            assert m.get("type") == "auth" and m["data"]["role"] == "analyst", m
            ws.send({"type": "subscribe", "topic": "alerts"})
            m = ws.recv()
            assert m.get("type") == "subscribed", m
        check("an analyst subscribes to alerts over the WebSocket (MongoDB store)", subscribed)

        def stream_opened():
            deadline = time.time() + 10
            while not rep.streams and time.time() < deadline:
                time.sleep(0.05)
            assert rep.streams, "no $changeStream aggregate"
            a = rep.streams[0]
            assert a["aggregate"] == "alerts", a
            cs = a["pipeline"][0]["$changeStream"]
            assert cs.get("fullDocument") == "updateLookup", cs
            match = a["pipeline"][1]["$match"]["$or"]
            assert srv.origin and len(srv.origin) == 24, srv.origin
            assert match[0] == {"operationType": "insert", "fullDocument.origin": {"$ne": srv.origin}}, match
            assert match[1]["updateDescription.updatedFields.origin"] == {"$ne": srv.origin}, match
        check("riskd watches the alerts collection for other instances' changes only", stream_opened)

        oid = ObjectId()

        def created():
            rep.changes.put({"operationType": "insert", "ns": {"db": "riskd", "coll": "alerts"},
                             "documentKey": {"_id": oid}, "fullDocument": alert_doc(oid)})
            m = next_alert(ws)
            assert m["type"] == "created", m
            d = m["data"]
            assert d["alert_id"] == str(oid) and d["user_id"] == "bob" and d["severity"] == "high", d
            assert d["cause"] == "new_country" and d["status"] == "open" and d["event_id"] == "ev1", d
            assert d["reasons"] == ["Login from a country never seen for this user"], d
            assert d["origin"] == OTHER and m["ts"].endswith("Z"), m
        check("an alert inserted by another instance reaches the subscriber as 'created'", created)

        def updated():
            rep.changes.put({"operationType": "update", "documentKey": {"_id": oid},
                             "updateDescription": {"updatedFields": {"event_count": 2, "origin": OTHER}, "removedFields": []},
                             "fullDocument": alert_doc(oid, event_count=2, event_ids=["ev1", "ev2"], severity="critical")})
            m = next_alert(ws)
            assert m["type"] == "updated", m
            assert m["data"]["event_count"] == 2 and m["data"]["event_id"] == "ev2" and m["data"]["severity"] == "critical", m
        check("another attempt added to it arrives as 'updated' with the new severity", updated)

        def triaged():
            hist = [{"status": "open", "who": "riskd"}, {"status": "investigating", "who": "zoe", "note": "on it"}]
            rep.changes.put({"operationType": "update", "documentKey": {"_id": oid},
                             "updateDescription": {"updatedFields": {"status": "investigating", "origin": OTHER}},
                             "fullDocument": alert_doc(oid, status="investigating", history=hist)})
            m = next_alert(ws)
            assert m["type"] == "status_changed", m
            d = m["data"]
            assert d["status"] == "investigating" and d["previous"] == "open" and d["by"] == "zoe" and d["note"] == "on it", d
        check("a triage on another instance arrives as 'status_changed' with who, the note and the previous status", triaged)

        def gone():
            rep.changes.put({"operationType": "delete", "documentKey": {"_id": oid}})
            rep.changes.put({"operationType": "update", "documentKey": {"_id": oid},
                             "updateDescription": {"updatedFields": {"x": 1}}, "fullDocument": None})
            oid2 = ObjectId()
            rep.changes.put({"operationType": "insert", "documentKey": {"_id": oid2}, "fullDocument": alert_doc(oid2)})
            m = next_alert(ws)
            assert m["data"]["alert_id"] == str(oid2), m   # the two before it told nothing
        check("a delete, and an update whose document is gone, are not told", gone)

        def resumed():
            n = len(rep.streams)
            rep.getmore_errors.put(189)
            deadline = time.time() + 10
            while len(rep.streams) == n and time.time() < deadline:
                time.sleep(0.05)
            assert len(rep.streams) > n, "no new change stream after a resumable error"
            cs = rep.streams[-1]["pipeline"][0]["$changeStream"]
            assert "resumeAfter" in cs or "startAfter" in cs or "startAtOperationTime" in cs, cs
            tok = cs.get("resumeAfter") or cs.get("startAfter")
            assert tok is None or str(tok.get("_data", "")).startswith("tok"), cs
            oid3 = ObjectId()
            rep.changes.put({"operationType": "insert", "documentKey": {"_id": oid3}, "fullDocument": alert_doc(oid3)})
            m = next_alert(ws)
            assert m["data"]["alert_id"] == str(oid3), m
        check("a resumable error (primary stepped down) resumes after the last change, and alerts keep coming", resumed)

        def still_serving():
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % srv.port, timeout=5) as r:
                assert r.status == 200
        check("the server serves throughout", still_serving)
    finally:
        if ws:
            ws.sock.close()
        why = srv.stop()
        rep.close()

    def clean():
        assert why is None, why
    check("the server exits 0 on SIGTERM with the watcher running (no sanitizer report)", clean)

    # A standalone mongod refuses change streams: the instance works on and says why.
    rep = Replica(aggregate_error=(40573, "The $changeStream stage is only supported on replica sets"))
    srv = Riskd(rep.mock.uri)
    try:
        def standalone():
            deadline = time.time() + 10
            warned = []
            while not warned and time.time() < deadline:
                time.sleep(0.1)
                warned = [d for d in srv.lines() if "replica set" in d.get("msg", "")]
            assert warned, srv.text()[-3000:]
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % srv.port, timeout=5) as r:
                assert r.status == 200
            n = len(rep.streams)
            time.sleep(2.5)
            assert len(rep.streams) <= n + 1, "retries without backing off: %d" % (len(rep.streams) - n)
        check("without change streams (no replica set) the server serves, logs why once, and backs off", standalone)
    finally:
        why = srv.stop()
        rep.close()

    def clean2():
        assert why is None, why
    check("and stops cleanly", clean2)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Wire-level tests of the MongoDB store backend against MockupDB (Debian
python3-mockupdb), a scriptable server speaking the MongoDB wire protocol:
no MongoDB server is needed, so these always run. riskd's store is driven
from Lua (build/riskd.so) in a child process; the test plays the server and
checks the exact commands riskd sends and how it handles failures. TAP."""
import json
import os
import subprocess
import sys
import time

from mockupdb import MockupDB

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
from tap import check, finish


class Mock:
    """A one-node replica set primary (so that the driver uses sessions and
    retryable writes, as with a real deployment)."""

    def __init__(self):
        self.server = MockupDB(auto_ismaster=True, max_wire_version=13, min_wire_version=0)
        # 127.0.0.1, not MockupDB's "localhost": a minimal container may have
        # no /etc/hosts to resolve it (found in a debootstrap minbase root).
        self.server._address = ("127.0.0.1", 0)
        self.port = self.server.run()
        addr = "127.0.0.1:%d" % self.port
        self.server.cancel_responder(self.server._autoresponders[0]) if self.server._autoresponders else None
        hello = {"ismaster": True, "isWritablePrimary": True, "secondary": False, "setName": "rs", "hosts": [addr],
                 "me": addr, "primary": addr, "maxWireVersion": 13, "minWireVersion": 0,
                 "logicalSessionTimeoutMinutes": 30, "maxBsonObjectSize": 16777216,
                 "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000, "setVersion": 1,
                 "electionId": {"$oid": "7fffffff0000000000000001"} and None}
        hello.pop("electionId")
        self.server.autoresponds("ismaster", **hello)
        self.server.autoresponds("isMaster", **hello)
        self.server.autoresponds("hello", **hello)
        self.server.autoresponds("endSessions", ok=1)
        self.uri = ("mongodb://%s/riskd?replicaSet=rs&serverSelectionTimeoutMS=3000&socketTimeoutMS=%d"
                    "&connectTimeoutMS=2000" % (addr, 700))

    def stop(self):
        self.server.stop()


def lua(code):
    so_dir = os.environ.get("RISKD_SO_DIR", os.path.join(ROOT, "build"))
    prelude = 'package.cpath = "%s/?.so;" .. package.cpath\n' % os.path.abspath(so_dir)
    return subprocess.Popen(["lua5.4", "-e", prelude + code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def answer(mock, proc, handlers, limit=15.0):
    """Replies to every request until the Lua child exits; returns the
    commands seen (as dicts). handlers: {command name: fn(request) -> bool}
    (True when the handler replied)."""
    seen = []
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        try:
            r = mock.server.receives(timeout=0.2)
        except Exception:
            continue
        doc = dict(r.doc)
        name = next(iter(doc))
        seen.append(doc)
        fn = handlers.get(name)
        if fn and fn(r):
            continue
        if name == "insert":
            r.ok(n=len(r.docs[0].get("documents", [])) or 1)
        elif name == "update":
            r.ok(n=1, nModified=1)
        elif name == "delete":
            r.ok(n=0)
        elif name in ("find", "aggregate"):
            r.ok(cursor={"id": 0, "ns": "riskd." + str(doc[name]), "firstBatch": []})
        else:
            r.ok()
    out, err = proc.communicate(timeout=10)
    return seen, out, err


def cmds(seen, name, coll=None):
    return [d for d in seen if name in d and (coll is None or d[name] == coll)]


OPEN_AND_RECORD = """
local store = require("riskd.store")
local db, err = store.open("%s")
if not db then print("open failed: " .. err) os.exit(1) end
local id, msg, code = db:record({ user_id = "alice", ip_address = "192.0.2.7", ts = 1700000000000,
    device_id = "phone", country = "JP", latitude = 35.68, longitude = 139.65,
    risk_score = 72.5, risk_level = "high", is_anomaly = true })
print(id and ("ok " .. id) or ("err " .. tostring(code) .. " " .. tostring(msg)))
"""


def main():
    mock = Mock()
    try:
        seen, out, err = answer(mock, lua(OPEN_AND_RECORD % mock.uri), {})

        def indexes():
            made = {d["createIndexes"]: d["indexes"] for d in cmds(seen, "createIndexes")}
            assert set(made) == {"users", "events", "profiles", "alerts", "user_hourly", "ips", "api_keys", "outbox"}, made.keys()
            assert made["users"][0]["unique"] is True and dict(made["users"][0]["key"]) == {"username": 1}
            live = made["api_keys"][0]    # one live key per name; revoked ones keep their names
            assert live["unique"] is True and dict(live["partialFilterExpression"]) == {"revoked": 0}, live
            keys = [dict(i["key"]) for i in made["events"]]
            assert {"user_id": 1, "ts": -1} in keys and {"ts": -1, "_id": -1} in keys, keys
        check("indexes are created at open, username unique", indexes)

        def insert():
            assert out.startswith("ok "), (out, err)
            ins = cmds(seen, "insert", "events")
            assert len(ins) == 1, ins
            wc = dict(ins[0]["writeConcern"])
            assert wc["w"] == "majority", wc
            assert "lsid" in ins[0] and "txnNumber" in ins[0], "not a retryable write"
        check("an event is inserted with w: majority as a retryable write", insert)

        def summaries():
            ups = cmds(seen, "update")
            by = {}
            for u in ups:
                by.setdefault(u["update"], []).append(u["updates"][0])
            hourly = by["hourly"][0]
            assert hourly["upsert"] is True and dict(hourly["u"]["$inc"])["high"] == 1, hourly
            assert dict(hourly["q"]) == {"_id": 1700000000000 // 3600000}, hourly
            uh = by["user_hourly"][0]
            assert dict(uh["u"]["$max"]) == {"max_risk": 72.5}, uh
        check("summaries are atomic upserts ($inc, $max)", summaries)

        def profile():
            prof = [u["updates"][0] for u in cmds(seen, "update", "profiles")]
            main = prof[0]
            inc = dict(main["u"]["$inc"])
            assert inc["attempts"] == 1 and inc["high_risk"] == 1 and inc["successes"] == 1, inc
            # 22:13 UTC; 07:32 by the sun in Tokyo, where the login was
            assert inc["hours.22"] == 1 and inc["local_hours.7"] == 1, inc
            assert dict(main["u"]["$min"]) == {"first": 1700000000000} and main["upsert"] is True, main
            # the last success moves forward only: a conditional $set
            assert "$or" in prof[1]["q"], prof[1]
            # bounded lists: positional $inc, then $push with $sort/$slice (the mock said n=1,
            # so only the $inc step ran for each kind)
            incs = [p for p in prof if "devices.v" in p["q"]]
            assert incs and dict(incs[0]["u"]["$inc"]) == {"devices.$.n": 1}, incs
        check("the profile is updated in the server, never read and rewritten", profile)
    finally:
        mock.stop()

    mock = Mock()
    try:
        def first_push():
            def update(r):
                u = r.doc["updates"][0]
                if r.doc["update"] == "profiles" and "$inc" in u["u"] and "devices.$.n" in dict(u["u"]["$inc"]):
                    r.ok(n=0, nModified=0)   # the device is new to this profile
                    return True
                return False
            seen, out, err = answer(mock, lua(OPEN_AND_RECORD % mock.uri), {"update": update})
            assert out.startswith("ok "), (out, err)
            push = [u["updates"][0] for u in cmds(seen, "update", "profiles") if "$push" in u["updates"][0]["u"]]
            dev = dict(push[0]["u"]["$push"])["devices"]
            assert dev["$slice"] == -32 and dict(dev["$sort"]) == {"last": 1}, dev
            assert dict(push[0]["q"])["devices.v"] == {"$ne": "phone"}, push[0]["q"]
        check("a new device is pushed keeping the 32 most recent", first_push)
    finally:
        mock.stop()

    def failing(name, handler, want_code, expect_inserts):
        mock = Mock()
        try:
            seen, out, err = answer(mock, lua(OPEN_AND_RECORD % mock.uri), {"insert": handler})
            assert out.startswith(want_code), (out, err)
            n = len(cmds(seen, "insert", "events"))
            assert n in expect_inserts, "inserts seen: %d" % n
            if not want_code.startswith("ok"):
                assert not cmds(seen, "update", "hourly"), "summaries written for an event not acknowledged"
            return seen
        finally:
            mock.stop()

    def server_error():
        failing("error", lambda r: r.command_err(code=2, errmsg="BadValue: boom") or True, "err store_error", (1,))
    check("a server error is reported and nothing after it is written", server_error)

    def not_primary():
        state = {"n": 0}

        def h(r):
            state["n"] += 1
            if state["n"] == 1:
                # Servers of wire version 9+ mark retryable errors with a label.
                r.reply({"ok": 0, "code": 10107, "codeName": "NotWritablePrimary", "errmsg": "not primary",
                         "errorLabels": ["RetryableWriteError"]})
                return True
            return False
        seen = failing("notprimary", h, "ok ", (2,))
        ins = cmds(seen, "insert", "events")
        assert ins[0]["txnNumber"] == ins[1]["txnNumber"], "the retry is not the same write"
    check("a not-primary reply is retried once as the same write", not_primary)

    def dropped():
        failing("hangup", lambda r: r.hangup() or True, "err store_error", (2,))
    check("a dropped connection is retried once, then reported", dropped)

    def slow():
        def h(r):
            time.sleep(1.5)   # past socketTimeoutMS=700
            return True       # never answered
        # the driver does not retry a write whose outcome it cannot know
        failing("slow", h, "err store_error", (1, 2))
    check("a slow server times out and the write is not acknowledged", slow)

    mock = Mock()
    try:
        def stats():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            local s, msg = db:stats(1700000000000)
            print(s and "ok" or ("err " .. msg))
            """ % mock.uri

            def agg(r):
                if r.doc["aggregate"] == "hourly":
                    r.ok(cursor={"id": 0, "ns": "riskd.hourly", "firstBatch": [
                        {"_id": None, "attempts": 10, "failures": 2, "anomalies": 1, "low": 5, "medium": 3, "high": 1, "critical": 1}]})
                    return True
                return False
            seen, out, err = answer(mock, lua(code), {"aggregate": agg})
            assert out.strip() == "ok", (out, err)
            pipes = [d["pipeline"] for d in cmds(seen, "aggregate", "hourly")]
            assert len(pipes) == 2, pipes          # all time, then the last 24 h
            assert "$group" in pipes[0][1] and "$match" in pipes[0][0], pipes[0]
            assert dict(pipes[1][0]["$match"]["_id"])["$gte"] == 1700000000000 // 3600000 - 23, pipes[1]
        check("stats aggregate the hourly summaries, never the events", stats)
    finally:
        mock.stop()

    mock = Mock()
    try:
        def every_operation():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            local function show(name, ...) print(name, select("#", ...) > 0 and tostring((...)) or "", select(3, ...)) end
            show("user_create", db:user_create({ username = "ann", role = "admin", password_hash = "h" }))
            show("user", db:user("ann"))
            show("users", db:users())
            show("set_password", db:user_set_password("ann", "h2"))
            show("user_delete", db:user_delete("ann"))
            show("events", db:events({ user_id = "alice", risk_level = "high", min_risk = 50, since = 1, ["until"] = 2, anomaly = true }))
            show("event", db:event("5f1d7c9e8b3a4c2d1e0f9a8b"))
            show("bad event id", db:event("nope"))
            show("recent", db:recent("alice", "192.0.2.7", 1))
            show("profile", db:profile("alice"))
            show("global", db:global_counts({ devices = "laptop", countries = "FR" }))
            local a = db:alert_insert({ user_id = "alice", severity = "high", cause = "new_device", created = 1700000000000 })
            show("alert_insert", a)
            show("alert", db:alert("5f1d7c9e8b3a4c2d1e0f9a8b"))
            show("alerts", db:alerts({ status = "open", severity = "high", user_id = "alice", since = 1 }))
            show("find_open", db:alert_find_open("alice", "new_device", 1))
            show("add_event", db:alert_add_event("5f1d7c9e8b3a4c2d1e0f9a8b", "5f1d7c9e8b3a4c2d1e0f9a8c", "critical", 5))
            show("set_status", db:alert_set_status("5f1d7c9e8b3a4c2d1e0f9a8b", "resolved", "ann", "ok", 6))
            show("timeline", db:timeline(0, 7200000, "hour"))
            show("top all", db:top_users(0, 5))
            show("top 24h", db:top_users(1, 5))
            show("purge", db:purge(1700000000000 * 2, 100))
            show("state_put", db:state_put("calibration", "text"))
            show("state", db:state("calibration"))
            print("done")
            """ % mock.uri
            seen, out, err = answer(mock, lua(code), {})
            assert out.strip().endswith("done"), (out, err)
            names = {(next(iter(d)), str(d[next(iter(d))])) for d in seen}
            for want in [("insert", "users"), ("find", "users"), ("update", "users"), ("delete", "users"),
                         ("aggregate", "events"), ("find", "events"), ("find", "profiles"), ("insert", "alerts"),
                         ("find", "alerts"), ("update", "alerts"), ("find", "hourly"), ("aggregate", "profiles"),
                         ("aggregate", "user_hourly"), ("delete", "ips"), ("find", "value_counts"), ("find", "meta"),
                         ("update", "state"), ("find", "state")]:
                assert want in names, "no %s on %s: %s" % (want[0], want[1], sorted(names))
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            assert lines["event"].startswith("nil\t") and "not_found" in lines["event"], lines["event"]
            assert "not_found" in lines["bad event id"], lines
            assert "not_found" in lines["user"], lines
            assert "not_found" in lines["state"], lines          # the mock keeps nothing
            # the top risky users leave riskd's own accounts (riskd:NAME) out, both ways
            for coll, field in (("profiles", "_id"), ("user_hourly", "u")):
                match = dict(cmds(seen, "aggregate", coll)[0]["pipeline"][0]["$match"])
                assert match[field]["$not"].pattern == "^riskd:", match
        check("every store operation speaks to the server and reads its empty answers", every_operation)

        def phishing():
            code = """
            local db = assert(require("riskd.store").open("%s", { retention_days = 30 }))
            local id = assert(db:phish_insert({ ts = 1700000000000, verdict = "phishing", score = 91.5,
                sender = "x@paypa1.com", recipient = "alice@corp.example", subject = "verify", reasons = { "r" } }))
            print("id", id)
            print("list", db:phish_list({ verdict = "phishing", sender = "x@paypa1.com", min_score = 70, since = 1, ["until"] = 2 }).total)
            print("get", select(3, db:phish("5f1d7c9e8b3a4c2d1e0f9a8b")))
            print("bad", select(3, db:phish("nope")))
            print("set", db:phish_set_alert(id, "5f1d7c9e8b3a4c2d1e0f9a8c"))
            print("done")
            """ % mock.uri
            seen, out, err = answer(mock, lua(code), {"count": lambda r: r.ok(n=0) or True})
            assert out.strip().endswith("done"), (out, err)
            idx = [d for d in cmds(seen, "createIndexes", "phishing")]
            keys = [dict(i["key"]) for d in idx for i in d["indexes"]]
            assert {"verdict": 1, "ts": -1} in keys and {"ts": -1, "_id": -1} in keys, keys
            ttl = [i for d in idx for i in d["indexes"] if "expireAfterSeconds" in i]
            assert len(ttl) == 1 and ttl[0]["expireAfterSeconds"] == 30 * 86400 and dict(ttl[0]["key"]) == {"ts": 1}, ttl
            ins = cmds(seen, "insert", "phishing")
            assert len(ins) == 1 and dict(ins[0]["writeConcern"])["w"] == "majority", ins
            d = ins[0]["documents"][0]
            assert d["verdict"] == "phishing" and d["score"] == 91.5 and d["recipient"] == "alice@corp.example", d
            assert json.loads(d["doc"])["reasons"] == ["r"], d
            finds = cmds(seen, "find", "phishing")
            q = dict(finds[0]["filter"])
            assert q["verdict"] == "phishing" and dict(q["score"]) == {"$gte": 70} and "$lt" in dict(q["ts"]), q
            ups = [u for u in cmds(seen, "update", "phishing")]
            assert ups and dict(ups[0]["updates"][0]["u"]["$set"]) == {"alert_id": "5f1d7c9e8b3a4c2d1e0f9a8c"}, ups
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            assert lines["get"] == "not_found" and lines["bad"] == "not_found", lines
        check("phishing analyses: indexes and a TTL made on first use, insert, filtered list, get, alert link", phishing)

        def lua_mongo():
            code = """
            local mongo = require("riskd.mongo")
            local c = assert(mongo.client("%s"))
            local coll = c:collection("riskd", "notes")
            local id = assert(coll:insert_one({ user = "alice", n = 1, at = mongo.date(1700000000000) }))
            print("id", #tostring(id))
            print("many", assert(coll:insert_many({ { n = 2 }, { n = 3 } })))
            for doc in coll:find({ user = "alice" }, { sort = { { "n", -1 }, { "user", 1 } }, limit = 5, projection = { n = 1 } }) do
                print("doc", doc.n, math.type(doc.n), doc.tags and #doc.tags or -1)
            end
            print("one", coll:find_one({ n = 2 }))
            print("count", coll:count({}))
            print("update", coll:update_one({ n = 1 }, { ["$inc"] = { n = 1 } }, { upsert = true }).nModified)
            print("update_many", coll:update_many({}, { ["$set"] = { seen = true } }).nModified)
            print("delete", coll:delete_one({ n = 1 }), coll:delete_many({}))
            for row in coll:aggregate({ { ["$match"] = { n = { ["$gt"] = 1 } } } }) do print("agg", row._id) end
            print("index", coll:create_index({ { "user", 1 }, { "n", -1 } }, { unique = true }))
            print("cmd", c:command("admin", { ping = 1 }).ok)
            print("done")
            """ % mock.uri

            def find(r):
                if r.doc["find"] == "notes":
                    r.ok(cursor={"id": 0, "ns": "riskd.notes", "firstBatch": [{"n": 2, "tags": ["a", "b"]}, {"n": 1}]})
                    return True
                return False

            def aggregate(r):
                if r.doc["aggregate"] == "notes":
                    r.ok(cursor={"id": 0, "ns": "riskd.notes", "firstBatch": [{"_id": "g1"}]})
                    return True
                if r.doc["aggregate"] == "notes" or r.doc.get("pipeline") and "$group" in str(r.doc["pipeline"]):
                    r.ok(cursor={"id": 0, "ns": "riskd.notes", "firstBatch": [{"n": 3}]})
                    return True
                return False
            seen, out, err = answer(mock, lua(code), {"find": find, "aggregate": aggregate})
            assert out.strip().endswith("done"), (out, err)
            assert "doc\t2\tinteger\t2" in out and "doc\t1\tinteger\t-1" in out, out
            assert "id\t24" in out and "many\t2" in out, out
            ins = cmds(seen, "insert", "notes")
            doc = ins[0]["documents"][0]
            assert doc["n"] == 1 and type(doc["n"]).__name__ == "Int64", (doc, type(doc["n"]))  # int64 on the wire
            idx = cmds(seen, "createIndexes", "notes")[0]["indexes"][0]
            assert idx["unique"] is True and list(idx["key"].items()) == [("user", 1), ("n", -1)], idx
            finds = cmds(seen, "find", "notes")
            assert list(finds[0]["sort"].items()) == [("n", -1), ("user", 1)] and finds[0]["limit"] == 5, finds[0]
        check("riskd.mongo: insert, find as an iterator, update, delete, aggregate, index, command", lua_mongo)
    finally:
        mock.stop()

    mock = Mock()
    try:
        def shared_rates():
            # Instances on one deployment share the site-wide rates: this one counted 3 failures from
            # never-seen devices in hour H; the server holds 10 for H (others' included once pushed),
            # 4 for H-1 and 2 for H-30 (the oldest history). The first round pushes, then reads the
            # 72 hours behind to seed the baseline; the second reads only H-1 and H.
            H = 480000
            docs = [{"_id": "f:%d" % h, "name": "f", "hour": h, "n": n} for h, n in ((H - 30, 2), (H - 1, 4), (H, 10))]

            def find(r):
                if r.doc["find"] != "rates":
                    return False
                q = r.doc["filter"]
                lo, hi = q["hour"]["$gte"], q["hour"]["$lte"]
                r.ok(cursor={"id": 0, "ns": "riskd.rates", "firstBatch": [d for d in docs if lo <= d["hour"] <= hi]})
                return True
            code = ("local store = require('riskd.store')\n"
                    "local rates = require('riskd.rates')\n"
                    "local db = assert(store.open('%s'))\n"
                    "local T = %d * 3600000\n"
                    "for _ = 1, 3 do rates.hit('f', T + 1000) end\n"
                    "print('sync1', db:sync_rates())\n"
                    "local g = rates.get('f', T + 1000)\n"
                    "print(string.format('got %%.6f %%.6f %%d', g.last_hour, g.baseline, g.hours))\n"
                    "rates.hit('f', T + 2000)\n"
                    "print('sync2', db:sync_rates())\n") % (mock.uri, H)
            seen, out, err = answer(mock, lua(code), {"find": find})
            assert "sync1\ttrue" in out and "sync2\ttrue" in out, (out, err)
            made = [d for d in cmds(seen, "createIndexes", "rates")]
            assert len(made) == 1, made   # once, on first use
            keys = [list(i["key"].items()) for i in made[0]["indexes"]]
            ttl = [i for i in made[0]["indexes"] if "expireAfterSeconds" in i]
            assert [("name", 1), ("hour", 1)] in keys and ttl and ttl[0]["expireAfterSeconds"] == 30 * 86400, made
            ups = [u["updates"][0] for u in cmds(seen, "update", "rates")]
            assert [dict(u["u"]["$inc"]) for u in ups] == [{"n": 3}, {"n": 1}], ups
            assert ups[0]["upsert"] is True and dict(ups[0]["q"]) == {"_id": "f:%d" % H}, ups[0]
            assert dict(ups[0]["u"]["$setOnInsert"])["hour"] == H, ups[0]
            finds = cmds(seen, "find", "rates")
            ranges = [(f["filter"]["hour"]["$gte"], f["filter"]["hour"]["$lte"]) for f in finds]
            assert ranges == [(H - 72, H), (H - 1, H)], ranges
            # merged: this hour is the site's 10 (own hits included), plus the previous hour's 4
            # still in the sliding window; the baseline is seeded from H-30 to H-1
            got = [l for l in out.splitlines() if l.startswith("got")][0].split()
            base = 0.0
            for k, h in enumerate(range(H - 30, H)):
                c = {H - 30: 2, H - 1: 4}.get(h, 0)
                base = c if k == 0 else 0.95 * base + 0.05 * c
            into = 1000 / 3600000
            assert abs(float(got[1]) - (10 + 4 * (1 - into))) < 1e-5, got
            assert abs(float(got[2]) - base) < 1e-6 and int(got[3]) == 30, (got, base)
        check("shared rates: hits pushed with $inc, site-wide counts merged, the baseline seeded from the store", shared_rates)
    finally:
        mock.stop()

    mock = Mock()
    try:
        def held_successes():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            print("id", assert(db:record({ user_id = "bob", ip_address = "192.0.2.8", ts = 1700000000000,
                device_id = "laptop", risk_score = 50, risk_level = "medium", action = "challenge" },
                { held = "grace", learn_at = 1700000900000 })))
            print("outcome", db:outcome("5f1d7c9e8b3a4c2d1e0f9a8b", "passed_challenge", true))
            print("settle", db:settle(1700001000000, 10))
            print("due", db:due(1700001000000))
            print("done")
            """ % mock.uri
            from bson import ObjectId

            def fam(r):
                r.ok(value={"_id": ObjectId("5f1d7c9e8b3a4c2d1e0f9a8b"), "user_id": "bob", "ip": "192.0.2.8",
                            "ts": 1700000000000, "success": True, "risk_level": "medium", "held": 1,
                            "device_id": "laptop"})
                return True
            seen, out, err = answer(mock, lua(code), {"findAndModify": fam})
            assert out.strip().endswith("done"), (out, err)
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            ins = cmds(seen, "insert", "events")[0]["documents"][0]
            assert ins["held"] == 1 and ins["learn_at"] is not None, ins
            prof = [u["updates"][0] for u in cmds(seen, "update", "profiles")]
            first = dict(prof[0]["u"]["$inc"])
            assert "successes" not in first and first["failures"] == 0, first    # held: an attempt only
            learned = [p for p in prof if "successes" in dict(p["u"].get("$inc", {}))]
            assert len(learned) == 1 and dict(learned[0]["u"]["$inc"])["successes"] == 1, prof
            f = cmds(seen, "findAndModify", "events")[0]
            assert dict(f["query"])["held"] == {"$gt": 0} and dict(f["update"]["$set"])["held"] == 0, f
            assert lines["outcome"] == "true\ttrue", lines
            finds = [d for d in cmds(seen, "find", "events") if "held" in dict(d.get("filter", {}))]
            assert finds and dict(finds[0]["filter"])["held"] == 1, finds
            assert lines["settle"] == "0" and lines["due"] == "false", lines   # the mock holds nothing due
            assert len(finds) >= 2 and dict(finds[0]["sort"]) == {"learn_at": 1, "_id": 1}, finds
        check("held successes: an attempt at once, learned once by one atomic findAndModify", held_successes)

        def ping():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            print("up", db:ping())
            print("down", db:ping())
            print("done")
            """ % mock.uri
            n = {"ping": 0}

            def h(r):
                n["ping"] += 1
                if n["ping"] == 2:
                    r.command_err(code=13, errmsg="not authorized")
                    return True
                return False
            seen, out, err = answer(mock, lua(code), {"ping": h})
            assert out.strip().endswith("done"), (out, err)
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            assert lines["up"] == "true", lines
            assert lines["down"].startswith("nil\tmongodb: ping: not authorized"), lines
            assert len(cmds(seen, "ping")) == 2, seen
        check("ping (GET /healthz): a round trip to the server, its error reported", ping)

        def api_keys():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            local key, rec = db:key_issue("checkout")
            print("issue", key ~= nil and key:sub(1, 3), rec and rec.role)
            print("dup", select(3, db:key_issue("checkout")))
            print("bad name", select(3, db:key_issue("a b")))
            local k, why = db:key_check(key)
            print("check", k and k.name, k and k.role, why)
            print("wrong", select(3, db:key_check(key:sub(1, -2) .. (key:sub(-1) == "0" and "1" or "0"))))
            print("touch", db:key_touch(rec.id, 1700000000000))
            print("revoke", db:key_revoke("checkout", 1700000000001))
            print("keys", #db:keys())
            print("done")
            """ % mock.uri
            from bson import ObjectId  # noqa: F401
            stored = {}

            def insert(r):
                if r.doc["insert"] == "api_keys":
                    d = dict(r.docs[0]["documents"][0])
                    if "checkout" in stored:
                        r.command_err(code=11000, errmsg="E11000 duplicate key error")
                        return True
                    stored["checkout"] = d
                return False

            def find(r):
                if r.doc["find"] == "api_keys":
                    docs = [stored["checkout"]] if "checkout" in stored else []
                    flt = dict(r.doc.get("filter", {}))
                    if "_id" in flt:
                        docs = [d for d in docs if d["_id"] == flt["_id"]]
                    r.ok(cursor={"id": 0, "ns": "riskd.api_keys", "firstBatch": docs})
                    return True
                return False
            seen, out, err = answer(mock, lua(code), {"insert": insert, "find": find})
            assert out.strip().endswith("done"), (out, err)
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            assert lines["issue"] == "rk_\tservice", lines
            assert lines["dup"] == "conflict" and lines["bad name"] == "invalid", lines
            assert lines["check"] == "checkout\tservice\tnil", lines
            assert lines["wrong"] == "invalid", lines
            doc = stored["checkout"]
            assert len(doc["hash"]) == 64 and doc["revoked"] == 0 and doc["role"] == "service", doc
            assert all(doc["hash"] not in v for v in out.splitlines()), "the hash went back to the caller"
            ups = [u["updates"][0] for u in cmds(seen, "update", "api_keys")]
            assert dict(ups[0]["u"]["$max"]) == {"last_used": 1700000000000}, ups
            assert dict(ups[1]["q"]) == {"name": "checkout", "revoked": 0}, ups      # only the live key
            assert dict(ups[1]["u"]["$set"]) == {"revoked": 1700000000001}, ups
            lst = [d for d in cmds(seen, "find", "api_keys") if "sort" in d]
            assert lst and dict(lst[0]["sort"]) == {"name": 1, "revoked": 1, "created": -1}, lst
        check("API keys: the hash stored, checked by id, one live key per name, revoke and last use as updates", api_keys)

        def user_state():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            print("set", db:user_state("sue", "compromised", "ana", 1700000000000))
            print("clear", db:user_state("sue", nil, "ana", 1700000000001))
            print("none", select(3, db:user_state("ghost", "safe", "ana", 1)))
            local p = db:profile("sue")
            print("read", p.state.state, p.state.by, p.state.at)
            print("done")
            """ % mock.uri

            def update(r):
                if r.doc["update"] == "profiles" and dict(r.docs[0]["updates"][0]["q"]).get("_id") == "ghost":
                    r.ok(n=0, nModified=0)
                    return True
                return False

            def find(r):
                if r.doc["find"] == "profiles":
                    r.ok(cursor={"id": 0, "ns": "riskd.profiles", "firstBatch": [
                        {"_id": "sue", "attempts": 3, "successes": 3, "state": {"s": "at_risk", "by": "ana", "ts": 1700000000002}}]})
                    return True
                return False
            seen, out, err = answer(mock, lua(code), {"update": update, "find": find})
            assert out.strip().endswith("done"), (out, err)
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            assert lines["set"] == "true" and lines["clear"] == "true" and lines["none"] == "not_found", lines
            assert lines["read"] == "at_risk\tana\t1700000000002", lines
            ups = [u["updates"][0] for u in cmds(seen, "update", "profiles")]
            assert dict(dict(ups[0]["u"])["$set"])["state"] == {"s": "compromised", "by": "ana", "ts": 1700000000000}, ups
            assert "state" in dict(dict(ups[1]["u"])["$unset"]), ups
            assert not any(dict(u).get("upsert") for u in ups), "a state must not create a profile"
        def outbox():
            code = """
            local db = assert(require("riskd.store").open("%s"))
            print("put", db:outbox_put("https://hooks.example/a", "alert", '{"n":1}', 1700000000000) ~= nil)
            local l = db:outbox({ status = "dead", page = 2, per_page = 5 })
            print("list", l.total, #l.items)
            print("requeue", select(3, db:outbox_requeue("ffffffffffffffffffffffff", 1)))
            print("done")
            """ % mock.uri

            def count(r):
                if r.doc.get("aggregate") == "outbox":
                    r.ok(cursor={"id": 0, "ns": "riskd.outbox", "firstBatch": [{"n": 7}]})
                    return True
                return False

            def update(r):
                if r.doc["update"] == "outbox":
                    r.ok(n=0, nModified=0)
                    return True
                return False
            seen, out, err = answer(mock, lua(code), {"aggregate": count, "update": update})
            assert out.strip().endswith("done"), (out, err)
            lines = dict(l.split("\t", 1) for l in out.strip().splitlines()[:-1])
            assert lines["put"] == "true" and lines["list"] == "7\t0" and lines["requeue"] == "not_found", lines
            doc = dict(cmds(seen, "insert", "outbox")[0]["documents"][0])
            assert doc["status"] == "pending" and doc["next"] == doc["created"] == 1700000000000 and doc["lease"] == 0, doc
            f = [d for d in cmds(seen, "find", "outbox")][0]
            assert dict(f["filter"]) == {"status": "dead"} and f["skip"] == 5 and f["limit"] == 5, f
            assert dict(f["sort"]) == {"created": -1, "_id": -1}, f
            q = dict(cmds(seen, "update", "outbox")[0]["updates"][0]["q"])
            assert q == {"_id": "ffffffffffffffffffffffff", "status": "dead"}, q
        check("the outbox: a pending document, the dead-letter list paged, a requeue only of a dead one", outbox)

        check("user states: \$set and \$unset on the profile document, apart from the analyses' \$inc; read with it", user_state)
    finally:
        mock.stop()

    return finish()


if __name__ == "__main__":
    sys.exit(main())

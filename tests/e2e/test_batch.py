#!/usr/bin/env python3
"""End-to-end: the batch commands. `riskd generate` is deterministic per seed
and writes every attack kind; `riskd train` replays generated traffic through
the pipeline, trains, evaluates on held-out attempts with floors a broken
pipeline cannot reach, and saves a model the server loads. TAP."""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import time
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, finish  # noqa: E402
from test_story import Server, BIN, ROOT, E2E_SECRET  # noqa: E402

KINDS = {"account_takeover", "impossible_travel", "brute_force", "credential_stuffing", "password_spraying",
         "quiet_takeover"}


def riskd(*args, **kw):
    env = dict(os.environ, RISKD_SCRIPTS=os.path.join(ROOT, "scripts"), RISKD_RULES=os.path.join(ROOT, "rules"),
               RISKD_MODELS=kw.pop("models", os.path.join(ROOT, "models")), **kw.pop("extra_env", {}))
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=kw.pop("timeout", 300), env=env, **kw)


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-batch-")
    try:
        def generate_is_deterministic():
            a = riskd("generate", "--users", "400", "--days", "40", "--seed", "7")
            b = riskd("generate", "--users", "400", "--days", "40", "--seed", "7")
            c = riskd("generate", "--users", "400", "--days", "40", "--seed", "8")
            assert a.returncode == 0 and a.stdout == b.stdout and a.stdout != c.stdout, a.stderr
            lines = [json.loads(x) for x in a.stdout.splitlines()]
            assert len(lines) > 10000, len(lines)
            labels = {x["label"] for x in lines}
            assert labels == KINDS | {"normal"}, labels
            ts = [x["timestamp"] for x in lines]
            # in time order within each day (attacks may straddle midnight)
            assert sum(1 for i in range(1, len(ts)) if ts[i] < ts[i - 1]) < len(ts) / 1000, "not in time order"
            attacks = sum(1 for x in lines if x["label"] != "normal")
            assert 0.005 < attacks / len(lines) < 0.05, attacks / len(lines)   # --attack-rate 0.02 by default
            x = lines[0]
            assert set(x) == {"user_id", "timestamp", "ip_address", "success", "location", "device", "label"}, x
            with open(os.path.join(tmp, "gen.jsonl"), "w") as f:
                f.write(a.stdout)
        check("riskd generate: the same seed gives the same bytes, every attack kind is labelled", generate_is_deterministic)

        def realistic_mode():
            a = riskd("generate", "--users", "600", "--days", "30", "--seed", "5", "--attack-rate", "0.05", "--realistic")
            b = riskd("generate", "--users", "600", "--days", "30", "--seed", "5", "--attack-rate", "0.05", "--realistic")
            classic = riskd("generate", "--users", "600", "--days", "30", "--seed", "5", "--attack-rate", "0.05")
            assert a.returncode == 0 and a.stdout == b.stdout and a.stdout != classic.stdout, a.stderr
            rows = [json.loads(line) for line in a.stdout.splitlines()]
            kinds = {r["label"] for r in rows} - {"normal"}
            assert kinds == {"account_takeover", "impossible_travel", "brute_force", "credential_stuffing",
                             "password_spraying", "quiet_takeover", "session_replay", "proxy_takeover",
                             "botnet_stuffing", "slow_spraying"}, kinds
            legit = [r for r in rows if r["label"] == "normal"]
            users_per_ip, prefixes, uas = {}, {}, {}
            for r in legit:
                users_per_ip.setdefault(r["ip_address"], set()).add(r["user_id"])
                if r["ip_address"].startswith("100."):
                    prefixes.setdefault(r["user_id"], set()).add(r["ip_address"].rsplit(".", 1)[0])
                uas.setdefault(r["device"]["device_id"], set()).add(r["device"]["user_agent"])
            shared = [ip for ip, us in users_per_ip.items() if len(us) >= 10]
            assert len(shared) >= 3, "no office NAT or VPN exit shared by many users"
            assert max(len(p) for p in prefixes.values()) >= 3, "phones never change carrier prefix"
            assert any("-c" in r["device"]["device_id"] for r in legit), "no cleared cookies"
            assert any(len(v) > 1 for v in uas.values()), "no browser updates"
            fails = sum(1 for r in legit if not r["success"])
            assert 0.02 < fails / len(legit) < 0.1, fails / len(legit)
            # a replayed session carries a device id the victim used legitimately
            seen = {(r["user_id"], r["device"]["device_id"]) for r in legit}
            replays = [r for r in rows if r["label"] == "session_replay"]
            assert replays and all((r["user_id"], r["device"]["device_id"]) in seen or r["timestamp"] < "2026-01-06"
                                   for r in replays), replays[:2]
        check("riskd generate --realistic: deterministic, ten labelled kinds, shared NAT/VPN addresses, carrier"
              " churn, cleared cookies, browser updates, replayed sessions on known devices", realistic_mode)

        def network_owners():
            nets, mmdb = os.path.join(tmp, "networks.tsv"), os.path.join(tmp, "asn.mmdb")
            a = riskd("generate", "--users", "200", "--days", "20", "--seed", "5", "--attack-rate", "0.05", "--realistic",
                      "--networks", nets)
            b = riskd("generate", "--users", "200", "--days", "20", "--seed", "5", "--attack-rate", "0.05", "--realistic")
            assert a.returncode == 0 and a.stdout == b.stdout, a.stderr   # owners leave the traffic as it was
            owners = {}
            for line in open(nets):
                net, asn, org = line.rstrip("\n").split("\t")
                owners[net.rsplit(".", 1)[0]] = (int(asn), org)
            rows = [json.loads(line) for line in a.stdout.splitlines()]
            assert all(r["ip_address"].rsplit(".", 1)[0] in owners for r in rows), "an address without an owner"
            # a phone's carrier blocks belong to one carrier; a proxy in the victim's city to one of its ISPs
            carriers = {}
            for r in rows:
                if r["label"] == "normal" and r["ip_address"].startswith("100."):
                    carriers.setdefault(r["user_id"], set()).add(owners[r["ip_address"].rsplit(".", 1)[0]][0])
            # (but for the few blocks drawn twice, for two users: the first owner keeps one)
            one = sum(1 for c in carriers.values() if len(c) == 1)
            assert len(carriers) > 100 and one >= 0.9 * len(carriers), (one, len(carriers))
            proxies = [r for r in rows if r["label"] == "proxy_takeover"]
            assert proxies and all(owners[r["ip_address"].rsplit(".", 1)[0]][1].startswith(r["location"]["city"] + " ISP")
                                   for r in proxies), proxies[:1]
            p = subprocess.run(["perl", os.path.join(ROOT, "tools", "networks_mmdb.pl"), nets, mmdb],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stderr
            data = os.path.join(tmp, "owned.jsonl")
            with open(data, "w") as f:
                f.write(a.stdout)
            with_db = riskd("score", "--input", data, "--output", "-", extra_env={"RISKD_ASN_DB": mmdb})
            without = riskd("score", "--input", data, "--output", "-")
            assert with_db.returncode == 0 and without.returncode == 0, with_db.stderr + without.stderr
            fired = lambda out: sum(1 for line in out.splitlines() if '"name":"new_asn"' in line)
            assert fired(with_db.stdout) > 20 and fired(without.stdout) == 0, (fired(with_db.stdout), fired(without.stdout))
            p = riskd("generate", "--users", "20", "--networks", nets)
            assert p.returncode == 2 and "--networks needs --realistic" in p.stderr, p
        check("riskd generate --networks: who owns every network the traffic used (carriers keep a phone's blocks, "
              "proxies sit in the victim's city), as an ASN database riskd reads", network_owners)

        def bad_options():
            p = riskd("generate", "--users", "0")
            assert p.returncode == 2 and "--users" in p.stderr, p
            p = riskd("generate", "--colour", "red")
            assert p.returncode == 2 and "unknown option --colour" in p.stderr, p
            p = riskd("train", "--input", os.path.join(tmp, "missing.jsonl"))
            assert p.returncode == 1 and "missing.jsonl" in p.stderr, p
        check("bad options and files are refused with their names", bad_options)

        def train_and_evaluate():
            out = os.path.join(tmp, "models", "default.model")
            os.makedirs(os.path.dirname(out))
            p = riskd("train", "--input", os.path.join(tmp, "gen.jsonl"), "--output", out, "--seed", "3")
            assert p.returncode == 0, p.stderr
            assert "full pipeline" in p.stdout and "per attack kind" in p.stdout, p.stdout
            with open(os.path.join(tmp, "metrics.lua"), "w") as f:
                f.write("local m = assert(require('riskd.iforest').load(arg[1]))\n"
                        "print(require('cjson').encode(m:info().metrics))\n")
            metrics = riskd("run", os.path.join(tmp, "metrics.lua"), out, models=os.path.dirname(out))
            assert metrics.returncode == 0, metrics.stderr
            m = json.loads(metrics.stdout)
            # floors a broken pipeline cannot reach (a random scorer sits at 0.5)
            assert m["pipeline_auc"] >= 0.9 and m["forest_auc"] >= 0.85, m
            assert m["pipeline_recall"] >= 0.7 and m["pipeline_tpr_at_1pct"] >= 0.6, m
            assert m["holdout_attempts"] > 1000 and m["train_attempts"] > m["holdout_attempts"], m
        check("riskd train: held-out ROC AUC >= 0.9 for the pipeline, recall >= 0.7, metrics saved in the model",
              train_and_evaluate)

        def server_uses_it():
            s2 = Server(models=os.path.join(tmp, "models"))
            try:
                d = s2.analyze(user_id="someone", ip_address="192.0.2.4")
                assert isinstance(d["anomaly_score"], float) and "contributions" not in d, d
                s, h = s2.call("GET", "/healthz")
                assert h["model"] == "on", h
                # the exact explanation, computed on demand from the stored features
                s, x = s2.call("GET", "/api/login/events/%s/explain" % d["event_id"])
                assert s == 200 and set(x["contributions"]) >= {"hour_sin", "new_device"}, x
                total = sum(x["contributions"].values())
                assert abs(total - (d["anomaly_score"] - x["expected_score"])) < 1e-3, (total, d, x)
                d2 = s2.call("POST", "/api/login/analyze?explain=1", {"user_id": "someone", "ip_address": "192.0.2.4"},
                             token=s2.tokens["svc"])[1]
                assert set(d2["contributions"]) == set(x["contributions"]), d2   # inline when asked for
            finally:
                s2.stop()
        check("the server loads the trained model from its models folder and scores with it", server_uses_it)

        def score_equals_api():
            # A small file with attacks, scored by `riskd score` and posted to a
            # fresh server with the same model and rules, in the same order.
            g = riskd("generate", "--users", "40", "--days", "6", "--seed", "11", "--attack-rate", "0.05")
            path = os.path.join(tmp, "small.jsonl")
            with open(path, "w") as f:
                f.write(g.stdout)
            models = os.path.join(tmp, "models")
            p = riskd("score", "--input", path, "--output", os.path.join(tmp, "scored.jsonl"), models=models)
            assert p.returncode == 0, p.stderr
            scored = [json.loads(x) for x in open(os.path.join(tmp, "scored.jsonl"))]
            inputs = [json.loads(x) for x in g.stdout.splitlines()]
            assert len(scored) == len(inputs) and all(s["label"] == i["label"] for s, i in zip(scored, inputs))
            # The server must see exactly these attempts and nothing else: no
            # sign-in of its own (those are login events too), so its token is
            # made here with the server's secret for the service account.
            srv = Server(models=models, sign_in=False, hostile_rule=False)
            try:
                script = os.path.join(tmp, "pwv.lua")
                with open(script, "w") as f:
                    f.write("local u = assert(require('riskd.store').open(arg[1]):user('svc'))\n"
                            "print(require('api.auth').password_version(u.password_hash))\n")
                pwv = riskd("run", script, "sqlite:" + os.path.join(srv.tmp, "db"), models=models).stdout.strip()
                assert pwv, "no password version"

                def b64(b):
                    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
                now = int(time.time())
                head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
                body = b64(json.dumps({"sub": "svc", "role": "service", "jti": "b" * 32, "iat": now, "exp": now + 3600,
                                       "iss": "riskd", "pwv": pwv}).encode())
                sig = b64(hmac.new(E2E_SECRET.encode(), (head + "." + body).encode(), hashlib.sha256).digest())
                token = head + "." + body + "." + sig
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
                keys = ("risk_score", "risk_level", "action", "is_anomaly", "anomaly_score", "reasons", "rules",
                        "features", "rule_errors", "timestamp", "user_id")
                for i, line in enumerate(g.stdout.splitlines()):
                    # what a service sends: the attempt, not the generator's label (the API names
                    # a field it does not take; riskd score keeps such fields in its output)
                    line = json.dumps({k: v for k, v in json.loads(line).items() if k != "label"})
                    conn.request("POST", "/api/login/analyze", body=line,
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
                    r = conn.getresponse()
                    api = json.loads(r.read())
                    assert r.status == 200, (i, api)
                    for k in keys:
                        assert api[k] == scored[i][k], (i, k, api[k], scored[i][k])
                    assert (api["alert_id"] is None) == (scored[i]["alert_id"] is None), (i, api, scored[i])
                conn.close()
                assert any(s["alert_id"] for s in scored) and any(s["risk_level"] == "critical" for s in scored)
            finally:
                srv.stop()
        check("riskd score gives, line for line, what posting the same attempts to the API gives", score_equals_api)

        def memory_store_equals_sqlite():
            # riskd score keeps its profiles in the memory store (mem:) unless --db says otherwise; on
            # noisy traffic with every attack kind, the answers are SQLite's, line for line
            g = riskd("generate", "--users", "150", "--days", "14", "--seed", "3", "--attack-rate", "0.05", "--realistic")
            path = os.path.join(tmp, "noisy.jsonl")
            with open(path, "w") as f:
                f.write(g.stdout)
            models = os.path.join(tmp, "models")
            out = {}
            for db in ("mem:", "sqlite::memory:"):
                o = os.path.join(tmp, "noisy-%s.jsonl" % db.rstrip(":").replace(":", "-"))
                p = riskd("score", "--input", path, "--output", o, "--db", db, models=models)
                assert p.returncode == 0, p.stderr
                out[db] = [json.loads(x) for x in open(o)]
            a, b = out["mem:"], out["sqlite::memory:"]
            assert len(a) == len(b) == len(g.stdout.splitlines()) > 1000, (len(a), len(b))
            alerted = [x["alert_id"] is not None for x in a]
            for i, (x, y) in enumerate(zip(a, b)):
                assert (x.pop("alert_id") is None) == (y.pop("alert_id") is None), i
                x.pop("event_id"), y.pop("event_id")
                assert x == y, (i, x, y)
            assert sum(1 for x in a if x["risk_level"] == "critical") > 10
            # parsing and encoding on helper threads (as many as asked, or none) change nothing
            for threads in ("0", "3"):
                o = os.path.join(tmp, "noisy-t%s.jsonl" % threads)
                p = riskd("score", "--input", path, "--output", o, "--threads", threads, models=models)
                assert p.returncode == 0, p.stderr
                t = [json.loads(x) for x in open(o)]
                assert len(t) == len(a), (threads, len(t), len(a))
                for i, (x, y) in enumerate(zip(a, t)):
                    assert alerted[i] == (y.pop("alert_id") is not None), (threads, i)
                    y.pop("event_id")
                    assert x == y, (threads, i, x, y)
            p = riskd("score", "--input", path, "--output", os.devnull, models=models)
            assert p.returncode == 0, p.stderr
            # serve refuses it: each worker would have its own, and a restart would forget it all
            p = riskd("serve", "--db", "mem:", "--port", "0", models=models)
            assert p.returncode != 0 and "mem:" in p.stderr, p.stderr
        check("the memory store answers as SQLite does, and serve refuses it", memory_store_equals_sqlite)

        def score_bad_lines():
            path = os.path.join(tmp, "bad.jsonl")
            with open(path, "w") as f:
                f.write('{"user_id":"a","ip_address":"192.0.2.1","extra":{"kept":true}}\n'
                        '{"user_id":"a","ip_address":"192.0.2.1","user_id":"b"}\nnot json\n'
                        '{"user_id":"a"}\n')
            for threads in ("0", "1", "2"):
                p = riskd("score", "--input", path, "--threads", threads)
                assert p.returncode == 1, p
                assert ":2: not valid JSON: duplicate" in p.stderr and ":3: not valid JSON" in p.stderr, p.stderr
                assert ":4: ip_address is required" in p.stderr and "3 bad lines" in p.stderr, p.stderr
                # in the order of the file, whichever thread read them
                assert p.stderr.index(":2:") < p.stderr.index(":3:") < p.stderr.index(":4:"), p.stderr
                out = [json.loads(x) for x in p.stdout.splitlines()]
                assert len(out) == 1 and out[0]["extra"] == {"kept": True} and "risk_score" in out[0], out
            p = riskd("score", "--input", path, "--skip-bad")
            assert p.returncode == 0 and "(skipped)" in p.stderr, p
        check("riskd score: bad lines are named by number and skipped; unknown fields are kept", score_bad_lines)

        def answers(text):   # the lines without their ids (new at every run)
            out = []
            for line in text.splitlines():
                x = json.loads(line)
                x.pop("event_id")
                x["alert_id"] = x["alert_id"] is not None
                out.append(x)
            return out

        def score_timing():
            path = os.path.join(tmp, "timing.jsonl")
            g = riskd("generate", "--users", "200", "--days", "10", "--seed", "5", "--output", path)
            assert g.returncode == 0, g.stderr
            with open(path) as f:
                n = sum(1 for _ in f)
            plain = riskd("score", "--input", path, "--threads", "0")
            for threads in ("0", "2"):
                p = riskd("score", "--input", path, "--threads", threads, "--timing")
                assert p.returncode == 0, p.stderr
                assert answers(p.stdout) == answers(plain.stdout)   # timing changes no answer
                stages = {}
                for line in p.stderr.splitlines():
                    m = re.match(r"^  (\S.*?)\s+([0-9.]+) us per attempt\s+[0-9.]+ %$", line)
                    if m:
                        stages[m.group(1)] = float(m.group(2))
                for st in ("parsing", "store reads", "features", "forest", "rules", "combine", "store write", "output"):
                    assert stages.get(st, 0) > 0, (st, p.stderr)
                total = sum(stages.values())
                seq = [x for x in p.stderr.splitlines() if "sequential stages" in x]
                assert len(seq) == 1, p.stderr
                # the sequential share is the pipeline thread's stages over all of them
                want = sum(v for k, v in stages.items() if k not in ("parsing", "output"))   # hand-off too
                got = float(seq[0].split(": ")[1].split(" of ")[0])
                assert abs(got - want) <= 0.2 + 0.01 * want and abs(float(seq[0].split(" of ")[1].split()[0]) - total) <= 0.2 + 0.01 * total, \
                    (seq, stages)
                if threads == "0":
                    assert "Amdahl projection (not measured): 2 cores" in p.stderr and "64 cores" in p.stderr, p.stderr
                    # on one thread the stages add up to the thread's CPU time, which the run's wall
                    # time bounds: the clocks' own cost no longer lands in the stages
                    rate = float(re.search(r"attempts in [0-9.]+ s \(([0-9.]+)/s\)", p.stderr).group(1))
                    assert 0.3 * 1e6 / rate <= total <= 1.02 * 1e6 / rate, (total, rate, p.stderr)
                else:   # with helpers: the bound the pipeline's thread sets
                    assert "the pipeline's thread bounds the rate at" in p.stderr, p.stderr
                assert ("%d attempts" % n) in p.stderr, p.stderr
        check("riskd score --timing: every stage timed, the sequential share and an Amdahl projection, the same answers",
              score_timing)

        def helper_threads():
            # riskd.parallel (engine/l_parallel.c): values copied exactly both ways, answers in order,
            # failures as nil, message, refusals for what cannot be copied (the script asserts them)
            script = os.path.join(ROOT, "tests", "e2e", "fixture", "parallel_check.lua")
            p = riskd("run", script)
            assert p.returncode == 0 and p.stdout.strip() == "ok", (p.stdout, p.stderr)
            # and under AddressSanitizer with leak checks (make test builds it), with a score on two helpers
            asan = os.path.join(ROOT, "build", "asan", "riskd")
            assert os.path.exists(asan), "build/asan/riskd is missing: run make test"
            env = dict(os.environ, RISKD_SCRIPTS=os.path.join(ROOT, "scripts"), RISKD_RULES=os.path.join(ROOT, "rules"),
                       RISKD_MODELS=os.path.join(tmp, "models"), ASAN_OPTIONS="detect_leaks=1")
            p = subprocess.run([asan, "run", script], capture_output=True, text=True, timeout=300, env=env)
            assert p.returncode == 0 and p.stdout.strip() == "ok", (p.stdout, p.stderr)
            p = subprocess.run([asan, "score", "--input", os.path.join(tmp, "noisy.jsonl"), "--output", os.devnull,
                                "--threads", "2"], capture_output=True, text=True, timeout=600, env=env)
            assert p.returncode == 0 and "ERROR" not in p.stderr, p.stderr
            # --threads is checked like every other number
            p = riskd("score", "--input", os.path.join(tmp, "bad.jsonl"), "--threads", "-1")
            assert p.returncode != 0 and "--threads" in p.stderr, p.stderr
        check("helper threads: exact copies, answers in order, errors reported, bad values refused", helper_threads)

        def eval_benchmark():
            data = os.path.join(tmp, "eval.jsonl")
            p = riskd("generate", "--users", "400", "--days", "30", "--seed", "11", "--attack-rate", "0.05", "--output", data)
            assert p.returncode == 0, p.stderr
            p = riskd("eval", "--input", data, "--json")
            assert p.returncode == 0, p.stderr
            r = json.loads(p.stdout)
            # the same figures with the lines read on this thread as on helper threads
            p = riskd("eval", "--input", data, "--json", "--threads", "0")
            assert p.returncode == 0, p.stderr
            r0 = json.loads(p.stdout)
            # (to 1e-6: the reference sums a table's values, whose order, and so the last bits, vary by run)
            def close(x, y):
                if isinstance(x, dict):
                    return isinstance(y, dict) and set(x) == set(y) and all(close(x[k], y[k]) for k in x)
                if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                    return abs(x - y) <= 1e-6
                return x == y
            r0.pop("seconds"), r.pop("seconds")
            assert close(r0, r), (r0, r)
            kinds = set(r["riskd"]["kinds"])
            assert {"account_takeover", "brute_force", "impossible_travel"} <= kinds, kinds
            assert r["attempts"] > 5000 and 0 < r["legitimate"] < r["attempts"], r
            for who in ("riskd", "reference"):
                w = r[who]
                assert set(w["kinds"]) == kinds and 0.9 < w["auc"] <= 1, (who, w)
                assert abs(w["mean_tpr"] - sum(k["tpr"] for k in w["kinds"].values()) / len(kinds)) < 1e-9, w
            # floors a broken pipeline cannot reach (measured: 0.80-0.90 mean, 1.0 on the loud kinds)
            assert r["riskd"]["mean_tpr"] >= 0.6, r["riskd"]
            assert r["riskd"]["kinds"]["brute_force"]["tpr"] >= 0.9 and r["riskd"]["kinds"]["impossible_travel"]["tpr"] >= 0.9, r
            assert r["legit_alert_rate"] < 0.05, r["legit_alert_rate"]
            # the realistic mode: noisy legitimate traffic and the modern attacks. Floors per kind
            # well under what the shipped rules reach (measured on this seed, in the order below: 0.97,
            # 0.94, 1.0, 0.95, 1.0, 0.98, 0.90, 0.91, 0.67, 1.0; mean 0.93; 1.1 % legitimate alerts;
            # proxy_takeover was 0.19 before rules/copied_browser.lua, session_replay 0.34 before
            # rules/odd_hour_away.lua)
            real = os.path.join(tmp, "eval-realistic.jsonl")
            p = riskd("generate", "--users", "600", "--days", "30", "--seed", "5", "--attack-rate", "0.05", "--realistic",
                      "--output", real)
            assert p.returncode == 0, p.stderr
            p = riskd("eval", "--input", real, "--json")
            assert p.returncode == 0, p.stderr
            r2 = json.loads(p.stdout)
            floors = {"account_takeover": 0.8, "botnet_stuffing": 0.7, "brute_force": 0.9, "credential_stuffing": 0.6,
                      "impossible_travel": 0.9, "password_spraying": 0.7, "proxy_takeover": 0.6, "quiet_takeover": 0.6,
                      "session_replay": 0.5, "slow_spraying": 0.8}
            got = {k: v["tpr"] for k, v in r2["riskd"]["kinds"].items()}
            assert set(got) == set(floors) and all(got[k] >= floors[k] for k in floors), got
            assert r2["riskd"]["mean_tpr"] >= 0.75 and r2["legit_alert_rate"] < 0.025, r2
            # --warm-up: the first days are replayed but not judged; the whole file's figures beside
            p = riskd("eval", "--input", data, "--json", "--warm-up", "10")
            assert p.returncode == 0, p.stderr
            w = json.loads(p.stdout)
            with open(data) as f:
                stamps = [json.loads(line)["timestamp"] for line in f]
            def ms(t):
                return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000
            start = min(ms(t) for t in stamps)
            late = sum(1 for t in stamps if ms(t) >= start + 10 * 86400000)
            assert w["warm_up_days"] == 10 and w["attempts"] == r["attempts"] and w["judged"] == late < r["attempts"], w
            whole = dict(w["whole_file"])
            assert close(whole.pop("riskd"), r["riskd"]) and close(whole.pop("reference"), r["reference"]), w
            assert whole["legit_alert_rate"] == r["legit_alert_rate"] and whole["judged"] == r["attempts"], whole
            assert w["riskd"]["auc"] != r["riskd"]["auc"] and w["legitimate"] < r["legitimate"], (w, r)
            assert "whole_file" not in r and r["warm_up_days"] == 0 and r["judged"] == r["attempts"], r
            p = riskd("eval", "--input", data, "--warm-up", "10")
            assert p.returncode == 0 and "judged after a warm-up of 10 days: %d attempts" % late in p.stdout, p.stdout
            assert "the whole file, warm-up included: ROC AUC" in p.stdout, p.stdout
            p = riskd("eval", "--input", data, "--warm-up", "40")       # nothing left to judge
            assert p.returncode == 1 and "the judged attempts need both" in p.stderr, p.stderr
            # the human table says the same
            p = riskd("eval", "--input", data, "--fpr", "0.05")
            assert p.returncode == 0 and "familiarity reference" in p.stdout and "TPR at 5 % FPR" in p.stdout, p.stdout
            # a line without a label, and one that is not JSON, are named and the run fails
            bad = os.path.join(tmp, "eval-bad.jsonl")
            with open(data) as f, open(bad, "w") as g:
                lines = f.readlines()
                g.write(lines[0])
                g.write(json.dumps({k: v for k, v in json.loads(lines[1]).items() if k != "label"}) + "\n")
                g.write("{not json\n")
                g.writelines(lines[3:])
            p = riskd("eval", "--input", bad, "--json")
            assert p.returncode == 1, p.returncode
            assert bad + ":2: no label" in p.stderr and bad + ":3: not valid JSON" in p.stderr, p.stderr
            assert json.loads(p.stdout)["bad_lines"] == 2
            assert riskd("eval", "--input", data, "--fpr", "2").returncode == 2
            h = riskd("help", "eval")
            assert h.returncode == 0 and "riskd eval --input" in h.stdout, h
        check("riskd eval: ROC AUC, TPR per kind at 1 % FPR and its mean, legitimate alert rate, beside the familiarity"
              " reference; per-kind floors on classic and realistic traffic; bad lines named", eval_benchmark)

        def examples():
            ex = os.path.join(ROOT, "scripts", "examples")
            small = os.path.join(tmp, "small.jsonl")
            env_db = {"RISKD_DB": "sqlite:" + os.path.join(tmp, "ex.db")}
            p = subprocess.run([BIN, "run", os.path.join(ex, "backtest_rule.lua"), small,
                                os.path.join(ex, "night_owl_rule.lua")], capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, RISKD_SCRIPTS=os.path.join(ROOT, "scripts"),
                                        RISKD_RULES=os.path.join(ROOT, "rules"), **env_db))
            assert p.returncode == 0, p.stderr
            rows = {line.split()[0]: line.split()[1:] for line in p.stdout.splitlines()[2:]}
            assert "normal" in rows and int(rows["normal"][0]) > 100, p.stdout
            assert all(int(r[2]) >= int(r[1]) for r in rows.values()), p.stdout   # a rule only adds risk
            p = subprocess.run([BIN, "run", os.path.join(ex, "hourly_anomalies.lua"), os.path.join(tmp, "scored.jsonl")],
                               capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, RISKD_SCRIPTS=os.path.join(ROOT, "scripts"), **env_db))
            assert p.returncode == 0, p.stderr
            lines = p.stdout.splitlines()
            assert len(lines) == 25 and lines[1].startswith("00:00"), p.stdout
            total = sum(int(x.split()[1]) for x in lines[1:])
            assert total == sum(1 for _ in open(os.path.join(tmp, "scored.jsonl"))), (total, p.stdout)
        check("the shipped examples run: a rule back-test and an hour-of-day anomaly report", examples)

        def retrain_and_rollback():
            import threading
            models = os.path.join(tmp, "live-models")
            os.makedirs(models)
            shutil.copy(os.path.join(tmp, "models", "default.model"), models)
            # No looping rule here (the retraining benchmark replays thousands of
            # attempts through the rules) and no retention (the history is old).
            srv = Server(models=models, hostile_rule=False, env={"RISKD_RETENTION_DAYS": "0"})
            stop, failures, served, t = threading.Event(), [], [0], None
            try:
                # stored history for retraining: a generated month, scored into the server's own database
                p = riskd("score", "--input", os.path.join(tmp, "small.jsonl"), "--output", os.devnull,
                          "--db", "sqlite:" + os.path.join(srv.tmp, "db"), models=models)
                assert p.returncode == 0, p.stderr

                def traffic():
                    i = 0
                    while not stop.is_set():
                        i += 1
                        s, d = srv.call("POST", "/api/login/analyze", {"user_id": "busy%d" % (i % 50),
                                        "ip_address": "192.0.2.%d" % (i % 200 + 1)}, token=srv.tokens["svc"])
                        if s != 200:
                            failures.append((s, d))
                        served[0] += 1
                t = threading.Thread(target=traffic)
                t.start()

                def live_train_rows():
                    return srv.call("GET", "/api/admin/models")[1]["live"]["train_rows"]

                def wait_for(pred, secs=60):
                    deadline = time.time() + secs
                    while time.time() < deadline:
                        v = pred()
                        if v:
                            return v
                        time.sleep(0.2)
                    raise AssertionError("timed out")

                before = live_train_rows()
                s, job = srv.call("POST", "/api/admin/model/retrain", {"margin": 1})
                assert s == 202 and job["status"] == "running", (s, job)
                seen = []

                def poll():
                    d = srv.call("GET", job["status_url"])[1]
                    seen.append(d)
                    return d if d.get("status") in ("done", "failed") else None
                done = wait_for(poll)
                assert done["status"] == "done" and done["activated"] is True, done
                # progress for the console: a phase and a fraction that only grows, 1 when done
                fractions = [d["progress"] for d in seen if d.get("status") == "running" and "phase" in d] + [done["progress"]]
                assert fractions == sorted(fractions) and fractions[-1] == 1 and all(0 <= f <= 1 for f in fractions), seen
                assert done["train_rows"] >= 100 and 0.5 < done["benchmark_auc"] <= 1, done
                s, lst = srv.call("GET", "/api/admin/models")
                active = [m for m in lst["models"] if m["active"]]
                assert len(active) == 1 and active[0]["version"] == done["version"], lst
                assert active[0]["metrics"]["train_rows"] == done["train_rows"], active
                # hot swap: the workers load it without a restart
                wait_for(lambda: live_train_rows() != before, 10)
                # rollback to the default model
                s, r = srv.call("PUT", "/api/admin/models/default.model")
                assert s == 200 and r["active"] == "default.model", (s, r)
                wait_for(lambda: live_train_rows() == before, 10)
                assert srv.call("PUT", "/api/admin/models/nope.model")[0] == 404
                assert srv.call("PUT", "/api/admin/models/..%2Fescape.model")[0] in (400, 404)
                assert srv.call("GET", "/api/admin/model/retrain/ffff")[0] == 404
                assert srv.call("POST", "/api/admin/model/retrain", {"margin": 7})[0] == 400
            finally:
                stop.set()
                if t:
                    t.join(60)   # its last request answered before the server stops
                srv.stop()
            assert served[0] > 20 and not failures, (served[0], failures[:3])
        check("retraining over HTTP while serving: a new version goes live, rollback restores the old, no request fails",
              retrain_and_rollback)

        def worse_is_kept_not_activated():
            models = os.path.join(tmp, "live-models")
            hist = "sqlite:" + os.path.join(tmp, "hist.db")
            p = riskd("score", "--input", os.path.join(tmp, "small.jsonl"), "--output", os.devnull, "--db", hist,
                      models=models)
            assert p.returncode == 0, p.stderr
            # one tree against the live hundred: worse on the benchmark, and no margin allowed
            p = riskd("retrain", "--db", hist, "--models", models, "--trees", "1", "--margin", "0", models=models)
            d = json.loads(p.stdout)
            assert p.returncode == 0 and d["activated"] is False and "kept, not activated" in d["reason"], d
            assert os.path.exists(os.path.join(models, d["version"])), d   # kept
        check("a retrained model worse than the live one by more than the margin is kept, not activated",
              worse_is_kept_not_activated)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

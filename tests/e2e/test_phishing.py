#!/usr/bin/env python3
"""End-to-end: phishing email analysis on a real server (SQLite store, the
shipped rules and the default phishing model). Raw messages (JSON and
message/rfc822) and fields; the verdict, reasons, rules, URLs and their
indicators; storage, listing with filters and paging, one analysis by id;
the alert a phishing verdict opens (and its SSE message); hostile input
(deep nesting, over the mail limit, garbage, wrong types); roles; a rule
added and the config edited while the server runs; a looping rule stopped;
the model removed and put back. Then riskd phishing score and train on
mailboxes. TAP."""
import http.client
import base64
import io
import json
import tarfile
import threading
import time
import zipfile
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from tap import check, finish  # noqa: E402
from test_story import Server, check_clean_exit, ROOT, BIN  # noqa: E402
from test_realtime import Stream  # noqa: E402

PHISH = (
    "From: =?UTF-8?B?UGF5UGFs?= <service@paypa1-secure.com>\r\n"
    "Reply-To: help77@gmail.com\r\n"
    "To: Alice <alice@corp.example>\r\n"
    "Subject: Your account has been suspended\r\n"
    "Message-ID: <p1@paypa1-secure.com>\r\n"
    "Authentication-Results: mx.corp.example; spf=fail smtp.mailfrom=paypa1-secure.com; dkim=none; dmarc=fail\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=B\r\n\r\n"
    "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Dear customer, we detected unusual activity. Verify your account within 24 hours or it will be suspended.\r\n"
    "--B\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "<p>Verify your password now:</p><a href=3D\"http://paypa1-secure.com/login\">https://www.paypal.com/signin</a>\r\n"
    "--B--\r\n")

CLEAN = (
    "From: Bob Martin <bob@corp.example>\r\nTo: alice@corp.example\r\nSubject: Minutes of Tuesday\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nHi Alice,\r\n\r\nthe minutes are in the shared folder as usual.\r\n\r\nBob\r\n")


def post(srv, body, ctype="application/json", token=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    headers = {"Content-Type": ctype, "Authorization": "Bearer " + (token if token is not None else srv.tokens["svc"])}
    if token == "":
        del headers["Authorization"]
    try:
        c.request("POST", "/api/phishing/analyze", body=raw if raw is not None else json.dumps(body), headers=headers)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def main():
    models = tempfile.mkdtemp(prefix="riskd-ph-models-")
    shutil.copy(os.path.join(ROOT, "models", "phishing.model"), models)
    srv = Server(models=models, env={"RISKD_MAIL_LIMIT": "300000", "RISKD_BODY_LIMIT": "100000"})
    alerts = Stream(srv.port, "/api/stream/alerts", srv.tokens["root"])
    got = {}

    def raw_phishing():
        s, d = post(srv, {"raw": PHISH})
        assert s == 200, (s, d)
        got["phish"] = d
        assert d["verdict"] == "phishing" and d["score"] >= 70, d
        assert isinstance(d["model_score"], (int, float)) and d["model_score"] > 0.5, d
        assert d["message_id"] == "p1@paypa1-secure.com" and d["subject"] == "Your account has been suspended"
        names = {r["name"] for r in d["rules"]}
        assert {"lookalike_domain", "link_mismatch", "sender_mismatch", "auth_failure", "pressure_wording"} <= names, names
        u = d["urls"][0]
        assert u["registrable_domain"] == "paypa1-secure.com" and u["imitates"] == "paypal.com", u
        assert "text_mismatch" in u["indicators"] and "no_tls" in u["indicators"], u
        assert any("imitates paypal.com" in r for r in d["reasons"]), d["reasons"]
        assert d["alert_id"] and d["id"], d
    check("a raw phishing message (JSON): verdict phishing, rules, URL indicators, model score, an alert", raw_phishing)

    def alert_opened():
        s, a = srv.call("GET", "/api/dashboard/alerts/" + got["phish"]["alert_id"])
        assert s == 200, (s, a)
        assert a["cause"] == "phishing" and a["user_id"] == "alice@corp.example" and a["severity"] == "high", a
        rec = alerts.record(10)
        while rec["data"]["type"] != "created":
            rec = alerts.record(10)
        assert rec["data"]["data"]["alert_id"] == got["phish"]["alert_id"], rec
        assert rec["data"]["data"]["cause"] == "phishing", rec
    check("the alert is in the alert workflow (cause phishing, the recipient) and on the alerts stream", alert_opened)

    def rfc822_body():
        s, d = post(srv, None, ctype="message/rfc822", raw=PHISH.encode())
        assert s == 200 and d["verdict"] == "phishing", (s, d)
        assert d["alert_id"] == got["phish"]["alert_id"], "joins the recipient's open phishing alert"
        s, d = post(srv, None, ctype="message/rfc822", raw=CLEAN.encode())
        assert s == 200 and d["verdict"] == "clean" and d["alert_id"] is None and d["rules"] == [], (s, d)
        got["clean"] = d
    check("message/rfc822 bodies: the same verdict (joining the open alert), and a clean one is clean", rfc822_body)

    def fields():
        s, d = post(srv, {"from": "Microsoft <security@rnicrosoft-support.xyz>", "subject": "Password expires today",
                          "html": "<form action='https://collect.example.net/p'><input type=password></form>",
                          "urls": ["http://192.168.4.4/x"], "headers": {"Authentication-Results": "mx; dmarc=fail"},
                          "attachments": [{"name": "invoice.pdf.exe", "type": "application/octet-stream", "size": 1000}]})
        assert s == 200 and d["verdict"] == "phishing", (s, d)
        for ind in ("password_form", "double_extension", "dmarc_fail", "sender_lookalike", "display_name_mismatch"):
            assert ind in d["indicators"], (ind, d["indicators"])
        assert any("ip_host" in u["indicators"] for u in d["urls"]), d["urls"]
        assert d["attachments"][0]["name"] == "invoice.pdf.exe"
    check("fields (from, subject, html, urls, headers, attachments) are analysed alike", fields)

    def listing():
        s, d = srv.call("GET", "/api/phishing/events?verdict=phishing&per_page=2")
        assert s == 200 and d["total"] == 3 and len(d["events"]) == 2, (s, d)
        assert all(e["verdict"] == "phishing" for e in d["events"])
        s, d2 = srv.call("GET", "/api/phishing/events?verdict=phishing&per_page=2&page=2")
        assert s == 200 and len(d2["events"]) == 1, d2
        s, d = srv.call("GET", "/api/phishing/events?verdict=clean")
        assert d["total"] == 1 and d["events"][0]["id"] == got["clean"]["id"], d
        s, d = srv.call("GET", "/api/phishing/events?sender=service@paypa1-secure.com&min_score=70")
        assert d["total"] == 2, d
        s, e = srv.call("GET", "/api/phishing/events/" + got["phish"]["id"])
        assert s == 200 and e["verdict"] == "phishing" and e["alert_id"] == got["phish"]["alert_id"], e
        assert e["reasons"] == got["phish"]["reasons"] and e["urls"][0]["imitates"] == "paypal.com", e
        assert e["to"] == "alice@corp.example" and e["timestamp"], e
    check("analyses are stored: listing with verdict, sender and score filters and paging, one by id", listing)

    def bad_requests():
        s, d = srv.call("GET", "/api/phishing/events/0000000000000000ffffffff")
        assert s == 404 and d["error"]["code"] == "not_found", (s, d)
        s, d = srv.call("GET", "/api/phishing/events?verdict=maybe")
        assert s == 400 and d["error"]["code"] == "invalid_field", (s, d)
        s, d = post(srv, {"subject": 5})
        assert s == 400 and d["error"]["code"] == "invalid_field", (s, d)
        s, d = post(srv, {"raw": ["x"]})
        assert s == 400, (s, d)
        s, d = post(srv, None, raw=b"[1,2", ctype="application/json")
        assert s == 400 and d["error"]["code"] == "invalid_json", (s, d)
    check("bad ids, filters, fields and JSON get clear 4xx errors", bad_requests)

    def hostile():
        deep = "From: a@b.c\r\nSubject: deep\r\n" + "".join(
            "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(3000))
        s, d = post(srv, {"raw": deep})
        assert s == 422 and d["error"]["code"] == "message_too_complex", (s, d)
        s, d = post(srv, None, ctype="message/rfc822", raw=b"From: a@b.c\r\nSubject: big\r\n\r\n" + b"x" * 400000)
        assert s == 413 and d["error"]["code"] == "payload_too_large", (s, d)
        s, d = post(srv, {"raw": "\u0000\u0001 not a message at all"})
        assert s == 400 and d["error"]["code"] == "invalid_json", (s, d)   # NUL: refused by the strict JSON check
        s, d = post(srv, {"raw": "\u0001\u0002 not a message at all"})
        assert s in (200, 422), (s, d)
        s, d = post(srv, None, ctype="message/rfc822", raw=bytes(range(256)) * 50)
        assert s in (200, 422), (s, d)
        s, _ = srv.call("GET", "/healthz", token="")
        assert s == 200
        # other routes keep the server's body limit (100 KB here): a mail-sized login is refused
        # before it is read (the answer is libevent's own 413 page: it has no hook to make it JSON)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        c.request("POST", "/api/login/analyze", body=json.dumps({"user_id": "x" * 200000, "ip_address": "1.2.3.4"}),
                  headers={"Content-Type": "application/json", "Authorization": "Bearer " + srv.tokens["svc"]})
        r = c.getresponse()
        assert r.status == 413, r.status
        r.read()
        c.close()
    check("hostile mail: deep nesting 422, over the mail limit 413, garbage answered, the server serves on", hostile)

    def bombs():
        """Decompression bombs in attachments (bzip2, zstd, xz, gzip, zip,
        a bomb inside a zip), deep message/news and message/rfc2822 nesting,
        one huge base64 line: each answered within 3 s while /healthz stays
        under 100 ms (the parsing runs on the pool, not the event loop)."""
        def zeros_tar_gz(mb):
            out = io.BytesIO()
            with tarfile.open(fileobj=out, mode="w:gz") as t:
                info = tarfile.TarInfo("zeros.bin")
                info.size = mb << 20

                class Zeros(io.RawIOBase):
                    def readable(self):
                        return True

                    def readinto(self, b):
                        b[:] = bytes(len(b))
                        return len(b)
                t.addfile(info, io.BufferedReader(Zeros(), 1 << 20))
            return out.getvalue()

        def zeros_zip(mb, inner=None):
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
                if inner:
                    z.writestr("inner.tar.bz2", inner)
                with z.open("zeros.bin", "w", force_zip64=True) as f:
                    chunk = bytes(1 << 20)
                    for _ in range(mb):
                        f.write(chunk)
            return out.getvalue()

        def fixture(name):
            with open(os.path.join(ROOT, "tests", "data", "bombs", name), "rb") as f:
                return f.read()

        def with_attachment(name, ctype, data):
            b64 = base64.b64encode(data).decode()
            lines = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
            return ("From: a@b.example\r\nSubject: invoice\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n"
                    "--Z\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--Z\r\n"
                    "Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--Z--\r\n" % (ctype, name, name, lines)).encode()

        bz2 = fixture("zeros-2g.tar.bz2")
        mails = [with_attachment("a.tar.bz2", "application/x-bzip2", bz2),
                 with_attachment("a.tar.zst", "application/zstd", fixture("zeros-2g.tar.zst")),
                 with_attachment("a.tar.xz", "application/x-xz", fixture("zeros-512m.tar.xz")),
                 with_attachment("a.tgz", "application/gzip", zeros_tar_gz(100)),
                 with_attachment("a.zip", "application/zip", zeros_zip(100, inner=bz2))]
        for kind in ("message/news", "message/rfc2822"):
            mails.append(("From: a@b.c\r\nSubject: deep\r\n" + "".join(
                "Content-Type: %s\r\n\r\nFrom: a@b.c\r\n" % kind for _ in range(400))).encode())
        huge_line = base64.b64encode(os.urandom(150000)).decode()
        mails.append(("From: a@b.c\r\nSubject: line\r\nContent-Type: application/octet-stream; name=x.bin\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n" + huge_line + "\r\n").encode())
        slow = {"healthz": 0.0}
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                st, _ = srv.call("GET", "/healthz", token="")
                assert st == 200
                slow["healthz"] = max(slow["healthz"], time.monotonic() - t0)
                time.sleep(0.02)
        th = threading.Thread(target=probe)
        th.start()
        answers = []
        try:
            for raw in mails:
                t0 = time.monotonic()
                st, d = post(srv, None, ctype="message/rfc822", raw=raw)
                answers.append((st, time.monotonic() - t0, d))
        finally:
            stop.set()
            th.join()
        for i, (st, took, d) in enumerate(answers):
            assert took < 3.0, (i, took)
            if i < 5:   # the archives: analysed, their names listed, marked truncated
                assert st == 200 and d["attachments"][0]["contents"], (i, st, d)
            elif i < 7:
                assert st == 422 and d["error"]["code"] == "message_too_complex", (i, st, d)
            else:
                assert st == 200, (i, st, d)
        assert slow["healthz"] < 0.1, slow
    check("decompression bombs, deep message/news nesting, a huge base64 line: each answered within 3 s, "
          "/healthz under 100 ms meanwhile", bombs)

    def roles():
        s, d = post(srv, {"raw": CLEAN}, token="")
        assert s == 401, (s, d)
        s, d = srv.call("GET", "/api/phishing/events", token=srv.tokens["svc"])
        assert s == 403, (s, d)
        s, d = post(srv, {"raw": CLEAN}, token=srv.tokens["root"])
        assert s == 200, (s, d)
    check("roles: analysing needs a token (service, analyst or admin); listing is for staff", roles)

    def hot_rules():
        path = os.path.join(srv.rules, "phishing", "zz_subject.lua")
        with open(path, "w") as f:
            f.write("return { name = 'subject_minutes', description = 'test', evaluate = function(ctx)\n"
                    "  if ctx.message.subject:find('Minutes') then return config.weights.minutes or 45, 'minutes!' end end }\n")
        deadline = time.time() + 10
        while True:
            s, d = post(srv, {"raw": CLEAN})
            if any(r["name"] == "subject_minutes" for r in d["rules"]):
                break
            assert time.time() < deadline, d
            time.sleep(0.2)
        assert d["score"] >= 45 and d["verdict"] == "suspicious" and "minutes!" in d["reasons"], d
        cfg = os.path.join(srv.rules, "phishing", "config.lua")
        text = open(cfg).read()
        with open(cfg, "w") as f:
            f.write(text.replace("weights = {", "weights = {\n        minutes = 75,", 1))
        deadline = time.time() + 10
        while True:
            s, d = post(srv, {"raw": CLEAN})
            if d["score"] >= 75:
                break
            assert time.time() < deadline, d
            time.sleep(0.2)
        assert d["verdict"] == "phishing", d
        os.remove(path)
    check("a phishing rule added and the config edited while serving: live within seconds", hot_rules)

    def looping_rule():
        path = os.path.join(srv.rules, "phishing", "zz_loops.lua")
        with open(path, "w") as f:
            f.write("return { name = 'ph_loops', description = 'test', evaluate = function() while true do end end }\n")
        deadline = time.time() + 10
        while True:
            s, d = post(srv, {"raw": PHISH})
            assert s == 200, (s, d)
            if any(e["rule"] == "ph_loops" for e in d.get("rule_errors") or []):
                break
            assert time.time() < deadline, d
            time.sleep(0.2)
        assert d["verdict"] == "phishing", d
        os.remove(path)
    check("a phishing rule that loops is stopped and reported; the analysis stands", looping_rule)

    def model_swap():
        model = os.path.join(models, "phishing.model")
        keep = model + ".keep"
        os.rename(model, keep)
        deadline = time.time() + 10
        while True:
            s, d = post(srv, {"raw": PHISH})
            if d["model_score"] is None:
                break
            assert time.time() < deadline, d
            time.sleep(0.3)
        assert d["verdict"] == "phishing", "the indicators carry the verdict without a model: %r" % d
        with open(model + ".tmp", "wb") as f:
            f.write(b"RKTEXTLR garbage")
        os.rename(model + ".tmp", model)
        time.sleep(1.3)
        s, d = post(srv, {"raw": PHISH})
        assert s == 200 and d["model_score"] is None, "a damaged file is refused: %r" % d
        os.rename(keep, model)
        deadline = time.time() + 10
        while True:
            s, d = post(srv, {"raw": PHISH})
            if d["model_score"] is not None:
                break
            assert time.time() < deadline, d
            time.sleep(0.3)
    check("the model is hot-swapped: removed (rules alone), a damaged file refused, put back", model_swap)
    alerts.close()
    check_clean_exit(srv)

    # ---- the command line ------------------------------------------------
    tmp = tempfile.mkdtemp(prefix="riskd-ph-cli-")
    try:
        def cli_generate_train_score():
            p = subprocess.run([BIN, "generate", "--phishing", "--count", "300", "--seed", "3", "--output", tmp + "/m"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)
            assert p.returncode == 0, p
            p = subprocess.run([BIN, "phishing", "train", "--phishing", tmp + "/m/phishing.mbox", "--legitimate",
                                tmp + "/m/legitimate.mbox", "--model", tmp + "/x.model"],
                               capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert p.returncode == 0, p
            auc = float(p.stdout.split("ROC AUC ")[1].split()[0])
            assert auc >= 0.97, p.stdout
            # a maildir and a folder of .eml files, one unreadable message among them
            os.makedirs(tmp + "/md/cur")
            os.makedirs(tmp + "/md/new")
            with open(tmp + "/md/cur/1.eml", "w") as f:
                f.write(PHISH)
            with open(tmp + "/md/new/2.eml", "w") as f:
                f.write(CLEAN)
            with open(tmp + "/md/new/3.eml", "w") as f:
                f.write("")
            p = subprocess.run([BIN, "phishing", "score", "--input", tmp + "/md", "--model", tmp + "/x.model"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)
            assert p.returncode == 0, p
            lines = [json.loads(x) for x in p.stdout.splitlines()]
            assert [x["source"].rsplit("/", 1)[1] for x in lines] == ["1.eml", "2.eml"], lines
            assert lines[0]["verdict"] == "phishing" and lines[1]["verdict"] == "clean", lines
            assert "3.eml" in p.stderr and "1 bad" in p.stderr, p.stderr
            p = subprocess.run([BIN, "phishing", "score", "--input", tmp + "/m/phishing.mbox", "--model", tmp + "/x.model"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)
            lines = [json.loads(x) for x in p.stdout.splitlines()]
            assert len(lines) == 300 and lines[4]["source"].endswith("phishing.mbox#5"), lines[:5]
            caught = sum(x["verdict"] != "clean" for x in lines)
            assert caught >= 285, caught
        check("riskd generate --phishing, phishing train (held-out AUC >= 0.97) and score on mbox and maildir", cli_generate_train_score)

        def cli_csv_and_errors():
            with open(tmp + "/c.csv", "w") as f:
                f.write("label,text\n")
                for i in range(200):
                    f.write('1,"Urgent: verify your password now, account %d suspended"\n' % i)
                    f.write('0,"Lunch on Friday with the team, table for %d"\n' % i)
            p = subprocess.run([BIN, "phishing", "train", "--input", tmp + "/c.csv", "--label", "label", "--text", "text",
                                "--model", tmp + "/c.model"], capture_output=True, text=True, timeout=60, cwd=ROOT)
            assert p.returncode == 0 and "ROC AUC 1.0000" in p.stdout, p
            p = subprocess.run([BIN, "phishing", "score", "--input", tmp + "/nope"], capture_output=True, text=True, timeout=30, cwd=ROOT)
            assert p.returncode == 1 and "nope" in p.stderr, p
            p = subprocess.run([BIN, "phishing", "train", "--phishing", tmp + "/md"], capture_output=True, text=True, timeout=30, cwd=ROOT)
            assert p.returncode == 2 and "usage" in p.stderr, p
            p = subprocess.run([BIN, "phishing", "score", "--input", tmp + "/md", "--model", tmp + "/c.csv"],
                               capture_output=True, text=True, timeout=30, cwd=ROOT)
            assert p.returncode == 1 and "not a riskd text model" in p.stderr, p
        check("phishing train on a CSV corpus; missing files, options and bad models are clear errors", cli_csv_and_errors)

        def cli_manifest():
            # A corpus as make phishing-model reads one: generated mail split into files, two sources a
            # class, CRLF and an mbox envelope line on one side (normalised away), a manifest beside them.
            import hashlib
            subprocess.run([BIN, "generate", "--phishing", "--count", "150", "--seed", "9", "--output", tmp + "/mc"],
                           check=True, capture_output=True, timeout=60)
            os.makedirs(tmp + "/corpus/msgs", exist_ok=True)
            entries = []
            for label, name in ((1, "phishing"), (0, "legitimate")):
                text = open(tmp + "/mc/%s.mbox" % name, "rb").read()
                for i, m in enumerate(x for x in text.split(b"\nFrom ") if x.strip()):
                    body = m.split(b"\n", 1)[1]                       # the envelope line dropped
                    if label == 1 and i % 2:
                        body = b"From x@y Mon Jan  1 00:00:00 2024\r\n" + body.replace(b"\n", b"\r\n")
                    path = "msgs/%s-%03d.eml" % (name, i)
                    open(tmp + "/corpus/" + path, "wb").write(body)
                    entries.append({"file": path, "label": label, "source": "%s_%s" % (name, "ab"[i % 2]),
                                    "date_year": 2024, "sha256": hashlib.sha256(body).hexdigest(), "repo@commit": "r/x@0123"})
            with open(tmp + "/corpus/manifest.jsonl", "w") as f:
                for e in entries:
                    f.write(json.dumps(e) + "\n")
            held = sum(int(e["sha256"][:8], 16) % 5 == 0 for e in entries)
            p = subprocess.run([BIN, "phishing", "train", "--manifest", tmp + "/corpus/manifest.jsonl", "--model",
                                tmp + "/mf.model", "--note", "licence note"], capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert p.returncode == 0, p
            assert "%d held out" % held in p.stdout and "auc_phishing_a" in p.stdout and "auc_modern" in p.stdout, p.stdout
            with open(tmp + "/info.lua", "w") as f:
                f.write('local i = require("riskd.phishing").load(arg[1]):info() '
                        'print(i.provenance) print(i.metrics.heldout, i.metrics.auc_legitimate_b)\n')
            p = subprocess.run([BIN, "run", tmp + "/info.lua", tmp + "/mf.model"], capture_output=True, text=True, timeout=30, cwd=ROOT)
            assert p.returncode == 0 and "phishing_a: " in p.stdout and "licence note" in p.stdout, p
            assert float(p.stdout.splitlines()[-1].split()[0]) == held, p.stdout
            p = subprocess.run([BIN, "phishing", "train", "--manifest", tmp + "/corpus/manifest.jsonl", "--strip-headers",
                                "--model", tmp + "/ms.model"], capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert p.returncode == 0 and "held-out: ROC AUC" in p.stdout, p
            with open(tmp + "/corpus/manifest.jsonl", "a") as f:
                f.write('{"file": 3}\n')
            p = subprocess.run([BIN, "phishing", "train", "--manifest", tmp + "/corpus/manifest.jsonl", "--model", tmp + "/mx.model"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT)
            assert p.returncode == 1 and "not a manifest entry" in p.stderr, p
        check("phishing train --manifest: the held-out fifth by sha256, AUC per source, provenance in the model", cli_manifest)

        def hand_written():
            # Mail unlike the generator's (tests/fixture/mail*/README.md), through the default model and rules.
            # The default model is trained on real mail, whose legitimate side is mostly mailing
            # lists: genuine notices that talk about passwords and accounts are its weak spot
            # (docs/phishing.md), hence up to 3 of 10 and 2 of 5 flagged.
            for folder, min_caught, max_flagged in (("mail", 9, 3), ("mail-heldout", 4, 2)):
                p = subprocess.run([BIN, "phishing", "score", "--input", os.path.join(ROOT, "tests", "fixture", folder)],
                                   capture_output=True, text=True, timeout=60, cwd=ROOT)
                lines = [json.loads(x) for x in p.stdout.splitlines()]
                caught = sum(x["verdict"] != "clean" for x in lines if "/phishing/" in x["source"])
                flagged = sum(x["verdict"] != "clean" for x in lines if "/legitimate/" in x["source"])
                assert len(lines) >= 10 and all(x["model_score"] is not None for x in lines), p
                assert caught >= min_caught and flagged <= max_flagged, (folder, caught, flagged, lines)
        check("hand-written mail (other languages, eras, unseen brands): the default verdict's floors", hand_written)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(models, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()

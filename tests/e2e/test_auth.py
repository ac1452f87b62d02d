#!/usr/bin/env python3
"""End-to-end: /api/auth/* on a real server. An admin made with `riskd user
add` signs in, reads /me, creates an analyst; wrong passwords, unknown users,
forged, tampered, "alg: none" and expired tokens are refused; repeated
failures are throttled; without JWT_SECRET the endpoints say so. TAP."""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, finish  # noqa: E402
from test_story import Server, BIN  # noqa: E402

SECRET = "e2e-secret-that-is-long-enough-0123456789"
ADMIN_PW = "correct horse battery staple"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def forge(claims, secret=SECRET, alg="HS256"):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    if alg == "none":
        return head + "." + body + "."
    sig = hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64(sig)


def call(srv, method, path, body=None, token=None, headers=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        if (r.getheader("Content-Type") or "").startswith("text/event-stream"):
            return r.status, None, dict(r.getheaders())   # a stream (/api/stream/*): it never ends
        return r.status, json.loads(r.read() or b"null"), dict(r.getheaders())
    finally:
        c.close()


def main():
    srv = Server(env={"JWT_SECRET": SECRET})
    db = "sqlite:" + os.path.join(srv.tmp, "db")
    state = {}
    try:
        def admin_signs_in():
            p = subprocess.run([BIN, "user", "add", "chief", "--role", "admin", "--email", "chief@example.com", "--db", db],
                               input=ADMIN_PW + "\n", capture_output=True, text=True, timeout=30, cwd=srv.tmp)
            assert p.returncode == 0, p
            s, d, _ = call(srv, "POST", "/api/auth/login", {"username": "chief", "password": ADMIN_PW})
            assert s == 200 and d["token_type"] == "Bearer" and d["user"] == {"username": "chief", "role": "admin",
                                                                             "email": "chief@example.com"}, (s, d)
            assert d["expires_at"].endswith("Z") and d["token"].count(".") == 2 and d["expires_in"] == 3600, d
            state["token"] = d["token"]
        check("an admin made by `riskd user add` signs in and gets a Bearer token", admin_signs_in)

        def me():
            s, d, _ = call(srv, "GET", "/api/auth/me", token=state["token"])
            assert s == 200 and d["username"] == "chief" and d["role"] == "admin", (s, d)
            assert len(d["token"]["id"]) >= 16 and d["token"]["expires_at"] > d["token"]["issued_at"], d
            s, d, _ = call(srv, "GET", "/api/auth/verify", token=state["token"])
            assert s == 200 and d["valid"] is True and d["user"]["username"] == "chief", (s, d)
            s, d, _ = call(srv, "GET", "/api/auth/verify", token="x.y.z")
            assert s == 401, (s, d)
        check("GET /api/auth/me and /api/auth/verify name the caller from the token", me)

        def own_signins_are_events():
            s, e, _ = call(srv, "POST", "/api/auth/login", {"username": "chief", "password": "not the password"},
                           headers={"User-Agent": "e2e-agent/1"})
            assert s == 401, (s, e)
            s, ev, _ = call(srv, "GET", "/api/login/events?user_id=riskd:chief", token=state["token"])
            assert s == 200 and ev["total"] == 2, ev   # the sign-in above and this failure, newest first
            failed, ok = ev["events"]
            assert failed["success"] is False and ok["success"] is True, ev
            assert failed["ip_address"] == "127.0.0.1" and failed["device"]["user_agent"] == "e2e-agent/1", failed
            assert failed["risk_level"] in ("low", "medium", "high", "critical") and "rules" in failed, failed
        check("riskd's own sign-ins, good and bad, are login events analysed by the pipeline", own_signins_are_events)

        def register():
            s, d, _ = call(srv, "POST", "/api/auth/register", {"username": "ana", "password": "another long passphrase",
                                                               "email": "ana@example.com"}, token=state["token"])
            assert s == 201 and d["role"] == "analyst" and d["username"] == "ana", (s, d)
            s, d, _ = call(srv, "POST", "/api/auth/login", {"username": "ana", "password": "another long passphrase"})
            assert s == 200 and d["user"]["role"] == "analyst", (s, d)
            s, e, _ = call(srv, "POST", "/api/auth/register", {"username": "eve", "password": "another long passphrase"},
                           token=d["token"])
            assert s == 403 and e["error"]["code"] == "forbidden", (s, e)
            s, e, _ = call(srv, "POST", "/api/auth/register", {"username": "ana", "password": "another long passphrase"},
                           token=state["token"])
            assert s == 409 and e["error"]["code"] == "conflict", (s, e)
            s, e, _ = call(srv, "POST", "/api/auth/register", {"username": "bo", "password": "short"}, token=state["token"])
            assert s == 400 and e["error"]["code"] == "weak_password", (s, e)
            s, e, _ = call(srv, "POST", "/api/auth/register", {"username": "bo", "password": "x" * 20, "role": "root"},
                           token=state["token"])
            assert s == 400 and "role" in e["error"]["message"], (s, e)
            s, e, _ = call(srv, "POST", "/api/auth/register", {"username": "bo", "password": "another long passphrase"})
            assert s == 401, (s, e)
        check("an admin registers an analyst; analysts, duplicates, weak passwords, bad roles are refused", register)

        def triage_names_the_analyst():
            base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=1)
            ids = [srv.analyze(user_id="bob", ip_address="198.51.100.7", success=False,
                               timestamp=(base + datetime.timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ"))["alert_id"]
                   for k in range(12)]
            aid = ids[-1]
            assert aid, ids
            s, d, _ = call(srv, "PUT", "/api/dashboard/alerts/" + aid, {"status": "investigating"}, token=state["token"])
            assert s == 200 and d["history"][-1]["by"] == "chief", (s, d)
            s, e, _ = call(srv, "PUT", "/api/dashboard/alerts/" + aid, {"status": "resolved"}, token="bad.token.here")
            assert s == 401, (s, e)
            s, d, _ = call(srv, "GET", "/api/dashboard/alerts/" + aid, token=state["token"])
            assert [h["status"] for h in d["history"]] == ["open", "investigating"], d["history"]
        check("a triage with a token is recorded under the analyst's name; a bad token changes nothing",
              triage_names_the_analyst)

        def roles_on_routes():
            s, e, h = call(srv, "GET", "/api/dashboard/stats")
            assert s == 401 and h.get("WWW-Authenticate", "").startswith("Bearer"), (s, e)
            assert h.get("X-Content-Type-Options") == "nosniff" and h.get("Cache-Control") == "no-store", h
            s, e, _ = call(srv, "GET", "/api/dashboard/stats", token=srv.tokens["svc"])
            assert s == 403 and e["error"]["code"] == "forbidden", (s, e)
            s, d, _ = call(srv, "POST", "/api/auth/login", {"username": "ana", "password": "another long passphrase"})
            analyst = d["token"]
            assert call(srv, "GET", "/api/dashboard/stats", token=analyst)[0] == 200
            assert call(srv, "GET", "/api/login/events", token=analyst)[0] == 200
            assert call(srv, "GET", "/api/admin/rules", token=analyst)[0] == 403
            assert call(srv, "GET", "/api/admin/rules", token=state["token"])[0] == 200
            s, e, _ = call(srv, "POST", "/api/login/analyze", {"user_id": "x", "ip_address": "192.0.2.9"}, token=analyst)
            assert s == 403, (s, e)
            s, e, _ = call(srv, "POST", "/api/login/analyze", {"user_id": "x", "ip_address": "192.0.2.9"})
            assert s == 401, (s, e)
            for public in ("/healthz", "/api/ping"):
                assert call(srv, "GET", public, token="")[0] == 200, public
        check("routes need their roles: 401 without a token, 403 with another role; health stays public",
              roles_on_routes)

        def every_route():
            # Every entry of scripts/routes.lua that has roles, with every role.
            import re
            root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
            text = open(os.path.join(root, "scripts", "routes.lua")).read()
            sets = {"STAFF": {"admin", "analyst"}, "SENDERS": {"admin", "service"}}
            routes = []
            for m in re.finditer(r'\{ "(\w+)", "([^"]+)", "[\w.]+", roles = (\w+|\{[^}]*\}) \}', text):
                roles = sets.get(m.group(3)) or set(re.findall(r'"(\w+)"', m.group(3)))
                routes.append((m.group(1), m.group(2).replace(":id", "x"), roles))
            assert len(routes) >= 11, routes
            ana = call(srv, "POST", "/api/auth/login", {"username": "ana", "password": "another long passphrase"})[1]["token"]
            tokens = {"admin": state["token"], "analyst": ana, "service": srv.tokens["svc"]}
            for method, path, roles in routes:
                body = {} if method in ("POST", "PUT") else None
                assert call(srv, method, path, body)[0] == 401, (method, path)
                for role, tok in tokens.items():
                    s = call(srv, method, path, body, token=tok)[0]
                    assert (s == 403) == (role not in roles) and s != 401, (method, path, role, s)
        check("every protected route in routes.lua: 401 without a token, 403 for each role not allowed", every_route)

        def wrong_credentials():
            s1, e1, h1 = call(srv, "POST", "/api/auth/login", {"username": "root", "password": "wrong password!"})
            s2, e2, h2 = call(srv, "POST", "/api/auth/login", {"username": "nobody", "password": "wrong password!"})
            assert s1 == s2 == 401 and e1 == e2 and e1["error"]["code"] == "unauthorized", (e1, e2)
            assert h1.get("WWW-Authenticate", "").startswith("Bearer"), h1
            for body in ({}, {"username": "root"}, {"username": 5, "password": "x"}, [1, 2]):
                s, e, _ = call(srv, "POST", "/api/auth/login", body)
                assert s == 400 and e["error"]["code"] == "bad_request", (body, s, e)
        check("wrong password and unknown user get the same 401; malformed bodies a 400", wrong_credentials)

        def bad_tokens():
            now = int(time.time())
            mine = json.loads(base64.urlsafe_b64decode(state["token"].split(".")[1] + "=="))
            assert mine["iss"] == "riskd" and mine["pwv"] and mine["sub"] == "chief", mine
            good = {"sub": "chief", "role": "admin", "jti": "x" * 32, "iat": now, "exp": now + 600, "iss": "riskd",
                    "pwv": mine["pwv"]}
            assert call(srv, "GET", "/api/auth/me", token=forge(good))[0] == 200   # the forger knows the secret here
            cases = {
                "wrong secret": forge(good, secret="another-secret-that-is-long-enough-xyz"),
                "alg none": forge(good, alg="none"),
                "expired": forge(dict(good, iat=now - 7200, exp=now - 3600)),
                "tampered": state["token"][:-4] + ("AAAA" if not state["token"].endswith("AAAA") else "BBBB"),
                "garbage": "not.a.token",
                "another issuer": forge(dict(good, iss="someone-else")),
                "no issuer": forge({k: v for k, v in good.items() if k != "iss"}),
                "issued in the future": forge(dict(good, iat=now + 3600, exp=now + 7200)),
                "old password version": forge(dict(good, pwv="c2FsdA")),
                "deleted user": forge(dict(good, sub="ghost")),
            }
            for name, tok in cases.items():
                s, e, h = call(srv, "GET", "/api/auth/me", token=tok)
                assert s == 401 and e["error"]["code"] == "unauthorized", (name, s, e)
            s, e, _ = call(srv, "GET", "/api/auth/me")
            assert s == 401 and "Bearer" in e["error"]["message"], (s, e)
            s, e, _ = call(srv, "GET", "/api/auth/me", headers={"Authorization": "Basic cm9vdDp4"})
            assert s == 401, (s, e)
        check("forged, alg-none, expired, tampered and missing tokens get 401", bad_tokens)

        def throttled():
            # Counted per worker (2 here): once every worker has seen 5 failures, each answer is 429.
            codes = []
            while len(codes) < 20 and codes[-2:] != [429, 429]:
                s, e, h = call(srv, "POST", "/api/auth/login", {"username": "ana", "password": "guess %d!!" % len(codes)})
                codes.append(s)
            assert codes[:5] == [401] * 5 and codes[-2:] == [429, 429] and set(codes) == {401, 429}, codes
            assert e["error"]["code"] == "too_many_attempts" and 0 < int(h["Retry-After"]) <= 900, (e, h)
        def password_change_revokes():
            s, d, _ = call(srv, "POST", "/api/auth/login", {"username": "chief", "password": ADMIN_PW})
            old = d["token"]
            p = subprocess.run([BIN, "user", "passwd", "chief", "--db", db], input="a brand new passphrase\n",
                               capture_output=True, text=True, timeout=30, cwd=srv.tmp)
            assert p.returncode == 0, p
            s, e, _ = call(srv, "GET", "/api/auth/me", token=old)
            assert s == 401 and "password has changed" in e["error"]["message"], (s, e)
            s, e, _ = call(srv, "GET", "/api/dashboard/stats", token=old)
            assert s == 401, (s, e)
            s, d, _ = call(srv, "POST", "/api/auth/login", {"username": "chief", "password": "a brand new passphrase"})
            assert s == 200 and call(srv, "GET", "/api/dashboard/stats", token=d["token"])[0] == 200, (s, d)
        check("changing a password with `riskd user passwd` voids the tokens issued before", password_change_revokes)

        check("repeated failures for one user from one address are throttled (429, Retry-After)", throttled)

        def hashing_does_not_block():
            # Sign-ins verify argon2id (~40 ms each) on the server's pool, not
            # on the workers: a /healthz sent after eight sign-ins, while both
            # workers would be inside a hash if hashing ran on them, is
            # answered before any sign-in. All nine requests are written from
            # one thread before any answer is read, so no client thread's
            # start-up can reorder them.
            import selectors
            import socket
            body = json.dumps({"username": "root", "password": ADMIN_PW}).encode()
            signin = (b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
            health = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            sel = selectors.DefaultSelector()
            socks = []
            for name, req in [("signin", signin)] * 8 + [("healthz", health)]:
                sk = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                sk.sendall(req)
                sk.setblocking(False)
                sel.register(sk, selectors.EVENT_READ, [name, b""])
                socks.append(sk)
            done = []
            deadline = time.time() + 30
            while len(done) < len(socks) and time.time() < deadline:
                for key, _ in sel.select(timeout=1):
                    chunk = key.fileobj.recv(65536)
                    if chunk:
                        key.data[1] += chunk
                        continue
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    status = int(key.data[1].split(b" ", 2)[1]) if key.data[1] else 0
                    done.append((key.data[0], status))
            assert done[0] == ("healthz", 200), done
            assert [d for d in done if d[0] == "signin"] == [("signin", 200)] * 8, done
        check("password hashing runs off the event loop: /healthz is answered while sign-ins hash", hashing_does_not_block)
    finally:
        srv.stop()

    def lockout_expires():
        s4 = Server(env={"JWT_SECRET": SECRET, "RISKD_LOCKOUT_BASE_S": "1", "RISKD_LOCKOUT_MAX_S": "2"})
        try:
            codes = []
            while len(codes) < 20 and codes[-2:] != [429, 429]:
                codes.append(call(s4, "POST", "/api/auth/login", {"username": "root", "password": "wrong %d" % len(codes)})[0])
            assert codes[-2:] == [429, 429], codes
            time.sleep(2.2)      # locks last at most 2 s here (the cap), on whichever worker
            s, d, _ = call(s4, "POST", "/api/auth/login", {"username": "root", "password": ADMIN_PW})
            assert s == 200 and d["user"]["username"] == "root", (s, d)
        finally:
            s4.stop()
    check("a lockout expires: after it the right password signs in", lockout_expires)

    def lockout_cannot_be_aimed():
        """A stranger failing for admin from many addresses makes those
        addresses wait and slows the account for unknown addresses; the owner,
        from where admin signed in before, signs in all along. The counters
        are the server's (both workers) and outlive a reload."""
        s5 = Server(env={"JWT_SECRET": SECRET, "RISKD_TRUSTED_PROXIES": "127.0.0.0/8"})
        try:
            def login(pw, addr):
                return call(s5, "POST", "/api/auth/login", {"username": "root", "password": pw},
                            headers={"X-Forwarded-For": addr})[0]
            assert login(ADMIN_PW, "192.0.2.10") == 200                      # the owner, once
            codes = [login("wrong %d" % i, "198.51.100.7") for i in range(8)]
            assert codes == [401] * 5 + [429] * 3, codes                   # one address, both workers alike
            spray = [login("wrong", "203.0.113.%d" % i) for i in range(1, 40)]
            assert 429 in spray and spray.count(401) <= 21, spray          # slowed past the account's ceiling
            assert login(ADMIN_PW, "192.0.2.10") == 200                      # the owner is never slowed
            assert login(ADMIN_PW, "198.51.100.7") == 429                    # the stranger's address still waits
            # a reload (a rule added: new Lua states on every worker) keeps the counters
            with open(os.path.join(s5.rules, "zz_added.lua"), "w") as f:
                f.write("return { name = 'added', description = 'x', evaluate = function() return 0 end }\n")
            tok = call(s5, "POST", "/api/auth/login", {"username": "root", "password": ADMIN_PW},
                       headers={"X-Forwarded-For": "192.0.2.10"})[1]["token"]
            deadline = time.time() + 5
            while time.time() < deadline:
                st, d, _ = call(s5, "GET", "/api/admin/rules", token=tok)
                if st == 200 and "added" in json.dumps(d):
                    break
                time.sleep(0.1)
            assert "added" in json.dumps(d), d
            assert login(ADMIN_PW, "198.51.100.7") == 429
        finally:
            s5.stop()
    check("lockout from a stranger: the stranger's addresses wait, the owner still signs in; kept across workers "
          "and reloads", lockout_cannot_be_aimed)

    def open_registration():
        s3 = Server(env={"JWT_SECRET": SECRET, "RISKD_OPEN_REGISTRATION": "1"})
        try:
            s, d, _ = call(s3, "POST", "/api/auth/register", {"username": "walkin", "password": "a long passphrase!"},
                           token="")
            assert s == 201 and d["role"] == "analyst", (s, d)
            s, e, _ = call(s3, "POST", "/api/auth/register",
                           {"username": "sneaky", "password": "a long passphrase!", "role": "admin"}, token="")
            assert s == 403, (s, e)
            s, e, _ = call(s3, "POST", "/api/auth/register", {"username": "sneaky", "password": "a long passphrase!"},
                           token="forged.token.x")
            assert s == 401, (s, e)   # a token that is sent must be good
        finally:
            s3.stop()
    check("RISKD_OPEN_REGISTRATION=1 lets anyone create an analyst, and nothing more", open_registration)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench/ws_latency.py PORT ADMIN_TOKEN SERVICE_TOKEN [SECONDS] — `make bench`:
delivery latency of alerts to WebSocket subscribers. Opens 1,000
subscribers to the alerts topic, then posts high-risk analyses at 100/s and
measures, on every subscriber, the time from sending the analysis to
receiving its alert (p50, p99, max). The client is Python on the same two
cores as the server, so the figures include its own delays: an upper bound.
With --hold SECONDS it only keeps the 1,000 subscribers connected and read
(for the analyze benchmark beside it)."""
import http.client
import json
import os
import selectors
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from wsclient import WS  # noqa: E402

N = 1000


def subscribers(port, token):
    conns = []
    for _ in range(N):
        w = WS(port, token=token)
        assert w.status == 101, w.status
        w.recv()
        w.send({"type": "subscribe", "topic": "alerts"})
        assert w.recv()["type"] == "subscribed"
        w.sock.setblocking(False)
        conns.append(w)
    return conns


SAMPLE = 50   # subscribers whose messages are timed; the others are only drained


def reader(conns, stop, seen):
    """Reads every subscriber; seen[user] -> arrival times on the sampled ones.
    Parsing 100,000 messages a second in Python would measure Python."""
    sel = selectors.DefaultSelector()
    for i, w in enumerate(conns):
        w.sampled = i < SAMPLE
        sel.register(w.sock, selectors.EVENT_READ, w)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.1):
            w = key.data
            try:
                d = w.sock.recv(1 << 16)
            except BlockingIOError:
                continue
            if not d:
                sel.unregister(w.sock)
                continue
            now = time.time()
            if not w.sampled:
                continue
            w.buf += d
            while len(w.buf) >= 2:
                n, off = w.buf[1] & 0x7F, 2
                if n == 126:
                    if len(w.buf) < 4:
                        break
                    n, off = int.from_bytes(w.buf[2:4], "big"), 4
                if len(w.buf) < off + n:
                    break
                op, payload, w.buf = w.buf[0] & 0x0F, w.buf[off:off + n], w.buf[off + n:]
                if op == 1 and seen is not None:
                    m = json.loads(payload)
                    seen.setdefault(m["data"].get("user_id"), []).append(now)


def main():
    port, admin, svc = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    hold = "--hold" in sys.argv
    secs = float(sys.argv[sys.argv.index("--hold") + 1]) if hold else (float(sys.argv[4]) if len(sys.argv) > 4 else 10)
    conns = subscribers(port, admin)
    stop = threading.Event()
    seen = None if hold else {}
    t = threading.Thread(target=reader, args=(conns, stop, seen), daemon=True)
    t.start()
    if hold:
        print("holding %d subscribers for %.0f s" % (N, secs), file=sys.stderr, flush=True)
        time.sleep(secs)
        stop.set()
        return 0
    sent = {}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t0 = time.time()
    i = 0
    while time.time() - t0 < secs:
        user = "latency-%d" % i
        body = json.dumps({"user_id": user, "ip_address": "192.0.2.%d" % (i % 250 + 1), "password_breached": True,
                           "device": {"user_agent": "python-requests/2.31"}})
        sent[user] = time.time()
        c.request("POST", "/api/login/analyze", body, {"Content-Type": "application/json", "Authorization": "Bearer " + svc})
        r = c.getresponse()
        d = json.loads(r.read())
        if not d.get("alert_id"):
            sent.pop(user)
        i += 1
        time.sleep(max(0, t0 + i / 100.0 - time.time()))   # 100 per second
    time.sleep(2)
    stop.set()
    t.join()
    lat = sorted((arr - sent[u]) * 1000 for u, times in seen.items() if u in sent for arr in times)
    want = len(sent) * min(N, SAMPLE)
    if not lat:
        print("no alert was delivered")
        return 1
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
    print("WebSocket delivery, %d subscribers (%d timed), %d alerts at 100/s: %d of %d deliveries; p50 %.1f ms,"
          " p99 %.1f ms, max %.1f ms, from sending the analysis (target p99 < 20 ms)"
          % (N, SAMPLE, len(sent), len(lat), want, q(0.5), q(0.99), lat[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""docs/openapi.yaml against the standard linter and the live server: it
passes `redocly lint` with the recommended ruleset (no rule switched off),
and every documented GET that answers JSON gives, on a running server with
data in it, a 200 whose body validates against the documented schema. TAP.
Debian's python3 (python3-yaml, python3-jsonschema)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, finish  # noqa: E402
from test_story import Server, ROOT  # noqa: E402
from test_phishing import PHISH, post  # noqa: E402

SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
REDOCLY = os.path.join(ROOT, "tests", "openapi", "node_modules", ".bin", "redocly")


def lint():
    p = subprocess.run([REDOCLY, "lint", SPEC, "--extends", "recommended", "--format", "summary"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and re.search(r"^error ", out, re.M) is None, out[-3000:]
    assert "valid" in out, out[-2000:]


def resolved(node, spec, depth=0):
    """The schema with every local $ref replaced by what it names."""
    assert depth < 50, "a $ref cycle"
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolved(target, spec, depth + 1)
        return {k: resolved(v, spec, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [resolved(v, spec, depth + 1) for v in node]
    return node


def main():
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    check("docs/openapi.yaml passes redocly lint (@redocly/cli, recommended ruleset)", lint)

    models = tempfile.mkdtemp(prefix="riskd-openapi-models-")
    for m in ("default.model", "phishing.model"):
        shutil.copy(os.path.join(ROOT, "models", m), models)
    srv = Server(models=models)
    try:
        ids = {}

        def data():
            d = srv.analyze(user_id="openapi-user", ip_address="192.0.2.8",
                            device={"device_id": "d1", "user_agent": "Mozilla/5.0 Firefox/120.0"})
            ids["event"] = d["event_id"]
            ids["user"] = "openapi-user"
            s, p = post(srv, {"raw": PHISH})
            assert s == 200 and p["alert_id"], (s, p)
            ids["phishing"], ids["alert"] = p["id"], p["alert_id"]
            s, r = srv.call("POST", "/api/admin/model/retrain", {})
            assert s == 202, (s, r)
            ids["job"] = r["job"]
        check("data to read: an analysis, a phishing analysis with its alert, a retraining job", data)

        params = {"id": None, "name": "new_device", "prefix": "21BD1"}
        by_path = {"/api/login/events/{id}": "event", "/api/login/events/{id}/explain": "event",
                   "/api/phishing/events/{id}": "phishing", "/api/dashboard/alerts/{id}": "alert",
                   "/api/admin/model/retrain/{id}": "job", "/api/users/{id}/profile": "user"}

        def live_gets():
            checked = []
            for path, ops in spec["paths"].items():
                op = ops.get("get")
                ok = (op or {}).get("responses", {}).get("200", {})
                schema = ok.get("content", {}).get("application/json", {}).get("schema")
                if not op or not ok or ("content" in ok and "application/json" not in ok["content"]):
                    continue   # the WebSocket (101), streams and text: not JSON answers
                assert schema is not None, "%s: the 200 answer has no documented schema" % path
                url = path
                for name in re.findall(r"\{(\w+)\}", path):
                    value = ids[by_path[path]] if name == "id" else params[name]
                    url = url.replace("{%s}" % name, value)
                s, body = srv.call("GET", url)
                assert s == 200, (url, s, body)
                try:
                    jsonschema.validate(body, resolved(schema, spec), cls=jsonschema.Draft202012Validator)
                except jsonschema.ValidationError as e:
                    raise AssertionError("%s: %s at %s" % (url, e.message, list(e.absolute_path)))
                checked.append(url)
            print("# %d GET answers validated: %s" % (len(checked), ", ".join(checked)))
            assert len(checked) >= 15, checked
        check("every documented GET that answers JSON: a live 200 that validates against its schema", live_gets)
    finally:
        srv.stop()
    return finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""End-to-end: the web console in headless chromium (tests/browser/console.mjs,
playwright-core from npm, Debian's chromium) against a real server with an
intel folder, so that a posted attempt raises an alert. Screenshots of
each page go to build/screenshots/. TAP."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from test_story import Server, ROOT, ADMIN_PW, check_clean_exit  # noqa: E402
from tap import report, finish  # noqa: E402


def main():
    intel = tempfile.mkdtemp(prefix="riskd-console-intel-")
    shutil.copy(os.path.join(ROOT, "intel", "bot_agents.patterns"), intel)
    with open(os.path.join(intel, "tor_exits.txt"), "w") as f:
        f.write("185.220.101.0/24\n")
    # with the default model (make all trains it), so that attempts have explanations; in a folder
    # of its own, since the models page starts a retraining that writes there
    models = tempfile.mkdtemp(prefix="riskd-console-models-")
    shutil.copy(os.path.join(ROOT, "models", "default.model"), models)
    srv = Server(env={"RISKD_INTEL": intel, "RISKD_WEB": os.path.join(ROOT, "web")}, models=models)
    try:
        p = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "console.mjs"), str(srv.port), ADMIN_PW,
                            srv.tokens["svc"], os.path.join(ROOT, "build", "screenshots")],
                           capture_output=True, text=True, timeout=180, cwd=os.path.join(ROOT, "tests", "browser"))
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith(("ok ", "not ok "))]
        for ln in p.stdout.splitlines():
            if ln.startswith(("ok ", "not ok ")):
                name = ln.split(" - ", 1)[1] if " - " in ln else ln
                detail = ""
            elif ln.startswith("#"):
                continue
            else:
                continue
            report(name, ln.startswith("ok "), detail)
        for ln in p.stdout.splitlines():
            if ln.startswith("#"):
                print(ln, flush=True)
        if "not ok" in p.stdout:   # what the server said about reloads, for the failure
            with open(os.path.join(srv.tmp, "log")) as f:
                for ln in f:
                    if "reload" in ln or "rejected" in ln:
                        print("#   server: " + ln.strip()[:300], flush=True)
        if not lines:
            report("the browser test ran", False, (p.stdout + p.stderr)[-2000:])
    except BaseException:
        srv.stop()
        raise
    finally:
        shutil.rmtree(intel, ignore_errors=True)
        shutil.rmtree(models, ignore_errors=True)
    check_clean_exit(srv)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

"""tap.py — the TAP output the e2e suites share: one `ok N - name` or
`not ok N - name` line per check (with the failure indented as comments),
then the plan line."""
results = []


def report(name, ok, detail=""):
    results.append(ok)
    print(("ok" if ok else "not ok") + " %d - %s" % (len(results), name), flush=True)
    if not ok and detail:
        for line in str(detail).splitlines():
            print("#   " + line, flush=True)


def check(name, fn):
    """Runs fn; an assertion or any other exception is a failure."""
    try:
        fn()
        report(name, True)
    except Exception as e:
        report(name, False, "%s: %s" % (type(e).__name__, e))


def finish():
    print("1..%d" % len(results))
    return 0 if all(results) else 1

#!/usr/bin/env python3
"""End-to-end tests of `riskd user add|list|passwd|del`. TAP."""
import os
import shutil
import subprocess
import sys
import tempfile

from tap import check, finish

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "riskd")))


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-user-")
    db = "sqlite:" + os.path.join(tmp, "db")
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}   # offline commands need no secret

    def user(*args, stdin=""):
        return subprocess.run([BIN, "user", *args, "--db", db], input=stdin, capture_output=True, text=True,
                              env=env, timeout=30, cwd=tmp)

    def hash_of(name):
        out = subprocess.run(["lua5.4", "-e", 'package.cpath = "%s/build/?.so;" .. package.cpath' % ROOT, "-e",
                              'print(require("riskd.store").open("%s"):user("%s").password_hash)' % (db, name)],
                             capture_output=True, text=True)
        return out.stdout.strip()

    try:
        def add_and_list():
            p = user("add", "root", "--role", "admin", "--email", "root@example.com", stdin="correct horse battery\n")
            assert p.returncode == 0 and "created root (admin)" in p.stdout, p
            p = user("add", "ana", "--role", "analyst", stdin="another long passphrase\n")
            assert p.returncode == 0, p
            p = user("list")
            lines = p.stdout.splitlines()
            assert p.returncode == 0 and lines[0].split()[:3] == ["ana", "analyst", "-"], lines
            assert lines[1].split()[:3] == ["root", "admin", "root@example.com"], lines
            assert hash_of("root").startswith("$argon2id$"), hash_of("root")
        check("add reads the password from stdin and stores an argon2id hash; list shows the accounts", add_and_list)

        def refusals():
            p = user("add", "root", "--role", "admin", stdin="correct horse battery\n")
            assert p.returncode == 1 and "already exists" in p.stderr, p
            p = user("add", "bob", "--role", "analyst", stdin="short\n")
            assert p.returncode == 1 and "at least 12" in p.stderr, p
            p = user("add", "bob-the-builder", "--role", "analyst", stdin="bob-the-builder\n")
            assert p.returncode == 1 and "user name" in p.stderr, p
            p = user("add", "bob", "--role", "superuser", stdin="correct horse battery\n")
            assert p.returncode == 2 and "--role" in p.stderr, p
            p = user("add", "bob", "--role", "analyst", stdin="")
            assert p.returncode == 1 and "no password" in p.stderr, p
            p = user("passwd", "nobody", stdin="correct horse battery\n")
            assert p.returncode == 1 and "no user" in p.stderr, p
        check("taken names, weak passwords, unknown roles and users are refused", refusals)

        def passwd_and_del():
            before = hash_of("ana")
            p = user("passwd", "ana", stdin="a brand new passphrase\n")
            assert p.returncode == 0 and before != hash_of("ana"), p
            p = user("del", "ana")
            assert p.returncode == 0 and "deleted ana" in p.stdout, p
            assert "ana" not in user("list").stdout
            assert user("del", "ana").returncode == 1
        check("passwd changes the hash; del removes the account", passwd_and_del)
    finally:
        shutil.rmtree(tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

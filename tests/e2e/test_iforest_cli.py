#!/usr/bin/env python3
"""End-to-end tests of `riskd iforest train|score|eval` on CSV files. TAP."""
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "riskd")))
from tap import check, finish


def riskd(*args):
    return subprocess.run([BIN, "iforest", *args], capture_output=True, text=True, timeout=120)


def write_data(path, n=4000, seed=5, label=True):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        f.write("hour,km,fails" + (",label" if label else "") + "\n")
        for i in range(n):
            out = i % 50 == 0
            if out:
                row = [rnd.uniform(-30, 30) for _ in range(3)]
            else:
                row = [rnd.gauss(13, 2), rnd.gauss(5, 1), rnd.gauss(0, 0.5)]
            f.write(",".join("%.6f" % v for v in row) + ((",%d" % out) if label else "") + "\n")


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-cli-")
    data = os.path.join(tmp, "data.csv")
    model = os.path.join(tmp, "m.model")
    write_data(data)
    try:
        def train():
            p = riskd("train", "--input", data, "--label", "label", "--model", model, "--seed", "7", "--trees", "60")
            assert p.returncode == 0, p.stderr
            assert "trained 60 trees" in p.stdout and "train AUC" in p.stdout, p.stdout
            assert os.path.getsize(model) > 0
        check("train writes a model and reports AUC", train)

        def score():
            out = os.path.join(tmp, "scores.txt")
            p = riskd("score", "--model", model, "--input", data, "--label", "label", "--output", out)
            assert p.returncode == 0, p.stderr
            lines = open(out).read().splitlines()
            assert len(lines) == 4000, len(lines)
            scores = [float(x) for x in lines]
            assert all(0 < s < 1 for s in scores)
            # the outliers (every 50th row) score above the median
            med = sorted(scores)[2000]
            assert sum(1 for i in range(0, 4000, 50) if scores[i] > med) >= 75
            p2 = riskd("score", "--model", model, "--input", data, "--label", "label", "--threads", "1")
            assert p2.stdout.splitlines() == lines, "stdout and --output, 1 and all threads differ"
        check("score writes one score per row in order, to a file or stdout", score)

        def deterministic():
            m2 = os.path.join(tmp, "m2.model")
            riskd("train", "--input", data, "--label", "label", "--model", m2, "--seed", "7", "--trees", "60", "--threads", "1")
            a = riskd("score", "--model", model, "--input", data, "--label", "label").stdout
            b = riskd("score", "--model", m2, "--input", data, "--label", "label").stdout
            assert a == b
        check("the same seed gives the same scores whatever the threads", deterministic)

        def evaluate():
            p = riskd("eval", "--input", data, "--label", "label", "--seed", "3")
            assert p.returncode == 0, p.stderr
            auc = float([l for l in p.stdout.splitlines() if l.startswith("AUC")][0].split()[1])
            assert auc >= 0.95, p.stdout
            assert "train" in p.stdout and "score" in p.stdout and "anomalies 80" in p.stdout, p.stdout
        check("eval prints ROC AUC and times", evaluate)

        def bad(name, text, args, want):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            p = riskd(*[a.replace("FILE", path) for a in args])
            assert p.returncode != 0, "exit 0"
            assert want.replace("FILE", path) in p.stderr, p.stderr
        cases = [
            ("ragged", "a,b\n1,2\n3\n", ["eval", "--input", "FILE", "--label", "b"], "FILE:3: expected 2 columns, got 1"),
            ("text", "a,b,label\n1,2,0\n1,oops,1\n", ["eval", "--input", "FILE", "--label", "label"], "FILE:3:2: not a number: 'oops'"),
            ("empty", "", ["train", "--input", "FILE", "--model", model + ".x"], "FILE: empty file"),
            ("nolabel", "a,b\n1,2\n", ["eval", "--input", "FILE", "--label", "y"], "FILE:1: no column 'y' in the header"),
            ("names", "hour,km,other\n1,2,3\n", ["score", "--model", model, "--input", "FILE"], "feature 3 is 'fails', expected 'other'"),
            ("oneclass", "a,label\n1,0\n2,0\n", ["eval", "--input", "FILE", "--label", "label"], "needs both 0 and 1"),
        ]
        for c in cases:
            check("malformed input: " + c[0], lambda c=c: bad(*c))

        def usage():
            p = riskd("score", "--model", model)
            assert p.returncode == 2 and "--input is required" in p.stderr, p.stderr
            p = riskd("train", "--input", data, "--model", model, "--trees", "x")
            assert p.returncode == 2 and "--trees" in p.stderr, p.stderr
            p = riskd("frobnicate")
            assert p.returncode == 2
            p = riskd("score", "--model", os.path.join(tmp, "missing.model"), "--input", data, "--label", "label")
            assert p.returncode == 1 and "cannot open" in p.stderr, p.stderr
        check("usage errors exit 2, missing files 1", usage)
    finally:
        shutil.rmtree(tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())

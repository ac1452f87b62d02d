#!/usr/bin/python3
"""bench/iforest.py — riskd's Isolation Forest against scikit-learn's, on the
same seeded 1,000,000 × 10 data, in one run. Prints times, rows/s and ratios.

Uses Debian's python3-sklearn and python3-pandas (/usr/bin/python3, not a
virtualenv), so that the reference is the packaged one."""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "riskd")
N = int(os.environ.get("BENCH_ROWS", "1000000"))
D = 10


def make_data(path):
    """Three gaussian clusters and 1 % of anomalies: half scattered over the
    space, half a wider spread around the clusters (hard to tell apart)."""
    rng = np.random.default_rng(20261125)
    n_out = N // 100
    centers = rng.uniform(-3, 3, size=(3, D))
    which = rng.integers(0, 3, size=N - n_out)
    normal = centers[which] + rng.normal(0, 1.0, size=(N - n_out, D))
    half = n_out // 2
    scattered = rng.uniform(-6, 6, size=(half, D))
    near = centers[rng.integers(0, 3, size=n_out - half)] + rng.normal(0, 1.8, size=(n_out - half, D))
    anomalies = np.vstack([scattered, near])
    X = np.vstack([normal, anomalies])
    y = np.concatenate([np.zeros(N - n_out, dtype=int), np.ones(n_out, dtype=int)])
    order = rng.permutation(N)
    X, y = X[order], y[order]
    df = pd.DataFrame(X, columns=["f%d" % i for i in range(D)])
    df["label"] = y
    df.to_csv(path, index=False, float_format="%.6f")
    return X, y


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t0


def riskd(*args):
    p = subprocess.run([BIN, "iforest", *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("riskd failed: " + p.stderr)
    return p.stdout


def main():
    tmp = tempfile.mkdtemp(prefix="riskd-bench-")
    data = os.path.join(tmp, "data.csv")
    model = os.path.join(tmp, "m.model")
    print("generating %d x %d rows ..." % (N, D), flush=True)
    X, y = make_data(data)
    cores = os.cpu_count()

    # --- scikit-learn (single-threaded fit and score_samples) ---
    sk = IsolationForest(n_estimators=100, max_samples=256, random_state=0)
    _, sk_train = timed(lambda: sk.fit(X))
    sk_scores, sk_score = timed(lambda: -sk.score_samples(X))
    sk_auc = roc_auc_score(y, sk_scores)

    def pandas_pipeline():
        df = pd.read_csv(data)
        return -sk.score_samples(df.drop(columns=["label"]).to_numpy())
    _, sk_cmd = timed(pandas_pipeline)

    # --- riskd ---
    def eval_run(threads):
        out = riskd("eval", "--input", data, "--label", "label", "--threads", str(threads))
        auc = float(re.search(r"AUC ([0-9.]+)", out).group(1))
        train = float(re.search(r"train ([0-9.]+) s", out).group(1))
        score = float(re.search(r"score ([0-9.]+) s", out).group(1))
        return auc, train, score
    auc1, train1, score1 = eval_run(1)
    aucn, trainn, scoren = eval_run(0)
    riskd("train", "--input", data, "--label", "label", "--model", model)
    _, cmd1 = timed(lambda: riskd("score", "--model", model, "--input", data, "--label", "label",
                                  "--threads", "1", "--output", os.path.join(tmp, "s.txt")))
    _, cmdn = timed(lambda: riskd("score", "--model", model, "--input", data, "--label", "label",
                                  "--output", os.path.join(tmp, "s.txt")))

    print()
    print("%d rows x %d features, 100 trees, sample 256; %d cores" % (N, D, cores))
    print("%-44s %12s %12s %9s" % ("", "scikit-learn", "riskd", "ratio"))
    print("%-44s %11.3fs %11.3fs %8.1fx" % ("train (riskd 1 thread)", sk_train, train1, sk_train / train1))
    print("%-44s %11.3fs %11.3fs %8.1fx" % ("train (riskd all threads)", sk_train, trainn, sk_train / trainn))
    print("%-44s %12.0f %12.0f %8.1fx" % ("score rows/s, 1 thread", N / sk_score, N / score1, sk_score / score1))
    print("%-44s %12.0f %12.0f %8.1fx" % ("score rows/s, riskd all threads", N / sk_score, N / scoren, sk_score / scoren))
    print("%-44s %11.3fs %11.3fs %8.1fx" % ("CSV -> scores (pandas+sklearn vs riskd, 1 thr)", sk_cmd, cmd1, sk_cmd / cmd1))
    print("%-44s %11.3fs %11.3fs %8.1fx" % ("CSV -> scores (riskd all threads)", sk_cmd, cmdn, sk_cmd / cmdn))
    print("%-44s %12.4f %12.4f %+9.4f" % ("ROC AUC (labelled anomalies)", sk_auc, aucn, aucn - sk_auc))
    ok = sk_score / score1 >= 10 and sk_cmd / cmdn >= 10 and abs(aucn - sk_auc) <= 0.01
    print("targets (score >= 10x on one thread, command >= 10x, AUC within 0.01): %s"
          % ("met" if ok else "NOT met"))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""bench/phishing_corpus.py — phishing detection on real mail.

The corpus's held-out fifth (chosen by each message's sha256, as `riskd
phishing train --manifest` leaves it out) is scored three ways by riskd and
once by SpamAssassin (Debian's, stock rules, no network tests):
  shipped  the shipped model (models/phishing.model) with the rules;
  LOSO     leave one source out: each message scored by a model trained, the
           way `make phishing-model` trains, on every other source only, so
           that nothing of its own source (sender, list, language, era,
           template) was seen; with the rules;
  model    the shipped model alone.
ROC AUC per era and source; precision, recall and the false-positive rate at
the "phishing" verdict (SpamAssassin: its 5.0); then how often each indicator
and rule fires per source on the other four fifths (the part indicators are
tuned on).

  bench/phishing_corpus.py [CORPUS_DIR] [--model M] [--markdown FILE]

CORPUS_DIR holds manifest.jsonl (default ../shared/mail-corpus). Prints one
"figure: value" line each (what bench/report.sh reads); --markdown FILE
also writes the tables (docs/phishing.md shows them)."""
import bisect
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("RISKD_BIN", os.path.join(ROOT, "build", "riskd"))
COMMERCIAL = {"newsletters_unspy", "fixtures_php_mime_mail_parser", "fixtures_mailauth", "fixtures_django_mailbox",
              "dsn_sisimai"}
SA_THRESHOLD = 5.0

SA_SCRIPT = r"""
use strict; use warnings;
use Mail::SpamAssassin;
my $sa = Mail::SpamAssassin->new({ local_tests_only => 1, dont_copy_prefs => 1, userprefs_filename => "/dev/null" });
$sa->init(1);
while (my $path = <STDIN>) {
    chomp $path;
    my $text = do { local $/; open(my $fh, "<", $path) or die "$path: $!"; <$fh> };
    my $m = $sa->parse($text);
    my $s = $sa->check($m);
    printf "%s\t%.3f\n", $path, $s->get_score();
    $s->finish; $m->finish;
}
"""


def heldout(sha):
    return int(sha[:8], 16) % 5 == 0


def era(year):
    """As lib/mailcorpus.lua's M.era."""
    if year is None:
        return "undated"
    return "old" if year < 2010 else "2010s" if year < 2019 else "modern"


def auc(pairs):
    """ROC AUC of (score, label) pairs, ties counted half; None with one class."""
    pos = [s for s, y in pairs if y == 1]
    neg = sorted(s for s, y in pairs if y == 0)
    if not pos or not neg:
        return None
    total = 0.0
    for s in pos:
        lo = bisect.bisect_left(neg, s)
        total += lo + (bisect.bisect_right(neg, s) - lo) / 2
    return total / (len(pos) * len(neg))


def at_threshold(pairs, t):
    """precision, recall, false-positive rate of score >= t."""
    tp = sum(1 for s, y in pairs if s >= t and y == 1)
    fp = sum(1 for s, y in pairs if s >= t and y == 0)
    p1 = sum(1 for _, y in pairs if y == 1)
    p0 = len(pairs) - p1
    return (tp / (tp + fp) if tp + fp else None, tp / p1 if p1 else None, fp / p0 if p0 else None)


# The corpus's placeholder for the honeypot's own address (SOURCES.md, label
# leaks): in a From (messages forwarded from the pot) it is a sender under no
# real domain, which one class alone has. Scored messages get a neutral address
# instead, riskd and SpamAssassin alike; training masks the recipient already.
PLACEHOLDER = re.compile(rb"[A-Za-z0-9._%+-]+@pot\b")
NEUTRAL = b"user@mailbox.test"


def neutralise(entries, tmp):
    """Points each entry's path at a copy without the placeholder, where it has one."""
    d = os.path.join(tmp, "neutral")
    os.makedirs(d)
    for i, e in enumerate(entries):
        raw = open(e["path"], "rb").read()
        if PLACEHOLDER.search(raw):
            e["path"] = os.path.join(d, "%05d.eml" % i)
            with open(e["path"], "wb") as f:
                f.write(PLACEHOLDER.sub(NEUTRAL, raw))


def score_files(paths, model, tmp, tag):
    """riskd phishing score over paths (through symlinks): {path: result}."""
    d = os.path.join(tmp, tag)
    os.makedirs(d)
    links = {}
    for i, p in enumerate(paths):
        name = "%05d.eml" % i
        os.symlink(os.path.abspath(p), os.path.join(d, name))
        links[name] = p
    out = os.path.join(tmp, tag + ".jsonl")
    subprocess.run([BIN, "phishing", "score", "--input", d, "--model", model, "--features", "--output", out],
                   check=True, capture_output=True)
    res = {}
    for line in open(out):
        r = json.loads(line)
        # a stored mbox message reads as a one-message mbox ("FILE#1")
        p = links[os.path.basename(r["source"]).split("#")[0]]
        res.setdefault(p, r)
    return res


def main(argv):
    corpus = os.path.join(ROOT, "..", "shared", "mail-corpus")
    model = os.path.join(ROOT, "models", "phishing.model")
    markdown = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--model":
            model = args.pop(0)
        elif a == "--markdown":
            markdown = args.pop(0)
        else:
            corpus = a
    manifest = os.path.join(corpus, "manifest.jsonl")
    if not os.path.exists(manifest):
        print("phishing on real mail: no corpus at %s (skipped)" % corpus)
        return 0
    entries = [json.loads(line) for line in open(manifest)]
    for e in entries:
        e["path"] = os.path.join(corpus, e["file"])
        e["held"] = heldout(e["sha256"])
        e["era"] = era(e.get("date_year"))
    sources = sorted({e["source"] for e in entries})
    with tempfile.TemporaryDirectory(prefix="riskd-mail-") as tmp:
        neutralise(entries, tmp)
        shipped = score_files([e["path"] for e in entries], model, tmp, "shipped")
        for e in entries:
            r = shipped[e["path"]]
            e["riskd"], e["model"] = r["score"], r["model_score"] or 0
            e["features"] = set(r.get("features", [])) | {"rule:" + n for n in r.get("rules", [])}
        # Leave one source out, trained as make phishing-model trains.
        subprocess.run([BIN, "generate", "--phishing", "--count", "1500", "--seed", "42", "--output", tmp + "/gen"],
                       check=True, capture_output=True)
        for src in sources:
            m = os.path.join(tmp, "loso-%s.model" % src)
            subprocess.run([BIN, "phishing", "train", "--manifest", manifest, "--leave-out", src, "--legitimate",
                            tmp + "/gen/legitimate.mbox", "--model", m], check=True, capture_output=True)
            mine = [e for e in entries if e["source"] == src]
            res = score_files([e["path"] for e in mine], m, tmp, "loso-" + src)
            for e in mine:
                e["loso"] = res[e["path"]]["score"]
                e["loso_model"] = res[e["path"]]["model_score"] or 0
        held = [e for e in entries if e["held"]]
        sa_ok = False
        try:
            p = subprocess.run(["perl", "-e", SA_SCRIPT], input="\n".join(e["path"] for e in held) + "\n",
                               capture_output=True, text=True, timeout=3600)
            if p.returncode == 0:
                sa = dict(line.rsplit("\t", 1) for line in p.stdout.splitlines())
                for e in held:
                    e["sa"] = float(sa[e["path"]])
                sa_ok = True
        except (OSError, subprocess.TimeoutExpired, KeyError):
            sa_ok = False

    slices = [("all", lambda e: True),
              ("modern (2019 and later) phishing vs legitimate", lambda e: e["era"] == "modern"),
              ("modern phishing vs commercial legitimate mail",
               lambda e: (e["label"] == 1 and e["era"] == "modern") or e["source"] in COMMERCIAL),
              ("2010-2018 legitimate vs all phishing", lambda e: e["label"] == 1 or e["era"] == "2010s"),
              ("2004-05 phishing vs 2002 legitimate", lambda e: e["era"] == "old")]
    cols = [("riskd", "shipped model + rules"), ("model", "shipped model alone"), ("loso", "leave-one-source-out + rules"),
            ("loso_model", "leave-one-source-out model alone"), ("sa", "SpamAssassin")]

    def f(x):
        return "—" if x is None else "%.3f" % x

    out_lines = []
    rows = []
    for name, keep in slices:
        sel = [e for e in held if keep(e)]
        n1 = sum(e["label"] for e in sel)
        vals = [auc([(e[k], e["label"]) for e in sel if k in e]) if (k != "sa" or sa_ok) else None for k, _ in cols]
        rows.append((name, n1, len(sel) - n1, vals))
        out_lines.append("phishing on real mail, held-out ROC AUC, %s (%d phishing, %d legitimate): %s" % (
            name, n1, len(sel) - n1, ", ".join("%s %s" % (c, f(v)) for (_, c), v in zip(cols, vals))))
    # Leave one source out, per source: all its messages (none seen in training) against the
    # other class's held-out fifth, each scored without its own source.
    loso_rows = []
    for src in sources:
        mine = [e for e in entries if e["source"] == src]
        lab = mine[0]["label"]
        others = [e for e in held if e["label"] != lab]
        a = auc([(e["loso"], e["label"]) for e in mine + others])
        am = auc([(e["loso_model"], e["label"]) for e in mine + others])
        loso_rows.append((src, lab, len(mine), a, am))
        out_lines.append("phishing on real mail, leave-one-source-out ROC AUC, %s (%d %s) against the other class: "
                         "with the rules %s, model alone %s" % (src, len(mine), "phishing" if lab else "legitimate", f(a), f(am)))
    # At the default verdicts.
    verdict = []
    for k, t, label in (("riskd", 70, "riskd shipped, \"phishing\" verdict (70)"),
                        ("loso", 70, "riskd leave-one-source-out, \"phishing\" verdict (70)"),
                        ("sa", SA_THRESHOLD, "SpamAssassin, spam at %.1f" % SA_THRESHOLD)):
        if k == "sa" and not sa_ok:
            continue
        for ename, keep in (("all", lambda e: True), ("modern", lambda e: e["era"] == "modern")):
            pairs = [(e[k], e["label"]) for e in held if keep(e)]
            prec, rec, fpr = at_threshold(pairs, t)
            verdict.append((label, ename, prec, rec, fpr))
            out_lines.append("phishing on real mail, %s, %s held-out mail: precision %s, recall %s, false positives %s" % (
                label, ename, f(prec), f(rec), "—" if fpr is None else "%.2f %%" % (100 * fpr)))

    md = ["| held-out ROC AUC | phishing | legitimate | " + " | ".join(c for _, c in cols) + " |",
          "|---|---|---|" + "---|" * len(cols)]
    for name, n1, n0, vals in rows:
        md.append("| %s | %d | %d | %s |" % (name, n1, n0, " | ".join(f(v) for v in vals)))
    md += ["", "| left-out source | messages | class | ROC AUC against the other class's held-out fifth, with the rules | model alone |",
           "|---|---|---|---|---|"]
    for src, lab, n, a, am in loso_rows:
        md.append("| %s | %d | %s | %s | %s |" % (src, n, "phishing" if lab else "legitimate", f(a), f(am)))
    md += ["", "| at the default verdict | held-out mail | precision | recall | false positives |", "|---|---|---|---|---|"]
    for label, ename, prec, rec, fpr in verdict:
        md.append("| %s | %s | %s | %s | %s |" % (label, ename, f(prec), f(rec), "—" if fpr is None else "%.2f %%" % (100 * fpr)))

    # Indicators and rules on the other four fifths.
    tuning = [e for e in entries if not e["held"]]
    groups = [("phishing_pot", lambda e: e["source"] == "phishing_pot"),
              ("Nazario", lambda e: e["source"] == "nazario_phishing0"),
              ("lists 2010+", lambda e: e["source"].startswith("list_")),
              ("SpamAssassin 2002", lambda e: e["source"].startswith("spamassassin")),
              ("commercial", lambda e: e["source"] in COMMERCIAL)]
    md += ["", "| fires on (share of the other four fifths) | " + " | ".join(g for g, _ in groups) + " | note |",
           "|---|" + "---|" * (len(groups) + 1)]
    for ft in sorted(set().union(*[e["features"] for e in tuning])):
        shares = []
        for _, keep in groups:
            sel = [e for e in tuning if keep(e)]
            shares.append(sum(ft in e["features"] for e in sel) / len(sel) if sel else 0)
        note = "fires on legitimate mail as often as on phishing" if max(shares[2:]) >= max(shares[:2]) > 0 or \
            (max(shares[:2]) == 0 and max(shares[2:]) > 0) else ""
        md.append("| %s | %s | %s |" % (ft, " | ".join("%.1f %%" % (100 * x) for x in shares), note))
        out_lines.append("phishing indicator %s fires on: %s%s" % (
            ft, ", ".join("%s %.1f %%" % (g, 100 * x) for (g, _), x in zip(groups, shares)), " (%s)" % note if note else ""))

    print("phishing on real mail: %d messages of %s, %d held out (model %s)%s" % (
        len(entries), os.path.basename(os.path.abspath(corpus)), len(held), os.path.relpath(model, ROOT),
        "" if sa_ok else "; SpamAssassin not installed"))
    print("\n".join(out_lines))
    if markdown:
        with open(markdown, "w") as fh:
            fh.write("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

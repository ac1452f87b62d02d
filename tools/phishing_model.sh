#!/bin/sh
# tools/phishing_model.sh CORPUS OUT.model — trains the shipped phishing
# model on a corpus of real mail (CORPUS/manifest.jsonl, see
# docs/phishing.md) and checks that it does not lean on the headers that
# date a message or say where it was kept: a second model trained with them
# stripped must score within 0.02 ROC AUC of it on the same held-out fifth.
# Legitimate commercial mail (receipts, notices, newsletters) is the class
# real corpora lack and modern phishing imitates: seeded generated
# legitimate mail is added to the training part (never held out).
# Writes OUT.model and, beside it, OUT's metrics as Markdown (OUT.md).
set -eu
corpus=$1
out=$2
bin=${RISKD_BIN:-./build/riskd}
if [ ! -f "$corpus/manifest.jsonl" ]; then
    echo "phishing-model: no $corpus/manifest.jsonl (CORPUS=DIR names a corpus of real mail)" >&2
    exit 1
fi
note="Phishing Pot (rf-peixoto/phishing_pot) is licensed CC BY-NC 4.0: this model, trained on it, is for non-commercial use; retrain it on your own mail for anything else."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" generate --phishing --count 1500 --seed 42 --output "$tmp/generated" 2>/dev/null
note="$note Also trained on 1,500 generated legitimate messages (riskd generate --phishing --count 1500 --seed 42)."
"$bin" phishing train --manifest "$corpus/manifest.jsonl" --legitimate "$tmp/generated/legitimate.mbox" \
    --model "$tmp/full.model" --note "$note" >"$tmp/full.txt"
"$bin" phishing train --manifest "$corpus/manifest.jsonl" --legitimate "$tmp/generated/legitimate.mbox" \
    --model "$tmp/stripped.model" --strip-headers >"$tmp/stripped.txt"
auc() { sed -n 's/^held-out: ROC AUC \([0-9.]*\).*/\1/p' "$1"; }
full=$(auc "$tmp/full.txt")
stripped=$(auc "$tmp/stripped.txt")
cat "$tmp/full.txt"
echo "with Date, Received, X-*, List-*, DKIM/ARC and the other relay headers stripped: held-out ROC AUC $stripped"
if ! awk -v a="$full" -v b="$stripped" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.02) }'; then
    echo "phishing-model: the model depends on the headers (ROC AUC $full with them, $stripped without)" >&2
    exit 1
fi
{
    echo "# The shipped phishing model"
    echo
    echo "\`phishing.model\`, made by \`make phishing-model CORPUS=$corpus\` (tools/phishing_model.sh)."
    echo "$note"
    echo
    echo "Provenance (kept in the model file too, \`require(\"riskd.phishing\").load(path):info().provenance\`):"
    echo
    printf 'print(require("riskd.phishing").load(arg[1]):info().provenance)\n' >"$tmp/prov.lua"
    "$bin" run "$tmp/prov.lua" "$tmp/full.model"
    echo
    echo "Held-out fifth (chosen by sha256), the model alone:"
    echo
    echo '```'
    grep '^held-out' "$tmp/full.txt"
    echo "headers stripped: ROC AUC $stripped"
    echo '```'
} >"$tmp/full.md"
mv "$tmp/full.model" "$out"
mv "$tmp/full.md" "${out%.model}.md"
echo "phishing-model: $out (and ${out%.model}.md)"

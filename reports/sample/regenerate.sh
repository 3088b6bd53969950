#!/usr/bin/env bash
# Regenerate the committed tiny sample: the result JSONs of a real `tiny` run of the main-table grid, 2 seeds.
# They let `python -m reports tables|plots` (and `make plots`) show real output on a fresh clone, and
# tests/test_reports.py checks the tables rendered from them against the raw JSON values.
#
#     reports/sample/regenerate.sh            # from the repository root; a few minutes on 2 cores
#
# Runs in a private HARNESS_OUT, then replaces reports/sample/results/ with its *.json result files only
# (no checkpoints, no *.samples.jsonl: reports read neither).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
HARNESS_OUT="$tmp" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} \
    "$PYTHON" -m harness reproduce --table main --scale tiny --seeds 2 --no-report
dest=reports/sample/results/tiny
rm -rf "$dest.new"
mkdir -p "$dest.new"
(cd "$tmp/results/tiny" && find . -name '*.json' -exec cp --parents {} "$OLDPWD/$dest.new/" \;)
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "sample: $(find "$dest" -name '*.json' | wc -l) result files in $dest ($(du -sh "$dest" | cut -f1))"
"$PYTHON" -m reports all --results reports/sample --out "$tmp/reports" >/dev/null
echo "renders: python -m reports all --results reports/sample --out /tmp/sample-reports"

#!/usr/bin/env bash
# Copy the finished result JSONs of a grid run into the committed set, or back into a results folder.
#
#     reports/sample/sync.sh in  /path/to/HARNESS_OUT [small]    # grid results → reports/sample/results/small
#     reports/sample/sync.sh out /path/to/HARNESS_OUT [small]    # committed set → HARNESS_OUT/results/small
#
# "in": only *.json result files (no checkpoints, samples or journals: reports read neither), and only
# those of finished work — a file is copied when it exists, so a run half-way keeps what it has finished.
# "out": a fresh machine resumes the grid from the committed results: `make paper` then skips every run
# whose results are all present (harness.commands.reproduce.has_all_results) and trains only the missing ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?in|out}; out=${2:?HARNESS_OUT folder}; scale=${3:-small}
committed=reports/sample/results/$scale
case "$dir" in
  in)  mkdir -p "$committed"
       (cd "$out/results/$scale" && find . -name '*.json' -exec cp --parents {} "$OLDPWD/$committed/" \;)
       echo "committed set: $(find "$committed" -name '*.json' | wc -l) result files ($(du -sh "$committed" | cut -f1))" ;;
  out) mkdir -p "$out/results/$scale"
       (cd "$committed" && find . -name '*.json' -exec cp -n --parents {} "$out/results/$scale/" \;)
       echo "copied the committed $scale results into $out/results/$scale (existing files kept)" ;;
  *)   echo "usage: $0 in|out HARNESS_OUT [scale]" >&2; exit 2 ;;
esac

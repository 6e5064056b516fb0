#!/usr/bin/env bash
# Regenerates test/fixtures/tshark-conv/*.txt: tshark's TCP conversation
# table (`-z conv,tcp`: endpoints, frames and bytes each way, relative start,
# duration, one line per tcp.stream) for each capture of ../shared/captures
# that holds TCP. Run once and commit the output; the `sessions` part of
# test/golden/session-tshark.test.ts compares `handoff sessions` rows (per
# view and merged into connections) with it.
# Needs tshark (4.0.17 was used: see the header line of each file).
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/captures
out=test/fixtures/tshark-conv
mkdir -p "$out"
version=$(tshark --version 2>/dev/null | head -1)
for path in "$src"/*; do
  name=$(basename "$path")
  case "$name" in MANIFEST.*) continue ;; esac
  n=$(tshark -r "$path" -Y tcp -T fields -e frame.number 2>/dev/null | wc -l || true)
  if [ "$n" = 0 ]; then rm -f "$out/$name.txt"; continue; fi
  {
    echo "# $version"
    echo "# tshark -r $name -q -z conv,tcp"
    tshark -r "$path" -q -z conv,tcp 2>/dev/null || true
  } > "$out/$name.txt"
  echo "$name: $(grep -c '<->' "$out/$name.txt") conversations"
done

#!/usr/bin/env bash
# Regenerates test/fixtures/tshark-analysis/*.tsv.gz: tshark's TCP sequence
# analysis, frame by frame (tcp.stream and every tcp.analysis.* flag), for
# each capture of ../shared/captures that holds TCP. Run once and commit the
# output; test/golden/session-tshark.test.ts compares our session tracker
# (analyzer/flows/session.ts) with it. Addresses, seq and ack are left out:
# test/fixtures/tshark/ has them (compared by tshark-fields.test.ts), and
# without them the biggest golden (echo-connections) stays under 1 MB.
#
# tshark runs single-pass (no -2), like our streaming tracker, with the
# default analysis preferences (analyze_sequence_numbers TRUE,
# fastrt_supersedes_ooo TRUE, default_window_scaling "not known") and
# desegmentation off (subdissectors must not change what TCP shows).
# Presence fields print 1 (duplicate_ack prints "1,1": the field and its
# expert item); a frame with several TCP headers (tunnels, ICMP quotes) gives
# several values joined with ','.
# A golden bigger than MAX_GZ bytes is not written (see SKIPPED below).
# Needs tshark (4.0.17 was used: see the header line of each file).
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/captures
out=test/fixtures/tshark-analysis
MAX_GZ=${MAX_GZ:-1000000}
mkdir -p "$out"
fields=(frame.number frame.interface_id tcp.srcport tcp.dstport tcp.stream tcp.len tcp.flags
        tcp.analysis.retransmission tcp.analysis.fast_retransmission tcp.analysis.spurious_retransmission
        tcp.analysis.out_of_order tcp.analysis.lost_segment tcp.analysis.ack_lost_segment
        tcp.analysis.duplicate_ack tcp.analysis.duplicate_ack_num
        tcp.analysis.zero_window tcp.analysis.zero_window_probe tcp.analysis.zero_window_probe_ack
        tcp.analysis.window_full tcp.analysis.window_update
        tcp.analysis.keep_alive tcp.analysis.keep_alive_ack tcp.analysis.reused_ports)
args=()
for f in "${fields[@]}"; do args+=(-e "$f"); done
opts=(-o tcp.analyze_sequence_numbers:TRUE -o tcp.desegment_tcp_streams:FALSE -o tcp.fastrt_supersedes_ooo:TRUE)
version=$(tshark --version 2>/dev/null | head -1)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for path in "$src"/*; do
  name=$(basename "$path")
  case "$name" in MANIFEST.*) continue ;; esac
  # only captures with TCP
  n=$(tshark -r "$path" -Y tcp -T fields -e frame.number 2>/dev/null | wc -l || true)
  if [ "$n" = 0 ]; then rm -f "$out/$name.tsv.gz"; continue; fi
  {
    echo "# $version"
    echo "# tshark -r $name ${opts[*]} -T fields -E header=y -E occurrence=a -E aggregator=, -Y tcp $(printf -- '-e %s ' "${fields[@]}")"
    tshark -r "$path" "${opts[@]}" -Y tcp -T fields -E header=y -E occurrence=a -E aggregator=, -E separator=/t \
      "${args[@]}" 2>/dev/null || true
  } | gzip -9n > "$tmp"
  size=$(stat -c %s "$tmp")
  if [ "$size" -gt "$MAX_GZ" ]; then
    echo "SKIPPED $name: golden would be $size bytes gzipped (> $MAX_GZ)" >&2
    rm -f "$out/$name.tsv.gz"
    continue
  fi
  cp "$tmp" "$out/$name.tsv.gz"
  echo "$name: $n TCP frames, $size bytes"
done

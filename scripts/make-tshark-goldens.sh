#!/usr/bin/env bash
# Regenerates test/fixtures/tshark/*.tsv.gz: what tshark says, frame by frame,
# about every capture in ../shared/captures. Run once and commit the output;
# test/golden/tshark-fields.test.ts compares our decoder with it.
# Needs tshark (4.0 was used: see the header line of each file).
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/captures
out=test/fixtures/tshark
mkdir -p "$out"
fields=(frame.number frame.interface_id frame.cap_len frame.len frame.p2p_dir
        ip.src ip.dst ipv6.src ipv6.dst ip.checksum.status
        tcp.srcport tcp.dstport tcp.flags tcp.seq_raw tcp.ack_raw tcp.len tcp.window_size_value tcp.checksum.status
        tcp.options.mss_val tcp.options.wscale.shift tcp.options.timestamp.tsval tcp.options.timestamp.tsecr
        tcp.options.sack_le tcp.options.sack_re
        udp.srcport udp.dstport frame.protocols)
args=()
for f in "${fields[@]}"; do args+=(-e "$f"); done
version=$(tshark --version 2>/dev/null | head -1)
for path in "$src"/*; do
  name=$(basename "$path")
  case "$name" in MANIFEST.*) continue ;; esac
  {
    echo "# $version"
    echo "# tshark -r $name -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o tcp.analyze_sequence_numbers:FALSE -T fields -E header=y -E occurrence=a -E aggregator=, -o tcp.desegment_tcp_streams:FALSE $(printf -- '-e %s ' "${fields[@]}")"
    # every occurrence, joined with ',' (tunnelled or quoted headers give several);
    # the comparison uses the first, and all of them for SACK edges
    tshark -r "$path" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
      -o tcp.analyze_sequence_numbers:FALSE -o tcp.desegment_tcp_streams:FALSE \
      -T fields -E header=y -E occurrence=a -E aggregator=, -E separator=/t "${args[@]}" 2>/dev/null || true
  } | gzip -9n > "$out/$name.tsv.gz"
done
ls "$out" | wc -l

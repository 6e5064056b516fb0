// stream-gap (error): the byte stream the client sees from the VIP has a
// hole, or bytes repeated with different content, across the handoff. The
// return stream of the client-facing view (client side, else LAN) is
// reassembled from the FE's SYN/ACK on (flows/reassembly.ts, in
// correlate/assemble.ts): segments with a bad checksum are left out (the
// client drops them), a hole is declared when the client acknowledges past it
// or the trace ends with bytes after it. Holes and conflicts that a segment
// found misplaced by seq-remap explains are that check's, not reported again;
// so are holes where the client dropped a segment for another violation (a
// bad checksum, a source that is not the VIP). Nor are bytes a segment carried
// that the capture cut off (snap length): they reached the client, unseen.
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import type {HandoffContext} from './context.js'

export const id = 'stream-gap' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.state === null || ctx.clientView === null) return
  const evs = h.streamEvents?.get(ctx.clientView)
  if (!evs || evs.length === 0) return
  const overlaps = (a: number, alen: number, b: number, blen: number) =>
    seqDiff(a, (b + Math.max(blen, 1)) >>> 0) < 0 && seqDiff(b, (a + Math.max(alen, 1)) >>> 0) < 0
  // Return segments the client drops because of another violation (bad checksum, not from the VIP): the
  // bytes they carried are missing for that reason, reported under its id.
  const dropped = ctx.ret.map((p) => p.seen).filter((s) => s.len > 0 && !(s.flags & TCP_FLAG.SYN) &&
    (s.ipCsum === 'bad' || s.tcpCsum === 'bad' || s.src !== h.vip || s.sport !== h.vport || s.dport !== h.cport))
  const uncaptured = ctx.ret.map((p) => p.seen).filter((s) => s.cut > 0 && s.len > 0)
    .map((s) => [(s.seq + s.len - s.cut) >>> 0, s.cut] as const)
  for (const ev of evs) {
    if (ev.kind === 'gap' && covered(ev.seqFrom >>> 0, ev.length, uncaptured)) continue
    const explained = ctx.misplaced.some((m) => overlaps(ev.seqFrom, ev.length, m.seq, m.len) ||
      (m.exp >= 0 && overlaps(ev.seqFrom, ev.length, m.exp, m.len))) ||
      dropped.some((s) => overlaps(ev.seqFrom, ev.length, s.seq, s.len))
    if (explained) continue
    ctx.report(id, null, ev.kind === 'gap'
      ? `the byte stream from the VIP has a hole: ${ev.detail} (seq ${ev.seqFrom >>> 0}..${(ev.seqFrom + ev.length) >>> 0})`
      : `the byte stream from the VIP has bytes repeated with different content: ${ev.detail}`,
    {file: ev.view.file, frame: ev.frame, field: 'stream', expected: ev.kind === 'gap' ? 'contiguous' : 'same bytes',
      seen: ev.kind === 'gap' ? `hole of ${ev.length} byte(s) at seq ${ev.seqFrom >>> 0}` : `${ev.length} byte(s) differ at seq ${ev.seqFrom >>> 0}`})
  }
}

/** [seq, seq + len) lies inside the union of the ranges [from, from + n). */
function covered(seq: number, len: number, ranges: readonly (readonly [number, number])[]): boolean {
  let at = 0
  // Walk from the start of the hole: take any range that covers the next missing byte, until none does.
  for (;;) {
    if (at >= len) return true
    const b = (seq + at) >>> 0
    const r = ranges.find(([from, n]) => seqDiff(b, from) >= 0 && seqDiff(b, (from + n) >>> 0) < 0)
    if (r === undefined) return false
    at += seqDiff((r[0] + r[1]) >>> 0, b)
  }
}

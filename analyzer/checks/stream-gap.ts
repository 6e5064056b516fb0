// stream-gap (error): the byte stream the client sees from the VIP has a
// hole, or bytes repeated with different content, across the handoff. The
// return stream of the client-facing view (client side, else LAN) is
// reassembled from the FE's SYN/ACK on (flows/reassembly.ts, in
// correlate/assemble.ts): segments with a bad checksum are left out (the
// client drops them), a hole is declared when the client acknowledges past it
// or the trace ends with bytes after it. Holes and conflicts that a segment
// found misplaced by seq-remap explains are that check's, not reported again;
// so are holes where the client dropped a segment for another violation (a
// bad checksum, a source that is not the VIP).
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import type {HandoffContext} from './context.js'

export const id = 'stream-gap' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.state === null || ctx.clientView === null) return
  const evs = h.streamEvents?.get(ctx.clientView)
  if (!evs) return
  const overlaps = (a: number, alen: number, b: number, blen: number) =>
    seqDiff(a, (b + Math.max(blen, 1)) >>> 0) < 0 && seqDiff(b, (a + Math.max(alen, 1)) >>> 0) < 0
  // Return segments the client drops because of another violation (bad checksum, not from the VIP): the
  // bytes they carried are missing for that reason, reported under its id.
  const dropped = ctx.ret.map((p) => p.seen).filter((s) => s.len > 0 && !(s.flags & TCP_FLAG.SYN) &&
    (s.ipCsum === 'bad' || s.tcpCsum === 'bad' || s.src !== h.vip || s.sport !== h.vport || s.dport !== h.cport))
  for (const ev of evs) {
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

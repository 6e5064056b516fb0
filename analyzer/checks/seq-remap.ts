// seq-remap (error): a return segment's seq is not seq − Δ.
// - Packet by packet when the BE TCP's segment is visible (node inside): the
//   seen seq against the engine's return rewrite of it.
// - Otherwise (client side or LAN only: no node-inside view saw the BE's
//   segments) by continuity of what the client sees: the server byte stream
//   must continue from fiss + 1 — the first data from the VIP starts there,
//   and no segment lies before it or beyond any window the client could
//   accept. Smaller holes and repeated bytes are stream-gap's.
// Segments found misplaced are noted so stream-gap does not report their
// consequences again.
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import type {Seg} from '../correlate/assemble.js'
import type {HandoffContext} from './context.js'
import {hex32} from './types.js'

export const id = 'seq-remap' as const

/** Furthest a segment may lie past the highest byte seen and still be in some window (2^30: RFC 7323's bound). */
const MAX_AHEAD = 1 << 30

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const st = h.state
  if (st === null) return
  for (const p of ctx.ret) {
    if (p.exp === null || (p.seen.flags & TCP_FLAG.SYN)) continue
    if (p.seen.seq !== p.exp.seq) {
      ctx.misplaced.push({seq: p.seen.seq, exp: p.exp.seq, len: p.seen.len})
      ctx.report(id, p.seen, `return seq is not seq − Δ (BE frame ${p.origin!.frame} sent seq ${hex32(p.origin!.seq)}, Δ ${hex32(st.delta)})`,
        {field: 'seq', expected: p.exp.seq, seen: p.seen.seq})
    }
  }
  if (ctx.beRaw.length > 0) return
  // Continuity, from the client's side.
  const fiss = ctx.isn.fiss
  const start = (fiss + 1) >>> 0
  const fromVip = ctx.ret.map((p) => p.seen).filter((s) => s.src === h.vip && s.sport === h.vport &&
    !(s.flags & (TCP_FLAG.SYN | TCP_FLAG.RST)) && s.ipCsum !== 'bad' && s.tcpCsum !== 'bad')
  const data = fromVip.filter((s) => s.len > 0)
  // A return segment that starts the stream at the right seq but from the wrong address (addr-rewrite reports it) is
  // why the client lacks those bytes: not a second fault.
  const misaddressedStart = ctx.ret.some((p) => p.seen.len > 0 && p.seen.seq === start && p.seen.src !== h.vip && p.seen.sport === h.vport &&
    p.seen.dst === h.cip && p.seen.dport === h.cport)
  if (data.length > 0 && !data.some((s) => s.seq === start) && !misaddressedStart) {
    const s = data[0]!
    ctx.misplaced.push({seq: s.seq, exp: start, len: s.len})
    ctx.report(id, s, `the server byte stream the client sees does not continue from fiss + 1 (no data from the VIP starts at ${hex32(start)})`,
      {field: 'seq', expected: start, seen: s.seq})
  }
  // The same bytes (same length and payload hash) at two overlapping but
  // different positions: one copy was misplaced — the one that, when it
  // arrived, did not continue the stream (it opened a hole), else the later.
  let contig = start
  const opened = new Set<Seg>()
  const contigAt = new Map<Seg, number>()
  const byContent = new Map<string, Seg[]>()
  for (const s of data) {
    contigAt.set(s, contig)
    const d = seqDiff(s.seq, contig)
    if (d > 0) opened.add(s)
    else if (seqDiff((s.seq + s.len) >>> 0, contig) > 0) contig = (s.seq + s.len) >>> 0
    const key = `${s.len}|${s.hash}`
    const prior = byContent.get(key) ?? []
    for (const o of prior) {
      const dd = seqDiff(s.seq, o.seq)
      if (dd === 0 || Math.abs(dd) >= s.len) continue
      const bad = opened.has(o) ? o : s
      const good = bad === o ? s : o
      if (ctx.misplaced.some((m) => m.seq === bad.seq && m.len === bad.len)) continue
      ctx.misplaced.push({seq: bad.seq, exp: good.seq, len: bad.len})
      ctx.report(id, bad, `return segment misplaced: its ${bad.len} byte(s) belong at seq ${hex32(good.seq)} (frame ${good.frame} carries them there)`,
        {field: 'seq', expected: good.seq, seen: bad.seq})
    }
    prior.push(s)
    byContent.set(key, prior)
  }
  // A segment shifted by k bytes (|k| < its length): it opens a hole of k bytes
  // that nothing fills (k > 0), or it overlaps earlier bytes with different
  // content (k < 0), and the stream goes on from where it should have ended
  // (a later segment from the VIP starts at seq + len − k).
  const evs = ctx.clientView !== null ? h.streamEvents?.get(ctx.clientView) ?? [] : []
  const covers = (x: Seg, b: number) => seqDiff(b, x.seq) >= 0 && seqDiff(b, (x.seq + x.len) >>> 0) < 0
  for (const s of data) {
    const e = contigAt.get(s)!
    const k = seqDiff(s.seq, e)
    if (k === 0 || Math.abs(k) >= s.len || ctx.misplaced.some((m) => m.seq === s.seq && m.len === s.len)) continue
    const trueEnd = (s.seq + s.len - k) >>> 0
    const i = fromVip.indexOf(s)
    if (!fromVip.slice(i + 1).some((t) => t.seq === trueEnd)) continue
    const confirmed = k > 0
      ? !data.some((x) => covers(x, e))
      : evs.some((ev) => ev.kind === 'mismatch' && seqDiff(ev.seqFrom, e) < 0 && seqDiff((ev.seqFrom + ev.length) >>> 0, s.seq) > 0)
    if (!confirmed) continue
    ctx.misplaced.push({seq: s.seq, exp: e, len: s.len})
    ctx.report(id, s, `return segment shifted by ${k} byte(s): the stream reached ${hex32(e)} and goes on from ${hex32(trueEnd)} after it`,
      {field: 'seq', expected: e, seen: s.seq})
  }
  let end = start
  for (const s of fromVip) {
    const off = seqDiff(s.seq, start)
    // A keep-alive may sit one byte before the stream position.
    if (off < -1 || off > seqDiff(end, start) + MAX_AHEAD || off > MAX_AHEAD) {
      ctx.misplaced.push({seq: s.seq, exp: -1, len: s.len})
      ctx.report(id, s, `return seq lies outside the server byte stream that began at fiss + 1 = ${hex32(start)}`,
        {field: 'seq', expected: `${start}..${(end + MAX_AHEAD) >>> 0}`, seen: s.seq})
      continue
    }
    const e = (s.seq + s.len + (s.flags & TCP_FLAG.FIN ? 1 : 0)) >>> 0
    if (seqDiff(e, end) > 0) end = e
  }
}

// ts-remap (error): TSval/TSecr not translated by τ, or the TSval the client
// sees from the VIP goes backwards (the client's PAWS check would drop it).
// TSecr: forwarded segments against the engine's forward rewrite of the
// client's. TSval: return segments against the engine's return rewrite of the
// BE's, where visible; and, always, the TSvals from the VIP in the order the
// client-facing view saw them, from the FE's SYN/ACK on, must not go back.
import {seqDiff} from '../wire/serial.js'
import type {Seg} from '../correlate/assemble.js'
import {TCP_FLAG} from '../wire/tcp.js'
import type {HandoffContext} from './context.js'

export const id = 'ts-remap' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const st = h.state
  if (st === null) return
  for (const p of ctx.fwd) {
    if (p.exp === null || !p.seen.hasTs) continue
    if (p.seen.tsEcr !== p.exp.tsEcr) {
      ctx.report(id, p.seen, `forwarded TSecr is not TSecr + τ (client frame ${p.origin!.frame} echoed ${p.origin!.tsEcr}, τ ${st.tau})`,
        {field: 'TSecr', expected: p.exp.tsEcr, seen: p.seen.tsEcr})
    }
  }
  for (const p of ctx.ret) {
    if (p.exp === null || !p.seen.hasTs || (p.seen.flags & TCP_FLAG.SYN)) continue
    if (p.seen.tsVal !== p.exp.tsVal) {
      ctx.report(id, p.seen, `return TSval is not TSval − τ (BE frame ${p.origin!.frame} sent ${p.origin!.tsVal}, τ ${st.tau})`,
        {field: 'TSval', expected: p.exp.tsVal, seen: p.seen.tsVal})
    }
  }
  // PAWS, as the client sees it (RFC 7323 §5.3): from the FE's SYN/ACK on, a
  // segment whose TSval is below TS.Recent is dropped; TS.Recent is taken
  // from segments that arrive in order (seq at or before what the client
  // expects next), so a reordered segment is no drop. Each drop is reported —
  // unless the TS.Recent that caused it was set by a segment whose TSval
  // jumped ahead of every later one: that segment is reported instead (an
  // untranslated or mistranslated TSval can go either way).
  const fiss = ctx.isn.fiss
  let anchor: Seg | null = null
  const segs: Seg[] = []
  for (const p of ctx.ret) {
    const s = p.seen
    if (s.src !== h.vip || s.sport !== h.vport || !s.hasTs || s.ipCsum === 'bad' || s.tcpCsum === 'bad') continue
    if (s.flags & TCP_FLAG.RST) continue
    if (s.flags & TCP_FLAG.SYN) {
      if (anchor === null && s.seq === fiss) anchor = s
      continue
    }
    if (anchor !== null) segs.push(s)
  }
  if (anchor === null || segs.length === 0) return
  let recent = anchor.tsVal
  let setter: Seg = anchor
  let rcvNxt = (fiss + 1) >>> 0
  const drops = new Map<Seg, Seg[]>()
  for (const s of segs) {
    if (seqDiff(s.tsVal, recent) < 0) {
      const l = drops.get(setter) ?? []
      l.push(s)
      drops.set(setter, l)
      continue
    }
    if (seqDiff(s.seq, rcvNxt) <= 0) {
      recent = s.tsVal
      setter = s
      const end = (s.seq + s.len + (s.flags & TCP_FLAG.FIN ? 1 : 0)) >>> 0
      if (seqDiff(end, rcvNxt) > 0) rcvNxt = end
    }
  }
  for (const [set, victims] of drops) {
    const after = segs.slice(segs.indexOf(set) + 1).filter((x) => !victims.includes(x))
    const spike = set !== anchor && victims.length > 0 && [...victims, ...after].every((x) => seqDiff(x.tsVal, set.tsVal) < 0)
    if (spike) {
      ctx.report(id, set, `TSval from the VIP jumps ahead of every later one (${victims.length} later segment(s) then fail the client's PAWS check)`,
        {field: 'TSval', expected: `<= ${Math.max(...victims.map((x) => seqDiff(x.tsVal, anchor!.tsVal))) + anchor.tsVal >>> 0}`, seen: set.tsVal})
      continue
    }
    for (const v of victims) {
      ctx.report(id, v, `TSval from the VIP goes backwards (TS.Recent ${set.tsVal} from frame ${set.frame}): the client's PAWS check drops this segment`,
        {field: 'TSval', expected: `>= ${set.tsVal}`, seen: v.tsVal})
    }
  }
}


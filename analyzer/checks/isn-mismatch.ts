// isn-mismatch (error): ciss, fiss or biss in the control messages differ
// from the SYN / SYN/ACK seen on the wire: ciss against the client's SYN
// (any view), fiss against the first SYN/ACK from the VIP (client side, LAN
// or FE inside), biss against the BE TCP's SYN/ACK (BE inside) — or, when
// that was not captured, against the Δ every forwarded segment shows
// (context.ts, bissFromTraffic: they all agree on one other biss). Reported
// at the control message's frame; the wire frame is named in the message.
// Judged for every handoff-req, handed off or not; a value whose packet was
// not captured (and, for biss, no forwarded segment shows) is not judged.
import {wireIsns, type Seg} from '../correlate/assemble.js'
import type {HandoffContext} from './context.js'
import {hex32} from './types.js'

export const id = 'isn-mismatch' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const req = h.req
  if (req === undefined) return
  const w = wireIsns(h)
  // what: the packet's name, made only for a report.
  const cmp = (name: string, ctl: number, wire: Seg | undefined, at: {file: string; frame: number}, what: (wire: Seg) => string) => {
    if (wire === undefined || wire.seq === ctl) return
    ctx.report(id, null, `${name} in the control messages differs from the ${what(wire)} on the wire (${wire.view.file} frame ${wire.frame})`,
      {field: name, expected: wire.seq, seen: ctl, file: at.file, frame: at.frame})
  }
  cmp('ciss', req.msg.ciss, w.syn, req, (syn) => `client's SYN (seq ${hex32(syn.seq)})`)
  cmp('fiss', req.msg.fiss, w.feSynAck, req, () => `FE's SYN/ACK`)
  if (h.ack !== undefined) cmp('biss', h.ack.msg.biss, w.beSynAck, h.ack, () => `BE's SYN/ACK`)
  const t = ctx.bissFromTraffic
  if (h.ack !== undefined && t !== null) {
    ctx.report(id, null, `biss in the control messages differs from the BE's ISN the forwarded segments show: every one of them ` +
      `carries ack + ${hex32((t.biss - ctx.isn.fiss) >>> 0)} (${t.seg.view.file} frame ${t.seg.frame}), i.e. biss ${hex32(t.biss)} (the BE's SYN/ACK was not captured)`,
    {field: 'biss', expected: t.biss, seen: h.ack.msg.biss, file: h.ack.file, frame: h.ack.frame})
  }
}

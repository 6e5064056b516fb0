// rst-leak (error): the FE's local reset reached the client — a RST from the
// VIP, at the client side or on the LAN, that is the FE TCP's: it is in the
// FE's numbers — it acknowledges nothing past the client's SYN (ack = ciss +
// 1: the FE never accepted the request) or sits at fiss + 1 — and it is not
// the BE's: where the BE's own segments are visible (node inside) it comes
// from none of them; otherwise a reset without ACK at fiss + 1 counts only
// before any data from the VIP, or after the client acknowledged some (the
// BE's reset would then carry a later seq). The local reset itself (§2 step
// 9: client → VIP, seq ciss + 1, acknowledging fiss + 1) turned round toward
// the client carries those numbers from the VIP — never the BE's (its seq is
// in the server's space, its ack past the request): a leak whatever the view.
import {seqGt} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {viewKey} from '../correlate/vantage.js'
import type {HandoffContext} from './context.js'
import {hex32} from './types.js'

export const id = 'rst-leak' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.state === null) return
  const ciss1 = (ctx.isn.ciss + 1) >>> 0
  const fiss1 = (ctx.isn.fiss + 1) >>> 0
  const beVisible = ctx.beRaw.length > 0
  // Frames (judged view) where the client first acknowledged data from the VIP.
  let clientAckedData = Infinity
  for (const c of ctx.client) {
    if (viewKey(c.view) === ctx.clientView && (c.flags & TCP_FLAG.ACK) && seqGt(c.ack, fiss1) && c.frame < clientAckedData) {
      clientAckedData = c.frame
    }
  }
  let dataSeen = false
  for (const p of ctx.ret) {
    const s = p.seen
    if (s.src !== h.vip || s.sport !== h.vport) continue
    if (s.len > 0) dataSeen = true
    if (!(s.flags & TCP_FLAG.RST) || p.origin !== null) continue
    const hasAck = (s.flags & TCP_FLAG.ACK) !== 0
    const localReset = s.seq === ciss1 || (hasAck && s.ack === fiss1)
    const feNumbers = (hasAck && s.ack === ciss1) || (!hasAck && s.seq === fiss1) || localReset
    // The BE's own reset (rewritten) would be matched to its segment where the BE's view is there; without
    // it, a reset at fiss + 1 is the BE's only before it sent data the client acknowledged.
    const leak = beVisible ? feNumbers || s.seq === fiss1
      : (hasAck && s.ack === ciss1) || localReset || (!hasAck && s.seq === fiss1 && (!dataSeen || s.frame > clientAckedData))
    if (!leak) continue
    ctx.report(id, s, `the FE's local reset reached the client (RST from the VIP in the FE's numbers: seq ${hex32(s.seq)}` +
      `${hasAck ? `, ack ${hex32(s.ack)}` : ''}${beVisible ? '; no BE segment it comes from' : ''})`,
    {field: 'flags', expected: 'no RST from the FE', seen: 'RST'})
  }
}

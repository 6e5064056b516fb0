// addr-rewrite (error): a forwarded segment is not addressed to the BE, a
// return segment's source is not the VIP, or a port changed.
// Packet by packet where the other side of the node is visible (forwarded vs
// the client's segment; return vs the BE TCP's segment); a return segment to
// the client from anything but the VIP is wrong even when its origin is not
// visible. SYN/ACKs are left to synack-leak.
// The destination MAC too (§4: "MAC in the lab"): a forwarded Ethernet frame
// on the LAN must go to the handoff-ack's bmac (not judged on an inferred
// handoff, whose bmac is read from those very frames).
import {formatMac} from '../wire/addr.js'
import {LINKTYPE} from '../wire/linktype.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {hp, type HandoffContext} from './context.js'

export const id = 'addr-rewrite' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.state === null) return
  const bmac = h.ack?.msg.bmac ?? null
  for (const p of ctx.fwd) {
    if (p.exp === null) continue
    const s = p.seen
    if (s.dst !== p.exp.dst || s.dport !== p.exp.dport || s.src !== p.exp.src || s.sport !== p.exp.sport) {
      ctx.report(id, s, `forwarded segment (client frame ${p.origin!.frame}) is not addressed to the BE`,
        {field: 'destination', expected: `${hp(p.exp.src, p.exp.sport)} → ${hp(p.exp.dst, p.exp.dport)}`, seen: `${hp(s.src, s.sport)} → ${hp(s.dst, s.dport)}`})
    } else if (bmac !== null && s.view.kind === 'lan' && s.linkType === LINKTYPE.ETHERNET && s.hdrLen >= 6) {
      const mac = formatMac(s.hdrBuf, s.hdrOff)
      if (mac !== bmac.toLowerCase()) {
        ctx.report(id, s, `forwarded frame (client frame ${p.origin!.frame}) is not addressed to the BE's MAC`,
          {field: 'eth.dst', expected: bmac, seen: mac})
      }
    }
  }
  for (const p of ctx.ret) {
    const s = p.seen
    if (s.flags & TCP_FLAG.SYN) continue
    const exp = p.exp ?? {src: h.vip, sport: h.vport, dst: h.cip, dport: h.cport}
    if (s.src !== exp.src || s.sport !== exp.sport || s.dst !== exp.dst || s.dport !== exp.dport) {
      ctx.report(id, s, `return segment${p.origin ? ` (BE frame ${p.origin.frame})` : ''} does not come from the VIP`,
        {field: 'source', expected: `${hp(exp.src, exp.sport)} → ${hp(exp.dst, exp.dport)}`, seen: `${hp(s.src, s.sport)} → ${hp(s.dst, s.dport)}`})
    }
  }
}

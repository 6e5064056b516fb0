// addr-rewrite (error): a forwarded segment is not addressed to the BE, a
// return segment's source is not the VIP, or a port changed.
// Packet by packet where the other side of the node is visible (forwarded vs
// the client's segment; return vs the BE TCP's segment); a return segment to
// the client from anything but the VIP is wrong even when its origin is not
// visible. SYN/ACKs are left to synack-leak.
// The destination MAC too (§4: "MAC in the lab"): a forwarded Ethernet frame
// on the LAN must go to the handoff-ack's bmac (not judged on an inferred
// handoff, whose bmac is read from those very frames).
import {formatMac, parseMac} from '../wire/addr.js'
import {LINKTYPE} from '../wire/linktype.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {hp, type HandoffContext} from './context.js'

export const id = 'addr-rewrite' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.state === null) return
  const bmac = h.ack?.msg.bmac ?? null
  // The MAC's bytes when it is written as formatMac writes one (then a frame's bytes are compared, no string
  // made per frame); otherwise the frames' MACs are formatted and compared as strings.
  const want = bmac === null ? null : bmac.toLowerCase()
  const wantBytes = want !== null && MAC_TEXT.test(want) ? parseMac(want) : null
  for (const p of ctx.fwd) {
    if (p.exp === null) continue
    const s = p.seen
    if (s.dst !== p.exp.dst || s.dport !== p.exp.dport || s.src !== p.exp.src || s.sport !== p.exp.sport) {
      ctx.report(id, s, `forwarded segment (client frame ${p.origin!.frame}) is not addressed to the BE`,
        {field: 'destination', expected: `${hp(p.exp.src, p.exp.sport)} → ${hp(p.exp.dst, p.exp.dport)}`, seen: `${hp(s.src, s.sport)} → ${hp(s.dst, s.dport)}`})
    } else if (bmac !== null && s.view.kind === 'lan' && s.linkType === LINKTYPE.ETHERNET && s.hdrLen >= 6) {
      if (wantBytes !== null ? !sameBytes(s.hdrBuf, s.hdrOff, wantBytes) : formatMac(s.hdrBuf, s.hdrOff) !== want) {
        const mac = formatMac(s.hdrBuf, s.hdrOff)
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

const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

function sameBytes(b: Uint8Array, off: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (b[off + i] !== want[i]) return false
  return true
}

// synack-leak (error): the BE's SYN/ACK for a handed-off connection reached
// the client. A SYN/ACK seen at the client side or on the LAN toward the
// client is the BE's when it matches the BE TCP's SYN/ACK (node inside), comes
// from anything but the VIP, carries the BE's ISN (seq = biss, Δ ≠ 0), or
// comes after the client already sent its request (the FE's own SYN/ACK, or a
// retransmission of it, cannot).
import {segOptions} from '../correlate/assemble.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {viewKey} from '../correlate/vantage.js'
import type {HandoffContext} from './context.js'
import {hex32} from './types.js'

export const id = 'synack-leak' as const
const SA = TCP_FLAG.SYN | TCP_FLAG.ACK

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const st = h.state
  if (st === null) return
  // null: an inferred handoff whose BE SYN/ACK was not captured (no handoff-ack to read it from).
  const biss = ctx.isn.biss ?? h.ack?.msg.biss ?? null
  const ciss = ctx.isn.ciss
  // Frame of the client's first request byte in the judged view.
  let firstData = Infinity
  for (const c of ctx.client) {
    if (viewKey(c.view) === ctx.clientView && c.len > 0 && c.frame < firstData) firstData = c.frame
  }
  // The first SYN/ACK from the VIP is the FE's (the rewritten BE SYN/ACK may be
  // byte for byte the same but for options and window: it cannot come first).
  let fe: (typeof ctx.ret)[number]['seen'] | null = null
  for (const p of ctx.ret) {
    const s = p.seen
    if ((s.flags & SA) === SA && s.src === h.vip && s.sport === h.vport && (fe === null || s.frame < fe.frame)) fe = s
  }
  const sameOpts = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
  for (const p of ctx.ret) {
    const s = p.seen
    if ((s.flags & SA) !== SA || s === fe) continue
    // A retransmission of the FE's: same options (timestamps aside) and window.
    const beMatch = p.origin !== null && (p.origin.flags & SA) === SA && p.exp !== null && p.exp.window === s.window &&
      (fe === null || !(sameOpts(segOptions(fe), segOptions(s)) || (fe.hasTs && fe.mss === s.mss && fe.ws === s.ws && fe.sackPerm === s.sackPerm && fe.window === s.window && p.origin.mss !== s.mss)))
    const why = beMatch ? `it is the BE's SYN/ACK (BE frame ${p.origin!.frame})`
      : s.src !== h.vip || s.sport !== h.vport ? `it comes from ${s.src}, not the VIP`
        : biss !== null && st.delta !== 0 && s.seq === biss ? `it carries the BE's ISN ${hex32(biss)}`
          : s.ack === ((ciss + 1) >>> 0) && s.frame > firstData ? `it comes after the client's request (frame ${firstData})`
            : null
    if (why === null) continue
    ctx.report(id, s, `the BE's SYN/ACK reached the client: ${why}`, {field: 'flags', expected: 'no SYN/ACK after the FE\'s', seen: 'SYN/ACK'})
  }
}

// ack-remap (error): a forwarded segment's ack is not ack + Δ. Judged packet
// by packet: the forwarded segment (LAN, else BE inside) against the engine's
// forward rewrite of the client segment it came from.
import {TCP_FLAG} from '../wire/tcp.js'
import type {HandoffContext} from './context.js'
import {hex32} from './types.js'

export const id = 'ack-remap' as const

export function check(ctx: HandoffContext): void {
  for (const p of ctx.fwd) {
    if (p.exp === null || !(p.seen.flags & TCP_FLAG.ACK)) continue
    if (p.seen.ack !== p.exp.ack) {
      ctx.report(id, p.seen, `forwarded ack is not ack + Δ (client frame ${p.origin!.frame} acked ${hex32(p.origin!.ack)}, Δ ${hex32(ctx.h.state!.delta)})`,
        {field: 'ack', expected: p.exp.ack, seen: p.seen.ack})
    }
  }
}

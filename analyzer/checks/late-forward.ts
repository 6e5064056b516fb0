// late-forward (warning): the FE forwarded a segment of a connection after
// its terminate. Forwarded segments (LAN, else BE inside) captured after the
// frame that carried the first terminate — whenever the client sent it (a
// segment the FE still had queued when the terminate came is forwarded late
// all the same; the message says when the client sent it). A packet to a
// BE address that the client-side view shows the client sending itself is
// not a forward. Times of different captures are
// compared as recorded (no clock-skew correction yet): one pcapng from one
// host, as the lab writes, is exact.
// Not late: a segment the client sent before the terminate that the FE
// forwarded at once (within IN_FLIGHT_SEC of the client's copy) and within
// IN_FLIGHT_SEC of the terminate — the terminate was still crossing the LAN
// to the FE, which cannot stop forwarding before it has it (spec §2 step 11:
// the FE leaves forwarding mode when the terminate arrives). One held back
// by the FE (forwarded late whatever the terminate) is still reported.
import {formatIso} from '../inspect/timestamp.js'
import type {HandoffContext} from './context.js'

export const id = 'late-forward' as const

/** A LAN's one-way delay plus a node's processing stay well under this. */
const IN_FLIGHT_SEC = 0.001

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const term = h.terminates[0]
  if (term === undefined) return
  for (const p of ctx.fwd) {
    const s = p.seen
    if (s.t > term.t) {
      const o = p.origin
      if (o !== null && o.t <= term.t && s.t - o.t <= IN_FLIGHT_SEC && s.t - term.t <= IN_FLIGHT_SEC) continue
      const why = o === null ? ''
        : o.t <= term.t ? `; the client sent it before the terminate (frame ${o.frame}), the FE forwarded it ${((s.t - o.t) * 1000).toFixed(3)} ms later`
          : `; the client sent it after the terminate (frame ${o.frame})`
      ctx.report(id, s, `segment forwarded ${((s.t - term.t) * 1000).toFixed(3)} ms after the terminate (${term.file} frame ${term.frame})${why}`,
        {field: 'time', expected: `before ${formatIso(term.tsSec, term.tsNsec)}`, seen: formatIso(s.tsSec, s.tsNsec)})
    }
  }
}

// late-forward (warning): the FE forwarded a segment of a connection after
// its terminate. Forwarded segments (LAN, else BE inside) captured after the
// frame that carried the first terminate — whenever the client sent it (a
// segment the FE still had queued when the terminate came is forwarded late
// all the same; the message says when the client sent it). A packet to a
// BE address that the client-side view shows the client sending itself is
// not a forward. Times of different captures are
// compared as recorded (no clock-skew correction yet): one pcapng from one
// host, as the lab writes, is exact.
import {formatIso} from '../inspect/timestamp.js'
import type {HandoffContext} from './context.js'

export const id = 'late-forward' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const term = h.terminates[0]
  if (term === undefined) return
  for (const p of ctx.fwd) {
    const s = p.seen
    if (s.t > term.t) {
      const o = p.origin
      const why = o === null ? ''
        : o.t <= term.t ? `; the client sent it before the terminate (frame ${o.frame}), the FE forwarded it ${((s.t - o.t) * 1000).toFixed(3)} ms later`
          : `; the client sent it after the terminate (frame ${o.frame})`
      ctx.report(id, s, `segment forwarded ${((s.t - term.t) * 1000).toFixed(3)} ms after the terminate (${term.file} frame ${term.frame})${why}`,
        {field: 'time', expected: `before ${formatIso(term.tsSec, term.tsNsec)}`, seen: formatIso(s.tsSec, s.tsNsec)})
    }
  }
}

// option-mismatch (warning): the BE's SYN/ACK options (mss, sack, ts) differ
// from the FE's — as the handoff-req (fopt) and handoff-ack (bopt) state them.
import type {HandoffContext} from './context.js'

export const id = 'option-mismatch' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.req === undefined || h.ack === undefined) return
  const f = h.req.msg.fopt
  const b = h.ack.msg.bopt
  for (const k of ['mss', 'sack', 'ts'] as const) {
    if (f[k] !== b[k]) {
      ctx.report(id, null, `the BE's SYN/ACK announced ${k} ${String(b[k])}, the FE's ${String(f[k])}`,
        {file: h.ack.file, frame: h.ack.frame, field: k, expected: f[k], seen: b[k]})
    }
  }
}

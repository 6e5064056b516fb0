// option-mismatch (warning): the BE's SYN/ACK options (mss, sack, ts) differ
// from the FE's — as the handoff-req (fopt) and handoff-ack (bopt) state them.
// An inferred handoff (check --infer) has no messages: its two SYN/ACKs as
// captured are compared instead (not judged when the BE's was not captured).
import type {HandoffContext} from './context.js'

export const id = 'option-mismatch' as const

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  if (h.inferred !== undefined) {
    const fe = h.inferred.feSynAck
    const be = h.inferred.beSynAck
    if (be === null) return
    const f = {mss: fe.mss, sack: fe.sack, ts: fe.tsVal !== null}
    const b = {mss: be.mss, sack: be.sack, ts: be.tsVal !== null}
    for (const k of ['mss', 'sack', 'ts'] as const) {
      if (f[k] !== b[k]) {
        const shown = (o: typeof f) => (k === 'mss' && o.mss < 0 ? 'none' : o[k])
        ctx.report(id, null, `the BE's SYN/ACK announced ${k} ${String(shown(b))}, the FE's ${String(shown(f))} (${fe.file} frame ${fe.frame})`,
          {file: be.file, frame: be.frame, field: k, expected: shown(f), seen: shown(b)})
      }
    }
    return
  }
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

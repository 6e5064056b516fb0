// sack-remap (error): a forwarded segment's SACK edges are not edge + Δ.
import type {HandoffContext} from './context.js'

export const id = 'sack-remap' as const

export function check(ctx: HandoffContext): void {
  for (const p of ctx.fwd) {
    if (p.exp === null) continue
    const e = p.exp.sack
    const s = p.seen.sack
    if (e.length === s.length && e.every((x, i) => x === s[i])) continue
    ctx.report(id, p.seen, `forwarded SACK edges are not edge + Δ (client frame ${p.origin!.frame} had [${p.origin!.sack.join(', ')}])`,
      {field: 'sack', expected: e, seen: s})
  }
}

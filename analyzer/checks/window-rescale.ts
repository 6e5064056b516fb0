// window-rescale (warning): wsB ≠ wsF and the return window was not
// rescaled. Judged where the BE TCP's segment is visible (node inside): the
// window it wrote is needed to know what the client should read.
import {TCP_FLAG} from '../wire/tcp.js'
import type {HandoffContext} from './context.js'

export const id = 'window-rescale' as const

export function check(ctx: HandoffContext): void {
  const st = ctx.h.state
  if (st === null || st.wsB === st.wsF) return
  for (const p of ctx.ret) {
    if (p.exp === null || (p.seen.flags & TCP_FLAG.SYN)) continue
    if (p.seen.window !== p.exp.window) {
      ctx.report(id, p.seen, `return window not rescaled from wsB ${st.wsB} to wsF ${st.wsF} (BE frame ${p.origin!.frame} sent ${p.origin!.window})`,
        {field: 'window', expected: p.exp.window, seen: p.seen.window})
    }
  }
}

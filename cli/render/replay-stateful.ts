// Human output of `handoff replay --live`: one row per replayed connection
// (what was replayed, the live handoff state, traffic, the response verdict),
// the differences, then a summary line.
import type {StatefulOutcome} from '../../replayer/live/run.js'
import {color} from './color.js'
import {table} from './table.js'

export function renderStateful(o: StatefulOutcome, expectSame: boolean): string {
  const out: string[] = []
  out.push(`live replay on ${o.iface} (source MAC ${o.sourceMac}); back-end${o.targets.length > 1 ? 's' : ''} ` +
    o.targets.map((t) => `${t.addr} at ${t.mac}${t.resolved ? '' : ' (given)'}`).join(', '))
  const rows = o.connections.map((c) => {
    const verdict = c.status !== 'ok'
      ? color.red(c.status)
      : c.response.match ? color.green('match') : color.red(`mismatch @${c.response.firstDiff}`)
    return [
      c.hid, c.replayed,
      c.live ? `${c.live.delta}` : '-',
      c.live?.tau != null ? `${c.live.tau}` : '-',
      c.stats.segmentsSent, c.stats.retransmissions, c.stats.segmentsReceived, c.stats.acksSent,
      `${c.response.liveBytes}/${c.response.recordedBytes}`, `${c.durationMs} ms`, verdict,
    ]
  })
  out.push(table(['hid', 'replayed', 'Δ', 'τ', 'sent', 'rexmit', 'recv', 'acks', 'response live/recorded', 'time', 'result'], rows,
    {align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left']}))
  for (const c of o.connections) {
    if (c.status !== 'ok') out.push(color.red(`${c.hid}: ${c.status}: ${c.error ?? ''}`))
    if (!c.response.match) {
      out.push(color.red(`${c.hid}: response differs from the recorded one at byte ${c.response.firstDiff} ` +
        `(live ${c.response.liveBytes} bytes, recorded ${c.response.recordedBytes})`))
      out.push(`  recorded: ${c.response.recordedExcerpt ?? ''}`)
      out.push(`  live:     ${c.response.liveExcerpt ?? ''}`)
    }
    if (c.responseView === 'none') out.push(color.yellow(`${c.hid}: the trace holds no response for it (no client-side or BE-inside view): nothing to compare`))
    else if (c.response.uncompared > 0) out.push(color.yellow(`${c.hid}: ${c.response.uncompared} recorded response byte(s) were not captured: not compared`))
  }
  for (const n of o.notReplayed) out.push(color.yellow(`not replayed: ${n.hid}: ${n.reason}`))
  const s = o.summary
  const ignored = o.ignoreHeaders.length > 0 ? ` (header values not compared: ${o.ignoreHeaders.join(', ')})` : ''
  out.push(`${s.connections} connection(s) in ${(s.elapsedMs / 1000).toFixed(2)} s: ${s.ok} completed, ${s.failed} failed` +
    (s.aborted > 0 ? `, ${s.aborted} aborted` : '') + `; responses: ${s.matched} match, ${s.mismatched} differ${ignored}` +
    (expectSame && (s.mismatched > 0 || s.failed > 0 || s.aborted > 0) ? color.red(' — not the same response (--expect-same-response)') : ''))
  return out.join('\n')
}

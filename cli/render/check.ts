// Text rendering of a CheckReport (`handoff check`; its JUnit file: junit.ts):
// violations grouped per connection (hid, else 4-tuple), each with its frame,
// the expected and the seen value; then per-handoff coverage and the summary.
import type {CheckReport} from '../../analyzer/check.js'
import type {Violation} from '../../analyzer/checks/types.js'
import {CHECK_IDS, hex32} from '../../analyzer/checks/types.js'
import {CONTROL_PORT} from '../../analyzer/control/messages.js'
import {color} from './color.js'

export function val(v: unknown): string {
  if (v === undefined) return ''
  if (Array.isArray(v)) return `[${v.join(', ')}]`
  return String(v)
}

export function groupKey(v: Violation): string {
  return v.hid !== undefined ? `${v.hid}  ${v.connection}` : v.connection
}

/** A report whose handoffs and violations may be on disk (runCheckSpooled): they are walked in order. */
export type CheckReportView = Omit<CheckReport, 'handoffs' | 'violations'> & {
  handoffs: Iterable<CheckReport['handoffs'][number]> & {length: number}
  violations: Iterable<Violation> & {length: number}
}

export function renderCheck(r: CheckReportView): string {
  const lines: string[] = []
  renderCheckTo(r, (s) => lines.push(s))
  return lines.join('\n')
}

/** The text, line by line (the CLI writes each as it comes, so the handoff table is never whole in memory). */
export function renderCheckTo(r: CheckReportView, line: (s: string) => void): void {
  const lines = {push: line}
  // One group per connection: the report's order keeps a connection's violations together (analyzer/check.ts).
  let group: string | null = null
  for (const v of r.violations) {
    const k = groupKey(v)
    if (k !== group) {
      if (group !== null) lines.push('')
      lines.push(color.bold(k))
      group = k
    }
    const sev = v.severity === 'error' ? color.red('error  ') : color.yellow('warning')
    lines.push(`  ${sev} ${v.id.padEnd(15)} ${v.file} frame ${v.frame}${v.vantage ? ` [${v.vantage}]` : ''}: ${v.message}`)
    if (v.field !== undefined || v.expected !== undefined || v.seen !== undefined) {
      lines.push(`          ${v.field ? `${v.field}: ` : ''}expected ${val(v.expected)}, seen ${val(v.seen)}`)
    }
  }
  if (group !== null) lines.push('')
  if (r.handoffs.length > 0) {
    lines.push(color.bold('handoffs'))
    let w = 10
    for (const h of r.handoffs) w = Math.max(w, h.hid.length)
    for (const h of r.handoffs) {
      const p = h.packetByPacket
      const how = h.outcome === 'handed-off'
        ? `  forward ${p.forwardMatched}/${p.forward}, return ${p.retMatched}/${p.ret} segment(s) judged packet by packet`
        : h.outcome === 'nacked' ? '  (served by the FE)' : ''
      const unjudged = h.checksumsNotJudged ? `  ${h.checksumsNotJudged} checksum(s) not judged (segment not captured whole)` : ''
      lines.push(`  ${h.hid.padEnd(w)} ${h.connection}  ${h.inferred ? 'inferred ' : ''}${h.outcome}${h.backend ? ` → ${h.backend}` : ''}${how}${unjudged}` +
        `  ${h.violations === 0 ? color.green('ok') : color.red(`${h.violations} violation(s)`)}` + (h.stateError ? `  (${h.stateError})` : ''))
      if (h.inferred && h.state) lines.push(`${' '.repeat(w + 3)}${inferredLine(h.state, h.inferred)}`)
    }
    lines.push('')
  }
  const views = r.views.map((v) => `${v.file}#${v.iface}${v.name ? ` ${v.name}` : ''}=${v.vantage}${v.from === 'default' ? '?' : v.from === 'traffic' ? ' (by its traffic)' : ''}` +
    (v.offsetMs !== null && v.reference !== `${v.file}#${v.iface}` ? ` (${v.offsetMs >= 0 ? '+' : ''}${v.offsetMs} ms)` : '')).join(', ')
  lines.push(`views: ${views || 'none'}`)
  if (r.controlPortFound) {
    const f = r.controlPortFound
    lines.push(`control channel found on TCP port ${f.port}, not the default ${CONTROL_PORT} (${f.frames} frame(s) on ${f.connections} connection(s)); --control-port chooses another`)
  }
  if (r.summary.controlMessages === 0 && !r.inference && r.packets > 0) {
    lines.push('no control-channel message in the trace: no handoff to judge. If the control channel was not captured, --infer recognises ' +
      'handed-off connections from the traffic')
  }
  for (const n of r.notes ?? []) lines.push(`note: ${n}`)
  if (r.inference) {
    const i = r.inference
    lines.push(`--infer: ${i.inferred} handoff(s) inferred from the traffic (no control messages) of ${i.candidates} candidate connection(s)` +
      (i.inferred > 0 ? '; not judged on them: isn-mismatch, request-replay, late-forward, handoff-orphan, control-framing' : ''))
    for (const x of i.rejected) lines.push(`  not inferred: ${x.connection}: ${x.reason}`)
  }
  const ids = CHECK_IDS.filter((id) => r.summary.byId[id]).map((id) => `${id} ${r.summary.byId[id]}`).join(', ')
  const s = r.summary
  lines.push(`${r.packets} packet(s), ${s.handoffs} handoff(s), ${s.controlMessages} control message(s): ` +
    (s.errors + s.warnings === 0 ? color.green('no violations') : `${color.red(`${s.errors} error(s)`)}, ${color.yellow(`${s.warnings} warning(s)`)}${ids ? ` (${ids})` : ''}`))
}

type Summary = CheckReport['handoffs'][number]

/** Δ, τ of an inferred handoff, where they came from, and how many matched pairs agreed. */
function inferredLine(st: NonNullable<Summary['state']>, i: NonNullable<Summary['inferred']>): string {
  const from = (f: string | null) => (f === 'syn-ack' ? 'from the SYN/ACKs' : 'from matched pairs')
  const m = i.matches
  const tau = st.tau !== null ? `τ ${hex32(st.tau)} ${from(i.tauFrom)} (${m.tauAgree} agree, ${m.tauDisagree} disagree)`
    : i.notJudged.includes('ts-remap') ? 'τ unknown (ts-remap not judged)' : 'τ none (no timestamps on both SYN/ACKs)'
  const extra = i.notJudged.filter((x) => x === 'window-rescale' || x === 'option-mismatch' || x === 'ts-remap')
  return `Δ ${hex32(st.delta)} ${from(i.deltaFrom)} (${m.deltaAgree} of ${m.deltaAgree + m.deltaDisagree} matched pair(s) agree), ${tau}` +
    `, wsF ${st.wsF} wsB ${st.wsB}${extra.length > 0 ? `; not judged: ${extra.join(', ')} (BE's SYN/ACK not captured)` : ''}`
}


// Text and JUnit rendering of a CheckReport (`handoff check`): violations
// grouped per connection (hid, else 4-tuple), each with its frame, the
// expected and the seen value; then per-handoff coverage and the summary.
import type {CheckReport} from '../../analyzer/check.js'
import type {Violation} from '../../analyzer/checks/types.js'
import {CHECK_IDS, hex32} from '../../analyzer/checks/types.js'
import {CONTROL_PORT} from '../../analyzer/control/messages.js'
import {color} from './color.js'

function val(v: unknown): string {
  if (v === undefined) return ''
  if (Array.isArray(v)) return `[${v.join(', ')}]`
  return String(v)
}

export function groupKey(v: Violation): string {
  return v.hid !== undefined ? `${v.hid}  ${v.connection}` : v.connection
}

/** A report whose handoffs may be on disk (runCheckSpooled): they are walked once, in order. */
export type CheckReportView = Omit<CheckReport, 'handoffs'> & {handoffs: Iterable<CheckReport['handoffs'][number]> & {length: number}}

export function renderCheck(r: CheckReportView): string {
  const lines: string[] = []
  renderCheckTo(r, (s) => lines.push(s))
  return lines.join('\n')
}

/** The text, line by line (the CLI writes each as it comes, so the handoff table is never whole in memory). */
export function renderCheckTo(r: CheckReportView, line: (s: string) => void): void {
  const lines = {push: line}
  const groups = new Map<string, Violation[]>()
  for (const v of r.violations) {
    const k = groupKey(v)
    const g = groups.get(k)
    if (g) g.push(v)
    else groups.set(k, [v])
  }
  for (const [k, vs] of groups) {
    lines.push(color.bold(k))
    for (const v of vs) {
      const sev = v.severity === 'error' ? color.red('error  ') : color.yellow('warning')
      lines.push(`  ${sev} ${v.id.padEnd(15)} ${v.file} frame ${v.frame}${v.vantage ? ` [${v.vantage}]` : ''}: ${v.message}`)
      if (v.field !== undefined || v.expected !== undefined || v.seen !== undefined) {
        lines.push(`          ${v.field ? `${v.field}: ` : ''}expected ${val(v.expected)}, seen ${val(v.seen)}`)
      }
    }
    lines.push('')
  }
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

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;'})[c]!)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
}

/**
 * JUnit XML: one testsuite per connection (handoff, or the control channel
 * connection), one testcase per check id run on it; a violation of severity
 * error is a <failure>, a warning is a <failure type="warning"> only when
 * failOn is 'warning', else a <system-out> note. On a handoff inferred from
 * the traffic (--infer), the ids not judged on it are <skipped/>.
 */
export function renderJunit(r: CheckReportView, failOn: 'error' | 'warning'): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>']
  const suites: {name: string; ids: readonly string[]; vs: Violation[]; notJudged?: readonly string[]}[] = []
  const byKey = new Map<string, Violation[]>()
  for (const v of r.violations) {
    const k = groupKey(v)
    const l = byKey.get(k)
    if (l) l.push(v)
    else byKey.set(k, [v])
  }
  const perConn = CHECK_IDS.filter((id) => id !== 'control-framing')
  for (const h of r.handoffs) {
    const k = `${h.hid}  ${h.connection}`
    suites.push({name: k, ids: perConn, vs: byKey.get(k) ?? [], ...(h.inferred ? {notJudged: h.inferred.notJudged} : {})})
    byKey.delete(k)
  }
  for (const [k, vs] of byKey) suites.push({name: k, ids: [...new Set(vs.map((v) => v.id))], vs})
  if (suites.length === 0) suites.push({name: 'traces', ids: ['control-framing', 'handoff-orphan'], vs: []})
  let failures = 0
  let tests = 0
  const body: string[] = []
  for (const s of suites) {
    let sf = 0
    const cases: string[] = []
    for (const id of s.ids) {
      const vs = s.vs.filter((v) => v.id === id)
      const failing = vs.filter((v) => v.severity === 'error' || failOn === 'warning')
      const text = vs.map((v) => `${v.file} frame ${v.frame}: ${v.message}; expected ${val(v.expected)}, seen ${val(v.seen)}`).join('\n')
      let c = `    <testcase classname="${xml(s.name)}" name="${id}">`
      if (failing.length > 0) {
        sf++
        c += `\n      <failure type="${vs[0]!.severity}" message="${xml(`${failing.length} violation(s) of ${id}`)}">${xml(text)}</failure>\n    `
      } else if (vs.length > 0) c += `\n      <system-out>${xml(text)}</system-out>\n    `
      else if (s.notJudged?.includes(id)) c += '\n      <skipped message="not judged: handoff inferred from the traffic (--infer)"/>\n    '
      c += '</testcase>'
      cases.push(c)
    }
    tests += s.ids.length
    failures += sf
    body.push(`  <testsuite name="${xml(s.name)}" tests="${s.ids.length}" failures="${sf}" errors="0">`, ...cases, '  </testsuite>')
  }
  out.push(`<testsuites name="handoff check" tests="${tests}" failures="${failures}" errors="${r.captureErrors.length}">`, ...body, '</testsuites>')
  return out.join('\n') + '\n'
}

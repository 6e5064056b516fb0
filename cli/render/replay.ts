// Human output of `handoff replay`: what was derived per handoff, then the
// file written or a tcpreplay-like end-of-run report for live injection.
import {CAPTURED_ROLES, describeConnection, LEG_LABEL, LEGS} from '../../replayer/select/legs.js'
import type {LiveOutcome, ReplayPlan, WriteOutcome} from '../../replayer/replay.js'
import type {LiveReport} from '../../replayer/sinks/live.js'
import {linkTypeName} from '../../analyzer/wire/linktype.js'
import {color} from './color.js'
import {table} from './table.js'
import {humanBytes} from './units.js'

function planLines(p: ReplayPlan): string[] {
  const out: string[] = []
  const rows = p.handoffs.map((h) => [h.hid, describeConnection(h.state), `${h.state.delta}`, h.state.tsActive ? `${h.state.tau}` : '-',
    ...p.legs.map((l) => h.legs[l]), h.synAckDropped])
  out.push(table(['hid', 'connection', 'Δ', 'τ', ...p.legs.map((l) => LEG_LABEL[l]), 'SYN/ACK dropped'], rows,
    {align: ['left', 'left', 'right', 'right', ...p.legs.map(() => 'right' as const), 'right']}))
  for (const n of p.notDerived) out.push(color.yellow(`not replayed: ${n.hid}: ${n.reason}`))
  for (const s of p.skipped.slice(0, 10)) out.push(color.yellow(`skipped: ${s.hid} ${s.source} (${s.leg}): ${s.status}: ${s.detail}`))
  if (p.skipped.length > 10) out.push(color.yellow(`skipped: … ${p.skipped.length - 10} more (--json lists them all)`))
  for (const e of p.captureErrors) out.push(color.red(`capture error: ${e}`))
  return out
}

export function renderWrite(o: WriteOutcome): string {
  const out = planLines(o)
  const per = LEGS.filter((l) => o.output.legs[l] !== undefined).map((l) => `${LEG_LABEL[l]} ${o.output.legs[l]}`).join(', ')
  const legs = LEGS.reduce((n, l) => n + (o.output.legs[l] ?? 0), 0)
  const c = o.output.captured
  const cap = CAPTURED_ROLES.some((r) => c[r] !== undefined)
    ? `; as captured, for handoff check: control channel ${c.control ?? 0}, client ${c.client ?? 0}, BE inside ${c.be ?? 0}`
    : o.output.format === 'pcap' ? '; a pcap holds the legs only (no control channel): write pcapng to check the file with handoff check' : ''
  out.push(`wrote ${o.output.file} (${o.output.format}): ${o.output.packets} packets, ${humanBytes(o.output.bytes)}; ${per}; every one of the ${legs} derived ` +
    `packets re-verified (checksums recomputed)${cap}`)
  return out.join('\n')
}

function fmtUs(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(1)} µs` : '-'
}

/** The end-of-run report, in tcpreplay's words where they fit. */
export function renderLiveReport(r: LiveReport, timingNote: string): string {
  const lines = [
    `Actual: ${r.packets} packets (${r.bytes} bytes) sent in ${r.durationSec.toFixed(6)} seconds`,
    `Rated: ${(r.durationSec > 0 ? r.bytes / r.durationSec : 0).toFixed(1)} Bps, ${r.mbps.toFixed(2)} Mbps, ${r.pps.toFixed(2)} pps`,
    `Timing: ${timingNote}` + (Number.isFinite(r.gapError.p50Us)
      ? `; inter-packet gap error p50 ${fmtUs(r.gapError.p50Us)}, p99 ${fmtUs(r.gapError.p99Us)}, max ${fmtUs(r.gapError.maxUs)}; ${r.late} sent > 1 ms late`
      : ''),
    `Statistics for network device: ${r.interface}`,
    `\tSuccessful packets:        ${r.packets}`,
    `\tFailed packets:            ${r.failures}`,
  ]
  if (r.firstError !== null) lines.push(color.red(`\tFirst failure: ${r.firstError}`))
  if (r.stoppedOnFailures) lines.push(color.red('\tStopped: 100 failures in a row'))
  if (r.interrupted) lines.push(color.yellow(`\tInterrupted after ${r.attempted} sends`))
  return lines.join('\n')
}

export function renderLive(o: LiveOutcome): string {
  const t = o.timing
  const note = t.mode === 'topspeed' ? 'top speed' : t.mode === 'pps' ? `${t.pps} pps` : `as captured × ${t.multiplier ?? 1}`
  const loops = (t.loop ?? 1) > 1 ? `, ${t.loop} loops` : ''
  const lim = t.limit ? `, limit ${t.limit}` : ''
  const back = o.backwards > 0 ? `; ${o.backwards} captured timestamp(s) went backwards (sent at once)` : ''
  const left = o.leftOut.map((x) => color.yellow(`not sent: leg ${x.leg}, ${x.packets} packet(s) of link type ${linkTypeName(x.linkType)}, which ${o.output.interface} does not take`))
  return [...planLines(o), ...left, renderLiveReport(o.output, note + loops + lim + back)].join('\n')
}

/** The progress line (stderr, TTY only). */
export function progressLine(sent: number, total: number, elapsedNs: number): string {
  const s = elapsedNs / 1e9
  return `${s.toFixed(1)}s  ${sent}/${total} packets  ${(s > 0 ? sent / s : 0).toFixed(0)} pps`
}

// Text rendering of a SessionsReport (what `handoff sessions TRACE…` prints):
// one table row per TCP session, the flagged packets with --anomalies, the
// notes, the summary line and any capture errors.
import type {FlaggedPacket, SessionRow, SessionsReport} from '../../analyzer/sessions/sessions.js'
import {color} from './color.js'
import {table} from './table.js'
import {humanBytes} from './units.js'

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`
}

function num(ms: number | null): string {
  return ms === null ? '-' : ms.toFixed(3)
}

/** "retransmission 3, dup-ack 2" with short names. */
const SHORT: Record<string, string> = {
  'retransmission': 'retrans',
  'fast-retransmission': 'fast-retrans',
  'spurious-retransmission': 'spurious-retrans',
  'duplicate-ack': 'dup-ack',
  'lost-segment': 'lost',
  'ack-lost-segment': 'acked-unseen',
  'out-of-order': 'ooo',
  'zero-window-probe': 'zw-probe',
  'zero-window-probe-ack': 'zw-probe-ack',
}

export function anomalyText(a: SessionRow['anomalies']): string {
  const parts = Object.entries(a).map(([k, v]) => `${SHORT[k] ?? k} ${v}`)
  return parts.length === 0 ? '-' : parts.join(', ')
}

function kindText(k: SessionRow['kind']): string {
  if (k === 'handoff') return color.cyan(k)
  if (k === 'fallback') return color.yellow(k)
  return k
}

/** "n1 → n2" (handoff), "n1" (fallback, local: the node that served it), "-". */
function nodesText(x: SessionRow): string {
  const be = x.backend === null ? null : x.backend.replace(/ \(.*\)$/, '')
  if (x.frontend !== null && be !== null) return `${x.frontend} → ${be}`
  return x.frontend ?? be ?? '-'
}

function stateText(s: string): string {
  if (s === 'SF' || s === 'S1') return s
  if (s === 'REJ' || s.startsWith('RST')) return color.red(s)
  return color.yellow(s)
}

export function renderSessions(r: SessionsReport): string {
  const out: string[] = []
  const multiFile = r.files.length > 1
  const multiIface = r.rows.some((x) => x.interface !== 0)
  // Handoff columns only when the traces have a cluster in them (plain traces print as before).
  const ho = r.rows.some((x) => x.kind !== 'plain' || x.hid !== null)
  if (r.rows.length > 0) {
    const head = [...(multiFile ? ['file'] : []), ...(multiIface ? ['if'] : []), 'stream',
      ...(ho ? ['kind', 'hid', 'FE → BE', 'handoff ms'] : []), 'client', 'server', 'state',
      'packets →/←', 'bytes →/←', 'duration s', 'handshake ms', 'history', 'anomalies']
    out.push(table(head, r.rows.map((x) => [
      ...(multiFile ? [x.file] : []), ...(multiIface ? [x.interfaceName ?? String(x.interface)] : []),
      x.stream,
      ...(ho ? [kindText(x.kind), x.hid ?? '-', nodesText(x), num(x.handoffLatencyMs) + (x.handoffLatencyFrom && !x.handoffLatencyFrom.sameClock ? color.dim(' ≠clk') : '')] : []),
      hostPort(x.client, x.clientPort) + (x.rolesFrom === 'first-packet' ? color.dim(' ?') : ''),
      hostPort(x.server, x.serverPort),
      stateText(x.state),
      `${x.packets.toServer}/${x.packets.toClient}`,
      `${humanBytes(x.bytes.toServer)}/${humanBytes(x.bytes.toClient)}`,
      x.durationSec.toFixed(3),
      num(x.handshake.totalMs),
      x.history || '-',
      anomalyText(x.anomalies),
    ]), {align: [...(multiFile ? ['left' as const] : []), ...(multiIface ? ['left' as const] : []), 'right',
      ...(ho ? ['left' as const, 'left' as const, 'left' as const, 'right' as const] : []), 'left', 'left', 'left',
      'right', 'right', 'right', 'right', 'left', 'left']}))
    if (r.rows.some((x) => x.rolesFrom === 'first-packet')) out.push(color.dim('? no SYN or SYN+ACK seen: the client is the first sender'))
    if (r.rows.some((x) => x.handoffLatencyFrom && !x.handoffLatencyFrom.sameClock)) {
      out.push(color.dim('≠clk the SYN and the handoff-ack were captured in different files (different clocks)'))
    }
  } else {
    out.push(color.dim(r.summary.sessions === 0 ? 'no TCP sessions found' : 'no sessions match the filters'))
  }
  if (r.flagged && r.flagged.length > 0) {
    out.push('')
    out.push(color.bold(`flagged packets (${r.flagged.length})`))
    out.push(table([...(multiFile ? ['file'] : []), 'frame', 'stream', 'direction', 'flags'], r.flagged.map((p: FlaggedPacket) => [
      ...(multiFile ? [p.file] : []), p.frame, p.stream, p.direction,
      p.flags.map((f) => (f === 'duplicate-ack' && p.dupAckNum ? `${f} #${p.dupAckNum}` : f)).join(', '),
    ]), {align: [...(multiFile ? ['left' as const] : []), 'right', 'right', 'left', 'left']}))
  }
  out.push('')
  for (const n of r.notes) out.push(color.dim(`note: ${n}`))
  out.push(summaryLine(r))
  for (const f of r.files) {
    if (f.skippedFragments > 0 || f.skippedTruncated > 0) {
      out.push(color.dim(`${f.file}: ${f.skippedFragments} IP-fragment and ${f.skippedTruncated} truncated TCP packet(s) not tracked`))
    }
    if (f.error) out.push(color.red(`error: ${f.error.message}`) + color.dim(' — the sessions above cover everything before it'))
  }
  return out.join('\n')
}

export function summaryLine(r: SessionsReport): string {
  const s = r.summary
  const states = Object.entries(s.byState).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)).map(([k, v]) => `${k} ${v}`).join(', ')
  const parts = [`${s.sessions} TCP session${s.sessions === 1 ? '' : 's'}${states ? ` (${states})` : ''}`,
    `${s.tcpPackets} TCP packets`, `${s.vantagePoints} vantage point${s.vantagePoints === 1 ? '' : 's'}`]
  const an = anomalyText(s.anomalies)
  parts.push(an === '-' ? 'no anomalies' : `anomalies: ${an}`)
  if (s.handoffs !== null && (s.handoffs.total > 0 || (s.byKind.local ?? 0) > 0)) {
    const h = s.handoffs
    parts.push(`handoffs in the control channel: ${h.handedOff} acked, ${h.nacked} nacked, ${h.noReply} unanswered`)
    const kinds = Object.entries(s.byKind).map(([k, v]) => `${k} ${v}`).join(', ')
    parts.push(`rows by kind: ${kinds}`)
  }
  if (s.shown !== s.sessions) parts.push(`${s.shown} shown`)
  return parts.join('; ')
}

// Text rendering of a SessionsReport (what `handoff sessions TRACE…` prints):
// one table row per client connection (or, with --per-view, per TCP session
// per vantage point), the flagged packets with --anomalies, the notes, the
// clock offsets between views, the summary line and any capture errors.
// writeSessions prints the CLI's report, whose rows (merged or per view) and
// flagged packets are on disk (analyzer/sessions/row-list.ts,
// flagged-list.ts): walked twice, once for the column widths and once for
// the lines, so a table is never held whole.
import type {FlaggedPacket, SessionRow} from '../../analyzer/sessions/sessions.js'
import type {FlaggedList} from '../../analyzer/sessions/flagged-list.js'
import type {SessionsReport, SpooledSessionsReport, ViewInfo} from '../../analyzer/sessions/collect.js'
import type {ConnectionRow, Sighting} from '../../analyzer/sessions/merge.js'
import {color} from './color.js'
import {FAST_ROWS, PlainTableLayout, table, type Align} from './table.js'
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
function nodesText(x: Pick<SessionRow, 'frontend' | 'backend'>): string {
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
  return r.mode === 'per-view' ? renderPerView(r) : renderConnections(r)
}

/** The text of renderSessions, line by line, for a report whose rows and flagged packets may be on disk. */
export function writeSessions(r: SessionsReport | SpooledSessionsReport, line: (s: string) => void): void {
  if (Array.isArray(r.rows)) { line(renderSessions(r as SessionsReport)); return }
  const spooled = r as SpooledSessionsReport
  if (spooled.mode === 'per-view') {
    if (spooled.rows.length <= FAST_ROWS || !streamPerView(spooled, line)) line(renderPerView({...spooled, rows: [...spooled.rows]}))
    return
  }
  const rows = spooled.rows
  if (rows.length <= FAST_ROWS || !streamConnections(spooled, line)) line(renderConnections({...spooled, rows: [...rows]}))
}

/** A report of mode M with its rows in memory (its flagged packets may be on disk). */
type WithRows<M extends SessionsReport['mode'], R> = Omit<Extract<SessionsReport | SpooledSessionsReport, {mode: M}>, 'rows'> & {rows: R[]}

/** What the lines under the tables read. */
type Report = Pick<SessionsReport | SpooledSessionsReport, 'mode' | 'files' | 'views' | 'notes' | 'summary'>

/** A per-view row's cells, in parts: a part's columns are shown or not together. */
interface ViewCells {
  file: string[]
  iface: string[]
  stream: string[]
  ho: string[]
  rest: string[]
}

const VIEW_HO_HEAD = ['kind', 'hid', 'FE → BE', 'handoff ms']
const VIEW_HEAD = ['client', 'server', 'state', 'packets →/←', 'bytes →/←', 'duration s', 'handshake ms', 'history', 'anomalies']
const VIEW_ALIGN: Align[] = ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'left', 'left']

function viewCells(x: SessionRow): ViewCells {
  return {
    file: [x.file],
    iface: [x.interfaceName ?? String(x.interface)],
    stream: [String(x.stream)],
    ho: [kindText(x.kind), x.hid ?? '-', nodesText(x), num(x.handoffLatencyMs) + (x.handoffLatencyFrom && !x.handoffLatencyFrom.sameClock ? color.dim(' ≠clk') : '')],
    rest: [
      hostPort(x.client, x.clientPort) + (x.rolesFrom === 'first-packet' ? color.dim(' ?') : ''),
      hostPort(x.server, x.serverPort),
      stateText(x.state),
      `${x.packets.toServer}/${x.packets.toClient}`,
      `${humanBytes(x.bytes.toServer)}/${humanBytes(x.bytes.toClient)}`,
      x.durationSec.toFixed(3),
      num(x.handshake.totalMs),
      x.history || '-',
      anomalyText(x.anomalies),
    ],
  }
}

/** Which parts a per-view table shows, and the notes under it: from every row. */
interface ViewShape {
  multiIface: boolean
  /** Handoff columns only when the traces have a cluster in them (plain traces print as before). */
  ho: boolean
  firstPacket: boolean
  otherClock: boolean
}

function shapeRow(n: ViewShape, x: SessionRow): void {
  if (x.interface !== 0) n.multiIface = true
  if (x.kind !== 'plain' || x.hid !== null) n.ho = true
  if (x.rolesFrom === 'first-packet') n.firstPacket = true
  if (x.handoffLatencyFrom && !x.handoffLatencyFrom.sameClock) n.otherClock = true
}

/** The parts shown, in order: [file] [if] stream [handoff columns] the rest. */
function viewParts<T>(multiFile: boolean, n: ViewShape, p: {file: T; iface: T; stream: T; ho: T; rest: T}): T[] {
  return [...(multiFile ? [p.file] : []), ...(n.multiIface ? [p.iface] : []), p.stream, ...(n.ho ? [p.ho] : []), p.rest]
}

function viewAlign(multiFile: boolean, n: ViewShape): Align[] {
  return viewParts<Align[]>(multiFile, n, {file: ['left'], iface: ['left'], stream: ['right'], ho: HO_ALIGN, rest: VIEW_ALIGN}).flat()
}

function viewNotes(n: ViewShape, out: string[]): void {
  if (n.firstPacket) out.push(color.dim('? no SYN or SYN+ACK seen: the client is the first sender'))
  if (n.otherClock) out.push(color.dim('≠clk the SYN and the handoff-ack were captured in different files (different clocks)'))
}

function renderPerView(r: WithRows<'per-view', SessionRow>): string {
  const out: string[] = []
  const multiFile = r.files.length > 1
  const n: ViewShape = {multiIface: false, ho: false, firstPacket: false, otherClock: false}
  for (const x of r.rows) shapeRow(n, x)
  if (r.rows.length > 0) {
    const head = viewParts(multiFile, n, {file: ['file'], iface: ['if'], stream: ['stream'], ho: VIEW_HO_HEAD, rest: VIEW_HEAD}).flat()
    out.push(table(head, r.rows.map((x) => viewParts(multiFile, n, viewCells(x)).flat()), {align: viewAlign(multiFile, n)}))
    viewNotes(n, out)
  } else {
    out.push(color.dim(r.summary.sessions === 0 ? 'no TCP sessions found' : 'no sessions match the filters'))
  }
  flaggedTable(r, (l) => out.push(l))
  footer(r, out)
  return out.join('\n')
}

/**
 * renderPerView's text for more than FAST_ROWS rows on disk, in two walks (as streamConnections): the widths of
 * every part's columns, then the lines. False, having written nothing, when a cell shown holds a newline.
 */
function streamPerView(r: SpooledSessionsReport & {mode: 'per-view'}, line: (s: string) => void): boolean {
  const multiFile = r.files.length > 1
  const n: ViewShape = {multiIface: false, ho: false, firstPacket: false, otherClock: false}
  const parts = {file: new PlainTableLayout(), iface: new PlainTableLayout(), stream: new PlainTableLayout(), ho: new PlainTableLayout(),
    rest: new PlainTableLayout()}
  const heads = {file: ['file'], iface: ['if'], stream: ['stream'], ho: VIEW_HO_HEAD, rest: VIEW_HEAD}
  const bold = (h: string[]) => h.map((x) => color.bold(x))
  for (const k of Object.keys(parts) as (keyof ViewCells)[]) parts[k].measure(bold(heads[k]))
  for (const x of r.rows) {
    shapeRow(n, x)
    const c = viewCells(x)
    for (const k of Object.keys(parts) as (keyof ViewCells)[]) parts[k].measure(c[k])
  }
  const shown = viewParts(multiFile, n, parts)
  if (shown.some((p) => p.multiLine)) return false
  const all = new PlainTableLayout()
  all.copyWidths(shown)
  const align = viewAlign(multiFile, n)
  line(all.line(viewParts(multiFile, n, heads).map(bold).flat(), align))
  for (const x of r.rows) line(all.line(viewParts(multiFile, n, viewCells(x)).flat(), align))
  const out: string[] = []
  viewNotes(n, out)
  return after(r, out, line)
}

function flaggedCells(multiFile: boolean, p: FlaggedPacket): string[] {
  return [...(multiFile ? [p.file] : []), String(p.frame), String(p.stream), p.direction,
    p.flags.map((f) => (f === 'duplicate-ack' && p.dupAckNum ? `${f} #${p.dupAckNum}` : f)).join(', ')]
}

/**
 * The flagged packets' lines (none without any), through `push`: a table of them in memory, or, more than
 * FAST_ROWS on disk (flagged-list.ts), laid out in two walks as the rows are.
 */
function flaggedTable(r: Pick<SessionsReport | SpooledSessionsReport, 'files' | 'flagged'>, push: (s: string) => void): void {
  const multiFile = r.files.length > 1
  const f: FlaggedPacket[] | FlaggedList | undefined = r.flagged
  if (!f || f.length === 0) return
  push('')
  push(color.bold(`flagged packets (${f.length})`))
  const head = [...(multiFile ? ['file'] : []), 'frame', 'stream', 'direction', 'flags']
  const align: Align[] = [...(multiFile ? ['left' as const] : []), 'right', 'right', 'left', 'left']
  if (Array.isArray(f) || f.length <= FAST_ROWS) {
    push(table(head, [...f].map((p) => flaggedCells(multiFile, p)), {align}))
    return
  }
  const layout = new PlainTableLayout()
  const boldHead = head.map((h) => color.bold(h))
  layout.measure(boldHead)
  for (const p of f) layout.measure(flaggedCells(multiFile, p))
  if (layout.multiLine) {
    push(table(head, [...f].map((p) => flaggedCells(multiFile, p)), {align}))
    return
  }
  push(layout.line(boldHead, align))
  for (const p of f) push(layout.line(flaggedCells(multiFile, p), align))
}

function footer(r: Report, out: string[]): void {
  out.push('')
  for (const n of r.notes) out.push(color.dim(`note: ${n}`))
  const skew = offsetsLine(r)
  if (skew !== null) out.push(color.dim(skew))
  out.push(summaryLine(r))
  for (const x of r.summary.inference?.rejected ?? []) out.push(color.dim(`--infer: ${x.connection} not taken for a handoff: ${x.reason}`))
  for (const f of r.files) {
    if (f.skippedFragments > 0 || f.skippedTruncated > 0) {
      out.push(color.dim(`${f.file}: ${f.skippedFragments} IP-fragment and ${f.skippedTruncated} truncated TCP packet(s) not tracked`))
    }
    if (f.error) out.push(color.red(`error: ${f.error.message}`) + color.dim(' — the sessions above cover everything before it'))
  }
}

export function summaryLine(r: Report): string {
  const s = r.summary
  const states = Object.entries(s.byState).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)).map(([k, v]) => `${k} ${v}`).join(', ')
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`
  const merged = r.mode === 'connections'
  const parts = merged
    ? [`${plural(s.connections ?? 0, 'connection')}${states ? ` (${states})` : ''} from ${plural(s.sessions, 'TCP session')}`]
    : [`${plural(s.sessions, 'TCP session')}${states ? ` (${states})` : ''}`]
  parts.push(`${s.tcpPackets} TCP packets`, plural(s.vantagePoints, 'vantage point'))
  const an = anomalyText(s.anomalies)
  parts.push(an === '-' ? 'no anomalies' : `anomalies${merged && s.vantagePoints > 1 ? ' (all views)' : ''}: ${an}`)
  if (s.handoffs.total > 0 || (s.byKind.local ?? 0) > 0 || s.inference !== undefined) {
    const h = s.handoffs
    parts.push(`handoffs in the control channel: ${h.handedOff} acked, ${h.nacked} nacked, ${h.noReply} unanswered`)
    if (s.inference !== undefined) parts.push(`inferred from the traffic (--infer): ${s.inference.inferred} of ${plural(s.inference.candidates, 'candidate')}`)
    const kinds = Object.entries(s.byKind).map(([k, v]) => `${k} ${v}`).join(', ')
    parts.push(`${merged ? 'connections' : 'rows'} by kind: ${kinds}`)
  }
  if (s.shown !== (merged ? s.connections : s.sessions)) parts.push(`${s.shown} shown`)
  return parts.join('; ')
}

/** Short name of a view: its interface name, else the file's base name (and #id past the first interface). */
function shortName(v: {file: string; iface: number; name: string}, multiFile: boolean): string {
  if (v.name !== '') return v.name
  const base = v.file.slice(Math.max(v.file.lastIndexOf('/'), v.file.lastIndexOf('\\')) + 1)
  return multiFile ? (v.iface === 0 ? base : `${base}#${v.iface}`) : `#${v.iface}`
}

const label = (v: {file: string; iface: number; name: string}) => `${v.file}#${v.iface}${v.name ? ` (${v.name})` : ''}`

const LEG_MARK: Record<Sighting['leg'], string> = {'client-vip': '', 'forward': '→BE', 'fe-inside': '', 'be-inside': '', 'direct': '', 'other': '?'}

/** "client* lan lan→BE n1-inside n2-inside": where the connection was seen; * = the view its numbers come from. */
function seenText(c: ConnectionRow, short: Map<string, string>): string {
  return c.seenAt.map((x, i) => `${short.get(x.view) ?? x.view}${LEG_MARK[x.leg]}${i === 0 ? '*' : ''}`).join(' ')
}

/** "retrans 1, dup-ack 1 (client, lan)": views with the same flags together. */
function connAnomalies(c: ConnectionRow, short: Map<string, string>, withViews: boolean): string {
  if (c.anomalies.length === 0) return '-'
  const byText = new Map<string, string[]>()
  for (const a of c.anomalies) {
    const t = anomalyText(a.flags)
    byText.set(t, [...(byText.get(t) ?? []), `${short.get(a.view) ?? a.view}${LEG_MARK[a.leg]}`])
  }
  return [...byText].map(([t, vs]) => (withViews ? `${t} (${vs.join(', ')})` : t)).join('; ')
}

interface ConnCells {
  /** The handoff columns (shown when any row has a kind or hid). */
  ho: string[]
  rest: string[]
}

const HO_HEAD = ['kind', 'hid', 'FE → BE', 'handoff ms']
const HO_ALIGN: Align[] = ['left', 'left', 'left', 'right']

function connHead(multiView: boolean): string[] {
  return ['client', 'server', 'state', 'bytes →/←', 'duration s', 'history', 'anomalies', ...(multiView ? ['seen at'] : [])]
}

const CONN_ALIGN: Align[] = ['left', 'left', 'left', 'right', 'right', 'left', 'left', 'left']

function connCells(x: ConnectionRow, short: Map<string, string>, multiView: boolean): ConnCells {
  return {
    ho: [kindText(x.kind), x.hid ?? '-', nodesText(x), num(x.handoffLatencyMs) + (x.handoffLatencyFrom && !x.handoffLatencyFrom.sameClock ? color.dim(' ≠clk') : '')],
    rest: [
      hostPort(x.client, x.clientPort) + (x.from.rolesFrom === 'first-packet' ? color.dim(' ?') : ''),
      hostPort(x.server, x.serverPort),
      stateText(x.state),
      `${humanBytes(x.bytes.toServer)}/${humanBytes(x.bytes.toClient)}`,
      x.durationSec.toFixed(3),
      x.history || '-',
      connAnomalies(x, short, multiView),
      ...(multiView ? [seenText(x, short)] : []),
    ],
  }
}

/** What the lines under the table depend on, from every row. */
interface ConnNotes {
  ho: boolean
  firstPacket: boolean
  otherClock: boolean
}

function noteRow(n: ConnNotes, x: ConnectionRow): void {
  if (x.kind !== 'plain' || x.hid !== null) n.ho = true
  if (x.from.rolesFrom === 'first-packet') n.firstPacket = true
  if (x.handoffLatencyFrom && !x.handoffLatencyFrom.sameClock) n.otherClock = true
}

function connNotes(n: ConnNotes, multiView: boolean, out: string[]): void {
  if (n.firstPacket) out.push(color.dim('? no SYN or SYN+ACK seen: the client is the first sender'))
  if (n.otherClock) out.push(color.dim('≠clk the SYN and the handoff-ack were captured in different files (different clocks)'))
  if (multiView) {
    out.push(color.dim('seen at: the views of the connection; * = the view state, bytes, duration and history come from; →BE = the forwarded leg (client → BE address); ? = a leg that fits no rule'))
  }
}

function renderConnections(r: WithRows<'connections', ConnectionRow>): string {
  const out: string[] = []
  const multiFile = r.files.length > 1
  const multiView = r.views.length > 1
  const short = new Map(r.views.map((v) => [label(v), shortName(v, multiFile)]))
  const n: ConnNotes = {ho: false, firstPacket: false, otherClock: false}
  for (const x of r.rows) noteRow(n, x)
  if (r.rows.length > 0) {
    const head = [...(n.ho ? HO_HEAD : []), ...connHead(multiView)]
    out.push(table(head, r.rows.map((x) => {
      const c = connCells(x, short, multiView)
      return n.ho ? [...c.ho, ...c.rest] : c.rest
    }), {align: [...(n.ho ? HO_ALIGN : []), ...CONN_ALIGN]}))
    connNotes(n, multiView, out)
  } else {
    out.push(color.dim(r.summary.sessions === 0 ? 'no TCP sessions found' : 'no connections match the filters'))
  }
  flaggedTable(r, (l) => out.push(l))
  footer(r, out)
  return out.join('\n')
}

/**
 * renderConnections' text for more than FAST_ROWS rows on disk (table() lays those out
 * as plainTable), in two walks: the widths of every column (the handoff ones too, dropped
 * when no row has them), then the lines. False, having written nothing, when a cell holds
 * a newline (table() would use cli-table3: the caller renders it whole).
 */
function streamConnections(r: SpooledSessionsReport & {mode: 'connections'}, line: (s: string) => void): boolean {
  const multiFile = r.files.length > 1
  const multiView = r.views.length > 1
  const short = new Map(r.views.map((v) => [label(v), shortName(v, multiFile)]))
  const n: ConnNotes = {ho: false, firstPacket: false, otherClock: false}
  const ho = new PlainTableLayout()
  const rest = new PlainTableLayout()
  const hoHead = HO_HEAD.map((h) => color.bold(h))
  const restHead = connHead(multiView).map((h) => color.bold(h))
  ho.measure(hoHead)
  rest.measure(restHead)
  for (const x of r.rows) {
    noteRow(n, x)
    const c = connCells(x, short, multiView)
    ho.measure(c.ho)
    rest.measure(c.rest)
  }
  if (ho.multiLine || rest.multiLine) return false
  // One layout of all the columns, as plainTable would measure them.
  const all = new PlainTableLayout()
  const align = [...(n.ho ? HO_ALIGN : []), ...CONN_ALIGN]
  const joined = (h: string[], x: string[]) => (n.ho ? [...h, ...x] : x)
  all.copyWidths(n.ho ? [ho, rest] : [rest])
  line(all.line(joined(hoHead, restHead), align))
  for (const x of r.rows) {
    const c = connCells(x, short, multiView)
    line(all.line(joined(c.ho, c.rest), align))
  }
  const out: string[] = []
  connNotes(n, multiView, out)
  return after(r, out, line)
}

/** What follows the rows of a spooled table: its notes, the flagged packets, the footer. */
function after(r: Parameters<typeof footer>[0], notes: readonly string[], line: (l: string) => void): true {
  for (const l of notes) line(l)
  flaggedTable(r, line)
  const tail: string[] = []
  footer(r, tail)
  line(tail.join('\n'))
  return true
}

/** "clock offsets (ms) from segments seen at two views, vs client: lan +0.004 (n 120), …; control: no shared segment". */
function offsetsLine(r: Report): string | null {
  if (r.views.length < 2) return null
  const multiFile = r.files.length > 1
  const name = new Map(r.views.map((v) => [`${v.file}#${v.iface}`, shortName(v, multiFile)]))
  const placed = r.views.filter((v) => v.offsetMs !== null && v.reference !== `${v.file}#${v.iface}`)
  const refs = [...new Set(r.views.filter((v) => v.reference !== null).map((v) => v.reference!))]
  const alone = r.views.filter((v) => v.offsetMs === null).map((v) => shortName(v, multiFile))
  const parts: string[] = []
  for (const ref of refs) {
    const of = placed.filter((v) => v.reference === ref)
      .map((v: ViewInfo) => `${shortName(v, multiFile)} ${v.offsetMs! >= 0 ? '+' : ''}${v.offsetMs!.toFixed(3)} (${v.samples})`)
    if (of.length > 0) parts.push(`vs ${name.get(ref) ?? ref}: ${of.join(', ')}`)
  }
  if (alone.length > 0) parts.push(`no segment shared with another view: ${alone.join(', ')}`)
  return `clock offsets (ms; segments matched) from segments seen at two views — ${parts.join('; ')}`
}

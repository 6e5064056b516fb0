// `handoff sessions TRACE…`: the traces read into a report.
//
//   1. the control channel of every trace, whole (handoff.ts: handoffs by
//      hid, node addresses) — a pass of its own, so that a session can be
//      classified the moment it ends, whatever file the control view is in;
//   2. every file in turn through the session tracker (sessions.ts): one
//      row per TCP session per vantage point (file, interface), classified
//      as it comes (kind, hid, FE, BE); meanwhile every tracked segment goes
//      to the segment matcher (segment-match.ts), which finds the segments
//      captured at two views and feeds the clock-skew estimator
//      (correlate/skew.ts);
//   3. per-view mode: the rows that pass the filters are kept, as before;
//      connections mode (the default): every row goes to the merger
//      (merge.ts), which makes one row per client connection; the filters
//      apply to the merged rows, and the shown ones go to a ConnectionList
//      (row-list.ts: sorted by first sighting, on disk for the CLI).
// Standard input is copied to a temporary file first (capture/spool.ts says why).
// Memory: the live sessions of the tracker (open, or closed and lingering
// 120 s of trace time for late segments: ~1.6 kB of heap each, whole — see
// flows/session.ts; a session that never closes does not grow with its
// packets), the merger's open connections (per connection its best row, per
// session per view only its sighting — what `seenAt` prints — and rank,
// merge.ts), every handoff of the control channel (assembled before the
// pass, a few hundred bytes each: not yet read from a spool as it goes, as
// check's ControlSpool + HandoffFeed do), and the matcher's bounded sample.
// With one file, the merger retires a connection (makes its row, lets its
// group go) once it has been quiet past the tracker's linger and the merge's
// time slack and the tracker holds no session of its endpoints
// (live-endpoints.ts), so it holds the connections of the last two minutes
// or so of trace, not the trace; its handoff latency comes from its own
// group's SYNs. A trace shorter than the linger is therefore held whole
// (every session at once). With several files every connection stays to the
// end (a row of a later file, on another clock, may still join it). Per-view
// mode keeps the shown rows; --anomalies keeps every flagged packet until the
// shown rows are known.
import {displayName} from '../capture/read.js'
import type {CaptureInterface} from '../capture/types.js'
import {controlPortNote, resolveControlPort} from '../control/port-discovery.js'
import {SkewEstimator} from '../correlate/skew.js'
import {FileViews, type VantageAssignment, type VantageKind, type View} from '../correlate/vantage.js'
import {normAddr} from '../correlate/assemble.js'
import type {InferenceReport} from '../correlate/infer.js'
import type {ConnState} from '../flows/history.js'
import type {AnomalyName} from '../flows/tcp-analysis.js'
import {correlateHandoffs, HandoffIndex, latencies, latencyFor, type SynSighting} from './handoff.js'
import {LiveEndpoints} from './live-endpoints.js'
import {ConnectionMerger, type ConnectionRow, type MergeOptions} from './merge.js'
import {ConnectionList} from './row-list.js'
import {SegmentMatcher} from './segment-match.js'
import {fileSessions, matches, type FileSessionsResult, type FlaggedPacket, type SessionFilter, type SessionKind,
  type SessionRow} from './sessions.js'
import {spoolStream, type Spool} from '../capture/spool.js'
import type {Readable} from 'node:stream'

export interface ViewInfo {
  file: string
  iface: number
  name: string
  vantage: VantageKind
  /** How the vantage point was decided: --vantage, the interface / file name, or the default (LAN). */
  from: View['from']
  /** Clock offset (ms) of this view from the reference view, estimated from segments both captured; null: none shared. */
  offsetMs: number | null
  reference: string | null
  /** Segments matched with the view it was placed through. */
  samples: number
}

interface ReportBase {
  files: FileSessionsResult[]
  /** Flagged packets of the shown rows (with `flagged`). */
  flagged?: FlaggedPacket[]
  views: ViewInfo[]
  summary: {
    /** TCP sessions, all vantage points. */
    sessions: number
    /** Client connections (sessions of one connection at several views merged); null in per-view mode (not merged). */
    connections: number | null
    shown: number
    /** Rows (per-view mode: all, shown or not) or connections (connections mode: all), by state and kind. */
    byState: Partial<Record<ConnState, number>>
    byKind: Partial<Record<SessionKind, number>>
    /** Handoffs in the control channel (req seen), by outcome. */
    handoffs: {total: number; handedOff: number; nacked: number; noReply: number}
    /** With --infer only: handoffs recognised from the traffic (no control message names them), as check --infer reports them. */
    inference?: InferenceReport
    /** Flagged packets, all views. */
    anomalies: Partial<Record<AnomalyName, number>>
    tcpPackets: number
    vantagePoints: number
    /** Segments captured at two views or more (sampled; see segment-match.ts). */
    matchedSegments: number
  }
  notes: string[]
}

export type SessionsReport =
  | (ReportBase & {mode: 'per-view'; rows: SessionRow[]})
  | (ReportBase & {mode: 'connections'; rows: ConnectionRow[]})

/** The same report with the merged rows on disk (the CLI's): walked, not indexed (collectSessionsSpooled). */
export type SpooledSessionsReport =
  | (ReportBase & {mode: 'per-view'; rows: SessionRow[]})
  | (ReportBase & {mode: 'connections'; rows: ConnectionList})

/** Trace seconds a connection stays in the merger after its last packet: the tracker's linger on closed sessions plus merge.ts's time slack. */
export const RETIRE_AFTER_SEC = 120 + 5
/** Trace seconds between two looks for connections to retire. */
const RETIRE_EVERY_SEC = 1

export interface CollectOptions {
  /** One row per session per vantage point instead of per connection. */
  perView?: boolean
  flagged?: boolean
  verifyChecksums?: boolean
  /** TCP port of the control channel (default 7070). */
  controlPort?: number
  /** Vantage point assignments (--vantage). */
  vantage?: readonly VantageAssignment[]
  /** What '-' reads (default process.stdin). */
  stdin?: Readable
  /** Also recognise handoffs no control message names, from the traffic (correlate/infer.ts, as `check --infer`). */
  infer?: boolean
  /** Retire quiet connections during the pass (default true; false: all merged at the end, as with several files — tests compare). */
  retire?: boolean
  /** Filled in with what the pass held at most (tests: retiring works). */
  stats?: {peakConnections: number}
}

export const INFER_NOTE = '--infer: a connection no control message names is a handoff (hid inferred/<n>, the numbering of check --infer) when check --infer ' +
  'recognises it from the traffic (its segments forwarded, same client port and numbers, to another node, or answered by another node at a node inside); ' +
  'with no node names, FE → BE are the VIP and the BE address, and those addresses count as node service addresses for local'

export const INFERRED_LATENCY_NOTE = 'handoff latency of an inferred/<n> handoff (--infer: no handoff-ack) = capture time of the BE\'s SYN/ACK at its inside view ' +
  '(the BE accepting the replayed SYN, just before its handoff-ack) − capture time of the client\'s SYN (a view in the same file first, then client side, LAN, node inside); none when the BE\'s SYN/ACK was not captured'

export const KIND_NOTE = 'kind: handoff = a handoff-req names the connection (client ip:port → VIP:port, or → the BE address at the LAN / BE inside) and its hid got a handoff-ack; ' +
  'fallback = the req got a handoff-nack (the FE served it); local = no req names it, but its server is the service address of a node of the control channel ' +
  '(a hello\'s addr, a req\'s vip or an ack\'s baddr), not on the control port; plain = anything else (no control traffic in the traces: every row is plain)'

export class UsageError extends Error {}

/** The report for `paths` ('-' = standard input, once). */
export async function collectSessions(paths: string[], filter: SessionFilter, opts: CollectOptions = {}): Promise<SessionsReport> {
  const r = await collectOn(paths, filter, opts, false)
  if (r.mode === 'per-view') return r
  const rows = r.rows.toArray()
  r.rows.remove()
  return {...r, rows}
}

/** The report with the merged rows sorted on disk (what the CLI prints, walking them): memory as the header says. */
export async function collectSessionsSpooled(paths: string[], filter: SessionFilter, opts: CollectOptions = {}): Promise<SpooledSessionsReport> {
  return collectOn(paths, filter, opts, true)
}

async function collectOn(paths: string[], filter: SessionFilter, opts: CollectOptions, onDisk: boolean): Promise<SpooledSessionsReport> {
  if (paths.filter((p) => p === '-').length > 1) throw new UsageError('standard input (-) can be read once only: give it once')
  let spool: Spool | null = null
  try {
    if (paths.includes('-')) spool = await spoolStream(opts.stdin ?? process.stdin)
    const real = paths.map((p) => (p === '-' ? spool!.path : p))
    return await collect(real, paths.map(displayName), filter, opts, onDisk)
  } finally {
    spool?.remove()
  }
}

async function collect(paths: string[], names: string[], filter: SessionFilter, opts: CollectOptions, onDisk: boolean): Promise<SpooledSessionsReport> {
  const perView = opts.perView ?? false
  const vantage = opts.vantage ?? []
  const portChoice = await resolveControlPort(paths, opts.controlPort)
  const corr = await correlateHandoffs(paths, portChoice.port, vantage, {infer: opts.infer})
  // The control pass names files by path: the spool's path is '<stdin>' to the user.
  for (const h of corr.handoffs) if (h.ackView !== null) h.ackView.file = names[h.ackView.fileIndex]!
  const index = new HandoffIndex(corr)
  const skew = new SkewEstimator()
  const matcher = new SegmentMatcher(skew)
  const merger = perView ? null : new ConnectionMerger()
  const views: View[] = []
  const shown: SessionRow[] = []
  const files: FileSessionsResult[] = []
  const anomalies: Partial<Record<AnomalyName, number>> = {}
  const syns: SynSighting[] = []
  const ifaceNames = new Map<string, string | null>()
  const flagged: FlaggedPacket[] = []
  // Per-view counts, of every row (shown or not).
  const rowStates: Partial<Record<ConnState, number>> = {}
  const rowKinds: Partial<Record<SessionKind, number>> = {}
  let total = 0

  // Connections mode: the merged rows as the merger makes them (retired, or all at the end).
  const live = new LiveEndpoints()
  const list = new ConnectionList(onDisk)
  const states = new FirstSeenCounts<ConnState>()
  const kinds = new FirstSeenCounts<SessionKind>()
  // With --anomalies, the sessions of the shown connections (their flagged packets are listed).
  const shownKeys = new Set<string>()
  const label = (f: string, i: number) => ifaceNames.get(`${f}#${i}`) ?? null
  const mergeOpts: MergeOptions = {latencyFor: (h, s) => latencyFor(h, s, label)}
  const made = (firstSeen: number, c: ConnectionRow) => {
    states.add(c.state, firstSeen)
    kinds.add(c.kind, firstSeen)
    if (!matchesConnection(c, filter)) return
    list.add(firstSeen, c)
    if (opts.flagged) for (const x of c.seenAt) shownKeys.add(`${x.file}#${x.stream}`)
  }
  // Retiring needs one clock: one file (see the header).
  const retiring = merger !== null && paths.length === 1 && opts.retire !== false
  let now = -Infinity
  let nextRetire = -Infinity

  for (let fi = 0; fi < paths.length; fi++) {
    const file = names[fi]!
    const fileViews = new FileViews(fi, file, corr.vantage, (v) => views.push(v))
    const ifNames: (string | null)[] = []
    const pending: FlaggedPacket[] = []
    const shownStreams = new Set<number>()
    const r = await fileSessions(paths[fi]!, {
      name: file,
      verifyChecksums: opts.verifyChecksums,
      onInterface: (i: CaptureInterface) => {
        ifNames[i.id] = i.name ?? null
        // Known before any row of the interface: a retired handoff's latency names its ack's view (the control channel's row comes last).
        ifaceNames.set(`${file}#${i.id}`, i.name ?? null)
      },
      onTcp: (dec, rec) => {
        const t = rec.tsSec + rec.tsNsec / 1e9
        matcher.add(dec, fileViews.get(rec.interfaceId, ifNames[rec.interfaceId]), t)
        if (!retiring) return
        if (t > now) now = t
        if (now < nextRetire) return
        nextRetire = now + RETIRE_EVERY_SEC
        merger!.retire(now, RETIRE_AFTER_SEC, live, mergeOpts, made)
      },
      onOpen: merger === null ? undefined : (s) => live.open(s.client, s.clientPort, s.server, s.serverPort),
      onRow: (row, s) => {
        total++
        if (merger !== null) live.close(s.client, s.clientPort, s.server, s.serverPort)
        ifaceNames.set(`${row.file}#${row.interface}`, row.interfaceName)
        const view = fileViews.get(row.interface, row.interfaceName)
        row.vantage = view.kind
        const clientIsn = s.stats[0].isn
        const first = s.firstSec + s.firstNsec / 1e9
        const last = s.lastSec + s.lastNsec / 1e9
        const c = index.classify({client: row.client, clientPort: row.clientPort, server: row.server, serverPort: row.serverPort,
          clientIsn, first, last, rolesGuessed: row.rolesFrom === 'first-packet'})
        row.kind = c.kind
        row.hid = c.hid
        row.frontend = c.frontend
        row.backend = c.backend
        // A latency candidate: the client's SYN to the VIP of a session classify() tied to this handoff (by its ISN,
        // or, when the req's ciss is not the wire's, by time), at a view that is not the control one.
        const h = c.handoff
        let syn: SynSighting | null = null
        if (h !== null && s.synSec >= 0 && normAddr(row.server) === h.vip && view.kind !== 'control') {
          syn = {hid: h.hid, t: s.synSec + s.synNsec / 1e9, fileIndex: fi, view}
          // Per-view rows get their latency from a table of every SYN; merged ones from their group's (merge.ts).
          if (merger === null) syns.push(syn)
        }
        rowStates[row.state] = (rowStates[row.state] ?? 0) + 1
        rowKinds[row.kind] = (rowKinds[row.kind] ?? 0) + 1
        for (const [k, v] of Object.entries(row.anomalies)) anomalies[k as AnomalyName] = (anomalies[k as AnomalyName] ?? 0) + (v ?? 0)
        if (merger !== null) merger.add({row, view, isn: clientIsn, first, last, handoff: c.handoff, syn})
        else if (matches(row, filter)) {
          shown.push(row)
          shownStreams.add(row.stream)
        }
      },
      onFlagged: opts.flagged ? (p) => pending.push(p) : undefined,
    })
    files.push(r)
    // Per-view: only the shown sessions' packets; connections: which are shown is known at the end.
    // A loop, not push(...): one argument per flagged packet overflows the stack on a long trace.
    if (opts.flagged) for (const p of pending) if (merger !== null || shownStreams.has(p.stream)) flagged.push(p)
  }

  if (merger !== null) merger.retireAll(mergeOpts, made)
  const lat = latencies(corr, syns, label)
  // Per-view rows get their latency here; merged rows when they are made (merge.ts).
  for (const row of shown) {
    const l = row.hid === null || row.kind !== 'handoff' ? undefined : lat.get(row.hid)
    if (l === undefined) continue
    row.handoffLatencyMs = l.ms
    row.handoffLatencyFrom = {synView: l.synView, ackView: l.ackView, sameClock: l.sameClock}
  }

  const offsets = skew.offsets(views)
  const base = {
    files,
    views: views.map((v, i): ViewInfo => ({file: v.file, iface: v.iface, name: v.name, vantage: v.kind, from: v.from,
      offsetMs: offsets[i]!.offset === null ? null : Math.round(offsets[i]!.offset! * 1e6) / 1e3,
      reference: offsets[i]!.reference, samples: offsets[i]!.samples})),
    notes: [...notes(perView, corr.handoffs.some((h) => h.ackT !== null && !h.inferred), corr.inference,
      corr.handoffs.some((h) => h.ackT !== null && h.inferred)), ...[controlPortNote(portChoice)].filter((n) => n !== null)],
  }
  const control = corr.handoffs.filter((h) => !h.inferred)
  const summaryOf = (byState: Partial<Record<ConnState, number>>, byKind: Partial<Record<SessionKind, number>>, connections: number | null) => {
    return {
      sessions: total, connections, byState, byKind,
      handoffs: {
        total: control.length,
        handedOff: control.filter((h) => h.outcome === 'handed-off').length,
        nacked: control.filter((h) => h.outcome === 'nacked').length,
        noReply: control.filter((h) => h.outcome === 'no-reply').length,
      },
      ...(corr.inference ? {inference: corr.inference} : {}),
      anomalies, tcpPackets: files.reduce((n, f) => n + f.tcpPackets, 0), vantagePoints: views.length,
      matchedSegments: matcher.matches,
    }
  }

  if (merger === null) {
    const order = new Map(names.map((n, i) => [n, i]))
    shown.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.interface - b.interface || a.firstFrame - b.firstFrame)
    return {...base, mode: 'per-view', rows: shown, ...(opts.flagged ? {flagged} : {}),
      summary: {...summaryOf(rowStates, rowKinds, null), shown: shown.length}}
  }
  if (opts.stats) opts.stats.peakConnections = merger.peakOpen
  const summary = {...summaryOf(states.toRecord(), kinds.toRecord(), merger.connections), shown: list.length}
  const shownFlagged = opts.flagged ? flagged.filter((p) => shownKeys.has(`${p.file}#${p.stream}`)) : undefined
  return {...base, mode: 'connections', rows: list, ...(shownFlagged ? {flagged: shownFlagged} : {}), summary}
}

/**
 * Counts by key, the keys in order of their first connection by first sighting: the order the
 * counts had when every merged row was made at the end in that order (JSON and the summary line show it).
 */
class FirstSeenCounts<K extends string> {
  private readonly m = new Map<K, {n: number; first: number}>()

  add(k: K, firstSeen: number): void {
    const x = this.m.get(k)
    if (x === undefined) this.m.set(k, {n: 1, first: firstSeen})
    else {
      x.n++
      if (firstSeen < x.first) x.first = firstSeen
    }
  }

  toRecord(): Partial<Record<K, number>> {
    const out: Partial<Record<K, number>> = {}
    for (const [k, x] of [...this.m].sort((a, b) => a[1].first - b[1].first)) out[k] = x.n
    return out
  }
}

/** The filters on a merged connection; --server also names a leg's server (the BE address of a forwarded leg). */
export function matchesConnection(c: ConnectionRow, f: SessionFilter): boolean {
  if (f.server && f.server.length > 0) {
    const wanted = f.server
    if (!wanted.includes(c.server) && !c.seenAt.some((x) => wanted.includes(x.server))) return false
  }
  return matches(c, {...f, server: undefined})
}

function notes(perView: boolean, latency: boolean, inference: InferenceReport | undefined, inferredLatency: boolean): string[] {
  const out = [perView
    ? 'each (file, interface) is its own vantage point: a connection seen at several points is listed once per point (--per-view; the rows of one handed-off connection share its hid)'
    : 'one row per client connection, merged over every vantage point (a handoff\'s legs by its hid; other connections by their endpoints); ' +
      'state, history, packets, bytes, duration from the view nearest the client (* in "seen at": client side, else LAN, else BE inside, FE inside, the forwarded leg); --per-view lists every view\'s session',
  KIND_NOTE]
  if (latency) {
    out.push('handoff latency = capture time of the handoff-ack (control view) − capture time of the client\'s SYN (a view in the same file first, ' +
      'then client side, LAN, node inside); views in different files are different clocks (handoffLatencyFrom.sameClock false)')
  }
  if (inference !== undefined) out.push(INFER_NOTE)
  if (inferredLatency) out.push(INFERRED_LATENCY_NOTE)
  return out
}

// `handoff sessions TRACE…`: the traces read into a report.
//
//   1. the control channel of every trace, once (correlate/control-pass.ts,
//      check's first pass): the handoffs' messages go to a spool on disk
//      (control-spool.ts), the hellos' node addresses are kept (small); the
//      spool is then read once for the node addresses its requests and acks
//      name (handoff-stream.ts), so that `local` is known the moment a row
//      is made, whatever file the control view is in; with --infer, the
//      handoffs no control message names are then recognised from the
//      traffic (check --infer's passes, correlate/infer.ts) and written to a
//      spool of their own in hid order, with their client SYN's time
//      (correlate/infer-spooled.ts), the control channel's known from its
//      spool;
//   2. every file through the session tracker (sessions.ts): one row per TCP
//      session per vantage point (file, interface), classified as it comes
//      (kind, hid, FE, BE: handoff.ts's HandoffIndex, fed with the handoffs
//      made from the spool — and with --infer those of the inferred spool,
//      the two merged by time — LOOKAHEAD_SEC ahead of the packets and let
//      go once no row can still be tied to them: handoff-stream.ts); meanwhile
//      every tracked segment goes to the segment matcher (segment-match.ts),
//      which finds the segments captured at two views and feeds the
//      clock-skew estimator (correlate/skew.ts);
//   3. per-view mode: the rows that pass the filters go to a SessionRowList
//      (row-list.ts: sorted by file, interface, first frame, on disk for the
//      CLI), a handoff's once it is let go and its latency known
//      (view-latency.ts); connections mode (the default): every row goes to
//      the merger (merge.ts), which makes one row per client connection; the
//      filters apply to the merged rows, and the shown ones go to a
//      ConnectionList (row-list.ts: sorted by first sighting, on disk for the
//      CLI). With --anomalies every flagged packet is written as it comes
//      (flagged-list.ts: per file, on disk for the CLI) and the sessions of
//      the shown rows are marked; the list yields the marked ones.
// Several files are read at once, merged by capture time (capture/merge.ts),
// as check reads them: when the control pass finds their clocks within
// MAX_CLOCK_SPREAD_SEC (check.ts) of each other, by their own times; further
// apart but linked by the client SYNs and requests they share (syn-clocks.ts),
// by corrected times (each file's offset taken off for the order only: rows
// keep each capture's own times), the control pass read again that way;
// else one after the other, every handoff assembled before the pass, as
// before (with --infer, its handoffs recognised over the whole traces:
// handoff.ts's correlateHandoffs).
// Read merged, the rows, views, counts and flagged packets are reported in
// file order and the segment matcher gives the estimator the matches of the
// files read one after the other (segment-match.ts): the report is the same.
// Standard input is copied to a temporary file first (capture/spool.ts says why).
// Memory: the live sessions of the tracker (open, or closed and lingering
// 120 s of trace time for late segments: ~1.6 kB of heap each, whole — see
// flows/session.ts; a session that never closes does not grow with its
// packets), the merger's open connections (per connection its best row, per
// session per view only its sighting — what `seenAt` prints — and rank,
// merge.ts), the handoffs in progress (made LOOKAHEAD_SEC = 120 s of trace
// ahead of the pass, let go 10 s after their last message once the tracker
// holds no session of their client endpoint: a few hundred bytes each; with
// --infer the inferred ones too, taken from their spool LOOKAHEAD_SEC before
// their client's SYN and let go the same way), the node addresses, and the
// matcher's bounded sample; before the pass, --infer's inference holds the
// connections and candidates in progress (infer.ts, windowed as check's).
// With one file or several read merged, the merger retires a connection
// (makes its row, lets its group go) once it has been quiet past the
// tracker's linger and the merge's time slack and the tracker holds no
// session of its endpoints (live-endpoints.ts), so it holds the connections
// of the last two minutes or so of trace, not the trace; its handoff latency
// comes from its own group's SYNs. A trace shorter than the linger is
// therefore held whole (every session at once). Files read one after the
// other (clocks apart and not linked) hold every connection and every
// handoff to the end (a row of a later file, on another clock, may still
// join it; --infer's inference then holds every connection of the traces
// too). Per-view mode holds the shown rows of the handoffs in progress and
// the client SYNs tied to them (their latency is made when the handoff is
// let go; held to the end with every handoff); --anomalies holds one bit
// per session (shown or not) and a spool's buffer per file.
import {displayName} from '../capture/read.js'
import type {CaptureInterface} from '../capture/types.js'
import {controlPortNote, resolveControlPort} from '../control/port-discovery.js'
import {SkewEstimator} from '../correlate/skew.js'
import {FileViews, type VantageAssignment, type VantageKind, type View} from '../correlate/vantage.js'
import {normAddr} from '../correlate/assemble.js'
import type {InferenceReport} from '../correlate/infer.js'
import type {ConnState} from '../flows/history.js'
import type {AnomalyName} from '../flows/tcp-analysis.js'
import {readMerged} from '../capture/merge.js'
import {LOOKAHEAD_SEC} from '../correlate/assemble.js'
import {ControlSpool} from '../correlate/control-spool.js'
import {inferSpooled} from '../correlate/infer-spooled.js'
import type {InferredSpool} from '../correlate/inferred-spool.js'
import {readControlPass} from '../correlate/control-pass.js'
import {HandoffFeed} from '../correlate/handoff-feed.js'
import {inferViewKinds} from '../correlate/vantage-infer.js'
import {MAX_CLOCK_SPREAD_SEC} from '../check.js'
import {correlateHandoffs, HandoffIndex, latencyFor, type HandoffInfo, type SynSighting} from './handoff.js'
import {addInferredAddresses, HelloAddresses, liveInfo, nodeAddresses, StreamedHandoffs} from './handoff-stream.js'
import {LiveEndpoints} from './live-endpoints.js'
import {ConnectionMerger, type ConnectionRow, type MergeOptions} from './merge.js'
import {FlaggedList, StreamSet} from './flagged-list.js'
import {ConnectionList, RUN_ROWS, SessionRowList} from './row-list.js'
import {RUN_RECORDS} from '../external-sort.js'
import {ViewLatencies} from './view-latency.js'
import {SegmentMatcher} from './segment-match.js'
import {FileSessionReader, fileSessions, matches, type FileSessionsResult, type FlaggedPacket, type SessionFilter, type SessionKind,
  type SessionRow, type SessionsOptions} from './sessions.js'
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

interface ReportBase<Flagged> {
  files: FileSessionsResult[]
  /** Flagged packets of the shown rows (with `flagged`). */
  flagged?: Flagged
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
  | (ReportBase<FlaggedPacket[]> & {mode: 'per-view'; rows: SessionRow[]})
  | (ReportBase<FlaggedPacket[]> & {mode: 'connections'; rows: ConnectionRow[]})

/** The same report with the rows and flagged packets on disk (the CLI's): walked, not indexed (collectSessionsSpooled). */
export type SpooledSessionsReport =
  | (ReportBase<FlaggedList> & {mode: 'per-view'; rows: SessionRowList})
  | (ReportBase<FlaggedList> & {mode: 'connections'; rows: ConnectionList})

/** Trace seconds a connection stays in the merger after its last packet: the tracker's linger on closed sessions plus merge.ts's time slack. */
export const RETIRE_AFTER_SEC = 120 + 5
/** Files read merged: seconds (beyond the clocks' spread) a segment's copies are gathered before they are matched (segment-match.ts). */
const MATCH_SETTLE_SLACK_SEC = 3
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
  /**
   * false: every handoff assembled before the pass, the files read one after the other (as before streaming; tests
   * compare). Default: handoffs made as the pass goes, several files read merged (see the header).
   */
  streaming?: boolean
  /** How far ahead of the packets (capture seconds) the handoffs are made from the spool (default check's LOOKAHEAD_SEC; tests). */
  lookaheadSec?: number
  /**
   * Rows per sorted run on disk, and flagged packets of a file held before they go to disk (tests force the disk
   * with small ones). Default: row-list.ts's and external-sort.ts's sizes for the CLI, never for collectSessions.
   */
  runSize?: number
  /** Filled in with what the pass held at most (tests: retiring works) and how the files were read. */
  stats?: {peakConnections?: number; peakHandoffs?: number; merged?: boolean; clockOffsetsSec?: readonly number[] | null
    /** Per-view mode: most shown rows waiting for their handoff's latency at once. */
    peakWaitingRows?: number}
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
  const flagged = r.flagged?.toArray()
  r.flagged?.remove()
  const rows = r.rows.toArray()
  r.rows.remove()
  return {...r, rows, ...(flagged ? {flagged} : {})} as SessionsReport
}

/** The report with the rows sorted on disk and the flagged packets on disk (what the CLI prints, walking them): memory as the header says. */
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

/** Where the handoffs of the pass come from (see the header): made as it goes, or all of them before it. */
interface HandoffSource {
  index: HandoffIndex
  vantage: readonly VantageAssignment[]
  /** Seconds to subtract from each file's capture times to put them on the control messages' clock (files read merged). */
  clockOffsetsSec: readonly number[] | null
  /** Several files read merged by (corrected) time; false: one after the other (or one file). */
  merged: boolean
  /** Streaming: the handoffs made and let go as the pass goes; null: all held (the index has them all). */
  stream: StreamedHandoffs | null
  /** Held: every handoff (also the inferred ones). */
  all: HandoffInfo[]
  inference?: InferenceReport
  /** Some inferred handoff has a latency (its BE's SYN/ACK was captured): the note that says how it is taken. */
  inferredLatency: boolean
  spool: ControlSpool | null
  /** Streamed with --infer: the inferred handoffs, in hid order (inferred-spool.ts). */
  inferredSpool: InferredSpool | null
}

async function handoffSource(paths: string[], names: string[], port: number, opts: CollectOptions): Promise<HandoffSource> {
  const vantage = opts.vantage ?? []
  if (opts.infer && opts.streaming === false) return wholeInferred(paths, names, port, vantage)
  const fileName = (fi: number) => names[fi]!
  let hellos = new HelloAddresses()
  let spool = new ControlSpool()
  try {
    const whole = opts.streaming === false
    let pass = await readControlPass(paths, port, {spool, onOther: (m) => hellos.add(m), ...(whole ? {merged: false} : {})})
    let offsets: readonly number[] | null = null
    let merged = paths.length > 1 && !whole
    if (merged && pass.clockSpreadSec! > MAX_CLOCK_SPREAD_SEC) {
      // Clocks apart: merged by corrected times when every file's offset is known and the handoffs' messages come
      // from one file (whose clock the pass keeps), as check does; else read one after the other, every handoff held.
      merged = false
      const corrected = pass.clockOffsets !== null && pass.clockOffsets.residualSec <= MAX_CLOCK_SPREAD_SEC ? pass.clockOffsets.offsets : null
      if (corrected !== null) {
        const h2 = new HelloAddresses()
        const s2 = new ControlSpool()
        const p2 = await readControlPass(paths, port, {spool: s2, onOther: (m) => h2.add(m), clockOffsetsSec: corrected})
        if (p2.messageFiles.length <= 1 && p2.clockSpreadSec! <= MAX_CLOCK_SPREAD_SEC) {
          const ref = corrected[p2.messageFiles[0] ?? 0]!
          offsets = corrected.map((o) => o - ref)
          merged = true
          spool.remove()
          ;[spool, hellos, pass] = [s2, h2, p2]
        } else s2.remove()
      }
      if (!merged) {
        spool.remove()
        hellos = new HelloAddresses()
        spool = new ControlSpool()
        pass = await readControlPass(paths, port, {spool, onOther: (m) => hellos.add(m), merged: false})
      }
    }
    const nodeAddrs = nodeAddresses(hellos.byAddr, spool)
    const s = spool
    const streamed = !whole && (paths.length === 1 || merged)
    if (opts.infer && !streamed) {
      // Several files read one after the other: --infer recognises its handoffs over the whole traces, as before.
      s.remove()
      return await wholeInferred(paths, names, port, vantage)
    }
    let placed: VantageAssignment[]
    if (streamed) {
      // Views whose place neither --vantage nor the name tells: placed by the legs they show, the handoffs read from
      // the spool as that pass goes (as check does).
      placed = [...vantage, ...await inferViewKinds(paths, {feed: () => new HandoffFeed(s.reader()), any: () => spoolHasRequest(s),
        lookaheadSec: LOOKAHEAD_SEC, ...(offsets !== null ? {clockOffsetsSec: offsets} : {})}, port, vantage)]
      let inferred: InferredSpool | null = null
      try {
        let inference: InferenceReport | undefined
        let inferredLatency = false
        if (opts.infer) {
          // --infer: as check --infer, streamed into a spool of its own (windowed: the connections in progress only,
          // the handoffs' times on the pass's clock), the control channel's handoffs known from their spool; the
          // pass takes them from it as from the control spool.
          const run = await inferSpooled(paths, {controlPort: port, vantage: placed, control: s, merged,
            ...(offsets !== null ? {clockOffsetsSec: offsets} : {})})
          inferred = run.spool
          placed = run.vantage
          inference = run.result.report
          inferredLatency = addInferredAddresses(inferred, nodeAddrs).anyLatency
        }
        const stream = new StreamedHandoffs(s, nodeAddrs, port, placed, fileName, -Math.min(0, ...(offsets ?? [])),
          opts.lookaheadSec ?? LOOKAHEAD_SEC, inferred?.reader() ?? null)
        return {index: stream.index, vantage: placed, clockOffsetsSec: offsets, merged, stream, all: [], spool: s, inferredSpool: inferred,
          inferredLatency, ...(inference !== undefined ? {inference} : {})}
      } catch (e) {
        inferred?.remove()
        throw e
      }
    }
    const handoffs = new HandoffFeed(s.reader()).all()
    placed = [...vantage, ...await inferViewKinds(paths, handoffs, port, vantage)]
    const all = handoffs.map((h) => liveInfo(h, fileName))
    return {index: new HandoffIndex({handoffs: all, nodeAddrs, controlPort: port, vantage: placed}), vantage: placed, clockOffsetsSec: null,
      merged: false, stream: null, all, spool: s, inferredSpool: null, inferredLatency: false}
  } catch (e) {
    spool.remove()
    throw e
  }
}

/** --infer, every handoff assembled before the pass (control and inferred, over the whole traces), the files read one after the other. */
async function wholeInferred(paths: string[], names: string[], port: number, vantage: readonly VantageAssignment[]): Promise<HandoffSource> {
  const corr = await correlateHandoffs(paths, port, vantage, {infer: true})
  // The control pass names files by path: the spool's path is '<stdin>' to the user.
  for (const h of corr.handoffs) if (h.ackView !== null) h.ackView.file = names[h.ackView.fileIndex]!
  return {index: new HandoffIndex(corr), vantage: corr.vantage, clockOffsetsSec: null, merged: false, stream: null, all: corr.handoffs,
    inference: corr.inference, spool: null, inferredSpool: null, inferredLatency: corr.handoffs.some((h) => h.ackT !== null && h.inferred)}
}

/** Whether the spool holds a handoff-req at all (read up to the first one: the first record, as a rule). */
function spoolHasRequest(spool: ControlSpool): boolean {
  const r = spool.reader()
  for (let m = r.next(); m !== null; m = r.next()) if (m.msg.t === 'handoff-req') return true
  return false
}

async function collect(paths: string[], names: string[], filter: SessionFilter, opts: CollectOptions, onDisk: boolean): Promise<SpooledSessionsReport> {
  const portChoice = await resolveControlPort(paths, opts.controlPort)
  const src = await handoffSource(paths, names, portChoice.port, opts)
  try {
    return await sessionsPass(paths, names, filter, opts, onDisk, portChoice, src)
  } finally {
    src.spool?.remove()
    src.inferredSpool?.remove()
  }
}

async function sessionsPass(paths: string[], names: string[], filter: SessionFilter, opts: CollectOptions, onDisk: boolean,
  portChoice: Awaited<ReturnType<typeof resolveControlPort>>, src: HandoffSource): Promise<SpooledSessionsReport> {
  const perView = opts.perView ?? false
  const {index, stream} = src
  const skew = new SkewEstimator()
  // Files read merged: a segment's copies gathered for a while, so that its matches are those of the files read in turn.
  const matcher = new SegmentMatcher(skew, src.merged ? MAX_CLOCK_SPREAD_SEC + MATCH_SETTLE_SLACK_SEC : null)
  const merger = perView ? null : new ConnectionMerger()
  // Per file (files read merged: their views, rows and flagged packets come interleaved; reported in file order).
  const viewsOf: View[][] = paths.map(() => [])
  const files: FileSessionsResult[] = []
  const rowRuns = opts.runSize ?? (onDisk ? RUN_ROWS : Infinity)
  // Every flagged packet, as it comes (which are shown is known when their row, or connection, is made).
  const flagged = opts.flagged ? new FlaggedList(paths.length, opts.runSize ?? (onDisk ? RUN_RECORDS : Infinity)) : null
  // Counts per file, added up in file order at the end (their keys in the order the files read one after the other give).
  const anomaliesOf: Partial<Record<AnomalyName, number>>[] = paths.map(() => ({}))
  const ifaceNames = new Map<string, string | null>()
  // Per-view counts, of every row (shown or not).
  const rowStatesOf: Partial<Record<ConnState, number>>[] = paths.map(() => ({}))
  const rowKindsOf: Partial<Record<SessionKind, number>>[] = paths.map(() => ({}))
  let total = 0

  // Connections mode: the merged rows as the merger makes them (retired, or all at the end).
  const live = new LiveEndpoints()
  const list = new ConnectionList(rowRuns)
  const states = new FirstSeenCounts<ConnState>()
  const kinds = new FirstSeenCounts<SessionKind>()
  // With --anomalies, the sessions of the shown connections, by file name (their flagged packets are listed).
  const shownByName = new Map<string, StreamSet>()
  const label = (f: string, i: number) => ifaceNames.get(`${f}#${i}`) ?? null
  // Per-view mode: the shown rows, sorted by file (argument order), interface, first frame; a handoff's wait for
  // its latency (view-latency.ts) until it is let go (or the end); the sessions shown per file (their flagged packets).
  const order = new Map(names.map((n, i) => [n, i]))
  const viewRows = new SessionRowList(rowRuns)
  const viewLat = new ViewLatencies(label, (o, seq, row) => viewRows.add(o, seq, row))
  if (merger === null && stream !== null) stream.onLetGo = (h) => viewLat.done(h)
  const shownOf = paths.map(() => new StreamSet())
  const mergeOpts: MergeOptions = {latencyFor: (h, s) => latencyFor(h, s, label)}
  const made = (firstSeen: number, c: ConnectionRow) => {
    states.add(c.state, firstSeen)
    kinds.add(c.kind, firstSeen)
    if (!matchesConnection(c, filter)) return
    list.add(firstSeen, c)
    if (flagged !== null) {
      for (const x of c.seenAt) {
        let set = shownByName.get(x.file)
        if (set === undefined) shownByName.set(x.file, set = new StreamSet())
        set.add(x.stream)
      }
    }
  }
  // Retiring needs one clock: one file, or several read merged by (corrected) time (see the header).
  const oneClock = paths.length === 1 || src.merged
  const retiring = merger !== null && oneClock && opts.retire !== false
  const offsets = src.clockOffsetsSec ?? paths.map(() => 0)
  // A row's times are its file's: the merger's quiet time is measured this much earlier than the pass's clock, so that
  // a file whose clock is behind (times smaller) is not taken for quiet too soon.
  const mergerLag = Math.min(0, ...offsets)
  let now = -Infinity
  let nextRetire = -Infinity

  const fileOptions = (fi: number): {opts: SessionsOptions; done: (r: FileSessionsResult) => void} => {
    const file = names[fi]!
    const off = offsets[fi] ?? 0
    const fileViews = new FileViews(fi, file, src.vantage, (v) => viewsOf[fi]!.push(v))
    const ifNames: (string | null)[] = []
    const shownStreams = shownOf[fi]!
    const anomalies = anomaliesOf[fi]!
    const rowStates = rowStatesOf[fi]!
    const rowKinds = rowKindsOf[fi]!
    const o: SessionsOptions = {
      name: file,
      verifyChecksums: opts.verifyChecksums,
      onInterface: (i: CaptureInterface) => {
        ifNames[i.id] = i.name ?? null
        // Known before any row of the interface: a retired handoff's latency names its ack's view (the control channel's row comes last).
        ifaceNames.set(`${file}#${i.id}`, i.name ?? null)
      },
      // The handoffs made ahead of the packets (their rows are classified as the tracker makes them, during add).
      beforePacket: stream === null ? undefined : (t) => stream.advanceTo(t - off),
      onTcp: (dec, rec) => {
        const t = rec.tsSec + rec.tsNsec / 1e9
        const tc = t - off
        matcher.add(dec, fileViews.get(rec.interfaceId, ifNames[rec.interfaceId]), t, tc)
        if (stream === null && !retiring) return
        if (tc > now) now = tc
        if (now < nextRetire) return
        nextRetire = now + RETIRE_EVERY_SEC
        if (retiring) merger!.retire(now + mergerLag, RETIRE_AFTER_SEC, live, mergeOpts, made)
        stream?.retire(now, live)
      },
      onOpen: merger === null && stream === null ? undefined : (s) => live.open(s.client, s.clientPort, s.server, s.serverPort),
      onRow: (row, s) => {
        total++
        if (merger !== null || stream !== null) live.close(s.client, s.clientPort, s.server, s.serverPort)
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
          // Per-view rows get their latency from their hid's SYNs (view-latency.ts); merged ones from their group's (merge.ts).
          if (merger === null) viewLat.syn(h, syn)
        }
        rowStates[row.state] = (rowStates[row.state] ?? 0) + 1
        rowKinds[row.kind] = (rowKinds[row.kind] ?? 0) + 1
        for (const [k, v] of Object.entries(row.anomalies)) anomalies[k as AnomalyName] = (anomalies[k as AnomalyName] ?? 0) + (v ?? 0)
        if (merger !== null) merger.add({row, view, isn: clientIsn, first, last, handoff: c.handoff, syn})
        else if (matches(row, filter)) {
          viewLat.row(c.handoff, order.get(row.file) ?? 0, viewRows.nextSeq(), row)
          shownStreams.add(row.stream)
        }
      },
      onFlagged: flagged === null ? undefined : (p) => flagged.add(fi, p),
    }
    const done = (r: FileSessionsResult) => {
      files[fi] = r
    }
    return {opts: o, done}
  }

  if (src.merged) {
    // Several files at once, merged by (corrected) capture time: one clock, as with one file.
    const readers = paths.map((_, fi) => {
      const f = fileOptions(fi)
      return {reader: new FileSessionReader(names[fi]!, f.opts), done: f.done}
    })
    let ended = 0
    await readMerged(paths.map((path, fi) => ({path, handlers: readers[fi]!.reader.handlers, clockOffsetSec: offsets[fi] ?? 0})), {
      onFileEnd: (fi, e) => {
        // The last file's sessions left are finished with every handoff message applied.
        if (++ended === paths.length) stream?.finishFeed()
        readers[fi]!.done(readers[fi]!.reader.finish(e))
      },
    })
  } else {
    for (let fi = 0; fi < paths.length; fi++) {
      const f = fileOptions(fi)
      const last = fi === paths.length - 1
      f.done(await fileSessions(paths[fi]!, {...f.opts, beforeFinish: last && stream !== null ? () => stream.finishFeed() : undefined}))
    }
  }

  if (merger !== null) merger.retireAll(mergeOpts, made)
  stream?.finish()
  // Per-view rows of the handoffs left (every one, when they were all held) get their latency.
  if (merger === null) viewLat.finish(stream === null ? src.all : null)
  // Per-view: the packets of the sessions shown in their file; connections: of those of the shown connections.
  flagged?.finish(merger === null ? (fi, p) => shownOf[fi]!.has(p.stream) : (_, p) => shownByName.get(p.file)?.has(p.stream) ?? false)
  matcher.finish()
  const views = viewsOf.flat()
  const anomalies = addUp(anomaliesOf)
  const rowStates = addUp(rowStatesOf)
  const rowKinds = addUp(rowKindsOf)

  const skewOffsets = skew.offsets(views)
  const control = src.all.filter((h) => !h.inferred)
  const handoffCounts = stream !== null ? {...stream.counts} : {
    total: control.length,
    handedOff: control.filter((h) => h.outcome === 'handed-off').length,
    nacked: control.filter((h) => h.outcome === 'nacked').length,
    noReply: control.filter((h) => h.outcome === 'no-reply').length,
  }
  const base = {
    files,
    views: views.map((v, i): ViewInfo => ({file: v.file, iface: v.iface, name: v.name, vantage: v.kind, from: v.from,
      offsetMs: skewOffsets[i]!.offset === null ? null : Math.round(skewOffsets[i]!.offset! * 1e6) / 1e3,
      reference: skewOffsets[i]!.reference, samples: skewOffsets[i]!.samples})),
    notes: [...notes(perView, handoffCounts.handedOff > 0 && (stream !== null || control.some((h) => h.ackT !== null)), src.inference,
      src.inferredLatency), ...[controlPortNote(portChoice)].filter((n) => n !== null)],
  }
  const summaryOf = (byState: Partial<Record<ConnState, number>>, byKind: Partial<Record<SessionKind, number>>, connections: number | null) => {
    return {
      sessions: total, connections, byState, byKind,
      handoffs: handoffCounts,
      ...(src.inference ? {inference: src.inference} : {}),
      anomalies, tcpPackets: files.reduce((n, f) => n + f.tcpPackets, 0), vantagePoints: views.length,
      matchedSegments: matcher.matches,
    }
  }

  if (opts.stats) {
    opts.stats.peakHandoffs = stream !== null ? stream.peakHeld : src.all.length
    opts.stats.merged = src.merged
    opts.stats.clockOffsetsSec = src.clockOffsetsSec
    if (merger !== null) opts.stats.peakConnections = merger.peakOpen
    else opts.stats.peakWaitingRows = viewLat.peakWaiting
  }
  if (merger === null) {
    return {...base, mode: 'per-view', rows: viewRows, ...(flagged !== null ? {flagged} : {}),
      summary: {...summaryOf(rowStates, rowKinds, null), shown: viewRows.length}}
  }
  const summary = {...summaryOf(states.toRecord(), kinds.toRecord(), merger.connections), shown: list.length}
  return {...base, mode: 'connections', rows: list, ...(flagged !== null ? {flagged} : {}), summary}
}

/** Counts added up, the keys in order of their first appearance. */
function addUp<K extends string>(counts: readonly Partial<Record<K, number>>[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {}
  for (const c of counts) for (const [k, v] of Object.entries(c) as [K, number][]) out[k] = (out[k] ?? 0) + v
  return out
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

// `handoff check`: the traces against the spec (§5). Pipeline:
//   1. one pass over the control channel (correlate/control-pass.ts), decoded
//      once (control/channels.ts): the framing errors, and the control
//      messages, deduplicated (correlate/control.ts);
//   2. handoffs assembled by hid (correlate/assemble.ts);
//   3. one pass over every packet of every trace: segments of those
//      handoffs kept per leg and vantage point, return streams reassembled;
//   4. per handoff, the §5 checks (checks/), packet by packet where the other
//      side of the node is visible, by continuity from the client's side
//      where it is not; then the global ones (orphans, framing, control
//      checksums).
// With `infer`, between 2 and 3: handoffs of connections no control message
// names are recognised from the traffic and their Δ / τ recovered
// (correlate/infer.ts, two more passes, each holding the connections in
// progress only; several files read as step 3 reads them, below, the
// handoffs' times on the clock step 3 goes by), written to a spool of their
// own in hid order (correlate/inferred-spool.ts) and taken from it by step 3
// as it comes near, like the control channel's; the checks that judge only
// the control messages are not run on them (their `skip`). Each is judged
// and let go as soon as it is quiet, out of hid order (a long-lived one
// holds no later one back); the report lists them after the control
// channel's handoffs, in hid order, as if all judged at the end in that
// order: their summaries, clock samples and violations are kept apart and
// put at their place in hid order (segmentPass).
// Traffic of no handoff is read and dropped: it never raises a check id.
// Files are read twice (steps 1 and 3). Memory follows the active
// connections: step 1 writes the handoffs' messages to a temporary file
// (correlate/control-spool.ts) and step 3 makes each handoff from it as the
// pass comes near (correlate/handoff-feed.ts); each handoff is judged as
// soon as it is over (step 4 runs inside step 3), let go once no late
// forward can come, and its summary goes to disk (check-summaries.ts).
// Several files (several views of the same events) are read at once in
// steps 1 and 3 (and the inference's passes), merged by capture time
// (capture/merge.ts), so that they stream as one file does. Files whose
// clocks look too far apart for that (MAX_CLOCK_SPREAD_SEC) are merged by
// corrected times when the client SYNs and requests they share tell each
// one's offset (correlate/syn-clocks.ts; step 1 is then read again, on those
// times; reported times stay each capture's own); else they are read one
// after the other, as whole, the inference's passes holding every connection.
// Views placed by their traffic are placed by a pass of their own before
// step 3, which reads the handoffs from the spool as it goes too
// (correlate/vantage-infer.ts). With --infer, views still of unknown place
// are placed by the inferred handoffs' legs (their endpoints read from their
// spool, the only time they are all in memory), and the inference runs again.
// Step 1 keeps fingerprints of each request's `pkts`, not the `pkts`: when
// request-replay finds a request whose fingerprints differ from the client's
// segments, the control channel is read a third time after step 3, for the
// `pkts` of those requests only (checks/request-replay.ts).
import type {Readable} from 'node:stream'
import {spoolStream} from './capture/spool.js'
import {SummaryList} from './check-summaries.js'
import {resolveControlPort} from './control/port-discovery.js'
import {alignStateWithWire, collectSegments, dropSegs, LOOKAHEAD_SEC, type Handoff} from './correlate/assemble.js'
import {ControlSpool} from './correlate/control-spool.js'
import {HandoffFeed} from './correlate/handoff-feed.js'
import type {InferenceReport, InferredHandoff} from './correlate/infer.js'
import {inferSpooled} from './correlate/infer-spooled.js'
import {InferredSpool} from './correlate/inferred-spool.js'
import {readControlPass, readRequestPkts, type ControlPass} from './correlate/control-pass.js'
import {inferViewKinds} from './correlate/vantage-infer.js'
import {RankedSkewSamples, SkewEstimator} from './correlate/skew.js'
import type {VantageAssignment, View} from './correlate/vantage.js'
import * as lateForward from './checks/late-forward.js'
import {countsForChecksum} from './checks/checksums.js'
import {
  addSkewSamples, buildContext, checkControlFraming, checkControlIpChecksum, checkControlTcpChecksum, checkOrphanMessages, checkUnanswered,
  CHECK_IDS, CONNECTION_CHECKS, cutConnections,
  type CheckId, type Pair, type Violation,
} from './checks/index.js'
import {ViolationCollector, violationRunSize, ViolationList} from './check-violations.js'

export interface CheckOptions {
  /** Where '-' reads from (default process.stdin). */
  stdin?: Readable
  controlPort?: number
  vantage?: VantageAssignment[]
  /** Infer handoffs that no control message names from the traffic (correlate/infer.ts). */
  infer?: boolean
  /**
   * false: every handoff assembled before the segment pass (the tests compare the two). Default: the handoffs
   * made as the pass reaches them (correlate/handoff-feed.ts).
   */
  streaming?: boolean
  /** Streaming: how far ahead of the packets the control messages are applied (capture seconds; LOOKAHEAD_SEC). */
  lookaheadSec?: number
  /** Streaming: how long a handoff without terminate (an inferred one) may go without a segment before it is let go
   *  (capture seconds; IDLE_SEC), and, with --infer, how long pass B waits before deciding a quiet candidate. */
  idleSec?: number
  /** Tests: violations per sorted run on disk (runCheckSpooled; default external-sort.ts's RUN_RECORDS). */
  violationRunSize?: number
  /** Tests: how each run of the inference read the files, and the most it held at once (--infer). */
  onInference?: (x: InferenceRun) => void
  /** Tests: streaming with --infer, the most inferred handoffs the segment pass held at once (taken on, not let go). */
  onInferredHeld?: (peak: number) => void
}

/** What check --infer's inference did (CheckOptions.onInference). */
export interface InferenceRun {
  /** Passes A and B let connections and candidates go when quiet (one file, or several read merged). */
  windowed: boolean
  /** Several files read merged by corrected times: each file's offset (seconds) from the clock the pass goes by. */
  clockOffsetsSec: readonly number[] | null
  peakCandidates: number
  peakConnections: number
}

export interface HandoffSummary {
  hid: string
  connection: string
  outcome: 'handed-off' | 'nacked' | 'no-reply'
  backend?: string
  /** Segments kept, per leg. */
  legs: Record<string, number>
  /** Which checks could be judged packet by packet (the other side of the node was visible). */
  packetByPacket: {forward: number; forwardMatched: number; ret: number; retMatched: number}
  /** Segments of the connection whose TCP checksum could not be summed (not captured whole: snap length,
   *  IPv4 length 0 cut short): ip-/tcp-checksum not judged on them. Absent when 0. */
  checksumsNotJudged?: number
  state?: {delta: number; tau: number | null; wsF: number; wsB: number}
  stateError?: string
  violations: number
  /** Only on a handoff recovered from the traffic (--infer): how Δ / τ were found, the matches, the checks not run. */
  inferred?: {
    deltaFrom: InferredHandoff['deltaFrom']
    tauFrom: InferredHandoff['tauFrom']
    matches: InferredHandoff['matches']
    ciss: number
    fiss: number
    biss: number | null
    bmac: string | null
    notJudged: string[]
  }
}

export interface CheckReport {
  files: {file: string; error?: string}[]
  /** Each view, its vantage point, how that was decided, and its clock offset (ms) from the reference view,
   *  estimated from packets both captured (null: shares no packet with another view). */
  views: {file: string; iface: number; name: string; vantage: string; from: string; offsetMs: number | null; reference: string | null}[]
  packets: number
  handoffs: HandoffSummary[]
  violations: Violation[]
  summary: {errors: number; warnings: number; byId: Partial<Record<CheckId, number>>; handoffs: number; controlMessages: number}
  captureErrors: {file: string; message: string}[]
  /** Only with --infer: connections recognised as handed off without control messages. */
  inference?: InferenceReport
  /** Only when no --control-port was given and the control frames were found on a port other than 7070. */
  controlPortFound?: {port: number; frames: number; connections: number}
  /** What could not be judged because of the capture itself (snap length), in words. */
  notes: string[]
}

/**
 * The report for `paths`. Standard input ('-', once) is copied to a temporary
 * file first, since every file is read more than once (capture/spool.ts);
 * the report names it `<stdin>`.
 */
export async function runCheck(paths: readonly string[], opts: CheckOptions = {}): Promise<CheckReport> {
  const r = await runCheckWith(paths, opts, false)
  return {...r, handoffs: r.handoffs.toArray(), violations: r.violations.toArray()}
}

/** The report of a check whose per-handoff summaries and violations can be walked only (check-summaries.ts, check-violations.ts). */
export type SpooledCheckReport = Omit<CheckReport, 'handoffs' | 'violations'> & {handoffs: SummaryList; violations: ViolationList}

/**
 * runCheck with the per-handoff summaries and the violations on disk, walked in order when the
 * report is printed (the CLI: memory does not grow with the trace's handoffs or violations).
 */
export async function runCheckSpooled(paths: readonly string[], opts: CheckOptions = {}): Promise<SpooledCheckReport> {
  return runCheckWith(paths, opts, true)
}

async function runCheckWith(paths: readonly string[], opts: CheckOptions, onDisk: boolean): Promise<SpooledCheckReport> {
  if (!paths.includes('-')) return check(paths, opts, onDisk)
  if (paths.filter((p) => p === '-').length > 1) throw new CheckUsageError('standard input (-) can be read once only: give it once')
  const spool = await spoolStream(opts.stdin ?? process.stdin)
  try {
    return renameFile(await check(paths.map((p) => (p === '-' ? spool.path : p)), opts, onDisk), spool.path, '<stdin>')
  } finally {
    spool.remove()
  }
}

export class CheckUsageError extends Error {}

/** The report with every mention of file `from` (names, and paths inside messages) made `to`. */
function renameFile<T>(report: T, from: string, to: string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.split(from).join(to)
    if (v instanceof SummaryList) return v.mapped((s) => walk(s) as HandoffSummary)
    if (v instanceof ViolationList) return v.mapped((x) => walk(x) as Violation)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  return walk(report) as T
}

/** Whether the spool holds a handoff-req at all (read up to the first one: the first record, as a rule). */
function spoolHasRequest(spool: ControlSpool): boolean {
  const r = spool.reader()
  for (let m = r.next(); m !== null; m = r.next()) if (m.msg.t === 'handoff-req') return true
  return false
}

/**
 * Several files are read merged by capture time only when their clocks agree within this (seconds): the
 * copies of one control frame in two files, and the client SYNs two files share (correlate/syn-clocks.ts), no
 * further apart. Merged, a file
 * whose clock runs ahead by δ has its segments read δ late: a handoff is judged JUDGE_GRACE_SEC (5 s) after
 * its terminate, so δ up to 2 s still leaves 3 s of grace; a clock behind shortens the 120 s lookahead by as
 * much. Further apart, a merged pass could judge handoffs before some of their segments are read: the files
 * are then merged by corrected times when every file's clock offset is known (the client SYNs and requests they
 * share, within this of agreeing with each other), with the handoffs' messages from one file, whose clock the
 * pass keeps (--infer puts its handoffs' times on it too); else they are read one after the other, every handoff
 * held (as before the merge), and nothing is lost. Files that share no client SYN nor request with the others
 * are compared by their first packets, which cannot tell a late start from a clock that is off: such captures
 * started further apart than this are read that way too (more memory, same report).
 */
export const MAX_CLOCK_SPREAD_SEC = 2

/** Index of the first inferred handoff's summary (check --infer keeps them in a list of their own). */
const INFERRED_SUM = 2 ** 30

async function check(paths: readonly string[], opts: CheckOptions, onDisk: boolean): Promise<SpooledCheckReport> {
  // No --control-port: 7070, unless the control frames are on another port (control/port-discovery.ts).
  const portChoice = await resolveControlPort(paths, opts.controlPort)
  const port = portChoice.port
  const spool = new ControlSpool()
  let offsets: number[] | null = null
  try {
    const pass = await readControlPass(paths, port, {spool})
    if (paths.length === 1 || pass.clockSpreadSec! <= MAX_CLOCK_SPREAD_SEC) {
      return await checkWithSpool(paths, opts, port, portChoice, spool, pass, paths.length > 1, onDisk)
    }
    // Clocks apart, but every file linked to the others by client SYNs (or requests) they share, consistently:
    // read merged by the corrected times (with --infer too: the inference reads them so, its handoffs' times on
    // the corrected clock).
    if (pass.clockOffsets !== null && pass.clockOffsets.residualSec <= MAX_CLOCK_SPREAD_SEC) offsets = pass.clockOffsets.offsets
  } finally {
    spool.remove()
  }
  if (offsets !== null) {
    // The control pass again, merged by the corrected times (which copy of a frame is kept depends on the
    // order). The handoffs' times are those of the file their messages come from: the offsets are taken from
    // its clock. Messages kept from several files (on several clocks), or clocks that still look apart once
    // corrected: read one after the other, below.
    const corrected = new ControlSpool()
    try {
      const pass = await readControlPass(paths, port, {spool: corrected, clockOffsetsSec: offsets})
      if (pass.messageFiles.length <= 1 && pass.clockSpreadSec! <= MAX_CLOCK_SPREAD_SEC) {
        const ref = offsets[pass.messageFiles[0] ?? 0]!
        const clockOffsetsSec = offsets.map((o) => o - ref)
        return await checkWithSpool(paths, opts, port, portChoice, corrected, pass, true, onDisk, clockOffsetsSec)
      }
    } finally {
      corrected.remove()
    }
  }
  // Several files whose clocks look too far apart to be read merged: the control pass again, one file after the
  // other (which copy of a frame is kept depends on it), and every handoff held.
  const again = new ControlSpool()
  try {
    const pass = await readControlPass(paths, port, {spool: again, merged: false})
    return await checkWithSpool(paths, opts, port, portChoice, again, pass, false, onDisk)
  } finally {
    again.remove()
  }
}

/**
 * merged: several files, read merged by time (both passes); false: one after the other, or one file.
 * clockOffsetsSec: merged by corrected times (seconds off each file's capture times, the messages' file 0).
 */
async function checkWithSpool(paths: readonly string[], opts: CheckOptions, port: number,
  portChoice: Awaited<ReturnType<typeof resolveControlPort>>, spool: ControlSpool, pass: ControlPass, merged: boolean,
  onDisk: boolean, clockOffsetsSec?: readonly number[]): Promise<SpooledCheckReport> {
  let vantage = opts.vantage ?? []
  const controlMessages = pass.control.count
  const feed = new HandoffFeed(spool.reader())
  // Every handoff of the trace at once (assembleHandoffs's): only when something needs them all before the
  // segment pass. Otherwise the pass takes them from the feed as it reaches them (streaming).
  let all: Handoff[] | null = null
  const loadAll = (): Handoff[] => (all ??= feed.all())
  // Views whose place neither --vantage nor the name tells: placed by the legs they show (correlate/vantage-infer.ts),
  // the handoffs read from the spool as that pass goes.
  let anyRequest: boolean | undefined
  const placed = await inferViewKinds(paths, {feed: () => new HandoffFeed(spool.reader()), any: () => (anyRequest ??= spoolHasRequest(spool)),
    lookaheadSec: opts.lookaheadSec ?? LOOKAHEAD_SEC, ...(clockOffsetsSec ? {clockOffsetsSec} : {})}, port, vantage)
  vantage = [...vantage, ...placed]
  let inference: InferenceReport | undefined
  let inferErrors: {file: string; message: string}[] = []
  let inferred = null as InferredSpool | null
  try {
    if (opts.infer) {
      // One file, or several read merged (by corrected times when clockOffsetsSec): passes A and B let each
      // connection and candidate go once it has been quiet long enough (infer.ts), the handoffs' times on the
      // clock the segment pass goes by. Views still of unknown place are placed by the inferred handoffs' legs,
      // which are then inferred again (infer-spooled.ts).
      const windowed = paths.length === 1 || merged
      const run = await inferSpooled(paths, {controlPort: port, vantage, control: spool, merged, clockOffsetsSec,
        ...(opts.lookaheadSec !== undefined ? {lookaheadSec: opts.lookaheadSec} : {}), ...(opts.idleSec !== undefined ? {idleSec: opts.idleSec} : {}),
        onRun: (r) => opts.onInference?.({windowed, clockOffsetsSec: clockOffsetsSec ?? null, peakCandidates: r.peakCandidates,
          peakConnections: r.peakConnections})})
      inferred = run.spool
      vantage = run.vantage
      inference = run.result.report
      inferErrors = run.result.captureErrors
    }
    // Several files not read merged: a handoff's segments may be in any of them, each read whole in turn, so all
    // are held. (Merged, the segment pass goes through them as through one file: collectSegments.)
    if ((paths.length > 1 && !merged) || opts.streaming === false) {
      loadAll()
      if (inferred !== null) for (const r = inferred.reader(), x = {v: r.next()}; x.v !== null; x.v = r.next()) all!.push(x.v.h)
    }
    return await segmentPass(paths, opts, port, portChoice, feed, all, inferred, vantage, pass, merged, onDisk, controlMessages, inference, inferErrors,
      clockOffsetsSec)
  } finally {
    inferred?.remove()
  }
}

async function segmentPass(paths: readonly string[], opts: CheckOptions, port: number,
  portChoice: Awaited<ReturnType<typeof resolveControlPort>>, feed: HandoffFeed, all: Handoff[] | null, inferred: InferredSpool | null,
  vantage: VantageAssignment[], pass: ControlPass, merged: boolean, onDisk: boolean, controlMessages: number,
  inference: InferenceReport | undefined, inferErrors: {file: string; message: string}[],
  clockOffsetsSec: readonly number[] | undefined): Promise<SpooledCheckReport> {
  const {framing, uncaptured, control} = pass
  const sink = new ViolationCollector(opts.violationRunSize ?? violationRunSize(onDisk))
  const cut = cutConnections(uncaptured)
  let orphansNotJudged = 0
  let handoffCount = 0
  // The report lists the control channel's handoffs, then the inferred ones (in hid order): each kind has its
  // summaries, clock samples and violations apart, so that judging inferred handoffs as the pass goes gives
  // the report that judging them all at the end, in hid order, gave. The pass judges and lets go each inferred
  // handoff as soon as it is done with, out of hid order (a long-lived one holds no later one back), so what
  // is found of one is put at its place in hid order, its `rank` (inferred-spool.ts numbers them): its summary
  // at that index of a list kept by index, its violations taken as found in rank order (the collector's
  // laterRank), its clock samples kept as if added in rank order (RankedSkewSamples). A summary's index is its
  // list's, the inferred ones' from INFERRED_SUM on.
  const summaries = new SummaryList(onDisk)
  const inferredSummaries = SummaryList.byIndex(onDisk)
  const addViolations = (i: number, n: number) => {
    if (i >= INFERRED_SUM) inferredSummaries.addViolations(i - INFERRED_SUM, n)
    else summaries.addViolations(i, n)
  }
  // Each judged handoff's summary (its index), until it is retired.
  const summaryOf = new Map<Handoff, number>()
  // Handoffs whose request-replay waits for their `pkts` (checks/request-replay.ts), in judging order.
  const replayLater: {h: Handoff; sum: number}[] = []
  const skew = new SkewEstimator()
  const inferredSkew = new RankedSkewSamples()
  const judge = (h: Handoff) => {
    const before = sink.count
    const rank = rankOf(h)
    // Violations found now count toward the summary about to be added (duplicates taken off at the end).
    sink.scope = rank >= 0 ? INFERRED_SUM + rank : summaries.length
    sink.laterRank = rank
    if (rank >= 0) inferredSkew.at(rank)
    addSkewSamples(h, rank >= 0 ? inferredSkew : skew)
    alignStateWithWire(h)
    const ctx = buildContext(h, sink)
    const skip = h.inferred?.skip
    for (const c of CONNECTION_CHECKS) if (skip === undefined || !skip.includes(c.id as CheckId)) c.check(ctx)
    const sum = summarize(h, ctx.conn, ctx.fwd.length, matched(ctx.fwd), ctx.ret.length, matched(ctx.ret), sink.count - before)
    let i: number
    if (rank >= 0) inferredSummaries.put(rank, sum), i = INFERRED_SUM + rank
    else i = summaries.add(sum)
    sink.scope = -1
    sink.laterRank = -1
    summaryOf.set(h, i)
    if (h.replayLater) replayLater.push({h, sum: i})
    // Judged: let the headers go (forwarded segments seen later are collected again, for late-forward), and
    // what only judging used: the replayed packets and the translation state (late forwards are judged
    // without the client's segments, so without an expected rewrite).
    dropSegs(h)
    // Nothing reads the segments' bytes any more, unless request-replay still has to (its replayLater).
    if (!h.replayLater) h.arena?.release()
    h.arena = null
    h.streamEvents = null
    h.state = null
  }
  // The pass is done with h (judged, and past the time a late forward could still come): late-forward on the
  // segments forwarded since it was judged, and handoff-orphan on a request nobody answered.
  const retire = (h: Handoff) => {
    handoffCount++
    const sum = summaryOf.get(h)
    summaryOf.delete(h)
    if (h.segs.length > 0) {
      const ctx = buildContext(h, sink)
      const before = sink.count
      sink.scope = sum ?? -1
      sink.laterRank = rankOf(h)
      lateForward.check(ctx)
      sink.scope = -1
      sink.laterRank = -1
      if (sum !== undefined) addViolations(sum, sink.count - before)
      dropSegs(h)
    }
    h.arena?.release()
    h.arena = null
    sink.scope = -1 // (not counted in its summary)
    orphansNotJudged += checkUnanswered(h, sink, cut)
  }
  const source = all ?? {feed, lookaheadSec: opts.lookaheadSec ?? LOOKAHEAD_SEC, ...(inferred !== null ? {inferred: inferred.reader()} : {}),
    ...(opts.idleSec !== undefined ? {idleSec: opts.idleSec} : {})}
  const collected = await collectSegments(paths, source, {controlPort: port, vantage, judge, retire, merged,
    ...(clockOffsetsSec ? {clockOffsetsSec} : {})})
  if (collected.peakInferredHeld !== undefined) opts.onInferredHeld?.(collected.peakInferredHeld)
  if (replayLater.length > 0) {
    const pkts = await readRequestPkts(paths, port, replayLater.map(({h}) => ({fileIndex: h.req!.fileIndex, frame: h.req!.frame, hid: h.hid})))
    for (const {h, sum} of replayLater) {
      const before = sink.count
      sink.scope = sum
      h.replayLater!(pkts.get(h.hid)!)
      sink.scope = -1
      h.replayLater = null
      summaries.addViolations(sum, sink.count - before)
    }
  }
  sink.scope = -1
  orphansNotJudged += checkOrphanMessages(feed.orphans(), sink, cut)
  const notes = uncaptured.map((u) => `control channel ${u.connection}: not captured whole (snap length): ` +
    'messages in the bytes cut off not decoded, handoffs they announce not checked' + (orphansNotJudged > 0 ? `, handoff-orphan not judged (${orphansNotJudged})` : ''))
  checkControlFraming(framing, sink)
  checkControlIpChecksum(collected.controlBad, sink)
  checkControlTcpChecksum(collected.controlBad, sink)

  skew.append(inferredSkew)
  const offsets = skew.offsets(collected.views)
  const order = new Map(paths.map((p, i) => [p === '-' ? '<stdin>' : p, i]))
  // By handoff, connection, file, frame, check id. The raw comparisons after localeCompare's only order strings it
  // finds equal but are not (ignorable characters): so a connection's violations are always next to each other, which
  // the text and JUnit outputs rely on as they walk them once.
  const raw = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  const {list: violations, errors, warnings, byId} = sink.finish((a, b) => {
    const ha = a.hid ?? '\uffff'
    const hb = b.hid ?? '\uffff'
    return ha.localeCompare(hb) || raw(ha, hb) || Number(a.hid === undefined) - Number(b.hid === undefined) ||
      a.connection.localeCompare(b.connection) || raw(a.connection, b.connection) ||
      (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.frame - b.frame || CHECK_IDS.indexOf(a.id) - CHECK_IDS.indexOf(b.id)
  }, (sum) => addViolations(sum, -1))
  const captureErrors = dedupeErrors([...framing.captureErrors, ...control.captureErrors, ...inferErrors, ...collected.captureErrors])
  return {
    files: paths.map((p) => {
      const file = p === '-' ? '<stdin>' : p
      const e = captureErrors.find((x) => x.file === file)
      return e ? {file, error: e.message} : {file}
    }),
    views: collected.views.map((v: View, i) => ({file: v.file, iface: v.iface, name: v.name, vantage: v.kind, from: v.from,
      offsetMs: offsets[i]!.offset === null ? null : Math.round(offsets[i]!.offset! * 1e6) / 1e3, reference: offsets[i]!.reference})),
    packets: collected.packets,
    handoffs: summaries.followedBy(inferredSummaries),
    violations,
    summary: {
      errors, warnings, byId, handoffs: handoffCount, controlMessages,
    },
    captureErrors,
    ...(inference ? {inference} : {}),
    ...(portChoice.how === 'found' ? {controlPortFound: {port, frames: portChoice.frames!, connections: portChoice.connections!}} : {}),
    notes,
  }
}

/** An inferred handoff's place in hid order (its `rank`); -1 for a handoff of the control channel. */
function rankOf(h: Handoff): number {
  if (h.inferred === undefined) return -1
  if (h.rank === undefined) throw new Error(`internal error: inferred handoff ${h.hid} has no rank`)
  return h.rank
}

function dedupeErrors(l: {file: string; message: string}[]): {file: string; message: string}[] {
  const seen = new Set<string>()
  return l.filter((e) => (seen.has(e.file) ? false : (seen.add(e.file), true)))
}

/** Pairs with an expected rewrite (the other side of the node seen). */
function matched(pairs: readonly Pair[]): number {
  let n = 0
  for (const p of pairs) if (p.exp !== null) n++
  return n
}

/** conn: the handoff's connection label (correlate/assemble.ts connectionLabel; the context made it). */
function summarize(h: Handoff, conn: string, fwd: number, fwdM: number, ret: number, retM: number, violations: number): HandoffSummary {
  // Segments per leg, the legs in the order first met (counted in a list: a store per segment into the
  // summary's object, by a computed key, cost more than the rest of the summary), and those whose checksum
  // could not be judged.
  const order: string[] = []
  const counts: number[] = []
  let unjudged = 0
  for (const s of h.segs) {
    const leg = s.leg
    let i = 0
    while (i < order.length && order[i] !== leg) i++
    if (i === order.length) order.push(leg), counts.push(1)
    else counts[i]!++
    if (s.tcpCsum === 'unverified' && countsForChecksum(s)) unjudged++
  }
  const legs: Record<string, number> = {}
  for (let i = 0; i < order.length; i++) legs[order[i]!] = counts[i]!
  const out: HandoffSummary = {
    hid: h.hid, connection: conn,
    outcome: h.ack || h.inferred ? 'handed-off' : h.nack ? 'nacked' : 'no-reply',
    legs, packetByPacket: {forward: fwd, forwardMatched: fwdM, ret, retMatched: retM}, violations,
  }
  if (unjudged > 0) out.checksumsNotJudged = unjudged
  if (h.ack) out.backend = `${h.ack.msg.node} (${h.baddr})`
  if (h.inferred) {
    const i = h.inferred
    out.backend = h.baddr
    out.inferred = {deltaFrom: i.deltaFrom, tauFrom: i.tauFrom, matches: i.matches, ciss: i.ciss, fiss: i.fiss, biss: i.biss, bmac: i.bmac,
      notJudged: i.skip}
  }
  if (h.state) out.state = {delta: h.state.delta, tau: h.state.tsActive ? h.state.tau : null, wsF: h.state.wsF, wsB: h.state.wsB}
  if (h.stateError) out.stateError = h.stateError
  return out
}

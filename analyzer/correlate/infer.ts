// Handoffs inferred from the traffic alone (`handoff check --infer`): for
// connections no control message names (the control channel was not
// captured, or not for that pair of nodes), recognise handed-off client
// connections by their legs and recover the translation state (spec §4)
// from packets seen on both sides of a node, so that the §5 checks run on
// them as on handoffs assembled from the control channel.
//
// Recognising a handoff (pass A: SYN, SYN/ACK and a count per address; the
// client connection C = cip:cport → V = vip:vport is the one whose SYN was
// seen at the client side or on the LAN):
//   - forwarded: a segment from C, same client port, in C's sequence space,
//     addressed to B:vport with B ≠ V, seen on the LAN or at a node inside
//     (the BE's replayed SYN is one; the client side never sees these);
//   - answered by another node: a segment B:vport → C at a node-inside view
//     (the BE TCP's own segments, its SYN/ACK among them).
//   B = the address with the most such segments; V's SYN/ACK that acks
//   ciss + 1 is the FE's (first one captured), B's at a node inside the BE's.
//   The client's SYN and the FE's SYN/ACK must be captured: they anchor the
//   connection's numbers (fiss + 1 starts the stream the checks follow).
//
// Recovering Δ and τ (pass B, for those connections only):
//   - from the two SYN/ACKs when both were captured: Δ = biss − fiss and
//     τ = bts − fts, the spec's definitions (both mod 2^32);
//   - else from matched pairs, majority vote: a client segment (client side /
//     LAN) and its forwarded copy (LAN / BE inside) have the same seq, flags,
//     length, payload hash, TSval and IP ID: Δ = ack' − ack, τ = TSecr' −
//     TSecr; a BE TCP segment (node inside) and what the client got from V
//     have the same ack, flags, length, payload hash and IP ID: Δ = seq − seq',
//     τ = TSval − TSval'. A key with more than one distinct value on a side
//     (a retransmission without IP ID, IPv6) is ambiguous and left out.
//   Every pair that votes is counted as agreeing or disagreeing with the Δ /
//   τ taken; disagreeing pairs are what ack-remap, seq-remap and ts-remap
//   then report, packet by packet.
//   wsF / wsB from the SYN/ACKs' window-scale options (0 when absent), the
//   BE's MAC from the Ethernet destination of a forwarded frame.
//   Δ = 0 (the copy carries the client's own numbers) is an address
//   translator or L4 balancer, not a handoff: not inferred.
//
// Which checks of spec §5 run on an inferred handoff, and why:
//   judged as with the control channel (they read only the wire):
//     ip-checksum, tcp-checksum, addr-rewrite, seq-remap, sack-remap,
//     rst-leak, synack-leak, stream-gap;
//   ack-remap, ts-remap: judged against the Δ / τ taken. With the BE's
//     SYN/ACK captured that is the spec's Δ and every mistranslated segment is
//     found; from matches alone only the minority that disagrees is (a FE that
//     gets every ack wrong by the same amount looks like another Δ).
//     ts-remap is skipped when the FE's SYN/ACK had timestamps but τ could not
//     be recovered (no BE SYN/ACK, no pair carrying a timestamp);
//   window-rescale, option-mismatch: need the BE's SYN/ACK (wsB, its
//     options: option-mismatch compares it with the FE's on the wire instead
//     of fopt / bopt); skipped without it;
//   not judgeable, never run: isn-mismatch (compares the control messages'
//     ISNs with the wire: there are none, the state is built from the wire),
//     request-replay (what was replayed is the handoff-req's pkts),
//     late-forward (needs the terminate's time), handoff-orphan and
//     control-framing (control messages).
//
// Several files (check: one capture per vantage point) are read at once in
// both passes, merged by capture time (capture/merge.ts, `merged`), less each
// file's clock offset when check merges them by corrected times
// (`clockOffsetsSec`, syn-clocks.ts): the times the passes go by (their
// windows, the SYNs' order that gives the hids, which SYN/ACK came first) are
// then on that reference clock, and so are the SYN times given with the
// handoffs (the segment pass goes by the same clock); a SYN/ACK keeps its
// file's own time (WireSynAck.t). Where the reading order decides between
// equals (the BE's MAC, the client's echoed TSval, a tie in the other
// addresses' counts), the file earliest in argument order wins, as reading
// the files one after the other gives it. inferHandoffs (sessions --infer
// with files whose clocks cannot be put together) reads them one after the
// other.
//
// Known limits: a connection whose client SYN or FE SYN/ACK was not captured
// is not inferred. Segments of a connection read before its client's SYN
// are not counted as evidence: with the files read one after the other,
// forwarded segments in a file read before the one with the SYN; merged, a
// segment whose file's clock, uncorrected, runs behind enough to put it
// before the SYN (check merges uncorrected only within
// MAX_CLOCK_SPREAD_SEC; a connection's forwarded segments come after its
// request). SYN/ACKs are tied to their connection after it, whatever the
// order.
//
// Memory: pass A keeps a few numbers per connection whose SYN was captured
// and per SYN/ACK; pass B keeps, for the candidates only, one short key per
// distinct segment seen on each leg. Packets are decoded in place. With one
// file, or several read merged (`windowed`: check), both follow the
// connections in progress, not the trace: pass A is done with a connection
// IDLE_SEC after the last packet it tied to it (a SYN/ACK whose SYN it has
// not seen is kept as long), and the candidates go to disk sorted by the time
// of their SYN (external-sort.ts); pass B takes each on LOOKAHEAD_SEC before
// its SYN and decides it IDLE_SEC after the last segment it saw of it,
// forgetting its keys; the handoffs are given out in hid order: one decided
// before an earlier one waits for it, in memory up to HELD_DECIDED of them,
// past that on disk until the end of the pass (a connection that lives
// through the trace holds back every later one). So a connection quiet for
// IDLE_SEC that speaks again (or a SYN/ACK more than IDLE_SEC after its
// connection's last packet) is not seen whole, as with a handoff without
// terminate in the segment pass (assemble.ts). With several files read one
// after the other (not in time order: inferHandoffs, check when the files'
// clocks cannot be put together) every connection is held to the end.
import {readCapture} from '../capture/read.js'
import {readMerged} from '../capture/merge.js'
import type {CaptureHandlers} from '../capture/types.js'
import {joinSections} from '../capture/join-sections.js'
import {reassembleIp} from '../flows/ip-defrag.js'
import {CaptureError} from '../capture/types.js'
import type {CheckId} from '../checks/types.js'
import {PacketDecoder} from '../wire/decode.js'
import {LINKTYPE} from '../wire/linktype.js'
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {EngineConfigError, TranslationState, type TranslationValues} from '../../replayer/engine/state.js'
import {connectionLabel, IDLE_SEC, LOOKAHEAD_SEC, normAddr, type Handoff} from './assemble.js'
import {TimeHeap} from './time-heap.js'
import {ExternalSorter} from '../external-sort.js'
import {FileViews, type VantageAssignment, type View} from './vantage.js'

/** Prefix of an inferred handoff's hid (`inferred/1`, …; a number a control hid already uses is skipped). */
export const INFERRED_HID_PREFIX = 'inferred/'

/** Checks never run on an inferred handoff: they judge the control messages (see the header). */
export const NOT_JUDGEABLE_WHEN_INFERRED: readonly CheckId[] = ['isn-mismatch', 'request-replay', 'late-forward', 'handoff-orphan', 'control-framing']

export interface WireSynAck {
  seq: number
  /** TSval, null without the timestamp option. */
  tsVal: number | null
  /** Window-scale shift announced, -1 when none. */
  ws: number
  mss: number
  sack: boolean
  file: string
  /** The view that captured it (file in argument order, interface): `sessions --infer` times the handoff by it. */
  fileIndex: number
  iface: number
  frame: number
  t: number
}

/** What the inference found for one handoff: kept on the Handoff (`inferred`) and in the report. */
export interface InferredHandoff {
  ciss: number
  fiss: number
  biss: number | null
  /** How Δ was recovered: from the two SYN/ACKs, or the majority of matched pairs. */
  deltaFrom: 'syn-ack' | 'matches'
  /** How τ was recovered; null: no timestamp translation (not both SYN/ACKs had the option) or unknown (ts-remap skipped). */
  tauFrom: 'syn-ack' | 'matches' | null
  /** Matched pairs that voted, and how many agreed with the Δ / τ taken. */
  matches: {forward: number; ret: number; deltaAgree: number; deltaDisagree: number; tauAgree: number; tauDisagree: number; ambiguous: number}
  bmac: string | null
  feSynAck: WireSynAck
  beSynAck: WireSynAck | null
  /** Check ids not run on this handoff (not judgeable without the control channel, or without the BE's SYN/ACK). */
  skip: CheckId[]
}

export interface InferenceReport {
  /** Connections seen forwarded or answered by another node that no control message names. */
  candidates: number
  inferred: number
  /** Candidates not inferred, and why. */
  rejected: {connection: string; reason: string}[]
}

export interface InferenceResult {
  handoffs: Handoff[]
  report: InferenceReport
  captureErrors: {file: string; message: string}[]
}

interface Conn {
  cip: string
  cport: number
  vip: string
  vport: number
  ciss: number
  /** Capture time of the client's SYN, on the reference clock (orders the hids). */
  t: number
  fe: WireSynAck | null
  /** BE SYN/ACKs by source address (node inside). */
  be: Map<string, WireSynAck>
  /** Segments per other address: forwarded to it, or sent by it to the client at a node inside. */
  others: Map<string, {n: number; rank: number}>
  /** TSecr of the client's first request segment: the TSval of the FE SYN/ACK it accepted last, null when unseen. */
  echo: number | null
  /** The file echo was read from (read merged, a file earlier in argument order overrides it, as read one after the other). */
  echoFile: number
  /** Made n-th by pass A (orders connections whose SYNs have the same time). */
  seq: number
  /** Capture time (reference clock) of the last packet pass A tied to it. */
  last: number
  /** The SYN/ACKs that ack ciss + 1, in the order pass A read them; null: none. */
  synAcks: SynAckSeen[] | null
}

interface SynAckSeen {
  src: string
  sport: number
  inside: boolean
  /** Its capture time on the reference clock (s.t is its file's own). */
  at: number
  s: WireSynAck
}

/**
 * A candidate as pass A leaves it (a plain record: candidates are sorted on disk by the time of their SYN,
 * external-sort.ts): its connection, its SYN/ACKs, and the other address most of its segments went to or
 * came from.
 */
interface CandConn {
  seq: number
  t: number
  cip: string
  cport: number
  vip: string
  vport: number
  ciss: number
  fe: WireSynAck | null
  /** The other address, as the decoder wrote it. */
  baddr: string
  /** The BE SYN/ACK from baddr (its seq is biss), and the one from normAddr(baddr) (what estimate reads). */
  be: WireSynAck | null
  beNorm: WireSynAck | null
}

/**
 * The segments of one leg, by the fields the rewrite leaves alone: flat
 * records of REC numbers — six key fields (forward: seq, flags, length,
 * payload hash, TSval, IP ID; return: ack, flags, length, payload hash, 0,
 * IP ID; -1 = none), then the two values the rewrite changes (forward: ack,
 * TSecr; return: seq, TSval) — in a map by a hash of the key fields (a
 * number, so that a copy seen at another view is looked up without
 * allocating). Identical records are kept once.
 */
type Index = Map<number, number[]>
const REC = 8

interface Cand {
  c: CandConn
  baddr: string
  biss: number | null
  cli: Index
  fwd: Index
  ret: Index
  beRaw: Index
  bmac: string | null
  bmacFromLan: boolean
  bmacFile: number
  /** Its place in the candidates (by SYN time): the order hids are given in. */
  idx: number
  /** Capture time (reference clock) of its last segment seen by pass B (its SYN's before one). */
  last: number
  /** Decided: its segments no longer read. */
  done: boolean
}

const SA = TCP_FLAG.SYN | TCP_FLAG.ACK

/** A decided candidate waiting to be given out (a plain record: on disk past HELD_DECIDED, external-sort.ts). */
interface Decided {
  idx: number
  c: CandConn
  baddr: string
  inf: ReturnType<typeof estimate>
}

/**
 * Decided candidates pass B holds in memory while an earlier one is not decided (a few hundred bytes each):
 * past this many, they wait on disk.
 */
const HELD_DECIDED = 4096

/** A sequence number close enough to a connection's base to be its (the port may be reused with a new ISN). */
function near(x: number, base: number): boolean {
  const d = seqDiff(x, base)
  return d > -(1 << 20) && d < 1 << 30
}

function fnv(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  return h >>> 0
}

function mix(h: number, x: number): number {
  return Math.imul(h ^ x, 0x01000193)
}

function addRecord(ix: Index, a: number, b: number, c: number, d: number, e: number, f: number, v: number, ts: number): void {
  const key = mix(mix(mix(mix(mix(mix(0x811c9dc5, a), b), c), d), e), f) >>> 0
  const l = ix.get(key)
  if (l === undefined) { ix.set(key, [a, b, c, d, e, f, v, ts]); return }
  for (let i = 0; i < l.length; i += REC) {
    if (l[i] === a && l[i + 1] === b && l[i + 2] === c && l[i + 3] === d && l[i + 4] === e && l[i + 5] === f && l[i + 6] === v && l[i + 7] === ts) return
  }
  l.push(a, b, c, d, e, f, v, ts)
}

function sameKey(l: number[], i: number, m: number[], j: number): boolean {
  for (let x = 0; x < REC - 2; x++) if (l[i + x] !== m[j + x]) return false
  return true
}

/**
 * Pairs each copy (forwarded / BE's) with the original it has the same key
 * fields as (client's / what the client got), calling pair(copy value, copy
 * ts, original value, original ts). A key with more than one distinct record
 * on either side cannot be paired for sure: counted as ambiguous.
 */
function join(copies: Index, origs: Index, pair: (cv: number, cts: number, ov: number, ots: number) => void): number {
  let ambiguous = 0
  for (const [key, cl] of copies) {
    const ol = origs.get(key)
    if (ol === undefined) continue
    for (let i = 0; i < cl.length; i += REC) {
      let nc = 0
      let first = true
      for (let x = 0; x < cl.length; x += REC) {
        if (!sameKey(cl, i, cl, x)) continue
        nc++
        if (x < i) first = false
      }
      if (!first) continue // this key was handled at its first record
      let no = 0
      let j = -1
      for (let y = 0; y < ol.length; y += REC) if (sameKey(cl, i, ol, y)) { no++; j = y }
      if (no === 0) continue
      if (nc > 1 || no > 1) { ambiguous++; continue }
      pair(cl[i + 6]!, cl[i + 7]!, ol[j + 6]!, ol[j + 7]!)
    }
  }
  return ambiguous
}

/** Most voted value, first-seen on a tie; null when there are no votes. */
function majority(votes: Map<number, number>): number | null {
  let best: number | null = null
  let n = 0
  for (const [v, k] of votes) if (k > n) { best = v; n = k }
  return best
}

function total(votes: Map<number, number>): number {
  let n = 0
  for (const k of votes.values()) n += k
  return n
}

/** t: the capture time on the reference clock (the file's own less its clock offset); raw: the file's own. */
type PacketFn = (d: PacketDecoder, view: View, t: number, raw: number, linkType: number, frame: number) => void

/** How the passes read several files: merged by capture time (less each file's clock offset), or one after the other. */
interface PassOptions {
  controlPort: number
  vantage: readonly VantageAssignment[]
  /** Several files read at once, merged by capture time (capture/merge.ts); else one after the other. */
  merged?: boolean
  /** Merged: seconds to subtract from each file's capture times (check's corrected clocks). */
  clockOffsetsSec?: readonly number[] | undefined
}

/** One pass over the traces: every TCP segment outside the control port and control views, decoded in place. */
async function pass(paths: readonly string[], opts: PassOptions, fn: PacketFn,
  errors: {file: string; message: string}[] | null, onView?: (v: View) => void): Promise<void> {
  const merged = paths.length > 1 && opts.merged === true
  const dec = new PacketDecoder({verifyChecksums: false})
  const handlers = (fi: number): CaptureHandlers => {
    const path = paths[fi]!
    const views = new FileViews(fi, path === '-' ? '<stdin>' : path, opts.vantage, onView)
    const off = merged ? opts.clockOffsetsSec?.[fi] ?? 0 : 0
    return joinSections(reassembleIp({
      onInterface: (i) => { views.get(i.id, i.name) },
      onPacket: (rec) => {
        const d = dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen)
        if (d.transport !== 'tcp' || d.l4HeaderLen === 0 || d.isFragment) return
        if (d.srcPort === opts.controlPort || d.dstPort === opts.controlPort) return
        const view = views.get(rec.interfaceId)
        if (view.kind === 'control') return
        const raw = rec.tsSec + rec.tsNsec / 1e9
        fn(d, view, off === 0 ? raw : raw - off, raw, rec.linkType, rec.index)
      },
    }))
  }
  const fileError = (fi: number, e: CaptureError) => errors?.push({file: paths[fi] === '-' ? '<stdin>' : paths[fi]!, message: e.message})
  if (merged) {
    // (In file order, as read one after the other.)
    const failed: {fi: number; e: CaptureError}[] = []
    await readMerged(paths.map((path, fi) => ({path, handlers: handlers(fi), clockOffsetSec: opts.clockOffsetsSec?.[fi] ?? 0})),
      {onFileEnd: (fi, e) => { if (e !== null) failed.push({fi, e}) }})
    for (const {fi, e} of failed.sort((a, b) => a.fi - b.fi)) fileError(fi, e)
    return
  }
  for (let fi = 0; fi < paths.length; fi++) {
    try {
      await readCapture(paths[fi]!, handlers(fi))
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      fileError(fi, e)
    }
  }
}

function synAckOf(d: PacketDecoder, view: View, frame: number, t: number): WireSynAck {
  return {seq: d.seq, tsVal: d.hasTimestamp ? d.tsVal : null, ws: d.wscale, mss: d.mss, sack: d.sackPermitted, file: view.file,
    fileIndex: view.fileIndex, iface: view.iface, frame, t}
}

/**
 * What inference needs of the handoffs assembled from the control channel: the connections they name (client
 * endpoint, ISN), left to them, and their hids that look like an inferred one's, not reused. A few numbers per
 * handoff (check takes them from its spool, not from every handoff held).
 */
export class KnownHandoffs {
  private readonly byEp = new Map<string, number[]>()
  private readonly hids = new Set<string>()

  static of(list: readonly Handoff[]): KnownHandoffs {
    const k = new KnownHandoffs()
    for (const h of list) k.add(h)
    return k
  }

  add(h: Handoff): void {
    if (h.hid.startsWith(INFERRED_HID_PREFIX)) this.hids.add(h.hid)
    if (h.req === undefined) return
    const k = `${h.cip}|${h.cport}`
    const l = this.byEp.get(k)
    if (l) l.push(h.req.msg.ciss)
    else this.byEp.set(k, [h.req.msg.ciss])
  }

  /** Whether a control message names the connection of client cip:cport with ISN ciss. */
  names(cip: string, cport: number, ciss: number): boolean {
    return this.byEp.get(`${cip}|${cport}`)?.some((x) => near(ciss, x)) ?? false
  }

  taken(hid: string): boolean {
    return this.hids.has(hid)
  }
}

/**
 * A handoff inferred, with the capture time of its client's SYN (when the segment pass must know it) and
 * the values its translation state was made of (to make it again: inferred-spool.ts).
 */
export type InferredEmit = (h: Handoff, t: number, values: TranslationValues) => void

/**
 * Handoffs of the traces that no control message names, recovered from the
 * traffic. `known`: the handoffs assembled from the control channel — their
 * connections (client endpoint and ISN) are left to them, and their hids are
 * not reused.
 */
export async function inferHandoffs(paths: readonly string[], opts: {
  controlPort: number; vantage: readonly VantageAssignment[]; known: readonly Handoff[]
}): Promise<InferenceResult> {
  const handoffs: Handoff[] = []
  const r = await inferStreamed(paths, {...opts, known: KnownHandoffs.of(opts.known), windowed: false}, (h) => { handoffs.push(h) })
  return {handoffs, report: r.report, captureErrors: r.captureErrors}
}

export interface StreamedInference {
  report: InferenceReport
  captureErrors: {file: string; message: string}[]
  /** A view of the traces is of unknown place (vantage.ts's 'default'): what the inferred handoffs' legs may place. */
  unplaced: boolean
  /** The most candidates pass B held at once (their segments' keys). */
  peakCandidates: number
  /** The most client connections pass A held at once (their SYNs). */
  peakConnections: number
  /** The most decided candidates pass B held in memory at once, waiting for an earlier one to be decided. */
  peakDecided: number
  /** Whether decided candidates waited on disk (more than heldDecided at once). */
  decidedOnDisk: boolean
}

/**
 * inferHandoffs, each handoff given to `emit` as soon as it is decided, in hid order (the order of the
 * client SYNs' capture times, on the reference clock when clockOffsetsSec), with that time. windowed (one
 * file, or several merged): pass A lets a connection go IDLE_SEC after its last packet, pass B takes a
 * candidate on LOOKAHEAD_SEC before its SYN and decides it IDLE_SEC after the last segment it saw of it, so
 * they hold the connections and candidates in progress only; otherwise all are read to the end of the
 * traces (several files, read one after the other).
 */
export async function inferStreamed(paths: readonly string[], opts: PassOptions & {
  known: KnownHandoffs; windowed: boolean
  /** Windowed: LOOKAHEAD_SEC and IDLE_SEC unless given (tests). */
  lookaheadSec?: number; idleSec?: number
  /** Decided candidates held in memory while an earlier one is undecided: HELD_DECIDED unless given (tests). */
  heldDecided?: number
}, emit: InferredEmit): Promise<StreamedInference> {
  if (opts.windowed && paths.length > 1 && !opts.merged) throw new Error('internal error: several files are windowed only merged')
  const lookahead = opts.lookaheadSec ?? LOOKAHEAD_SEC
  const idle = opts.idleSec ?? IDLE_SEC
  const captureErrors: {file: string; message: string}[] = []
  let unplaced = false
  // Pass A: client connections (by their SYN), their SYN/ACKs, and the other addresses their segments go to / come from.
  // Windowed, a connection is done with IDLE_SEC after the last packet tied to it; else at the end of the pass.
  const conns = new Map<string, Conn[]>()
  let made = 0
  let live = 0
  let peakConnections = 0
  // rank: the file of the address's first segment (read merged, a tie goes to the address the files read one after
  // the other give first); a BE SYN/ACK's, tied at the end, after those.
  const bump = (c: Conn, addr: string, rank: number) => {
    const o = c.others.get(addr)
    if (o === undefined) c.others.set(addr, {n: 1, rank})
    else o.n++
  }
  // SYN/ACKs by "client address|client port|ack" whose connection pass A has not (yet) seen the SYN of: taken by
  // it when it comes (kept whatever the order of the files); windowed, forgotten IDLE_SEC after.
  const loose = new Map<string, SynAckSeen[]>()
  const looseEnds = new TimeHeap<string>()
  let looseSeq = 0
  // Candidates: forwarded or answered by another node, not named by a control message; sorted by the time of
  // their SYN (stable: in the order pass A made them), in memory or in runs on disk.
  const candidates = new ExternalSorter<CandConn>((a, b) => a.t - b.t || a.seq - b.seq, 'handoff-infer-candidates-')
  let viable = 0
  const connEnds = new TimeHeap<Conn>()
  // Each connection's SYN/ACKs (they ack ciss + 1): the VIP's is the FE's — the one whose TSval the client's
  // request echoes (a SYN/ACK the FE resent carries a later TSval, and the FE records the last one it sent, the one
  // the client answered), else the first captured (a BE SYN/ACK that leaked to the client comes later) —, another
  // node's at a node inside is that BE's.
  const finish = (c: Conn) => {
    // (Times compared on the reference clock.)
    let feAt = Infinity
    const beAt = new Map<string, number>()
    for (const x of c.synAcks ?? []) {
      if (x.sport !== c.vport) continue
      if (x.src === c.vip) {
        const echoed = c.echo !== null && x.s.tsVal === c.echo
        const feEchoed = c.fe !== null && c.echo !== null && c.fe.tsVal === c.echo
        if (c.fe === null || (echoed && !feEchoed) || (echoed === feEchoed && x.at < feAt)) { c.fe = x.s; feAt = x.at }
      } else if (x.inside) {
        if (!c.be.has(x.src) || x.at < beAt.get(x.src)!) { c.be.set(x.src, x.s); beAt.set(x.src, x.at) }
        bump(c, x.src, paths.length + x.s.fileIndex)
      }
    }
    c.synAcks = null
    if (c.others.size === 0) return
    if (opts.known.names(c.cip, c.cport, c.ciss)) return
    let baddr = ''
    let n = 0
    let rank = Infinity
    for (const [a, o] of c.others) if (o.n > n || (o.n === n && o.rank < rank)) { baddr = a; n = o.n; rank = o.rank }
    if (c.fe !== null) viable++
    candidates.add({seq: c.seq, t: c.t, cip: c.cip, cport: c.cport, vip: c.vip, vport: c.vport, ciss: c.ciss, fe: c.fe, baddr,
      be: c.be.get(baddr) ?? null, beNorm: c.be.get(normAddr(baddr)) ?? null})
  }
  const forget = (c: Conn) => {
    const key = `${c.cip}|${c.cport}`
    const l = conns.get(key)!
    l.splice(l.indexOf(c), 1)
    if (l.length === 0) conns.delete(key)
    live--
    finish(c)
  }
  let nextSecondA = -Infinity
  const tickA = (sec: number) => {
    nextSecondA = sec + 1
    while (connEnds.size > 0 && connEnds.firstT() < sec) {
      const c = connEnds.pop()
      if (c.last + idle < sec) forget(c)
      else connEnds.push(c.last + idle, c.seq, c)
    }
    while (looseEnds.size > 0 && looseEnds.firstT() < sec) {
      const k = looseEnds.pop()
      const l = loose.get(k)
      if (l === undefined) continue
      const kept = l.filter((x) => x.at + idle >= sec)
      if (kept.length === 0) loose.delete(k)
      else loose.set(k, kept)
    }
  }
  await pass(paths, opts, (d, view, t, raw, _lt, frame) => {
    if (opts.windowed && t >= nextSecondA) tickA(Math.floor(t))
    const flags = d.tcpFlags
    const sp = d.srcPort
    const dp = d.dstPort
    const src = d.srcAddr()
    if ((flags & SA) === SA) {
      const dst = d.dstAddr()
      const sa = {src, sport: sp, inside: view.kind === 'inside', at: t, s: synAckOf(d, view, frame, raw)}
      const l = conns.get(`${dst}|${dp}`)
      if (l !== undefined) {
        for (const c of l) {
          if (((c.ciss + 1) >>> 0) !== d.ack) continue
          ;(c.synAcks ??= []).push(sa)
          if (t > c.last) c.last = t
          return
        }
      }
      const k = `${dst}|${dp}|${d.ack}`
      const w = loose.get(k)
      if (w) w.push(sa)
      else loose.set(k, [sa])
      if (opts.windowed) looseEnds.push(t + idle, looseSeq++, k)
      return
    }
    const fromList = conns.get(`${src}|${sp}`)
    if ((flags & SA) === TCP_FLAG.SYN) {
      const dst = d.dstAddr()
      let same: Conn | undefined
      if (fromList) for (let i = fromList.length - 1; i >= 0 && same === undefined; i--) if (fromList[i]!.ciss === d.seq) same = fromList[i]
      if (same !== undefined) {
        // The client's SYN again (another view), or its replay to the BE.
        if (dst !== same.vip && dp === same.vport && view.kind !== 'client') bump(same, dst, view.fileIndex)
        if (t > same.last) same.last = t
        return
      }
      if (view.kind !== 'client' && view.kind !== 'lan') return
      const c: Conn = {cip: src, cport: sp, vip: dst, vport: dp, ciss: d.seq, t, fe: null, be: new Map(), others: new Map(), echo: null,
        echoFile: view.fileIndex, seq: made++, last: t, synAcks: null}
      const k = `${src}|${sp}|${(d.seq + 1) >>> 0}`
      const w = loose.get(k)
      if (w !== undefined) { c.synAcks = w; loose.delete(k) }
      if (fromList) fromList.push(c)
      else conns.set(`${src}|${sp}`, [c])
      if (opts.windowed) connEnds.push(t + idle, c.seq, c)
      if (++live > peakConnections) peakConnections = live
      return
    }
    if (fromList !== undefined) {
      if (d.hasTimestamp && d.payloadWireLen > 0 && (view.kind === 'client' || view.kind === 'lan')) {
        for (let i = fromList.length - 1; i >= 0; i--) {
          const c = fromList[i]!
          if (d.seq !== ((c.ciss + 1) >>> 0)) continue
          if ((c.echo === null || view.fileIndex < c.echoFile) && dp === c.vport && d.dstAddr() === c.vip) {
            c.echo = d.tsEcr
            c.echoFile = view.fileIndex
          }
          if (t > c.last) c.last = t
          break
        }
      }
      if (view.kind === 'client') return
      const dst = d.dstAddr()
      for (let i = fromList.length - 1; i >= 0; i--) {
        const c = fromList[i]!
        if (!near(d.seq, c.ciss)) continue
        if (dst !== c.vip && dp === c.vport) bump(c, dst, view.fileIndex)
        if (t > c.last) c.last = t
        return
      }
      return
    }
    const toList = conns.get(`${d.dstAddr()}|${dp}`)
    if (toList === undefined) return
    for (let i = toList.length - 1; i >= 0; i--) {
      const c = toList[i]!
      if (sp !== c.vport) continue
      if (!(flags & TCP_FLAG.ACK) || !near(d.ack, c.ciss)) continue
      if (src !== c.vip && view.kind === 'inside') bump(c, src, view.fileIndex)
      if (t > c.last) c.last = t
      return
    }
  }, captureErrors, (v) => { if (v.from === 'default') unplaced = true })
  // The connections left (all of them unless windowed).
  for (const l of conns.values()) for (const c of l) finish(c)
  conns.clear()
  loose.clear()

  const report: InferenceReport = {candidates: 0, inferred: 0, rejected: []}
  // Rejected for want of the FE's SYN/ACK are listed first, then those pass B rejects (both in candidate order).
  const rejectedLater: InferenceReport['rejected'] = []
  const sorted = candidates.sorted()
  let ahead: CandConn | null = null
  /** The next candidate pass B can take (counted, or rejected without the FE's SYN/ACK, on the way); null at the end. */
  const peekCand = (): CandConn | null => {
    while (ahead === null) {
      const x = sorted.next()
      if (x.done) return null
      report.candidates++
      if (x.value.fe === null) report.rejected.push({connection: connectionLabel(x.value), reason: 'the FE\'s SYN/ACK was not captured'})
      else ahead = x.value
    }
    return ahead
  }
  if (viable === 0) {
    while (peekCand() !== null) ahead = null
    candidates.remove()
    return {report, captureErrors, unplaced, peakCandidates: 0, peakConnections, peakDecided: 0, decidedOnDisk: false}
  }
  let nCands = 0
  const active = new Map<number, Cand>()
  const takeCand = (): Cand => {
    const c = ahead!
    ahead = null
    const k: Cand = {c, baddr: normAddr(c.baddr), biss: c.be?.seq ?? null, cli: new Map(), fwd: new Map(), ret: new Map(), beRaw: new Map(),
      bmac: null, bmacFromLan: false, bmacFile: 0, idx: nCands++, last: c.t, done: false}
    active.set(k.idx, k)
    return k
  }

  // Decided candidates, given out in candidate order (hids and rejections in that order, as they were when all
  // were decided at the end): one decided before an earlier one waits for it — in memory, up to heldDecided
  // of them (a long-lived connection holds back every later one); past that, the rest of the pass's go to disk,
  // sorted by candidate order (external-sort.ts), and are given out at the end of the pass.
  let next = 1
  let inferred = 0
  let emitted = 0
  const heldDecided = opts.heldDecided ?? HELD_DECIDED
  const decided = new Map<number, Decided>()
  let waiting: ExternalSorter<Decided> | null = null
  let peakDecided = 0
  const giveOut = ({c, baddr, inf}: Decided) => {
    if (typeof inf === 'string') {
      rejectedLater.push({connection: connectionLabel(c), reason: inf})
      return
    }
    let state: TranslationState
    const values = stateValues(c, baddr, inf)
    try {
      state = TranslationState.fromValues(values)
    } catch (e) {
      if (!(e instanceof EngineConfigError)) throw e
      rejectedLater.push({connection: connectionLabel(c), reason: e.message})
      return
    }
    while (opts.known.taken(`${INFERRED_HID_PREFIX}${next}`)) next++
    const hid = `${INFERRED_HID_PREFIX}${next++}`
    inferred++
    emit({
      hid, terminates: [], state, cip: normAddr(c.cip), cport: c.cport, vip: normAddr(c.vip), vport: c.vport, baddr,
      segs: [], judged: false, streamEvents: null, inferred: inf.info,
    }, c.t, values)
  }
  // Pass B: the candidates' segments on each leg, by the fields the rewrites leave alone; each candidate on the
  // index from LOOKAHEAD_SEC before its SYN (windowed) until decided.
  const byEp = new Map<string, Cand[]>()
  let taken = 0
  let held = 0
  let peakCandidates = 0
  const takeOn = (until: number) => {
    for (let c = peekCand(); c !== null && c.t <= until; c = peekCand()) {
      const k = takeCand()
      const key = `${k.c.cip}|${k.c.cport}`
      const l = byEp.get(key)
      if (l) l.push(k)
      else byEp.set(key, [k])
      if (opts.windowed) ends.push(k.last + idle, k.idx, k)
      if (++held > peakCandidates) peakCandidates = held
    }
  }
  const decide = (k: Cand) => {
    k.done = true
    held--
    const key = `${k.c.cip}|${k.c.cport}`
    const l = byEp.get(key)
    if (l !== undefined) {
      l.splice(l.indexOf(k), 1)
      if (l.length === 0) byEp.delete(key)
    }
    const x: Decided = {idx: k.idx, c: k.c, baddr: k.baddr, inf: estimate(k)}
    k.cli.clear(); k.fwd.clear(); k.ret.clear(); k.beRaw.clear()
    active.delete(k.idx)
    if (waiting !== null) { waiting.add(x); return }
    decided.set(x.idx, x)
    for (let y = decided.get(emitted); y !== undefined; y = decided.get(emitted)) {
      decided.delete(emitted)
      giveOut(y)
      emitted++
    }
    if (decided.size > peakDecided) peakDecided = decided.size
    if (decided.size > heldDecided) {
      waiting = new ExternalSorter<Decided>((a, b) => a.idx - b.idx, 'handoff-infer-decided-')
      for (const y of decided.values()) waiting.add(y)
      decided.clear()
    }
  }
  const ends = new TimeHeap<Cand>()
  let nextSecond = -Infinity
  const tick = (sec: number) => {
    nextSecond = sec + 1
    takeOn(sec + 1 + lookahead)
    while (ends.size > 0 && ends.firstT() < sec) {
      const k = ends.pop()
      if (k.done) continue
      if (k.last + idle < sec) decide(k)
      else ends.push(k.last + idle, k.idx, k)
    }
  }
  if (!opts.windowed) takeOn(Infinity)
  await pass(paths, opts, (d, view, t, _raw, linkType) => {
    if (opts.windowed && t >= nextSecond) tick(Math.floor(t))
    const sp = d.srcPort
    const dp = d.dstPort
    const src = d.srcAddr()
    let list = byEp.get(`${src}|${sp}`)
    const fromClient = list !== undefined
    const dst = d.dstAddr()
    if (list === undefined) list = byEp.get(`${dst}|${dp}`)
    if (list === undefined) return
    const flags = d.tcpFlags
    let k: Cand | undefined
    for (let i = list.length - 1; i >= 0 && k === undefined; i--) {
      const x = list[i]!
      if (fromClient ? near(d.seq, x.c.ciss) : flags & TCP_FLAG.ACK ? near(d.ack, x.c.ciss)
        : near(d.seq, x.c.fe!.seq) || (x.biss !== null && near(d.seq, x.biss))) k = x
    }
    if (k === undefined) return
    if (t > k.last) k.last = t
    const c = k.c
    const len = d.payloadWireLen
    const ipId = d.ipVersion === 4 ? d.ipv4Id : -1
    const ts = d.hasTimestamp
    if (fromClient) {
      if (dp !== c.vport) return
      const toVip = dst === c.vip
      if (toVip ? view.kind === 'inside' : view.kind === 'client' || dst !== k.baddr) return
      addRecord(toVip ? k.cli : k.fwd, d.seq, flags, len, fnv(d.bytes, d.payloadOffset, d.payloadOffset + d.payloadLen), ts ? d.tsVal : -1, ipId,
        flags & TCP_FLAG.ACK ? d.ack : -1, ts && d.tsEcr !== 0 ? d.tsEcr : -1)
      // The LAN's first, else the first of a node inside; read merged, from the file earliest in argument order (the
      // one files read one after the other give).
      if (!toVip && linkType === LINKTYPE.ETHERNET) {
        const lan = view.kind === 'lan'
        if (k.bmac === null || (lan && !k.bmacFromLan) || (lan === k.bmacFromLan && view.fileIndex < k.bmacFile)) {
          k.bmac = d.ethDst()
          k.bmacFromLan = lan
          k.bmacFile = view.fileIndex
        }
      }
      return
    }
    if (sp !== c.vport || (flags & TCP_FLAG.SYN)) return
    const fromVip = src === c.vip
    if (fromVip ? view.kind === 'inside' : view.kind !== 'inside' || src !== k.baddr) return
    addRecord(fromVip ? k.ret : k.beRaw, d.ack, flags, len, fnv(d.bytes, d.payloadOffset, d.payloadOffset + d.payloadLen), 0, ipId,
      d.seq, ts ? d.tsVal : -1)
  }, null)
  // The rest (all of them unless windowed), in candidate order.
  takeOn(Infinity)
  for (const k of [...active.values()]) decide(k)
  // (Set by decide: not null here as far as the compiler can tell.)
  const onDisk = waiting as ExternalSorter<Decided> | null
  if (onDisk !== null) {
    for (const x of onDisk.sorted()) giveOut(x)
    onDisk.remove()
  }
  candidates.remove()
  report.rejected.push(...rejectedLater)
  report.inferred = inferred
  return {report, captureErrors, unplaced, peakCandidates, peakConnections, peakDecided, decidedOnDisk: onDisk !== null}
}

/** The translation state's values of an inferred handoff (TranslationState.fromValues). */
function stateValues(c: CandConn, baddr: string, inf: Exclude<ReturnType<typeof estimate>, string>): TranslationValues {
  return {cip: c.cip, cport: c.cport, vip: c.vip, vport: c.vport, baddr,
    ...(inf.bmac ? {bmac: inf.bmac} : {}), delta: inf.delta, ...(inf.tau !== null ? {tau: inf.tau} : {}), wsF: inf.wsF, wsB: inf.wsB}
}

/** Δ, τ and the window-scale shifts of one candidate, or why it is not a handoff. */
function estimate(k: Cand): {delta: number; tau: number | null; wsF: number; wsB: number; bmac: string | null; info: InferredHandoff} | string {
  const c = k.c
  const fe = c.fe!
  const be = c.beNorm
  const dVotes = new Map<number, number>()
  const tVotes = new Map<number, number>()
  const vote = (m: Map<number, number>, v: number) => m.set(v, (m.get(v) ?? 0) + 1)
  let forward = 0
  let ret = 0
  // Forward: the copy's ack − the client's ack; TSecr likewise.
  let ambiguous = join(k.fwd, k.cli, (ack, ecr, cack, cecr) => {
    let voted = false
    if (ack >= 0 && cack >= 0) { vote(dVotes, (ack - cack) >>> 0); voted = true }
    if (ecr >= 0 && cecr >= 0) { vote(tVotes, (ecr - cecr) >>> 0); voted = true }
    if (voted) forward++
  })
  // Return: the BE's seq − what the client got; TSval likewise.
  ambiguous += join(k.beRaw, k.ret, (seq, tsv, rseq, rtsv) => {
    vote(dVotes, (seq - rseq) >>> 0)
    if (tsv >= 0 && rtsv >= 0) vote(tVotes, (tsv - rtsv) >>> 0)
    ret++
  })
  let delta: number
  let deltaFrom: InferredHandoff['deltaFrom']
  if (be !== null) {
    delta = (be.seq - fe.seq) >>> 0
    deltaFrom = 'syn-ack'
  } else {
    const m = majority(dVotes)
    if (m === null) return `no Δ: neither the BE's SYN/ACK nor a matched pair of segments was captured`
    delta = m
    deltaFrom = 'matches'
  }
  if (delta === 0) return 'Δ = 0: the copies carry the client\'s own numbers (an address translator, not a handoff)'
  const skip: CheckId[] = [...NOT_JUDGEABLE_WHEN_INFERRED]
  let tau: number | null = null
  let tauFrom: InferredHandoff['tauFrom'] = null
  if (be !== null) {
    // Spec §4: τ only when both SYN/ACKs carried the timestamp option.
    if (fe.tsVal !== null && be.tsVal !== null) { tau = (be.tsVal - fe.tsVal) >>> 0; tauFrom = 'syn-ack' }
  } else if (fe.tsVal !== null) {
    tau = majority(tVotes)
    if (tau !== null) tauFrom = 'matches'
    else skip.push('ts-remap')
  }
  if (be === null) skip.push('window-rescale', 'option-mismatch')
  const wsF = fe.ws >= 0 ? fe.ws : 0
  const wsB = be !== null ? (be.ws >= 0 ? be.ws : 0) : wsF
  const dAgree = dVotes.get(delta) ?? 0
  const tAgree = tau !== null ? tVotes.get(tau) ?? 0 : 0
  return {
    delta, tau, wsF, wsB, bmac: k.bmac,
    info: {
      ciss: c.ciss, fiss: fe.seq, biss: be?.seq ?? null, deltaFrom, tauFrom,
      matches: {forward, ret, deltaAgree: dAgree, deltaDisagree: total(dVotes) - dAgree, tauAgree: tAgree,
        tauDisagree: tau !== null ? total(tVotes) - tAgree : 0, ambiguous},
      bmac: k.bmac, feSynAck: fe, beSynAck: be, skip,
    },
  }
}

// Assembling each handoff: its control messages (req / ack / nack /
// terminate by hid) and the segments of its connection at every vantage
// point, each tagged with its leg.
//
// Legs, for a handoff with client C = cip:cport, VIP V = vip:vport and BE
// address B = baddr (the BE serves on vport: §4 keeps both ports):
//   'client'   C → V             client's own segments (client side, LAN; FE inside before the handoff)
//   'forward'  C → anything but V forwarded by the FE (LAN) or passed up by the BE's BTCP (BE inside)
//   'return'   anything → C, seen at the client side / LAN: what the client receives
//   'be-raw'   not V → C at a node-inside view: the BE's TCP before the return rewrite
//   'fe-own'   V → C at a node-inside view: the FE's TCP (its SYN/ACK, its reset)
// A segment is tied to a handoff by the client endpoint C (either side), or,
// when a port was rewritten by mistake, by the address pairs cip→baddr /
// vip→cip / baddr→cip; such a segment counts only if it matches a segment of
// the handoff by content (the checks do that).
//
// Memory: for each handoff, the headers (link + IP + TCP, no payload) of its
// segments are kept, with a payload hash; the client's first 64 KiB of
// request bytes are kept for `request-replay`. A handoff is judged, and its
// segments let go, once the capture time is JUDGE_GRACE_SEC past its
// terminate — with files read one after the other, only while the LAST file
// is read (a segment of it may sit in any earlier file, read before). Other
// traffic is decoded (no checksums summed) and dropped without allocating
// anything. The handoffs come one of two ways:
//   - a list, every handoff of the trace (several files whose clocks are
//     too far apart to be read merged; tests): all are indexed from the
//     start; several files are read merged unless opts.merged is false: one
//     after the other then, handoffs judged in the last file or at the end;
//   - streaming: a HandoffFeed (handoff-feed.ts) over the control pass's
//     spool, kept LOOKAHEAD_SEC of capture time ahead of the packets; a
//     handoff is indexed when its request is read from the spool, and let
//     go (retire) LATE_FORWARD_SEC after its terminate, or IDLE_SEC after its
//     last segment when it has none. With --infer, the handoffs inferred from
//     the traffic come the same way, from their own spool
//     (inferred-spool.ts): each indexed LOOKAHEAD_SEC before its client's
//     SYN, judged JUDGE_GRACE_SEC after its connection closes (it has no
//     terminate: noteClose), let go IDLE_SEC after its last segment (judged
//     then if it never closed), out of hid order: a long-lived one holds no
//     later one back (check.ts puts what it finds of them back in hid
//     order, the report's, by their `rank`). So memory follows the handoffs
//     in progress, not the trace's length.
// Several files are read at once, merged by capture time (capture/merge.ts),
// so the pass moves through time once as with one file, and judges with
// every file's segments up to then. What the report lists in file order
// (views, checksum verdicts of the control channel, capture errors, each
// handoff's segments) is put back in file order, as the files read one after
// the other give it.
// The translation state is built when a handoff's segments are first read
// and goes when it is judged.
import {readCapture} from '../capture/read.js'
import {readMerged, type MergeInput} from '../capture/merge.js'
import {joinSections} from '../capture/join-sections.js'
import {reassembleIp} from '../flows/ip-defrag.js'
import {CaptureError, type CaptureHandlers} from '../capture/types.js'
import type {HandoffAck, HandoffNack, HandoffReq, Terminate} from '../control/messages.js'
import {TcpStreamReassembler, type ReassemblyEvent} from '../flows/reassembly.js'
import {formatIpv6, parseIpv6, readU32} from '../wire/addr.js'
import {PacketDecoder, type ChecksumStatus} from '../wire/decode.js'
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {EngineConfigError, TranslationState} from '../../replayer/engine/state.js'
import {TimeHeap} from './time-heap.js'
import {ByteArena} from './byte-arena.js'
import {KeptSeg} from './kept-seg.js'
import type {FramedMessage} from './control.js'
import type {InferredHandoff} from './infer.js'
import {clientMss} from './offload.js'
import {payloadHash, payloadSum} from './payload-hash.js'
import {FileViews, viewKey, type VantageAssignment, type View} from './vantage.js'
import type {HandoffFeed} from './handoff-feed.js'

export type Leg = 'client' | 'forward' | 'return' | 'be-raw' | 'fe-own' | 'stray-forward' | 'stray-return' | 'other'

export interface Seg {
  view: View
  frame: number
  tsSec: number
  tsNsec: number
  t: number
  linkType: number
  /**
   * Copy of the frame up to the end of the TCP header: hdrBuf[hdrOff, hdrOff + hdrLen), a block of the handoff's
   * ByteArena (segHdr makes a view of it; none is made per segment).
   */
  hdrBuf: Uint8Array
  hdrOff: number
  hdrLen: number
  origLen: number
  v6: boolean
  src: string
  dst: string
  sport: number
  dport: number
  seq: number
  ack: number
  flags: number
  window: number
  /** Payload bytes on the wire. */
  len: number
  /** Of those, how many the capture cut off at its end (snap length): never seen, not missing. */
  cut: number
  /** FNV-1a of the captured payload. */
  hash: number
  /** Payload copy (client data segments within the first 64 KiB of the stream; super-segments to the client, see offload.ts), in the ByteArena. */
  payload?: Uint8Array
  /** Where the raw TCP options bytes sit in hdr (segOptions; offsets, not a view per segment). */
  optOff: number
  optLen: number
  ipId: number
  hasTs: boolean
  tsVal: number
  tsEcr: number
  sack: number[]
  mss: number
  ws: number
  sackPerm: boolean
  ipCsum: ChecksumStatus
  tcpCsum: ChecksumStatus
  leg: Leg
}

/** The copy of a segment's frame up to the end of its TCP header (a view of it: only read). */
export function segHdr(s: Seg): Uint8Array {
  return s.hdrBuf.subarray(s.hdrOff, s.hdrOff + s.hdrLen)
}

/** The raw TCP options bytes of a segment (a view of its header copy: only read). */
export function segOptions(s: Seg): Uint8Array {
  return s.hdrBuf.subarray(s.hdrOff + s.optOff, s.hdrOff + s.optOff + s.optLen)
}

export interface StreamEvent {
  view: View
  kind: 'gap' | 'mismatch'
  /** Sequence numbers (client space) of the range concerned. */
  seqFrom: number
  length: number
  frame: number
  detail: string
}

export interface Handoff {
  hid: string
  req?: FramedMessage & {msg: HandoffReq}
  ack?: FramedMessage & {msg: HandoffAck}
  nack?: FramedMessage & {msg: HandoffNack}
  terminates: (FramedMessage & {msg: Terminate})[]
  state: TranslationState | null
  stateError?: string
  cip: string
  cport: number
  vip: string
  vport: number
  baddr: string
  segs: Seg[]
  /** Judged already (its segments let go); later forwarded segments are still kept, for late-forward. */
  judged: boolean
  /**
   * The translation state is still to be built from req and ack (ensureState): assembleHandoffs's
   * deferState, so that a long trace holds it only for the handoffs being read, not all of them.
   */
  statePending?: boolean
  /** Where the header copies (and request payloads) of its kept segments live; null when none is kept. */
  arena?: ByteArena | null
  /** Reassembly events of the server → client stream seen from the VIP, per client-facing view ("file#iface"); null until one. */
  streamEvents: Map<string, StreamEvent[]> | null
  /**
   * request-replay could not settle it from the fingerprints of `pkts` (the control pass keeps no `pkts`):
   * the comparison to run once they are decoded again (check.ts, after the segment pass).
   */
  replayLater?: ((pkts: readonly Uint8Array[]) => void) | null
  /** Recovered from the traffic (check --infer; no control messages): ISNs, how Δ / τ were found, checks skipped. */
  inferred?: InferredHandoff
  /**
   * An inferred handoff: its place among them in hid order (0 on; inferred-spool.ts's order), which the report
   * lists them in whatever order they are judged.
   */
  rank?: number
}

/**
 * Lets a handoff's segments go (judged, or retired), leaving it an empty list. The Handoff outlives its segments
 * (it is made LOOKAHEAD_SEC ahead of them and kept LATE_FORWARD_SEC after its terminate), so it sits in the old
 * generation, its segs array with it, while the array's element store, grown as the segments came, is young.
 * A new array in its place (h.segs = []) would leave the dead old one pointing at that store, and a scavenge
 * takes every old-to-young pointer for live (it cannot know the old array is dead): the store and every segment
 * in it were copied, then promoted — all 1.4 M kept segments of the bench trace, ~300 MB, the mark-compacts'
 * to collect — although most are let go within milliseconds. Emptying the array first drops that pointer.
 * (A new array, not the emptied one: a list handed out before, e.g. wireIsns's cache, must not see it refill.)
 */
export function dropSegs(h: Handoff): void {
  h.segs.length = 0
  h.segs = []
}

export interface Orphan {
  m: FramedMessage
  hid: string
}

export function normAddr(s: string): string {
  if (!s.includes(':')) return s
  try {
    return formatIpv6(parseIpv6(s), 0)
  } catch {
    return s
  }
}

export function connectionLabel(h: {cip: string; cport: number; vip: string; vport: number}): string {
  const hp = (a: string, p: number) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`)
  return `${hp(h.cip, h.cport)} ↔ ${hp(h.vip, h.vport)}`
}

/**
 * Handoffs from the control messages; messages with no request are orphans
 * (req with no reply are found by the orphan check). deferState: leave the
 * translation state to ensureState (called when the handoff's segments are
 * read), rather than building it now for every handoff.
 */
export function assembleHandoffs(messages: readonly FramedMessage[], opts: {deferState?: boolean} = {}): {handoffs: Handoff[]; orphans: Orphan[]} {
  const byHid = new Map<string, Handoff>()
  const orphans: Orphan[] = []
  for (const m of messages) {
    const msg = m.msg
    if (msg.t === 'handoff-req') {
      if (byHid.has(msg.hid)) continue // a second request with the same hid: kept the first
      byHid.set(msg.hid, {
        hid: msg.hid, req: m as FramedMessage & {msg: HandoffReq}, terminates: [], state: null,
        cip: normAddr(msg.cip), cport: msg.cport, vip: normAddr(msg.vip), vport: msg.vport, baddr: '',
        segs: [], judged: false, streamEvents: null,
      })
    }
  }
  for (const m of messages) {
    const msg = m.msg
    if (msg.t !== 'handoff-ack' && msg.t !== 'handoff-nack' && msg.t !== 'terminate') continue
    const h = byHid.get(msg.hid)
    if (h === undefined) { orphans.push({m, hid: msg.hid}); continue }
    if (msg.t === 'handoff-ack') {
      if (h.ack === undefined) { h.ack = m as FramedMessage & {msg: HandoffAck}; h.baddr = normAddr(msg.baddr) }
    } else if (msg.t === 'handoff-nack') {
      if (h.nack === undefined) h.nack = m as FramedMessage & {msg: HandoffNack}
    } else h.terminates.push(m as FramedMessage & {msg: Terminate})
  }
  for (const h of byHid.values()) {
    if (opts.deferState) h.statePending = true
    else buildState(h)
  }
  return {handoffs: [...byHid.values()], orphans}
}

/** Builds the translation state of a handoff assembled with deferState, once (a no-op otherwise). */
export function ensureState(h: Handoff): void {
  if (!h.statePending) return
  h.statePending = false
  buildState(h)
}

function buildState(h: Handoff): void {
  if (!h.req || !h.ack) return
  try {
    h.state = TranslationState.fromControl(h.req.msg, h.ack.msg)
  } catch (e) {
    if (!(e instanceof EngineConfigError)) throw e
    h.stateError = e.message
  }
}

export interface ControlPacket {
  view: View
  frame: number
  connection: string
  ipCsum: ChecksumStatus
  tcpCsum: ChecksumStatus
}

export interface CollectResult {
  views: View[]
  packets: number
  /** Control-channel packets whose checksum is bad (verdicts only: the rest is not kept). */
  controlBad: ControlPacket[]
  captureErrors: {file: string; message: string}[]
  /** Streaming with inferred handoffs: the most of them held at once (taken on, not yet retired). */
  peakInferredHeld?: number
}

const REQ_KEEP = 64 * 1024

/** A dotted quad as its uint32, when it is the form the decoder prints (so numbers compare as the strings did); else -1. */
export function v4(s: string): number {
  // Read in place (it runs several times per handoff): four decimal parts of 0–255, dot-separated, with no
  // leading zero — exactly the strings formatIpv4 prints.
  const n = s.length
  if (n < 7 || n > 15) return -1
  let x = 0
  let part = 0
  let digits = 0
  let parts = 0
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2e
    if (c === 0x2e) {
      if (digits === 0 || part > 255 || ++parts > 4) return -1
      x = x * 256 + part
      part = 0
      digits = 0
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1 // a leading zero
      part = part * 10 + (c - 0x30)
      if (++digits > 3) return -1
    } else return -1
  }
  return parts === 4 ? x : -1
}

/** A handoff with its IPv4 addresses as numbers (-1: not IPv4), for the per-packet lookups. */
interface Entry {
  h: Handoff
  cip4: number
  vip4: number
  baddr4: number
  /** The order it came in (ties of the due heap). */
  seq: number
  /** Capture time of its last segment (or its request): a handoff without terminate is let go when idle. */
  last: number
  /** Reassemblers of its return stream, one per client-facing view that saw it from the VIP; null until one. */
  streams: Map<View, ReturnStream> | null
  /**
   * Per view, whether its client endpoint is this connection there: false from a client SYN to the VIP with
   * another ISN (another connection on the same 4-tuple: one before this one, or one after it ended), true
   * again from this one's own SYN (see pick). Absent: no client SYN seen at that view.
   */
  live?: Map<View, boolean>
  /**
   * An inferred handoff (no terminate): the FINs seen on the client's side, 1 from the client, 2 to it (3 both,
   * or an RST there), which close its connection: see noteClose.
   */
  fins?: number
}

/** A handoff's server → client stream as one client-facing view saw it from the VIP. */
interface ReturnStream {
  r: TcpStreamReassembler
  started: boolean
  arena: ByteArena
  /** Sequence number after the highest stream byte (or SYN / FIN) seen. */
  end: number
}

/** One empty list shared by every segment with no SACK block (read only). */
const NO_SACK: number[] = []

/** Capture time after a handoff's terminate at which it is judged and its segments let go. */
export const JUDGE_GRACE_SEC = 5

/**
 * Pass over the traces: every TCP segment tied to a handoff is kept (see the
 * header), client-facing return streams are reassembled on the fly, and the
 * control channel's checksums are verified.
 *
 * Per packet, the hot path: decode without summing checksums; find the
 * handoff by numeric keys (IPv4 address × 65536 + port; IPv6 falls back to
 * strings), so a packet of no handoff costs a decode and a map miss, and
 * allocates nothing; only a kept segment has its checksums verified, its
 * header copied and its payload hashed.
 */
export async function collectSegments(paths: readonly string[], source: readonly Handoff[] | StreamingSource, opts: {
  controlPort: number; vantage: readonly VantageAssignment[]
  /** Called once a handoff is over (terminate + JUDGE_GRACE_SEC of capture time, in the last file unless merged) or at the end. */
  judge?: (h: Handoff) => void
  /**
   * Called once the pass is done with a judged handoff: at the end for every handoff; while streaming, also
   * LATE_FORWARD_SEC after its terminate (forwarded segments kept since judging are in h.segs: late-forward's).
   */
  retire?: (h: Handoff) => void
  /** Several files: false reads them one after the other (clocks too far apart to merge them; never when streaming). */
  merged?: boolean
  /**
   * Merged files on clocks that differ: seconds to subtract from each file's capture times to put them on the
   * clock of the control messages (check.ts). The merge, and when handoffs are judged and let go, go by the
   * corrected times; segments keep their own.
   */
  clockOffsetsSec?: readonly number[]
}): Promise<CollectResult> {
  const streaming = isStreaming(source) ? source : null
  // Several files read at once, merged by time (see the header).
  const merged = paths.length > 1 && opts.merged !== false
  if (streaming !== null && paths.length > 1 && !merged) throw new Error('internal error: several files are streamed only merged')
  // Handoffs by client endpoint (either side of a segment) and by address pair (tied despite a wrong port).
  // IPv4 keys are the address | 0 (then the port): int32, which V8 keeps unboxed (an address × 65536 + port
  // key, up to 2^48, was a heap number made per lookup, three lookups a packet).
  const byEndpoint4 = new Map<number, Map<number, Entry[]>>()
  const byEndpoint6 = new Map<string, Entry[]>()
  const byPair4 = new Map<number, Map<number, Entry[]>>()
  const byPair6 = new Map<string, Entry[]>()
  const add = <K>(m: Map<K, Entry[]>, k: K, e: Entry) => {
    const l = m.get(k)
    if (l) l.push(e)
    else m.set(k, [e])
  }
  const drop = <K>(m: Map<K, Entry[]> | undefined, k: K, e: Entry) => {
    const l = m?.get(k)
    if (l === undefined) return
    const i = l.indexOf(e)
    if (i >= 0) l.splice(i, 1)
    if (l.length === 0) m!.delete(k)
  }
  const add2 = (mm: Map<number, Map<number, Entry[]>>, a: number, b: number, e: Entry) => {
    let m = mm.get(a | 0)
    if (m === undefined) mm.set(a | 0, (m = new Map()))
    add(m, b | 0, e)
  }
  const drop2 = (mm: Map<number, Map<number, Entry[]>>, a: number, b: number, e: Entry) => {
    const m = mm.get(a | 0)
    drop(m, b | 0, e)
    if (m !== undefined && m.size === 0) mm.delete(a | 0)
  }
  const addPair = (a: string, a4: number, b: string, b4: number, e: Entry) => {
    if (a4 < 0 || b4 < 0) add(byPair6, `${a}>${b}`, e)
    else add2(byPair4, a4, b4, e)
  }
  const dropPair = (a: string, a4: number, b: string, b4: number, e: Entry) => {
    if (a4 < 0 || b4 < 0) drop(byPair6, `${a}>${b}`, e)
    else drop2(byPair4, a4, b4, e)
  }
  // Every handoff indexed, in the order it came (judged at the end in that order).
  const entries = new Map<Handoff, Entry>()
  let nextSeq = 0
  const indexBaddr = (e: Entry) => {
    const h = e.h
    e.baddr4 = v4(h.baddr)
    addPair(h.cip, e.cip4, h.baddr, e.baddr4, e)
    addPair(h.baddr, e.baddr4, h.cip, e.cip4, e)
  }
  const index = (h: Handoff) => {
    const e: Entry = {h, cip4: v4(h.cip), vip4: v4(h.vip), baddr4: -1, seq: nextSeq++, last: h.req?.t ?? -Infinity, streams: null}
    entries.set(h, e)
    if (e.cip4 >= 0) add2(byEndpoint4, e.cip4, h.cport, e)
    else add(byEndpoint6, `${h.cip}|${h.cport}`, e)
    if (h.baddr !== '') indexBaddr(e)
    addPair(h.vip, e.vip4, h.cip, e.cip4, e)
    return e
  }
  const unindex = (e: Entry) => {
    const h = e.h
    entries.delete(h)
    if (e.cip4 >= 0) drop2(byEndpoint4, e.cip4, h.cport, e)
    else drop(byEndpoint6, `${h.cip}|${h.cport}`, e)
    if (h.baddr !== '') {
      dropPair(h.cip, e.cip4, h.baddr, e.baddr4, e)
      dropPair(h.baddr, e.baddr4, h.cip, e.cip4, e)
    }
    dropPair(h.vip, e.vip4, h.cip, e.cip4, e)
  }
  // Handoffs with a terminate, by its time (then the order they came): judged early while the last file is
  // read (earlier files may still hold segments of a handoff when several files are read one after the
  // other, so not before), or throughout when the files are read merged.
  const due = new TimeHeap<Entry>()
  // Streaming: handoffs by a time at or before the one they may be let go (endOf), checked once a second.
  const ends = new TimeHeap<Entry>()
  const idleSec = streaming?.idleSec ?? IDLE_SEC
  const endOf = (e: Entry) => e.h.terminates.length > 0 ? e.h.terminates[0]!.t + LATE_FORWARD_SEC : e.last + idleSec
  const handoffs = streaming ? streaming.feed.liveHandoffs() : source as readonly Handoff[]
  for (const h of handoffs) {
    const e = index(h)
    if (h.terminates.length > 0) due.push(h.terminates[0]!.t, e.seq, e)
    if (streaming) ends.push(endOf(e), e.seq, e)
  }
  if (streaming) {
    streaming.feed.attach({
      handoff: (h) => {
        const e = index(h)
        ends.push(endOf(e), e.seq, e)
      },
      ack: (h) => {
        const e = entries.get(h)
        if (e !== undefined) indexBaddr(e)
      },
      terminate: (h) => {
        const e = entries.get(h)
        if (e === undefined) return
        due.push(h.terminates[0]!.t, e.seq, e)
        // Its end may now come sooner than the idle one it was pushed with.
        ends.push(endOf(e), e.seq, e)
      },
    })
  }
  const views: View[] = []
  const controlBad: ControlPacket[] = []
  const captureErrors: CollectResult['captureErrors'] = []
  let packets = 0
  const finishStreams = (e: Entry) => {
    if (e.streams === null) return
    for (const st of e.streams.values()) { st.r.finish('end-of-trace'); st.arena.release() }
    e.streams = null
  }
  // Merged files: a handoff's segments in file order (then each file's own), as reading the files one after the
  // other gives them: the checks take the first of equals in that order.
  const inFileOrder = (h: Handoff) => {
    if (merged) h.segs.sort((a, b) => a.view.fileIndex - b.view.fileIndex)
  }
  const judgeNow = (e: Entry) => {
    const h = e.h
    if (h.judged) return
    inFileOrder(h)
    ensureState(h)
    finishStreams(e)
    opts.judge?.(h)
    h.judged = true
  }
  const retire = (e: Entry, now: number) => {
    judgeNow(e)
    inFileOrder(e.h)
    unindex(e)
    if (streaming?.inferred !== undefined && e.h.inferred !== undefined) inferredHeld--
    streaming?.feed.retire(e.h, now)
    opts.retire?.(e.h)
  }
  // An inferred handoff has no terminate: its connection's close, as the client's side of it shows (a FIN each way,
  // or an RST, from the client or from the VIP), stands for one. It is judged JUDGE_GRACE_SEC after that, as a
  // terminated handoff is, and its segments let go then, young, rather than IDLE_SEC after its last segment (a
  // connection that never closes still waits for that). Only what the client's TCP would take counts: a segment
  // with a good checksum, at a view that has seen this connection's own SYN (a FIN or RST of an earlier
  // connection on the same ports may come before it, within reach of its numbers: see pick), and to the client
  // only from the VIP (a BE's own segment leaking onto the LAN is not the FE's close). Streaming only: the pass
  // then moves through one clock (one file, or files merged), while files read one after the other may each hold
  // segments of it.
  const noteClose = (e: Entry, d: PacketDecoder, leg: Leg, view: View, src: string, t: number) => {
    const h = e.h
    if (leg === 'return' ? src !== h.vip || d.srcPort !== h.vport : leg !== 'client') return
    if (e.live?.get(view) !== true || d.ipChecksumStatus === 'bad' || d.l4ChecksumStatus === 'bad') return
    if (d.tcpFlags & TCP_FLAG.RST) e.fins = 3
    else e.fins = (e.fins ?? 0) | (leg === 'client' ? 1 : 2)
    if (e.fins === 3) due.push(t, e.seq, e)
  }
  // Streaming: once per second of capture time, the feed is read ahead and the handoffs done with are retired
  // (in the order they came), inferred ones too: each as soon as it is done with, whatever the inferred ones
  // before it in hid order still wait for (check.ts puts what it finds of them in hid order: their `rank`), so
  // that one long-lived inferred connection does not hold every later one back.
  let nextSecond = -Infinity
  const done = new Set<Entry>()
  const tick = (sec: number) => {
    nextSecond = sec + 1
    streaming!.feed.advanceTo(sec + 1 + streaming!.lookaheadSec)
    takeInferred(sec + 1 + streaming!.lookaheadSec)
    while (ends.size > 0 && ends.firstT() < sec) {
      const e = ends.pop()
      if (!entries.has(e.h) || done.has(e)) continue // retired already, or pushed twice
      const end = endOf(e)
      if (end < sec) done.add(e)
      else ends.push(end, e.seq, e)
    }
    if (done.size === 0) return
    for (const e of [...done].sort((a, b) => a.seq - b.seq)) retire(e, sec)
    done.clear()
  }
  /** Streaming: the inferred handoffs whose client SYN is at or before `until`, indexed. */
  const takeInferred = (until: number) => {
    const inf = streaming?.inferred
    if (inf === undefined) return
    for (let t = inf.peekT(); t !== null && t <= until; t = inf.peekT()) {
      const x = inf.next()!
      const e = index(x.h)
      e.last = x.t
      ends.push(endOf(e), e.seq, e)
      if (++inferredHeld > peakInferredHeld) peakInferredHeld = inferredHeld
    }
  }
  // Streaming: inferred handoffs taken on and not yet retired, and the most at once (CollectResult's).
  let inferredHeld = 0
  let peakInferredHeld = 0

  // Merged: the loop below only makes each file's handlers, and the files are read after it, all at once.
  const mergeInputs: MergeInput[] = []
  const read = async (path: string, handlers: CaptureHandlers, clockOffsetSec: number) => {
    if (merged) mergeInputs.push({path, handlers, clockOffsetSec})
    else await readCapture(path, handlers)
  }
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    const file = path === '-' ? '<stdin>' : path
    const judgeEarly = merged || fi === paths.length - 1
    // This file's clock offset from the control messages' (merged only): 0 as a rule.
    const off = merged ? opts.clockOffsetsSec?.[fi] ?? 0 : 0
    const fileViews = new FileViews(fi, file, opts.vantage, (v) => { views.push(v) })
    const dec = new PacketDecoder({verifyChecksums: false})
    try {
      await read(path, joinSections(reassembleIp({
        onInterface: (i) => { fileViews.get(i.id, i.name) },
        onPacket: (rec) => {
          packets++
          // The second of the pass, on the messages' clock.
          const sec = off === 0 ? rec.tsSec : Math.floor(rec.tsSec + rec.tsNsec / 1e9 - off)
          if (streaming !== null && sec >= nextSecond) tick(sec)
          if (judgeEarly && due.size > 0 && (packets & 255) === 0) {
            const now = rec.tsSec + rec.tsNsec / 1e9 - off
            while (due.size > 0 && due.firstT() + JUDGE_GRACE_SEC < now) judgeNow(due.pop())
          }
          // The record's buffer and offset, not rec.data: no view made per packet.
          const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
          if (d.transport !== 'tcp' || d.l4HeaderLen === 0 || d.isFragment) return
          const view = fileViews.get(rec.interfaceId)
          const sp = d.srcPort
          const dp = d.dstPort
          if (sp === opts.controlPort || dp === opts.controlPort) {
            d.verifyNow()
            if (d.ipChecksumStatus === 'bad' || d.l4ChecksumStatus === 'bad') {
              controlBad.push({view, frame: rec.index, connection: `${d.srcAddr()}:${sp} → ${d.dstAddr()}:${dp}`,
                ipCsum: d.ipChecksumStatus, tcpCsum: d.l4ChecksumStatus})
            }
            return
          }
          if (entries.size === 0) return
          // Which handoff, if any: numbers only for IPv4.
          let src4 = -1
          let dst4 = -1
          let src = ''
          let dst = ''
          let cands: Entry[] | undefined
          let fromClient: boolean
          if (d.ipVersion === 4) {
            src4 = readU32(d.bytes, d.ipSrcOffset)
            dst4 = readU32(d.bytes, d.ipDstOffset)
            cands = byEndpoint4.get(src4 | 0)?.get(sp)
            fromClient = cands !== undefined
            if (cands === undefined) cands = byEndpoint4.get(dst4 | 0)?.get(dp)
            if (cands === undefined) {
              cands = byPair4.get(src4 | 0)?.get(dst4 | 0)
              if (cands === undefined) return
              fromClient = cands[0]!.cip4 === src4
            }
          } else {
            src = d.srcAddr()
            dst = d.dstAddr()
            cands = byEndpoint6.get(`${src}|${sp}`)
            fromClient = cands !== undefined
            if (cands === undefined) cands = byEndpoint6.get(`${dst}|${dp}`)
            if (cands === undefined) {
              cands = byPair6.get(`${src}>${dst}`)
              if (cands === undefined) return
              fromClient = cands[0]!.h.cip === src
            }
          }
          const e = pick(cands, fromClient, d.seq, d.ack, d.tcpFlags, view, dst4, dp, d.ipVersion === 4 ? '' : (dst || d.dstAddr()))
          if (e === null) return
          const h = e.h
          // Addresses of a kept segment: the handoff's own strings when they are the handoff's addresses.
          if (src4 >= 0) {
            src = src4 === e.cip4 ? h.cip : src4 === e.vip4 ? h.vip : src4 === e.baddr4 ? h.baddr : d.srcAddr()
            dst = dst4 === e.cip4 ? h.cip : dst4 === e.vip4 ? h.vip : dst4 === e.baddr4 ? h.baddr : d.dstAddr()
          }
          const leg = legOf(h, src, dst, sp, dp, view)
          const t = rec.tsSec + rec.tsNsec / 1e9
          if (t - off > e.last) e.last = t - off
          // Judged: only a forwarded segment still matters (late-forward).
          if (h.judged && leg !== 'forward' && leg !== 'stray-forward') return
          if (h.statePending && !h.judged) ensureState(h)
          const payloadEnd = d.payloadOffset + d.payloadLen
          const hash = payloadHash(d.bytes, d.payloadOffset, payloadEnd)
          d.verifyNow(payloadSum())
          const hdrEnd = d.payloadOffset
          const isClientData = fromClient && d.payloadWireLen > 0 && h.req !== undefined &&
            seqDiff(d.seq, h.req.msg.ciss) >= 0 && seqDiff(d.seq, h.req.msg.ciss) < REQ_KEEP
          let sack = NO_SACK
          if (d.sackCount > 0) {
            sack = []
            for (let i = 0; i < 2 * d.sackCount; i++) sack.push(d.sackEdges[i]!)
          }
          const arena = h.arena ??= new ByteArena()
          const hdrBuf = arena.put(d.bytes, d.start, hdrEnd)
          const seg = new KeptSeg(view, rec.index, rec.tsSec, rec.tsNsec, rec.linkType, hdrBuf, arena.at, hdrEnd - d.start,
            rec.origLen, d.ipVersion === 6, src, dst, sp, dp, d.seq, d.ack, d.tcpFlags, d.window, d.payloadWireLen,
            d.payloadWireLen - d.payloadLen, hash, d.l4Offset + 20 - d.start,
            d.l4HeaderLen - 20, d.ipVersion === 4 ? d.ipv4Id : -1, d.hasTimestamp, d.tsVal, d.tsEcr, sack, d.mss, d.wscale,
            d.sackPermitted, d.ipChecksumStatus, d.l4ChecksumStatus, leg)
          const superSeg = d.payloadWireLen > clientMss(h) && (leg === 'be-raw' || leg === 'return')
          if (isClientData || superSeg) seg.payload = arena.copy(d.bytes, d.payloadOffset, payloadEnd)
          h.segs.push(seg)
          if (h.judged) return
          if (streaming !== null && h.inferred !== undefined && e.fins !== 3 && (d.tcpFlags & (TCP_FLAG.FIN | TCP_FLAG.RST))) {
            noteClose(e, d, leg, view, src, t - off)
          }
          // Client-facing return stream from the VIP: reassembled as the client would see it.
          if ((view.kind === 'client' || view.kind === 'lan') && h.state !== null) {
            const fromVip = src === h.vip && sp === h.vport && dst === h.cip && dp === h.cport
            const toVip = src === h.cip && sp === h.cport && dst === h.vip && dp === h.vport
            if (!fromVip && !toVip) return
            const streams = e.streams ??= new Map()
            let s = streams.get(view)
            if (s === undefined) {
              const evs: StreamEvent[] = []
              ;(h.streamEvents ??= new Map()).set(viewKey(view), evs)
              // Copies into buffers of the stream's own (its chunks are read by no one: only gaps and mismatches matter).
              const arena = new ByteArena()
              const r: TcpStreamReassembler = new TcpStreamReassembler({
                onData: () => {},
                onGap: (off, length, frame) => evs.push({view, kind: 'gap', seqFrom: r.seqOf(off), length, frame,
                  detail: `${length} byte(s) never seen at stream offset ${off}`}),
                onEvent: (ev: ReassemblyEvent) => {
                  if (ev.kind === 'overlap-mismatch') {
                    evs.push({view, kind: 'mismatch', seqFrom: r.seqOf(ev.streamOffset), length: ev.length, frame: ev.frame,
                      detail: `${ev.length} byte(s) at stream offset ${ev.streamOffset} repeated with different content (first copy frame ${ev.firstFrame})`})
                  }
                },
              }, {copy: (src, a, e) => arena.copy(src, a, e)})
              s = {r, started: false, arena, end: 0}
              streams.set(view, s)
            }
            const bad = d.ipChecksumStatus === 'bad' || d.l4ChecksumStatus === 'bad'
            if (fromVip && !bad && !(d.tcpFlags & TCP_FLAG.RST)) {
              const isSynAck = (d.tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === (TCP_FLAG.SYN | TCP_FLAG.ACK)
              // Only the first SYN/ACK from the VIP (the FE's) starts the stream; a later or leaked one is left out.
              if (isSynAck && s.started) return
              if (!isSynAck && !s.started) return // stream must start from the FE's SYN/ACK
              // Pure ACKs carry no stream bytes (and one past a held FIN would read as a hole at the FIN).
              if (!isSynAck && d.payloadWireLen === 0 && !(d.tcpFlags & TCP_FLAG.FIN)) return
              // A keep-alive probe carries no stream byte: seq = SND.NXT − 1 with one garbage octet
              // (RFC 1122 §4.2.3.6, BSD stacks), which would otherwise read as a byte repeated with
              // different content.
              if (s.started && d.payloadWireLen === 1 && !(d.tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.FIN)) &&
                ((d.seq + 1) >>> 0) === s.end) return
              const next = (d.seq + d.payloadWireLen + (d.tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.FIN) ? 1 : 0)) >>> 0
              if (!s.started || seqDiff(next, s.end) > 0) s.end = next
              s.started = true
              s.r.segment(d.seq, d.tcpFlags, d.bytes.subarray(d.payloadOffset, payloadEnd), rec.index, d.payloadWireLen)
            } else if (toVip && !bad && (d.tcpFlags & TCP_FLAG.ACK) && s.started) {
              s.r.acked(d.ack, rec.index)
            }
          }
        },
      })), off)
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      captureErrors.push({file, message: e.message})
    }
  }
  if (merged) {
    const errors: {fi: number; message: string}[] = []
    await readMerged(mergeInputs, {onFileEnd: (fi, e) => { if (e !== null) errors.push({fi, message: e.message}) }})
    // In file order (stable sorts: each file's own order kept), as the files read one after the other give them.
    for (const {fi, message} of errors.sort((a, b) => a.fi - b.fi)) captureErrors.push({file: paths[fi] === '-' ? '<stdin>' : paths[fi]!, message})
    views.sort((a, b) => a.fileIndex - b.fileIndex)
    controlBad.sort((a, b) => a.view.fileIndex - b.view.fileIndex)
  }
  // Messages read ahead of the last packet, and any after it: their handoffs have no segment, but are judged.
  streaming?.feed.advanceTo(Infinity)
  takeInferred(Infinity)
  for (const e of entries.values()) judgeNow(e)
  for (const e of [...entries.values()]) retire(e, Infinity)
  return {views, packets, controlBad, captureErrors, ...(streaming?.inferred !== undefined ? {peakInferredHeld} : {})}
}

/** The handoffs from the control spool as the pass reaches them (handoff-feed.ts), for files read once (several: merged by time). */
export interface StreamingSource {
  feed: HandoffFeed
  /** How far ahead of the packets (capture seconds) the control messages are applied: see LOOKAHEAD_SEC. */
  lookaheadSec: number
  /**
   * Handoffs inferred from the traffic (check --infer: inferred-spool.ts), in hid order, which is the order of
   * their client SYNs' times: each taken on lookaheadSec before its SYN, judged once its connection closes, let go
   * IDLE_SEC after its last segment (it has no terminate), whether the inferred ones before it are let go yet or not.
   */
  inferred?: {peekT(): number | null; next(): {h: Handoff; t: number} | null}
  /** How long a handoff without terminate may go without a segment before it is let go: IDLE_SEC unless given (tests). */
  idleSec?: number
}

function isStreaming(s: readonly Handoff[] | StreamingSource): s is StreamingSource {
  return !Array.isArray(s)
}

/**
 * Streaming: how far ahead of the packets the handoffs are made. A connection's first segments come before its
 * handoff-req (the FE sends it once it has read the request head), so a handoff must be known that long
 * before: 120 s is twice nginx's default client_header_timeout (60 s), after which a front-end would have
 * dropped the connection rather than handed it off.
 */
export const LOOKAHEAD_SEC = 120

/** Streaming: capture time after a handoff's terminate during which a forwarded segment is still kept (late-forward). */
export const LATE_FORWARD_SEC = 120

/** Streaming: a handoff without terminate is judged and let go after this long without a segment of it. */
export const IDLE_SEC = 300

/**
 * Which handoff a segment tied by its client endpoint belongs to: a client
 * port may be reused (a new connection, a new ISN), so the segment must fall
 * in that connection's sequence space — from the client, seq near ciss; to
 * the client, ack near ciss + 1, or (no ACK) seq near fiss or biss; or a
 * reset at seq ciss + 1 (the FE's local reset turned toward the client:
 * rst-leak's). None fits: the segment is another connection's (null).
 */
function near(x: number, base: number): boolean {
  const d = seqDiff(x, base)
  return d > -(1 << 20) && d < 1 << 30
}

function pick(cands: Entry[], fromClient: boolean, seq: number, ack: number, flags: number, view: View, dst4: number, dport: number,
  dst6: string): Entry | null {
  // A client SYN to the VIP opens a connection on the 4-tuple at this view: this handoff's (its ISN) or
  // another's (a reused port: a local connection before or after it, or another handoff). The segments of
  // that view that follow belong to the connection it opened, whatever their sequence numbers.
  const syn = fromClient && (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN
  let own: Entry | null = null
  for (let i = cands.length - 1; i >= 0; i--) {
    const e = cands[i]!
    const h = e.h
    const m0 = h.req?.msg ?? h.inferred!
    if (syn && (e.cip4 >= 0 ? dst4 === e.vip4 : dst6 === h.vip) && dport === h.vport) {
      // Its ISN; or, before that view saw its SYN, one a few numbers off (a handoff-req whose ciss is wrong:
      // isn-mismatch's to report). A new connection on the port once this one's SYN was seen is never it.
      const mine = seq === m0.ciss || (e.live?.get(view) !== true && Math.abs(seqDiff(seq, m0.ciss)) < 1 << 16)
      ;(e.live ??= new Map()).set(view, mine)
      if (mine && own === null) own = e
      continue
    }
    if (e.live !== undefined && e.live.get(view) === false) continue
    if (own !== null) continue
    // An inferred handoff has no messages: its ISNs are the wire's.
    const m = m0
    const biss = h.ack?.msg.biss ?? h.inferred?.biss ?? null
    if (fromClient ? near(seq, m.ciss)
      : flags & TCP_FLAG.ACK ? near(ack, m.ciss) || (flags & TCP_FLAG.RST && seq === ((m.ciss + 1) >>> 0))
        : near(seq, m.fiss) || (biss !== null && near(seq, biss))) return e
  }
  return own
}

function legOf(h: Handoff, src: string, dst: string, sport: number, dport: number, view: View): Leg {
  const toVip = dst === h.vip && dport === h.vport
  const fromClient = src === h.cip
  const toClient = dst === h.cip && dport === h.cport
  if (fromClient && toVip && sport === h.cport) return 'client'
  // Tied by address pair only (a port differs): counts only when it matches a segment of the handoff by content.
  if (fromClient && sport !== h.cport) return view.kind === 'client' ? 'other' : 'stray-forward'
  if (fromClient) return view.kind === 'client' ? 'other' : 'forward'
  if (toClient) {
    if (view.kind === 'inside') return src === h.vip && sport === h.vport ? 'fe-own' : 'be-raw'
    return 'return'
  }
  if (dst === h.cip) return view.kind === 'inside' ? 'other' : 'stray-return'
  return 'other'
}

export interface WireIsns {
  /** The client's SYN (any view). */
  syn?: Seg
  /** The FE's SYN/ACK: the first SYN/ACK from the VIP that acknowledges the client's SYN (client side, LAN, FE inside). */
  feSynAck?: Seg
  /** The BE TCP's SYN/ACK (node inside). */
  beSynAck?: Seg
}

const SA = TCP_FLAG.SYN | TCP_FLAG.ACK

/** The SYN and SYN/ACKs of a handoff's connection as captured (earliest copy of each). */
export function wireIsns(h: Handoff): WireIsns {
  // Judging asks several times for the same handoff's (alignStateWithWire, buildContext, isn-mismatch): the last
  // answer is kept while its segment list is the same list, no longer.
  if (lastIsns !== null && lastIsns.h === h && lastIsns.segs === h.segs && lastIsns.n === h.segs.length) return lastIsns.w
  const w = findWireIsns(h)
  lastIsns = {h, segs: h.segs, n: h.segs.length, w}
  return w
}

let lastIsns: {h: Handoff; segs: Seg[]; n: number; w: WireIsns} | null = null

function findWireIsns(h: Handoff): WireIsns {
  const first = (pred: (s: Seg) => boolean): Seg | undefined => {
    let best: Seg | undefined
    for (const s of h.segs) if (pred(s) && (best === undefined || s.t < best.t)) best = s
    return best
  }
  const syn = first((s) => s.leg === 'client' && (s.flags & SA) === TCP_FLAG.SYN)
  const feSynAck = first((s) => (s.leg === 'return' || s.leg === 'fe-own') && (s.flags & SA) === SA && s.src === h.vip &&
    s.sport === h.vport && (syn === undefined || s.ack === ((syn.seq + 1) >>> 0)))
  const beSynAck = first((s) => s.leg === 'be-raw' && (s.flags & SA) === SA)
  const out: WireIsns = {}
  if (syn) out.syn = syn
  if (feSynAck) out.feSynAck = feSynAck
  if (beSynAck) out.beSynAck = beSynAck
  return out
}

/**
 * When the wire shows a different fiss or biss than the control messages
 * (an isn-mismatch), the rewrites are judged with the ISNs on the wire — the
 * ones the TCPs use — so that one wrong number in a message is reported once,
 * as isn-mismatch, and not again on every segment.
 */
export function alignStateWithWire(h: Handoff): void {
  const st = h.state
  if (st === null || !h.req || !h.ack) return
  const w = wireIsns(h)
  const fiss = w.feSynAck?.seq ?? h.req.msg.fiss
  const biss = w.beSynAck?.seq ?? h.ack.msg.biss
  if (fiss === h.req.msg.fiss && biss === h.ack.msg.biss) return
  const d = st.describe()
  h.state = TranslationState.fromValues({
    cip: d.cip, cport: d.cport, vip: d.vip, vport: d.vport, baddr: d.baddr, ...(d.bmac ? {bmac: d.bmac} : {}),
    fiss, biss, ...(st.tsActive ? {tau: st.tau} : {}), wsF: st.wsF, wsB: st.wsB,
  })
}

/**
 * The leg (see the header) of a packet src:sport → dst:dport of a handoff
 * seen at `view`, for callers that have no Seg (the sessions merge labels
 * each vantage point's session of a handoff with the legs of its two
 * directions). legOf reads only these fields of its Handoff.
 */
export function packetLeg(h: Pick<Handoff, 'cip' | 'cport' | 'vip' | 'vport'>, src: string, sport: number, dst: string, dport: number,
  view: View): Leg {
  return legOf(h as Handoff, src, dst, sport, dport, view)
}

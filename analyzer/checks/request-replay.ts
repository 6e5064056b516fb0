// request-replay (error): the segments replayed to the BE (`pkts` of the
// handoff-req) differ from what the client sent before the handoff.
// What the client sent: its SYN, the ACK that completed the handshake (when
// it was a segment of its own), and its data segments up to the end of the
// HTTP request head (CRLF CRLF), in sequence order — as seen at the client
// side, else on the LAN. Compared field by field: addresses, ports, seq, ack,
// flags, window, TCP options, payload (not TTL, IP ID or checksums: a
// checksum left partial by offload on the client is not a difference). A
// segment the client sent more than once (a SYN retransmitted because the
// first was lost before the FE, a handshake ACK resent after the FE resent
// its SYN/ACK, a request segment) may be replayed as any of its copies: the
// FE stores the copy that reached it, which a capture beside the client
// cannot tell; only a replayed segment equal to none of them differs. A
// client segment the capture cut short (snap length) is compared on its
// captured bytes and its length on the wire.
//
// `handoff check`'s control pass does not keep the `pkts` (they would be held
// for every handoff of the trace until it is judged): it keeps a 64-bit
// fingerprint of each one's compared fields (replayPrint). When the client's
// segments have the same fingerprints, in order, nothing can differ and the
// check is done; otherwise the comparison waits (Handoff.replayLater) for
// the end of the segment pass, when the `pkts` of those requests only are
// decoded again (control-pass.ts, readRequestPkts) to say what differs.
import {LINKTYPE} from '../wire/linktype.js'
import {PacketDecoder} from '../wire/decode.js'
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {segOptions, type Seg} from '../correlate/assemble.js'
import {PKTS_NOT_KEPT} from '../correlate/control-pass.js'
import {replayPrint} from './replay-print.js'
import type {FramedMessage} from '../correlate/control.js'
import type {HandoffContext} from './context.js'

export const id = 'request-replay' as const
const dec = new PacketDecoder({verifyChecksums: false})

interface Pkt {
  src: string; dst: string; sport: number; dport: number; seq: number; ack: number; flags: number; window: number
  options: string; payload: Uint8Array
  /** Payload length on the wire (more than payload.length when the capture cut it). */
  wireLen: number
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

function fromSeg(s: Seg): Pkt {
  return {src: s.src, dst: s.dst, sport: s.sport, dport: s.dport, seq: s.seq, ack: s.ack, flags: s.flags, window: s.window,
    options: hex(segOptions(s)), payload: s.payload ?? new Uint8Array(0), wireLen: s.len}
}

function fromDatagram(b: Uint8Array): Pkt | null {
  const d = dec.decode(LINKTYPE.RAW, b, b.length, b.length)
  if (d.transport !== 'tcp' || d.l4HeaderLen === 0) return null
  return {src: d.srcAddr(), dst: d.dstAddr(), sport: d.srcPort, dport: d.dstPort, seq: d.seq, ack: d.ack, flags: d.tcpFlags,
    window: d.window, options: hex(b.subarray(d.l4Offset + 20, d.l4Offset + d.l4HeaderLen)),
    payload: b.slice(d.payloadOffset, d.payloadOffset + d.payloadLen), wireLen: d.payloadWireLen}
}

const NO_PAYLOAD = new Uint8Array(0)

/**
 * The client's segments have the fingerprints of the `pkts`, in order (so
 * compare() would pair each with its own and find no difference). A segment
 * whose payload was not captured whole is never taken as the same: compare()
 * tells data from pure ACKs by the length on the wire.
 */
function samePrints(expected: readonly Seg[], print: readonly number[]): boolean {
  if (print.length !== 2 * expected.length) return false
  const mine: number[] = []
  for (const e of expected) {
    if (e.len !== (e.payload?.length ?? 0)) return false
    replayPrint(mine, e.src, e.dst, e.sport, e.dport, e.seq, e.ack, e.flags, e.window, segOptions(e), e.payload ?? NO_PAYLOAD)
  }
  return mine.every((x, i) => x === print[i])
}

/** CR LF CR LF as a big-endian uint32. */
const CRLF2 = 0x0d0a0d0a

export function check(ctx: HandoffContext): void {
  const h = ctx.h
  const req = h.req
  if (req === undefined) return
  const ciss = ctx.isn.ciss
  const fiss = ctx.isn.fiss
  // The client's segments at one client-facing view.
  const views = ['client', 'lan'] as const
  let segs: Seg[] = []
  for (const k of views) {
    segs = ctx.client.filter((s) => s.view.kind === k)
    if (segs.length > 0) break
  }
  if (segs.length === 0) return
  const syn = segs.find((s) => (s.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN && s.seq === ciss)
  if (syn === undefined) return // the handshake was not captured: nothing to compare against
  const ack = segs.find((s) => !(s.flags & (TCP_FLAG.SYN | TCP_FLAG.RST | TCP_FLAG.FIN)) && s.len === 0 && s.seq === ((ciss + 1) >>> 0) &&
    s.ack === ((fiss + 1) >>> 0))
  // Request bytes: first copies in sequence order until CRLF CRLF.
  const data = segs.filter((s) => s.len > 0 && s.payload !== undefined).sort((a, b) => seqDiff(a.seq, ciss) - seqDiff(b.seq, ciss) || a.t - b.t)
  const expected: Seg[] = [syn]
  if (ack) expected.push(ack)
  let next = (ciss + 1) >>> 0
  // The last four request bytes (a byte a step), and how many there have been.
  let tail = 0
  let seen = 0
  let done = false
  for (const s of data) {
    if (done) break
    if (s.seq !== next) continue // a retransmission (or a hole: then the request is incomplete here)
    expected.push(s)
    next = (next + s.len) >>> 0
    const p = s.payload!
    for (let i = 0; i < p.length; i++) {
      tail = ((tail << 8) | p[i]!) >>> 0
      if (++seen >= 4 && tail === CRLF2) { done = true; break }
    }
  }
  if (req.msg.pkts === PKTS_NOT_KEPT) {
    // Only the fingerprints were kept (see the header): the same, nothing differs; else compare at the end.
    if (req.pktsPrint !== undefined && samePrints(expected, req.pktsPrint)) return
    // What the comparison needs, not the whole context (it holds every segment of the handoff).
    const report = ctx.report
    h.replayLater = (pkts) => compare(req, report, pkts, expected, segs, done)
    return
  }
  compare(req, ctx.report, req.msg.pkts, expected, segs, done)
}

/** Reports how `pkts` differ from the segments the client sent before the handoff (expected: SYN, ACK, request). */
function compare(req: FramedMessage, report: HandoffContext['report'], pkts: readonly Uint8Array[], expected: readonly Seg[], segs: readonly Seg[],
  done: boolean): void {
  const at = {file: req.file, frame: req.frame}
  // Pair each replayed segment with the client's segment of the same kind and seq (so one missing or extra
  // segment is reported as that, not as every later one differing).
  const kindOf = (flags: number, len: number) => (flags & TCP_FLAG.SYN ? 'S' : len > 0 ? 'D' : 'A')
  const used = new Set<number>()
  let unmatched = 0
  let lastJ = -1
  for (let i = 0; i < pkts.length; i++) {
    const p = fromDatagram(pkts[i]!)
    if (p === null) {
      report(id, null, `pkts[${i}] is not a TCP segment`, {...at, field: `pkts[${i}]`, expected: 'a TCP segment', seen: 'not TCP'})
      unmatched++
      continue
    }
    let j = expected.findIndex((e, k) => !used.has(k) && e.seq === p.seq && kindOf(e.flags, e.len) === kindOf(p.flags, p.payload.length))
    if (j < 0) j = i < expected.length && !used.has(i) ? i : -1
    if (j < 0) { unmatched++; continue }
    used.add(j)
    if (j < lastJ) {
      report(id, null, `pkts[${i}] is out of order: the client sent it before the segment in pkts[${i - 1}] (spec §3: SYN, ACK, data… in order)`,
        {...at, field: `pkts[${i}].order`, expected: `client frame ${expected[lastJ]!.frame} first`, seen: `client frame ${expected[j]!.frame} after it`})
    }
    lastJ = j
    const e = expected[j]!
    let diff = firstDiff(fromSeg(e), p)
    if (diff !== null && segs.some((c) => c !== e && isCopyOf(c, e) && firstDiff(fromSeg(c), p) === null)) diff = null
    if (diff !== null) {
      report(id, null, `pkts[${i}] differs from what the client sent (${e.view.file} frame ${e.frame}) in ${diff.field}`,
        {...at, field: `pkts[${i}].${diff.field}`, expected: diff.expected, seen: diff.seen})
    }
  }
  const missing = expected.filter((_, k) => !used.has(k))
  if (unmatched > 0 || (missing.length > 0 && (done || pkts.length >= expected.length))) {
    report(id, null, `pkts holds ${pkts.length} segment(s); the client sent ${expected.length} before the handoff (SYN, ACK, request up to the end of its head)` +
      (missing.length > 0 ? `; not replayed: frame ${missing.map((m) => m.frame).join(', ')}` : ''),
    {...at, field: 'pkts.length', expected: expected.length, seen: pkts.length})
  }
}

/** Another transmission by the client of the same segment: same flags, seq, ack and length (timestamps may differ). */
function isCopyOf(c: Seg, e: Seg): boolean {
  return c.seq === e.seq && c.flags === e.flags && c.len === e.len && c.ack === e.ack && c.hash === e.hash
}

function firstDiff(e: Pkt, p: Pkt): {field: string; expected: string | number; seen: string | number} | null {
  for (const f of ['src', 'dst', 'sport', 'dport', 'seq', 'ack', 'flags', 'window', 'options'] as const) {
    if (e[f] !== p[f]) return {field: f, expected: e[f], seen: p[f]}
  }
  if (e.wireLen !== p.payload.length) return {field: 'payload length', expected: e.wireLen, seen: p.payload.length}
  for (let i = 0; i < e.payload.length; i++) {
    if (e.payload[i] !== p.payload[i]) {
      return {field: `payload byte ${i}`, expected: `0x${e.payload[i]!.toString(16).padStart(2, '0')}`, seen: `0x${p.payload[i]!.toString(16).padStart(2, '0')}`}
    }
  }
  return null
}

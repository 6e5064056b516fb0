// TCP byte-stream reassembly (what tshark's "follow TCP stream" and Zeek's
// TCP_Reassembler do), streaming and with bounded memory.
//
// TcpStreamReassembler handles ONE direction of one connection: it takes the
// segments one by one in capture order and hands out the byte stream in order,
// each chunk with its stream offset (0 = the first byte after the SYN) and the
// frame number that completed it. Rules:
//
// - Origin. The ISN comes from the SYN (offset 0 = ISN + 1). When the SYN was
//   not captured, the first data (or FIN) segment starts the stream at offset
//   0 — `origin` is then 'data' and a 'no-syn' event says so. Bytes that come
//   later but lie before that point are reported ('before-start') and dropped.
// - Sequence numbers wrap at 2^32: a segment's offset is the signed serial
//   distance from the next expected sequence number added to the next offset,
//   so offsets keep growing past 4 GiB.
// - Retransmissions: the first copy wins. Bytes seen again are compared with
//   what was kept (the out-of-order buffer, and a bounded history of delivered
//   bytes, 64 KiB by default); different content is an 'overlap-mismatch'
//   event. Bytes older than the history cannot be compared (counted as
//   `unverifiedBytes`).
// - Out-of-order segments are buffered (copies), up to `maxBuffered` bytes
//   (4 MiB) or `maxSegments` pieces; past that the hole before the first
//   buffered piece is declared a gap ('buffer-overflow' event) and the stream
//   moves on.
// - Gaps: bytes never seen. A hole is declared (onGap, then delivery goes on
//   after it) when the peer acknowledges bytes beyond it (the data passed the
//   capture point, the capture missed it), when the buffer overflows, on RST,
//   and at the end of the trace. A FIN with a hole before it waits for the
//   retransmission (which often comes after the FIN); the hole is declared
//   when the FIN is acknowledged, on RST or at the end of the trace.
// - End: onEnd('fin') once every byte up to the FIN is delivered, 'rst' on a
//   reset, 'end-of-trace' from finish(), 'superseded' when the 4-tuple is
//   reused by a new SYN. Data after the end is reported ('data-after-end').
//
// Chunks handed to onData are copies owned by the receiver (never views of
// the capture buffer): keep them as they are — unless the receiver asked for
// views (borrowInOrder: it copies what it keeps, and every byte it reads
// otherwise is read during the call).
//
// TcpConnectionTable groups segments into connections with a key that is the
// same both ways (gopacket's symmetric flow hash), optionally scoped (e.g. per
// capture interface, so two vantage points in one file stay two views), and
// starts a new connection when a SYN with another ISN reuses a 4-tuple.

import type {PacketDecoder} from '../wire/decode.js'
import {seqAdd, seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {readU32} from '../wire/addr.js'

export type StreamEndReason = 'fin' | 'rst' | 'end-of-trace' | 'superseded'

export type ReassemblyEvent =
  /** The same stream bytes were seen twice with different content (the first copy was kept). */
  | {kind: 'overlap-mismatch'; streamOffset: number; length: number; frame: number; firstFrame: number}
  /** No SYN before the first data: stream offsets start at `seq` (not at ISN + 1). */
  | {kind: 'no-syn'; seq: number; frame: number}
  /** Bytes before the start of the stream (before offset 0); dropped. */
  | {kind: 'before-start'; seq: number; length: number; frame: number}
  /** The out-of-order buffer was full: the hole before it is declared a gap. */
  | {kind: 'buffer-overflow'; streamOffset: number; length: number; frame: number; buffered: number}
  /** Payload after the stream ended (after its FIN or RST); ignored. */
  | {kind: 'data-after-end'; streamOffset: number; length: number; frame: number}
  /** A segment too far from the stream position to belong to it (> maxWindow); ignored. */
  | {kind: 'out-of-window'; seq: number; length: number; frame: number}

export interface StreamHandlers {
  /** In-order bytes: `chunk` is a copy (stable; a view for the call only with borrowInOrder), starting at stream offset `streamOffset`; `frame` completed it. */
  onData(chunk: Uint8Array, streamOffset: number, frame: number): void
  /** Bytes [streamOffset, streamOffset + length) were never seen; delivery continues after them. */
  onGap?(streamOffset: number, length: number, frame: number): void
  /** Called once. `frame` is the frame that ended the stream (the last one seen for 'end-of-trace'). */
  onEnd?(reason: StreamEndReason, frame: number): void
  onEvent?(ev: ReassemblyEvent): void
}

export interface ReassemblyOptions {
  /** Bytes buffered out of order per direction before a hole is declared a gap. Default 4 MiB. */
  maxBuffered?: number
  /** Out-of-order pieces per direction before a hole is declared a gap. Default 16384. */
  maxSegments?: number
  /** Delivered bytes kept to compare retransmissions against. Default 64 KiB (0 = none). */
  historyBytes?: number
  /** Segments further than this from the stream position are ignored ('out-of-window'). Default 1 GiB. */
  maxWindow?: number
  /**
   * Makes the copies of payload bytes that are kept (delivered chunks, the
   * history, out-of-order pieces): src[s, e), stable. Default a slice (an
   * ArrayBuffer of its own); a caller with many short streams may hand out
   * views of a shared buffer instead (correlate/assemble.ts's ByteArena).
   */
  copy?: (src: Uint8Array, s: number, e: number) => Uint8Array
  /**
   * Bytes delivered as soon as they come (in order, nothing buffered) are handed to onData as views of the
   * segment's payload, valid only during the call, not as copies: for a receiver that copies what it keeps
   * (the control channel's frame decoder) on a stream that is nearly always in order. Only without a history
   * (historyBytes 0), which would keep the views.
   */
  borrowInOrder?: boolean
}

const sliceCopy = (src: Uint8Array, s: number, e: number): Uint8Array => src.slice(s, e)

export interface ReassemblyStats {
  /** Segments given to segment() (including pure ACKs). */
  segments: number
  /** Segments with payload. */
  dataSegments: number
  deliveredBytes: number
  /** Payload bytes that had been seen before (delivered or buffered). */
  retransmittedBytes: number
  /** Retransmitted bytes that could not be compared (older than the history). */
  unverifiedBytes: number
  /** Segments that arrived ahead of a hole and were buffered. */
  outOfOrderSegments: number
  gaps: number
  gapBytes: number
  mismatches: number
  /** Largest number of bytes buffered out of order at once. */
  peakBuffered: number
}

interface Piece {
  offset: number
  data: Uint8Array
  frame: number
}

export const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024
export const DEFAULT_MAX_SEGMENTS = 16384
export const DEFAULT_HISTORY = 64 * 1024
export const DEFAULT_MAX_WINDOW = 1 << 30

export class TcpStreamReassembler {
  /** Where offset 0 came from: the SYN, the first data segment, or not known yet. */
  origin: 'syn' | 'data' | null = null
  /** The ISN (SYN's seq) when origin is 'syn'. */
  isn = 0
  /** Sequence number of stream offset 0 (ISN + 1, or the first data segment's seq). */
  baseSeq = 0
  /** Stream offset of the next byte to deliver: everything before it was delivered or declared a gap. */
  next = 0
  /** Stream offset of the FIN (= bytes in the stream), -1 before one is seen. */
  finOffset = -1
  /** Why the stream ended; null while open. */
  ended: StreamEndReason | null = null
  readonly stats: ReassemblyStats = {
    segments: 0, dataSegments: 0, deliveredBytes: 0, retransmittedBytes: 0, unverifiedBytes: 0,
    outOfOrderSegments: 0, gaps: 0, gapBytes: 0, mismatches: 0, peakBuffered: 0,
  }

  private readonly h: StreamHandlers
  private readonly maxBuffered: number
  private readonly maxSegments: number
  private readonly historyLimit: number
  private readonly maxWindow: number
  private readonly copy: (src: Uint8Array, s: number, e: number) => Uint8Array
  private readonly borrowInOrder: boolean
  /** Sequence number of `next`. */
  private nextSeq = 0
  /** Highest stream offset any segment reached (payload on the wire, FIN). */
  private maxEnd = 0
  /** Out-of-order pieces: sorted by offset, non-overlapping, all > next. */
  private pending: Piece[] = []
  private pendingBytes = 0
  /** Recently delivered pieces, oldest first (gaps are simply absent). */
  private history: Piece[] = []
  private historyBytes = 0
  private lastFrame = 0

  constructor(handlers: StreamHandlers, opts: ReassemblyOptions = {}) {
    this.h = handlers
    this.maxBuffered = opts.maxBuffered ?? DEFAULT_MAX_BUFFERED
    this.maxSegments = opts.maxSegments ?? DEFAULT_MAX_SEGMENTS
    this.historyLimit = opts.historyBytes ?? DEFAULT_HISTORY
    this.maxWindow = opts.maxWindow ?? DEFAULT_MAX_WINDOW
    this.copy = opts.copy ?? sliceCopy
    this.borrowInOrder = opts.borrowInOrder === true && this.historyLimit === 0
  }

  /** Bytes currently buffered out of order. */
  get buffered(): number {
    return this.pendingBytes
  }

  /** Stream offset of sequence number `seq` (serial distance from the stream position), or NaN before the origin is known. */
  offsetOf(seq: number): number {
    if (this.origin === null) return NaN
    return this.next + seqDiff(seq, this.nextSeq)
  }

  /** Sequence number of stream offset `offset` (mod 2^32). */
  seqOf(offset: number): number {
    return seqAdd(this.baseSeq, offset % 0x1_0000_0000)
  }

  /**
   * One segment of this direction, in capture order. `payload` is the
   * captured payload (it may be a view: it is copied when kept); `wireLen` the
   * payload length on the wire when the capture cut it (snap length).
   */
  segment(seq: number, flags: number, payload: Uint8Array, frame: number, wireLen = payload.length): void {
    this.stats.segments++
    this.lastFrame = frame
    seq >>>= 0
    const syn = (flags & TCP_FLAG.SYN) !== 0
    const fin = (flags & TCP_FLAG.FIN) !== 0
    const rst = (flags & TCP_FLAG.RST) !== 0
    if (payload.length > 0) this.stats.dataSegments++
    if (this.ended !== null) {
      if (payload.length > 0) {
        const off = this.origin === null ? 0 : this.offsetOf(syn ? seq + 1 : seq)
        this.event({kind: 'data-after-end', streamOffset: off, length: payload.length, frame})
      }
      return
    }
    if (syn) {
      if (this.origin === null) {
        this.origin = 'syn'
        this.isn = seq
        this.baseSeq = this.nextSeq = seqAdd(seq, 1)
        this.next = 0
      }
      // A SYN occupies one sequence number; its payload (TCP Fast Open) follows it.
      seq = seqAdd(seq, 1)
    }
    if (this.origin === null) {
      if (payload.length === 0 && wireLen === 0 && !fin) {
        // A pure ACK (or a RST) cannot tell where the stream starts.
        if (rst) this.end('rst', frame)
        return
      }
      this.origin = 'data'
      this.baseSeq = this.nextSeq = seq
      this.next = 0
      this.event({kind: 'no-syn', seq, frame})
    }
    const off = this.offsetOf(seq)
    const dist = off - this.next
    if (dist > this.maxWindow || dist < -this.maxWindow) {
      this.event({kind: 'out-of-window', seq, length: wireLen, frame})
      if (rst) this.finish('rst', frame)
      return
    }
    if (payload.length > 0) this.insert(off, payload, frame)
    const end = off + wireLen
    if (end > this.maxEnd) this.maxEnd = end
    if (fin && this.finOffset < 0 && end >= this.next) {
      this.finOffset = end
    }
    this.drain(frame)
    if (rst) {
      this.finish('rst', frame)
      return
    }
    if (this.finOffset >= 0 && this.next >= this.finOffset) this.end('fin', frame)
  }

  /**
   * The peer acknowledged everything before `ack`: whatever of that was not
   * seen passed the capture point unseen, so it is declared a gap now.
   */
  acked(ack: number, frame: number): void {
    if (this.origin === null || this.ended !== null) return
    this.lastFrame = frame
    let limit = this.offsetOf(ack >>> 0)
    if (this.finOffset >= 0 && limit > this.finOffset) limit = this.finOffset
    if (limit <= this.next || limit - this.next > this.maxWindow) return
    this.fillGapsTo(limit, frame)
    if (this.finOffset >= 0 && this.next >= this.finOffset) this.end('fin', frame)
  }

  /**
   * Ends the stream: every hole up to the last byte seen is declared a gap
   * and the buffered data after it delivered, then onEnd(reason).
   */
  finish(reason: StreamEndReason, frame = this.lastFrame): void {
    if (this.ended !== null) return
    let last = this.maxEnd
    const p = this.pending
    if (p.length > 0) {
      const t = p[p.length - 1]!
      if (t.offset + t.data.length > last) last = t.offset + t.data.length
    }
    if (this.origin !== null && last > this.next) this.fillGapsTo(last, frame)
    this.end(reason, frame)
  }

  // -------------------------------------------------------------------------

  private event(ev: ReassemblyEvent): void {
    if (ev.kind === 'overlap-mismatch') this.stats.mismatches++
    this.h.onEvent?.(ev)
  }

  private end(reason: StreamEndReason, frame: number): void {
    if (this.ended !== null) return
    this.ended = reason
    this.pending = []
    this.pendingBytes = 0
    this.history = []
    this.historyBytes = 0
    this.h.onEnd?.(reason, frame)
  }

  private insert(off: number, payload: Uint8Array, frame: number): void {
    let a = off
    const b = off + payload.length
    // Before the start of the stream.
    if (a < 0) {
      const n = Math.min(b, 0) - a
      this.event({kind: 'before-start', seq: seqAdd(this.baseSeq, a), length: n, frame})
      if (b <= 0) return
      a = 0
    }
    // Already delivered: a retransmission; compare with the history.
    if (a < this.next) {
      const e = Math.min(b, this.next)
      this.stats.retransmittedBytes += e - a
      this.compareHistory(a, e, payload, off, frame)
      if (b <= this.next) return
      a = this.next
    }
    // Fast path: in order, nothing buffered.
    if (a === this.next && this.pending.length === 0) {
      this.deliver(a, this.borrowInOrder ? (a === off ? payload : payload.subarray(a - off)) : this.copy(payload, a - off, payload.length), frame)
      return
    }
    // Split [a, b) against the buffered pieces: overlaps are compared (first
    // copy wins), the uncovered parts are buffered.
    const p = this.pending
    let i = this.firstEndingAfter(a)
    let cur = a
    let added = false
    while (cur < b) {
      const q = p[i]
      if (q === undefined || q.offset >= b) {
        this.addPiece(i, cur, this.copy(payload, cur - off, b - off), frame)
        added = true
        break
      }
      if (q.offset > cur) {
        this.addPiece(i, cur, this.copy(payload, cur - off, q.offset - off), frame)
        added = true
        i++
        cur = q.offset
        continue
      }
      // q covers cur.
      const qe = q.offset + q.data.length
      const e = Math.min(b, qe)
      this.stats.retransmittedBytes += e - cur
      this.compare(q.data, cur - q.offset, payload, cur - off, e - cur, cur, frame, q.frame)
      cur = e
      i++
    }
    if (added && a > this.next) this.stats.outOfOrderSegments++
    if (this.pendingBytes > this.stats.peakBuffered) this.stats.peakBuffered = this.pendingBytes
    // Bounded memory: past the limits, give up on the first hole.
    while ((this.pendingBytes > this.maxBuffered || p.length > this.maxSegments) && p.length > 0) {
      const first = p[0]!
      if (first.offset > this.next) {
        this.event({kind: 'buffer-overflow', streamOffset: this.next, length: first.offset - this.next, frame, buffered: this.pendingBytes})
        this.gap(first.offset - this.next, frame)
      }
      this.drain(frame)
    }
  }

  /** Index of the first buffered piece that ends after `x`. */
  private firstEndingAfter(x: number): number {
    const p = this.pending
    let lo = 0
    let hi = p.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const q = p[mid]!
      if (q.offset + q.data.length <= x) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private addPiece(index: number, offset: number, data: Uint8Array, frame: number): void {
    this.pending.splice(index, 0, {offset, data, frame})
    this.pendingBytes += data.length
  }

  /** Delivers the buffered pieces that are now in order. */
  private drain(frame: number): void {
    const p = this.pending
    let n = 0
    while (n < p.length && p[n]!.offset === this.next) {
      const q = p[n]!
      this.pendingBytes -= q.data.length
      n++
      this.deliver(q.offset, q.data, frame)
      if (this.ended !== null) return
    }
    if (n > 0) p.splice(0, n)
  }

  /** Declares holes up to `limit`, delivering the buffered data in between. */
  private fillGapsTo(limit: number, frame: number): void {
    while (this.next < limit && this.ended === null) {
      const first = this.pending[0]
      const to = first === undefined ? limit : Math.min(limit, first.offset)
      if (to > this.next) this.gap(to - this.next, frame)
      this.drain(frame)
      if (first === undefined) break
    }
  }

  private gap(length: number, frame: number): void {
    const at = this.next
    this.next += length
    this.nextSeq = seqAdd(this.nextSeq, length)
    this.stats.gaps++
    this.stats.gapBytes += length
    this.h.onGap?.(at, length, frame)
  }

  private deliver(offset: number, data: Uint8Array, frame: number): void {
    this.next = offset + data.length
    this.nextSeq = seqAdd(this.nextSeq, data.length)
    this.stats.deliveredBytes += data.length
    if (this.historyLimit > 0) {
      this.history.push({offset, data, frame})
      this.historyBytes += data.length
      while (this.historyBytes - this.history[0]!.data.length >= this.historyLimit) {
        this.historyBytes -= this.history.shift()!.data.length
      }
    }
    this.h.onData(data, offset, frame)
  }

  /** Compares delivered bytes [a, e) with `payload` (whose byte 0 is at stream offset `off`). */
  private compareHistory(a: number, e: number, payload: Uint8Array, off: number, frame: number): void {
    let covered = 0
    for (const q of this.history) {
      const qe = q.offset + q.data.length
      if (qe <= a) continue
      if (q.offset >= e) break
      const s = Math.max(a, q.offset)
      const t = Math.min(e, qe)
      covered += t - s
      this.compare(q.data, s - q.offset, payload, s - off, t - s, s, frame, q.frame)
    }
    this.stats.unverifiedBytes += e - a - covered
  }

  /** Compares `n` bytes; one 'overlap-mismatch' event spanning the first to the last differing byte. */
  private compare(kept: Uint8Array, ki: number, got: Uint8Array, gi: number, n: number, streamOffset: number, frame: number, firstFrame: number): void {
    let first = -1
    let last = -1
    for (let k = 0; k < n; k++) {
      if (kept[ki + k] !== got[gi + k]) {
        if (first < 0) first = k
        last = k
      }
    }
    if (first >= 0) {
      this.event({kind: 'overlap-mismatch', streamOffset: streamOffset + first, length: last - first + 1, frame, firstFrame})
    }
  }
}

// ---------------------------------------------------------------------------
// Connections.

export interface TcpEndpoint {
  addr: string
  port: number
}

export interface TcpConnection {
  /** 1-based, in order of first appearance in this table. */
  id: number
  /** The scope given to add() (e.g. the capture interface). */
  scope: string
  /** The initiator when a SYN (or SYN/ACK) was seen; else see `rolesFrom`. */
  client: TcpEndpoint
  server: TcpEndpoint
  /** How client and server were told apart. */
  rolesFrom: 'syn' | 'syn-ack' | 'server-port' | 'first-packet'
  /** [client → server, server → client]. Null when the connection is ignored. */
  streams: [TcpStreamReassembler, TcpStreamReassembler] | null
  firstFrame: number
  lastFrame: number
  firstTsSec: number
  firstTsNsec: number
  packets: number
  /** ISN of the client's SYN (or the SYN/ACK's ack − 1), -1 when neither was seen. */
  synIsn: number
  /** True once both directions ended (or the connection was reset). */
  closed: boolean
}

export interface ConnectionTableOptions extends ReassemblyOptions {
  /**
   * A new connection: return the handlers of its two directions ([client →
   * server, server → client]), or null to leave it alone (it is still
   * tracked, its payload is not reassembled).
   */
  open(conn: TcpConnection): [StreamHandlers, StreamHandlers] | null
  /** With no SYN seen, the endpoint on this port is the server. */
  serverPort?: number
  /**
   * Forget a connection silent for this many capture seconds (closed, or dead: a control channel pings far
   * more often), ending its streams as the end of the trace would, and keep no list of every connection
   * (connections() is then empty): for a reader of a long trace with connection after connection, such as
   * check's control pass. Default: every connection kept to the end.
   */
  forgetIdleAfterSec?: number
}

function endpointKey(addr: string, port: number): string {
  return `${addr}|${port}`
}

/**
 * A connection of an IPv4 4-tuple, found by numbers (an endpoint is address × 2^16 + port, the two in order
 * lo < hi) rather than by the key string, whose two formatted addresses cost more than all else a packet does.
 */
interface V4Entry {
  scope: string
  lo: number
  hi: number
  /** The client is the lo endpoint. */
  clientLo: boolean
  c: TcpConnection
}

/**
 * A bucket of the IPv4 index: a hash of the two endpoints (collisions are told apart by the entries), in 30 bits
 * so that V8 keeps it a small integer (a larger one is a heap number, made anew for each lookup).
 */
function v4Hash(lo: number, hi: number): number {
  return (Math.imul((lo % 0x1_0000_0000) ^ Math.floor(lo / 0x1_0000_0000), 0x01000193)
    ^ Math.imul((hi % 0x1_0000_0000) ^ Math.floor(hi / 0x1_0000_0000), 0x5bd1e995)) & 0x3fff_ffff
}

/**
 * TCP connections keyed by (scope, unordered 4-tuple). A pure SYN whose ISN
 * differs from the connection's (or a SYN on a connection that had none)
 * starts a new connection: the old one is finished as 'superseded' (if it was
 * still open).
 */
export class TcpConnectionTable {
  private readonly byKey = new Map<string, TcpConnection>()
  private readonly opts: ConnectionTableOptions
  private nextId = 1
  /** Every connection, in order of appearance (superseded ones too). */
  readonly all: TcpConnection[] = []
  /** forgetIdleAfterSec: each connection's last capture second and its key (Map order: by first packet). */
  private readonly lastSeen = new Map<TcpConnection, number>()
  private readonly keyOf = new Map<TcpConnection, string>()
  private nextSweep = -Infinity
  /**
   * forgetIdleAfterSec: no capture second in lastSeen is earlier than this (a lower bound). A sweep before this
   * plus the limit would forget nothing, so it skips the walk over every connection (most sweeps did nothing).
   */
  private oldestSeen = Infinity
  /** TCP packets skipped: IP fragments, undecodable TCP headers. */
  skipped = 0
  /**
   * The IPv4 connections of byKey again, by numbers (V4Entry), each bucket's entries and each connection's
   * bucket: a packet of a known connection is looked up without the key string. byKey stays the reference.
   */
  private readonly v4 = new Map<number, V4Entry[]>()
  private readonly v4Of = new Map<TcpConnection, number>()

  constructor(opts: ConnectionTableOptions) {
    this.opts = opts
  }

  /** Adds one decoded packet (non-TCP is ignored). Returns its connection, or null. */
  add(d: PacketDecoder, frame: number, tsSec = 0, tsNsec = 0, scope = ''): TcpConnection | null {
    if (d.transport !== 'tcp') return null
    if (d.isFragment || d.l4HeaderLen === 0 || d.payloadOffset < 0) {
      this.skipped++
      return null
    }
    const sp = d.srcPort
    const dp = d.dstPort
    const flags = d.tcpFlags
    const pureSyn = (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN
    // IPv4 (as srcAddr() formats it): the endpoints as numbers.
    const v4 = d.ipVersion === 4 && d.network !== 'ipv6' && d.ipSrcOffset >= 0 && d.ipDstOffset >= 0
    let es = -1
    let ed = -1
    let c: TcpConnection | undefined
    let fromClient = false
    if (v4) {
      es = readU32(d.bytes, d.ipSrcOffset) * 0x1_0000 + sp
      ed = readU32(d.bytes, d.ipDstOffset) * 0x1_0000 + dp
      // A pure SYN may start a new connection on the 4-tuple: the general way below.
      if (!pureSyn) {
        const e = this.v4Entry(scope, es, ed)
        if (e !== undefined) {
          c = e.c
          fromClient = (es <= ed) === e.clientLo
        }
      }
    }
    if (c === undefined) {
      const src = d.srcAddr()
      const dst = d.dstAddr()
      const ks = endpointKey(src, sp)
      const kd = endpointKey(dst, dp)
      const key = ks < kd ? `${scope}#${ks}#${kd}` : `${scope}#${kd}#${ks}`
      c = this.byKey.get(key)
      if (c !== undefined && pureSyn && c.synIsn !== d.seq) {
        // 4-tuple reuse: a new connection.
        if (c.streams !== null) {
          c.streams[0].finish('superseded', frame)
          c.streams[1].finish('superseded', frame)
        }
        c.closed = true
        c = undefined
      }
      if (c === undefined) {
        const old = v4 ? this.byKey.get(key) : undefined
        c = this.create(key, scope, src, sp, dst, dp, flags, frame, tsSec, tsNsec)
        if (pureSyn) c.synIsn = d.seq
        // A SYN/ACK acknowledges the client's ISN + 1: a late copy of that SYN is no reuse.
        else if ((flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === (TCP_FLAG.SYN | TCP_FLAG.ACK)) c.synIsn = (d.ack - 1) >>> 0
        if (v4) this.v4Put(scope, es, ed, c.client.port === sp && c.client.addr === src, c, old)
      }
      fromClient = c.client.port === sp && c.client.addr === src
    }
    c.packets++
    c.lastFrame = frame
    if (this.opts.forgetIdleAfterSec !== undefined) {
      this.lastSeen.set(c, tsSec)
      if (tsSec < this.oldestSeen) this.oldestSeen = tsSec
      if (tsSec >= this.nextSweep) this.forgetIdle(tsSec)
    }
    const streams = c.streams
    if (streams === null) return c
    const mine = streams[fromClient ? 0 : 1]
    const peer = streams[fromClient ? 1 : 0]
    const payload = d.bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLen)
    mine.segment(d.seq, flags, payload, frame, Math.max(d.payloadWireLen, d.payloadLen))
    if (flags & TCP_FLAG.ACK) peer.acked(d.ack, frame)
    if (flags & TCP_FLAG.RST) peer.finish('rst', frame)
    if (mine.ended !== null && peer.ended !== null) c.closed = true
    return c
  }

  /** The IPv4 connection of endpoints es and ed (either way) in scope, if byKey has one. */
  private v4Entry(scope: string, es: number, ed: number): V4Entry | undefined {
    const lo = es <= ed ? es : ed
    const hi = es <= ed ? ed : es
    const b = this.v4.get(v4Hash(lo, hi))
    if (b === undefined) return undefined
    for (let i = 0; i < b.length; i++) {
      const e = b[i]!
      if (e.lo === lo && e.hi === hi && e.scope === scope) return e
    }
    return undefined
  }

  /** byKey has a new connection c (srcIsClient: es is its client), in place of old (undefined: none). */
  private v4Put(scope: string, es: number, ed: number, srcIsClient: boolean, c: TcpConnection, old: TcpConnection | undefined): void {
    if (old !== undefined) this.v4Drop(old)
    const lo = es <= ed ? es : ed
    const hi = es <= ed ? ed : es
    const h = v4Hash(lo, hi)
    let b = this.v4.get(h)
    if (b === undefined) this.v4.set(h, (b = []))
    b.push({scope, lo, hi, clientLo: srcIsClient === (es <= ed), c})
    this.v4Of.set(c, h)
  }

  /** c is no longer byKey's: out of the IPv4 index too. */
  private v4Drop(c: TcpConnection): void {
    const h = this.v4Of.get(c)
    if (h === undefined) return
    this.v4Of.delete(c)
    const b = this.v4.get(h)!
    const i = b.findIndex((e) => e.c === c)
    if (i >= 0) b.splice(i, 1)
    if (b.length === 0) this.v4.delete(h)
  }

  /** forgetIdleAfterSec: the connections silent that long let go of. Once per capture second. */
  private forgetIdle(now: number): void {
    this.nextSweep = now + 1
    const limit = this.opts.forgetIdleAfterSec!
    if (this.oldestSeen + limit >= now) return
    let oldest = Infinity
    for (const [c, at] of this.lastSeen) {
      if (at + limit >= now) {
        if (at < oldest) oldest = at
        continue
      }
      this.lastSeen.delete(c)
      const key = this.keyOf.get(c)!
      this.keyOf.delete(c)
      if (this.byKey.get(key) !== c) continue
      this.byKey.delete(key)
      this.v4Drop(c)
      if (c.streams !== null && !c.closed) {
        c.streams[0].finish('end-of-trace', c.lastFrame)
        c.streams[1].finish('end-of-trace', c.lastFrame)
      }
      c.closed = true
    }
    this.oldestSeen = oldest
  }

  /** End of the trace: finishes every open stream ('end-of-trace'). */
  finish(frame?: number): void {
    for (const c of this.byKey.values()) {
      if (c.streams === null) continue
      c.streams[0].finish('end-of-trace', frame)
      c.streams[1].finish('end-of-trace', frame)
      c.closed = true
    }
  }

  connections(): TcpConnection[] {
    return this.all
  }

  private create(key: string, scope: string, src: string, sp: number, dst: string, dp: number, flags: number,
    frame: number, tsSec: number, tsNsec: number): TcpConnection {
    let rolesFrom: TcpConnection['rolesFrom']
    let srcIsClient: boolean
    const syn = (flags & TCP_FLAG.SYN) !== 0
    const ack = (flags & TCP_FLAG.ACK) !== 0
    if (syn && !ack) { rolesFrom = 'syn'; srcIsClient = true }
    else if (syn && ack) { rolesFrom = 'syn-ack'; srcIsClient = false }
    else if (this.opts.serverPort !== undefined && (sp === this.opts.serverPort) !== (dp === this.opts.serverPort)) {
      rolesFrom = 'server-port'
      srcIsClient = dp === this.opts.serverPort
    } else { rolesFrom = 'first-packet'; srcIsClient = true }
    const a = {addr: src, port: sp}
    const b = {addr: dst, port: dp}
    const c: TcpConnection = {
      id: this.nextId++, scope,
      client: srcIsClient ? a : b, server: srcIsClient ? b : a, rolesFrom,
      streams: null, firstFrame: frame, lastFrame: frame, firstTsSec: tsSec, firstTsNsec: tsNsec,
      packets: 0, synIsn: -1, closed: false,
    }
    const h = this.opts.open(c)
    if (h !== null) c.streams = [new TcpStreamReassembler(h[0], this.opts), new TcpStreamReassembler(h[1], this.opts)]
    this.byKey.set(key, c)
    if (this.opts.forgetIdleAfterSec === undefined) this.all.push(c)
    else this.keyOf.set(c, key)
    return c
  }
}

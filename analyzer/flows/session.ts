// TCP session tracking for one vantage point: packets in capture order in,
// one TcpSession per connection out — with Wireshark's per-packet analysis
// flags (tcp-analysis.ts), Zeek's history string and conn_state (history.ts),
// per-direction counters, the handshake times and the window scaling.
//
// Sessions are what tshark calls tcp.stream: a symmetric 4-tuple (per
// capture interface, unless told otherwise) until a SYN reuses it with
// another ISN, which starts a new session flagged reused-ports. The client
// is the sender of the SYN; without one, the receiver of the SYN+ACK; without
// either, the first sender (rolesFrom says which).
//
// Streaming, memory bounded by live sessions: a session is finished (handed
// to onSession and forgotten) when a SYN replaces it, when it has been closed
// (FIN both ways, or a RST) and idle for `closedLingerSec` of trace time, or
// at finish(). Late packets within the linger still join their session, as in
// tshark; after it they would start a new one (documented difference: tshark
// never forgets a connection). Open sessions are never timed out.
//
// The per-packet path allocates nothing: a session and its state objects are
// allocated once, when the session starts (the flag counts and the history's
// scaled-letter counts at their first use); the result of add() is in reused
// fields of the tracker.
//
// Memory per held session: ~1.6 kB of V8 heap (test/unit/session-tracker-
// memory.test.ts keeps it under 2 kB), closed or not: a closed session keeps
// its whole analysis state, because a late segment in the linger (a
// retransmitted FIN, a dup ack) is flagged and lettered from it exactly as
// tshark and Zeek would; there is no per-session buffer to drop. What made it
// 3.7 kB were typed arrays of a few elements (~200 bytes each, whatever their
// length): the history's seven, the flag counts, a copy of the table key
// (now its hash: SessionTable.deleteValue).

import type {PacketDecoder} from '../wire/decode.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {ZeekHistory, SCALED} from './history.js'
import {SessionTable} from './session-table.js'
import {
  afterSegment, analysisOut, analyzeSegment, ANOMALY_BITS, ANY_RETRANSMISSION, TCP_A, TcpAnalysisState, TcpDirState,
  WSCALE_NONE, WSCALE_UNKNOWN,
} from './tcp-analysis.js'

export type RolesFrom = 'syn' | 'syn-ack' | 'first-packet'

/** Counters of one direction of a session. */
export class DirStats {
  packets = 0
  /** Payload bytes of every segment, retransmissions included. */
  payloadBytes = 0
  /** Payload bytes of segments flagged as (fast, spurious) retransmissions. */
  retransmittedBytes = 0
  syn = 0
  fin = 0
  rst = 0
  /** Segments whose TCP checksum is wrong (not the offload pattern). */
  badChecksums = 0
  /** The ISN (seq of this direction's SYN), -1 when no SYN was seen. */
  isn = -1
  /** The last window advertised (scaled when the scale is known), -1 before any. */
  lastWindow = -1
  /** The smallest window advertised after the handshake (scaled when known), -1 before any. */
  minWindow = -1

  /** Payload bytes without the retransmissions. */
  get bytes(): number {
    return this.payloadBytes - this.retransmittedBytes
  }
}

/** The flag counts of a session without any (shared, read only). */
const NO_FLAGS: ArrayLike<number> = Object.freeze(new Array<number>(ANOMALY_BITS).fill(0))

export class TcpSession {
  /** 0-based, in order of creation in its tracker (tshark's tcp.stream for one file). */
  readonly id: number
  /** The capture interface (0 when the tracker does not scope by interface). */
  readonly scope: number
  readonly client: string
  readonly clientPort: number
  readonly server: string
  readonly serverPort: number
  readonly ipVersion: 4 | 6
  readonly rolesFrom: RolesFrom
  /** Started by a SYN that reused the 4-tuple of an earlier session with a new ISN. */
  readonly reusedPorts: boolean
  /** Which table endpoint (A sorts lower) is the client. */
  readonly clientIsA: boolean
  /** The hash of its table key (for removal: SessionTable.deleteValue). */
  readonly keyHash: number
  firstFrame: number
  lastFrame: number
  firstSec: number
  firstNsec: number
  lastSec = 0
  lastNsec = 0
  /** Wireshark analysis state per direction: [client → server, server → client]. */
  readonly dirs: [TcpDirState, TcpDirState] = [new TcpDirState(), new TcpDirState()]
  readonly stats: [DirStats, DirStats] = [new DirStats(), new DirStats()]
  readonly conn = new TcpAnalysisState()
  readonly history = new ZeekHistory()
  /** Packets per analysis flag, allocated at the first flag (most sessions have none); see `anomalies`. */
  private flagCounts: number[] | null = null
  /** Handshake times (seconds + ns); hs* = -1 when not seen. */
  synSec = -1
  synNsec = 0
  synAckSec = -1
  synAckNsec = 0
  ackSec = -1
  ackNsec = 0
  /** Both directions sent a FIN, or someone sent a RST. */
  closed = false
  finished = false

  constructor(id: number, scope: number, d: PacketDecoder, srcIsClient: boolean, fromA: boolean, rolesFrom: RolesFrom,
    reused: boolean, keyHash: number, frame: number, sec: number, nsec: number) {
    this.id = id
    this.scope = scope
    const src = d.srcAddr()
    const dst = d.dstAddr()
    this.client = srcIsClient ? src : dst
    this.clientPort = srcIsClient ? d.srcPort : d.dstPort
    this.server = srcIsClient ? dst : src
    this.serverPort = srcIsClient ? d.dstPort : d.srcPort
    this.ipVersion = d.network === 'ipv6' ? 6 : 4
    this.rolesFrom = rolesFrom
    this.reusedPorts = reused
    this.clientIsA = srcIsClient === fromA
    this.keyHash = keyHash
    this.firstFrame = frame
    this.lastFrame = frame
    this.firstSec = sec
    this.firstNsec = nsec
    if (rolesFrom === 'syn-ack') this.history.flipped()
  }

  /** Packets per analysis flag (index = bit number of TCP_A). */
  get anomalies(): ArrayLike<number> {
    return this.flagCounts ?? NO_FLAGS
  }

  /** Counts the analysis flags (TCP_A bits) of one packet. */
  countFlags(flags: number): void {
    const counts = this.flagCounts ??= new Array<number>(ANOMALY_BITS).fill(0)
    for (let f = flags, i = 0; f !== 0; f >>>= 1, i++) if (f & 1) counts[i]++
  }

  /** Trace time from the first to the last packet, in seconds. */
  get durationSec(): number {
    return (this.lastSec - this.firstSec) + (this.lastNsec - this.firstNsec) / 1e9
  }

  /** Window-scale shift of a direction, or 'none' (not negotiated) / 'unknown' (a SYN was not seen). */
  windowScale(dir: 0 | 1): number | 'none' | 'unknown' {
    const ws = this.dirs[dir].winScale
    return ws === WSCALE_NONE ? 'none' : ws === WSCALE_UNKNOWN ? 'unknown' : ws
  }

  /** Zeek's conn_state. */
  get state(): ReturnType<ZeekHistory['connState']> {
    return this.history.connState(this.stats[0].bytes, this.stats[1].bytes)
  }
}

export interface SessionTrackerOptions {
  /** Keep the sessions of different capture interfaces apart (one vantage point each). Default true. */
  scopeByInterface?: boolean
  /** Trace seconds a closed session stays to collect late packets before it is finished. Default 120. */
  closedLingerSec?: number
  /** Receives each session once, when it is finished. */
  onSession?: (s: TcpSession) => void
  /**
   * A FIN closes a session that has seen packets one way only (default false: both FINs or a RST).
   * At a view that sees one direction of a connection (a forwarded leg on the LAN: client → BE,
   * the replies go another way) the other FIN never comes, so without this the session is held,
   * and its row kept back, to the end of the trace; with it, it lingers like any closed session.
   */
  oneWayFinCloses?: boolean
  /** Receives each session when its first packet creates it (so a caller can tell which are still held). */
  onOpen?: (s: TcpSession) => void
}

/** What add() needs from a capture record. */
export interface PacketMeta {
  index: number
  interfaceId: number
  tsSec: number
  tsNsec: number
}

const SWEEP_EVERY = 1024

export class SessionTracker {
  private readonly table = new SessionTable<TcpSession>()
  private readonly scopeByInterface: boolean
  private readonly linger: number
  private readonly onSession?: (s: TcpSession) => void
  private readonly onOpen?: (s: TcpSession) => void
  private readonly oneWayFinCloses: boolean
  private closing: TcpSession[] = []
  private sinceSweep = 0
  private nextId = 0

  // ---- result of the last add() ----
  /** The packet's session (null when add() returned null). */
  session: TcpSession | null = null
  /** The packet goes client → server. */
  fromClient = false
  /** Analysis flags of the packet (TCP_A bits). */
  flags = 0
  /** Duplicate-ACK number when flags has DUPLICATE_ACK. */
  dupAckNum = 0

  // ---- counters ----
  /** TCP packets tracked. */
  packets = 0
  /** TCP packets left out: IP fragments (their segment is not whole in one frame). */
  skippedFragments = 0
  /** TCP packets left out: no complete TCP header. */
  skippedTruncated = 0
  /** Sessions started. */
  sessions = 0
  /** Largest number of sessions held at once. */
  peakLive = 0

  constructor(opts: SessionTrackerOptions = {}) {
    this.scopeByInterface = opts.scopeByInterface ?? true
    this.linger = opts.closedLingerSec ?? 120
    this.onSession = opts.onSession
    this.onOpen = opts.onOpen
    this.oneWayFinCloses = opts.oneWayFinCloses ?? false
  }

  /** Sessions currently held (open, or closed and lingering). */
  get live(): number {
    return this.table.size
  }

  /**
   * Adds one decoded packet. Returns its session, or null when it is not a
   * TCP segment we can place (not TCP, an IP fragment, a truncated header).
   */
  add(d: PacketDecoder, rec: PacketMeta): TcpSession | null {
    this.session = null
    this.flags = 0
    this.dupAckNum = 0
    if (d.transport !== 'tcp' || d.srcPort < 0 || d.ipSrcOffset < 0 || d.ipDstOffset < 0) return null
    if (d.isFragment) {
      this.skippedFragments++
      return null
    }
    // A header whose options the snap length cut still has its ports, numbers, flags and window (tcpdump -s 68
    // cuts every SYN's options): tracked, without the options. Any other undecodable header is not.
    if (d.l4HeaderLen === 0 && !(d.snaplenTruncated && d.hasAnomaly('truncated-tcp-header'))) {
      this.skippedTruncated++
      return null
    }
    const sec = rec.tsSec
    const nsec = rec.tsNsec
    if (++this.sinceSweep >= SWEEP_EVERY) {
      this.sinceSweep = 0
      this.sweep(sec + nsec / 1e9)
    }
    this.packets++
    const scope = this.scopeByInterface ? rec.interfaceId : 0
    const tcpFlags = d.tcpFlags
    const seq = d.seq
    const synAck = tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK)
    let flags = 0
    let s = this.table.find(d, scope)
    const fromA = this.table.fromA
    if (s !== undefined) {
      const fwd = s.dirs[fromA === s.clientIsA ? 0 : 1]
      if (synAck === TCP_FLAG.SYN && fwd.baseSeqSet) {
        if (seq !== fwd.baseSeq) {
          // the 4-tuple is reused with a new ISN: a new session
          this.finishSession(s)
          s = this.create(d, rec, scope, fromA, true)
          flags |= TCP_A.REUSED_PORTS
        }
      } else if (synAck === (TCP_FLAG.SYN | TCP_FLAG.ACK) && fwd.baseSeqSet && seq !== fwd.baseSeq) {
        fwd.baseSeq = seq
        flags |= TCP_A.REUSED_PORTS
      }
    } else {
      s = this.create(d, rec, scope, fromA, false)
    }
    const fromClient = fromA === s.clientIsA
    const dir = fromClient ? 0 : 1
    const fwd = s.dirs[dir]
    const rev = s.dirs[dir ^ 1]
    const st = s.stats[dir]
    const seglen = d.payloadWireLen
    const window = d.window
    const ack = d.ack
    flags = analyzeSegment(s.conn, fwd, rev, rec.index, sec, nsec, seq, ack, seglen, tcpFlags, window, flags)
    this.dupAckNum = analysisOut.dupAckNum
    afterSegment(s.conn, fwd, rev, sec, nsec, tcpFlags, d.wscale)

    // counters
    st.packets++
    st.payloadBytes += seglen
    if (flags & ANY_RETRANSMISSION) st.retransmittedBytes += seglen
    if (tcpFlags & TCP_FLAG.SYN) {
      st.syn++
      st.isn = seq
    }
    if (tcpFlags & TCP_FLAG.FIN) st.fin++
    if (tcpFlags & TCP_FLAG.RST) st.rst++
    const scaled = (tcpFlags & TCP_FLAG.SYN) !== 0 || fwd.winScale < 0 ? window : window * (1 << fwd.winScale)
    st.lastWindow = scaled
    if ((tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.RST)) === 0 && (st.minWindow < 0 || scaled < st.minWindow)) st.minWindow = scaled

    // handshake times
    if (fromClient && synAck === TCP_FLAG.SYN && s.synAckSec < 0) {
      s.synSec = sec
      s.synNsec = nsec
    } else if (!fromClient && synAck === (TCP_FLAG.SYN | TCP_FLAG.ACK) && s.synAckSec < 0) {
      s.synAckSec = sec
      s.synAckNsec = nsec
    } else if (fromClient && synAck === TCP_FLAG.ACK && s.synAckSec >= 0 && s.ackSec < 0 &&
      s.stats[1].isn >= 0 && ack === ((s.stats[1].isn + 1) >>> 0)) {
      s.ackSec = sec
      s.ackNsec = nsec
    }

    // history
    const h = s.history
    if (d.l4ChecksumStatus === 'bad') {
      st.badChecksums++
      h.scaled(dir, SCALED.checksum)
    }
    h.packet(dir, tcpFlags, seq, seglen, window)
    if (flags & TCP_A.LOST_SEGMENT) h.scaled(dir, SCALED.gap)

    if (flags !== 0) s.countFlags(flags)

    s.lastFrame = rec.index
    s.lastSec = sec
    s.lastNsec = nsec
    if (!s.closed && ((s.stats[0].fin > 0 && s.stats[1].fin > 0) || (tcpFlags & TCP_FLAG.RST) || (this.oneWayFinCloses && this.oneWayFin(s)))) {
      s.closed = true
      this.closing.push(s)
    }
    this.session = s
    this.fromClient = fromClient
    this.flags = flags
    return s
  }

  /** A FIN in the one direction seen (see oneWayFinCloses). */
  private oneWayFin(s: TcpSession): boolean {
    const [a, b] = s.stats
    return (a.fin > 0 && b.packets === 0) || (b.fin > 0 && a.packets === 0)
  }

  /** End of the trace: finishes every session still held, in order of creation. */
  finish(): void {
    const rest = [...this.table.entries()].sort((a, b) => a.id - b.id)
    for (const s of rest) this.finishSession(s)
    this.table.clear()
    this.closing = []
  }

  private create(d: PacketDecoder, rec: PacketMeta, scope: number, fromA: boolean, reused: boolean): TcpSession {
    const synAck = d.tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK)
    let rolesFrom: RolesFrom
    let srcIsClient: boolean
    if (synAck === TCP_FLAG.SYN) { rolesFrom = 'syn'; srcIsClient = true }
    else if (synAck === (TCP_FLAG.SYN | TCP_FLAG.ACK)) { rolesFrom = 'syn-ack'; srcIsClient = false }
    else { rolesFrom = 'first-packet'; srcIsClient = true }
    const s = new TcpSession(this.nextId++, scope, d, srcIsClient, fromA, rolesFrom, reused, this.table.keyHash(),
      rec.index, rec.tsSec, rec.tsNsec)
    this.table.set(s)
    this.sessions++
    if (this.table.size > this.peakLive) this.peakLive = this.table.size
    this.onOpen?.(s)
    return s
  }

  private finishSession(s: TcpSession): void {
    if (s.finished) return
    s.finished = true
    this.onSession?.(s)
  }

  /** Finishes closed sessions idle for longer than the linger. */
  private sweep(now: number): void {
    if (this.closing.length === 0) return
    const keep: TcpSession[] = []
    for (const s of this.closing) {
      if (s.finished) continue
      if (now - (s.lastSec + s.lastNsec / 1e9) > this.linger) {
        this.table.deleteValue(s.keyHash, s)
        this.finishSession(s)
      } else keep.push(s)
    }
    this.closing = keep
  }
}

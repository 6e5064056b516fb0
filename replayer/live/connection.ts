// One connection of the stateful replay: the replayer plays the client of a
// recorded handed-off connection AND the front-end's BTCP (spec §2, §4)
// against a live back-end's TCP stack.
//
// Sequence spaces. Everything this class keeps is in the RECORDED client's
// view: client seq from the recorded ciss, server seq from the recorded
// fiss. The live server lives in its own space (biss, bts): the live
// SYN/ACK gives Δ = biss − fiss and τ = bts − fts (spec §4), and from then
// on every frame crosses the boundary through the rewrite engine —
// outgoing client segments through Engine.rewriteForward (ack + Δ, SACK
// edges + Δ, TSecr + τ, destination := the target), incoming live segments
// through Engine.rewriteReturn (seq − Δ, TSval − τ, window rescale, source :=
// the recorded VIP). So the live response lands at the same offsets as the
// recorded one and compares byte for byte, and the replayer is checked
// against the very engine the lab's daemons use.
//
// The SYN goes out before Δ is known: it carries no ack and no TSecr, so
// the forward rewrite only changes its destination; it goes through an
// engine with Δ = τ = 0.
//
// What the client sends:
// - the recorded SYN, the recorded handshake ACK, then the recorded data /
//   FIN / RST segments, each with its recorded seq, options and payload;
//   ack := what the replayer has received (live segmentation differs, so the
//   recorded ack could acknowledge bytes the live server has not sent: Linux
//   drops such a segment), TSecr := the last live TSval (in recorded space),
//   TSval := max(recorded, last sent, SYN's + elapsed ms) + σ so PAWS (RFC
//   7323 §5) never drops a retransmission or a segment after our own ACKs.
//   σ shifts all the client's timestamps so that the SYN's TSval is the
//   wall clock in ms (mod 2^32): the client's own clock, like a real client
//   that connects now. That makes a second replay of the same connection
//   work while the server still holds the first in TIME_WAIT (Linux accepts
//   a SYN with a newer timestamp there; the client ISN is the recorded one);
// - in SYN-SENT, an ACK that is not for our SYN (an older connection on the
//   4-tuple, e.g. still in TIME_WAIT without timestamps) gets a RST with
//   seq = its ack (RFC 793 p. 66, as a real stack does), and the SYN is
//   retransmitted;
// - a recorded segment waits until the client had, in the recording,
//   received what it acknowledges (its recorded ack): a second request on a
//   kept-alive connection, or the client's FIN after the response — unless
//   the live server has finished (FIN) or sent nothing new for
//   responseIdleMs (it sends less than the recording: that is what the
//   comparison will report);
// - its own ACK for every live segment that carries data or a FIN, with
//   SACK blocks for out-of-order data when both SYNs allowed SACK;
// - retransmission: one timer per connection; on expiry the oldest
//   unacknowledged segment (or the SYN) is sent again and the timeout
//   doubles; after maxRetries the connection fails with a clear reason;
// - at the end, if the recording's client did not close (no FIN, no RST),
//   a RST, so the live server is not left with a half-open connection.
//   Aborted or failed connections are reset too.
//
// The class does no I/O and reads no clock of its own: frames go out through
// `send`, time comes from `now()`, and the runner calls poll() at
// nextDeadline(). Unit tests drive it against a simulated peer.
import {writeU32} from '../../analyzer/wire/addr.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {ipv4HeaderChecksum, tcpOrUdpChecksum} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {TcpOptionsRepr} from '../../analyzer/wire/tcp-options.js'
import {formatMac} from '../../analyzer/wire/addr.js'
import {Engine, TranslationState} from '../engine/index.js'
import {F_ACK, F_FIN, F_RST, F_SYN, type ConnScript, type ScriptSegment} from './script.js'

export interface ConnOptions {
  /** The replayer's address (the client's, as the live server sees it). */
  source: string
  sourceMac: Uint8Array
  /** The live back-end's address and MAC. */
  target: string
  targetMac: Uint8Array
  /** Initial retransmission timeout, ms (doubles per retry). Default 300. */
  rtoMs?: number
  /** Retransmissions of one segment before the connection fails. Default 6. */
  maxRetries?: number
  /** How long a held segment waits for response bytes that do not come, ms. Default 1500. */
  responseIdleMs?: number
  /** The whole connection must be done within this, ms. Default 20000. */
  timeoutMs?: number
  send: (frame: Uint8Array) => void
  now: () => number
  /** The client's timestamp clock (ms, mod 2^32). Default Date.now. */
  tsClock?: () => number
}

export type ConnPhase = 'idle' | 'syn-sent' | 'established' | 'done' | 'failed'

export interface ConnStats {
  segmentsSent: number
  bytesSent: number
  retransmissions: number
  acksSent: number
  segmentsReceived: number
  bytesReceived: number
  outOfOrder: number
  duplicates: number
  /** Held segments released because the live server went quiet (it sent less than recorded). */
  releasedOnIdle: number
}

export interface LiveParams {
  biss: number
  bts: number | null
  delta: number
  tau: number | null
  mss: number
  ws: number | null
  sack: boolean
  ts: boolean
}

const u32 = (v: number) => v >>> 0
const ser = (a: number, b: number) => (a - b) | 0

interface Sent {
  seg: ScriptSegment
  /** seq + dataLen + FIN, relative to ciss + 1. */
  end: number
}

export class LiveConnection {
  readonly script: ConnScript
  phase: ConnPhase = 'idle'
  error?: string
  /** How the connection ended: 'fin' (both FINs exchanged), 'rst-sent', 'rst-received'. */
  closedBy?: 'fin' | 'rst-sent' | 'rst-received'
  live?: LiveParams
  readonly stats: ConnStats = {segmentsSent: 0, bytesSent: 0, retransmissions: 0, acksSent: 0, segmentsReceived: 0, bytesReceived: 0,
    outOfOrder: 0, duplicates: 0, releasedOnIdle: 0}
  startedAt = -1
  endedAt = -1

  private readonly o: Required<Omit<ConnOptions, 'send' | 'now' | 'tsClock'>> & Pick<ConnOptions, 'send' | 'now'>
  private readonly tsClock: () => number
  /** σ: added to every client TSval (see the module comment). */
  private tsShift = 0
  /** RSTs sent for ACKs of an older connection while in SYN-SENT. */
  staleAcksReset = 0
  private readonly dec = new PacketDecoder({verifyChecksums: false})
  private readonly synEngine: Engine
  private engine?: Engine
  private readonly sourceBytes: Uint8Array
  // client side (relative to ciss + 1)
  private next = 0
  private sndUna = 0
  private sndNxt = 0
  private inflight: Sent[] = []
  private finSent = false
  private lastWindow: number
  private lastTsVal = 0
  private synTsVal = 0
  private synTs = false
  private synSack = false
  // server side (relative to fiss + 1)
  private rcv: Uint8Array[] = []
  private rcvLen = 0
  private ooo = new Map<number, Uint8Array>()
  private serverFinAt: number | null = null
  private finReceived = false
  private tsRecent = 0
  private lastProgress = 0
  // timers
  private rto: number
  private retries = 0
  private rtxAt = Infinity

  constructor(script: ConnScript, opts: ConnOptions) {
    this.script = script
    this.o = {rtoMs: 300, maxRetries: 6, responseIdleMs: 1500, timeoutMs: 20000, ...opts}
    this.tsClock = opts.tsClock ?? Date.now
    this.rto = this.o.rtoMs
    this.synEngine = new Engine(this.state(0, null), {verify: true})
    this.dec.decode(LINKTYPE.RAW, script.syn, script.syn.length, script.syn.length)
    if (this.dec.transport !== 'tcp' || (this.dec.tcpFlags & F_SYN) === 0) throw new Error(`${script.hid}: handoff-req pkts[0] is not a TCP SYN`)
    this.lastWindow = this.dec.window
    this.synTs = this.dec.hasTimestamp
    this.synTsVal = this.dec.tsVal
    this.lastTsVal = this.dec.tsVal
    this.synSack = this.dec.sackPermitted
    const tmp = buildTcpPacket({src: opts.source, dst: script.vip, srcPort: script.cport, dstPort: script.vport})
    this.sourceBytes = script.family === 4 ? tmp.slice(12, 16) : tmp.slice(8, 24)
  }

  /** Bytes received from the live server so far (recorded space, in order). */
  response(): Uint8Array {
    return Buffer.concat(this.rcv)
  }

  get responseFinished(): boolean {
    return this.finReceived
  }

  private state(delta: number, tau: number | null, ws?: number): TranslationState {
    const s = this.script
    return TranslationState.fromValues({
      cip: this.o.source, cport: s.cport, vip: s.vip, vport: s.vport, baddr: this.o.target, bmac: formatMac(this.o.targetMac, 0),
      delta, ...(tau === null ? {} : {tau}), wsF: s.fopt.ws, wsB: ws,
    })
  }

  /** Sends the SYN. */
  start(): void {
    if (this.phase !== 'idle') return
    const now = this.o.now()
    this.startedAt = now
    this.lastProgress = now
    this.phase = 'syn-sent'
    if (this.synTs) this.tsShift = u32(Math.floor(this.tsClock()) - this.synTsVal)
    this.lastTsVal = this.synTsVal
    this.sendSyn()
    this.rtxAt = now + this.rto
  }

  get finished(): boolean {
    return this.phase === 'done' || this.phase === 'failed'
  }

  /** When poll() must run next (ms, the now() clock); Infinity when nothing is pending. */
  nextDeadline(): number {
    if (this.finished || this.phase === 'idle') return Infinity
    let t = Math.min(this.rtxAt, this.startedAt + this.o.timeoutMs)
    // The idle deadline matters only while a recorded segment is held, or
    // when the recording's client never closes (see checkDone).
    const segs = this.script.segments.length
    if (this.phase === 'established' && (this.next < segs || (!this.finSent && this.inflight.length === 0))) {
      t = Math.min(t, this.lastProgress + this.o.responseIdleMs)
    }
    return t
  }

  /** Timers: retransmission, held segments, end of the connection, overall timeout. */
  poll(): void {
    if (this.finished || this.phase === 'idle') return
    const now = this.o.now()
    if (now >= this.startedAt + this.o.timeoutMs) {
      this.fail(`timed out after ${(this.o.timeoutMs / 1000).toFixed(1)} s (${this.progress()})`)
      return
    }
    if (now >= this.rtxAt) {
      if (this.retries >= this.o.maxRetries) {
        this.fail(this.phase === 'syn-sent'
          ? `no SYN/ACK from ${this.o.target} after ${this.retries + 1} SYNs`
          : `segment at client seq +${this.sndUna} not acknowledged after ${this.retries} retransmissions (${this.progress()})`)
        return
      }
      this.retries++
      this.stats.retransmissions++
      this.rto = Math.min(this.rto * 2, 10000)
      this.rtxAt = now + this.rto
      if (this.phase === 'syn-sent') this.sendSyn()
      else {
        const first = this.inflight[0]
        if (first !== undefined) this.sendRecordedIp(first.seg.ip, false)
      }
    }
    if (this.phase === 'established') this.pump()
  }

  /** Abandons the connection (interrupt, runner shutting down): a RST if it is open. */
  abort(reason: string): void {
    if (this.finished) return
    this.fail(reason)
  }

  private progress(): string {
    const recorded = this.script.response.length
    return `${this.rcvLen} of ${recorded} recorded response bytes received${this.finReceived ? ', server FIN' : ''}; ` +
      `${this.sndUna}/${this.sndNxt} client bytes acknowledged`
  }

  private fail(msg: string): void {
    if (this.phase === 'established' || this.phase === 'syn-sent') this.sendRst()
    this.phase = 'failed'
    this.error = msg
    this.endedAt = this.o.now()
  }

  private finish(by: 'fin' | 'rst-sent' | 'rst-received'): void {
    this.phase = 'done'
    this.closedBy = by
    this.endedAt = this.o.now()
  }

  // ---- receiving -----------------------------------------------------

  /** A frame from the live server on this connection (Ethernet, own copy; rewritten in place). */
  onFrame(frame: Uint8Array): void {
    const d = this.dec.decode(LINKTYPE.ETHERNET, frame, frame.length, frame.length)
    if (d.transport !== 'tcp' || d.l4HeaderLen === 0) return
    const now = this.o.now()
    const flags = d.tcpFlags
    if ((flags & F_SYN) !== 0) {
      if ((flags & F_ACK) === 0) return
      if (this.phase === 'syn-sent') {
        if (u32(d.ack) !== u32(this.script.ciss + 1)) return // not an answer to our SYN
        this.onSynAck(d)
      } else if (this.phase === 'established') {
        this.sendAck() // our handshake ACK was lost: the server repeats its SYN/ACK
      }
      return
    }
    if (this.phase === 'syn-sent') {
      if ((flags & F_RST) !== 0) {
        // RFC 793 p. 67: a RST acknowledging our SYN refuses the connection.
        if ((flags & F_ACK) !== 0 && u32(d.ack) === u32(this.script.ciss + 1)) {
          this.phase = 'failed'
          this.error = `connection refused: ${this.o.target} answered the SYN with a RST (nothing listening on port ${this.script.vport}?)`
          this.closedBy = 'rst-received'
          this.endedAt = this.o.now()
        }
      } else if ((flags & F_ACK) !== 0) {
        this.resetStale(d.ack)
      }
      return
    }
    if (this.phase !== 'established') {
      // After the end: a retransmitted FIN means our last ACK was lost.
      if (this.phase === 'done' && this.closedBy === 'fin' && (flags & F_FIN) !== 0 && this.engine !== undefined) this.sendAck()
      return
    }
    const r = this.engine!.rewriteReturn(frame, LINKTYPE.ETHERNET)
    if (!r.ok) return
    this.dec.decode(LINKTYPE.ETHERNET, frame, frame.length, frame.length)
    this.stats.segmentsReceived++
    if ((flags & F_RST) !== 0) {
      if (this.finSent && this.inflight.length === 0 && this.finReceived) {
        this.finish('rst-received')
      } else {
        this.phase = 'failed'
        this.error = `reset by ${this.o.target} (${this.progress()})`
        this.closedBy = 'rst-received'
        this.endedAt = now
      }
      return
    }
    if (this.dec.hasTimestamp) this.tsRecent = this.dec.tsVal
    if ((flags & F_ACK) !== 0) this.onAck(ser(this.dec.ack, u32(this.script.ciss + 1)), now)
    const off = ser(this.dec.seq, u32(this.script.fiss + 1))
    const len = this.dec.payloadLen
    const fin = (flags & F_FIN) !== 0
    if (len > 0 || fin) {
      if (len > 0) this.onData(off, this.dec.bytes.subarray(this.dec.payloadOffset, this.dec.payloadOffset + len), now)
      if (fin && this.serverFinAt === null) this.serverFinAt = off + len
      if (this.serverFinAt !== null && !this.finReceived && this.rcvLen >= this.serverFinAt) {
        this.finReceived = true
        this.lastProgress = now
      }
      this.sendAck()
    }
    this.pump()
    this.checkDone()
  }

  private onSynAck(d: PacketDecoder): void {
    const s = this.script
    const biss = d.seq
    const bothTs = this.synTs && d.hasTimestamp && s.fopt.ts && s.fts !== undefined
    const delta = u32(biss - s.fiss)
    const tau = bothTs ? u32(d.tsVal - s.fts!) : null
    const ws = d.wscale >= 0 ? d.wscale : undefined
    this.live = {biss, bts: d.hasTimestamp ? d.tsVal : null, delta, tau, mss: d.mss, ws: ws ?? null, sack: d.sackPermitted, ts: d.hasTimestamp}
    this.engine = new Engine(this.state(delta, tau, ws), {verify: true})
    // TS.Recent in recorded space: the live TSval − τ (= the recorded fts when τ applies).
    this.tsRecent = tau === null ? d.tsVal : u32(d.tsVal - tau)
    this.phase = 'established'
    this.lastProgress = this.o.now()
    this.sndUna = 0
    this.sndNxt = 0
    this.retries = 0
    this.rto = this.o.rtoMs
    this.rtxAt = Infinity
    if (this.script.handshakeAck !== null) this.sendRecordedIp(this.script.handshakeAck, false)
    else this.sendAck()
    this.pump()
  }

  private onAck(ackRel: number, now: number): void {
    if (ser(ackRel, this.sndUna) <= 0 || ser(ackRel, this.sndNxt) > 0) return
    this.sndUna = ackRel
    while (this.inflight.length > 0 && ser(this.inflight[0].end, ackRel) <= 0) this.inflight.shift()
    this.retries = 0
    this.rto = this.o.rtoMs
    this.rtxAt = this.inflight.length > 0 ? now + this.rto : Infinity
    this.lastProgress = now
  }

  private onData(off: number, data: Uint8Array, now: number): void {
    const end = off + data.length
    if (end <= this.rcvLen) {
      this.stats.duplicates++
      return
    }
    if (off > this.rcvLen) {
      this.stats.outOfOrder++
      const have = this.ooo.get(off)
      if (have === undefined || have.length < data.length) this.ooo.set(off, data.slice())
      return
    }
    this.append(data.subarray(this.rcvLen - off))
    // Drain what the hole was holding back.
    for (let moved = true; moved; ) {
      moved = false
      for (const [o, b] of this.ooo) {
        if (o + b.length <= this.rcvLen) {
          this.ooo.delete(o)
          moved = true
        } else if (o <= this.rcvLen) {
          this.append(b.subarray(this.rcvLen - o))
          this.ooo.delete(o)
          moved = true
        }
      }
    }
    this.lastProgress = now
  }

  private append(b: Uint8Array): void {
    this.rcv.push(b.slice())
    this.rcvLen += b.length
    this.stats.bytesReceived += b.length
  }

  /** Received so far, relative to fiss + 1, counting the server's FIN. */
  private get rcvNxtRel(): number {
    return this.rcvLen + (this.finReceived ? 1 : 0)
  }

  // ---- sending -------------------------------------------------------

  /** Sends every recorded segment whose turn has come. */
  private pump(): void {
    if (this.phase !== 'established') return
    const now = this.o.now()
    while (this.next < this.script.segments.length) {
      const seg = this.script.segments[this.next]
      if (seg.ackRel !== null && !this.finReceived && ser(this.rcvNxtRel, seg.ackRel) < 0) {
        // Held until the live server has sent what the recorded client had
        // received — or has gone quiet for responseIdleMs.
        if (now - this.lastProgress < this.o.responseIdleMs) break
        this.stats.releasedOnIdle++
        // The next held segment gets its own wait.
        this.lastProgress = now
      }
      this.next++
      const isRst = (seg.flags & F_RST) !== 0
      this.sendRecordedIp(seg.ip, true)
      if (isRst) {
        this.finish('rst-sent')
        return
      }
      const end = seg.seqRel + seg.dataLen + ((seg.flags & F_FIN) !== 0 ? 1 : 0)
      if ((seg.flags & F_FIN) !== 0) this.finSent = true
      if (ser(end, this.sndNxt) > 0) {
        this.sndNxt = end
        this.inflight.push({seg, end})
        if (this.rtxAt === Infinity) this.rtxAt = now + this.rto
      }
    }
    this.checkDone()
  }

  private checkDone(): void {
    if (this.phase !== 'established' || this.next < this.script.segments.length || this.inflight.length > 0) return
    if (this.finSent && this.finReceived) {
      this.finish('fin')
      return
    }
    // The recording ends here without the client closing: once the server
    // has finished or gone quiet, reset the live connection.
    if (!this.finSent && (this.finReceived || this.o.now() - this.lastProgress >= this.o.responseIdleMs)) {
      this.sendRst()
      this.finish('rst-sent')
    }
  }

  /** The TSval to send (recorded clock; σ is added on the wire). */
  private tsValNow(recorded: number | null): number {
    const clock = u32(this.synTsVal + Math.floor(this.o.now() - this.startedAt))
    let v = this.lastTsVal
    if (recorded !== null && ser(recorded, v) > 0) v = recorded
    if (ser(clock, v) > 0) v = clock
    this.lastTsVal = v
    return u32(v + this.tsShift)
  }

  /** RST <seq = their ack> for an ACK that answers some older connection (live space, no engine: there is no state yet). */
  private resetStale(ack: number): void {
    const s = this.script
    this.staleAcksReset++
    this.o.send(buildTcpPacket({
      src: this.o.source, dst: this.o.target, srcPort: s.cport, dstPort: s.vport, seq: ack, flags: F_RST, window: 0,
      ethernet: {src: formatMac(this.o.sourceMac, 0), dst: formatMac(this.o.targetMac, 0)},
    }))
  }

  private sendSyn(): void {
    const s = this.script.syn
    const frame = this.frameOf(s)
    const d = this.dec.decode(LINKTYPE.ETHERNET, frame, frame.length, frame.length)
    this.patchSource(frame, d)
    if (d.hasTimestamp && d.tsOffset >= 0) writeU32(frame, d.tsOffset, u32(d.tsVal + this.tsShift))
    this.finishChecksums(frame, d)
    this.out(this.synEngine, frame, d.payloadLen)
  }

  /**
   * A recorded client datagram: ack, TSval, TSecr set to the live
   * conversation's; through the forward rewrite. `first`: a first
   * transmission (counted in bytesSent), not a retransmission.
   */
  private sendRecordedIp(ip: Uint8Array, first: boolean): void {
    const frame = this.frameOf(ip)
    const d = this.dec.decode(LINKTYPE.ETHERNET, frame, frame.length, frame.length)
    this.patchSource(frame, d)
    if ((d.tcpFlags & F_ACK) !== 0) writeU32(frame, d.l4Offset + 8, u32(this.script.fiss + 1 + this.rcvNxtRel))
    if (d.hasTimestamp && d.tsOffset >= 0) {
      writeU32(frame, d.tsOffset, this.tsValNow(d.tsVal))
      writeU32(frame, d.tsOffset + 4, this.tsRecent)
    }
    this.lastWindow = d.window
    this.finishChecksums(frame, d)
    this.out(this.engine!, frame, first ? d.payloadLen : 0)
  }

  private sendAck(): void {
    this.sendGenerated(F_ACK)
    this.stats.acksSent++
  }

  private sendRst(): void {
    if (this.engine === undefined) {
      // Before the SYN/ACK there is nothing to reset on the server.
      return
    }
    this.sendGenerated(F_RST | F_ACK)
  }

  private sendGenerated(flags: number): void {
    const s = this.script
    const opts = new TcpOptionsRepr()
    if (this.synTs && this.live?.ts) opts.timestamp = {tsVal: this.tsValNow(null), tsEcr: this.tsRecent}
    if ((flags & F_RST) === 0 && this.synSack && this.live?.sack && this.ooo.size > 0) opts.sack = this.sackBlocks(opts.timestamp ? 3 : 4)
    const frame = buildTcpPacket({
      src: this.o.source, dst: s.vip, srcPort: s.cport, dstPort: s.vport,
      seq: u32(s.ciss + 1 + this.sndNxt), ack: u32(s.fiss + 1 + this.rcvNxtRel), flags,
      window: (flags & F_RST) !== 0 ? 0 : this.lastWindow, options: opts,
      ethernet: {src: formatMac(this.o.sourceMac, 0), dst: formatMac(this.o.targetMac, 0)},
    })
    this.out(this.engine!, frame, 0)
  }

  /** SACK blocks (recorded space) for the out-of-order data, most recent hole first (RFC 2018 §4 asks for the newest block first; the lowest is as good here). */
  private sackBlocks(max: number): Array<[number, number]> {
    const ranges = [...this.ooo.entries()].map(([o, b]) => [o, o + b.length] as [number, number]).sort((a, b) => a[0] - b[0])
    const merged: Array<[number, number]> = []
    for (const r of ranges) {
      const last = merged[merged.length - 1]
      if (last !== undefined && r[0] <= last[1]) last[1] = Math.max(last[1], r[1])
      else merged.push([r[0], r[1]])
    }
    const base = u32(this.script.fiss + 1)
    return merged.slice(0, max).map(([a, b]) => [u32(base + a), u32(base + b)])
  }

  private frameOf(ip: Uint8Array): Uint8Array {
    const f = new Uint8Array(14 + ip.length)
    f.set(this.o.targetMac, 0)
    f.set(this.o.sourceMac, 6)
    f[12] = this.script.family === 4 ? 0x08 : 0x86
    f[13] = this.script.family === 4 ? 0x00 : 0xdd
    f.set(ip, 14)
    return f
  }

  private patchSource(frame: Uint8Array, d: PacketDecoder): void {
    frame.set(this.sourceBytes, d.ipSrcOffset)
  }

  /** Full recomputation (not incremental): the recorded bytes were just edited in several places. */
  private finishChecksums(frame: Uint8Array, d: PacketDecoder): void {
    const ip = d.ipOffset
    if (d.ipVersion === 4) {
      frame[ip + 10] = 0
      frame[ip + 11] = 0
      const c = ipv4HeaderChecksum(frame, ip, d.ipHeaderLen)
      frame[ip + 10] = c >> 8
      frame[ip + 11] = c & 0xff
    }
    const l4 = d.l4Offset
    const c = tcpOrUdpChecksum(frame, ip, l4, d.ipEnd - l4, 6)
    frame[l4 + 16] = c >> 8
    frame[l4 + 17] = c & 0xff
  }

  private out(engine: Engine, frame: Uint8Array, payload: number): void {
    const r = engine.rewriteForward(frame, LINKTYPE.ETHERNET)
    if (!r.ok) throw new Error(`${this.script.hid}: the forward rewrite refused a client segment (${r.status}: ${r.detail})`)
    this.stats.segmentsSent++
    this.stats.bytesSent += payload
    this.o.send(frame)
  }
}

// A simulated live back-end for the stateful replay's unit tests: a small
// TCP server in its own sequence space (biss, bts) that answers a SYN with a
// SYN/ACK, acknowledges and reassembles the request, and sends a response
// in segments the test chooses (order, drops) followed by a FIN. Together
// with a virtual clock it drives LiveConnection deterministically: frames
// are queued in both directions and delivered one at a time.
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {LiveConnection, type ConnOptions} from '../../replayer/live/connection.js'
import type {ConnScript, ScriptSegment} from '../../replayer/live/script.js'
import {addrBytes, answerFor, arpRequest, neighborSolicitation, parseNeighbor} from '../../replayer/live/neighbor.js'
import {performance} from 'node:perf_hooks'

export const SRC_MAC = new Uint8Array([0x02, 0x68, 0x6f, 0, 9, 1])
export const BE_MAC = new Uint8Array([0x02, 0x77, 0, 0, 0, 0x0b])
const mac = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')

export interface ScriptSpec {
  family?: 4 | 6
  cip?: string
  vip?: string
  baddr?: string
  cport?: number
  ciss?: number
  fiss?: number
  fts?: number | null
  /** Client TSval of the SYN (recorded). */
  cts?: number
  request?: string
  response: Uint8Array
  /** The client closes with a FIN after the whole response (default true). */
  clientFin?: boolean
}

export function makeScript(spec: ScriptSpec): ConnScript {
  const v6 = spec.family === 6
  const cip = spec.cip ?? (v6 ? 'fd77::1:1' : '10.77.1.1')
  const vip = spec.vip ?? (v6 ? 'fd77::12' : '10.77.0.12')
  const baddr = spec.baddr ?? (v6 ? 'fd77::11' : '10.77.0.11')
  const cport = spec.cport ?? 20001
  const ciss = spec.ciss ?? 1000
  const fiss = spec.fiss ?? 0xfffff000
  const fts = spec.fts === undefined ? 5000 : spec.fts
  const cts = spec.cts ?? 700000
  const ts = fts !== null
  const req = spec.request ?? 'GET /img/a.png HTTP/1.1\r\nhost: x\r\n\r\n'
  const base = {src: cip, dst: vip, srcPort: cport, dstPort: 80}
  const syn = buildTcpPacket({...base, seq: ciss, flags: 'S', window: 64240,
    options: {mss: 1460, sackPermitted: true, wscale: 7, ...(ts ? {timestamp: {tsVal: cts, tsEcr: 0}} : {})}})
  const o = (tsVal: number, tsEcr: number) => (ts ? {timestamp: {tsVal, tsEcr}} : {})
  const ack = buildTcpPacket({...base, seq: ciss + 1, ack: fiss + 1, flags: '.', window: 502, options: o(cts + 1, fts ?? 0)})
  const data = buildTcpPacket({...base, seq: ciss + 1, ack: fiss + 1, flags: 'P.', window: 502, payload: req, options: o(cts + 2, fts ?? 0)})
  const segments: ScriptSegment[] = [{ip: data, seqRel: 0, dataLen: req.length, flags: 0x18, ackRel: 0, source: 'request'}]
  if (spec.clientFin ?? true) {
    const fin = buildTcpPacket({...base, seq: ciss + 1 + req.length, ack: (fiss + 1 + spec.response.length + 1) >>> 0, flags: 'F.', window: 502,
      options: o(cts + 20, (fts ?? 0) + 10)})
    segments.push({ip: fin, seqRel: req.length, dataLen: 0, flags: 0x11, ackRel: spec.response.length + 1, source: 'fin'})
  }
  return {
    hid: 'n2/1', family: v6 ? 6 : 4, cip, cport, vip, vport: 80, baddr, ciss, fiss, ...(ts ? {fts} : {}),
    fopt: {mss: 1460, ws: 7, sack: true, ts}, syn, handshakeAck: ack, segments,
    response: spec.response, responseHoles: [], responseFin: spec.response.length, responseView: 'client',
  }
}

export interface PeerSpec {
  source: string
  target: string
  biss?: number
  bts?: number
  ts?: boolean
  sack?: boolean
  ws?: number
  /** The response the live server sends (after the request head arrived). */
  response: Uint8Array
  /** Segment sizes of the response (default: 1000-byte segments). */
  mss?: number
  /** Order in which the response segments go out (indexes); default in order. */
  order?: number[]
  /** Client data segments to drop on arrival, by arrival count (1 = the first data segment). */
  dropClientData?: number[]
  /** Never answer the SYN. */
  silent?: boolean
  /** Keep-alive: no FIN after the response, only in answer to the client's FIN. */
  noFin?: boolean
}

/** The simulated back-end. `received` keeps every frame the connection sent, decoded copies. */
export class SimPeer {
  readonly dec = new PacketDecoder({verifyChecksums: true})
  received: Uint8Array[] = []
  request = ''
  private rcvNxt = 0
  private sndNxt = 0
  private dataArrivals = 0
  private responded = false
  finSent = false
  /** Segments dropped for acknowledging unsent data. */
  invalidAcks = 0
  clientFinSeen = false
  tsRecent = 0
  private cport = 0
  constructor(readonly s: PeerSpec, private readonly out: (f: Uint8Array) => void, private readonly now: () => number) {}

  get biss(): number {
    return this.s.biss ?? 0x40000000
  }

  private seg(flags: string | number, seq: number, payload?: Uint8Array, extra: object = {}): void {
    const ts = this.s.ts ?? true
    this.out(buildTcpPacket({
      src: this.s.target, dst: this.s.source, srcPort: 80, dstPort: this.cport, seq: seq >>> 0, ack: this.rcvNxt >>> 0, flags, window: 500,
      ...(payload ? {payload} : {}),
      options: {...(ts ? {timestamp: {tsVal: ((this.s.bts ?? 90000) + Math.floor(this.now())) >>> 0, tsEcr: this.tsRecent}} : {}), ...extra},
      ethernet: {src: mac(BE_MAC), dst: mac(SRC_MAC)},
    }))
  }

  /** A frame from the connection. */
  input(frame: Uint8Array): void {
    this.received.push(frame.slice())
    const d = this.dec.decode(LINKTYPE.ETHERNET, frame, frame.length, frame.length)
    if (d.transport !== 'tcp') return
    if (d.hasTimestamp) this.tsRecent = d.tsVal
    if ((d.tcpFlags & 0x02) !== 0) {
      if (this.s.silent) return
      this.cport = d.srcPort
      this.rcvNxt = (d.seq + 1) >>> 0
      this.sndNxt = (this.biss + 1) >>> 0
      this.seg('S.', this.biss, undefined, {mss: 1460, ...(this.s.ws !== undefined ? {wscale: this.s.ws} : {}), sackPermitted: this.s.sack ?? true})
      return
    }
    if ((d.tcpFlags & 0x04) !== 0) return
    // Like Linux (tcp_ack): a segment acknowledging data never sent is dropped, answered with an ACK.
    if ((d.tcpFlags & 0x10) !== 0 && ((d.ack - this.sndNxt) | 0) > 0) {
      this.invalidAcks++
      this.seg('.', this.sndNxt)
      return
    }
    if (d.payloadLen > 0) {
      this.dataArrivals++
      if (this.s.dropClientData?.includes(this.dataArrivals)) return
      if (d.seq === this.rcvNxt) {
        this.request += Buffer.from(d.bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLen)).toString('latin1')
        this.rcvNxt = (this.rcvNxt + d.payloadLen) >>> 0
      }
      this.seg('.', this.sndNxt)
      if (!this.responded && this.request.includes('\r\n\r\n')) {
        this.responded = true
        this.respond()
      }
    }
    if ((d.tcpFlags & 0x01) !== 0 && d.seq === this.rcvNxt) {
      this.clientFinSeen = true
      this.rcvNxt = (this.rcvNxt + 1) >>> 0
      if (this.finSent) this.seg('.', this.sndNxt)
      else this.sendFin()
    }
  }

  private respond(): void {
    const r = this.s.response
    const mss = this.s.mss ?? 1000
    const base = (this.biss + 1) >>> 0
    const pieces: {off: number; data: Uint8Array}[] = []
    for (let off = 0; off < r.length; off += mss) pieces.push({off, data: r.subarray(off, Math.min(r.length, off + mss))})
    const order = this.s.order ?? pieces.map((_, i) => i)
    for (const i of order) this.seg('P.', base + pieces[i].off, pieces[i].data)
    this.sndNxt = (base + r.length) >>> 0
    if (!this.s.noFin) this.sendFin()
  }

  private sendFin(): void {
    this.seg('F.', this.sndNxt)
    this.finSent = true
    this.sndNxt = (this.sndNxt + 1) >>> 0
  }
}

/** Connection + peer + virtual clock. run() delivers frames and fires timers until the connection ends or `limitMs` passes. */
export class Sim {
  t = 0
  readonly toPeer: Uint8Array[] = []
  readonly toConn: Uint8Array[] = []
  readonly conn: LiveConnection
  readonly peer: SimPeer
  /** Frames the connection sent, in order (copies). */
  readonly sent: Uint8Array[] = []

  constructor(script: ConnScript, peer: Omit<PeerSpec, 'source' | 'target'> & {source?: string; target?: string}, opts: Partial<ConnOptions> = {}) {
    const source = peer.source ?? (script.family === 6 ? 'fd77::9:1' : '10.77.9.1')
    const target = peer.target ?? script.baddr
    this.peer = new SimPeer({...peer, source, target}, (f) => this.toConn.push(f), () => this.t)
    this.conn = new LiveConnection(script, {
      source, sourceMac: SRC_MAC, target, targetMac: BE_MAC, now: () => this.t, tsClock: () => 123456789 + this.t,
      send: (f) => {
        this.sent.push(f.slice())
        this.toPeer.push(f)
      },
      ...opts,
    })
  }

  private flush(): void {
    while (this.toPeer.length > 0 || this.toConn.length > 0) {
      const a = this.toPeer.shift()
      if (a !== undefined) this.peer.input(a)
      const b = this.toConn.shift()
      if (b !== undefined) this.conn.onFrame(b)
    }
  }

  run(limitMs = 60000): void {
    this.conn.start()
    this.flush()
    while (!this.conn.finished && this.t < limitMs) {
      const next = this.conn.nextDeadline()
      if (!Number.isFinite(next)) break
      this.t = Math.max(this.t + 1, Math.ceil(next))
      this.conn.poll()
      this.flush()
    }
  }
}

/**
 * A simulated Ethernet segment for the whole runner (replayStateful): a
 * back-end at `target` with MAC BE_MAC that answers ARP / neighbour
 * solicitations, asks for the replayer's source address itself before its
 * first SYN/ACK (as a kernel does) and runs one SimPeer per connection.
 * Frames are delivered asynchronously, like libpcap's.
 */
export class SimSegment {
  private cb: (f: Uint8Array) => void = () => {}
  readonly peers = new Map<number, SimPeer>()
  /** Frames the runner injected. */
  readonly injected: Uint8Array[] = []
  sourceMacSeen: string | null = null
  /** Like a real kernel (RFC 826; RFC 4861 §7.2.3): an ARP request / solicitation from the source teaches its MAC. */
  learnFromRequests = false
  /** The first frame to the runner is lost (as a freshly opened libpcap session was seen to lose it). */
  loseFirst = false
  /** Solicitations / ARP requests the back-end sent for the source. */
  asked = 0
  private delivered = 0
  private pending: Uint8Array[] = []
  private readonly dec = new PacketDecoder({verifyChecksums: false})
  readonly linkType = LINKTYPE.ETHERNET
  constructor(readonly target: string, readonly responses: (cport: number) => Uint8Array, readonly t0 = performance.now()) {}

  onFrame(cb: (f: Uint8Array) => void): void {
    this.cb = cb
  }

  close(): void {}

  private deliver(f: Uint8Array): void {
    if (this.delivered++ === 0 && this.loseFirst) return
    setImmediate(() => this.cb(f))
  }

  inject(frame: Uint8Array): void {
    const f = frame.slice()
    this.injected.push(f)
    const nb = parseNeighbor(f)
    const tb = addrBytes(this.target)
    if (nb !== null) {
      if (nb.kind === 'request') {
        if (this.learnFromRequests && this.sourceMacSeen === null) {
          this.sourceMacSeen = mac(nb.senderMac)
          for (const p of this.pending.splice(0)) this.deliver(p)
        }
        const a = answerFor(nb, [tb], BE_MAC)
        if (a !== null) this.deliver(a)
      } else {
        // Our question about the source was answered: send what waited for it.
        this.sourceMacSeen = mac(nb.mac)
        for (const p of this.pending.splice(0)) this.deliver(p)
      }
      return
    }
    const d = this.dec.decode(LINKTYPE.ETHERNET, f, f.length, f.length)
    if (d.transport !== 'tcp') return
    let peer = this.peers.get(d.srcPort)
    if (peer === undefined) {
      const source = d.srcAddr()
      peer = new SimPeer({source, target: this.target, response: this.responses(d.srcPort)}, (out) => {
        if (this.sourceMacSeen !== null) this.deliver(out)
        else this.pending.push(out)
      }, () => performance.now() - this.t0)
      this.peers.set(d.srcPort, peer)
      if (this.sourceMacSeen === null) {
        this.asked++
        const sb = addrBytes(source)
        this.deliver(sb.length === 4 ? arpRequest(BE_MAC, tb, sb) : neighborSolicitation(BE_MAC, tb, sb))
      }
    }
    peer.input(f)
  }
}

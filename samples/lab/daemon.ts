// The handoff daemon of one node (spec §1, BTCP + UTCP roles), a bump in the
// wire between the node's stack (interface in0) and the cluster LAN (lan0).
// It captures inbound frames on each side with libpcap and injects them on
// the other — untouched (ARP, unrelated traffic), held, rewritten by the §4
// engine, or dropped — following spec §2 step by step:
//
// Front-end (a client connects to this node's address, the VIP):
//   1-3  SYN and ACK are stored and passed up; the stack's SYN/ACK gives
//        fiss, fts and the options (fopt).
//   4    request segments are stored and NOT passed up until the end of the
//        HTTP request head; retransmissions meanwhile are absorbed.
//   5    the §6 policy picks the node. Own turn: the stored request is passed
//        up (local service).
//   6    otherwise handoff-req (pkts = SYN, ACK, request datagrams) on the
//        control channel to the chosen node;
//   9    on handoff-ack: a RST with seq = ciss+1 toward this node's stack only
//        (it never reaches the LAN), then forwarding mode: every later client
//        segment goes through Engine.rewriteForward and straight onto the
//        LAN; on handoff-nack (or no answer in time): local service.
//  11    terminate frees the state; the port pair is remembered for
//        FE_LINGER_MS so that late client segments are absorbed instead of
//        reaching the stack, which would answer them with a RST.
// Back-end (a handoff-req arrives):
//   7    the SYN, rewritten to this node's address, is injected toward the
//        stack; the stack's SYN/ACK is taken off the wire (biss, bts, bopt);
//        the ACK and request are replayed through Engine.rewriteForward;
//   8    handoff-ack (or handoff-nack when the stack does not answer);
//  10    every later stack segment goes through Engine.rewriteReturn and
//        straight to the client; forwarded client segments are passed up;
//  11    both FINs and the last ACK, or a RST: terminate to the front-end.
//
// Usage (started by `handoff lab up` inside the node's daemon namespace):
//   node daemon.js --state LAB.json --node n1
import {readFileSync} from 'node:fs'
import {csumUpdate32, rewrite16, rewrite32} from '../../analyzer/wire/checksum.js'
import {faultyHid, isFault, type FaultId} from './faults.js'
import {join} from 'node:path'
import {openLive, type LivePacket, type LiveSource} from '../../analyzer/capture/live.js'
import type {ControlMessage, HandoffAck, HandoffReq, SynAckOptions} from '../../analyzer/control/index.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {formatIpv4, formatMac, parseIpv4, parseMac, readU32} from '../../analyzer/wire/addr.js'
import {Engine, TranslationState} from '../../replayer/engine/index.js'
import {chooseNode, CONTROL_PORT, HTTP_PORT, writeJsonAtomic, type LabState, type NodeInfo} from './config.js'
import {ControlChannels, nowUs, type PeerInfo} from './control.js'
import {zeroCounters, type DaemonStatus} from './daemon-status.js'

const LINKTYPE_ETHERNET = 1
const F_FIN = 0x01
const F_SYN = 0x02
const F_RST = 0x04
const F_ACK = 0x10
/** Give up on a request head larger than this: served locally. */
const MAX_HEAD = 16384
const HANDOFF_TIMEOUT_MS = 2000
const BE_SYNACK_TIMEOUT_MS = 1500
const IDLE_SETUP_MS = 10000
const IDLE_ACTIVE_MS = 60000
const BE_LINGER_MS = 3000
/** How long a front-end remembers a connection after its terminate (see `closed`). */
const FE_LINGER_MS = 30000
const MAX_LATENCIES = 50000

interface FeConn {
  key: number
  state: 'syn' | 'est' | 'pending' | 'fwd'
  cip: string
  cport: number
  clientMac: Uint8Array
  synAtMs: number
  ciss: number
  fiss?: number
  fts?: number
  fopt?: SynAckOptions
  synPkt: Uint8Array
  ackPkt?: Uint8Array
  dataFrames: Uint8Array[]
  dataPkts: Uint8Array[]
  nextSeq: number
  head: Buffer[]
  headLen: number
  queue: Uint8Array[]
  hid?: string
  be?: string
  req?: HandoffReq
  engine?: Engine
  timer?: NodeJS.Timeout
  lastActive: number
  /** This handoff is one a --fault applies to. */
  faulty: boolean
  lastFwd?: Uint8Array
}

interface BeConn {
  key: number
  state: 'syn' | 'up' | 'closed'
  fe: string
  req: HandoffReq
  engine?: Engine
  cbytes: number
  sbytes: number
  finC?: number
  finS?: number
  lastFin?: 'c' | 's'
  timer?: NodeJS.Timeout
  closedAt: number
  lastActive: number
  faulty: boolean
  firstDataDone: boolean
}

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error(`daemon: --${name} is required`)
    process.exit(2)
  }
  return process.argv[i + 1]
}

function log(s: string): void {
  console.log(`${new Date().toISOString()} ${s}`)
}

/** Key of a connection by client address and port (numbers, no strings on the hot path). */
function connKey(ipU32: number, port: number): number {
  return ipU32 * 65536 + port
}

/**
 * request-replay fault: lower-cases the first letter of the first header
 * name in an IP datagram's TCP payload (HTTP header names are
 * case-insensitive, so the request still works), fixing the TCP checksum.
 */
function lowerFirstHeaderName(pkt: Uint8Array): boolean {
  const ihl = (pkt[0] & 0x0f) * 4
  const l4 = ihl
  const pay = l4 + (pkt[l4 + 12] >> 4) * 4
  for (let i = pay; i + 2 < pkt.length; i++) {
    if (pkt[i] === 0x0d && pkt[i + 1] === 0x0a && pkt[i + 2] >= 0x41 && pkt[i + 2] <= 0x5a) {
      const o = i + 2
      const w = (o - l4) & 1 ? o - 1 : o // the 16-bit word holding the byte
      const before = (pkt[w] << 8) | pkt[w + 1]
      pkt[o] |= 0x20
      const after = (pkt[w] << 8) | pkt[w + 1]
      pkt[w] = before >>> 8
      pkt[w + 1] = before & 0xff
      rewrite16(pkt, l4 + 16, w, after, l4)
      return true
    }
  }
  return false
}

class Daemon {
  readonly st: LabState
  readonly me: NodeInfo
  readonly myAddrU32: number
  readonly myMac: Uint8Array
  readonly nodeNames: string[]
  readonly counters = zeroCounters()
  readonly handoffsTo: Record<string, number> = {}
  readonly latenciesUs: number[] = []
  latencyCount = 0
  readonly fe = new Map<number, FeConn>()
  readonly be = new Map<number, BeConn>()
  readonly pendingByHid = new Map<string, FeConn>()
  readonly fwdByHid = new Map<string, FeConn>()
  /**
   * Front-end connections ended by a terminate → when to forget them. Late
   * client segments (a FIN retransmitted while the first copy was still on its
   * way to the back-end, a duplicate ACK) must not reach this node's stack:
   * it reset its copy at the handoff and would answer them with a RST from the
   * VIP. Forwarding them instead would be spec §5's late-forward, so they are
   * absorbed, like TIME_WAIT absorbs them on a normal host.
   */
  readonly closed = new Map<number, number>()
  private readonly dec = new PacketDecoder({verifyChecksums: false})
  private hidSeq = 0
  inside!: LiveSource
  lan!: LiveSource
  ctl!: ControlChannels
  ready = false
  /** The fault in force (lab up --fault, or <stateDir>/fault written by lab run --fault). */
  fault: FaultId | undefined

  constructor(st: LabState, me: NodeInfo) {
    this.st = st
    this.me = me
    this.myAddrU32 = parseIpv4(me.addr) >>> 0
    this.myMac = parseMac(me.mac)
    this.nodeNames = st.nodes.map((n) => n.name)
  }

  start(): void {
    this.inside = openLive({interface: this.me.ifInside, filter: 'inbound', immediate: true})
    this.lan = openLive({interface: this.me.ifLan, filter: 'inbound', immediate: true})
    this.inside.on('packet', (p) => this.fromStack(p))
    this.lan.on('packet', (p) => this.fromLan(p))
    for (const s of [this.inside, this.lan]) s.on('error', (e) => log(`capture error: ${e.message}`))
    this.ctl = new ControlChannels({
      me: {name: this.me.name, ctlAddr: this.me.ctlAddr, index: this.me.index, addr: this.me.addr, mac: this.me.mac},
      peers: this.st.nodes.filter((n) => n.name !== this.me.name).map((n) => ({name: n.name, ctlAddr: n.ctlAddr, index: n.index})),
      port: CONTROL_PORT,
      onMessage: (from, msg) => this.onControl(from, msg),
      log,
    })
    this.ctl.start()
    setInterval(() => this.sweep(), 500).unref()
    setInterval(() => this.writeStatus(), 200)
    this.ready = true
    log(`daemon ${this.me.name} up: ${this.me.ifInside} (stack ${this.me.addr} ${this.me.mac}) <-> ${this.me.ifLan}, control ${this.me.ctlAddr}:${CONTROL_PORT}`)
  }

  // ---------------------------------------------------------------- output

  private inject(src: LiveSource, frame: Uint8Array): void {
    try {
      src.inject(frame)
    } catch (e) {
      this.counters.injectErrors++
      log((e as Error).message)
    }
  }

  private toStack(frame: Uint8Array): void {
    this.inject(this.inside, frame)
  }

  private toLan(frame: Uint8Array): void {
    this.inject(this.lan, frame)
  }

  // ---------------------------------------------------------------- LAN side

  private fromLan(p: LivePacket): void {
    const f = p.data
    const d = this.dec.decode(LINKTYPE_ETHERNET, f, f.length, p.origLen)
    if (d.network !== 'ipv4' || d.proto !== 6 || d.l4HeaderLen === 0 || d.dstPort !== HTTP_PORT ||
      readU32(f, d.ipDstOffset) >>> 0 !== this.myAddrU32) {
      this.counters.relayedFromLan++
      this.toStack(f)
      return
    }
    const cipU32 = readU32(f, d.ipSrcOffset) >>> 0
    const key = connKey(cipU32, d.srcPort)
    const flags = d.tcpFlags
    const isSyn = (flags & F_SYN) !== 0 && (flags & F_ACK) === 0
    const b = this.be.get(key)
    if (b !== undefined && !isSyn) {
      this.beFromClient(b, f, flags, d.seq, d.ack, d.payloadLen)
      return
    }
    if (isSyn) {
      if (b !== undefined) this.freeBe(b)
      this.feSyn(key, f, d.seq, d.srcPort, cipU32)
      return
    }
    const c = this.fe.get(key)
    if (c === undefined) {
      if (this.closed.has(key)) {
        this.counters.absorbedAfterTerminate++
        return
      }
      this.counters.relayedFromLan++
      this.toStack(f)
      return
    }
    this.feFromClient(c, f, flags, d.seq, d.payloadOffset, d.payloadLen)
  }

  private ipDatagram(f: Uint8Array): Uint8Array {
    const d = this.dec
    return f.slice(d.ipOffset, d.ipOffset + d.ipTotalLen)
  }

  private feSyn(key: number, f: Uint8Array, seq: number, cport: number, cipU32: number): void {
    const old = this.fe.get(key)
    if (old !== undefined && old.state === 'syn' && old.ciss === seq) {
      // SYN retransmission
      old.lastActive = Date.now()
      this.counters.relayedFromLan++
      this.toStack(f)
      return
    }
    if (old !== undefined) this.freeFe(old)
    this.closed.delete(key) // a new connection on a remembered port pair
    const ipb = new Uint8Array(4)
    new DataView(ipb.buffer).setUint32(0, cipU32)
    const c: FeConn = {
      key, state: 'syn', cip: formatIpv4(ipb, 0), cport, clientMac: f.slice(6, 12), synAtMs: performance.now(), ciss: seq,
      synPkt: this.ipDatagram(f), dataFrames: [], dataPkts: [], nextSeq: (seq + 1) >>> 0, head: [], headLen: 0, queue: [],
      lastActive: Date.now(), faulty: false,
    }
    this.fe.set(key, c)
    this.counters.connections++
    this.counters.relayedFromLan++
    this.toStack(f)
  }

  private feFromClient(c: FeConn, f: Uint8Array, flags: number, seq: number, payOff: number, payLen: number): void {
    c.lastActive = Date.now()
    switch (c.state) {
      case 'syn':
        if ((flags & F_RST) === 0 && (flags & F_ACK) !== 0 && payLen === 0 && c.fiss !== undefined) {
          c.ackPkt = this.ipDatagram(f)
          c.state = 'est'
          // fts is the TSval of the SYN/ACK this ACK answers (its TSecr), whichever the client saw first.
          if (c.fts !== undefined && this.dec.hasTimestamp && this.dec.tsEcr !== 0) c.fts = this.dec.tsEcr
        } else if (payLen > 0 || (flags & F_RST) !== 0) {
          // Data before a bare ACK (or a reset): not a connection we can hand
          // off; plain relay from now on (a request in it is served here).
          if (payLen > 0) this.counters.local++
          this.freeFe(c)
        }
        this.counters.relayedFromLan++
        this.toStack(f)
        return
      case 'est': {
        if ((flags & (F_RST | F_FIN)) !== 0 && payLen === 0) {
          // The client gives up before its request head is complete: hand what we hold to the stack.
          this.serveLocal(c, false)
          this.counters.relayedFromLan++
          this.toStack(f)
          return
        }
        if (payLen === 0) {
          this.counters.relayedFromLan++
          this.toStack(f)
          return
        }
        if (seq !== c.nextSeq) {
          // A retransmission (or a segment out of order): absorbed; the client sends it again if it matters.
          this.counters.absorbed++
          return
        }
        c.dataFrames.push(f)
        c.dataPkts.push(this.ipDatagram(f))
        c.head.push(Buffer.from(f.buffer, f.byteOffset + payOff, payLen))
        c.headLen += payLen
        c.nextSeq = (c.nextSeq + payLen) >>> 0
        const head = Buffer.concat(c.head)
        const end = head.indexOf('\r\n\r\n')
        if (end >= 0) this.decide(c, head.subarray(0, end + 4).toString('latin1'))
        else if (c.headLen > MAX_HEAD || (flags & F_FIN) !== 0) this.serveLocal(c, true)
        return
      }
      case 'pending':
        c.queue.push(f)
        return
      case 'fwd':
        this.feForward(c, f)
        return
    }
  }

  private feForward(c: FeConn, f: Uint8Array): void {
    const r = c.engine!.rewriteForward(f, LINKTYPE_ETHERNET)
    if (!r.ok) {
      this.counters.rewriteErrors++
      log(`forward rewrite failed for ${c.hid}: ${r.status} ${r.detail}`)
      return
    }
    if (c.faulty) this.forwardFault(c, f)
    // The frame leaves through this node's LAN port: it must carry this
    // node's MAC as source, or the LAN bridge learns the client's MAC on
    // this port and sends the client's return traffic here.
    f.set(this.myMac, 6)
    this.counters.forwarded++
    this.toLan(f)
  }

  private decide(c: FeConn, head: string): void {
    const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(head)
    if (!m) {
      this.serveLocal(c, true)
      return
    }
    const url = m[2]
    const hm = /\r\nhost:[ \t]*([^\r\n]*)/i.exec(head)
    const target = chooseNode(url, this.st.partition, this.nodeNames)
    if (target === this.me.name || c.fiss === undefined || c.fopt === undefined || c.ackPkt === undefined || !this.ctl.peers.has(target)) {
      this.serveLocal(c, true)
      return
    }
    const hid = `${this.me.name}/${++this.hidSeq}`
    c.faulty = this.fault !== undefined && faultyHid(hid)
    const req: HandoffReq = {
      v: 1, t: 'handoff-req', node: this.me.name, at: nowUs(), hid, cip: c.cip, cport: c.cport, vip: this.me.addr, vport: HTTP_PORT,
      ciss: c.ciss, fiss: c.fiss, ...(c.fts !== undefined ? {fts: c.fts} : {}), fopt: c.fopt,
      pkts: [c.synPkt, c.ackPkt, ...c.dataPkts], url, ...(hm ? {host: hm[1].trim()} : {}),
    }
    if (c.faulty && this.fault === 'isn-mismatch') {
      req.ciss = (req.ciss + 1) >>> 0
      this.counters.faultsApplied++
    }
    if (c.faulty && this.fault === 'request-replay') {
      req.pkts = [...req.pkts]
      req.pkts[2] = req.pkts[2].slice()
      if (lowerFirstHeaderName(req.pkts[2])) this.counters.faultsApplied++
    }
    c.hid = hid
    c.be = target
    c.req = req
    c.state = 'pending'
    this.pendingByHid.set(hid, c)
    if (!this.ctl.send(target, req)) {
      this.pendingByHid.delete(hid)
      this.serveLocal(c, true)
      return
    }
    this.counters.handoffsOut++
    c.timer = setTimeout(() => {
      if (this.pendingByHid.get(hid) !== c) return
      this.pendingByHid.delete(hid)
      this.counters.handoffTimeouts++
      log(`handoff ${hid} to ${target}: no answer in ${HANDOFF_TIMEOUT_MS} ms, serving locally`)
      this.serveLocal(c, true)
    }, HANDOFF_TIMEOUT_MS)
  }

  /** Passes the held request (and anything queued meanwhile) up to this node's stack; the connection is then plain relay. */
  private serveLocal(c: FeConn, count: boolean): void {
    if (count) this.counters.local++
    for (const f of c.dataFrames) this.toStack(f)
    for (const f of c.queue) this.toStack(f)
    this.counters.relayedFromLan += c.dataFrames.length + c.queue.length
    this.freeFe(c)
  }

  private freeFe(c: FeConn): void {
    if (c.timer) clearTimeout(c.timer)
    if (this.fe.get(c.key) === c) this.fe.delete(c.key)
    if (c.hid !== undefined) {
      if (this.pendingByHid.get(c.hid) === c) this.pendingByHid.delete(c.hid)
      if (this.fwdByHid.get(c.hid) === c) this.fwdByHid.delete(c.hid)
    }
  }

  private onAck(ack: HandoffAck): void {
    const c = this.pendingByHid.get(ack.hid)
    if (c === undefined) {
      log(`handoff-ack ${ack.hid}: no pending handoff (late or unknown)`)
      return
    }
    this.pendingByHid.delete(ack.hid)
    if (c.timer) clearTimeout(c.timer)
    this.counters.acksReceived++
    let engine: Engine
    try {
      engine = new Engine(TranslationState.fromControl(c.req!, ack))
    } catch (e) {
      log(`handoff-ack ${ack.hid}: ${(e as Error).message}; serving locally`)
      this.serveLocal(c, true)
      return
    }
    const lat = Math.round((performance.now() - c.synAtMs) * 1000)
    this.latencyCount++
    this.latenciesUs.push(lat)
    if (this.latenciesUs.length > MAX_LATENCIES) this.latenciesUs.splice(0, this.latenciesUs.length - MAX_LATENCIES)
    this.handoffsTo[c.be!] = (this.handoffsTo[c.be!] ?? 0) + 1
    // Step 9: reset the FE stack's copy of the connection. seq = ciss+1 is
    // exactly its rcv_nxt (it never got the request), so it accepts the RST.
    const rst = buildTcpPacket({
      ethernet: {src: formatMac(c.clientMac, 0), dst: this.me.mac},
      src: c.cip, dst: this.me.addr, srcPort: c.cport, dstPort: HTTP_PORT,
      seq: (c.ciss + 1) >>> 0, ack: 0, flags: 'R', window: 0,
    })
    this.toStack(rst)
    this.counters.rstInjected++
    if (c.faulty && this.fault === 'rst-leak') {
      this.toLan(buildTcpPacket({
        ethernet: {src: this.me.mac, dst: formatMac(c.clientMac, 0)},
        src: this.me.addr, dst: c.cip, srcPort: HTTP_PORT, dstPort: c.cport, seq: (c.fiss! + 1) >>> 0, ack: 0, flags: 'R', window: 0,
      }))
      this.counters.faultsApplied++
    }
    c.engine = engine
    c.state = 'fwd'
    this.fwdByHid.set(ack.hid, c)
    const q = c.queue
    c.queue = []
    for (const f of q) this.feForward(c, f)
  }

  private onNack(hid: string, err: string): void {
    const c = this.pendingByHid.get(hid)
    this.counters.nacksReceived++
    if (c === undefined) return
    log(`handoff ${hid} refused by ${c.be}: ${err}; serving locally`)
    this.serveLocal(c, true)
  }

  // ---------------------------------------------------------------- stack side

  private fromStack(p: LivePacket): void {
    const f = p.data
    const d = this.dec.decode(LINKTYPE_ETHERNET, f, f.length, p.origLen)
    if (d.network !== 'ipv4' || d.proto !== 6 || d.l4HeaderLen === 0 || d.srcPort !== HTTP_PORT ||
      readU32(f, d.ipSrcOffset) >>> 0 !== this.myAddrU32) {
      this.counters.relayedFromStack++
      this.toLan(f)
      return
    }
    const key = connKey(readU32(f, d.ipDstOffset) >>> 0, d.dstPort)
    const flags = d.tcpFlags
    const b = this.be.get(key)
    if (b !== undefined) {
      this.beFromStack(b, f, flags, d.seq, d.ack, d.payloadLen)
      return
    }
    const c = this.fe.get(key)
    if (c === undefined) {
      if (this.closed.has(key)) {
        // The stack's own answer on a connection handed off and ended (its RST
        // to anything that slipped through): never from the VIP to the client.
        this.counters.feStackDropped++
        return
      }
      this.counters.relayedFromStack++
      this.toLan(f)
      return
    }
    if (c.state === 'syn') {
      // The first SYN/ACK only: a retransmitted one (the stack answering a
      // retransmitted SYN) carries a later TSval than the one the client's ACK echoes.
      if ((flags & (F_SYN | F_ACK)) === (F_SYN | F_ACK) && c.fiss === undefined) {
        c.fiss = d.seq
        c.fts = d.hasTimestamp ? d.tsVal : undefined
        c.fopt = this.options()
      }
    } else if (c.state === 'pending' || c.state === 'fwd') {
      this.counters.feStackDropped++
      return
    }
    this.counters.relayedFromStack++
    this.toLan(f)
  }

  /** The options of the decoded SYN/ACK, as fopt/bopt. */
  private options(): SynAckOptions {
    const d = this.dec
    const o: SynAckOptions = {mss: d.mss >= 0 ? d.mss : 536, sack: d.sackPermitted, ts: d.hasTimestamp}
    if (d.wscale >= 0) o.ws = d.wscale
    return o
  }

  // ---------------------------------------------------------------- back-end

  private onReq(from: PeerInfo, req: HandoffReq): void {
    this.counters.handoffsIn++
    const nack = (err: string) => {
      this.counters.nacksSent++
      this.ctl.sendTo(from, {v: 1, t: 'handoff-nack', node: this.me.name, at: nowUs(), hid: req.hid, err})
      log(`handoff-nack ${req.hid}: ${err}`)
    }
    let key: number
    try {
      key = connKey(parseIpv4(req.cip) >>> 0, req.cport)
    } catch {
      nack(`cip ${req.cip} is not IPv4`)
      return
    }
    const old = this.be.get(key)
    if (old !== undefined) {
      if (old.state !== 'closed') {
        nack(`connection ${req.cip}:${req.cport} is already handed off here (${old.req.hid})`)
        return
      }
      this.freeBe(old)
    }
    if (req.pkts.length < 3) {
      nack(`pkts holds ${req.pkts.length} segment(s); SYN, ACK and at least one request segment are needed`)
      return
    }
    let syn: Uint8Array
    try {
      const e0 = new Engine(TranslationState.fromValues({cip: req.cip, cport: req.cport, vip: req.vip, vport: req.vport, baddr: this.me.addr, bmac: this.me.mac, delta: 0}))
      syn = this.frameOf(req.pkts[0], from.mac)
      const r = e0.rewriteForward(syn, LINKTYPE_ETHERNET)
      if (!r.ok) throw new Error(`the SYN cannot be rewritten: ${r.status} ${r.detail}`)
    } catch (e) {
      nack((e as Error).message)
      return
    }
    const b: BeConn = {key, state: 'syn', fe: from.name, req, cbytes: 0, sbytes: 0, closedAt: 0, lastActive: Date.now(),
      faulty: this.fault !== undefined && faultyHid(req.hid), firstDataDone: false}
    b.timer = setTimeout(() => {
      if (b.state !== 'syn') return
      this.freeBe(b)
      nack(`the stack did not answer the replayed SYN within ${BE_SYNACK_TIMEOUT_MS} ms`)
    }, BE_SYNACK_TIMEOUT_MS)
    this.be.set(key, b)
    this.toStack(syn)
  }

  /** An IP datagram from pkts in an Ethernet frame toward this node's stack. */
  private frameOf(pkt: Uint8Array, srcMac: string): Uint8Array {
    const f = new Uint8Array(14 + pkt.length)
    f.set(this.myMac, 0)
    f.set(parseMac(srcMac), 6)
    f[12] = 0x08
    f[13] = 0x00
    f.set(pkt, 14)
    return f
  }

  private beFromStack(b: BeConn, f: Uint8Array, flags: number, seq: number, ack: number, payLen: number): void {
    b.lastActive = Date.now()
    if ((flags & (F_SYN | F_ACK)) === (F_SYN | F_ACK)) {
      // Step 7: the BE's SYN/ACK never reaches the client.
      this.counters.synackSwallowed++
      if (b.state !== 'syn') return
      if (b.timer) clearTimeout(b.timer)
      const req = b.req
      const peer = this.ctl.peers.get(b.fe)
      const ackMsg: HandoffAck = {
        v: 1, t: 'handoff-ack', node: this.me.name, at: nowUs(), hid: req.hid, biss: seq,
        ...(this.dec.hasTimestamp ? {bts: this.dec.tsVal} : {}), bopt: this.options(), baddr: this.me.addr, bmac: this.me.mac,
      }
      try {
        b.engine = new Engine(TranslationState.fromControl(req, ackMsg))
      } catch (e) {
        this.freeBe(b)
        this.counters.nacksSent++
        if (peer) this.ctl.sendTo(peer, {v: 1, t: 'handoff-nack', node: this.me.name, at: nowUs(), hid: req.hid, err: (e as Error).message})
        return
      }
      b.state = 'up'
      if (b.faulty && this.fault === 'synack-leak') {
        const leak = f.slice()
        if (b.engine.rewriteReturn(leak, LINKTYPE_ETHERNET).ok) {
          this.toLan(leak)
          this.counters.faultsApplied++
        }
      }
      const srcMac = peer?.mac ?? this.me.mac
      for (let i = 1; i < req.pkts.length; i++) {
        const fr = this.frameOf(req.pkts[i], srcMac)
        const r = b.engine.rewriteForward(fr, LINKTYPE_ETHERNET)
        if (!r.ok) {
          this.counters.rewriteErrors++
          continue
        }
        if (i >= 2) b.cbytes += req.pkts[i].length - this.payloadOffsetOf(req.pkts[i])
        this.toStack(fr)
      }
      this.counters.acksSent++
      if (peer) this.ctl.sendTo(peer, ackMsg)
      return
    }
    if (b.state === 'syn') {
      // RST from the stack for the replayed SYN (e.g. nothing listening): refuse.
      this.freeBe(b)
      this.counters.nacksSent++
      this.ctl.send(b.fe, {v: 1, t: 'handoff-nack', node: this.me.name, at: nowUs(), hid: b.req.hid, err: 'the stack refused the replayed SYN'})
      return
    }
    b.sbytes += payLen
    this.track(b, false, flags, seq, ack, payLen)
    const window = this.dec.window
    const r = b.engine!.rewriteReturn(f, LINKTYPE_ETHERNET)
    if (!r.ok) {
      this.counters.rewriteErrors++
      log(`return rewrite failed for ${b.req.hid}: ${r.status} ${r.detail}`)
      return
    }
    if (b.faulty && this.returnFault(b, f, payLen, window)) return
    this.counters.returned++
    this.toLan(f)
  }

  private payloadOffsetOf(pkt: Uint8Array): number {
    const ihl = (pkt[0] & 0x0f) * 4
    return ihl + (pkt[ihl + 12] >> 4) * 4
  }

  private beFromClient(b: BeConn, f: Uint8Array, flags: number, seq: number, ack: number, payLen: number): void {
    b.lastActive = Date.now()
    b.cbytes += payLen
    this.track(b, true, flags, seq, ack, payLen)
    this.counters.relayedFromLan++
    this.toStack(f)
  }

  /** Step 11: both FINs and the ACK of the last one, or a RST, end the connection. */
  private track(b: BeConn, fromClient: boolean, flags: number, seq: number, ack: number, payLen: number): void {
    if (b.state !== 'up') return
    if ((flags & F_RST) !== 0) {
      this.terminate(b, 'rst')
      return
    }
    if ((flags & F_FIN) !== 0) {
      const end = (seq + payLen + 1) >>> 0
      if (fromClient) b.finC = end
      else b.finS = end
      b.lastFin = fromClient ? 'c' : 's'
    }
    if (b.finC !== undefined && b.finS !== undefined && (flags & F_ACK) !== 0) {
      if (fromClient && b.lastFin === 's' && ack === b.finS) this.terminate(b, 'fin')
      else if (!fromClient && b.lastFin === 'c' && ack === b.finC) this.terminate(b, 'fin')
    }
  }

  private terminate(b: BeConn, reason: 'fin' | 'rst' | 'timeout'): void {
    b.state = 'closed'
    b.closedAt = Date.now()
    this.counters.terminatesSent++
    this.ctl.send(b.fe, {v: 1, t: 'terminate', node: this.me.name, at: nowUs(), hid: b.req.hid, reason, cbytes: b.cbytes, sbytes: b.sbytes})
    if (b.faulty && this.fault === 'handoff-orphan') {
      this.ctl.send(b.fe, {v: 1, t: 'terminate', node: this.me.name, at: nowUs(), hid: `${b.fe}/orphan-${b.req.hid.slice(b.req.hid.lastIndexOf('/') + 1)}`,
        reason, cbytes: 0, sbytes: 0})
      this.counters.faultsApplied++
    }
  }

  // ---------------------------------------------------------------- faults (lab run --fault)

  /** FE: after the correct forward rewrite, break the one rule of the fault in force. */
  private forwardFault(c: FeConn, f: Uint8Array): void {
    const d = this.dec.decode(LINKTYPE_ETHERNET, f, f.length, f.length)
    const l4 = d.l4Offset
    const st = c.engine!.state
    switch (this.fault) {
      case 'ack-remap':
        if ((d.tcpFlags & F_ACK) !== 0) {
          rewrite32(f, l4 + 16, l4 + 8, (d.ack - 1) >>> 0, l4)
          this.counters.faultsApplied++
        }
        return
      case 'sack-remap':
        for (let i = 0; i < d.sackCount; i++) {
          const o = d.sackOffsets[i]
          rewrite32(f, l4 + 16, o, (d.sackEdges[2 * i] - 1) >>> 0, l4)
          rewrite32(f, l4 + 16, o + 4, (d.sackEdges[2 * i + 1] - 1) >>> 0, l4)
          this.counters.faultsApplied++
        }
        return
      case 'ts-remap':
        if (st.tsActive && d.hasTimestamp && d.tsEcr !== 0) {
          rewrite32(f, l4 + 16, d.tsOffset + 4, (d.tsEcr - st.tau) >>> 0, l4)
          this.counters.faultsApplied++
        }
        return
      case 'late-forward':
        c.lastFwd = f
        return
      default:
        return
    }
  }

  /**
   * BE: after the correct return rewrite, break the one rule of the fault in
   * force. Returns true when the segment must be dropped (sack-remap: the
   * first data segment is lost on purpose, so the client sends SACK blocks
   * for the FE to forward wrongly; the loss itself breaks no rule).
   */
  private returnFault(b: BeConn, f: Uint8Array, payLen: number, origWindow: number): boolean {
    const d = this.dec.decode(LINKTYPE_ETHERNET, f, f.length, f.length)
    const l4 = d.l4Offset
    const ip = d.ipOffset
    const st = b.engine!.state
    if (this.fault === 'window-rescale') {
      if (st.wsB !== st.wsF && d.window !== origWindow) {
        rewrite16(f, l4 + 16, l4 + 14, origWindow, l4)
        this.counters.faultsApplied++
      }
      return false
    }
    if (payLen === 0 || b.firstDataDone) return false
    b.firstDataDone = true
    switch (this.fault) {
      case 'sack-remap':
        return true
      case 'seq-remap':
        rewrite32(f, l4 + 16, l4 + 4, (d.seq + 1) >>> 0, l4)
        break
      case 'tcp-checksum': {
        const v = (((f[l4 + 16] << 8) | f[l4 + 17]) + 1) & 0xffff
        f[l4 + 16] = v >>> 8
        f[l4 + 17] = v & 0xff
        break
      }
      case 'ip-checksum': {
        const v = (((f[ip + 10] << 8) | f[ip + 11]) + 1) & 0xffff
        f[ip + 10] = v >>> 8
        f[ip + 11] = v & 0xff
        break
      }
      case 'addr-rewrite': {
        const oldV = readU32(f, d.ipSrcOffset) >>> 0
        rewrite32(f, ip + 10, d.ipSrcOffset, this.myAddrU32, ip)
        const hc = (f[l4 + 16] << 8) | f[l4 + 17]
        const n = csumUpdate32(hc, oldV, this.myAddrU32, false)
        f[l4 + 16] = n >>> 8
        f[l4 + 17] = n & 0xff
        break
      }
      default:
        return false
    }
    this.counters.faultsApplied++
    return false
  }

  private freeBe(b: BeConn): void {
    if (b.timer) clearTimeout(b.timer)
    if (this.be.get(b.key) === b) this.be.delete(b.key)
  }

  // ---------------------------------------------------------------- control

  private onControl(from: PeerInfo, msg: ControlMessage): void {
    switch (msg.t) {
      case 'handoff-req':
        this.onReq(from, msg)
        return
      case 'handoff-ack':
        this.onAck(msg)
        return
      case 'handoff-nack':
        this.onNack(msg.hid, msg.err)
        return
      case 'terminate': {
        this.counters.terminatesReceived++
        const c = this.fwdByHid.get(msg.hid)
        if (c) {
          this.freeFe(c)
          this.closed.set(c.key, Date.now() + FE_LINGER_MS)
          if (c.faulty && this.fault === 'late-forward' && c.lastFwd) {
            this.toLan(c.lastFwd.slice())
            this.counters.faultsApplied++
          }
        }
        return
      }
      default:
        return
    }
  }

  // ---------------------------------------------------------------- housekeeping

  private sweep(): void {
    const now = Date.now()
    for (const [key, until] of this.closed) if (until <= now) this.closed.delete(key)
    for (const c of this.fe.values()) {
      const idle = now - c.lastActive
      if ((c.state === 'syn' || c.state === 'est') && idle > IDLE_SETUP_MS) {
        this.counters.staleTimeouts++
        if (c.state === 'est') this.serveLocal(c, false)
        else this.freeFe(c)
      } else if (c.state === 'fwd' && idle > IDLE_ACTIVE_MS) {
        this.counters.staleTimeouts++
        this.freeFe(c)
      }
    }
    for (const b of this.be.values()) {
      if (b.state === 'closed' && now - b.closedAt > BE_LINGER_MS) this.freeBe(b)
      else if (b.state === 'up' && now - b.lastActive > IDLE_ACTIVE_MS) {
        this.counters.staleTimeouts++
        this.terminate(b, 'timeout')
      }
    }
  }

  /** The fault in force: <stateDir>/fault (lab run --fault) or the lab's own. */
  readFault(): void {
    let f: string | undefined
    try {
      f = readFileSync(join(this.st.stateDir, 'fault'), 'utf8').trim() || undefined
    } catch {
      f = this.st.fault
    }
    const next = f !== undefined && isFault(f) ? f : undefined
    if (next !== this.fault) log(`fault: ${next ?? 'none'}`)
    this.fault = next
  }

  writeStatus(): void {
    this.readFault()
    const s: DaemonStatus = {
      node: this.me.name, pid: process.pid, ready: this.ready, peers: [...this.ctl.peers.keys()].sort(), hellos: this.ctl.hellos,
      counters: this.counters,
      handoffsTo: this.handoffsTo, latenciesUs: this.latenciesUs, latencyCount: this.latencyCount, activeFe: this.fe.size,
      activeBe: this.be.size, fault: this.fault, updatedAt: new Date().toISOString(),
    }
    try {
      writeJsonAtomic(join(this.st.stateDir, `${this.me.name}.status.json`), s)
    } catch (e) {
      log(`status: ${(e as Error).message}`)
    }
  }
}

const st = JSON.parse(readFileSync(arg('state'), 'utf8')) as LabState
const me = st.nodes.find((n) => n.name === arg('node'))
if (!me) {
  console.error(`daemon: no node ${arg('node')} in the lab state`)
  process.exit(2)
}
const daemon = new Daemon(st, me)
try {
  daemon.start()
} catch (e) {
  console.error(`daemon ${me.name}: ${(e as Error).message}`)
  process.exit(1)
}
daemon.writeStatus()
process.on('SIGTERM', () => process.exit(0))
// SIGUSR2: reopen the control channels (lab run --record, so the trace holds them from their start).
process.on('SIGUSR2', () => {
  log('control: reopening every channel (SIGUSR2)')
  daemon.ctl.reconnect()
})

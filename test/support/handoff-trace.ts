// A spec-driven synthetic trace builder (spec §2 lifecycle, §3 control
// channel, §4 rewrites, §7 vantage points). It simulates handed-off
// connections — plus, as distractors, a plain TCP connection, a connection the
// FE serves locally and a handoff the BE refuses (nack) — and writes one
// pcapng with one Ethernet interface per vantage point, named as the lab
// names them: `client`, `lan`, `fe1-inside`, `be1-inside`, `control`.
//
// Every rewritten segment is produced by the rewrite engine (replayer/engine)
// from the segment the other side sent, every packet by buildTcpPacket (full
// checksums), every control frame by encodeFrame. A fault knob breaks exactly
// one rule of §4/§2/§3 on one segment or message, the way a buggy daemon
// would; the rest of the simulation goes on as a real one would (a return
// segment the client drops is retransmitted correctly by the BE, and so on).
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {encodeFrame} from '../../analyzer/control/codec.js'
import type {ControlMessage, HandoffAck, HandoffReq, SynAckOptions} from '../../analyzer/control/messages.js'
import {buildTcpPacket, type TcpPacketSpec} from '../../analyzer/wire/build.js'
import {ipv4HeaderChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6, tcpOrUdpChecksum} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {parseIpv4Bytes, parseIpv6, writeU16, writeU32} from '../../analyzer/wire/addr.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {Engine} from '../../replayer/engine/engine.js'
import {TranslationState} from '../../replayer/engine/state.js'

/** One knob per check id (some ids have two ways to break them). */
export const FAULTS = [
  'ip-checksum', 'tcp-checksum', 'addr-rewrite', 'addr-rewrite-return', 'seq-remap', 'ack-remap', 'sack-remap',
  'ts-remap', 'ts-remap-ecr', 'window-rescale', 'rst-leak', 'synack-leak', 'isn-mismatch', 'isn-mismatch-fiss',
  'isn-mismatch-biss', 'request-replay',
  'request-replay-count', 'stream-gap', 'rst-leak-late', 'seq-remap-inplace', 'ts-remap-ahead', 'tcp-checksum-noretx', 'option-mismatch', 'handoff-orphan', 'handoff-orphan-terminate', 'late-forward',
  'control-framing',
] as const
export type Fault = (typeof FAULTS)[number]

/** The check id each knob must raise. */
export function faultCheckId(f: Fault): string {
  switch (f) {
    case 'addr-rewrite-return': return 'addr-rewrite'
    case 'ts-remap-ecr': return 'ts-remap'
    case 'request-replay-count': return 'request-replay'
    case 'isn-mismatch-fiss': case 'isn-mismatch-biss': return 'isn-mismatch'
    case 'seq-remap-inplace': return 'seq-remap'
    case 'rst-leak-late': return 'rst-leak'
    case 'ts-remap-ahead': return 'ts-remap'
    case 'tcp-checksum-noretx': return 'tcp-checksum'
    case 'handoff-orphan-terminate': return 'handoff-orphan'
    default: return f
  }
}

export interface TraceSpec {
  family?: 4 | 6
  /** Timestamp option on every SYN (default true). */
  timestamps?: boolean
  /** Window-scale shifts the FE / BE SYN/ACKs announce (null: no option). Default 7 and 7. */
  wsF?: number | null
  wsB?: number | null
  /** Number of handed-off connections (default 1). The fault hits the first. */
  handoffs?: number
  fault?: Fault
  /** Partial checksums (CHECKSUM_PARTIAL) on captures taken on the sending host. */
  offload?: boolean
  /** Plain TCP, a locally served connection and a nacked handoff (default true). */
  distractors?: boolean
  /** Data segments in each response (default 3). */
  responseSegments?: number
  /** Link type of every interface: Ethernet (default) or raw IP (LINKTYPE_RAW, the Ethernet header dropped). */
  link?: 'ethernet' | 'raw'
  /** Clean variations of a real network: the first two response segments reach the client in the wrong
   *  order; the client retransmits its request once before the handoff; the BE retransmits a segment. */
  reorder?: boolean
  requestRetransmit?: boolean
  beRetransmit?: boolean
  /** The client's duplicate of its last ACK crosses the terminate: on the LAN just before it, forwarded 20 µs after. */
  forwardInFlight?: boolean
  /** The FE's first SYN/ACK (TSval fts − 1000) is answered by an ACK lost before the LAN; the FE resends it with fts. */
  synAckRetransmit?: boolean
  /** The client's first SYN is lost before the LAN (seen at the client side only); the FE stores the resent one. */
  synRetransmit?: boolean
  /** The BE probes the idle connection before closing: no data (Linux) or one garbage octet (BSD). */
  beKeepAlive?: 'linux' | 'bsd'
  /** Capture time between two handed-off connections (default: none to speak of). */
  spacingMs?: number
  /** The locally served distractor reuses the first handed-off connection's client port. */
  reusePort?: boolean
  /** Initial numbers of the first handed-off connection instead of the defaults (the others add n − 1 to each):
   *  ISNs, the two SYN/ACKs' TSvals and the client's first TSval — e.g. close to 2^32, so that they wrap. */
  numbers?: {ciss: number; fiss: number; biss: number; fts: number; bts: number; cts: number}
  /** The BE rewrites (replayed segments, return segments) with Δ plus this — a BE that took a wrong biss for its
   *  rewrites while its SYN/ACK (and handoff-ack) carry the true one; the FE's forwarding stays right. Not in FAULTS:
   *  it breaks seq-remap on every return segment, and the client never gets a byte it can use. */
  beDeltaError?: number
  /** Leave a vantage point out of the file. */
  omit?: ViewName[]
  /** TCP port of the control channel instead of 7070. */
  controlPort?: number
  /** Interface names other than the lab's ('' = no name). */
  names?: Partial<Record<ViewName, string>>
  /** One file per vantage point instead (path is then a directory): `<view>.pcapng`, or `<names[view]>.pcapng`. */
  split?: boolean
  /** Addresses instead of the family's defaults (10.0.0.x / fd00::x): e.g. a real server's, to replay the trace against it. */
  addrs?: {client?: string; vip?: string; be?: string}
  /** The request of handed-off connection n (default `GET /img/<n>.png`, three header lines); sent in two segments. */
  request?: (n: number) => string
  /** The BE's response to connection n, e.g. what a real server answers to request(n) (default: synthetic chunks),
   *  sent in responseSegments segments of about equal size (each must fit one segment). */
  response?: (n: number) => string
}

export type ViewName = 'client' | 'lan' | 'fe1-inside' | 'be1-inside' | 'control'
const VIEW_NAMES: readonly ViewName[] = ['client', 'lan', 'fe1-inside', 'be1-inside', 'control']

export interface BuiltTrace {
  path: string
  /** The files written (one, or one per vantage point with split). */
  files: string[]
  hids: string[]
  packets: number
  /** Interface id of each vantage point in the file. */
  interfaces: Partial<Record<ViewName, number>>
}

const MAC = {client: '02:00:00:00:00:10', fe: '02:00:00:00:00:01', be: '02:00:00:00:00:02', other: '02:00:00:00:00:30'}
const CONTROL_PORT = 7070
const VPORT = 80

interface Addrs {client: string; vip: string; be: string; other: string; client2: string; server2: string; wrong: string}
const V4: Addrs = {client: '10.0.0.10', vip: '10.0.0.1', be: '10.0.0.2', other: '10.0.0.30', client2: '10.0.0.20', server2: '10.0.0.40', wrong: '10.0.0.99'}
const V6: Addrs = {client: 'fd00::10', vip: 'fd00::1', be: 'fd00::2', other: 'fd00::30', client2: 'fd00::20', server2: 'fd00::40', wrong: 'fd00::99'}

const dec = new PacketDecoder({verifyChecksums: false})

/** Recomputes the IPv4 header and TCP checksums of an Ethernet frame from scratch. */
export function fixChecksums(b: Uint8Array): Uint8Array {
  const d = dec.decode(LINKTYPE.ETHERNET, b, b.length, b.length)
  if (d.ipVersion === 4) writeU16(b, d.ipOffset + 10, ipv4HeaderChecksum(b, d.ipOffset, d.ipHeaderLen))
  writeU16(b, d.l4Offset + 16, tcpOrUdpChecksum(b, d.ipOffset, d.l4Offset, d.ipEnd - d.l4Offset, 6))
  return b
}

/** The CHECKSUM_PARTIAL pattern: the TCP checksum field holds the folded pseudo-header sum. */
export function makePartial(src: Uint8Array): Uint8Array {
  const b = src.slice()
  const d = dec.decode(LINKTYPE.ETHERNET, b, b.length, b.length)
  const len = d.ipEnd - d.l4Offset
  let s = d.ipVersion === 6 ? pseudoHeaderSumV6(b, d.ipSrcOffset, d.ipDstOffset, 6, len) : pseudoHeaderSumV4(b, d.ipSrcOffset, d.ipDstOffset, 6, len)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  writeU16(b, d.l4Offset + 16, s)
  return b
}

export interface Patch {
  seq?: number; ack?: number; window?: number; tsVal?: number; tsEcr?: number; sack?: number[]; src?: string; dst?: string
  badTcpChecksum?: boolean; badIpChecksum?: boolean
}

/** Changes fields of a frame, then makes the checksums right again (or wrong, when asked). */
export function patch(src: Uint8Array, p: Patch): Uint8Array {
  const b = src.slice()
  const d = dec.decode(LINKTYPE.ETHERNET, b, b.length, b.length)
  const l4 = d.l4Offset
  if (p.seq !== undefined) writeU32(b, l4 + 4, p.seq >>> 0)
  if (p.ack !== undefined) writeU32(b, l4 + 8, p.ack >>> 0)
  if (p.window !== undefined) writeU16(b, l4 + 14, p.window)
  if (p.tsVal !== undefined) writeU32(b, d.tsOffset, p.tsVal >>> 0)
  if (p.tsEcr !== undefined) writeU32(b, d.tsOffset + 4, p.tsEcr >>> 0)
  if (p.sack !== undefined) p.sack.forEach((e, i) => writeU32(b, d.sackOffsets[i >> 1]! + (i & 1 ? 4 : 0), e >>> 0))
  const addr = (s: string) => (s.includes(':') ? parseIpv6(s) : parseIpv4Bytes(s))
  if (p.src !== undefined) b.set(addr(p.src), d.ipSrcOffset)
  if (p.dst !== undefined) b.set(addr(p.dst), d.ipDstOffset)
  fixChecksums(b)
  if (p.badTcpChecksum) writeU16(b, l4 + 16, (((b[l4 + 16]! << 8) | b[l4 + 17]!) ^ 0x5a5a) & 0xffff)
  if (p.badIpChecksum) writeU16(b, d.ipOffset + 10, (((b[d.ipOffset + 10]! << 8) | b[d.ipOffset + 11]!) ^ 0x0f0f) & 0xffff)
  return b
}

interface Emitted {view: ViewName; t: bigint; bytes: Uint8Array}

class Sim {
  readonly out: Emitted[] = []
  /** Simulation clock, ns. */
  t = 1_700_000_000_000_000_000n
  private ipIds = new Map<string, number>()
  constructor(readonly spec: TraceSpec, readonly a: Addrs) {}

  tick(us = 100): bigint {
    this.t += BigInt(us) * 1000n
    return this.t
  }

  emit(views: readonly ViewName[], bytes: Uint8Array): void {
    for (const v of views) if (!this.spec.omit?.includes(v)) this.out.push({view: v, t: this.t, bytes})
  }

  ipId(src: string): number {
    const n = ((this.ipIds.get(src) ?? (src.length * 977) % 40000) + 1) & 0xffff
    this.ipIds.set(src, n)
    return n
  }

  tcp(s: Omit<TcpPacketSpec, 'ethernet'> & {srcMac: string; dstMac: string}): Uint8Array {
    const {srcMac, dstMac, ...rest} = s
    return buildTcpPacket({...rest, ipId: rest.ipId ?? this.ipId(rest.src), ethernet: {src: srcMac, dst: dstMac}})
  }
}

/** A TCP connection's control channel: FE → BE port 7070 (or spec.controlPort), frames as data segments. */
class ControlChannel {
  private feSeq = 0x10000000
  private beSeq = 0x20000000
  constructor(private readonly sim: Sim, private readonly port: number) {
    const a = sim.a
    const fe = {src: a.vip, dst: a.be, srcPort: 50000, dstPort: port, srcMac: MAC.fe, dstMac: MAC.be}
    const be = {src: a.be, dst: a.vip, srcPort: port, dstPort: 50000, srcMac: MAC.be, dstMac: MAC.fe}
    sim.tick(); sim.emit(['control'], sim.tcp({...fe, seq: this.feSeq, flags: 'S', options: {mss: 1460}}))
    sim.tick(); sim.emit(['control'], sim.tcp({...be, seq: this.beSeq, ack: this.feSeq + 1, flags: 'S.', options: {mss: 1460}}))
    this.feSeq++; this.beSeq++
    sim.tick(); sim.emit(['control'], sim.tcp({...fe, seq: this.feSeq, ack: this.beSeq, flags: '.'}))
  }

  private at(): number {
    return Number(this.sim.t / 1000n)
  }

  send(from: 'fe' | 'be', msg: ControlMessage | Uint8Array): void {
    const sim = this.sim
    const a = sim.a
    const frame = msg instanceof Uint8Array ? msg : encodeFrame({...msg, at: this.at()} as ControlMessage)
    const fe = {src: a.vip, dst: a.be, srcPort: 50000, dstPort: this.port, srcMac: MAC.fe, dstMac: MAC.be}
    const be = {src: a.be, dst: a.vip, srcPort: this.port, dstPort: 50000, srcMac: MAC.be, dstMac: MAC.fe}
    // Frames of up to 1400 bytes per segment.
    for (let o = 0; o < frame.length; o += 1400) {
      const chunk = frame.subarray(o, Math.min(frame.length, o + 1400))
      sim.tick(50)
      if (from === 'fe') {
        sim.emit(['control'], sim.tcp({...fe, seq: this.feSeq, ack: this.beSeq, flags: 'P.', payload: chunk}))
        this.feSeq += chunk.length
      } else {
        sim.emit(['control'], sim.tcp({...be, seq: this.beSeq, ack: this.feSeq, flags: 'P.', payload: chunk}))
        this.beSeq += chunk.length
      }
    }
    sim.tick(50)
    if (from === 'fe') sim.emit(['control'], sim.tcp({...be, seq: this.beSeq, ack: this.feSeq, flags: '.'}))
    else sim.emit(['control'], sim.tcp({...fe, seq: this.feSeq, ack: this.beSeq, flags: '.'}))
  }
}

function u32(x: number): number {
  return x >>> 0
}

/** Simulates one connection that the FE hands off (or, with nack, serves itself). */
function handoff(sim: Sim, ctl: ControlChannel, n: number, fault: Fault | undefined, nack = false): string {
  const a = sim.a
  const spec = sim.spec
  const ts = spec.timestamps ?? true
  let wsF = spec.wsF === undefined ? 7 : spec.wsF
  let wsB = spec.wsB === undefined ? 7 : spec.wsB
  if (fault === 'window-rescale' && (wsF === wsB || wsF === null || wsB === null)) { wsF = 7; wsB = 5 }
  if (fault === 'ip-checksum' && spec.family === 6) throw new Error('ip-checksum: IPv6 has no header checksum')
  const hid = `fe1/${n}`
  const cport = 20000 + n
  const nb = spec.numbers
  const ciss = u32(nb ? nb.ciss + n - 1 : 0x1000_0000 + n * 0x01010101)
  const fiss = u32(nb ? nb.fiss + n - 1 : 0x8000_0000 + n * 0x00731337)
  const biss = u32(nb ? nb.biss + n - 1 : 0x3000_0000 + n * 0x00a1b2c3)
  // bts < fts: an untranslated TSval would go backwards for the client.
  const fts = u32(nb ? nb.fts + n - 1 : 0x5000_0000 + n * 1000)
  const bts = u32(nb ? nb.bts + n - 1 : 0x0100_0000 + n * 1000)
  let cts = u32(nb ? nb.cts + n - 1 : 0x0200_0000 + n * 7)
  const synTs = cts
  const mssF = 1460
  const mssB = fault === 'option-mismatch' ? 1400 : 1460
  const C = {src: a.client, dst: a.vip, srcPort: cport, dstPort: VPORT, srcMac: MAC.client, dstMac: MAC.fe}
  const FE = {src: a.vip, dst: a.client, srcPort: VPORT, dstPort: cport, srcMac: MAC.fe, dstMac: MAC.client}
  const BE = {src: a.be, dst: a.client, srcPort: VPORT, dstPort: cport, srcMac: MAC.be, dstMac: MAC.client}
  const off = spec.offload ?? false
  const clientViews = (b: Uint8Array) => {
    // The client-side capture is on the sending host: partial checksum with offload.
    sim.emit(['client'], off ? makePartial(b) : b)
    sim.emit(['lan'], b)
  }
  const tsOpt = (v: number, e: number) => (ts ? {timestamp: {tsVal: v, tsEcr: e}} : {})

  // 1. SYN
  const synOptions = {mss: 1460, sackPermitted: true, ...(wsF !== null || wsB !== null ? {wscale: 7} : {})}
  if (spec.synRetransmit) {
    // Lost before the LAN; the client resends it a second later: same ISN, a later TSval.
    sim.tick()
    const lost = sim.tcp({...C, seq: ciss, flags: 'S', window: 64240, options: {...synOptions, ...tsOpt(u32(cts - 1000), 0)}})
    sim.emit(['client'], off ? makePartial(lost) : lost)
  }
  sim.tick()
  const syn = sim.tcp({...C, seq: ciss, flags: 'S', window: 64240,
    options: {mss: 1460, sackPermitted: true, ...(wsF !== null || wsB !== null ? {wscale: 7} : {}), ...tsOpt(cts, 0)}})
  clientViews(syn); sim.emit(['fe1-inside'], syn)
  // 2. FE SYN/ACK
  sim.tick()
  const fopt: SynAckOptions = {mss: mssF, sack: true, ts, ...(wsF !== null ? {ws: wsF} : {})}
  if (spec.synAckRetransmit) {
    // The FE's first SYN/ACK; the client's ACK of it is lost before the LAN, so the FE resends it (a later
    // TSval: fts, the one it records and the client's request echoes).
    const first = sim.tcp({...FE, seq: fiss, ack: ciss + 1, flags: 'S.', window: 65160,
      options: {mss: mssF, sackPermitted: true, ...(wsF !== null ? {wscale: wsF} : {}), ...tsOpt(u32(fts - 1000), cts)}})
    sim.emit(['fe1-inside'], off ? makePartial(first) : first)
    sim.emit(['lan', 'client'], first)
    sim.tick()
    const lost = sim.tcp({...C, seq: ciss + 1, ack: fiss + 1, flags: '.', window: 502, options: tsOpt(cts, u32(fts - 1000))})
    sim.emit(['client'], off ? makePartial(lost) : lost)
    sim.tick()
  }
  const synack = sim.tcp({...FE, seq: fiss, ack: ciss + 1, flags: 'S.', window: 65160,
    options: {mss: mssF, sackPermitted: true, ...(wsF !== null ? {wscale: wsF} : {}), ...tsOpt(fts, cts)}})
  sim.emit(['fe1-inside'], off ? makePartial(synack) : synack)
  sim.emit(['lan', 'client'], synack)
  // 3. ACK
  sim.tick(); cts++
  const ack = sim.tcp({...C, seq: ciss + 1, ack: fiss + 1, flags: '.', window: 502, options: tsOpt(cts, fts)})
  clientViews(ack); sim.emit(['fe1-inside'], ack)
  // 4. Request, two segments
  const head = spec.request?.(n) ?? `GET /img/${n}.png HTTP/1.1\r\nHost: cluster.example\r\nUser-Agent: synthetic\r\n\r\n`
  const parts = [head.slice(0, 20), head.slice(20)]
  const reqSegs: Uint8Array[] = []
  let cseq = u32(ciss + 1)
  for (const p of parts) {
    sim.tick(); cts++
    const s = sim.tcp({...C, seq: cseq, ack: fiss + 1, flags: 'P.', window: 502, options: tsOpt(cts, fts), payload: p})
    clientViews(s)
    reqSegs.push(s)
    cseq = u32(cseq + p.length)
  }
  if (spec.requestRetransmit) {
    // Absorbed by the FE (spec §2 step 4): not passed up, not in pkts twice, not forwarded.
    sim.tick(); clientViews(reqSegs[1]!.slice())
  }
  // 6. handoff-req
  const ipOf = (b: Uint8Array) => b.slice(14)
  let pkts = [ipOf(syn), ipOf(ack), ...reqSegs.map(ipOf)]
  if (fault === 'request-replay') {
    const bad = reqSegs[1]!.slice()
    const i = bad.length - 10 // a byte of "User-Agent: synthetic"
    bad[i] = bad[i]! ^ 0x20
    fixChecksums(bad)
    pkts = [pkts[0]!, pkts[1]!, pkts[2]!, ipOf(bad)]
  }
  if (fault === 'request-replay-count') pkts = [pkts[0]!, ...pkts.slice(2)]
  const req: HandoffReq = {v: 1, t: 'handoff-req', node: 'fe1', at: 0, hid, cip: a.client, cport, vip: a.vip, vport: VPORT,
    ciss: fault === 'isn-mismatch' ? u32(ciss + 1) : ciss, fiss: fault === 'isn-mismatch-fiss' ? u32(fiss - 1000) : fiss,
    ...(ts ? {fts} : {}), fopt, pkts, url: head.split(' ')[1] ?? '/', host: 'cluster.example'}
  sim.tick(200)
  ctl.send('fe', req)
  if (nack) {
    sim.tick(200)
    ctl.send('be', {v: 1, t: 'handoff-nack', node: 'be1', at: 0, hid, err: 'overloaded'})
    // The FE serves it: passes the request up, answers and closes.
    sim.tick()
    for (const s of [...reqSegs]) sim.emit(['fe1-inside'], s)
    const body = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
    sim.tick()
    const r = sim.tcp({...FE, seq: fiss + 1, ack: cseq, flags: 'P.', window: 501, options: tsOpt(fts + 5, cts), payload: body})
    sim.emit(['fe1-inside', 'lan', 'client'], r)
    sim.tick(); cts++
    const ca = sim.tcp({...C, seq: cseq, ack: fiss + 1 + body.length, flags: 'F.', window: 502, options: tsOpt(cts, fts + 5)})
    clientViews(ca); sim.emit(['fe1-inside'], ca)
    sim.tick()
    const fa = sim.tcp({...FE, seq: fiss + 1 + body.length, ack: cseq + 1, flags: 'F.', window: 501, options: tsOpt(fts + 6, cts)})
    sim.emit(['fe1-inside', 'lan', 'client'], fa)
    return hid
  }
  // 7. BE side: SYN replayed, its SYN/ACK, ACK and request replayed.
  const bopt: SynAckOptions = {mss: mssB, sack: true, ts, ...(wsB !== null ? {ws: wsB} : {})}
  const ackMsg: HandoffAck = {v: 1, t: 'handoff-ack', node: 'be1', at: 0, hid, biss: fault === 'isn-mismatch-biss' ? u32(biss + 77) : biss,
    ...(ts ? {bts} : {}), bopt, baddr: a.be, bmac: MAC.be}
  // The daemons rewrite with the true ISNs; a faulty message only misreports them.
  const st = TranslationState.fromControl({...req, ciss, fiss}, {...ackMsg, biss})
  const eng = new Engine(st)
  const fwd = (b: Uint8Array): Uint8Array => {
    const c = b.slice()
    const r = eng.rewriteForward(c, LINKTYPE.ETHERNET)
    if (!r.ok) throw new Error(`forward rewrite failed: ${r.status} ${r.detail}`)
    return c
  }
  const d0 = st.describe()
  const engBe = spec.beDeltaError ? new Engine(TranslationState.fromValues({cip: d0.cip, cport: d0.cport, vip: d0.vip, vport: d0.vport,
    baddr: d0.baddr, bmac: MAC.be, delta: u32(st.delta + spec.beDeltaError), ...(st.tsActive ? {tau: st.tau} : {}), wsF: st.wsF, wsB: st.wsB})) : eng
  const beFwd = (b: Uint8Array): Uint8Array => {
    const c = b.slice()
    const r = engBe.rewriteForward(c, LINKTYPE.ETHERNET)
    if (!r.ok) throw new Error(`forward rewrite failed: ${r.status} ${r.detail}`)
    return c
  }
  const ret = (b: Uint8Array): Uint8Array => {
    const c = b.slice()
    const r = engBe.rewriteReturn(c, LINKTYPE.ETHERNET)
    if (!r.ok) throw new Error(`return rewrite failed: ${r.status} ${r.detail}`)
    return c
  }
  const beInside = (b: Uint8Array) => sim.emit(['be1-inside'], b)
  const beTcp = (b: Uint8Array) => sim.emit(['be1-inside'], off ? makePartial(b) : b)
  // The BE replays what pkts holds (rewritten forward).
  const replay = pkts.map((p) => {
    const e = new Uint8Array(14 + p.length)
    e.set(syn.subarray(0, 14), 0)
    e.set(p, 14)
    return e
  })
  sim.tick(); beInside(beFwd(replay[0]!))
  sim.tick()
  let bseqRaw = u32(biss + 1)
  let btsNow = bts
  const beSynAck = sim.tcp({...BE, seq: biss, ack: ciss + 1, flags: 'S.', window: 65160,
    options: {mss: mssB, sackPermitted: true, ...(wsB !== null ? {wscale: wsB} : {}), ...tsOpt(bts, synTs)}})
  beTcp(beSynAck)
  if (fault === 'synack-leak') sim.emit(['lan', 'client'], ret(beSynAck))
  for (const r of replay.slice(1)) { sim.tick(); beInside(beFwd(r)) }
  sim.tick(200)
  ctl.send('be', ackMsg)
  // 9. FE resets its own TCP (never leaves the host).
  sim.tick()
  const feRst = sim.tcp({...C, seq: ciss + 1, ack: fiss + 1, flags: 'R.', window: 0})
  sim.emit(['fe1-inside'], feRst)
  if (fault === 'rst-leak') {
    sim.emit(['lan', 'client'], sim.tcp({...FE, seq: fiss + 1, ack: ciss + 1, flags: 'R.', window: 0}))
  }
  // 10. BE answers: an ACK of the request, then the response.
  const rcvWinRaw = 1000 // what the BE's TCP writes (>> wsB)
  const reqEnd = cseq
  let clientRcv = u32(fiss + 1) // next byte the client expects from the VIP
  let lastVipTs = fts
  const sendReturn = (b: Uint8Array, p?: Patch, views: ViewName[] = ['lan', 'client']) => {
    beTcp(b)
    const r = p ? patch(ret(b), p) : ret(b)
    sim.emit(views, r)
    return r
  }
  sim.tick(); btsNow++
  sendReturn(sim.tcp({...BE, seq: bseqRaw, ack: reqEnd, flags: '.', window: rcvWinRaw, options: tsOpt(btsNow, cts)}))
  lastVipTs = u32(btsNow - st.tau)
  const nseg = spec.responseSegments ?? 3
  const chunks: string[] = []
  const custom = spec.response?.(n)
  if (custom !== undefined) {
    const size = Math.ceil(custom.length / nseg)
    for (let i = 0; i < nseg; i++) chunks.push(custom.slice(i * size, (i + 1) * size))
    if (chunks.some((c) => c.length === 0 || c.length > 1400)) throw new Error(`response of ${custom.length} bytes: not ${nseg} segments of 1..1400 bytes`)
  } else {
    for (let i = 0; i < nseg; i++) chunks.push((i === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n' : '') + `chunk-${i}-`.padEnd(64, String.fromCharCode(97 + i)))
  }
  const firstDataSeq = bseqRaw
  let clientAckedSack = false
  const clientAck = (extra?: {sack?: [number, number][]}): Uint8Array => {
    sim.tick(); cts++
    const c = sim.tcp({...C, seq: reqEnd, ack: clientRcv, flags: '.', window: 502,
      options: {...tsOpt(cts, lastVipTs), ...(extra?.sack ? {sack: extra.sack} : {})}})
    clientViews(c)
    return c
  }
  let lastFwd: Uint8Array | null = null
  const forwardOf = (c: Uint8Array, p?: Patch, views: ViewName[] = ['lan', 'be1-inside']) => {
    sim.tick(20)
    const f = p ? patch(fwd(c), p) : fwd(c)
    sim.emit(views, f)
    lastFwd = f
    return f
  }
  let faultDone = false
  let held: {r: Uint8Array; seq: number; len: number} | null = null
  for (let i = 0; i < nseg; i++) {
    if (i === 1 && fault === 'rst-leak-late') {
      // The FE's local reset (no ACK, seq fiss + 1) leaks late, after the client took data from the BE.
      sim.tick()
      sim.emit(['lan', 'client'], sim.tcp({...FE, seq: fiss + 1, flags: 'R', window: 0}))
    }
    const body = chunks[i]!
    sim.tick(); btsNow++
    const b = sim.tcp({...BE, seq: bseqRaw, ack: reqEnd, flags: 'P.', window: rcvWinRaw, options: tsOpt(btsNow, cts), payload: body})
    const expSeq = u32(bseqRaw - st.delta)
    if (i === 0 && !faultDone && fault !== undefined &&
      ['seq-remap', 'tcp-checksum', 'ip-checksum', 'addr-rewrite-return', 'ts-remap', 'window-rescale'].includes(fault)) {
      faultDone = true
      const p: Patch = fault === 'seq-remap' ? {seq: expSeq + 1}
        : fault === 'tcp-checksum' ? {badTcpChecksum: true}
          : fault === 'ip-checksum' ? {badIpChecksum: true}
            : fault === 'addr-rewrite-return' ? {src: a.be}
              : fault === 'ts-remap' ? {tsVal: btsNow}
                : {window: rcvWinRaw}
      sendReturn(b, p)
      if (fault === 'seq-remap' || fault === 'tcp-checksum' || fault === 'ip-checksum' || fault === 'addr-rewrite-return') {
        // The client dropped it (or buffered it out of order): it acks what it had; the BE retransmits.
        forwardOf(clientAck())
        sim.tick(2000); btsNow++
        const rb = sim.tcp({...BE, seq: bseqRaw, ack: reqEnd, flags: 'P.', window: rcvWinRaw, options: tsOpt(btsNow, cts), payload: body})
        sendReturn(rb)
      }
    } else if (i === 0 && fault === 'ts-remap-ahead' && ts) {
      // TSval translated wrongly, far ahead: the client takes it; the next ones look backwards to it.
      sendReturn(b, {tsVal: u32(btsNow - st.tau + 0x10000000)})
    } else if (i === 1 && (fault === 'seq-remap-inplace' || fault === 'tcp-checksum-noretx')) {
      // One segment broken, never retransmitted: the client never gets these bytes right.
      sendReturn(b, fault === 'seq-remap-inplace' ? {seq: expSeq + 1} : {badTcpChecksum: true})
      lastVipTs = ts ? u32(btsNow - st.tau) : 0
      bseqRaw = u32(bseqRaw + body.length)
      forwardOf(clientAck())
      continue
    } else if (spec.reorder && fault === undefined && i === 0) {
      beTcp(b) // reaches the client after the next one
      held = {r: ret(b), seq: expSeq, len: body.length}
      bseqRaw = u32(bseqRaw + body.length)
      continue
    } else if (spec.reorder && fault === undefined && i === 1 && held !== null) {
      sendReturn(b)
      sim.tick(30)
      sim.emit(['lan', 'client'], held.r)
      if (clientRcv === held.seq) clientRcv = u32(clientRcv + held.len)
    } else if (i === 1 && fault === 'stream-gap') {
      beTcp(b) // sent by the BE's TCP, never reaches the client, never retransmitted
      bseqRaw = u32(bseqRaw + body.length)
      continue
    } else {
      sendReturn(b)
      if (spec.beRetransmit && i === 1) {
        sim.tick(3000); btsNow++
        sendReturn(sim.tcp({...BE, seq: bseqRaw, ack: reqEnd, flags: 'P.', window: rcvWinRaw, options: tsOpt(btsNow, cts), payload: body}))
      }
    }
    lastVipTs = ts ? u32(btsNow - st.tau) : 0
    if (clientRcv === expSeq) clientRcv = u32(clientRcv + body.length)
    bseqRaw = u32(bseqRaw + body.length)
    // Client acks each segment; the second ack carries a D-SACK of the first data segment.
    const sack = !clientAckedSack && i === 1 ? [[u32(firstDataSeq - st.delta), u32(firstDataSeq - st.delta + chunks[0]!.length)] as [number, number]] : undefined
    if (sack) clientAckedSack = true
    const c = clientAck(sack ? {sack} : undefined)
    const fp: Patch | undefined = fault === 'ack-remap' && i === 0 ? {ack: u32(clientRcv + st.delta - 1)}
      : fault === 'sack-remap' && sack ? {sack: [sack[0][0], u32(sack[0][1] + st.delta)]}
        : fault === 'ts-remap-ecr' && i === 0 && ts ? {tsEcr: lastVipTs}
          : fault === 'addr-rewrite' && i === 0 ? {dst: a.wrong}
            : undefined
    forwardOf(c, fp, fault === 'addr-rewrite' && i === 0 ? ['lan'] : ['lan', 'be1-inside'])
  }
  void firstDataSeq
  if (spec.beKeepAlive) {
    // A keep-alive probe at SND.NXT − 1 (RFC 1122 §4.2.3.6); the client answers with an ACK.
    sim.tick(3000); btsNow++
    sendReturn(sim.tcp({...BE, seq: u32(bseqRaw - 1), ack: reqEnd, flags: '.', window: rcvWinRaw, options: tsOpt(btsNow, cts),
      payload: spec.beKeepAlive === 'bsd' ? new Uint8Array([0]) : new Uint8Array(0)}))
    lastVipTs = ts ? u32(btsNow - st.tau) : 0
    forwardOf(clientAck(), undefined, ['lan', 'be1-inside'])
  }
  // 11. Close: BE FIN, client FIN, BE last ACK.
  sim.tick(); btsNow++
  sendReturn(sim.tcp({...BE, seq: bseqRaw, ack: reqEnd, flags: 'F.', window: rcvWinRaw, options: tsOpt(btsNow, cts)}))
  lastVipTs = ts ? u32(btsNow - st.tau) : 0
  // The client takes the FIN only when it has every byte before it.
  if (clientRcv === u32(bseqRaw - st.delta)) clientRcv = u32(clientRcv + 1)
  sim.tick(); cts++
  const cfin = sim.tcp({...C, seq: reqEnd, ack: clientRcv, flags: 'F.', window: 502, options: tsOpt(cts, lastVipTs)})
  clientViews(cfin)
  forwardOf(cfin)
  sim.tick(); btsNow++
  sendReturn(sim.tcp({...BE, seq: bseqRaw + 1, ack: reqEnd + 1, flags: '.', window: rcvWinRaw, options: tsOpt(btsNow, cts)}))
  sim.tick(300)
  let crossing: Uint8Array | null = null
  if (spec.forwardInFlight) {
    crossing = sim.tcp({...C, seq: reqEnd + 1, ack: clientRcv, flags: '.', window: 502, options: tsOpt(cts, lastVipTs)})
    clientViews(crossing)
  }
  const sb = chunks.reduce((n, c) => n + c.length, 0)
  ctl.send('be', {v: 1, t: 'terminate', node: 'be1', at: 0, hid, reason: 'fin', cbytes: u32(reqEnd - ciss - 1), sbytes: sb})
  if (crossing !== null) forwardOf(crossing)
  if (fault === 'late-forward' && lastFwd !== null) {
    sim.tick(5000)
    sim.emit(['lan', 'be1-inside'], lastFwd)
  }
  return hid
}

function distractors(sim: Sim, localPort: number): void {
  const a = sim.a
  const ts = sim.spec.timestamps ?? true
  const tsOpt = (v: number, e: number) => (ts ? {timestamp: {tsVal: v, tsEcr: e}} : {})
  // Plain TCP between two other hosts, with one bad checksum and a reset.
  const P = {src: a.client2, dst: a.server2, srcPort: 5555, dstPort: 8080, srcMac: MAC.other, dstMac: MAC.be}
  const S = {src: a.server2, dst: a.client2, srcPort: 8080, dstPort: 5555, srcMac: MAC.be, dstMac: MAC.other}
  sim.tick(); sim.emit(['lan'], sim.tcp({...P, seq: 100, flags: 'S', options: {mss: 1460}}))
  sim.tick(); sim.emit(['lan'], sim.tcp({...S, seq: 900, ack: 101, flags: 'S.', options: {mss: 1460}}))
  sim.tick(); sim.emit(['lan'], sim.tcp({...P, seq: 101, ack: 901, flags: 'P.', payload: 'hello', checksum: 0x1234}))
  sim.tick(); sim.emit(['lan'], sim.tcp({...S, seq: 901, ack: 101, flags: 'R.'}))
  // A connection the FE serves locally (no control traffic), ending with a reset from the VIP.
  const cport = localPort
  const C = {src: a.client, dst: a.vip, srcPort: cport, dstPort: VPORT, srcMac: MAC.client, dstMac: MAC.fe}
  const FE = {src: a.vip, dst: a.client, srcPort: VPORT, dstPort: cport, srcMac: MAC.fe, dstMac: MAC.client}
  const all: ViewName[] = ['client', 'lan', 'fe1-inside']
  sim.tick(); sim.emit(all, sim.tcp({...C, seq: 5000, flags: 'S', options: {mss: 1460, sackPermitted: true, ...tsOpt(1, 0)}}))
  sim.tick(); sim.emit(all, sim.tcp({...FE, seq: 7000, ack: 5001, flags: 'S.', options: {mss: 1460, sackPermitted: true, ...tsOpt(10, 1)}}))
  sim.tick(); sim.emit(all, sim.tcp({...C, seq: 5001, ack: 7001, flags: '.', options: tsOpt(2, 10)}))
  const q = 'GET /local HTTP/1.1\r\nHost: x\r\n\r\n'
  sim.tick(); sim.emit(all, sim.tcp({...C, seq: 5001, ack: 7001, flags: 'P.', options: tsOpt(3, 10), payload: q}))
  sim.tick(); sim.emit(all, sim.tcp({...FE, seq: 7001, ack: 5001 + q.length, flags: 'P.', options: tsOpt(11, 3), payload: 'HTTP/1.1 200 OK\r\n\r\n'}))
  sim.tick(); sim.emit(all, sim.tcp({...FE, seq: 7001 + 19, ack: 5001 + q.length, flags: 'R.', window: 0}))
}

/** Writes the trace; returns what it holds. */
/**
 * A temporary directory (removed on exit) and a function that builds a trace of a spec in it, a new file each
 * time: for tests that build many.
 */
export function handoffTraces(prefix: string): {dir: string; trace: (spec: TraceSpec) => string} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
  let seq = 0
  return {dir, trace: (spec) => {
    const p = join(dir, `t${seq++}.pcapng`)
    buildHandoffTrace(p, spec)
    return p
  }}
}

export function buildHandoffTrace(path: string, spec: TraceSpec = {}): BuiltTrace {
  const base = spec.family === 6 ? V6 : V4
  const sim = new Sim(spec, spec.addrs === undefined ? base : {...base, ...spec.addrs})
  const ctl = new ControlChannel(sim, spec.controlPort ?? CONTROL_PORT)
  ctl.send('fe', {v: 1, t: 'hello', node: 'fe1', at: 0, addr: sim.a.vip, mac: MAC.fe})
  ctl.send('be', {v: 1, t: 'hello', node: 'be1', at: 0, addr: sim.a.be, mac: MAC.be})
  const hids: string[] = []
  const count = spec.handoffs ?? 1
  for (let i = 1; i <= count; i++) {
    if (i > 1 && spec.spacingMs) sim.tick(spec.spacingMs * 1000)
    hids.push(handoff(sim, ctl, i, i === 1 ? spec.fault : undefined))
  }
  if (spec.distractors ?? true) {
    // With reusePort the locally served connection reuses the first handoff's client port (a new ISN).
    distractors(sim, spec.reusePort ? 20001 : 39001)
    hids.push(handoff(sim, ctl, 9050, undefined, true))
  }
  if (spec.fault === 'handoff-orphan') {
    sim.tick(1000)
    ctl.send('fe', {v: 1, t: 'handoff-req', node: 'fe1', at: 0, hid: 'fe1/999', cip: sim.a.client, cport: 39999, vip: sim.a.vip, vport: VPORT,
      ciss: 1, fiss: 2, fopt: {mss: 1460, sack: true, ts: false}, pkts: [], url: '/orphan'})
  }
  if (spec.fault === 'handoff-orphan-terminate') {
    sim.tick(1000)
    ctl.send('be', {v: 1, t: 'terminate', node: 'be1', at: 0, hid: 'fe1/998', reason: 'timeout', cbytes: 0, sbytes: 0})
  }
  if (spec.fault === 'control-framing') {
    sim.tick(1000)
    // A frame whose body is a MessagePack array, not a map; then a valid ping.
    ctl.send('fe', new Uint8Array([0, 0, 0, 3, 0x92, 0x01, 0x02]))
    ctl.send('fe', {v: 1, t: 'ping', node: 'fe1', at: 0, n: 1})
  }
  const sorted = sim.out.map((e, i) => ({e, i})).sort((x, y) => (x.e.t < y.e.t ? -1 : x.e.t > y.e.t ? 1 : x.i - y.i))
  const ids: Partial<Record<ViewName, number>> = {}
  const files: string[] = []
  const writers = new Map<ViewName, PcapngWriter>()
  const app = {application: 'handoff test/support/handoff-trace.ts'}
  const shared = spec.split ? null : PcapngWriter.open(path, app)
  if (shared) files.push(path)
  for (const v of VIEW_NAMES) {
    if (spec.omit?.includes(v)) continue
    const name = spec.names?.[v] ?? v
    let w = shared
    if (w === null) {
      const f = `${path}/${name || v}.pcapng`
      w = PcapngWriter.open(f, app)
      files.push(f)
    }
    ids[v] = w.addInterface({linkType: spec.link === 'raw' ? LINKTYPE.RAW : LINKTYPE.ETHERNET, ...(name ? {name} : {})})
    writers.set(v, w)
  }
  for (const {e} of sorted) {
    const bytes = spec.link === 'raw' ? e.bytes.subarray(14) : e.bytes
    writers.get(e.view)!.writePacket(ids[e.view]!, Number(e.t / 1_000_000_000n), Number(e.t % 1_000_000_000n), bytes)
  }
  for (const w of new Set(writers.values())) w.close()
  return {path, files, hids, packets: sorted.length, interfaces: ids}
}

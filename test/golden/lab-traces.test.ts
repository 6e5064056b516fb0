// The committed lab traces (samples/traces/lab-*/, recorded by
// samples/record-traces.ts): each fault of samples/lab/faults.ts is really
// produced — its trace shows the rule of spec §4/§5 broken, on the faulty
// handoffs only (hid number ≡ 1 mod 4) — and lab-clean breaks none of them.
//
// Judged from the packets (capture reader + PacketDecoder), the control
// messages (extractControlMessages) and the shared rewrite engine (expected
// bytes: TranslationState.fromControl(req, ack) + rewriteForward /
// rewriteReturn), and with tshark where it is about what tshark says; never
// with the analyzer's checks. No root needed: only the committed files.
//
// Vantage points used (spec §7, interfaces of each pcapng):
//   client        the client's own view (both directions)
//   lan           frames entering the LAN bridge: the client's originals,
//                 the FE's forwarded copies (Ethernet source = the FE's MAC),
//                 the BE's return segments (Ethernet source = the BE's MAC)
//   <be>-inside   the BE's TCP before the return rewrite
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {extractControlMessages} from '../../analyzer/control/channels.js'
import type {ControlMessage, HandoffAck, HandoffNack, HandoffReq, Terminate} from '../../analyzer/control/messages.js'
import {PacketDecoder, type DecodedPacket} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {Engine, TranslationState} from '../../replayer/engine/index.js'
import {cliBin, hasCommand, repoRoot, requireOrSkip} from '../support/env.js'

const TRACES = join(repoRoot, 'samples', 'traces')
const FAULTS = ['ack-remap', 'sack-remap', 'ts-remap', 'seq-remap', 'tcp-checksum', 'ip-checksum', 'addr-rewrite', 'rst-leak',
  'synack-leak', 'isn-mismatch', 'request-replay', 'window-rescale', 'late-forward', 'handoff-orphan'] as const
type Fault = (typeof FAULTS)[number]
const RUNS = ['clean', ...FAULTS] as const
const INTERFACES = ['client', 'lan', 'n1-inside', 'n2-inside', 'n3-inside', 'control']
const HTTP = 80
const F_SYN = 0x02
const F_RST = 0x04
const F_ACK = 0x10

// ---------------------------------------------------------------- loading

interface Frame {
  no: number
  iface: string
  /** Seconds since the epoch (µs resolution in these files). */
  t: number
  data: Uint8Array
  d: DecodedPacket
}

interface Handoff {
  hid: string
  req: HandoffReq
  ack: HandoffAck
  st: TranslationState
  /** The BE's node name (the ack's sender). */
  be: string
  faulty: boolean
}

interface Trace {
  name: string
  file: string
  summary: {fault?: string; faultsApplied: number; requests: number; handoffs: number; record: {interfaces: string[]; packets: number}}
  frames: Frame[]
  byIface: Map<string, Frame[]>
  interfaces: string[]
  msgs: {msg: ControlMessage; t: number; frame: number}[]
  reqs: Map<string, HandoffReq>
  acks: Map<string, HandoffAck>
  nacks: Map<string, HandoffNack>
  terminates: {msg: Terminate; t: number}[]
  handoffs: Handoff[]
  /** The client's MAC per client address (from its SYNs on the client interface). */
  clientMacs: Map<string, string>
}

function faultyHid(hid: string): boolean {
  const n = Number(hid.slice(hid.lastIndexOf('/') + 1))
  return Number.isInteger(n) && n % 4 === 1
}

const cache = new Map<string, Promise<Trace>>()

function trace(name: string): Promise<Trace> {
  let p = cache.get(name)
  if (!p) {
    p = load(name)
    cache.set(name, p)
  }
  return p
}

async function load(name: string): Promise<Trace> {
  const dir = join(TRACES, `lab-${name}`)
  const file = join(dir, 'lab.pcapng.gz')
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Trace['summary']
  const dec = new PacketDecoder({verifyChecksums: true})
  const names: string[] = []
  const frames: Frame[] = []
  readCaptureSync(file, {
    onInterface: (i) => {
      names[i.id] = i.name ?? `#${i.id}`
    },
    onPacket: (r) => {
      const data = r.data.slice()
      frames.push({no: r.index, iface: names[r.interfaceId], t: r.tsSec + r.tsNsec / 1e9, data, d: dec.decode(r.linkType, data, data.length, r.origLen).toJSON()})
    },
  })
  const byIface = new Map<string, Frame[]>()
  for (const f of frames) byIface.set(f.iface, [...(byIface.get(f.iface) ?? []), f])

  const rep = await extractControlMessages(file, {keepMessages: true})
  assert.equal(rep.captureErrors.length, 0, `${name}: ${JSON.stringify(rep.captureErrors)}`)
  const msgs: Trace['msgs'] = []
  for (const row of rep.rows) {
    assert.equal(row.kind, 'message', `${name}: control framing error at frame ${row.frame}`)
    if (row.kind === 'message' && row.msg) msgs.push({msg: row.msg, t: row.tsSec + row.tsNsec / 1e9, frame: row.frame})
  }
  const reqs = new Map<string, HandoffReq>()
  const acks = new Map<string, HandoffAck>()
  const nacks = new Map<string, HandoffNack>()
  const terminates: Trace['terminates'] = []
  for (const {msg, t} of msgs) {
    if (msg.t === 'handoff-req') reqs.set(msg.hid, msg)
    else if (msg.t === 'handoff-ack') acks.set(msg.hid, msg)
    else if (msg.t === 'handoff-nack') nacks.set(msg.hid, msg)
    else if (msg.t === 'terminate') terminates.push({msg, t})
  }
  const handoffs: Handoff[] = []
  for (const [hid, req] of reqs) {
    const ack = acks.get(hid)
    if (!ack) continue
    handoffs.push({hid, req, ack, st: TranslationState.fromControl(req, ack), be: ack.node, faulty: faultyHid(hid)})
  }
  const clientMacs = new Map<string, string>()
  for (const f of byIface.get('client') ?? []) {
    if (f.d.transport === 'tcp' && (f.d.tcpFlags & (F_SYN | F_ACK)) === F_SYN && f.d.dstPort === HTTP) clientMacs.set(f.d.src, f.d.ethSrc)
  }
  return {name, file, summary, frames, byIface, interfaces: names, msgs, reqs, acks, nacks, terminates, handoffs, clientMacs}
}

// ---------------------------------------------------------------- views of one handoff

const tcp = (f: Frame) => f.d.transport === 'tcp' && f.d.l4HeaderLen > 0

/** Client → VIP segments of the connection, as the client sent them. */
function clientSent(tr: Trace, h: Handoff): Frame[] {
  return (tr.byIface.get('client') ?? []).filter((f) => tcp(f) && f.d.src === h.req.cip && f.d.srcPort === h.req.cport && f.d.dst === h.req.vip && f.d.dstPort === h.req.vport)
}

/** Segments the client received for the connection (whatever their source address). */
function clientReceived(tr: Trace, h: Handoff): Frame[] {
  return (tr.byIface.get('client') ?? []).filter((f) => tcp(f) && f.d.dst === h.req.cip && f.d.dstPort === h.req.cport)
}

/** The FE's forwarded copies on the LAN: client's 4-tuple source, not sent by the client (Ethernet source). */
function forwarded(tr: Trace, h: Handoff): Frame[] {
  const cmac = tr.clientMacs.get(h.req.cip)
  return (tr.byIface.get('lan') ?? []).filter((f) => tcp(f) && f.d.src === h.req.cip && f.d.srcPort === h.req.cport && f.d.ethSrc !== cmac)
}

/** The BE's return segments on the LAN: toward the client's 4-tuple, sent by the BE (Ethernet source = bmac). */
function returned(tr: Trace, h: Handoff): Frame[] {
  return (tr.byIface.get('lan') ?? []).filter((f) => tcp(f) && f.d.dst === h.req.cip && f.d.dstPort === h.req.cport && f.d.ethSrc === h.ack.bmac)
}

/** What the BE's TCP sent on the connection (its inside interface, before the return rewrite). */
function beSent(tr: Trace, h: Handoff): Frame[] {
  return (tr.byIface.get(`${h.be}-inside`) ?? []).filter((f) => tcp(f) && f.d.src === h.ack.baddr && f.d.srcPort === h.req.vport && f.d.dst === h.req.cip && f.d.dstPort === h.req.cport)
}

const DECODER = new PacketDecoder({verifyChecksums: true})

function rewritten(h: Handoff, f: Frame, dir: 'forward' | 'return'): DecodedPacket {
  const b = f.data.slice()
  const eng = new Engine(h.st)
  const r = dir === 'forward' ? eng.rewriteForward(b, LINKTYPE.ETHERNET) : eng.rewriteReturn(b, LINKTYPE.ETHERNET)
  assert.ok(r.ok, `engine ${dir} on frame ${f.no}: ${r.status} ${r.detail}`)
  return DECODER.decode(LINKTYPE.ETHERNET, b, b.length, b.length).toJSON()
}

interface Pair {
  h: Handoff
  /** The frame before the rewrite (client's, or the BE TCP's). */
  from: Frame
  /** The rewritten frame as captured on the LAN. */
  seen: Frame
  /** What the engine makes of `from`. */
  want: DecodedPacket
  /** Fields of §4 where `seen` differs from `want`. */
  diff: string[]
}

const FIELDS = ['src', 'dst', 'srcPort', 'dstPort', 'seq', 'ack', 'window', 'tsVal', 'tsEcr', 'ipChecksumStatus', 'l4ChecksumStatus', 'payloadLen', 'ipv4Id'] as const

function diff(want: DecodedPacket, seen: DecodedPacket): string[] {
  const out: string[] = FIELDS.filter((k) => want[k] !== seen[k])
  if (JSON.stringify(want.sack) !== JSON.stringify(seen.sack)) out.push('sack')
  if (want.hasTimestamp !== seen.hasTimestamp) out.push('hasTimestamp')
  return out
}

/** Same segment before and after a rewrite: fields no §4 rule (and no fault) touches. */
const sameSegment = (a: DecodedPacket, b: DecodedPacket) => a.ipv4Id === b.ipv4Id && a.tcpFlags === b.tcpFlags && a.payloadLen === b.payloadLen

/** Every forwarded segment against the engine's forward rewrite of the client's segment it copies. */
function forwardPairs(tr: Trace, h: Handoff): {pairs: Pair[]; unmatched: Frame[]} {
  const sent = clientSent(tr, h)
  const pairs: Pair[] = []
  const unmatched: Frame[] = []
  for (const seen of forwarded(tr, h)) {
    const from = sent.find((c) => sameSegment(c.d, seen.d) && c.d.seq === seen.d.seq)
    if (!from) {
      unmatched.push(seen)
      continue
    }
    const want = rewritten(h, from, 'forward')
    pairs.push({h, from, seen, want, diff: diff(want, seen.d)})
  }
  return {pairs, unmatched}
}

/** Every return segment against the engine's return rewrite of the BE TCP's segment it comes from. */
function returnPairs(tr: Trace, h: Handoff): {pairs: Pair[]; unmatched: Frame[]} {
  const out = beSent(tr, h)
  const pairs: Pair[] = []
  const unmatched: Frame[] = []
  for (const seen of returned(tr, h)) {
    const from = out.find((b) => sameSegment(b.d, seen.d) && b.d.ack === seen.d.ack)
    if (!from) {
      unmatched.push(seen)
      continue
    }
    const want = rewritten(h, from, 'return')
    pairs.push({h, from, seen, want, diff: diff(want, seen.d)})
  }
  return {pairs, unmatched}
}

const pairCache = new WeakMap<Trace, {fwd: Pair[]; ret: Pair[]; fwdUnmatched: Frame[]; retUnmatched: Frame[]}>()

function allPairs(tr: Trace) {
  let p = pairCache.get(tr)
  if (!p) {
    p = {fwd: [], ret: [], fwdUnmatched: [], retUnmatched: []}
    for (const h of tr.handoffs) {
      const f = forwardPairs(tr, h)
      const r = returnPairs(tr, h)
      p.fwd.push(...f.pairs)
      p.ret.push(...r.pairs)
      p.fwdUnmatched.push(...f.unmatched)
      p.retUnmatched.push(...r.unmatched)
    }
    pairCache.set(tr, p)
  }
  return p
}

// ---------------------------------------------------------------- evidence per fault

interface Evidence {
  hid: string
  /** Frame number in the file (0 for control-only evidence). */
  frame: number
  what: string
  /** late-forward: the FE forwarded more copies of this segment than the client sent. */
  again?: boolean
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16)

function pairEvidence(pairs: Pair[], field: string, what: (p: Pair) => string, pred: (p: Pair) => boolean = () => true): Evidence[] {
  return pairs.filter((p) => p.diff.includes(field) && pred(p)).map((p) => ({hid: p.h.hid, frame: p.seen.no, what: what(p)}))
}

/** The segments of handed-off connections the client and the LAN saw. */
function handedOffSegments(tr: Trace): {h: Handoff; f: Frame}[] {
  const out: {h: Handoff; f: Frame}[] = []
  for (const h of tr.handoffs) {
    for (const f of [...(tr.byIface.get('client') ?? []), ...(tr.byIface.get('lan') ?? [])]) {
      if (!tcp(f)) continue
      const c2s = f.d.src === h.req.cip && f.d.srcPort === h.req.cport
      const s2c = f.d.dst === h.req.cip && f.d.dstPort === h.req.cport
      if (c2s || s2c) out.push({h, f})
    }
  }
  return out
}

/** The first control-message time of a hid (its handoff-req). */
function reqTime(tr: Trace, hid: string): number {
  return tr.msgs.find((m) => m.msg.t === 'handoff-req' && m.msg.hid === hid)!.t
}

const DETECT: Record<Fault, (tr: Trace) => Evidence[]> = {
  // A forwarded segment whose ack is not the client's ack + Δ.
  'ack-remap': (tr) => pairEvidence(allPairs(tr).fwd, 'ack',
    (p) => `forwarded ack ${hex(p.seen.d.ack)}, client's ack ${hex(p.from.d.ack)} + Δ = ${hex(p.want.ack)}`),

  // A forwarded SACK edge that is not the client's edge + Δ.
  'sack-remap': (tr) => pairEvidence(allPairs(tr).fwd, 'sack',
    (p) => `forwarded SACK ${JSON.stringify(p.seen.d.sack)}, client's ${JSON.stringify(p.from.d.sack)} + Δ = ${JSON.stringify(p.want.sack)}`),

  // Forwarded TSecr not + τ, or returned TSval not − τ.
  'ts-remap': (tr) => [
    ...pairEvidence(allPairs(tr).fwd, 'tsEcr', (p) => `forwarded TSecr ${p.seen.d.tsEcr}, client's ${p.from.d.tsEcr} + τ = ${p.want.tsEcr}`),
    ...pairEvidence(allPairs(tr).ret, 'tsVal', (p) => `returned TSval ${p.seen.d.tsVal}, BE's ${p.from.d.tsVal} − τ = ${p.want.tsVal}`),
  ],

  // A return segment whose seq is not the BE's seq − Δ.
  'seq-remap': (tr) => pairEvidence(allPairs(tr).ret, 'seq',
    (p) => `returned seq ${hex(p.seen.d.seq)}, BE-inside seq ${hex(p.from.d.seq)} − Δ = ${hex(p.want.seq)}`),

  // A segment of a handed-off connection, seen by the client or on the LAN, with a wrong TCP checksum.
  'tcp-checksum': (tr) => handedOffSegments(tr).filter(({f}) => f.d.l4ChecksumStatus === 'bad' || f.d.l4ChecksumStatus === 'partial')
    .map(({h, f}) => ({hid: h.hid, frame: f.no, what: `${f.iface}: TCP checksum ${hex(f.d.l4Checksum)} is ${f.d.l4ChecksumStatus}`})),

  // Same, IPv4 header checksum.
  'ip-checksum': (tr) => handedOffSegments(tr).filter(({f}) => f.d.ipChecksumStatus === 'bad')
    .map(({h, f}) => ({hid: h.hid, frame: f.no, what: `${f.iface}: IPv4 header checksum ${hex(f.d.ipChecksum)} is bad`})),

  // A return segment not from the VIP (or a port changed), or a forwarded one not to the BE.
  'addr-rewrite': (tr) => [
    ...allPairs(tr).ret.filter((p) => p.diff.some((k) => k === 'src' || k === 'srcPort' || k === 'dstPort'))
      .map((p) => ({hid: p.h.hid, frame: p.seen.no, what: `return segment from ${p.seen.d.src}:${p.seen.d.srcPort}, want the VIP ${p.want.src}:${p.want.srcPort}`})),
    ...allPairs(tr).fwd.filter((p) => p.diff.some((k) => k === 'dst' || k === 'srcPort' || k === 'dstPort') || p.seen.d.ethDst !== p.h.ack.bmac)
      .map((p) => ({hid: p.h.hid, frame: p.seen.no, what: `forwarded segment to ${p.seen.d.dst}:${p.seen.d.dstPort} (${p.seen.d.ethDst}), want the BE ${p.h.ack.baddr} (${p.h.ack.bmac})`})),
  ],

  // The FE's local reset reaches the client: a RST from the VIP, sent by the FE
  // node (Ethernet source = the MAC of the FE's own SYN/ACK, not the BE's
  // return path), after the handoff. Its seq is fiss + 1, the FE stack's.
  'rst-leak': (tr) => tr.handoffs.flatMap((h) => {
    const recv = clientReceived(tr, h)
    const feMac = recv.find((f) => (f.d.tcpFlags & (F_SYN | F_ACK)) === (F_SYN | F_ACK) && f.t < reqTime(tr, h.hid))?.d.ethSrc
    assert.ok(feMac && feMac !== h.ack.bmac, `${tr.name} ${h.hid}: the FE's SYN/ACK is not on the client interface`)
    return recv.filter((f) => (f.d.tcpFlags & F_RST) !== 0 && f.d.src === h.req.vip && f.d.srcPort === h.req.vport && f.d.ethSrc === feMac && f.t >= reqTime(tr, h.hid))
      .map((f) => ({hid: h.hid, frame: f.no, what: `client got the FE's RST (${f.d.ethSrc}) from ${f.d.src}:${f.d.srcPort}, seq ${hex(f.d.seq)} (fiss + 1 = ${hex(h.req.fiss + 1)})`}))
  }),

  // The BE's SYN/ACK reaches the client: a SYN/ACK for the connection sent by
  // the BE (Ethernet source = bmac), or any SYN/ACK after the handoff-req. (Its
  // return rewrite makes it byte for byte the FE's own SYN/ACK when both nodes
  // run the same stack settings: seq biss − Δ = fiss, TSval bts − τ = fts.)
  'synack-leak': (tr) => tr.handoffs.flatMap((h) => clientReceived(tr, h)
    .filter((f) => (f.d.tcpFlags & (F_SYN | F_ACK)) === (F_SYN | F_ACK) && (f.d.ethSrc === h.ack.bmac || f.t >= reqTime(tr, h.hid)))
    .map((f) => {
      const be = beSent(tr, h).find((b) => (b.d.tcpFlags & (F_SYN | F_ACK)) === (F_SYN | F_ACK))
      const same = be !== undefined && sameBytesFromIp(rewrittenBytes(h, be), f.data)
      return {hid: h.hid, frame: f.no, what: `client got a SYN/ACK sent by the BE (${f.d.ethSrc}) after the handoff-req: seq ${hex(f.d.seq)} = biss ${hex(h.ack.biss)} − Δ` +
        `${same ? ', byte for byte the return rewrite of the BE\'s SYN/ACK' : ''}`}
    })),

  // ciss / fiss / biss in the control messages against the SYN, the FE's SYN/ACK and the BE's SYN/ACK on the wire.
  'isn-mismatch': (tr) => tr.handoffs.flatMap((h) => {
    const ev: Evidence[] = []
    const sent = clientSent(tr, h)
    const syn = sent.find((f) => (f.d.tcpFlags & (F_SYN | F_ACK)) === F_SYN)
    const feSynAck = clientReceived(tr, h).find((f) => (f.d.tcpFlags & (F_SYN | F_ACK)) === (F_SYN | F_ACK))
    const beSynAck = beSent(tr, h).find((f) => (f.d.tcpFlags & (F_SYN | F_ACK)) === (F_SYN | F_ACK))
    assert.ok(syn && feSynAck && beSynAck, `${tr.name} ${h.hid}: SYN, FE SYN/ACK or BE SYN/ACK not captured`)
    if (syn.d.seq !== h.req.ciss) ev.push({hid: h.hid, frame: syn.no, what: `ciss ${hex(h.req.ciss)} in handoff-req, the client's SYN has seq ${hex(syn.d.seq)}`})
    if (feSynAck.d.seq !== h.req.fiss) ev.push({hid: h.hid, frame: feSynAck.no, what: `fiss ${hex(h.req.fiss)}, the FE's SYN/ACK has seq ${hex(feSynAck.d.seq)}`})
    if (beSynAck.d.seq !== h.ack.biss) ev.push({hid: h.hid, frame: beSynAck.no, what: `biss ${hex(h.ack.biss)}, the BE's SYN/ACK has seq ${hex(beSynAck.d.seq)}`})
    return ev
  }),

  // pkts (SYN, ACK, request) against the client's segments as captured, byte for byte from the IP header.
  'request-replay': (tr) => tr.handoffs.flatMap((h) => {
    const sent = clientSent(tr, h)
    const ev: Evidence[] = []
    h.req.pkts.forEach((pkt, i) => {
      const p = DECODER.decode(LINKTYPE.RAW, pkt, pkt.length, pkt.length).toJSON()
      const c = sent.find((f) => sameSegment(f.d, p) && f.d.seq === p.seq)
      if (!c) ev.push({hid: h.hid, frame: 0, what: `pkts[${i}] (seq ${hex(p.seq)}, ${p.payloadLen} bytes) matches no segment the client sent`})
      else if (!sameBytesFromIp(pkt, c.data)) {
        const pay = c.d.payloadOffset - c.d.ipOffset
        const at = pay + firstDifference(pkt.subarray(pay), c.data.subarray(c.d.payloadOffset))
        const text = (b: Uint8Array, o: number) => JSON.stringify(Buffer.from(b.subarray(o, o + 16)).toString('latin1'))
        ev.push({hid: h.hid, frame: c.no, what: at < pkt.length
          ? `pkts[${i}] differs from the client's segment at payload byte ${at - pay}: ${text(pkt, at)} vs ${text(c.data, c.d.ipOffset + at)}`
          : `pkts[${i}] differs from the client's segment in its headers`})
      }
    })
    return ev
  }),

  // wsB ≠ wsF and a return window that is not the rescaled one.
  'window-rescale': (tr) => pairEvidence(allPairs(tr).ret, 'window',
    (p) => `wsB ${p.h.st.wsB} ≠ wsF ${p.h.st.wsF}: returned window ${p.seen.d.window}, BE's ${p.from.d.window} rescaled = ${p.want.window}`,
    (p) => p.h.st.wsB !== p.h.st.wsF),

  // A forwarded segment captured after the hid's terminate. `again`: the FE
  // forwarded more copies of that segment than the client sent (what the
  // lab's late-forward fault does: the last forwarded segment once more),
  // rather than forwarding late a segment the client did send.
  'late-forward': (tr) => tr.handoffs.flatMap((h) => {
    const term = tr.terminates.find((x) => x.msg.hid === h.hid)
    if (!term) return []
    const fwd = forwarded(tr, h)
    const ip = (b: Uint8Array) => Buffer.from(b.subarray(14, 14 + ((b[16] << 8) | b[17])))
    const sentAsForwarded = clientSent(tr, h).map((c) => {
      const b = c.data.slice()
      new Engine(h.st).rewriteForward(b, LINKTYPE.ETHERNET)
      return ip(b)
    })
    return fwd.filter((f) => f.t > term.t).map((f) => {
      const copies = fwd.filter((g) => ip(g.data).equals(ip(f.data))).length
      const sent = sentAsForwarded.filter((b) => b.equals(ip(f.data))).length
      return {hid: h.hid, frame: f.no, again: copies > sent,
        what: `forwarded ${f.d.flags} seq ${hex(f.d.seq)} ${((f.t - term.t) * 1000).toFixed(1)} ms after terminate` +
          ` (${copies} forwarded cop${copies === 1 ? 'y' : 'ies'} of a segment the client sent ${sent}×)`}
    })
  }),

  // A handoff-req with no ack/nack, or an ack, nack or terminate with no req.
  'handoff-orphan': (tr) => {
    const ev: Evidence[] = []
    for (const {msg, frame} of tr.msgs) {
      if (msg.t === 'handoff-req' && !tr.acks.has(msg.hid) && !tr.nacks.has(msg.hid)) ev.push({hid: msg.hid, frame, what: 'handoff-req with no ack or nack'})
      if ((msg.t === 'handoff-ack' || msg.t === 'handoff-nack' || msg.t === 'terminate') && !tr.reqs.has(msg.hid)) {
        ev.push({hid: msg.hid, frame, what: `${msg.t} ${msg.hid} from ${msg.node} with no handoff-req`})
      }
    }
    return ev
  },
}

function rewrittenBytes(h: Handoff, f: Frame): Uint8Array {
  const b = f.data.slice()
  new Engine(h.st).rewriteReturn(b, LINKTYPE.ETHERNET)
  return b.subarray(14)
}

/** An IP datagram equals the IP part of an Ethernet frame (padding excluded). */
function sameBytesFromIp(ip: Uint8Array, frame: Uint8Array): boolean {
  const total = (ip[2] << 8) | ip[3]
  const inFrame = frame.subarray(14, 14 + ((frame[16] << 8) | frame[17]))
  return total === ip.length && Buffer.compare(Buffer.from(ip), Buffer.from(inFrame)) === 0
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

function show(ev: Evidence[]): string {
  return ev.slice(0, 5).map((e) => `${e.hid} frame ${e.frame}: ${e.what}`).join('\n')
}

function committed(): boolean {
  return RUNS.every((r) => existsSync(join(TRACES, `lab-${r}`, 'lab.pcapng.gz')) && existsSync(join(TRACES, `lab-${r}`, 'summary.json')))
}

// ---------------------------------------------------------------- tests

test('every lab trace is committed, readable, with its summary and one interface per vantage point', async () => {
  assert.ok(committed(), 'samples/traces/lab-*/ incomplete: node dist/samples/record-traces.js re-records them')
  for (const r of RUNS) {
    const tr = await trace(r)
    assert.deepEqual(tr.interfaces, INTERFACES, r)
    assert.deepEqual(tr.summary.record.interfaces, INTERFACES, r)
    assert.equal(tr.frames.length, tr.summary.record.packets, `${r}: frames in the file vs summary`)
    for (const i of INTERFACES) assert.ok((tr.byIface.get(i)?.length ?? 0) > 0, `${r}: nothing on ${i}`)
    if (r === 'clean') {
      assert.equal(tr.summary.fault, undefined)
      assert.equal(tr.summary.faultsApplied, 0)
    } else {
      assert.equal(tr.summary.fault, r)
      assert.ok(tr.summary.faultsApplied >= 2, `${r} applied ${tr.summary.faultsApplied}×`)
    }
    // Every handoff of the summary is in the control channel, with its ack.
    assert.equal(tr.handoffs.length, tr.summary.handoffs, `${r}: handoffs with req + ack vs summary`)
    // Handoffs reach every node, as front-end and as back-end.
    assert.deepEqual([...new Set(tr.handoffs.map((h) => h.be))].sort(), ['n1', 'n2', 'n3'], `${r}: back-ends`)
    assert.deepEqual([...new Set(tr.handoffs.map((h) => h.req.node))].sort(), ['n1', 'n2', 'n3'], `${r}: front-ends`)
  }
})

test('lab-clean: every forwarded and every return segment is exactly the engine\'s rewrite (spec §4)', async () => {
  const tr = await trace('clean')
  const p = allPairs(tr)
  assert.deepEqual(p.fwdUnmatched.map((f) => f.no), [], 'forwarded segments with no client original')
  assert.deepEqual(p.retUnmatched.map((f) => f.no), [], 'return segments with no BE original')
  assert.ok(p.fwd.length >= tr.handoffs.length * 3, `only ${p.fwd.length} forwarded segments`)
  assert.ok(p.ret.length >= tr.handoffs.length * 5, `only ${p.ret.length} return segments`)
  for (const x of [...p.fwd, ...p.ret]) assert.deepEqual(x.diff, [], `${x.h.hid} frame ${x.seen.no}`)
  // Byte for byte from the IP header on, and the forwarded frames go to the BE's MAC.
  for (const x of p.fwd) {
    const b = x.from.data.slice()
    new Engine(x.h.st).rewriteForward(b, LINKTYPE.ETHERNET)
    assert.ok(Buffer.from(b.subarray(14)).equals(Buffer.from(x.seen.data.subarray(14))), `${x.h.hid} forwarded frame ${x.seen.no}`)
    assert.equal(x.seen.d.ethDst, x.h.ack.bmac)
  }
  for (const x of p.ret) assert.ok(sameBytesFromIp(rewrittenBytes(x.h, x.from), x.seen.data), `${x.h.hid} return frame ${x.seen.no}`)
  // The translation is not the identity: Δ ≠ 0, τ in use, and some handoffs rescale the window (n2's wsB/wsF).
  assert.ok(tr.handoffs.every((h) => h.st.delta !== 0 && h.st.tsActive))
  assert.ok(tr.handoffs.some((h) => h.st.wsB !== h.st.wsF))
  assert.ok(p.ret.some((x) => x.h.st.wsB !== x.h.st.wsF && x.from.d.window !== x.seen.d.window))
})

for (const fault of FAULTS) {
  test(`${fault}: broken in lab-${fault} on faulty handoffs only, not in lab-clean`, async (t) => {
    const clean = DETECT[fault](await trace('clean'))
    assert.deepEqual(clean, [], `lab-clean:\n${show(clean)}`)
    const tr = await trace(fault)
    const ev = DETECT[fault](tr)
    assert.ok(ev.length > 0, `lab-${fault}: the rule is not broken in the trace`)
    const notFaulty = ev.filter((e) => !faultyHid(e.hid.replace('orphan-', '')))
    assert.deepEqual(notFaulty, [], `lab-${fault}: evidence on handoffs the fault does not apply to:\n${show(notFaulty)}`)
    // The fault hit more than one handoff.
    const hids = [...new Set(ev.map((e) => e.hid))]
    assert.ok(hids.length >= 2, `lab-${fault}: only ${show(ev)}`)
    t.diagnostic(`${ev.length} segment(s)/message(s) on ${hids.join(', ')}; e.g. ${ev[0].hid} frame ${ev[0].frame}: ${ev[0].what}`)
  })
}

test('the faults break only their own rule: the other fault detectors find nothing in each fault trace', async () => {
  // One allowed knock-on: where a fault makes the client reset the
  // connection (addr-rewrite: the client resets the segment from the BE's
  // address, the BE terminates; rst-leak: the client takes the leaked RST and
  // resets what the BE sends next), the client's segments sent just before
  // the terminate can be forwarded by a front-end that has not yet read it —
  // a real late forward (spec §5, a warning), but each is the first copy of a
  // client segment, never a re-sent one as in lab-late-forward.
  const knockOn: Partial<Record<Fault, Fault[]>> = {'addr-rewrite': ['late-forward'], 'rst-leak': ['late-forward']}
  const bad: string[] = []
  for (const fault of FAULTS) {
    const tr = await trace(fault)
    for (const other of FAULTS) {
      if (other === fault) continue
      const ev = DETECT[other](tr)
      if (other === 'late-forward' && knockOn[fault]?.includes(other)) {
        const again = ev.filter((e) => e.again)
        if (again.length > 0) bad.push(`lab-${fault} re-forwards after terminate:\n${show(again)}`)
        continue
      }
      if (ev.length > 0) bad.push(`lab-${fault} also shows ${other}:\n${show(ev)}`)
    }
  }
  assert.deepEqual(bad, [])
})

test('late-forward: lab-late-forward re-sends an already forwarded segment after the terminate', async () => {
  const ev = DETECT['late-forward'](await trace('late-forward')).filter((e) => e.again)
  assert.ok(new Set(ev.map((e) => e.hid)).size >= 2, show(ev))
})

test('tshark reads every lab trace with the expected interfaces', (t) => {
  if (!requireOrSkip(t, hasCommand('tshark'), 'needs tshark')) return
  for (const r of RUNS) {
    const out = execFileSync('tshark', ['-r', join(TRACES, `lab-${r}`, 'lab.pcapng.gz'), '-T', 'fields', '-e', 'frame.interface_name'],
      {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20})
    const lines = out.split('\n').filter((l) => l)
    assert.deepEqual([...new Set(lines)].sort(), [...INTERFACES].sort(), r)
  }
})

test('tshark: bad checksums on handed-off connections in lab-tcp-checksum / lab-ip-checksum only', async (t) => {
  if (!requireOrSkip(t, hasCommand('tshark'), 'needs tshark')) return
  const bad = (r: string, layer: 'tcp' | 'ip') => {
    const out = execFileSync('tshark', ['-r', join(TRACES, `lab-${r}`, 'lab.pcapng.gz'), '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
      '-Y', `(frame.interface_name == "client" || frame.interface_name == "lan") && ${layer}.checksum.status == 0`,
      '-T', 'fields', '-e', 'frame.number', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport'],
    {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20})
    return out.split('\n').filter((l) => l).map((l) => l.split('\t'))
  }
  for (const [r, layer] of [['tcp-checksum', 'tcp'], ['ip-checksum', 'ip']] as const) {
    const tr = await trace(r)
    const rows = bad(r, layer)
    assert.ok(rows.length > 0, `tshark finds no bad ${layer} checksum in lab-${r}`)
    const hids = new Set<string>()
    for (const [no, , sport, , dport] of rows) {
      const h = tr.handoffs.find((x) => String(x.req.cport) === dport || String(x.req.cport) === sport)
      assert.ok(h, `lab-${r} frame ${no}: not on a handed-off connection`)
      assert.ok(h.faulty, `lab-${r} frame ${no}: on ${h.hid}, which the fault does not apply to`)
      hids.add(h.hid)
    }
    // tshark and the packet layer agree, frame for frame.
    assert.deepEqual(rows.map((x) => Number(x[0])).sort((a, b) => a - b), DETECT[r](tr).map((e) => e.frame).sort((a, b) => a - b))
    assert.ok(hids.size >= 2)
  }
  for (const layer of ['tcp', 'ip'] as const) assert.deepEqual(bad('clean', layer), [], `lab-clean: bad ${layer} checksums`)
})

test('handoff inspect reads a committed lab trace (.pcapng.gz)', () => {
  const file = join(TRACES, 'lab-clean', 'lab.pcapng.gz')
  const r = spawnSync(process.execPath, [cliBin, 'inspect', file], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  assert.equal(r.status, 0, r.stderr)
  for (const i of INTERFACES) assert.ok(r.stdout.includes(i), `inspect does not list interface ${i}`)
})

// Deriving the other legs of handed-off connections from a trace (spec §2,
// §4, §7). Every rewrite goes through the engine with verify on: a rewrite
// that changes a checksum's verdict throws EngineVerifyError, which ends the
// replay — never silent output.
//
// Which packet becomes what (per connection, matched on its 4-tuples):
//
//  leg 'forwarded' — "what the FE must forward to the BE" (link type of the
//    input, Ethernet destination := bmac): every client → VIP segment
//    captured at or after the handoff-ack (spec §2 step 9: the FE is in
//    forwarding mode from then on) and before the terminate (step 11: it
//    leaves it there), through the forward rewrite.
//    Client → VIP segments before it (SYN, ACK, request, and retransmissions
//    of the request the FE absorbs, §2 step 4) are not forwarded: they are
//    counted as `beforeHandoff`; those from the terminate on (late segments
//    the FE absorbs) as `afterTerminate`.
//
//  leg 'be-inside' — "the segments the BE's TCP must see" (raw IP, link type
//    101: this is between the BE's BTCP and its TCP, where there is no link
//    header): the handoff-req's `pkts` (SYN, ACK, request, §2 step 7), each
//    through the forward rewrite, at the time of the handoff-req; then every
//    forwarded segment again (its IP datagram), as the BE's TCP receives it.
//
//  leg 'return' — "what the client must see": every BE → client segment
//    (source = baddr, i.e. a back-end-inside view, before the return
//    rewrite), through the return rewrite. The BE's SYN/ACK is never sent to
//    the client (§2 step 7): it is dropped and counted as `synAckDropped`.
//    The BE rewrites whatever its TCP sends, terminate or not: no cut here.
//
// One view per connection and direction: a trace with several vantage points
// (the lab's client side, LAN and node-inside interfaces) holds two or three
// copies of a client segment, and a BE segment may show on the LAN too (when
// a faulty BE sent it unrewritten). The client's segments are taken from the
// view that saw most of them, the BE's likewise (the first seen on a tie), so
// each packet is replayed once.
//
// The packets the legs came from are kept as captured (`captured`), with the
// packets of the control connections that carried the selected handoffs'
// messages: `--write` stores them next to the legs so that `handoff check`
// can judge the file on its own (see sinks/file.ts).
//
// Packets of the connection that are none of these (VIP → client as the
// client saw it, client → BE already forwarded) are counted, not derived.
// When a 4-tuple was reused by several handoffs, a packet belongs to the
// latest handoff whose handoff-req is not later than the packet.
import {readCapture} from '../../analyzer/capture/read.js'
import {joinSections} from '../../analyzer/capture/join-sections.js'
import type {PacketRecord} from '../../analyzer/capture/types.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {Engine, EngineVerifyError, TranslationState} from '../engine/index.js'
import {CONTROL_PORT} from '../../analyzer/control/messages.js'
import {channelKey, type ControlHandoff} from './control.js'
import {canonicalAddr} from './select.js'

export const LEGS = ['forwarded', 'be-inside', 'return'] as const
export type LegName = (typeof LEGS)[number]

/** Display names of the legs (tables, messages; the pcapng interface names are sinks/file.ts LEG_INTERFACE). */
export const LEG_LABEL: Record<LegName, string> = {
  forwarded: 'forwarded (FE → BE)',
  'be-inside': 'BE inside',
  return: 'return (BE → client)',
}

export const LEG_DESCRIPTION: Record<LegName, string> = {
  forwarded: 'client segments after the handoff, as the FE must forward them to the BE (spec §4 forward rewrite)',
  'be-inside': 'segments the BE\'s TCP must see: the replayed SYN, ACK and request (handoff-req pkts) and every forwarded segment, forward-rewritten, raw IP',
  return: 'BE segments as the client must see them (spec §4 return rewrite)',
}

export interface DerivedPacket {
  leg: LegName
  hid: string
  tsSec: number
  tsNsec: number
  linkType: number
  /** The rewritten frame (own copy). */
  data: Uint8Array
  origLen: number
  /** Where it came from: "file#frame" or "handoff-req pkts[i]". */
  source: string
  /** Order of derivation (stable tie-break). */
  seq: number
  /** The input already had a wrong IPv4 or TCP checksum (kept wrong by the rewrite). */
  inputChecksumBad: boolean
}

/**
 * A packet of the input kept as captured, for `--write` to carry next to the
 * legs so that the file can be checked on its own (spec §5 needs the control
 * messages, and judges a rewrite packet by packet only against the segment it
 * was rewritten from):
 *   'control' — a packet of a control connection that carried a selected
 *               handoff's handoff-req, handoff-ack or terminate;
 *   'client'  — a client → VIP segment of a selected connection, from the
 *               view the forwarded leg was derived from (handshake and
 *               request included: the origins of the handoff-req's pkts);
 *   'be'      — a BE → client segment before the return rewrite (BE's TCP),
 *               from the view the return leg was derived from (its SYN/ACK
 *               included: the wire's biss).
 */
export type CapturedRole = 'control' | 'client' | 'be'
export const CAPTURED_ROLES: readonly CapturedRole[] = ['control', 'client', 'be']

export interface CapturedPacket {
  role: CapturedRole
  /** The handoff it belongs to (null for the control channel, shared by handoffs). */
  hid: string | null
  tsSec: number
  tsNsec: number
  linkType: number
  /** The frame as captured (own copy). */
  data: Uint8Array
  origLen: number
  /** "file#frame". */
  source: string
  seq: number
}

export interface SkippedPacket {
  hid: string
  source: string
  leg: LegName
  status: string
  detail: string
}

export interface HandoffLegs {
  hid: string
  state: ReturnType<TranslationState['describe']>
  legs: Record<LegName, number>
  /** Client → VIP segments before the handoff-ack (not forwarded). */
  beforeHandoff: number
  /** Client → VIP segments at or after the terminate (the FE has left forwarding mode: not forwarded). */
  afterTerminate: number
  /** VIP → client segments as the client saw them (already on their final leg). */
  seenByClient: number
  /** Client → BE segments in the trace (already forwarded). */
  seenForwarded: number
  synAckDropped: number
  /** Packets rewritten whose payload was not fully captured (TCP checksum not verifiable). */
  unverifiable: number
  /** The views ("file#interface") the client's and the BE's segments were taken from (null: none seen). */
  views: {client: string | null; be: string | null}
}

export interface DeriveResult {
  packets: DerivedPacket[]
  /** The input packets the legs came from, and the control channel (see CapturedPacket), in time order. */
  captured: CapturedPacket[]
  handoffs: HandoffLegs[]
  /** Handoffs that could not be derived (no handoff-ack, bad state): hid → why. */
  notDerived: {hid: string; reason: string}[]
  skipped: SkippedPacket[]
  /** Packets read from the trace(s). */
  packetsRead: number
}

export class DeriveError extends Error {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'DeriveError'
  }
}

/** An input packet held until the end of the pass (its view is chosen then). */
interface Held {
  data: Uint8Array
  linkType: number
  origLen: number
  tsSec: number
  tsNsec: number
  t: number
  source: string
  ord: number
  syn: boolean
}

/** Held packets per view ("file#interface"), in the order the views were first seen. */
type ByView = Map<string, Held[]>

interface Conn {
  h: ControlHandoff
  eng: Engine
  info: HandoffLegs
  reqT: number
  ackT: number
  /** Time of the terminate (Infinity: none captured). */
  termT: number
  client: ByView
  be: ByView
}

const tOf = (sec: number, nsec: number): number => sec * 1e9 + nsec

function fmt(a: string, p: number): string {
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`
}

/**
 * The connection a packet with these endpoints belongs to. A client port may
 * be reused — a later connection, possibly to another node — so the packet
 * must also fall in the connection's sequence space (as the analyzer's
 * assemble.ts does): from the client, seq near ciss; to the client, ack near
 * ciss + 1 (no ACK flag: not decidable, taken). Among those that fit, the
 * last requested before the packet.
 */
function pick(cands: Conn[] | undefined, t: number, fromClient: boolean, seq: number, ack: number, flags: number): Conn | undefined {
  if (cands === undefined) return undefined
  let best: Conn | undefined
  for (const c of cands) {
    const ciss = c.h.req.msg.ciss
    if (fromClient ? !near(seq, ciss) : (flags & 0x10) !== 0 && !near(ack, (ciss + 1) >>> 0)) continue
    if (best === undefined || c.reqT <= t) best = c
  }
  return best
}

/** x lies in the sequence space that begins at base (a window that no connection's lifetime outgrows). */
function near(x: number, base: number): boolean {
  const d = ((x - base) | 0)
  return d > -(1 << 20) && d < 1 << 30
}

/**
 * A copy of bytes [start, end) of `b`. Not `b.slice()`: the readers hand out
 * Node Buffers, whose slice() is a view — a rewrite in place would then change
 * the captured copy too (and the reader's memory).
 */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  const out = new Uint8Array(end - start)
  out.set(b.subarray(start, end))
  return out
}

function heldOf(rec: PacketRecord, file: string, t: number, ord: number, syn: boolean): Held {
  return {data: copyBytes(rec.buffer, rec.dataOffset, rec.dataOffset + rec.capLen), linkType: rec.linkType, origLen: rec.origLen,
    tsSec: rec.tsSec, tsNsec: rec.tsNsec, t, source: `${file}#${rec.index}`, ord, syn}
}

function hold(m: ByView, view: string, p: Held): void {
  const l = m.get(view)
  if (l === undefined) m.set(view, [p])
  else l.push(p)
}

/**
 * The one view a connection's packets are taken from: the one that saw most
 * of them, the first seen on a tie. A trace with several vantage points (the
 * lab's: client side, LAN, node inside) shows each client segment two or
 * three times; replaying every copy would forward it as often.
 */
function mainView(m: ByView): [string, Held[]] | null {
  let best: [string, Held[]] | null = null
  for (const e of m) if (best === null || e[1].length > best[1].length) best = e
  return best
}

export interface DeriveOptions {
  /** TCP port of the control channel (default 7070): its connections are kept for the `--write` context. */
  controlPort?: number
}

/**
 * Derives the legs `want` of the handoffs `handoffs` from the trace files.
 * Reads the files once. Throws DeriveError on a verify failure.
 */
export async function deriveLegs(paths: string[], handoffs: ControlHandoff[], want: ReadonlySet<LegName>,
  opts: DeriveOptions = {}): Promise<DeriveResult> {
  const port = opts.controlPort ?? CONTROL_PORT
  const res: DeriveResult = {packets: [], captured: [], handoffs: [], notDerived: [], skipped: [], packetsRead: 0}
  const byFwd = new Map<string, Conn[]>()
  const byRet = new Map<string, Conn[]>()
  const byClientVip = new Map<string, Conn[]>()
  const byClientBe = new Map<string, Conn[]>()
  const add = (m: Map<string, Conn[]>, k: string, c: Conn) => {
    const l = m.get(k)
    if (l === undefined) m.set(k, [c])
    else l.push(c)
  }
  let seq = 0
  const conns: Conn[] = []
  /** Control connections of the derived handoffs → packets per view. */
  const channels = new Map<string, ByView>()
  for (const h of handoffs) {
    if (h.ack === null) {
      res.notDerived.push({hid: h.hid, reason: h.nacked ? 'the BE refused it (handoff-nack): the FE served it itself' : 'no handoff-ack in the trace'})
      continue
    }
    let state: TranslationState
    try {
      state = TranslationState.fromControl(h.req.msg, h.ack.msg, h.feMac !== undefined ? {feMac: h.feMac} : {})
    } catch (e) {
      res.notDerived.push({hid: h.hid, reason: (e as Error).message})
      continue
    }
    const info: HandoffLegs = {
      hid: h.hid, state: state.describe(), legs: {forwarded: 0, 'be-inside': 0, return: 0},
      beforeHandoff: 0, afterTerminate: 0, seenByClient: 0, seenForwarded: 0, synAckDropped: 0, unverifiable: 0,
      views: {client: null, be: null},
    }
    res.handoffs.push(info)
    const c: Conn = {
      h, eng: new Engine(state, {verify: true}), info, reqT: tOf(h.req.tsSec, h.req.tsNsec), ackT: tOf(h.ack.tsSec, h.ack.tsNsec),
      termT: h.terminate !== null ? tOf(h.terminate.tsSec, h.terminate.tsNsec) : Infinity, client: new Map(), be: new Map(),
    }
    conns.push(c)
    for (const m of [h.req, h.ack, h.terminate]) if (m !== null && !channels.has(m.channel)) channels.set(m.channel, new Map())
    const r = h.req.msg
    const cip = canonicalAddr(r.cip)
    const vip = canonicalAddr(r.vip)
    const baddr = canonicalAddr(h.ack.msg.baddr)
    add(byFwd, `${cip}|${r.cport}>${vip}|${r.vport}`, c)
    add(byClientVip, `${vip}|${r.vport}>${cip}|${r.cport}`, c)
    add(byRet, `${baddr}|${r.vport}>${cip}|${r.cport}`, c)
    add(byClientBe, `${cip}|${r.cport}>${baddr}|${r.vport}`, c)
  }

  const verified = (c: Conn, op: 'rewriteForward' | 'rewriteReturn', data: Uint8Array, linkType: number, origLen: number, source: string) => {
    try {
      return op === 'rewriteForward'
        ? c.eng.rewriteForward(data, linkType, data.length, origLen)
        : c.eng.rewriteReturn(data, linkType, data.length, origLen)
    } catch (e) {
      if (e instanceof EngineVerifyError) {
        throw new DeriveError(`handoff ${c.h.hid}, ${source}: the rewritten packet failed verification: ${e.message}`, {cause: e})
      }
      throw e
    }
  }
  const ipDec = new PacketDecoder({verifyChecksums: false})
  const chk = new PacketDecoder({verifyChecksums: true})
  const inputBad = (data: Uint8Array, linkType: number, origLen: number): boolean => {
    chk.decode(linkType, data, data.length, origLen)
    return chk.ipChecksumStatus === 'bad' || chk.l4ChecksumStatus === 'bad'
  }
  const beInside = (c: Conn, frame: Uint8Array, linkType: number, origLen: number, tsSec: number, tsNsec: number, source: string, bad: boolean,
    order: number) => {
    if (!want.has('be-inside')) return
    ipDec.decode(linkType, frame, frame.length, origLen)
    const ip = copyBytes(frame, ipDec.ipOffset, ipDec.ipEnd)
    res.packets.push({leg: 'be-inside', hid: c.h.hid, tsSec, tsNsec, linkType: LINKTYPE.RAW, data: ip,
      origLen: ip.length + Math.max(0, origLen - frame.length), source, seq: order, inputChecksumBad: bad})
    c.info.legs['be-inside']++
  }

  // 1. The replayed segments (handoff-req pkts) the BE's TCP sees first.
  if (want.has('be-inside')) {
    for (const c of conns) {
      c.h.req.msg.pkts.forEach((p, i) => {
        const data = copyBytes(p)
        const source = `handoff-req pkts[${i}]`
        const bad = inputBad(data, LINKTYPE.RAW, data.length)
        const r = verified(c, 'rewriteForward', data, LINKTYPE.RAW, data.length, source)
        if (!r.ok) {
          res.skipped.push({hid: c.h.hid, source, leg: 'be-inside', status: r.status, detail: r.detail})
          return
        }
        res.packets.push({leg: 'be-inside', hid: c.h.hid, tsSec: c.h.req.tsSec, tsNsec: c.h.req.tsNsec, linkType: LINKTYPE.RAW,
          data, origLen: data.length, source, seq: seq++, inputChecksumBad: bad})
        c.info.legs['be-inside']++
      })
    }
  }
  // Input packets are ordered after the replayed ones (a tie-break only: times differ).
  const base = seq

  // 2. One pass over the trace(s): the packets of the selected connections
  // and of their control connections are held, per view.
  const dec = new PacketDecoder({verifyChecksums: false})
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    const file = path === '-' ? '<stdin>' : (path.split('/').pop() ?? path)
    // View keys ("file#interface", the file's base name; the argument index too when base names repeat).
    const viewNames: string[] = []
    const prefix = paths.some((q, j) => j !== fi && q.split('/').pop() === path.split('/').pop()) ? `${fi}:` : ''
    const viewOf = (id: number) => viewNames[id] ?? (viewNames[id] = `${prefix}${file}#${id}`)
    // Sections joined (capture/join-sections.ts): a file of several pcapng sections (captures concatenated, a
    // restarted capture) numbers its interfaces again in each, and a connection read across two sections would
    // otherwise be two views of which only the main one is replayed.
    await readCapture(path, joinSections({
      onPacket: (rec) => {
        res.packetsRead++
        const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        if (d.transport !== 'tcp' || d.l4HeaderLen === 0) return
        const t = tOf(rec.tsSec, rec.tsNsec)
        if (d.srcPort === port || d.dstPort === port) {
          const ch = channels.get(channelKey(d.srcAddr(), d.srcPort, d.dstAddr(), d.dstPort))
          if (ch !== undefined) hold(ch, viewOf(rec.interfaceId), heldOf(rec, file, t, base + res.packetsRead, (d.tcpFlags & 0x02) !== 0))
          return
        }
        const key = `${d.srcAddr()}|${d.srcPort}>${d.dstAddr()}|${d.dstPort}`
        let c = pick(byFwd.get(key), t, true, d.seq, d.ack, d.tcpFlags)
        if (c !== undefined) {
          hold(c.client, viewOf(rec.interfaceId), heldOf(rec, file, t, base + res.packetsRead, (d.tcpFlags & 0x02) !== 0))
          return
        }
        c = pick(byRet.get(key), t, false, d.seq, d.ack, d.tcpFlags)
        if (c !== undefined) {
          hold(c.be, viewOf(rec.interfaceId), heldOf(rec, file, t, base + res.packetsRead, (d.tcpFlags & 0x02) !== 0))
          return
        }
        c = pick(byClientVip.get(key), t, false, d.seq, d.ack, d.tcpFlags)
        if (c !== undefined) {
          c.info.seenByClient++
          return
        }
        c = pick(byClientBe.get(key), t, true, d.seq, d.ack, d.tcpFlags)
        if (c !== undefined) c.info.seenForwarded++
      },
    }))
  }

  // 3. Per connection, from its main views: forwarded (and BE inside) from the
  // client's segments between the handoff-ack and the terminate, return from
  // the BE's segments (its SYN/ACK dropped).
  for (const c of conns) {
    const cv = mainView(c.client)
    if (cv !== null) {
      c.info.views.client = cv[0]
      for (const p of cv[1]) {
        res.captured.push({role: 'client', hid: c.h.hid, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, data: p.data, origLen: p.origLen,
          source: p.source, seq: p.ord})
        if (p.t < c.ackT) {
          c.info.beforeHandoff++
          continue
        }
        if (p.t >= c.termT) {
          c.info.afterTerminate++
          continue
        }
        if (!want.has('forwarded') && !want.has('be-inside')) continue
        const data = copyBytes(p.data)
        const bad = inputBad(data, p.linkType, p.origLen)
        const r = verified(c, 'rewriteForward', data, p.linkType, p.origLen, p.source)
        if (!r.ok) {
          res.skipped.push({hid: c.h.hid, source: p.source, leg: 'forwarded', status: r.status, detail: r.detail})
          continue
        }
        if (r.unverifiable) c.info.unverifiable++
        if (want.has('forwarded')) {
          res.packets.push({leg: 'forwarded', hid: c.h.hid, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, data,
            origLen: p.origLen, source: p.source, seq: p.ord, inputChecksumBad: bad})
          c.info.legs.forwarded++
        }
        beInside(c, data, p.linkType, p.origLen, p.tsSec, p.tsNsec, p.source, bad, p.ord)
      }
    }
    const bv = mainView(c.be)
    if (bv !== null) {
      c.info.views.be = bv[0]
      for (const p of bv[1]) {
        res.captured.push({role: 'be', hid: c.h.hid, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, data: p.data, origLen: p.origLen,
          source: p.source, seq: p.ord})
        if (p.syn) {
          c.info.synAckDropped++
          continue
        }
        if (!want.has('return')) continue
        const data = copyBytes(p.data)
        const bad = inputBad(data, p.linkType, p.origLen)
        const r = verified(c, 'rewriteReturn', data, p.linkType, p.origLen, p.source)
        if (!r.ok) {
          res.skipped.push({hid: c.h.hid, source: p.source, leg: 'return', status: r.status, detail: r.detail})
          continue
        }
        if (r.unverifiable) c.info.unverifiable++
        res.packets.push({leg: 'return', hid: c.h.hid, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, data,
          origLen: p.origLen, source: p.source, seq: p.ord, inputChecksumBad: bad})
        c.info.legs.return++
      }
    }
  }
  for (const ch of channels.values()) {
    const v = mainView(ch)
    if (v === null) continue
    for (const p of v[1]) {
      res.captured.push({role: 'control', hid: null, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType, data: p.data, origLen: p.origLen,
        source: p.source, seq: p.ord})
    }
  }
  const legOrder = (l: LegName) => LEGS.indexOf(l)
  res.packets.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec || legOrder(a.leg) - legOrder(b.leg) || a.seq - b.seq)
  res.captured.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec || a.seq - b.seq)
  return res
}

/** "cip:cport → vip:vport (BE baddr)" of a handoff, for messages. */
export function describeConnection(s: HandoffLegs['state']): string {
  return `${fmt(s.cip, s.cport)} → ${fmt(s.vip, s.vport)} (BE ${s.baddr})`
}

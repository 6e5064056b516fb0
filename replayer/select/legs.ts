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
//    forwarding mode from then on), through the forward rewrite.
//    Client → VIP segments before it (SYN, ACK, request, and retransmissions
//    of the request the FE absorbs, §2 step 4) are not forwarded: they are
//    counted as `beforeHandoff`.
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
//
// Packets of the connection that are none of these (VIP → client as the
// client saw it, client → BE already forwarded) are counted, not derived.
// When a 4-tuple was reused by several handoffs, a packet belongs to the
// latest handoff whose handoff-req is not later than the packet.
import {readCapture} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {Engine, EngineVerifyError, TranslationState} from '../engine/index.js'
import type {ControlHandoff} from './control.js'
import {canonicalAddr} from './select.js'

export const LEGS = ['forwarded', 'be-inside', 'return'] as const
export type LegName = (typeof LEGS)[number]

/** pcapng interface names of the legs. */
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
  /** VIP → client segments as the client saw them (already on their final leg). */
  seenByClient: number
  /** Client → BE segments in the trace (already forwarded). */
  seenForwarded: number
  synAckDropped: number
  /** Packets rewritten whose payload was not fully captured (TCP checksum not verifiable). */
  unverifiable: number
}

export interface DeriveResult {
  packets: DerivedPacket[]
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

interface Conn {
  h: ControlHandoff
  eng: Engine
  info: HandoffLegs
  reqT: number
  ackT: number
}

const tOf = (sec: number, nsec: number): number => sec * 1e9 + nsec

function fmt(a: string, p: number): string {
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`
}

function pick(cands: Conn[] | undefined, t: number): Conn | undefined {
  if (cands === undefined) return undefined
  let best = cands[0]
  for (const c of cands) if (c.reqT <= t) best = c
  return best
}

/**
 * Derives the legs `want` of the handoffs `handoffs` from the trace files.
 * Reads the files once. Throws DeriveError on a verify failure.
 */
export async function deriveLegs(paths: string[], handoffs: ControlHandoff[], want: ReadonlySet<LegName>): Promise<DeriveResult> {
  const res: DeriveResult = {packets: [], handoffs: [], notDerived: [], skipped: [], packetsRead: 0}
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
      beforeHandoff: 0, seenByClient: 0, seenForwarded: 0, synAckDropped: 0, unverifiable: 0,
    }
    res.handoffs.push(info)
    const c: Conn = {h, eng: new Engine(state, {verify: true}), info, reqT: tOf(h.req.tsSec, h.req.tsNsec), ackT: tOf(h.ack.tsSec, h.ack.tsNsec)}
    conns.push(c)
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
  const beInside = (c: Conn, frame: Uint8Array, linkType: number, origLen: number, tsSec: number, tsNsec: number, source: string, bad: boolean) => {
    if (!want.has('be-inside')) return
    ipDec.decode(linkType, frame, frame.length, origLen)
    const ip = frame.slice(ipDec.ipOffset, ipDec.ipEnd)
    res.packets.push({leg: 'be-inside', hid: c.h.hid, tsSec, tsNsec, linkType: LINKTYPE.RAW, data: ip,
      origLen: ip.length + Math.max(0, origLen - frame.length), source, seq: seq++, inputChecksumBad: bad})
    c.info.legs['be-inside']++
  }

  // 1. The replayed segments (handoff-req pkts) the BE's TCP sees first.
  if (want.has('be-inside')) {
    for (const c of conns) {
      c.h.req.msg.pkts.forEach((p, i) => {
        const data = p.slice()
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

  // 2. One pass over the trace(s).
  const dec = new PacketDecoder({verifyChecksums: false})
  for (const path of paths) {
    const file = path === '-' ? '<stdin>' : (path.split('/').pop() ?? path)
    await readCapture(path, {
      onPacket: (rec) => {
        res.packetsRead++
        const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        if (d.transport !== 'tcp' || d.l4HeaderLen === 0) return
        const key = `${d.srcAddr()}|${d.srcPort}>${d.dstAddr()}|${d.dstPort}`
        const t = tOf(rec.tsSec, rec.tsNsec)
        const source = `${file}#${rec.index}`
        let c = pick(byFwd.get(key), t)
        if (c !== undefined) {
          if (t < c.ackT) {
            c.info.beforeHandoff++
            return
          }
          if (!want.has('forwarded') && !want.has('be-inside')) return
          const data = rec.buffer.slice(rec.dataOffset, rec.dataOffset + rec.capLen)
          const bad = inputBad(data, rec.linkType, rec.origLen)
          const r = verified(c, 'rewriteForward', data, rec.linkType, rec.origLen, source)
          if (!r.ok) {
            res.skipped.push({hid: c.h.hid, source, leg: 'forwarded', status: r.status, detail: r.detail})
            return
          }
          if (r.unverifiable) c.info.unverifiable++
          if (want.has('forwarded')) {
            res.packets.push({leg: 'forwarded', hid: c.h.hid, tsSec: rec.tsSec, tsNsec: rec.tsNsec, linkType: rec.linkType, data,
              origLen: rec.origLen, source, seq: seq++, inputChecksumBad: bad})
            c.info.legs.forwarded++
          }
          beInside(c, data, rec.linkType, rec.origLen, rec.tsSec, rec.tsNsec, source, bad)
          return
        }
        c = pick(byRet.get(key), t)
        if (c !== undefined) {
          if ((d.tcpFlags & 0x02) !== 0) {
            c.info.synAckDropped++
            return
          }
          if (!want.has('return')) return
          const data = rec.buffer.slice(rec.dataOffset, rec.dataOffset + rec.capLen)
          const bad = inputBad(data, rec.linkType, rec.origLen)
          const r = verified(c, 'rewriteReturn', data, rec.linkType, rec.origLen, source)
          if (!r.ok) {
            res.skipped.push({hid: c.h.hid, source, leg: 'return', status: r.status, detail: r.detail})
            return
          }
          if (r.unverifiable) c.info.unverifiable++
          res.packets.push({leg: 'return', hid: c.h.hid, tsSec: rec.tsSec, tsNsec: rec.tsNsec, linkType: rec.linkType, data,
            origLen: rec.origLen, source, seq: seq++, inputChecksumBad: bad})
          c.info.legs.return++
          return
        }
        c = pick(byClientVip.get(key), t)
        if (c !== undefined) {
          c.info.seenByClient++
          return
        }
        c = pick(byClientBe.get(key), t)
        if (c !== undefined) c.info.seenForwarded++
      },
    })
  }
  const legOrder = (l: LegName) => LEGS.indexOf(l)
  res.packets.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec || legOrder(a.leg) - legOrder(b.leg) || a.seq - b.seq)
  return res
}

/** "cip:cport → vip:vport (BE baddr)" of a handoff, for messages. */
export function describeConnection(s: HandoffLegs['state']): string {
  return `${fmt(s.cip, s.cport)} → ${fmt(s.vip, s.vport)} (BE ${s.baddr})`
}

// What the stateful replay (`handoff replay --live`) replays for one
// handed-off connection, taken from the trace:
//
// - the handoff state the FE recorded (handoff-req: cip, cport, vip, vport,
//   ciss, fiss, fts, fopt) — fiss and fts are the "recorded" side of Δ and τ
//   once the live back-end has answered with its own biss and bts;
// - the client's segments, in client sequence space: the handoff-req's pkts
//   (SYN, ACK, the request) and every later client → VIP segment that
//   carries data, a FIN or a RST (pure ACKs are not replayed: the replayer
//   acknowledges the live server itself, since live segmentation and timing
//   differ from the recording). Copies seen in several vantage points (client
//   side and cluster LAN) and retransmissions are one segment. Client →
//   VIP segments in a "node inside" view (an interface whose name has
//   "inside", spec §7) are not the client's: there the FE's BTCP talks to its
//   own stack (the stored SYN and ACK it passed up, and its local reset of
//   §2 step 9, which must not be replayed);
// - the recorded response: the server byte stream the client received
//   (VIP → client, seq relative to fiss + 1), or, without a client-side view,
//   the BE's own segments (BE → client inside the BE, relative to biss + 1).
//   Gaps in it are kept as holes (never compared).
import {readCapture} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import type {SynAckOptions} from '../../analyzer/control/messages.js'
import type {ControlHandoff} from '../select/control.js'
import {canonicalAddr} from '../select/select.js'

export const F_FIN = 0x01
export const F_SYN = 0x02
export const F_RST = 0x04
export const F_ACK = 0x10

export interface ScriptSegment {
  /** The recorded client datagram (IP header onward), own copy, in client sequence space. */
  ip: Uint8Array
  /** seq − (ciss + 1). */
  seqRel: number
  /** Payload bytes. */
  dataLen: number
  flags: number
  /** Recorded ack − (fiss + 1) when the ACK flag is set (what the client had received when it sent this), else null. */
  ackRel: number | null
  /** Where it came from: "handoff-req pkts[2]" or "file#frame". */
  source: string
}

export interface ConnScript {
  hid: string
  family: 4 | 6
  cip: string
  cport: number
  vip: string
  vport: number
  /** The recorded back-end address (the default target). */
  baddr: string
  ciss: number
  fiss: number
  fts?: number
  fopt: SynAckOptions
  /** The recorded client SYN (IP datagram). */
  syn: Uint8Array
  /** The client's ACK of the handshake (handoff-req pkts[1]) when recorded. */
  handshakeAck: Uint8Array | null
  /** Data / FIN / RST segments after the handshake, in sequence order. */
  segments: ScriptSegment[]
  /** The recorded server byte stream (fiss + 1 onward); bytes under a hole are 0. */
  response: Uint8Array
  /** [start, end) ranges of `response` that were never captured. */
  responseHoles: [number, number][]
  /** The recorded server FIN's offset in the stream (= its length), when the FIN was captured. */
  responseFin: number | null
  /** Which view the response came from. */
  responseView: 'client' | 'be-inside' | 'none'
}

const u32 = (v: number) => v >>> 0
const rel = (a: number, base: number) => (a - base) | 0

interface Piece {
  off: number
  data: Uint8Array
}

/**
 * The first range of client bytes the script lacks (a segment the trace did
 * not capture), relative to ciss + 1, or null when the client stream is
 * whole. Such a connection cannot be replayed: the live server would wait
 * for those bytes forever.
 */
export function clientGap(s: ConnScript): [number, number] | null {
  let end = 0
  for (const seg of s.segments) {
    if (seg.seqRel > end) return [end, seg.seqRel]
    end = Math.max(end, seg.seqRel + seg.dataLen + ((seg.flags & F_FIN) !== 0 ? 1 : 0))
  }
  return null
}

/** Joins pieces (offset, bytes) into one stream; returns the holes. */
export function assemble(pieces: Piece[], finAt: number | null): {stream: Uint8Array; holes: [number, number][]} {
  let end = finAt ?? 0
  for (const p of pieces) if (p.off >= 0) end = Math.max(end, p.off + p.data.length)
  const stream = new Uint8Array(end)
  const have = new Uint8Array(end)
  for (const p of pieces) {
    if (p.off < 0) continue
    stream.set(p.data, p.off)
    have.fill(1, p.off, p.off + p.data.length)
  }
  const holes: [number, number][] = []
  for (let i = 0; i < end; ) {
    if (have[i]) {
      i++
      continue
    }
    let j = i
    while (j < end && !have[j]) j++
    holes.push([i, j])
    i = j
  }
  return {stream, holes}
}

/**
 * Builds the script of each handoff (those with a handoff-ack) from the
 * traces: one pass over the files.
 */
export async function buildScripts(paths: string[], handoffs: ControlHandoff[]): Promise<ConnScript[]> {
  const dec = new PacketDecoder({verifyChecksums: false})
  interface Work {
    s: ConnScript
    biss: number
    segs: Map<string, ScriptSegment>
    client: Piece[]
    clientFin: number | null
    inside: Piece[]
    insideFin: number | null
  }
  const byFwd = new Map<string, Work>()
  const byVip = new Map<string, Work>()
  const byBe = new Map<string, Work>()
  const works: Work[] = []
  const addSeg = (w: Work, ip: Uint8Array, source: string): void => {
    dec.decode(LINKTYPE.RAW, ip, ip.length, ip.length)
    if (dec.transport !== 'tcp' || dec.l4HeaderLen === 0) return
    const f = dec.tcpFlags
    if ((f & F_SYN) !== 0) return
    if (dec.payloadLen === 0 && (f & (F_FIN | F_RST)) === 0) return
    const seqRel = rel(dec.seq, u32(w.s.ciss + 1))
    const key = `${seqRel}|${dec.payloadLen}|${f & (F_FIN | F_RST)}`
    if (w.segs.has(key)) return
    w.segs.set(key, {
      ip: ip.slice(dec.ipOffset, dec.ipEnd), seqRel, dataLen: dec.payloadLen, flags: f,
      ackRel: (f & F_ACK) !== 0 ? rel(dec.ack, u32(w.s.fiss + 1)) : null, source,
    })
  }
  for (const h of handoffs) {
    if (h.ack === null) continue
    const r = h.req.msg
    if (r.pkts.length === 0) continue
    const cip = canonicalAddr(r.cip)
    const vip = canonicalAddr(r.vip)
    const baddr = canonicalAddr(h.ack.msg.baddr)
    const s: ConnScript = {
      hid: h.hid, family: cip.includes(':') ? 6 : 4, cip, cport: r.cport, vip, vport: r.vport, baddr,
      ciss: r.ciss, fiss: r.fiss, fts: r.fts, fopt: r.fopt, syn: r.pkts[0].slice(), handshakeAck: r.pkts.length > 1 ? r.pkts[1].slice() : null,
      segments: [], response: new Uint8Array(0), responseHoles: [], responseFin: null, responseView: 'none',
    }
    const w: Work = {s, biss: h.ack.msg.biss, segs: new Map(), client: [], clientFin: null, inside: [], insideFin: null}
    for (let i = 2; i < r.pkts.length; i++) addSeg(w, r.pkts[i], `handoff-req pkts[${i}]`)
    works.push(w)
    // A 4-tuple reused by several handoffs: the later handoff keeps it (the
    // selection names handoffs, and one trace rarely reuses a client port).
    byFwd.set(`${cip}|${r.cport}>${vip}|${r.vport}`, w)
    byVip.set(`${vip}|${r.vport}>${cip}|${r.cport}`, w)
    byBe.set(`${baddr}|${r.vport}>${cip}|${r.cport}`, w)
  }
  for (const path of paths) {
    const file = path === '-' ? '<stdin>' : (path.split('/').pop() ?? path)
    const inside = new Set<number>()
    await readCapture(path, {
      onInterface: (i) => {
        if (i.name !== undefined && /inside/i.test(i.name)) inside.add(i.id)
      },
      onPacket: (rec) => {
        const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        if (d.transport !== 'tcp' || d.l4HeaderLen === 0 || d.payloadTruncated) return
        const key = `${d.srcAddr()}|${d.srcPort}>${d.dstAddr()}|${d.dstPort}`
        const fw = byFwd.get(key)
        if (fw !== undefined) {
          if (inside.has(rec.interfaceId)) return
          addSeg(fw, rec.buffer.slice(d.ipOffset, d.ipEnd), `${file}#${rec.index}`)
          return
        }
        const toClient = byVip.get(key) ?? byBe.get(key)
        if (toClient === undefined || (d.tcpFlags & (F_SYN | F_RST)) !== 0) return
        const fromVip = byVip.get(key) === toClient
        const off = rel(d.seq, u32((fromVip ? toClient.s.fiss : toClient.biss) + 1))
        const list = fromVip ? toClient.client : toClient.inside
        if (d.payloadLen > 0) list.push({off, data: d.bytes.slice(d.payloadOffset, d.payloadOffset + d.payloadLen)})
        if ((d.tcpFlags & F_FIN) !== 0) {
          if (fromVip) toClient.clientFin = off + d.payloadLen
          else toClient.insideFin = off + d.payloadLen
        }
      },
    })
  }
  for (const w of works) {
    w.s.segments = [...w.segs.values()].sort((a, b) => a.seqRel - b.seqRel || (a.flags & F_FIN) - (b.flags & F_FIN))
    const useClient = w.client.length > 0 || w.clientFin !== null
    const useInside = !useClient && (w.inside.length > 0 || w.insideFin !== null)
    const {stream, holes} = assemble(useClient ? w.client : useInside ? w.inside : [], useClient ? w.clientFin : useInside ? w.insideFin : null)
    w.s.response = stream
    w.s.responseHoles = holes
    w.s.responseFin = useClient ? w.clientFin : useInside ? w.insideFin : null
    w.s.responseView = useClient ? 'client' : useInside ? 'be-inside' : 'none'
  }
  return works.map((w) => w.s)
}

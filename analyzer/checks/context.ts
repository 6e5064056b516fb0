// What the per-connection checks share: the handoff's segments sorted by leg
// and view, the forwarded segments paired with the client segments they came
// from, the return segments paired with the BE TCP's segments they came from,
// and for each pair the engine's expected fields (replayer/engine: the same
// rewrite the daemons apply, so "expected" is the spec's §4 applied to what
// was seen on the other side of the node). A return segment that is a piece
// of a BE super-segment (TSO/GSO on the BE host), or a super-segment made of
// BE segments (GRO on the client's host), is paired with it by content
// (correlate/offload.ts keeps their payloads): located by Δ, confirmed by the
// payload hash of the piece.
import {formatIso} from '../inspect/timestamp.js'
import {readU32} from '../wire/addr.js'
import {PacketDecoder} from '../wire/decode.js'
import {Engine} from '../../replayer/engine/engine.js'
import {read16} from '../../replayer/engine/fields.js'
import {TranslationState} from '../../replayer/engine/state.js'
import {connectionLabel, payloadHash, v4, wireIsns, type Handoff, type Seg} from '../correlate/assemble.js'
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import type {SkewSink} from '../correlate/skew.js'
import {viewKey} from '../correlate/vantage.js'
import {viewFields, type CheckId, type Value, type ViolationTarget} from './types.js'

export interface Fields {
  src: string
  dst: string
  sport: number
  dport: number
  seq: number
  ack: number
  flags: number
  window: number
  hasTs: boolean
  tsVal: number
  tsEcr: number
  sack: number[]
}

export interface Pair {
  /** The segment judged. */
  seen: Seg
  /** The segment it came from (client's for forward, BE TCP's for return), when visible. */
  origin: Seg | null
  /** The engine's rewrite of origin. */
  exp: Fields | null
}

export interface HandoffContext {
  h: Handoff
  conn: string
  /** Client's own segments (client → VIP), every view. */
  client: Seg[]
  /** Client-facing view judged ("file#iface"), null when none saw the connection. */
  clientView: string | null
  /** Return segments at the client-facing view, in capture order, each paired with its BE segment. */
  ret: Pair[]
  /** Forwarded segments at the judged view (LAN, else node inside), paired with the client's. */
  fwd: Pair[]
  beRaw: Seg[]
  feOwn: Seg[]
  /** Return segments found with a wrong seq: [seqSeen, seqExpected | -1, len] for stream-gap to leave alone. */
  misplaced: {seq: number; exp: number; len: number}[]
  /** ISNs as the wire shows them (the control messages' values where the packet was not captured). */
  isn: {ciss: number; fiss: number; biss: number | null}
  /**
   * The BE's SYN/ACK was not captured and every forwarded segment shows one other Δ than the handoff-ack's biss
   * gives (ack and SACK edges alike): the biss the traffic shows (fiss + that Δ), and the first such segment.
   * The rewrites are then judged with it, and isn-mismatch reports the message (see bissFromTraffic).
   */
  bissFromTraffic: {biss: number; seg: Seg} | null
  report(id: CheckId, s: Seg | null, message: string, extra?: {field?: string; expected?: Value; seen?: Value; file?: string; frame?: number}): void
}

/** The decoder of every handoff's engine (one is judged at a time): after a rewrite, where its fields are. */
const engineDecoder = new PacketDecoder({verifyChecksums: false})

/** One handoff's IPv4 addresses as numbers and strings, so a rewritten header's addresses need no string made (-1: not IPv4). */
interface KnownAddrs {
  n: number[]
  s: string[]
}

function knownAddrs(h: Handoff): KnownAddrs {
  const s = [h.cip, h.vip, h.baddr].filter((a) => a !== '')
  return {n: s.map(v4), s}
}

function addrOf(d: PacketDecoder, off: number, known: KnownAddrs, src: boolean): string {
  if (d.ipVersion === 4) {
    const i = known.n.indexOf(readU32(d.bytes, off))
    if (i >= 0) return known.s[i]!
  }
  return src ? d.srcAddr() : d.dstAddr()
}

/**
 * The fields of a header the engine has just rewritten, read from its bytes at the offsets the engine's
 * decoder found (a rewrite changes values, never the layout): no second decode.
 */
function rewrittenFields(d: PacketDecoder, known: KnownAddrs): Fields {
  const b = d.bytes
  const l4 = d.l4Offset
  const sack: number[] = []
  for (let i = 0; i < d.sackCount; i++) sack.push(readU32(b, d.sackOffsets[i]!), readU32(b, d.sackOffsets[i]! + 4))
  return {src: addrOf(d, d.ipSrcOffset, known, true), dst: addrOf(d, d.ipDstOffset, known, false),
    sport: read16(b, l4), dport: read16(b, l4 + 2), seq: readU32(b, l4 + 4), ack: readU32(b, l4 + 8),
    flags: b[l4 + 13]!, window: read16(b, l4 + 14), hasTs: d.hasTimestamp,
    tsVal: d.hasTimestamp ? readU32(b, d.tsOffset) : 0, tsEcr: d.hasTimestamp ? readU32(b, d.tsOffset + 4) : 0, sack}
}

/**
 * Whether the fields of a header the engine has just rewritten (as rewrittenFields reads them) are seen's:
 * the common case, a rewrite done right, tested with nothing made (no Fields, no address string for a
 * handoff's own IPv4 addresses).
 */
function rewrittenIs(d: PacketDecoder, known: KnownAddrs, seen: Seg): boolean {
  const b = d.bytes
  const l4 = d.l4Offset
  if (seen.sport !== read16(b, l4) || seen.dport !== read16(b, l4 + 2) || seen.seq !== readU32(b, l4 + 4) ||
    seen.ack !== readU32(b, l4 + 8) || seen.flags !== b[l4 + 13] || seen.window !== read16(b, l4 + 14) ||
    seen.hasTs !== d.hasTimestamp) return false
  if (d.hasTimestamp ? seen.tsVal !== readU32(b, d.tsOffset) || seen.tsEcr !== readU32(b, d.tsOffset + 4) : seen.tsVal !== 0 || seen.tsEcr !== 0) return false
  if (seen.sack.length !== 2 * d.sackCount) return false
  for (let i = 0; i < d.sackCount; i++) {
    if (seen.sack[2 * i] !== readU32(b, d.sackOffsets[i]!) || seen.sack[2 * i + 1] !== readU32(b, d.sackOffsets[i]! + 4)) return false
  }
  // addrOf makes no string for the handoff's own IPv4 addresses.
  return addrOf(d, d.ipSrcOffset, known, true) === seen.src && addrOf(d, d.ipDstOffset, known, false) === seen.dst
}

/** Where expected rewrites are made (a header at a time; grown when one is longer). */
let scratch = new Uint8Array(256)


/** The same packet, unchanged (what two views of it share). */
function samePacket(a: Seg, b: Seg): boolean {
  return a.seq === b.seq && a.ack === b.ack && a.hash === b.hash && a.sport === b.sport && a.dport === b.dport && a.flags === b.flags &&
    a.window === b.window && a.len === b.len && a.ipId === b.ipId && a.tsVal === b.tsVal && a.src === b.src && a.dst === b.dst
}

/** Feeds the skew estimator with this handoff's packets seen unchanged at two views. */
export function addSkewSamples(h: Handoff, skew: SkewSink): void {
  // First copy of each packet, found by a hash of its fields in an open-addressing table of segment indexes
  // (reused from handoff to handoff: no Map, no key per segment); a slot whose segment is another packet
  // moves on to the next slot.
  const segs = h.segs
  const size = tableSize(2 * segs.length)
  const mask = size - 1
  const slots = skewSlots
  slots.fill(-1, 0, size)
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!
    if (s.view.kind === 'control') continue
    const k = Math.imul(s.seq ^ Math.imul(s.ack, 0x9e3779b1), 0x85ebca6b) ^ s.hash ^ Math.imul(s.sport * 65536 + s.dport, 0xc2b2ae35) ^
      Math.imul(s.flags * 65536 + s.window, 0x27d4eb2f) ^ Math.imul(s.len, 0x165667b1)
    let at = (k ^ (k >>> 16)) & mask
    let f: Seg | undefined
    for (;;) {
      const j = slots[at]!
      if (j < 0) { slots[at] = i; break }
      if (samePacket(segs[j]!, s)) { f = segs[j]!; break }
      at = (at + 1) & mask
    }
    if (f !== undefined && f.view !== s.view) skew.add(f.view, f.t, s.view, s.t)
  }
}

/** addSkewSamples's table (grown as needed, never shrunk: one handoff at a time uses it). */
let skewSlots = new Int32Array(1024)

/** A power of two ≥ n, with skewSlots at least that long. */
function tableSize(n: number): number {
  let size = 16
  while (size < n) size *= 2
  if (skewSlots.length < size) skewSlots = new Int32Array(size)
  return size
}

export function buildContext(h: Handoff, sink: ViolationTarget): HandoffContext {
  const conn = connectionLabel(h)
  const ctx: HandoffContext = {
    h, conn, client: [], clientView: null, ret: [], fwd: [], beRaw: [], feOwn: [], misplaced: [], bissFromTraffic: null,
    isn: (() => {
      const w = wireIsns(h)
      return {ciss: w.syn?.seq ?? h.req?.msg.ciss ?? 0, fiss: w.feSynAck?.seq ?? h.req?.msg.fiss ?? 0,
        biss: w.beSynAck?.seq ?? h.ack?.msg.biss ?? null}
    })(),
    report: (id, s, message, extra = {}) => {
      const file = extra.file ?? s?.view.file ?? h.req?.file ?? ''
      const frame = extra.frame ?? s?.frame ?? h.req?.frame ?? 0
      sink.add({id, hid: h.hid, connection: conn, file, frame,
        ...(s ? {...viewFields(s.view), time: formatIso(s.tsSec, s.tsNsec)} : {}),
        message, ...(extra.field !== undefined ? {field: extra.field} : {}),
        ...(extra.expected !== undefined ? {expected: extra.expected} : {}),
        ...(extra.seen !== undefined ? {seen: extra.seen} : {})})
    },
  }
  const vk = (s: Seg) => viewKey(s.view)
  // Client-facing view: a client-side view if one saw the connection, else a LAN view; among several, the
  // one with the most segments from the VIP (a node-inside capture that defaulted to LAN has none).
  const fromVip = new Map<string, {kind: string; n: number}>()
  for (const s of h.segs) {
    if ((s.leg !== 'return' && s.leg !== 'client') || (s.view.kind !== 'client' && s.view.kind !== 'lan')) continue
    const k = vk(s)
    const e = fromVip.get(k) ?? {kind: s.view.kind, n: 0}
    if (s.leg === 'return' && s.src === h.vip && s.sport === h.vport) e.n++
    fromVip.set(k, e)
  }
  let bestN = -1
  for (const kind of ['client', 'lan']) {
    for (const [k, e] of fromVip) if (e.kind === kind && e.n > bestN) { bestN = e.n; ctx.clientView = k }
    if (ctx.clientView !== null) break
  }
  const hasLanFwd = h.segs.some((s) => s.leg === 'forward' && s.view.kind === 'lan')
  let st = h.state
  let eng = st ? new Engine(st, {decoder: engineDecoder}) : null
  // Client segments, indexed by content for the forward match (seq, flags, len, payload, timestamp, IP id);
  // BE TCP segments for the return match (flags, len, payload, ack, IP id).
  const cIndex = new SegIndex((s) => mix(s.seq, s.flags, s.len, s.hash, s.hasTs ? s.tsVal : -1, s.ipId),
    (a, b) => a.seq === b.seq && a.flags === b.flags && a.len === b.len && a.hash === b.hash &&
      (a.hasTs ? a.tsVal : -1) === (b.hasTs ? b.tsVal : -1) && a.ipId === b.ipId)
  const bIndex = new SegIndex((s) => mix(s.flags, s.len, s.hash, s.ack, s.ipId, 0),
    (a, b) => a.flags === b.flags && a.len === b.len && a.hash === b.hash && a.ack === b.ack && a.ipId === b.ipId)
  for (const s of h.segs) {
    if (s.leg === 'client') {
      ctx.client.push(s)
      cIndex.add(s)
    } else if (s.leg === 'be-raw') {
      ctx.beRaw.push(s)
      bIndex.add(s)
    } else if (s.leg === 'fe-own') ctx.feOwn.push(s)
  }
  const known = knownAddrs(h)
  // The engine's rewrite of o into scratch (its decoder then holds the offsets): false when it does not apply.
  const rewrite = (o: Seg, fwd: boolean): boolean => {
    if (eng === null) return false
    const n = o.hdrLen
    if (scratch.length < n) scratch = new Uint8Array(2 * n)
    const b = scratch
    for (let i = 0, src = o.hdrBuf, at = o.hdrOff; i < n; i++) b[i] = src[at + i]!
    return (fwd ? eng.rewriteForward(b, o.linkType, n, o.origLen) : eng.rewriteReturn(b, o.linkType, n, o.origLen)).ok
  }
  const expOf = (o: Seg, fwd: boolean): Fields | null => (rewrite(o, fwd) ? rewrittenFields(engineDecoder, known) : null)
  // The candidate whose rewrite is the seen segment's fields (the first), else the nearest in time whose rewrite
  // applies (the first of equals); its expected fields: the seen segment itself when they are its fields (a Seg
  // has every field of Fields), else read from the rewrite — made only for that one candidate.
  const best = (seen: Seg, cands: Seg[] | undefined, fwd: boolean): Pair => {
    if (!cands || cands.length === 0) return {seen, origin: null, exp: null}
    let pick: Seg | null = null
    let dt = Infinity
    for (const o of cands) {
      if (!rewrite(o, fwd)) continue
      if (rewrittenIs(engineDecoder, known, seen)) return {seen, origin: o, exp: seen}
      const d = Math.abs(seen.t - o.t)
      if (d < dt) { dt = d; pick = o }
    }
    return pick === null ? {seen, origin: null, exp: null} : {seen, origin: pick, exp: expOf(pick, fwd)}
  }
  // A packet from the client to anything but the VIP that the client-side view saw too was sent by the
  // client itself (e.g. its reset to a BE address it got a stray segment from): not forwarded by the FE.
  const sentByClient = new SegIndex((s) => mix(s.seq, s.ack, s.flags, s.len, s.hash, s.sport * 65536 + s.dport),
    (a, b) => a.src === b.src && a.sport === b.sport && a.dst === b.dst && a.dport === b.dport && a.seq === b.seq && a.ack === b.ack &&
      a.flags === b.flags && a.len === b.len && a.hash === b.hash && a.ipId === b.ipId)
  for (const s of h.segs) if (s.view.kind === 'client' && s.src === h.cip && !(s.dst === h.vip && s.dport === h.vport)) sentByClient.add(s)
  const fwdView = (s: Seg) => (hasLanFwd ? s.view.kind === 'lan' : s.view.kind === 'inside') && sentByClient.get(s) === undefined
  const superBe = ctx.beRaw.filter((s) => s.payload !== undefined)
  const pieces = (seen: Seg, p: Pair): Pair => (p.origin === null && st !== null ? offloadPair(seen, superBe, ctx.beRaw, st.delta, expOf) ?? p : p)
  const forwardPairs = (): Pair[] => {
    const out: Pair[] = []
    for (const s of h.segs) {
      if (s.leg === 'forward' && fwdView(s)) out.push(best(s, cIndex.get(s), true))
      else if (s.leg === 'stray-forward' && fwdView(s)) {
        const p = best(s, cIndex.get(s), true)
        if (p.exp !== null) out.push(p)
      }
    }
    return out
  }
  for (const s of h.segs) {
    if (s.leg === 'return' && vk(s) === ctx.clientView) ctx.ret.push(pieces(s, best(s, bIndex.get(s), false)))
    else if (s.leg === 'stray-return' && vk(s) === ctx.clientView) {
      const p = best(s, bIndex.get(s), false)
      if (p.exp !== null) ctx.ret.push(p)
    }
  }
  ctx.fwd = forwardPairs()
  // biss cannot be checked on the wire (the BE's SYN/ACK was not captured), yet every forwarded segment shows
  // the same Δ, another than the handoff-ack's biss gives: the message is what is wrong (isn-mismatch), not
  // each forwarded segment — judged with the Δ they show, as alignStateWithWire does when the SYN/ACK is seen.
  if (st !== null && h.req !== undefined && h.ack !== undefined && h.inferred === undefined && wireIsns(h).beSynAck === undefined) {
    const d = commonDelta(ctx.fwd)
    if (d !== null && d.delta !== st.delta) {
      const v = st.describe()
      st = h.state = TranslationState.fromValues({
        cip: v.cip, cport: v.cport, vip: v.vip, vport: v.vport, baddr: v.baddr, ...(v.bmac ? {bmac: v.bmac} : {}),
        delta: d.delta, ...(st.tsActive ? {tau: st.tau} : {}), wsF: st.wsF, wsB: st.wsB,
      })
      eng = new Engine(st, {decoder: engineDecoder})
      ctx.bissFromTraffic = {biss: (ctx.isn.fiss + d.delta) >>> 0, seg: d.seg}
      ctx.isn.biss = ctx.bissFromTraffic.biss
      ctx.fwd = forwardPairs()
    }
  }
  return ctx
}

/**
 * The one Δ every forwarded segment paired with its client segment shows — seen ack − client's ack on each
 * with ACK (two at least), and the same on every SACK edge — or null when they do not all agree.
 */
function commonDelta(fwd: readonly Pair[]): {delta: number; seg: Seg} | null {
  let delta = -1
  let first: Seg | null = null
  let n = 0
  for (const p of fwd) {
    const o = p.origin
    if (o === null) continue
    const s = p.seen
    if (s.sack.length !== o.sack.length) return null
    if (s.flags & TCP_FLAG.ACK) {
      const d = (s.ack - o.ack) >>> 0
      if (delta < 0) { delta = d; first = s } else if (d !== delta) return null
      n++
    }
    for (let i = 0; i < s.sack.length; i++) if (delta < 0 || ((s.sack[i]! - o.sack[i]!) >>> 0) !== delta) return null
  }
  return n >= 2 ? {delta, seg: first!} : null
}

const FIN_PSH = TCP_FLAG.FIN | TCP_FLAG.PSH

/**
 * The pair of a return segment that no BE segment matches whole, when
 * offload explains it: (1) it is a piece of a BE super-segment S — at offset
 * k = (seq + Δ) − S.seq, with S's ack and the same bytes there; expected: S
 * rewritten, seq + k, FIN/PSH only on the last piece, CWR only on the first
 * (what GSO does); (2) it is a super-segment whose bytes are BE segments
 * found at their offsets — expected: the first one rewritten, with the
 * FIN/PSH of all of them (what GRO does). Located by Δ: a piece with a wrong
 * seq is not found, and stays unjudged (no origin), never wrongly paired.
 */
function offloadPair(seen: Seg, superBe: readonly Seg[], beRaw: readonly Seg[], delta: number,
  expOf: (o: Seg, fwd: boolean) => Fields | null): Pair | null {
  if (seen.len === 0) return null
  const at = (seen.seq + delta) >>> 0
  const n = seen.len - seen.cut
  for (const S of superBe) {
    const k = seqDiff(at, S.seq)
    if (k < 0 || k + seen.len > S.len || k + n > S.payload!.length || S.ack !== seen.ack) continue
    if (payloadHash(S.payload!, k, k + n) !== seen.hash) continue
    const exp = expOf(S, false)
    if (exp === null) continue
    let flags = k + seen.len === S.len ? exp.flags : exp.flags & ~FIN_PSH
    if (k > 0) flags &= ~TCP_FLAG.CWR
    return {seen, origin: S, exp: {...exp, seq: (exp.seq + k) >>> 0, flags}}
  }
  if (seen.payload === undefined) return null
  // GRO: BE segments inside the seen one, every byte accounted for.
  let covered = 0
  let first: Seg | null = null
  let fin = 0
  for (const P of beRaw) {
    const k = seqDiff(P.seq, at)
    if (k < 0 || k + P.len > seen.len || P.len === 0 || P.ack !== seen.ack) continue
    const m = P.len - P.cut
    if (k + m > seen.payload.length || payloadHash(seen.payload, k, k + m) !== P.hash) continue
    if (k === 0) first = P
    covered += P.len
    fin |= P.flags & FIN_PSH
  }
  if (first === null || covered < seen.len) return null
  const exp = expOf(first, false)
  return exp === null ? null : {seen, origin: first, exp: {...exp, flags: exp.flags | fin}}
}

/** A 32-bit mix of six numbers (integers), for SegIndex. */
function mix(a: number, b: number, c: number, d: number, e: number, f: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b)
  h = Math.imul(h ^ b ^ (h >>> 15), 0xc2b2ae35)
  h = Math.imul(h ^ c ^ (h >>> 13), 0x27d4eb2f)
  h = Math.imul(h ^ d ^ (h >>> 15), 0x165667b1)
  h = Math.imul(h ^ e ^ (h >>> 13), 0x85ebca6b)
  return (h ^ f ^ (h >>> 16)) >>> 0
}

/**
 * Segments by content: a map from a numeric hash of some fields to the
 * segments with those fields, in the order added (the string keys this
 * replaced cost one string per segment). Buckets whose hashes collide are
 * told apart by `eq`.
 */
class SegIndex {
  private readonly m = new Map<number, Seg[]>()
  constructor(private readonly hash: (s: Seg) => number, private readonly eq: (a: Seg, b: Seg) => boolean) {}

  add(s: Seg): void {
    const k = this.hash(s)
    const l = this.m.get(k)
    if (l) l.push(s)
    else this.m.set(k, [s])
  }

  /** The segments added whose fields are those of s, in the order added; undefined when none. */
  get(s: Seg): Seg[] | undefined {
    const l = this.m.get(this.hash(s))
    if (l === undefined) return undefined
    const eq = this.eq
    if (l.every((x) => eq(x, s))) return l
    const same = l.filter((x) => eq(x, s))
    return same.length > 0 ? same : undefined
  }
}

export function hp(a: string, p: number): string {
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`
}

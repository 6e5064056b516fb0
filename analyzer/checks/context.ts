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
import {connectionLabel, wireIsns, type Handoff, type Seg} from '../correlate/assemble.js'
import {payloadHash} from '../correlate/payload-hash.js'
import {seqDiff} from '../wire/serial.js'
import {TCP_FLAG} from '../wire/tcp.js'
import type {SkewSink} from '../correlate/skew.js'
import {viewKey, type View} from '../correlate/vantage.js'
import {addrOf, addrText, knownAddrs, plainHeader, rewriteIs, type KnownAddrs} from './rewrite-compare.js'
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

/**
 * The fields of a header the engine has just rewritten, read from its bytes at the offsets the engine's
 * decoder found (a rewrite changes values, never the layout): no second decode.
 */
function rewrittenFields(d: PacketDecoder, known: KnownAddrs): Fields {
  const b = d.bytes
  const l4 = d.l4Offset
  const sack: number[] = []
  for (let i = 0; i < d.sackCount; i++) sack.push(readU32(b, d.sackOffsets[i]!), readU32(b, d.sackOffsets[i]! + 4))
  return {src: addrOf(d, d.ipSrcOffset, known), dst: addrOf(d, d.ipDstOffset, known),
    sport: read16(b, l4), dport: read16(b, l4 + 2), seq: readU32(b, l4 + 4), ack: readU32(b, l4 + 8),
    flags: b[l4 + 13]!, window: read16(b, l4 + 14), hasTs: d.hasTimestamp,
    tsVal: d.hasTimestamp ? readU32(b, d.tsOffset) : 0, tsEcr: d.hasTimestamp ? readU32(b, d.tsOffset + 4) : 0, sack}
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
  // One walk over the segments: each taken by its leg (client, BE TCP's and FE-own segments listed, the first
  // two indexed for the matches below; return and forward segments kept for pairing), and the views that could
  // be the client-facing one counted.
  // Client segments, indexed by content for the forward match (seq, flags, len, payload, timestamp, IP id);
  // BE TCP segments for the return match (flags, len, payload, ack, IP id). A packet from the client to anything
  // but the VIP that the client-side view saw too was sent by the client itself (e.g. its reset to a BE address
  // it got a stray segment from): not forwarded by the FE.
  cIndex.reset()
  bIndex.reset()
  sentByClient.reset()
  const views = viewIds.reset()
  const rets: Seg[] = []
  const fwds: Seg[] = []
  let hasLanFwd = false
  for (const s of h.segs) {
    const leg = s.leg
    const kind = s.view.kind
    switch (leg) {
      case 'client':
        ctx.client.push(s)
        cIndex.add(s)
        if (kind === 'client' || kind === 'lan') views.note(s.view, 0)
        break
      case 'return':
        if (kind === 'client' || kind === 'lan') views.note(s.view, s.src === h.vip && s.sport === h.vport ? 1 : 0)
        rets.push(s)
        break
      case 'stray-return':
        rets.push(s)
        break
      case 'forward':
        if (kind === 'lan') hasLanFwd = true
        fwds.push(s)
        break
      case 'stray-forward':
        fwds.push(s)
        break
      case 'be-raw':
        ctx.beRaw.push(s)
        bIndex.add(s)
        break
      case 'fe-own':
        ctx.feOwn.push(s)
        break
    }
    if (kind === 'client' && s.src === h.cip && !(s.dst === h.vip && s.dport === h.vport)) sentByClient.add(s)
  }
  // Client-facing view: a client-side view if one saw the connection, else a LAN view; among several, the
  // one with the most segments from the VIP (a node-inside capture that defaulted to LAN has none).
  const clientId = views.clientFacing()
  ctx.clientView = clientId < 0 ? null : views.key(clientId)
  let st = h.state
  let eng = st ? new Engine(st, {decoder: engineDecoder}) : null
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
  // The addresses the rewrites write, as rewrittenFields would read them (the same for a state made again below).
  const vipText = st ? addrText(st.vip, st.family, known) : ''
  const baddrText = st ? addrText(st.baddr, st.family, known) : ''
  // The candidate whose rewrite is the seen segment's fields (the first), else the nearest in time whose rewrite
  // applies (the first of equals); its expected fields: the seen segment itself when they are its fields (a Seg
  // has every field of Fields), else read from the rewrite — made only for that one candidate. Each candidate's
  // rewrite is compared by arithmetic on its header as read (rewrite-compare.ts): the engine rewrites a copy
  // only for the expected fields of a candidate that is not the seen segment.
  const best = (seen: Seg, index: SegTable, fwd: boolean): Pair => {
    let pick: Seg | null = null
    let dt = Infinity
    for (let i = index.first(seen); i >= 0; i = index.next(seen, i)) {
      if (eng === null) break
      const o = index.at(i)
      const at = plainHeader(o, eng.state, fwd) ?? (eng.accepts(fwd, o.hdrBuf, o.linkType, o.hdrLen, o.origLen, o.hdrOff) ? engineDecoder : null)
      if (at === null) continue
      if (rewriteIs(at, eng.state, known, vipText, baddrText, seen, fwd)) return {seen, origin: o, exp: seen}
      const d = Math.abs(seen.t - o.t)
      if (d < dt) { dt = d; pick = o }
    }
    return pick === null ? {seen, origin: null, exp: null} : {seen, origin: pick, exp: expOf(pick, fwd)}
  }
  const fwdView = (s: Seg) => (hasLanFwd ? s.view.kind === 'lan' : s.view.kind === 'inside') && !sentByClient.has(s)
  const superBe = ctx.beRaw.filter((s) => s.payload !== undefined)
  const pieces = (seen: Seg, p: Pair): Pair => (p.origin === null && st !== null ? offloadPair(seen, superBe, ctx.beRaw, st.delta, expOf) ?? p : p)
  const forwardPairs = (): Pair[] => {
    const out: Pair[] = []
    for (const s of fwds) {
      if (!fwdView(s)) continue
      const p = best(s, cIndex, true)
      if (s.leg === 'forward' || p.exp !== null) out.push(p)
    }
    return out
  }
  for (const s of rets) {
    if (views.idOf(s.view) !== clientId || clientId < 0) continue
    if (s.leg === 'return') ctx.ret.push(pieces(s, best(s, bIndex, false)))
    else {
      const p = best(s, bIndex, false)
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
 * Segments by content, for one handoff at a time (reset, then add its segments; the tables are reused from
 * handoff to handoff: no Map, no list per segment): the segments whose fields `eq` compares are those of a
 * given one, walked in the order added (first, then next). Built on the first look-up, by open addressing on a
 * numeric hash of those fields, each hash's segments chained in order; segments whose hashes collide are told
 * apart by `eq`.
 */
class SegTable {
  /** The segments added (the first n: the list is kept from handoff to handoff, and written over). */
  private readonly segs: Seg[] = []
  private n = 0
  private built = false
  private mask = 0
  /** Per slot: the hash, its first and last segment (index in segs; -1: an empty slot). */
  private slotHash = new Int32Array(16)
  private slotHead = new Int32Array(16)
  private slotTail = new Int32Array(16)
  /** Per segment: the next one of the same hash, -1 for none. */
  private nextOf = new Int32Array(16)

  constructor(private readonly hash: (s: Seg) => number, private readonly eq: (a: Seg, b: Seg) => boolean) {}

  reset(): void {
    this.n = 0
    this.built = false
  }

  add(s: Seg): void {
    this.segs[this.n++] = s
    this.built = false
  }

  /** The first segment added whose fields are s's (its number, for at and next), -1 for none. */
  first(s: Seg): number {
    if (!this.built) this.build()
    const k = this.hash(s) | 0
    for (let at = k & this.mask; ; at = (at + 1) & this.mask) {
      const i = this.slotHead[at]!
      if (i < 0) return -1
      if (this.slotHash[at] === k) return this.eq(this.segs[i]!, s) ? i : this.next(s, i)
    }
  }

  /** The segment added after the one numbered i whose fields are s's, -1 for none. */
  next(s: Seg, i: number): number {
    const eq = this.eq
    for (let j = this.nextOf[i]!; j >= 0; j = this.nextOf[j]!) if (eq(this.segs[j]!, s)) return j
    return -1
  }

  at(i: number): Seg {
    return this.segs[i]!
  }

  has(s: Seg): boolean {
    return this.first(s) >= 0
  }

  private build(): void {
    const n = this.n
    let size = 16
    while (size < 2 * n) size *= 2
    if (this.slotHead.length < size) {
      this.slotHash = new Int32Array(size)
      this.slotHead = new Int32Array(size)
      this.slotTail = new Int32Array(size)
    }
    if (this.nextOf.length < n) this.nextOf = new Int32Array(2 * n)
    this.mask = size - 1
    const head = this.slotHead
    head.fill(-1, 0, size)
    for (let i = 0; i < n; i++) {
      const k = this.hash(this.segs[i]!) | 0
      this.nextOf[i] = -1
      for (let at = k & this.mask; ; at = (at + 1) & this.mask) {
        const j = head[at]!
        if (j < 0) { this.slotHash[at] = k; head[at] = i; this.slotTail[at] = i; break }
        if (this.slotHash[at] === k) { this.nextOf[this.slotTail[at]!] = i; this.slotTail[at] = i; break }
      }
    }
    this.built = true
  }
}

// The indexes buildContext fills for each handoff (one is judged at a time).
const cIndex = new SegTable((s) => mix(s.seq, s.flags, s.len, s.hash, s.hasTs ? s.tsVal : -1, s.ipId),
  (a, b) => a.seq === b.seq && a.flags === b.flags && a.len === b.len && a.hash === b.hash &&
    (a.hasTs ? a.tsVal : -1) === (b.hasTs ? b.tsVal : -1) && a.ipId === b.ipId)
const bIndex = new SegTable((s) => mix(s.flags, s.len, s.hash, s.ack, s.ipId, 0),
  (a, b) => a.flags === b.flags && a.len === b.len && a.hash === b.hash && a.ack === b.ack && a.ipId === b.ipId)
const sentByClient = new SegTable((s) => mix(s.seq, s.ack, s.flags, s.len, s.hash, s.sport * 65536 + s.dport),
  (a, b) => a.src === b.src && a.sport === b.sport && a.dst === b.dst && a.dport === b.dport && a.seq === b.seq && a.ack === b.ack &&
    a.flags === b.flags && a.len === b.len && a.hash === b.hash && a.ipId === b.ipId)

/**
 * The views one handoff's segments were captured at, numbered by their key ("file#iface", viewKey: two View
 * objects of one key are one view), found by the View object (a handful per handoff: a list, no key looked
 * up per segment); and, for the client-facing view, the candidates noted (client-side and LAN views that saw
 * the client's or return segments), each with its kind (its first segment's view's) and its segments from
 * the VIP.
 */
class ViewIds {
  // Lists kept from handoff to handoff and written over: the first nObjs, nIds, nNoted entries are this handoff's.
  private readonly objs: View[] = []
  private readonly idOfObj: number[] = []
  private readonly keys: string[] = []
  /** By id: the kind and the count (-1: not noted), and the ids in the order first noted. */
  private readonly kinds: string[] = []
  private readonly counts: number[] = []
  private readonly noted: number[] = []
  private nObjs = 0
  private nIds = 0
  private nNoted = 0

  reset(): this {
    this.nObjs = 0
    this.nIds = 0
    this.nNoted = 0
    return this
  }

  idOf(v: View): number {
    const objs = this.objs
    for (let i = 0; i < this.nObjs; i++) if (objs[i] === v) return this.idOfObj[i]!
    const k = viewKey(v)
    let id = 0
    while (id < this.nIds && this.keys[id] !== k) id++
    if (id === this.nIds) {
      this.keys[id] = k
      this.kinds[id] = ''
      this.counts[id] = -1
      this.nIds++
    }
    objs[this.nObjs] = v
    this.idOfObj[this.nObjs++] = id
    return id
  }

  key(id: number): string {
    return this.keys[id]!
  }

  /** A segment of a candidate view (fromVip: 1 for one from the VIP). */
  note(v: View, fromVip: number): void {
    const id = this.idOf(v)
    if (this.counts[id]! < 0) {
      this.counts[id] = 0
      this.kinds[id] = v.kind
      this.noted[this.nNoted++] = id
    }
    this.counts[id]! += fromVip
  }

  /** A client-side candidate if any, else a LAN one: the first of those with the most segments from the VIP; -1 for none. */
  clientFacing(): number {
    let best = -1
    let bestN = -1
    for (const kind of ['client', 'lan']) {
      for (let i = 0; i < this.nNoted; i++) {
        const id = this.noted[i]!
        if (this.kinds[id] === kind && this.counts[id]! > bestN) { bestN = this.counts[id]!; best = id }
      }
      if (best >= 0) break
    }
    return best
  }
}

const viewIds = new ViewIds()

export function hp(a: string, p: number): string {
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`
}

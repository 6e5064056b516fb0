// The same TCP segment seen at two vantage points, found while the sessions
// pass reads the traces, fed to the clock-skew estimator (correlate/skew.ts).
//
// A segment is known by what no hop between two capture points changes: IP
// addresses, ports, seq, ack, flags, window, payload length, IPv4 ID, TCP
// timestamps (not TTL, checksums, MACs). Those fields are hashed into a
// 52-bit number (two 32-bit mixes, one whole, 20 bits of the other), so the
// per-packet path builds no string and allocates nothing for a packet that
// is not kept. A rewritten segment (forwarded: new destination, new ack) is
// a different segment; it matches its copy on the other side of the rewrite
// only where both copies are rewritten alike (LAN and BE inside).
//
// Memory is bounded whatever the trace size: at most MAX_KEPT segments are
// remembered. Views in several files may be read one file after another, so
// a segment of the first file must still be there when the second is read: a
// sliding window would forget it. Instead, adaptive sampling by hash: a
// segment is kept when the low bits of its second hash, under `mask`, are
// zero; when the store is full the mask takes one more bit and about half of
// the kept segments go. Both copies of a segment have the same hash, so the
// sample is the same at every view and the matches stay matches (there are
// fewer of them; the estimator needs a few hundred per pair at most).
// Files read merged by time (settleSec) give the estimator the matches of
// the files read one after the other (see the constructor); where the store
// was thinned, the sample may differ (the mask grows at other moments).
import type {PacketDecoder} from '../wire/decode.js'
import type {SkewEstimator} from '../correlate/skew.js'
import type {View} from '../correlate/vantage.js'
import {TimeHeap} from '../correlate/time-heap.js'

const MAX_KEPT = 1 << 17
const LOW_BITS = 20
const LOW = 1 << LOW_BITS

function mix(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, 0x1b873593)
  h ^= k
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

function fmix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

interface Kept {
  view: View
  t: number
  /** Files read merged (settleSec): the copies seen since this one, until it settles (null once settled). */
  copies?: Copy[] | null
}

/** A copy of a segment seen while its entry is not settled: at a view, time t, the pass's count of segments then. */
interface Copy {
  view: View
  t: number
  seq: number
}

/** A match to give to the estimator once no match before it (in the order of the files read one after the other) can still come. */
interface Sample {
  seq: number
  a: View
  ta: number
  b: View
  tb: number
}

/** The estimator keeps this many samples per pair of views (correlate/skew.ts): past it, matches are only counted. */
const PAIR_SAMPLES = 2001

export class SegmentMatcher {
  private readonly kept = new Map<number, Kept>()
  private mask = 0
  /** Samples given to the estimator, per pair of views. */
  private readonly given = new Map<View, Map<View, number>>()
  /** Segments seen at a second (third…) view. */
  matches = 0

  /** Files read merged: entries not settled, in order of their first copy (a queue from `head`). */
  private readonly unsettled: {key: number; k: Kept; at: number; seq: number}[] = []
  private head = 0
  /** Matches not given yet, by the seq of their later copy. */
  private readonly samples = new TimeHeap<Sample>()
  private seq = 0

  /**
   * settleSec: several files read merged by time (collect.ts). The same matches as the files read one after the
   * other: there, a segment's first copy is the one in the first file (then the first of that file), and each
   * later copy matches it; merged, that copy may come after others. So an entry gathers its copies for settleSec
   * of the pass's time (copies at several views are milliseconds apart, clocks agree within 2 s) before its
   * matches are made, and the matches are given to the estimator in the order of their later copies — per pair
   * of views the order of the files read one after the other (the first PAIR_SAMPLES of a pair are kept).
   */
  constructor(private readonly skew: SkewEstimator, private readonly settleSec: number | null = null) {}

  /**
   * The decoded TCP segment `d`, captured at time t (s) at `view`; now: the pass's time (with settleSec: the files'
   * common clock), t by default.
   */
  add(d: PacketDecoder, view: View, t: number, now = t): void {
    if (this.settleSec !== null) this.settle(now)
    const b = d.bytes
    const alen = d.ipVersion === 6 ? 16 : 4
    let h1 = 0x9747b28c
    let h2 = 0x2545f491
    for (let i = 0; i < alen; i += 4) {
      const s = (b[d.ipSrcOffset + i]! << 24) | (b[d.ipSrcOffset + i + 1]! << 16) | (b[d.ipSrcOffset + i + 2]! << 8) | b[d.ipSrcOffset + i + 3]!
      const x = (b[d.ipDstOffset + i]! << 24) | (b[d.ipDstOffset + i + 1]! << 16) | (b[d.ipDstOffset + i + 2]! << 8) | b[d.ipDstOffset + i + 3]!
      h1 = mix(mix(h1, s), x)
      h2 = mix(mix(h2, x), s)
    }
    // Unrolled (no array per packet).
    const ports = (d.srcPort << 16) | d.dstPort
    const flagsWin = (d.tcpFlags << 16) | d.window
    const id = d.ipVersion === 4 ? d.ipv4Id : -1
    const tv = d.hasTimestamp ? d.tsVal : -1
    const te = d.hasTimestamp ? d.tsEcr : -1
    h1 = mix(mix(mix(mix(mix(mix(mix(mix(h1, ports), d.seq), d.ack), flagsWin), d.payloadWireLen), id), tv), te)
    h2 = mix(mix(mix(mix(mix(mix(mix(mix(h2, te), tv), id), d.payloadWireLen), flagsWin), d.ack), d.seq), ports)
    const low = fmix(h2) & (LOW - 1)
    if ((low & this.mask) !== 0) return
    const key = fmix(h1) * LOW + low
    const k = this.kept.get(key)
    if (k !== undefined) {
      if (this.settleSec === null) {
        if (k.view !== view) this.match(k.view, k.t, view, t)
      } else if (k.copies !== null) (k.copies ??= []).push({view, t, seq: this.seq++})
      else if (k.view !== view) this.later({seq: this.seq++, a: k.view, ta: k.t, b: view, tb: t})
      return
    }
    const e: Kept = {view, t}
    this.kept.set(key, e)
    if (this.settleSec !== null) {
      e.copies = undefined
      this.unsettled.push({key, k: e, at: now + this.settleSec, seq: this.seq++})
    }
    if (this.kept.size > MAX_KEPT) this.thin()
  }

  /** Files read merged: every entry settled and every match given (call before reading the estimator). */
  finish(): void {
    if (this.settleSec !== null) this.settle(Infinity)
  }

  private match(a: View, ta: number, b: View, tb: number): void {
    this.matches++
    let m = this.given.get(a)
    if (m === undefined) this.given.set(a, (m = new Map()))
    const n = m.get(b) ?? 0
    if (n < PAIR_SAMPLES) {
      m.set(b, n + 1)
      this.skew.add(a, ta, b, tb)
    }
  }

  /** Settles the entries whose time is past, then gives the matches no earlier one can precede any more. */
  private settle(now: number): void {
    const q = this.unsettled
    while (this.head < q.length && q[this.head]!.at <= now) {
      const {key, k, seq} = q[this.head++]!
      // Thinned meanwhile: gone, as its matches would have been.
      if (this.kept.get(key) !== k) continue
      const copies = [{view: k.view, t: k.t, seq}, ...(k.copies ?? [])]
      // The copy the files read one after the other see first: the first of the first file.
      let first = copies[0]!
      for (const c of copies) if (c.view.fileIndex < first.view.fileIndex) first = c
      k.view = first.view
      k.t = first.t
      k.copies = null
      for (const c of copies) if (c !== first && c.view !== first.view) this.later({seq: c.seq, a: first.view, ta: first.t, b: c.view, tb: c.t})
    }
    if (this.head > 4096 && this.head * 2 > q.length) {
      q.splice(0, this.head)
      this.head = 0
    }
    // A match not made yet has a later copy no older than the first copy of the oldest unsettled entry.
    const before = this.head < q.length ? q[this.head]!.seq : Infinity
    const h = this.samples
    while (h.size > 0 && h.firstT() < before) {
      const x = h.pop()
      this.match(x.a, x.ta, x.b, x.tb)
    }
  }

  private later(x: Sample): void {
    this.samples.push(x.seq, x.seq, x)
  }

  private thin(): void {
    while (this.kept.size > MAX_KEPT >> 1 && this.mask < LOW - 1) {
      this.mask = (this.mask << 1) | 1
      for (const key of this.kept.keys()) if ((key % LOW & this.mask) !== 0) this.kept.delete(key)
    }
  }
}

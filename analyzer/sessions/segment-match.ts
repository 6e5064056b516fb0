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
// remembered. Views in several files are read one file after another, so a
// segment of the first file must still be there when the second is read: a
// sliding window would forget it. Instead, adaptive sampling by hash: a
// segment is kept when the low bits of its second hash, under `mask`, are
// zero; when the store is full the mask takes one more bit and about half of
// the kept segments go. Both copies of a segment have the same hash, so the
// sample is the same at every view and the matches stay matches (there are
// fewer of them; the estimator needs a few hundred per pair at most).
import type {PacketDecoder} from '../wire/decode.js'
import type {SkewEstimator} from '../correlate/skew.js'
import type {View} from '../correlate/vantage.js'

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

  constructor(private readonly skew: SkewEstimator) {}

  /** The decoded TCP segment `d`, captured at time t (s) at `view`. */
  add(d: PacketDecoder, view: View, t: number): void {
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
      if (k.view !== view) {
        this.matches++
        let m = this.given.get(k.view)
        if (m === undefined) this.given.set(k.view, (m = new Map()))
        const n = m.get(view) ?? 0
        if (n < PAIR_SAMPLES) {
          m.set(view, n + 1)
          this.skew.add(k.view, k.t, view, t)
        }
      }
      return
    }
    this.kept.set(key, {view, t})
    if (this.kept.size > MAX_KEPT) this.thin()
  }

  private thin(): void {
    while (this.kept.size > MAX_KEPT >> 1 && this.mask < LOW - 1) {
      this.mask = (this.mask << 1) | 1
      for (const key of this.kept.keys()) if ((key % LOW & this.mask) !== 0) this.kept.delete(key)
    }
  }
}

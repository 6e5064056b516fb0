// How far apart the clocks of several capture files look, from the client
// SYNs they share. check reads several files merged by capture time only
// when their clocks agree (check.ts, MAX_CLOCK_SPREAD_SEC); captures made on
// different hosts are rarely started at the same moment, so the files'
// first packets tell a late start from a clock that is off only when
// nothing better is known. A client's SYN is better: the same segment
// (source port and ISN; the FE's replay to the BE keeps both, spec §4) is
// seen at the client side, on the LAN and inside the BE, so the difference
// of its capture times in two files is their clocks' offset plus the
// propagation between the two points (microseconds on a cluster).
//
// A capture of the control channel alone shares no SYN with the others. Its
// handoff-reqs name the client's port and ISN, and a request is sent after
// the client's SYN, by the time the client took to send its request head:
// milliseconds for most clients. So the smallest (request − SYN) over the
// requests matched with another file's SYNs is that file's clock offset
// from the control capture's, give or take the fastest request.
//
// The same links give each file's offset from one file's clock (offsetsSec):
// check then merges files whose clocks are far apart by corrected times.
//
// Only each file's first MAX_SYNS client SYNs (and requests) are kept, and a
// file is looked at for SYNs during its first MAX_PACKETS packets: enough
// for a median, at the cost of decoding the start of each file.

/** Client SYNs kept per file. */
const MAX_SYNS = 2048
/** Packets of a file looked at for SYNs. */
const MAX_PACKETS = 200_000
/** SYNs two files must share for their offset to count. */
const MIN_COMMON = 3

export class SynClocks {
  /** Per file: source port × 2^32 + ISN → capture time of its first sighting. */
  private readonly syns: Map<number, number>[]
  /** Per file: handoff-reqs, source port × 2^32 + ISN of the client's SYN → capture time of the request. */
  private readonly reqs: Map<number, number>[]
  private readonly packets: number[]
  private readonly first: number[]

  constructor(files: number) {
    this.syns = Array.from({length: files}, () => new Map())
    this.reqs = Array.from({length: files}, () => new Map())
    this.packets = new Array<number>(files).fill(0)
    this.first = new Array<number>(files).fill(NaN)
  }

  /** Whether file fi's next packet is still looked at (counts it). */
  wants(fi: number, t: number): boolean {
    if (Number.isNaN(this.first[fi]!)) this.first[fi] = t
    return this.syns[fi]!.size < MAX_SYNS && this.packets[fi]!++ < MAX_PACKETS
  }

  /** A client SYN (SYN without ACK) of file fi. */
  syn(fi: number, sport: number, isn: number, t: number): void {
    const k = sport * 0x1_0000_0000 + isn
    const m = this.syns[fi]!
    if (!m.has(k)) m.set(k, t)
  }

  /** A handoff-req of file fi, for the client connection of that port and ISN. */
  request(fi: number, cport: number, ciss: number, t: number): void {
    const m = this.reqs[fi]!
    if (m.size < MAX_SYNS) m.set(cport * 0x1_0000_0000 + ciss, t)
  }

  /**
   * What links two files' clocks: `t_b − t_a ≈ d` (seconds) for the same instant. A pair of files sharing
   * MIN_COMMON client SYNs gives the median of their capture-time differences; a file of handoff-reqs (a)
   * and one of SYNs (b), the smallest request − SYN gap, which is a's clock minus b's (plus the fastest
   * client's time to its request).
   */
  private links(): {a: number; b: number; d: number}[] {
    const n = this.syns.length
    const out: {a: number; b: number; d: number}[] = []
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const d: number[] = []
        for (const [k, ta] of this.syns[a]!) {
          const tb = this.syns[b]!.get(k)
          if (tb !== undefined) d.push(tb - ta)
        }
        if (d.length < MIN_COMMON) continue
        d.sort((x, y) => x - y)
        out.push({a, b, d: d[d.length >> 1]!})
      }
    }
    // Requests of file a after SYNs of file b: the smallest gap is the offset (the fastest request taking ~0).
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (a === b || this.reqs[a]!.size === 0) continue
        let min = Infinity
        let common = 0
        for (const [k, tr] of this.reqs[a]!) {
          const ts = this.syns[b]!.get(k)
          if (ts === undefined) continue
          common++
          min = Math.min(min, tr - ts)
        }
        if (common < MIN_COMMON) continue
        out.push({a: b, b: a, d: min})
      }
    }
    return out
  }

  /**
   * The largest offset between two files' clocks, in seconds: the links' (see links()); between files that no
   * chain of links joins, how far apart their first packets are (a late start cannot be told from a clock that
   * is off then).
   */
  spreadSec(): number {
    const n = this.syns.length
    let spread = 0
    // Files joined by links (union-find).
    const root = Array.from({length: n}, (_, i) => i)
    const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i]!)))
    for (const {a, b, d} of this.links()) {
      spread = Math.max(spread, Math.abs(d))
      root[find(a)] = find(b)
    }
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        if (find(a) === find(b) || Number.isNaN(this.first[a]!) || Number.isNaN(this.first[b]!)) continue
        spread = Math.max(spread, Math.abs(this.first[a]! - this.first[b]!))
      }
    }
    return spread
  }

  /**
   * Each file's clock offset from file `ref`'s (seconds to subtract from its capture times to get ref's), from
   * the links, and how far the links disagree with those offsets (the largest residual: around a loop of
   * links that do not add up, or a link off from the path that placed its files). Null when some file is
   * joined to ref by no chain of links.
   */
  offsetsSec(ref: number): {offsets: number[]; residualSec: number} | null {
    const n = this.syns.length
    const links = this.links()
    const off: (number | null)[] = new Array<number | null>(n).fill(null)
    off[ref] = 0
    // Breadth first from ref, through the links in their order (the SYN medians come first: the closer estimates).
    const queue = [ref]
    while (queue.length > 0) {
      const x = queue.shift()!
      for (const {a, b, d} of links) {
        if (a === x && off[b] === null) { off[b] = off[a]! + d; queue.push(b) }
        else if (b === x && off[a] === null) { off[a] = off[b]! - d; queue.push(a) }
      }
    }
    if (off.some((o) => o === null)) return null
    const offsets = off as number[]
    let residualSec = 0
    for (const {a, b, d} of links) residualSec = Math.max(residualSec, Math.abs(offsets[b]! - offsets[a]! - d))
    return {offsets, residualSec}
  }
}

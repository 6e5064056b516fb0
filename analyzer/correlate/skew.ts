// Clock offsets between vantage points, estimated from packets that two views
// both captured unchanged (the same return segment at the client side and on
// the LAN, the same forwarded segment on the LAN and at the BE inside): for
// each pair of views, the median of (time in B − time in A) over such
// packets. That median is propagation delay plus clock offset; between
// captures on one host (the lab's single pcapng) it is the propagation delay
// alone, microseconds. Views are then placed on the clock of a reference view
// (the first one in argument order that is linked to others), through the
// pairs that link them. Coarse: a pair's packets travel both ways, so the
// median mixes +delay and −delay; capture buffering shows up as offset too.
// Reported (`views[].offsetMs`), not yet used to correct times (late-forward
// compares the control view with the LAN, which share no packet). Views that share no packet with the rest (the control
// view usually: control channels carry no handoff segment) stay unplaced.
import {TimeHeap} from './time-heap.js'
import {viewKey, type View} from './vantage.js'

const MAX_SAMPLES = 2001

export interface ViewOffset {
  /** "file#iface" */
  view: string
  /** Seconds to subtract from this view's times to put them on the reference view's clock; null when not linked. */
  offset: number | null
  /** Reference view ("file#iface") the offset is relative to. */
  reference: string | null
  /** Packets matched with the neighbour view it was placed through. */
  samples: number
}

/** What gathers the samples (addSkewSamples's): a SkewEstimator, or check --infer's RankedSkewSamples. */
export interface SkewSink {
  /** The same packet at time ta in view a and tb in view b. */
  add(a: View, ta: number, b: View, tb: number): void
}

/**
 * The list of each pair of views ("a|b", a < b, by "file#iface"), found from an ordered pair of View objects
 * with whether the pair's differences are taken a − b (flip) rather than b − a; null for one view twice. By
 * the View objects: add runs for every packet two views share, and a key string per call made it a cost of
 * its own.
 */
class PairLists<L> {
  /** In the order each pair was first asked for. */
  readonly lists = new Map<string, L>()
  private readonly byViews = new Map<View, Map<View, {l: L; flip: boolean} | null>>()

  constructor(private readonly make: () => L) {}

  of(a: View, b: View): {l: L; flip: boolean} | null {
    let m = this.byViews.get(a)
    if (m === undefined) this.byViews.set(a, (m = new Map()))
    let e = m.get(b)
    if (e === undefined) {
      const ka = viewKey(a)
      const kb = viewKey(b)
      if (ka === kb) e = null
      else {
        const k = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`
        let l = this.lists.get(k)
        if (l === undefined) this.lists.set(k, (l = this.make()))
        e = {l, flip: !(ka < kb)}
      }
      m.set(b, e)
    }
    return e
  }
}

export class SkewEstimator implements SkewSink {
  private readonly pairs = new PairLists<number[]>(() => [])

  /** The same packet at time ta in view a and tb in view b. */
  add(a: View, ta: number, b: View, tb: number): void {
    const e = this.pairs.of(a, b)
    if (e !== null && e.l.length < MAX_SAMPLES) e.l.push(e.flip ? ta - tb : tb - ta)
  }

  /**
   * other's samples added after these ones (as if other's packets had been added after these, up to
   * MAX_SAMPLES per pair): check --infer keeps the inferred handoffs' samples apart so that they come after
   * the control channel's handoffs' as when every inferred one was judged at the end.
   */
  append(other: SkewEstimator | RankedSkewSamples): void {
    for (const [k, l] of other instanceof SkewEstimator ? other.pairs.lists : other.inOrder()) {
      let m = this.pairs.lists.get(k)
      if (m === undefined) this.pairs.lists.set(k, (m = []))
      for (let i = 0; i < l.length && m.length < MAX_SAMPLES; i++) m.push(l[i]!)
    }
  }

  /** Offsets of every view in `views` (argument order). */
  offsets(views: readonly View[]): ViewOffset[] {
    const med = new Map<string, {d: number; n: number}>()
    const adj = new Map<string, string[]>()
    for (const [k, l] of this.pairs.lists) {
      const s = [...l].sort((x, y) => x - y)
      med.set(k, {d: s[s.length >> 1]!, n: s.length})
      const [a, b] = k.split('|') as [string, string]
      adj.set(a, [...(adj.get(a) ?? []), b])
      adj.set(b, [...(adj.get(b) ?? []), a])
    }
    const keys = views.map(viewKey)
    const out = new Map<string, ViewOffset>()
    for (const root of keys) {
      if (out.has(root) || !adj.has(root)) continue
      out.set(root, {view: root, offset: 0, reference: root, samples: 0})
      const queue = [root]
      while (queue.length > 0) {
        const a = queue.shift()!
        for (const b of adj.get(a) ?? []) {
          if (out.has(b)) continue
          const ab = a < b ? med.get(`${a}|${b}`)! : med.get(`${b}|${a}`)!
          // offset(b) = offset(a) + (tb − ta)
          const d = a < b ? ab.d : -ab.d
          out.set(b, {view: b, offset: out.get(a)!.offset! + d, reference: root, samples: ab.n})
          queue.push(b)
        }
      }
    }
    return keys.map((k) => out.get(k) ?? {view: k, offset: null, reference: null, samples: 0})
  }
}

/** A sample and where it comes in rank order: (rank, i). */
interface Ranked {
  rank: number
  i: number
  d: number
}

/** a comes after b in rank order. */
const after = (a: Ranked, b: Ranked): boolean => a.rank > b.rank || (a.rank === b.rank && a.i > b.i)

/**
 * Samples added in any order of rank, kept as a SkewEstimator that got them in rank order would keep them:
 * check --infer judges the inferred handoffs as each one is done with, not in hid order, and each handoff's
 * samples are added with its place in hid order as rank (at). Per pair of views, the MAX_SAMPLES first in
 * (rank, order added within the rank) — a max-heap on that order, the last of them on top, so memory stays
 * bounded — and the pairs in the order their first sample in that order made them (which view a pair links
 * first, in offsets, follows that order).
 */
export class RankedSkewSamples implements SkewSink {
  /** Per pair, a max-heap on (rank, i): a TimeHeap on (−rank, −i). */
  private readonly pairs = new PairLists<TimeHeap<Ranked>>(() => new TimeHeap())
  private rank = 0
  private i = 0

  /** The samples added next are the handoff's of this rank (its place in hid order). */
  at(rank: number): void {
    this.rank = rank
    this.i = 0
  }

  add(a: View, ta: number, b: View, tb: number): void {
    const e = this.pairs.of(a, b)
    if (e === null) return
    const h = e.l
    const i = this.i++
    // Full, and this one after the last kept (samples come mostly in rank order): nothing made.
    if (h.size >= MAX_SAMPLES && (-h.firstT() < this.rank || (-h.firstT() === this.rank && -h.firstSeq() < i))) return
    if (h.size >= MAX_SAMPLES) h.pop()
    h.push(-this.rank, -i, {rank: this.rank, i, d: e.flip ? ta - tb : tb - ta})
  }

  /** Each pair's samples in rank order, the pairs in the order of their first sample (SkewEstimator.append's). */
  inOrder(): Map<string, number[]> {
    const sorted = [...this.pairs.lists].map(([k, h]) => [k, [...h.values()].sort((a, b) => (after(a, b) ? 1 : after(b, a) ? -1 : 0))] as const)
    sorted.sort(([, a], [, b]) => (after(a[0]!, b[0]!) ? 1 : after(b[0]!, a[0]!) ? -1 : 0))
    return new Map(sorted.map(([k, l]) => [k, l.map((x) => x.d)]))
  }
}

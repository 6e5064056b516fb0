// A binary heap of items by a time, then by a sequence number (the order they came): the streaming passes
// use it for what falls due as capture time goes on.

/** Items by a time, then by the order they came (a binary heap; the same item may be pushed more than once). */
export class TimeHeap<T> {
  private readonly t: number[] = []
  private readonly seq: number[] = []
  private readonly item: T[] = []
  get size(): number { return this.item.length }
  firstT(): number { return this.t[0]! }
  firstSeq(): number { return this.seq[0]! }
  /** The items, in no particular order. */
  values(): readonly T[] { return this.item }

  push(t: number, seq: number, x: T): void {
    let i = this.item.length
    this.t.push(t); this.seq.push(seq); this.item.push(x)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      this.swap(i, p)
      i = p
    }
  }

  pop(): T {
    const top = this.item[0]!
    const last = this.item.length - 1
    this.swap(0, last)
    this.t.pop(); this.seq.pop(); this.item.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < this.item.length && this.less(l, m)) m = l
      if (r < this.item.length && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
    return top
  }

  private less(a: number, b: number): boolean {
    return this.t[a]! < this.t[b]! || (this.t[a] === this.t[b] && this.seq[a]! < this.seq[b]!)
  }

  private swap(a: number, b: number): void {
    const {t, seq, item} = this
    const ta = t[a]!; t[a] = t[b]!; t[b] = ta
    const sa = seq[a]!; seq[a] = seq[b]!; seq[b] = sa
    const xa = item[a]!; item[a] = item[b]!; item[b] = xa
  }
}

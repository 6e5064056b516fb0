// Sorting records that need not all fit in memory: check's violations (one
// per faulty segment, so as many as the trace is long) are sorted for the
// report and regrouped for the JUnit file. Records are kept in memory up to
// `runSize`; past that each full batch is sorted and written to disk as a
// run (correlate/control-spool.ts's format, as JSON: records must be plain
// JSON — no undefined members, bigints or bytes), and sorted() merges the runs
// with a heap, one record per run in memory. The order is stable (equal
// records come out in the order added), like Array.prototype.sort's, so a
// sorter gives what sorting the whole array would.
//
// A run's reader has a 16 KiB buffer: 1 M records of 4096 per run are 245
// runs, 4 MiB of buffers. No multi-level merge: far past what a trace gives.
import {RecordSpool, type SpoolReader} from './correlate/control-spool.js'

/** Records per run: a violation is ~1 KiB in memory, so ~4 MiB a run. */
export const RUN_RECORDS = 4096
const RUN_READ_BUF = 1 << 14

export class ExternalSorter<T> {
  /** Records added. */
  length = 0
  private buf: T[] = []
  private bufSorted = false
  private spool: RecordSpool<T> | null = null
  private readonly runs: {from: number; to: number}[] = []

  constructor(private readonly compare: (a: T, b: T) => number, private readonly prefix: string,
    private readonly runSize = RUN_RECORDS) {}

  add(x: T): void {
    this.buf.push(x)
    this.bufSorted = false
    this.length++
    if (this.buf.length >= this.runSize) this.spill()
  }

  /** Whether records went to disk (else sorted() is an array walked in memory). */
  get onDisk(): boolean {
    return this.spool !== null
  }

  /** The records in order; call after the last add. Can be walked again (the runs stay until remove()). */
  * sorted(): Generator<T> {
    if (this.spool === null) {
      if (!this.bufSorted) this.buf.sort(this.compare), this.bufSorted = true
      yield* this.buf
      return
    }
    if (this.buf.length > 0) this.spill()
    const readers = this.runs.map((r) => this.spool!.reader(r.from, r.to, RUN_READ_BUF))
    const heap = new Heap<{x: T; run: number; r: SpoolReader<T>}>((a, b) => this.compare(a.x, b.x) || a.run - b.run)
    readers.forEach((r, run) => {
      const x = r.next()
      if (x !== null) heap.push({x, run, r})
    })
    while (heap.size > 0) {
      const top = heap.peek()
      const x = top.x
      const nx = top.r.next()
      if (nx === null) heap.pop()
      else top.x = nx, heap.fix()
      yield x
    }
  }

  /** Frees the disk (and memory) it holds. */
  remove(): void {
    this.spool?.remove()
    this.spool = null
    this.buf = []
    this.runs.length = 0
  }

  private spill(): void {
    this.buf.sort(this.compare)
    this.spool ??= new RecordSpool<T>(this.prefix, 'json')
    const from = this.spool.size
    for (const x of this.buf) this.spool.write(x)
    this.runs.push({from, to: this.spool.size})
    this.buf = []
  }
}

/** A binary min-heap whose top may be replaced in place (fix) — the merge's one step per record. */
class Heap<T> {
  private readonly a: T[] = []
  constructor(private readonly less: (x: T, y: T) => number) {}

  get size(): number {
    return this.a.length
  }

  peek(): T {
    return this.a[0]!
  }

  push(x: T): void {
    const a = this.a
    a.push(x)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.less(a[i]!, a[p]!) >= 0) break
      ;[a[i], a[p]] = [a[p]!, a[i]!]
      i = p
    }
  }

  pop(): void {
    const last = this.a.pop()!
    if (this.a.length > 0) {
      this.a[0] = last
      this.fix()
    }
  }

  /** Restores the order after the top changed. */
  fix(): void {
    const a = this.a
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l
      if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r
      if (m === i) return
      ;[a[i], a[m]] = [a[m]!, a[i]!]
      i = m
    }
  }
}

// The report's per-handoff summaries (check.ts), in judging order. In
// memory for a caller that wants an array (runCheck); on disk for the CLI
// (runCheckSpooled), since there is one per handoff of the trace and the
// text and --json outputs only walk them once, at the end: so a long trace
// does not hold them all (issue 5: memory follows the active connections).
//
// A summary is written when its handoff is judged; the violations found on
// it later (late-forward after its terminate, request-replay once its `pkts`
// are read again) are counted beside it and added when it is read back.
// A list made `byIndex` (check --infer's inferred handoffs, judged as each is
// done with, not in the order the report lists them) takes each summary at
// its index (put) and gives them back in index order: on disk, through an
// external sort (external-sort.ts), so that it holds a run of them at most.
import type {HandoffSummary} from './check.js'
import {RecordSpool} from './correlate/control-spool.js'
import {ExternalSorter, RUN_RECORDS} from './external-sort.js'

/** A summary of a list made byIndex, and its index. */
interface Placed {
  i: number
  s: HandoffSummary
}

export class SummaryList implements Iterable<HandoffSummary> {
  length = 0
  private readonly mem: HandoffSummary[] | null
  private readonly spool: RecordSpool<HandoffSummary> | null
  /** Made byIndex, on disk: the summaries put, sorted by index when walked. */
  private readonly sorter: ExternalSorter<Placed> | null
  /** Violations found after a spooled summary was written, by its index. */
  private readonly extra = new Map<number, number>()
  /** Applied to each summary read back (the stdin spool's name made `<stdin>`). */
  private readonly map: ((s: HandoffSummary) => HandoffSummary) | null
  /** Walked after these (followedBy). */
  private readonly tail: SummaryList | null = null

  constructor(onDisk: boolean, from?: SummaryList, map?: (s: HandoffSummary) => HandoffSummary, tail?: SummaryList | null,
    byIndex?: {runSize: number}) {
    if (from !== undefined) {
      this.mem = from.mem
      this.spool = from.spool
      this.sorter = from.sorter
      this.extra = from.extra
      this.map = map ?? null
      this.tail = tail === undefined ? from.tail?.mapped(map ?? ((x) => x)) ?? null : tail
      this.length = from.length - (from.tail?.length ?? 0) + (this.tail?.length ?? 0)
      return
    }
    this.mem = onDisk ? null : []
    this.spool = onDisk && !byIndex ? new RecordSpool<HandoffSummary>('handoff-summaries-') : null
    this.sorter = onDisk && byIndex ? new ExternalSorter<Placed>((a, b) => a.i - b.i, 'handoff-summaries-', byIndex.runSize) : null
    this.map = null
  }

  /** A list whose summaries are put at their index (put), in any order: walked in index order (runSize: tests). */
  static byIndex(onDisk: boolean, runSize = RUN_RECORDS): SummaryList {
    return new SummaryList(onDisk, undefined, undefined, undefined, {runSize})
  }

  /** Adds s; its index, for addViolations. */
  add(s: HandoffSummary): number {
    if (this.sorter !== null) throw new Error('internal error: add on a summary list made byIndex')
    if (this.mem !== null) this.mem.push(s)
    else this.spool!.write(s)
    return this.length++
  }

  /**
   * A list made byIndex: s at index i. Every index from 0 to length − 1 must be put, once, before the list is
   * walked (and i's before addViolations(i)).
   */
  put(i: number, s: HandoffSummary): void {
    if (this.mem !== null) this.mem[i] = s
    else if (this.sorter !== null) this.sorter.add({i, s})
    else throw new Error('internal error: put on a summary list not made byIndex')
    this.length++
  }

  addViolations(i: number, n: number): void {
    if (n === 0) return
    if (this.mem !== null) this.mem[i]!.violations += n
    else this.extra.set(i, (this.extra.get(i) ?? 0) + n)
  }

  /** The same summaries, each read through `map`. */
  mapped(map: (s: HandoffSummary) => HandoffSummary): SummaryList {
    return new SummaryList(this.mem === null, this, map)
  }

  /** These summaries, then `next`'s (a list not added to any more: a view of both). */
  followedBy(next: SummaryList): SummaryList {
    if (this.tail !== null) throw new Error('internal error: a summary list followed twice')
    return new SummaryList(this.mem === null, this, this.map ?? undefined, next)
  }

  /** In memory only: the array itself. */
  toArray(): HandoffSummary[] {
    if (this.mem === null || this.tail !== null) return [...this]
    return this.map ? this.mem.map(this.map) : this.mem
  }

  * [Symbol.iterator](): Iterator<HandoffSummary> {
    yield* this.own()
    if (this.tail !== null) yield* this.tail
  }

  private * own(): Iterator<HandoffSummary> & Iterable<HandoffSummary> {
    if (this.mem !== null) {
      for (const s of this.mem) yield this.map ? this.map(s) : s
      return
    }
    if (this.sorter !== null) {
      // (A copy when counted: records not spilled to disk are walked again as they are.)
      for (const {i, s} of this.sorter.sorted()) {
        const x = this.extra.get(i)
        const c = x === undefined ? s : {...s, violations: s.violations + x}
        yield this.map ? this.map(c) : c
      }
      return
    }
    const r = this.spool!.reader()
    for (let i = 0; ; i++) {
      const s = r.next()
      if (s === null) return
      const x = this.extra.get(i)
      if (x !== undefined) s.violations += x
      yield this.map ? this.map(s) : s
    }
  }

  /** Written as an array (by JSON.stringify, and cli/render/json-stream.ts walks it as one). */
  toJSON(): HandoffSummary[] {
    return [...this]
  }
}

// The report's per-handoff summaries (check.ts), in judging order. In
// memory for a caller that wants an array (runCheck); on disk for the CLI
// (runCheckSpooled), since there is one per handoff of the trace and the
// text and --json outputs only walk them once, at the end: so a long trace
// does not hold them all (issue 5: memory follows the active connections).
//
// A summary is written when its handoff is judged; the violations found on
// it later (late-forward after its terminate, request-replay once its `pkts`
// are read again) are counted beside it and added when it is read back.
import type {HandoffSummary} from './check.js'
import {RecordSpool} from './correlate/control-spool.js'

export class SummaryList implements Iterable<HandoffSummary> {
  length = 0
  private readonly mem: HandoffSummary[] | null
  private readonly spool: RecordSpool<HandoffSummary> | null
  /** Violations found after a spooled summary was written, by its index. */
  private readonly extra = new Map<number, number>()
  /** Applied to each summary read back (the stdin spool's name made `<stdin>`). */
  private readonly map: ((s: HandoffSummary) => HandoffSummary) | null
  /** Walked after these (followedBy). */
  private readonly tail: SummaryList | null = null

  constructor(onDisk: boolean, from?: SummaryList, map?: (s: HandoffSummary) => HandoffSummary, tail?: SummaryList | null) {
    if (from !== undefined) {
      this.mem = from.mem
      this.spool = from.spool
      this.extra = from.extra
      this.map = map ?? null
      this.tail = tail === undefined ? from.tail?.mapped(map ?? ((x) => x)) ?? null : tail
      this.length = from.length - (from.tail?.length ?? 0) + (this.tail?.length ?? 0)
      return
    }
    this.mem = onDisk ? null : []
    this.spool = onDisk ? new RecordSpool<HandoffSummary>('handoff-summaries-', 'json') : null
    this.map = null
  }

  /** Adds s; its index, for addViolations. */
  add(s: HandoffSummary): number {
    if (this.mem !== null) this.mem.push(s)
    else this.spool!.write(s)
    return this.length++
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

// The report's violations (check.ts): collected as the checks find them,
// deduplicated and sorted at the end. For the CLI they are on disk (sorted
// runs merged as they are read: external-sort.ts), since a faulty trace has
// one per faulty segment, so as many as the trace is long: 39 k on lab-ack-remap
// cloned 1392 times held 51 MB of heap (issue 5: memory follows the active
// connections, not the trace). For runCheck (tests) the same code keeps them
// in memory and gives an array.
//
// The deduplication (same id, file, frame and field: the first one found
// stays) is done at the end too, by sorting on that key, so no set of every
// key is held during the pass; a dropped duplicate is taken off the count
// of the handoff summary it was counted toward (its `scope`). The duplicates
// a handoff's checks make themselves (seq-remap's, found twice on one
// segment) are dropped at once, by a set of the keys of the current scope
// only, so the summaries' counts are right when written and seldom fixed.
import {ExternalSorter, RUN_RECORDS} from './external-sort.js'
import {CHECK_IDS, SEVERITY, type CheckId, type Violation} from './checks/types.js'

/**
 * A violation as found: the order it was found in (LATER + a rank: see laterRank; equal ones in the order
 * added, the sorters being stable), and the summary index it counts toward (-1: none).
 */
interface Found {
  seq: number
  sum: number
  v: Violation
}

/** Added to the rank of a violation found `laterRank` (above every count of violations: ranks < 2^53 − 2^40). */
const LATER = 2 ** 40

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Where the checks report (the ViolationSink of checks/types.ts, deduplicated at the end: finish). */
export class ViolationCollector {
  /** Violations added, duplicates of the same scope left out. */
  count = 0
  private sum = -1
  /**
   * Violations added while this is 0 or more are taken as found after every other one (ties, and which of two
   * duplicates stays), in the order of this rank, then in the order added: check --infer judges inferred
   * handoffs as each is done with, out of hid order, and the rank is the handoff's place in hid order, so that
   * they are taken as found as when every inferred one was judged at the end, in hid order. (One order number
   * per rank: the sorts are stable, so violations of one rank stay in the order added.)
   */
  laterRank = -1
  private readonly scopeKeys = new Set<string>()
  private readonly found: ExternalSorter<Found>

  constructor(private readonly runSize: number) {
    this.found = new ExternalSorter<Found>((a, b) => cmp(a.v.id, b.v.id) || cmp(a.v.file, b.v.file) || a.v.frame - b.v.frame ||
      cmp(a.v.field ?? '', b.v.field ?? '') || a.seq - b.seq, 'handoff-violations-found-', runSize)
  }

  /** The summary index the next ones count toward (-1: none): a handoff judged, retired, or its requests replayed. */
  set scope(sum: number) {
    this.sum = sum
    this.scopeKeys.clear()
  }

  add(v: Omit<Violation, 'severity'>): void {
    const key = `${v.id}|${v.file}|${v.frame}|${v.field ?? ''}`
    if (this.scopeKeys.has(key)) return
    this.scopeKeys.add(key)
    const n = this.count++
    this.found.add({seq: this.laterRank >= 0 ? LATER + this.laterRank : n, sum: this.sum, v: {...v, severity: SEVERITY[v.id]} as Violation})
  }

  /**
   * The violations without duplicates, in `order` (stable: ties in the order found), and their
   * counts; `dropped(sum)` for each duplicate that counted toward summary `sum`.
   */
  finish(order: (a: Violation, b: Violation) => number, dropped: (sum: number) => void): {list: ViolationList; errors: number; warnings: number; byId: Partial<Record<CheckId, number>>} {
    const kept = new ExternalSorter<Found>((a, b) => order(a.v, b.v) || a.seq - b.seq, 'handoff-violations-', this.runSize)
    let last: Violation | null = null
    const n: Record<string, number> = {}
    let errors = 0
    for (const f of this.found.sorted()) {
      const v = f.v
      if (last !== null && last.id === v.id && last.file === v.file && last.frame === v.frame && (last.field ?? '') === (v.field ?? '')) {
        if (f.sum >= 0) dropped(f.sum)
        continue
      }
      last = v
      kept.add(f)
      n[v.id] = (n[v.id] ?? 0) + 1
      if (v.severity === 'error') errors++
    }
    this.found.remove()
    const byId: Partial<Record<CheckId, number>> = {}
    for (const id of CHECK_IDS) if (n[id]) byId[id] = n[id]
    return {list: new ViolationList(kept), errors, warnings: kept.length - errors, byId}
  }
}

/** The violations in report order, read (from disk, when they went there) each time they are walked. */
export class ViolationList implements Iterable<Violation> {
  readonly length: number

  constructor(private readonly sorted: ExternalSorter<Found>, private readonly map: ((v: Violation) => Violation) | null = null) {
    this.length = sorted.length
  }

  * [Symbol.iterator](): Iterator<Violation> {
    for (const f of this.sorted.sorted()) yield this.map ? this.map(f.v) : f.v
  }

  /** The same violations, each read through `map` (the stdin spool's name made `<stdin>`). */
  mapped(map: (v: Violation) => Violation): ViolationList {
    return new ViolationList(this.sorted, map)
  }

  toArray(): Violation[] {
    return [...this]
  }

  /** Written as an array (by JSON.stringify, and cli/render/json-stream.ts walks it as one). */
  toJSON(): Violation[] {
    return [...this]
  }
}

/** Records per run: on disk past RUN_RECORDS for the CLI, never for runCheck's arrays. */
export function violationRunSize(onDisk: boolean): number {
  return onDisk ? RUN_RECORDS : Infinity
}

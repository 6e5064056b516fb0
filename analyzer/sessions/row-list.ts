// The rows of `sessions`, in the order they are printed. Merged rows: by
// first sighting (argument order, then frame); the merger retires
// connections as they go quiet, in no such order. Per-view rows: by file (in
// argument order), interface, first frame; the tracker makes a row when its
// session finishes, and a handoff's rows wait for its latency
// (view-latency.ts). So they are sorted here: in memory for a caller that
// wants an array (collectSessions), on disk for the CLI (external-sort.ts:
// sorted runs merged as they are read), since there is one per connection
// (per session per view) of the trace and the text and --json outputs only
// walk them (issue 5: memory follows the connections open at once, not the
// trace).
//
// Rows go to disk as JSON and come back through JSON.parse: the same keys in
// the same order, the same numbers (a double's JSON text reads back exactly;
// -0 prints as 0 either way), so the output is the same bytes.
import {ExternalSorter} from '../external-sort.js'
import type {ConnectionRow} from './merge.js'
import type {SessionRow} from './sessions.js'

/** Records per sorted run on disk: a merged row is ~1–3 KiB of JSON, so a run stays a few MiB in memory. */
export const RUN_ROWS = 1024

/**
 * Rows kept sorted as records R holding them (their sort key beside each row): walked in that order, again and
 * again (text output walks twice: widths, then lines), written out as an array.
 */
class SortedRows<R, Row> implements Iterable<Row> {
  protected readonly sorter: ExternalSorter<R>

  /** `runRows`: rows held before a sorted run goes to disk (Infinity: never). */
  constructor(cmp: (a: R, b: R) => number, runRows: number, private readonly rowOf: (r: R) => Row) {
    this.sorter = new ExternalSorter<R>(cmp, 'handoff-sessions-', runRows)
  }

  /** Whether rows went to disk (tests). */
  get onDisk(): boolean {
    return this.sorter.onDisk
  }

  get length(): number {
    return this.sorter.length
  }

  /** In order; call after the last add. */
  * [Symbol.iterator](): Iterator<Row> {
    for (const x of this.sorter.sorted()) yield this.rowOf(x)
  }

  toArray(): Row[] {
    return [...this]
  }

  /** Written as an array (by JSON.stringify; cli/render/json-stream.ts walks it as one). */
  toJSON(): Row[] {
    return [...this]
  }

  remove(): void {
    this.sorter.remove()
  }
}

interface Keyed {
  /** Group.firstSeen: fileIndex · 2^32 + first frame (unique: a frame starts one session). */
  k: number
  c: ConnectionRow
}

/** The merged rows, in order of first sighting. */
export class ConnectionList extends SortedRows<Keyed, ConnectionRow> {
  constructor(runRows: number) {
    super((a, b) => a.k - b.k, runRows, (x) => x.c)
  }

  add(firstSeen: number, c: ConnectionRow): void {
    this.sorter.add({k: firstSeen, c})
  }
}

/** A per-view row and its place: the file's argument position, then interface, first frame, and the order rows were made. */
interface Placed {
  o: number
  i: number
  f: number
  s: number
  r: SessionRow
}

const byPlace = (a: Placed, b: Placed) => a.o - b.o || a.i - b.i || a.f - b.f || a.s - b.s

/** The shown rows of --per-view, sorted as that mode always printed them (a stable sort of the rows in the order made). */
export class SessionRowList extends SortedRows<Placed, SessionRow> {
  private made = 0

  constructor(runRows: number) {
    super(byPlace, runRows, (x) => x.r)
  }

  /**
   * The number the next row made takes: rows held a while (view-latency.ts) keep the place they were made in, so
   * that rows equal in the sort (the same file given twice) come in the order they always did.
   */
  nextSeq(): number {
    return this.made++
  }

  /** `fileOrder`: the file's position among the arguments (the last one of that name, as before). */
  add(fileOrder: number, seq: number, r: SessionRow): void {
    this.sorter.add({o: fileOrder, i: r.interface, f: r.firstFrame, s: seq, r})
  }
}

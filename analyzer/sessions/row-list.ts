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

interface Keyed {
  /** Group.firstSeen: fileIndex · 2^32 + first frame (unique: a frame starts one session). */
  k: number
  c: ConnectionRow
}

export class ConnectionList implements Iterable<ConnectionRow> {
  private readonly sorter: ExternalSorter<Keyed>

  /** `runRows`: rows held before a sorted run goes to disk (Infinity: never). */
  constructor(runRows: number) {
    this.sorter = new ExternalSorter<Keyed>((a, b) => a.k - b.k, 'handoff-sessions-', runRows)
  }

  /** Whether rows went to disk (tests). */
  get onDisk(): boolean {
    return this.sorter.onDisk
  }

  get length(): number {
    return this.sorter.length
  }

  add(firstSeen: number, c: ConnectionRow): void {
    this.sorter.add({k: firstSeen, c})
  }

  /** In order of first sighting; call after the last add. Can be walked again (text output walks twice: widths, then lines). */
  * [Symbol.iterator](): Iterator<ConnectionRow> {
    for (const x of this.sorter.sorted()) yield x.c
  }

  toArray(): ConnectionRow[] {
    return [...this]
  }

  /** Written as an array (by JSON.stringify; cli/render/json-stream.ts walks it as one). */
  toJSON(): ConnectionRow[] {
    return [...this]
  }

  remove(): void {
    this.sorter.remove()
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
export class SessionRowList implements Iterable<SessionRow> {
  private readonly sorter: ExternalSorter<Placed>
  private made = 0

  constructor(runRows: number) {
    this.sorter = new ExternalSorter<Placed>(byPlace, 'handoff-sessions-', runRows)
  }

  get length(): number {
    return this.sorter.length
  }

  /** Whether rows went to disk (tests). */
  get onDisk(): boolean {
    return this.sorter.onDisk
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

  * [Symbol.iterator](): Iterator<SessionRow> {
    for (const x of this.sorter.sorted()) yield x.r
  }

  toArray(): SessionRow[] {
    return [...this]
  }

  /** Written as an array (by JSON.stringify; cli/render/json-stream.ts walks it as one). */
  toJSON(): SessionRow[] {
    return [...this]
  }

  remove(): void {
    this.sorter.remove()
  }
}

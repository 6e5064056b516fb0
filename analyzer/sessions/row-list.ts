// The merged rows of `sessions`, in the order they are printed: by first
// sighting (argument order, then frame). The merger retires connections as
// they go quiet, in no such order, so they are sorted here: in memory for a
// caller that wants an array (collectSessions), on disk for the CLI
// (external-sort.ts: sorted runs merged as they are read), since there is one
// per connection of the trace and the text and --json outputs only walk them
// (issue 5: memory follows the connections open at once, not the trace).
//
// Rows go to disk as JSON and come back through JSON.parse: the same keys in
// the same order, the same numbers (a double's JSON text reads back exactly;
// -0 prints as 0 either way), so the output is the same bytes.
import {ExternalSorter} from '../external-sort.js'
import type {ConnectionRow} from './merge.js'

/** Records per sorted run on disk: a merged row is ~1–3 KiB of JSON, so a run stays a few MiB in memory. */
const RUN_ROWS = 1024

interface Keyed {
  /** Group.firstSeen: fileIndex · 2^32 + first frame (unique: a frame starts one session). */
  k: number
  c: ConnectionRow
}

export class ConnectionList implements Iterable<ConnectionRow> {
  private readonly sorter: ExternalSorter<Keyed>

  constructor(onDisk: boolean) {
    this.sorter = new ExternalSorter<Keyed>((a, b) => a.k - b.k, 'handoff-sessions-', onDisk ? RUN_ROWS : Infinity)
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

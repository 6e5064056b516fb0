// The handoff latency of --per-view rows. A row's latency is its hid's (the
// same on every row of it: handoff.ts's latencyFor over every client SYN
// tied to the handoff, at any view, shown or not), so a shown handoff row
// waits here, with the SYN sightings of its hid, until no row can still be
// tied to the handoff: when the sessions pass lets it go
// (handoff-stream.ts), or at the end when every handoff is held to the end
// (files read one after the other, --infer). Then its rows get the latency
// and go on to the row list (row-list.ts). Memory: the rows and SYNs of the
// handoffs in progress, not the trace's.
//
// Streamed, a hid is done when its handoff is let go: a hid names one
// handoff (the spec: unique in the cluster). Held to the end, the latencies
// are those of latencies() over every handoff, as they always were.
import {latencies, latencyFor, type HandoffInfo, type Latency, type SynSighting} from './handoff.js'
import type {SessionRow} from './sessions.js'

type IfaceName = (file: string, iface: number) => string | null

/** A row waiting for its latency, with what it needs to take its place in the list. */
interface Waiting {
  fileOrder: number
  seq: number
  row: SessionRow
}

interface Pending {
  /** The handoff of the hid's first SYN or waiting row. */
  handoff: HandoffInfo
  syns: SynSighting[]
  rows: Waiting[]
}

export class ViewLatencies {
  private readonly byHid = new Map<string, Pending>()
  private waiting = 0
  /** Most rows waiting at once (tests). */
  peakWaiting = 0

  constructor(private readonly ifaceName: IfaceName,
    /** Where a row goes once it has its latency. */
    private readonly out: (fileOrder: number, seq: number, row: SessionRow) => void) {}

  /** A client SYN tied to handoff h (a latency candidate). */
  syn(h: HandoffInfo, s: SynSighting): void {
    this.pending(h).syns.push(s)
  }

  /** A shown row: one of a handoff waits for its latency; any other goes on. */
  row(h: HandoffInfo | null, fileOrder: number, seq: number, row: SessionRow): void {
    if (h === null || row.hid === null || row.kind !== 'handoff') this.out(fileOrder, seq, row)
    else {
      this.pending(h).rows.push({fileOrder, seq, row})
      if (++this.waiting > this.peakWaiting) this.peakWaiting = this.waiting
    }
  }

  /** Handoff h was let go (streamed): no row can be tied to it any more. */
  done(h: HandoffInfo): void {
    const p = this.byHid.get(h.hid)
    if (p === undefined || p.handoff !== h) return
    this.byHid.delete(h.hid)
    this.release(p, latencyFor(p.handoff, p.syns, this.ifaceName))
  }

  /**
   * The end: every hid left, with its latency from `all` when every handoff was held (latencies() over them all,
   * the last of a hid winning), else from its own handoff.
   */
  finish(all: readonly HandoffInfo[] | null): void {
    const held = all === null ? null : latencies(all, [...this.byHid.values()].flatMap((p) => p.syns), this.ifaceName)
    for (const [hid, p] of this.byHid) this.release(p, held === null ? latencyFor(p.handoff, p.syns, this.ifaceName) : held.get(hid))
    this.byHid.clear()
  }

  private pending(h: HandoffInfo): Pending {
    let p = this.byHid.get(h.hid)
    if (p === undefined) this.byHid.set(h.hid, p = {handoff: h, syns: [], rows: []})
    return p
  }

  private release(p: Pending, l: Latency | undefined): void {
    this.waiting -= p.rows.length
    for (const w of p.rows) {
      if (l !== undefined) {
        w.row.handoffLatencyMs = l.ms
        w.row.handoffLatencyFrom = {synView: l.synView, ackView: l.ackView, sameClock: l.sameClock}
      }
      this.out(w.fileOrder, w.seq, w.row)
    }
  }
}

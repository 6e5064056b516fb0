// The handoffs `check --infer` recovered from the traffic (infer.ts), on
// disk in hid order — the order of their client SYNs' capture times — so
// that the segment pass takes each one on as it comes near, as it takes the
// control channel's from their spool (handoff-feed.ts), and memory follows
// the handoffs in progress, not the trace. A record holds what the handoff
// is made of: its connection, the values of its translation state (made
// again when read) and what the inference found (InferredHandoff).
import {TranslationState, type TranslationValues} from '../../replayer/engine/state.js'
import type {Handoff} from './assemble.js'
import {RecordSpool, type SpoolReader} from './control-spool.js'
import type {InferredHandoff} from './infer.js'

interface InferredRecord {
  /** Capture time of the client's SYN (on the clock the segment pass goes by: check's corrected one when it has one). */
  t: number
  hid: string
  cip: string
  cport: number
  vip: string
  vport: number
  baddr: string
  values: TranslationValues
  inferred: InferredHandoff
}

export class InferredSpool {
  private readonly spool = new RecordSpool<InferredRecord>('handoff-inferred-', 'json')

  get count(): number {
    return this.spool.count
  }

  write(h: Handoff, t: number, values: TranslationValues): void {
    this.spool.write({t, hid: h.hid, cip: h.cip, cport: h.cport, vip: h.vip, vport: h.vport, baddr: h.baddr, values, inferred: h.inferred!})
  }

  /** The handoffs from the first one, in hid order (call after the last write). */
  reader(): InferredReader {
    return new InferredReader(this.spool.reader())
  }

  remove(): void {
    this.spool.remove()
  }
}

export class InferredReader {
  /** The next handoff's place in hid order (its `rank`). */
  private rank = 0

  constructor(private readonly r: SpoolReader<InferredRecord>) {}

  /** Capture time of the next handoff's client SYN; null at the end. */
  peekT(): number | null {
    return this.r.peek()?.t ?? null
  }

  /** The next handoff, made (its translation state and its rank with it), and its SYN's time; null at the end. */
  next(): {h: Handoff; t: number} | null {
    const x = this.r.next()
    if (x === null) return null
    const h: Handoff = {
      hid: x.hid, terminates: [], state: TranslationState.fromValues(x.values), cip: x.cip, cport: x.cport, vip: x.vip, vport: x.vport,
      baddr: x.baddr, segs: [], judged: false, streamEvents: null, inferred: x.inferred, rank: this.rank++,
    }
    return {h, t: x.t}
  }
}

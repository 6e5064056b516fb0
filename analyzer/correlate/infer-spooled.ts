// The inference of `check --infer` and `sessions --infer` when the pass
// after it streams: infer.ts's inferStreamed writes each handoff it
// recognises, in hid order, to an InferredSpool (inferred-spool.ts), which
// that pass reads as it comes near them, like the control spool. Views
// still of unknown place are then placed by the inferred handoffs' legs
// (their endpoints read from the spool, the only time they are all in
// memory) and the inference runs again, as vantage-infer.ts's inferPlacing
// does for handoffs held in memory. The control channel's handoffs are known
// from the control spool (KnownHandoffs: a few numbers each).
import type {ControlSpool} from './control-spool.js'
import {HandoffFeed} from './handoff-feed.js'
import {inferStreamed, KnownHandoffs, type StreamedInference} from './infer.js'
import {InferredSpool} from './inferred-spool.js'
import {inferViewKinds, type HandoffEndpoints} from './vantage-infer.js'
import type {VantageAssignment} from './vantage.js'

/** What check --infer needs of the control channel's handoffs (infer.ts's KnownHandoffs), read from the spool. */
export function knownFromSpool(spool: ControlSpool): KnownHandoffs {
  const known = new KnownHandoffs()
  const feed = new HandoffFeed(spool.reader())
  // Each handoff let go as soon as it is made: its hid is remembered (a second request of it is ignored, as
  // assembleHandoffs does), nothing else.
  feed.attach({handoff: (h) => { known.add(h); feed.retire(h, -Infinity) }, ack: () => {}, terminate: () => {}})
  feed.advanceTo(Infinity)
  return known
}

export interface SpooledInference {
  /** The inferred handoffs, in hid order (the caller removes it). */
  spool: InferredSpool
  /** The last run's. */
  result: StreamedInference
  /** The assignments given, and the views the inferred handoffs' legs placed. */
  vantage: VantageAssignment[]
}

/**
 * The handoffs no control message names, inferred into a spool. One file, or several read merged (by corrected
 * times when clockOffsetsSec): windowed, holding the connections in progress only (infer.ts); several read one
 * after the other: every connection held to the end.
 */
export async function inferSpooled(paths: readonly string[], opts: {
  controlPort: number
  vantage: readonly VantageAssignment[]
  control: ControlSpool
  merged: boolean
  clockOffsetsSec?: readonly number[] | undefined
  lookaheadSec?: number
  idleSec?: number
  /** Each run of the inference (twice when the inferred handoffs placed views). */
  onRun?: (r: StreamedInference) => void
}): Promise<SpooledInference> {
  const known = knownFromSpool(opts.control)
  const windowed = paths.length === 1 || opts.merged
  let vantage = [...opts.vantage]
  // The current run's spool (the first run's removed when the inference runs again).
  const cur: {spool: InferredSpool | null} = {spool: null}
  const run = async (): Promise<StreamedInference> => {
    cur.spool?.remove()
    const into = cur.spool = new InferredSpool()
    const r = await inferStreamed(paths, {controlPort: opts.controlPort, vantage, known, windowed, merged: opts.merged,
      clockOffsetsSec: opts.clockOffsetsSec, ...(opts.lookaheadSec !== undefined ? {lookaheadSec: opts.lookaheadSec} : {}),
      ...(opts.idleSec !== undefined ? {idleSec: opts.idleSec} : {})},
    (h, t, values) => into.write(h, t, values))
    opts.onRun?.(r)
    return r
  }
  try {
    let result = await run()
    if (result.unplaced) {
      const placedByLegs = await inferViewKinds(paths, endpointsOf(cur.spool!), opts.controlPort, vantage)
      if (placedByLegs.length > 0) {
        vantage = [...vantage, ...placedByLegs]
        result = await run()
      }
    }
    return {spool: cur.spool!, result, vantage}
  } catch (e) {
    cur.spool?.remove()
    throw e
  }
}

/** The legs of the inferred handoffs, for placing views by them (inferViewKinds). */
function endpointsOf(inferred: InferredSpool): HandoffEndpoints[] {
  const out: HandoffEndpoints[] = []
  const r = inferred.reader()
  for (let x = r.next(); x !== null; x = r.next()) out.push({cip: x.h.cip, cport: x.h.cport, vip: x.h.vip, baddr: x.h.baddr, ciss: x.h.inferred!.ciss})
  return out
}

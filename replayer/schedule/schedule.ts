// Send-time schedule of a replay: which packet goes out when.
//
// Pure arithmetic over the captured timestamps — no clock, no sleeping — so
// the unit tests check it exactly. pacer.ts turns the offsets into real sends.
//
// Timing modes (tcpreplay's, same names):
//  - 'captured': packet i leaves at (ts[i] − ts[0]) / multiplier after the
//    start. Captured timestamps that go backwards (merged views, clock steps)
//    are not replayed backwards: that packet leaves at once after the one
//    before (gap 0), and `backwards` counts them.
//  - 'pps': packet n (n counts every send, across loops) leaves at n / pps.
//  - 'topspeed': every offset is 0 — send as fast as possible.
// Loops: loop k replays the whole list again. In 'captured' mode loop k
// starts where loop k−1 ended (its last packet's offset: the captured
// inter-packet gaps are kept, and no gap is invented between loops, as
// tcpreplay does). --limit stops after that many sends in total.
//
// Offsets are integer nanoseconds held in a Float64Array (exact up to 2^53
// ns ≈ 104 days).

export type TimingMode = 'captured' | 'pps' | 'topspeed'

export interface ScheduleOptions {
  mode: TimingMode
  /** 'captured' only: speed factor (2 = twice as fast). Default 1. */
  multiplier?: number
  /** 'pps' only: packets per second. */
  pps?: number
  /** Times the whole list is sent. Default 1. */
  loop?: number
  /** Sends in total at most (0 / undefined = no limit). */
  limit?: number
}

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScheduleError'
  }
}

export interface Schedule {
  /** Number of sends (all loops, after --limit). */
  readonly length: number
  /** Packets per loop. */
  readonly perLoop: number
  /** Index into the packet list of send n. */
  packetIndex(n: number): number
  /** Offset of send n from the start, in ns. */
  readonly offsetsNs: Float64Array
  /** Captured timestamps that went backwards (sent at once after the previous packet). */
  readonly backwards: number
  /** Offset of the last send (ns): the replay's planned duration. */
  readonly durationNs: number
}

function checkOptions(o: ScheduleOptions): {loop: number; limit: number} {
  const loop = o.loop ?? 1
  if (!Number.isInteger(loop) || loop < 1) throw new ScheduleError(`--loop must be a whole number ≥ 1, got ${loop}`)
  const limit = o.limit ?? 0
  if (!Number.isInteger(limit) || limit < 0) throw new ScheduleError(`--limit must be a whole number ≥ 1, got ${limit}`)
  if (o.mode === 'captured') {
    const m = o.multiplier ?? 1
    if (!Number.isFinite(m) || m <= 0) throw new ScheduleError(`--multiplier must be a positive number, got ${m}`)
  } else if (o.mode === 'pps') {
    if (o.pps === undefined || !Number.isFinite(o.pps) || o.pps <= 0) throw new ScheduleError(`--pps must be a positive number, got ${o.pps}`)
  } else if (o.mode !== 'topspeed') throw new ScheduleError(`unknown timing mode ${String(o.mode)}`)
  return {loop, limit}
}

/**
 * Builds the schedule for packets whose captured times are (tsSec[i],
 * tsNsec[i]), in send order.
 */
export function buildSchedule(tsSec: ArrayLike<number>, tsNsec: ArrayLike<number>, o: ScheduleOptions): Schedule {
  const {loop, limit} = checkOptions(o)
  const perLoop = tsSec.length
  if (tsNsec.length !== perLoop) throw new ScheduleError('timestamp arrays differ in length')
  const total = perLoop * loop
  const length = limit > 0 ? Math.min(limit, total) : total
  const offsets = new Float64Array(length)
  let backwards = 0
  if (o.mode === 'captured' && perLoop > 0) {
    const m = o.multiplier ?? 1
    // Gaps of one loop, in captured ns (exact integers: seconds and ns apart).
    const rel = new Float64Array(perLoop)
    let prev = 0
    for (let i = 1; i < perLoop; i++) {
      const d = (tsSec[i] - tsSec[i - 1]) * 1e9 + (tsNsec[i] - tsNsec[i - 1])
      const gap = d < 0 ? 0 : d
      if (d < 0) backwards++
      prev += gap
      rel[i] = prev
    }
    const span = rel[perLoop - 1]
    for (let n = 0; n < length; n++) {
      const k = Math.floor(n / perLoop)
      const i = n - k * perLoop
      offsets[n] = Math.round((k * span + rel[i]) / m)
    }
  } else if (o.mode === 'pps') {
    const step = 1e9 / o.pps!
    for (let n = 0; n < length; n++) offsets[n] = Math.round(n * step)
  }
  return {
    length,
    perLoop,
    packetIndex: (n: number) => n % perLoop,
    offsetsNs: offsets,
    backwards,
    durationNs: length > 0 ? offsets[length - 1] : 0,
  }
}

/** Percentile (0..100) of a sample, nearest-rank on a sorted copy. NaN for an empty sample. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return NaN
  const r = Math.ceil((p / 100) * n)
  return sorted[Math.min(n - 1, Math.max(0, r - 1))]
}

export interface GapErrorStats {
  /** Gaps compared (sends − 1). */
  gaps: number
  /** |actual gap − planned gap|, in µs. */
  p50Us: number
  p99Us: number
  maxUs: number
  /** Mean of (actual − planned), µs: a steady lag or lead. */
  meanSignedUs: number
}

/**
 * Inter-packet gap error of a replay: for every pair of consecutive sends,
 * |(actual[n] − actual[n−1]) − (planned[n] − planned[n−1])|. Both arrays in ns.
 */
export function gapErrors(plannedNs: ArrayLike<number>, actualNs: ArrayLike<number>, count = actualNs.length): GapErrorStats {
  const n = Math.min(count, plannedNs.length, actualNs.length)
  if (n < 2) return {gaps: 0, p50Us: NaN, p99Us: NaN, maxUs: NaN, meanSignedUs: NaN}
  const err = new Float64Array(n - 1)
  let sum = 0
  for (let i = 1; i < n; i++) {
    const e = (actualNs[i] - actualNs[i - 1]) - (plannedNs[i] - plannedNs[i - 1])
    sum += e
    err[i - 1] = Math.abs(e)
  }
  err.sort()
  return {
    gaps: n - 1,
    p50Us: percentile(err, 50) / 1e3,
    p99Us: percentile(err, 99) / 1e3,
    maxUs: err[n - 2] / 1e3,
    meanSignedUs: sum / (n - 1) / 1e3,
  }
}

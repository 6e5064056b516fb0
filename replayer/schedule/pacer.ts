// The pacer: runs a Schedule against a clock, calling send(n) at each planned
// offset, and records when each send really happened.
//
// Precision in Node: timers fire late by up to a few milliseconds and never
// early, so the pacer sleeps (setTimeout, which keeps signals and the event
// loop alive) only until `spinNs` (default 2.5 ms) before the deadline, then
// spins on the monotonic clock (process.hrtime.bigint) until the deadline.
// The recorded time of a send is the clock read right before send() is
// called. A send that is already late goes out at once (no catching up by
// bunching: the schedule is absolute, so later packets are on time again as
// soon as the sender keeps up).
//
// The clock is injectable, so tests check the pacing logic without sleeping.

export interface PacerClock {
  /** Monotonic time in ns since some origin (a JS number; exact to 2^53 ns). */
  now(): number
  /** Sleep about `ms` milliseconds (may be longer, never much shorter). */
  sleep(ms: number): Promise<void>
  /** Let the event loop run (signals, stderr writes) without sleeping. */
  yieldNow(): Promise<void>
}

/** The real clock: hrtime relative to its creation, setTimeout, setImmediate. */
export function systemClock(): PacerClock {
  const origin = process.hrtime.bigint()
  return {
    now: () => Number(process.hrtime.bigint() - origin),
    sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
    yieldNow: () => new Promise((res) => setImmediate(res)),
  }
}

export interface PaceOptions {
  clock?: PacerClock
  /** Spin (instead of sleeping) for the last `spinNs` before a deadline. Default 2.5 ms. */
  spinNs?: number
  /** Called about every progressEveryNs with the sends so far. */
  onProgress?: (sent: number, elapsedNs: number) => void
  /** Default 1 s. */
  progressEveryNs?: number
  /** All offsets are 0: the send-as-fast-as-possible loop (the clock is read every 256 sends; actualNs not filled). */
  topspeed?: boolean
  /** Checked before every send; true ends the run early (e.g. set by SIGINT). */
  shouldStop?: () => boolean
}

export interface PaceResult {
  /** Sends attempted (send() was called), ≤ offsets.length. */
  sent: number
  /** Clock time of each send relative to the start (ns); first `sent` entries valid. */
  actualNs: Float64Array
  /** From the start to the return of the last send (ns). */
  elapsedNs: number
  /** Stopped by shouldStop(). */
  interrupted: boolean
  /** Sends that went out more than 1 ms after their deadline. */
  late: number
}

/** Without slack, the pacer still lets the event loop run this often. */
const FORCED_YIELD_NS = 250_000_000
/** Yield (when there is slack, or at top speed) at most this often. */
const YIELD_EVERY_NS = 50_000_000

/**
 * Sends n = 0 … offsets.length−1 at start + offsets[n]. `send` may throw: the
 * exception ends the run (the caller decides what a failure means; LiveSink
 * counts them instead of throwing).
 */
export async function pace(offsetsNs: Float64Array, send: (n: number) => void, opts: PaceOptions = {}): Promise<PaceResult> {
  const clock = opts.clock ?? systemClock()
  const spin = opts.spinNs ?? 2_500_000
  const every = opts.progressEveryNs ?? 1_000_000_000
  const total = offsetsNs.length
  const actual = new Float64Array(total)
  const start = clock.now()
  let lastYield = 0
  let nextProgress = every
  let late = 0
  let n = 0
  let interrupted = false
  if (opts.topspeed === true) {
    // No deadlines: send back to back; look at the clock (yield, progress)
    // once every 256 sends only. No send times are recorded.
    const stop = opts.shouldStop
    while (n < total && !interrupted) {
      const end = Math.min(total, n + 256)
      for (; n < end; n++) {
        if (stop !== undefined && stop()) {
          interrupted = true
          break
        }
        send(n)
      }
      const now = clock.now() - start
      if (now - lastYield > YIELD_EVERY_NS) {
        await clock.yieldNow()
        lastYield = clock.now() - start
      }
      if (opts.onProgress !== undefined && now >= nextProgress) {
        opts.onProgress(n, now)
        nextProgress = now + every
      }
    }
    return {sent: n, actualNs: actual, elapsedNs: clock.now() - start, interrupted, late: 0}
  }
  for (; n < total; n++) {
    if (opts.shouldStop?.()) {
      interrupted = true
      break
    }
    const target = offsetsNs[n]
    let now = clock.now() - start
    if (target - now > spin + 500_000) {
      await clock.sleep((target - now - spin) / 1e6)
      lastYield = now = clock.now() - start
      if (opts.shouldStop?.()) {
        interrupted = true
        break
      }
    } else if (now - lastYield > FORCED_YIELD_NS || (now - lastYield > YIELD_EVERY_NS && (target - now > 200_000 || target === 0))) {
      await clock.yieldNow()
      lastYield = now = clock.now() - start
    }
    while (now < target) now = clock.now() - start
    if (now - target > 1_000_000) late++
    actual[n] = now
    send(n)
    if (opts.onProgress !== undefined && now >= nextProgress) {
      opts.onProgress(n + 1, now)
      nextProgress = now + every
    }
  }
  const elapsed = clock.now() - start
  return {sent: n, actualNs: actual, elapsedNs: elapsed, interrupted, late}
}

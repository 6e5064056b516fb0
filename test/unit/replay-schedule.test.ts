// The replay schedule (pure math) and the pacer against a fake clock: no
// sleeping, every number exact.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {buildSchedule, gapErrors, pace, percentile, ScheduleError, type PacerClock} from '../../replayer/schedule/index.js'

const SEC = [100, 100, 100, 101, 101]
const NSEC = [0, 1000, 500_000, 0, 250_000_000]

test('as captured: offsets are the captured gaps, divided by the multiplier', () => {
  const s = buildSchedule(SEC, NSEC, {mode: 'captured'})
  assert.deepEqual([...s.offsetsNs], [0, 1000, 500_000, 1e9, 1.25e9])
  assert.equal(s.durationNs, 1.25e9)
  const f = buildSchedule(SEC, NSEC, {mode: 'captured', multiplier: 4})
  assert.deepEqual([...f.offsetsNs], [0, 250, 125_000, 2.5e8, 3.125e8])
  const slow = buildSchedule(SEC, NSEC, {mode: 'captured', multiplier: 0.5})
  assert.deepEqual([...slow.offsetsNs], [0, 2000, 1_000_000, 2e9, 2.5e9])
})

test('as captured: a timestamp that goes backwards is sent at once, and counted', () => {
  const s = buildSchedule([10, 10, 10, 10], [0, 5000, 2000, 9000], {mode: 'captured'})
  assert.deepEqual([...s.offsetsNs], [0, 5000, 5000, 12000])
  assert.equal(s.backwards, 1)
})

test('loops continue where the previous loop ended; --limit cuts the total', () => {
  const s = buildSchedule([0, 0, 0], [0, 10, 30], {mode: 'captured', loop: 3})
  assert.equal(s.length, 9)
  assert.deepEqual([...s.offsetsNs], [0, 10, 30, 30, 40, 60, 60, 70, 90])
  assert.deepEqual([...Array(9).keys()].map((n) => s.packetIndex(n)), [0, 1, 2, 0, 1, 2, 0, 1, 2])
  const l = buildSchedule([0, 0, 0], [0, 10, 30], {mode: 'captured', loop: 3, limit: 4})
  assert.deepEqual([...l.offsetsNs], [0, 10, 30, 30])
  assert.equal(buildSchedule([0, 0], [0, 1], {mode: 'topspeed', limit: 10}).length, 2)
})

test('fixed pps counts every send across loops; top speed is all zeros', () => {
  const p = buildSchedule([5, 9, 1], [0, 0, 0], {mode: 'pps', pps: 4, loop: 2})
  assert.deepEqual([...p.offsetsNs], [0, 2.5e8, 5e8, 7.5e8, 1e9, 1.25e9])
  const p3 = buildSchedule([0, 0, 0, 0], [0, 0, 0, 0], {mode: 'pps', pps: 3})
  assert.deepEqual([...p3.offsetsNs], [0, 333_333_333, 666_666_667, 1e9])
  const t = buildSchedule([5, 9, 1], [0, 0, 0], {mode: 'topspeed', loop: 2})
  assert.deepEqual([...t.offsetsNs], [0, 0, 0, 0, 0, 0])
})

test('bad options are named', () => {
  assert.throws(() => buildSchedule([0], [0], {mode: 'captured', multiplier: 0}), (e: Error) => e instanceof ScheduleError && /--multiplier/.test(e.message))
  assert.throws(() => buildSchedule([0], [0], {mode: 'pps'}), /--pps/)
  assert.throws(() => buildSchedule([0], [0], {mode: 'topspeed', loop: 0}), /--loop/)
  assert.throws(() => buildSchedule([0], [0], {mode: 'topspeed', limit: 1.5}), /--limit/)
  assert.equal(buildSchedule([], [], {mode: 'captured'}).length, 0)
})

test('gap error: |actual gap − planned gap|, percentiles nearest-rank', () => {
  const planned = [0, 100, 200, 300, 400]
  const actual = [5, 105, 215, 300, 400] // gaps 100, 110, 85, 100 vs 100 → errors 0, 10, 15, 0 ns
  const g = gapErrors(planned, actual)
  assert.equal(g.gaps, 4)
  assert.equal(g.p50Us, 0)
  assert.equal(g.p99Us, 0.015)
  assert.equal(g.maxUs, 0.015)
  assert.equal(g.meanSignedUs, (0 + 10 - 15 + 0) / 4 / 1e3)
  assert.ok(Number.isNaN(gapErrors([0], [0]).p50Us))
  assert.equal(percentile([1, 2, 3, 4], 50), 2)
  assert.equal(percentile([1, 2, 3, 4], 100), 4)
})

/** A fake clock: every now() costs `tick` ns; sleep(ms) advances ms plus a fixed oversleep. */
function fakeClock(tick = 100, oversleepNs = 300_000): PacerClock & {t: number; sleeps: number[]; yields: number} {
  const c = {
    t: 0,
    sleeps: [] as number[],
    yields: 0,
    now: () => (c.t += tick),
    sleep: async (ms: number) => {
      c.sleeps.push(ms)
      c.t += ms * 1e6 + oversleepNs
    },
    yieldNow: async () => {
      c.yields++
    },
  }
  return c
}

test('pacer: sleeps until spinNs before a far deadline, spins the rest, never sends early', async () => {
  const clock = fakeClock()
  const offsets = Float64Array.from([0, 10_000, 5_000_000, 5_010_000, 100_000_000])
  const sentAt: number[] = []
  const r = await pace(offsets, () => sentAt.push(clock.t), {clock, spinNs: 1_500_000})
  assert.equal(r.sent, 5)
  for (let n = 0; n < 5; n++) {
    assert.ok(r.actualNs[n] >= offsets[n], `send ${n} early: ${r.actualNs[n]} < ${offsets[n]}`)
    assert.ok(r.actualNs[n] - offsets[n] <= 200, `send ${n} late by ${r.actualNs[n] - offsets[n]} ns`)
  }
  // Two far deadlines (5 ms and 100 ms away): two sleeps, each ending 1.5 ms (+ oversleep) early.
  assert.equal(clock.sleeps.length, 2)
  assert.ok(Math.abs(clock.sleeps[0] - 3.49) < 0.01, String(clock.sleeps[0])) // 5 ms − 10 µs already spent − 1.5 ms
  assert.equal(r.late, 0)
  const g = gapErrors(offsets, r.actualNs)
  assert.ok(g.p99Us < 0.3)
})

test('pacer: a send that is already late goes out at once and is counted late', async () => {
  const clock = fakeClock()
  let first = true
  const r = await pace(Float64Array.from([0, 1000, 2000]), () => {
    if (first) clock.t += 3_000_000 // the first send takes 3 ms
    first = false
  }, {clock})
  assert.equal(r.sent, 3)
  assert.equal(r.late, 2)
})

test('pacer: shouldStop ends the run before the next send; top speed yields to the event loop', async () => {
  const clock = fakeClock(1000)
  let sends = 0
  const r = await pace(new Float64Array(200_000), () => sends++, {clock, shouldStop: () => sends >= 150_000})
  assert.equal(r.sent, 150_000)
  assert.equal(r.interrupted, true)
  assert.ok(clock.yields >= 2, `yields ${clock.yields}`)
  const progress: number[] = []
  await pace(new Float64Array(5000), () => undefined, {clock: fakeClock(1_000_000), onProgress: (n) => progress.push(n)})
  assert.ok(progress.length >= 4 && progress.length <= 6, String(progress))
})

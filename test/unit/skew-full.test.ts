// SkewEstimator.full: addSkewSamples skips a handoff whose every pair of
// views is full (its samples would be dropped), so `full` must never say so
// of a pair that would still take a sample, and asking must not make a pair
// (the pairs' order decides which path places the views).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {SkewEstimator} from '../../analyzer/correlate/skew.js'
import type {View} from '../../analyzer/correlate/vantage.js'

const view = (iface: number, kind: View['kind']): View => ({fileIndex: 0, file: 'f', iface, name: `v${iface}`, kind, from: 'name'} as View)

test('a pair is full once it holds 2001 samples, both ways; one view twice is full; asking makes no pair', () => {
  const [a, b, c] = [view(0, 'client'), view(1, 'lan'), view(2, 'inside')]
  const e = new SkewEstimator()
  assert.equal(e.full(a, b), false)
  assert.equal(e.full(a, a), true)
  assert.deepEqual(e.offsets([a, b, c]).map((o) => o.offset), [null, null, null], 'asking made a pair')
  for (let i = 0; i < 2000; i++) e.add(a, i, b, i + 0.001)
  assert.equal(e.full(a, b), false)
  assert.equal(e.full(b, a), false)
  e.add(b, 5, a, 5)
  assert.equal(e.full(a, b), true)
  assert.equal(e.full(b, a), true)
  assert.equal(e.full(a, c), false)
  // Full means the next sample is dropped: the estimate does not move.
  const before = e.offsets([a, b])
  for (let i = 0; i < 5000; i++) e.add(a, i, b, i + 9)
  assert.deepEqual(e.offsets([a, b]), before)
})

// check --infer judges each inferred handoff as soon as it is done with, out
// of hid order, and puts what it finds back in hid order (its rank): the
// summaries in a list kept by index (on disk: sorted runs), the violations
// taken as found in rank order, the clock samples kept as a SkewEstimator fed
// in rank order keeps them. Each against the in-order version.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {HandoffSummary} from '../../analyzer/check.js'
import {SummaryList} from '../../analyzer/check-summaries.js'
import {ViolationCollector} from '../../analyzer/check-violations.js'
import {RankedSkewSamples, SkewEstimator} from '../../analyzer/correlate/skew.js'
import type {View} from '../../analyzer/correlate/vantage.js'
import {prng} from '../support/random.js'

function shuffled<T>(xs: readonly T[], rnd: () => number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

const summary = (i: number): HandoffSummary => ({hid: `inferred/${i + 1}`, connection: `c${i}`, outcome: 'handed-off', legs: {client: i},
  packetByPacket: {forward: 0, forwardMatched: 0, ret: 0, retMatched: 0}, violations: i % 3})

test('summaries put by index in any order are walked in index order, in memory and on disk (several runs), violations added after', () => {
  const n = 50
  const order = shuffled([...Array(n).keys()], prng(7))
  const want = [...Array(n).keys()].map((i) => ({...summary(i), violations: (i % 3) + (i % 5 === 0 ? 2 : 0)}))
  for (const onDisk of [false, true]) {
    const l = SummaryList.byIndex(onDisk, 4)
    for (const i of order) l.put(i, summary(i))
    for (let i = 0; i < n; i += 5) l.addViolations(i, 2)
    assert.equal(l.length, n)
    assert.deepEqual([...l], want, onDisk ? 'on disk' : 'in memory')
    assert.deepEqual([...l], want, 'walked again')
    const head = new SummaryList(onDisk)
    head.add(summary(100))
    assert.deepEqual([...head.followedBy(l).mapped((s) => ({...s, hid: s.hid.toUpperCase()}))].map((s) => s.hid),
      ['INFERRED/101', ...want.map((s) => s.hid.toUpperCase())])
  }
  assert.throws(() => SummaryList.byIndex(true).add(summary(0)), /internal error/)
  assert.throws(() => new SummaryList(true).put(0, summary(0)), /internal error/)
})

test('violations found by rank, ranks out of order: the same order and the same duplicate kept as found in rank order', () => {
  type V = {rank: number; id: 'seq-remap' | 'ack-remap'; frame: number; field: string}
  const rnd = prng(11)
  // Per rank, a handful of violations, some the same key as another rank's (which one stays depends on the order found).
  const byRank: V[][] = [...Array(40).keys()].map((rank) => [...Array(1 + (rank % 4)).keys()].map((k) => ({
    rank, id: k % 2 === 0 ? 'seq-remap' : 'ack-remap', frame: Math.floor(rnd() * 30), field: rank % 3 === 0 ? 'seq' : `f${k}`,
  })))
  const run = (ranks: number[], runSize: number) => {
    const col = new ViolationCollector(runSize)
    // A control handoff's first, found before any.
    col.add({id: 'seq-remap', hid: 'n1/1', connection: 'x', file: 'f', frame: 3, message: 'control', field: 'seq'})
    const dropped: number[] = []
    for (const rank of ranks) {
      col.scope = 1000 + rank
      col.laterRank = rank
      for (const v of byRank[rank]!) {
        col.add({id: v.id, hid: `inferred/${rank + 1}`, connection: 'x', file: 'f', frame: v.frame, message: `rank ${rank}`, field: v.field})
      }
    }
    col.laterRank = -1
    const r = col.finish((a, b) => a.frame - b.frame, (sum) => dropped.push(sum))
    return {list: r.list.toArray().map((v) => `${v.id} ${v.frame} ${v.field} ${v.message}`), dropped: dropped.sort((a, b) => a - b)}
  }
  const inOrder = run([...Array(40).keys()], Infinity)
  assert.ok(inOrder.dropped.length > 0, 'some duplicates across ranks')
  for (const runSize of [Infinity, 5]) assert.deepEqual(run(shuffled([...Array(40).keys()], prng(runSize === 5 ? 3 : 4)), runSize), inOrder)
})

test('clock samples added by rank, ranks out of order: the same offsets as a SkewEstimator fed in rank order (past MAX_SAMPLES)', () => {
  const view = (iface: number): View => ({file: 'f', fileIndex: 0, iface, name: `v${iface}`, kind: 'lan', from: 'name'} as View)
  const views = [view(0), view(1), view(2), view(3)]
  const rnd = prng(5)
  // 1000 handoffs of up to 30 samples each: pairs past 2001 samples, first seen at different ranks.
  const samples = [...Array(1000).keys()].map((rank) => [...Array(Math.floor(rnd() * 30)).keys()].map(() => {
    const a = Math.floor(rnd() * (rank < 100 ? 2 : 4))
    const b = (a + 1 + Math.floor(rnd() * 3)) % 4
    return {a, b, ta: rnd(), tb: rnd() + (b - a) * 0.01}
  }))
  const inOrder = new SkewEstimator()
  inOrder.add(views[1]!, 0, views[0]!, 0.5)
  const extra = new SkewEstimator()
  for (const l of samples) for (const s of l) extra.add(views[s.a]!, s.ta, views[s.b]!, s.tb)
  inOrder.append(extra)
  const ranked = new RankedSkewSamples()
  for (const rank of shuffled([...Array(1000).keys()], prng(9))) {
    ranked.at(rank)
    for (const s of samples[rank]!) ranked.add(views[s.a]!, s.ta, views[s.b]!, s.tb)
  }
  const got = new SkewEstimator()
  got.add(views[1]!, 0, views[0]!, 0.5)
  got.append(ranked)
  assert.deepEqual(got.offsets(views), inOrder.offsets(views))
  const pairs = (extra as unknown as {pairs: {lists: Map<string, number[]>}}).pairs.lists
  assert.ok([...pairs.values()].filter((l) => l.length === 2001).length >= 2, 'pairs past MAX_SAMPLES')
  assert.deepEqual(ranked.inOrder(), pairs)
})

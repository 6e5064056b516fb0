// sessions on one file streams (issue 5: memory follows the connections open
// at once, not the trace): the merger retires a connection once it has been
// quiet past the tracker's linger and the merge's time slack and no held
// session shares its endpoints, its handoff latency from its own SYNs; the
// merged rows are sorted on disk (row-list.ts) and the text table is laid
// out in two walks over them. None of that may change the output: the
// streamed report must be the one with every connection merged at the end
// (retire: false, as with several files), and the text the same bytes.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {collectSessions, collectSessionsSpooled, type CollectOptions} from '../../analyzer/sessions/collect.js'
import {renderSessions} from '../../cli/render/sessions.js'
import {written} from '../support/sessions-text.js'
import {repoRoot} from '../support/env.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'

const traces = join(repoRoot, 'samples', 'traces')
const labRuns = readdirSync(traces).filter((d) => d.startsWith('lab-')).sort()

test('a trace longer than the windows: connections retired during the pass, the same report and text as merged at the end', async () => {
  // 40 clones of lab-clean one after the other: ~250 s of capture, twice the 125 s a connection stays.
  const t = await checkBenchTrace(40)
  try {
    for (const extra of [{}, {infer: true}, {flagged: true}] as CollectOptions[]) {
      const wholeStats = {peakConnections: 0}
      const whole = await collectSessions([t.path], {}, {...extra, retire: false, stats: wholeStats})
      const stats = {peakConnections: 0}
      const streamed = await collectSessions([t.path], {}, {...extra, stats})
      assert.deepEqual(streamed, whole, JSON.stringify(extra))
      assert.equal(whole.mode, 'connections')
      const total = whole.summary.connections!
      assert.ok(total >= 40 * LAB_HANDOFFS, `${total} connections`)
      // Held to the end, every connection is in the merger at once; retired, at most those of ~125 s of the trace's ~250.
      assert.equal(wholeStats.peakConnections, total)
      assert.ok(stats.peakConnections < total * 0.7, `peak ${stats.peakConnections} of ${total} connections held`)
      // On disk and printed by walking: the same JSON, the same text (more rows than table()'s cli-table3 limit).
      const spooled = await collectSessionsSpooled([t.path], {}, extra)
      assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(whole)), `${JSON.stringify(extra)} (on disk)`)
      assert.equal(written(spooled), renderSessions(whole), `${JSON.stringify(extra)} (text)`)
      if (spooled.mode === 'connections') spooled.rows.remove()
    }
    // Filters apply to the retired rows as to the others; the counts of every connection stay.
    const f = {kind: ['handoff'], backend: ['n2']}
    assert.deepEqual(await collectSessions([t.path], f), await collectSessions([t.path], f, {retire: false}))
  } finally {
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

test('every lab run: streamed and merged at the end agree (connections, --infer, per view), text too', async () => {
  assert.ok(labRuns.length >= 15)
  for (const run of labRuns) {
    const f = join(traces, run, 'lab.pcapng.gz')
    for (const extra of [{}, {infer: true}, {perView: true}] as CollectOptions[]) {
      const whole = await collectSessions([f], {}, {...extra, retire: false})
      assert.deepEqual(await collectSessions([f], {}, extra), whole, `${run} ${JSON.stringify(extra)}`)
      const spooled = await collectSessionsSpooled([f], {}, extra)
      assert.equal(written(spooled), renderSessions(whole), `${run} ${JSON.stringify(extra)} (text)`)
    }
  }
})

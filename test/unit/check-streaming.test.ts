// check on one file streams (issue 5: memory follows the active
// connections): handoffs are made from the spooled control messages as the
// segment pass reaches them and let go once done with
// (correlate/handoff-feed.ts, collectSegments), the per-handoff summaries
// go to disk (check-summaries.ts), and the control pass forgets control
// connections closed or silent for long. None of that may change a verdict:
// the streamed report must be the report with every handoff assembled up
// front (streaming: false, as with several files).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {runCheck, runCheckSpooled} from '../../analyzer/check.js'
import {repoRoot} from '../support/env.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'

const traces = join(repoRoot, 'samples', 'traces')
const labRuns = readdirSync(traces).filter((d) => d.startsWith('lab-')).sort()

test('every lab run: the streamed report (lookahead 1 s) is the report with all handoffs assembled first', async () => {
  assert.ok(labRuns.length >= 15)
  for (const run of labRuns) {
    const f = join(traces, run, 'lab.pcapng.gz')
    const whole = await runCheck([f], {streaming: false})
    const streamed = await runCheck([f], {lookaheadSec: 1})
    assert.deepEqual(streamed, whole, run)
    // Summaries on disk read back as the array (violations found after a summary was written included).
    const spooled = await runCheckSpooled([f])
    assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(whole)), `${run} (summaries on disk)`)
  }
})

test('a trace longer than the windows: handoffs retired during the pass, control connections forgotten, same report', async () => {
  // 40 clones of lab-clean, one after the other: ~250 s of capture, longer than LOOKAHEAD_SEC, LATE_FORWARD_SEC
  // and the control pass's 120 s for silent connections (each clone has its own, never closed).
  const t = await checkBenchTrace(40)
  try {
    const whole = await runCheck([t.path], {streaming: false})
    assert.equal(whole.summary.handoffs, 40 * LAB_HANDOFFS)
    assert.equal(whole.summary.errors + whole.summary.warnings, 0)
    // The lab run's 90 control messages per clone, none lost or counted twice by the bounded deduplication.
    assert.equal(whole.summary.controlMessages, 40 * 90)
    for (const lookaheadSec of [120, 2]) {
      const streamed = await runCheck([t.path], {lookaheadSec})
      assert.deepEqual(streamed, whole, `lookahead ${lookaheadSec} s`)
    }
  } finally {
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

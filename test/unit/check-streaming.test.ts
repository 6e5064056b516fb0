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
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck, runCheckSpooled} from '../../analyzer/check.js'
import {readControlPass} from '../../analyzer/correlate/control-pass.js'
import {ControlSpool} from '../../analyzer/correlate/control-spool.js'
import {HandoffFeed} from '../../analyzer/correlate/handoff-feed.js'
import {inferViewKinds} from '../../analyzer/correlate/vantage-infer.js'
import {repoRoot} from '../support/env.js'
import {renameInterfaces} from '../support/rename-interfaces.js'
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

test('views placed by their traffic (interfaces named eth0…): handoffs from the spool as the pass goes, same places, same report', async () => {
  const t = await checkBenchTrace(40)
  const dir = mkdtempSync(join(tmpdir(), 'handoff-streaming-'))
  const spool = new ControlSpool()
  try {
    const unnamed = join(dir, 'unnamed.pcapng')
    renameInterfaces(t.path, unnamed, (_n, id) => `eth${id}`)
    const whole = await runCheck([unnamed], {streaming: false})
    assert.equal(whole.summary.handoffs, 40 * LAB_HANDOFFS)
    assert.equal(whole.summary.errors + whole.summary.warnings, 0)
    assert.deepEqual(await runCheck([unnamed], {lookaheadSec: 2}), whole)
    // The places found from the spool, read as the pass goes, are those found from every handoff at once.
    await readControlPass([unnamed], 7070, {spool})
    const all = new HandoffFeed(spool.reader()).all()
    assert.equal(all.length, 40 * LAB_HANDOFFS)
    const fromList = await inferViewKinds([unnamed], all, 7070, [])
    assert.deepEqual(fromList.map((a) => a.kind), ['client', 'lan', 'inside', 'inside', 'inside', 'control'])
    let maxLive = 0
    let feeds = 0
    const fromSpool = await inferViewKinds([unnamed], {
      feed: () => {
        feeds++
        const f = new HandoffFeed(spool.reader())
        const advance = f.advanceTo.bind(f)
        f.advanceTo = (at: number) => {
          advance(at)
          maxLive = Math.max(maxLive, f.liveHandoffs().length)
        }
        return f
      },
      any: () => true,
      lookaheadSec: 2,
    }, 7070, [])
    assert.deepEqual(fromSpool, fromList)
    assert.equal(feeds, 1)
    // The client and control views are decided only at the end of the file, so it is read whole: handoffs are
    // made 2 s ahead and let go 120 s (LATE_FORWARD_SEC) after their terminate, well before the end of this ~250 s trace.
    assert.ok(maxLive > 0 && maxLive < 0.7 * all.length, `at most ${maxLive} of ${all.length} handoffs held at once`)
  } finally {
    spool.remove()
    rmSync(dir, {recursive: true, force: true})
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

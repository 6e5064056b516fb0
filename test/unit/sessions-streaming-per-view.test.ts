// sessions --per-view and --anomalies hold what is in progress, not the trace
// (issue 5), as the merged rows already did: the shown per-view rows are
// sorted on disk (row-list.ts), a handoff's rows wait for its latency only
// until it is let go (view-latency.ts), and every flagged packet is written
// per file as it comes, the shown sessions marked (flagged-list.ts). Small
// run sizes force the disk on small traces. None of that may change the
// output: the report read back from disk must be the one held in memory,
// the text walked from disk the same bytes, and the rows released as their
// handoffs are let go those of every handoff held to the end.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {collectSessions, collectSessionsSpooled, type CollectOptions, type SpooledSessionsReport} from '../../analyzer/sessions/collect.js'
import type {SessionFilter} from '../../analyzer/sessions/sessions.js'
import {renderSessions} from '../../cli/render/sessions.js'
import {written} from '../support/sessions-text.js'
import {repoRoot} from '../support/env.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'

const traces = join(repoRoot, 'samples', 'traces')
const labRuns = readdirSync(traces).filter((d) => d.startsWith('lab-')).sort()

/** Whether a list of the report went to disk: the old report's arrays have no such property. */
function onDisk(x: unknown): boolean {
  return (x as {onDisk?: unknown} | undefined)?.onDisk === true
}

function removeLists(r: SpooledSessionsReport): void {
  r.rows.remove()
  r.flagged?.remove()
}

test('a trace longer than the windows, per view and --anomalies: rows and flagged packets on disk, a handoff\'s rows held only while it is, the same report and text', async () => {
  // 60 clones of lab-clean one after the other: ~375 s of capture, three times the ~130 s a handoff is held past its
  // last message (the tracker's linger on its sessions, then 10 s).
  const t = await checkBenchTrace(60)
  try {
    const filters: SessionFilter[] = [{}, {kind: ['handoff']}, {client: ['10.77.100.93']}]
    for (const filter of filters) {
      for (const extra of [{perView: true, flagged: true}, {flagged: true}] as CollectOptions[]) {
        const what = `${JSON.stringify(filter)} ${JSON.stringify(extra)}`
        const whole = await collectSessions([t.path], filter, extra)
        if (extra.perView) {
          // Every handoff held to the end (as before streaming): every shown handoff row waits to the end; streamed,
          // those of the handoffs in progress.
          const heldStats: NonNullable<CollectOptions['stats']> = {}
          assert.deepEqual(await collectSessions([t.path], filter, {...extra, streaming: false, stats: heldStats}), whole, what)
          const stats: NonNullable<CollectOptions['stats']> = {}
          await collectSessions([t.path], filter, {...extra, stats})
          const handoffRows = whole.rows.filter((r) => r.kind === 'handoff').length
          assert.equal(heldStats.peakWaitingRows, handoffRows, what)
          if (filter.client === undefined) {
            // One client's handoffs are those of one stretch of the trace: all of them in progress at once.
            assert.ok(handoffRows >= 60 * LAB_HANDOFFS, `${what}: ${handoffRows} handoff rows`)
            assert.ok(stats.peakWaitingRows! < handoffRows * 0.5, `${what}: ${stats.peakWaitingRows} of ${handoffRows} rows waited at once`)
          }
        }
        assert.ok(whole.flagged!.length > 0 || filter.client !== undefined, what)
        // Through the disk: 64 rows a run, 64 flagged packets a file in memory.
        const spooled = await collectSessionsSpooled([t.path], filter, {...extra, runSize: 64})
        try {
          if (whole.rows.length > 64) assert.ok(onDisk(spooled.rows), `${what}: rows on disk`)
          if (whole.flagged!.length > 64) assert.ok(onDisk(spooled.flagged), `${what}: flagged packets on disk`)
          assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(whole)), what)
          assert.equal(written(spooled), renderSessions(whole), `${what} (text)`)
        } finally {
          removeLists(spooled)
        }
      }
    }
  } finally {
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

test('every lab run, per view and --anomalies, runs of 2 on disk: the report and text of the one held in memory', async () => {
  assert.ok(labRuns.length >= 15)
  for (const run of labRuns) {
    const f = join(traces, run, 'lab.pcapng.gz')
    for (const extra of [{perView: true, flagged: true}, {flagged: true}, {perView: true, flagged: true, infer: true}] as CollectOptions[]) {
      const what = `${run} ${JSON.stringify(extra)}`
      const whole = await collectSessions([f], {}, extra)
      const spooled = await collectSessionsSpooled([f], {}, {...extra, runSize: 2})
      try {
        assert.ok(onDisk(spooled.rows), `${what}: rows on disk`)
        if (extra.flagged && whole.flagged!.length > 2) assert.ok(onDisk(spooled.flagged), `${what}: flagged packets on disk`)
        assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(whole)), what)
        assert.equal(written(spooled), renderSessions(whole), `${what} (text)`)
      } finally {
        removeLists(spooled)
      }
    }
  }
})

// sessions holds what is in progress, not the trace (issue 5), also with the
// control channel and with several files: the handoffs are made from the
// control pass's spool as the pass comes near them and let go once no row
// can still be tied to them (handoff-stream.ts); several files are read at
// once, merged by capture time — by corrected times when their clocks are
// apart but linked by the client SYNs they share — so that the merger
// retires connections as with one file. None of that may change the report:
// it must be the one with every handoff assembled before the pass and the
// files read one after the other (streaming: false), on
//  - 60 clones of lab-clean (~375 s, longer than the windows), one file and
//    split per interface;
//  - every lab run split per interface;
//  - lab-clean split per interface with the client side's clock 30 s ahead.
import {after, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {collectSessions, collectSessionsSpooled, type CollectOptions} from '../../analyzer/sessions/collect.js'
import {renderSessions} from '../../cli/render/sessions.js'
import {written} from '../support/sessions-text.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'
import {repoRoot} from '../support/env.js'
import {splitViews} from '../support/split-views.js'
import {shiftedCapture} from '../support/capture-copy.js'

const traces = join(repoRoot, 'samples', 'traces')
const labRuns = readdirSync(traces).filter((d) => d.startsWith('lab-')).sort()

/** Every test's files, in a directory of its own under one removed at the end. */
const tmp = mkdtempSync(join(tmpdir(), 'handoff-sessions-files-'))
after(() => rmSync(tmp, {recursive: true, force: true}))
const tempDir = (t: {name: string}): string => mkdtempSync(join(tmp, `${t.name.slice(0, 12).replace(/\W/g, '_')}-`))

type Stats = NonNullable<CollectOptions['stats']>

test('a trace longer than the windows: handoffs made and let go as the pass goes, the same report as all of them up front', async () => {
  const t = await checkBenchTrace(60)
  try {
    for (const extra of [{}, {perView: true}] as CollectOptions[]) {
      const wholeStats: Stats = {}
      const whole = await collectSessions([t.path], {}, {...extra, streaming: false, stats: wholeStats})
      const stats: Stats = {}
      // The handoffs made 10 s ahead (120 s by default: a third of this trace).
      assert.deepEqual(await collectSessions([t.path], {}, {...extra, lookaheadSec: 10, stats}), whole, JSON.stringify(extra))
      const handoffs = whole.summary.handoffs.total
      assert.ok(handoffs >= 60 * LAB_HANDOFFS, `${handoffs} handoffs`)
      // Up front every handoff is held; streamed, those of the lookahead and the ~10 s after each one's end.
      assert.equal(wholeStats.peakHandoffs, handoffs)
      assert.ok(stats.peakHandoffs! > 0 && stats.peakHandoffs! < handoffs * 0.5, `peak ${stats.peakHandoffs} of ${handoffs} handoffs held`)
    }
  } finally {
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

test('the long trace split per interface: read merged, connections and handoffs let go during the pass, the same report and text', async (t) => {
  const bench = await checkBenchTrace(60)
  const dir = tempDir(t)
  try {
    const files = (await splitViews(bench.path, dir)).map((f) => f.path)
    assert.equal(files.length, 6)
    const wholeStats: Stats = {}
    const whole = await collectSessions(files, {}, {streaming: false, stats: wholeStats})
    assert.equal(wholeStats.merged, false)
    const stats: Stats = {}
    assert.deepEqual(await collectSessions(files, {}, {lookaheadSec: 10, stats}), whole)
    assert.equal(stats.merged, true)
    assert.equal(stats.clockOffsetsSec, null)
    const total = whole.summary.connections!
    assert.ok(total >= 60 * LAB_HANDOFFS, `${total} connections`)
    // Read one after the other, every connection waits for the last file; merged, as with one file.
    assert.equal(wholeStats.peakConnections, total)
    assert.ok(stats.peakConnections! < total * 0.7, `peak ${stats.peakConnections} of ${total} connections held`)
    assert.ok(stats.peakHandoffs! < whole.summary.handoffs.total * 0.65, `peak ${stats.peakHandoffs} handoffs held`)
    const spooled = await collectSessionsSpooled(files, {})
    assert.equal(written(spooled), renderSessions(whole), 'text')
    if (spooled.mode === 'connections') spooled.rows.remove()
  } finally {
    if (bench.built) rmSync(bench.path, {force: true}), rmSync(`${bench.path}.json`, {force: true})
  }
})

test('every lab run split per interface: merged, the report of the files read one after the other (per view, flagged packets too)', async (t) => {
  assert.ok(labRuns.length >= 15)
  const dir = tempDir(t)
  for (const run of labRuns) {
    const files = (await splitViews(join(traces, run, 'lab.pcapng.gz'), dir, `${run}-`)).map((f) => f.path)
    for (const extra of [{}, {perView: true, flagged: true}] as CollectOptions[]) {
      const stats: Stats = {}
      const merged = await collectSessions(files, {}, {...extra, stats})
      assert.equal(stats.merged, true, run)
      // Views, clock offsets (the matches of the files read in turn), rows, counts: all the same.
      assert.deepEqual(merged, await collectSessions(files, {}, {...extra, streaming: false}), `${run} ${JSON.stringify(extra)}`)
    }
    for (const f of files) rmSync(f)
  }
})


test('the client side 30 s ahead: read merged by corrected times, its times its own, the report of the files read in turn', async (t) => {
  const dir = tempDir(t)
  const files = (await splitViews(join(traces, 'lab-clean', 'lab.pcapng.gz'), dir)).map((f) => f.path)
  const client = files.findIndex((f) => f.endsWith('client.pcapng'))
  const copy = join(dir, 'client-ahead.pcapng')
  await shiftedCapture(files[client]!, copy, 30)
  const skewed = files.map((f, i) => (i === client ? copy : f))
  const stats: Stats = {}
  const r = await collectSessions(skewed, {}, {stats})
  assert.equal(stats.merged, true)
  const offsets = stats.clockOffsetsSec!
  assert.ok(offsets !== null)
  for (const [i, o] of offsets.entries()) assert.ok(Math.abs(o - (i === client ? 30 : 0)) < 0.01, `file ${i}: ${o}`)
  assert.deepEqual(r, await collectSessions(skewed, {}, {streaming: false}))
  // The same connections as on one clock, the client side's times 30 s later (reported as captured).
  const same = await collectSessions(files, {})
  assert.equal(r.summary.connections, same.summary.connections)
  assert.ok(r.mode === 'connections' && same.mode === 'connections')
  assert.deepEqual(r.rows.map((c) => [c.hid, c.kind, c.seenAt.length]), same.rows.map((c) => [c.hid, c.kind, c.seenAt.length]))
  // The skew estimate sees the 30 s (the client side is the reference view: the others 30 s behind it).
  assert.equal(r.views[0]!.file, copy)
  const lan = r.views.find((v) => v.name === 'lan')!
  assert.ok(Math.abs(lan.offsetMs! + 30000) < 5, `lan offset ${lan.offsetMs} ms`)
})

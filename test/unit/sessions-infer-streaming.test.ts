// sessions --infer streams as check --infer does (issue 5: memory follows the
// active connections, not the trace): the inference runs windowed into a
// spool of its own (correlate/infer-spooled.ts), and the sessions pass takes
// the inferred handoffs from it LOOKAHEAD_SEC ahead of the packets, with the
// control spool's, and lets both go once no row can be tied to them
// (handoff-stream.ts); several files are read merged, so the merger retires
// connections as with one file. Before, every handoff (control and inferred)
// was assembled before the pass and several files were read one after the
// other, every connection held to the end. None of that may change the
// report: it must be the one with every handoff up front and the files read
// one after the other (streaming: false), on
//  - 60 clones of lab-clean without the control channel (~375 s, longer than
//    the windows), one file and split per interface, and split with the LAN's
//    clock 45 s ahead (read merged by corrected times);
//  - the same clones with the control channel's frames of the second half
//    dropped: control and inferred handoffs in one pass.
// Streamed, at most half of the handoffs are held at once (a little more
// split per interface: every view's sessions linger), and well under the
// connections; up front (the old path), every handoff, and with several
// files every connection.
import {after, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readCapture} from '../../analyzer/capture/read.js'
import {collectSessions, collectSessionsSpooled, type CollectOptions, type SessionsReport} from '../../analyzer/sessions/collect.js'
import {renderSessions} from '../../cli/render/sessions.js'
import {written} from '../support/sessions-text.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'
import {copyCapture, shiftedCapture} from '../support/capture-copy.js'
import {splitViews} from '../support/split-views.js'
import {stripInterfaces} from '../support/strip-interfaces.js'

const CLONES = 60
const tmp = mkdtempSync(join(tmpdir(), 'handoff-sessions-infer-streaming-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

type Stats = NonNullable<CollectOptions['stats']>

/** The lab-clean clones without their control channel (built once). */
let noControl: Promise<string> | null = null
function noControlTrace(): Promise<string> {
  return noControl ??= (async () => {
    const t = await checkBenchTrace(CLONES)
    const f = join(tmp, 'no-control.pcapng')
    await stripInterfaces(t.path, f, (name) => name === 'control')
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
    return f
  })()
}

/** --infer with every handoff up front, files one after the other; and streamed (handoffs made 10 s ahead). */
async function both(files: string[], extra: CollectOptions = {}): Promise<{whole: SessionsReport; wholeStats: Stats; streamed: SessionsReport; stats: Stats}> {
  const wholeStats: Stats = {}
  const whole = await collectSessions(files, {}, {...extra, infer: true, streaming: false, stats: wholeStats})
  const stats: Stats = {}
  const streamed = await collectSessions(files, {}, {...extra, infer: true, lookaheadSec: 10, stats})
  return {whole, wholeStats, streamed, stats}
}

test('--infer on one trace longer than the windows: inferred handoffs made and let go as the pass goes, the same report and text', async () => {
  const f = await noControlTrace()
  const total = CLONES * LAB_HANDOFFS
  for (const extra of [{}, {perView: true}] as CollectOptions[]) {
    const {whole, wholeStats, streamed, stats} = await both([f], extra)
    assert.deepEqual(streamed, whole, JSON.stringify(extra))
    assert.equal(whole.summary.inference?.inferred, total)
    if (!extra.perView) assert.equal(whole.summary.byKind.handoff, total)
    // Up front every inferred handoff is held; streamed, those of the lookahead and the ~10 s after each one's end.
    assert.equal(wholeStats.peakHandoffs, total)
    assert.ok(stats.peakHandoffs! > 0 && stats.peakHandoffs! < total * 0.5, `peak ${stats.peakHandoffs} of ${total} handoffs held`)
    if (!extra.perView) assert.ok(stats.peakConnections! < whole.summary.connections! * 0.7, `peak ${stats.peakConnections} connections held`)
    // Per view, a handoff's shown rows wait for its latency until it is let go (view-latency.ts): inferred ones too.
    if (extra.perView) {
      assert.equal(wholeStats.peakWaitingRows, whole.summary.byKind.handoff)
      assert.ok(stats.peakWaitingRows! < wholeStats.peakWaitingRows! * 0.5, `peak ${stats.peakWaitingRows} of ${wholeStats.peakWaitingRows} rows waiting`)
    }
  }
  // The default lookahead, the rows on disk, the text.
  const whole = await collectSessions([f], {}, {infer: true, streaming: false})
  const spooled = await collectSessionsSpooled([f], {}, {infer: true})
  assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(whole)))
  assert.equal(written(spooled), renderSessions(whole))
  if (spooled.mode === 'connections') spooled.rows.remove()
})

test('--infer on the trace split per interface: read merged (also a clock 45 s ahead), connections and inferred handoffs let go, the same report', async () => {
  const f = await noControlTrace()
  const dir = mkdtempSync(join(tmp, 'split-'))
  const files = (await splitViews(f, dir)).map((x) => x.path)
  assert.equal(files.length, 5)
  const total = CLONES * LAB_HANDOFFS
  const {whole, wholeStats, streamed, stats} = await both(files)
  assert.deepEqual(streamed, whole)
  assert.equal(wholeStats.merged, false)
  assert.equal(stats.merged, true)
  assert.equal(stats.clockOffsetsSec, null)
  assert.equal(whole.summary.inference?.inferred, total)
  const connections = whole.summary.connections!
  // Read one after the other, every connection waits for the last file and every handoff is held; merged, as with one file.
  assert.equal(wholeStats.peakConnections, connections)
  assert.equal(wholeStats.peakHandoffs, total)
  assert.ok(stats.peakConnections! < connections * 0.7, `peak ${stats.peakConnections} of ${connections} connections held`)
  // (Its sessions linger at five views: a little more than with one file, as with the control channel's handoffs.)
  assert.ok(stats.peakHandoffs! > 0 && stats.peakHandoffs! < total * 0.65, `peak ${stats.peakHandoffs} of ${total} handoffs held`)

  // The LAN's clock 45 s ahead: merged by the corrected times, the same report as its files read one after the other.
  const lan = files.findIndex((x) => x.endsWith('lan.pcapng'))
  const ahead = join(dir, 'lan-ahead.pcapng')
  await shiftedCapture(files[lan]!, ahead, 45)
  const s = await both(files.map((x, i) => (i === lan ? ahead : x)))
  assert.deepEqual(s.streamed, s.whole)
  assert.equal(s.stats.merged, true)
  for (const [i, o] of s.stats.clockOffsetsSec!.entries()) assert.ok(Math.abs(o - (i === lan ? 45 : 0)) < 0.05, `file ${i}: ${o}`)
  const skewedConnections = s.whole.summary.connections!
  assert.equal(s.wholeStats.peakConnections, skewedConnections)
  assert.ok(s.stats.peakConnections! < skewedConnections * 0.7, `peak ${s.stats.peakConnections} of ${skewedConnections} connections held`)
  assert.ok(s.stats.peakHandoffs! > 0 && s.stats.peakHandoffs! < total * 0.65, `peak ${s.stats.peakHandoffs} of ${total} handoffs held`)
  assert.equal(s.whole.summary.inference?.inferred, total)
})

test('--infer with the control channel of the second half not captured: control and inferred handoffs streamed together, the same report', async () => {
  const t = await checkBenchTrace(CLONES)
  try {
    // The control frames of the first half kept: those handoffs come from the control spool, the later ones are inferred.
    const control = new Set<number>()
    let first = -1
    let last = -1
    await readCapture(t.path, {
      onInterface: (i) => { if (i.name === 'control') control.add(i.id) },
      onPacket: (r) => {
        last = r.tsSec + r.tsNsec / 1e9
        if (first < 0) first = last
      },
    })
    assert.equal(control.size, 1)
    const cut = (first + last) / 2
    const f = join(tmp, 'half-control.pcapng')
    await copyCapture(t.path, f, (w, r) => {
      if (control.has(r.interfaceId) && r.tsSec + r.tsNsec / 1e9 > cut) return
      w.writePacket(r.interfaceId, r.tsSec, r.tsNsec, r.data, r.origLen)
    })
    for (const extra of [{}, {perView: true}] as CollectOptions[]) {
      const {whole, wholeStats, streamed, stats} = await both([f], extra)
      assert.deepEqual(streamed, whole, JSON.stringify(extra))
      const named = whole.summary.handoffs.total
      const inferred = whole.summary.inference!.inferred
      assert.ok(named > CLONES * LAB_HANDOFFS * 0.3 && inferred > CLONES * LAB_HANDOFFS * 0.3, `${named} control, ${inferred} inferred handoffs`)
      assert.equal(wholeStats.peakHandoffs, named + inferred)
      assert.ok(stats.peakHandoffs! > 0 && stats.peakHandoffs! < (named + inferred) * 0.5, `peak ${stats.peakHandoffs} handoffs held`)
    }
  } finally {
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

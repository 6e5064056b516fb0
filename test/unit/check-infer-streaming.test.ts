// check --infer streams (memory follows the connections in progress, not
// the trace): pass B of the inference holds a candidate from lookahead
// before its client's SYN until it has been quiet for the idle window, the
// inferred handoffs go to a spool in hid order (correlate/inferred-spool.ts),
// and the segment pass takes each one on as it comes near and lets it go
// when quiet, in hid order. None of that may change the report: it must be
// the report with every candidate held to the end of the trace and every
// handoff assembled up front.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {collectSegments, type Handoff} from '../../analyzer/correlate/assemble.js'
import {ControlSpool} from '../../analyzer/correlate/control-spool.js'
import {HandoffFeed} from '../../analyzer/correlate/handoff-feed.js'
import {inferStreamed, KnownHandoffs} from '../../analyzer/correlate/infer.js'
import {InferredSpool} from '../../analyzer/correlate/inferred-spool.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'
import {stripInterfaces} from '../support/strip-interfaces.js'

const PORT = 7070

test('lab-clean × 40 without its control channel (~250 s, longer than the windows): candidates and inferred handoffs held a few clones at a time, same report', async () => {
  const t = await checkBenchTrace(40)
  const dir = mkdtempSync(join(tmpdir(), 'handoff-infer-streaming-'))
  const spools: InferredSpool[] = []
  try {
    const f = join(dir, 'no-control.pcapng')
    await stripInterfaces(t.path, f, (name) => name === 'control')
    const total = 40 * LAB_HANDOFFS
    const infer = async (windows: {lookaheadSec: number; idleSec: number} | null) => {
      const spool = new InferredSpool()
      spools.push(spool)
      const got: {h: Handoff; t: number}[] = []
      const r = await inferStreamed([f], {controlPort: PORT, vantage: [], known: new KnownHandoffs(), windowed: windows !== null, ...windows},
        (h, at, values) => { spool.write(h, at, values); got.push({h, t: at}) })
      return {r, got, spool}
    }
    // Pass B: every candidate to the end of the trace, or each from 2 s before its SYN to 10 s after its last segment.
    const all = await infer(null)
    const windowed = await infer({lookaheadSec: 2, idleSec: 10})
    assert.equal(all.r.report.inferred, total)
    assert.equal(all.r.peakCandidates, total)
    assert.deepEqual(windowed.r.report, all.r.report)
    assert.deepEqual(windowed.got, all.got)
    assert.ok(windowed.r.peakCandidates > 0 && windowed.r.peakCandidates <= total / 4,
      `pass B held at most ${windowed.r.peakCandidates} of ${total} candidates at once`)
    // Pass A: every client connection's SYN to the end, or each until 10 s after its last packet.
    assert.ok(all.r.peakConnections >= total)
    assert.ok(windowed.r.peakConnections > 0 && windowed.r.peakConnections <= all.r.peakConnections / 4,
      `pass A held at most ${windowed.r.peakConnections} of ${all.r.peakConnections} connections at once`)
    // In hid order, which is the order of the client SYNs.
    assert.deepEqual(windowed.got.map((x) => x.h.hid), windowed.got.map((_x, i) => `inferred/${i + 1}`))
    assert.ok(windowed.got.every((x, i) => i === 0 || x.t >= windowed.got[i - 1]!.t))

    // The segment pass: inferred handoffs taken on 2 s before their SYN, let go 10 s after their last segment.
    const control = new ControlSpool()
    try {
      let live = 0
      let peak = 0
      const judged: string[] = []
      const r = windowed.spool.reader()
      const inferred = {
        peekT: () => r.peekT(),
        next: () => {
          const x = r.next()
          if (x !== null) peak = Math.max(peak, ++live)
          return x
        },
      }
      await collectSegments([f], {feed: new HandoffFeed(control.reader()), lookaheadSec: 2, idleSec: 10, inferred}, {
        controlPort: PORT, vantage: [], judge: (h) => judged.push(h.hid), retire: () => { live-- },
      })
      assert.equal(live, 0)
      assert.deepEqual(judged, windowed.got.map((x) => x.h.hid), 'judged in hid order')
      assert.ok(peak > 0 && peak <= total / 4, `the segment pass held at most ${peak} of ${total} inferred handoffs at once`)
    } finally {
      control.remove()
    }

    // The report: streamed with short windows, as with the default ones (longer than this trace: nothing let go
    // before its end) and every handoff assembled up front.
    const whole = await runCheck([f], {infer: true, streaming: false})
    assert.equal(whole.inference?.inferred, total)
    assert.equal(whole.summary.handoffs, total)
    assert.equal(whole.summary.errors + whole.summary.warnings, 0)
    assert.deepEqual(await runCheck([f], {infer: true, lookaheadSec: 2, idleSec: 10}), whole)
    assert.deepEqual(await runCheck([f], {infer: true}), whole)
  } finally {
    for (const s of spools) s.remove()
    rmSync(dir, {recursive: true, force: true})
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

// check --infer streams (memory follows the connections in progress, not
// the trace): pass B of the inference holds a candidate from lookahead
// before its client's SYN until it has been quiet for the idle window, the
// inferred handoffs go to a spool in hid order (correlate/inferred-spool.ts),
// and the segment pass takes each one on as it comes near and lets it go
// when quiet, out of hid order (one alive through the trace holds no later
// one back). None of that may change the report: it must be
// the report with every candidate held to the end of the trace and every
// handoff assembled up front. Several files (one per vantage point) are read
// at once, merged by capture time — by corrected times when a file's clock is
// off — and windowed as one file is; the report is the one of the files read
// one after the other.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck, type CheckReport, type InferenceRun} from '../../analyzer/check.js'
import {collectSegments, IDLE_SEC, LOOKAHEAD_SEC, type Handoff} from '../../analyzer/correlate/assemble.js'
import {ControlSpool} from '../../analyzer/correlate/control-spool.js'
import {HandoffFeed} from '../../analyzer/correlate/handoff-feed.js'
import {inferStreamed, KnownHandoffs} from '../../analyzer/correlate/infer.js'
import {InferredSpool} from '../../analyzer/correlate/inferred-spool.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'
import {repoRoot} from '../support/env.js'
import {splitViews} from '../support/split-views.js'
import {copyCapture, longLivedCopy, shiftedCapture} from '../support/capture-copy.js'
import {stripInterfaces} from '../support/strip-interfaces.js'
import {fixChecksums} from '../support/trace-transform.js'
import {readCapture} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {TCP_FLAG} from '../../analyzer/wire/tcp.js'

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
      const rank = (hid: string) => Number(hid.slice('inferred/'.length))
      assert.deepEqual([...judged].sort((a, b) => rank(a) - rank(b)), windowed.got.map((x) => x.h.hid), 'each judged once')
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

test('an inferred handoff is judged JUDGE_GRACE_SEC after its connection closes, not after the idle window: its segments go young', async () => {
  const t = await checkBenchTrace(40)
  const dir = mkdtempSync(join(tmpdir(), 'handoff-infer-close-'))
  const spool = new InferredSpool()
  const control = new ControlSpool()
  try {
    const f = join(dir, 'no-control.pcapng')
    await stripInterfaces(t.path, f, (name) => name === 'control')
    const total = 40 * LAB_HANDOFFS
    await inferStreamed([f], {controlPort: PORT, vantage: [], known: new KnownHandoffs(), windowed: true}, (h, at, values) => spool.write(h, at, values))
    // The default windows (lookahead 120 s, idle 300 s: the trace is ~250 s long, so none is idle before its end).
    // The handoffs judged by the time the last one is taken on (120 s before its SYN, half way through the trace):
    // those whose connections closed by then (every lab connection closes within a few seconds of its SYN).
    let judged = 0
    let judgedAtLast = -1
    let taken = 0
    const r = spool.reader()
    const inferred = {
      peekT: () => r.peekT(),
      next: () => {
        const x = r.next()
        if (x !== null && ++taken === total) judgedAtLast = judged
        return x
      },
    }
    let segsAtJudge = 0
    await collectSegments([f], {feed: new HandoffFeed(control.reader()), lookaheadSec: LOOKAHEAD_SEC, idleSec: IDLE_SEC, inferred}, {
      controlPort: PORT, vantage: [], judge: (h) => { judged++; segsAtJudge += h.segs.length },
    })
    assert.equal(judged, total)
    assert.ok(segsAtJudge > 0)
    assert.ok(judgedAtLast >= total / 4, `${judgedAtLast} of ${total} judged when the last was taken on`)
  } finally {
    spool.remove()
    control.remove()
    rmSync(dir, {recursive: true, force: true})
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

test('an inferred handoff is not judged on the close of an earlier connection on its ports (an RST before its SYN)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-infer-stale-rst-'))
  try {
    const f = join(dir, 'no-control.pcapng')
    await stripInterfaces(join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz'), f, (name) => name === 'control')
    // The handshake ACK of the client connection that starts last, at the client view, made an RST (its seq is
    // the client's ISN + 1: within reach of the handoff's numbers) and put 10 s before it: what a reset connection
    // on the same ports left, inside the lookahead, and long enough before the connection for a close judged
    // there to cut its judging short.
    const dec = new PacketDecoder({verifyChecksums: false})
    const byPort = new Map<number, {synT: number; ack: {iface: number; t: number; data: Uint8Array} | null}>()
    const clientIds = new Set<number>()
    await readCapture(f, {
      onInterface: (i) => { if (i.name === 'client') clientIds.add(i.id) },
      onPacket: (r) => {
        if (!clientIds.has(r.interfaceId)) return
        const d = dec.decode(r.linkType, r.data, r.capLen, r.origLen)
        if (d.transport !== 'tcp' || d.dstPort !== 80) return
        const t = r.tsSec + r.tsNsec / 1e9
        if (d.tcpFlags === TCP_FLAG.SYN) byPort.set(d.srcPort, {synT: t, ack: null})
        const c = byPort.get(d.srcPort)
        if (c === undefined || c.ack !== null || d.tcpFlags !== TCP_FLAG.ACK || d.payloadWireLen !== 0) return
        const data = r.data.slice()
        data[d.l4Offset + 13] = TCP_FLAG.RST
        c.ack = {iface: r.interfaceId, t: t - 10, data: fixChecksums(data)}
      },
    })
    const last = [...byPort.values()].filter((c) => c.ack !== null).sort((a, b) => b.synT - a.synT)[0]
    assert.ok(last !== undefined)
    const r0 = last.ack!
    const g = join(dir, 'stale-rst.pcapng')
    let put = false
    await copyCapture(f, g, (w, r) => {
      if (!put && r.tsSec + r.tsNsec / 1e9 >= r0.t) {
        w.writePacket(r0.iface, Math.floor(r0.t), Math.round((r0.t % 1) * 1e9), r0.data, r0.data.length)
        put = true
      }
      w.writePacket(r.interfaceId, r.tsSec, r.tsNsec, r.data, r.origLen)
    })
    const judged = (r: CheckReport) => r.handoffs.map((h) => ({hid: h.hid, pbp: h.packetByPacket, state: h.state, fwd: h.legs['forward']}))
    const plain = await runCheck([f], {infer: true})
    assert.equal(plain.inference?.inferred, LAB_HANDOFFS)
    assert.deepEqual(judged(await runCheck([g], {infer: true})), judged(plain))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

/** `src` without its control channel, split into one file per interface in dir (client, lan, n1..n3-inside). */
async function splitWithoutControl(src: string, dir: string): Promise<string[]> {
  const f = join(dir, 'no-control.pcapng')
  await stripInterfaces(src, f, (name) => name === 'control')
  const files = (await splitViews(f, dir)).map((x) => x.path)
  rmSync(f)
  return files
}


/** runCheck --infer and how its inference ran (once, or twice when it placed views by its handoffs). */
async function checkInfer(files: string[], opts: {lookaheadSec?: number; idleSec?: number} = {}): Promise<{r: CheckReport; runs: InferenceRun[]}> {
  const runs: InferenceRun[] = []
  const r = await runCheck(files, {infer: true, ...opts, onInference: (x) => runs.push(x)})
  return {r, runs}
}

/** What the report says of the handoffs and the traffic, file names, frame numbers and clock offsets aside. */
function findings(r: CheckReport): unknown {
  return {handoffs: r.handoffs, inference: r.inference, summary: r.summary, violations: r.violations.map((v) => `${v.id} ${v.hid} ${v.severity} ${v.connection} ${v.frame}`)}
}

test('lab-clean × 40 without its control channel, split per interface: passes A and B read the files merged, windowed, same handoffs', async () => {
  const t = await checkBenchTrace(40)
  const dir = mkdtempSync(join(tmpdir(), 'handoff-infer-files-'))
  try {
    const files = await splitWithoutControl(t.path, dir)
    assert.equal(files.length, 5)
    const total = 40 * LAB_HANDOFFS
    const infer = async (merged: boolean) => {
      const got: {h: Handoff; t: number}[] = []
      const r = await inferStreamed(files, {controlPort: PORT, vantage: [], known: new KnownHandoffs(), merged, windowed: merged,
        ...(merged ? {lookaheadSec: 2, idleSec: 10} : {})}, (h, at) => { got.push({h, t: at}) })
      return {r, got}
    }
    // One file after the other, every connection held to the end; or merged, each let go 10 s after its last packet.
    const whole = await infer(false)
    const merged = await infer(true)
    assert.equal(whole.r.report.inferred, total)
    assert.deepEqual(merged.r.report, whole.r.report)
    assert.deepEqual(merged.got.map((x) => [x.h.hid, x.h.cip, x.h.cport, x.h.baddr, x.h.inferred]),
      whole.got.map((x) => [x.h.hid, x.h.cip, x.h.cport, x.h.baddr, x.h.inferred]))
    assert.equal(whole.r.peakCandidates, total)
    assert.ok(merged.r.peakCandidates > 0 && merged.r.peakCandidates <= total / 4,
      `pass B held at most ${merged.r.peakCandidates} of ${total} candidates at once`)
    assert.ok(merged.r.peakConnections > 0 && merged.r.peakConnections <= whole.r.peakConnections / 4,
      `pass A held at most ${merged.r.peakConnections} of ${whole.r.peakConnections} connections at once`)

    // check itself: windowed over the merged files, the same report as with every handoff assembled up front.
    const short = await checkInfer(files, {lookaheadSec: 2, idleSec: 10})
    assert.deepEqual(short.runs.map((x) => [x.windowed, x.clockOffsetsSec]), [[true, null]])
    assert.ok(short.runs[0]!.peakCandidates <= total / 4 && short.runs[0]!.peakConnections <= whole.r.peakConnections / 4)
    assert.equal(short.r.inference?.inferred, total)
    assert.equal(short.r.summary.errors + short.r.summary.warnings, 0)
    assert.deepEqual(short.r, await runCheck(files, {infer: true, streaming: false}))

    // The LAN's clock 45 s ahead: merged by the corrected times (the client side's clock, the first file's), windowed all the same.
    const lan = files.findIndex((f) => f.endsWith('lan.pcapng'))
    const ahead = join(dir, 'lan-ahead.pcapng')
    await shiftedCapture(files[lan]!, ahead, 45)
    const skewed = files.map((f, i) => (i === lan ? ahead : f))
    const s = await checkInfer(skewed, {lookaheadSec: 2, idleSec: 10})
    assert.equal(s.runs.length, 1)
    assert.equal(s.runs[0]!.windowed, true)
    for (const [i, o] of s.runs[0]!.clockOffsetsSec!.entries()) assert.ok(Math.abs(o - (i === lan ? 45 : 0)) < 0.05, `file ${i}: ${o}`)
    assert.ok(s.runs[0]!.peakCandidates <= total / 4 && s.runs[0]!.peakConnections <= whole.r.peakConnections / 4)
    assert.deepEqual(findings(s.r), findings(short.r))
  } finally {
    rmSync(dir, {recursive: true, force: true})
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

test('lab runs split per interface, a file\'s clock 30 s off: --infer merges by the corrected times, the same findings', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-infer-clock-'))
  try {
    for (const [run, who, control] of [['lab-clean', 'client', false], ['lab-ack-remap', 'lan', false], ['lab-seq-remap', 'client', true]] as const) {
      const d = join(dir, run)
      mkdirSync(d)
      const src = join(repoRoot, 'samples', 'traces', run, 'lab.pcapng.gz')
      const files = control ? (await splitViews(src, d)).map((x) => x.path) : await splitWithoutControl(src, d)
      const reference = await checkInfer(files)
      assert.deepEqual(reference.runs.map((x) => [x.windowed, x.clockOffsetsSec]), [[true, null]], run)
      assert.equal(reference.r.inference!.inferred, control ? 0 : LAB_HANDOFFS, run)
      const i = files.findIndex((f) => f.endsWith(`${who}.pcapng`))
      const copy = join(d, `${who}-plus30.pcapng`)
      await shiftedCapture(files[i]!, copy, 30)
      const skewed = await checkInfer(files.map((f, j) => (j === i ? copy : f)))
      // Merged by the corrected times (before, --infer read them one after the other, every connection held).
      assert.equal(skewed.runs.length, 1, run)
      assert.equal(skewed.runs[0]!.windowed, true, run)
      const offsets = skewed.runs[0]!.clockOffsetsSec!
      const base = offsets[i === 0 ? 1 : 0]!
      for (const [j, o] of offsets.entries()) assert.ok(Math.abs(o - base - (j === i ? 30 : 0)) < 0.05, `${run} file ${j}: ${o}`)
      assert.deepEqual(findings(skewed.r), findings(reference.r), run)
      // The report's times are each capture's own: the shifted view 30 s further from another than it was.
      const other = files.find((f, j) => j !== i && reference.r.views.find((v) => v.file === f)?.offsetMs !== null)!
      const gap = (r: CheckReport, f: string) => r.views.find((v) => v.file === other)!.offsetMs! - r.views.find((v) => v.file === f)!.offsetMs!
      assert.ok(Math.abs(gap(reference.r, files[i]!) - gap(skewed.r, copy) - 30_000) < 50, `${run}: ${gap(skewed.r, copy)} ms`)
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('a connection that lives through the trace: the candidates decided after it wait for it, in memory up to a bound, then on disk; the segment pass holds no later inferred handoff back for it', async () => {
  const t = await checkBenchTrace(40)
  const dir = mkdtempSync(join(tmpdir(), 'handoff-infer-long-'))
  try {
    const f = join(dir, 'no-control.pcapng')
    await stripInterfaces(t.path, f, (name) => name === 'control')
    const long = join(dir, 'long-lived.pcapng')
    await longLivedCopy(f, long, 5)
    const total = 40 * LAB_HANDOFFS
    const infer = async (windowed: boolean, heldDecided?: number) => {
      const got: {h: Handoff; t: number}[] = []
      const r = await inferStreamed([long], {controlPort: PORT, vantage: [], known: new KnownHandoffs(), windowed,
        ...(windowed ? {lookaheadSec: 2, idleSec: 10} : {}), ...(heldDecided !== undefined ? {heldDecided} : {})}, (h, at) => { got.push({h, t: at}) })
      return {r, got}
    }
    const whole = await infer(false)
    assert.equal(whole.r.report.inferred, total)
    // Every later candidate waits for the first (its hid comes first).
    const inMemory = await infer(true)
    assert.ok(inMemory.r.peakDecided >= total * 0.9 && !inMemory.r.decidedOnDisk, `${inMemory.r.peakDecided} decided candidates waited at once`)
    const bounded = await infer(true, 16)
    assert.ok(bounded.r.decidedOnDisk && bounded.r.peakDecided <= 17, `${bounded.r.peakDecided} decided candidates waited at once`)
    for (const x of [inMemory, bounded]) {
      assert.ok(x.r.peakCandidates <= total / 4)
      assert.deepEqual(x.r.report, whole.r.report)
      assert.deepEqual(x.got, whole.got)
    }
    // The segment pass lets each inferred handoff go once it is quiet, out of hid order: it holds a few at once, not
    // every later one behind the first (all 480 when they were let go in hid order); the same report.
    const peaks: number[] = []
    const streamed = await runCheck([long], {infer: true, lookaheadSec: 2, idleSec: 10, onInferredHeld: (n) => peaks.push(n)})
    const first = streamed.handoffs.find((h) => h.hid === 'inferred/1')!
    assert.ok(first.legs.client! > 40, `the first handoff lives to the end: ${JSON.stringify(first.legs)}`)
    assert.equal(peaks.length, 1)
    assert.ok(peaks[0]! > 0 && peaks[0]! <= total / 4, `the segment pass held at most ${peaks[0]} of ${total} inferred handoffs at once`)
    assert.deepEqual(streamed, await runCheck([long], {infer: true, streaming: false}))
  } finally {
    rmSync(dir, {recursive: true, force: true})
    if (t.built) rmSync(t.path, {force: true}), rmSync(`${t.path}.json`, {force: true})
  }
})

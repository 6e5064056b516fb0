// check on several files streams as it does on one (issue 5 for traces
// recorded one capture per vantage point): both passes read the files at
// once, merged by capture time (capture/merge.ts), handoffs are made from the
// spooled control messages as the pass reaches them and let go once done
// with. None of that may change a verdict: the streamed report must be the
// report of the files read one after the other with every handoff assembled
// up front (streaming: false), on
//  - every lab run, its one pcapng split into one file per interface;
//  - the spec generator's traces given as several files, and its pcapngs with
//    several interfaces split the same way;
//  - 40 clones of lab-clean (~250 s, longer than the windows) split per
//    interface, where handoffs must also be let go during the pass;
//  - files on clocks tens of seconds apart, linked by the client SYNs they
//    share: merged by the corrected times;
//  - a file nothing links, started long before the others (read one after
//    the other then, as whole).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {MAX_CLOCK_SPREAD_SEC, runCheck, runCheckSpooled} from '../../analyzer/check.js'
import {readCapture} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {collectSegments} from '../../analyzer/correlate/assemble.js'
import {readControlPass} from '../../analyzer/correlate/control-pass.js'
import {ControlSpool} from '../../analyzer/correlate/control-spool.js'
import {HandoffFeed} from '../../analyzer/correlate/handoff-feed.js'
import {checkBenchTrace, LAB_HANDOFFS} from '../bench/check-trace.js'
import {hasCommand, repoRoot, requireOrSkip} from '../support/env.js'
import {splitViews} from '../support/split-views.js'
import {copyCapture, shiftedCapture} from '../support/capture-copy.js'

const traces = join(repoRoot, 'samples', 'traces')
const labRuns = readdirSync(traces).filter((d) => d.startsWith('lab-')).sort()

function tempDir(t: {after: (fn: () => void) => void}): string {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-streaming-files-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  return dir
}

/** The clock spread the merged control pass sees (check reads merged only within MAX_CLOCK_SPREAD_SEC). */
async function clockSpread(files: string[]): Promise<number> {
  const spool = new ControlSpool()
  try {
    return (await readControlPass(files, 7070, {spool})).clockSpreadSec!
  } finally {
    spool.remove()
  }
}

test('every lab run split per interface: the streamed report (lookahead 1 s) is the whole report', async (t) => {
  assert.ok(labRuns.length >= 15)
  const dir = tempDir(t)
  for (const run of labRuns) {
    const files = (await splitViews(join(traces, run, 'lab.pcapng.gz'), dir, `${run}-`)).map((f) => f.path)
    assert.equal(files.length, 6, run)
    // Merged indeed (the lab's interfaces start within a second of each other).
    assert.ok(await clockSpread(files) <= MAX_CLOCK_SPREAD_SEC, run)
    const whole = await runCheck(files, {streaming: false})
    assert.ok(whole.summary.handoffs >= LAB_HANDOFFS, run)
    const streamed = await runCheck(files, {lookaheadSec: 1})
    assert.deepEqual(streamed, whole, run)
    const spooled = await runCheckSpooled(files)
    assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(whole)), `${run} (summaries on disk)`)
    // The same verdicts as the one pcapng (file names and frame numbers aside).
    const one = await runCheck([join(traces, run, 'lab.pcapng.gz')])
    assert.deepEqual(whole.violations.map((v) => `${v.id} ${v.hid}`), one.violations.map((v) => `${v.id} ${v.hid}`), run)
    assert.deepEqual(whole.handoffs.map((h) => [h.hid, h.outcome, h.legs, h.violations]), one.handoffs.map((h) => [h.hid, h.outcome, h.legs, h.violations]), run)
    for (const f of files) rmSync(f)
  }
})

test('spec generator traces as several files: the streamed report is the whole report', async (t) => {
  if (!requireOrSkip(t, hasCommand('python3'), 'python3 not found (the generator is Python)')) return
  const dir = tempDir(t)
  const g = spawnSync('python3', [join(repoRoot, 'test', 'spec-traces', 'gen.py'), dir], {encoding: 'utf8'})
  assert.equal(g.status, 0, g.stderr)
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {traces: {name: string; files: string[]; flags: string[]}[]}
  const inputs: {name: string; files: string[]}[] = []
  for (const tr of manifest.traces) {
    if (tr.flags.length > 0) continue
    const files = tr.files.map((f) => join(dir, f))
    if (files.length > 1) inputs.push({name: tr.name, files})
    else if (files[0]!.endsWith('.pcapng')) {
      // One pcapng with several interfaces: one file per interface.
      const split = await splitViews(files[0]!, dir, `${tr.files[0]!.replace(/\W/g, '_')}-`)
      if (split.length > 1) inputs.push({name: `${tr.name} (split)`, files: split.map((f) => f.path)})
    }
  }
  assert.ok(inputs.length >= 20, `${inputs.length} inputs`)
  let merged = 0
  for (const {name, files} of inputs) {
    if (await clockSpread(files) <= MAX_CLOCK_SPREAD_SEC) merged++
    const whole = await runCheck(files, {streaming: false})
    // The default lookahead: some of these traces retransmit a SYN more than a second before the request (with
    // lookahead 1 s its first copy comes before the handoff is known, as it does with the one pcapng).
    const streamed = await runCheck(files)
    assert.deepEqual(streamed, whole, name)
  }
  assert.ok(merged >= inputs.length - 2, `${merged} of ${inputs.length} read merged`)
})

/** 40 clones of lab-clean (~250 s, check-trace.ts) split into one file per interface in dir. */
async function splitClones(dir: string): Promise<string[]> {
  const trace = await checkBenchTrace(40)
  try {
    return (await splitViews(trace.path, dir)).map((f) => f.path)
  } finally {
    if (trace.built) rmSync(trace.path, {force: true}), rmSync(`${trace.path}.json`, {force: true})
  }
}

/**
 * The segment pass itself over files (lookahead 2 s), the handoffs from the control pass's spool: how many are
 * judged and let go before the files are read to their end, the most alive at once, and how many had their
 * client-side segments when judged. clockOffsetsSec: both passes merged by corrected times (as check does).
 */
async function watchPass(files: string[], clockOffsetsSec?: number[]): Promise<{judged: number; retired: number; maxLive: number; clientSeen: number}> {
  const spool = new ControlSpool()
  try {
    const pass = await readControlPass(files, 7070, {spool, ...(clockOffsetsSec ? {clockOffsetsSec} : {})})
    assert.ok(pass.clockSpreadSec! <= MAX_CLOCK_SPREAD_SEC)
    const feed = new HandoffFeed(spool.reader())
    let ended = false
    const advance = feed.advanceTo.bind(feed)
    // collectSegments applies the rest of the spool (advanceTo(Infinity)) once every packet is read.
    feed.advanceTo = (at: number) => {
      if (at === Infinity) ended = true
      advance(at)
    }
    const n = {judged: 0, retired: 0, maxLive: 0, clientSeen: 0}
    const sample = () => { if (!ended) n.maxLive = Math.max(n.maxLive, feed.liveHandoffs().length) }
    await collectSegments(files, {feed, lookaheadSec: 2}, {controlPort: 7070, vantage: [], ...(clockOffsetsSec ? {clockOffsetsSec} : {}),
      judge: (h) => {
        sample()
        if (!ended) n.judged++
        if (h.segs.some((x) => x.view.kind === 'client')) n.clientSeen++
      },
      retire: () => { sample(); if (!ended) n.retired++ }})
    return n
  } finally {
    spool.remove()
  }
}

test('40 clones of lab-clean split per interface: handoffs let go during the pass, the same report', async (t) => {
  const files = await splitClones(tempDir(t))
  assert.equal(files.length, 6)
  const total = 40 * LAB_HANDOFFS
  const whole = await runCheck(files, {streaming: false})
  assert.equal(whole.summary.handoffs, total)
  assert.equal(whole.summary.errors + whole.summary.warnings, 0)
  assert.equal(whole.summary.controlMessages, 40 * 90)
  for (const lookaheadSec of [120, 2]) {
    const streamed = await runCheck(files, {lookaheadSec})
    assert.deepEqual(streamed, whole, `lookahead ${lookaheadSec} s`)
  }
  const {judged, retired, maxLive} = await watchPass(files)
  // Clones are ~6 s apart: a handoff lives from 2 s before its request to 120 s after its terminate
  // (LATE_FORWARD_SEC), ~20 clones' worth; the handoffs of the first ~15 clones are let go while the files
  // are still read. (Read one after the other, every handoff would be alive until the last file.)
  assert.ok(judged >= total * 0.9, `${judged} of ${total} judged during the pass`)
  assert.ok(retired >= total * 0.3, `${retired} of ${total} let go during the pass`)
  assert.ok(maxLive <= total * 0.7, `at most ${maxLive} of ${total} handoffs alive at once`)
})



/**
 * lab-clean split per interface, its check, and the same files with the client side's replaced by a copy
 * that `make` writes.
 */
async function clientReplaced(t: {after: (fn: () => void) => void}, make: (src: string, dst: string) => Promise<void>):
  Promise<{reference: Awaited<ReturnType<typeof runCheck>>; files: string[]}> {
  const dir = tempDir(t)
  const files = (await splitViews(join(traces, 'lab-clean', 'lab.pcapng.gz'), dir)).map((f) => f.path)
  const reference = await runCheck(files)
  const client = files.findIndex((f) => f.endsWith('client.pcapng'))
  const copy = join(dir, 'client-copy.pcapng')
  await make(files[client]!, copy)
  return {reference, files: files.map((f, i) => (i === client ? copy : f))}
}

test('a clock 30 s ahead, linked to the others by the client SYNs they share: read merged on corrected clocks, the same report', async (t) => {
  // The client side's clock 30 s ahead: merged by raw times, its segments would be read after their handoffs were judged.
  const {reference, files: skewed} = await clientReplaced(t, (src, dst) => shiftedCapture(src, dst, 30))
  const client = skewed.findIndex((f) => f.endsWith('client-copy.pcapng'))
  const spool = new ControlSpool()
  let offsets: number[]
  try {
    const pass = await readControlPass(skewed, 7070, {spool})
    assert.ok(pass.clockSpreadSec! > MAX_CLOCK_SPREAD_SEC)
    assert.ok(pass.clockOffsets !== null)
    offsets = pass.clockOffsets.offsets
    assert.ok(pass.clockOffsets.residualSec < 0.1, `residual ${pass.clockOffsets.residualSec}`)
  } finally {
    spool.remove()
  }
  // The client file's clock 30 s ahead of every other (give or take the propagation: microseconds here).
  const base = offsets[client === 0 ? 1 : 0]!
  for (const [i, o] of offsets.entries()) assert.ok(Math.abs(o - base - (i === client ? 30 : 0)) < 0.01, `file ${i}: ${o}`)
  // Merged again by the corrected times, the clocks agree.
  const corrected = new ControlSpool()
  try {
    const pass = await readControlPass(skewed, 7070, {spool: corrected, clockOffsetsSec: offsets})
    assert.ok(pass.clockSpreadSec! < 0.1, `spread once corrected ${pass.clockSpreadSec}`)
    assert.equal(pass.messageFiles.length, 1)
  } finally {
    corrected.remove()
  }
  const whole = await runCheck(skewed, {streaming: false})
  for (const lookaheadSec of [120, 1]) assert.deepEqual(await runCheck(skewed, {lookaheadSec}), whole, `lookahead ${lookaheadSec} s`)
  assert.equal(whole.summary.handoffs, reference.summary.handoffs)
  // Every segment still found: the same legs per handoff, the same verdicts.
  assert.deepEqual(whole.handoffs.map((h) => [h.hid, h.legs, h.violations]), reference.handoffs.map((h) => [h.hid, h.legs, h.violations]))
})

test('40 clones split per interface, the client side 45 s ahead: the corrected merge still lets handoffs go during the pass', async (t) => {
  const dir = tempDir(t)
  const files = await splitClones(dir)
  const client = files.findIndex((f) => f.endsWith('client.pcapng'))
  const copy = join(dir, 'client-ahead.pcapng')
  await shiftedCapture(files[client]!, copy, 45)
  files[client] = copy
  const total = 40 * LAB_HANDOFFS
  const whole = await runCheck(files, {streaming: false})
  assert.equal(whole.summary.handoffs, total)
  assert.equal(whole.summary.errors + whole.summary.warnings, 0)
  assert.deepEqual(await runCheck(files), whole)
  // The offsets check takes, from the clock of the file the messages come from (the control view).
  const spool = new ControlSpool()
  let offsets: number[]
  try {
    const first = await readControlPass(files, 7070, {spool})
    assert.ok(first.clockSpreadSec! > 40 && first.clockOffsets !== null)
    assert.deepEqual(first.messageFiles, [files.findIndex((f) => f.endsWith('control.pcapng'))])
    offsets = first.clockOffsets.offsets.map((o) => o - first.clockOffsets!.offsets[first.messageFiles[0]!]!)
  } finally {
    spool.remove()
  }
  const {judged, retired, clientSeen} = await watchPass(files, offsets)
  assert.ok(judged >= total * 0.9, `${judged} of ${total} judged during the pass`)
  assert.ok(retired >= total * 0.3, `${retired} of ${total} let go during the pass`)
  // None judged before the client side's segments were read (by raw times, none would have them).
  assert.equal(clientSeen, total)
})

test('a file that shares nothing with the others, started 30 s before them: read one after the other, nothing lost', async (t) => {
  const {reference, files} = await clientReplaced(t, (src, dst) => shiftedCapture(src, dst, 0))
  // An extra capture of nothing check looks at (an ARP request), 30 s before the rest: nothing links its clock.
  const lone = join(tempDir(t), 'lone.pcapng')
  const w = PcapngWriter.open(lone)
  w.addInterface({linkType: 1, name: 'elsewhere'})
  const arp = Uint8Array.from([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x98, 0x08, 0x06,
    0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x98, 10, 77, 0, 98, 0, 0, 0, 0, 0, 0, 10, 77, 0, 99])
  w.writePacket(0, (await firstTime(files[0]!)) - 30, 0, arp, arp.length)
  w.close()
  const all = [...files, lone]
  const spool = new ControlSpool()
  try {
    const pass = await readControlPass(all, 7070, {spool})
    assert.ok(pass.clockSpreadSec! > MAX_CLOCK_SPREAD_SEC)
    assert.equal(pass.clockOffsets, null)
  } finally {
    spool.remove()
  }
  const streamed = await runCheck(all)
  assert.deepEqual(streamed, await runCheck(all, {streaming: false}))
  assert.deepEqual(streamed.handoffs.map((h) => h.legs), reference.handoffs.map((h) => h.legs))
})

/** Capture time (whole seconds) of a file's first packet. */
async function firstTime(path: string): Promise<number> {
  let sec = NaN
  const ac = new AbortController()
  await readCapture(path, {onPacket: (r) => { if (Number.isNaN(sec)) { sec = r.tsSec; ac.abort() } }}, {signal: ac.signal}).catch(() => {})
  return sec
}

/** A copy of `src` whose capture started `sec` earlier: an ARP request (nothing check looks at) that long before its first packet. */
async function startedEarlier(src: string, dst: string, sec: number): Promise<void> {
  // Broadcast ARP who-has 10.77.0.99 tell 10.77.0.98, from a made-up MAC.
  const arp = Uint8Array.from([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x98, 0x08, 0x06,
    0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x98, 10, 77, 0, 98, 0, 0, 0, 0, 0, 0, 10, 77, 0, 99])
  let first = true
  await copyCapture(src, dst, (w, r) => {
    if (first) {
      assert.equal(r.linkType, 1, 'an Ethernet view')
      w.writePacket(r.interfaceId, r.tsSec - sec, r.tsNsec, arp, arp.length)
      first = false
    }
    w.writePacket(r.interfaceId, r.tsSec, r.tsNsec, r.data, r.origLen)
  })
}

test('a capture started earlier (same clock) is still read merged: the shared client SYNs show the clocks agree', async (t) => {
  const {reference, files: started} = await clientReplaced(t, (src, dst) => startedEarlier(src, dst, 30))
  // Its first packet 30 s before the others', but the SYNs it shares with the LAN and the BEs' insides agree.
  assert.ok(await clockSpread(started) <= MAX_CLOCK_SPREAD_SEC)
  const streamed = await runCheck(started)
  assert.deepEqual(streamed, await runCheck(started, {streaming: false}))
  assert.equal(streamed.summary.handoffs, reference.summary.handoffs)
  assert.deepEqual(streamed.handoffs.map((h) => h.legs), reference.handoffs.map((h) => h.legs))
})

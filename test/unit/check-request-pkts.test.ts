// check's control pass keeps no `pkts` (the stored client segments of each
// handoff-req), only their fingerprints; request-replay compares those with
// the client's segments and, for the requests that differ, the `pkts` are
// decoded again after the segment pass (readRequestPkts) to say what
// differs. Shown here: the fingerprints are those of the whole messages' pkts
// on every lab sample; any one compared field changes a fingerprint; the
// requests decoded again are the ones the control pass chose (the first in
// time order) when the control view is a file of its own, before or after
// the data, or given twice; and check's request-replay violations are those
// of the check run on the whole messages.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {runCheck} from '../../analyzer/check.js'
import * as requestReplay from '../../analyzer/checks/request-replay.js'
import {buildContext} from '../../analyzer/checks/context.js'
import {pktsPrint, replayPrint} from '../../analyzer/checks/replay-print.js'
import {ViolationSink} from '../../analyzer/checks/types.js'
import {alignStateWithWire, assembleHandoffs, collectSegments} from '../../analyzer/correlate/assemble.js'
import {collectControl} from '../../analyzer/correlate/control.js'
import {PKTS_NOT_KEPT, readControlPass, readRequestPkts} from '../../analyzer/correlate/control-pass.js'
import {repoRoot} from '../support/env.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-request-pkts-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
const samples = join(repoRoot, 'samples', 'traces')
const labs = readdirSync(samples).filter((d) => d.startsWith('lab-')).map((d) => join(samples, d, 'lab.pcapng.gz'))
const REPLAY = join(samples, 'lab-request-replay', 'lab.pcapng.gz')

/** The interfaces of `src` named `control` (keepControl) or the others, as a pcapng of their own. */
function split(src: string, keepControl: boolean, out: string): string {
  const w = PcapngWriter.open(out, {application: 'handoff test'})
  const ids = new Map<number, number>()
  readCaptureSync(src, {
    onInterface: (i) => {
      if ((i.name === 'control') === keepControl) ids.set(i.id, w.addInterface({linkType: i.linkType, name: i.name}))
    },
    onPacket: (r) => {
      const id = ids.get(r.interfaceId)
      if (id !== undefined) w.writePacket(id, r.tsSec, r.tsNsec, r.data.slice(), r.origLen)
    },
  })
  w.close()
  return out
}

const hex = (l: readonly Uint8Array[]) => l.map((p) => Buffer.from(p).toString('hex'))

test('the control pass keeps the fingerprints of the pkts of the whole messages, not the pkts', async () => {
  let n = 0
  for (const lab of labs) {
    const whole = (await collectControl([lab], 7070)).messages.filter((m) => m.msg.t === 'handoff-req')
    const lean = (await readControlPass([lab], 7070)).control.messages.filter((m) => m.msg.t === 'handoff-req')
    assert.equal(lean.length, whole.length, lab)
    for (let i = 0; i < lean.length; i++) {
      const w = whole[i]!.msg
      const l = lean[i]!
      assert.ok(w.t === 'handoff-req' && l.msg.t === 'handoff-req')
      assert.equal(l.msg.pkts, PKTS_NOT_KEPT)
      assert.deepEqual(l.pktsPrint, pktsPrint(w.pkts), `${lab} ${w.hid}`)
      assert.equal(l.pktsPrint!.length, 2 * w.pkts.length)
      n += w.pkts.length
    }
  }
  assert.ok(n > 0)
})

test('any one compared field changes the fingerprint', () => {
  const base = ['10.77.1.2', '10.77.0.10', 40000, 80, 0x89abcdef, 0x12345678, 0x18, 502, Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2),
    new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')] as const
  const print = (v: readonly unknown[]) => {
    const out: number[] = []
    replayPrint(out, ...(v as Parameters<typeof replayPrint> extends [unknown, ...infer R] ? R : never))
    return out
  }
  const p0 = print(base)
  assert.deepEqual(print(base), p0)
  const changed: unknown[][] = [
    ['10.77.1.3', ...base.slice(1)], [base[0], '10.77.0.11', ...base.slice(2)], [...base.slice(0, 2), 40001, ...base.slice(3)],
    [...base.slice(0, 3), 81, ...base.slice(4)], [...base.slice(0, 4), 0x89abcdee, ...base.slice(5)],
    [...base.slice(0, 5), 0x12345679, ...base.slice(6)], [...base.slice(0, 6), 0x10, ...base.slice(7)],
    [...base.slice(0, 7), 503, ...base.slice(8)], [...base.slice(0, 8), Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 3), base[9]],
    [...base.slice(0, 9), new TextEncoder().encode('GET / HTTP/1.1\r\n\r\r')], [...base.slice(0, 9), base[9].subarray(1)],
    // The same bytes split differently between the addresses.
    ['10.77.1.2 ', '10.77.0.10'.slice(1), ...base.slice(2)],
  ]
  for (const c of changed) assert.notDeepEqual(print(c), p0, JSON.stringify(c.slice(0, 8)))
})

test('the requests decoded again are the ones the control pass chose: control in a file of its own, before, after, twice', async () => {
  const ctl = split(REPLAY, true, join(dir, 'control.pcapng'))
  const data = split(REPLAY, false, join(dir, 'data.pcapng'))
  for (const paths of [[REPLAY], [ctl, data], [data, ctl], [data, ctl, ctl], [ctl, data, ctl]]) {
    const {handoffs} = assembleHandoffs((await collectControl(paths, 7070)).messages)
    const lean = assembleHandoffs((await readControlPass(paths, 7070)).control.messages).handoffs
    assert.deepEqual(lean.map((h) => h.hid), handoffs.map((h) => h.hid))
    const got = await readRequestPkts(paths, 7070, lean.map((h) => ({fileIndex: h.req!.fileIndex, frame: h.req!.frame, hid: h.hid})))
    for (const h of handoffs) assert.deepEqual(hex(got.get(h.hid)!), hex(h.req!.msg.pkts), `${paths.join(' ')} ${h.hid}`)
  }
})

test("check's request-replay violations are those of the check on the whole messages", async () => {
  for (const lab of [REPLAY, join(samples, 'lab-clean', 'lab.pcapng.gz')]) {
    // The check run on handoffs with their pkts (as assembled from the whole messages).
    const {handoffs} = assembleHandoffs((await collectControl([lab], 7070)).messages)
    const sink = new ViolationSink()
    await collectSegments([lab], handoffs, {controlPort: 7070, vantage: [], judge: (h) => {
      alignStateWithWire(h)
      requestReplay.check(buildContext(h, sink))
      assert.equal(h.replayLater, undefined, 'pkts kept: compared at once')
    }})
    const want = sink.list.filter((v) => v.id === 'request-replay')
    const report = await runCheck([lab])
    const got = report.violations.filter((v) => v.id === 'request-replay')
    assert.deepEqual(got, want.sort((a, b) => a.hid!.localeCompare(b.hid!) || a.frame - b.frame), lab)
    if (lab === REPLAY) assert.ok(got.length > 0, 'the faulty trace gave no request-replay violation')
    else assert.equal(got.length, 0)
    for (const s of report.handoffs) {
      assert.equal(s.violations, report.violations.filter((v) => v.hid === s.hid).length, `${lab} ${s.hid}: violations counted`)
    }
  }
})

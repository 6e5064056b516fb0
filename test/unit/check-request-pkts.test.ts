// check's control pass keeps no `pkts` (the stored client segments of each
// handoff-req); the segment pass decodes the control channel again and gives
// each handoff the `pkts` of the request the control pass chose (the first
// in time order), before the handoff is judged. Shown on every lab sample,
// on a trace whose control view is a file of its own (given before and
// after the data), and with a duplicate request in a second copy of the
// control file.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {assembleHandoffs, collectSegments} from '../../analyzer/correlate/assemble.js'
import {collectControl} from '../../analyzer/correlate/control.js'
import {PKTS_NOT_KEPT, readControlPass} from '../../analyzer/correlate/control-pass.js'
import {repoRoot} from '../support/env.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-request-pkts-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
const samples = join(repoRoot, 'samples', 'traces')

/** The interfaces of `src` named `control` (keep true) or the others (false), as a pcapng of their own. */
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

/** hid → pkts (hex) of the first request in time order, from the whole messages. */
async function expected(paths: string[]): Promise<Map<string, string[]>> {
  const {handoffs} = assembleHandoffs((await collectControl(paths, 7070)).messages)
  return new Map(handoffs.map((h) => [h.hid, h.req!.msg.pkts.map((p) => Buffer.from(p).toString('hex'))]))
}

/** hid → pkts (hex) each handoff had when judged, through check's two passes. */
async function judged(paths: string[]): Promise<Map<string, string[]>> {
  const {control} = await readControlPass(paths, 7070)
  const {handoffs} = assembleHandoffs(control.messages, {deferState: true})
  for (const h of handoffs) assert.equal(h.req!.msg.pkts, PKTS_NOT_KEPT)
  const got = new Map<string, string[]>()
  await collectSegments(paths, handoffs, {controlPort: 7070, vantage: [], judge: (h) => {
    assert.ok(!got.has(h.hid), `${h.hid} judged twice`)
    got.set(h.hid, h.req!.msg.pkts.map((p) => Buffer.from(p).toString('hex')))
    h.req!.msg.pkts = []
  }})
  return got
}

const labs = readdirSync(samples).filter((d) => d.startsWith('lab-')).map((d) => join(samples, d, 'lab.pcapng.gz'))

test('each handoff is judged with the pkts of its first request, on every lab sample', async () => {
  let n = 0
  for (const lab of labs) {
    const want = await expected([lab])
    assert.ok(want.size > 0, `${lab}: no handoffs`)
    const got = await judged([lab])
    assert.deepEqual(got, want, lab)
    for (const p of got.values()) n += p.length
  }
  assert.ok(n > 0)
})

test('control view in a file of its own, before or after the data; a duplicate request in a later file', async () => {
  const lab = join(samples, 'lab-request-replay', 'lab.pcapng.gz')
  const ctl = split(lab, true, join(dir, 'control.pcapng'))
  const data = split(lab, false, join(dir, 'data.pcapng'))
  const want = await expected([lab])
  for (const paths of [[ctl, data], [data, ctl], [data, ctl, ctl], [ctl, data, ctl]]) {
    assert.deepEqual(await expected(paths), want, `${paths.join(' ')}: the messages`)
    assert.deepEqual(await judged(paths), want, paths.join(' '))
  }
})

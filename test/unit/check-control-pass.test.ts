// `handoff check` reads the control channel in one pass (correlate/
// control-pass.ts) that decodes only the frames that may be control-port TCP
// and feeds two consumers. It must give what the two whole-file readers it
// replaced give: the framing errors of extractControlMessages (the rows of
// `handoff messages`) and the handoffs' messages of collectControl, on every
// sample trace, on a truncated one, and on one with a damaged frame —
// the requests without their `pkts`, which the pass does not keep, with
// their fingerprints instead (check-request-pkts.test.ts).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {extractControlMessages, type ControlRow} from '../../analyzer/control/channels.js'
import {collectControl} from '../../analyzer/correlate/control.js'
import {PKTS_NOT_KEPT, readControlPass} from '../../analyzer/correlate/control-pass.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {pktsPrint} from '../../analyzer/checks/replay-print.js'
import {repoRoot} from '../support/env.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-control-pass-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
const samples = join(repoRoot, 'samples', 'traces')
const CONTROL = join(samples, 'control-channel.pcapng')

/** control-channel.pcapng with the length prefix of the first frame of the n-th data segment made impossible. */
function damaged(n: number): string {
  const bytes = readFileSync(CONTROL)
  const dec = new PacketDecoder({verifyChecksums: false})
  let seen = 0
  let at = -1
  readCaptureSync(CONTROL, {onPacket: (r) => {
    dec.decode(r.linkType, r.data, r.capLen, r.origLen)
    if (at >= 0 || dec.transport !== 'tcp' || dec.payloadLen < 4 || (dec.srcPort !== 7070 && dec.dstPort !== 7070)) return
    // An Enhanced Packet Block's data starts 28 bytes into the block.
    if (seen++ === n) at = r.fileOffset + 28 + dec.payloadOffset
  }})
  assert.ok(at >= 0, 'no such control segment')
  const out = Buffer.from(bytes)
  out[at] = 0xff
  const path = join(dir, `damaged-${n}.pcapng`)
  writeFileSync(path, out)
  return path
}

/** A framing row without the node names (learnt from hellos, which check's pass does not list). */
const bare = (r: ControlRow) => ({...r, sender: {addr: r.sender.addr, port: r.sender.port}, receiver: {addr: r.receiver.addr, port: r.receiver.port}})

const truncated = join(dir, 'truncated.pcapng')
writeFileSync(truncated, gunzipSync(readFileSync(join(samples, 'lab-clean', 'lab.pcapng.gz'))).subarray(0, 200_000))

const cases: string[][] = [
  ...readdirSync(samples).filter((d) => d.startsWith('lab-')).map((d) => [join(samples, d, 'lab.pcapng.gz')]),
  [CONTROL], [truncated], [damaged(1)], [damaged(3), CONTROL],
]

test('one control pass = extractControlMessages framing errors + collectControl handoff messages', async () => {
  let framingErrors = 0
  for (const paths of cases) {
    const pass = await readControlPass(paths, 7070)
    const full = await extractControlMessages(paths)
    const errors = full.rows.filter((r) => r.kind === 'error')
    framingErrors += errors.length
    assert.deepEqual(pass.framing.rows.map(bare), errors.map(bare), `${paths.join(' ')}: framing errors`)
    assert.deepEqual(pass.framing.captureErrors, full.captureErrors.map((e) => ({file: e.file, message: e.message})), `${paths.join(' ')}: capture errors`)
    const all = await collectControl(paths, 7070)
    assert.equal(pass.control.count, all.messages.length, `${paths.join(' ')}: messages counted`)
    for (const m of pass.control.messages) if (m.msg.t === 'handoff-req') assert.equal(m.msg.pkts, PKTS_NOT_KEPT, `${paths.join(' ')}: pkts kept`)
    assert.deepEqual(pass.control.messages, all.messages.filter((m) => ['handoff-req', 'handoff-ack', 'handoff-nack', 'terminate'].includes(m.msg.t))
      .map((m) => (m.msg.t === 'handoff-req' ? {...m, msg: {...m.msg, pkts: PKTS_NOT_KEPT}, pktsPrint: pktsPrint(m.msg.pkts)} : m)),
    `${paths.join(' ')}: handoff messages`)
    assert.deepEqual(pass.control.captureErrors, all.captureErrors, `${paths.join(' ')}: capture errors`)
  }
  // The damaged copies must have given framing errors to compare, or this compared nothing.
  assert.ok(framingErrors >= 2, `only ${framingErrors} framing error(s) over all cases`)
})

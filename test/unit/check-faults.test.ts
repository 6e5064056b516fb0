// Every fault knob of the synthetic trace builder (test/support/handoff-trace.ts)
// breaks exactly one rule of spec §4/§5; the checker must report exactly that
// check id — with its severity, the handoff, a frame and expected vs seen —
// and nothing else. Run over IPv4 and IPv6, with and without timestamps, with
// offloaded (partial) checksums on sending-host captures, and with fewer
// vantage points, where the id is either found by continuity from the
// client's side or (when the broken field is not visible there) not judged.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {SEVERITY, type CheckId} from '../../analyzer/checks/types.js'
import {buildHandoffTrace, faultCheckId, FAULTS, type Fault, type TraceSpec} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-check-faults-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const VARIANTS: Record<string, TraceSpec> = {
  'IPv4': {},
  'IPv6': {family: 6},
  'no timestamps': {timestamps: false},
  'offload': {offload: true},
  'wsB ≠ wsF': {wsF: 7, wsB: 3},
  'raw IP link type': {link: 'raw'},
}

/** Faults that cannot exist in a variant. */
function applicable(f: Fault, v: TraceSpec): boolean {
  if (f === 'ip-checksum' && v.family === 6) return false
  if ((f === 'ts-remap' || f === 'ts-remap-ecr' || f === 'ts-remap-ahead') && v.timestamps === false) return false
  return true
}

async function check(name: string, spec: TraceSpec) {
  const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, '_')}.pcapng`)
  const built = buildHandoffTrace(path, spec)
  return {built, report: await runCheck([path])}
}

for (const [vname, v] of Object.entries(VARIANTS)) {
  for (const f of FAULTS) {
    if (!applicable(f, v)) continue
    test(`fault ${f} (${vname}) → exactly ${faultCheckId(f)}`, async () => {
      const {built, report} = await check(`${f}-${vname}`, {...v, fault: f})
      const id = faultCheckId(f) as CheckId
      const ids = [...new Set(report.violations.map((x) => x.id))]
      assert.deepEqual(ids, [id], JSON.stringify(report.violations, null, 1))
      for (const x of report.violations) {
        assert.equal(x.severity, SEVERITY[id])
        assert.ok(x.frame >= 1 && x.frame <= built.packets, `frame ${x.frame}`)
        assert.equal(x.file, built.path)
        assert.ok(x.message.length > 0)
        assert.ok(x.expected !== undefined && x.seen !== undefined, 'expected and seen')
        if (id !== 'control-framing' && f !== 'handoff-orphan' && f !== 'handoff-orphan-terminate') {
          assert.equal(x.hid, built.hids[0])
          assert.match(x.connection, /↔/)
        }
      }
      assert.equal(report.summary.errors + report.summary.warnings, report.violations.length)
      assert.equal(report.captureErrors.length, 0)
    })
  }
}

// Fewer vantage points: what the client side alone, or the LAN alone, can judge.
const CLIENT_ONLY: TraceSpec = {omit: ['lan', 'fe1-inside', 'be1-inside']}
const LAN_ONLY: TraceSpec = {omit: ['client', 'fe1-inside', 'be1-inside']}
/** Not visible without the forwarded leg (client side) or without the BE's own segments (window). */
const NOT_FROM_CLIENT = new Set<Fault>(['addr-rewrite', 'ack-remap', 'sack-remap', 'ts-remap-ecr', 'window-rescale', 'late-forward',
  'isn-mismatch-biss'])
const NOT_FROM_LAN = new Set<Fault>(['window-rescale'])
/**
 * Known limit: from the LAN alone the BE's SYN/ACK is not visible, so a wrong biss in handoff-ack cannot be
 * told from forwarded acks that are all off by the same amount; the forwarded segments are then reported as
 * ack-remap / sack-remap against the message's Δ. Left out here.
 */
const SKIP_LAN = new Set<Fault>(['isn-mismatch-biss'])

for (const [vname, v, hidden] of [['client side only', CLIENT_ONLY, NOT_FROM_CLIENT], ['LAN only', LAN_ONLY, NOT_FROM_LAN]] as const) {
  for (const f of FAULTS) {
    if (v === LAN_ONLY && SKIP_LAN.has(f)) continue
    const want = hidden.has(f) ? [] : [faultCheckId(f)]
    test(`fault ${f} (${vname}) → ${want.length ? want[0] : 'not judged, nothing reported'}`, async () => {
      const {report} = await check(`${f}-${vname}`, {...v, fault: f})
      assert.deepEqual([...new Set(report.violations.map((x) => x.id))], want, JSON.stringify(report.violations, null, 1))
    })
  }
}

test('seq-remap from the client side alone is judged by continuity (misplaced copy, then the right one)', async () => {
  const {report} = await check('seq-client', {...CLIENT_ONLY, fault: 'seq-remap'})
  assert.equal(report.violations.length, 1)
  const v = report.violations[0]!
  assert.equal(v.id, 'seq-remap')
  assert.equal(v.vantage, 'client')
  assert.equal((v.seen as number) - (v.expected as number), 1)
})

test('ts-remap from the client side alone: the untranslated TSval goes backwards (PAWS)', async () => {
  const {report} = await check('ts-client', {...CLIENT_ONLY, fault: 'ts-remap'})
  assert.equal(report.violations.length, 1)
  assert.match(report.violations[0]!.message, /goes backwards/)
})

test('packet by packet: the expected value is the engine\'s rewrite of the other side', async () => {
  const {report} = await check('ack-pp', {fault: 'ack-remap'})
  const v = report.violations[0]!
  assert.equal(v.field, 'ack')
  assert.equal(((v.expected as number) - (v.seen as number)) >>> 0, 1)
  assert.equal(v.vantage, 'lan')
  const h = report.handoffs.find((x) => x.hid === 'fe1/1')!
  assert.equal(h.packetByPacket.forwardMatched, h.packetByPacket.forward)
  assert.equal(h.packetByPacket.retMatched, h.packetByPacket.ret)
})

test('only the faulty handoff is reported when several run', async () => {
  const {built, report} = await check('multi', {handoffs: 4, fault: 'sack-remap'})
  assert.ok(report.violations.length > 0)
  for (const v of report.violations) assert.equal(v.hid, built.hids[0])
  assert.equal(report.handoffs.filter((h) => h.violations > 0).length, 1)
})

// check --infer on synthetic traces (test/support/handoff-trace.ts) written
// without their control interface: the estimator (analyzer/correlate/infer.ts)
// must recover the spec's Δ = biss − fiss and τ = bts − fts — from the two
// SYN/ACKs where the BE's is captured, else from the majority of matched
// segment pairs — also when sequence numbers and timestamps wrap across
// 2^32; it must leave the distractors (plain TCP, a locally served connection,
// a nacked handoff) and connections with control messages alone. Then every
// fault knob: a fault the wire shows is reported under its id exactly as with
// the control channel; one that only the control messages show (or that needs
// the terminate) is not judged and nothing is reported.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {CONTROL_PORT} from '../../analyzer/control/messages.js'
import type {Handoff} from '../../analyzer/correlate/assemble.js'
import {inferHandoffs, INFERRED_HID_PREFIX} from '../../analyzer/correlate/infer.js'
import {buildHandoffTrace, faultCheckId, FAULTS, handoffTraces, type Fault, type TraceSpec} from '../support/handoff-trace.js'

const {dir, trace} = handoffTraces('handoff-check-infer-')

function noControl(spec: TraceSpec): string {
  return trace({...spec, omit: [...(spec.omit ?? []), 'control']})
}

const infer = (p: string) => inferHandoffs([p], {controlPort: CONTROL_PORT, vantage: [], known: []})
const u32 = (x: number) => x >>> 0

/** Numbers near 2^32: the client's and the server's streams, both TSval clocks and the BE's seq all wrap; biss < fiss. */
const WRAP = {ciss: 0xffff_ffd0, fiss: 0xffff_ff80, biss: 0x0000_0010, fts: 0xffff_fffe, bts: 0x0000_0005, cts: 0xffff_fffc}
/** The builder's default numbers for handoff 1 (test/support/handoff-trace.ts). */
const DEFAULT = {fiss: u32(0x8000_0000 + 0x00731337), biss: u32(0x3000_0000 + 0x00a1b2c3), fts: u32(0x5000_0000 + 1000), bts: u32(0x0100_0000 + 1000)}
const LAN_ONLY: ViewSet = ['client', 'fe1-inside', 'be1-inside']
type ViewSet = NonNullable<TraceSpec['omit']>

for (const [name, numbers, omit, from] of [
  ['all views: from the SYN/ACKs', undefined, [], 'syn-ack'],
  ['LAN only: from matched pairs', undefined, LAN_ONLY, 'matches'],
  ['all views, numbers wrapping across 2^32: from the SYN/ACKs', WRAP, [], 'syn-ack'],
  ['LAN only, numbers wrapping across 2^32: from matched pairs', WRAP, LAN_ONLY, 'matches'],
] as const) {
  test(`estimator, ${name}`, async () => {
    const n = numbers ?? DEFAULT
    const r = await infer(noControl({...(numbers ? {numbers} : {}), omit: [...omit], wsF: 9, wsB: 6}))
    assert.equal(r.handoffs.length, 1, JSON.stringify(r.report))
    const h = r.handoffs[0]!
    assert.equal(h.hid, `${INFERRED_HID_PREFIX}1`)
    assert.equal(h.baddr, '10.0.0.2')
    assert.equal(h.vip, '10.0.0.1')
    assert.equal(h.cport, 20001)
    const st = h.state!
    assert.equal(st.delta, u32(n.biss - n.fiss))
    assert.ok(st.tsActive)
    assert.equal(st.tau, u32(n.bts - n.fts))
    const i = h.inferred!
    assert.equal(i.deltaFrom, from)
    assert.equal(i.tauFrom, from)
    assert.equal(i.fiss, n.fiss)
    assert.equal(i.biss, from === 'syn-ack' ? n.biss : null)
    // Every pair agrees on a clean trace; the LAN sees forwarded pairs only.
    assert.ok(i.matches.deltaAgree >= 4, JSON.stringify(i.matches))
    assert.equal(i.matches.deltaDisagree, 0)
    assert.equal(i.matches.tauDisagree, 0)
    assert.equal(i.matches.ret > 0, from === 'syn-ack')
    assert.equal(st.wsF, 9)
    if (from === 'syn-ack') {
      assert.equal(st.wsB, 6)
      assert.ok(!i.skip.includes('window-rescale'))
    } else assert.ok(i.skip.includes('window-rescale') && i.skip.includes('option-mismatch'))
    assert.equal(i.bmac, '02:00:00:00:00:02')
    assert.deepEqual(r.report, {candidates: 1, inferred: 1, rejected: []})
  })
}

test('estimator: a minority of pairs that disagree does not move Δ (LAN only, one forwarded ack off by one)', async () => {
  for (const numbers of [undefined, WRAP]) {
    const n = numbers ?? DEFAULT
    const r = await infer(noControl({...(numbers ? {numbers} : {}), omit: LAN_ONLY, fault: 'ack-remap'}))
    const i = r.handoffs[0]!.inferred!
    assert.equal(r.handoffs[0]!.state!.delta, u32(n.biss - n.fiss))
    assert.equal(i.deltaFrom, 'matches')
    assert.equal(i.matches.deltaDisagree, 1)
    assert.ok(i.matches.deltaAgree > 1)
  }
})

test('estimator: the FE resent its SYN/ACK: τ from the one the client echoes (the FE records the last it sent), not the first', async () => {
  for (const omit of [[], LAN_ONLY] as ViewSet[]) {
    const p = noControl({synAckRetransmit: true, omit: [...omit]})
    const r = await infer(p)
    assert.equal(r.handoffs.length, 1, JSON.stringify(r.report))
    const h = r.handoffs[0]!
    assert.equal(h.inferred!.feSynAck.tsVal, DEFAULT.fts)
    assert.equal(h.state!.tau, u32(DEFAULT.bts - DEFAULT.fts))
    assert.equal(h.inferred!.matches.tauDisagree, 0)
  }
})

test('estimator: with the BE\'s SYN/ACK captured, Δ is biss − fiss and a pair that disagrees is counted as such', async () => {
  const r = await infer(noControl({fault: 'ack-remap'}))
  const h = r.handoffs[0]!
  assert.equal(h.inferred!.deltaFrom, 'syn-ack')
  assert.equal(h.state!.delta, u32(DEFAULT.biss - DEFAULT.fiss))
  assert.equal(h.inferred!.matches.deltaDisagree, 1)
})

test('estimator: the two SYN/ACKs define Δ even when most pairs disagree with it (a BE that rewrites with a wrong Δ)', async () => {
  // The BE's replays and return segments use Δ + 5: they outnumber the FE's forwarded segments, which use Δ.
  const spec: TraceSpec = {beDeltaError: 5}
  const withCtl = await runCheck([trace(spec)])
  const r = await runCheck([noControl(spec)], {infer: true})
  const h = r.handoffs[0]!
  const m = h.inferred!.matches
  assert.ok(m.deltaDisagree > m.deltaAgree, JSON.stringify(m))
  assert.equal(h.state!.delta, u32(DEFAULT.biss - DEFAULT.fiss))
  assert.deepEqual(h.state, withCtl.handoffs.find((x) => x.hid === 'fe1/1')!.state)
  // So every return segment is reported as seq-remap, as with the control channel — not every forwarded ack as ack-remap.
  assert.deepEqual([...new Set(r.violations.map((v) => v.id))], ['seq-remap'])
  const key = (v: (typeof r.violations)[number]) => `${v.id}|${v.time}|${v.field}|${String(v.expected)}|${String(v.seen)}`
  assert.deepEqual(r.violations.map(key).sort(), withCtl.violations.filter((v) => v.id === 'seq-remap').map(key).sort())
})

test('estimator: no timestamps → no τ; IPv6', async () => {
  const a = await infer(noControl({timestamps: false}))
  assert.equal(a.handoffs[0]!.state!.tsActive, false)
  assert.equal(a.handoffs[0]!.inferred!.tauFrom, null)
  const b = await infer(noControl({family: 6, omit: LAN_ONLY}))
  assert.equal(b.handoffs.length, 1)
  assert.equal(b.handoffs[0]!.baddr, 'fd00::2')
  assert.equal(b.handoffs[0]!.state!.delta, u32(DEFAULT.biss - DEFAULT.fiss))
  assert.equal(b.handoffs[0]!.state!.tau, u32(DEFAULT.bts - DEFAULT.fts))
})

test('one file per vantage point, in any order: the BE\'s SYN/ACK is tied to its connection all the same', async () => {
  const d = join(dir, 'split')
  mkdirSync(d)
  const built = buildHandoffTrace(d, {split: true, omit: ['control']})
  const files = built.files.filter((f) => f.includes('be1-inside')).concat(built.files.filter((f) => !f.includes('be1-inside')))
  assert.match(files[0]!, /be1-inside/)
  const r = await inferHandoffs(files, {controlPort: CONTROL_PORT, vantage: [], known: []})
  assert.equal(r.handoffs.length, 1)
  assert.equal(r.handoffs[0]!.inferred!.deltaFrom, 'syn-ack')
  assert.equal(r.handoffs[0]!.state!.delta, u32(DEFAULT.biss - DEFAULT.fiss))
})

test('estimator: copies with the client\'s own numbers (Δ = 0, an address translator) are not a handoff', async () => {
  const r = await infer(noControl({numbers: {...WRAP, biss: WRAP.fiss}}))
  assert.equal(r.handoffs.length, 0)
  assert.equal(r.report.candidates, 1)
  assert.match(r.report.rejected[0]!.reason, /Δ = 0/)
})

test('several handoffs, distractors left alone, hids in SYN order', async () => {
  const r = await infer(noControl({handoffs: 3, spacingMs: 5}))
  assert.deepEqual(r.handoffs.map((h) => [h.hid, h.cport]), [['inferred/1', 20001], ['inferred/2', 20002], ['inferred/3', 20003]])
  // The nacked handoff (served by the FE), the locally served connection and the plain one: no other node in them.
  assert.equal(r.report.candidates, 3)
})

test('an inferred hid never repeats a control hid', async () => {
  const known = [{hid: 'inferred/1', cip: '192.0.2.1', cport: 1, terminates: [], segs: []} as unknown as Handoff]
  const r = await inferHandoffs([noControl({handoffs: 2})], {controlPort: CONTROL_PORT, vantage: [], known})
  assert.deepEqual(r.handoffs.map((h) => h.hid), ['inferred/2', 'inferred/3'])
})

test('interfaces without names: inferred from forwarded pairs, the views placed by them, inferred again: Δ from the SYN/ACKs', async () => {
  const names = {client: 'eth0', lan: 'eth1', 'fe1-inside': 'eth2', 'be1-inside': 'eth3'}
  const clean = await runCheck([noControl({names})], {infer: true})
  assert.equal(clean.handoffs.length, 1)
  assert.deepEqual(clean.views.map((v) => `${v.name}=${v.vantage}/${v.from}`), ['eth0=client/traffic', 'eth1=lan/traffic', 'eth2=lan/default', 'eth3=inside/traffic'])
  assert.equal(clean.handoffs[0]!.inferred!.deltaFrom, 'syn-ack')
  assert.deepEqual(clean.handoffs[0]!.state, {delta: u32(DEFAULT.biss - DEFAULT.fiss), tau: u32(DEFAULT.bts - DEFAULT.fts), wsF: 7, wsB: 7})
  assert.deepEqual(clean.violations, [])
  const bad = await runCheck([noControl({names, fault: 'seq-remap'})], {infer: true})
  assert.deepEqual([...new Set(bad.violations.map((v) => v.id))], ['seq-remap'])
})

test('connections with control messages are never inferred; without --infer nothing changes', async () => {
  const p = trace({handoffs: 2})
  const plain = await runCheck([p])
  const inf = await runCheck([p], {infer: true})
  assert.deepEqual(inf.inference, {candidates: 0, inferred: 0, rejected: []})
  assert.deepEqual(inf.handoffs.map((h) => h.hid), plain.handoffs.map((h) => h.hid))
  assert.deepEqual({...inf, inference: undefined}, {...plain, inference: undefined})
  assert.equal('inference' in plain, false)
  // The same traffic without its control channel and without --infer: no handoff at all.
  const bare = await runCheck([noControl({handoffs: 2})])
  assert.equal(bare.summary.handoffs, 0)
  assert.deepEqual(bare.violations, [])
})

/**
 * Faults only the control messages (or the terminate's time) show: with the
 * control channel gone they are not judged. isn-mismatch compares the
 * messages' ISNs with the wire (the inferred state is the wire's);
 * request-replay compares pkts with the client's segments; handoff-orphan and
 * control-framing are about messages; late-forward needs the terminate.
 */
const NOT_JUDGEABLE = new Set<Fault>(['isn-mismatch', 'isn-mismatch-fiss', 'isn-mismatch-biss', 'request-replay', 'request-replay-count',
  'handoff-orphan', 'handoff-orphan-terminate', 'late-forward', 'control-framing'])

for (const f of FAULTS) {
  const want = NOT_JUDGEABLE.has(f) ? [] : [faultCheckId(f)]
  test(`--infer, fault ${f} without the control channel → ${want.length ? `${want[0]}, as with it` : 'not judged, nothing reported'}`, async () => {
    const withCtl = await runCheck([trace({fault: f})])
    const r = await runCheck([noControl({fault: f})], {infer: true})
    assert.equal(r.summary.controlMessages, 0)
    assert.deepEqual(r.handoffs.map((h) => h.hid), ['inferred/1'])
    assert.deepEqual(r.handoffs[0]!.state, withCtl.handoffs.find((h) => h.hid === 'fe1/1')!.state, 'same Δ, τ, wsF, wsB')
    assert.deepEqual([...new Set(r.violations.map((v) => v.id))], want, JSON.stringify(r.violations, null, 1))
    if (want.length === 0) return
    // The same segments, fields and values as with the control channel (frames differ: the control packets are gone).
    const key = (v: (typeof r.violations)[number]) => `${v.id}|${v.time}|${v.field}|${String(v.expected)}|${String(v.seen)}`
    assert.deepEqual(r.violations.map(key).sort(), withCtl.violations.map(key).sort())
    for (const v of r.violations) assert.equal(v.hid, 'inferred/1')
  })
}

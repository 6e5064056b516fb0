// check --infer on the lab's recorded runs (samples/traces/lab-*/lab.pcapng.gz)
// with the control channel taken out: each is copied without its `control`
// interface (test/support/strip-interfaces.ts, the repository's pcapng
// writer) and checked with --infer, against `check` on the original:
//   - the same handed-off connections, with exactly the same Δ, τ, wsF, wsB;
//   - lab-clean: no violation;
//   - a fault the wire shows: the same violations (id, connection, segment,
//     field, expected and seen) as with the control channel, and no other;
//   - a fault only the control messages or the terminate show: not judged,
//     nothing reported (and the same for the late-forward warnings some faults
//     bring in their wake: late-forward needs the terminate's time).
// Detectable without the control channel (the lab records every vantage
// point, so the BE's SYN/ACK is there and Δ / τ are the spec's): ack-remap,
// sack-remap, ts-remap, seq-remap, tcp-checksum, ip-checksum, addr-rewrite,
// rst-leak, synack-leak, window-rescale. Not: isn-mismatch (compares the
// messages' ISNs with the wire), request-replay (the handoff-req's pkts),
// handoff-orphan (messages), late-forward (the terminate's time).
// Skipped when the traces are not there.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck, type CheckReport} from '../../analyzer/check.js'
import {repoRoot} from '../support/env.js'
import {stripInterfaces} from '../support/strip-interfaces.js'

const dir = join(repoRoot, 'samples', 'traces')
const runs = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith('lab-') && existsSync(join(dir, d, 'lab.pcapng.gz'))) : []
const tmp = mkdtempSync(join(tmpdir(), 'handoff-infer-lab-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))

const DETECTABLE = new Set(['ack-remap', 'sack-remap', 'ts-remap', 'seq-remap', 'tcp-checksum', 'ip-checksum', 'addr-rewrite', 'rst-leak',
  'synack-leak', 'window-rescale'])
const NOT_DETECTABLE = new Set(['isn-mismatch', 'request-replay', 'handoff-orphan', 'late-forward'])

type V = CheckReport['violations'][number]
const key = (v: V) => `${v.id}|${v.connection}|${v.time}|${v.field}|${String(v.expected)}|${String(v.seen)}`

test('lab traces are present', (t) => {
  if (runs.length === 0) t.skip('skipped: no samples/traces/lab-*/lab.pcapng.gz')
})

for (const run of runs) {
  const fault = run.slice('lab-'.length)
  const what = fault === 'clean' ? 'no violations' : DETECTABLE.has(fault) ? `${fault} as with the control channel` : `${fault} not judged, nothing reported`
  test(`${run} without its control channel, --infer: the same handoffs, Δ and τ; ${what}`, async () => {
    const src = join(dir, run, 'lab.pcapng.gz')
    const copy = join(tmp, `${run}.pcapng`)
    const {dropped} = await stripInterfaces(src, copy, (name) => name === 'control')
    assert.ok(dropped > 0)
    const orig = await runCheck([src])
    const r = await runCheck([copy], {infer: true})
    assert.equal(r.captureErrors.length, 0)
    assert.equal(r.summary.controlMessages, 0)
    assert.ok(!r.views.some((v) => v.vantage === 'control'))
    // The handoffs: connection → state, as the control channel gives them (aligned with the wire's ISNs).
    const states = (l: CheckReport['handoffs']) => Object.fromEntries(l.filter((h) => h.outcome === 'handed-off').map((h) => [h.connection, h.state]))
    const want = states(orig.handoffs)
    assert.ok(Object.keys(want).length > 0)
    assert.deepEqual(states(r.handoffs), want)
    assert.deepEqual(r.inference, {candidates: Object.keys(want).length, inferred: Object.keys(want).length, rejected: []})
    for (const h of r.handoffs) {
      assert.match(h.hid, /^inferred\/\d+$/)
      const i = h.inferred!
      // The BE's inside view is recorded: Δ and τ come from the two SYN/ACKs, and the pairs were matched.
      assert.equal(i.deltaFrom, 'syn-ack')
      assert.equal(i.tauFrom, 'syn-ack')
      assert.ok(i.matches.forward > 0 && i.matches.ret > 0, JSON.stringify(i.matches))
      if (fault === 'clean') assert.equal(i.matches.deltaDisagree + i.matches.tauDisagree, 0, `${h.connection}: ${JSON.stringify(i.matches)}`)
      assert.deepEqual(i.notJudged, ['isn-mismatch', 'request-replay', 'late-forward', 'handoff-orphan', 'control-framing'])
    }
    if (fault === 'clean') {
      assert.deepEqual(r.violations, [])
      return
    }
    if (DETECTABLE.has(fault)) {
      assert.ok(r.violations.some((v) => v.id === fault), `${fault} not reported`)
      const expected = orig.violations.filter((v) => !NOT_DETECTABLE.has(v.id))
      assert.deepEqual(r.violations.map(key).sort(), expected.map(key).sort())
    } else {
      assert.ok(NOT_DETECTABLE.has(fault), `${fault}: say whether it is detectable`)
      assert.ok(orig.violations.some((v) => v.id === fault))
      assert.deepEqual(r.violations, [])
    }
  })
}

test('lab-ack-remap: each forwarded segment the faulty FE got wrong is one pair that disagrees with Δ', async (t) => {
  if (!runs.includes('lab-ack-remap')) { t.skip('skipped: no lab-ack-remap trace'); return }
  const copy = join(tmp, 'ack-remap-2.pcapng')
  await stripInterfaces(join(dir, 'lab-ack-remap', 'lab.pcapng.gz'), copy, (name) => name === 'control')
  const r = await runCheck([copy], {infer: true})
  let faulty = 0
  for (const h of r.handoffs) {
    const m = h.inferred!.matches
    const n = r.violations.filter((v) => v.connection === h.connection && v.id === 'ack-remap').length
    if (n > 0) faulty++
    // The forwarded ack is ack + Δ − 1 on every segment of a faulty handoff: each is a pair voting Δ − 1.
    assert.equal(m.deltaDisagree, n, `${h.connection}: ${JSON.stringify(m)}`)
    assert.equal(m.tauDisagree, 0)
  }
  assert.equal(faulty, 3)
})

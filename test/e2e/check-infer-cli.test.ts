// End to end: `handoff check --infer` through the real CLI on synthetic
// traces written without their control interface: the text report names the
// inferred handoffs with Δ, τ and the matched pairs, --json carries them, a
// fault the wire shows makes the exit status 1, --junit skips the ids not
// judged on an inferred handoff, and without --infer (or with
// the control channel present) the output is what it always was.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin} from '../support/env.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-check-infer-e2e-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cliBin, 'check', ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {code: r.status, out: r.stdout, err: r.stderr}
}

const clean = join(dir, 'clean-noctl.pcapng')
buildHandoffTrace(clean, {omit: ['control']})
const faulty = join(dir, 'seq-remap-noctl.pcapng')
buildHandoffTrace(faulty, {omit: ['control'], fault: 'seq-remap'})
const lanOnly = join(dir, 'lan-only-noctl.pcapng')
buildHandoffTrace(lanOnly, {omit: ['control', 'client', 'fe1-inside', 'be1-inside']})
const withCtl = join(dir, 'with-control.pcapng')
buildHandoffTrace(withCtl, {})

// Δ = biss − fiss and τ = bts − fts of the builder's first handoff (test/support/handoff-trace.ts).
const DELTA = ((0x3000_0000 + 0x00a1b2c3) - (0x8000_0000 + 0x00731337)) >>> 0
const TAU = ((0x0100_0000 + 1000) - (0x5000_0000 + 1000)) >>> 0

test('--infer on a trace without control channel: the inferred handoff with Δ, τ and the matches; exit 0', () => {
  const r = run(clean, '--infer')
  assert.equal(r.code, 0, r.err)
  assert.equal(r.err, '')
  assert.match(r.out, /inferred\/1\s+10\.0\.0\.10:20001 ↔ 10\.0\.0\.1:80\s+inferred handed-off → 10\.0\.0\.2 .* ok/)
  assert.match(r.out, new RegExp(`Δ ${DELTA} \\(0x${DELTA.toString(16).padStart(8, '0')}\\) from the SYN/ACKs \\((\\d+) of \\1 matched pair\\(s\\) agree\\)`))
  assert.match(r.out, new RegExp(`τ ${TAU} \\(0x${TAU.toString(16).padStart(8, '0')}\\) from the SYN/ACKs \\(\\d+ agree, 0 disagree\\)`))
  assert.match(r.out, /--infer: 1 handoff\(s\) inferred from the traffic \(no control messages\) of 1 candidate connection\(s\); not judged on them: isn-mismatch, request-replay, late-forward, handoff-orphan, control-framing/)
  assert.match(r.out, /1 handoff\(s\), 0 control message\(s\): no violations/)
})

test('--infer from the LAN alone: from matched pairs, window-rescale and option-mismatch not judged', () => {
  const r = run(lanOnly, '--infer')
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, new RegExp(`Δ ${DELTA} .* from matched pairs \\(\\d+ of \\d+ matched pair\\(s\\) agree\\)`))
  assert.match(r.out, /not judged: window-rescale, option-mismatch \(BE's SYN\/ACK not captured\)/)
})

test('--infer --json: inferred handoffs, their state and matches, the inference summary', () => {
  const r = run(clean, '--infer', '--json')
  assert.equal(r.code, 0)
  const j = JSON.parse(r.out)
  assert.deepEqual(j.inference, {candidates: 1, inferred: 1, rejected: []})
  assert.equal(j.handoffs.length, 1)
  const h = j.handoffs[0]
  assert.equal(h.hid, 'inferred/1')
  assert.equal(h.outcome, 'handed-off')
  assert.deepEqual(h.state, {delta: DELTA, tau: TAU, wsF: 7, wsB: 7})
  assert.equal(h.inferred.deltaFrom, 'syn-ack')
  assert.equal(h.inferred.matches.deltaDisagree, 0)
  assert.ok(h.inferred.matches.deltaAgree > 0)
  assert.deepEqual(h.inferred.notJudged, ['isn-mismatch', 'request-replay', 'late-forward', 'handoff-orphan', 'control-framing'])
})

test('--infer on a faulty trace: the violation under the inferred hid, exit 1', () => {
  const r = run(faulty, '--infer', '--json')
  assert.equal(r.code, 1)
  const j = JSON.parse(r.out)
  assert.deepEqual([...new Set(j.violations.map((v: {id: string}) => v.id))], ['seq-remap'])
  assert.ok(j.violations.every((v: {hid: string}) => v.hid === 'inferred/1'))
  const t = run(faulty, '--infer')
  assert.equal(t.code, 1)
  assert.match(t.out, /^inferred\/1\s+10\.0\.0\.10:20001 ↔ 10\.0\.0\.1:80\n\s+error\s+seq-remap/m)
})

test('without --infer: no handoff, no inference in the report; with the control channel --infer changes nothing', () => {
  const r = run(clean, '--json')
  assert.equal(r.code, 0)
  const j = JSON.parse(r.out)
  assert.equal(j.summary.handoffs, 0)
  assert.equal('inference' in j, false)
  // Nothing inferred; only the hint that --infer exists, since there is no control message.
  const text = run(clean).out
  assert.doesNotMatch(text, /inferred|Δ/)
  assert.deepEqual(text.split('\n').filter((l) => l.includes('--infer')),
    ['no control-channel message in the trace: no handoff to judge. If the control channel was not captured, --infer recognises handed-off connections from the traffic'])
  const a = JSON.parse(run(withCtl, '--json').out)
  const b = JSON.parse(run(withCtl, '--json', '--infer').out)
  assert.deepEqual(b.inference, {candidates: 0, inferred: 0, rejected: []})
  delete b.inference
  assert.deepEqual(b, a)
})

test('--infer --junit: the ids not judged on an inferred handoff are skipped testcases', () => {
  const x = join(dir, 'junit.xml')
  assert.equal(run(faulty, '--infer', '--junit', x).code, 1)
  const xmlText = readFileSync(x, 'utf8')
  const cases = [...xmlText.matchAll(/<testcase classname="inferred\/1 [^"]*" name="([a-z-]+)">(\s*<(failure|skipped)[^>]*>)?/g)]
  assert.equal(cases.length, 16)
  assert.deepEqual(cases.filter((c) => c[3] === 'skipped').map((c) => c[1]), ['isn-mismatch', 'request-replay', 'handoff-orphan', 'late-forward'])
  assert.deepEqual(cases.filter((c) => c[3] === 'failure').map((c) => c[1]), ['seq-remap'])
})

test('--infer with a missing file: exit 2, a one-line error, no stack trace', () => {
  const r = run(clean, join(dir, 'missing.pcapng'), '--infer')
  assert.equal(r.code, 2)
  assert.match(r.err, /missing\.pcapng: cannot open/)
  assert.doesNotMatch(r.err, /\n\s+at /)
  assert.match(r.out, /inferred\/1/)
})

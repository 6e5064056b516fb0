// Every capture of the shared corpus (../shared/captures) is read by `check`
// without a crash and raises no check id: none holds a handoff (spec §5:
// traffic that belongs to no handoff never raises these ids). Damaged files
// are reported as capture errors; with --infer no connection in them is taken
// for a handoff. Also the recorded control-channel sample:
// its only violations are the control-framing errors `messages` reports.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {extractControlMessages} from '../../analyzer/control/channels.js'
import {repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'

test('shared capture corpus: no handoff violations, no crash', async (t) => {
  if (!requireOrSkip(t, existsSync(sharedCaptures), `no corpus at ${sharedCaptures}`)) return
  const files = readdirSync(sharedCaptures).filter((f) => !f.startsWith('MANIFEST'))
  assert.ok(files.length > 10)
  for (const f of files) {
    const r = await runCheck([join(sharedCaptures, f)])
    assert.deepEqual(r.violations, [], f)
    assert.equal(r.summary.handoffs, 0, f)
  }
})

test('all corpus files at once', async (t) => {
  if (!requireOrSkip(t, existsSync(sharedCaptures), `no corpus at ${sharedCaptures}`)) return
  const files = readdirSync(sharedCaptures).filter((f) => !f.startsWith('MANIFEST')).map((f) => join(sharedCaptures, f))
  const r = await runCheck(files)
  assert.deepEqual(r.violations, [])
  assert.ok(r.packets > 1000)
})

test('shared capture corpus with --infer: no connection is taken for a handoff, nothing reported', async (t) => {
  if (!requireOrSkip(t, existsSync(sharedCaptures), `no corpus at ${sharedCaptures}`)) return
  const files = readdirSync(sharedCaptures).filter((f) => !f.startsWith('MANIFEST')).map((f) => join(sharedCaptures, f))
  // One file at a time (each file's connections alone) and all at once (connections of different files side by side).
  for (const set of [...files.map((f) => [f]), files]) {
    const r = await runCheck(set, {infer: true})
    assert.deepEqual(r.inference, {candidates: 0, inferred: 0, rejected: []}, set.join(' '))
    assert.equal(r.summary.handoffs, 0)
    assert.deepEqual(r.violations, [])
  }
})

test('samples/traces/control-channel.pcapng: only the framing errors of the control channel', async () => {
  const p = join(repoRoot, 'samples', 'traces', 'control-channel.pcapng')
  const r = await runCheck([p])
  const m = await extractControlMessages([p])
  assert.equal(r.violations.filter((v) => v.id === 'control-framing').length, m.summary.errors)
  assert.deepEqual(r.violations.filter((v) => v.id !== 'control-framing'), [])
})

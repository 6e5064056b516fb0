// The checker on the lab's recorded runs (samples/traces/lab-*/lab.pcapng.gz,
// see samples/traces/README.md; one interface per vantage point). The lab's
// daemons break one rule on the handoffs whose hid number is 1 mod 4. What is
// asserted is what the spec implies, not a snapshot of the output:
//   - lab-clean: no violation at all;
//   - lab-<id>: that id is reported, and every violation belongs to a faulty
//     handoff (or, for handoff-orphan, to a hid no request announced).
// A fault may bring others in its wake on the same handoff (a client that
// resets because of a leaked segment makes the FE forward its resets late:
// late-forward) — those are reported, and allowed here.
// Skipped when the traces are not there.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {CHECK_IDS} from '../../analyzer/checks/types.js'
import {repoRoot} from '../support/env.js'

const dir = join(repoRoot, 'samples', 'traces')
const runs = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith('lab-') && existsSync(join(dir, d, 'lab.pcapng.gz'))) : []

const faulty = (hid: string) => {
  const n = Number(hid.slice(hid.lastIndexOf('/') + 1))
  return Number.isInteger(n) && n % 4 === 1
}

test('lab traces are present', (t) => {
  if (runs.length === 0) t.skip('skipped: no samples/traces/lab-*/lab.pcapng.gz')
})

for (const run of runs) {
  const fault = run.slice('lab-'.length)
  test(`${run}: ${fault === 'clean' ? 'no violations' : `${fault} on the faulty handoffs only`}`, async () => {
    const r = await runCheck([join(dir, run, 'lab.pcapng.gz')])
    assert.equal(r.captureErrors.length, 0)
    assert.ok(r.summary.handoffs > 0)
    assert.deepEqual(r.views.map((v) => v.vantage).filter((k) => k === 'client' || k === 'lan' || k === 'control').sort(), ['client', 'control', 'lan'])
    if (fault === 'clean') {
      assert.deepEqual(r.violations, [])
      return
    }
    if (!(CHECK_IDS as readonly string[]).includes(fault)) return
    assert.ok(r.violations.some((v) => v.id === fault), `${fault} not reported`)
    for (const v of r.violations) {
      if (fault === 'handoff-orphan') assert.ok(v.hid !== undefined && r.handoffs.every((h) => h.hid !== v.hid), JSON.stringify(v))
      else assert.ok(v.hid !== undefined && faulty(v.hid), `violation on a handoff the lab did not break: ${JSON.stringify(v)}`)
    }
  })
}

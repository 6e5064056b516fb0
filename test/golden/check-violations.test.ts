// Golden: the violations `check` reports on each faulty synthetic trace (id,
// handoff, frame, vantage point, field, expected, seen) against a baseline
// in test/fixtures/check/violations.json (Zeek-style baselines). The
// synthetic traces are deterministic, so any change in what is reported, or
// where, shows here. Regenerate with HANDOFF_UPDATE_GOLDEN=1 after checking
// the difference is intended.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {repoRoot} from '../support/env.js'
import {buildHandoffTrace, FAULTS} from '../support/handoff-trace.js'

const baseline = join(repoRoot, 'test', 'fixtures', 'check', 'violations.json')
const dir = mkdtempSync(join(tmpdir(), 'handoff-check-golden-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

test('violations of every fault knob match the baseline', async () => {
  const got: Record<string, unknown[]> = {}
  for (const f of FAULTS) {
    const p = join(dir, `${f}.pcapng`)
    buildHandoffTrace(p, {fault: f})
    const r = await runCheck([p])
    got[f] = r.violations.map((v) => ({id: v.id, severity: v.severity, hid: v.hid ?? null, frame: v.frame, vantage: v.vantage ?? null,
      field: v.field ?? null, expected: v.expected ?? null, seen: v.seen ?? null}))
  }
  if (process.env.HANDOFF_UPDATE_GOLDEN === '1') writeFileSync(baseline, JSON.stringify(got, null, 1) + '\n')
  assert.deepEqual(got, JSON.parse(readFileSync(baseline, 'utf8')))
})

// `handoff sessions --infer` run as a user runs it: the built CLI in a child
// process, on the lab's clean run with its control interface taken out
// (test/support/strip-interfaces.ts): --json, the --kind handoff filter,
// --per-view with an inferred hid, the text table and footer, and the same
// trace without --infer (no handoff at all). Skipped without the trace.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin, repoRoot, requireOrSkip} from '../support/env.js'
import {stripInterfaces} from '../support/strip-interfaces.js'
import type {ConnectionRow} from '../../analyzer/sessions/merge.js'
import type {SessionRow} from '../../analyzer/sessions/sessions.js'

const src = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
const tmp = mkdtempSync(join(tmpdir(), 'handoff-sessions-infer-cli-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))

function run(args: string[]): {code: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [cliBin, 'sessions', ...args], {cwd: repoRoot, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

interface Out<R> {rows: R[]; summary: {byKind: Record<string, number>; shown: number; inference?: {candidates: number; inferred: number; rejected: unknown[]}}; exitCode: number}

test('sessions --infer on lab-clean without its control channel: --json, --kind handoff, --per-view --hid, text', async (t) => {
  if (!requireOrSkip(t, existsSync(src), 'samples/traces/lab-clean/lab.pcapng.gz missing')) return
  const copy = join(tmp, 'no-control.pcapng')
  await stripInterfaces(src, copy, (name) => name === 'control')

  const all = run([copy, '--infer', '--json'])
  assert.equal(all.code, 0, all.stderr)
  const a = JSON.parse(all.stdout) as Out<ConnectionRow>
  assert.deepEqual(a.summary.byKind, {handoff: 12, local: 4})
  assert.deepEqual(a.summary.inference, {candidates: 12, inferred: 12, rejected: []})

  const only = run([copy, '--infer', '--kind', 'handoff', '--json'])
  assert.equal(only.code, 0, only.stderr)
  const h = JSON.parse(only.stdout) as Out<ConnectionRow>
  assert.equal(h.rows.length, 12)
  assert.equal(h.summary.shown, 12)
  assert.deepEqual(h.rows.map((r) => r.hid).sort((x, y) => Number(x!.split('/')[1]) - Number(y!.split('/')[1])),
    Array.from({length: 12}, (_, i) => `inferred/${i + 1}`))
  for (const r of h.rows) {
    assert.equal(r.kind, 'handoff')
    assert.match(r.backend!, /^10\.77\.0\.1[123]$/)
    assert.notEqual(r.backend, r.server)
    assert.ok(r.handoffLatencyMs !== null && r.handoffLatencyMs > 0)
  }
  // The back-end filter takes the bare address of an inferred handoff.
  const be = h.rows[0]!.backend!
  const byBe = JSON.parse(run([copy, '--infer', '--backend', be, '--json']).stdout) as Out<ConnectionRow>
  assert.deepEqual(byBe.rows.map((r) => r.hid), h.rows.filter((r) => r.backend === be).map((r) => r.hid))

  const pv = run([copy, '--infer', '--per-view', '--hid', 'inferred/3', '--json'])
  assert.equal(pv.code, 0, pv.stderr)
  const p = JSON.parse(pv.stdout) as Out<SessionRow>
  assert.equal(p.rows.length, 5) // client, LAN (both legs), FE inside, BE inside
  assert.ok(p.rows.every((r) => r.hid === 'inferred/3' && r.kind === 'handoff'))

  const text = run([copy, '--infer', '--kind', 'handoff'])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /^handoff +inferred\/1 +10\.77\.0\.\d+ → 10\.77\.0\.\d+ +\d+\.\d{3} /m)
  assert.match(text.stdout, /inferred from the traffic \(--infer\): 12 of 12 candidates/)
  assert.match(text.stdout, /note: handoff latency of an inferred\/<n> handoff/)

  // Without --infer: no control channel, so no handoff and no local connection, and each forwarded leg
  // (client → BE address on the LAN) is a connection of its own: 16 + 12.
  const none = JSON.parse(run([copy, '--json']).stdout) as Out<ConnectionRow>
  assert.deepEqual(none.summary.byKind, {plain: 28})
  assert.equal(none.summary.inference, undefined)
  assert.equal(run([copy, '--kind', 'handoff', '--json']).stdout.includes('inferred/'), false)
})

// sessions --infer on the lab's recorded runs (samples/traces/lab-*/lab.pcapng.gz)
// with the control channel taken out (test/support/strip-interfaces.ts, as
// check-infer-lab-traces.test.ts does), against `sessions` on the original:
// the same client connections (the control channel's own connections aside:
// they were only on the interface taken out), the same kinds, the same
// back-end addresses, the same numbers from the same views (stream numbers aside: the control
// channel's sessions were numbered too); hids differ
// (inferred/<n>) and are those `check --infer` gives the same connections.
// Every inferred handoff has a latency (the lab records the BE's inside view).
// Skipped when the traces are not there.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {CONTROL_PORT} from '../../analyzer/control/messages.js'
import {collectSessions, type SessionsReport} from '../../analyzer/sessions/collect.js'
import type {ConnectionRow} from '../../analyzer/sessions/merge.js'
import {repoRoot} from '../support/env.js'
import {stripInterfaces} from '../support/strip-interfaces.js'

const dir = join(repoRoot, 'samples', 'traces')
const runs = existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith('lab-') && existsSync(join(dir, d, 'lab.pcapng.gz'))) : []
const tmp = mkdtempSync(join(tmpdir(), 'handoff-sessions-infer-lab-'))
process.on('exit', () => rmSync(tmp, {recursive: true, force: true}))

type Conns = SessionsReport & {mode: 'connections'}
const conn = (c: ConnectionRow) => `${c.client}:${c.clientPort} ↔ ${c.server}:${c.serverPort}`
/** "node (addr)" from a handoff-ack, or the bare address of an inferred handoff: the address. */
const beAddr = (b: string | null) => (b === null ? null : /\(([^)]*)\)$/.exec(b)?.[1] ?? b)
/** What must not change: everything but the hid, the FE's name, the BE's name and the latency (whose end differs). */
const comparable = (c: ConnectionRow) => ({
  conn: conn(c), kind: c.kind, backend: beAddr(c.backend), state: c.state, history: c.history, bytes: c.bytes, packets: c.packets,
  from: c.from.view.replace(/^[^#]*/, ''), seenAt: c.seenAt.map((s) => `${s.view.replace(/^[^#]*/, '')} ${s.leg} ${s.state} ${s.history}`),
})

test('lab traces are present', (t) => {
  if (runs.length === 0) t.skip('skipped: no samples/traces/lab-*/lab.pcapng.gz')
})

for (const run of runs) {
  test(`${run} without its control channel, sessions --infer: the same connections, kinds and back-ends; hids as check --infer`, async () => {
    const src = join(dir, run, 'lab.pcapng.gz')
    const copy = join(tmp, `${run}.pcapng`)
    const {dropped} = await stripInterfaces(src, copy, (name) => name === 'control')
    assert.ok(dropped > 0)
    const orig = (await collectSessions([src], {})) as Conns
    const r = (await collectSessions([copy], {}, {infer: true})) as Conns
    const notControl = (c: ConnectionRow) => c.clientPort !== CONTROL_PORT && c.serverPort !== CONTROL_PORT
    const want = orig.rows.filter(notControl)
    assert.ok(want.filter((c) => c.kind === 'handoff').length > 0)
    assert.equal(r.rows.length, want.length)
    assert.ok(r.rows.every(notControl))
    assert.deepEqual(r.rows.map(comparable), want.map(comparable))
    assert.deepEqual(r.summary.byKind, {handoff: want.filter((c) => c.kind === 'handoff').length, local: want.filter((c) => c.kind === 'local').length})
    const check = await runCheck([copy], {infer: true})
    const handoffs = r.rows.filter((c) => c.kind === 'handoff')
    assert.deepEqual(handoffs.map((c) => `${c.hid} ${conn(c)} ${c.backend}`).sort(),
      check.handoffs.map((h) => `${h.hid} ${h.connection} ${h.backend}`).sort())
    assert.deepEqual(r.summary.inference, check.inference)
    for (const c of handoffs) {
      assert.match(c.hid!, /^inferred\/\d+$/)
      assert.equal(c.frontend, c.server)
      assert.ok(c.handoffLatencyMs !== null && c.handoffLatencyMs > 0, `${c.hid}: ${c.handoffLatencyMs}`)
      assert.match(c.handoffLatencyFrom!.ackView, /\(n\d-inside\)$/)
      assert.equal(c.handoffLatencyFrom!.sameClock, true)
    }
  })
}

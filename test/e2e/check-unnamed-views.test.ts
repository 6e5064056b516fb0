// Views whose names say nothing of their place (eth0, eth1, … instead of the
// lab's client / lan / <node>-inside / control) are placed by their traffic
// (correlate/vantage-infer.ts): on every lab trace (also with --infer and
// the control channel left out), and on synthetic traces with every fault,
// `check` finds the same violations, the same handoffs and the same per-view
// kinds as with the lab's names; `sessions` the same rows and legs.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {gunzipSync} from 'node:zlib'
import {readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck, type CheckReport} from '../../analyzer/check.js'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import {buildHandoffTrace, FAULTS} from '../support/handoff-trace.js'
import {repoRoot} from '../support/env.js'
import {renameInterfaces} from '../support/rename-interfaces.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-unnamed-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

/** What must not depend on the names: violations (id, frame, field) and per-handoff coverage. */
function essence(r: CheckReport) {
  return {
    byId: r.summary.byId,
    violations: r.violations.map((v) => `${v.id} ${v.hid ?? v.connection} frame ${v.frame} ${v.field ?? ''}`),
    handoffs: r.handoffs.map((h) => `${h.hid} ${h.outcome} ${JSON.stringify(h.packetByPacket)} ${h.violations}`),
  }
}

/** The kind the lab's name gives, for the views the traffic must place. FE-inside views stay LAN (see vantage-infer.ts). */
function expectedKinds(r: CheckReport): string[] {
  return r.views.map((v) => (v.vantage === 'inside' && /^n\d+-inside$|^be\d*-inside$/.test(v.name) ? 'inside' : v.vantage))
}

const labDir = join(repoRoot, 'samples', 'traces')
for (const run of readdirSync(labDir).filter((d) => d.startsWith('lab-'))) {
  test(`${run}: interfaces named eth0… give the same check`, async () => {
    const named = join(dir, `${run}.pcapng`)
    writeFileSync(named, gunzipSync(readFileSync(join(labDir, run, 'lab.pcapng.gz'))))
    const unnamed = join(dir, `${run}-eth.pcapng`)
    renameInterfaces(named, unnamed, (_n, id) => `eth${id}`)
    const a = await runCheck([named])
    const b = await runCheck([unnamed])
    assert.deepEqual(essence(b), essence(a))
    assert.ok(b.views.every((v) => v.from === 'traffic' || v.from === 'default'), JSON.stringify(b.views))
    // Every node of the lab is a BE for some connection: each inside view shows the BE's legs.
    assert.deepEqual(b.views.map((v) => v.vantage), expectedKinds(a))
    // Without the control channel, --infer: the inferred handoffs place the views, and are inferred again from there.
    const noCtl = join(dir, `${run}-noctl.pcapng`)
    const noCtlEth = join(dir, `${run}-noctl-eth.pcapng`)
    renameInterfaces(named, noCtl, (n) => n, ['control'])
    renameInterfaces(named, noCtlEth, (_n, id) => `eth${id}`, ['control'])
    const c = await runCheck([noCtl], {infer: true})
    const e = await runCheck([noCtlEth], {infer: true})
    assert.ok(c.handoffs.length > 0)
    assert.deepEqual({...essence(e), states: e.handoffs.map((h) => h.state)}, {...essence(c), states: c.handoffs.map((h) => h.state)})
  })
}

test('synthetic traces, every fault: interfaces named eth0… give the same check', async () => {
  // (--infer on these is covered by the lab traces above.)
  const names = {client: 'eth0', lan: 'eth1', 'fe1-inside': 'eth2', 'be1-inside': 'eth3', control: 'eth4'}
  for (const fault of [undefined, ...FAULTS]) {
    const a = join(dir, 'a.pcapng')
    const b = join(dir, 'b.pcapng')
    buildHandoffTrace(a, {fault})
    buildHandoffTrace(b, {fault, names})
    const ra = await runCheck([a])
    const rb = await runCheck([b])
    assert.deepEqual(essence(rb), essence(ra), `fault ${fault ?? 'none'}`)
    assert.deepEqual(rb.views.map((v) => `${v.name}=${v.vantage}`), ['eth0=client', 'eth1=lan', 'eth2=lan', 'eth3=inside', 'eth4=control'])
  }
})

test('sessions places unnamed views the same way: the same rows, vantage points and legs as with the lab names', async () => {
  const named = join(dir, 'sessions-lab-clean.pcapng')
  writeFileSync(named, gunzipSync(readFileSync(join(labDir, 'lab-clean', 'lab.pcapng.gz'))))
  const unnamed = join(dir, 'sessions-lab-clean-eth.pcapng')
  renameInterfaces(named, unnamed, (_n, id) => `eth${id}`)
  const rows = (r: Awaited<ReturnType<typeof collectSessions>>) => r.rows.map((x) => JSON.stringify([x.kind, x.hid, x.client, x.clientPort,
    x.server, x.backend, x.state, x.history, x.packets, x.bytes, 'seenAt' in x ? x.seenAt.map((s) => `${s.vantage}/${s.leg}`) : x.vantage]))
  const a = await collectSessions([named], {})
  const b = await collectSessions([unnamed], {})
  assert.deepEqual(rows(b), rows(a))
  assert.ok(b.views.every((v) => v.from === 'traffic'), JSON.stringify(b.views))
})

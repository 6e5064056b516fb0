// `handoff sessions` merged into client connections, on the lab's recorded
// runs (samples/traces/lab-*: one pcapng, one interface per vantage point:
// client, lan, n1..n3-inside, control):
//   - the text output against a committed golden (test/fixtures/sessions/;
//     HANDOFF_UPDATE_GOLDEN=1 rewrites it: review the diff);
//   - independently of the golden: one row per connection, kinds against
//     the run's summary.json, hid / FE / BE against the control messages,
//     the legs each handoff must have at each view (FE inside = the req's
//     sender, BE inside = the ack's), bytes against the BE's own count in
//     its terminate (cbytes, sbytes), every per-view session in exactly one
//     connection, the clock offsets of the views;
//   - a fault run (isn-mismatch: the req's ciss is not the wire's) still
//     merges every leg of each handoff.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import type {ConnectionRow} from '../../analyzer/sessions/merge.js'
import {collectControl} from '../../analyzer/correlate/control.js'
import {assembleHandoffs} from '../../analyzer/correlate/assemble.js'
import {cliBin, repoRoot} from '../support/env.js'

const goldenDir = join(repoRoot, 'test', 'fixtures', 'sessions')
const trace = (run: string) => join('samples', 'traces', run, 'lab.pcapng.gz')

interface Summary {
  handoffs: number; localServices: number; nacks: number; handoffsTo: Record<string, number>
  perNode: {name: string; local: number}[]
}

async function connections(run: string): Promise<{rows: ConnectionRow[]; report: Awaited<ReturnType<typeof collectSessions>>}> {
  const report = await collectSessions([join(repoRoot, trace(run))], {})
  assert.equal(report.mode, 'connections')
  return {rows: report.rows as ConnectionRow[], report}
}

function checkGolden(run: string): void {
  const r = spawnSync(process.execPath, [cliBin, 'sessions', trace(run)], {cwd: repoRoot, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  assert.equal(r.status, 0, r.stderr)
  const path = join(goldenDir, `${run}.txt`)
  if (process.env.HANDOFF_UPDATE_GOLDEN === '1') {
    mkdirSync(goldenDir, {recursive: true})
    writeFileSync(path, r.stdout)
  }
  assert.ok(existsSync(path), `${path} missing: run with HANDOFF_UPDATE_GOLDEN=1 and review it`)
  assert.equal(r.stdout, readFileSync(path, 'utf8'))
}

/** The legs a handed-off connection leaves at the lab's views, as "view:leg". */
function expectedLegs(fe: string, be: string): string[] {
  return ['client:client-vip', 'lan:client-vip', 'lan:forward', `${fe}-inside:fe-inside`, `${be}-inside:be-inside`].sort()
}

const legsOf = (c: ConnectionRow) => c.seenAt.map((x) => `${/\((.*)\)$/.exec(x.view)![1]}:${x.leg}`).sort()

for (const run of ['lab-clean', 'lab-isn-mismatch']) {
  test(`sessions ${run}: one row per client connection, as the control channel and the run's summary say`, async () => {
    const dir = join(repoRoot, 'samples', 'traces', run)
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary
    const {rows, report} = await connections(run)
    const control = await collectControl([join(dir, 'lab.pcapng.gz')], 7070)
    const {handoffs} = assembleHandoffs(control.messages)

    const ho = rows.filter((x) => x.kind === 'handoff')
    const local = rows.filter((x) => x.kind === 'local')
    assert.equal(ho.length, summary.handoffs)
    assert.equal(local.length, summary.localServices)
    assert.equal(rows.filter((x) => x.kind === 'fallback').length, summary.nacks)
    // The rest are the control channel's own connections (node ↔ node on 7070).
    for (const x of rows.filter((r) => r.kind === 'plain')) assert.ok(x.serverPort === 7070 || x.clientPort === 7070, `${x.client}:${x.clientPort}`)
    assert.equal(new Set(ho.map((x) => x.hid)).size, summary.handoffs)

    for (const c of ho) {
      const h = handoffs.find((x) => x.hid === c.hid)
      assert.ok(h?.req && h.ack, `${c.hid} in the control channel`)
      assert.equal(`${c.client}:${c.clientPort} → ${c.server}:${c.serverPort}`, `${h.cip}:${h.cport} → ${h.vip}:${h.vport}`)
      assert.equal(c.frontend, h.req.msg.node)
      assert.equal(c.backend, `${h.ack.msg.node} (${h.baddr})`)
      assert.deepEqual(legsOf(c), expectedLegs(h.req.msg.node, h.ack.msg.node), c.hid!)
      // The numbers come from the client side; the bytes are what the BE counted (terminate: cbytes, sbytes).
      assert.equal(c.from.vantage, 'client')
      assert.equal(c.from.leg, 'client-vip')
      const term = h.terminates[0]!.msg
      assert.deepEqual(c.bytes, {toServer: term.cbytes, toClient: term.sbytes}, c.hid!)
      assert.ok(c.handoffLatencyMs !== null && c.handoffLatencyMs > 0)
    }
    const to: Record<string, number> = {}
    for (const x of ho) to[x.backend!.split(' ')[0]!] = (to[x.backend!.split(' ')[0]!] ?? 0) + 1
    assert.deepEqual(to, summary.handoffsTo)
    for (const c of local) {
      assert.ok(c.hid === null && c.backend === null)
      assert.deepEqual(legsOf(c), ['client:direct', 'lan:direct', `${c.frontend}-inside:direct`].sort())
    }
    for (const n of summary.perNode) assert.equal(local.filter((x) => x.frontend === n.name).length, n.local, n.name)

    // A partition of the per-view sessions: each in exactly one connection.
    const seen = rows.flatMap((c) => c.seenAt.map((x) => `${x.file}#${x.stream}`))
    assert.equal(seen.length, report.summary.sessions)
    assert.equal(new Set(seen).size, seen.length)

    // Clock offsets: one pcapng is one clock, so the views that share segments with the client side are off by
    // the propagation delay only (well under a millisecond); the control view shares none.
    const views = new Map(report.views.map((v) => [v.name, v]))
    assert.equal(views.get('client')!.offsetMs, 0)
    for (const n of ['lan', 'n1-inside', 'n2-inside', 'n3-inside']) {
      const v = views.get(n)!
      assert.ok(v.offsetMs !== null && Math.abs(v.offsetMs) < 1, `${n}: ${v.offsetMs}`)
      assert.ok(v.samples >= 20, `${n}: ${v.samples} samples`)
      assert.equal(v.reference, `${views.get('client')!.file}#0`)
    }
    assert.equal(views.get('control')!.offsetMs, null)
  })

  test(`sessions ${run}: the text output (golden)`, () => checkGolden(run))
}

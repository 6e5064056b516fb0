// The handoff columns of `handoff sessions --per-view` (analyzer/sessions/handoff.ts):
// on the lab's clean run, kinds, hids and back-ends against the control
// messages and the run's summary.json; on synthetic traces, a nacked handoff
// (fallback), a locally served connection, plain TCP, a reused client port,
// one file per vantage point (different clocks), and the filters.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {matches, type SessionFilter, type SessionRow} from '../../analyzer/sessions/sessions.js'
import {collectSessions as collect} from '../../analyzer/sessions/collect.js'
import {collectControl} from '../../analyzer/correlate/control.js'
import {assembleHandoffs} from '../../analyzer/correlate/assemble.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'
import {repoRoot} from '../support/env.js'

const LAB = join(repoRoot, 'samples', 'traces', 'lab-clean')
const dir = mkdtempSync(join(tmpdir(), 'sessions-handoff-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const ep = (r: SessionRow) => `${r.client}:${r.clientPort}`

/** The per-view report (--per-view): one row per session per vantage point. */
async function collectSessions(paths: string[], filter: SessionFilter) {
  const r = await collect(paths, filter, {perView: true})
  if (r.mode !== 'per-view') throw new Error(`mode ${r.mode}`)
  return r
}

test('lab-clean: 12 handoffs and 4 local connections, hids and back-ends as in the control messages and summary.json', async () => {
  const trace = join(LAB, 'lab.pcapng.gz')
  const summary = JSON.parse(readFileSync(join(LAB, 'summary.json'), 'utf8')) as {
    handoffs: number; localServices: number; nacks: number; handoffsTo: Record<string, number>; handoffPairs: Record<string, number>
    perNode: {name: string; local: number}[]
  }
  const r = await collectSessions([trace], {})
  const {handoffs} = assembleHandoffs((await collectControl([trace], 7070)).messages)
  assert.equal(handoffs.length, summary.handoffs)
  assert.deepEqual(r.summary.handoffs, {total: 12, handedOff: 12, nacked: 0, noReply: 0})

  // The client-side view: one row per client connection.
  const client = r.rows.filter((x) => x.interfaceName === 'client')
  assert.ok(client.every((x) => x.vantage === 'client'))
  assert.equal(client.length, summary.handoffs + summary.localServices)
  const ho = client.filter((x) => x.kind === 'handoff')
  const local = client.filter((x) => x.kind === 'local')
  assert.equal(ho.length, summary.handoffs)
  assert.equal(local.length, summary.localServices)
  assert.equal(client.filter((x) => x.kind === 'fallback').length, summary.nacks)
  assert.equal(new Set(ho.map((x) => x.hid)).size, 12)

  // Each handoff row against its control messages: the req's connection, the ack's node and baddr.
  for (const row of ho) {
    const h = handoffs.find((x) => x.hid === row.hid)!
    assert.ok(h, row.hid!)
    assert.equal(`${h.cip}:${h.cport}`, ep(row))
    assert.equal(`${h.vip}:${h.vport}`, `${row.server}:${row.serverPort}`)
    assert.equal(row.frontend, h.req!.msg.node)
    assert.equal(row.backend, `${h.ack!.msg.node} (${h.baddr})`)
    assert.ok(row.handoffLatencyMs !== null && row.handoffLatencyMs > 0 && row.handoffLatencyMs < 1000, `${row.hid}: ${row.handoffLatencyMs}`)
    // Same file: the client view's SYN, the control view's ack, one clock.
    assert.deepEqual(row.handoffLatencyFrom, {synView: `${trace}#0 (client)`, ackView: `${trace}#5 (control)`, sameClock: true})
    // The row starts with the SYN (row.start has µs, Date.parse keeps ms).
    const ms = (h.ack!.t - Date.parse(row.start) / 1000) * 1e3
    assert.ok(Math.abs(ms - row.handoffLatencyMs) < 1.01, `${row.hid}: ${ms} vs ${row.handoffLatencyMs}`)
  }
  // summary.json: handoffs per back-end and per FE → BE pair, local connections per node.
  const to: Record<string, number> = {}
  const pairs: Record<string, number> = {}
  for (const x of ho) {
    const be = x.backend!.split(' ')[0]!
    to[be] = (to[be] ?? 0) + 1
    pairs[`${x.frontend}→${be}`] = (pairs[`${x.frontend}→${be}`] ?? 0) + 1
  }
  assert.deepEqual(to, summary.handoffsTo)
  assert.deepEqual(pairs, summary.handoffPairs)
  for (const n of summary.perNode) assert.equal(local.filter((x) => x.frontend === n.name).length, n.local, n.name)
  for (const x of local) assert.ok(x.hid === null && x.backend === null && x.handoffLatencyMs === null)

  // Every vantage point: a connection's rows share its hid; the forwarded leg (client → BE address) too.
  const hidOf = new Map(ho.map((x) => [ep(x), x.hid]))
  for (const x of r.rows) {
    if (x.serverPort === 7070 || x.clientPort === 7070) {
      assert.equal(x.kind, 'plain')
      continue
    }
    assert.equal(x.hid, hidOf.get(ep(x)) ?? null, `${x.interfaceName} ${ep(x)} → ${x.server}`)
    assert.equal(x.kind, hidOf.has(ep(x)) ? 'handoff' : 'local')
  }
  const fwd = r.rows.filter((x) => x.interfaceName === 'lan' && x.kind === 'handoff' && x.backend!.includes(`(${x.server})`))
  assert.equal(fwd.length, 12, 'one forwarded-leg row per handoff at the LAN')
  assert.equal(r.summary.byKind.handoff, 60)
  assert.equal(r.summary.byKind.local, 12)
})

test('lab-clean: --kind, --hid, --backend filters', async () => {
  const trace = join(LAB, 'lab.pcapng.gz')
  const byBe = await collectSessions([trace], {kind: ['handoff'], backend: ['n2']})
  assert.ok(byBe.rows.length > 0)
  assert.ok(byBe.rows.every((x) => x.kind === 'handoff' && x.backend!.startsWith('n2 ')))
  assert.equal(new Set(byBe.rows.map((x) => x.hid)).size, 4)
  const byAddr = await collectSessions([trace], {backend: ['10.77.0.12']})
  assert.deepEqual(byAddr.rows.map((x) => x.stream), byBe.rows.map((x) => x.stream))
  const one = await collectSessions([trace], {hid: ['n3/2']})
  assert.deepEqual(one.rows.map((x) => x.interfaceName), ['client', 'lan', 'lan', 'n2-inside', 'n3-inside'])
  assert.ok(one.rows.every((x) => x.hid === 'n3/2' && x.handoffLatencyMs === one.rows[0]!.handoffLatencyMs))
  const local = await collectSessions([trace], {kind: ['local'], client: ['10.77.1.1']})
  assert.equal(new Set(local.rows.map(ep)).size, 4)
  assert.equal(local.summary.sessions, 78)
  // matches(): a row without a back-end never matches --backend, nor without a hid --hid.
  const plain = {...local.rows[0]!, kind: 'plain' as const, hid: null, backend: null}
  assert.equal(matches(plain, {backend: ['n1']}), false)
  assert.equal(matches(plain, {hid: ['n1/1']}), false)
  assert.equal(matches(plain, {kind: ['plain']}), true)
})

test('synthetic trace: handoff, nacked handoff (fallback), local, plain', async () => {
  const t = buildHandoffTrace(join(dir, 'one.pcapng'), {handoffs: 2})
  const r = await collectSessions([t.path], {})
  const at = (view: string) => r.rows.filter((x) => x.interfaceName === view)
  const client = at('client')
  const kinds = Object.fromEntries(client.map((x) => [ep(x), [x.kind, x.hid, x.backend]]))
  assert.deepEqual(kinds, {
    '10.0.0.10:20001': ['handoff', 'fe1/1', 'be1 (10.0.0.2)'],
    '10.0.0.10:20002': ['handoff', 'fe1/2', 'be1 (10.0.0.2)'],
    '10.0.0.10:39001': ['local', null, null],
    '10.0.0.10:29050': ['fallback', 'fe1/9050', null],
  })
  const fb = client.find((x) => x.kind === 'fallback')!
  assert.equal(fb.frontend, 'fe1')
  assert.equal(fb.handoffLatencyMs, null)
  assert.equal(r.rows.find((x) => x.client === '10.0.0.20')!.kind, 'plain')
  assert.deepEqual(r.summary.handoffs, {total: 3, handedOff: 2, nacked: 1, noReply: 0})
  // The BE inside sees the connection to its own address: same hid.
  for (const x of at('be1-inside')) if (x.clientPort === 20001) assert.equal(x.hid, 'fe1/1')
  const fallback = await collectSessions([t.path], {kind: ['fallback']})
  assert.ok(fallback.rows.length >= 2 && fallback.rows.every((x) => x.hid === 'fe1/9050'))
})

test('synthetic trace: a reused client port is told apart by the ISN; IPv6', async () => {
  const t = buildHandoffTrace(join(dir, 'reuse.pcapng'), {reusePort: true, family: 6})
  const r = await collectSessions([t.path], {})
  const client = r.rows.filter((x) => x.interfaceName === 'client' && x.clientPort === 20001)
  assert.deepEqual(client.map((x) => [x.kind, x.hid]), [['handoff', 'fe1/1'], ['local', null]])
})

test('synthetic trace, one file per vantage point: the latency says its clocks differ', async () => {
  const d = join(dir, 'split')
  mkdirSync(d)
  const t = buildHandoffTrace(d, {split: true, distractors: false})
  const r = await collectSessions(t.files, {kind: ['handoff']})
  assert.ok(r.rows.length >= 3)
  const from = r.rows[0]!.handoffLatencyFrom!
  assert.equal(from.sameClock, false)
  assert.match(from.synView, /client\.pcapng#0/)
  assert.match(from.ackView, /control\.pcapng#0/)
  assert.ok(r.rows.every((x) => x.hid === 'fe1/1' && x.handoffLatencyMs === r.rows[0]!.handoffLatencyMs))
})

test('plain traces stay plain', async () => {
  const t = buildHandoffTrace(join(dir, 'noctl.pcapng'), {omit: ['control']})
  const r = await collectSessions([t.path], {})
  assert.ok(r.rows.length > 0)
  assert.ok(r.rows.every((x) => x.kind === 'plain' && x.hid === null && x.backend === null && x.handoffLatencyMs === null))
  assert.deepEqual(r.summary.handoffs, {total: 0, handedOff: 0, nacked: 0, noReply: 0})
})

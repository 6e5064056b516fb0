// `handoff sessions` merged into connections (analyzer/sessions/merge.ts,
// collect.ts) on synthetic traces (test/support/handoff-trace.ts): one file
// per vantage point, one of them on a clock 2.5 s ahead (the merge across
// files and the skew estimate across them); standard input against the same
// file; and the merge rules on hand-made rows.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import {ConnectionMerger, type ConnectionRow, type ViewRow} from '../../analyzer/sessions/merge.js'
import type {SessionRow} from '../../analyzer/sessions/sessions.js'
import {resolveView} from '../../analyzer/correlate/vantage.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'sessions-merge-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

/** Copies a pcapng with every timestamp moved by shiftNs (a capture host whose clock is off). */
function shifted(src: string, dst: string, shiftNs: bigint): void {
  const w = PcapngWriter.open(dst, {application: 'sessions-merge.test'})
  readCaptureSync(src, {
    onInterface: (i) => { w.addInterface({linkType: i.linkType, ...(i.name ? {name: i.name} : {})}) },
    onPacket: (rec) => {
      const t = BigInt(rec.tsSec) * 1_000_000_000n + BigInt(rec.tsNsec) + shiftNs
      w.writePacket(rec.interfaceId, Number(t / 1_000_000_000n), Number(t % 1_000_000_000n), rec.data.slice())
    },
  })
  w.close()
}

test('one file per vantage point, the LAN capture 2.5 s ahead: one row per connection over all files; the offset found', async () => {
  const d = join(dir, 'split')
  mkdirSync(d)
  const t = buildHandoffTrace(d, {split: true, handoffs: 2})
  const lan = t.files.find((f) => f.endsWith('lan.pcapng'))!
  const lanAhead = join(d, 'lan-ahead.pcapng')
  shifted(lan, lanAhead, 2_500_000_000n)
  const files = t.files.map((f) => (f === lan ? lanAhead : f))
  const r = await collectSessions(files, {})
  assert.equal(r.mode, 'connections')
  const rows = r.rows as ConnectionRow[]
  const byKind = (k: string) => rows.filter((x) => x.kind === k)
  assert.deepEqual(byKind('handoff').map((x) => x.hid).sort(), ['fe1/1', 'fe1/2'])
  assert.equal(byKind('fallback').length, 1)
  assert.equal(byKind('local').length, 1)
  for (const c of byKind('handoff')) {
    const where = c.seenAt.map((x) => `${x.vantage}:${x.leg}`).sort()
    assert.deepEqual(where, ['client:client-vip', 'inside:be-inside', 'inside:fe-inside', 'lan:client-vip', 'lan:forward'], c.hid!)
    assert.equal(new Set(c.seenAt.map((x) => x.file)).size, 4, 'client, lan, fe1-inside, be1-inside: four files')
    assert.equal(c.from.vantage, 'client')
    assert.equal(c.handoffLatencyFrom?.sameClock, false)
  }
  // Every per-view session in exactly one connection.
  const seen = rows.flatMap((c) => c.seenAt.map((x) => `${x.file}#${x.stream}`))
  assert.equal(seen.length, r.summary.sessions)
  assert.equal(new Set(seen).size, seen.length)
  // The per-view report has a row for each of them.
  const perView = await collectSessions(files, {}, {perView: true})
  assert.equal(perView.rows.length, r.summary.sessions)
  assert.ok(perView.rows.length > rows.length)
  // Offsets: the LAN file 2.5 s ahead of the client file (propagation in the simulation: microseconds).
  const off = new Map(r.views.map((v) => [v.file.slice(v.file.lastIndexOf('/') + 1), v]))
  assert.equal(off.get('client.pcapng')!.offsetMs, 0)
  assert.ok(Math.abs(off.get('lan-ahead.pcapng')!.offsetMs! - 2500) < 1, String(off.get('lan-ahead.pcapng')!.offsetMs))
  assert.ok(Math.abs(off.get('fe1-inside.pcapng')!.offsetMs!) < 1)
  assert.ok(Math.abs(off.get('be1-inside.pcapng')!.offsetMs!) < 1)
  assert.equal(off.get('control.pcapng')!.offsetMs, null)
  assert.ok(r.summary.matchedSegments > 0)
})

test('standard input: the same connections and columns as the file', async () => {
  const t = buildHandoffTrace(join(dir, 'one.pcapng'), {handoffs: 2})
  const fromFile = await collectSessions([t.path], {})
  const fromStdin = await collectSessions(['-'], {}, {stdin: Readable.from([readFileSync(t.path)])})
  const strip = (rows: ConnectionRow[]) => JSON.stringify(rows).split(t.path).join('<stdin>')
  assert.equal(strip(fromStdin.rows as ConnectionRow[]), strip(fromFile.rows as ConnectionRow[]))
  assert.ok((fromStdin.rows as ConnectionRow[]).some((x) => x.kind === 'handoff' && x.backend !== null && x.handoffLatencyMs !== null))
  await assert.rejects(collectSessions(['-', '-'], {}), /standard input \(-\) can be read once only/)
})

// ---- the merge rules, on hand-made rows ----

function row(client: string, cport: number, server: string, sport: number, extra: Partial<SessionRow> = {}): SessionRow {
  return {
    file: 'f', interface: 0, interfaceName: null, stream: 0, client, clientPort: cport, server, serverPort: sport, ipVersion: 4,
    rolesFrom: 'syn', vantage: null, kind: 'plain', hid: null, frontend: null, backend: null, handoffLatencyMs: null, handoffLatencyFrom: null,
    state: 'SF', history: 'ShADadfF', firstFrame: 1, lastFrame: 9, start: '', durationSec: 1, packets: {toServer: 5, toClient: 5},
    bytes: {toServer: 10, toClient: 100}, payloadBytes: {toServer: 10, toClient: 100},
    handshake: {synToSynAckMs: null, synAckToAckMs: null, totalMs: null}, windowScale: {client: 'none', server: 'none'},
    anomalies: {}, badChecksums: {toServer: 0, toClient: 0}, reusedPorts: false, ...extra,
  }
}

function vr(iface: number, name: string, r: SessionRow, isn: number, first = 100): ViewRow {
  return {row: {...r, interface: iface, interfaceName: name}, view: resolveView(0, 'f', iface, name, []), isn, first, last: first + 1, handoff: null}
}

test('merge rules: endpoints in either order, one session per view, the client ISN, time within a file', () => {
  const m = new ConnectionMerger()
  const a = row('10.0.0.1', 1000, '10.0.0.2', 80)
  m.add(vr(0, 'client', a, 7))
  // The LAN missed the handshake and took the server for the client: the same connection.
  m.add(vr(1, 'lan', row('10.0.0.2', 80, '10.0.0.1', 1000, {rolesFrom: 'first-packet'}), -1))
  // A second session of the same endpoints at the client view (the port reused): another connection.
  m.add(vr(0, 'client', a, 99, 130))
  // Its LAN copy, by ISN.
  m.add(vr(1, 'lan', a, 99, 130))
  // Without an ISN, far in time from both in the same file: a third.
  m.add(vr(2, 'n1-inside', a, -1, 500))
  // Without an ISN, at the same time as the first, but at a view that has its session already: a fourth.
  m.add(vr(0, 'client', a, -1, 100))
  const rows = m.rows()
  assert.equal(m.connections, 4)
  assert.deepEqual(rows.map((c) => c.seenAt.map((x) => x.view).join(' ')), [
    'f#0 (client) f#1 (lan)', 'f#0 (client) f#1 (lan)', 'f#2 (n1-inside)', 'f#0 (client)'])
  // The client view's numbers and orientation, whatever came first.
  assert.equal(rows[0]!.client, '10.0.0.1')
  assert.equal(rows[0]!.from.view, 'f#0 (client)')
})

test('no client-side capture: the numbers come from the LAN, then from the BE inside, and the row says so', async () => {
  const noClient = buildHandoffTrace(join(dir, 'noclient.pcapng'), {omit: ['client']})
  const full = buildHandoffTrace(join(dir, 'full.pcapng'), {})
  const hid = (r: Awaited<ReturnType<typeof collectSessions>>) => (r.rows as ConnectionRow[]).find((x) => x.hid === 'fe1/1')!
  const ref = hid(await collectSessions([full.path], {}))
  assert.equal(ref.from.vantage, 'client')
  const lan = hid(await collectSessions([noClient.path], {}))
  assert.deepEqual([lan.from.vantage, lan.from.leg], ['lan', 'client-vip'])
  assert.match(lan.from.view, /\(lan\)$/)
  assert.deepEqual(lan.bytes, ref.bytes, 'the LAN sees the bytes the client sees')
  const inside = buildHandoffTrace(join(dir, 'inside.pcapng'), {omit: ['client', 'lan']})
  const be = hid(await collectSessions([inside.path], {}))
  assert.deepEqual([be.from.vantage, be.from.leg], ['inside', 'be-inside'])
  assert.match(be.from.view, /\(be1-inside\)$/)
  // The BE's TCP had the whole request (replayed) and sent the whole reply.
  assert.deepEqual(be.bytes, ref.bytes)
  assert.deepEqual(be.seenAt.map((x) => x.leg).sort(), ['be-inside', 'fe-inside'])
})

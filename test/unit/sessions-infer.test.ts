// sessions --infer on synthetic traces (test/support/handoff-trace.ts) written
// without their control interface: the handed-off connections become kind
// handoff with the hids, connections and back-ends `check --infer` gives
// (the same function, correlate/infer.ts), FE → BE by address; the
// distractors stay what they are (a nacked handoff, served by the FE, is
// local: the VIP is a node address); the latency is the BE's SYN/ACK at its
// inside view minus the client's SYN, and none without the BE's SYN/ACK.
// Without --infer nothing changes, and with the control channel captured
// --infer adds nothing.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readCapture} from '../../analyzer/capture/read.js'
import {runCheck} from '../../analyzer/check.js'
import {collectSessions, type SessionsReport} from '../../analyzer/sessions/collect.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {handoffTraces, type TraceSpec} from '../support/handoff-trace.js'

const {dir, trace} = handoffTraces('handoff-sessions-infer-')

type Conns = SessionsReport & {mode: 'connections'}
const connections = async (p: string, infer: boolean): Promise<Conns> => (await collectSessions([p], {}, {infer})) as Conns

/** Capture time (s) of the first packet at interface `iface` that `pick` accepts. */
async function timeOf(path: string, iface: string, pick: (d: PacketDecoder) => boolean): Promise<number> {
  const names: string[] = []
  const dec = new PacketDecoder({verifyChecksums: false})
  let t = -1
  await readCapture(path, {
    onInterface: (i) => { names[i.id] = i.name ?? '' },
    onPacket: (rec) => {
      if (t >= 0 || names[rec.interfaceId] !== iface) return
      const d = dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen)
      if (d.transport === 'tcp' && pick(d)) t = rec.tsSec + rec.tsNsec / 1e9
    },
  })
  assert.ok(t >= 0, `no such packet at ${iface}`)
  return t
}

test('sessions --infer without the control channel: handoffs as check --infer finds them, distractors unchanged, latency from the BE\'s SYN/ACK', async () => {
  const p = trace({handoffs: 3, spacingMs: 50, omit: ['control']})
  const r = await connections(p, true)
  const check = await runCheck([p], {infer: true})
  const byConn = (c: {client: string; clientPort: number; server: string; serverPort: number}) => `${c.client}:${c.clientPort} ↔ ${c.server}:${c.serverPort}`
  const handoffs = r.rows.filter((x) => x.kind === 'handoff')
  assert.equal(handoffs.length, 3)
  // The same hids for the same connections, the same back-end address.
  assert.deepEqual(handoffs.map((x) => [x.hid, byConn(x), x.backend]).sort(),
    check.handoffs.map((h) => [h.hid, h.connection, h.backend]).sort())
  for (const x of handoffs) {
    assert.match(x.hid!, /^inferred\/[123]$/)
    assert.equal(x.frontend, '10.0.0.1')
    assert.equal(x.backend, '10.0.0.2')
    // Legs merged by hid: client side, LAN both legs, FE inside, BE inside.
    assert.deepEqual(x.seenAt.map((s) => s.leg).sort(), ['be-inside', 'client-vip', 'client-vip', 'fe-inside', 'forward'])
    const cport = x.clientPort
    const syn = await timeOf(p, 'client', (d) => d.srcPort === cport && (d.tcpFlags & 0x12) === 0x02)
    const beSynAck = await timeOf(p, 'be1-inside', (d) => d.dstPort === cport && (d.tcpFlags & 0x12) === 0x12)
    assert.equal(x.handoffLatencyMs, Math.round((beSynAck - syn) * 1e6) / 1e3)
    assert.ok(x.handoffLatencyMs! > 0)
    assert.match(x.handoffLatencyFrom!.synView, /#\d+ \(client\)$/)
    assert.match(x.handoffLatencyFrom!.ackView, /#\d+ \(be1-inside\)$/)
    assert.equal(x.handoffLatencyFrom!.sameClock, true)
  }
  // Distractors: plain TCP stays plain; the FE's local service and the nacked handoff (the FE served it) are local.
  assert.deepEqual(r.rows.filter((x) => x.kind !== 'handoff').map((x) => x.kind).sort(), ['local', 'local', 'plain'])
  assert.ok(r.rows.filter((x) => x.kind === 'local').every((x) => x.frontend === '10.0.0.1' && x.hid === null))
  assert.deepEqual(r.summary.inference, {candidates: 3, inferred: 3, rejected: []})
  assert.deepEqual(r.summary.handoffs, {total: 0, handedOff: 0, nacked: 0, noReply: 0})
  assert.ok(r.notes.some((n) => n.startsWith('--infer:')))
  assert.ok(r.notes.some((n) => n.startsWith('handoff latency of an inferred/<n> handoff')))

  // Without --infer: no handoff, nothing inferred, no inference summary.
  const plain = await connections(p, false)
  assert.ok(plain.rows.every((x) => x.kind === 'plain' && x.hid === null))
  assert.equal(plain.summary.inference, undefined)
  assert.ok(!plain.notes.some((n) => n.includes('--infer')))

  // The filters see the inferred rows; per-view rows carry the hid on every leg.
  const only = (await collectSessions([p], {kind: ['handoff'], backend: ['10.0.0.2']}, {infer: true})) as Conns
  assert.deepEqual(only.rows.map((x) => x.hid), handoffs.map((x) => x.hid))
  const pv = await collectSessions([p], {hid: ['inferred/2']}, {infer: true, perView: true})
  assert.equal(pv.rows.length, 5)
  assert.ok(pv.rows.every((x) => x.kind === 'handoff' && x.backend === '10.0.0.2'))
})

test('sessions --infer without the BE\'s inside view: still a handoff (matched pairs), no latency', async () => {
  const p = trace({omit: ['control', 'client', 'fe1-inside', 'be1-inside']})
  const r = await connections(p, true)
  const h = r.rows.filter((x) => x.kind === 'handoff')
  assert.equal(h.length, 1)
  assert.equal(h[0]!.hid, 'inferred/1')
  assert.equal(h[0]!.backend, '10.0.0.2')
  assert.equal(h[0]!.handoffLatencyMs, null)
  assert.equal(h[0]!.handoffLatencyFrom, null)
  assert.ok(!r.notes.some((n) => n.startsWith('handoff latency of an inferred')))
})

test('sessions --infer with the control channel captured: nothing inferred, the same rows as without', async () => {
  const p = trace({handoffs: 2})
  const a = await connections(p, false)
  const b = await connections(p, true)
  assert.deepEqual(b.rows, a.rows)
  assert.deepEqual(b.summary.inference, {candidates: 0, inferred: 0, rejected: []})
  assert.ok(a.rows.some((x) => x.kind === 'handoff' && x.hid === 'fe1/1'))
})

// What a held session costs the tracker. `sessions` holds every session of
// the last two minutes of trace (a closed one lingers 120 s for late
// segments), so on a busy trace the tracker's memory is the number of those
// sessions times this (the 166,667-session bench trace holds 135,179 at
// once). A session used to cost ~3.7 kB of V8 heap, more than half of it
// typed arrays of a few elements (Zeek's history state, the flag counts, the
// table key: ~200 bytes each, whatever their length); now ~1.6 kB. Measured
// with forced collections, on sessions closed and lingering, as most held
// sessions of a long trace are. And a session that never closes (a control
// connection) holds the same after 20,000 exchanges as after 2,000.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {buildTcpPacket, type TcpPacketSpec} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {SessionTracker} from '../../analyzer/flows/session.js'
import {sessionRow, type SessionRow} from '../../analyzer/sessions/sessions.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

const SESSIONS = 10_000
/** Bytes of heap a closed, lingering session may hold (the sessions of this test: ~1.6 kB; before, ~3.7 kB). */
const MAX_BYTES_PER_SESSION = 2_000

test(`a closed, lingering session holds at most ${MAX_BYTES_PER_SESSION} bytes of heap`, (t) => {
  const dec = new PacketDecoder()
  let finished = 0
  let first: SessionRow | null = null
  const tracker = new SessionTracker({onSession: (x) => { if (finished++ === 0) first = sessionRow('t', x, null) }})
  let frame = 0
  const send = (spec: TcpPacketSpec, atMs: number) => {
    const b = buildTcpPacket(spec)
    dec.decode(LINKTYPE.RAW, b, b.length, b.length)
    tracker.add(dec, {index: ++frame, interfaceId: 0, tsSec: 1_700_000_000 + Math.floor(atMs / 1000), tsNsec: (atMs % 1000) * 1e6})
  }
  const before = heapAfterGc()
  for (let i = 0; i < SESSIONS; i++) {
    // Distinct clients, ISNs above 2^30 and times above 2^30 s (what real traces have: not small integers to V8).
    const c = {src: `10.1.${i >> 8}.${i & 255}`, dst: '10.2.0.1', srcPort: 20000 + (i % 40000), dstPort: 80}
    const s = {src: c.dst, dst: c.src, srcPort: 80, dstPort: c.srcPort}
    const ci = 3_000_000_000 + i
    const si = 2_000_000_000 + i
    const at = i // 1 ms apart: the 10,000 sessions span 10 s, all within the 120 s linger
    send({...c, flags: 'S', seq: ci, options: {mss: 1460, wscale: 7, sackPermitted: true}}, at)
    send({...s, flags: 'S.', seq: si, ack: ci + 1, options: {mss: 1460, wscale: 7, sackPermitted: true}}, at)
    send({...c, flags: '.', seq: ci + 1, ack: si + 1}, at)
    send({...c, seq: ci + 1, ack: si + 1, payload: 'GET / HTTP/1.1\r\n\r\n'}, at)
    send({...s, seq: si + 1, ack: ci + 19, payload: 'HTTP/1.1 200 OK\r\n\r\n'}, at)
    send({...c, flags: 'F.', seq: ci + 19, ack: si + 20}, at)
    send({...s, flags: 'F.', seq: si + 20, ack: ci + 20}, at)
    send({...c, flags: '.', seq: ci + 20, ack: si + 21}, at)
  }
  assert.equal(tracker.live, SESSIONS, 'every session held (closed, lingering)')
  assert.equal(finished, 0)
  const perSession = (heapAfterGc() - before) / SESSIONS
  t.diagnostic(`${perSession.toFixed(0)} bytes of heap per held session`)
  assert.ok(perSession <= MAX_BYTES_PER_SESSION, `${perSession.toFixed(0)} bytes of heap per held session`)
  // And they are whole: a row of one is the row of a complete session.
  tracker.finish()
  assert.equal(finished, SESSIONS)
  const r = first as SessionRow | null
  assert.ok(r !== null)
  assert.equal(r.state, 'SF')
  assert.equal(r.history, 'ShADdFf')
  assert.deepEqual(r.bytes, {toServer: 18, toClient: 19})
  assert.deepEqual(r.anomalies, {})
  assert.deepEqual(r.windowScale, {client: 7, server: 7})
})

test('a session that never closes holds the same whatever the packets it carries (history, flag counts: bounded)', (t) => {
  const dec = new PacketDecoder()
  const tracker = new SessionTracker({})
  let frame = 0
  const c = {src: '10.1.0.1', dst: '10.2.0.1', srcPort: 40000, dstPort: 7070}
  const s = {src: c.dst, dst: c.src, srcPort: 7070, dstPort: 40000}
  const send = (spec: TcpPacketSpec, atMs: number) => {
    const b = buildTcpPacket(spec)
    dec.decode(LINKTYPE.RAW, b, b.length, b.length)
    return tracker.add(dec, {index: ++frame, interfaceId: 0, tsSec: 1_700_000_000 + Math.floor(atMs / 1000), tsNsec: (atMs % 1000) * 1e6})!
  }
  const ci = 3_000_000_000
  const si = 2_500_000_000
  send({...c, flags: 'S', seq: ci, options: {mss: 1460, wscale: 7}}, 0)
  send({...s, flags: 'S.', seq: si, ack: ci + 1, options: {mss: 1460, wscale: 7}}, 1)
  send({...c, flags: '.', seq: ci + 1, ack: si + 1}, 2)
  let cs = ci + 1
  let ss = si + 1
  let at = 3
  // A control connection's traffic: messages both ways, every 10th one sent twice (a retransmission), and a dup ack.
  const exchange = (n: number) => {
    for (let i = 0; i < n; i++, at += 10) {
      send({...c, seq: cs, ack: ss, payload: 'x'.repeat(40)}, at)
      if (i % 10 === 0) send({...c, seq: cs, ack: ss, payload: 'x'.repeat(40)}, at + 1)
      cs = (cs + 40) >>> 0
      send({...s, seq: ss, ack: cs, payload: 'y'.repeat(30)}, at + 2)
      ss = (ss + 30) >>> 0
      send({...c, seq: cs, ack: ss}, at + 3)
      if (i % 10 === 0) send({...c, seq: cs, ack: ss}, at + 4)
    }
  }
  exchange(2_000)
  const session = send({...c, seq: cs, ack: ss}, at)
  const history = session.history.history
  const before = heapAfterGc()
  exchange(20_000)
  const grown = heapAfterGc() - before
  t.diagnostic(`${grown} bytes of heap more after 20,000 more exchanges`)
  assert.equal(tracker.live, 1)
  // Ten times the packets: one more T per direction at most (its count reached the next power of ten), nothing else.
  assert.equal(session.history.history, history + 'T')
  // Anything kept per packet (≥ 16 bytes each, ~90,000 packets) would be well above this; compiled code and the like are not.
  assert.ok(grown < 512 * 1024, `${grown} bytes of heap more after 20,000 more exchanges`)
})

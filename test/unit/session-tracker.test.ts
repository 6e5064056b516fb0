// The session tracker on built packets: every analysis flag, sequence
// wrap-around, SYN reuse, a missing SYN, window scaling, the Zeek history
// string and conn_state of typical sessions, and the session table.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {buildTcpPacket, type TcpPacketSpec} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {SessionTracker, type SessionTrackerOptions, type TcpSession} from '../../analyzer/flows/session.js'
import {SessionTable} from '../../analyzer/flows/session-table.js'
import {anomalyNames, TCP_A} from '../../analyzer/flows/tcp-analysis.js'
import {sessionRow} from '../../analyzer/sessions/sessions.js'

const C = '10.0.0.1'
const S = '10.0.0.2'
const CP = 40000
const SP = 80

type Spec = Omit<Partial<TcpPacketSpec>, 'src' | 'dst' | 'srcPort' | 'dstPort'>

/** Feeds built packets to a tracker; times in ms from 0. */
class Feed {
  readonly dec = new PacketDecoder()
  readonly t: SessionTracker
  readonly finished: TcpSession[] = []
  frame = 0
  constructor(opts: SessionTrackerOptions = {}) {
    this.t = new SessionTracker({...opts, onSession: (s) => this.finished.push(s)})
  }
  send(fromClient: boolean, atMs: number, spec: Spec, ports: [number, number] = [CP, SP]): {flags: string[]; dup: number; s: TcpSession | null} {
    const b = buildTcpPacket({
      src: fromClient ? C : S, dst: fromClient ? S : C,
      srcPort: fromClient ? ports[0] : ports[1], dstPort: fromClient ? ports[1] : ports[0], ...spec,
    })
    this.dec.decode(LINKTYPE.RAW, b, b.length, b.length)
    const sec = 1_700_000_000 + Math.floor(atMs / 1000)
    const nsec = Math.round((atMs % 1000) * 1e6)
    const s = this.t.add(this.dec, {index: ++this.frame, interfaceId: 0, tsSec: sec, tsNsec: nsec})
    return {flags: anomalyNames(this.t.flags), dup: this.t.dupAckNum, s}
  }
  c(atMs: number, spec: Spec) { return this.send(true, atMs, spec) }
  s(atMs: number, spec: Spec) { return this.send(false, atMs, spec) }
  done(): TcpSession[] {
    this.t.finish()
    return this.finished
  }
}

const CI = 1000 // client ISN
const SI = 5000 // server ISN

/** SYN at 0, SYN/ACK at 1 ms, ACK at 2 ms (so the iRTT is 2 ms). */
function handshake(f: Feed, opts: {cws?: number; sws?: number} = {}): void {
  f.c(0, {flags: 'S', seq: CI, options: {mss: 1460, ...(opts.cws !== undefined ? {wscale: opts.cws} : {})}})
  f.s(1, {flags: 'S.', seq: SI, ack: CI + 1, options: {mss: 1460, ...(opts.sws !== undefined ? {wscale: opts.sws} : {})}})
  f.c(2, {flags: '.', seq: CI + 1, ack: SI + 1})
}

test('a normal session: history ShADadFf, state SF, handshake times, bytes', () => {
  const f = new Feed()
  handshake(f)
  assert.deepEqual(f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'GET / HTTP/1.0\r\n\r\n'}).flags, [])
  f.s(20, {flags: '.', seq: SI + 1, ack: CI + 19})
  f.s(21, {seq: SI + 1, ack: CI + 19, payload: 'x'.repeat(100)})
  f.c(22, {flags: '.', seq: CI + 19, ack: SI + 101})
  f.c(30, {flags: 'F.', seq: CI + 19, ack: SI + 101})
  f.s(31, {flags: 'F.', seq: SI + 101, ack: CI + 20})
  const last = f.c(32, {flags: '.', seq: CI + 20, ack: SI + 102})
  assert.deepEqual(last.flags, [])
  const [s] = f.done()
  assert.equal(s.history.history, 'ShADadFf')
  assert.equal(s.state, 'SF')
  assert.equal(s.client, C)
  assert.equal(s.serverPort, SP)
  assert.equal(s.rolesFrom, 'syn')
  const row = sessionRow('t.pcap', s, null)
  assert.deepEqual(row.packets, {toServer: 6, toClient: 4})
  assert.deepEqual(row.bytes, {toServer: 18, toClient: 100})
  assert.deepEqual(row.handshake, {synToSynAckMs: 1, synAckToAckMs: 1, totalMs: 2})
  assert.equal(row.durationSec, 0.032)
  assert.equal(row.kind, 'plain')
  assert.equal(row.hid, null)
  assert.equal(row.backend, null)
  assert.equal(row.handoffLatencyMs, null)
  assert.deepEqual(row.anomalies, {})
  assert.deepEqual(row.windowScale, {client: 'none', server: 'none'})
})

test('reset by the server after the handshake: RSTR', () => {
  const f = new Feed()
  handshake(f)
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'hello'})
  f.s(11, {flags: 'R.', seq: SI + 1, ack: CI + 6})
  const [s] = f.done()
  assert.equal(s.history.history, 'ShADr')
  assert.equal(s.state, 'RSTR')
  assert.equal(s.closed, true)
})

test('reset by the client: RSTO', () => {
  const f = new Feed()
  handshake(f)
  f.c(10, {flags: 'R.', seq: CI + 1, ack: SI + 1})
  const [s] = f.done()
  assert.equal(s.history.history, 'ShAR')
  assert.equal(s.state, 'RSTO')
})

test('rejected: SYN answered by RST: REJ', () => {
  const f = new Feed()
  f.c(0, {flags: 'S', seq: CI})
  f.s(1, {flags: 'R.', seq: 0, ack: CI + 1})
  const [s] = f.done()
  assert.equal(s.history.history, 'Sr')
  assert.equal(s.state, 'REJ')
  assert.deepEqual(sessionRow('t', s, null).handshake, {synToSynAckMs: null, synAckToAckMs: null, totalMs: null})
})

test('half-open: SYNs never answered: S0, the repeated SYN is a retransmission', () => {
  const f = new Feed()
  assert.deepEqual(f.c(0, {flags: 'S', seq: CI}).flags, [])
  assert.deepEqual(f.c(1000, {flags: 'S', seq: CI}).flags, ['retransmission'])
  assert.deepEqual(f.c(3000, {flags: 'S', seq: CI}).flags, ['retransmission'])
  const ss = f.done()
  assert.equal(ss.length, 1)
  assert.equal(ss[0].history.history, 'S')
  assert.equal(ss[0].state, 'S0')
  assert.equal(ss[0].anomalies[0], 2)
})

test('SYN then FIN, no answer: SH; SYN then RST: RSTOS0', () => {
  let f = new Feed()
  f.c(0, {flags: 'S', seq: CI})
  f.c(1, {flags: 'F', seq: CI + 1})
  assert.equal(f.done()[0].state, 'SH')
  f = new Feed()
  f.c(0, {flags: 'S', seq: CI})
  f.c(1, {flags: 'R', seq: CI + 1})
  const [s] = f.done()
  assert.equal(s.history.history, 'SR')
  assert.equal(s.state, 'RSTOS0')
})

test('missing SYN: the first sender is the client, roles flagged, scale unknown, OTH', () => {
  const f = new Feed()
  const r = f.s(0, {seq: 70000, ack: 9000, payload: 'midstream'})
  assert.deepEqual(r.flags, [])
  f.c(1, {flags: '.', seq: 9000, ack: 70009})
  const [s] = f.done()
  assert.equal(s.rolesFrom, 'first-packet')
  assert.equal(s.client, S) // the first sender
  assert.equal(s.history.history, 'Da')
  assert.equal(s.state, 'OTH')
  assert.deepEqual(sessionRow('t', s, null).windowScale, {client: 'unknown', server: 'unknown'})
})

test('first packet a SYN+ACK: its receiver is the client, history starts with ^', () => {
  const f = new Feed()
  f.s(0, {flags: 'S.', seq: SI, ack: CI + 1})
  f.c(1, {flags: '.', seq: CI + 1, ack: SI + 1})
  const [s] = f.done()
  assert.equal(s.rolesFrom, 'syn-ack')
  assert.equal(s.client, C)
  assert.equal(s.history.history, '^hA')
})

test('window scaling: both SYNs → shifts; one missing → none; scaled windows', () => {
  let f = new Feed()
  handshake(f, {cws: 7, sws: 9})
  f.s(5, {flags: '.', seq: SI + 1, ack: CI + 1, window: 100})
  let [s] = f.done()
  assert.equal(s.windowScale(0), 7)
  assert.equal(s.windowScale(1), 9)
  assert.equal(s.stats[1].lastWindow, 100 * 512)
  f = new Feed()
  handshake(f, {cws: 7})
  ;[s] = f.done()
  assert.equal(s.windowScale(0), 'none')
  assert.equal(s.windowScale(1), 'none')
})

test('SYN reuse with a new ISN after close is a new session, flagged reused-ports', () => {
  const f = new Feed()
  handshake(f)
  f.c(10, {flags: 'F.', seq: CI + 1, ack: SI + 1})
  f.s(11, {flags: 'F.', seq: SI + 1, ack: CI + 2})
  f.c(12, {flags: '.', seq: CI + 2, ack: SI + 2})
  const a = f.c(5000, {flags: 'S', seq: 777777})
  assert.deepEqual(a.flags, ['reused-ports'])
  assert.equal(a.s!.id, 1)
  assert.equal(a.s!.reusedPorts, true)
  // the same ISN again: the same session (a retransmitted SYN)
  const b = f.c(6000, {flags: 'S', seq: 777777})
  assert.equal(b.s!.id, 1)
  assert.deepEqual(b.flags, ['retransmission'])
  const ss = f.done()
  assert.equal(ss.length, 2)
  assert.equal(ss[0].state, 'SF')
  assert.equal(ss[1].history.history, 'S')
})

test('a closed session lingers for late packets, then is freed', () => {
  const f = new Feed({closedLingerSec: 10})
  handshake(f)
  f.c(10, {flags: 'R.', seq: CI + 1, ack: SI + 1})
  assert.equal(f.t.live, 1)
  // a late packet within the linger joins the old session
  assert.equal(f.s(2000, {flags: '.', seq: SI + 1, ack: CI + 1}).s!.id, 0)
  // other traffic moves time on; the sweep runs every 1024 packets
  for (let i = 0; i < 1100; i++) f.send(true, 20_000 + i, {flags: 'S', seq: i}, [1000 + i, 81])
  assert.equal(f.finished.some((s) => s.id === 0), true)
  assert.equal(f.t.live, 1100) // session 0 is gone
  assert.equal(f.t.sessions, 1101)
})

test('sequence numbers wrap at 2^32: no anomaly across the wrap, a hole across it is found', () => {
  const f = new Feed()
  const isn = 0xfffffff0
  f.c(0, {flags: 'S', seq: isn})
  f.s(1, {flags: 'S.', seq: SI, ack: (isn + 1) >>> 0})
  f.c(2, {flags: '.', seq: (isn + 1) >>> 0, ack: SI + 1})
  let seq = (isn + 1) >>> 0
  for (let i = 0; i < 4; i++) {
    const r = f.c(10 + i * 10, {seq, ack: SI + 1, payload: 'y'.repeat(10)})
    assert.deepEqual(r.flags, [], `segment ${i} at seq ${seq}`)
    f.s(15 + i * 10, {flags: '.', seq: SI + 1, ack: (seq + 10) >>> 0})
    seq = (seq + 10) >>> 0
  }
  assert.ok(seq < 100) // wrapped
  const lost = f.c(100, {seq: (seq + 10) >>> 0, ack: SI + 1, payload: 'z'.repeat(10)})
  assert.deepEqual(lost.flags, ['lost-segment'])
  const [s] = f.done()
  assert.equal(s.stats[0].bytes, 50)
  assert.equal(s.history.history, 'ShADaG')
})

/** An established session with client data at CI+1.. and the server's window 65535. */
function established(): Feed {
  const f = new Feed()
  handshake(f)
  return f
}

test('retransmission, out-of-order, lost segment, spurious retransmission', () => {
  let f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)})
  assert.deepEqual(f.c(300, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)}).flags, ['retransmission'])

  f = established()
  assert.deepEqual(f.c(10, {seq: CI + 101, ack: SI + 1, payload: 'b'.repeat(100)}).flags, ['lost-segment'])
  // the hole filled within the iRTT (2 ms) of the segment that set nextseq: out of order
  assert.deepEqual(f.c(11, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)}).flags, ['out-of-order'])

  f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)})
  f.s(20, {flags: '.', seq: SI + 1, ack: CI + 101})
  const sp = f.c(300, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)})
  assert.deepEqual(sp.flags, ['spurious-retransmission'])
  const [s] = f.done()
  assert.equal(s.stats[0].payloadBytes, 200)
  assert.equal(s.stats[0].bytes, 100)
  assert.equal(s.stats[0].retransmittedBytes, 100)
  assert.equal(s.history.history, 'ShADaT')
})

test('duplicate ACKs with their number, then a fast retransmission', () => {
  const f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)})
  f.c(10.1, {seq: CI + 101, ack: SI + 1, payload: 'b'.repeat(100)})
  f.c(10.2, {seq: CI + 201, ack: SI + 1, payload: 'c'.repeat(100)})
  assert.deepEqual(f.s(20, {flags: '.', seq: SI + 1, ack: CI + 101}).flags, [])
  const d1 = f.s(21, {flags: '.', seq: SI + 1, ack: CI + 101})
  assert.deepEqual([d1.flags, d1.dup], [['duplicate-ack'], 1])
  assert.equal(f.s(22, {flags: '.', seq: SI + 1, ack: CI + 101}).dup, 2)
  assert.equal(f.s(23, {flags: '.', seq: SI + 1, ack: CI + 101}).dup, 3)
  assert.deepEqual(f.c(30, {seq: CI + 101, ack: SI + 1, payload: 'b'.repeat(100)}).flags, ['fast-retransmission'])
  // more than 20 ms after the last duplicate ACK it is a plain retransmission
  assert.deepEqual(f.c(100, {seq: CI + 101, ack: SI + 1, payload: 'b'.repeat(100)}).flags, ['retransmission'])
  const [s] = f.done()
  assert.equal(s.anomalies[4], 3) // duplicate-ack
})

test('zero window, zero-window probe, probe ACK, window update', () => {
  const f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)})
  assert.deepEqual(f.s(11, {flags: '.', seq: SI + 1, ack: CI + 101, window: 0}).flags, ['zero-window'])
  assert.deepEqual(f.c(300, {seq: CI + 101, ack: SI + 1, payload: 'b'}).flags, ['zero-window-probe'])
  assert.deepEqual(f.s(301, {flags: '.', seq: SI + 1, ack: CI + 101, window: 0}).flags, ['zero-window', 'zero-window-probe-ack'])
  assert.deepEqual(f.s(400, {flags: '.', seq: SI + 1, ack: CI + 101, window: 8192}).flags, ['window-update'])
  const [s] = f.done()
  assert.equal(s.history.history, 'ShADaw')
})

test('window full: data up to the peer\'s advertised edge', () => {
  const f = established()
  f.s(5, {flags: '.', seq: SI + 1, ack: CI + 1, window: 300})
  assert.deepEqual(f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(200)}).flags, [])
  assert.deepEqual(f.c(11, {seq: CI + 201, ack: SI + 1, payload: 'b'.repeat(100)}).flags, ['window-full'])
})

test('keep-alive and keep-alive ACK', () => {
  const f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(10)})
  f.s(11, {flags: '.', seq: SI + 1, ack: CI + 11})
  assert.deepEqual(f.c(60_000, {flags: '.', seq: CI + 10, ack: SI + 1}).flags, ['keep-alive'])
  assert.deepEqual(f.s(60_001, {flags: '.', seq: SI + 1, ack: CI + 11}).flags, ['keep-alive-ack'])
  // a 1-byte keep-alive (garbage byte) is a keep-alive too, not a retransmission
  assert.deepEqual(f.c(120_000, {flags: '.', seq: CI + 10, ack: SI + 1, payload: 'a'}).flags, ['keep-alive'])
})

test('ACKed unseen segment: reported once while the peer sends nothing new', () => {
  const f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(100)})
  // the server acknowledges 300 bytes: 200 the capture never saw
  assert.deepEqual(f.s(20, {flags: '.', seq: SI + 1, ack: CI + 301}).flags, ['ack-lost-segment'])
  assert.deepEqual(f.s(21, {seq: SI + 1, ack: CI + 301, payload: 'r'}).flags, [])
})

test('bad checksums: counted and noted as C (the offload pattern is not)', () => {
  const f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'abc', checksum: 0x1234})
  f.s(11, {flags: '.', seq: SI + 1, ack: CI + 4, checksum: 'partial'})
  const [s] = f.done()
  assert.equal(s.stats[0].badChecksums, 1)
  assert.equal(s.stats[1].badChecksums, 0)
  assert.equal(s.history.history, 'ShACDa')
})

test('history letters C W T G are logarithmic: at 1, 10, 100', () => {
  const f = established()
  f.c(10, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(10)})
  for (let i = 0; i < 100; i++) f.c(1000 + i * 300, {seq: CI + 1, ack: SI + 1, payload: 'a'.repeat(10)})
  const [s] = f.done()
  assert.equal(s.history.history, 'ShADTTT')
  assert.equal(s.history.count(0, 2), 100)
})

test('IP fragments and non-TCP are not tracked', () => {
  const f = new Feed()
  const b = buildTcpPacket({src: C, dst: S, srcPort: CP, dstPort: SP, flags: 'S', flagsFrag: 0x2000})
  f.dec.decode(LINKTYPE.RAW, b, b.length, b.length)
  assert.equal(f.t.add(f.dec, {index: 1, interfaceId: 0, tsSec: 0, tsNsec: 0}), null)
  assert.equal(f.t.skippedFragments, 1)
})

test('sessions on different interfaces are apart (one vantage point each)', () => {
  const dec = new PacketDecoder()
  const t = new SessionTracker()
  const b = buildTcpPacket({src: C, dst: S, srcPort: CP, dstPort: SP, flags: 'S', seq: 1})
  dec.decode(LINKTYPE.RAW, b, b.length, b.length)
  const a = t.add(dec, {index: 1, interfaceId: 0, tsSec: 0, tsNsec: 0})!
  const c = t.add(dec, {index: 2, interfaceId: 1, tsSec: 0, tsNsec: 0})!
  assert.notEqual(a.id, c.id)
  assert.equal(c.scope, 1)
  assert.equal(t.flags & TCP_A.RETRANSMISSION, 0)
})

for (const by of ['key', 'value'] as const) {
  test(`SessionTable: insert, find and delete (by ${by}) agree with a Map`, () => {
    const table = new SessionTable<number>()
    const dec = new PacketDecoder()
    const ref = new Map<string, number>()
    const keys = new Map<string, Uint32Array>()
    const hashes = new Map<string, number>()
    let x = 12345
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 3000
    for (let i = 0; i < 20000; i++) {
      const p = rnd()
      const rev = (i & 1) === 1
      const src = `10.${p >> 8}.${p & 255}.1`
      const b = buildTcpPacket({src: rev ? S : src, dst: rev ? src : S, srcPort: rev ? 80 : 1000 + p, dstPort: rev ? 1000 + p : 80})
      dec.decode(LINKTYPE.RAW, b, b.length, b.length)
      const k = String(p)
      const v = table.find(dec, 0)
      assert.equal(v, ref.get(k), `lookup ${i}`)
      if (v === undefined) {
        table.set(i)
        ref.set(k, i)
        keys.set(k, table.keyCopy())
        hashes.set(k, table.keyHash())
      } else if (rnd() < 1000) {
        // By value: the hash finds the key's run; the entry is the one holding this very value.
        assert.ok(by === 'key' ? table.deleteKey(keys.get(k)!) : table.deleteValue(hashes.get(k)!, v))
        if (by === 'value') assert.equal(table.deleteValue(hashes.get(k)!, v), false)
        ref.delete(k)
      }
      assert.equal(table.size, ref.size)
    }
  })
}

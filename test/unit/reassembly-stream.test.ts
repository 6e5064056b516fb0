// TCP stream reassembly (analyzer/flows/reassembly.ts) with segments built by
// analyzer/wire/build.ts and decoded by the PacketDecoder, as a trace would
// give them: in order, retransmitted, overlapping (same and different bytes),
// out of order, lost, wrapping at 2^32, without the SYN, and a 4-tuple reused.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {TcpConnectionTable, TcpStreamReassembler, type ReassemblyEvent, type StreamEndReason, type StreamHandlers, type TcpConnection} from '../../analyzer/flows/reassembly.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {TCP_FLAG} from '../../analyzer/wire/tcp.js'

const C = '10.77.9.1'
const S = '10.77.9.2'
const CP = 40001
const SP = 7070

/** What one direction delivered. */
class Sink implements StreamHandlers {
  chunks: {off: number; data: Uint8Array; frame: number}[] = []
  gaps: {off: number; len: number; frame: number}[] = []
  events: ReassemblyEvent[] = []
  ended: {reason: StreamEndReason; frame: number} | null = null
  endCalls = 0
  onData(chunk: Uint8Array, off: number, frame: number): void {
    this.chunks.push({off, data: chunk, frame})
  }
  onGap(off: number, len: number, frame: number): void {
    this.gaps.push({off, len, frame})
  }
  onEnd(reason: StreamEndReason, frame: number): void {
    this.ended = {reason, frame}
    this.endCalls++
  }
  onEvent(ev: ReassemblyEvent): void {
    this.events.push(ev)
  }
  /** The delivered bytes as text, gaps as '_'. */
  text(): string {
    const parts: {off: number; s: string}[] = [
      ...this.chunks.map((c) => ({off: c.off, s: Buffer.from(c.data).toString('latin1')})),
      ...this.gaps.map((g) => ({off: g.off, s: '_'.repeat(g.len)})),
    ]
    parts.sort((a, b) => a.off - b.off)
    let out = ''
    for (const p of parts) {
      assert.equal(p.off, out.length, `contiguous delivery at ${p.off}`)
      out += p.s
    }
    return out
  }
}

class Harness {
  readonly dec = new PacketDecoder()
  readonly conns: {conn: TcpConnection; c2s: Sink; s2c: Sink}[] = []
  readonly table: TcpConnectionTable
  frame = 0
  constructor(opts: {maxBuffered?: number; serverPort?: number} = {}) {
    this.table = new TcpConnectionTable({
      ...opts,
      open: (conn) => {
        const e = {conn, c2s: new Sink(), s2c: new Sink()}
        this.conns.push(e)
        return [e.c2s, e.s2c]
      },
    })
  }
  /** One segment from the client (fromClient) or the server. */
  seg(fromClient: boolean, seq: number, flags: string, payload = '', ack = 0): void {
    const bytes = buildTcpPacket({
      src: fromClient ? C : S, dst: fromClient ? S : C, srcPort: fromClient ? CP : SP, dstPort: fromClient ? SP : CP,
      seq: seq >>> 0, ack: ack >>> 0, flags, payload,
    })
    this.dec.decode(LINKTYPE.RAW, bytes, bytes.length, bytes.length)
    assert.equal(this.dec.transport, 'tcp')
    this.table.add(this.dec, ++this.frame)
  }
  get c2s(): Sink {
    return this.conns[this.conns.length - 1]!.c2s
  }
  get s2c(): Sink {
    return this.conns[this.conns.length - 1]!.s2c
  }
}

const ISN = 1000
const SISN = 5000

/** Handshake; returns the first data seq each way. */
function handshake(h: Harness, isn = ISN, sisn = SISN): {c: number; s: number} {
  h.seg(true, isn, 'S')
  h.seg(false, sisn, 'S.', '', isn + 1)
  h.seg(true, isn + 1, '.', '', sisn + 1)
  return {c: (isn + 1) >>> 0, s: (sisn + 1) >>> 0}
}

test('in order: chunks with offsets from ISN + 1 and their frames; FIN ends', () => {
  const h = new Harness()
  const {c, s} = handshake(h)
  h.seg(true, c, 'P.', 'hello ', s)
  h.seg(true, c + 6, 'P.', 'world', s)
  h.seg(false, s, 'P.', 'ok', c + 11)
  h.seg(true, c + 11, 'F.', '', s + 2)
  h.seg(false, s + 2, 'F.', '', c + 12)
  assert.equal(h.c2s.text(), 'hello world')
  assert.deepEqual(h.c2s.chunks.map((x) => [x.off, x.frame]), [[0, 4], [6, 5]])
  assert.equal(h.s2c.text(), 'ok')
  assert.deepEqual(h.c2s.ended, {reason: 'fin', frame: 7})
  assert.deepEqual(h.s2c.ended, {reason: 'fin', frame: 8})
  const conn = h.conns[0]!.conn
  assert.equal(conn.client.port, CP)
  assert.equal(conn.rolesFrom, 'syn')
  assert.equal(conn.closed, true)
  assert.equal(h.table.connections()[0]!.streams![0].origin, 'syn')
  assert.equal(h.table.connections()[0]!.streams![0].isn, ISN)
  assert.equal(h.c2s.events.length, 0)
})

test('exact retransmission: delivered once, counted, no event', () => {
  const h = new Harness()
  const {c} = handshake(h)
  h.seg(true, c, 'P.', 'abcdef')
  h.seg(true, c, 'P.', 'abcdef')
  h.seg(true, c + 6, 'P.', 'gh')
  assert.equal(h.c2s.text(), 'abcdefgh')
  assert.equal(h.c2s.chunks.length, 2)
  assert.equal(h.c2s.events.length, 0)
  const st = h.conns[0]!.conn.streams![0].stats
  assert.equal(st.retransmittedBytes, 6)
  assert.equal(st.mismatches, 0)
})

test('overlapping retransmission with the same content: only the new bytes are delivered', () => {
  const h = new Harness()
  const {c} = handshake(h)
  h.seg(true, c, 'P.', 'abcdef')
  h.seg(true, c + 3, 'P.', 'defghi') // 3 old, 3 new
  assert.equal(h.c2s.text(), 'abcdefghi')
  assert.deepEqual(h.c2s.chunks.map((x) => [x.off, Buffer.from(x.data).toString()]), [[0, 'abcdef'], [6, 'ghi']])
  assert.equal(h.c2s.events.length, 0)
})

test('overlap with different content: first copy wins, overlap-mismatch event names the bytes', () => {
  const h = new Harness()
  const {c} = handshake(h)
  h.seg(true, c, 'P.', 'abcdef') // frame 4
  h.seg(true, c + 2, 'P.', 'cXYfgh') // frame 5: bytes 3..4 differ
  assert.equal(h.c2s.text(), 'abcdefgh')
  const ev = h.c2s.events.filter((e) => e.kind === 'overlap-mismatch')
  assert.deepEqual(ev, [{kind: 'overlap-mismatch', streamOffset: 3, length: 2, frame: 5, firstFrame: 4}])
})

test('overlap mismatch inside the out-of-order buffer is reported too', () => {
  const h = new Harness()
  const {c} = handshake(h)
  h.seg(true, c + 4, 'P.', 'efgh') // frame 4, buffered
  h.seg(true, c + 4, 'P.', 'eZgh') // frame 5, differs at 5
  h.seg(true, c, 'P.', 'abcd') // frame 6 fills the hole
  assert.equal(h.c2s.text(), 'abcdefgh')
  assert.deepEqual(h.c2s.events, [{kind: 'overlap-mismatch', streamOffset: 5, length: 1, frame: 5, firstFrame: 4}])
})

test('out of order: buffered, delivered when the hole fills, completion frame = the filling frame', () => {
  const h = new Harness()
  const {c} = handshake(h)
  h.seg(true, c + 8, 'P.', '3333') // frame 4
  h.seg(true, c + 4, 'P.', '2222') // frame 5
  assert.equal(h.c2s.chunks.length, 0)
  assert.equal(h.conns[0]!.conn.streams![0].buffered, 8)
  h.seg(true, c, 'P.', '1111') // frame 6
  assert.equal(h.c2s.text(), '111122223333')
  assert.deepEqual(h.c2s.chunks.map((x) => [x.off, x.frame]), [[0, 6], [4, 6], [8, 6]])
  assert.equal(h.conns[0]!.conn.streams![0].buffered, 0)
  assert.equal(h.conns[0]!.conn.streams![0].stats.outOfOrderSegments, 2)
})

test('gap: a lost segment is declared at end of trace, delivery continues after it', () => {
  const h = new Harness()
  const {c} = handshake(h)
  h.seg(true, c, 'P.', 'aaaa')
  h.seg(true, c + 8, 'P.', 'cccc') // bbbb lost
  h.seg(true, c + 12, 'P.', 'dd')
  assert.equal(h.c2s.text(), 'aaaa')
  h.table.finish(99)
  assert.equal(h.c2s.text(), 'aaaa____ccccdd')
  assert.deepEqual(h.c2s.gaps, [{off: 4, len: 4, frame: 99}])
  assert.deepEqual(h.c2s.ended, {reason: 'end-of-trace', frame: 99})
})

test('gap: declared as soon as the peer acknowledges the missing bytes', () => {
  const h = new Harness()
  const {c, s} = handshake(h)
  h.seg(true, c, 'P.', 'aaaa', s) // 4
  h.seg(true, c + 8, 'P.', 'cccc', s) // 5 (bbbb lost by the capture)
  h.seg(false, s, '.', '', c + 12) // 6: the server got all 12 bytes
  assert.equal(h.c2s.text(), 'aaaa____cccc')
  assert.deepEqual(h.c2s.gaps, [{off: 4, len: 4, frame: 6}])
})

test('FIN with a hole before it waits for the retransmission; a gap at RST otherwise', () => {
  const h = new Harness()
  const {c, s} = handshake(h)
  h.seg(true, c + 4, 'FP.', 'bbbb', s) // frame 4: data + FIN; 'aaaa' not yet seen
  assert.equal(h.c2s.endCalls, 0)
  h.seg(true, c, 'P.', 'aaaa', s) // the retransmission comes after the FIN
  assert.equal(h.c2s.text(), 'aaaabbbb')
  assert.equal(h.c2s.ended?.reason, 'fin')
  assert.equal(h.c2s.gaps.length, 0)

  const h2 = new Harness()
  const r = handshake(h2)
  h2.seg(true, r.c + 4, 'FP.', 'bbbb', r.s)
  h2.seg(false, r.s, 'R.', '', r.c)
  assert.equal(h2.c2s.text(), '____bbbb')
  assert.equal(h2.c2s.ended?.reason, 'rst')
  assert.equal(h2.s2c.ended?.reason, 'rst')
})

test('a full out-of-order buffer declares the first hole a gap', () => {
  const h = new Harness({maxBuffered: 10})
  const {c} = handshake(h)
  h.seg(true, c + 4, 'P.', '123456') // 6 buffered
  h.seg(true, c + 10, 'P.', 'abcdef') // 12 > 10: hole [0,4) given up
  assert.equal(h.c2s.text(), '____123456abcdef')
  assert.equal(h.c2s.events.filter((e) => e.kind === 'buffer-overflow').length, 1)
  h.seg(true, c, 'P.', 'zzzz') // the late copy is old news now
  assert.equal(h.c2s.text(), '____123456abcdef')
})

test('sequence numbers wrapping at 2^32: offsets keep growing', () => {
  const h = new Harness()
  const isn = 0xfffffff8
  const {c, s} = handshake(h, isn, 0xfffffffe)
  assert.equal(c, 0xfffffff9)
  assert.equal(s, 0xffffffff)
  h.seg(true, c, 'P.', 'abcd', s) // 0xfffffff9..0xfffffffc
  h.seg(true, c + 8, 'P.', 'ijkl', s) // wraps: 0x00000001..: out of order
  h.seg(true, c + 4, 'P.', 'efgh', s) // 0xfffffffd..0x00000000
  h.seg(false, s, 'P.', 'xy', c + 12) // server seq wraps inside its payload
  h.seg(false, s + 2, 'P.', 'z', c + 12)
  assert.equal(h.c2s.text(), 'abcdefghijkl')
  assert.deepEqual(h.c2s.chunks.map((x) => x.off), [0, 4, 8])
  assert.equal(h.s2c.text(), 'xyz')
  const st = h.conns[0]!.conn.streams![0]
  assert.equal(st.seqOf(8), 1)
  assert.equal(st.offsetOf(1), 8)
})

test('offsets beyond 4 GiB: the stream offset keeps counting after seq wraps (bytes skipped as acked gaps)', () => {
  const sink = new Sink()
  const r = new TcpStreamReassembler(sink)
  r.segment(0x10, TCP_FLAG.SYN, new Uint8Array(0), 1)
  // One byte, then the peer acknowledges 512 MiB more (never seen: a gap), 10 times.
  const step = 512 * 1024 * 1024
  let seq = 0x11
  for (let i = 0; i < 10; i++) {
    r.segment(seq, TCP_FLAG.ACK, new Uint8Array([i]), 2 * i + 2)
    r.acked((seq + step) >>> 0, 2 * i + 3)
    seq = (seq + step) >>> 0
  }
  r.segment(seq, TCP_FLAG.ACK, new Uint8Array([42]), 100)
  assert.equal(r.next, 10 * step + 1)
  assert.equal(sink.chunks.at(-1)!.off, 10 * step)
  assert.equal(sink.gaps.length, 10)
  assert.equal(sink.gaps.at(-1)!.off + sink.gaps.at(-1)!.len, 10 * step)
  assert.equal(r.seqOf(10 * step), seq)
})

test('missing SYN: offsets start at the first data segment, and a no-syn event says so', () => {
  const h = new Harness({serverPort: SP})
  // No handshake: the capture starts mid-connection, with a server segment.
  h.seg(false, 7000, 'P.', 'srv', 2000)
  h.seg(true, 2000, 'P.', 'cli', 7003)
  h.seg(true, 1990, 'P.', '0123456789', 7003) // 10 bytes before the stream start
  h.seg(true, 2003, 'P.', 'ent', 7003)
  const conn = h.conns[0]!.conn
  assert.equal(conn.rolesFrom, 'server-port')
  assert.equal(conn.client.port, CP)
  assert.equal(h.c2s.text(), 'client')
  assert.equal(h.s2c.text(), 'srv')
  assert.deepEqual(h.c2s.events.map((e) => e.kind), ['no-syn', 'before-start'])
  assert.equal(conn.streams![0].origin, 'data')
  assert.equal(conn.streams![0].baseSeq, 2000)
})

test('SYN reuse: a new SYN with another ISN after FIN makes a new connection; a retransmitted SYN does not', () => {
  const h = new Harness()
  let r = handshake(h)
  h.seg(true, r.c, 'P.', 'first', r.s)
  h.seg(true, ISN, 'S') // retransmitted SYN, same ISN: same connection
  assert.equal(h.conns.length, 1)
  h.seg(true, r.c + 5, 'F.', '', r.s)
  h.seg(false, r.s, 'F.', '', r.c + 6)
  h.seg(true, r.c + 6, '.', '', r.s + 1)
  assert.equal(h.conns[0]!.conn.closed, true)
  r = handshake(h, 900000, 800000)
  assert.equal(h.conns.length, 2)
  h.seg(true, r.c, 'P.', 'second', r.s)
  assert.equal(h.conns[0]!.c2s.text(), 'first')
  assert.equal(h.conns[1]!.c2s.text(), 'second')
  assert.equal(h.conns[1]!.conn.id, 2)
  // A reuse while the old connection is still open supersedes it.
  r = handshake(h, 123, 456)
  assert.equal(h.conns.length, 3)
  assert.equal(h.conns[1]!.c2s.ended?.reason, 'superseded')
})

test('onEnd is called once per direction; data after the end is reported and ignored', () => {
  const h = new Harness()
  const {c, s} = handshake(h)
  h.seg(true, c, 'FP.', 'bye', s)
  h.seg(true, c + 3, 'P.', 'late', s)
  h.table.finish()
  assert.equal(h.c2s.endCalls, 1)
  assert.equal(h.s2c.endCalls, 1)
  assert.equal(h.c2s.text(), 'bye')
  assert.ok(h.c2s.events.some((e) => e.kind === 'data-after-end'))
})

test('chunks are stable copies, not views of the packet buffer', () => {
  const sink = new Sink()
  const r = new TcpStreamReassembler(sink)
  const buf = new Uint8Array([1, 2, 3, 4])
  r.segment(99, TCP_FLAG.SYN, new Uint8Array(0), 1)
  r.segment(100, TCP_FLAG.ACK, buf, 2)
  r.segment(106, TCP_FLAG.ACK, buf, 3) // out of order: buffered copy
  buf.fill(9)
  r.segment(104, TCP_FLAG.ACK, new Uint8Array([5, 6]), 4)
  assert.deepEqual([...sink.chunks[0]!.data], [1, 2, 3, 4])
  assert.deepEqual([...sink.chunks[2]!.data], [1, 2, 3, 4])
})

test('borrowInOrder: bytes delivered as they come are views of the payload; buffered ones copies; with a history, copies', () => {
  const sink = new Sink()
  const r = new TcpStreamReassembler(sink, {historyBytes: 0, borrowInOrder: true})
  const buf = new Uint8Array([1, 2, 3, 4])
  r.segment(99, TCP_FLAG.SYN, new Uint8Array(0), 1)
  r.segment(100, TCP_FLAG.ACK, buf, 2)
  assert.equal(sink.chunks[0]!.data.buffer, buf.buffer, 'in order: a view')
  const late = new Uint8Array([7, 8])
  r.segment(106, TCP_FLAG.ACK, late, 3) // out of order: buffered, so a copy
  late.fill(9)
  r.segment(104, TCP_FLAG.ACK, new Uint8Array([5, 6]), 4)
  assert.deepEqual([...sink.chunks[2]!.data], [7, 8])
  // A retransmission overlapping the delivered bytes: the new part only, a view too.
  r.segment(106, TCP_FLAG.ACK, new Uint8Array([7, 8, 10, 11]), 5)
  assert.deepEqual([...sink.chunks[3]!.data], [10, 11])
  const kept = new Sink()
  const h = new TcpStreamReassembler(kept, {borrowInOrder: true})
  h.segment(99, TCP_FLAG.SYN, new Uint8Array(0), 1)
  h.segment(100, TCP_FLAG.ACK, buf, 2)
  assert.notEqual(kept.chunks[0]!.data.buffer, buf.buffer, 'a history keeps the chunks: copies')
})

test('connections found again by their endpoints: interleaved, both ways, per scope, IPv4 and IPv6, forgotten when idle', () => {
  const dec = new PacketDecoder()
  const sinks = new Map<number, {conn: TcpConnection; c2s: Sink; s2c: Sink}>()
  const table = new TcpConnectionTable({serverPort: SP, forgetIdleAfterSec: 10, open: (conn) => {
    const e = {conn, c2s: new Sink(), s2c: new Sink()}
    sinks.set(conn.id, e)
    return [e.c2s, e.s2c]
  }})
  let frame = 0
  const seg = (src: string, sport: number, dst: string, dport: number, seq: number, flags: string, payload: string, t: number, scope: string) => {
    const b = buildTcpPacket({src, dst, srcPort: sport, dstPort: dport, seq, ack: 1, flags, payload})
    dec.decode(LINKTYPE.RAW, b, b.length, b.length)
    return table.add(dec, ++frame, t, 0, scope)!.id
  }
  const C6 = '2001:db8::1'
  const S6 = '2001:db8::2'
  // Two clients of one server, the same 4-tuple on a second scope, and an IPv6 connection, interleaved.
  const a = seg(C, CP, S, SP, 100, 'P.', 'a1', 0, '0')
  const b = seg('10.77.9.3', CP, S, SP, 200, 'P.', 'b1', 0, '0')
  const a2 = seg(C, CP, S, SP, 100, 'P.', 'A1', 0, '1')
  const v6 = seg(C6, CP, S6, SP, 300, 'P.', 'v1', 0, '0')
  assert.equal(new Set([a, b, a2, v6]).size, 4)
  assert.equal(seg(S, SP, C, CP, 500, 'P.', 'a-reply', 1, '0'), a)
  assert.equal(seg(C, CP, S, SP, 102, 'P.', 'a2', 1, '0'), a)
  assert.equal(seg(S, SP, '10.77.9.3', CP, 600, 'P.', 'b-reply', 1, '0'), b)
  assert.equal(seg(S6, SP, C6, CP, 700, 'P.', 'v-reply', 1, '0'), v6)
  assert.equal(seg(S, SP, C, CP, 507, 'P.', 'A-reply', 1, '1'), a2)
  table.finish()
  assert.equal(sinks.get(a)!.c2s.text(), 'a1a2')
  assert.equal(sinks.get(a)!.s2c.text(), 'a-reply')
  assert.equal(sinks.get(b)!.s2c.text(), 'b-reply')
  assert.equal(sinks.get(a2)!.c2s.text(), 'A1')
  assert.equal(sinks.get(a2)!.s2c.text(), 'A-reply')
  assert.equal(sinks.get(v6)!.s2c.text(), 'v-reply')
  // Idle past the limit: forgotten; the 4-tuple's next packet opens another connection.
  const again = new TcpConnectionTable({serverPort: SP, forgetIdleAfterSec: 10, open: () => null})
  const id = (t: number, cport = CP) => {
    const p = buildTcpPacket({src: S, dst: C, srcPort: SP, dstPort: cport, seq: 1, ack: 1, flags: 'P.', payload: 'x'})
    dec.decode(LINKTYPE.RAW, p, p.length, p.length)
    return again.add(dec, ++frame, t, 0, '0')!.id
  }
  assert.equal(id(0), 1)
  assert.equal(id(5), 1)
  assert.equal(id(30, CP + 1), 2) // another connection's packet: the first one, silent 25 s, is let go of
  assert.equal(id(31), 3)
  assert.equal(id(32), 3)
})

// The stateful replay's per-connection state machine (replayer/live/
// connection.ts) against a simulated back-end on a virtual clock: the
// handshake and Δ/τ, frames byte for byte, ACK generation, out-of-order
// live data and SACK, retransmission of a lost segment, bounded retries,
// held segments, a stale connection in SYN-SENT; IPv4 and IPv6. Also ARP/ND,
// the response comparison and the script built from a real lab trace.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {scanControl} from '../../replayer/select/control.js'
import {answerFor, arpRequest, neighborSolicitation, parseNeighbor} from '../../replayer/live/neighbor.js'
import {compareResponses, maskHeaders} from '../../replayer/live/compare.js'
import {buildScripts, clientGap} from '../../replayer/live/script.js'
import {BE_MAC, makeScript, Sim, SRC_MAC} from '../support/sim-peer.js'
import {repoRoot} from '../support/env.js'

const u32 = (v: number) => v >>> 0
const mac = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')

function body(n: number): Uint8Array {
  const head = `HTTP/1.1 200 OK\r\ncontent-length: ${n}\r\ndate: Thu, 26 Nov 2026 08:00:00 GMT\r\n\r\n`
  const b = Buffer.alloc(head.length + n)
  b.write(head, 'latin1')
  for (let i = 0; i < n; i++) b[head.length + i] = 0x61 + (i % 26)
  return new Uint8Array(b)
}

function decodeAll(frames: Uint8Array[]): PacketDecoder[] {
  return frames.map((f) => new PacketDecoder({verifyChecksums: true}).decode(LINKTYPE.ETHERNET, f, f.length, f.length))
}

test('IPv4: handshake gives Δ and τ; request, own ACKs, FIN handshake; the live response is the recorded one', () => {
  const resp = body(2500)
  const script = makeScript({response: resp})
  const sim = new Sim(script, {response: resp, biss: 0x12345678, bts: 90000})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'done', c.error)
  assert.equal(c.closedBy, 'fin')
  assert.equal(c.live!.delta, u32(0x12345678 - script.fiss))
  assert.equal(c.live!.tau, u32(90000 - 5000))
  assert.deepEqual(Buffer.from(c.response()), Buffer.from(resp))
  assert.equal(sim.peer.request, 'GET /img/a.png HTTP/1.1\r\nhost: x\r\n\r\n')
  assert.ok(sim.peer.clientFinSeen)
  // Every frame on the wire: valid checksums, from the source to the target (the BE address, not the VIP).
  for (const d of decodeAll(sim.sent)) {
    assert.equal(d.ipChecksumStatus === 'bad' || d.l4ChecksumStatus === 'bad', false)
    assert.equal(d.srcAddr(), '10.77.9.1')
    assert.equal(d.dstAddr(), '10.77.0.11')
    assert.equal(d.ethDst(), mac(BE_MAC))
    assert.equal(d.ethSrc(), mac(SRC_MAC))
  }
  // 3 response segments of 1000 bytes (+ the head) → ACKs; the SYN, the ACK, the request, the FIN.
  const flags = decodeAll(sim.sent).map((d) => d.flagsString())
  assert.deepEqual(flags.slice(0, 3), ['S', '.', 'P.'])
  assert.equal(flags[flags.length - 1], 'F.')
  // The recorded FIN was held until the whole response and the server's FIN had arrived: it acknowledges both.
  assert.equal(u32(decodeAll(sim.sent).pop()!.ack), u32(0x12345678 + 1 + resp.length + 1))
  assert.equal(c.stats.retransmissions, 0)
})

test('a generated ACK is byte for byte the segment the client would send, through the forward rewrite (ack + Δ, TSecr + τ)', () => {
  const resp = body(1500)
  const script = makeScript({response: resp})
  const sim = new Sim(script, {response: resp, biss: 0x12345678, bts: 90000, mss: 1000})
  sim.run()
  const ds = decodeAll(sim.sent)
  // The first ACK after the request: acknowledges the first response segment (1000 bytes).
  const i = ds.findIndex((d) => d.flagsString() === '.' && u32(d.ack) === u32(0x12345678 + 1 + 1000))
  assert.ok(i > 0, 'an ACK of the first 1000 response bytes')
  const d = ds[i]
  // TSval: the client's clock (SYN TSval = tsClock at start, 123456789); TSecr: the live TSval it echoes (bts + t).
  const expected = buildTcpPacket({
    src: '10.77.9.1', dst: '10.77.0.11', srcPort: 20001, dstPort: 80, seq: script.ciss + 1 + 36, ack: 0x12345678 + 1 + 1000, flags: '.', window: 502,
    options: {timestamp: {tsVal: d.tsVal, tsEcr: 90000}}, ipId: d.ipv4Id, ethernet: {src: mac(SRC_MAC), dst: mac(BE_MAC)},
  })
  assert.equal(Buffer.from(sim.sent[i]).toString('hex'), Buffer.from(expected).toString('hex'))
  // σ: the SYN went out with the client clock as TSval, and later TSvals follow from it.
  assert.equal(ds[0].tsVal, 123456789)
  assert.ok(((d.tsVal - 123456789) | 0) >= 0)
})

test('a lost request segment is retransmitted after the RTO (same bytes, ack/TS of the moment) and the connection completes', () => {
  const resp = body(800)
  const script = makeScript({response: resp})
  const sim = new Sim(script, {response: resp, dropClientData: [1]}, {rtoMs: 300})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'done', c.error)
  assert.equal(c.stats.retransmissions, 1)
  const data = decodeAll(sim.sent).filter((d) => d.payloadLen > 0)
  assert.equal(data.length, 2)
  assert.equal(data[0].seq, data[1].seq)
  assert.deepEqual(Buffer.from(data[0].bytes.subarray(data[0].payloadOffset, data[0].payloadOffset + data[0].payloadLen)),
    Buffer.from(data[1].bytes.subarray(data[1].payloadOffset, data[1].payloadOffset + data[1].payloadLen)))
  assert.deepEqual(Buffer.from(c.response()), Buffer.from(resp))
})

test('retransmissions are bounded: a segment never acknowledged fails the connection with a clear reason, and it is reset', () => {
  const resp = body(100)
  const script = makeScript({response: resp})
  const sim = new Sim(script, {response: resp, dropClientData: [1, 2, 3, 4, 5, 6, 7, 8, 9]}, {rtoMs: 100, maxRetries: 3})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'failed')
  assert.match(c.error!, /not acknowledged after 3 retransmissions/)
  assert.equal(c.stats.retransmissions, 3)
  // RTO doubles: 100, 200, 400, 800 → gives up at 1500 ms.
  assert.equal(sim.t, 1500)
  const last = decodeAll(sim.sent).pop()!
  assert.equal(last.flagsString(), 'R.')
})

test('no SYN/ACK: the SYN is retried, then a clear failure', () => {
  const script = makeScript({response: body(10)})
  const sim = new Sim(script, {response: body(10), silent: true}, {rtoMs: 100, maxRetries: 2})
  sim.run()
  assert.equal(sim.conn.phase, 'failed')
  assert.match(sim.conn.error!, /no SYN\/ACK from 10\.77\.0\.11 after 3 SYNs/)
  assert.deepEqual(decodeAll(sim.sent).map((d) => d.flagsString()), ['S', 'S', 'S'])
})

test('out-of-order live data: a duplicate ACK with a SACK block (edges + Δ), then one ACK covering everything', () => {
  const resp = body(2500)
  const script = makeScript({response: resp})
  const biss = 0x7ffffff0
  // Segments: [0,1000) [1000,2000) [2000, end): the second arrives first.
  const sim = new Sim(script, {response: resp, biss, order: [1, 0, 2], mss: 1000})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'done', c.error)
  assert.equal(c.stats.outOfOrder, 1)
  assert.deepEqual(Buffer.from(c.response()), Buffer.from(resp))
  const acks = decodeAll(sim.sent).filter((d) => d.flagsString() === '.' && d.payloadLen === 0)
  const sacked = acks.find((d) => d.sackCount > 0)
  assert.ok(sacked, 'an ACK with SACK')
  assert.equal(u32(sacked.ack), u32(biss + 1))
  assert.deepEqual([sacked.sackLeft(0), sacked.sackRight(0)], [u32(biss + 1 + 1000), u32(biss + 1 + 2000)])
  const next = acks[acks.indexOf(sacked) + 1]
  assert.equal(u32(next.ack), u32(biss + 1 + 2000))
  assert.equal(next.sackCount, 0)
})

test('IPv6: the same exchange over IPv6 (engine forward/return on v6 headers)', () => {
  const resp = body(3000)
  const script = makeScript({family: 6, response: resp})
  const sim = new Sim(script, {response: resp, biss: 5, order: [2, 0, 1, 3]})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'done', c.error)
  assert.deepEqual(Buffer.from(c.response()), Buffer.from(resp))
  for (const d of decodeAll(sim.sent)) {
    assert.equal(d.network, 'ipv6')
    assert.equal(d.l4ChecksumStatus === 'bad', false)
    assert.equal(d.srcAddr(), 'fd77::9:1')
    assert.equal(d.dstAddr(), 'fd77::11')
  }
})

test('a held segment waits for the response; a shorter live response releases it at the server FIN and the comparison reports it', () => {
  const recorded = body(2000)
  const live = body(1200)
  const script = makeScript({response: recorded})
  const sim = new Sim(script, {response: live})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'done', c.error)
  assert.ok(sim.peer.clientFinSeen)
  const cmp = compareResponses(script.response, c.response(), [], ['date'])
  assert.equal(cmp.match, false)
  // The heads differ first in content-length: "2000" vs "1200".
  assert.equal(cmp.firstDiff, 'HTTP/1.1 200 OK\r\ncontent-length: '.length)
})

test('without a server FIN, a held segment is released after responseIdleMs (the live server sent less than recorded)', () => {
  const script = makeScript({response: body(500)})
  // A keep-alive server: its shorter response is not followed by a FIN; it closes only after the client's FIN.
  const sim = new Sim(script, {response: body(100), noFin: true}, {responseIdleMs: 700})
  sim.run()
  const c = sim.conn
  assert.equal(c.phase, 'done', c.error)
  assert.equal(c.stats.releasedOnIdle, 1)
  // Its ack is what was received, not the recorded one (which acknowledges bytes this server never sent).
  assert.equal(sim.peer.invalidAcks, 0)
  assert.ok(sim.peer.clientFinSeen)
  // The FIN went out one idle period after the last response byte, not before.
  assert.ok(sim.t >= 700 && sim.t < 1000, `ended at ${sim.t} ms`)
  assert.equal(compareResponses(script.response, c.response(), [], ['date']).match, false)
})

test('SYN-SENT: an ACK of an older connection on the 4-tuple gets a RST with seq = its ack, then the SYN is retried', () => {
  const resp = body(50)
  const script = makeScript({response: resp})
  const sim = new Sim(script, {response: resp}, {rtoMs: 200})
  // Before the first SYN reaches the peer, the "old connection" answers it with a plain ACK.
  let first = true
  const orig = sim.peer.input.bind(sim.peer)
  sim.peer.input = (f) => {
    if (first) {
      first = false
      sim.toConn.push(buildTcpPacket({src: '10.77.0.11', dst: '10.77.9.1', srcPort: 80, dstPort: 20001, seq: 77, ack: 0xabcdef01, flags: '.',
        ethernet: {src: mac(BE_MAC), dst: mac(SRC_MAC)}}))
      return
    }
    orig(f)
  }
  sim.run()
  assert.equal(sim.conn.phase, 'done', sim.conn.error)
  assert.equal(sim.conn.staleAcksReset, 1)
  const ds = decodeAll(sim.sent)
  assert.equal(ds[1].flagsString(), 'R')
  assert.equal(u32(ds[1].seq), 0xabcdef01)
  assert.equal(ds[2].flagsString(), 'S')
})

test('SYN-SENT: a RST acknowledging the SYN refuses the connection at once (no retries)', () => {
  const script = makeScript({response: body(10)})
  const sim = new Sim(script, {response: body(10), silent: true}, {rtoMs: 100})
  const orig = sim.peer.input.bind(sim.peer)
  sim.peer.input = (f) => {
    orig(f)
    sim.toConn.push(buildTcpPacket({src: '10.77.0.11', dst: '10.77.9.1', srcPort: 80, dstPort: 20001, seq: 0, ack: script.ciss + 1, flags: 'R.',
      ethernet: {src: mac(BE_MAC), dst: mac(SRC_MAC)}}))
  }
  sim.run()
  assert.equal(sim.conn.phase, 'failed')
  assert.match(sim.conn.error!, /connection refused: 10\.77\.0\.11 answered the SYN with a RST \(nothing listening on port 80\?\)/)
  assert.equal(sim.t, 0)
  assert.equal(sim.sent.length, 1)
})

test('ARP: a request for the source is answered with the source MAC; requests for other addresses are not', () => {
  const asker = new Uint8Array([2, 0x77, 0, 0, 0, 0x0b])
  const req = arpRequest(asker, new Uint8Array([10, 77, 0, 11]), new Uint8Array([10, 77, 9, 1]))
  const m = parseNeighbor(req)!
  assert.equal(m.kind, 'request')
  const a = answerFor(m, [new Uint8Array([10, 77, 9, 1])], SRC_MAC)!
  assert.equal(Buffer.from(a.subarray(0, 42)).toString('hex'),
    '02770000000b' + '02686f000901' + '0806' + '0001080006040002' + '02686f000901' + '0a4d0901' + '02770000000b' + '0a4d000b')
  assert.equal(answerFor(m, [new Uint8Array([10, 77, 9, 2])], SRC_MAC), null)
  const r = parseNeighbor(a)!
  assert.equal(r.kind, 'reply')
})

test('ND: a neighbour solicitation for the source gets a solicited advertisement with a valid ICMPv6 checksum', () => {
  const asker = new Uint8Array([2, 0x77, 0, 0, 0, 0x0b])
  const askerIp = new Uint8Array(16)
  askerIp.set([0xfd, 0x77], 0)
  askerIp[15] = 0x11
  const src = new Uint8Array(16)
  src.set([0xfd, 0x77], 0)
  src.set([0, 9, 0, 1], 12)
  const ns = neighborSolicitation(asker, askerIp, src)
  const dns = new PacketDecoder({verifyChecksums: true}).decode(LINKTYPE.ETHERNET, ns, ns.length, ns.length)
  assert.equal(dns.l4ChecksumStatus, 'good')
  assert.equal(dns.dstAddr(), 'ff02::1:ff09:1')
  const m = parseNeighbor(ns)!
  const na = answerFor(m, [src], SRC_MAC)!
  const d = new PacketDecoder({verifyChecksums: true}).decode(LINKTYPE.ETHERNET, na, na.length, na.length)
  assert.equal(d.l4ChecksumStatus, 'good')
  assert.equal(d.icmpType, 136)
  assert.equal(d.srcAddr(), 'fd77::9:1')
  assert.equal(d.dstAddr(), 'fd77::11')
  const r = parseNeighbor(na)!
  assert.equal(r.kind, 'reply')
  assert.deepEqual(r.kind === 'reply' ? [...r.mac] : [], [...SRC_MAC])
})

test('compare: Date values are masked in every response head (offsets unchanged); other differences are found at their offset', () => {
  const a = new TextEncoder().encode('HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\ndate: x\r\n\r\nrest')
  const b = new TextEncoder().encode('HTTP/1.1 200 OK\r\nDate: Tue, 02 Jan 2024 11:11:11 GMT\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\ndate: y\r\n\r\nrest')
  assert.equal(compareResponses(a, b, [], ['date']).match, true)
  const strict = compareResponses(a, b, [], [])
  assert.equal(strict.match, false)
  assert.equal(strict.firstDiff, 'HTTP/1.1 200 OK\r\nDate: '.length)
  const c = new TextEncoder().encode(Buffer.from(b).toString('latin1').replace('abc', 'abX'))
  const r = compareResponses(a, c, [], ['date'])
  assert.equal(r.firstDiff, Buffer.from(a).toString('latin1').indexOf('abc') + 2)
  assert.match(r.recordedExcerpt!, /ab⟨c/)
  assert.match(r.liveExcerpt!, /ab⟨X/)
  // A hole in the recording is not compared.
  assert.equal(compareResponses(a, c, [[r.firstDiff!, r.firstDiff! + 1]], ['date']).match, true)
  // Masking never touches bodies.
  const body = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nDate: in body!')
  assert.equal(maskHeaders(body, ['date']), 0)
})

test('script from the clean lab trace: request and FIN of n2/1, not the FE\'s local reset seen inside n2; the response the client saw', async () => {
  const f = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
  const scan = await scanControl([f])
  const [s] = await buildScripts([f], scan.handoffs.filter((h) => h.hid === 'n2/1'))
  assert.equal(s.cip, '10.77.1.2')
  assert.equal(s.vip, '10.77.0.12')
  assert.equal(s.baddr, '10.77.0.11')
  assert.deepEqual(s.segments.map((x) => [x.seqRel, x.dataLen, x.flags & 0x07]), [[0, 90, 0], [90, 0, 1]])
  assert.equal(s.segments[1].ackRel, s.response.length + 1)
  assert.equal(s.responseView, 'client')
  assert.equal(s.responseFin, s.response.length)
  assert.deepEqual(s.responseHoles, [])
  const text = Buffer.from(s.response).toString('latin1')
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(text, /\r\n\r\nserved-by n1 path \/img\/r1\.png\n/)
})

test('a script with client bytes the trace never captured is recognised (clientGap), a whole one is not', () => {
  const s = makeScript({response: body(10), request: 'GET / HTTP/1.1\r\n\r\n'})
  assert.equal(clientGap(s), null)
  const fin = s.segments[1]
  // The FIN starts 5 bytes after the request ends: those 5 bytes were not captured.
  const holed = {...s, segments: [s.segments[0], {...fin, seqRel: fin.seqRel + 5}]}
  assert.deepEqual(clientGap(holed), [18, 23])
})

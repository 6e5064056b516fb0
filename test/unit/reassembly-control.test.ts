// Control-message extraction (analyzer/control/channels.ts) over synthetic
// pcapng files written with PcapngWriter: both directions of a control
// connection cut into segments that split frames and coalesce them, with
// retransmissions, overlaps and reordering. The extraction must give exactly
// the messages that were encoded, once each.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {extractControlMessages, keyFields, type ControlMessageRow, type ControlReport} from '../../analyzer/control/channels.js'
import {encodeFrame} from '../../analyzer/control/codec.js'
import type {ControlMessage} from '../../analyzer/control/messages.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {concat} from '../support/bytes.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-reasm-ctl-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const FE = {addr: '10.77.5.1', port: 40000, mac: '02:77:05:00:00:01'}
const BE = {addr: '10.77.5.2', port: 7070, mac: '02:77:05:00:00:02'}
const AT = 1_700_000_000_000_000

function clientPkts(): Uint8Array[] {
  const c = {src: '10.77.200.9', dst: '10.77.0.100', srcPort: 51000, dstPort: 80}
  return [
    buildTcpPacket({...c, seq: 111, flags: 'S', options: {mss: 1460, sackPermitted: true}}),
    buildTcpPacket({...c, seq: 112, ack: 223, flags: '.'}),
    buildTcpPacket({...c, seq: 112, ack: 223, flags: 'P.', payload: 'GET /img/a.png HTTP/1.1\r\nHost: lab\r\n\r\n'}),
  ]
}

/** Client (fe1) → server (be1) and server → client messages, in stream order. */
function conversation(): {c2s: ControlMessage[]; s2c: ControlMessage[]} {
  const opt = {mss: 1460, ws: 7, sack: true, ts: true}
  const c2s: ControlMessage[] = [
    {v: 1, t: 'hello', node: 'fe1', at: AT, addr: FE.addr, mac: FE.mac},
    {v: 1, t: 'handoff-req', node: 'fe1', at: AT + 10, hid: 'fe1/1', cip: '10.77.200.9', cport: 51000, vip: '10.77.0.100', vport: 80,
      ciss: 111, fiss: 222, fts: 333, fopt: opt, pkts: clientPkts(), url: '/img/a.png', host: 'lab'},
    {v: 1, t: 'handoff-req', node: 'fe1', at: AT + 20, hid: 'fe1/2', cip: '10.77.200.9', cport: 51001, vip: '10.77.0.100', vport: 80,
      ciss: 1111, fiss: 2222, fopt: {mss: 1400, sack: false, ts: false}, pkts: clientPkts().slice(0, 2), url: '/api/x'},
    {v: 1, t: 'ping', node: 'fe1', at: AT + 30, n: 1},
    {v: 1, t: 'ping', node: 'fe1', at: AT + 31, n: 2},
  ]
  const s2c: ControlMessage[] = [
    {v: 1, t: 'hello', node: 'be1', at: AT + 1, addr: BE.addr, mac: BE.mac},
    {v: 1, t: 'handoff-ack', node: 'be1', at: AT + 11, hid: 'fe1/1', biss: 0xfffffff0, bts: 7, bopt: opt, baddr: BE.addr, bmac: BE.mac},
    {v: 1, t: 'handoff-nack', node: 'be1', at: AT + 21, hid: 'fe1/2', err: 'no such backend'},
    {v: 1, t: 'terminate', node: 'be1', at: AT + 25, hid: 'fe1/1', reason: 'fin', cbytes: 38, sbytes: 1234},
    {v: 1, t: 'pong', node: 'be1', at: AT + 32, n: 1},
    {v: 1, t: 'pong', node: 'be1', at: AT + 33, n: 2},
  ]
  return {c2s, s2c}
}

interface Seg {
  fromClient: boolean
  /** Stream offset of the payload (or of the SYN/FIN), relative to ISN + 1. */
  off: number
  data: Uint8Array
  flags: string
}

/** Cuts a stream into segments of the given sizes (cycled): frames get split and coalesced. */
function cut(fromClient: boolean, stream: Uint8Array, sizes: number[]): Seg[] {
  const segs: Seg[] = []
  let off = 0
  let i = 0
  while (off < stream.length) {
    const n = Math.min(sizes[i++ % sizes.length]!, stream.length - off)
    segs.push({fromClient, off, data: stream.subarray(off, off + n), flags: 'P.'})
    off += n
  }
  return segs
}

interface Plan {
  cIsn: number
  sIsn: number
  /** Emission order: segments (data, SYN, FIN); acks are computed. */
  segs: Seg[]
  /** Leave the handshake out (the capture starts mid-stream). */
  noHandshake?: boolean
}

/**
 * Writes a pcapng: the handshake, then the segments in the given order, every
 * one with the ack of what its sender had received in order so far, then the
 * FINs. `copies` > 1 writes each packet once per interface (several views).
 */
function writeTrace(name: string, plan: Plan, copies = 1): string {
  const path = join(dir, name)
  const w = PcapngWriter.open(path, {application: 'handoff unit test'})
  for (let i = 0; i < copies; i++) w.addInterface({linkType: LINKTYPE.ETHERNET, name: `view${i}`})
  let t = 0
  // What each side received in order (stream offsets), from the segments emitted so far.
  const got = [new Map<number, number>(), new Map<number, number>()] // [by client, by server]: off → end
  const rcvNext = [0, 0]
  const emit = (fromClient: boolean, seq: number, flags: string, payload: Uint8Array) => {
    const me = fromClient ? FE : BE
    const peer = fromClient ? BE : FE
    const ackOff = rcvNext[fromClient ? 0 : 1]!
    const ack = ((fromClient ? plan.sIsn : plan.cIsn) + 1 + ackOff) >>> 0
    const bytes = buildTcpPacket({
      src: me.addr, dst: peer.addr, srcPort: me.port, dstPort: peer.port, seq: seq >>> 0, ack,
      flags: flags === 'S' ? 'S' : flags, payload, ethernet: {src: me.mac, dst: peer.mac},
    })
    t++
    for (let i = 0; i < copies; i++) w.writePacket(i, 1_700_000_000 + Math.floor(t / 1000), (t % 1000) * 1_000_000 + i, bytes)
  }
  const deliver = (toServer: boolean, off: number, len: number) => {
    const m = got[toServer ? 1 : 0]!
    m.set(off, Math.max(m.get(off) ?? 0, off + len))
    let n = rcvNext[toServer ? 1 : 0]!
    for (let progress = true; progress;) {
      progress = false
      for (const [o, e] of m) if (o <= n && e > n) { n = e; progress = true }
    }
    rcvNext[toServer ? 1 : 0] = n
  }
  if (!plan.noHandshake) {
    emit(true, plan.cIsn, 'S', new Uint8Array(0))
    emit(false, plan.sIsn, 'S.', new Uint8Array(0))
    emit(true, plan.cIsn + 1, '.', new Uint8Array(0))
  }
  for (const s of plan.segs) {
    const isn = s.fromClient ? plan.cIsn : plan.sIsn
    emit(s.fromClient, isn + 1 + s.off, s.flags, s.data)
    deliver(s.fromClient, s.off, s.data.length)
  }
  w.close()
  return path
}

function byDirection(r: ControlReport, d: 'client-to-server' | 'server-to-client'): ControlMessageRow[] {
  return r.rows.filter((x): x is ControlMessageRow => x.kind === 'message' && x.direction === d)
}

function assertMessages(rows: ControlMessageRow[], msgs: ControlMessage[]): void {
  assert.deepEqual(rows.map((r) => r.type), msgs.map((m) => m.t))
  rows.forEach((r, i) => {
    const m = msgs[i]!
    assert.equal(r.node, m.node)
    assert.equal(r.at, m.at)
    assert.equal(r.hid, 'hid' in m ? m.hid : undefined)
    assert.deepEqual(r.fields, keyFields(m))
  })
  // Stream offsets are the encoded frames' positions.
  let off = 0
  rows.forEach((r, i) => {
    assert.equal(r.streamOffset, off, `offset of message ${i}`)
    const len = encodeFrame(msgs[i]!).length
    assert.equal(r.length, len)
    off += len
  })
}

/** Segments of both directions, interleaved, with reordering, retransmissions and an overlap with the same bytes. */
function messyPlan(cIsn: number, sIsn: number): {plan: Plan; conv: ReturnType<typeof conversation>} {
  const conv = conversation()
  const c2s = cut(true, concat(...conv.c2s.map(encodeFrame)), [3, 50, 7, 400, 2, 90])
  const s2c = cut(false, concat(...conv.s2c.map(encodeFrame)), [120, 5, 33])
  const segs: Seg[] = []
  const n = Math.max(c2s.length, s2c.length)
  for (let i = 0; i < n; i++) {
    if (c2s[i]) segs.push(c2s[i]!)
    if (s2c[i]) segs.push(s2c[i]!)
  }
  // Reorder: swap the client's 2nd and 3rd segments.
  const a = segs.indexOf(c2s[1]!)
  const b = segs.indexOf(c2s[2]!)
  ;[segs[a], segs[b]] = [segs[b]!, segs[a]!]
  // Exact retransmission of the client's 4th segment, right after it.
  segs.splice(segs.indexOf(c2s[3]!) + 1, 0, {...c2s[3]!})
  // Overlapping retransmission (same bytes) spanning the server's 1st and 2nd segments, after the 3rd.
  const s0 = s2c[0]!
  const s1 = s2c[1]!
  const full = concat(...conv.s2c.map(encodeFrame))
  segs.splice(segs.indexOf(s2c[2]!) + 1, 0, {fromClient: false, off: s0.off + 100, data: full.subarray(s0.off + 100, s1.off + s1.data.length), flags: 'P.'})
  // A late retransmission of the client's 1st segment at the very end.
  segs.push({...c2s[0]!})
  // FINs.
  const cEnd = c2s.at(-1)!.off + c2s.at(-1)!.data.length
  const sEnd = s2c.at(-1)!.off + s2c.at(-1)!.data.length
  segs.push({fromClient: true, off: cEnd, data: new Uint8Array(0), flags: 'F.'})
  segs.push({fromClient: false, off: sEnd, data: new Uint8Array(0), flags: 'F.'})
  return {plan: {cIsn, sIsn, segs}, conv}
}

test('split, coalesced, reordered and retransmitted frames give exactly the encoded messages', async () => {
  const {plan, conv} = messyPlan(4242, 0xfffffe00) // the server's seq wraps at 2^32
  const path = writeTrace('messy.pcapng', plan)
  const r = await extractControlMessages(path)
  assert.equal(r.captureErrors.length, 0)
  assert.equal(r.summary.errors, 0, JSON.stringify(r.rows.filter((x) => x.kind === 'error')))
  assertMessages(byDirection(r, 'client-to-server'), conv.c2s)
  assertMessages(byDirection(r, 'server-to-client'), conv.s2c)
  assert.equal(r.summary.messages, conv.c2s.length + conv.s2c.length)
  assert.deepEqual(r.summary.byType, {hello: 2, 'handoff-req': 2, 'handoff-ack': 1, 'handoff-nack': 1, terminate: 1, ping: 2, pong: 2})
  assert.equal(r.summary.connections, 1)
  assert.equal(r.summary.duplicatesMerged, 0)
  assert.equal(r.connections[0]!.connection, '10.77.5.1:40000 ↔ 10.77.5.2:7070')
  assert.deepEqual(r.connections[0]!.end, {clientToServer: 'fin', serverToClient: 'fin'})
  // Node names from the hellos, on every row.
  for (const x of r.rows) {
    assert.equal(x.direction === 'client-to-server' ? x.sender.node : x.receiver.node, 'fe1')
    assert.equal(x.direction === 'client-to-server' ? x.receiver.node : x.sender.node, 'be1')
  }
  // Sorted by time.
  for (let i = 1; i < r.rows.length; i++) assert.ok(r.rows[i - 1]!.frame <= r.rows[i]!.frame)
  assert.equal(r.notes.filter((n) => n.kind === 'overlap-mismatch').length, 0)
})

test('the same connection on two interfaces (and in two files) is listed once, duplicates counted', async () => {
  const {plan, conv} = messyPlan(1, 2)
  const two = writeTrace('two-views.pcapng', plan, 2)
  const total = conv.c2s.length + conv.s2c.length
  const r = await extractControlMessages(two)
  assert.equal(r.summary.messages, total)
  assert.equal(r.summary.duplicatesMerged, total)
  assert.deepEqual(r.connections[0]!.seenIn, [`${two}#0`, `${two}#1`])
  assert.ok(r.rows.every((x) => x.interface === 0 && x.duplicates === 1))
  const one = writeTrace('one-view.pcapng', plan, 1)
  const r2 = await extractControlMessages([one, two])
  assert.equal(r2.summary.messages, total)
  assert.equal(r2.summary.duplicatesMerged, 2 * total)
  assertMessages(byDirection(r2, 'server-to-client'), conv.s2c)
})

test('malformed frames: a bad body is listed and decoding goes on; a bad length stops the direction', async () => {
  const conv = conversation()
  const bad = Uint8Array.of(0, 0, 0, 2, 0x91, 0x01) // L = 2, body = [1]: not a map
  const c2s = concat(...[encodeFrame(conv.c2s[0]!), bad, encodeFrame(conv.c2s[3]!), Uint8Array.of(0, 0x20, 0, 0, 1, 2, 3)])
  const segs = cut(true, c2s, [1000])
  const path = writeTrace('bad.pcapng', {cIsn: 10, sIsn: 20, segs: [...segs, {fromClient: true, off: c2s.length, data: new Uint8Array(0), flags: 'F.'}]})
  const r = await extractControlMessages(path)
  assert.deepEqual(r.rows.map((x) => x.kind === 'message' ? x.type : `${x.type}:${x.reason}`),
    ['hello', 'control-framing:not-a-map', 'ping', 'control-framing:oversize'])
  const e = r.rows[1]!
  assert.equal(e.kind, 'error')
  assert.equal(e.streamOffset, encodeFrame(conv.c2s[0]!).length)
  assert.equal(r.summary.errors, 2)
})

test('a lost segment: one stream-gap error, then the framing is found again at a later segment', async () => {
  const conv = conversation()
  const frames = conv.c2s.map(encodeFrame)
  // One segment per frame; the 2nd frame (handoff-req fe1/1) is lost.
  const segs: Seg[] = []
  let off = 0
  for (const f of frames) {
    segs.push({fromClient: true, off, data: f, flags: 'P.'})
    off += f.length
  }
  segs.splice(1, 1)
  const r = await extractControlMessages(writeTrace('lost.pcapng', {cIsn: 77, sIsn: 88, segs}))
  assert.deepEqual(r.rows.map((x) => x.kind === 'message' ? x.hid ?? x.type : x.reason), ['hello', 'stream-gap', 'fe1/2', 'ping', 'ping'])
  assert.ok(r.notes.some((n) => n.kind === 'resync'))
})

test('capture starting mid-stream (no SYN): frames found at segment boundaries; an unfinished frame at the end is a note', async () => {
  const conv = conversation()
  const frames = conv.c2s.map(encodeFrame)
  const stream = concat(...frames)
  // The capture starts in the middle of frame 1 (hello), ends inside the last ping.
  const start = 5
  const segs: Seg[] = []
  let off = start
  for (const [i, f] of frames.entries()) {
    const fstart = frames.slice(0, i).reduce((n, x) => n + x.length, 0)
    const end = fstart + f.length
    const to = i === frames.length - 1 ? end - 3 : end
    if (to > off) segs.push({fromClient: true, off, data: stream.subarray(off, to), flags: 'P.'})
    off = to
  }
  const r = await extractControlMessages(writeTrace('mid.pcapng', {cIsn: 500, sIsn: 600, segs, noHandshake: true}))
  assert.equal(r.summary.errors, 0)
  assert.deepEqual(r.rows.map((x) => x.kind === 'message' ? x.type : x.reason), ['handoff-req', 'handoff-req', 'ping'])
  // Offsets count from the first byte seen.
  assert.equal(r.rows[0]!.streamOffset, frames[0]!.length - start)
  const kinds = r.notes.map((n) => n.kind)
  assert.ok(kinds.includes('no-syn'))
  assert.ok(kinds.includes('resync'))
  assert.ok(kinds.includes('capture-ended-in-frame'))
  assert.equal(r.connections[0]!.syn, false)
})

test('different bytes retransmitted for a frame: the first copy is decoded, a note tells', async () => {
  const conv = conversation()
  const f = encodeFrame(conv.c2s[0]!)
  const evil = f.slice()
  evil[evil.length - 1] ^= 0xff
  const segs: Seg[] = [
    {fromClient: true, off: 0, data: f, flags: 'P.'},
    {fromClient: true, off: 0, data: evil, flags: 'P.'},
  ]
  const r = await extractControlMessages(writeTrace('mismatch.pcapng', {cIsn: 1, sIsn: 2, segs}))
  assert.equal(r.summary.messages, 1)
  assert.equal(r.notes.filter((n) => n.kind === 'overlap-mismatch').length, 1)
})

test('a different control port', async () => {
  const {plan} = messyPlan(3, 4)
  const path = writeTrace('port.pcapng', plan)
  const r = await extractControlMessages(path, {port: 7171})
  assert.equal(r.summary.messages, 0)
  assert.equal(r.summary.connections, 0)
})

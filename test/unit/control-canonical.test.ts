// control/canonical.ts, the quick way through a plain frame body: whenever it
// gives a message, the general way (MsgpackReader, then validateMessage) must
// give the same one — same keys in the same order, same values and types —
// and it must step aside (undefined) for everything it does not read itself.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {inspect} from 'node:util'
import {decodeCanonical} from '../../analyzer/control/canonical.js'
import {encodeMessage} from '../../analyzer/control/codec.js'
import {MsgpackReader} from '../../analyzer/control/msgpack.js'
import {validateMessage, type ControlMessage, type HandoffReq} from '../../analyzer/control/messages.js'
import {prng, randInt} from '../support/random.js'

const AT = 1800000000123456
const req: HandoffReq = {
  v: 1, t: 'handoff-req', node: 'fe1', at: AT, hid: 'fe1/42', cip: '192.0.2.7', cport: 51000, vip: '10.0.0.100', vport: 80,
  ciss: 0x12345678, fiss: 0xfedcba98, fts: 0x01020304, fopt: {mss: 1460, ws: 7, sack: true, ts: true},
  pkts: [Uint8Array.of(0x45, 0x00, 0x14), Uint8Array.from({length: 300}, (_, i) => i & 0xff)], url: '/img/a.png', host: 'example.com',
}
const {fts: _fts, host: _host, ...reqMin} = req
const MESSAGES: ControlMessage[] = [
  {v: 1, t: 'hello', node: 'fe1', at: AT, addr: '10.0.0.1', mac: '02:00:00:00:00:01'},
  {v: 1, t: 'hello', node: 'fe1', at: 0, addr: '2001:db8::1', mac: '0a:bc:de:f0:12:34'},
  req,
  {...reqMin, fopt: {mss: 536, sack: false, ts: false}, pkts: []} as HandoffReq,
  {...reqMin, fts: 0} as HandoffReq,
  {...reqMin, host: 'h'.repeat(300), url: '/' + 'x'.repeat(40)} as HandoffReq,
  {...reqMin, cip: '::ffff:192.0.2.7', vip: '2001:db8::100'} as HandoffReq,
  {v: 1, t: 'handoff-ack', node: 'be1', at: AT, hid: 'fe1/42', biss: 0xffffffff, bts: 0, bopt: {mss: 1400, sack: false, ts: true},
    baddr: '2001:db8::2', bmac: '02:00:00:00:00:02'},
  {v: 1, t: 'handoff-ack', node: 'be1', at: AT, hid: 'fe1/42', biss: 1, bopt: {mss: 1400, ws: 0, sack: true, ts: true},
    baddr: '10.0.0.2', bmac: '02:00:00:00:00:02'},
  {v: 1, t: 'handoff-nack', node: 'be2', at: AT + 1, hid: 'fe1/43', err: 'no capacity'},
  {v: 1, t: 'handoff-nack', node: 'be2', at: AT + 1, hid: 'fe1/43', err: ''},
  {v: 1, t: 'terminate', node: 'be1', at: AT, hid: 'fe1/42', reason: 'fin', cbytes: 120, sbytes: 70000},
  {v: 1, t: 'terminate', node: 'be1', at: AT, hid: 'fe1/42', reason: 'timeout', cbytes: 0, sbytes: 2 ** 40},
  {v: 1, t: 'ping', node: 'fe1', at: AT, n: 200},
  {v: 1, t: 'pong', node: 'be1', at: AT + 5, n: 65536},
]

const reader = new MsgpackReader()
function general(b: Uint8Array): ControlMessage | undefined {
  const v = reader.readAll(b, 0, b.length)
  if (v === undefined) return undefined
  const r = validateMessage(v, true)
  return r.ok ? r.msg : undefined
}

/** Keys in order, values with their types (a bin is not an array of numbers, 1 is not '1'). */
const show = (m: unknown) => inspect(m, {depth: 9, maxArrayLength: Infinity, breakLength: Infinity})

/** Checks one body both ways; true when the quick way gave a message. */
function same(b: Uint8Array): boolean {
  let took = false
  for (const borrow of [false, true]) {
    const quick = decodeCanonical(b, 0, b.length, borrow)
    if (quick === undefined) continue
    took = true
    const g = general(b)
    assert.ok(g !== undefined, `the quick way accepts what the general way refuses: ${Buffer.from(b).toString('hex')}`)
    assert.equal(show(quick), show(g))
    assert.deepEqual(Object.keys(quick), Object.keys(g))
  }
  return took
}

test('every message our codec writes is read the quick way, as the general way reads it', () => {
  for (const m of MESSAGES) assert.ok(same(encodeMessage(m)), `not taken: ${show(m)}`)
})

test('a body in a buffer at an offset, bins borrowed: views of that buffer, same bytes', () => {
  const body = encodeMessage(req)
  const buf = new Uint8Array(body.length + 10)
  buf.set(body, 7)
  const m = decodeCanonical(buf, 7, 7 + body.length, true) as HandoffReq
  assert.equal(m.pkts[1]!.buffer, buf.buffer)
  assert.deepEqual(m.pkts, req.pkts)
  const c = decodeCanonical(buf, 7, 7 + body.length, false) as HandoffReq
  assert.notEqual(c.pkts[1]!.buffer, buf.buffer)
  assert.deepEqual(c.pkts, req.pkts)
})

test('what the quick way leaves (other key orders, nil, unknown keys, floats…) goes the general way', () => {
  const ascii = new TextEncoder()
  const str = (s: string) => [0xa0 | s.length, ...ascii.encode(s)]
  const ping = (entries: number[][]) => Uint8Array.from([0x80 | entries.length, ...entries.flat()])
  const v = [...str('v'), 1]
  const t = [...str('t'), ...str('ping')]
  const node = [...str('node'), ...str('fe1')]
  const at = [...str('at'), 5]
  const n = [...str('n'), 7]
  assert.ok(same(ping([v, t, node, at, n])))
  const hello = (addr: string, mac: string) =>
    ping([v, [...str('t'), ...str('hello')], node, at, [...str('addr'), ...str(addr)], [...str('mac'), ...str(mac)]])
  assert.ok(same(hello('10.0.0.1', '02:00:00:00:00:01')))
  assert.ok(same(hello('0.10.200.255', 'ff:00:00:00:00:01')))
  for (const body of [
    ping([t, v, node, at, n]), // another order
    ping([v, t, node, at, n, [...str('x'), 1]]), // an unknown key (ignored by §3: the general way drops it)
    ping([v, t, node, at, [...str('n'), 0xcb, 0x40, 0x1c, 0, 0, 0, 0, 0, 0]]), // a float
    ping([v, t, node, at, [...str('n'), 0xd0, 0x07]]), // an int8
    ping([v, t, node, at, [...str('n'), 0xc0]]), // nil
    ping([v, t, node, at, n, n]), // a key twice
    ping([v, t, node, at]), // a key missing
    Uint8Array.from([...ping([v, t, node, at, n]), 0]), // trailing byte
    encodeMessage({v: 1, t: 'handoff-nack', node: 'be2', at: AT, hid: 'fe1/43', err: 'überlastet'}), // not ASCII
    hello('10.0.0.01', '02:00:00:00:00:01'), // a leading zero
    hello('10.0.0.256', '02:00:00:00:00:01'),
    hello('2001:DB8::1', '02:00:00:00:00:01'), // IPv6 not in RFC 5952 form
    hello('10.0.0.1', '02:00:00:00:00:0A'), // upper case
  ]) {
    assert.equal(decodeCanonical(body, 0, body.length, false), undefined, Buffer.from(body).toString('hex'))
    same(body)
  }
})

test('damaged bodies: whatever the quick way takes, the general way reads the same', () => {
  const r = prng(7070)
  let taken = 0
  for (const m of MESSAGES) {
    const body = encodeMessage(m)
    for (let k = 0; k < 400; k++) {
      let c = Uint8Array.from(body)
      const i = randInt(r, 0, c.length - 1)
      switch (randInt(r, 0, 4)) {
        case 0: c[i] = randInt(r, 0, 255); break
        case 1: c[i]! ^= 1 << randInt(r, 0, 7); break
        case 2: c = c.subarray(0, i); break
        case 3: c = Uint8Array.from([...c.subarray(0, i), randInt(r, 0, 255), ...c.subarray(i)]); break
        default: c = Uint8Array.from([...c.subarray(0, i), ...c.subarray(i + 1)])
      }
      if (same(c)) taken++
    }
  }
  // Most damage inside a str or a bin still reads: the check above has run on those.
  assert.ok(taken > 100)
})

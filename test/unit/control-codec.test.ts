// Control-channel codec (spec §3): byte-exact vectors built by hand, round
// trips for every message type, encoder guards, and cross-checks against
// an independent MessagePack implementation (msgpackr).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {Packr, unpack} from 'msgpackr'
import {ControlEncodeError, decodeFrame, encodeFrame, encodeMessage, FrameDecoder, MAX_FRAME_LENGTH, validateMessage} from '../../analyzer/control/index.js'
import type {ControlMessage, HandoffAck, HandoffNack, HandoffReq, Hello, Ping, Pong, Terminate} from '../../analyzer/control/index.js'
import {concat, frameOf, toHex} from '../support/bytes.js'
import {prng} from '../support/random.js'

// ---------------------------------------------------------------------------
// Fixtures.

/**
 * Hex with comments: `#` to end of line is a comment, whitespace is ignored.
 * Lets a test vector be laid out one MessagePack item per line.
 */
function hex(text: string): Uint8Array {
  const digits = text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '')
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) throw new Error(`bad hex vector: ${digits}`)
  const out = new Uint8Array(digits.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** 1800000000123456 µs = 0x0006_6517_289a_6240: above 2^32, so uint64 (0xcf). */
const AT = 1800000000123456

/** 300 bytes 0, 1, … 255, 0, … 43: forces bin16 (0xc5). */
const BIG_PKT = Uint8Array.from({length: 300}, (_, i) => i & 0xff)

const hello: Hello = {v: 1, t: 'hello', node: 'fe1', at: AT, addr: '10.0.0.1', mac: '02:00:00:00:00:01'}

const reqFull: HandoffReq = {
  v: 1,
  t: 'handoff-req',
  node: 'fe1',
  at: AT,
  hid: 'fe1/42',
  cip: '192.0.2.7',
  cport: 51000,
  vip: '10.0.0.100',
  vport: 80,
  ciss: 0x12345678,
  fiss: 0xfedcba98,
  fts: 0x01020304,
  fopt: {mss: 1460, ws: 7, sack: true, ts: true},
  pkts: [Uint8Array.of(0x45, 0x00, 0x14), BIG_PKT],
  url: '/img/a.png',
  host: 'example.com',
}

const reqMin: HandoffReq = {
  v: 1,
  t: 'handoff-req',
  node: 'fe1',
  at: AT,
  hid: 'fe1/42',
  cip: '192.0.2.7',
  cport: 51000,
  vip: '10.0.0.100',
  vport: 80,
  ciss: 0x12345678,
  fiss: 0xfedcba98,
  fopt: {mss: 1460, sack: true, ts: true},
  pkts: [Uint8Array.of(0x45, 0x00, 0x14)],
  url: '/img/a.png',
}

const ack: HandoffAck = {
  v: 1,
  t: 'handoff-ack',
  node: 'be1',
  at: AT,
  hid: 'fe1/42',
  biss: 0xffffffff,
  bts: 0,
  bopt: {mss: 1400, sack: false, ts: true},
  baddr: '2001:db8::2',
  bmac: '02:00:00:00:00:02',
}

const nack: HandoffNack = {v: 1, t: 'handoff-nack', node: 'be2', at: AT + 1, hid: 'fe1/43', err: 'no capacity — überlastet'}

const term: Terminate = {v: 1, t: 'terminate', node: 'be1', at: AT, hid: 'fe1/42', reason: 'fin', cbytes: 120, sbytes: 70000}

const ping: Ping = {v: 1, t: 'ping', node: 'fe1', at: AT, n: 200}
const pong: Pong = {v: 1, t: 'pong', node: 'be1', at: AT + 5, n: 200}

const ALL: ControlMessage[] = [hello, reqFull, reqMin, ack, nack, term, ping, pong]

// ---------------------------------------------------------------------------
// Byte-exact vectors. Written by hand from the MessagePack spec, one item per
// line. Key order is the order of the spec's tables: v, t, node, at, then the
// type's keys. Integers use their smallest form: positive fixint (0x00-0x7f),
// uint8 0xcc, uint16 0xcd, uint32 0xce, uint64 0xcf. Strings of < 32 bytes
// are fixstr (0xa0 | len). Maps of <= 15 entries are fixmap (0x80 | n), of 16
// map16 (0xde + u16). Byte strings are bin8 0xc4 / bin16 0xc5. Optional keys
// that are absent are not written at all.
//
// ASCII used below: a=61 b=62 c=63 d=64 e=65 f=66 g=67 h=68 i=69 k=6b l=6c
// m=6d n=6e o=6f p=70 q=71 r=72 s=73 t=74 u=75 v=76 w=77 x=78 y=79
// -=2d .=2e /=2f 0=30 1=31 2=32 4=34 9=39 :=3a

const AT_BYTES = 'cf 00 06 65 17 28 9a 62 40' // uint64 1800000000123456

const HELLO_FRAME = hex(`
  00 00 00 45                                  # length 69
  86                                           # fixmap, 6 entries
  a1 76                01                      # "v"    → 1
  a1 74                a5 68 65 6c 6c 6f       # "t"    → "hello"
  a4 6e 6f 64 65       a3 66 65 31             # "node" → "fe1"
  a2 61 74             ${AT_BYTES}             # "at"   → uint64
  a4 61 64 64 72       a8 31 30 2e 30 2e 30 2e 31   # "addr" → "10.0.0.1"
  a3 6d 61 63          b1 30 32 3a 30 30 3a 30 30 3a 30 30 3a 30 30 3a 30 31  # "mac" → fixstr(17) "02:00:00:00:00:01"
`)

// The 300-byte packet: bin16 header c5 01 2c, then bytes 00 01 … ff 00 … 2b.
const BIG_PKT_BYTES = 'c5 01 2c ' + Array.from({length: 300}, (_, i) => (i & 0xff).toString(16).padStart(2, '0')).join(' ')

const REQ_FULL_FRAME = hex(`
  00 00 01 f3                                  # length 499
  de 00 10                                     # map16, 16 entries (fts and host present)
  a1 76                01                      # "v" → 1
  a1 74                ab 68 61 6e 64 6f 66 66 2d 72 65 71   # "t" → "handoff-req"
  a4 6e 6f 64 65       a3 66 65 31             # "node" → "fe1"
  a2 61 74             ${AT_BYTES}             # "at"
  a3 68 69 64          a6 66 65 31 2f 34 32    # "hid" → "fe1/42"
  a3 63 69 70          a9 31 39 32 2e 30 2e 32 2e 37   # "cip" → "192.0.2.7"
  a5 63 70 6f 72 74    cd c7 38                # "cport" → uint16 51000
  a3 76 69 70          aa 31 30 2e 30 2e 30 2e 31 30 30   # "vip" → "10.0.0.100"
  a5 76 70 6f 72 74    50                      # "vport" → fixint 80
  a4 63 69 73 73       ce 12 34 56 78          # "ciss" → uint32 0x12345678
  a4 66 69 73 73       ce fe dc ba 98          # "fiss" → uint32 0xfedcba98
  a3 66 74 73          ce 01 02 03 04          # "fts"  → uint32 0x01020304
  a4 66 6f 70 74       84                      # "fopt" → fixmap 4
    a3 6d 73 73        cd 05 b4                #   "mss"  → 1460
    a2 77 73           07                      #   "ws"   → 7
    a4 73 61 63 6b     c3                      #   "sack" → true
    a2 74 73           c3                      #   "ts"   → true
  a4 70 6b 74 73       92                      # "pkts" → fixarray 2
    c4 03 45 00 14                             #   bin8(3)
    ${BIG_PKT_BYTES}                           #   bin16(300)
  a3 75 72 6c          aa 2f 69 6d 67 2f 61 2e 70 6e 67        # "url"  → "/img/a.png"
  a4 68 6f 73 74       ab 65 78 61 6d 70 6c 65 2e 63 6f 6d     # "host" → "example.com"
`)

const REQ_MIN_FRAME = hex(`
  00 00 00 a4                                  # length 164
  8e                                           # fixmap, 14 entries (no fts, no host)
  a1 76                01
  a1 74                ab 68 61 6e 64 6f 66 66 2d 72 65 71
  a4 6e 6f 64 65       a3 66 65 31
  a2 61 74             ${AT_BYTES}
  a3 68 69 64          a6 66 65 31 2f 34 32
  a3 63 69 70          a9 31 39 32 2e 30 2e 32 2e 37
  a5 63 70 6f 72 74    cd c7 38
  a3 76 69 70          aa 31 30 2e 30 2e 30 2e 31 30 30
  a5 76 70 6f 72 74    50
  a4 63 69 73 73       ce 12 34 56 78
  a4 66 69 73 73       ce fe dc ba 98
  a4 66 6f 70 74       83                      # "fopt" → fixmap 3 (no ws)
    a3 6d 73 73        cd 05 b4
    a4 73 61 63 6b     c3
    a2 74 73           c3
  a4 70 6b 74 73       91 c4 03 45 00 14       # "pkts" → [bin8(3)]
  a3 75 72 6c          aa 2f 69 6d 67 2f 61 2e 70 6e 67
`)

// The same request as another sender may write it: fts and host present as
// nil (spec: "a missing optional value is absent or nil").
const REQ_NIL_FRAME = hex(`
  00 00 00 b1                                  # length 177 = 164 + 5 ("fts" nil) + 6 ("host" nil) + 2 (map16 header is 3 bytes, fixmap 1)
  de 00 10
  a1 76                01
  a1 74                ab 68 61 6e 64 6f 66 66 2d 72 65 71
  a4 6e 6f 64 65       a3 66 65 31
  a2 61 74             ${AT_BYTES}
  a3 68 69 64          a6 66 65 31 2f 34 32
  a3 63 69 70          a9 31 39 32 2e 30 2e 32 2e 37
  a5 63 70 6f 72 74    cd c7 38
  a3 76 69 70          aa 31 30 2e 30 2e 30 2e 31 30 30
  a5 76 70 6f 72 74    50
  a4 63 69 73 73       ce 12 34 56 78
  a4 66 69 73 73       ce fe dc ba 98
  a3 66 74 73          c0                      # "fts" → nil
  a4 66 6f 70 74       83
    a3 6d 73 73        cd 05 b4
    a4 73 61 63 6b     c3
    a2 74 73           c3
  a4 70 6b 74 73       91 c4 03 45 00 14
  a3 75 72 6c          aa 2f 69 6d 67 2f 61 2e 70 6e 67
  a4 68 6f 73 74       c0                      # "host" → nil
`)

const ACK_FRAME = hex(`
  00 00 00 81                                  # length 129
  8a                                           # fixmap, 10 entries
  a1 76                01
  a1 74                ab 68 61 6e 64 6f 66 66 2d 61 63 6b   # "t" → "handoff-ack"
  a4 6e 6f 64 65       a3 62 65 31             # "node" → "be1"
  a2 61 74             ${AT_BYTES}
  a3 68 69 64          a6 66 65 31 2f 34 32    # "hid" → "fe1/42"
  a4 62 69 73 73       ce ff ff ff ff          # "biss" → uint32 0xffffffff
  a3 62 74 73          00                      # "bts"  → 0 (present: a timestamp of 0 is a value)
  a4 62 6f 70 74       83                      # "bopt" → fixmap 3
    a3 6d 73 73        cd 05 78                #   "mss"  → 1400
    a4 73 61 63 6b     c2                      #   "sack" → false
    a2 74 73           c3                      #   "ts"   → true
  a5 62 61 64 64 72    ab 32 30 30 31 3a 64 62 38 3a 3a 32     # "baddr" → "2001:db8::2"
  a4 62 6d 61 63       b1 30 32 3a 30 30 3a 30 30 3a 30 30 3a 30 30 3a 30 32  # "bmac"
`)

const TERM_FRAME = hex(`
  00 00 00 4f                                  # length 79
  88                                           # fixmap, 8 entries
  a1 76                01
  a1 74                a9 74 65 72 6d 69 6e 61 74 65           # "t" → "terminate"
  a4 6e 6f 64 65       a3 62 65 31
  a2 61 74             ${AT_BYTES}
  a3 68 69 64          a6 66 65 31 2f 34 32
  a6 72 65 61 73 6f 6e a3 66 69 6e             # "reason" → "fin"
  a6 63 62 79 74 65 73 78                      # "cbytes" → fixint 120
  a6 73 62 79 74 65 73 ce 00 01 11 70          # "sbytes" → uint32 70000
`)

const PING_FRAME = hex(`
  00 00 00 24                                  # length 36
  85                                           # fixmap, 5 entries
  a1 76                01
  a1 74                a4 70 69 6e 67          # "t" → "ping"
  a4 6e 6f 64 65       a3 66 65 31
  a2 61 74             ${AT_BYTES}
  a1 6e                cc c8                   # "n" → uint8 200
`)

const VECTORS: [string, ControlMessage, Uint8Array][] = [
  ['hello', hello, HELLO_FRAME],
  ['handoff-req with fts, host, ws, bin16', reqFull, REQ_FULL_FRAME],
  ['handoff-req without fts, host, ws', reqMin, REQ_MIN_FRAME],
  ['handoff-ack', ack, ACK_FRAME],
  ['terminate', term, TERM_FRAME],
  ['ping', ping, PING_FRAME],
]

for (const [name, msg, frame] of VECTORS) {
  test(`vector ${name}: encodeFrame gives the hand-built bytes`, () => {
    assert.equal(toHex(encodeFrame(msg)), toHex(frame))
    // encodeMessage is the same minus the prefix.
    assert.equal(toHex(encodeMessage(msg)), toHex(frame.subarray(4)))
  })
  test(`vector ${name}: decoding the hand-built bytes gives the message`, () => {
    const r = decodeFrame(frame)
    assert.ok(r.ok, JSON.stringify(r))
    assert.deepEqual(r.msg, msg)
    const d = new FrameDecoder()
    const evs = [...d.push(frame), ...d.end()]
    assert.deepEqual(evs, [{kind: 'message', msg, offset: 0, length: frame.length}])
  })
}

test('vector handoff-req with fts and host as nil decodes as absent, re-encodes without them', () => {
  const r = decodeFrame(REQ_NIL_FRAME)
  assert.ok(r.ok, JSON.stringify(r))
  assert.deepEqual(r.msg, reqMin)
  assert.equal('fts' in r.msg, false)
  assert.equal('host' in r.msg, false)
  assert.equal(toHex(encodeFrame(r.msg)), toHex(REQ_MIN_FRAME))
})

// ---------------------------------------------------------------------------
// Round trips.

for (const msg of ALL) {
  test(`round trip ${msg.t}${msg === reqMin ? ' (minimal)' : ''}`, () => {
    const frame = encodeFrame(msg)
    const r = decodeFrame(frame)
    assert.ok(r.ok, JSON.stringify(r))
    assert.deepEqual(r.msg, msg)
    // Deterministic: the decoded message encodes to the same bytes.
    assert.equal(toHex(encodeFrame(r.msg)), toHex(frame))
  })
}

test('round trip: boundary values of every integer width', () => {
  for (const n of [0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
    const m: Ping = {...ping, n, at: n}
    const r = decodeFrame(encodeFrame(m))
    assert.ok(r.ok, `${n}: ${JSON.stringify(r)}`)
    assert.deepEqual(r.msg, m)
  }
  for (const s of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
    const m: HandoffAck = {...ack, biss: s, bts: s}
    const r = decodeFrame(encodeFrame(m))
    assert.ok(r.ok)
    assert.deepEqual(r.msg, m)
  }
})

test('round trip: long strings (str8/str16) and many packets (array16)', () => {
  const m: HandoffReq = {...reqFull, url: '/' + 'x'.repeat(40), host: 'h'.repeat(300), pkts: Array.from({length: 20}, (_, i) => Uint8Array.of(i))}
  const f = encodeFrame(m)
  const r = decodeFrame(f)
  assert.ok(r.ok)
  assert.deepEqual(r.msg, m)
  const h = toHex(f)
  assert.ok(h.includes('d929' + '2f' + '78'.repeat(40)), 'url as str8')
  assert.ok(h.includes('da012c' + '68'.repeat(300)), 'host as str16')
  assert.ok(h.includes('dc0014c40100'), 'pkts as array16 of bin8')
})

test('encoding drops keys the spec does not define and never writes undefined optionals', () => {
  const m = {...reqMin, fts: undefined, host: undefined, extra: 'x'} as unknown as ControlMessage
  assert.equal(toHex(encodeFrame(m)), toHex(REQ_MIN_FRAME))
  const withExtraOpt = {...reqMin, fopt: {...reqMin.fopt, ws: undefined, foo: 1}} as unknown as ControlMessage
  assert.equal(toHex(encodeFrame(withExtraOpt)), toHex(REQ_MIN_FRAME))
})

test('encodeFrame does not alias its input packets', () => {
  const pkt = Uint8Array.of(1, 2, 3)
  const f = encodeFrame({...reqMin, pkts: [pkt]})
  pkt[0] = 99
  const r = decodeFrame(f)
  assert.ok(r.ok && r.msg.t === 'handoff-req')
  assert.deepEqual([...(r.msg as HandoffReq).pkts[0]!], [1, 2, 3])
})

// ---------------------------------------------------------------------------
// Encoder guards.

test('encodeFrame refuses an invalid message with a coded error', () => {
  const bad: [unknown, string][] = [
    [{...ping, ciss: 1, n: -1}, 'wrong-type'],
    [{...ack, biss: 2 ** 32}, 'wrong-type'],
    [{...ack, biss: 1.5}, 'wrong-type'],
    [{...hello, mac: '02:00:00:00:00'}, 'bad-value'],
    [{...hello, v: 2}, 'bad-version'],
    [{...hello, t: 'bye'}, 'unknown-type'],
    [{...term, reason: 'close'}, 'bad-value'],
    [{v: 1, t: 'ping', node: 'fe1', at: AT}, 'missing-key'],
  ]
  for (const [m, code] of bad) {
    assert.throws(
      () => encodeFrame(m as ControlMessage),
      (e: unknown) => e instanceof ControlEncodeError && e.code === code,
      `${JSON.stringify(m)} → ${code}`,
    )
  }
})

test('encodeFrame: a body of exactly 1 MiB is allowed, one byte more is refused', () => {
  // Body size is linear in the packet size once the bin32 header is in use.
  const base = encodeMessage({...reqMin, pkts: [new Uint8Array(100_000)]}).length
  const fit = 100_000 + (MAX_FRAME_LENGTH - base)
  const ok = encodeFrame({...reqMin, pkts: [new Uint8Array(fit)]})
  assert.equal(ok.length, 4 + MAX_FRAME_LENGTH)
  assert.equal(new DataView(ok.buffer).getUint32(0), MAX_FRAME_LENGTH)
  const d = new FrameDecoder()
  const evs = d.push(ok)
  assert.equal(evs.length, 1)
  assert.equal(evs[0]!.kind, 'message')
  assert.throws(
    () => encodeFrame({...reqMin, pkts: [new Uint8Array(fit + 1)]}),
    (e: unknown) => e instanceof ControlEncodeError && e.code === 'oversize' && /1048577 bytes/.test(e.message),
  )
})

// ---------------------------------------------------------------------------
// Cross-checks with independent implementations.

/** msgpackr's plain decoder sees the same values in our frames. */
test('cross-check: msgpackr unpack decodes our frames to the same values', () => {
  for (const msg of ALL) {
    const body = encodeMessage(msg)
    const v = unpack(Buffer.from(body)) as Record<string, unknown>
    // msgpackr returns uint64 as bigint: normalise like validateMessage does.
    const norm = {...v, at: Number(v['at'] as bigint | number)}
    const r = validateMessage(norm)
    assert.ok(r.ok, JSON.stringify(r))
    assert.deepEqual({...r.msg, ...('pkts' in r.msg ? {pkts: r.msg.pkts.map((p) => new Uint8Array(p))} : {})}, msg)
  }
})

test('cross-check: frames written by msgpackr Packr({useRecords:false}) decode (at as bigint → int64 0xd3)', () => {
  const packr = new Packr({useRecords: false})
  for (const msg of ALL) {
    const body = packr.pack({...msg, at: BigInt(msg.at)})
    const r = decodeFrame(frameOf(body))
    assert.ok(r.ok, `${msg.t}: ${JSON.stringify(r)}`)
    assert.deepEqual(r.msg, msg)
  }
})

test('cross-check: a Packr frame with `at` as a JS number (float64 0xcb) is refused as wrong-type', () => {
  // Documented strictness: §3 says `at` is uint; MessagePack float is another type.
  const body = new Packr({useRecords: false}).pack({...ping})
  const r = decodeFrame(frameOf(body))
  assert.deepEqual(r.ok ? r : {reason: r.reason, hasAt: /^at:/.test(r.detail)}, {reason: 'wrong-type', hasAt: true})
})


// FrameDecoder: streaming, splitting/coalescing, every framing error with its
// offset, and the resynchronisation policy (body errors skip one frame,
// length errors and holes stop the stream).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {Packr} from 'msgpackr'
import {encodeFrame, encodeMessage, FrameDecoder, MAX_FRAME_LENGTH} from '../../analyzer/control/index.js'
import type {ControlMessage, DecodeEvent, HandoffReq} from '../../analyzer/control/index.js'
import {concat, frameOf} from '../support/bytes.js'
import {prng} from '../support/random.js'

// ---------------------------------------------------------------------------
// Helpers.

const AT = 1800000000123456

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

/** A compact, comparable view of events. */
function summary(evs: readonly DecodeEvent[]): string[] {
  return evs.map((e) => (e.kind === 'message' ? `msg ${e.msg.t} @${e.offset}+${e.length}` : `err ${e.reason}${e.fatal ? '!' : ''} @${e.offset}`))
}

function decodeAll(chunks: Uint8Array[], d = new FrameDecoder()): DecodeEvent[] {
  const out: DecodeEvent[] = []
  for (const c of chunks) out.push(...d.push(c))
  out.push(...d.end())
  return out
}

const packr = new Packr({useRecords: false})
/** A frame of any object written by msgpackr (an independent encoder): handy for malformed bodies. */
function packFrame(obj: unknown): Uint8Array {
  return frameOf(packr.pack(obj))
}

const req: HandoffReq = {
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
  pkts: [Uint8Array.of(0x45, 0, 0x14), Uint8Array.from({length: 300}, (_, i) => i & 0xff)],
  url: '/img/a.png',
  host: 'example.com',
}

const MSGS: ControlMessage[] = [
  {v: 1, t: 'hello', node: 'fe1', at: AT, addr: '10.0.0.1', mac: '02:00:00:00:00:01'},
  req,
  {v: 1, t: 'handoff-ack', node: 'be1', at: AT + 1, hid: 'fe1/42', biss: 0xffffffff, bts: 9, bopt: {mss: 1400, sack: false, ts: true}, baddr: '2001:db8::2', bmac: '02:00:00:00:00:02'},
  {v: 1, t: 'handoff-nack', node: 'be2', at: AT + 2, hid: 'fe1/43', err: 'busy'},
  {v: 1, t: 'terminate', node: 'be1', at: AT + 3, hid: 'fe1/42', reason: 'rst', cbytes: 120, sbytes: 70000},
  {v: 1, t: 'ping', node: 'fe1', at: AT + 4, n: 1},
  {v: 1, t: 'pong', node: 'be1', at: AT + 5, n: 1},
]
const FRAMES = MSGS.map(encodeFrame)
const STREAM = concat(...FRAMES)
const OFFSETS = FRAMES.map((_, i) => FRAMES.slice(0, i).reduce((n, f) => n + f.length, 0))
const EXPECTED: DecodeEvent[] = MSGS.map((msg, i) => ({kind: 'message', msg, offset: OFFSETS[i]!, length: FRAMES[i]!.length}))

const A = encodeFrame({v: 1, t: 'ping', node: 'fe1', at: AT, n: 7})
const C = encodeFrame({v: 1, t: 'pong', node: 'be1', at: AT, n: 7})

// ---------------------------------------------------------------------------
// Splitting and coalescing.

test('one chunk holding every message type', () => {
  assert.deepEqual(decodeAll([STREAM]), EXPECTED)
})

test('every split point of a multi-frame stream (2 chunks)', () => {
  for (let s = 0; s <= STREAM.length; s++) {
    assert.deepEqual(decodeAll([STREAM.subarray(0, s), STREAM.subarray(s)]), EXPECTED, `split at ${s}`)
  }
})

test('every pair of split points of a small stream (3 chunks)', () => {
  const small = concat(A, FRAMES[3]!, C)
  const want = decodeAll([small])
  assert.equal(want.length, 3)
  for (let s = 0; s <= small.length; s++) {
    for (let u = s; u <= small.length; u++) {
      const got = decodeAll([small.subarray(0, s), small.subarray(s, u), small.subarray(u)])
      assert.deepEqual(got, want, `splits at ${s}, ${u}`)
    }
  }
})

test('one byte at a time', () => {
  const chunks = Array.from(STREAM, (b) => Uint8Array.of(b))
  assert.deepEqual(decodeAll(chunks), EXPECTED)
})

test('random chunking (seeded), including empty chunks', () => {
  const rnd = prng(0x5eed)
  for (let iter = 0; iter < 300; iter++) {
    const chunks: Uint8Array[] = []
    for (let i = 0; i < STREAM.length; ) {
      const n = Math.floor(rnd() * (iter % 3 === 0 ? 8 : 120))
      chunks.push(STREAM.subarray(i, i + n))
      i += n
    }
    assert.deepEqual(decodeAll(chunks), EXPECTED, `iteration ${iter}`)
  }
})

test('chunks from a reused buffer: decoded packets do not alias the input', () => {
  const d = new FrameDecoder()
  const scratch = Buffer.alloc(64)
  const frame = FRAMES[1]!
  const evs: DecodeEvent[] = []
  for (let i = 0; i < frame.length; i += 64) {
    const n = Math.min(64, frame.length - i)
    scratch.set(frame.subarray(i, i + n))
    evs.push(...d.push(scratch.subarray(0, n)))
    scratch.fill(0xee) // the capture layer reuses its buffer
  }
  // Also a whole frame decoded in place from the caller's chunk.
  const whole = Buffer.from(frame)
  evs.push(...d.push(whole))
  whole.fill(0xee)
  assert.equal(evs.length, 2)
  for (const e of evs) {
    assert.equal(e.kind, 'message')
    assert.deepEqual(e.kind === 'message' && e.msg, req)
    const pkts = (e as {msg: HandoffReq}).msg.pkts
    assert.equal(Object.getPrototypeOf(pkts[0]), Uint8Array.prototype, 'plain Uint8Array, not a Buffer view')
  }
})

test('stream offsets: startOffset and the first push’s streamOffset', () => {
  assert.deepEqual(summary(decodeAll([concat(A, C)], new FrameDecoder({startOffset: 1000}))), [`msg ping @1000+${A.length}`, `msg pong @${1000 + A.length}+${C.length}`])
  const d = new FrameDecoder()
  const evs = [...d.push(A.subarray(0, 5), 5000), ...d.push(A.subarray(5), 5005), ...d.push(C, 5000 + A.length)]
  assert.deepEqual(summary(evs), [`msg ping @5000+${A.length}`, `msg pong @${5000 + A.length}+${C.length}`])
  assert.equal(d.offset, 5000 + A.length + C.length)
})

test('overlapping push: bytes already consumed are skipped, not decoded twice', () => {
  const d = new FrameDecoder()
  const evs = [...d.push(concat(A, C.subarray(0, 3)), 0), ...d.push(concat(A, C), 0), ...d.push(C.subarray(0, 2), A.length)]
  assert.deepEqual(summary(evs), [`msg ping @0+${A.length}`, `msg pong @${A.length}+${C.length}`])
})

test('callback mode: events go to onEvent, push returns nothing', () => {
  const seen: DecodeEvent[] = []
  const d = new FrameDecoder({onEvent: (e) => seen.push(e)})
  for (let s = 0; s < STREAM.length; s += 100) assert.deepEqual(d.push(STREAM.subarray(s, s + 100)), [])
  assert.deepEqual(d.end(), [])
  assert.deepEqual(seen, EXPECTED)
  assert.equal(d.messages, MSGS.length)
  assert.equal(d.errors, 0)
})

test('reset: the decoder can be reused after a fatal error', () => {
  const d = new FrameDecoder()
  assert.deepEqual(summary(d.push(u32be(0))), ['err zero-length! @0'])
  assert.equal(d.isStopped, true)
  d.reset()
  assert.equal(d.isStopped, false)
  assert.deepEqual(summary([...d.push(A), ...d.end()]), [`msg ping @0+${A.length}`])
})

// ---------------------------------------------------------------------------
// Errors that keep the framing: reported, the next frame decodes.

/** A between two good frames; bad must be one error at offset A.length, then C. */
function checkSkipped(bad: Uint8Array, reason: string, detail?: RegExp): void {
  const stream = concat(A, bad, C)
  const want = [`msg ping @0+${A.length}`, `err ${reason} @${A.length}`, `msg pong @${A.length + bad.length}+${C.length}`]
  // Whole, and at every split point (the error must not depend on chunking).
  for (let s = 0; s <= stream.length; s++) {
    const evs = decodeAll([stream.subarray(0, s), stream.subarray(s)])
    assert.deepEqual(summary(evs), want, `${reason}, split at ${s}`)
  }
  const err = decodeAll([stream])[1]!
  assert.equal(err.kind, 'error')
  if (err.kind === 'error') {
    assert.equal(err.code, 'control-framing')
    assert.equal(err.fatal, false)
    assert.equal(err.length, bad.length)
    if (detail) assert.match(err.detail, detail)
  }
}

test('not-a-map: array, string, int, nil', () => {
  checkSkipped(frameOf([0x93, 0x01, 0x02, 0x03]), 'not-a-map', /an array, not a map/)
  checkSkipped(frameOf([0xa3, 0x61, 0x62, 0x63]), 'not-a-map', /a str/)
  checkSkipped(frameOf([0x2a]), 'not-a-map', /the int 42/)
  checkSkipped(frameOf([0xc0]), 'not-a-map')
})

test('wrong-type: ciss as string, ciss > 2^32-1, negative ciss, at as float', () => {
  checkSkipped(packFrame({...req, at: BigInt(AT), ciss: '305419896'}), 'wrong-type', /ciss: expected uint32, got a str/)
  // (as bigint: msgpackr writes the number 2^32 as a float64, which is wrong-type for another reason)
  checkSkipped(packFrame({...req, at: BigInt(AT), ciss: 2n ** 32n}), 'wrong-type', /ciss: 4294967296 does not fit uint32/)
  checkSkipped(packFrame({...req, at: BigInt(AT), ciss: 2 ** 32}), 'wrong-type', /ciss: expected uint32, got a float/)
  checkSkipped(packFrame({...req, at: BigInt(AT), ciss: -1}), 'wrong-type', /ciss: expected uint32, got negative -1/)
  checkSkipped(packFrame({...req, at: AT}), 'wrong-type', /at: expected uint, got a float/)
})

test('missing-key, bad-version, unknown-type, bad-value', () => {
  const {hid: _h, ...noHid} = req
  checkSkipped(packFrame({...noHid, at: BigInt(AT)}), 'missing-key', /hid: required key of handoff-req is absent/)
  checkSkipped(packFrame({...req, at: BigInt(AT), v: 2}), 'bad-version')
  checkSkipped(packFrame({v: 1, t: 'handoff-maybe', node: 'x', at: 1}), 'unknown-type', /"handoff-maybe"/)
  checkSkipped(packFrame({...req, at: BigInt(AT), cip: '2001:DB8::1'}), 'bad-value', /RFC 5952/)
})

test('unknown keys are tolerated, at any level', () => {
  const f = packFrame({...req, at: BigInt(AT), zz: [1, {a: 2}], fopt: {...req.fopt, tfo: true}})
  assert.deepEqual(summary(decodeAll([concat(A, f, C)])), [`msg ping @0+${A.length}`, `msg handoff-req @${A.length}+${f.length}`, `msg pong @${A.length + f.length}+${C.length}`])
  assert.deepEqual((decodeAll([f])[0] as {msg: unknown}).msg, req)
})

test('keys named like Object.prototype members are ordinary unknown keys', () => {
  const obj = {...JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 2, "toString": 3}'), v: 1, t: 'ping', node: 'fe1', at: BigInt(AT), n: 7}
  const f = packFrame(obj)
  const evs = decodeAll([f])
  assert.deepEqual(summary(evs), [`msg ping @0+${f.length}`])
  assert.deepEqual((evs[0] as {msg: unknown}).msg, {v: 1, t: 'ping', node: 'fe1', at: AT, n: 7})
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
  // …and a repeated one is still a duplicate.
  checkSkipped(frameOf([0x82, 0xa9, ...new TextEncoder().encode('__proto__'), 0x01, 0xa9, ...new TextEncoder().encode('__proto__'), 0x02]), 'duplicate-key')
})

test('ext types: fixext, ext8, a Date, msgpackr records', () => {
  checkSkipped(frameOf([0xd4, 0x01, 0x00]), 'ext-type', /extension 0xd4 type 1 at byte 0/)
  checkSkipped(frameOf([0xc7, 0x02, 0x05, 0xaa, 0xbb]), 'ext-type', /0xc7 type 5/)
  // A Date inside an otherwise good message: msgpackr writes the timestamp ext (-1).
  checkSkipped(packFrame({...req, at: BigInt(AT), when: new Date(0)}), 'ext-type', /0xd6 type -1/)
  // msgpackr's default stream format (records) is not plain MessagePack.
  const rec = frameOf(new Packr({useRecords: true}).pack({...req, at: BigInt(AT)}))
  assert.equal(rec[4], 0xd4, 'records start with a fixext')
  checkSkipped(rec, 'ext-type', /type 114/)
})

test('garbage bodies: never-used byte, bad UTF-8, non-string and duplicate keys, deep nesting', () => {
  checkSkipped(frameOf([0xc1]), 'not-msgpack', /0xc1/)
  checkSkipped(frameOf([0x81, 0xa1, 0x76, 0xc1]), 'not-msgpack', /at byte 3/)
  checkSkipped(frameOf([0x81, 0xa1, 0x76, 0xa2, 0xc3, 0x28]), 'bad-utf8')
  checkSkipped(frameOf([0x81, 0x01, 0x01]), 'non-string-key', /the int 1, not a string/)
  checkSkipped(frameOf([0x82, 0xa1, 0x76, 0x01, 0xa1, 0x76, 0x02]), 'duplicate-key', /"v" repeated at byte 4/)
  checkSkipped(frameOf(new Array(100).fill(0x91).concat([0x00])), 'too-deep')
})

test('trailing bytes inside a frame', () => {
  const body = encodeMessage({v: 1, t: 'ping', node: 'fe1', at: AT, n: 7})
  checkSkipped(frameOf(concat(body, Uint8Array.of(0x00))), 'trailing-bytes', /1 byte\(s\) after the MessagePack value/)
  // Two messages in one frame are one frame with trailing bytes.
  checkSkipped(frameOf(concat(body, body)), 'trailing-bytes')
})

test('bad-length: the value needs more bytes than the frame has', () => {
  const body = encodeMessage({v: 1, t: 'ping', node: 'fe1', at: AT, n: 7})
  checkSkipped(frameOf(body.subarray(0, body.length - 1)), 'bad-length')
  // Absurd counts are refused before allocating for them.
  checkSkipped(frameOf([0xdd, 0xff, 0xff, 0xff, 0xff]), 'bad-length', /array of 4294967295/)
  checkSkipped(frameOf([0xdf, 0xff, 0xff, 0xff, 0xff]), 'bad-length', /map of 4294967295/)
  checkSkipped(frameOf([0xc6, 0x7f, 0xff, 0xff, 0xff]), 'bad-length', /bin at byte 0 needs 2147483647 more byte\(s\), the frame has 0/)
})

test('a body of exactly 1 MiB decodes, even split', () => {
  const big = {...req, pkts: [new Uint8Array(10)]}
  const pad = MAX_FRAME_LENGTH - encodeMessage(big).length
  const f = encodeFrame({...req, pkts: [new Uint8Array(10 + pad - 3)]}) // bin8 → bin32 header: +3 bytes
  assert.equal(f.length, 4 + MAX_FRAME_LENGTH)
  const evs = decodeAll([f.subarray(0, 2), f.subarray(2, 500_000), f.subarray(500_000)])
  assert.deepEqual(summary(evs), [`msg handoff-req @0+${f.length}`])
})

// ---------------------------------------------------------------------------
// Errors that lose the framing: one fatal error, the rest ignored.

/** Good frames before `bad` come out; the error is fatal at `at`; nothing after it. */
function checkFatal(stream: Uint8Array, before: string[], reason: string, at: number, detail?: RegExp): void {
  const want = [...before, `err ${reason}! @${at}`]
  for (let s = 0; s <= stream.length; s++) {
    const d = new FrameDecoder()
    const evs = decodeAll([stream.subarray(0, s), stream.subarray(s)], d)
    assert.deepEqual(summary(evs), want, `${reason}, split at ${s}`)
    assert.equal(d.isStopped, true)
  }
  const err = decodeAll([stream]).at(-1)!
  if (err.kind === 'error' && detail) assert.match(err.detail, detail)
}

test('zero-length frame: fatal, later frames ignored', () => {
  checkFatal(concat(A, u32be(0), C, C), [`msg ping @0+${A.length}`], 'zero-length', A.length, /length prefix is 0.*framing is lost, the rest of the stream \(from offset \d+\) is ignored/)
})

test('oversize frame: fatal, later frames ignored', () => {
  checkFatal(concat(A, u32be(MAX_FRAME_LENGTH + 1), C), [`msg ping @0+${A.length}`], 'oversize', A.length, /1048577 exceeds the 1048576-byte limit/)
  checkFatal(concat(A, C, u32be(0xffffffff)), [`msg ping @0+${A.length}`, `msg pong @${A.length}+${C.length}`], 'oversize', A.length + C.length)
})

test('garbage instead of frames (an HTTP request on the control port): oversize at 0', () => {
  const http = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  checkFatal(http, [], 'oversize', 0, /length prefix 1195725856/)
})

test('truncated final frame: reported by end(), with the frame offset', () => {
  checkFatal(concat(A, C.subarray(0, 10)), [`msg ping @0+${A.length}`], 'truncated-frame', A.length, /6 of \d+ body byte\(s\) received/)
  checkFatal(concat(A, C.subarray(0, 2)), [`msg ping @0+${A.length}`], 'truncated-frame', A.length, /2 of 4 length-prefix byte\(s\) received/)
  // A clean end reports nothing; end() twice reports once; pushes after end() are ignored.
  const d = new FrameDecoder()
  assert.deepEqual(summary([...d.push(concat(A, C.subarray(0, 3))), ...d.end(), ...d.end(), ...d.push(C)]), [`msg ping @0+${A.length}`, `err truncated-frame! @${A.length}`])
})

test('gap(): a hole in the stream is one fatal stream-gap, at the frame it cuts', () => {
  // Inside a frame: the error names that frame.
  let d = new FrameDecoder()
  let evs = [...d.push(concat(A, C.subarray(0, 7))), ...d.gap(20), ...d.push(C), ...d.end()]
  assert.deepEqual(summary(evs), [`msg ping @0+${A.length}`, `err stream-gap! @${A.length}`])
  assert.match((evs[1] as {detail: string}).detail, new RegExp(`hole of 20 byte\\(s\\) at stream offset ${A.length + 7}, inside the frame at offset ${A.length}`))
  // At a frame boundary: framing is still lost (the hole may hold frames).
  d = new FrameDecoder()
  evs = [...d.push(A), ...d.gap(), ...d.push(C)]
  assert.deepEqual(summary(evs), [`msg ping @0+${A.length}`, `err stream-gap! @${A.length}`])
  // A push whose streamOffset skips ahead is a hole too.
  d = new FrameDecoder()
  evs = [...d.push(A, 100), ...d.push(C, 100 + A.length + 1)]
  assert.deepEqual(summary(evs), [`msg ping @100+${A.length}`, `err stream-gap! @${100 + A.length}`])
})

test('good frames in the same chunk as a fatal error all come out first', () => {
  const stream = concat(A, FRAMES[1]!, frameOf([0x90]), C, u32be(0), C)
  assert.deepEqual(summary(decodeAll([stream])), [
    `msg ping @0+${A.length}`,
    `msg handoff-req @${A.length}+${FRAMES[1]!.length}`,
    `err not-a-map @${A.length + FRAMES[1]!.length}`,
    `msg pong @${A.length + FRAMES[1]!.length + 5}+${C.length}`,
    `err zero-length! @${A.length + FRAMES[1]!.length + 5 + C.length}`,
  ])
})

test('random garbage never throws and never yields a message from nowhere', () => {
  const rnd = prng(42)
  for (let iter = 0; iter < 2000; iter++) {
    const n = Math.floor(rnd() * 64)
    const junk = Uint8Array.from({length: n}, () => Math.floor(rnd() * 256))
    // Keep the length prefix plausible half of the time, to reach the body decoder.
    if (iter % 2 === 0 && n >= 4) new DataView(junk.buffer).setUint32(0, Math.floor(rnd() * (n - 3)) + 1)
    const d = new FrameDecoder()
    const evs = [...d.push(A), ...d.push(junk), ...d.end()]
    assert.equal(evs[0]!.kind, 'message')
    for (const e of evs.slice(1)) {
      if (e.kind === 'error') {
        assert.equal(e.code, 'control-framing')
        assert.ok(e.offset >= A.length && e.offset < A.length + n, `offset ${e.offset}`)
      }
    }
  }
})

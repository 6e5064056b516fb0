// The control spool's record encoding (correlate/record-codec.ts): byte-exact
// vectors, round trips of every value kind a FramedMessage holds, string
// references shared by writer and reader, and the node:v8 fallback of the
// spool for what the codec refuses.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {CodecTables, NotPlain, RecordReader, RecordWriter} from '../../analyzer/correlate/record-codec.js'
import {RecordSpool} from '../../analyzer/correlate/control-spool.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

test('byte-exact encodings', () => {
  const w = new RecordWriter(new CodecTables())
  assert.equal(hex(w.encode(null)), '01')
  assert.equal(hex(w.encode(undefined)), '00')
  assert.equal(hex(w.encode(false)), '02')
  assert.equal(hex(w.encode(true)), '03')
  // Non-negative integers: LEB128.
  assert.equal(hex(w.encode(0)), '0400')
  assert.equal(hex(w.encode(127)), '047f')
  assert.equal(hex(w.encode(128)), '048001')
  assert.equal(hex(w.encode(4294967295)), '04ffffffff0f')
  // Anything else numeric: float64, host order (the spool never leaves the process).
  const f = new Float64Array([-1.5])
  assert.equal(hex(w.encode(-1.5)), '05' + hex(new Uint8Array(f.buffer)))
  // A string of ASCII: a byte of length, the bytes; otherwise u32 LE byte length, UTF-8.
  assert.equal(hex(w.encode('hé')), '0603000000' + '68c3a9')
  assert.equal(hex(w.encode('ab')), '0c02' + '6162')
  assert.equal(hex(w.encode(['x', 'x'])), '0802' + '0c0178' + '0c0178')
  // Object: count, then each key's number (+ 1, numbered on first use) and value; a string value equal to the
  // last one under the same key is one byte (07).
  assert.equal(hex(w.encode({x: 1, y: 'x'})), '0902' + '01' + '0401' + '02' + '0c0178')
  assert.equal(hex(w.encode({y: 'x', x: 'x'})), '0902' + '02' + '07' + '01' + '0c0178')
  assert.equal(hex(w.encode({y: 'z'})), '0901' + '02' + '0c017a')
  assert.equal(hex(w.encode(new Uint8Array([1, 2, 255]))), '0a03' + '0102ff')
  assert.equal(hex(w.encode(-5n)), '0b' + '0c022d35')
})

test('round trip of every kind a control message holds', () => {
  const tables = new CodecTables()
  const w = new RecordWriter(tables)
  const r = new RecordReader(tables)
  const values: unknown[] = [
    {msg: {v: 1, t: 'handoff-req', node: 'n1', at: 1795677173442314, hid: 'n1/1#0', cip: '10.77.100.1', cport: 20003,
      ciss: 4294967295, fopt: {mss: 1460, ws: 10, sack: true, ts: false}, pkts: [new Uint8Array([0, 1, 2])], url: '/é/✓'},
    file: 'a.pcapng', fileIndex: 0, frame: 90, tsSec: 1795677173, tsNsec: 443048000, t: 1795677173.443048,
    direction: '10.77.200.1:7070 > 10.77.200.2:32770', pktsPrint: [2262618137, 0], opt: undefined, none: null},
    [], {}, '', 0, -0, NaN, Infinity, -Infinity, 2 ** 53 + 2, 1e-300, 123456789012345678901234567890n,
    {a: [[[]]], b: {c: {d: 'x'.repeat(300)}}},
  ]
  for (const v of values) {
    const b = Buffer.from(w.encode(v))
    // At an offset inside a larger buffer, as the spool reads it.
    const framed = Buffer.concat([Buffer.from([9, 9]), b, Buffer.from([7])])
    const back = r.decode(framed, 2, 2 + b.length)
    assert.deepEqual(back, v)
    if (v !== null && typeof v === 'object') assert.deepEqual(Object.keys(back as object), Object.keys(v))
  }
  // "__proto__" read from a trace stays an own key.
  const evil = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as Record<string, unknown>
  const enc = Buffer.from(w.encode(evil))
  const back = r.decode(enc, 0, enc.length) as Record<string, unknown>
  assert.equal(Object.getPrototypeOf(back), Object.prototype)
  assert.deepEqual(Object.keys(back), ['__proto__', 'y'])
  // Bytes come back as a copy, not a view of the reader's buffer.
  const src = Buffer.from(w.encode(new Uint8Array([5, 6])))
  const bytes = r.decode(src, 0, src.length) as Uint8Array
  src.fill(0)
  assert.deepEqual([...bytes], [5, 6])
  assert.equal(Buffer.isBuffer(bytes), false)
})

test('what the codec refuses', () => {
  const w = new RecordWriter(new CodecTables())
  for (const v of [new Map(), new Date(0), Buffer.from([1]), () => 1, Symbol('s'), {x: new Set()}]) {
    assert.throws(() => w.encode(v), NotPlain)
  }
  // A record refused half way leaves no trace: the next string under its key is written out again.
  const tables = new CodecTables()
  const w2 = new RecordWriter(tables)
  const r2 = new RecordReader(tables)
  const first = Buffer.from(w2.encode({k: 'a'}))
  assert.throws(() => w2.encode({k: 'b', m: new Map()}), NotPlain)
  const third = Buffer.from(w2.encode({k: 'a'}))
  assert.equal(hex(third), '0901' + '01' + '07')
  assert.deepEqual(r2.decode(first, 0, first.length), {k: 'a'})
  assert.deepEqual(r2.decode(third, 0, third.length), {k: 'a'})
  let deep: unknown = 1
  for (let i = 0; i < 100; i++) deep = [deep]
  assert.throws(() => w.encode(deep), NotPlain)
})

test('the spool: codec records and node:v8 records, read back in order, twice', () => {
  const spool = new RecordSpool<unknown>('handoff-codec-test-')
  try {
    const recs: unknown[] = []
    for (let i = 0; i < 3000; i++) {
      recs.push(i % 7 === 3 ? {i, s: 'v8', m: new Map([[1, 'x']])} : {i, s: `n${i % 5}`, big: 'y'.repeat(i % 97 === 0 ? 70_000 : 3)})
    }
    for (const r of recs) spool.write(r)
    for (let pass = 0; pass < 2; pass++) {
      const rd = spool.reader()
      const got: unknown[] = []
      for (let m; (m = rd.next()) !== null;) got.push(m)
      assert.deepEqual(got, recs)
    }
    // A record refers to those before it (numbered keys, "same string"): no reader may start in the middle.
    assert.throws(() => spool.reader(100), /first record/)
  } finally {
    spool.remove()
  }
})

// Hand-made byte vectors for every pcap / pcapng variant the reader supports.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {gzipSync} from 'node:zlib'
import {CaptureError, CaptureParser, PcapParser, PcapngParser, type PacketRecord} from '../../analyzer/capture/index.js'
import {
  Bytes, collect, concat, epb, idb, otherBlock, pb, pcapHeader, pcapRecord, shb, spb, type Collected,
} from '../../analyzer/capture/testing.js'

const d = (...xs: number[]) => Uint8Array.from(xs)
const seq = (n: number, start = 0) => Uint8Array.from({length: n}, (_, i) => (start + i) & 0xff)

/** Parses one-shot and byte by byte and with odd chunk sizes; all must agree. */
function parseAll(bytes: Uint8Array): Collected {
  const one = collect(bytes)
  const byByte = collect(bytes, () => 1)
  let k = 0
  const odd = collect(bytes, () => [3, 7, 1, 13, 2][k++ % 5])
  for (const other of [byByte, odd]) {
    assert.deepEqual(other.packets, one.packets)
    assert.deepEqual(other.interfaces, one.interfaces)
    assert.deepEqual(other.warnings, one.warnings)
    assert.equal(other.error?.code, one.error?.code)
    assert.equal(other.error?.offset, one.error?.offset)
  }
  return one
}

function ok(c: Collected): Collected {
  if (c.error) throw c.error
  return c
}

// ------------------------------------------------------------------ pcap

for (const le of [true, false]) {
  const order = le ? 'little' : 'big'
  test(`pcap µs ${order}-endian: header, two records, offsets`, () => {
    const bytes = concat(
      pcapHeader({le, linkType: 1, snapLen: 65535}),
      pcapRecord({le, sec: 1700000000, frac: 123456, data: seq(20), origLen: 60}),
      pcapRecord({le, sec: 1700000001, frac: 999999, data: seq(5, 9)}),
    )
    const c = ok(parseAll(bytes))
    assert.equal(c.info?.format, 'pcap')
    assert.equal(c.info?.byteOrder, order)
    assert.equal(c.info?.version, '2.4')
    assert.equal(c.info?.variant, undefined)
    assert.deepEqual(c.interfaces, [{id: 0, section: 0, linkType: 1, snapLen: 65535, tsUnitsPerSec: 1e6, tsOffsetSec: 0, comments: []}])
    assert.equal(c.packets.length, 2)
    const [a, b] = c.packets
    assert.deepEqual(
      {index: a.index, sec: a.tsSec, ns: a.tsNsec, cap: a.capLen, orig: a.origLen, off: a.fileOffset, lt: a.linkType, ts: a.hasTimestamp, cm: a.comments},
      {index: 1, sec: 1700000000, ns: 123456000, cap: 20, orig: 60, off: 24, lt: 1, ts: true, cm: null},
    )
    assert.deepEqual(a.data, seq(20))
    assert.deepEqual({index: b.index, ns: b.tsNsec, off: b.fileOffset}, {index: 2, ns: 999999000, off: 24 + 16 + 20})
    assert.deepEqual(b.data, seq(5, 9))
  })

  test(`pcap ns ${order}-endian: exact nanoseconds`, () => {
    const bytes = concat(
      pcapHeader({le, magic: 0xa1b23c4d, linkType: 113}),
      pcapRecord({le, sec: 4294967295, frac: 999999999, data: seq(3)}),
      pcapRecord({le, sec: 0, frac: 1, data: seq(0)}),
    )
    const c = ok(parseAll(bytes))
    assert.equal(c.interfaces[0].tsUnitsPerSec, 1e9)
    assert.equal(c.interfaces[0].linkType, 113)
    assert.deepEqual(c.packets.map((p) => [p.tsSec, p.tsNsec, p.capLen]), [[4294967295, 999999999, 3], [0, 1, 0]])
  })

  test(`pcap modified (Kuznetzov a1b2cd34) ${order}-endian: 24-byte record headers`, () => {
    const bytes = concat(
      pcapHeader({le, magic: 0xa1b2cd34}),
      pcapRecord({le, sec: 10, frac: 20, data: seq(14), modified: true}),
      pcapRecord({le, sec: 11, frac: 21, data: seq(7), modified: true}),
    )
    const c = ok(parseAll(bytes))
    assert.equal(c.info?.variant, 'modified')
    assert.deepEqual(c.packets.map((p) => [p.tsSec, p.tsNsec, p.capLen, p.fileOffset]), [[10, 20000, 14, 24], [11, 21000, 7, 24 + 24 + 14]])
    assert.deepEqual(c.packets[1].data, seq(7))
  })
}

test('pcap: caplen > snaplen is read, with one warning', () => {
  const bytes = concat(pcapHeader({snapLen: 4}), pcapRecord({sec: 1, frac: 0, data: seq(8)}), pcapRecord({sec: 1, frac: 0, data: seq(9)}))
  const c = ok(parseAll(bytes))
  assert.equal(c.packets.length, 2)
  assert.deepEqual(c.warnings.map((w) => [w.code, w.offset]), [['caplen-exceeds-snaplen', 24]])
})

test('pcap: out-of-range µs fraction is normalised exactly', () => {
  const c = ok(parseAll(concat(pcapHeader(), pcapRecord({sec: 5, frac: 2500000, data: seq(1)}))))
  assert.deepEqual([c.packets[0].tsSec, c.packets[0].tsNsec], [7, 500000000])
})

test('the PacketRecord object is reused between callbacks; data is a view', () => {
  const bytes = concat(pcapHeader(), pcapRecord({sec: 1, frac: 0, data: seq(4)}), pcapRecord({sec: 2, frac: 0, data: seq(4, 4)}))
  const seen: PacketRecord[] = []
  const p = new PcapParser({onPacket: (r) => {
    seen.push(r)
    assert.equal(r.data.buffer, bytes.buffer) // zero-copy view into the pushed chunk
  }})
  p.push(bytes)
  p.end()
  assert.equal(seen.length, 2)
  assert.equal(seen[0], seen[1])
})

// ---------------------------------------------------------------- pcapng

for (const le of [true, false]) {
  const order = le ? 'little' : 'big'
  test(`pcapng ${order}-endian: comments on SHB / IDB / EPB, flags, drop count, names`, () => {
    const bytes = concat(
      shb(le, {options: [[1, 'section comment'], [4, 'handoff-test'], [3, 'Linux'], [2, 'x86'], [1, 'second']]}),
      idb(le, {linkType: 1, snapLen: 262144, options: [[2, 'eth0'], [3, 'the first'], [1, 'if comment']]}),
      epb(le, {ts: 1700000000123456n, data: seq(13), origLen: 100, options: [[1, 'pkt comment'], [2, [le ? 1 : 0, 0, 0, le ? 0 : 1]], [4, new Bytes(le).u64(7n).build()], [1, 'more\u00e9']]}),
      epb(le, {ts: 1700000000123457n, data: seq(4)}),
    )
    const c = ok(parseAll(bytes))
    assert.equal(c.info?.format, 'pcapng')
    assert.equal(c.info?.byteOrder, order)
    assert.equal(c.info?.version, '1.0')
    assert.deepEqual(c.info?.comments, ['section comment', 'second'])
    assert.equal(c.info?.application, 'handoff-test')
    assert.equal(c.info?.os, 'Linux')
    assert.equal(c.info?.hardware, 'x86')
    assert.deepEqual(c.interfaces, [{
      id: 0, section: 0, linkType: 1, snapLen: 262144, name: 'eth0', description: 'the first',
      tsUnitsPerSec: 1e6, tsOffsetSec: 0, comments: ['if comment'],
    }])
    const [a, b] = c.packets
    assert.deepEqual([a.tsSec, a.tsNsec, a.capLen, a.origLen, a.fileOffset], [1700000000, 123456000, 13, 100, c.packets[0].fileOffset])
    assert.deepEqual(a.data, seq(13))
    assert.deepEqual(a.comments, ['pkt comment', 'more\u00e9'])
    assert.equal(a.flags, 1)
    assert.equal(a.dropCount, 7)
    assert.deepEqual([b.comments, b.flags, b.dropCount, b.tsNsec], [null, undefined, undefined, 123457000])
  })

  test(`pcapng ${order}-endian: SPB takes its length from the block and the snaplen`, () => {
    const bytes = concat(
      shb(le),
      idb(le, {linkType: 1, snapLen: 8}),
      spb(le, {data: seq(8), origLen: 60}), // snaplen-limited
      spb(le, {data: seq(6), origLen: 6}), // padded to 8 in the block
      spb(le, {data: seq(12), origLen: 12}), // more bytes than snaplen: cut at 8
    )
    const c = ok(parseAll(bytes))
    assert.deepEqual(c.packets.map((p) => [p.capLen, p.origLen, p.hasTimestamp, p.tsSec, p.tsNsec]), [[8, 60, false, 0, 0], [6, 6, false, 0, 0], [8, 12, false, 0, 0]])
    assert.deepEqual(c.packets[1].data, seq(6))
    const unlimited = ok(parseAll(concat(shb(le), idb(le, {snapLen: 0}), spb(le, {data: seq(10)}))))
    assert.deepEqual(unlimited.packets[0].data, seq(10))
  })

  test(`pcapng ${order}-endian: obsolete Packet Block (type 2)`, () => {
    const bytes = concat(shb(le), idb(le, {linkType: 101}), idb(le, {linkType: 1}),
      pb(le, {ifid: 1, drops: 3, ts: 1500000000000001n, data: seq(9), options: [[1, 'old'], [2, [0, 0, 0, 0]]]}),
      pb(le, {ifid: 0, drops: 0xffff, ts: 1n, data: seq(2)}))
    const c = ok(parseAll(bytes))
    assert.deepEqual(c.packets.map((p) => [p.interfaceId, p.linkType, p.dropCount, p.tsSec, p.tsNsec, p.capLen, p.comments]),
      [[1, 1, 3, 1500000000, 1000, 9, ['old']], [0, 101, undefined, 0, 1000, 2, null]])
  })

  test(`pcapng ${order}-endian: if_tsresol 10^-9 is exact above 2^53`, () => {
    const ts = 1700000000123456789n
    const bytes = concat(shb(le), idb(le, {options: [[9, [9]]]}),
      epb(le, {ts, data: seq(1)}),
      epb(le, {ts: 18446744073709551615n, data: seq(1)}),
      epb(le, {ts: 1999999999999999999n, data: seq(1)}))
    const c = ok(parseAll(bytes))
    assert.equal(c.interfaces[0].tsUnitsPerSec, 1e9)
    assert.deepEqual(c.packets.map((p) => [p.tsSec, p.tsNsec]),
      [[1700000000, 123456789], [18446744073, 709551615], [1999999999, 999999999]])
  })

  test(`pcapng ${order}-endian: if_tsresol 2^-8 and 2^-30, 10^-3, 10^-12`, () => {
    const bytes = concat(shb(le),
      idb(le, {options: [[9, [0x88]]]}),
      idb(le, {options: [[9, [0x80 | 30]]]}),
      idb(le, {options: [[9, [3]]]}),
      idb(le, {options: [[9, [12]]]}),
      epb(le, {ifid: 0, ts: 1700000000n * 256n + 128n + 1n, data: seq(1)}),
      epb(le, {ifid: 1, ts: (1700000000n << 30n) + (1n << 29n), data: seq(1)}),
      epb(le, {ifid: 2, ts: 1700000000123n, data: seq(1)}),
      epb(le, {ifid: 3, ts: 10000000123456789012n, data: seq(1)}))
    const c = ok(parseAll(bytes))
    assert.deepEqual(c.interfaces.map((i) => i.tsUnitsPerSec), [256, 2 ** 30, 1000, 1e12])
    assert.deepEqual(c.packets.map((p) => [p.tsSec, p.tsNsec]), [
      [1700000000, 503906250],
      [1700000000, 500000000],
      [1700000000, 123000000],
      [10000000, 123456789],
    ])
  })

  test(`pcapng ${order}-endian: if_tsoffset (positive and negative)`, () => {
    const bytes = concat(shb(le),
      idb(le, {options: [[14, new Bytes(le).u64(1000n).build()]]}),
      idb(le, {options: [[14, new Bytes(le).u64(-5n).build()], [9, [9]]]}),
      epb(le, {ifid: 0, ts: 2000500n, data: seq(1)}),
      epb(le, {ifid: 1, ts: 10000000001n, data: seq(1)}))
    const c = ok(parseAll(bytes))
    assert.deepEqual(c.interfaces.map((i) => i.tsOffsetSec), [1000, -5])
    assert.deepEqual(c.packets.map((p) => [p.tsSec, p.tsNsec]), [[1002, 500000], [5, 1]])
  })

  test(`pcapng ${order}-endian: other blocks are skipped`, () => {
    const bytes = concat(shb(le),
      otherBlock(le, 0x00000bad, [1, 2, 3, 4, 5, 6, 7, 8]), // custom block
      idb(le),
      otherBlock(le, 4, [1, 0, 8, 0, 10, 0, 0, 1, 104, 111, 115, 116, 0, 0, 0, 0, 0, 0, 0, 0]), // NRB
      epb(le, {ts: 1n, data: seq(3)}),
      otherBlock(le, 5, new Bytes(le).u32(0).u32(0).u32(5).build()), // ISB
      otherBlock(le, 0x0a, [0, 0, 0, 0, 0, 0, 0, 0]), // DSB
      otherBlock(le, 0x40000bad, []),
      otherBlock(le, 0x12345678, [9, 9, 9, 9]),
      otherBlock(le, 0x80000001, []),
      epb(le, {ts: 2n, data: seq(3)}))
    const c = ok(parseAll(bytes))
    assert.equal(c.packets.length, 2)
    assert.deepEqual(c.packets.map((p) => p.index), [1, 2])
  })
}

test('pcapng: sections of different byte order; interface ids restart per section', () => {
  const bytes = concat(
    shb(true, {options: [[1, 'one']]}), idb(true, {linkType: 1}), epb(true, {ifid: 0, ts: 1n, data: seq(5)}),
    shb(false, {options: [[1, 'two']]}), idb(false, {linkType: 0}), idb(false, {linkType: 101, options: [[9, [9]]]}),
    epb(false, {ifid: 1, ts: 1700000000000000001n, data: seq(6)}), epb(false, {ifid: 0, ts: 2n, data: seq(7)}),
    shb(true), idb(true, {linkType: 113}), epb(true, {ifid: 0, ts: 3n, data: seq(8)}),
  )
  const c = ok(parseAll(bytes))
  assert.equal(c.info?.byteOrder, 'mixed')
  assert.equal(c.info?.sections, 3)
  assert.deepEqual(c.info?.comments, ['one', 'two'])
  assert.deepEqual(c.interfaces.map((i) => [i.id, i.section, i.linkType]), [[0, 0, 1], [1, 1, 0], [2, 1, 101], [3, 2, 113]])
  assert.deepEqual(c.packets.map((p) => [p.interfaceId, p.linkType, p.capLen, p.tsSec, p.tsNsec]),
    [[0, 1, 5, 0, 1000], [2, 101, 6, 1700000000, 1], [1, 0, 7, 0, 2000], [3, 113, 8, 0, 3000]])
  // an interface id of an earlier section is unknown in a later one
  const bad = collect(concat(shb(true), idb(true), idb(true), shb(false), idb(false), epb(false, {ifid: 1, ts: 0n, data: seq(1)})))
  assert.equal(bad.error?.code, 'unknown-interface')
})

test('pcapng: SHB of an unsupported major version: warning, packets kept', () => {
  const bytes = concat(shb(true), idb(true), epb(true, {ts: 1n, data: seq(2)}),
    shb(true, {major: 2}), idb(true), epb(true, {ts: 2n, data: seq(2)}))
  const c = ok(parseAll(bytes))
  assert.equal(c.packets.length, 2)
  assert.deepEqual(c.warnings.map((w) => w.code), ['unsupported-version'])
  assert.equal(c.warnings[0].offset, shb(true).length + idb(true).length + epb(true, {ts: 1n, data: seq(2)}).length)
})

// ---------------------------------------------------------------- errors

function err(bytes: Uint8Array, file = 'x.pcap'): CaptureError {
  const c = parseAll(bytes)
  assert.ok(c.error, 'expected an error')
  return collect(bytes, undefined, file).error!
}

test('errors: truncated record names the file, the offset and what was wrong', () => {
  const rec = pcapRecord({sec: 1, frac: 0, data: seq(60)})
  const bytes = concat(pcapHeader(), pcapRecord({sec: 1, frac: 0, data: seq(10)}), rec.subarray(0, 16 + 12))
  const e = err(bytes, 'trunc.pcap')
  assert.equal(e.code, 'truncated-record')
  assert.equal(e.offset, 24 + 26)
  assert.equal(e.file, 'trunc.pcap')
  assert.equal(e.message, 'trunc.pcap: truncated record at byte 50: header says 60 bytes of packet data, only 12 remain')
  const c = collect(bytes)
  assert.equal(c.packets.length, 1)
})

test('errors: truncated headers, empty input', () => {
  assert.equal(err(new Uint8Array(0)).code, 'truncated-header')
  assert.equal(err(pcapHeader().subarray(0, 10)).code, 'truncated-header')
  const e = err(concat(pcapHeader(), d(1)))
  assert.deepEqual([e.code, e.offset], ['truncated-header', 24])
  assert.match(e.message, /truncated record header at byte 24: need 16 bytes, only 1 remain/)
  const g = err(concat(shb(true), idb(true), d(6, 0, 0)))
  assert.equal(g.code, 'truncated-header')
  const blk = epb(true, {ts: 0n, data: seq(40)})
  const h = err(concat(shb(true), idb(true), blk.subarray(0, 30)))
  assert.equal(h.code, 'truncated-record')
  assert.equal(h.offset, shb(true).length + idb(true).length)
  assert.match(h.message, new RegExp(`truncated EPB at byte ${h.offset}: header says ${blk.length} bytes, only 30 remain`))
})

test('errors: unknown magic, gzip given to the raw parser', () => {
  const e = err(d(1, 2, 3, 4, 5, 6, 7, 8))
  assert.deepEqual([e.code, e.offset], ['bad-magic', 0])
  assert.match(e.message, /unknown magic at byte 0: 01 02 03 04/)
  const g = err(gzipSync(pcapHeader()))
  assert.equal(g.code, 'bad-magic')
  assert.match(g.message, /gzip/)
  // a pcapng SHB with a bad byte-order magic
  const s = shb(true)
  s[8] = 0x99
  assert.equal(err(s).code, 'bad-magic')
})

test('errors: impossible caplen in pcap and pcapng', () => {
  const rec = concat(pcapHeader(), pcapRecord({sec: 0, frac: 0, data: seq(1)}))
  new DataView(rec.buffer).setUint32(24 + 8, 0x10000001, true)
  const e = err(rec)
  assert.deepEqual([e.code, e.offset], ['caplen-too-large', 24])
  const blk = epb(true, {ts: 0n, data: seq(4)})
  new DataView(blk.buffer).setUint32(20, 0x10000001, true)
  assert.equal(err(concat(shb(true), idb(true), blk)).code, 'caplen-too-large')
  const blk2 = epb(true, {ts: 0n, data: seq(4)})
  new DataView(blk2.buffer).setUint32(20, 9, true) // more than the block holds
  assert.equal(err(concat(shb(true), idb(true), blk2)).code, 'bad-block-length')
})

test('errors: block length not a multiple of 4, < 12, too large, trailing mismatch', () => {
  const base = concat(shb(true), idb(true))
  const mk = (mut: (dv: DataView, b: Uint8Array) => void) => {
    const b = epb(true, {ts: 0n, data: seq(8)})
    mut(new DataView(b.buffer), b)
    return concat(base, b)
  }
  const e1 = err(mk((dv) => dv.setUint32(4, 42, true)))
  assert.deepEqual([e1.code, e1.offset], ['bad-block-length', base.length])
  assert.match(e1.message, /not a multiple of 4/)
  assert.equal(err(mk((dv) => dv.setUint32(4, 8, true))).code, 'bad-block-length')
  assert.equal(err(mk((dv) => dv.setUint32(4, 0x7ffffff0, true))).code, 'block-too-large')
  const e4 = err(mk((dv, b) => dv.setUint32(b.length - 4, 44, true)))
  assert.equal(e4.code, 'block-length-mismatch')
  assert.match(e4.message, /block length is \d+ at the start but 44 at the end/)
  assert.equal(err(concat(base, epb(true, {ifid: 5, ts: 0n, data: seq(1)}))).code, 'unknown-interface')
  assert.equal(err(concat(shb(true), spb(true, {data: seq(1)}))).code, 'unknown-interface')
})

test('errors: an option longer than its block', () => {
  const b = epb(true, {ts: 0n, data: seq(4), options: [[1, 'abcd']]})
  new DataView(b.buffer).setUint16(28 + 4 + 2, 200, true)
  const e = err(concat(shb(true), idb(true), b))
  assert.equal(e.code, 'bad-option')
})

test('errors: records before the damage are delivered; the parser stays failed', () => {
  const good = concat(pcapHeader(), pcapRecord({sec: 1, frac: 0, data: seq(3)}), pcapRecord({sec: 2, frac: 0, data: seq(3)}))
  const bad = d(0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
  let n = 0
  const p = new CaptureParser({onPacket: () => n++}, {file: 'f.pcap'})
  assert.throws(() => p.push(concat(good, bad)), (e: unknown) => e instanceof CaptureError && e.code === 'caplen-too-large' && e.offset === good.length)
  assert.equal(n, 2)
  assert.throws(() => p.push(d(1)), CaptureError)
  assert.throws(() => p.end(), CaptureError)
})

test('PcapngParser / PcapParser can be used directly', () => {
  let n = 0
  const p = new PcapngParser({onPacket: () => n++})
  p.push(concat(shb(false), idb(false), epb(false, {ts: 5n, data: seq(3)})))
  p.end()
  assert.equal(n, 1)
  assert.equal(p.info?.byteOrder, 'big')
  const q = new PcapParser({onPacket: () => n++})
  assert.throws(() => q.push(shb(true)), (e: unknown) => e instanceof CaptureError && e.code === 'bad-magic')
})

// readMerged (capture/merge.ts): several capture files read at once, every
// record through its own file's handlers, in timestamp order — ties to the
// lower file index, a file's own records never reordered — with a damaged
// file's records up to the damage delivered and its error reported for it
// alone, gzip read transparently, and records that straddle chunks intact.
// Files are built byte by byte (capture/testing.ts) and the deliveries
// compared exactly: file, frame, time, interface and the packet bytes.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {readMerged} from '../../analyzer/capture/merge.js'
import {readCapture} from '../../analyzer/capture/read.js'
import {CaptureError, type CaptureHandlers} from '../../analyzer/capture/types.js'
import {concat, epb, idb, pcapHeader, pcapRecord, shb, spb} from '../../analyzer/capture/testing.js'

const LE = true

/** A packet whose bytes say where it comes from: tag, then n bytes counting up. */
function pkt(tag: number, n = 6): Uint8Array {
  return Uint8Array.from([tag, ...Array.from({length: n}, (_, i) => (tag + i) & 255)])
}

/** pcapng with one interface (µs), packets at the given times (µs). */
function pcapng(name: string, pkts: [us: number, tag: number][]): Uint8Array {
  return concat(shb(LE), idb(LE, {options: [[2, name], [9, [6]]]}),
    ...pkts.map(([us, tag]) => epb(LE, {ts: BigInt(us), data: pkt(tag)})))
}

/** Classic pcap (µs), packets at the given times (µs). */
function pcap(pkts: [us: number, tag: number][]): Uint8Array {
  return concat(pcapHeader(), ...pkts.map(([us, tag]) => pcapRecord({sec: Math.floor(us / 1e6), frac: us % 1e6, data: pkt(tag)})))
}

interface Delivery {
  fi: number
  what: string
}

/** Handlers per file that log every event: "if <name>", "pkt <frame> <sec>.<nsec> if<id> <hex>". */
function logging(n: number, log: Delivery[]): CaptureHandlers[] {
  return Array.from({length: n}, (_, fi): CaptureHandlers => ({
    onInterface: (i) => log.push({fi, what: `if ${i.name ?? ''}`}),
    onPacket: (r) => log.push({fi, what: `pkt ${r.index} ${r.tsSec}.${String(r.tsNsec).padStart(9, '0')} if${r.interfaceId} ` +
      Buffer.from(r.data).toString('hex')}),
  }))
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handoff-merge-'))
    try {
      await fn(dir)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }
}

const hex = (tag: number) => Buffer.from(pkt(tag)).toString('hex')
const p = (fi: number, frame: number, us: number, tag: number): Delivery =>
  ({fi, what: `pkt ${frame} ${Math.floor(us / 1e6)}.${String((us % 1e6) * 1000).padStart(9, '0')} if0 ${hex(tag)}`})

test('records of several files in time order; ties to the lower file index; a file\'s own order kept', withDir(async (dir) => {
  const a = join(dir, 'a.pcapng')
  const b = join(dir, 'b.pcap')
  const c = join(dir, 'c.pcapng')
  // a: 1.000010, 1.000030, then 1.000020 (out of order in its own file: stays after 1.000030), 1.000050
  writeFileSync(a, pcapng('client', [[1_000_010, 0xa1], [1_000_030, 0xa2], [1_000_020, 0xa3], [1_000_050, 0xa4]]))
  // b (pcap): ties with a at 1.000030 and with c at 1.000040
  writeFileSync(b, pcap([[1_000_005, 0xb1], [1_000_030, 0xb2], [1_000_040, 0xb3], [2_000_000, 0xb4]]))
  writeFileSync(c, pcapng('lan', [[1_000_040, 0xc1], [1_000_045, 0xc2]]))
  const log: Delivery[] = []
  const ends: string[] = []
  const h = logging(3, log)
  const res = await readMerged([{path: a, handlers: h[0]!}, {path: b, handlers: h[1]!}, {path: c, handlers: h[2]!}],
    {onFileEnd: (fi, e) => ends.push(`${fi}:${e === null ? 'ok' : e.code}`)})
  assert.deepEqual(log, [
    {fi: 0, what: 'if client'},
    {fi: 1, what: 'if '},
    {fi: 2, what: 'if lan'},
    p(1, 1, 1_000_005, 0xb1),
    p(0, 1, 1_000_010, 0xa1),
    // tie at 1.000030: a (file 0) first
    p(0, 2, 1_000_030, 0xa2),
    // a's head is now 1.000020 (its own order): it goes before b's 1.000030
    p(0, 3, 1_000_020, 0xa3),
    p(1, 2, 1_000_030, 0xb2),
    // tie at 1.000040: b (file 1) before c (file 2)
    p(1, 3, 1_000_040, 0xb3),
    p(2, 1, 1_000_040, 0xc1),
    p(2, 2, 1_000_045, 0xc2),
    p(0, 4, 1_000_050, 0xa4),
    p(1, 4, 2_000_000, 0xb4),
  ])
  assert.deepEqual(ends, ['2:ok', '0:ok', '1:ok'])
  assert.deepEqual(res.map((r) => [r.error, r.result?.packets, r.result?.info.format]),
    [[null, 4, 'pcapng'], [null, 4, 'pcap'], [null, 2, 'pcapng']])
}))

test('a truncated file: its records before the damage in their place, its error as readCapture reports it, the others read to the end', withDir(async (dir) => {
  const a = join(dir, 'a.pcapng')
  const b = join(dir, 'b.pcapng')
  const whole = pcapng('client', [[10, 1], [30, 2], [50, 3]])
  // Cut inside the third EPB.
  const cut = whole.subarray(0, whole.length - 10)
  writeFileSync(a, cut)
  writeFileSync(b, pcapng('lan', [[20, 11], [40, 12], [60, 13], [80, 14]]))
  const log: Delivery[] = []
  const ends: string[] = []
  const h = logging(2, log)
  const res = await readMerged([{path: a, handlers: h[0]!}, {path: b, handlers: h[1]!}],
    {onFileEnd: (fi, e) => ends.push(`${fi}:${e === null ? 'ok' : e.message}`)})
  let expected: CaptureError | null = null
  try {
    await readCapture(a, {onPacket: () => {}})
  } catch (e) {
    expected = e as CaptureError
  }
  assert.ok(expected instanceof CaptureError)
  assert.equal(expected.code, 'truncated-record')
  assert.deepEqual(log.filter((d) => d.what.startsWith('pkt')), [
    p(0, 1, 10, 1), p(1, 1, 20, 11), p(0, 2, 30, 2), p(1, 2, 40, 12), p(1, 3, 60, 13), p(1, 4, 80, 14),
  ])
  assert.deepEqual(ends, [`0:${expected.message}`, '1:ok'])
  assert.equal(res[0]!.error!.message, expected.message)
  assert.equal(res[0]!.result!.packets, 2)
  assert.equal(res[1]!.error, null)
}))

test('missing, empty and non-capture files: each reports its own error, the rest is read', withDir(async (dir) => {
  const good = join(dir, 'good.pcap')
  const empty = join(dir, 'empty.pcap')
  const junk = join(dir, 'junk.pcap')
  writeFileSync(good, pcap([[5, 1], [6, 2]]))
  writeFileSync(empty, new Uint8Array(0))
  writeFileSync(junk, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))
  const log: Delivery[] = []
  const h = logging(4, log)
  const res = await readMerged([good, join(dir, 'nope.pcap'), empty, junk].map((path, i) => ({path, handlers: h[i]!})))
  assert.deepEqual(log, [{fi: 0, what: 'if '}, p(0, 1, 5, 1), p(0, 2, 6, 2)])
  assert.deepEqual(res.map((r) => r.error?.code ?? null), [null, 'io', 'truncated-header', 'bad-magic'])
  for (const [i, path] of [[1, join(dir, 'nope.pcap')], [2, empty], [3, junk]] as const) {
    await assert.rejects(readCapture(path, {onPacket: () => {}}), (e: Error) => e.message === res[i]!.error!.message)
  }
}))

test('gzip input, whole and truncated, merged with a plain file', withDir(async (dir) => {
  const bytes = pcapng('client', Array.from({length: 300}, (_, i) => [1000 + 2 * i, i & 255] as [number, number]))
  const gz = join(dir, 'a.pcapng.gz')
  writeFileSync(gz, gzipSync(bytes))
  const plain = join(dir, 'b.pcap')
  writeFileSync(plain, pcap(Array.from({length: 300}, (_, i) => [1001 + 2 * i, (i + 7) & 255] as [number, number])))
  const log: Delivery[] = []
  const h = logging(2, log)
  const res = await readMerged([{path: gz, handlers: h[0]!}, {path: plain, handlers: h[1]!}])
  const pk = log.filter((d) => d.what.startsWith('pkt'))
  assert.equal(pk.length, 600)
  // Strictly alternating: a at even µs, b at the odd µs after.
  for (let i = 0; i < 300; i++) {
    assert.deepEqual(pk[2 * i], p(0, i + 1, 1000 + 2 * i, i & 255))
    assert.deepEqual(pk[2 * i + 1], p(1, i + 1, 1001 + 2 * i, (i + 7) & 255))
  }
  assert.equal(res[0]!.result!.info.gzip, true)
  assert.equal(res[0]!.error, null)

  // Truncated gzip: what decompresses is delivered, the error is readCapture's.
  const zipped = gzipSync(bytes)
  const tgz = join(dir, 't.pcapng.gz')
  writeFileSync(tgz, zipped.subarray(0, zipped.length - 200))
  const solo: string[] = []
  let expected = ''
  await readCapture(tgz, {onPacket: (r) => { solo.push(`${r.index}`) }}).catch((e: Error) => { expected = e.message })
  assert.ok(expected !== '')
  const log2: Delivery[] = []
  const h2 = logging(2, log2)
  const res2 = await readMerged([{path: plain, handlers: h2[0]!}, {path: tgz, handlers: h2[1]!}])
  assert.equal(res2[1]!.error!.message, expected)
  assert.deepEqual(log2.filter((d) => d.fi === 1 && d.what.startsWith('pkt')).map((d) => d.what.split(' ')[1]), solo)
  assert.equal(log2.filter((d) => d.fi === 0 && d.what.startsWith('pkt')).length, 300)
}))

test('small chunks: records straddling chunks (held in the parser\'s own buffer) and records without a timestamp arrive intact', withDir(async (dir) => {
  // SPBs carry no timestamp: they sort at their file's previous record.
  const a = join(dir, 'a.pcapng')
  writeFileSync(a, concat(shb(LE), idb(LE, {options: [[9, [6]]]}),
    epb(LE, {ts: 100n, data: pkt(1, 40)}), spb(LE, {data: pkt(2, 50)}), epb(LE, {ts: 300n, data: pkt(3, 70)})))
  const b = join(dir, 'b.pcap')
  writeFileSync(b, pcap([[100, 9], [200, 10], [400, 11]]))
  for (const chunkSize of [7, 13, 64, 1 << 20]) {
    const got: string[] = []
    const mk = (fi: number): CaptureHandlers => ({onPacket: (r) => {
      got.push(`${fi}:${r.index}:${r.hasTimestamp ? r.tsNsec : '-'}:${Buffer.from(r.data).toString('hex')}`)
    }})
    await readMerged([{path: a, handlers: mk(0)}, {path: b, handlers: mk(1)}], {chunkSize})
    const x = (tag: number, n = 6) => Buffer.from(pkt(tag, n)).toString('hex')
    assert.deepEqual(got, [
      `0:1:100000:${x(1, 40)}`,
      // The SPB sorts at a's previous time (100 µs): before b's 100 µs (tie, lower index), and b's 200 µs.
      `0:2:-:${x(2, 50)}`,
      `1:1:100000:${x(9)}`,
      `1:2:200000:${x(10)}`,
      `0:3:300000:${x(3, 70)}`,
      `1:3:400000:${x(11)}`,
    ], `chunk size ${chunkSize}`)
  }
}))

test('an error thrown by a handler stops the read and propagates', withDir(async (dir) => {
  const a = join(dir, 'a.pcap')
  writeFileSync(a, pcap([[1, 1], [2, 2]]))
  await assert.rejects(readMerged([{path: a, handlers: {onPacket: () => { throw new Error('boom') }}}, {path: a, handlers: {onPacket: () => {}}}]),
    /boom/)
}))

// Cut files at many offsets: the reader yields exactly the records that lie
// wholly before the cut, then a CaptureError naming the damaged unit's offset.
// Also: standard input ('-'), gzip (whole, truncated, truncated inside).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {gzipSync} from 'node:zlib'
import {CaptureError, readCapture, readCaptureSync} from '../../analyzer/capture/index.js'
import {collect} from '../../analyzer/capture/testing.js'
import {repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import {existsSync} from 'node:fs'

interface Unit {
  start: number
  end: number
  hdr: number
  packet: boolean
}

/** An independent walk of the container: every unit (file header, record, block). */
function units(b: Uint8Array): Unit[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length)
  const out: Unit[] = []
  if (dv.getUint32(0, true) === 0x0a0d0d0a) {
    let le = true
    let p = 0
    while (p < b.length) {
      const type = dv.getUint32(p, le)
      if (type === 0x0a0d0d0a) le = dv.getUint32(p + 8, true) === 0x1a2b3c4d
      const len = dv.getUint32(p + 4, le)
      const t = dv.getUint32(p, le)
      out.push({start: p, end: p + len, hdr: t === 0x0a0d0d0a ? 12 : 8, packet: t === 2 || t === 3 || t === 6})
      p += len
    }
    return out
  }
  const magic = dv.getUint32(0, true)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d || magic === 0xa1b2cd34
  const m = dv.getUint32(0, le)
  const hl = m === 0xa1b2cd34 ? 24 : 16
  out.push({start: 0, end: 24, hdr: 24, packet: false})
  let p = 24
  while (p + hl <= b.length) {
    const cap = dv.getUint32(p + 8, le)
    out.push({start: p, end: p + hl + cap, hdr: hl, packet: true})
    p += hl + cap
  }
  return out
}

const fixtures = [
  'http-get.pcap', // LE µs
  'pptp.pcap', // BE µs
  'tcp-handshake-nano.pcap', // ns
  'modified-format.pcap',
  'pcapng_gen_le_test202_mixed_endian_sections.pcapng',
  'pcapng_gen_le_test102_all_blocks.pcapng',
  'pcapng_gen_be_test011_spb_epb_mix.pcapng',
  'pcapng-multi-interface.pcapng',
  'pfcp.pcap', // obsolete packet blocks, BE
  'pcapng_gopacket_le_test901_unknown_shb_version.pcapng',
]

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
}

const haveCorpus = existsSync(join(sharedCaptures, 'MANIFEST.json'))

for (const name of fixtures) {
  test(`truncation: ${name} cut at many offsets`, (t) => {
    if (!requireOrSkip(t, haveCorpus, 'no capture corpus')) return
    const full = new Uint8Array(readFileSync(join(sharedCaptures, name)))
    const us = units(full)
    assert.equal(us[us.length - 1].end, full.length, 'walk covers the file')
    const whole = collect(full)
    assert.equal(whole.error, null)
    const r = rng(full.length)
    // every offset for small files, else every offset in the first 600 bytes and a sample
    const cuts = new Set<number>()
    for (let k = 0; k < Math.min(full.length, 600); k++) cuts.add(k)
    for (const u of us) for (const d of [-1, 0, 1, 4, 8, 11, 12, 13]) if (u.start + d > 0 && u.start + d < full.length) cuts.add(u.start + d)
    for (let i = 0; i < 300; i++) cuts.add(Math.floor(r() * full.length))
    for (const k of cuts) {
      const c = collect(full.subarray(0, k), () => 1 + Math.floor(r() * 97))
      const nComplete = us.filter((u) => u.packet && u.end <= k).length
      assert.equal(c.packets.length, nComplete, `cut at ${k}`)
      assert.deepEqual(c.packets, whole.packets.slice(0, nComplete), `cut at ${k}`)
      const broken = us.find((u) => u.start < k && u.end > k)
      if (k === 0) {
        assert.equal(c.error?.code, 'truncated-header')
        assert.equal(c.error?.offset, 0)
      } else if (broken === undefined) {
        assert.equal(c.error, null, `cut at a unit boundary (${k}) is a valid file`)
      } else {
        assert.ok(c.error, `cut at ${k}: expected an error`)
        assert.equal(c.error.offset, broken.start, `cut at ${k}: ${c.error.message}`)
        assert.equal(c.error.code, k - broken.start < broken.hdr ? 'truncated-header' : 'truncated-record', `cut at ${k}`)
      }
    }
  })
}

test('truncation: through files, with the file name in the message', async (t) => {
  if (!requireOrSkip(t, haveCorpus, 'no capture corpus')) return
  const dir = mkdtempSync(join(tmpdir(), 'handoff-trunc-'))
  try {
    const full = new Uint8Array(readFileSync(join(sharedCaptures, 'http-get.pcap')))
    const us = units(full)
    const rec = us[5]
    const cut = rec.start + rec.hdr + 12
    const path = join(dir, 'trunc.pcap')
    writeFileSync(path, full.subarray(0, cut))
    for (const reader of ['async', 'sync']) {
      let n = 0
      const h = {onPacket: () => { n++ }}
      let err: unknown
      try {
        if (reader === 'async') await readCapture(path, h, {chunkSize: 100})
        else readCaptureSync(path, h, {chunkSize: 100})
      } catch (e) {
        err = e
      }
      assert.ok(err instanceof CaptureError)
      assert.equal(n, 4)
      assert.equal(err.code, 'truncated-record')
      assert.equal(err.offset, rec.start)
      const cap = rec.end - rec.start - rec.hdr
      assert.equal(err.message, `${path}: truncated record at byte ${rec.start}: header says ${cap} bytes of packet data, only 12 remain`)
    }
    // gzip of the truncated file: same error, offsets in the decompressed stream
    const gz = join(dir, 'trunc.pcap.gz')
    writeFileSync(gz, gzipSync(full.subarray(0, cut)))
    let n = 0
    await assert.rejects(readCapture(gz, {onPacket: () => { n++ }}), (e: unknown) => e instanceof CaptureError && e.code === 'truncated-record' && e.offset === rec.start)
    assert.equal(n, 4)
    // a truncated gzip stream: every record that decompressed, then 'bad-gzip'
    const big = new Uint8Array(readFileSync(join(sharedCaptures, 'http-206_example_b.pcap')))
    const gzBig = gzipSync(big)
    const gzCut = join(dir, 'cut.pcap.gz')
    writeFileSync(gzCut, gzBig.subarray(0, Math.floor(gzBig.length / 2)))
    n = 0
    await assert.rejects(readCapture(gzCut, {onPacket: () => { n++ }}), (e: unknown) => e instanceof CaptureError && e.code === 'bad-gzip' && e.file === gzCut)
    assert.ok(n > 100 && n < 1556, `${n} packets before the gzip damage`)
    let m = 0
    assert.throws(() => readCaptureSync(gzCut, {onPacket: () => { m++ }}), (e: unknown) => e instanceof CaptureError && e.code === 'bad-gzip')
    assert.ok(m > 100 && m < 1556)
    // missing file
    await assert.rejects(readCapture(join(dir, 'nope.pcap'), {onPacket: () => {}}), (e: unknown) => e instanceof CaptureError && e.code === 'io' && /nope\.pcap: cannot open/.test(e.message))
    // abort
    const ac = new AbortController()
    ac.abort()
    await assert.rejects(readCapture(path, {onPacket: () => {}}, {signal: ac.signal}), (e: unknown) => e instanceof CaptureError && e.code === 'aborted')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('standard input (-): plain, gzip and truncated', (t) => {
  if (!requireOrSkip(t, haveCorpus, 'no capture corpus')) return
  const mod = join(repoRoot, 'dist', 'analyzer', 'capture', 'index.js')
  const script = `
    import(${JSON.stringify(mod)}).then(async ({readCapture}) => {
      let n = 0, bytes = 0
      try {
        const r = await readCapture('-', {onPacket: (p) => { n++; bytes += p.data.length }})
        console.log(JSON.stringify({n, bytes, packets: r.packets, gzip: r.info.gzip}))
      } catch (e) {
        console.log(JSON.stringify({n, code: e.code, offset: e.offset, message: e.message}))
      }
    })`
  const run = (input: Uint8Array) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {input, maxBuffer: 1 << 24})
    assert.equal(r.status, 0, r.stderr.toString())
    return JSON.parse(r.stdout.toString())
  }
  const pcap = readFileSync(join(sharedCaptures, 'http-206_example_b.pcap'))
  const total = collect(new Uint8Array(pcap)).packets.reduce((a, p) => a + p.capLen, 0)
  assert.deepEqual(run(pcap), {n: 1556, bytes: total, packets: 1556, gzip: false})
  assert.deepEqual(run(gzipSync(pcap)), {n: 1556, bytes: total, packets: 1556, gzip: true})
  const ng = readFileSync(join(sharedCaptures, 'pcapng_gen_le_test202_mixed_endian_sections.pcapng'))
  assert.equal(run(ng).n, 8)
  const cut = run(pcap.subarray(0, 100000))
  assert.equal(cut.code, 'truncated-record')
  assert.match(cut.message, /^<stdin>: truncated record at byte \d+: header says \d+ bytes of packet data, only \d+ remain$/)
  const empty = run(new Uint8Array(0))
  assert.equal(empty.code, 'truncated-header')
})

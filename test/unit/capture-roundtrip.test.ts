// read → write (pcapng and pcap) → read gives identical packets, for every
// corpus file; tshark reads what we write, with our comments.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {gunzipSync} from 'node:zlib'
import {PcapngWriter, PcapWriter, readCaptureSync} from '../../analyzer/capture/index.js'
import {collect, type Collected, type CollectedPacket} from '../../analyzer/capture/testing.js'
import {hasCommand, requireOrSkip, sharedCaptures} from '../support/env.js'

const haveCorpus = existsSync(join(sharedCaptures, 'MANIFEST.json'))
const files = haveCorpus ? readdirSync(sharedCaptures).filter((f) => /\.(pcap|pcapng|cap|gz)$/.test(f)).sort() : []
const dir = mkdtempSync(join(tmpdir(), 'handoff-roundtrip-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

function load(name: string): Collected {
  let b = readFileSync(join(sharedCaptures, name))
  if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b)
  return collect(new Uint8Array(b.buffer, b.byteOffset, b.length))
}

function writePcapng(src: Collected, path: string, extraComment?: string): void {
  const w = PcapngWriter.open(path, {
    comments: [...(src.info?.comments ?? []), ...(extraComment ? [extraComment] : [])],
    application: src.info?.application ?? 'handoff roundtrip test',
  })
  for (const i of src.interfaces) {
    w.addInterface({linkType: i.linkType, snapLen: i.snapLen, name: i.name, description: i.description, comments: i.comments, tsResolution: 'ns'})
  }
  for (const p of src.packets) {
    const extra = p.flags !== undefined || p.dropCount !== undefined ? {flags: p.flags, dropCount: p.dropCount} : undefined
    w.writePacket(p.interfaceId, p.tsSec, p.tsNsec, p.data, p.origLen, p.comments ?? undefined, extra)
  }
  // statistics at the end, as a live capture would write them
  for (const i of src.interfaces) w.writeStats(i.id, {tsSec: 1700000000, tsNsec: 5, received: src.packets.length, dropped: 3})
  w.close()
}

/** What must survive a round trip (file offsets and SPB-ness do not). */
function essence(p: CollectedPacket, withMeta: boolean) {
  const e: Record<string, unknown> = {
    index: p.index, linkType: p.linkType, tsSec: p.tsSec, tsNsec: p.tsNsec, capLen: p.capLen, origLen: p.origLen, data: p.data,
  }
  if (withMeta) Object.assign(e, {interfaceId: p.interfaceId, comments: p.comments, flags: p.flags, dropCount: p.dropCount})
  return e
}

for (const name of files) {
  test(`roundtrip: ${name}`, () => {
    const src = load(name)
    // pcapng: everything, including interfaces and comments
    const ng = join(dir, `${name}.pcapng`)
    writePcapng(src, ng)
    const back = collect(new Uint8Array(readFileSync(ng)))
    assert.equal(back.error, null, back.error?.message)
    assert.equal(back.packets.length, src.packets.length)
    for (let i = 0; i < src.packets.length; i++) assert.deepEqual(essence(back.packets[i], true), essence(src.packets[i], true))
    assert.deepEqual(back.interfaces.map((i) => [i.id, i.linkType, i.snapLen, i.name, i.description, i.comments]),
      src.interfaces.map((i) => [i.id, i.linkType, i.snapLen, i.name, i.description, i.comments]))
    assert.deepEqual(back.info?.comments, src.info?.comments)
    // pcap: one link type per file
    const lts = new Set(src.interfaces.map((i) => i.linkType))
    if (lts.size === 1) {
      const ns = src.packets.some((p) => p.tsNsec % 1000 !== 0)
      const pc = join(dir, `${name}.pcap`)
      const w = PcapWriter.open(pc, {linkType: src.interfaces[0].linkType, snapLen: src.interfaces[0].snapLen, tsResolution: ns ? 'ns' : 'us'})
      for (const p of src.packets) w.writePacket(p.tsSec, p.tsNsec, p.data, p.origLen)
      w.close()
      const b2 = collect(new Uint8Array(readFileSync(pc)))
      assert.equal(b2.error, null)
      assert.equal(b2.packets.length, src.packets.length)
      for (let i = 0; i < src.packets.length; i++) assert.deepEqual(essence(b2.packets[i], false), essence(src.packets[i], false))
    }
  })
}

test('writers: interfaces added after packets, flush leaves a valid file, close is idempotent', () => {
  const path = join(dir, 'late.pcapng')
  const w = PcapngWriter.open(path, {comment: 'late interfaces'})
  const a = w.addInterface({linkType: 1, tsResolution: 'us', name: 'eth0'})
  w.writePacket(a, 1700000000, 123456789, Uint8Array.of(1, 2, 3))
  w.flush()
  const mid = collect(new Uint8Array(readFileSync(path)))
  assert.equal(mid.error, null)
  assert.equal(mid.packets.length, 1)
  assert.equal(mid.packets[0].tsNsec, 123456000) // µs interface
  const b = w.addInterface({linkType: 101, snapLen: 0})
  w.writePacket(b, 1700000001, 999999999, Uint8Array.of(0x45), 20, 'late')
  w.writeStats(b, {tsSec: 1700000002, tsNsec: 0, received: 10, dropped: 2})
  w.close()
  w.close()
  const all = collect(new Uint8Array(readFileSync(path)))
  assert.equal(all.error, null)
  assert.deepEqual(all.packets.map((p) => [p.interfaceId, p.linkType, p.tsSec, p.tsNsec, p.capLen, p.origLen, p.comments]),
    [[0, 1, 1700000000, 123456000, 3, 3, null], [1, 101, 1700000001, 999999999, 1, 20, ['late']]])
  assert.throws(() => w.writePacket(a, 0, 0, Uint8Array.of(1)), /after close/)
  const w2 = PcapngWriter.open(join(dir, 'x.pcapng'))
  assert.throws(() => w2.writePacket(3, 0, 0, Uint8Array.of(1)), RangeError)
  w2.close()
  // pcap writer, µs and ns; a big packet forces a flush of the 1 MiB buffer
  const pc = join(dir, 'w.pcap')
  const pw = PcapWriter.open(pc, {linkType: 1, tsResolution: 'ns'})
  const big = new Uint8Array(3 << 20).fill(7)
  pw.writePacket(4294967295, 999999999, Uint8Array.of(9))
  pw.writePacket(1, 1, big)
  pw.close()
  const r = collect(new Uint8Array(readFileSync(pc)))
  assert.deepEqual(r.packets.map((p) => [p.tsSec, p.tsNsec, p.capLen]), [[4294967295, 999999999, 1], [1, 1, 3 << 20]])
  assert.deepEqual(r.packets[1].data, big)
})

function tshark(args: string[]): string {
  const r = spawnSync('tshark', args, {maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')}: ${r.stderr.toString()}`)
  return r.stdout.toString()
}

test('tshark reads our pcapng and pcap files, with our comments', (t) => {
  if (!requireOrSkip(t, haveCorpus, 'no capture corpus')) return
  if (!requireOrSkip(t, hasCommand('tshark'), 'tshark not installed')) return
  const pick = [
    'pcapng_gen_le_test009_epb_all_options.pcapng', 'pcapng_gen_le_test202_mixed_endian_sections.pcapng',
    'ldap-modify-request-126idb.pcapng', 'pcapng_gopacket_le_test902_tsresol_pow2.pcapng', 'pfcp.pcap',
    'pcapng_gen_le_test010_spb.pcapng', 'tcp-handshake-nano.pcap', 'http-get.pcap', 'modified-format.pcap',
    'pcapng_gopacket_le_test901_unknown_shb_version.pcapng', 'trunc-hdr.pcap', 'pcapng_gen_le_test006_two_idb_linktypes.pcapng',
  ]
  // which field holds packet comments depends on the tshark version
  const field = /\bframe\.comment\b/.test(tshark(['-G', 'fields'])) ? 'frame.comment' : 'pkt_comment'
  for (const name of pick) {
    const src = load(name)
    // add a comment to every packet so that tshark has something to show
    for (const p of src.packets) p.comments = [...(p.comments ?? []), `pkt ${p.index}`]
    const ng = join(dir, `ts-${name}.pcapng`)
    writePcapng(src, ng, 'written by handoff')
    const lines = tshark(['-r', ng, '-T', 'fields', '-e', 'frame.number', '-e', field, '-e', 'frame.time_epoch', '-e', 'frame.len']).split('\n').filter((l) => l !== '')
    assert.equal(lines.length, src.packets.length, name)
    for (let i = 0; i < lines.length; i++) {
      const [num, comment, epoch, len] = lines[i].split('\t')
      const p = src.packets[i]
      assert.equal(Number(num), i + 1)
      assert.equal(comment, p.comments!.join(','), `${name} #${i + 1}`)
      assert.equal(epoch, `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}`, `${name} #${i + 1}`)
      assert.equal(Number(len), p.origLen)
    }
    const info = tshark(['-r', ng, '-q', '-z', 'io,phs']) // reads the whole file without error
    assert.ok(info.length > 0)
    const cap = spawnSync('capinfos', [ng])
    if (cap.status === 0) assert.match(cap.stdout.toString(), /written by handoff/)
    const lts = new Set(src.interfaces.map((i) => i.linkType))
    if (lts.size === 1) {
      const pc = join(dir, `ts-${name}.pcap`)
      const w = PcapWriter.open(pc, {linkType: [...lts][0], tsResolution: 'ns'})
      for (const p of src.packets) w.writePacket(p.tsSec, p.tsNsec, p.data, p.origLen)
      w.close()
      const l2 = tshark(['-r', pc, '-T', 'fields', '-e', 'frame.number']).split('\n').filter((l) => l !== '')
      assert.equal(l2.length, src.packets.length, `${name} as pcap`)
    }
  }
})

test('readCaptureSync reads what the writers write through a file and through stdout (-)', () => {
  const path = join(dir, 'sync.pcapng')
  const w = PcapngWriter.open(path)
  const id = w.addInterface({linkType: 1})
  for (let i = 0; i < 1000; i++) w.writePacket(id, 1700000000 + i, i, new Uint8Array(100 + (i % 50)).fill(i & 0xff), undefined, i % 100 === 0 ? 'c' : undefined)
  w.close()
  let n = 0
  const r = readCaptureSync(path, {onPacket: (p) => {
    assert.equal(p.data[0], n & 0xff)
    n++
  }}, {chunkSize: 4096})
  assert.equal(n, 1000)
  assert.equal(r.packets, 1000)
  const script = `import(${JSON.stringify(new URL('../../analyzer/capture/index.js', import.meta.url).href)}).then(({PcapWriter}) => {
    const w = PcapWriter.open('-', {linkType: 1}); for (let i = 0; i < 500; i++) w.writePacket(i, 0, new Uint8Array(1000)); w.close() })`
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {maxBuffer: 1 << 24})
  assert.equal(out.status, 0, out.stderr.toString())
  const c = collect(new Uint8Array(out.stdout))
  assert.equal(c.error, null)
  assert.equal(c.packets.length, 500)
})

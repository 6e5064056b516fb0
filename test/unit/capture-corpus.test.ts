// Every file of the shared corpus (../shared/captures, MANIFEST.json) reads
// with exactly its packet records, link types, interfaces and sections.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {CaptureError, readCapture, readCaptureSync, type CaptureInterface, type FileInfo} from '../../analyzer/capture/index.js'
import {hasCommand, requireOrSkip, sharedCaptures} from '../support/env.js'

interface Entry {
  file: string
  format: string
  endianness: string
  link_types: string[]
  interfaces: number
  sections: number
  compression: string | null
  packet_records: number
  packets_tshark: number
  truncated_packets_caplen_lt_len: number
  container_note: string | null
  ts_resolution: string
}

const manifestPath = join(sharedCaptures, 'MANIFEST.json')
const manifest: Entry[] = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : []

interface Summary {
  info: FileInfo | null
  interfaces: CaptureInterface[]
  packets: number
  truncated: number
  ts: string[]
  error: CaptureError | null
  warnings: string[]
}

function handlers(s: Summary) {
  return {
    onInfo: (i: FileInfo) => { s.info = i },
    onInterface: (i: CaptureInterface) => { s.interfaces.push(i) },
    onPacket: (r: {capLen: number; origLen: number; tsSec: number; tsNsec: number; interfaceId: number; hasTimestamp: boolean; data: Uint8Array}) => {
      s.packets++
      if (r.capLen < r.origLen) s.truncated++
      assert.equal(r.data.length, r.capLen)
      s.ts.push(`${r.hasTimestamp ? `${r.tsSec}.${String(r.tsNsec).padStart(9, '0')}` : '-'} ${r.capLen} ${r.origLen} ${r.interfaceId}`)
    },
    onWarning: (w: {code: string}) => { s.warnings.push(w.code) },
  }
}

const empty = (): Summary => ({info: null, interfaces: [], packets: 0, truncated: 0, ts: [], error: null, warnings: []})

/** The one damaged file says where in its container_note. */
function expectedError(e: Entry): {code: string; offset: number} | null {
  const m = e.container_note?.match(/partial record header at offset (\d+)/)
  return m ? {code: 'truncated-header', offset: Number(m[1])} : null
}

test('the corpus is there', (t) => {
  if (!requireOrSkip(t, manifest.length > 0, `no capture corpus at ${sharedCaptures}`)) return
  assert.ok(manifest.length >= 50)
})

for (const e of manifest) {
  test(`corpus: ${e.file}`, async () => {
    const path = join(sharedCaptures, e.file)
    const s = empty()
    let res: Awaited<ReturnType<typeof readCapture>> | null = null
    try {
      res = await readCapture(path, handlers(s))
    } catch (err) {
      if (!(err instanceof CaptureError)) throw err
      s.error = err
    }
    const want = expectedError(e)
    if (want) {
      assert.ok(s.error, 'expected a CaptureError')
      assert.equal(s.error.code, want.code)
      assert.equal(s.error.offset, want.offset)
      assert.equal(s.error.file, path)
      assert.ok(s.error.message.startsWith(`${path}: `))
    } else {
      assert.equal(s.error, null, s.error?.message)
      assert.ok(res)
      assert.equal(res.packets, e.packet_records)
      assert.equal(res.interfaces.length, e.interfaces)
    }
    assert.equal(s.packets, e.packet_records)
    assert.equal(s.truncated, e.truncated_packets_caplen_lt_len)
    assert.equal(s.interfaces.length, e.interfaces)
    const info = s.info!
    assert.equal(info.sections, e.sections)
    assert.equal(info.format, e.format.startsWith('pcapng') ? 'pcapng' : 'pcap')
    assert.equal(info.variant === 'modified', e.format.includes('modified'))
    assert.equal(info.gzip, e.compression === 'gzip')
    assert.equal(info.byteOrder, e.endianness.startsWith('mixed') ? 'mixed' : e.endianness)
    const lts = [...new Set(s.interfaces.map((i) => i.linkType))].sort((a, b) => a - b)
    const wantLts = e.link_types.map((l) => Number(/\((\d+)\)/.exec(l)![1])).sort((a, b) => a - b)
    assert.deepEqual(lts, wantLts)
    if (e.ts_resolution === 'ns') assert.ok(s.interfaces.every((i) => i.tsUnitsPerSec === 1e9))
    if (e.ts_resolution === 'us') assert.ok(s.interfaces.every((i) => i.tsUnitsPerSec === 1e6))
    if (e.ts_resolution === '2^-8') assert.ok(s.interfaces.every((i) => i.tsUnitsPerSec === 256))
    if (e.file.includes('unknown_shb_version')) assert.ok(s.warnings.includes('unsupported-version'))

    // the synchronous reader agrees
    const s2 = empty()
    try {
      readCaptureSync(path, handlers(s2))
    } catch (err) {
      if (!(err instanceof CaptureError)) throw err
      s2.error = err
    }
    assert.deepEqual(s2.ts, s.ts)
    assert.equal(s2.error?.code, s.error?.code)
    assert.equal(s2.error?.offset, s.error?.offset)
  })
}

test('corpus: timestamps, lengths and interfaces agree with tshark', (t) => {
  if (!requireOrSkip(t, manifest.length > 0, 'no capture corpus')) return
  if (!requireOrSkip(t, hasCommand('tshark'), 'tshark not installed')) return
  let compared = 0
  for (const e of manifest) {
    // tshark shows custom blocks as frames and stops at the first error; compare only where it counts records.
    if (e.packets_tshark !== e.packet_records || e.packet_records === 0 || e.file.endsWith('.gz')) continue
    const path = join(sharedCaptures, e.file)
    const s = empty()
    try {
      readCaptureSync(path, handlers(s))
    } catch (err) {
      if (!(err instanceof CaptureError)) throw err
    }
    const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.interface_id'])
    const theirs = r.stdout.toString().split('\n').filter((l) => l !== '').map((l) => {
      const [ts, cap, len, ifid] = l.split('\t')
      return `${ts || '-'} ${cap} ${len} ${ifid || 0}`
    })
    // tshark prints SPB times as empty / epoch 0; we print '-'
    const mine = s.ts.map((x, i) => (x.startsWith('- ') && !theirs[i].startsWith('- ') ? theirs[i].split(' ')[0] + x.slice(1) : x))
    assert.deepEqual(mine, theirs, e.file)
    compared++
  }
  assert.ok(compared > 40)
})

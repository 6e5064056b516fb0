// `handoff inspect` run as a user runs it: the built CLI in a child process.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin, repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import {existsSync} from 'node:fs'

interface ManifestEntry {
  file: string
  packet_records: number
  tcp_streams: number
  tcp_bad_checksum: number
  interfaces: number
  sections: number
  link_types: string[]
  tshark_error: string | null
}

function run(args: string[], input?: Buffer): {code: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [cliBin, ...args], {cwd: repoRoot, input, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 256 << 20})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

const manifestPath = join(sharedCaptures, 'MANIFEST.json')
const manifest: ManifestEntry[] = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : []

// tshark counts TCP only in fragments it can reassemble and judges the
// checksum of the reassembled segment; we decode single frames and flag
// fragments ('ip-fragment'), so TCP in a first fragment is counted and its
// checksum is 'unverified'. These two files differ for exactly that reason.
const FRAGMENT_FILES = new Set(['ipv4-fragmented-3.pcap', 'ipv4-fragmented-4.pcap'])

test('inspect --json agrees with the corpus manifest (packets, interfaces, sections, TCP streams, bad checksums)', (t) => {
  if (!requireOrSkip(t, manifest.length > 0, `no MANIFEST.json at ${manifestPath}`)) return
  for (const e of manifest) {
    const r = run(['inspect', join(sharedCaptures, e.file), '--json'])
    // A file cut short is reported (exit 2) after every complete record.
    const damaged = /cut short/.test(e.tshark_error ?? '')
    assert.equal(r.code, damaged ? 2 : 0, `${e.file}: exit ${r.code}: ${r.stderr}`)
    const rep = JSON.parse(r.stdout)
    assert.equal(rep.error !== undefined, damaged, `${e.file}: error reported`)
    assert.equal(rep.packets, e.packet_records, `${e.file}: packets`)
    if (e.interfaces > 0) assert.equal(rep.interfaces.length, e.interfaces, `${e.file}: interfaces`)
    assert.equal(rep.sections, Math.max(1, e.sections), `${e.file}: sections`)
    const linkTypes = [...new Set(rep.interfaces.map((i: {linkTypeName: string; linkType: number}) => `${i.linkTypeName}(${i.linkType})`))].sort()
    if (e.link_types.length > 0) assert.deepEqual(linkTypes, [...e.link_types].sort(), `${e.file}: link types`)
    if (FRAGMENT_FILES.has(e.file)) continue
    assert.equal(rep.tcpConversations, e.tcp_streams, `${e.file}: TCP conversations vs tshark's streams`)
    assert.equal(rep.checksums.tcp.bad + rep.checksums.tcp.partial, e.tcp_bad_checksum, `${e.file}: TCP checksums tshark calls bad`)
  }
})

test('inspect text report names the format, interfaces, protocols and conversations', () => {
  const r = run(['inspect', join(sharedCaptures, 'http-vlan-0.pcap')])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^format\s+pcap 2\.4, little-endian$/m)
  assert.match(r.stdout, /^packets\s+14$/m)
  assert.match(r.stdout, /^vlan\s+14\s+100\.0%/m)
  assert.match(r.stdout, /TCP conversations \(1\)/)
  assert.match(r.stdout, /^tcp\s+14 good, 0 bad$/m)
})

test('inspect --packets prints one line per packet; with --json, one JSON object per line', () => {
  const f = join(sharedCaptures, 'tcp-handshake-nano.pcap')
  const text = run(['inspect', f, '--packets'])
  assert.equal(text.code, 0, text.stderr)
  const lines = text.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 3)
  // nanosecond file: 9 fractional digits; SYN with its options
  assert.match(lines[0], /^1 \d\d:\d\d:\d\d\.\d{9} if0 IP \S+\.\d+ > \S+\.\d+: TCP \[S\], seq \d+, win \d+, options \[mss \d+,sackOK,TS val \d+ ecr 0,wscale \d+\], length 0$/)
  const nd = run(['inspect', f, '--packets', '--json'])
  const objs = nd.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
  assert.equal(objs.length, 3)
  assert.deepEqual(objs.map((o) => o.flags), ['S', 'S.', '.'])
  assert.equal(objs[1].ack, (objs[0].seq + 1) >>> 0)
  assert.equal(objs[0].checksum, 'good')
})

test('a truncated file: everything before the damage, then the error with file and byte offset, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-inspect-'))
  try {
    const whole = readFileSync(join(sharedCaptures, 'http-get.pcap'))
    const cut = join(dir, 'cut.pcap')
    // Cuts the last (14th) record, which is a 16-byte header + 66 bytes.
    writeFileSync(cut, whole.subarray(0, whole.length - 40))
    const r = run(['inspect', cut, '--json'])
    assert.equal(r.code, 2)
    const rep = JSON.parse(r.stdout)
    assert.equal(rep.packets, 13, 'the 13 complete records before the cut')
    assert.equal(rep.error.code, 'truncated-record')
    assert.match(rep.error.message, /cut\.pcap: truncated record at byte \d+/)
    const text = run(['inspect', cut])
    assert.equal(text.code, 2)
    assert.match(text.stdout, /^packets\s+13$/m)
    assert.match(text.stdout, /error: .*truncated record at byte \d+/)
    assert.doesNotMatch(text.stdout + text.stderr, /\n\s+at /, 'no stack trace')
    const lines = run(['inspect', cut, '--packets'])
    assert.equal(lines.code, 2)
    assert.equal(lines.stdout.trimEnd().split('\n').length, 13)
    assert.match(lines.stderr, /truncated record at byte \d+/)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('standard input and gzip-compressed files are read', () => {
  const gz = run(['inspect', join(sharedCaptures, 'echo-connections.pcap.gz'), '--json', '--no-verify'])
  assert.equal(gz.code, 0, gz.stderr)
  const rep = JSON.parse(gz.stdout)
  assert.equal(rep.packets, 82582)
  assert.equal(rep.gzip, true)
  const stdin = run(['inspect', '-', '--json'], readFileSync(join(sharedCaptures, 'pcapng-multi-interface.pcapng')))
  assert.equal(stdin.code, 0, stdin.stderr)
  const s = JSON.parse(stdin.stdout)
  assert.equal(s.file, '<stdin>')
  assert.equal(s.packets, 6)
  assert.deepEqual(s.interfaces.map((i: {tsResolution: string}) => i.tsResolution), ['ns', 'us'])
})

test('bad input: a missing file and a file that is no capture give one clear line and exit 2', () => {
  const missing = run(['inspect', 'no/such/file.pcap'])
  assert.equal(missing.code, 2)
  assert.match(missing.stdout + missing.stderr, /no\/such\/file\.pcap: cannot open/)
  assert.doesNotMatch(missing.stdout + missing.stderr, /\n\s+at /)
  const notCapture = run(['inspect', join(repoRoot, 'package.json')])
  assert.equal(notCapture.code, 2)
  assert.match(notCapture.stdout + notCapture.stderr, /package\.json: .*(magic|not a capture)/i)
})

test('several files: one report each, JSON array', () => {
  const r = run(['inspect', join(sharedCaptures, 'empty.pcap'), join(sharedCaptures, 'empty.pcapng'), '--json'])
  assert.equal(r.code, 0, r.stderr)
  const reps = JSON.parse(r.stdout)
  assert.equal(reps.length, 2)
  assert.deepEqual(reps.map((x: {format: string; packets: number}) => [x.format, x.packets]), [['pcap', 0], ['pcapng', 0]])
})

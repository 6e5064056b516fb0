// Decodes every packet of every classic pcap in the shared corpus (a tiny
// ad-hoc record walk here: the real reader lives in analyzer/capture/) and
// checks it against MANIFEST.json's independent counts, then — when tshark is
// installed — packet by packet against tshark's TCP fields.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {hasCommand, requireOrSkip, sharedCaptures} from '../support/env.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'

interface Rec {linkType: number; data: Uint8Array; incl: number; orig: number}

/** Classic pcap (both byte orders, µs/ns, Kuznetzov's modified format) record walk. */
function* pcapRecords(buf: Buffer): Generator<Rec> {
  if (buf.length < 24) return
  const m = buf.readUInt32LE(0)
  let le: boolean
  let rh = 16
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) le = true
  else if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) le = false
  else if (m === 0xa1b2cd34) { le = true; rh = 24 } else return
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  const linkType = u32(20) & 0xffff
  let o = 24
  while (o + rh <= buf.length) {
    const incl = u32(o + 8), orig = u32(o + 12)
    yield {linkType, data: buf.subarray(o + rh, Math.min(buf.length, o + rh + incl)), incl, orig}
    o += rh + incl
  }
}

interface ManifestEntry {
  file: string
  format: string
  packet_records: number
  tcp_packets: number
  tcp_bad_checksum: number
  truncated_packets_caplen_lt_len: number
}

const manifestPath = join(sharedCaptures, 'MANIFEST.json')

function load(file: string): Buffer {
  const b = readFileSync(join(sharedCaptures, file))
  return file.endsWith('.gz') ? gunzipSync(b) : b
}

test('every classic pcap in the corpus decodes without throwing and matches MANIFEST counts', (t) => {
  if (!requireOrSkip(t, existsSync(manifestPath), `shared capture corpus at ${sharedCaptures}`)) return
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ManifestEntry[]
  const d = new PacketDecoder()
  let files = 0, packets = 0
  for (const e of manifest) {
    if (!e.format.startsWith('pcap') || e.format.startsWith('pcapng')) continue
    const buf = load(e.file)
    let n = 0, tcp = 0, wrong = 0, trunc = 0, frags = 0
    for (const r of pcapRecords(buf)) {
      n++
      d.decode(r.linkType, r.data, r.incl, r.orig)
      if (d.transport === 'tcp' && d.srcPort >= 0) tcp++
      if (d.transport === 'tcp' && d.l4ChecksumWrong()) wrong++
      if (d.snaplenTruncated) trunc++
      if (d.isFragment) frags++
    }
    files++
    packets += n
    assert.equal(n, e.packet_records, `${e.file}: records`)
    assert.equal(trunc, e.truncated_packets_caplen_lt_len, `${e.file}: caplen < len`)
    if (frags === 0) {
      // tshark reassembles IP fragments before dissecting TCP; we do not, so skip those files.
      assert.equal(tcp, e.tcp_packets, `${e.file}: TCP packets`)
      assert.equal(wrong, e.tcp_bad_checksum, `${e.file}: bad TCP checksums (bad + partial)`)
    }
  }
  assert.ok(files >= 40 && packets > 80000, `${files} files, ${packets} packets`)
})

test('offload captures: every "bad" checksum tshark reports is recognised as partial', (t) => {
  if (!requireOrSkip(t, existsSync(manifestPath), `shared capture corpus at ${sharedCaptures}`)) return
  const d = new PacketDecoder()
  const count = (file: string) => {
    const c = {good: 0, bad: 0, partial: 0, unverified: 0, none: 0}
    for (const r of pcapRecords(load(file))) c[d.decode(r.linkType, r.data, r.incl, r.orig).l4ChecksumStatus]++
    return c
  }
  // Manifest: "all TCP checksums bad in both directions (likely … checksum offload)".
  assert.deepEqual(count('mptcp-v1-sll.pcap'), {good: 0, bad: 0, partial: 20, unverified: 0, none: 0})
  assert.deepEqual(count('test_loopback.pcap'), {good: 0, bad: 0, partial: 24, unverified: 0, none: 0})
  // Only the capturing host's own packets are partial; the peer's are good.
  assert.deepEqual(count('localhost-bad-chksum.pcap'), {good: 4, bad: 0, partial: 6, unverified: 0, none: 0})
  // Anonymised without fixing checksums: really bad, not offload.
  assert.deepEqual(count('dssetup_standalone_workstation_be.cap'), {good: 0, bad: 9, partial: 0, unverified: 0, none: 0})
  assert.deepEqual(count('get-to-ssh-server-nsec.pcap'), {good: 0, bad: 9, partial: 0, unverified: 0, none: 0})
  // Rewritten trace: 18 bad + 21 truncated (tshark status 2).
  assert.deepEqual(count('retransmit-fast009.pcap'), {good: 0, bad: 18, partial: 0, unverified: 21, none: 0})
})

const TSHARK_FILES = [
  'http-get.pcap', 'tcpreplay_test.pcap', 'retransmit-fast009.pcap', 'ftp-bruteforce.pcap', 'mptcp-v1-sll.pcap',
  'test_loopback.pcap', 'openjdk-tls-sll2.pcap', 'ipv6-http-atomic-frag.pcap', 'tcp-truncated-header.pcap',
  'tcp-option-sack.pcap', 'tcp-handshake-nano.pcap', 'vlan-qinqinq.pcap', 'pptp.pcap', 'http-206_example_b.pcap',
]

test('per-packet TCP fields agree with tshark', (t) => {
  if (!requireOrSkip(t, existsSync(manifestPath), `shared capture corpus at ${sharedCaptures}`)) return
  if (!requireOrSkip(t, hasCommand('tshark'), 'tshark (wireshark-common) to cross-check decoded fields')) return
  const fields = ['frame.number', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags',
    'tcp.window_size_value', 'tcp.checksum.status', 'tcp.options.mss_val', 'tcp.options.wscale.shift',
    'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr', 'tcp.options.sack_le', 'tcp.options.sack_re',
    'tcp.len']
  const d = new PacketDecoder()
  let compared = 0
  for (const file of TSHARK_FILES) {
    const out = execFileSync('tshark', ['-r', join(sharedCaptures, file), '-n', '-o', 'tcp.check_checksum:TRUE',
      '-o', 'tcp.relative_sequence_numbers:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-T', 'fields',
      '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f])], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 << 20})
    const rows = new Map<number, string[]>()
    for (const line of out.split('\n')) {
      if (!line) continue
      const cols = line.split('\t')
      rows.set(Number(cols[0]), cols)
    }
    let n = 0
    for (const r of pcapRecords(load(file))) {
      n++
      d.decode(r.linkType, r.data, r.incl, r.orig)
      const row = rows.get(n)
      assert.ok(row, `${file} #${n}: tshark row`)
      const [, sp, dp, seq, ack, flags, win, cks, mss, ws, tsv, tse, sle, sre, len] = row
      if (sp === '') {
        assert.ok(d.transport !== 'tcp' || d.srcPort < 0, `${file} #${n}: tshark sees no TCP`)
        continue
      }
      const at = `${file} #${n}`
      assert.equal(d.transport, 'tcp', at)
      assert.equal(d.srcPort, Number(sp), `${at} srcPort`)
      assert.equal(d.dstPort, Number(dp), `${at} dstPort`)
      assert.equal(d.seq, Number(seq), `${at} seq`)
      assert.equal(d.ack, Number(ack), `${at} ack`)
      assert.equal(d.tcpFlags, Number(flags) & 0xff, `${at} flags`)
      assert.equal(d.window, Number(win), `${at} window`)
      if (d.l4HeaderLen > 0) {
        assert.equal(d.mss, mss === '' ? -1 : Number(mss), `${at} mss`)
        assert.equal(d.wscale, ws === '' ? -1 : Number(ws), `${at} wscale`)
        assert.equal(d.hasTimestamp, tsv !== '', `${at} has TS`)
        if (tsv !== '') {
          assert.equal(d.tsVal, Number(tsv), `${at} tsval`)
          assert.equal(d.tsEcr, Number(tse), `${at} tsecr`)
        }
        const le = sle === '' ? [] : sle.split(',').map(Number)
        const re = sre === '' ? [] : sre.split(',').map(Number)
        assert.deepEqual(Array.from({length: d.sackCount}, (_, i) => d.sackLeft(i)), le, `${at} sack left`)
        assert.deepEqual(Array.from({length: d.sackCount}, (_, i) => d.sackRight(i)), re, `${at} sack right`)
        if (!d.payloadTruncated) assert.equal(d.payloadLen, Number(len), `${at} payload length`)
      }
      // tshark: 0 bad, 1 good, 2 unverified. It has no "partial": that is bad to it.
      const want = cks === '' ? 'unverified' : ['bad', 'good', 'unverified'][Number(cks)]
      const got = d.l4ChecksumStatus === 'partial' ? 'bad' : d.l4ChecksumStatus
      assert.equal(got, want, `${at} checksum status`)
      compared++
    }
  }
  assert.ok(compared > 2000, `${compared} TCP packets compared`)
})

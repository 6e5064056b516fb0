// Our reader + decoder against tshark, frame by frame, over every capture of
// ../shared/captures. The expected values were produced once by
// scripts/make-tshark-goldens.sh (tshark 4.0) and committed in
// test/fixtures/tshark/. Compared: frame count and lengths, IPv4/IPv6
// addresses, ports, TCP flags, raw seq/ack, payload length, window, options
// (MSS, window scale, timestamps, every SACK edge) and checksum status.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {readCapture} from '../../analyzer/capture/read.js'
import {CaptureError} from '../../analyzer/capture/types.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import {loadTsharkGolden, type GoldenRow} from '../support/tshark-golden.js'

const goldenDir = join(repoRoot, 'test', 'fixtures', 'tshark')

type Row = GoldenRow
const loadGolden = (name: string): Row[] => loadTsharkGolden(goldenDir, name)

const first = (v: string) => v.split(',')[0]

interface Ours {
  frame: number
  iface: number
  capLen: number
  origLen: number
  src: string
  dst: string
  ipv6: boolean
  ipStatus: string
  tcp: boolean
  sport: number
  dport: number
  flags: number
  seq: number
  ack: number
  len: number
  window: number
  l4Status: string
  mss: number
  wscale: number
  tsVal: number | null
  tsEcr: number | null
  sack: number[]
  udp: boolean
  frag: boolean
}

async function decodeAll(path: string): Promise<{packets: Ours[]; sections: number; error?: CaptureError}> {
  const dec = new PacketDecoder()
  const packets: Ours[] = []
  let sections = 1
  try {
    const r = await readCapture(path, {
      onPacket: (rec) => {
        const d = dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen)
        const ip = d.network === 'ipv4' || d.network === 'ipv6'
        const tcp = d.transport === 'tcp' && d.srcPort >= 0
        const sack: number[] = []
        for (let i = 0; i < d.sackCount; i++) sack.push(d.sackLeft(i), d.sackRight(i))
        packets.push({
          frame: rec.index, iface: rec.interfaceId, capLen: rec.capLen, origLen: rec.origLen,
          src: ip ? d.srcAddr() : '', dst: ip ? d.dstAddr() : '', ipv6: d.network === 'ipv6', ipStatus: d.ipChecksumStatus,
          tcp, sport: d.srcPort, dport: d.dstPort, flags: d.tcpFlags, seq: d.seq, ack: d.ack, len: d.payloadWireLen,
          window: d.window, l4Status: d.l4ChecksumStatus, mss: d.mss, wscale: d.wscale,
          tsVal: d.hasTimestamp ? d.tsVal : null, tsEcr: d.hasTimestamp ? d.tsEcr : null, sack,
          udp: d.transport === 'udp' && d.srcPort >= 0,
          frag: d.isFragment,
        })
      },
    })
    sections = r.info.sections
  } catch (e) {
    if (e instanceof CaptureError) return {packets, sections, error: e}
    throw e
  }
  return {packets, sections}
}

// tshark's checksum status: 0 bad, 1 good, 2 unverified. Ours adds 'partial'
// (offload pattern): tshark calls those bad.
function statusMatches(tshark: string, ours: string): boolean {
  if (tshark === '') return true // tshark did not verify (e.g. not dissected as such)
  if (tshark === '1') return ours === 'good'
  if (tshark === '0') return ours === 'bad' || ours === 'partial'
  return ours === 'unverified' || ours === 'none'
}

const captures = existsSync(sharedCaptures)
  ? readdirSync(sharedCaptures).filter((f) => !f.startsWith('MANIFEST')).sort()
  : []

test('the tshark goldens cover every shared capture', (t) => {
  if (!requireOrSkip(t, captures.length > 0, `shared captures not found at ${sharedCaptures}`)) return
  for (const f of captures) assert.ok(existsSync(join(goldenDir, `${f}.tsv.gz`)), `no golden for ${f}: run scripts/make-tshark-goldens.sh`)
})

for (const name of captures) {
  test(`decoding agrees with tshark: ${name}`, async () => {
    const golden = loadGolden(name)
    const {packets, sections} = await decodeAll(join(sharedCaptures, name))
    const pcapng = readFileSync(join(sharedCaptures, name)).subarray(0, 4).equals(Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]))
    // tshark 4.0 shows pcapng custom blocks as frames without an interface.
    const rows = pcapng ? golden.filter((r) => r['frame.interface_id'] !== '') : golden
    // tshark stops at the first read error / unsupported section; we read on.
    assert.ok(packets.length >= rows.length, `${name}: we read ${packets.length} packets, tshark ${rows.length}`)
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]
      const p = packets[i]
      const where = `${name} frame ${p.frame} (tshark ${row['frame.number']})`
      assert.equal(p.capLen, Number(row['frame.cap_len']), `${where}: cap_len`)
      assert.equal(p.origLen, Number(row['frame.len']), `${where}: len`)
      if (pcapng && sections === 1) assert.equal(p.iface, Number(row['frame.interface_id']), `${where}: interface`)
      const src = first(row['ip.src']) || first(row['ipv6.src'])
      const dst = first(row['ip.dst']) || first(row['ipv6.dst'])
      // tshark dissects IP inside tunnels (MPLS, GRE, …) that we do not decode;
      // compare addresses only where we decoded an IP header.
      if (p.src !== '') {
        assert.equal(p.src, src, `${where}: source address`)
        assert.equal(p.dst, dst, `${where}: destination address`)
        if (!p.ipv6) assert.ok(statusMatches(first(row['ip.checksum.status']), p.ipStatus), `${where}: ip checksum tshark=${row['ip.checksum.status']} ours=${p.ipStatus}`)
      }
      if (row['tcp.srcport'] !== '' && p.tcp) {
        assert.equal(p.sport, Number(first(row['tcp.srcport'])), `${where}: tcp source port`)
        assert.equal(p.dport, Number(first(row['tcp.dstport'])), `${where}: tcp destination port`)
        assert.equal(p.flags & 0xff, Number(first(row['tcp.flags'])) & 0xff, `${where}: tcp flags`)
        assert.equal(p.seq, Number(first(row['tcp.seq_raw'])), `${where}: seq`)
        assert.equal(p.ack, Number(first(row['tcp.ack_raw'])), `${where}: ack`)
        assert.equal(p.len, Number(first(row['tcp.len'])), `${where}: tcp payload length`)
        assert.equal(p.window, Number(first(row['tcp.window_size_value'])), `${where}: window`)
        assert.ok(statusMatches(first(row['tcp.checksum.status']), p.l4Status), `${where}: tcp checksum tshark=${row['tcp.checksum.status']} ours=${p.l4Status}`)
        if (row['tcp.options.mss_val'] !== '') assert.equal(p.mss, Number(first(row['tcp.options.mss_val'])), `${where}: mss`)
        if (row['tcp.options.wscale.shift'] !== '') assert.equal(p.wscale, Number(first(row['tcp.options.wscale.shift'])), `${where}: wscale`)
        if (row['tcp.options.timestamp.tsval'] !== '') {
          assert.equal(p.tsVal, Number(first(row['tcp.options.timestamp.tsval'])), `${where}: TSval`)
          assert.equal(p.tsEcr, Number(first(row['tcp.options.timestamp.tsecr'])), `${where}: TSecr`)
        }
        if (row['tcp.options.sack_le'] !== '') {
          const le = row['tcp.options.sack_le'].split(',').map(Number)
          const re = row['tcp.options.sack_re'].split(',').map(Number)
          const want = le.flatMap((l, k) => [l, re[k]])
          assert.deepEqual(p.sack, want, `${where}: SACK edges`)
        }
      } else if (row['tcp.srcport'] !== '' && !p.tcp && p.src !== '' && !p.frag) {
        // tshark found TCP where we did not, in a packet whose IP we did decode
        // (fragments excepted: tshark shows TCP on the fragment that completes a
        // reassembly; we decode only what a single frame holds).
        assert.fail(`${where}: tshark dissects TCP, we do not`)
      }
      if (row['udp.srcport'] !== '' && p.udp && row['tcp.srcport'] === '') {
        assert.equal(p.sport, Number(first(row['udp.srcport'])), `${where}: udp source port`)
        assert.equal(p.dport, Number(first(row['udp.dstport'])), `${where}: udp destination port`)
      }
    }
  })
}

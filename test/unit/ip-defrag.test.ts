// IP reassembly for check / sessions (analyzer/flows/ip-defrag.ts): a TCP
// segment sent in fragments (IPv4, or IPv6 Fragment headers) comes out whole,
// at its last fragment's frame, on any link type; overlaps with different
// bytes, snap-length cuts and unfinished datagrams are left as the fragments
// they are.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {concat, pcapHeader, pcapRecord} from '../../analyzer/capture/testing.js'
import {reassembleIp} from '../../analyzer/flows/ip-defrag.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {fragmentIpv4, fragmentIpv6, relinkFrame, withIpv6ExtHeaders, type Link, linkTypeOf} from '../support/trace-transform.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-defrag-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const seg = buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.10', srcPort: 80, dstPort: 20001, seq: 7, ack: 9, ipId: 0x4242, df: false,
  payload: 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n' + 'x'.repeat(50), ethernet: {}})

function run(frames: Uint8Array[], link: Link = 'ethernet', caps: number[] = []): {index: number; linkType: number; data: Uint8Array}[] {
  const p = join(dir, `f${Math.random().toString(36).slice(2)}.pcap`)
  writeFileSync(p, concat(pcapHeader({linkType: linkTypeOf(link)}), ...frames.map((f, i) => {
    const data = relinkFrame(f, link)
    return pcapRecord({sec: 1, frac: i, data: caps[i] !== undefined ? data.subarray(0, caps[i]) : data, origLen: data.length})
  })))
  const out: {index: number; linkType: number; data: Uint8Array}[] = []
  readCaptureSync(p, reassembleIp({onPacket: (r) => { out.push({index: r.index, linkType: r.linkType, data: r.data.slice()}) }}))
  return out
}

const dec = new PacketDecoder()
const whole = (d: Uint8Array) => dec.decode(101, d, d.length, d.length)

const seg6 = buildTcpPacket({src: 'fd00::1', dst: 'fd00::10', srcPort: 80, dstPort: 20001, seq: 7, ack: 9,
  payload: 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n' + 'y'.repeat(50), ethernet: {}})

for (const [family, sent, fragment] of [[4, seg, fragmentIpv4], [6, seg6, fragmentIpv6]] as const) {
  for (const link of ['ethernet', 'vlan', 'sll', 'sll2', 'raw', 'null-le', 'null-be', 'loop'] as Link[]) {
    test(`IPv${family} in order, out of order, with a duplicate (${link}): the packet as sent, at the last fragment, TCP checksum good`, () => {
      const f = fragment(sent, 16)
      assert.equal(f.length, 7)
      for (const order of [f, [f[3]!, f[0]!, f[6]!, f[1]!, f[5]!, f[2]!, f[4]!], [...f.slice(0, 4), f[2]!, ...f.slice(4)]]) {
        const out = run(order, link)
        assert.equal(out.length, order.length, 'one record per frame')
        const r = out[out.length - 1]!
        assert.equal(r.linkType, 101)
        assert.equal(r.index, order.length)
        const d = whole(r.data)
        assert.equal(d.ipVersion, family)
        assert.equal(d.isFragment, false)
        assert.equal(d.transport, 'tcp')
        assert.equal(d.seq, 7)
        assert.equal(d.l4ChecksumStatus, 'good')
        if (family === 4) assert.equal(d.ipChecksumStatus, 'good')
        assert.deepEqual(r.data, sent.subarray(14), 'the packet as sent')
        for (const x of out.slice(0, -1)) assert.equal(dec.decode(x.linkType, x.data, x.data.length, x.data.length).isFragment, true)
      }
    })
  }
}

test('a wrong header checksum on a fragment stays wrong; the rest reassembled', () => {
  const f = fragmentIpv4(seg, 32)
  f[1]![25] ^= 1
  const d = whole(run(f).at(-1)!.data)
  assert.equal(d.ipChecksumStatus, 'bad')
  assert.equal(d.l4ChecksumStatus, 'good')
})

for (const [family, sent, fragment] of [[4, seg, fragmentIpv4], [6, seg6, fragmentIpv6]] as const) {
  test(`IPv${family} not reassembled: overlapping fragments with different bytes, a fragment cut by the snap length, a missing fragment`, () => {
    const f = fragment(sent, 16)
    const evil = f[2]!.slice()
    evil[evil.length - 1] ^= 0xff
    assert.ok(run([...f.slice(0, 3), evil, ...f.slice(3)]).every((r) => r.linkType === 1), 'conflicting overlap')
    assert.ok(run(f, 'ethernet', [undefined as unknown as number, family === 4 ? 30 : 70]).every((r) => r.linkType === 1), 'cut by the snap length')
    assert.ok(run([...f.slice(0, 2), ...f.slice(3)]).every((r) => r.linkType === 1), 'hole')
    // Not a fragment at all: through, byte for byte.
    assert.deepEqual(run([sent])[0]!.data, sent)
  })
}

// ---- IPv6 -------------------------------------------------------------------------------

test('IPv6 fragment vector: the Fragment header after the IPv6 header, byte for byte (RFC 8200 §4.5)', () => {
  const f = fragmentIpv6(seg6, 48, 0x01020304)
  assert.equal(f.length, 3) // 20 + 89 bytes of TCP in 48-byte pieces
  const h = Buffer.from(f[1]!.subarray(14, 14 + 48)).toString('hex')
  // Payload Length 8 + 48 = 0x0038, next header 44; Fragment header: next header 6, offset 48 (6 × 8) with M set, id.
  assert.equal(h.slice(8, 14), '00382c')
  assert.equal(h.slice(80, 96), '0600003101020304')
  assert.equal(Buffer.from(f[2]!.subarray(14 + 40, 14 + 48)).toString('hex'), '0600006001020304') // offset 96, M clear
})

test('IPv6 with hop-by-hop and destination options before the Fragment header: they stay, the Fragment header goes', () => {
  const ext = withIpv6ExtHeaders(seg6)
  const f = fragmentIpv6(ext, 24)
  // The Fragment header follows the destination options: 40 + 16 bytes into each fragment.
  assert.equal(f[0]![14 + 40 + 8], 44)
  const out = run([f[2]!, f[1]!, ...f.slice(3), f[0]!])
  const r = out.at(-1)!
  assert.deepEqual(r.data, ext.subarray(14))
  const d = whole(r.data)
  assert.equal(d.l4ChecksumStatus, 'good')
  assert.equal(d.ipv6ExtCount, 2)
})

test('IPv6: fragments of two packets (two identifications) interleaved; an atomic fragment goes through', () => {
  const f = fragmentIpv6(seg6, 16)
  // Fragments of two packets with different identifications, interleaved: two packets.
  const g = fragmentIpv6(seg6, 16, 7)
  const two = run(f.flatMap((x, i) => [x, g[i]!]))
  assert.equal(two.filter((r) => r.linkType === 101).length, 2)
  // Atomic (one fragment, offset 0, M clear): through as it is; the decoder reads past its Fragment header.
  const atomic = fragmentIpv6(seg6, 4096)
  assert.equal(atomic.length, 1)
  const a = run(atomic)
  assert.equal(a[0]!.linkType, 1)
  assert.deepEqual(a[0]!.data, atomic[0])
  const d = dec.decode(1, a[0]!.data, a[0]!.data.length, a[0]!.data.length)
  assert.equal(d.isFragment, false)
  assert.equal(d.transport, 'tcp')
})

import {test} from 'node:test'
import assert from 'node:assert/strict'
import {
  csumApply, csumApplyPartial, csumDelta16, csumDelta32, csumDeltaBytes, csumUpdate16, csumUpdate32, csumUpdateAddr,
  fold16, internetChecksum, ipv4HeaderChecksum, pseudoHeaderSumV4, rewrite16, rewrite32, sum16, tcpOrUdpChecksum,
} from '../../analyzer/wire/checksum.js'
import {buildTcpPacket, buildUdpPacket, hexToBytes} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {readU16, readU32, writeU16} from '../../analyzer/wire/addr.js'
import {udpCsumApply} from '../../analyzer/wire/udp.js'
import {prng} from '../support/random.js'

test('RFC 1071 §3 example: sum of 00 01 f2 03 f4 f5 f6 f7 folds to 0xddf2', () => {
  // 0x0001 + 0xf203 + 0xf4f5 + 0xf6f7 = 0x2ddf0 -> 0xddf0 + 0x2 = 0xddf2; checksum ~0xddf2 = 0x220d.
  const b = hexToBytes('0001f203f4f5f6f7')
  assert.equal(fold16(sum16(b, 0, b.length)), 0xddf2)
  assert.equal(internetChecksum(b, 0, b.length), 0x220d)
  // Byte order independence (RFC 1071 §2(B)): swapping bytes swaps the sum.
  const sw = hexToBytes('0100 03f2 f5f4 f7f6')
  assert.equal(fold16(sum16(sw, 0, sw.length)), 0xf2dd)
})

test('odd length: the last byte is padded with a zero low byte; unaligned starts work', () => {
  const b = hexToBytes('ff00ab')
  assert.equal(sum16(b, 0, 3), 0xff00 + 0xab00)
  const shifted = hexToBytes('99 0001f203f4f5f6f7')
  assert.equal(fold16(sum16(shifted, 1, 9)), 0xddf2)
  // Lengths around the 8-byte unrolled loop.
  const r = prng(1)
  for (let n = 0; n < 40; n++) {
    const x = Uint8Array.from({length: n}, () => Math.floor(r() * 256))
    let s = 0
    for (let i = 0; i < n; i += 2) s += (x[i] << 8) | (i + 1 < n ? x[i + 1] : 0)
    assert.equal(sum16(x, 0, n), s, `len ${n}`)
  }
})

test('the 32-bit fast path equals the byte-by-byte sum at every alignment and length', () => {
  const r = prng(2)
  const big = Uint8Array.from({length: 2100}, () => Math.floor(r() * 256))
  const naive = (b: Uint8Array, start: number, end: number) => {
    let s = 0
    for (let i = start; i < end; i += 2) s += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0)
    return s
  }
  for (const shift of [0, 1, 2, 3]) {
    const b = big.subarray(shift) // different byteOffset alignments of the same buffer
    for (let len = 0; len <= 300; len++) {
      for (const start of [0, 1, 2, 3, 14, 33]) {
        assert.equal(fold16(sum16(b, start, start + len, 7)), fold16(naive(b, start, start + len) + 7), `shift ${shift} start ${start} len ${len}`)
      }
    }
    assert.equal(fold16(sum16(b, 5, 2000)), fold16(naive(b, 5, 2000)))
  }
  // A fresh buffer (cache miss) and a Node Buffer slice of a pooled allocation.
  const pooled = Buffer.from(big.subarray(0, 500))
  assert.equal(fold16(sum16(pooled, 1, 499)), fold16(naive(pooled, 1, 499)))
})

test('IPv4 header checksum vectors', () => {
  // Classic example header: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7
  // words sum 0x2479c -> fold 0x479e -> ~ = 0xb861
  const h = hexToBytes('450000730000400040110000c0a80001c0a800c7')
  assert.equal(ipv4HeaderChecksum(h, 0, 20), 0xb861)
  // http-get.pcap frame 1 (tcpdump -xx; tshark ip.checksum 0x6dd3, status good):
  //   4500 0040 df8e 4000 4006 6dd3 8d8e e405 c096 bb2b
  // words without the checksum sum to 0x49228 -> fold 0x922c -> ~ = 0x6dd3
  const real = hexToBytes('45000040df8e400040066dd38d8ee405c096bb2b')
  assert.equal(ipv4HeaderChecksum(real, 0, 20), 0x6dd3)
  assert.equal(fold16(sum16(real, 0, 20)), 0xffff)
})

test('TCP/UDP checksum vectors from real packets', () => {
  // http-get.pcap frame 1, from the IP header (tcpdump: cksum 0x3bc0 (correct)):
  const syn = hexToBytes(`
    4500 0040 df8e 4000 4006 6dd3 8d8e e405 c096
    bb2b e9d0 0050 fe21 323a 0000 0000 b002
    ffff 3bc0 0000 0204 05b4 0103 0304 0101
    080a 164a dd20 0000 0000 0402 0000`)
  assert.equal(tcpOrUdpChecksum(syn, 0, 20, 44, 6), 0x3bc0)
  // ip4-tcp-bad-chksum.pcap: tcpdump "cksum 0x0001 (incorrect -> 0x1c60)"
  const bad = hexToBytes('4500 0028 0001 0000 4006 7ccd 7f00 0001 7f00 0001 7530 0050 0000 0000 0000 0000 5002 2000 0001 0000')
  assert.equal(tcpOrUdpChecksum(bad, 0, 20, 20, 6), 0x1c60)
  // LINKTYPE_RAW_ipv6.pcap: UDP over IPv6, "udp sum ok" 0x98b3
  const v6 = hexToBytes(`
    6000 0000 0025 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2620 00fe 0000 0000
    0000 0000 0000 0009 3039 0035 0025 98b3 1234 0100 0001 0000 0000 0000 0765 7861
    6d70 6c65 0363 6f6d 0000 0100 01`)
  assert.equal(tcpOrUdpChecksum(v6, 0, 40, 37, 17), 0x98b3)
  // test_loopback.pcap frame 2 (IPv6 ::1): tcpdump "cksum 0x0028 (incorrect -> 0x96cb)"
  const lo = hexToBytes(`
    6001 8891 0020 0640 0000 0000 0000 0000 0000 0000 0000 0001 0000 0000
    0000 0000 0000 0000 0000 0001 1f90 e5af 0a65 66ef 0897 184a 8010 2302 0028 0000
    0101 080a 05c0 8cfc 05c0 8cfc`)
  assert.equal(tcpOrUdpChecksum(lo, 0, 40, 32, 6), 0x96cb)
})

test('UDP: a computed 0 is sent as 0xFFFF', () => {
  // Find a payload whose checksum computes to 0 by solving for the last word.
  const p = buildUdpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload: new Uint8Array(2)})
  // Choose the 2 payload bytes so the complemented sum is 0: sum (with field 0) must fold to 0xffff.
  const s = fold16(sum16(p, 20, 28 - 2, pseudoHeaderSumV4(p, 12, 16, 17, 10)) + 0) // header minus checksum field
  const need = (0xffff - s) & 0xffff // ones-complement: s + need = 0xffff
  writeU16(p, 28, need)
  assert.equal(tcpOrUdpChecksum(p, 0, 20, 10, 17), 0xffff)
})

// RFC 1624 §4: m = 0x5555 -> m' = 0x3285, the rest of the header sums to 0xCD7A.
// HC = ~(0xCD7A + 0x5555) = ~0x22D0 = 0xDD2F. Full recomputation after the change:
// ~(0xCD7A + 0x3285) = ~0xFFFF = 0x0000.
test('RFC 1624 eqn. 3 corner case: 0x0000, not RFC 1141\'s 0xFFFF', () => {
  const before = hexToBytes('5555 cd7a')
  assert.equal(internetChecksum(before, 0, 4), 0xdd2f)
  const after = hexToBytes('3285 cd7a')
  assert.equal(internetChecksum(after, 0, 4), 0x0000)
  assert.equal(csumUpdate16(0xdd2f, 0x5555, 0x3285), 0x0000)
  // RFC 1141 (HC' = HC + m + ~m', ones-complement add) gives the other zero:
  const rfc1141 = fold16(0xdd2f + 0x5555 + (~0x3285 & 0xffff))
  assert.equal(rfc1141, 0xffff)
  // And the reverse change restores the original.
  assert.equal(csumUpdate16(0x0000, 0x3285, 0x5555), 0xdd2f)
  // A no-op update never produces 0xFFFF.
  assert.equal(csumUpdate16(0x1234, 0xaaaa, 0xaaaa), 0x1234)
})

test('32-bit and address deltas equal two or more 16-bit deltas', () => {
  assert.equal(csumDelta32(0x12345678, 0x9abcdef0), csumDelta16(0x1234, 0x9abc) + csumDelta16(0x5678, 0xdef0))
  const a = hexToBytes('c0a80001'), b = hexToBytes('0a000002')
  assert.equal(csumDeltaBytes(a, 0, b, 0, 4), csumDelta32(0xc0a80001, 0x0a000002))
  assert.equal(csumUpdateAddr(0xb861, a, 0, b, 0, 4), csumUpdate32(0xb861, 0xc0a80001, 0x0a000002))
})

function checkAll(p: Uint8Array, ipOff: number, l4Off: number, l4Len: number, proto: number, v6: boolean, ctx: string): void {
  const field = readU16(p, l4Off + (proto === 6 ? 16 : 6))
  assert.equal(field, tcpOrUdpChecksum(p, ipOff, l4Off, l4Len, proto), `${ctx}: transport checksum`)
  if (!v6) assert.equal(readU16(p, ipOff + 10), ipv4HeaderChecksum(p, ipOff, l4Off - ipOff), `${ctx}: IPv4 checksum`)
}

test('incremental update == full recomputation over 4000 random packets and changes (seeded)', () => {
  const r = prng(0x5eed1624)
  const rnd32 = () => Math.floor(r() * 0x100000000) >>> 0
  const rnd16 = () => Math.floor(r() * 0x10000)
  const d = new PacketDecoder()
  let oddFields = 0
  for (let n = 0; n < 4000; n++) {
    const v6 = r() < 0.4
    const addr = () => v6
      ? Array.from({length: 8}, () => (r() < 0.3 ? 0 : rnd16()).toString(16)).join(':')
      : Array.from({length: 4}, () => Math.floor(r() * 256)).join('.')
    const nsack = Math.floor(r() * 4)
    const layout = r() < 0.5 ? 'compact' : 'linux'
    const withTs = r() < 0.7
    const payload = Uint8Array.from({length: Math.floor(r() * 200)}, () => Math.floor(r() * 256))
    const p = buildTcpPacket({
      src: addr(), dst: addr(), srcPort: rnd16(), dstPort: rnd16(), seq: rnd32(), ack: rnd32(),
      flags: 0x10 | (r() < 0.3 ? 0x08 : 0), window: rnd16(),
      options: {
        // SYN-style options or SACK blocks, as real segments carry (all together overflow 40 bytes).
        mss: nsack === 0 && r() < 0.5 ? rnd16() : undefined,
        wscale: (nsack === 0 || layout === 'compact') && r() < 0.5 ? Math.floor(r() * 15) : undefined,
        timestamp: withTs ? {tsVal: rnd32(), tsEcr: rnd32()} : undefined,
        sack: Array.from({length: nsack}, () => [rnd32(), rnd32()] as [number, number]),
      },
      optionsLayout: layout,
      payload,
      ipv4Options: !v6 && r() < 0.2 ? Uint8Array.of(1, 1, 1, 1) : undefined,
    })
    d.decode(101, p, p.length, p.length)
    assert.equal(d.l4ChecksumStatus, 'good')
    const ipOff = d.ipOffset, l4 = d.l4Offset, csum = l4 + 16
    const ctx = `packet ${n}`
    // The engine's operations (spec §4), in random order and number.
    const ops = 1 + Math.floor(r() * 6)
    for (let k = 0; k < ops; k++) {
      const op = Math.floor(r() * 7)
      if (op === 0) rewrite32(p, csum, l4 + 4, rnd32(), l4) // seq
      else if (op === 1) rewrite32(p, csum, l4 + 8, rnd32(), l4) // ack
      else if (op === 2) rewrite16(p, csum, l4 + 14, rnd16(), l4) // window
      else if (op === 3) rewrite16(p, csum, l4 + (r() < 0.5 ? 0 : 2), rnd16(), l4) // a port
      else if (op === 4 && d.hasTimestamp) {
        const at = d.tsOffset + (r() < 0.5 ? 0 : 4)
        if ((at - l4) & 1) oddFields++
        rewrite32(p, csum, at, rnd32(), l4)
      } else if (op === 5 && d.sackCount > 0) {
        const i = Math.floor(r() * d.sackCount)
        const at = d.sackOffsets[i] + (r() < 0.5 ? 0 : 4)
        if ((at - l4) & 1) oddFields++
        // delta-style: take the delta, write, apply
        const oldV = readU32(p, at), newV = rnd32()
        const delta = csumDelta32(oldV, newV, ((at - l4) & 1) === 1)
        p[at] = newV >>> 24; p[at + 1] = (newV >>> 16) & 0xff; p[at + 2] = (newV >>> 8) & 0xff; p[at + 3] = newV & 0xff
        writeU16(p, csum, csumApply(readU16(p, csum), delta))
      } else if (op === 6) {
        // Address change: one delta for both the IPv4 header and the TCP pseudo-header.
        const len = v6 ? 16 : 4
        const at = ipOff + (v6 ? (r() < 0.5 ? 8 : 24) : (r() < 0.5 ? 12 : 16))
        const nb = Uint8Array.from({length: len}, () => (r() < 0.2 ? 0 : Math.floor(r() * 256)))
        const delta = csumDeltaBytes(p, at, nb, 0, len)
        p.set(nb, at)
        writeU16(p, csum, csumApply(readU16(p, csum), delta))
        if (!v6) writeU16(p, ipOff + 10, csumApply(readU16(p, ipOff + 10), delta))
      }
      checkAll(p, ipOff, l4, d.l4Len, 6, v6, `${ctx} op ${k}`)
    }
  }
  assert.ok(oddFields > 100, `odd-aligned option fields exercised (${oddFields})`)
})

test('incremental update hits the 0x0000 result and still matches recomputation', () => {
  // Construct packets whose updated checksum is exactly 0: pick the new window so
  // the full sum becomes 0xFFFF.
  let hits = 0
  const r = prng(7)
  for (let n = 0; n < 200; n++) {
    const p = buildTcpPacket({src: '10.1.2.3', dst: '10.3.2.1', srcPort: 1000 + n, dstPort: 80,
      seq: Math.floor(r() * 2 ** 32), ack: 1, window: 1000, payload: 'x'.repeat(n)})
    const l4 = 20
    const s = fold16(sum16(p, l4, p.length, pseudoHeaderSumV4(p, 12, 16, 6, p.length - 20)))
    // s includes the window (1000) and the checksum; remove window, find w with s - 1000 + w == 0xffff (and no zero-field trick)
    const hc = readU16(p, l4 + 16)
    const rest = fold16(s + (~1000 & 0xffff) + (~hc & 0xffff)) // sum without window and checksum
    const w = (0xffff - rest) & 0xffff
    if (w === 0) continue
    rewrite16(p, l4 + 16, l4 + 14, w, l4)
    assert.equal(readU16(p, l4 + 16), tcpOrUdpChecksum(p, 0, 20, p.length - 20, 6))
    if (readU16(p, l4 + 16) === 0) hits++
  }
  assert.ok(hits > 150, `reached 0x0000 ${hits} times`)
})

test('UDP incremental update: 0 (absent) stays 0, a 0 result becomes 0xFFFF', () => {
  assert.equal(udpCsumApply(0, csumDelta16(1, 2)), 0)
  assert.equal(udpCsumApply(0xdd2f, csumDelta16(0x5555, 0x3285)), 0xffff)
  const r = prng(99)
  for (let n = 0; n < 1000; n++) {
    const p = buildUdpPacket({src: '192.0.2.1', dst: '198.51.100.7', srcPort: Math.floor(r() * 65536), dstPort: 53,
      payload: Uint8Array.from({length: Math.floor(r() * 64)}, () => Math.floor(r() * 256))})
    const nb = Uint8Array.from({length: 4}, () => Math.floor(r() * 256))
    const delta = csumDeltaBytes(p, 16, nb, 0, 4)
    p.set(nb, 16)
    writeU16(p, 26, udpCsumApply(readU16(p, 26), delta))
    writeU16(p, 10, csumApply(readU16(p, 10), delta))
    assert.equal(readU16(p, 26), tcpOrUdpChecksum(p, 0, 20, p.length - 20, 17))
    assert.equal(readU16(p, 10), ipv4HeaderChecksum(p, 0, 20))
  }
})

test('CHECKSUM_PARTIAL fields follow an address change with csumApplyPartial', () => {
  const p = buildTcpPacket({src: '10.0.1.1', dst: '10.0.2.1', srcPort: 33306, dstPort: 10004, flags: 'S', checksum: 'partial'})
  const d = new PacketDecoder()
  assert.equal(d.decode(228, p, p.length, p.length).l4ChecksumStatus, 'partial')
  const nb = hexToBytes('0a000302')
  const delta = csumDeltaBytes(p, 16, nb, 0, 4)
  p.set(nb, 16)
  writeU16(p, 36, csumApplyPartial(readU16(p, 36), delta))
  writeU16(p, 10, csumApply(readU16(p, 10), delta))
  assert.equal(d.decode(228, p, p.length, p.length).l4ChecksumStatus, 'partial')
  assert.equal(d.ipChecksumStatus, 'good')
  assert.equal(d.l4Checksum, fold16(pseudoHeaderSumV4(p, 12, 16, 6, 20)))
})

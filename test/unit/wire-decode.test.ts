// Byte-exact vectors pasted from real captures in ../shared/captures. Each
// keeps the tcpdump -nn -vv -xx (or tshark -x) dump it came from; expected
// values are the ones tcpdump/tshark print (tshark 4.0 with
// tcp.check_checksum:TRUE for checksum status).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {hexToBytes} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import type {DecodedPacket} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'

const d = new PacketDecoder()

function dec(linkType: number, hex: string, origLen?: number): DecodedPacket {
  const b = hexToBytes(hex)
  return d.decode(linkType, b, b.length, origLen ?? b.length).toJSON()
}

/** Asserts the listed fields only. */
function expectFields(got: DecodedPacket, want: Partial<DecodedPacket>): void {
  for (const [k, v] of Object.entries(want)) {
    assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `field ${k}`)
  }
}

// http-get.pcap frame 1
// 21:42:06.869344 IP (tos 0x0, ttl 64, id 57230, offset 0, flags [DF], proto TCP (6), length 64)
//     141.142.228.5.59856 > 192.150.187.43.80: Flags [S], cksum 0x3bc0 (correct), seq 4263588410, win 65535,
//     options [mss 1460,nop,wscale 4,nop,nop,TS val 374005024 ecr 0,sackOK,eol], length 0
const HTTP_GET_SYN = `
  0010 db88 d2ef c8bc c896 d2a0 0800 4500
  0040 df8e 4000 4006 6dd3 8d8e e405 c096
  bb2b e9d0 0050 fe21 323a 0000 0000 b002
  ffff 3bc0 0000 0204 05b4 0103 0304 0101
  080a 164a dd20 0000 0000 0402 0000`

test('Ethernet IPv4 TCP SYN (http-get.pcap #1): every field', () => {
  const p = dec(LINKTYPE.ETHERNET, HTTP_GET_SYN)
  assert.deepEqual(p, {
    linkType: 1, linkTypeName: 'ETHERNET', capLen: 78, origLen: 78, snaplenTruncated: false,
    linkKind: 'ethernet', linkHeaderLen: 14, ethSrc: 'c8:bc:c8:96:d2:a0', ethDst: '00:10:db:88:d2:ef', linkAddr: '',
    sllPacketType: -1, sllHaType: -1, sllIfIndex: -1, nullFamily: -1, vlans: [], etherType: 0x0800,
    network: 'ipv4', ipOffset: 14, ipVersion: 4, ipHeaderLen: 20, ipTotalLen: 64,
    src: '141.142.228.5', dst: '192.150.187.43', ttl: 64, tos: 0, ipv4Id: 57230, ipv4Flags: 2,
    fragOffset: 0, moreFragments: false, isFragment: false, ipv6AtomicFragment: false, ipv6FragId: -1,
    ipv6FlowLabel: 0, ipv6Ext: [], proto: 6, ipChecksum: 0x6dd3, ipChecksumStatus: 'good',
    transport: 'tcp', l4Offset: 34, l4HeaderLen: 44, l4Len: 44, srcPort: 59856, dstPort: 80,
    seq: 4263588410, ack: 0, tcpFlags: 0x02, flags: 'S', window: 65535, urgent: 0, dataOffset: 11,
    mss: 1460, wscale: 4, sackPermitted: true, sack: [], hasTimestamp: true, tsVal: 374005024, tsEcr: 0,
    unknownOptions: [], udpLength: -1, icmpType: -1, icmpCode: -1,
    l4Checksum: 0x3bc0, l4ChecksumStatus: 'good',
    payloadOffset: 78, payloadLen: 0, payloadWireLen: 0, payloadTruncated: false, anomalies: [],
  })
  // TSval sits after mss(4) nop(1) wscale(3) nop nop(2) kind+len(2): 34 + 20 + 12 = 66.
  assert.equal(d.tsOffset, 66)
  assert.equal(d.l4ChecksumWrong(), false)
})

// tcp-handshake-nano.pcap frame 1 (LINUX_SLL, tshark: sll.pkttype 4 (outgoing), hatype 512, halen 0)
// IP (tos 0x0, ttl 64, id 10665, offset 0, flags [DF], proto TCP (6), length 60)
//   131.155.215.69.46656 > 137.116.81.94.80: Flags [S], cksum 0x50c4 (correct), seq 797190859, win 27200,
//   options [mss 1360,sackOK,TS val 1131021154 ecr 0,nop,wscale 7], length 0
test('Linux cooked v1 (SLL) TCP SYN', () => {
  const p = dec(LINKTYPE.LINUX_SLL, `
    0004 0200 0000 0000 0000 0000 0000 0800
    4500 003c 29a9 4000 4006 db5f 839b d745
    8974 515e b640 0050 2f84 2acb 0000 0000
    a002 6a40 50c4 0000 0204 0550 0402 080a
    436a 0362 0000 0000 0103 0307`)
  expectFields(p, {
    linkKind: 'sll', linkHeaderLen: 16, sllPacketType: 4, sllHaType: 512, linkAddr: '', ethSrc: '',
    etherType: 0x0800, network: 'ipv4', ipOffset: 16, src: '131.155.215.69', dst: '137.116.81.94', ipv4Id: 10665,
    ipChecksumStatus: 'good', srcPort: 46656, dstPort: 80, seq: 797190859, flags: 'S', window: 27200,
    mss: 1360, sackPermitted: true, hasTimestamp: true, tsVal: 1131021154, tsEcr: 0, wscale: 7,
    l4Checksum: 0x50c4, l4ChecksumStatus: 'good', payloadLen: 0, anomalies: [],
  })
})

// openjdk-tls-sll2.pcap frame 1 (LINUX_SLL2)
// 08:52:08.835142 ifb0  Out IP (tos 0x0, ttl 64, id 31655, offset 0, flags [DF], proto TCP (6), length 60)
//   192.168.64.6.55058 > 192.0.78.150.443: Flags [S], cksum 0x3488 (correct), seq 974184494, win 64240,
//   options [mss 1460,sackOK,TS val 2621143545 ecr 0,nop,wscale 7], length 0
test('Linux cooked v2 (SLL2) TCP SYN', () => {
  const p = dec(LINKTYPE.LINUX_SLL2, `
    0800 0000 0000 0002 0001 0406 fa37 dc8d
    afab 0000 4500 003c 7ba7 4000 4006 afcf
    c0a8 4006 c000 4e96 d712 01bb 3a10 e02e
    0000 0000 a002 faf0 3488 0000 0204 05b4
    0402 080a 9c3b 79f9 0000 0000 0103 0307`)
  expectFields(p, {
    linkKind: 'sll2', linkHeaderLen: 20, sllIfIndex: 2, sllHaType: 1, sllPacketType: 4,
    linkAddr: 'fa:37:dc:8d:af:ab', etherType: 0x0800, ipOffset: 20, src: '192.168.64.6', dst: '192.0.78.150',
    srcPort: 55058, dstPort: 443, seq: 974184494, ack: 0, flags: 'S', window: 64240, mss: 1460,
    sackPermitted: true, tsVal: 2621143545, tsEcr: 0, wscale: 7, l4ChecksumStatus: 'good', anomalies: [],
  })
})

// linux_dlt_sll2.pcap frame 1 (tshark: sll.pkttype 0, hatype 772 (loopback), ifindex 1, icmp checksum good)
// lo    In  IP (tos 0x0, ttl 64, id 44940, offset 0, flags [DF], proto ICMP (1), length 84)
//     192.0.2.1 > 192.0.2.1: ICMP echo request, id 8, seq 1, length 64
test('SLL2 ICMP echo', () => {
  const p = dec(LINKTYPE.LINUX_SLL2, `
    0800 0000 0000 0001 0304 0006 0000 0000
    0000 0000 4500 0054 af8c 4000 4001 071a
    c000 0201 c000 0201 0800 66b4 0008 0001
    e9bd f962 0000 0000 e24e 0d00 0000 0000
    1011 1213 1415 1617 1819 1a1b 1c1d 1e1f
    2021 2223 2425 2627 2829 2a2b 2c2d 2e2f
    3031 3233 3435 3637`)
  expectFields(p, {
    sllIfIndex: 1, sllHaType: 772, sllPacketType: 0, linkAddr: '00:00:00:00:00:00', transport: 'icmp',
    icmpType: 8, icmpCode: 0, l4Checksum: 0x66b4, l4ChecksumStatus: 'good', srcPort: -1, payloadLen: 60,
    ipChecksumStatus: 'good', anomalies: [],
  })
})

// test_loopback.pcap frame 2 (NULL, family 30 little-endian = AF_INET6 on macOS)
// IP6 (flowlabel 0x18891, hlim 64, next-header TCP (6) payload length: 32) ::1.8080 > ::1.58799: Flags [.],
//   cksum 0x0028 (incorrect -> 0x96cb), seq 1, ack 484, win 8962, options [nop,nop,TS val 96505084 ecr 96505084], length 0
// 0x0028 = fold(pseudo-header sum) = 0x0001 + 0x0001 + 6 + 32: the CHECKSUM_PARTIAL pattern.
test('NULL/IPv6 loopback with a partial (offloaded) checksum', () => {
  const p = dec(LINKTYPE.NULL, `
    1e00 0000 6001 8891 0020 0640 0000 0000
    0000 0000 0000 0000 0000 0001 0000 0000
    0000 0000 0000 0000 0000 0001 1f90 e5af
    0a65 66ef 0897 184a 8010 2302 0028 0000
    0101 080a 05c0 8cfc 05c0 8cfc`)
  expectFields(p, {
    linkKind: 'null', nullFamily: 30, linkHeaderLen: 4, etherType: 0x86dd, network: 'ipv6', ipVersion: 6,
    ipHeaderLen: 40, ipTotalLen: 72, ipv6FlowLabel: 0x18891, ttl: 64, src: '::1', dst: '::1',
    ipChecksumStatus: 'none', srcPort: 8080, dstPort: 58799, seq: 0x0a6566ef, ack: 0x0897184a, flags: '.',
    window: 8962, hasTimestamp: true, tsVal: 96505084, tsEcr: 96505084, l4Checksum: 0x0028,
    l4ChecksumStatus: 'partial', anomalies: [],
  })
  assert.equal(d.l4ChecksumExpected, 0x96cb)
  assert.ok(d.l4ChecksumWrong() && d.l4ChecksumLooksOffloaded())
})

test('NULL family in both byte orders; LOOP in network order', () => {
  const ip = hexToBytes('4500 0014 0000 4000 4006 0000 0a00 0001 0a00 0002'.replace(/ /g, ''))
  const frame = (hdr: string) => {
    const b = new Uint8Array(4 + ip.length)
    b.set(hexToBytes(hdr))
    b.set(ip, 4)
    return b
  }
  for (const [lt, hdr, fam, net] of [
    [0, '02000000', 2, 'ipv4'], [0, '00000002', 2, 'ipv4'], [108, '00000002', 2, 'ipv4'],
    [0, '18000000', 24, 'ipv6'], [0, '0000001c', 28, 'ipv6'], [108, '0000001e', 30, 'ipv6'],
    [0, '07000000', 7, 'other'],
  ] as const) {
    const b = frame(hdr)
    d.decode(lt, b, b.length, b.length)
    assert.equal(d.nullFamily, fam, hdr)
    assert.equal(d.network, net, hdr)
  }
  assert.ok(d.hasAnomaly('unknown-null-family'))
})

// http-qinq-0.pcap frame 1: the same SYN as http-get #1 behind two 0x8100 tags, TCI 0xb000 (PCP 5, DEI 1, VID 0)
test('QinQ 0x8100/0x8100 (http-qinq-0.pcap #1)', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    0010 db88 d2ef c8bc c896 d2a0 8100 b000
    8100 b000 0800 4500 0040 df8e 4000 4006
    6dd3 8d8e e405 c096 bb2b e9d0 0050 fe21
    323a 0000 0000 b002 ffff 3bc0 0000 0204
    05b4 0103 0304 0101 080a 164a dd20 0000
    0000 0402 0000`)
  expectFields(p, {
    vlans: [{tpid: 0x8100, pcp: 5, dei: true, vid: 0}, {tpid: 0x8100, pcp: 5, dei: true, vid: 0}],
    linkHeaderLen: 22, etherType: 0x0800, ipOffset: 22, l4Offset: 42, seq: 4263588410,
    l4ChecksumStatus: 'good', ipChecksumStatus: 'good', anomalies: [],
  })
})

// vlan-qinqinq.pcap frame 1: three 0x8100 tags, VIDs 30, 20, 10
test('three stacked tags (vlan-qinqinq.pcap #1)', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    0010 db88 d2ef c8bc c896 d2a0 8100 001e
    8100 0014 8100 000a 0800 4500 0040 df8e
    4000 4006 6dd3 8d8e e405 c096 bb2b e9d0
    0050 fe21 323a 0000 0000 b002 ffff 3bc0
    0000 0204 05b4 0103 0304 0101 080a 164a
    dd20 0000 0000 0402 0000`)
  assert.deepEqual(p.vlans.map((v) => v.vid), [30, 20, 10])
  expectFields(p, {linkHeaderLen: 26, ipOffset: 26, srcPort: 59856, l4ChecksumStatus: 'good', anomalies: []})
})

// vlan-pcp-dei.pcapng frame 1 (tshark -x; tshark: PRI 7 DEI 0 ID 10, then PRI 5 DEI 1 ID 20; tcp/ip checksum good)
// 0000  ff ff ff ff ff ff 16 4b df 50 b2 93 81 00 e0 0a
// 0010  81 00 b0 14 08 00 45 00 00 28 00 01 00 00 40 06
// 0020  f6 52 c0 a8 01 64 c0 a8 01 c8 30 39 00 50 00 00
// 0030  03 e8 00 00 00 00 50 02 20 00 d6 f4 00 00
test('VLAN PCP/DEI bits (vlan-pcp-dei.pcapng #1)', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    ffff ffff ffff 164b df50 b293 8100 e00a
    8100 b014 0800 4500 0028 0001 0000 4006
    f652 c0a8 0164 c0a8 01c8 3039 0050 0000
    03e8 0000 0000 5002 2000 d6f4 0000`)
  expectFields(p, {
    vlans: [{tpid: 0x8100, pcp: 7, dei: false, vid: 10}, {tpid: 0x8100, pcp: 5, dei: true, vid: 20}],
    src: '192.168.1.100', dst: '192.168.1.200', srcPort: 12345, dstPort: 80, seq: 1000, flags: 'S',
    l4Checksum: 0xd6f4, l4ChecksumStatus: 'good', ipChecksumStatus: 'good', anomalies: [],
  })
})

// 802.1ad_QinQ.pcap frame 1: S-tag 0x88a8 VID 200, C-tag 0x8100 VID 2001, ARP, padded to 64 bytes
// ARP, Ethernet (len 6), IPv4 (len 4), Request who-has 172.21.79.100 tell 172.21.79.97, length 42
test('802.1ad S-tag + C-tag carrying ARP', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    ffff ffff ffff 0020 d25a fb3f 88a8 00c8
    8100 07d1 0806 0001 0800 0604 0001 0020
    d25a fb3f ac15 4f61 0000 0000 0000 ac15
    4f64 0000 0000 0000 0000 0000 0000 0000`)
  expectFields(p, {
    vlans: [{tpid: 0x88a8, pcp: 0, dei: false, vid: 200}, {tpid: 0x8100, pcp: 0, dei: false, vid: 2001}],
    etherType: 0x0806, network: 'arp', ipOffset: -1, transport: 'none', src: '', anomalies: [],
    ethDst: 'ff:ff:ff:ff:ff:ff', ethSrc: '00:20:d2:5a:fb:3f',
  })
})

test('0x9100 tags are walked too', () => {
  const p = dec(LINKTYPE.ETHERNET, `ffffffffffff 000000000001 9100 2064 86dd 6000`)
  assert.deepEqual(p.vlans, [{tpid: 0x9100, pcp: 1, dei: false, vid: 100}])
  assert.deepEqual(p.anomalies, ['truncated-ip-header'])
})

// LINKTYPE_RAW_ipv6.pcap (101):
// IP6 (hlim 64, next-header UDP (17) payload length: 37) 2001:db8::1.12345 > 2620:fe::9.53: [udp sum ok] 4660+ A? example.com. (29)
const RAW_V6 = `
  6000 0000 0025 1140 2001 0db8 0000 0000
  0000 0000 0000 0001 2620 00fe 0000 0000
  0000 0000 0000 0009 3039 0035 0025 98b3
  1234 0100 0001 0000 0000 0000 0765 7861
  6d70 6c65 0363 6f6d 0000 0100 01`
// LINKTYPE_IPV4.pcap (228) and LINKTYPE_RAW_ipv4.pcap (101), same bytes:
// IP (tos 0x0, ttl 64, id 1, offset 0, flags [none], proto UDP (17), length 57)
//     192.168.1.100.12345 > 9.9.9.9.53: [udp sum ok] 4660+ A? example.com. (29)
const RAW_V4 = `
  4500 0039 0001 0000 4011 a695 c0a8 0164
  0909 0909 3039 0035 0025 1976 1234 0100
  0001 0000 0000 0000 0765 7861 6d70 6c65
  0363 6f6d 0000 0100 01`

test('raw IP link types: RAW 101, DLT 12/14, IPV4 228, IPV6 229', () => {
  for (const lt of [101, 12, 14, 229]) {
    expectFields(dec(lt, RAW_V6), {
      linkKind: 'raw', linkHeaderLen: 0, ipOffset: 0, network: 'ipv6', src: '2001:db8::1', dst: '2620:fe::9',
      transport: 'udp', srcPort: 12345, dstPort: 53, udpLength: 37, l4Checksum: 0x98b3, l4ChecksumStatus: 'good',
      payloadOffset: 48, payloadLen: 29, anomalies: [],
    })
  }
  for (const lt of [101, 12, 14, 228]) {
    expectFields(dec(lt, RAW_V4), {
      network: 'ipv4', src: '192.168.1.100', dst: '9.9.9.9', ipv4Flags: 0, ipChecksum: 0xa695, ipChecksumStatus: 'good',
      transport: 'udp', srcPort: 12345, dstPort: 53, l4Checksum: 0x1976, l4ChecksumStatus: 'good', anomalies: [],
    })
  }
  // 228 insists on IPv4, 229 on IPv6.
  assert.deepEqual(dec(228, RAW_V6).anomalies, ['bad-ip-version'])
  assert.deepEqual(dec(229, RAW_V4).anomalies, ['bad-ip-version'])
})

// ipv6-http-atomic-frag.pcap frame 13: atomic fragment (tshark: tcp.checksum 0x6866 good)
// IP6 (hlim 64, next-header Fragment (44) payload length: 28) 2001:db8:1::2 > 2001:db8:1::1:
//   frag (0x00000000:0|20) 59694 > 80: Flags [S], seq 1770092805, win 8192, length 0
test('IPv6 atomic fragment header', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    aa00 0400 0a04 0010 1895 316a 86dd 6000
    0000 001c 2c40 2001 0db8 0001 0000 0000
    0000 0000 0002 2001 0db8 0001 0000 0000
    0000 0000 0001 0600 0000 0000 0000 e92e
    0050 6981 7905 0000 0000 5002 2000 6866
    0000`)
  expectFields(p, {
    src: '2001:db8:1::2', dst: '2001:db8:1::1', ipv6Ext: [{type: 44, offset: 54, len: 8}], ipHeaderLen: 48,
    ipv6AtomicFragment: true, isFragment: false, ipv6FragId: 0, fragOffset: 0, proto: 6, l4Offset: 62,
    srcPort: 59694, dstPort: 80, seq: 1770092805, flags: 'S', window: 8192, l4Checksum: 0x6866,
    l4ChecksumStatus: 'good', anomalies: [],
  })
})

// ipv6-http-atomic-frag.pcap frame 33: routing header type 0, segleft 0 (tshark: 0xfa87 good)
test('IPv6 routing header before TCP', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    aa00 0400 0a04 0010 1895 316a 86dd 6000
    0000 001c 2b40 2001 0db8 0001 0000 0000
    0000 0000 0002 2001 0db8 0001 0000 0000
    0000 0000 0001 0600 0000 0000 0000 b2ed
    0050 1bc7 6adf 0000 0000 5002 2000 fa87
    0000`)
  expectFields(p, {ipv6Ext: [{type: 43, offset: 54, len: 8}], proto: 6, srcPort: 45805, seq: 466053855,
    l4ChecksumStatus: 'good', anomalies: []})
})

test('IPv6 extension chain hop-by-hop, destination options, fragment (built)', async () => {
  const {buildTcpPacket} = await import('../../analyzer/wire/build.js')
  const b = buildTcpPacket({src: '2001:db8::1', dst: '2001:db8::2', srcPort: 1, dstPort: 2, seq: 5, payload: 'hi',
    ipv6ExtHeaders: [{type: 0}, {type: 60, data: new Uint8Array(12)}, {type: 44, id: 0xdeadbeef}]})
  d.decode(LINKTYPE.IPV6, b, b.length, b.length)
  expectFields(d.toJSON(), {
    ipv6Ext: [{type: 0, offset: 40, len: 8}, {type: 60, offset: 48, len: 16}, {type: 44, offset: 64, len: 8}],
    ipHeaderLen: 72, l4Offset: 72, proto: 6, ipv6AtomicFragment: true, ipv6FragId: 0xdeadbeef,
    l4ChecksumStatus: 'good', payloadLen: 2, anomalies: [],
  })
  const f = buildTcpPacket({src: '2001:db8::1', dst: '2001:db8::2', srcPort: 1, dstPort: 2,
    ipv6ExtHeaders: [{type: 44, fragOffset: 1232, more: true, id: 7}]})
  d.decode(LINKTYPE.IPV6, f, f.length, f.length)
  expectFields(d.toJSON(), {isFragment: true, fragOffset: 1232, moreFragments: true, transport: 'none',
    proto: 6, srcPort: -1, anomalies: ['ip-fragment']})
})

test('IPv6 pseudo-header uses the final destination of a routing header with segments left', async () => {
  const {buildTcpPacket} = await import('../../analyzer/wire/build.js')
  const {parseIpv6, writeU16} = await import('../../analyzer/wire/addr.js')
  const {pseudoHeaderSumV6, sum16, finishChecksum} = await import('../../analyzer/wire/checksum.js')
  // Type 0 routing header, segments left 1, one address (hdr ext len 2): the final destination.
  const data = new Uint8Array(22)
  data[0] = 0; data[1] = 1
  data.set(parseIpv6('2001:db8::99'), 6)
  const b = buildTcpPacket({src: '2001:db8::1', dst: '2001:db8::2', srcPort: 1, dstPort: 2, payload: 'z',
    ipv6ExtHeaders: [{type: 43, data}]})
  // The builder summed over the header's dst field; a receiver would use the final one.
  d.decode(LINKTYPE.IPV6, b, b.length, b.length)
  assert.equal(d.ipv6ExtLens[0], 24)
  assert.equal(d.l4ChecksumStatus, 'bad')
  writeU16(b, d.l4Offset + 16, 0)
  const ph = pseudoHeaderSumV6(b, 8, 40 + 8, 6, d.l4Len)
  writeU16(b, d.l4Offset + 16, finishChecksum(sum16(b, d.l4Offset, b.length, ph)))
  d.decode(LINKTYPE.IPV6, b, b.length, b.length)
  assert.equal(d.l4ChecksumStatus, 'good')
})

// ipv4-fragmented-1.pcap frames 1 and 2
// IP (tos 0x0, ttl 64, id 242, offset 0, flags [+], proto UDP (17), length 38) 164.1.123.163.123 > 164.1.123.61.137
// IP (tos 0x0, ttl 64, id 242, offset 48, flags [none], proto UDP (17), length 136) 164.1.123.163 > 164.1.123.61: ip-proto-17
test('IPv4 fragments: first piece keeps its ports, later pieces have no transport header', () => {
  const first = dec(LINKTYPE.ETHERNET, `
    0060 9712 2f58 0020 afba 7865 0800 4500
    0026 00f2 2000 4011 1af2 a401 7ba3 a401
    7b3d 007b 0089 0012 bfe2 0000 0000 0000
    0000 0000 0000 0000 0000 0000`)
  expectFields(first, {
    ipv4Id: 242, ipv4Flags: 1, moreFragments: true, fragOffset: 0, isFragment: true, transport: 'udp',
    srcPort: 123, dstPort: 137, udpLength: 18, l4ChecksumStatus: 'unverified', ipChecksumStatus: 'good',
    payloadLen: 10, anomalies: ['ip-fragment'],
  })
  const later = dec(LINKTYPE.ETHERNET, `
    0060 9712 2f58 0020 afba 7865 0800 4500
    0088 00f2 0006 4011 3a8a a401 7ba3 a401
    7b3d 007b 0089 0074 bf1e 0000 0000 0000
    ${'0000 '.repeat(50)} 0000 0000 0000`)
  expectFields(later, {
    fragOffset: 48, moreFragments: false, isFragment: true, proto: 17, transport: 'none', srcPort: -1,
    l4ChecksumStatus: 'none', payloadOffset: 34, payloadLen: 116, anomalies: ['ip-fragment'],
  })
})

// tcp-option-sack.pcap frame 4 (tshark: sack_le 1,256,65536,16777216; sack_re 16,4096,1048576,268435456)
// 127.0.0.1.20 > 127.0.0.1.80: Flags [S], cksum 0xda13 (correct), seq 0, win 8192,
//   options [sack 4 {1:16}{256:4096}{65536:1048576}{16777216:268435456},eol], length 0
test('four SACK blocks and their offsets', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    ffff ffff ffff 0000 0000 0000 0800 4500
    004c 0001 0000 4006 7ca9 7f00 0001 7f00
    0001 0014 0050 0000 0000 0000 0000 e002
    2000 da13 0000 0522 0000 0001 0000 0010
    0000 0100 0000 1000 0001 0000 0010 0000
    0100 0000 1000 0000 0000`)
  expectFields(p, {
    sack: [[1, 16], [256, 4096], [65536, 1048576], [16777216, 268435456]], dataOffset: 14,
    l4ChecksumStatus: 'good', anomalies: [],
  })
  assert.deepEqual(Array.from(d.sackOffsets.subarray(0, d.sackCount)), [56, 64, 72, 80])
  assert.equal(d.sackLeft(3), 16777216)
  assert.equal(d.sackRight(3), 268435456)
})

// localhost-bad-chksum.pcap frame 1: sent by the capturing host with offload
// 192.168.1.28.53246 > 35.221.46.9.80: Flags [S], cksum 0x13dd (incorrect -> 0x3007)
// pseudo-header: c0a8 + 011c + 23dd + 2e09 + 0006 + 002c = 0x113dd -> fold 0x13dd == field
test('IPv4 partial checksum (localhost-bad-chksum.pcap #1)', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    f8bc 0e04 0292 0050 b68c f624 0800 4500
    0040 0000 4000 4006 270e c0a8 011c 23dd
    2e09 cffe 0050 d186 d416 0000 0000 b002
    ffff 13dd 0000 0204 05b4 0103 0306 0101
    080a 43f0 396e 0000 0000 0402 0000`)
  expectFields(p, {l4Checksum: 0x13dd, l4ChecksumStatus: 'partial', wscale: 6, tsVal: 1139816814, anomalies: []})
  assert.equal(d.l4ChecksumExpected, 0x3007)
})

// ip4-tcp-bad-chksum.pcap: deliberately wrong checksum
// 127.0.0.1.30000 > 127.0.0.1.80: Flags [S], cksum 0x0001 (incorrect -> 0x1c60), seq 0, win 8192, length 0
test('plainly bad TCP checksum is bad, not partial', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    ffff ffff ffff 0000 0000 0000 0800 4500
    0028 0001 0000 4006 7ccd 7f00 0001 7f00
    0001 7530 0050 0000 0000 0000 0000 5002
    2000 0001 0000`)
  expectFields(p, {l4Checksum: 1, l4ChecksumStatus: 'bad', dataOffset: 5, mss: -1, wscale: -1, hasTimestamp: false})
  assert.equal(d.l4ChecksumExpected, 0x1c60)
  assert.ok(d.l4ChecksumWrong() && !d.l4ChecksumLooksOffloaded())
})

// tcp-truncated-header.pcap frame 1: snaplen 68 of 74, cut inside the TCP options
// 201.186.157.67.60827 > 128.3.26.249.25: Flags [SEW], seq 1041724894, win 5840, options [mss 1460,sackOK,TS [|tcp]>
// (tshark: tcp.checksum.status 2 = unverified)
test('snaplen cut inside TCP options: fixed header kept, checksum unverified', () => {
  const p = dec(LINKTYPE.ETHERNET, `
    eaf6 1c2d 9fd2 800b 983b b9ec 0800 4500
    003c 38e0 4000 3306 0ce2 c9ba 9d43 8003
    1af9 ed9b 0019 3e17 75de 0000 0000 a0c2
    16d0 90d6 0000 0204 05b4 0402 0808 0000
    0001 0000`, 74)
  expectFields(p, {
    snaplenTruncated: true, capLen: 68, origLen: 74, ipTotalLen: 60, srcPort: 60827, dstPort: 25,
    seq: 1041724894, tcpFlags: 0xc2, flags: 'SEW', window: 5840, dataOffset: 10, l4HeaderLen: 0, mss: 1460, sackPermitted: true,
    l4ChecksumStatus: 'unverified', payloadOffset: -1, anomalies: ['snaplen-truncated', 'truncated-tcp-header'],
  })
})

// mptcp-v1-sll.pcap frame 1 (SLL, tcpdump -e: "In 32:32:87:aa:04:02")
// 10.0.1.1.33306 > 10.0.2.1.10004: Flags [S], cksum 0x1734 (incorrect -> 0x667c), seq 2180756989, win 65535,
//   options [mss 1460,sackOK,TS val 464494241 ecr 0,nop,wscale 8,mptcp 4 capable v1], length 0
test('unknown option (MPTCP, kind 30) kept as kind + byte range', () => {
  const p = dec(LINKTYPE.LINUX_SLL, `
    0000 0001 0006 3232 87aa 0402 0000 0800
    4500 0040 ad7f 4000 4006 7637 0a00 0101
    0a00 0201 821a 2714 81fb b5fd 0000 0000
    b002 ffff 1734 0000 0204 05b4 0402 080a
    1baf 9ea1 0000 0000 0103 0308 1e04 0101`)
  expectFields(p, {
    sllPacketType: 0, linkAddr: '32:32:87:aa:04:02', mss: 1460, sackPermitted: true, tsVal: 464494241,
    wscale: 8, unknownOptions: [{kind: 30, offset: 76, len: 4}], l4ChecksumStatus: 'partial', anomalies: [],
  })
  assert.equal(d.l4ChecksumExpected, 0x667c)
})

test('unsupported link types, including ETHERNET_MPACKET', () => {
  for (const lt of [274, 127, 9999]) {
    const p = dec(lt, HTTP_GET_SYN)
    assert.deepEqual(p.anomalies, ['unsupported-link-type'])
    assert.equal(p.network, 'none')
  }
  assert.equal(dec(274, '00').linkTypeName, 'ETHERNET_MPACKET')
  assert.equal(dec(276, '00').linkTypeName, 'LINUX_SLL2')
})

test('tcpdump-style flag strings', async () => {
  const {tcpFlagsString, parseTcpFlags} = await import('../../analyzer/wire/tcp.js')
  assert.equal(tcpFlagsString(0x02), 'S')
  assert.equal(tcpFlagsString(0x12), 'S.')
  assert.equal(tcpFlagsString(0x18), 'P.')
  assert.equal(tcpFlagsString(0x11), 'F.')
  assert.equal(tcpFlagsString(0x19), 'FP.')
  assert.equal(tcpFlagsString(0x04), 'R')
  assert.equal(tcpFlagsString(0x14), 'R.')
  assert.equal(tcpFlagsString(0x10), '.')
  assert.equal(tcpFlagsString(0xc2), 'SEW')
  assert.equal(tcpFlagsString(0), 'none')
  for (let f = 0; f < 256; f++) assert.equal(parseTcpFlags(tcpFlagsString(f)), f)
})

test('the decoder is reusable: fields from a previous packet never leak', () => {
  const big = hexToBytes(HTTP_GET_SYN)
  d.decode(1, big, big.length, big.length)
  assert.equal(d.mss, 1460)
  const arp = hexToBytes('ffffffffffff 002000000001 0806 0001 0800 0604 0001'.replace(/ /g, ''))
  d.decode(1, arp, arp.length, arp.length)
  const p = d.toJSON()
  expectFields(p, {network: 'arp', transport: 'none', mss: -1, hasTimestamp: false, srcPort: -1, seq: 0,
    ipOffset: -1, src: '', l4ChecksumStatus: 'none', ipChecksumStatus: 'none', vlans: [], anomalies: []})
})

test('a frame inside a larger buffer (start offset)', () => {
  const inner = hexToBytes(HTTP_GET_SYN)
  const buf = new Uint8Array(inner.length + 100)
  buf.set(inner, 37)
  d.decode(1, buf, inner.length, inner.length, 37)
  expectFields(d.toJSON(), {ipOffset: 51, l4Offset: 71, srcPort: 59856, src: '141.142.228.5', l4ChecksumStatus: 'good',
    ipChecksumStatus: 'good', anomalies: []})
  assert.equal(d.tsOffset, 37 + 66)
})

test('verifyChecksums: false reports unverified', () => {
  const nd = new PacketDecoder({verifyChecksums: false})
  const b = hexToBytes(HTTP_GET_SYN)
  nd.decode(1, b, b.length, b.length)
  assert.equal(nd.ipChecksumStatus, 'unverified')
  assert.equal(nd.l4ChecksumStatus, 'unverified')
})

// Views read and write in place; reprs round-trip; address formatting.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac} from '../../analyzer/wire/addr.js'
import {WireError} from '../../analyzer/wire/anomaly.js'
import {buildTcpPacket, bytesToHex, hexToBytes} from '../../analyzer/wire/build.js'
import {fold16, pseudoHeaderSumV4, pseudoHeaderSumV6, sum16} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {EthernetView} from '../../analyzer/wire/ethernet.js'
import {Ipv4Repr, Ipv4View} from '../../analyzer/wire/ipv4.js'
import {Ipv6FragmentView, Ipv6Repr, Ipv6View} from '../../analyzer/wire/ipv6.js'
import {LINKTYPE, isDecodableLinkType, linkTypeName} from '../../analyzer/wire/linktype.js'
import {NullView} from '../../analyzer/wire/null.js'
import {SllView} from '../../analyzer/wire/sll.js'
import {Sll2View} from '../../analyzer/wire/sll2.js'
import {TcpOptionsRepr, TcpOptionsView} from '../../analyzer/wire/tcp-options.js'
import {TcpRepr, TcpView} from '../../analyzer/wire/tcp.js'
import {UdpView} from '../../analyzer/wire/udp.js'
import {VlanView} from '../../analyzer/wire/vlan.js'

// http-get.pcap frame 1 (see wire-decode.test.ts for the tcpdump dump)
const SYN = hexToBytes(`
  0010 db88 d2ef c8bc c896 d2a0 0800 4500
  0040 df8e 4000 4006 6dd3 8d8e e405 c096
  bb2b e9d0 0050 fe21 323a 0000 0000 b002
  ffff 3bc0 0000 0204 05b4 0103 0304 0101
  080a 164a dd20 0000 0000 0402 0000`)

test('RFC 5952 IPv6 text', () => {
  const cases: Array<[string, string]> = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:0001', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // IPv4-mapped, §5
    ['2620:00fe::0009', '2620:fe::9'],
  ]
  for (const [input, want] of cases) assert.equal(formatIpv6(parseIpv6(input), 0), want, input)
  assert.throws(() => parseIpv6('1::2::3'))
  assert.throws(() => parseIpv6('1:2:3'))
  assert.equal(parseIpv4('192.0.2.255'), 0xc00002ff)
  assert.throws(() => parseIpv4('256.0.0.1'))
  assert.equal(formatMac(parseMac('AA-bb-cc-dd-ee-0f'), 0), 'aa:bb:cc:dd:ee:0f')
})

test('Ethernet and VLAN views read and write in place', () => {
  const b = SYN.slice()
  const e = EthernetView.checked(b)
  assert.equal(e.dstMac(), '00:10:db:88:d2:ef')
  assert.equal(e.srcMac(), 'c8:bc:c8:96:d2:a0')
  assert.equal(e.etherType, 0x0800)
  e.setDst(parseMac('02:00:00:00:00:be'))
  assert.equal(e.dstMac(), '02:00:00:00:00:be')
  assert.throws(() => EthernetView.checked(b, 0, 13), (err: unknown) => err instanceof WireError && err.anomaly === 'truncated-ethernet')
  const tag = hexToBytes('e00a0800')
  const v = VlanView.checked(tag)
  assert.deepEqual([v.pcp, v.dei, v.vid, v.etherType], [7, false, 10, 0x0800])
  v.pcp = 5; v.dei = true; v.vid = 4094
  assert.equal(bytesToHex(tag), 'bffe0800')
  assert.equal(VlanView.check(tag, 1), 'truncated-vlan')
})

test('SLL, SLL2 and NULL views', () => {
  const sll = SllView.checked(hexToBytes('0000 0001 0006 3232 87aa 0402 0000 0800'.replace(/ /g, '')))
  assert.deepEqual([sll.packetType, sll.haType, sll.addrLen, sll.addr(), sll.protocol, sll.payloadOffset],
    [0, 1, 6, '32:32:87:aa:04:02', 0x0800, 16])
  const sll2 = Sll2View.checked(hexToBytes('0800 0000 0000 0002 0001 0406 fa37 dc8d afab 0000'.replace(/ /g, '')))
  assert.deepEqual([sll2.protocol, sll2.ifIndex, sll2.haType, sll2.packetType, sll2.addrLen, sll2.addr(), sll2.payloadOffset],
    [0x0800, 2, 1, 4, 6, 'fa:37:dc:8d:af:ab', 20])
  assert.equal(SllView.check(new Uint8Array(15), 0), 'truncated-link-header')
  const le = new NullView(hexToBytes('1e000000'))
  assert.deepEqual([le.family, le.ipVersion, le.littleEndian], [30, 6, true])
  const be = new NullView(hexToBytes('00000002'))
  assert.deepEqual([be.family, be.ipVersion, be.littleEndian], [2, 4, false])
  assert.equal(new NullView(hexToBytes('00000018'), 0, true).ipVersion, 6)
  assert.equal(linkTypeName(LINKTYPE.LINUX_SLL2), 'LINUX_SLL2')
  assert.equal(linkTypeName(12), 'RAW')
  assert.equal(linkTypeName(4242), 'LINKTYPE_4242')
  assert.ok(isDecodableLinkType(14) && !isDecodableLinkType(274))
})

test('IPv4 view: getters, setters, checksum; repr round-trip is byte-exact', () => {
  const b = SYN.slice()
  const ip = Ipv4View.checked(b, 14)
  assert.deepEqual([ip.version, ip.headerLen, ip.totalLen, ip.ident, ip.flags, ip.dontFrag, ip.moreFrags, ip.fragOffset,
    ip.ttl, ip.protocol, ip.checksum, ip.srcAddr(), ip.dstAddr(), ip.isFragment],
  [4, 20, 64, 57230, 2, true, false, 0, 64, 6, 0x6dd3, '141.142.228.5', '192.150.187.43', false])
  assert.ok(ip.verifyChecksum())
  const r = Ipv4Repr.parse(ip)
  const out = new Uint8Array(20)
  r.emit(new Ipv4View(out))
  assert.equal(bytesToHex(out), bytesToHex(b.subarray(14, 34)))
  ip.src = parseIpv4('10.9.8.7')
  ip.ttl = 63
  assert.ok(!ip.verifyChecksum())
  ip.fillChecksum()
  assert.ok(ip.verifyChecksum())
  assert.equal(ip.srcAddr(), '10.9.8.7')
  ip.setDstBytes(Uint8Array.of(1, 2, 3, 4))
  assert.equal(ip.dst, 0x01020304)
  assert.equal(Ipv4View.check(b, 14, 33), 'truncated-ip-header')
  b[14] = 0x46
  assert.equal(Ipv4View.check(b, 14, 37), 'truncated-ip-header')
  b[14] = 0x43
  assert.equal(Ipv4View.check(b, 14), 'bad-ip-header-length')
  b[14] = 0x55
  assert.equal(Ipv4View.check(b, 14), 'bad-ip-version')
})

test('IPv6 view, fragment view and repr', () => {
  // LINKTYPE_RAW_ipv6.pcap header (flow label 0, hlim 64, UDP, plen 37)
  const h = hexToBytes('6000 0000 0025 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2620 00fe 0000 0000 0000 0000 0000 0009'.replace(/ /g, ''))
  const v = Ipv6View.checked(h)
  assert.deepEqual([v.version, v.trafficClass, v.flowLabel, v.payloadLen, v.nextHeader, v.hopLimit, v.srcAddr(), v.dstAddr()],
    [6, 0, 0, 37, 17, 64, '2001:db8::1', '2620:fe::9'])
  const out = new Uint8Array(40)
  Ipv6Repr.parse(v).emit(new Ipv6View(out))
  assert.equal(bytesToHex(out), bytesToHex(h))
  v.trafficClass = 0xb8
  v.flowLabel = 0x18891
  assert.equal(bytesToHex(h.subarray(0, 4)), '6b818891')
  assert.deepEqual([v.trafficClass, v.flowLabel], [0xb8, 0x18891])
  v.setSrc(parseIpv6('fe80::1'))
  assert.equal(v.srcAddr(), 'fe80::1')
  assert.equal(Ipv6View.check(h, 0, 39), 'truncated-ip-header')
  const f = new Ipv6FragmentView(hexToBytes('06000529deadbeef'))
  assert.deepEqual([f.nextHeader, f.fragOffset, f.moreFrags, f.ident, f.isAtomic], [6, 0x0528, true, 0xdeadbeef, false])
})

test('TCP view: every setter writes in place; repr round-trip is byte-exact for a Linux SYN', () => {
  const b = SYN.slice()
  const t = TcpView.checked(b, 34)
  assert.deepEqual([t.srcPort, t.dstPort, t.seq, t.ack, t.headerLen, t.flags, t.window, t.checksum, t.urgent, t.flagsString()],
    [59856, 80, 4263588410, 0, 44, 2, 65535, 0x3bc0, 0, 'S'])
  const ph = pseudoHeaderSumV4(b, 26, 30, 6, 44)
  assert.ok(t.verifyChecksum(ph, 44))
  assert.equal(t.computeChecksum(ph, 44), 0x3bc0)
  t.srcPort = 1; t.dstPort = 2; t.seq = 0xfffffffe; t.ack = 0x80000000; t.window = 7; t.urgent = 9; t.flags = 0x18
  assert.equal(bytesToHex(b.subarray(34, 54)), '00010002fffffffe80000000b0180007' + '3bc00009')
  t.fillChecksum(ph, 44)
  assert.ok(t.verifyChecksum(ph, 44))
  assert.equal(TcpView.check(b, 34, 53), 'truncated-tcp-header')
  assert.equal(TcpView.check(b, 34, 70), 'truncated-tcp-header')

  // tcp-handshake-nano.pcap #1 options are in Linux order: mss, sackOK, TS, nop, wscale.
  const nano = hexToBytes(`
    4500 003c 29a9 4000 4006 db5f 839b d745
    8974 515e b640 0050 2f84 2acb 0000 0000
    a002 6a40 50c4 0000 0204 0550 0402 080a
    436a 0362 0000 0000 0103 0307`)
  const nv = new TcpView(nano, 20)
  const repr = TcpRepr.parse(nv)
  assert.deepEqual({...repr.options}, {mss: 1360, sackPermitted: true, timestamp: {tsVal: 1131021154, tsEcr: 0}, wscale: 7, sack: [], unknown: []})
  const out = new Uint8Array(40)
  const ov = new TcpView(out)
  repr.emit(ov)
  ov.checksum = nv.checksum
  assert.equal(bytesToHex(out), bytesToHex(nano.subarray(20)))
})

test('TCP options view: TSval/TSecr and SACK edges in place', () => {
  for (const layout of ['linux', 'compact'] as const) {
    const b = buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, flags: '.', optionsLayout: layout,
      options: {wscale: 3, timestamp: {tsVal: 100, tsEcr: 200}, sack: [[10, 20], [30, 40]]}})
    const o = new TcpView(b, 20).options()
    assert.equal(o.malformedAt, -1)
    assert.deepEqual([o.getTsVal(), o.getTsEcr(), o.sackCount, o.sackLeft(1), o.sackRight(1)], [100, 200, 2, 30, 40])
    o.setTsVal(0xffffffff); o.setTsEcr(1); o.setSackLeft(0, 11); o.setSackRight(1, 0x80000000)
    const d = new PacketDecoder().decode(228, b, b.length, b.length)
    assert.deepEqual([d.tsVal, d.tsEcr, d.sackLeft(0), d.sackRight(0), d.sackLeft(1), d.sackRight(1)],
      [0xffffffff, 1, 11, 20, 30, 0x80000000], layout)
    assert.equal(d.l4ChecksumStatus, 'bad') // the view leaves checksums to the caller
    assert.throws(() => o.sackLeft(2), RangeError)
  }
  const none = new TcpOptionsView(new Uint8Array(4), 0, 4)
  assert.throws(() => none.setTsVal(1), RangeError)
})

test('TcpOptionsRepr: length() matches emit(), parse(emit(x)) == x, malformed parse throws', () => {
  const combos: ConstructorParameters<typeof TcpOptionsRepr>[0][] = [
    {}, {mss: 536}, {sackPermitted: true}, {wscale: 14}, {timestamp: {tsVal: 1, tsEcr: 2}},
    {mss: 1460, sackPermitted: true, timestamp: {tsVal: 3, tsEcr: 0}, wscale: 7},
    {mss: 1460, sackPermitted: true, wscale: 7},
    {timestamp: {tsVal: 5, tsEcr: 6}, sack: [[1, 2], [3, 4], [5, 6]]},
    {sack: [[1, 2], [3, 4], [5, 6], [7, 8]]},
    {mss: 1400, unknown: [{kind: 30, data: Uint8Array.of(0x81, 0x01)}]},
  ]
  for (const c of combos) {
    for (const layout of ['linux', 'compact'] as const) {
      const r = new TcpOptionsRepr(c)
      const buf = new Uint8Array(44)
      const n = r.emit(buf, 0, layout)
      assert.equal(n, r.length(layout), JSON.stringify(c))
      assert.equal(n % 4, 0)
      assert.deepEqual(TcpOptionsRepr.parse(buf, 0, n), r)
    }
  }
  assert.throws(() => TcpOptionsRepr.parse(Uint8Array.of(2, 4, 5), 0, 3), WireError)
  assert.throws(() => new TcpOptionsRepr({mss: 1, timestamp: {tsVal: 1, tsEcr: 1}, sack: [[1, 2], [3, 4], [5, 6], [7, 8]]}).emit(new Uint8Array(64), 0))
})

test('UDP view and the builder: Ethernet + VLAN + IPv6 + TCP with correct checksums', () => {
  const b = buildTcpPacket({src: '2001:db8::a', dst: '2001:db8::b', srcPort: 443, dstPort: 50000, seq: 7, ack: 9, flags: 'P.',
    options: {timestamp: {tsVal: 1, tsEcr: 2}}, payload: 'hello', ethernet: {src: '02:00:00:00:00:0a', vlans: [{vid: 100, pcp: 3}]}})
  const d = new PacketDecoder().decode(1, b, b.length, b.length)
  assert.deepEqual([d.ethSrc(), d.vlanCount, d.vlanVids[0], d.vlanPcps[0], d.srcAddr(), d.dstAddr(), d.flagsString(),
    d.payloadLen, d.l4ChecksumStatus, d.anomalyCount], ['02:00:00:00:00:0a', 1, 100, 3, '2001:db8::a', '2001:db8::b', 'P.', 5, 'good', 0])
  assert.equal(new TextDecoder().decode(b.subarray(d.payloadOffset, d.payloadOffset + d.payloadLen)), 'hello')
  const ph = pseudoHeaderSumV6(b, d.ipSrcOffset, d.ipDstOffset, 6, d.l4Len)
  assert.equal(fold16(sum16(b, d.l4Offset, b.length, ph)), 0xffff)
  // UDP view over LINKTYPE_IPV4.pcap's datagram
  const u = hexToBytes('3039 0035 0025 1976'.replace(/ /g, ''))
  const uv = UdpView.checked(u)
  assert.deepEqual([uv.srcPort, uv.dstPort, uv.length, uv.checksum], [12345, 53, 37, 0x1976])
  assert.equal(UdpView.check(u, 1), 'truncated-udp-header')
  // Partial checksums from the builder are recognised.
  const p = buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, checksum: 'partial'})
  assert.equal(new PacketDecoder().decode(228, p, p.length, p.length).l4ChecksumStatus, 'partial')
})

// Malformed and truncated input: every layer gives its named anomaly, the
// decoder never throws, and whatever it reports stays inside the capture.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {buildTcpPacket, buildUdpPacket, hexToBytes} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {ANOMALIES} from '../../analyzer/wire/anomaly.js'
import {ipv4HeaderChecksum} from '../../analyzer/wire/checksum.js'

const d = new PacketDecoder()

function anomalies(lt: number, b: Uint8Array, capLen = b.length, origLen = capLen): string[] {
  d.decode(lt, b, capLen, origLen)
  return d.anomalies.slice(0, d.anomalyCount)
}

/** Fixes the IPv4 header checksum after a test edits the header (ihl at ipOff). */
function refixIp(b: Uint8Array, ipOff: number): void {
  const hl = (b[ipOff] & 15) * 4
  const c = ipv4HeaderChecksum(b, ipOff, Math.max(20, Math.min(hl, b.length - ipOff)))
  b[ipOff + 10] = c >> 8
  b[ipOff + 11] = c & 0xff
}

const eth = () => buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1234, dstPort: 80, seq: 1, ack: 2,
  options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: 1, tsEcr: 2}, wscale: 7}, payload: 'hello',
  ethernet: {vlans: [{vid: 10, tpid: 0x88a8}, {vid: 20}]}})

test('truncation at every byte of a VLAN/IPv4/TCP frame, both as impossible lengths and as snaplen cuts', () => {
  const full = eth() // 14 + 8 (tags) + 20 (IP) + 40 (TCP) + 5
  assert.equal(full.length, 87)
  for (let cut = 0; cut < full.length; cut++) {
    const b = full.slice(0, cut)
    // caplen == origlen: the lengths inside are impossible.
    const imp = anomalies(1, b)
    // caplen < origlen: the snaplen cut the frame.
    const snap = anomalies(1, b, cut, full.length)
    let want: string[]
    if (cut < 14) want = ['truncated-ethernet']
    else if (cut < 22) want = ['truncated-vlan']
    else if (cut < 42) want = ['truncated-ip-header']
    else {
      const lenIssue = 'ip-total-length-exceeds-capture'
      // TCP header: 20 fixed + 20 options bytes, 62..82
      if (cut < 82) want = [lenIssue, 'truncated-tcp-header']
      else want = [lenIssue]
      assert.deepEqual(snap, want.map((a) => (a === lenIssue ? 'snaplen-truncated' : a)), `snap cut ${cut}`)
      assert.equal(d.srcPort, cut >= 62 ? 1234 : -1, `cut ${cut}: fixed TCP header kept`)
      if (cut >= 82) {
        assert.equal(d.l4ChecksumStatus, 'unverified', `cut ${cut}`)
        assert.equal(d.payloadTruncated, true)
        assert.equal(d.payloadWireLen, 5)
        assert.equal(d.payloadLen, cut - 82)
      }
    }
    assert.deepEqual(imp, want, `impossible cut ${cut}`)
    if (cut < 42) assert.deepEqual(snap, want, `snap cut ${cut}`)
  }
  // The fixed TCP header is kept when only the options are cut, and so are
  // the options captured before the cut (MSS here), as tshark does.
  d.decode(1, full, 70, full.length)
  assert.equal(d.srcPort, 1234)
  assert.equal(d.seq, 1)
  assert.equal(d.mss, 1460)
  assert.deepEqual(d.anomalies.slice(0, d.anomalyCount), ['snaplen-truncated', 'truncated-tcp-header'])
})

test('IPv4 header: bad version, bad IHL, options cut, total length < IHL, total length 0 (TSO)', () => {
  const v4 = () => buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload: 'abc',
    ipv4Options: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1)})
  let b = v4()
  b[0] = 0x65
  assert.deepEqual(anomalies(228, b), ['bad-ip-version'])
  assert.deepEqual(anomalies(1, hexToBytes('ffffffffffff 000000000001 0800 65'.replace(/ /g, ''))), ['bad-ip-version'])
  b = v4()
  b[0] = 0x44
  assert.deepEqual(anomalies(228, b), ['bad-ip-header-length'])
  assert.equal(d.ipHeaderLen, 0)
  b = v4()
  assert.deepEqual(anomalies(228, b.slice(0, 24)), ['truncated-ip-header']) // IHL 7 = 28 bytes, 24 captured
  b = v4()
  b[2] = 0; b[3] = 20 // total 20 < IHL 28
  refixIp(b, 0)
  assert.deepEqual(anomalies(228, b), ['bad-ip-total-length'])
  assert.equal(d.transport, 'none')
  b = v4()
  b[2] = 0; b[3] = 0
  refixIp(b, 0)
  assert.deepEqual(anomalies(228, b), ['ip-total-length-zero'])
  assert.equal(d.l4ChecksumStatus, 'good') // length taken from the capture
  assert.equal(d.payloadLen, 3)
  // Ethernet padding after a short datagram is not payload.
  b = new Uint8Array(v4().length + 6)
  b.set(v4())
  assert.deepEqual(anomalies(228, b), [])
  assert.equal(d.payloadLen, 3)
  assert.equal(d.l4ChecksumStatus, 'good')
})

test('IPv6: truncated header, truncated and overlong extension headers, jumbogram', () => {
  const mk = () => buildTcpPacket({src: '2001:db8::1', dst: '2001:db8::2', srcPort: 1, dstPort: 2, payload: 'xy',
    ipv6ExtHeaders: [{type: 0}, {type: 60, data: new Uint8Array(14)}]}) // 40 + 8 + 16 + 20 + 2
  const full = mk()
  assert.equal(full.length, 86)
  assert.deepEqual(anomalies(229, full.slice(0, 39)), ['truncated-ip-header'])
  for (let cut = 40; cut < 64; cut++) {
    assert.deepEqual(anomalies(229, full.slice(0, cut)), ['ip-total-length-exceeds-capture', 'truncated-ipv6-ext-header'], `cut ${cut}`)
    assert.deepEqual(anomalies(229, full.slice(0, cut), cut, full.length), ['snaplen-truncated', 'truncated-ipv6-ext-header'])
    assert.equal(d.transport, 'none')
  }
  // Payload length too short for the extension headers it announces.
  const b = mk()
  b[4] = 0; b[5] = 12
  assert.deepEqual(anomalies(229, b), ['bad-ipv6-ext-header-length'])
  assert.equal(d.ipv6ExtCount, 1)
  assert.equal(d.proto, 60)
  // Jumbogram: payload length 0 with hop-by-hop.
  const j = mk()
  j[4] = 0; j[5] = 0
  assert.deepEqual(anomalies(229, j), ['ipv6-jumbogram'])
  assert.equal(d.transport, 'tcp')
  // No next header (59).
  const n = mk()
  n[6] = 59
  assert.deepEqual(anomalies(229, n), [])
  assert.equal(d.transport, 'none')
})

test('TCP: data offset below 5, beyond the segment, beyond the capture', () => {
  const mk = () => buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload: 'abcd'})
  let b = mk()
  b[32] = 0x40 // doff 4
  assert.deepEqual(anomalies(228, b), ['bad-tcp-data-offset'])
  assert.equal(d.srcPort, 1) // fixed fields kept
  b = mk()
  b[32] = 0xf0 // 60-byte header in a 24-byte segment
  assert.deepEqual(anomalies(228, b), ['bad-tcp-data-offset'])
  b = mk()
  assert.deepEqual(anomalies(228, b.slice(0, 39)), ['ip-total-length-exceeds-capture', 'truncated-tcp-header'])
})

test('TCP options: malformed lengths never throw; what came before is kept', () => {
  const cases: Array<[string, number[], Partial<Record<'mss' | 'wscale' | 'sackCount' | 'hasTimestamp', unknown>>]> = [
    ['zero length', [2, 4, 5, 180, 30, 0, 0, 0], {mss: 1460}],
    ['length 1', [2, 4, 5, 180, 30, 1, 0, 0], {mss: 1460}],
    ['runs past the header', [2, 4, 5, 180, 8, 10, 0, 0], {mss: 1460, hasTimestamp: false}],
    ['kind without length byte', [1, 1, 1, 8], {mss: -1}],
    ['MSS of length 5 (skipped, scan goes on)', [2, 5, 5, 180, 0, 3, 3, 7], {mss: -1, wscale: 7}],
    ['SACK of odd length', [5, 7, 0, 0, 0, 1, 0, 0], {sackCount: 0}],
    ['timestamp of length 8', [8, 8, 0, 0, 0, 1, 0, 0], {hasTimestamp: false}],
  ]
  for (const [name, opts, want] of cases) {
    const b = buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, rawOptions: Uint8Array.from(opts)})
    assert.deepEqual(anomalies(228, b), ['bad-tcp-option-length'], name)
    for (const [k, v] of Object.entries(want)) assert.equal((d as unknown as Record<string, unknown>)[k], v, `${name}: ${k}`)
    assert.equal(d.l4ChecksumStatus, 'good', name)
  }
  // EOL ends the list: garbage after it is padding, not an error.
  const b = buildTcpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, rawOptions: Uint8Array.of(3, 3, 2, 0, 99, 0, 1, 2)})
  assert.deepEqual(anomalies(228, b), [])
  assert.equal(d.wscale, 2)
})

test('UDP and ICMP: truncated headers, impossible UDP length, checksum 0 over IPv4', () => {
  const u = buildUdpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 5, dstPort: 53, payload: 'query'})
  assert.deepEqual(anomalies(228, u.slice(0, 27)), ['ip-total-length-exceeds-capture', 'truncated-udp-header'])
  let b = u.slice()
  b[24] = 0; b[25] = 4 // UDP length 4 < 8
  assert.deepEqual(anomalies(228, b), ['bad-udp-length'])
  assert.equal(d.l4ChecksumStatus, 'unverified')
  b = u.slice()
  b[24] = 0; b[25] = 200
  assert.deepEqual(anomalies(228, b), ['bad-udp-length'])
  b = u.slice()
  b[26] = 0; b[27] = 0
  assert.deepEqual(anomalies(228, b), [])
  assert.equal(d.l4ChecksumStatus, 'none')
  // Over IPv6 a zero UDP checksum is simply wrong.
  const u6 = buildUdpPacket({src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5, dstPort: 53, checksum: 0})
  assert.deepEqual(anomalies(229, u6), [])
  assert.equal(d.l4ChecksumStatus, 'bad')
  // ICMP cut after 2 bytes.
  const icmp = hexToBytes('4500 0016 0000 0000 4001 0000 0a00 0001 0a00 0002 0800'.replace(/ /g, ''))
  refixIp(icmp, 0)
  assert.deepEqual(anomalies(228, icmp), ['truncated-icmp-header'])
})

test('cooked and loopback headers cut short', () => {
  assert.deepEqual(anomalies(113, new Uint8Array(15)), ['truncated-link-header'])
  assert.deepEqual(anomalies(276, new Uint8Array(19)), ['truncated-link-header'])
  assert.deepEqual(anomalies(0, new Uint8Array(3)), ['truncated-link-header'])
  assert.deepEqual(anomalies(108, new Uint8Array(2)), ['truncated-link-header'])
  assert.deepEqual(anomalies(101, new Uint8Array(0)), ['truncated-ip-header'])
  assert.deepEqual(anomalies(1, new Uint8Array(0)), ['truncated-ethernet'])
  // capLen larger than the buffer is clamped, negative capLen is 0.
  assert.deepEqual(anomalies(1, new Uint8Array(10), 1000, 1000), ['truncated-ethernet'])
  assert.equal(d.capLen, 10)
  assert.deepEqual(anomalies(1, new Uint8Array(10), -5, 10), ['truncated-ethernet'])
  assert.equal(d.capLen, 0)
})

test('every anomaly name the decoder emits is declared', () => {
  const declared = new Set<string>(ANOMALIES)
  const seen = new Set<string>()
  const r = (() => { let a = 12345; return () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32) })()
  const seeds = [
    eth(),
    buildTcpPacket({src: '2001:db8::1', dst: '2001:db8::2', srcPort: 1, dstPort: 2, seq: 9, payload: 'hey',
      options: {sack: [[1, 2], [3, 4]], timestamp: {tsVal: 5, tsEcr: 6}},
      ipv6ExtHeaders: [{type: 0}, {type: 43, data: new Uint8Array(6)}, {type: 44}], ethernet: {}}),
    buildUdpPacket({src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, payload: 'x', ethernet: {vlans: [{vid: 1}]}}),
  ]
  // Fuzz: flip bytes, cut, and lie about lengths; decode under every link type. Never throws, and every
  // offset reported stays inside the captured bytes.
  for (let i = 0; i < 30000; i++) {
    const s = seeds[i % seeds.length]
    const b = s.slice()
    const flips = 1 + Math.floor(r() * 4)
    for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256)
    const cap = Math.floor(r() * (b.length + 1))
    const orig = r() < 0.5 ? cap : b.length
    const lt = [1, 1, 1, 113, 276, 0, 101, 228, 229, 274][Math.floor(r() * 10)]
    d.decode(lt, b, cap, orig)
    for (let k = 0; k < d.anomalyCount; k++) seen.add(d.anomalies[k])
    const end = d.end
    if (d.l4HeaderLen > 0) assert.ok(d.l4Offset + d.l4HeaderLen <= end)
    if (d.payloadOffset >= 0) assert.ok(d.payloadOffset + d.payloadLen <= end && d.payloadLen >= 0)
    if (d.tsOffset >= 0) assert.ok(d.tsOffset + 8 <= end)
    for (let k = 0; k < d.sackCount; k++) assert.ok(d.sackOffsets[k] + 8 <= end)
    for (let k = 0; k < d.unknownOptCount; k++) assert.ok(d.unknownOptOffsets[k] + d.unknownOptLens[k] <= end)
    for (let k = 0; k < d.ipv6ExtCount; k++) assert.ok(d.ipv6ExtOffsets[k] + d.ipv6ExtLens[k] <= end)
    if (d.ipHeaderLen > 0) assert.ok(d.ipOffset + d.ipHeaderLen <= end)
    d.toJSON() // formatting never throws either
  }
  for (const a of seen) assert.ok(declared.has(a), `undeclared anomaly ${a}`)
  assert.ok(seen.size >= 12, `fuzz reached ${seen.size} anomaly kinds: ${[...seen].join(', ')}`)
})

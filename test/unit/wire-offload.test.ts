// The decoder on offloaded segments as a capture on the sending host shows
// them (TSO/GSO: IPv4 total length 0, checksum partial) and cut by the snap
// length: the checksum that cannot be summed is 'unverified', never 'bad'.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'

const dec = new PacketDecoder()
const payload = new Uint8Array(4000).map((_, i) => (i * 13) & 255)

/** A 4000-byte TSO segment as captured on its sender: checksum partial, and IP total length 0 if asked. */
function tso(zeroLength: boolean): Uint8Array {
  const b = buildTcpPacket({src: '10.0.0.2', dst: '10.0.0.10', srcPort: 80, dstPort: 20001, seq: 1000, ack: 2000, payload, ethernet: {}, checksum: 'partial'})
  if (zeroLength) {
    b[16] = 0
    b[17] = 0
    // The header checksum of the header as it is (Linux fills it in on the sender).
    b[24] = 0
    b[25] = 0
    let s = 0
    for (let i = 14; i < 34; i += 2) s += (b[i]! << 8) | b[i + 1]!
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
    b[24] = (~s >> 8) & 255
    b[25] = ~s & 255
  }
  return b
}

test('TSO segment, whole: checksum partial (with or without the IPv4 length), IP header good', () => {
  for (const z of [false, true]) {
    const b = tso(z)
    const d = dec.decode(LINKTYPE.ETHERNET, b, b.length, b.length)
    assert.equal(d.l4ChecksumStatus, 'partial', `zero length ${z}`)
    assert.equal(d.ipChecksumStatus, 'good')
    assert.equal(d.payloadWireLen, 4000)
    assert.equal(d.hasAnomaly('ip-total-length-zero'), z)
  }
})

test('TSO segment with IPv4 total length 0, cut by the snap length: length from the wire length, checksum unverified', () => {
  const b = tso(true)
  for (const cap of [54, 200, 1514]) {
    const d = dec.decode(LINKTYPE.ETHERNET, b, cap, b.length)
    assert.equal(d.l4ChecksumStatus, 'unverified', `caplen ${cap}`)
    assert.equal(d.payloadWireLen, 4000, `caplen ${cap}`)
    assert.equal(d.payloadLen, cap - 54)
    assert.equal(d.payloadTruncated, cap < b.length)
  }
})

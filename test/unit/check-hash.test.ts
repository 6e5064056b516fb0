// payloadHash (correlate/payload-hash.ts) reads whole 32-bit words of the
// capture buffer when it can: the same payload must hash the same whatever
// its alignment in the buffer and however close it sits to the buffer's end
// (copies of one segment at two views never sit at the same place), and a
// change of any one byte must change the hash. The sum it leaves
// (payloadSum) stands for sum16 over the same bytes in the TCP checksum
// (PacketDecoder.verifyNow): it must fold the same, and be zero only when
// sum16 is.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {payloadHash, payloadSum} from '../../analyzer/correlate/payload-hash.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {fold16, sum16} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {prng, randInt} from '../support/random.js'

test('payloadHash: same bytes, same hash at any alignment and buffer end', () => {
  const r = prng(7)
  for (const n of [0, 1, 3, 4, 5, 31, 32, 33, 63, 64, 65, 100, 1448, 1500]) {
    const data = new Uint8Array(n)
    for (let i = 0; i < n; i++) data[i] = randInt(r, 0, 255)
    const ref = payloadHash(data, 0, n)
    for (let off = 0; off < 8; off++) {
      for (let pad = 0; pad < 5; pad++) {
        const big = new Uint8Array(off + n + pad)
        big.set(data, off)
        assert.equal(payloadHash(big, off, off + n), ref, `n ${n} offset ${off} padding ${pad}`)
        assert.equal(fold16(payloadSum()), fold16(sum16(data, 0, n)), `sum: n ${n} offset ${off} padding ${pad}`)
        // The same through a view that does not start at the buffer's start.
        if (off > 0) assert.equal(payloadHash(new Uint8Array(big.buffer, 1, big.length - 1), off - 1, off - 1 + n), ref, `n ${n} view offset 1`)
      }
    }
  }
})

test('payloadHash: one byte changed anywhere changes the hash', () => {
  const r = prng(11)
  for (const n of [1, 5, 40, 1448]) {
    const data = new Uint8Array(n + 3)
    for (let i = 0; i < data.length; i++) data[i] = randInt(r, 0, 255)
    const ref = payloadHash(data, 3, n + 3)
    for (let i = 3; i < n + 3; i++) {
      const d = data.slice()
      d[i] ^= 1 << randInt(r, 0, 7)
      assert.notEqual(payloadHash(d, 3, n + 3), ref, `n ${n}: byte ${i - 3} changed`)
    }
  }
})

test('payloadSum: folds as sum16 does, zero only for a zero sum', () => {
  const r = prng(13)
  const fills: ((i: number) => number)[] = [() => 0, () => 0xff, (i) => (i & 1 ? 0xff : 0), () => randInt(r, 0, 255)]
  for (const fill of fills) {
    for (const n of [0, 1, 2, 31, 32, 33, 34, 35, 36, 37, 64, 1447, 1448, 9000, 65495]) {
      const data = new Uint8Array(n)
      for (let i = 0; i < n; i++) data[i] = fill(i)
      const want = sum16(data, 0, n)
      for (let off = 0; off < 4; off++) {
        const big = new Uint8Array(off + n + (off & 1))
        big.set(data, off)
        payloadHash(big, off, off + n)
        const got = payloadSum()
        assert.equal(fold16(got), fold16(want), `n ${n} offset ${off}`)
        assert.equal(got === 0, want === 0, `n ${n} offset ${off}: zero`)
      }
    }
  }
})

test('verifyNow with the payload\'s sum: the verdicts and expected checksum of a full verification', () => {
  const r = prng(17)
  const full = new PacketDecoder()
  const lazy = new PacketDecoder({verifyChecksums: false})
  let seen = 0
  for (let k = 0; k < 400; k++) {
    const n = randInt(r, 0, 3) === 0 ? randInt(r, 0, 40) : randInt(r, 0, 3000)
    const payload = new Uint8Array(n)
    for (let i = 0; i < n; i++) payload[i] = randInt(r, 0, 255)
    const v6 = randInt(r, 0, 1) === 1
    const checksum = (['good', 'partial', randInt(r, 0, 0xffff)] as const)[randInt(r, 0, 2)]!
    const p = buildTcpPacket({src: v6 ? 'fd00::1' : '10.77.0.1', dst: v6 ? 'fd00::2' : '10.77.0.2', srcPort: 40000, dstPort: 80,
      seq: randInt(r, 0, 0xffffffff), payload, options: randInt(r, 0, 1) === 1 ? {mss: 1460, sackPermitted: true} : {}, checksum})
    // Now and then a payload byte changed after the checksum was written.
    if (n > 0 && randInt(r, 0, 3) === 0) p[p.length - 1 - randInt(r, 0, n - 1)] ^= 0x10
    // At an odd place in a larger buffer too (a capture chunk).
    const pad = randInt(r, 0, 3)
    const buf = new Uint8Array(pad + p.length + randInt(r, 0, 3))
    buf.set(p, pad)
    const a = full.decode(101, p, p.length, p.length)
    const b = lazy.decode(101, buf, p.length, p.length, pad)
    payloadHash(b.bytes, b.payloadOffset, b.payloadOffset + b.payloadLen)
    b.verifyNow(payloadSum())
    const ctx = `packet ${k}: ${n} bytes, checksum ${checksum}`
    assert.equal(b.l4ChecksumStatus, a.l4ChecksumStatus, ctx)
    assert.equal(b.ipChecksumStatus, a.ipChecksumStatus, ctx)
    if (a.l4ChecksumStatus !== 'good') assert.equal(b.l4ChecksumExpected, a.l4ChecksumExpected, ctx)
    seen |= 1 << ['good', 'partial', 'bad'].indexOf(a.l4ChecksumStatus)
  }
  assert.equal(seen, 7, 'good, partial and bad verdicts all exercised')
})

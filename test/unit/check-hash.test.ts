// payloadHash (correlate/assemble.ts) reads whole 32-bit words of the
// capture buffer when it can: the same payload must hash the same whatever
// its alignment in the buffer and however close it sits to the buffer's end
// (copies of one segment at two views never sit at the same place), and a
// change of any one byte must change the hash.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {payloadHash} from '../../analyzer/correlate/assemble.js'
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

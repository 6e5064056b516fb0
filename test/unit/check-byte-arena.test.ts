// ByteArena (correlate/byte-arena.ts): copies are exact and stable while the
// arena lives, small copies share 4 KiB blocks, blocks released go to the
// next arena (so a released arena's views must not be read), and copies
// larger than a block are buffers of their own.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ByteArena} from '../../analyzer/correlate/byte-arena.js'

const src = Uint8Array.from({length: 10_000}, (_, i) => (i * 7 + 3) & 255)

test('copies are exact, stable, and share blocks', () => {
  const a = new ByteArena()
  const views: [Uint8Array, number, number][] = []
  for (let s = 0, n = 1; s + n < src.length; s += n, n = (n * 5 + 3) % 1500 + 1) views.push([a.copy(src, s, s + n), s, s + n])
  for (const [v, s, e] of views) assert.deepEqual(v, src.subarray(s, e))
  const small = views.filter(([v]) => v.length <= 4096)
  assert.ok(new Set(small.map(([v]) => v.buffer)).size < small.length / 2, 'small copies did not share buffers')
  for (const [v] of views) assert.ok(v.buffer.byteLength <= 4096)
  // Writing the source afterwards changes no copy.
  const before = views.map(([v]) => Array.from(v))
  const s2 = src.slice()
  s2.fill(0)
  views.forEach(([v], i) => assert.deepEqual(Array.from(v), before[i]))
})

test('released blocks are reused by the next arena; large copies are their own buffers', () => {
  const a = new ByteArena()
  const v = a.copy(src, 0, 100)
  a.release()
  const b = new ByteArena()
  const w = b.copy(src, 500, 600)
  assert.equal(w.buffer, v.buffer, 'the released block was not reused')
  assert.deepEqual(w, src.subarray(500, 600))
  const big = b.copy(src, 0, 5000)
  assert.equal(big.buffer.byteLength, 5000)
  assert.deepEqual(big, src.subarray(0, 5000))
  b.release()
})

test('put: the copy sits at `at` of the block returned, like copy()', () => {
  const a = new ByteArena()
  const placed: [Uint8Array, number, number, number][] = []
  for (let s = 0, n = 1; s + n < src.length; s += n, n = (n * 7 + 5) % 5000 + 1) placed.push([a.put(src, s, s + n), a.at, s, s + n])
  for (const [b, at, s, e] of placed) assert.deepEqual(b.subarray(at, at + e - s), src.subarray(s, e), `copy of [${s}, ${e})`)
  // Blocks are shared (views are not made): two small copies in a row share a block, at different offsets.
  const [b0, at0] = [a.put(src, 0, 10), a.at]
  const [b1, at1] = [a.put(src, 10, 20), a.at]
  assert.equal(b0, b1)
  assert.equal(at1, (at0 + 10 + 3) & ~3, 'small copies start on the next 4-byte boundary')
})

test('put: small copies from every alignment, from views with an offset, and up to the end of the source buffer', () => {
  // The word copy reads the source 32 bits at a time: each start modulo 4, each length modulo 4, a source that is
  // a view into a larger buffer at an odd offset, and copies that end on the buffer's last byte (whose words must
  // not be read past).
  const whole = Uint8Array.from({length: 1003}, (_, i) => (i * 31 + 17) & 255)
  const sources = [whole, whole.subarray(1), whole.subarray(3, 999), whole.subarray(2, 1002)]
  const a = new ByteArena()
  for (const src of sources) {
    for (let n = 0; n <= 130; n += n < 12 ? 1 : 13) {
      for (let s = 0; s < 8; s++) {
        for (const start of [s, src.length - n - s]) {
          if (start < 0 || start + n > src.length) continue
          const b = a.put(src, start, start + n)
          assert.equal(a.at % 4, 0)
          assert.deepEqual(b.subarray(a.at, a.at + n), src.subarray(start, start + n), `n=${n} start=${start} of a view at ${src.byteOffset}`)
        }
      }
    }
  }
  a.release()
})

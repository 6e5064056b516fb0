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

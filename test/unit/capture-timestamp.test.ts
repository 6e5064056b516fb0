// Exactness of the 64-bit timestamp conversions (checked against BigInt).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {tsConvFromResol, tsConvert, tsEncode, encHi, encLo} from '../../analyzer/capture/timestamp.js'
import {collect, concat, epb, idb, shb} from '../../analyzer/capture/testing.js'

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function expected(units: bigint, t: bigint): [number, number] {
  return [Number(t / units), Number(((t % units) * 1000000000n) / units)]
}

test('tsConvert is exact for every resolution, all 64-bit values', () => {
  const r = rng(42)
  const resols = [undefined, 0, 1, 3, 6, 9, 10, 12, 15, 19, 0x80, 0x88, 0x80 | 20, 0x80 | 30, 0x80 | 32, 0x80 | 40]
  const out = {tsSec: 0, tsNsec: 0}
  for (const resol of resols) {
    const c = tsConvFromResol(resol, 0)
    const units = BigInt(c.units)
    const samples: bigint[] = [0n, 1n, (1n << 53n) - 1n, 1n << 53n, (1n << 64n) - 1n, 1700000000n * units, 1700000000n * units - 1n]
    for (let i = 0; i < 3000; i++) {
      const hi = BigInt(Math.floor(r() * 4294967296) >>> (i % 3 === 0 ? 0 : Math.floor(r() * 32)))
      samples.push((hi << 32n) | BigInt(Math.floor(r() * 4294967296)))
    }
    for (const t of samples) {
      if (t >= 1n << 64n) continue
      tsConvert(c, Number(t >> 32n), Number(t & 0xffffffffn), out)
      const [s, ns] = expected(units, t)
      if (out.tsSec !== s && s > Number.MAX_SAFE_INTEGER) continue // seconds beyond 2^53 cannot be exact
      assert.deepEqual([out.tsSec, out.tsNsec], [s, ns], `resol ${resol} t ${t}`)
    }
  }
})

test('tsEncode (writer) is exact for ns and µs', () => {
  const r = rng(7)
  for (let i = 0; i < 20000; i++) {
    const sec = Math.floor(r() * 2 ** 34)
    const nsec = Math.floor(r() * 1e9)
    tsEncode(sec, nsec, 1e9)
    const got = (BigInt(encHi) << 32n) | BigInt(encLo)
    assert.equal(got, BigInt(sec) * 1000000000n + BigInt(nsec))
    tsEncode(sec, nsec, 1e6)
    const gu = (BigInt(encHi) << 32n) | BigInt(encLo)
    assert.equal(gu, BigInt(sec) * 1000000n + BigInt(Math.floor(nsec / 1000)))
  }
})

test('the parser\'s inlined EPB fast path agrees with BigInt (ns and µs interfaces, both byte orders)', () => {
  const r = rng(99)
  for (const le of [true, false]) {
    const blocks: Uint8Array[] = [shb(le), idb(le, {options: [[9, [9]]]}), idb(le), idb(le, {options: [[9, [9]], [14, [0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff].map((x, i, a) => (le ? x : a[7 - i]))]]})]
    const want: [number, number, number][] = []
    for (let i = 0; i < 3000; i++) {
      const ifid = i % 3
      const hiMax = i % 2 === 0 ? 4294967296 : 0x200000
      const t = (BigInt(Math.floor(r() * hiMax)) << 32n) | BigInt(Math.floor(r() * 4294967296))
      const units = ifid === 1 ? 1000000n : 1000000000n
      want.push([ifid, Number(t / units) + (ifid === 2 ? -5 : 0), Number(((t % units) * 1000000000n) / units)])
      blocks.push(epb(le, {ifid, ts: t, data: Uint8Array.of(i & 0xff)}))
    }
    const c = collect(concat(...blocks))
    assert.equal(c.error, null)
    assert.deepEqual(c.packets.map((p) => [p.interfaceId, p.tsSec, p.tsNsec]), want)
  }
})

// Deterministic randomness for property and fuzz tests: the same seed gives
// the same cases, so a failure reproduces.

export type Rand = () => number

/** mulberry32: a small, fast PRNG with a 32-bit state; returns [0, 1). */
export function prng(seed: number): Rand {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const randInt = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
export const randU32 = (r: Rand): number => Math.floor(r() * 4294967296) >>> 0
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
